#include "config.h"
/* License sources: how "27000@a,27000@b", "@host", IPv6 literals, license
 * files and LM_LICENSE_FILE mixtures become the list of servers to try. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/source.h"
#include "core/error.h"
#include "core/lockcode.h"
#include "tests/unit/helpers.h"

static const char *fmt(const struct lm_address *a)
{
	static char buf[4][LM_ADDRESS_TEXT_MAX];
	static int slot;
	char *out = buf[slot++ % 4];
	assert_int_equal(lm_address_format(a, out, LM_ADDRESS_TEXT_MAX), 0);
	return out;
}

static void one_server_with_and_without_a_port(void **state)
{
	struct lm_address a;
	char err[256];
	assert_int_equal(lm_address_parse("27001@lic1.example.com", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "lic1.example.com");
	assert_int_equal(a.port, 27001);
	assert_int_equal(lm_address_parse("  @lic1 ", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "lic1");
	assert_int_equal(a.port, LM_DEFAULT_PORT);
	assert_string_equal(fmt(&a), "27000@lic1");
	assert_int_equal(lm_address_parse("1@10.0.0.7", &a, err, sizeof err), 0);
	assert_string_equal(fmt(&a), "1@10.0.0.7");
}

static void ipv6_literals_keep_their_brackets_on_output(void **state)
{
	struct lm_address a;
	char err[256];
	assert_int_equal(lm_address_parse("27000@[::1]", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "::1");
	assert_string_equal(fmt(&a), "27000@[::1]");
	assert_int_equal(lm_address_parse("@[fe80::1%eth0]", &a, err, sizeof err), 0);
	assert_string_equal(a.host, "fe80::1%eth0");
	/* Without brackets the colons would read as separators. */
	assert_int_equal(lm_address_parse("27000@::1", &a, err, sizeof err), LMC_EINVAL);
	assert_non_null(strstr(err, "[addr]"));
	assert_int_equal(lm_address_parse("27000@[lic1]", &a, err, sizeof err), LMC_EINVAL);
}

static void malformed_servers_are_refused_with_a_reason(void **state)
{
	struct lm_address a;
	char err[256];
	const char *bad[] = {"0@lic1",     "65536@lic1", "99999999999999999999@lic1",
	                     "27x@lic1",   "27000@",     "-1@lic1",
	                     "27000@li c", "27000@a;b",  "lic1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (lm_address_parse(bad[i], &a, err, sizeof err) != LMC_EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	char longhost[LM_HOST_MAX + 16];
	memset(longhost, 'a', sizeof longhost);
	memcpy(longhost, "27000@", 6);
	longhost[sizeof longhost - 1] = '\0';
	assert_int_equal(lm_address_parse(longhost, &a, err, sizeof err), LMC_EINVAL);
}

static void a_triad_is_three_servers_in_order(void **state)
{
	struct lm_source l;
	char err[256];
	lm_source_init(&l);
	assert_int_equal(lm_source_parse(&l, "27000@a,27000@b,27000@c", err, sizeof err), 0);
	assert_int_equal(l.nservers, 3);
	assert_int_equal(l.nfiles, 0);
	assert_string_equal(fmt(&l.servers[0]), "27000@a");
	assert_string_equal(fmt(&l.servers[1]), "27000@b");
	assert_string_equal(fmt(&l.servers[2]), "27000@c");
	lm_source_free(&l);
	assert_int_equal(l.nservers, 0);
}

static void lm_license_file_mixes_separators_files_and_servers(void **state)
{
	struct lm_source l;
	char err[256];
	lm_source_init(&l);
	assert_int_equal(lm_source_parse(&l,
	                                 "/opt/acme/a.lic:27000@x , @y:/opt/b.lic,"
	                                 "27001@[::1]::27000@X,,/opt/acme/a.lic",
	                                 err, sizeof err),
	                 0);
	assert_int_equal(l.nservers, 3); /* 27000@X repeats 27000@x */
	assert_string_equal(fmt(&l.servers[0]), "27000@x");
	assert_string_equal(fmt(&l.servers[1]), "27000@y");
	assert_string_equal(fmt(&l.servers[2]), "27001@[::1]");
	assert_int_equal(l.nfiles, 2);
	assert_string_equal(l.files[0], "/opt/acme/a.lic");
	assert_string_equal(l.files[1], "/opt/b.lic");
	lm_source_free(&l);

	/* A bad entry stops the parse and is named. */
	lm_source_init(&l);
	assert_int_equal(lm_source_parse(&l, "27000@a,70000@b", err, sizeof err), LMC_EINVAL);
	assert_non_null(strstr(err, "70000@b"));
	lm_source_free(&l);
}

static void limits_are_enforced(void **state)
{
	struct lm_source l;
	char err[256], source[4096] = "";
	lm_source_init(&l);
	for (int i = 0; i <= LM_SOURCE_SERVERS_MAX; i++) {
		char one[32];
		snprintf(one, sizeof one, "%s%d@h", i ? "," : "", 1000 + i);
		strcat(source, one);
	}
	assert_int_equal(lm_source_parse(&l, source, err, sizeof err), LMC_ETOOLARGE);
	assert_int_equal(l.nservers, LM_SOURCE_SERVERS_MAX);
	lm_source_free(&l);
}

static void license_files_give_their_server_lines(void **state)
{
	char *dir = th_tempdir();
	struct lm_lockcode code = {.present = 1u << LM_CRIT_MACHINE_ID, .digest = {4242}};
	char code_text[LM_LOCKCODE_TEXT_MAX], text[1024];
	assert_int_equal(lm_lockcode_format(&code, code_text, sizeof code_text), 0);
	snprintf(text, sizeof text,
	         "# three redundant servers\n"
	         "SERVER lic1 %s 27000\n"
	         "SERVER lic2 %s 27001\n"
	         "SERVER 10.1.2.3 %s 27002\n"
	         "VENDOR acme\n",
	         code_text, code_text, code_text);
	th_write(dir, "triad.lic", text);
	th_write(dir, "local.lic", "VENDOR acme\n");
	char source[1024];
	snprintf(source, sizeof source, "27000@first,%s:%s", th_path(dir, "triad.lic"),
	         th_path(dir, "local.lic"));

	struct lm_source l;
	char err[512];
	lm_source_init(&l);
	if (lm_source_load(&l, source, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(l.nservers, 4);
	assert_string_equal(fmt(&l.servers[0]), "27000@first");
	assert_string_equal(fmt(&l.servers[1]), "27000@lic1");
	assert_string_equal(fmt(&l.servers[2]), "27001@lic2");
	assert_string_equal(fmt(&l.servers[3]), "27002@10.1.2.3");
	assert_int_equal(l.nfiles, 2);
	lm_source_free(&l);

	lm_source_init(&l);
	assert_int_equal(lm_source_load(&l, th_path(dir, "missing.lic"), err, sizeof err), LMC_EIO);
	assert_non_null(strstr(err, "missing.lic"));
	lm_source_free(&l);
	th_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(one_server_with_and_without_a_port),
	        cmocka_unit_test(ipv6_literals_keep_their_brackets_on_output),
	        cmocka_unit_test(malformed_servers_are_refused_with_a_reason),
	        cmocka_unit_test(a_triad_is_three_servers_in_order),
	        cmocka_unit_test(lm_license_file_mixes_separators_files_and_servers),
	        cmocka_unit_test(limits_are_enforced),
	        cmocka_unit_test(license_files_give_their_server_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
