/* The pool fixture of the license-model tests (pool_fixture.h). */
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
#include "tests/unit/helpers.h"
#include "tests/unit/pool_fixture.h"

int64_t now_us;
char S1[LM_LOCKCODE_TEXT_MAX];

struct tp *tp_new(void)
{
	char err[256];
	struct tp *t = calloc(1, sizeof *t);
	assert_non_null(t);
	t->dir = th_tempdir();
	if (lm_pool_open(&t->pool, t->dir, err, sizeof err) != 0)
		fail_msg("lm_pool_open: %s", err);
	return t;
}

void tp_free(struct tp *t)
{
	lm_pool_close(t->pool);
	th_rmtree(t->dir);
	free(t->dir);
	free(t);
}

int pool_fixture_setup(void **state)
{
	struct lm_lockcode c = {.present = 0x3f};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		c.digest[i] = (2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, S1, sizeof S1), 0);
	now_us = (int64_t)lm_date_from_ymd(2027, 1, 1) * 24 * HOUR_US + 12 * HOUR_US;
	*state = tp_new();
	return 0;
}

int pool_fixture_teardown(void **state)
{
	tp_free(*state);
	return 0;
}

struct tp *tp_restored(struct tp *t)
{
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
	return u;
}

ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)s};
}

struct lm_pool_result apply(struct tp *t, Lmcmd__Command *c)
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
	assert_int_equal(lm_pool_applied_index(t->pool), t->index);
	return res;
}

struct lm_pool_result set_license(struct tp *t, const char *body, const char *options)
{
	static char text[16384];
	struct lm_license_file f;
	struct lm_parse_error err;
	snprintf(text, sizeof text, "SERVER h %s 27000\nVENDOR acme\n%s", S1, body);
	if (lm_license_parse(text, strlen(text), &f, &err))
		fail_msg("license line %d: %s", err.lineno, err.message);
	Lmcmd__Line *lines = calloc(f.nlines + 1, sizeof *lines);
	Lmcmd__Line **ptrs = calloc(f.nlines + 1, sizeof *ptrs);
	char(*canon)[LM_LINE_MAX + 1] = calloc(f.nlines + 1, sizeof *canon);
	assert_true(lines && ptrs && canon);
	for (size_t i = 0; i < f.nlines; i++) {
		assert_true(lm_license_canonical(&f, &f.lines[i], canon[i], LM_LINE_MAX + 1) > 0);
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
	free(lines);
	free(ptrs);
	free(canon);
	return res;
}

void license(struct tp *t, const char *body)
{
	struct lm_pool_result res = set_license(t, body, NULL);
	if (res.code)
		fail_msg("SetLicense refused: %s", res.message);
}

void session(struct tp *t, uint64_t sid, const char *user, const char *host)
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

struct lm_pool_result checkout_version(struct tp *t, uint64_t sid, uint64_t req,
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

struct lm_pool_result checkout(struct tp *t, uint64_t sid, uint64_t req, const char *feature)
{
	return checkout_version(t, sid, req, feature, "1.0");
}

uint64_t take(struct tp *t, uint64_t sid, uint64_t req, const char *feature)
{
	struct lm_pool_result res = checkout(t, sid, req, feature);
	if (res.code)
		fail_msg("checkout of %s by session %llu refused: %s", feature,
		         (unsigned long long)sid, res.message);
	return res.handle;
}

void close_session(struct tp *t, uint64_t sid)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	Lmcmd__CloseSession m = LMCMD__CLOSE_SESSION__INIT;
	m.has_session_id = 1;
	m.session_id = sid;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	c.close_session = &m;
	assert_int_equal(apply(t, &c).code, 0);
}

void checkin(struct tp *t, uint64_t sid, uint64_t req, uint64_t handle)
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
