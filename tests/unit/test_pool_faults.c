/* A store write that fails leaves the pool as it was and says so.
 *
 * Each command kind, and a snapshot restore, runs against the same small
 * pool once for every store write it makes (lm_store_put, _del, _drop and
 * _commit), with that one write failing (LM_FAULT_STORE_WRITE, lmd/faults.h):
 * the apply or restore returns LMC_EIO and logs the store's error, the pool's
 * digest and applied index are what they were before, and applying the same
 * command again succeeds and gives the pool that a run without the failure
 * gives.  Needs a build with --enable-test-hooks; skipped otherwise. */
#include "config.h"

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
#include "core/log.h"
#include "lmd/faults.h"
#include "lmd/pool.h"
#include "proto/command.pb-c.h"
#include "tests/unit/helpers.h"

#ifdef LM_TEST_HOOKS

#define DAY_US INT64_C(86400000000)

/* ---- What the pool logs ------------------------------------------------ */

struct captured {
	unsigned errors;
	char last_error[512];
};

static struct captured logged;

static void capture(void *arg, enum lm_log_level level, const char *event, const char *message)
{
	struct captured *c = arg;
	if (level == LM_LOG_ERROR) {
		c->errors++;
		snprintf(c->last_error, sizeof c->last_error, "%s %s", event, message);
	}
}

/* ---- A small pool ------------------------------------------------------ */

struct tp {
	char *dir;
	struct lm_pool *pool;
	uint64_t index;
};

/* A packed lmcmd.Command, stamped as the leader would. */
struct packed {
	uint8_t *buf;
	size_t len;
};

static int64_t now_us;
static char server_code[LM_LOCKCODE_TEXT_MAX];

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)s};
}

static struct packed pack(Lmcmd__Command *c)
{
	struct packed p;
	c->has_time_us = 1;
	c->time_us = now_us;
	p.len = lmcmd__command__get_packed_size(c);
	p.buf = malloc(p.len + 1);
	assert_non_null(p.buf);
	lmcmd__command__pack(c, p.buf);
	return p;
}

/* Applies a command that must succeed; returns its result. */
static struct lm_pool_result apply_ok(struct tp *t, struct packed p)
{
	struct lm_pool_result res;
	int rc = lm_pool_apply(t->pool, ++t->index, p.buf, p.len, &res);
	if (rc != 0)
		fail_msg("apply at %llu: %s (%s)", (unsigned long long)t->index, lmc_errname(rc),
		         logged.last_error);
	free(p.buf);
	return res;
}

/* SetLicense of body's lines (canonical text, unsigned: apply does not
 * verify signatures), with an options file when options is not NULL. */
static struct packed set_license_with(const char *body, const char *options)
{
	char text[4096];
	struct lm_license_file f;
	struct lm_parse_error err;

	snprintf(text, sizeof text, "SERVER h %s 27000\nVENDOR acme\n%s", server_code, body);
	if (lm_license_parse(text, strlen(text), &f, &err) != 0)
		fail_msg("license line %d: %s", err.lineno, err.message);
	Lmcmd__Line lines[8];
	Lmcmd__Line *ptrs[8];
	char canon[8][LM_LINE_MAX + 1];
	assert_true(f.nlines <= 8);
	for (size_t i = 0; i < f.nlines; i++) {
		assert_true(lm_license_canonical(&f, &f.lines[i], canon[i], sizeof canon[i]) > 0);
		lmcmd__line__init(&lines[i]);
		lines[i].has_text = 1;
		lines[i].text = bin(canon[i]);
		ptrs[i] = &lines[i];
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__SetLicense m = LMCMD__SET_LICENSE__INIT;
	m.n_lines = f.nlines;
	m.lines = ptrs;
	if (options) {
		m.has_options_name = m.has_options_text = 1;
		m.options_name = bin("acme.opt");
		m.options_text = bin(options);
	}
	c.body_case = LMCMD__COMMAND__BODY_SET_LICENSE;
	c.set_license = &m;
	struct packed p = pack(&c);
	lm_license_free(&f);
	return p;
}

static struct packed set_license(const char *body)
{
	return set_license_with(body, NULL);
}

static struct packed open_session(uint64_t sid, const char *user)
{
	uint8_t secret[32];
	memset(secret, (int)sid, sizeof secret);
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__OpenSession m = LMCMD__OPEN_SESSION__INIT;
	m.has_session_id = m.has_secret_digest = m.has_user = m.has_host = m.has_pid = 1;
	m.session_id = sid;
	m.secret_digest = (ProtobufCBinaryData){sizeof secret, secret};
	m.user = bin(user);
	m.host = bin("ws1.example");
	m.pid = 4242;
	c.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION;
	c.open_session = &m;
	return pack(&c);
}

static struct packed checkout(uint64_t sid, uint64_t req, const char *feature, uint32_t count)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkout m = LMCMD__CHECKOUT__INIT;
	m.has_session_id = m.has_request_id = m.has_feature = m.has_version = m.has_count = 1;
	m.session_id = sid;
	m.request_id = req;
	m.feature = bin(feature);
	m.version = bin("29.0");
	m.count = count;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &m;
	return pack(&c);
}

static struct packed checkin(uint64_t sid, uint64_t req, uint64_t handle)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkin m = LMCMD__CHECKIN__INIT;
	m.has_session_id = m.has_request_id = m.has_handle = 1;
	m.session_id = sid;
	m.request_id = req;
	m.handle = handle;
	c.body_case = LMCMD__COMMAND__BODY_CHECKIN;
	c.checkin = &m;
	return pack(&c);
}

static struct packed close_session(uint64_t sid)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__CloseSession m = LMCMD__CLOSE_SESSION__INIT;
	m.has_session_id = m.has_reason = 1;
	m.session_id = sid;
	m.reason = LMCMD__CLOSE_REASON__CLOSE_EXPIRED;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	c.close_session = &m;
	return pack(&c);
}

static struct packed remove_handle(uint64_t handle)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__RemoveHandle m = LMCMD__REMOVE_HANDLE__INIT;
	m.has_handle = 1;
	m.handle = handle;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
	c.remove_handle = &m;
	return pack(&c);
}

static struct packed set_cluster_id(uint8_t seed)
{
	uint8_t id[LM_CLUSTER_ID_SIZE];
	for (size_t i = 0; i < sizeof id; i++)
		id[i] = (uint8_t)(seed + i);
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__SetClusterId m = LMCMD__SET_CLUSTER_ID__INIT;
	m.has_id = 1;
	m.id = (ProtobufCBinaryData){sizeof id, id};
	c.body_case = LMCMD__COMMAND__BODY_SET_CLUSTER_ID;
	c.set_cluster_id = &m;
	return pack(&c);
}

/* The pool every case starts from: a license of two features, and two
 * sessions holding seats of both, so that each command below has records
 * to write, rewrite and delete.  Handles are numbered from 1. */
#define LICENSE                                                                                    \
	"FEATURE stats acme 29.0 permanent 5\n"                                                    \
	"FEATURE plots acme 29.0 permanent 3\n"

static struct tp *pool_new(void)
{
	char err[256];
	struct tp *t = calloc(1, sizeof *t);
	assert_non_null(t);
	t->dir = th_tempdir();
	if (lm_pool_open(&t->pool, t->dir, err, sizeof err) != 0)
		fail_msg("lm_pool_open: %s", err);
	return t;
}

static struct tp *fixture(void)
{
	struct tp *t = pool_new();
	assert_int_equal(apply_ok(t, set_license(LICENSE)).code, 0);
	assert_int_equal(apply_ok(t, open_session(1, "alice")).code, 0);
	assert_int_equal(apply_ok(t, open_session(2, "bob")).code, 0);
	assert_int_equal(apply_ok(t, checkout(1, 1, "stats", 2)).handle, 1);
	assert_int_equal(apply_ok(t, checkout(2, 1, "stats", 1)).handle, 2);
	assert_int_equal(apply_ok(t, checkout(2, 2, "plots", 3)).handle, 3);
	return t;
}

static void pool_free(struct tp *t)
{
	lm_pool_close(t->pool);
	th_rmtree(t->dir);
	free(t->dir);
	free(t);
}

static void digest(struct tp *t, uint8_t d[32])
{
	assert_int_equal(lm_pool_digest(t->pool, d), 0);
}

/* ---- Failing each write in turn ---------------------------------------- */

/* Runs `what` on a fresh fixture once per store write it makes, failing
 * that write, and checks the pool after each failure.  op applies the
 * operation to t (at index, for restore) and returns apply's or restore's
 * code; want is the pool digest a successful run gives.  Returns how many
 * writes the operation makes. */
typedef int (*operation_fn)(struct tp *t, const void *arg, struct lm_pool_result *res);

static unsigned fail_each_write(const char *what, operation_fn op, const void *arg, int want_code)
{
	uint8_t want[32];
	struct lm_pool_result res;

	/* A run without failures: the pool every retry must reach. */
	struct tp *t = fixture();
	assert_int_equal(op(t, arg, &res), 0);
	assert_int_equal(res.code, want_code);
	digest(t, want);
	pool_free(t);

	for (unsigned long n = 1;; n++) {
		uint8_t before[32], after[32];

		t = fixture();
		uint64_t applied = lm_pool_applied_index(t->pool);
		digest(t, before);
		logged.errors = 0;
		lm_fault_set(LM_FAULT_STORE_WRITE, n, 0);
		int rc = op(t, arg, &res);
		unsigned long failures = lm_fault_failures(LM_FAULT_STORE_WRITE);
		lm_fault_set(LM_FAULT_STORE_WRITE, 0, 0);
		if (failures == 0) {
			/* Fewer than n writes: every one has failed once. */
			assert_int_equal(rc, 0);
			pool_free(t);
			/* The applied index and the commit, at least. */
			if (n - 1 < 2)
				fail_msg("%s made only %lu store writes", what, n - 1);
			return (unsigned)(n - 1);
		}
		/* Reported: a fatal code for the caller, and a line in the log
		 * naming the store's error. */
		if (rc != LMC_EIO)
			fail_msg("%s, store write %lu failing: got %s, not LMC_EIO", what, n,
			         lmc_errname(rc));
		if (logged.errors == 0 || strstr(logged.last_error, "Input/output error") == NULL)
			fail_msg("%s, store write %lu failing: logged \"%s\"", what, n,
			         logged.errors ? logged.last_error : "nothing");
		/* Unchanged. */
		digest(t, after);
		assert_memory_equal(after, before, sizeof before);
		assert_int_equal(lm_pool_applied_index(t->pool), applied);
		/* And the next try succeeds, as if nothing had happened. */
		assert_int_equal(op(t, arg, &res), 0);
		assert_int_equal(res.code, want_code);
		digest(t, after);
		if (memcmp(after, want, sizeof want) != 0)
			fail_msg("%s, after store write %lu failed: the retry gives another pool",
			         what, n);
		pool_free(t);
	}
}

/* Applies the command at arg (a struct packed, kept) at the next index. */
static int apply_command(struct tp *t, const void *arg, struct lm_pool_result *res)
{
	const struct packed *p = arg;
	int rc = lm_pool_apply(t->pool, t->index + 1, p->buf, p->len, res);
	if (rc == 0)
		t->index++;
	return rc;
}

static void command_case(const char *what, struct packed p, int want_code)
{
	unsigned writes = fail_each_write(what, apply_command, &p, want_code);
	print_message("%s: %u store writes, each failed once\n", what, writes);
	free(p.buf);
}

static void test_set_license(void **state)
{
	(void)state;
	/* Drops a line, adds one, changes a count. */
	command_case("SetLicense",
	             set_license("FEATURE stats acme 29.0 permanent 4\n"
	                         "FEATURE stats acme 30.0 permanent 2\n"),
	             0);
}

static void test_open_session(void **state)
{
	(void)state;
	command_case("OpenSession", open_session(3, "carol"), 0);
}

static void test_checkout(void **state)
{
	(void)state;
	command_case("Checkout", checkout(1, 2, "stats", 2), 0);
}

static void test_checkin(void **state)
{
	(void)state;
	command_case("Checkin", checkin(1, 2, 1), 0);
}

static void test_close_session(void **state)
{
	(void)state;
	/* Session 2 holds two handles, both released. */
	command_case("CloseSession", close_session(2), 0);
}

static void test_remove_handle(void **state)
{
	(void)state;
	command_case("RemoveHandle", remove_handle(3), 0);
}

static void test_set_cluster_id(void **state)
{
	(void)state;
	command_case("SetClusterId", set_cluster_id(1), 0);
}

/* A denial writes too (the session's last request and its result), and a
 * failure there is as fatal as any other. */
static void test_denied_checkout(void **state)
{
	(void)state;
	command_case("Checkout denied", checkout(1, 2, "plots", 1), LMC_ENOSEATS);
}

/* The policy's copy of who holds what (lmd/pool_holdings.c) follows the
 * commits only: a checkin whose transaction fails leaves the seat counted
 * against the reservation, and a checkin that commits frees it. */
static void test_holdings_follow_commits(void **state)
{
	(void)state;
	struct tp *t = pool_new();
	struct lm_pool_result res;
	assert_int_equal(apply_ok(t, set_license_with("FEATURE stats acme 29.0 permanent 3\n",
	                                              "RESERVE 1 stats USER carol\n"))
	                         .code,
	                 0);
	assert_int_equal(apply_ok(t, open_session(1, "bob")).code, 0);
	assert_int_equal(apply_ok(t, open_session(2, "dave")).code, 0);
	assert_int_equal(apply_ok(t, open_session(3, "carol")).code, 0);
	uint64_t first = apply_ok(t, checkout(1, 1, "stats", 1)).handle;
	assert_int_equal(apply_ok(t, checkout(1, 2, "stats", 1)).code, 0);
	/* Two held, the third seat is carol's. */
	assert_int_equal(apply_ok(t, checkout(2, 1, "stats", 1)).code, LMC_EDENIED);

	struct packed back = checkin(1, 3, first);
	for (unsigned long n = 1;; n++) {
		lm_fault_set(LM_FAULT_STORE_WRITE, n, 0);
		int rc = lm_pool_apply(t->pool, t->index + 1, back.buf, back.len, &res);
		unsigned long failures = lm_fault_failures(LM_FAULT_STORE_WRITE);
		lm_fault_set(LM_FAULT_STORE_WRITE, 0, 0);
		if (failures == 0) {
			/* Every write of the checkin failed once; now it is in. */
			assert_int_equal(rc, 0);
			t->index++;
			break;
		}
		assert_int_equal(rc, LMC_EIO);
		/* Still two held: the seat left for dave is carol's. */
		res = apply_ok(t, checkout(2, 1 + n, "stats", 1));
		if (res.code != LMC_EDENIED)
			fail_msg("after a checkin failed at store write %lu, dave got %s", n,
			         lmc_errname(res.code));
	}
	free(back.buf);
	/* Freed: dave takes it, carol still has hers, and nothing is left. */
	assert_int_equal(apply_ok(t, checkout(2, 100, "stats", 1)).code, 0);
	assert_int_equal(apply_ok(t, checkout(3, 1, "stats", 1)).code, 0);
	assert_int_equal(apply_ok(t, checkout(1, 4, "stats", 1)).code, LMC_ENOSEATS);
	pool_free(t);
}

/* Restores a snapshot (arg) of another pool over the fixture. */
struct snapshot {
	void *buf;
	size_t len;
	uint64_t index;
};

static int restore(struct tp *t, const void *arg, struct lm_pool_result *res)
{
	const struct snapshot *s = arg;
	memset(res, 0, sizeof *res);
	int rc = lm_pool_restore(t->pool, s->index, s->buf, s->len);
	if (rc == 0)
		t->index = s->index;
	return rc;
}

static void test_restore(void **state)
{
	struct snapshot s;

	(void)state;
	/* Another history: other lines, other sessions, other handles. */
	struct tp *src = pool_new();
	assert_int_equal(
	        apply_ok(src, set_license("FEATURE draw acme 29.0 permanent 9\n" LICENSE)).code, 0);
	assert_int_equal(apply_ok(src, open_session(7, "dave")).code, 0);
	assert_int_equal(apply_ok(src, checkout(7, 1, "draw", 4)).code, 0);
	assert_int_equal(apply_ok(src, checkout(7, 2, "stats", 1)).code, 0);
	assert_int_equal(apply_ok(src, set_cluster_id(9)).code, 0);
	assert_int_equal(lm_pool_snapshot(src->pool, &s.buf, &s.len), 0);
	s.index = 40;
	unsigned writes = fail_each_write("restore", restore, &s, 0);
	print_message("restore: %u store writes, each failed once\n", writes);
	free(s.buf);
	pool_free(src);
}

static int setup(void **state)
{
	(void)state;
	struct lm_lockcode c = {.present = 0x3f};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		c.digest[i] = (2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, server_code, sizeof server_code), 0);
	now_us = (int64_t)lm_date_from_ymd(2027, 1, 1) * DAY_US;
	lm_log_set_sink(capture, &logged);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_license),
	        cmocka_unit_test(test_open_session),
	        cmocka_unit_test(test_checkout),
	        cmocka_unit_test(test_checkin),
	        cmocka_unit_test(test_close_session),
	        cmocka_unit_test(test_remove_handle),
	        cmocka_unit_test(test_set_cluster_id),
	        cmocka_unit_test(test_denied_checkout),
	        cmocka_unit_test(test_restore),
	        cmocka_unit_test(test_holdings_follow_commits),
	};
	return cmocka_run_group_tests(tests, setup, NULL) ? 1 : 0;
}

#else

int main(void)
{
	/* 77: automake's "skipped". */
	printf("store write faults need a build configured with --enable-test-hooks\n");
	return 77;
}

#endif
