/* The seat pool: how seats are counted and granted, how retries are
 * answered, what survives a snapshot, and that two servers fed the same
 * commands hold the same pool. */
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

/* ---- Fixtures (pool_fixture.h: the pool, apply, set_license) ---------- */

#define DAY_US INT64_C(86400000000)

/* A second machine's lock code, beside the fixture's S1. */
static char H1[LM_LOCKCODE_TEXT_MAX];

static int64_t at(int y, int m, int d)
{
	return (int64_t)lm_date_from_ymd(y, m, d) * DAY_US + 12 * 3600 * INT64_C(1000000);
}

static int32_t today(void)
{
	return (int32_t)(now_us / DAY_US);
}

static void make_code(uint32_t seed, char *buf)
{
	struct lm_lockcode c = {.present = 0x3f};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		if (c.present & (1u << i))
			c.digest[i] = (seed * 2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, buf, LM_LOCKCODE_TEXT_MAX), 0);
}

static int setup(void **state)
{
	pool_fixture_setup(state);
	make_code(7, H1);
	return 0;
}

/* ---- Commands ---------------------------------------------------------- */

static struct lm_pool_result open_session_at(struct tp *t, uint64_t sid, const char *user,
                                             const char *host, const char *display);

static struct lm_pool_result open_session(struct tp *t, uint64_t sid, const char *user)
{
	return open_session_at(t, sid, user, "ws1.example", ":0");
}

static struct lm_pool_result open_session_at(struct tp *t, uint64_t sid, const char *user,
                                             const char *host, const char *display)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__OpenSession o = LMCMD__OPEN_SESSION__INIT;
	uint8_t secret[32];
	memset(secret, (int)sid, sizeof secret);
	o.has_session_id = 1;
	o.session_id = sid;
	o.has_secret_digest = 1;
	o.secret_digest = (ProtobufCBinaryData){sizeof secret, secret};
	o.has_user = 1;
	o.user = bin(user);
	o.has_host = 1;
	o.host = bin(host);
	o.has_display = 1;
	o.display = bin(display);
	o.has_pid = 1;
	o.pid = 4242;
	c.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION;
	c.open_session = &o;
	return apply(t, &c);
}

static void alice_session(struct tp *t, uint64_t sid)
{
	assert_int_equal(open_session(t, sid, "alice").code, 0);
}

static struct lm_pool_result checkout_n(struct tp *t, uint64_t sid, uint64_t req,
                                        const char *feature, const char *version, uint32_t count)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkout m = LMCMD__CHECKOUT__INIT;
	m.has_session_id = 1;
	m.session_id = sid;
	m.has_request_id = 1;
	m.request_id = req;
	m.has_feature = 1;
	m.feature = bin(feature);
	m.has_version = 1;
	m.version = bin(version);
	m.has_count = 1;
	m.count = count;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &m;
	return apply(t, &c);
}

/* A checkout that must be granted; returns its handle. */
static uint64_t take_n(struct tp *t, uint64_t sid, uint64_t req, const char *feature,
                       const char *version, uint32_t count)
{
	struct lm_pool_result res = checkout_n(t, sid, req, feature, version, count);
	if (res.code)
		fail_msg("checkout of %u %s %s refused: %s (%s)", count, feature, version,
		         lmc_errname(res.code), res.message);
	assert_int_not_equal(res.handle, 0);
	assert_int_equal(res.count, count);
	return res.handle;
}

static struct lm_pool_result try_checkin(struct tp *t, uint64_t sid, uint64_t req, uint64_t handle)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkin m = LMCMD__CHECKIN__INIT;
	m.has_session_id = 1;
	m.session_id = sid;
	m.has_request_id = 1;
	m.request_id = req;
	m.has_handle = 1;
	m.handle = handle;
	c.body_case = LMCMD__COMMAND__BODY_CHECKIN;
	c.checkin = &m;
	return apply(t, &c);
}

static struct lm_pool_result expire_session(struct tp *t, uint64_t sid)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__CloseSession m = LMCMD__CLOSE_SESSION__INIT;
	m.has_session_id = 1;
	m.session_id = sid;
	m.has_reason = 1;
	m.reason = LMCMD__CLOSE_REASON__CLOSE_EXPIRED;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	c.close_session = &m;
	return apply(t, &c);
}

static struct lm_pool_result remove_handle(struct tp *t, uint64_t handle)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__RemoveHandle m = LMCMD__REMOVE_HANDLE__INIT;
	m.has_handle = 1;
	m.handle = handle;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
	c.remove_handle = &m;
	return apply(t, &c);
}

/* ---- Looking at the pool ----------------------------------------------- */

struct view {
	struct lm_pool_feature f;
	int holders;
	uint32_t held; /* seats of the holders, a sharing group's once */
	int shared;    /* holders that share their seats with another */
	uint8_t groups[16][LM_POOL_SHARE_LEN];
	int ngroups;
};

struct views {
	struct view v[64];
	int n;
};

static int collect_feature(void *arg, const struct lm_pool_feature *f)
{
	struct views *vs = arg;
	assert_true(vs->n < 64);
	vs->v[vs->n].f = *f;
	vs->v[vs->n].holders = 0;
	vs->v[vs->n].held = 0;
	vs->v[vs->n].shared = 0;
	vs->v[vs->n].ngroups = 0;
	vs->n++;
	return 0;
}

static int collect_holder(void *arg, const struct lm_pool_handle *h,
                          const struct lm_pool_session *s)
{
	struct views *vs = arg;
	struct view *v = &vs->v[vs->n - 1];
	assert_string_equal(h->feature, v->f.name);
	assert_int_equal(lm_version_compare(h->pool_version, v->f.version), 0);
	assert_int_equal(h->session_id, s->id);
	v->holders++;
	if (h->sharers > 1)
		v->shared++;
	for (int i = 0; h->has_share && i < v->ngroups; i++)
		if (memcmp(v->groups[i], h->share, LM_POOL_SHARE_LEN) == 0)
			return 0;
	if (h->has_share) {
		assert_true(v->ngroups < 16);
		memcpy(v->groups[v->ngroups++], h->share, LM_POOL_SHARE_LEN);
	}
	v->held += h->count;
	return 0;
}

static void pools(struct tp *t, struct views *vs)
{
	vs->n = 0;
	assert_int_equal(
	        lm_pool_each_feature(t->pool, today(), collect_feature, collect_holder, vs), 0);
	for (int i = 0; i < vs->n; i++)
		assert_int_equal(vs->v[i].held, vs->v[i].f.in_use);
}

/* The (feature, version) pool, or NULL when lmstat would not list it. */
static const struct view *pool_of(struct tp *t, const char *feature, const char *version)
{
	static struct views vs;
	pools(t, &vs);
	for (int i = 0; i < vs.n; i++)
		if (strcmp(vs.v[i].f.name, feature) == 0 && strcmp(vs.v[i].f.version, version) == 0)
			return &vs.v[i];
	return NULL;
}

static uint32_t in_use(struct tp *t, const char *feature, const char *version)
{
	const struct view *v = pool_of(t, feature, version);
	return v ? v->f.in_use : 0;
}

static void digest(struct tp *t, uint8_t d[32])
{
	assert_int_equal(lm_pool_digest(t->pool, d), 0);
}

/* ---- Seats ------------------------------------------------------------- */

static void test_five_seats(void **state)
{
	struct tp *t = *state;
	uint64_t h[5];

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	for (int i = 0; i < 5; i++) {
		h[i] = take_n(t, 1, (uint64_t)i + 1, "stats", "29.0", 1);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
	}
	const struct view *v = pool_of(t, "stats", "29.0");
	assert_non_null(v);
	assert_int_equal(v->f.issued, 5);
	assert_int_equal(v->f.in_use, 5);
	assert_int_equal(v->f.expiry, LM_DATE_PERMANENT);
	assert_int_equal(v->holders, 5);

	struct lm_pool_result res = checkout_n(t, 1, 6, "stats", "29.0", 1);
	assert_int_equal(res.code, LMC_ENOSEATS);
	assert_int_equal(res.handle, 0);
	assert_string_equal(res.message, "all 5 seats of stats 29.0 in use");

	assert_int_equal(try_checkin(t, 1, 7, h[2]).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 4);
	take_n(t, 1, 8, "stats", "29.0", 1);
	assert_int_equal(checkout_n(t, 1, 9, "stats", "29.0", 1).code, LMC_ENOSEATS);
}

static void test_k_seats(void **state)
{
	struct tp *t = *state;

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	uint64_t three = take_n(t, 1, 1, "stats", "29.0", 3);
	struct lm_pool_result res = checkout_n(t, 1, 2, "stats", "29.0", 3);
	assert_int_equal(res.code, LMC_ENOSEATS);
	assert_string_equal(res.message, "3 seats of stats 29.0 requested, 2 of 5 free");
	take_n(t, 1, 3, "stats", "29.0", 2);
	assert_int_equal(checkout_n(t, 1, 4, "stats", "29.0", 1).code, LMC_ENOSEATS);
	res = try_checkin(t, 1, 5, three);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.count, 3);
	take_n(t, 1, 6, "stats", "29.0", 3);
	assert_int_equal(in_use(t, "stats", "29.0"), 5);

	/* More than the pool has is a denial, not a partial grant; zero
	 * seats is not a request. */
	alice_session(t, 2);
	assert_int_equal(checkout_n(t, 2, 1, "stats", "29.0", 6).code, LMC_ENOSEATS);
	assert_int_equal(checkout_n(t, 2, 2, "stats", "29.0", 0).code, LMC_EINVAL);
	assert_int_equal(checkout_n(t, 2, 3, "stats", "29.x", 1).code, LMC_EINVAL);
	assert_int_equal(in_use(t, "stats", "29.0"), 5);
}

static void test_versions(void **state)
{
	struct tp *t = *state;
	struct lm_pool_handle h[4];

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	/* A request for version V is served by a license of version >= V. */
	take_n(t, 1, 1, "stats", "28", 1);
	take_n(t, 1, 2, "stats", "29", 1);
	take_n(t, 1, 3, "stats", "29.0.0", 1);
	struct lm_pool_result res = checkout_n(t, 1, 4, "stats", "30", 1);
	assert_int_equal(res.code, LMC_EVERSION);
	assert_string_equal(res.message, "stats 30 requested, the newest licensed version is 29.0");
	assert_int_equal(in_use(t, "stats", "29.0"), 3);

	/* Two pools: the oldest one that fits is used first. */
	license(t, "FEATURE stats acme 29.0 permanent 2\nFEATURE stats acme 30.0 permanent 3\n");
	alice_session(t, 2);
	take_n(t, 2, 1, "stats", "29", 1);
	assert_int_equal(lm_pool_session_handles(t->pool, 2, h, 4), 1);
	assert_string_equal(h[0].pool_version, "30.0"); /* 29.0 is full: session 1 holds 3 */
	expire_session(t, 1);
	expire_session(t, 2);
	alice_session(t, 3);
	take_n(t, 3, 1, "stats", "29", 1);
	take_n(t, 3, 2, "stats", "29", 1);
	take_n(t, 3, 3, "stats", "29", 1);
	take_n(t, 3, 4, "stats", "30", 1);
	assert_int_equal(lm_pool_session_handles(t->pool, 3, h, 4), 4);
	assert_string_equal(h[0].pool_version, "29.0");
	assert_string_equal(h[1].pool_version, "29.0");
	assert_string_equal(h[2].pool_version, "30.0");
	assert_string_equal(h[3].pool_version, "30.0");
	assert_string_equal(h[0].version, "29");
	assert_int_equal(in_use(t, "stats", "29.0"), 2);
	assert_int_equal(in_use(t, "stats", "30.0"), 2);
	/* Version 30 cannot fall back on the free seat of nothing older. */
	take_n(t, 3, 5, "stats", "30", 1);
	assert_int_equal(checkout_n(t, 3, 6, "stats", "30", 1).code, LMC_ENOSEATS);
	assert_int_equal(checkout_n(t, 3, 7, "stats", "29", 1).code, LMC_ENOSEATS);
	assert_int_equal(checkout_n(t, 3, 8, "stats", "29", 2).code, LMC_ENOSEATS);
}

static void test_increment(void **state)
{
	struct tp *t = *state;

	license(t, "FEATURE stats acme 29.0 permanent 3\n"
	           "INCREMENT stats acme 29 permanent 2\n"
	           "INCREMENT stats acme 31.0 permanent 1\n");
	const struct view *v = pool_of(t, "stats", "29.0");
	assert_non_null(v);
	assert_int_equal(v->f.issued, 5);
	v = pool_of(t, "stats", "31.0");
	assert_non_null(v);
	assert_int_equal(v->f.issued, 1);
	alice_session(t, 1);
	for (int i = 1; i <= 5; i++)
		take_n(t, 1, (uint64_t)i, "stats", "29.0", 1);
	assert_int_equal(in_use(t, "stats", "29.0"), 5);
	/* The sixth goes to the newer pool, the seventh finds nothing. */
	take_n(t, 1, 6, "stats", "29.0", 1);
	assert_int_equal(in_use(t, "stats", "31.0"), 1);
	assert_int_equal(checkout_n(t, 1, 7, "stats", "29.0", 1).code, LMC_ENOSEATS);
}

static void test_dates(void **state)
{
	struct tp *t = *state;
	char msg[128];

	license(t, "FEATURE later acme 1.0 2030-12-31 2 START=2027-03-01\n"
	           "FEATURE old acme 1.0 2026-12-31 2\n"
	           "FEATURE lastday acme 1.0 2027-01-01 2\n"
	           "FEATURE mixed acme 1.0 2026-06-30 4\n"
	           "INCREMENT mixed acme 1.0 2027-12-31 1\n");
	alice_session(t, 1);
	struct lm_pool_result res = checkout_n(t, 1, 1, "later", "1.0", 1);
	assert_int_equal(res.code, LMC_ENOTSTARTED);
	assert_string_equal(res.message, "the license of later >= 1.0 starts on 2027-03-01");
	res = checkout_n(t, 1, 2, "old", "1.0", 1);
	assert_int_equal(res.code, LMC_EEXPIRED);
	assert_string_equal(res.message, "the license of old >= 1.0 expired on 2026-12-31");
	/* A license is good through its expiry day. */
	take_n(t, 1, 3, "lastday", "1.0", 1);
	/* Only the lines in their dates count. */
	assert_int_equal(pool_of(t, "mixed", "1.0")->f.issued, 1);
	assert_int_equal(pool_of(t, "mixed", "1.0")->f.expiry, lm_date_from_ymd(2027, 12, 31));
	take_n(t, 1, 4, "mixed", "1.0", 1);
	assert_int_equal(checkout_n(t, 1, 5, "mixed", "1.0", 1).code, LMC_ENOSEATS);

	/* Time only moves with the commands' clock. */
	now_us = at(2027, 3, 1);
	take_n(t, 1, 6, "later", "1.0", 2);
	now_us = at(2027, 1, 2);
	res = checkout_n(t, 1, 7, "lastday", "1.0", 1);
	assert_int_equal(res.code, LMC_EEXPIRED);
	lm_date_format(lm_date_from_ymd(2027, 1, 1), msg, sizeof msg);
	assert_non_null(strstr(res.message, msg));
}

static void test_unknown_feature(void **state)
{
	struct tp *t = *state;
	char body[512];

	snprintf(body, sizeof body,
	         "FEATURE stats acme 29.0 permanent 5\n"
	         "FEATURE viewer acme 1.0 permanent uncounted HOSTID=%s\n"
	         "PACKAGE suite acme 1.0 COMPONENTS=\"stats viewer\"\n",
	         H1);
	struct lm_pool_result res = set_license(t, body, NULL);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.count, 3);
	alice_session(t, 1);
	res = checkout_n(t, 1, 1, "plotting", "1.0", 1);
	assert_int_equal(res.code, LMC_ENOFEATURE);
	assert_string_equal(res.message, "no counted license for feature plotting on this server");
	/* Uncounted and PACKAGE lines are kept but form no pool. */
	assert_int_equal(checkout_n(t, 1, 2, "viewer", "1.0", 1).code, LMC_ENOFEATURE);
	assert_int_equal(checkout_n(t, 1, 3, "suite", "1.0", 1).code, LMC_ENOFEATURE);
	assert_int_equal(checkout_n(t, 1, 4, "Stats", "1.0", 1).code, LMC_ENOFEATURE);
	struct views vs;
	pools(t, &vs);
	assert_int_equal(vs.n, 1);
	char text[LM_LINE_MAX + 1];
	uint8_t sig[LM_SIG_LEN];
	assert_int_equal(lm_pool_line(t->pool, 2, text, sizeof text, sig), 0);
	assert_non_null(strstr(text, "PACKAGE suite acme"));
}

/* The backing line of a grant is the one that stays valid longest. */
static void test_backing_line(void **state)
{
	struct tp *t = *state;
	char text[LM_LINE_MAX + 1];
	uint8_t sig[LM_SIG_LEN], zero[LM_SIG_LEN] = {0};

	license(t, "FEATURE other acme 1.0 permanent 1\n"
	           "FEATURE stats acme 29.0 2027-06-30 2\n"
	           "INCREMENT stats acme 29.0 2028-12-31 3\n"
	           "INCREMENT stats acme 29.0 2026-12-31 3\n"
	           "FEATURE tie acme 1.0 2028-12-31 1\n"
	           "INCREMENT tie acme 1.0 2028-12-31 1\n");
	alice_session(t, 1);
	/* On a tie, the first line. */
	assert_int_equal(checkout_n(t, 1, 100, "tie", "1", 1).line, 4);
	assert_int_equal(checkout_n(t, 1, 101, "tie", "1", 1).line, 4);
	struct lm_pool_result res = checkout_n(t, 1, 1 + 101, "stats", "29.0", 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.line, 2);
	assert_int_equal(lm_pool_line(t->pool, res.line, text, sizeof text, sig), 0);
	assert_non_null(strstr(text, "INCREMENT stats acme 29.0 2028-12-31 3"));
	assert_memory_equal(sig, zero, sizeof sig);
	assert_int_equal(lm_pool_line(t->pool, 6, text, sizeof text, sig), LMC_ENOFEATURE);
	assert_int_equal(lm_pool_line(t->pool, 0, text, 8, sig), LMC_ETOOLARGE);
	assert_int_equal(pool_of(t, "stats", "29.0")->f.issued, 5);
}

/* ---- Sessions and requests --------------------------------------------- */

/* A granted checkout's result carries its backing line as the commit read
 * it, text and signature, for the reply: the server builds the reply from
 * it, never by reading the pool again once later commands (an lmreread)
 * may have changed the license set. */
static void test_checkout_result_carries_its_line(void **state)
{
	struct tp *t = *state;
	char text[LM_LINE_MAX];
	uint8_t sig[LM_SIG_LEN];

	license(t, "FEATURE other acme 1.0 permanent 1\nFEATURE stats acme 29.0 permanent 2\n");
	alice_session(t, 1);
	struct lm_pool_result res = checkout_n(t, 1, 1, "stats", "29.0", 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(lm_pool_line(t->pool, res.line, text, sizeof text, sig), 0);
	assert_string_equal(res.license_text, text);
	assert_memory_equal(res.license_sig, sig, LM_SIG_LEN);
	assert_non_null(strstr(res.license_text, "FEATURE stats "));
	/* A retry is answered with the line too. */
	struct lm_pool_result again = checkout_n(t, 1, 1, "stats", "29.0", 1);
	assert_int_equal(again.code, 0);
	assert_string_equal(again.license_text, res.license_text);
	/* A denial carries none. */
	assert_int_equal(checkout_n(t, 1, 2, "nosuch", "1.0", 1).license_text[0], '\0');

	/* A reread that drops the line leaves the first result as it was; a
	 * retry after it finds the seat still charged but its line gone. */
	alice_session(t, 2);
	struct lm_pool_result before = checkout_n(t, 2, 1, "stats", "29.0", 1);
	license(t, "FEATURE other acme 1.0 permanent 1\n");
	assert_non_null(strstr(before.license_text, "FEATURE stats "));
	struct lm_pool_result after = checkout_n(t, 2, 1, "stats", "29.0", 1);
	assert_int_equal(after.code, 0);
	assert_int_equal(after.handle, before.handle);
	assert_string_equal(after.license_text, "");
	assert_int_equal(in_use(t, "stats", "29.0"), 2);
}

static void test_retry(void **state)
{
	struct tp *t = *state;
	uint8_t before[32], after[32];

	license(t, "FEATURE stats acme 29.0 permanent 2\n");
	alice_session(t, 1);
	uint64_t h = take_n(t, 1, 1, "stats", "29.0", 1);
	/* The reply was lost; the same request comes back. */
	struct lm_pool_result res = checkout_n(t, 1, 1, "stats", "29.0", 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.handle, h);
	assert_int_equal(res.count, 1);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);

	res = try_checkin(t, 1, 2, h);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.handle, h);
	res = try_checkin(t, 1, 2, h);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.handle, h);
	assert_int_equal(in_use(t, "stats", "29.0"), 0);

	/* A denial is remembered too, even once seats are free again. */
	alice_session(t, 2);
	uint64_t h2 = take_n(t, 2, 1, "stats", "29.0", 2);
	assert_int_equal(checkout_n(t, 1, 3, "stats", "29.0", 1).code, LMC_ENOSEATS);
	assert_int_equal(try_checkin(t, 2, 2, h2).code, 0);
	assert_int_equal(checkout_n(t, 1, 3, "stats", "29.0", 1).code, LMC_ENOSEATS);
	take_n(t, 1, 4, "stats", "29.0", 1);

	/* Older request ids and id 0 are refused and change nothing. */
	digest(t, before);
	res = checkout_n(t, 1, 3, "stats", "29.0", 1);
	assert_int_equal(res.code, LMC_EPROTO);
	assert_int_equal(checkout_n(t, 1, 2, "stats", "29.0", 1).code, LMC_EPROTO);
	assert_int_equal(try_checkin(t, 1, 1, h).code, LMC_EPROTO);
	assert_int_equal(checkout_n(t, 1, 0, "stats", "29.0", 1).code, LMC_EPROTO);
	assert_int_equal(checkout_n(t, 3, 0, "stats", "29.0", 1).code, LMC_ENOSESSION);
	digest(t, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	/* Ids may skip. */
	take_n(t, 1, 10, "stats", "29.0", 1);
}

static void test_sessions(void **state)
{
	struct tp *t = *state;
	struct lm_pool_session s;
	uint8_t before[32], after[32];

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	assert_int_equal(checkout_n(t, 9, 1, "stats", "29.0", 1).code, LMC_ENOSESSION);
	assert_int_equal(try_checkin(t, 9, 1, 1).code, LMC_ENOSESSION);
	assert_int_equal(expire_session(t, 9).code, LMC_ENOSESSION);
	assert_int_equal(lm_pool_session(t->pool, 9, &s), LMC_ENOSESSION);

	now_us += 1000;
	assert_int_equal(open_session(t, 9, "alice").code, 0);
	assert_int_equal(lm_pool_session(t->pool, 9, &s), 0);
	assert_int_equal(s.id, 9);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.host, "ws1.example");
	assert_string_equal(s.display, ":0");
	assert_int_equal(s.pid, 4242);
	assert_int_equal(s.opened_us, now_us);
	assert_int_equal(s.secret_digest[31], 9);

	/* Opening it again is a retry: same answer, nothing changes. */
	digest(t, before);
	now_us += 1000;
	assert_int_equal(open_session(t, 9, "mallory").code, 0);
	digest(t, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(lm_pool_session(t->pool, 9, &s), 0);
	assert_string_equal(s.user, "alice");

	assert_int_equal(open_session(t, 0, "nobody").code, LMC_EINVAL);
}

static int count_session(void *arg, const struct lm_pool_session *s)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_at_first(void *arg, const struct lm_pool_session *s)
{
	*(uint64_t *)arg = s->id;
	return 7;
}

static void test_close_session(void **state)
{
	struct tp *t = *state;
	struct lm_pool_session s;
	int n = 0;

	license(t, "FEATURE stats acme 29.0 permanent 5\nFEATURE plot acme 1 permanent 2\n");
	alice_session(t, 1);
	alice_session(t, 2);
	take_n(t, 1, 1, "stats", "29.0", 1);
	take_n(t, 1, 2, "stats", "29.0", 2);
	take_n(t, 1, 3, "plot", "1", 1);
	uint64_t kept = take_n(t, 2, 1, "stats", "29.0", 1);
	assert_int_equal(lm_pool_session(t->pool, 1, &s), 0);
	assert_int_equal(s.nhandles, 3);
	assert_int_equal(lm_pool_each_session(t->pool, count_session, &n), 0);
	assert_int_equal(n, 2);
	uint64_t first = 0;
	assert_int_equal(lm_pool_each_session(t->pool, stop_at_first, &first), 7);
	assert_int_equal(first, 1);

	struct lm_pool_result res = expire_session(t, 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.count, 4);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	assert_int_equal(in_use(t, "plot", "1"), 0);
	assert_int_equal(lm_pool_session(t->pool, 1, &s), LMC_ENOSESSION);
	struct lm_pool_handle h[2];
	assert_int_equal(lm_pool_session_handles(t->pool, 1, h, 2), 0);
	assert_int_equal(lm_pool_session_handles(t->pool, 2, h, 2), 1);
	assert_int_equal(h[0].handle, kept);
	assert_int_equal(expire_session(t, 1).code, LMC_ENOSESSION);
	/* The seats are back for everyone. */
	take_n(t, 2, 2, "stats", "29.0", 4);
}

static void test_foreign_handle(void **state)
{
	struct tp *t = *state;

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	alice_session(t, 2);
	uint64_t h = take_n(t, 1, 1, "stats", "29.0", 2);
	struct lm_pool_result res = try_checkin(t, 2, 1, h);
	assert_int_equal(res.code, LMC_ENOHANDLE);
	assert_int_equal(in_use(t, "stats", "29.0"), 2);
	assert_int_equal(try_checkin(t, 2, 2, h + 100).code, LMC_ENOHANDLE);
	assert_int_equal(try_checkin(t, 1, 2, h).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 0);
	/* Checked in already, under a new request id: the handle is gone. */
	assert_int_equal(try_checkin(t, 1, 3, h).code, LMC_ENOHANDLE);
}

static void test_remove_handle(void **state)
{
	struct tp *t = *state;
	struct lm_pool_session s;

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	uint64_t a = take_n(t, 1, 1, "stats", "29.0", 3);
	take_n(t, 1, 2, "stats", "29.0", 1);
	struct lm_pool_result res = remove_handle(t, a);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.count, 3);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	assert_int_equal(lm_pool_session(t->pool, 1, &s), 0);
	assert_int_equal(s.nhandles, 1);
	assert_int_equal(remove_handle(t, a).code, LMC_ENOHANDLE);
	/* The owner learns at its checkin. */
	assert_int_equal(try_checkin(t, 1, 3, a).code, LMC_ENOHANDLE);
	assert_int_equal(expire_session(t, 1).count, 1);
}

static void test_set_license_keeps_handles(void **state)
{
	struct tp *t = *state;

	license(t, "FEATURE stats acme 29.0 permanent 5\nFEATURE plot acme 1.0 permanent 2\n");
	alice_session(t, 1);
	uint64_t h1 = take_n(t, 1, 1, "stats", "29.0", 2);
	uint64_t h2 = take_n(t, 1, 2, "stats", "29.0", 1);
	uint64_t p1 = take_n(t, 1, 3, "plot", "1.0", 1);

	/* Fewer seats: the held ones stay held, new ones wait for room. */
	license(t, "FEATURE stats acme 29.0 permanent 2\n");
	const struct view *v = pool_of(t, "stats", "29.0");
	assert_int_equal(v->f.issued, 2);
	assert_int_equal(v->f.in_use, 3);
	assert_int_equal(checkout_n(t, 1, 4, "stats", "29.0", 1).code, LMC_ENOSEATS);
	/* plot lost its lines but lmstat still shows its holder. */
	v = pool_of(t, "plot", "1.0");
	assert_non_null(v);
	assert_int_equal(v->f.issued, 0);
	assert_int_equal(v->f.in_use, 1);
	assert_int_equal(v->f.expiry, LM_DATE_NONE);
	assert_int_equal(v->holders, 1);
	assert_int_equal(checkout_n(t, 1, 5, "plot", "1.0", 1).code, LMC_ENOFEATURE);

	assert_int_equal(try_checkin(t, 1, 6, h1).code, 0);
	take_n(t, 1, 7, "stats", "29.0", 1);
	assert_int_equal(try_checkin(t, 1, 8, p1).code, 0);
	struct views vs;
	pools(t, &vs);
	assert_int_equal(vs.n, 1);
	assert_string_equal(vs.v[0].f.name, "stats");
	assert_int_equal(try_checkin(t, 1, 9, h2).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);

	/* A line that does not parse refuses the whole set. */
	Lmcmd__Line bad = LMCMD__LINE__INIT, *lines[1] = {&bad};
	Lmcmd__SetLicense sl = LMCMD__SET_LICENSE__INIT;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	bad.has_text = 1;
	bad.text = bin("FEATURE stats acme 29.0 permanent 99");
	sl.n_lines = 1;
	sl.lines = lines;
	c.body_case = LMCMD__COMMAND__BODY_SET_LICENSE;
	c.set_license = &sl;
	assert_int_not_equal(apply(t, &c).code, 0);
	assert_int_equal(pool_of(t, "stats", "29.0")->f.issued, 2);
}

static void test_handle_limit(void **state)
{
	struct tp *t = *state;

	license(t, "FEATURE stats acme 29.0 permanent 2000\n");
	alice_session(t, 1);
	for (int i = 1; i <= LM_POOL_HANDLES_PER_SESSION_MAX; i++)
		take_n(t, 1, (uint64_t)i, "stats", "29.0", 1);
	struct lm_pool_result res = checkout_n(t, 1, 5000, "stats", "29.0", 1);
	assert_int_equal(res.code, LMC_ELIMIT);
	alice_session(t, 2);
	take_n(t, 2, 1, "stats", "29.0", 1);
	res = expire_session(t, 1);
	assert_int_equal(res.count, LM_POOL_HANDLES_PER_SESSION_MAX);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
}

static void test_session_limit(void **state)
{
	struct tp *t = *state;

	for (uint64_t i = 1; i <= LM_POOL_SESSIONS_MAX; i++)
		assert_int_equal(open_session(t, i, "u").code, 0);
	assert_int_equal(open_session(t, LM_POOL_SESSIONS_MAX + 1, "u").code, LMC_ELIMIT);
	assert_int_equal(open_session(t, 5, "u").code, 0);
	assert_int_equal(expire_session(t, 5).code, 0);
	assert_int_equal(open_session(t, LM_POOL_SESSIONS_MAX + 1, "u").code, 0);
}

/* ---- Bad input --------------------------------------------------------- */

static void test_garbage(void **state)
{
	struct tp *t = *state;
	struct lm_pool_result res;
	uint8_t before[32], after[32];
	static const uint8_t junk[][8] = {
	        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* bad varint */
	        {0x62, 0x05, 0x08, 0x01, 0, 0, 0, 0},             /* truncated body */
	        {0x08, 0x01, 0, 0, 0, 0, 0, 0},                   /* no body */
	};
	static const size_t junk_len[] = {8, 4, 2};

	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	alice_session(t, 1);
	take_n(t, 1, 1, "stats", "29.0", 1);
	digest(t, before);
	for (size_t i = 0; i < sizeof junk_len / sizeof junk_len[0]; i++) {
		assert_int_equal(lm_pool_apply(t->pool, t->index + 1, junk[i], junk_len[i], &res),
		                 LMC_EPROTO);
		assert_int_equal(res.code, LMC_EPROTO);
	}
	assert_int_equal(lm_pool_apply(t->pool, t->index + 1, "", 0, &res), LMC_EPROTO);
	/* An index that does not move forward is the caller's bug. */
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__RemoveHandle m = LMCMD__REMOVE_HANDLE__INIT;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
	c.remove_handle = &m;
	uint8_t buf[64];
	size_t n = lmcmd__command__pack(&c, buf);
	assert_int_equal(lm_pool_apply(t->pool, t->index, buf, n, &res), LMC_EINVAL);
	digest(t, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(lm_pool_applied_index(t->pool), t->index);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	/* Gaps in the index are normal (raft's own entries). */
	t->index += 5;
	take_n(t, 1, 2, "stats", "29.0", 1);
}

/* ---- Snapshots, digests, reopening ------------------------------------- */

/* A pool with a bit of everything: lines, a pool that lost its lines,
 * several sessions, remembered results. */
static void populate(struct tp *t)
{
	license(t, "FEATURE stats acme 29.0 permanent 5\n"
	           "INCREMENT stats acme 30.0 2030-01-01 2\n"
	           "FEATURE plot acme 1.0 permanent 3\n");
	alice_session(t, 1);
	alice_session(t, 2);
	alice_session(t, 3);
	take_n(t, 1, 1, "stats", "29.0", 2);
	take_n(t, 2, 1, "stats", "30", 2);
	take_n(t, 2, 2, "plot", "1.0", 1);
	take_n(t, 3, 1, "plot", "1", 1);
	assert_int_equal(checkout_n(t, 3, 2, "stats", "30", 1).code, LMC_ENOSEATS);
	license(t, "FEATURE stats acme 29.0 permanent 5\nINCREMENT stats acme 30.0 2030-01-01 2\n");
}

static void test_snapshot_restore(void **state)
{
	struct tp *t = *state, *u = tp_new(), *w = tp_new();
	uint8_t dt[32], du[32], dw[32];
	void *buf;
	size_t len;

	populate(t);
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 1000, buf, len), 0);
	assert_int_equal(lm_pool_applied_index(u->pool), 1000);
	u->index = 1000;
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	assert_int_equal(in_use(u, "plot", "1.0"), 2);
	assert_int_equal(pool_of(u, "plot", "1.0")->f.issued, 0);

	/* Restore replaces whatever was there. */
	license(w, "FEATURE other acme 1 permanent 9\n");
	alice_session(w, 77);
	take_n(w, 77, 1, "other", "1", 3);
	assert_int_equal(lm_pool_restore(w->pool, 5, buf, len), 0);
	w->index = 5;
	digest(w, dw);
	assert_memory_equal(dt, dw, 32);
	assert_int_equal(in_use(w, "other", "1"), 0);
	free(buf);

	/* And the restored pools behave like the original. */
	struct tp *all[3] = {t, u, w};
	for (int i = 0; i < 3; i++) {
		struct lm_pool_result r = checkout_n(all[i], 3, 2, "stats", "30", 1); /* a retry */
		assert_int_equal(r.code, LMC_ENOSEATS);
		r = checkout_n(all[i], 3, 3, "stats", "29", 1);
		assert_int_equal(r.code, 0);
		assert_int_equal(r.handle, 5);
		assert_int_equal(r.line, 0);
		r = try_checkin(all[i], 2, 3, 3); /* plot, of session 2 */
		assert_int_equal(r.code, 0);
		assert_int_equal(r.count, 1);
		r = expire_session(all[i], 1);
		assert_int_equal(r.count, 2);
	}
	digest(u, du);
	digest(w, dw);
	digest(t, dt);
	assert_memory_equal(dt, du, 32);
	assert_memory_equal(dt, dw, 32);
	tp_free(u);
	tp_free(w);
}

/* The options file travels with the license set and decides checkouts on
 * every server alike: EXCLUDE, MAX and RESERVE, each denial naming its
 * rule; it is content (digest, snapshots); a text that does not parse
 * refuses the whole SetLicense and the old policy stays; a SetLicense
 * without options ends the policy. */
static void test_policy(void **state)
{
	struct tp *t = *state, *u = tp_new();
	const char *lines =
	        "FEATURE stats acme 29.0 permanent 3\nFEATURE plot acme 1.0 permanent 2\n";
	const char *opt = "# who may use stats\n"
	                  "EXCLUDE stats USER bob\n"
	                  "RESERVE 1 stats USER carol\n"
	                  "MAX 1 stats USER alice\n"
	                  "EXCLUDE plot USER alice\n"
	                  "EXCLUDEALL USER mallory\n";
	assert_int_equal(set_license(t, lines, opt).code, 0);
	assert_int_equal(open_session(t, 1, "alice").code, 0);
	assert_int_equal(open_session(t, 2, "bob").code, 0);
	assert_int_equal(open_session(t, 3, "carol").code, 0);
	assert_int_equal(open_session(t, 4, "dave").code, 0);

	struct lm_pool_result r = checkout_n(t, 2, 1, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_EDENIED);
	assert_non_null(strstr(r.message, "EXCLUDE stats USER bob"));
	assert_non_null(strstr(r.message, "acme.opt line 2"));
	take_n(t, 1, 1, "stats", "29.0", 1);
	r = checkout_n(t, 1, 2, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_EDENIED);
	assert_non_null(strstr(r.message, "MAX"));
	/* Two unreserved seats: alice holds one, dave takes the other... */
	take_n(t, 4, 1, "stats", "29.0", 1);
	/* ...and the reserved one is not his, though free. */
	r = checkout_n(t, 4, 2, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_EDENIED);
	assert_non_null(strstr(r.message, "RESERVE"));
	take_n(t, 3, 1, "stats", "29.0", 1);
	assert_int_equal(in_use(t, "stats", "29.0"), 3);
	/* Each feature has its own rules; EXCLUDEALL covers them all. */
	take_n(t, 2, 2, "plot", "1.0", 1);
	r = checkout_n(t, 1, 3, "plot", "1.0", 1);
	assert_int_equal(r.code, LMC_EDENIED);
	assert_non_null(strstr(r.message, "EXCLUDE plot USER alice (acme.opt line 5)"));
	assert_int_equal(open_session(t, 5, "mallory").code, 0);
	r = checkout_n(t, 5, 1, "plot", "1.0", 1);
	assert_int_equal(r.code, LMC_EDENIED);
	assert_non_null(strstr(r.message, "EXCLUDEALL USER mallory"));

	/* A snapshot carries the policy: the restored pool decides alike. */
	void *buf;
	size_t len;
	uint8_t dt[32], du[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 100, buf, len), 0);
	free(buf);
	u->index = 100;
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	assert_int_equal(try_checkin(u, 3, 2, 3).code, 0); /* carol's seat back */
	r = checkout_n(u, 4, 3, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_EDENIED); /* still carol's reservation */

	/* A policy that does not parse against the lines refuses the
	 * command whole: old lines, old policy. */
	digest(t, dt);
	r = set_license(t, "FEATURE stats acme 29.0 permanent 5\n", "BOGUS stats\n");
	assert_int_equal(r.code, LMC_ESYNTAX);
	assert_non_null(strstr(r.message, "acme.opt line 1"));
	digest(t, du);
	assert_memory_equal(dt, du, 32);
	assert_int_equal(pool_of(t, "stats", "29.0")->f.issued, 3);
	assert_int_equal(checkout_n(t, 2, 3, "stats", "29.0", 1).code, LMC_EDENIED);

	/* The policy is content: the same lines without it digest otherwise,
	 * and then nothing is denied for policy. */
	license(t, "FEATURE stats acme 29.0 permanent 5\n");
	assert_int_equal(checkout_n(t, 2, 4, "stats", "29.0", 1).code, 0);
	tp_free(u);
}

/* ---- OVERDRAFT ----------------------------------------------------------- */

static uint32_t handle_overdraft(struct tp *t, uint64_t handle)
{
	struct lm_pool_handle h;
	assert_int_equal(lm_pool_handle(t->pool, handle, &h), 0);
	return h.overdraft;
}

/* OVERDRAFT=n lends n seats beyond the count, each flagged on its handle
 * and in the result (a retry answers the same); MAX_OVERDRAFT caps them;
 * a pool with seats within its count is preferred to lending; snapshots
 * keep the flags. */
/* DUP_GROUP=U: alice on two hosts holds one seat; bob takes the other;
 * carol finds none.  Checking in one of alice's handles keeps the seat
 * for the other; the last one out returns it.  A snapshot keeps who
 * shares, and the restored pool decides alike. */
static void test_dup_group_user(void **state)
{
	struct tp *t = *state, *u = tp_new();
	license(t, "FEATURE stats acme 29.0 permanent 2 DUP_GROUP=U\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 2, "alice", "ws2", ":1").code, 0);
	assert_int_equal(open_session_at(t, 3, "bob", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 4, "carol", "ws3", ":0").code, 0);
	uint64_t a1 = take_n(t, 1, 1, "stats", "29.0", 1);
	uint64_t a2 = take_n(t, 2, 1, "stats", "29.0", 1);
	assert_int_not_equal(a1, a2);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	const struct view *v = pool_of(t, "stats", "29.0");
	assert_int_equal(v->holders, 2);
	assert_int_equal(v->shared, 2);
	take_n(t, 3, 1, "stats", "29.0", 1);
	assert_int_equal(in_use(t, "stats", "29.0"), 2);
	struct lm_pool_result r = checkout_n(t, 4, 1, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_ENOSEATS);
	/* Two seats asked for are not a duplicate of one: they need seats of
	 * their own. */
	r = checkout_n(t, 1, 2, "stats", "29.0", 2);
	assert_int_equal(r.code, LMC_ENOSEATS);

	/* A snapshot keeps the group: the restored pool has the same
	 * content and lets alice's third checkout share too. */
	void *buf;
	size_t len;
	uint8_t dt[32], du[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 100, buf, len), 0);
	free(buf);
	u->index = 100;
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	assert_int_equal(pool_of(u, "stats", "29.0")->shared, 2);

	/* alice's first handle goes: the seat stays with her second. */
	assert_int_equal(try_checkin(t, 1, 3, a1).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 2);
	r = checkout_n(t, 4, 2, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_ENOSEATS);
	assert_int_equal(pool_of(t, "stats", "29.0")->shared, 0);
	/* And the last one out returns it. */
	assert_int_equal(try_checkin(t, 2, 2, a2).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	take_n(t, 4, 3, "stats", "29.0", 1);

	/* The restored pool, fed the same commands, ends the same. */
	assert_int_equal(try_checkin(u, 1, 3, a1).code, 0);
	assert_int_equal(checkout_n(u, 4, 2, "stats", "29.0", 1).code, LMC_ENOSEATS);
	assert_int_equal(try_checkin(u, 2, 2, a2).code, 0);
	take_n(u, 4, 3, "stats", "29.0", 1);
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	tp_free(u);
}

/* DUP_GROUP=UH: the same user on another host is another seat; closing
 * a session releases its share like a checkin. */
static void test_dup_group_user_host(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE stats acme 29.0 permanent 1 DUP_GROUP=UH\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 2, "alice", "ws2", ":0").code, 0);
	assert_int_equal(open_session_at(t, 3, "alice", "ws1", ":7").code, 0);
	take_n(t, 1, 1, "stats", "29.0", 1);
	assert_int_equal(checkout_n(t, 2, 1, "stats", "29.0", 1).code, LMC_ENOSEATS);
	/* Another display on the same host is the same U and H. */
	take_n(t, 3, 1, "stats", "29.0", 1);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	assert_int_equal(expire_session(t, 1).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 1);
	assert_int_equal(checkout_n(t, 2, 2, "stats", "29.0", 1).code, LMC_ENOSEATS);
	assert_int_equal(expire_session(t, 3).code, 0);
	assert_int_equal(in_use(t, "stats", "29.0"), 0);
	take_n(t, 2, 3, "stats", "29.0", 1);
}

/* DUP_GROUP=SITE: everyone shares one seat; NONE (and no DUP_GROUP)
 * shares nothing, even between two checkouts of one session. */
static void test_dup_group_site_none(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE site acme 1.0 permanent 1 DUP_GROUP=SITE\n"
	           "FEATURE plain acme 1.0 permanent 1 DUP_GROUP=NONE\n"
	           "FEATURE bare acme 1.0 permanent 1\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 2, "bob", "ws2", ":1").code, 0);
	take_n(t, 1, 1, "site", "1.0", 1);
	take_n(t, 2, 1, "site", "1.0", 1);
	assert_int_equal(in_use(t, "site", "1.0"), 1);
	take_n(t, 1, 2, "plain", "1.0", 1);
	assert_int_equal(checkout_n(t, 1, 3, "plain", "1.0", 1).code, LMC_ENOSEATS);
	take_n(t, 1, 4, "bare", "1.0", 1);
	assert_int_equal(checkout_n(t, 1, 5, "bare", "1.0", 1).code, LMC_ENOSEATS);
}

/* A checkout carrying the application's vendor data (NULL: none). */
static struct lm_pool_result checkout_with_data(struct tp *t, uint64_t sid, uint64_t req,
                                                const char *feature, const char *vendor_data)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__Checkout m = LMCMD__CHECKOUT__INIT;
	m.has_session_id = m.has_request_id = m.has_feature = m.has_version = m.has_count = 1;
	m.session_id = sid;
	m.request_id = req;
	m.feature = bin(feature);
	m.version = bin("1.0");
	m.count = 1;
	if (vendor_data) {
		m.has_vendor_data = 1;
		m.vendor_data = bin(vendor_data);
	}
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &m;
	return apply(t, &c);
}

static uint64_t take_with_data(struct tp *t, uint64_t sid, uint64_t req, const char *feature,
                               const char *vendor_data)
{
	struct lm_pool_result res = checkout_with_data(t, sid, req, feature, vendor_data);
	if (res.code)
		fail_msg("checkout of %s with vendor data '%s' refused: %s (%s)", feature,
		         vendor_data ? vendor_data : "(none)", lmc_errname(res.code), res.message);
	return res.handle;
}

static void assert_vendor_data(struct tp *t, uint64_t handle, const char *want)
{
	struct lm_pool_handle h;
	assert_int_equal(lm_pool_handle(t->pool, handle, &h), 0);
	assert_string_equal(h.vendor_data, want);
}

/* DUP_GROUP=V: the checkouts with the same vendor data share one seat,
 * whoever makes them; other data takes a seat of its own, and so does no
 * data at all (no data is a group of its own, the checkouts without any
 * sharing it).  The handle keeps its data, a snapshot carries it, and the
 * restored pool lets the same data share again. */
static void test_dup_group_vendor(void **state)
{
	struct tp *t = *state, *u = tp_new();
	license(t, "FEATURE solver acme 1.0 permanent 2 DUP_GROUP=V\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 2, "bob", "ws2", ":1").code, 0);
	assert_int_equal(open_session_at(t, 3, "carol", "ws3", ":0").code, 0);
	uint64_t a = take_with_data(t, 1, 1, "solver", "job 7");
	uint64_t b = take_with_data(t, 2, 1, "solver", "job 7");
	assert_int_equal(in_use(t, "solver", "1.0"), 1);
	assert_int_equal(pool_of(t, "solver", "1.0")->shared, 2);
	assert_vendor_data(t, a, "job 7");
	assert_vendor_data(t, b, "job 7");
	/* Vendor data compares byte for byte: "Job 7" is another group. */
	take_with_data(t, 3, 1, "solver", "Job 7");
	assert_int_equal(in_use(t, "solver", "1.0"), 2);
	assert_int_equal(checkout_with_data(t, 1, 2, "solver", NULL).code, LMC_ENOSEATS);
	assert_int_equal(checkout_with_data(t, 3, 2, "solver", "job 8").code, LMC_ENOSEATS);

	void *buf;
	size_t len;
	uint8_t dt[32], du[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 100, buf, len), 0);
	free(buf);
	u->index = 100;
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	assert_vendor_data(u, a, "job 7");
	uint64_t c = take_with_data(u, 3, 3, "solver", "job 7");
	assert_vendor_data(u, c, "job 7");
	assert_int_equal(in_use(u, "solver", "1.0"), 2);

	/* Both "job 7" handles go: their seat returns, and the checkouts
	 * without vendor data share it among themselves. */
	assert_int_equal(try_checkin(t, 1, 3, a).code, 0);
	assert_int_equal(in_use(t, "solver", "1.0"), 2);
	assert_int_equal(try_checkin(t, 2, 2, b).code, 0);
	assert_int_equal(in_use(t, "solver", "1.0"), 1);
	uint64_t n1 = take_with_data(t, 1, 4, "solver", NULL);
	take_with_data(t, 2, 3, "solver", NULL);
	assert_int_equal(in_use(t, "solver", "1.0"), 2);
	assert_vendor_data(t, n1, "");
	tp_free(u);
}

/* DUP_GROUP=UHDV: the same person at the same display shares one seat only
 * with the same vendor data; the same data from another user is not a
 * duplicate.  U, H and D alone ignore the vendor data. */
static void test_dup_group_uhdv(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE cad acme 1.0 permanent 1 DUP_GROUP=UHDV\n"
	           "FEATURE viewer acme 1.0 permanent 1 DUP_GROUP=UHD\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 2, "alice", "ws1", ":0").code, 0);
	assert_int_equal(open_session_at(t, 3, "bob", "ws1", ":0").code, 0);
	take_with_data(t, 1, 1, "cad", "part.prt");
	take_with_data(t, 2, 1, "cad", "part.prt");
	assert_int_equal(in_use(t, "cad", "1.0"), 1);
	assert_int_equal(checkout_with_data(t, 2, 2, "cad", "other.prt").code, LMC_ENOSEATS);
	assert_int_equal(checkout_with_data(t, 2, 3, "cad", NULL).code, LMC_ENOSEATS);
	assert_int_equal(checkout_with_data(t, 3, 1, "cad", "part.prt").code, LMC_ENOSEATS);
	/* Under UHD the data is kept but does not part the duplicates. */
	uint64_t v = take_with_data(t, 1, 2, "viewer", "a");
	take_with_data(t, 2, 4, "viewer", "b");
	assert_int_equal(in_use(t, "viewer", "1.0"), 1);
	assert_vendor_data(t, v, "a");
}

/* Vendor data that is not up to 64 printable characters is refused
 * (LMC_EINVAL) in the replicated command too, and nothing is charged. */
static void test_vendor_data_refused(void **state)
{
	struct tp *t = *state;
	char longest[LM_WIRE_VENDOR_DATA_MAX + 2];
	license(t, "FEATURE solver acme 1.0 permanent 1 DUP_GROUP=V\n");
	assert_int_equal(open_session_at(t, 1, "alice", "ws1", ":0").code, 0);
	memset(longest, 'x', sizeof longest - 1);
	longest[sizeof longest - 1] = '\0';
	const char *bad[] = {longest, "tab\there", "bell\a", "del\x7f", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct lm_pool_result r = checkout_with_data(t, 1, i + 1, "solver", bad[i]);
		assert_int_equal(r.code, LMC_EINVAL);
		assert_non_null(strstr(r.message, "vendor data"));
		assert_int_equal(in_use(t, "solver", "1.0"), 0);
	}
	/* 64 characters are within the limit. */
	longest[LM_WIRE_VENDOR_DATA_MAX] = '\0';
	uint64_t h = take_with_data(t, 1, 10, "solver", longest);
	assert_vendor_data(t, h, longest);
}

static void test_overdraft(void **state)
{
	struct tp *t = *state, *u = tp_new();
	license(t, "FEATURE stats acme 29.0 permanent 3 OVERDRAFT=2\n");
	alice_session(t, 1);
	uint64_t h[5];
	for (int i = 0; i < 3; i++) {
		struct lm_pool_result r = checkout_n(t, 1, (uint64_t)i + 1, "stats", "29.0", 1);
		assert_int_equal(r.code, 0);
		assert_int_equal(r.overdraft, 0);
		h[i] = r.handle;
	}
	struct lm_pool_result r = checkout_n(t, 1, 4, "stats", "29.0", 1);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.overdraft, 1);
	h[3] = r.handle;
	assert_int_equal(handle_overdraft(t, h[3]), 1);
	assert_int_equal(handle_overdraft(t, h[0]), 0);
	/* The retry answers from the session's memory, flag included. */
	r = checkout_n(t, 1, 4, "stats", "29.0", 1);
	assert_true(r.replayed);
	assert_int_equal(r.overdraft, 1);
	assert_int_equal(r.handle, h[3]);
	h[4] = take_n(t, 1, 5, "stats", "29.0", 1);
	assert_int_equal(handle_overdraft(t, h[4]), 1);
	const struct view *v = pool_of(t, "stats", "29.0");
	assert_int_equal(v->f.issued, 3);
	assert_int_equal(v->f.overdraft, 2);
	assert_int_equal(v->f.in_use, 5);
	/* A snapshot keeps which seats are lent. */
	void *buf;
	size_t len;
	uint8_t dt[32], du[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 100, buf, len), 0);
	free(buf);
	u->index = 100;
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);
	assert_int_equal(handle_overdraft(u, h[4]), 1);
	r = checkout_n(u, 1, 5, "stats", "29.0", 1);
	assert_true(r.replayed);
	assert_int_equal(r.overdraft, 1);

	r = checkout_n(t, 1, 6, "stats", "29.0", 1);
	assert_int_equal(r.code, LMC_ENOSEATS);
	assert_string_equal(r.message,
	                    "all 3 seats of stats 29.0 in use, and its 2 overdraft seats");

	/* A seat within the count returned: in use still exceeds the count,
	 * so the next seat is lent too. */
	assert_int_equal(try_checkin(t, 1, 7, h[0]).code, 0);
	r = checkout_n(t, 1, 8, "stats", "29.0", 1);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.overdraft, 1);
	/* Several seats at once: only those past the count are lent. */
	assert_int_equal(expire_session(t, 1).code, 0);
	alice_session(t, 2);
	take_n(t, 2, 1, "stats", "29.0", 2);
	r = checkout_n(t, 2, 2, "stats", "29.0", 2);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.overdraft, 1);
	r = checkout_n(t, 2, 3, "stats", "29.0", 2);
	assert_int_equal(r.code, LMC_ENOSEATS);

	/* MAX_OVERDRAFT caps the lending: 1 of 2, and 0 lends none. */
	assert_int_equal(expire_session(t, 2).code, 0);
	assert_int_equal(set_license(t, "FEATURE stats acme 29.0 permanent 1 OVERDRAFT=2\n",
	                             "MAX_OVERDRAFT stats 1\n")
	                         .code,
	                 0);
	assert_int_equal(pool_of(t, "stats", "29.0")->f.overdraft, 1);
	alice_session(t, 3);
	take_n(t, 3, 1, "stats", "29.0", 1);
	assert_int_equal(checkout_n(t, 3, 2, "stats", "29.0", 1).overdraft, 1);
	assert_int_equal(checkout_n(t, 3, 3, "stats", "29.0", 1).code, LMC_ENOSEATS);
	assert_int_equal(expire_session(t, 3).code, 0);
	assert_int_equal(set_license(t, "FEATURE stats acme 29.0 permanent 1 OVERDRAFT=2\n",
	                             "MAX_OVERDRAFT stats 0\n")
	                         .code,
	                 0);
	alice_session(t, 4);
	take_n(t, 4, 1, "stats", "29.0", 1);
	assert_int_equal(checkout_n(t, 4, 2, "stats", "29.0", 1).code, LMC_ENOSEATS);
	assert_int_equal(expire_session(t, 4).code, 0);

	/* A newer pool with a free seat goes before lending an older one;
	 * the lines of one pool add their overdrafts. */
	license(t, "FEATURE stats acme 29.0 permanent 1 OVERDRAFT=1\n"
	           "INCREMENT stats acme 29.0 permanent 1 OVERDRAFT=1\n"
	           "FEATURE stats acme 30.0 permanent 1\n");
	assert_int_equal(pool_of(t, "stats", "29.0")->f.overdraft, 2);
	assert_int_equal(pool_of(t, "stats", "30.0")->f.overdraft, 0);
	alice_session(t, 5);
	take_n(t, 5, 1, "stats", "29.0", 2);
	r = checkout_n(t, 5, 2, "stats", "29.0", 1);
	assert_int_equal(r.overdraft, 0);
	assert_int_equal(in_use(t, "stats", "30.0"), 1);
	r = checkout_n(t, 5, 3, "stats", "29.0", 2);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.overdraft, 2);
	assert_int_equal(in_use(t, "stats", "29.0"), 4);
	tp_free(u);
}

/* SUPERSEDE: the older lines of the features a newer line names no longer
 * count (nor show); lines issued later, or of other features, stay. */
static void test_supersede(void **state)
{
	struct tp *t = *state;
	license(t, "FEATURE stats acme 29.0 permanent 5 ISSUED=2025-01-01\n"
	           "INCREMENT stats acme 29.0 permanent 3\n"
	           "INCREMENT stats acme 29.0 permanent 2 ISSUED=2026-06-01 SUPERSEDE\n"
	           "INCREMENT stats acme 29.0 permanent 4 ISSUED=2026-07-01\n"
	           "FEATURE plot acme 1.0 permanent 7 ISSUED=2024-01-01\n"
	           "FEATURE plot2 acme 1.0 permanent 1 ISSUED=2026-01-01 "
	           "SUPERSEDE=\"plot old\"\n"
	           "FEATURE other acme 1.0 permanent 6\n");
	assert_int_equal(pool_of(t, "stats", "29.0")->f.issued, 6);
	assert_null(pool_of(t, "plot", "1.0"));
	assert_int_equal(pool_of(t, "plot2", "1.0")->f.issued, 1);
	assert_int_equal(pool_of(t, "other", "1.0")->f.issued, 6);
	alice_session(t, 1);
	assert_int_equal(checkout_n(t, 1, 1, "plot", "1.0", 1).code, LMC_ENOFEATURE);
	take_n(t, 1, 2, "stats", "29.0", 6);
	assert_int_equal(checkout_n(t, 1, 3, "stats", "29.0", 1).code, LMC_ENOSEATS);
	/* Issued the same day: neither replaces the other. */
	license(t, "FEATURE stats acme 29.0 permanent 5 ISSUED=2026-06-01 SUPERSEDE\n"
	           "INCREMENT stats acme 29.0 permanent 2 ISSUED=2026-06-01 SUPERSEDE\n");
	assert_int_equal(pool_of(t, "stats", "29.0")->f.issued, 7);
}

static struct lm_pool_result set_cluster_id(struct tp *t, const uint8_t *id, size_t len)
{
	Lmcmd__SetClusterId m = LMCMD__SET_CLUSTER_ID__INIT;
	m.has_id = 1;
	m.id = (ProtobufCBinaryData){.len = len, .data = (uint8_t *)id};
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_SET_CLUSTER_ID;
	c.set_cluster_id = &m;
	return apply(t, &c);
}

static void assert_cluster_id(struct tp *t, const uint8_t *want)
{
	uint8_t id[LM_CLUSTER_ID_SIZE];
	bool known = true;
	assert_int_equal(lm_pool_cluster_id(t->pool, id, &known), 0);
	assert_int_equal(known, want != NULL);
	if (want)
		assert_memory_equal(id, want, sizeof id);
}

/* The first SetClusterId names the cluster for good; a malformed one
 * changes nothing; the id is content (digest) and travels in snapshots. */
static void test_cluster_id(void **state)
{
	struct tp *t = *state, *u = tp_new();
	const uint8_t a[16] = "0123456789abcdef", b[16] = "fedcba9876543210", zero[16] = {0};
	uint8_t before[32], after[32];
	void *buf;
	size_t len;

	populate(t);
	assert_cluster_id(t, NULL);
	digest(t, before);
	assert_int_equal(set_cluster_id(t, zero, sizeof zero).code, LMC_EINVAL);
	assert_int_equal(set_cluster_id(t, a, 15).code, LMC_EINVAL);
	digest(t, after);
	assert_memory_equal(before, after, 32);
	assert_cluster_id(t, NULL);

	struct lm_pool_result r = set_cluster_id(t, a, sizeof a);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.count, 1);
	assert_cluster_id(t, a);
	digest(t, after);
	assert_memory_not_equal(before, after, 32);

	/* A second leader's proposal, applied later: the first stays. */
	memcpy(before, after, 32);
	r = set_cluster_id(t, b, sizeof b);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.count, 0);
	assert_cluster_id(t, a);
	digest(t, after);
	assert_memory_equal(before, after, 32);

	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(u->pool, 50, buf, len), 0);
	free(buf);
	assert_cluster_id(u, a);
	digest(u, after);
	assert_memory_equal(before, after, 32);

	/* A snapshot with a malformed id is refused whole. */
	Lmcmd__PoolSnapshot snap = LMCMD__POOL_SNAPSHOT__INIT;
	uint8_t packed[64];
	snap.has_format = snap.has_next_handle = snap.has_cluster_id = 1;
	snap.format = 1;
	snap.next_handle = 1;
	snap.cluster_id = (ProtobufCBinaryData){.len = sizeof zero, .data = (uint8_t *)zero};
	len = lmcmd__pool_snapshot__pack(&snap, packed);
	assert_int_equal(lm_pool_restore(u->pool, 60, packed, len), LMC_EPROTO);
	assert_cluster_id(u, a);
	tp_free(u);
}

static void test_restore_refuses(void **state)
{
	struct tp *t = *state;
	uint8_t before[32], after[32];
	void *buf;
	size_t len;

	populate(t);
	digest(t, before);
	assert_int_equal(lm_pool_restore(t->pool, 99, "\xff\xff\xff", 3), LMC_EPROTO);
	/* A valid message of the wrong format, and a handle of a missing
	 * session. */
	Lmcmd__PoolSnapshot snap = LMCMD__POOL_SNAPSHOT__INIT;
	uint8_t packed[256];
	snap.has_format = 1;
	snap.format = 2;
	snap.has_next_handle = 1;
	snap.next_handle = 10;
	len = lmcmd__pool_snapshot__pack(&snap, packed);
	assert_int_equal(lm_pool_restore(t->pool, 99, packed, len), LMC_EPROTO);
	Lmcmd__PoolHandle ph = LMCMD__POOL_HANDLE__INIT, *phs[1] = {&ph};
	snap.format = 1;
	ph.has_handle = 1;
	ph.handle = 3;
	ph.has_session_id = 1;
	ph.session_id = 44;
	ph.has_feature = 1;
	ph.feature = bin("stats");
	ph.has_version = 1;
	ph.version = bin("1");
	ph.has_pool_version = 1;
	ph.pool_version = bin("1");
	ph.has_count = 1;
	ph.count = 1;
	snap.n_handles = 1;
	snap.handles = phs;
	len = lmcmd__pool_snapshot__pack(&snap, packed);
	assert_int_equal(lm_pool_restore(t->pool, 99, packed, len), LMC_EPROTO);
	digest(t, after);
	assert_memory_equal(before, after, 32);
	assert_int_not_equal(lm_pool_applied_index(t->pool), 99);

	/* An empty pool snapshots and restores too. */
	struct tp *u = tp_new();
	assert_int_equal(lm_pool_snapshot(u->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(t->pool, 99, buf, len), 0);
	free(buf);
	digest(t, after);
	digest(u, before);
	assert_memory_equal(before, after, 32);
	tp_free(u);
}

static void test_digest(void **state)
{
	struct tp *t = *state, *u = tp_new(), *w = tp_new();
	uint8_t dt[32], du[32], dw[32];

	/* The same commands at other indexes: the same content. */
	u->index = 500;
	populate(t);
	populate(u);
	populate(w);
	digest(t, dt);
	digest(u, du);
	assert_memory_equal(dt, du, 32);

	/* One command more is a different pool... */
	uint64_t extra = take_n(w, 1, 2, "stats", "29", 1);
	digest(w, dw);
	assert_memory_not_equal(dt, dw, 32);
	/* ...and handing the seat back does not make it the same: the
	 * session remembers its last request and the handle counter moved. */
	assert_int_equal(try_checkin(w, 1, 3, extra).code, 0);
	digest(w, dw);
	assert_memory_not_equal(dt, dw, 32);

	/* A different order of the same requests is a different history. */
	struct tp *a = tp_new(), *b = tp_new();
	uint8_t da[32], db[32];
	license(a, "FEATURE f acme 1 permanent 5\n");
	license(b, "FEATURE f acme 1 permanent 5\n");
	alice_session(a, 1);
	alice_session(a, 2);
	alice_session(b, 1);
	alice_session(b, 2);
	take_n(a, 1, 1, "f", "1", 1);
	take_n(a, 2, 1, "f", "1", 2);
	take_n(b, 2, 1, "f", "1", 2);
	take_n(b, 1, 1, "f", "1", 1);
	digest(a, da);
	digest(b, db);
	assert_memory_not_equal(da, db, 32);
	tp_free(a);
	tp_free(b);

	/* Who a session is, and the answer it would get on a retry, are
	 * content too, even when no seat moved. */
	a = tp_new();
	b = tp_new();
	open_session(a, 1, "alice");
	open_session(b, 1, "bob");
	digest(a, da);
	digest(b, db);
	assert_memory_not_equal(da, db, 32);
	tp_free(b);
	b = tp_new();
	open_session(b, 1, "alice");
	digest(b, db);
	assert_memory_equal(da, db, 32);
	assert_int_equal(checkout_n(a, 1, 1, "nothing", "1", 1).code, LMC_ENOFEATURE);
	digest(a, da);
	assert_memory_not_equal(da, db, 32);
	tp_free(a);
	tp_free(b);
	tp_free(u);
	tp_free(w);
}

static void test_reopen_empties(void **state)
{
	struct tp *t = *state, *fresh = tp_new();
	struct lm_pool *again;
	struct lm_pool_session s;
	uint8_t d1[32], d2[32];
	char err[256];

	populate(t);
	/* A second pool on the same directory would delete a live store. */
	assert_int_equal(lm_pool_open(&again, t->dir, err, sizeof err), LMC_EIO);
	assert_non_null(strstr(err, "in use"));

	lm_pool_close(t->pool);
	assert_int_equal(lm_pool_open(&t->pool, t->dir, err, sizeof err), 0);
	t->index = 0;
	assert_int_equal(lm_pool_applied_index(t->pool), 0);
	assert_int_equal(lm_pool_session(t->pool, 1, &s), LMC_ENOSESSION);
	assert_null(pool_of(t, "stats", "29.0"));
	digest(t, d1);
	digest(fresh, d2);
	assert_memory_equal(d1, d2, 32);
	tp_free(fresh);
}

/* ---- A random walk against a model ------------------------------------- */

/* A small deterministic generator, so that a failure can be replayed. */
static uint32_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

#define M_SESSIONS 6
#define M_HANDLES  256

static const struct {
	const char *feature, *version;
	double v;
	uint32_t issued;
} m_pools[] = {
        {"a", "1.0", 1.0, 3},
        {"a", "2.0", 2.0, 2},
        {"b", "1.0", 1.0, 5},
};
#define M_POOLS 3

/* What pool.h promises, written as plainly as possible. */
struct model {
	bool open[M_SESSIONS];
	uint64_t last_req[M_SESSIONS];
	struct lm_pool_result last[M_SESSIONS];
	struct {
		uint64_t id;
		int session, pool;
		uint32_t count;
	} h[M_HANDLES];
	int nh;
	uint32_t in_use[M_POOLS];
	uint64_t next_handle;
};

static int m_find(const struct model *m, uint64_t id)
{
	for (int i = 0; i < m->nh; i++)
		if (m->h[i].id == id)
			return i;
	return -1;
}

static uint32_t m_release(struct model *m, int i)
{
	uint32_t n = m->h[i].count;
	m->in_use[m->h[i].pool] -= n;
	m->h[i] = m->h[--m->nh];
	return n;
}

/* The request-id rule; returns true when r already holds the answer. */
static bool m_replay(struct model *m, int s, uint64_t req, struct lm_pool_result *r)
{
	if (req == 0 || req < m->last_req[s]) {
		r->code = LMC_EPROTO;
		return true;
	}
	if (req == m->last_req[s]) {
		*r = m->last[s];
		return true;
	}
	m->last_req[s] = req;
	return false;
}

static struct lm_pool_result m_checkout(struct model *m, int s, uint64_t req, const char *f,
                                        double v, uint32_t k)
{
	struct lm_pool_result r = {0};
	bool known = false, suitable = false;

	if (!m->open[s]) {
		r.code = LMC_ENOSESSION;
		return r;
	}
	if (m_replay(m, s, req, &r))
		return r;
	r.code = LMC_ENOSEATS;
	for (int p = 0; p < M_POOLS; p++) {
		if (strcmp(m_pools[p].feature, f) != 0)
			continue;
		known = true;
		if (m_pools[p].v < v)
			continue;
		suitable = true;
		if (m_pools[p].issued - m->in_use[p] >= k) {
			assert_true(m->nh < M_HANDLES);
			m->h[m->nh].id = m->next_handle++;
			m->h[m->nh].session = s;
			m->h[m->nh].pool = p;
			m->h[m->nh].count = k;
			r.code = 0;
			r.handle = m->h[m->nh].id;
			r.count = k;
			m->nh++;
			m->in_use[p] += k;
			break;
		}
	}
	if (!known)
		r.code = LMC_ENOFEATURE;
	else if (!suitable)
		r.code = LMC_EVERSION;
	m->last[s] = r;
	return r;
}

static struct lm_pool_result m_checkin(struct model *m, int s, uint64_t req, uint64_t id)
{
	struct lm_pool_result r = {0};
	int i;

	if (!m->open[s]) {
		r.code = LMC_ENOSESSION;
		return r;
	}
	if (m_replay(m, s, req, &r))
		return r;
	i = m_find(m, id);
	if (i < 0 || m->h[i].session != s) {
		r.code = LMC_ENOHANDLE;
	} else {
		r.handle = id;
		r.count = m_release(m, i);
	}
	m->last[s] = r;
	return r;
}

/* The request id a client would send: mostly the next one, sometimes a
 * retry, sometimes a stale or a skipped one. */
static uint64_t pick_req(const struct model *m, int s)
{
	unsigned r = rnd(20);
	uint64_t last = m->last_req[s];
	if (r < 14)
		return last + 1;
	if (r < 16)
		return last + 2 + rnd(3);
	if (r < 19)
		return last;
	return last ? last - 1 : 0;
}

static void check_model(struct tp *t, const struct model *m)
{
	for (int p = 0; p < M_POOLS; p++) {
		const struct view *v = pool_of(t, m_pools[p].feature, m_pools[p].version);
		assert_non_null(v);
		assert_int_equal(v->f.issued, m_pools[p].issued);
		assert_true(v->f.in_use <= v->f.issued);
		assert_int_equal(v->f.in_use, m->in_use[p]);
	}
	for (int s = 0; s < M_SESSIONS; s++) {
		struct lm_pool_session ps;
		int rc = lm_pool_session(t->pool, 100 + (uint64_t)s, &ps);
		assert_int_equal(rc, m->open[s] ? 0 : LMC_ENOSESSION);
		if (rc)
			continue;
		uint32_t n = 0;
		for (int i = 0; i < m->nh; i++)
			n += m->h[i].session == s;
		assert_int_equal(ps.nhandles, n);
	}
}

/* One random command, applied to the pools and the model alike. */
static void random_step(struct tp **ts, int nts, struct model *m)
{
	/* Weighted towards requests that can be granted, so that pools fill
	 * up and empty again. */
	static const char *const features[] = {"a", "a", "a", "a", "b", "b", "b", "b", "b", "c"};
	static const char *const versions[] = {"0.5", "1", "1", "1", "1", "1.5", "2.0", "2.5"};
	static const double vs[] = {0.5, 1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5};
	int s = (int)rnd(M_SESSIONS);
	uint64_t sid = 100 + (uint64_t)s;
	struct lm_pool_result want = {0}, got[4];
	unsigned op = rnd(100);

	if (op < 6) {
		for (int i = 0; i < nts; i++)
			got[i] = open_session(ts[i], sid, "u");
		if (!m->open[s]) {
			m->open[s] = true;
			m->last_req[s] = 0;
			memset(&m->last[s], 0, sizeof m->last[s]);
		}
	} else if (op < 8) {
		for (int i = 0; i < nts; i++)
			got[i] = expire_session(ts[i], sid);
		if (!m->open[s]) {
			want.code = LMC_ENOSESSION;
		} else {
			for (int i = m->nh - 1; i >= 0; i--)
				if (m->h[i].session == s)
					want.count += m_release(m, i);
			m->open[s] = false;
		}
	} else if (op < 60) {
		int f = (int)rnd(10), v = (int)rnd(8);
		uint32_t k = 1 + rnd(3);
		uint64_t req = pick_req(m, s);
		for (int i = 0; i < nts; i++)
			got[i] = checkout_n(ts[i], sid, req, features[f], versions[v], k);
		want = m_checkout(m, s, req, features[f], vs[v], k);
	} else if (op < 95) {
		/* Mostly one of its own handles, sometimes another's or none. */
		uint64_t id = 1 + rnd(50);
		int own[M_HANDLES], nown = 0;
		for (int i = 0; i < m->nh; i++)
			if (m->h[i].session == s)
				own[nown++] = i;
		if (nown && rnd(5))
			id = m->h[own[rnd((unsigned)nown)]].id;
		else if (m->nh && rnd(2))
			id = m->h[rnd((unsigned)m->nh)].id;
		uint64_t req = pick_req(m, s);
		for (int i = 0; i < nts; i++)
			got[i] = try_checkin(ts[i], sid, req, id);
		want = m_checkin(m, s, req, id);
	} else {
		uint64_t id = m->nh && rnd(2) ? m->h[rnd((unsigned)m->nh)].id : 1 + rnd(50);
		for (int i = 0; i < nts; i++)
			got[i] = remove_handle(ts[i], id);
		int i = m_find(m, id);
		if (i < 0) {
			want.code = LMC_ENOHANDLE;
		} else {
			want.handle = id;
			want.count = m_release(m, i);
		}
	}
	for (int i = 0; i < nts; i++) {
		if (got[i].code != want.code || got[i].handle != want.handle ||
		    got[i].count != want.count)
			fail_msg("pool %d: got %s handle %llu count %u (%s), model says %s "
			         "handle %llu count %u",
			         i, lmc_errname(got[i].code), (unsigned long long)got[i].handle,
			         got[i].count, got[i].message, lmc_errname(want.code),
			         (unsigned long long)want.handle, want.count);
	}
}

static void test_random_model(void **state)
{
	struct tp *t = *state, *twin = tp_new();
	struct model m = {.next_handle = 1};
	uint8_t d1[32], d2[32];
	void *buf;
	size_t len;

	rng_state = 20270101;
	license(t, "FEATURE a acme 1.0 permanent 3\n"
	           "FEATURE a acme 2.0 permanent 2\n"
	           "FEATURE b acme 1.0 permanent 4\n"
	           "INCREMENT b acme 1 2030-12-31 1\n");
	for (int step = 0; step < 4000; step++) {
		random_step(&t, 1, &m);
		if (step % 97 == 0)
			check_model(t, &m);
	}
	check_model(t, &m);

	/* A follower that joins by snapshot then follows the same log. */
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	assert_int_equal(lm_pool_restore(twin->pool, t->index, buf, len), 0);
	twin->index = t->index;
	free(buf);
	struct tp *both[2] = {t, twin};
	for (int step = 0; step < 1000; step++)
		random_step(both, 2, &m);
	check_model(t, &m);
	check_model(twin, &m);
	digest(t, d1);
	digest(twin, d2);
	assert_memory_equal(d1, d2, 32);
	tp_free(twin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_five_seats, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_k_seats, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_versions, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_increment, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dates, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_feature, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_backing_line, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_retry, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_checkout_result_carries_its_line, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_sessions, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_close_session, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_foreign_handle, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_remove_handle, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_set_license_keeps_handles, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_handle_limit, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_session_limit, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_garbage, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_restore, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_restore_refuses, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_cluster_id, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_policy, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_overdraft, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dup_group_user, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dup_group_user_host, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dup_group_site_none, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dup_group_vendor, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_dup_group_uhdv, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_vendor_data_refused, setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_supersede, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_digest, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_reopen_empties, setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_random_model, setup, pool_fixture_teardown),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	return failures ? 1 : 0;
}
