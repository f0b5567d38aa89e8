#include "config.h"
/* FlexLM host ids: which machine each form names, probed from a simulated
 * machine's files, and lists where any one item is enough. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/hostid.h"
#include "core/machine.h"
#include "tests/unit/helpers.h"

/* The routing trie of a machine with two addresses besides loopback, as
 * the kernel prints it: each local address once per table. */
static const char fib_trie[] = "Main:\n"
                               "  +-- 0.0.0.0/0 3 0 5\n"
                               "     |-- 0.0.0.0\n"
                               "        /0 universe UNICAST\n"
                               "     +-- 127.0.0.0/8 2 0 2\n"
                               "           |-- 127.0.0.1\n"
                               "              /32 host LOCAL\n"
                               "     +-- 192.0.2.0/24 2 0 2\n"
                               "           |-- 192.0.2.0\n"
                               "              /24 link UNICAST\n"
                               "           |-- 192.0.2.17\n"
                               "              /32 host LOCAL\n"
                               "        |-- 192.0.2.255\n"
                               "           /32 link BROADCAST\n"
                               "     |-- 10.1.7.9\n"
                               "        /32 host LOCAL\n"
                               "Local:\n"
                               "     |-- 10.1.7.9\n"
                               "        /32 host LOCAL\n"
                               "           |-- 192.0.2.17\n"
                               "              /32 host LOCAL\n";

struct fixture {
	char *dir;
	struct lm_machine m;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	fx->dir = th_tempdir();
	struct th_machine def = th_machine_default();
	const char *root = th_path(fx->dir, "m");
	th_make_machine(root, &def);
	th_write(root, "proc/net/fib_trie", fib_trie);
	assert_int_equal(lm_machine_probe(root, &fx->m), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	th_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void test_probe_reads_local_addresses(void **state)
{
	struct fixture *fx = *state;
	/* Loopback and broadcast entries are left out, duplicates once. */
	assert_string_equal(fx->m.ipv4, "192.0.2.17,10.1.7.9");
	assert_true(fx->m.user[0] != '\0');
	assert_true(fx->m.display[0] != '\0');
}

/* Whether HOSTID=text names the fixture's machine. */
static bool names_here(const struct fixture *fx, const char *text, int *which)
{
	struct lm_hostid_list ids;
	char why[400];
	int rc = lm_hostid_parse(text, &ids, why, sizeof why);
	if (rc)
		fail_msg("%s: %s", text, why);
	struct lm_hostid_match m;
	lm_hostid_match(&ids, &fx->m, LM_LOCK_TOLERANCE_DEFAULT, &m);
	if (which)
		*which = m.which;
	return m.accepted;
}

static void test_each_form_names_this_machine_or_not(void **state)
{
	struct fixture *fx = *state;
	char user[80], display[300];
	snprintf(user, sizeof user, "USER=%s", fx->m.user);
	snprintf(display, sizeof display, "DISPLAY=%s", fx->m.display);
	static const char *const here[] = {
	        "ANY",
	        "DEMO",
	        "ID=1-2-3",
	        "525400abcdef",
	        "525400ABCDEF",
	        "HOSTNAME=build-07.example.com",
	        "HOSTNAME=BUILD-07",
	        "INTERNET=10.1.7.9",
	        "INTERNET=192.0.*.*",
	        "INTERNET=*.*.*.17",
	};
	for (size_t i = 0; i < sizeof here / sizeof here[0]; i++)
		if (!names_here(fx, here[i], NULL))
			fail_msg("HOSTID=%s should name the simulated machine", here[i]);
	assert_true(names_here(fx, user, NULL));
	assert_true(names_here(fx, display, NULL));

	static const char *const elsewhere[] = {
	        "525400abcdee",      "HOSTNAME=build-08",  "HOSTNAME=build-07.other.org.x",
	        "INTERNET=10.1.7.8", "INTERNET=127.0.0.1", "INTERNET=192.1.*.*",
	        "USER=nobody-here",  "DISPLAY=remote:7",
	};
	for (size_t i = 0; i < sizeof elsewhere / sizeof elsewhere[0]; i++)
		if (names_here(fx, elsewhere[i], NULL))
			fail_msg("HOSTID=%s should not name the simulated machine", elsewhere[i]);
}

static void test_any_item_of_a_list_is_enough(void **state)
{
	struct fixture *fx = *state;
	int which;
	assert_true(names_here(fx, "001122334455 HOSTNAME=lab9 INTERNET=10.1.*.*", &which));
	assert_int_equal(which, 2);
	assert_false(names_here(fx, "001122334455 HOSTNAME=lab9 INTERNET=10.2.*.*", &which));
	assert_int_equal(which, -1);

	/* A lock code in the list is weighed with the tolerance, and explains
	 * a refusal with how close it came. */
	char code[LM_LOCKCODE_TEXT_MAX], list[200];
	assert_int_equal(lm_lockcode_format(&fx->m.code, code, sizeof code), 0);
	snprintf(list, sizeof list, "HOSTNAME=lab9 %s", code);
	assert_true(names_here(fx, list, &which));
	assert_int_equal(which, 1);

	struct lm_hostid_list ids;
	char why[200];
	assert_int_equal(lm_hostid_parse("HOSTNAME=lab9 ANY", &ids, why, sizeof why), 0);
	assert_null(lm_hostid_first_code(&ids));
	assert_int_equal(lm_hostid_parse(list, &ids, why, sizeof why), 0);
	assert_non_null(lm_hostid_first_code(&ids));
	char out[300];
	assert_int_equal(lm_hostid_format(&ids, out, sizeof out), 0);
	assert_string_equal(out, list);
	assert_int_equal(lm_hostid_format(&ids, out, 10), LMC_ETOOLARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_probe_reads_local_addresses, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_each_form_names_this_machine_or_not, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_any_item_of_a_list_is_enough, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
