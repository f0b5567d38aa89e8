/* Named users and hosts in the pool (lmd/pool_named.c): the list fills
 * first come, first served; a user counts once from any host; the next
 * one is refused naming the list; an options file's INCLUDE lines decide
 * who may be on it; an administrator's RemoveNamed waits out the hold and
 * a name in use; snapshots carry the list and the digest covers it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "lmd/pool.h"
#include "proto/command.pb-c.h"
#include "tests/unit/helpers.h"
#include "tests/unit/pool_fixture.h"

#define HOLD_US (24 * HOUR_US)

static struct lm_pool_result remove_named(struct tp *t, const char *feature, const char *name)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__RemoveNamed m = LMCMD__REMOVE_NAMED__INIT;
	m.has_feature = m.has_name = m.has_hold_us = 1;
	m.feature = bin(feature);
	m.name = bin(name);
	m.hold_us = HOLD_US;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_NAMED;
	c.remove_named = &m;
	return apply(t, &c);
}

/* The names of feature's list, as "alice,bob". */
struct names {
	char text[256];
};

static int add_name(void *arg, const struct lm_pool_named *n)
{
	struct names *s = arg;
	size_t used = strlen(s->text);
	snprintf(s->text + used, sizeof s->text - used, "%s%s", used ? "," : "", n->name);
	return 0;
}

static const char *names_of(struct tp *t, const char *feature)
{
	static struct names s;
	memset(&s, 0, sizeof s);
	assert_int_equal(lm_pool_each_named(t->pool, feature, add_name, &s), 0);
	return s.text;
}

/* ---- Tests ------------------------------------------------------------- */

static void test_first_come_first_served(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE stats acme 1.0 permanent 5 USER_BASED=2\n");
	session(t, 1, "alice", "h1");
	session(t, 2, "alice", "h2");
	session(t, 3, "bob", "h1");
	session(t, 4, "carol", "h3");
	take(t, 1, 1, "stats");
	take(t, 2, 1, "stats"); /* alice again, from another host: counted once */
	take(t, 1, 2, "stats"); /* and another process */
	assert_string_equal(names_of(t, "stats"), "alice");
	take(t, 3, 1, "stats");
	assert_string_equal(names_of(t, "stats"), "alice,bob");

	struct lm_pool_result res = checkout(t, 4, 1, "stats");
	assert_int_equal(res.code, LMC_EDENIED);
	assert_non_null(strstr(res.message, "stats: all 2 named users assigned (alice, bob); "
	                                    "user carol is not one of them"));
	/* Seats still count as on any line: the list limits who. */
	take(t, 3, 2, "stats");
	res = checkout(t, 3, 3, "stats");
	assert_int_equal(res.code, LMC_ENOSEATS);
}

static void test_host_based(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE cad acme 1.0 permanent 3 HOST_BASED=2\n");
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws1");
	session(t, 3, "alice", "ws2");
	session(t, 4, "alice", "ws3");
	take(t, 1, 1, "cad");
	take(t, 2, 1, "cad"); /* another user on a named host */
	assert_string_equal(names_of(t, "cad"), "ws1");
	close_session(t, 1);
	take(t, 3, 1, "cad");
	struct lm_pool_result res = checkout(t, 4, 1, "cad");
	assert_int_equal(res.code, LMC_EDENIED);
	assert_non_null(strstr(res.message, "all 2 named hosts assigned (ws1, ws2)"));
}

static void test_include_list_is_honoured(void **state)
{
	struct tp *t = *state;
	struct lm_pool_result res =
	        set_license(t, "FEATURE stats acme 1.0 permanent 5 USER_BASED=2\n",
	                    "INCLUDE stats USER alice\nINCLUDE stats USER bob\n");
	assert_int_equal(res.code, 0);
	session(t, 1, "carol", "h1");
	session(t, 2, "bob", "h1");
	res = checkout(t, 1, 1, "stats");
	assert_int_equal(res.code, LMC_EDENIED);
	assert_non_null(strstr(res.message, "INCLUDE"));
	assert_string_equal(names_of(t, "stats"), "");
	take(t, 2, 1, "stats");
	assert_string_equal(names_of(t, "stats"), "bob");

	/* More included users than the license names: the SetLicense is
	 * refused whole, the old policy stays. */
	res = set_license(t, "FEATURE stats acme 1.0 permanent 5 USER_BASED=2\n",
	                  "GROUP g alice bob\nINCLUDE stats GROUP g\nINCLUDE stats USER carol\n");
	assert_int_not_equal(res.code, 0);
	assert_non_null(strstr(res.message, "the license limits stats to 2 named users"));
	assert_int_equal(checkout(t, 1, 2, "stats").code, LMC_EDENIED);
}

static void test_removal_waits_for_the_hold(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE stats acme 1.0 permanent 5 NAMED_USERS=1\n");
	session(t, 1, "alice", "h1");
	session(t, 2, "bob", "h1");
	uint64_t h = take(t, 1, 1, "stats");
	assert_int_equal(checkout(t, 2, 1, "stats").code, LMC_EDENIED);

	struct lm_pool_result res = remove_named(t, "stats", "alice");
	assert_int_equal(res.code, LMC_EDENIED);
	assert_non_null(strstr(res.message, "user alice was named for stats on 2027-01-01 "
	                                    "12:00:00 UTC; it can be removed from 2027-01-02 "
	                                    "12:00:00 UTC"));
	now_us += HOLD_US - 1;
	assert_int_equal(remove_named(t, "stats", "alice").code, LMC_EDENIED);
	now_us += 1;
	/* On time, but alice still holds her seat. */
	res = remove_named(t, "stats", "alice");
	assert_int_equal(res.code, LMC_EDENIED);
	assert_non_null(strstr(res.message, "user alice holds 1 seat of stats"));
	(void)h;
	close_session(t, 1);
	res = remove_named(t, "stats", "alice");
	assert_int_equal(res.code, 0);
	assert_int_equal(res.count, 1);
	assert_string_equal(names_of(t, "stats"), "");
	take(t, 2, 2, "stats");
	assert_string_equal(names_of(t, "stats"), "bob");

	res = remove_named(t, "stats", "nobody");
	assert_int_equal(res.code, LMC_EINVAL);
}

static void test_snapshot_keeps_the_list(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE stats acme 1.0 permanent 5 USER_BASED=2\n"
	           "FEATURE cad acme 1.0 permanent 2 HOST_BASED=1\n");
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws2");
	take(t, 1, 1, "stats");
	take(t, 2, 1, "stats");
	take(t, 1, 2, "cad");

	struct tp *u = tp_restored(t);
	assert_string_equal(names_of(u, "stats"), "alice,bob");
	assert_string_equal(names_of(u, "cad"), "ws1");

	/* The restored pool denies alike, and keeps the times of the hold. */
	session(u, 3, "carol", "ws2");
	assert_int_equal(checkout(u, 3, 1, "stats").code, LMC_EDENIED);
	assert_int_equal(remove_named(u, "stats", "bob").code, LMC_EDENIED);
	tp_free(u);

	/* A name that changes the list changes the digest. */
	uint8_t d1[32], d2[32];
	assert_int_equal(lm_pool_digest(t->pool, d1), 0);
	session(t, 4, "dave", "ws1");
	close_session(t, 2);
	now_us += HOLD_US;
	assert_int_equal(remove_named(t, "stats", "bob").code, 0);
	assert_int_equal(lm_pool_digest(t->pool, d2), 0);
	assert_memory_not_equal(d1, d2, sizeof d1);
}

static void test_bad_lines(void **state)
{
	(void)state;
	static const struct {
		const char *keywords, *why;
	} bad[] = {
	        {"USER_BASED=0", "is not a number from 1"},
	        {"USER_BASED=-1", "is not a number from 1"},
	        {"USER_BASED=abc", "is not a number from 1"},
	        {"USER_BASED=1000001", "is not a number from 1 to 1000000"},
	        {"USER_BASED=6", "names 6 users but has only 5 seats"},
	        {"HOST_BASED=9", "names 9 hosts but has only 5 seats"},
	        {"USER_BASED HOST_BASED", "not both"},
	        {"USER_BASED=2 NAMED_USERS=2", "more than one of USER_BASED"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512];
		struct lm_license_file f;
		struct lm_parse_error err;
		snprintf(text, sizeof text,
		         "SERVER h %s 27000\nFEATURE f acme 1.0 permanent 5 %s\n", S1,
		         bad[i].keywords);
		assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_ESYNTAX);
		if (!strstr(err.message, bad[i].why))
			fail_msg("%s: %s", bad[i].keywords, err.message);
	}
	char text[512];
	struct lm_license_file f;
	struct lm_parse_error err;
	snprintf(text, sizeof text,
	         "FEATURE f acme 1.0 permanent uncounted HOSTID=%s USER_BASED=1\n", S1);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_ESYNTAX);
	assert_non_null(strstr(err.message, "counted lines only"));
}

static void test_canonical_form(void **state)
{
	(void)state;
	char text[512], canon[LM_LINE_MAX + 1];
	struct lm_license_file f;
	struct lm_parse_error err;
	/* Bare stays bare (its n is the count), a number is kept; FlexLM's
	 * positional license key before a bare keyword is ignored. */
	snprintf(text, sizeof text,
	         "SERVER h %s 27000\nINCREMENT MATLAB MLM 18 01-sep-2030 3 4C9D3348561BE9E3B "
	         "USER_BASED\nFEATURE g acme 1.0 permanent 5 HOST_BASED=2\n",
	         S1);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), 0);
	uint32_t max;
	assert_int_equal(lm_license_named_rule(&f.lines[0], &max), LM_NAMED_USERS);
	assert_int_equal(max, 3);
	assert_int_equal(lm_license_named_rule(&f.lines[1], &max), LM_NAMED_HOSTS);
	assert_int_equal(max, 2);
	assert_true(lm_license_canonical(&f, &f.lines[0], canon, sizeof canon) > 0);
	assert_non_null(strstr(canon, " 3 USER_BASED SERVER_CODES="));
	assert_true(lm_license_canonical(&f, &f.lines[1], canon, sizeof canon) > 0);
	assert_non_null(strstr(canon, " HOST_BASED=\"2\""));
	lm_license_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_first_come_first_served, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_host_based, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_include_list_is_honoured, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_removal_waits_for_the_hold, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_keeps_the_list, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_bad_lines, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_canonical_form, pool_fixture_setup,
	                                        pool_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
