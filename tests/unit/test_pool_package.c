/* PACKAGE components in the pool (lmd/pool_package.c): a component takes
 * seats from its package's enabling line; its version rule; without SUITE
 * each component takes a seat; with SUITE one user's components share one
 * seat, the next user takes another, the last checkin frees it; snapshots
 * keep it all. */
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
static struct lm_pool_result checkout_version(struct tp *t, uint64_t sid, uint64_t req,
                                              const char *feature, const char *version)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkout m = LMCMD__CHECKOUT__INIT;
	m.has_session_id = m.has_request_id = m.has_feature = m.has_version = m.has_count = 1;
	m.session_id = sid;
	m.request_id = req;
	m.feature = bin(feature);
	m.version = bin(version);
	m.count = 1;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &m;
	return apply(t, &c);
}

static struct lm_pool_result checkout(struct tp *t, uint64_t sid, uint64_t req, const char *feature)
{
	return checkout_version(t, sid, req, feature, "1.0");
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

static void checkin(struct tp *t, uint64_t sid, uint64_t req, uint64_t handle)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkin m = LMCMD__CHECKIN__INIT;
	m.has_session_id = m.has_request_id = m.has_handle = 1;
	m.session_id = sid;
	m.request_id = req;
	m.handle = handle;
	c.body_case = LMCMD__COMMAND__BODY_CHECKIN;
	c.checkin = &m;
	struct lm_pool_result res = apply(t, &c);
	if (res.code)
		fail_msg("checkin of %llu refused: %s", (unsigned long long)handle, res.message);
}

struct usage {
	const char *name;
	uint32_t in_use, issued;
};

static int note_usage(void *arg, const struct lm_pool_feature *f)
{
	struct usage *u = arg;
	if (strcmp(f->name, u->name) == 0) {
		u->in_use = f->in_use;
		u->issued = f->issued;
	}
	return 0;
}

/* Seats in use of feature's pools. */
static uint32_t in_use(struct tp *t, const char *feature)
{
	struct usage u = {.name = feature};
	int32_t today = (int32_t)(now_us / (24 * HOUR_US));
	assert_int_equal(lm_pool_each_feature(t->pool, today, note_usage, NULL, &u), 0);
	return u.in_use;
}

#define PACKAGE_LINES(options)                                                                     \
	"PACKAGE suite acme 1.0 COMPONENTS=\"compA compB:2.0 compC\" " options "\n"                \
	"FEATURE suite acme 1.0 permanent 2\n"

static void test_components_share_the_count(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES(""));
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws2");
	struct lm_pool_result res = checkout(t, 1, 1, "compA");
	assert_int_equal(res.code, 0);
	/* The grant names the enabling line and the PACKAGE line. */
	assert_true(res.has_package);
	assert_non_null(strstr(res.license_text, "FEATURE suite acme"));
	assert_non_null(strstr(res.package_text, "PACKAGE suite acme"));
	take(t, 1, 2, "compB");
	assert_int_equal(in_use(t, "suite"), 2);
	/* Without SUITE each component took a seat: the count is spent. */
	res = checkout(t, 2, 1, "compC");
	assert_int_equal(res.code, LMC_ENOSEATS);
	/* A retry is answered again with the PACKAGE line. */
	res = checkout(t, 1, 2, "compB");
	assert_int_equal(res.code, 0);
	assert_true(res.replayed);
	assert_non_null(strstr(res.package_text, "PACKAGE suite acme"));
	/* An unknown name stays unknown. */
	assert_int_equal(checkout(t, 2, 2, "compZ").code, LMC_ENOFEATURE);
}

static void test_component_versions(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES(""));
	session(t, 1, "alice", "ws1");
	/* compB is 2.0, compA the package's 1.0. */
	assert_int_equal(checkout_version(t, 1, 1, "compB", "2.0").code, 0);
	assert_int_equal(checkout_version(t, 1, 2, "compB", "2.1").code, LMC_EVERSION);
	assert_int_equal(checkout_version(t, 1, 3, "compA", "1.5").code, LMC_EVERSION);
	assert_int_equal(checkout_version(t, 1, 4, "compA", "1.0").code, 0);
}

static void test_no_enabling_line(void **state)
{
	struct tp *t = *state;
	license(t, "PACKAGE suite acme 1.0 COMPONENTS=\"compA\"\n"
	           "FEATURE other acme 1.0 permanent 2\n");
	session(t, 1, "alice", "ws1");
	struct lm_pool_result res = checkout(t, 1, 1, "compA");
	assert_int_equal(res.code, LMC_ENOFEATURE);
	assert_non_null(strstr(res.message, "package suite"));
}

static void test_suite_one_seat_per_user(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES("OPTIONS=SUITE"));
	session(t, 1, "alice", "ws1");
	session(t, 2, "alice", "ws1"); /* the same user in a second process */
	session(t, 3, "bob", "ws2");
	session(t, 4, "carol", "ws3");
	uint64_t a = take(t, 1, 1, "compA");
	uint64_t b = take(t, 1, 2, "compB");
	uint64_t c = take(t, 2, 1, "compC");
	assert_int_equal(in_use(t, "suite"), 1);
	uint64_t d = take(t, 3, 1, "compA");
	assert_int_equal(in_use(t, "suite"), 2);
	/* Two suites in use: carol finds none. */
	assert_int_equal(checkout(t, 4, 1, "compA").code, LMC_ENOSEATS);

	/* Snapshot and restore: the same seats and the same digest. */
	void *buf;
	size_t len;
	uint8_t d1[32], d2[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	struct tp *u = tp_new();
	assert_int_equal(lm_pool_restore(u->pool, t->index, buf, len), 0);
	free(buf);
	u->index = t->index;
	assert_int_equal(lm_pool_digest(t->pool, d1), 0);
	assert_int_equal(lm_pool_digest(u->pool, d2), 0);
	assert_memory_equal(d1, d2, sizeof d1);
	assert_int_equal(in_use(u, "suite"), 2);

	/* Alice's suite seat stays until her last component goes. */
	checkin(u, 1, 3, a);
	checkin(u, 1, 4, b);
	assert_int_equal(in_use(u, "suite"), 2);
	assert_int_equal(checkout(u, 4, 2, "compA").code, LMC_ENOSEATS);
	checkin(u, 2, 2, c);
	assert_int_equal(in_use(u, "suite"), 1);
	take(u, 4, 3, "compB");
	assert_int_equal(in_use(u, "suite"), 2);
	checkin(u, 3, 2, d);
	assert_int_equal(in_use(u, "suite"), 1);
	/* A session that goes returns its suite seat. */
	close_session(u, 4);
	assert_int_equal(in_use(u, "suite"), 0);
	tp_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_components_share_the_count, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_component_versions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_enabling_line, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_suite_one_seat_per_user, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
