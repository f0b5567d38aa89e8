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

#define HOUR_US INT64_C(3600000000)
#define HOLD_US (24 * HOUR_US)

struct tp {
	char *dir;
	struct lm_pool *pool;
	uint64_t index;
};

static int64_t now_us;
static char S1[LM_LOCKCODE_TEXT_MAX];

static struct tp *tp_new(void)
{
	char err[256];
	struct tp *t = calloc(1, sizeof *t);
	assert_non_null(t);
	t->dir = th_tempdir();
	if (lm_pool_open(&t->pool, t->dir, err, sizeof err) != 0)
		fail_msg("lm_pool_open: %s", err);
	return t;
}

static void tp_free(struct tp *t)
{
	lm_pool_close(t->pool);
	th_rmtree(t->dir);
	free(t->dir);
	free(t);
}

static int setup(void **state)
{
	struct lm_lockcode c = {.present = 0x3f};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		c.digest[i] = (2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, S1, sizeof S1), 0);
	now_us = (int64_t)lm_date_from_ymd(2027, 1, 1) * 24 * HOUR_US + 12 * HOUR_US;
	*state = tp_new();
	return 0;
}

static int teardown(void **state)
{
	tp_free(*state);
	return 0;
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)s};
}

static struct lm_pool_result apply(struct tp *t, Lmcmd__Command *c)
{
	struct lm_pool_result res;
	c->has_time_us = 1;
	c->time_us = now_us;
	size_t n = lmcmd__command__get_packed_size(c);
	uint8_t *buf = malloc(n + 1);
	assert_non_null(buf);
	lmcmd__command__pack(c, buf);
	int rc = lm_pool_apply(t->pool, ++t->index, buf, n, &res);
	free(buf);
	assert_int_equal(rc, 0);
	return res;
}

/* SetLicense of body's lines (canonical text, unsigned: apply does not
 * verify), with options (NULL: none). */
static struct lm_pool_result set_license(struct tp *t, const char *body, const char *options)
{
	char text[4096];
	struct lm_license_file f;
	struct lm_parse_error err;
	snprintf(text, sizeof text, "SERVER h %s 27000\nVENDOR acme\n%s", S1, body);
	if (lm_license_parse(text, strlen(text), &f, &err))
		fail_msg("license line %d: %s", err.lineno, err.message);
	Lmcmd__Line lines[8], *ptrs[8];
	static char canon[8][LM_LINE_MAX + 1];
	assert_true(f.nlines <= 8);
	for (size_t i = 0; i < f.nlines; i++) {
		assert_true(lm_license_canonical(&f, &f.lines[i], canon[i], sizeof canon[i]) > 0);
		lmcmd__line__init(&lines[i]);
		lines[i].has_text = 1;
		lines[i].text = bin(canon[i]);
		ptrs[i] = &lines[i];
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__SetLicense sl = LMCMD__SET_LICENSE__INIT;
	sl.n_lines = f.nlines;
	sl.lines = ptrs;
	if (options) {
		sl.has_options_name = sl.has_options_text = 1;
		sl.options_name = bin("acme.opt");
		sl.options_text = bin(options);
	}
	c.body_case = LMCMD__COMMAND__BODY_SET_LICENSE;
	c.set_license = &sl;
	struct lm_pool_result res = apply(t, &c);
	lm_license_free(&f);
	return res;
}

static void license(struct tp *t, const char *body)
{
	struct lm_pool_result res = set_license(t, body, NULL);
	if (res.code)
		fail_msg("SetLicense refused: %s", res.message);
}

/* Session sid of user on host. */
static void session(struct tp *t, uint64_t sid, const char *user, const char *host)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__OpenSession o = LMCMD__OPEN_SESSION__INIT;
	uint8_t secret[32];
	memset(secret, (int)sid, sizeof secret);
	o.has_session_id = o.has_secret_digest = o.has_user = o.has_host = 1;
	o.session_id = sid;
	o.secret_digest = (ProtobufCBinaryData){sizeof secret, secret};
	o.user = bin(user);
	o.host = bin(host);
	c.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION;
	c.open_session = &o;
	assert_int_equal(apply(t, &c).code, 0);
}

/* Each session makes its requests with ids 1, 2, ...: the test passes it. */
static struct lm_pool_result checkout(struct tp *t, uint64_t sid, uint64_t req, const char *feature)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkout m = LMCMD__CHECKOUT__INIT;
	m.has_session_id = m.has_request_id = m.has_feature = m.has_version = m.has_count = 1;
	m.session_id = sid;
	m.request_id = req;
	m.feature = bin(feature);
	m.version = bin("1.0");
	m.count = 1;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &m;
	return apply(t, &c);
}

static uint64_t take(struct tp *t, uint64_t sid, uint64_t req, const char *feature)
{
	struct lm_pool_result res = checkout(t, sid, req, feature);
	if (res.code)
		fail_msg("checkout of %s by session %llu refused: %s", feature,
		         (unsigned long long)sid, res.message);
	return res.handle;
}

static void close_session(struct tp *t, uint64_t sid)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__CloseSession m = LMCMD__CLOSE_SESSION__INIT;
	m.has_session_id = 1;
	m.session_id = sid;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	c.close_session = &m;
	assert_int_equal(apply(t, &c).code, 0);
}

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

	void *buf;
	size_t len;
	uint8_t d1[32], d2[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	struct tp *u = tp_new();
	assert_int_equal(lm_pool_restore(u->pool, t->index, buf, len), 0);
	free(buf);
	u->index = t->index;
	assert_string_equal(names_of(u, "stats"), "alice,bob");
	assert_string_equal(names_of(u, "cad"), "ws1");
	assert_int_equal(lm_pool_digest(t->pool, d1), 0);
	assert_int_equal(lm_pool_digest(u->pool, d2), 0);
	assert_memory_equal(d1, d2, sizeof d1);

	/* The restored pool denies alike, and keeps the times of the hold. */
	session(u, 3, "carol", "ws2");
	assert_int_equal(checkout(u, 3, 1, "stats").code, LMC_EDENIED);
	assert_int_equal(remove_named(u, "stats", "bob").code, LMC_EDENIED);
	tp_free(u);

	/* A name that changes the list changes the digest. */
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
	        cmocka_unit_test_setup_teardown(test_first_come_first_served, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_host_based, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_include_list_is_honoured, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_removal_waits_for_the_hold, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_keeps_the_list, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_canonical_form, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
