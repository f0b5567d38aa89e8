/* The seat pool state machine (lmd/pool.h) over the store (lmd/store.h).
 *
 * Tables and record formats.  All integers are big-endian, so that keys
 * sort numerically and the bytes are the same on every server (the digest
 * and the triad tests compare them).  A "str8"/"str16" is a one- or
 * two-byte length followed by that many bytes, no NUL.  Records carry no
 * format version: the store is emptied at every open and only ever read by
 * the binary that wrote it.
 *
 *   meta        "applied_index" -> u64;  "next_handle" -> u64 (absent: 1)
 *   lines       u32 index -> u8 siglen (0 or 64), signature, canonical text
 *   features    feature name -> u16 npools, then per pool, by version:
 *                 vkey[16], str8 version, u32 nlines,
 *                 nlines x (u32 line index, u32 count, i32 start, i32 expiry)
 *   usage       pool key -> u32 seats in use (absent when none)
 *   sessions    u64 id -> secret[32], i64 opened_us, u32 pid, u32 nhandles,
 *                 u64 last request id, i32 code, u64 handle, u32 count,
 *                 u32 line, str16 message, str16 user, host, display,
 *                 lock code, app version
 *   handles     u64 handle -> u64 session, u32 count, i64 since_us,
 *                 str8 feature, str8 version, str8 pool version
 *   by_session  u64 session + u64 handle -> (empty)
 *   by_pool     pool key + u64 handle -> (empty)
 *
 * A pool key is the feature name, a 0 byte, and the version key: the four
 * parts of a version as u32 ("29" and "29.0" are one pool, and pools sort by
 * version).  features is derived from lines (rewritten only by SetLicense
 * and restore); usage, by_session and by_pool from handles.  A pool whose
 * lines were removed while seats are held lives on in usage and by_pool
 * only, until its last handle goes.
 *
 * Checkout reads one features record and one usage counter per candidate
 * version, and checkin touches a fixed number of records: neither depends
 * on how many sessions or handles there are. */
#include "lmd/pool.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client/date.h"
#include "client/license.h"
#include "client/lmc.h"
#include "lmd/store.h"
#include "proto/arena.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

#define VKEY_LEN       16
#define POOLKEY_MAX    (LM_NAME_MAX + 1 + VKEY_LEN)
#define LINE_ENTRY_LEN 16
#define DAY_US         INT64_C(86400000000)

/* Commands up to this size are unpacked in the pool's arena; larger ones
 * (a SetLicense of a big license file) are rare and use malloc. */
#define ARENA_COMMAND_MAX (64 * 1024)

/* The largest session record (see the format above), rounded up. */
#define RECORD_MAX 2048

#define SNAPSHOT_FORMAT 1

static const char key_applied[] = "applied_index";
static const char key_next_handle[] = "next_handle";

struct lm_pool {
	struct lm_store *store;
	uint64_t applied;
	struct lm_arena arena;
	uint8_t *arena_block;
	/* The handles of a session being closed, gathered before any is
	 * released (the store must not change under a scan). */
	uint64_t closing[LM_POOL_HANDLES_PER_SESSION_MAX];
	/* Where session and handle records are encoded before a put. */
	uint8_t record[RECORD_MAX];
};

/* A session as stored: what the header shows, plus the last request. */
struct session {
	struct lm_pool_session pub;
	uint64_t last_request;
	struct lm_pool_result last;
};

/* ---- Byte encoding ----------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void w_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	w_bytes(w, b, 2);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	w_bytes(w, b, 4);
}

static void w_u64(struct wbuf *w, uint64_t v)
{
	w_u32(w, (uint32_t)(v >> 32));
	w_u32(w, (uint32_t)v);
}

static void w_str8(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	assert(n <= UINT8_MAX);
	w_u8(w, (uint8_t)n);
	w_bytes(w, s, n);
}

static void w_str16(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	assert(n <= UINT16_MAX);
	w_u16(w, (uint16_t)n);
	w_bytes(w, s, n);
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *r_take(struct rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *at = r->p + r->off;
	r->off += n;
	return at;
}

static uint8_t r_u8(struct rbuf *r)
{
	const uint8_t *b = r_take(r, 1);
	return b ? b[0] : 0;
}

static uint16_t r_u16(struct rbuf *r)
{
	const uint8_t *b = r_take(r, 2);
	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t get_u32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get_u64(const uint8_t *b)
{
	return (uint64_t)get_u32(b) << 32 | get_u32(b + 4);
}

static void set_u32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void set_u64(uint8_t *b, uint64_t v)
{
	set_u32(b, (uint32_t)(v >> 32));
	set_u32(b + 4, (uint32_t)v);
}

static uint32_t r_u32(struct rbuf *r)
{
	const uint8_t *b = r_take(r, 4);
	return b ? get_u32(b) : 0;
}

static uint64_t r_u64(struct rbuf *r)
{
	const uint8_t *b = r_take(r, 8);
	return b ? get_u64(b) : 0;
}

/* Reads a string of n bytes into out (size bytes, NUL-terminated). */
static void r_strn(struct rbuf *r, size_t n, char *out, size_t size)
{
	const uint8_t *b = r_take(r, n);
	if (!b || n >= size || memchr(b, 0, n)) {
		r->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

static void r_str8(struct rbuf *r, char *out, size_t size)
{
	r_strn(r, r_u8(r), out, size);
}

static void r_str16(struct rbuf *r, char *out, size_t size)
{
	r_strn(r, r_u16(r), out, size);
}

/* ---- Keys -------------------------------------------------------------- */

/* The version key: up to four parts of up to nine digits each (the rule of
 * lm_version_valid), missing parts 0, so that memcmp orders versions like
 * lm_version_compare.  Returns 0 or -1. */
static int version_key(const char *v, uint8_t out[VKEY_LEN])
{
	memset(out, 0, VKEY_LEN);
	for (int part = 0; part < 4; part++) {
		uint32_t n = 0;
		int digits = 0;
		while (*v >= '0' && *v <= '9') {
			if (++digits > 9)
				return -1;
			n = n * 10 + (uint32_t)(*v++ - '0');
		}
		if (digits == 0)
			return -1;
		set_u32(out + 4 * part, n);
		if (*v == '\0')
			return 0;
		if (*v++ != '.')
			return -1;
	}
	return -1;
}

static size_t pool_key(uint8_t out[POOLKEY_MAX], const char *feature, const uint8_t vkey[VKEY_LEN])
{
	size_t n = strlen(feature);
	assert(n <= LM_NAME_MAX);
	memcpy(out, feature, n);
	out[n] = 0;
	memcpy(out + n + 1, vkey, VKEY_LEN);
	return n + 1 + VKEY_LEN;
}

/* Days since 1970 of a time in microseconds, rounding down also before
 * 1970, kept clear of the two sentinel dates. */
static int32_t day_of(int64_t us)
{
	int64_t d = us / DAY_US;
	if (us % DAY_US < 0)
		d--;
	if (d <= INT32_MIN)
		return INT32_MIN + 1;
	if (d >= INT32_MAX)
		return INT32_MAX - 1;
	return (int32_t)d;
}

/* ---- Failures ---------------------------------------------------------- */

/* The pool has no error string of its own: a failure of the store or a
 * corrupt record makes apply return a code the server treats as fatal, and
 * this note on stderr is the last word before it exits. */
static int store_failed(struct lm_pool *p, int rc)
{
	fprintf(stderr, "lmd: pool: %s\n", lm_store_error(p->store));
	return rc;
}

static int corrupt(const char *what)
{
	fprintf(stderr, "lmd: pool: corrupt %s record in the store\n", what);
	return LMC_EIO;
}

/* Fills res with a denial; apply's handlers return 0 after it. */
static void deny(struct lm_pool_result *res, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void deny(struct lm_pool_result *res, int code, const char *fmt, ...)
{
	va_list ap;
	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof res->message, fmt, ap);
	va_end(ap);
}

/* ---- Meta -------------------------------------------------------------- */

static int meta_get(struct lm_pool *p, const char *name, uint64_t dflt, uint64_t *out)
{
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_META, name, strlen(name), &v);
	if (rc)
		return store_failed(p, rc);
	if (!v.data) {
		*out = dflt;
		return 0;
	}
	if (v.len != 8)
		return corrupt("meta");
	*out = get_u64(v.data);
	return 0;
}

static int meta_put(struct lm_pool *p, const char *name, uint64_t value)
{
	uint8_t b[8];
	set_u64(b, value);
	int rc = lm_store_put(p->store, LM_DB_META, name, strlen(name), b, sizeof b);
	return rc ? store_failed(p, rc) : 0;
}

/* ---- Sessions ---------------------------------------------------------- */

static int session_encode(struct lm_pool *p, const struct session *s, size_t *len)
{
	struct wbuf w = {.p = p->record, .cap = sizeof p->record};
	w_bytes(&w, s->pub.secret_digest, 32);
	w_u64(&w, (uint64_t)s->pub.opened_us);
	w_u32(&w, s->pub.pid);
	w_u32(&w, s->pub.nhandles);
	w_u64(&w, s->last_request);
	w_u32(&w, (uint32_t)s->last.code);
	w_u64(&w, s->last.handle);
	w_u32(&w, s->last.count);
	w_u32(&w, s->last.line);
	w_str16(&w, s->last.message);
	w_str16(&w, s->pub.user);
	w_str16(&w, s->pub.host);
	w_str16(&w, s->pub.display);
	w_str16(&w, s->pub.lock_code);
	w_str16(&w, s->pub.app_version);
	assert(!w.overflow);
	*len = w.len;
	return 0;
}

static int session_decode(uint64_t id, struct lm_val v, struct session *s)
{
	struct rbuf r = {.p = v.data, .len = v.len};
	const uint8_t *secret;

	memset(s, 0, sizeof *s);
	s->pub.id = id;
	secret = r_take(&r, 32);
	if (secret)
		memcpy(s->pub.secret_digest, secret, 32);
	s->pub.opened_us = (int64_t)r_u64(&r);
	s->pub.pid = r_u32(&r);
	s->pub.nhandles = r_u32(&r);
	s->last_request = r_u64(&r);
	s->last.code = (int32_t)r_u32(&r);
	s->last.handle = r_u64(&r);
	s->last.count = r_u32(&r);
	s->last.line = r_u32(&r);
	r_str16(&r, s->last.message, sizeof s->last.message);
	r_str16(&r, s->pub.user, sizeof s->pub.user);
	r_str16(&r, s->pub.host, sizeof s->pub.host);
	r_str16(&r, s->pub.display, sizeof s->pub.display);
	r_str16(&r, s->pub.lock_code, sizeof s->pub.lock_code);
	r_str16(&r, s->pub.app_version, sizeof s->pub.app_version);
	if (r.bad || r.off != r.len)
		return corrupt("session");
	return 0;
}

/* Reads session id into *s; *found says whether it exists. */
static int session_load(struct lm_pool *p, uint64_t id, struct session *s, bool *found)
{
	uint8_t key[8];
	struct lm_val v;
	int rc;

	set_u64(key, id);
	*found = false;
	rc = lm_store_get(p->store, LM_DB_SESSIONS, key, sizeof key, &v);
	if (rc)
		return store_failed(p, rc);
	if (!v.data)
		return 0;
	*found = true;
	return session_decode(id, v, s);
}

static int session_store(struct lm_pool *p, const struct session *s)
{
	uint8_t key[8];
	size_t len;

	set_u64(key, s->pub.id);
	session_encode(p, s, &len);
	int rc = lm_store_put(p->store, LM_DB_SESSIONS, key, sizeof key, p->record, len);
	return rc ? store_failed(p, rc) : 0;
}

/* ---- Handles ----------------------------------------------------------- */

static int handle_decode(uint64_t id, struct lm_val v, struct lm_pool_handle *h)
{
	struct rbuf r = {.p = v.data, .len = v.len};

	memset(h, 0, sizeof *h);
	h->handle = id;
	h->session_id = r_u64(&r);
	h->count = r_u32(&r);
	h->since_us = (int64_t)r_u64(&r);
	r_str8(&r, h->feature, sizeof h->feature);
	r_str8(&r, h->version, sizeof h->version);
	r_str8(&r, h->pool_version, sizeof h->pool_version);
	if (r.bad || r.off != r.len)
		return corrupt("handle");
	return 0;
}

static int handle_load(struct lm_pool *p, uint64_t id, struct lm_pool_handle *h, bool *found)
{
	uint8_t key[8];
	struct lm_val v;
	int rc;

	set_u64(key, id);
	*found = false;
	rc = lm_store_get(p->store, LM_DB_HANDLES, key, sizeof key, &v);
	if (rc)
		return store_failed(p, rc);
	if (!v.data)
		return 0;
	*found = true;
	return handle_decode(id, v, h);
}

/* The pool key a handle is charged to. */
static size_t handle_pool_key(const struct lm_pool_handle *h, uint8_t key[POOLKEY_MAX])
{
	uint8_t vkey[VKEY_LEN];
	int rc = version_key(h->pool_version, vkey);
	assert(rc == 0); /* checked when the handle was made */
	(void)rc;
	return pool_key(key, h->feature, vkey);
}

static int usage_get(struct lm_pool *p, const uint8_t *key, size_t klen, uint32_t *in_use)
{
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_USAGE, key, klen, &v);
	if (rc)
		return store_failed(p, rc);
	*in_use = 0;
	if (!v.data)
		return 0;
	if (v.len != 4)
		return corrupt("usage");
	*in_use = get_u32(v.data);
	return 0;
}

static int usage_put(struct lm_pool *p, const uint8_t *key, size_t klen, uint32_t in_use)
{
	uint8_t b[4];
	int rc;

	/* No record for an idle pool, so that the content does not depend on
	 * which pools were ever used. */
	if (in_use == 0) {
		rc = lm_store_del(p->store, LM_DB_USAGE, key, klen, NULL);
	} else {
		set_u32(b, in_use);
		rc = lm_store_put(p->store, LM_DB_USAGE, key, klen, b, sizeof b);
	}
	return rc ? store_failed(p, rc) : 0;
}

/* Records h and its index entries and counts its seats in use.  Returns
 * LMC_ETOOLARGE when the pool's counter would overflow (possible only from
 * a forged snapshot: checkout never grants beyond the issued seats). */
static int handle_charge(struct lm_pool *p, const struct lm_pool_handle *h)
{
	uint8_t key[8], ikey[POOLKEY_MAX + 8], pkey[POOLKEY_MAX];
	size_t plen = handle_pool_key(h, pkey);
	struct wbuf w = {.p = p->record, .cap = sizeof p->record};
	uint32_t in_use;
	int rc;

	rc = usage_get(p, pkey, plen, &in_use);
	if (rc)
		return rc;
	if (h->count > UINT32_MAX - in_use)
		return LMC_ETOOLARGE;

	w_u64(&w, h->session_id);
	w_u32(&w, h->count);
	w_u64(&w, (uint64_t)h->since_us);
	w_str8(&w, h->feature);
	w_str8(&w, h->version);
	w_str8(&w, h->pool_version);
	assert(!w.overflow);
	set_u64(key, h->handle);
	rc = lm_store_put(p->store, LM_DB_HANDLES, key, sizeof key, w.p, w.len);
	if (!rc) {
		set_u64(ikey, h->session_id);
		set_u64(ikey + 8, h->handle);
		rc = lm_store_put(p->store, LM_DB_BY_SESSION, ikey, 16, "", 0);
	}
	if (!rc) {
		memcpy(ikey, pkey, plen);
		set_u64(ikey + plen, h->handle);
		rc = lm_store_put(p->store, LM_DB_BY_POOL, ikey, plen + 8, "", 0);
	}
	if (rc)
		return store_failed(p, rc);
	return usage_put(p, pkey, plen, in_use + h->count);
}

/* Forgets h and gives its seats back to its pool.  The session's handle
 * count is the caller's business. */
static int handle_release(struct lm_pool *p, const struct lm_pool_handle *h)
{
	uint8_t key[8], ikey[POOLKEY_MAX + 8], pkey[POOLKEY_MAX];
	size_t plen = handle_pool_key(h, pkey);
	bool f1, f2, f3;
	uint32_t in_use;
	int rc;

	set_u64(key, h->handle);
	rc = lm_store_del(p->store, LM_DB_HANDLES, key, sizeof key, &f1);
	if (!rc) {
		set_u64(ikey, h->session_id);
		set_u64(ikey + 8, h->handle);
		rc = lm_store_del(p->store, LM_DB_BY_SESSION, ikey, 16, &f2);
	}
	if (!rc) {
		memcpy(ikey, pkey, plen);
		set_u64(ikey + plen, h->handle);
		rc = lm_store_del(p->store, LM_DB_BY_POOL, ikey, plen + 8, &f3);
	}
	if (rc)
		return store_failed(p, rc);
	if (!f1 || !f2 || !f3)
		return corrupt("handle index");
	rc = usage_get(p, pkey, plen, &in_use);
	if (rc)
		return rc;
	if (in_use < h->count)
		return corrupt("usage");
	return usage_put(p, pkey, plen, in_use - h->count);
}

/* ---- Pools of a feature ------------------------------------------------ */

/* One pool of a features record, decoded in place. */
struct pool_def {
	uint8_t vkey[VKEY_LEN];
	char version[LM_VERSION_MAX + 1];
	uint32_t nlines;
	const uint8_t *lines; /* nlines entries of LINE_ENTRY_LEN bytes */
};

/* What the lines of a pool give on a day. */
struct pool_state {
	uint32_t issued;     /* seats of the lines in their dates */
	bool active;         /* some line is in its dates */
	uint32_t line;       /* the backing line, when active */
	int32_t expiry;      /* latest expiry of all lines */
	int32_t next_start;  /* earliest START still ahead, or LM_DATE_NONE */
	int32_t last_expiry; /* latest expiry already past, or LM_DATE_NONE */
};

/* Reads the next pool of a features record: 1, 0 at the end, or -1. */
static int pool_next(struct rbuf *r, struct pool_def *d)
{
	const uint8_t *vkey;

	if (r->off == r->len)
		return 0;
	vkey = r_take(r, VKEY_LEN);
	if (vkey)
		memcpy(d->vkey, vkey, VKEY_LEN);
	r_str8(r, d->version, sizeof d->version);
	d->nlines = r_u32(r);
	if (!r->bad && d->nlines > LM_LICENSE_LINES_MAX)
		r->bad = true;
	d->lines = r_take(r, (size_t)d->nlines * LINE_ENTRY_LEN);
	return r->bad ? -1 : 1;
}

/* The seats a pool issues on day today.  The line that backs a grant is the
 * one in its dates that expires last (the first such line on a tie), so that
 * the signed line a client receives stays valid longest. */
static void pool_eval(const struct pool_def *d, int32_t today, struct pool_state *st)
{
	uint64_t issued = 0;
	int32_t backing_expiry = 0;

	memset(st, 0, sizeof *st);
	st->expiry = LM_DATE_NONE;
	st->next_start = LM_DATE_NONE;
	st->last_expiry = LM_DATE_NONE;
	for (uint32_t i = 0; i < d->nlines; i++) {
		const uint8_t *e = d->lines + (size_t)i * LINE_ENTRY_LEN;
		uint32_t index = get_u32(e), count = get_u32(e + 4);
		int32_t start = (int32_t)get_u32(e + 8), expiry = (int32_t)get_u32(e + 12);

		if (expiry > st->expiry)
			st->expiry = expiry;
		if (start != LM_DATE_NONE && start > today) {
			if (st->next_start == LM_DATE_NONE || start < st->next_start)
				st->next_start = start;
			continue;
		}
		if (expiry < today) {
			if (expiry > st->last_expiry)
				st->last_expiry = expiry;
			continue;
		}
		issued += count;
		if (!st->active || expiry > backing_expiry) {
			st->active = true;
			st->line = index;
			backing_expiry = expiry;
		}
	}
	st->issued = issued > UINT32_MAX ? UINT32_MAX : (uint32_t)issued;
}

/* ---- The license set --------------------------------------------------- */

struct parsed_line {
	struct lm_license lic;
	uint8_t vkey[VKEY_LEN];
	uint32_t index;
};

/* Reads back each line of a SetLicense (or a snapshot).  Signatures are not
 * checked: the leader verified the file before proposing it.  A line that
 * does not parse leaves a denial in res; LMC_ENOMEM is returned (a local
 * failure, not a result). */
static int lines_parse(Lmcmd__Line *const *lines, size_t n, struct parsed_line *out,
                       struct lm_pool_result *res)
{
	char *text = malloc(LM_LINE_MAX + 1);
	if (!text)
		return LMC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const Lmcmd__Line *l = lines[i];
		struct lm_lockcode codes[3];
		struct lm_parse_error err;
		int ncodes, rc;

		if (!l->has_text || l->text.len == 0 || l->text.len > LM_LINE_MAX ||
		    memchr(l->text.data, 0, l->text.len)) {
			deny(res, LMC_ESYNTAX, "license line %zu is empty, too long or holds a NUL",
			     i);
			break;
		}
		if (l->has_signature && l->signature.len != 0 && l->signature.len != LM_SIG_LEN) {
			deny(res, LMC_EBADSIG, "license line %zu has a signature of %zu bytes", i,
			     l->signature.len);
			break;
		}
		memcpy(text, l->text.data, l->text.len);
		text[l->text.len] = '\0';
		rc = lm_license_parse_canonical(text, &out[i].lic, codes, &ncodes, &err);
		if (rc == LMC_ENOMEM) {
			free(text);
			return rc;
		}
		if (rc) {
			deny(res, rc, "license line %zu: %s", i, err.message);
			break;
		}
		if (version_key(out[i].lic.version, out[i].vkey) != 0) {
			deny(res, LMC_ESYNTAX, "license line %zu: bad version", i);
			break;
		}
		out[i].index = (uint32_t)i;
	}
	free(text);
	return 0;
}

/* Lines of one feature, grouped by pool and in license order within. */
static int cmp_pool_order(const void *a, const void *b)
{
	const struct parsed_line *x = *(const struct parsed_line *const *)a;
	const struct parsed_line *y = *(const struct parsed_line *const *)b;
	int c = strcmp(x->lic.name, y->lic.name);
	if (!c)
		c = memcmp(x->vkey, y->vkey, VKEY_LEN);
	if (!c)
		c = x->index < y->index ? -1 : x->index > y->index;
	return c;
}

/* Writes the features record of the n lines of one feature, g sorted by
 * cmp_pool_order. */
static int feature_write(struct lm_pool *p, struct parsed_line *const *g, size_t n)
{
	size_t npools = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(g[i]->vkey, g[i - 1]->vkey, VKEY_LEN) != 0)
			npools++;
	struct wbuf w = {.cap = 2 + npools * (VKEY_LEN + 1 + LM_VERSION_MAX + 4) +
	                        n * LINE_ENTRY_LEN};
	w.p = malloc(w.cap);
	if (!w.p)
		return LMC_ENOMEM;
	w_u16(&w, (uint16_t)npools);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && memcmp(g[b]->vkey, g[a]->vkey, VKEY_LEN) == 0; b++)
			;
		/* The pool is named by its first line's spelling. */
		w_bytes(&w, g[a]->vkey, VKEY_LEN);
		w_str8(&w, g[a]->lic.version);
		w_u32(&w, (uint32_t)(b - a));
		for (size_t i = a; i < b; i++) {
			w_u32(&w, g[i]->index);
			w_u32(&w, g[i]->lic.count);
			w_u32(&w, (uint32_t)g[i]->lic.start);
			w_u32(&w, (uint32_t)g[i]->lic.expiry);
		}
	}
	assert(!w.overflow);
	const char *name = g[0]->lic.name;
	int rc = lm_store_put(p->store, LM_DB_FEATURES, name, strlen(name), w.p, w.len);
	free(w.p);
	return rc ? store_failed(p, rc) : 0;
}

/* Replaces the license set.  Handles are left alone: seats held under a
 * line that disappears stay held until checked in (command.proto). */
static int lines_write(struct lm_pool *p, Lmcmd__Line *const *lines, struct parsed_line *pl,
                       size_t n)
{
	uint8_t value[2 + LM_SIG_LEN + LM_LINE_MAX], key[4];
	struct parsed_line **order;
	size_t m = 0;
	int rc;

	rc = lm_store_drop(p->store, LM_DB_LINES);
	if (!rc)
		rc = lm_store_drop(p->store, LM_DB_FEATURES);
	if (rc)
		return store_failed(p, rc);
	for (size_t i = 0; i < n; i++) {
		const Lmcmd__Line *l = lines[i];
		size_t siglen = l->has_signature ? l->signature.len : 0;
		value[0] = (uint8_t)siglen;
		if (siglen)
			memcpy(value + 1, l->signature.data, siglen);
		memcpy(value + 1 + siglen, l->text.data, l->text.len);
		set_u32(key, (uint32_t)i);
		rc = lm_store_put(p->store, LM_DB_LINES, key, sizeof key, value,
		                  1 + siglen + l->text.len);
		if (rc)
			return store_failed(p, rc);
	}

	/* Uncounted lines are served by the client alone, and a PACKAGE line
	 * is not a feature: neither forms a pool. */
	order = malloc((n ? n : 1) * sizeof *order);
	if (!order)
		return LMC_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (pl[i].lic.type != LM_LINE_PACKAGE && !pl[i].lic.uncounted)
			order[m++] = &pl[i];
	if (m)
		qsort(order, m, sizeof *order, cmp_pool_order);
	for (size_t a = 0, b; a < m && !rc; a = b) {
		for (b = a + 1; b < m && strcmp(order[b]->lic.name, order[a]->lic.name) == 0; b++)
			;
		rc = feature_write(p, order + a, b - a);
	}
	free(order);
	return rc;
}

static int do_set_license(struct lm_pool *p, const Lmcmd__SetLicense *m, struct lm_pool_result *res)
{
	struct parsed_line *pl;
	int rc;

	if (m->n_lines > LM_LICENSE_LINES_MAX) {
		deny(res, LMC_ETOOLARGE, "%zu license lines, at most %d", m->n_lines,
		     LM_LICENSE_LINES_MAX);
		return 0;
	}
	pl = calloc(m->n_lines ? m->n_lines : 1, sizeof *pl);
	if (!pl)
		return LMC_ENOMEM;
	rc = lines_parse(m->lines, m->n_lines, pl, res);
	if (!rc && res->code == 0) {
		rc = lines_write(p, m->lines, pl, m->n_lines);
		res->count = (uint32_t)m->n_lines;
	}
	free(pl);
	return rc;
}

/* ---- Sessions: open and close ------------------------------------------ */

/* Copies an optional identifier into out: absent is "", and it must fit
 * with its NUL and hold none (protobuf-c would hand a C string cut short). */
static bool copy_field(char *out, size_t size, protobuf_c_boolean has, const ProtobufCBinaryData *b)
{
	out[0] = '\0';
	if (!has)
		return true;
	if (b->len >= size || (b->len && memchr(b->data, 0, b->len)))
		return false;
	if (b->len)
		memcpy(out, b->data, b->len);
	out[b->len] = '\0';
	return true;
}

/* A session from its OpenSession (also the identity in a snapshot). */
static bool identity_copy(const Lmcmd__OpenSession *m, struct session *s)
{
	memset(s, 0, sizeof *s);
	if (!m->has_session_id || m->session_id == 0)
		return false;
	s->pub.id = m->session_id;
	if (m->has_secret_digest) {
		if (m->secret_digest.len != sizeof s->pub.secret_digest)
			return false;
		memcpy(s->pub.secret_digest, m->secret_digest.data, sizeof s->pub.secret_digest);
	}
	s->pub.pid = m->has_pid ? m->pid : 0;
	return copy_field(s->pub.user, sizeof s->pub.user, m->has_user, &m->user) &&
	       copy_field(s->pub.host, sizeof s->pub.host, m->has_host, &m->host) &&
	       copy_field(s->pub.display, sizeof s->pub.display, m->has_display, &m->display) &&
	       copy_field(s->pub.lock_code, sizeof s->pub.lock_code, m->has_lock_code,
	                  &m->lock_code) &&
	       copy_field(s->pub.app_version, sizeof s->pub.app_version, m->has_app_version,
	                  &m->app_version);
}

static int do_open_session(struct lm_pool *p, int64_t now, const Lmcmd__OpenSession *m,
                           struct lm_pool_result *res)
{
	struct session s, old;
	bool found;
	size_t n;
	int rc;

	if (!identity_copy(m, &s)) {
		deny(res, LMC_EINVAL, "OpenSession without a session id, or with a bad field");
		return 0;
	}
	/* Opening a session twice is a retry of the first open: same answer,
	 * and the first identity stays. */
	rc = session_load(p, s.pub.id, &old, &found);
	if (rc || found)
		return rc;
	rc = lm_store_count(p->store, LM_DB_SESSIONS, &n);
	if (rc)
		return store_failed(p, rc);
	if (n >= LM_POOL_SESSIONS_MAX) {
		deny(res, LMC_ELIMIT, "the server holds %d sessions, its limit",
		     LM_POOL_SESSIONS_MAX);
		return 0;
	}
	s.pub.opened_us = now;
	return session_store(p, &s);
}

struct gather {
	struct lm_pool *p;
	size_t n;
};

/* Scan callbacks stop with this when a record is malformed, to tell it
 * from the store's own (negative) failures. */
#define SCAN_CORRUPT 1

static int gather_handle(void *arg, struct lm_val key, struct lm_val val)
{
	struct gather *g = arg;
	if (key.len != 16 || g->n == LM_POOL_HANDLES_PER_SESSION_MAX)
		return SCAN_CORRUPT;
	g->p->closing[g->n++] = get_u64((const uint8_t *)key.data + 8);
	return 0;
}

/* The outcome of a scan whose callback only fails with SCAN_CORRUPT. */
static int scan_failed(struct lm_pool *p, int rc, const char *what)
{
	if (rc == SCAN_CORRUPT)
		return corrupt(what);
	return rc < 0 ? store_failed(p, rc) : rc;
}

static int do_close_session(struct lm_pool *p, const Lmcmd__CloseSession *m,
                            struct lm_pool_result *res)
{
	struct gather g = {.p = p};
	struct session s;
	struct lm_pool_handle h;
	uint64_t seats = 0;
	uint8_t key[8];
	bool found;
	int rc;

	rc = session_load(p, m->session_id, &s, &found);
	if (rc)
		return rc;
	if (!found) {
		deny(res, LMC_ENOSESSION, "session %016llx is not open",
		     (unsigned long long)m->session_id);
		return 0;
	}
	set_u64(key, s.pub.id);
	rc = lm_store_scan(p->store, LM_DB_BY_SESSION, key, sizeof key, gather_handle, &g);
	if (rc)
		return scan_failed(p, rc, "by_session");
	if (g.n != s.pub.nhandles)
		return corrupt("session");
	for (size_t i = 0; i < g.n; i++) {
		rc = handle_load(p, p->closing[i], &h, &found);
		if (!rc && !found)
			rc = corrupt("by_session");
		if (!rc)
			rc = handle_release(p, &h);
		if (rc)
			return rc;
		seats += h.count;
	}
	rc = lm_store_del(p->store, LM_DB_SESSIONS, key, sizeof key, NULL);
	if (rc)
		return store_failed(p, rc);
	res->count = seats > UINT32_MAX ? UINT32_MAX : (uint32_t)seats;
	return 0;
}

/* ---- Checkout and checkin ---------------------------------------------- */

/* DESIGN.md §2.3: a session numbers its requests; the last one is answered
 * again from the session's memory, an older one is refused.  Returns true
 * when res already holds the answer.  Ids start at 1, so that a fresh
 * session (last request 0) has nothing to replay. */
static bool replayed(const struct session *s, uint64_t request_id, struct lm_pool_result *res)
{
	if (request_id == 0) {
		deny(res, LMC_EPROTO, "request id 0 is not valid");
		return true;
	}
	if (request_id == s->last_request) {
		*res = s->last;
		return true;
	}
	if (request_id < s->last_request) {
		deny(res, LMC_EPROTO, "request %llu is older than the last one, %llu",
		     (unsigned long long)request_id, (unsigned long long)s->last_request);
		return true;
	}
	return false;
}

/* The pool a checkout is charged to. */
struct choice {
	uint8_t vkey[VKEY_LEN];
	char version[LM_VERSION_MAX + 1];
	uint32_t line;
};

/* Picks the pool of smallest version >= want with count seats free on day
 * today (pool.h), or leaves the reason in res. */
static int choose_pool(struct lm_pool *p, const char *feature, const char *want_text,
                       const uint8_t want[VKEY_LEN], uint32_t count, int32_t today,
                       struct choice *c, struct lm_pool_result *res)
{
	struct lm_val v;
	struct pool_def d;
	struct pool_state st;
	uint8_t pkey[POOLKEY_MAX];
	char newest[LM_VERSION_MAX + 1] = "", seen_version[LM_VERSION_MAX + 1] = "", date[16];
	uint32_t seen_issued = 0, seen_in_use = 0, in_use;
	int32_t next_start = LM_DATE_NONE, last_expiry = LM_DATE_NONE;
	int suitable = 0, active = 0, more;
	int rc;

	rc = lm_store_get(p->store, LM_DB_FEATURES, feature, strlen(feature), &v);
	if (rc)
		return store_failed(p, rc);
	if (!v.data) {
		deny(res, LMC_ENOFEATURE, "no counted license for feature %s on this server",
		     feature);
		return 0;
	}
	struct rbuf r = {.p = v.data, .len = v.len};
	r_u16(&r);
	while ((more = pool_next(&r, &d)) == 1) {
		memcpy(newest, d.version, sizeof newest);
		if (memcmp(d.vkey, want, VKEY_LEN) < 0)
			continue;
		suitable++;
		pool_eval(&d, today, &st);
		if (st.next_start != LM_DATE_NONE &&
		    (next_start == LM_DATE_NONE || st.next_start < next_start))
			next_start = st.next_start;
		if (st.last_expiry > last_expiry)
			last_expiry = st.last_expiry;
		if (!st.active)
			continue;
		active++;
		rc = usage_get(p, pkey, pool_key(pkey, feature, d.vkey), &in_use);
		if (rc)
			return rc;
		if (in_use <= st.issued && st.issued - in_use >= count) {
			memcpy(c->vkey, d.vkey, VKEY_LEN);
			memcpy(c->version, d.version, sizeof c->version);
			c->line = st.line;
			return 0;
		}
		seen_issued = st.issued;
		seen_in_use = in_use;
		memcpy(seen_version, d.version, sizeof seen_version);
	}
	if (more < 0)
		return corrupt("features");

	if (suitable == 0) {
		deny(res, LMC_EVERSION, "%s %s requested, the newest licensed version is %s",
		     feature, want_text, newest);
	} else if (active == 0 && next_start != LM_DATE_NONE) {
		/* A license that will start is the better news of the two. */
		lm_date_format(next_start, date, sizeof date);
		deny(res, LMC_ENOTSTARTED, "the license of %s >= %s starts on %s", feature,
		     want_text, date);
	} else if (active == 0) {
		lm_date_format(last_expiry, date, sizeof date);
		deny(res, LMC_EEXPIRED, "the license of %s >= %s expired on %s", feature, want_text,
		     date);
	} else if (active > 1) {
		deny(res, LMC_ENOSEATS, "no license of %s >= %s has %u seats free", feature,
		     want_text, count);
	} else if (count == 1 || seen_in_use >= seen_issued) {
		deny(res, LMC_ENOSEATS, "all %u seats of %s %s in use", seen_issued, feature,
		     seen_version);
	} else {
		deny(res, LMC_ENOSEATS, "%u seats of %s %s requested, %u of %u free", count,
		     feature, seen_version, seen_issued - seen_in_use, seen_issued);
	}
	return 0;
}

static int checkout(struct lm_pool *p, int64_t now, struct session *s, const Lmcmd__Checkout *m,
                    struct lm_pool_result *res)
{
	struct lm_pool_handle h = {.session_id = s->pub.id, .since_us = now};
	uint8_t want[VKEY_LEN];
	struct choice c;
	int rc;

	if (!m->has_feature || m->feature.len == 0 ||
	    !copy_field(h.feature, sizeof h.feature, 1, &m->feature)) {
		deny(res, LMC_EINVAL, "Checkout without a valid feature name");
		return 0;
	}
	if (!copy_field(h.version, sizeof h.version, m->has_version, &m->version) ||
	    !lm_version_valid(h.version) || version_key(h.version, want) != 0) {
		deny(res, LMC_EINVAL, "Checkout of %s without a valid version", h.feature);
		return 0;
	}
	if (!m->has_count || m->count == 0 || m->count > LM_CHECKOUT_COUNT_MAX) {
		deny(res, LMC_EINVAL, "Checkout of %s for %u seats", h.feature, m->count);
		return 0;
	}
	if (s->pub.nhandles >= LM_POOL_HANDLES_PER_SESSION_MAX) {
		deny(res, LMC_ELIMIT, "the session already holds %d handles",
		     LM_POOL_HANDLES_PER_SESSION_MAX);
		return 0;
	}
	memset(&c, 0, sizeof c);
	rc = choose_pool(p, h.feature, h.version, want, m->count, day_of(now), &c, res);
	if (rc || res->code)
		return rc;

	/* Handles count up from 1 in the replicated meta table, so every
	 * server hands out the same number for the same command. */
	rc = meta_get(p, key_next_handle, 1, &h.handle);
	if (!rc)
		rc = meta_put(p, key_next_handle, h.handle + 1);
	if (rc)
		return rc;
	h.count = m->count;
	memcpy(h.pool_version, c.version, sizeof h.pool_version);
	rc = handle_charge(p, &h);
	if (rc)
		return rc == LMC_ETOOLARGE ? corrupt("usage") : rc;
	s->pub.nhandles++;
	res->handle = h.handle;
	res->count = h.count;
	res->line = c.line;
	return 0;
}

static int do_checkout(struct lm_pool *p, int64_t now, const Lmcmd__Checkout *m,
                       struct lm_pool_result *res)
{
	struct session s;
	bool found;
	int rc;

	rc = session_load(p, m->session_id, &s, &found);
	if (rc)
		return rc;
	if (!found) {
		deny(res, LMC_ENOSESSION, "session %016llx is not open",
		     (unsigned long long)m->session_id);
		return 0;
	}
	if (replayed(&s, m->request_id, res))
		return 0;
	rc = checkout(p, now, &s, m, res);
	if (rc)
		return rc;
	s.last_request = m->request_id;
	s.last = *res;
	return session_store(p, &s);
}

static int do_checkin(struct lm_pool *p, const Lmcmd__Checkin *m, struct lm_pool_result *res)
{
	struct session s;
	struct lm_pool_handle h;
	bool found;
	int rc;

	rc = session_load(p, m->session_id, &s, &found);
	if (rc)
		return rc;
	if (!found) {
		deny(res, LMC_ENOSESSION, "session %016llx is not open",
		     (unsigned long long)m->session_id);
		return 0;
	}
	if (replayed(&s, m->request_id, res))
		return 0;
	rc = handle_load(p, m->handle, &h, &found);
	if (rc)
		return rc;
	if (!found || h.session_id != s.pub.id) {
		deny(res, LMC_ENOHANDLE, "handle %llu is not held by this session",
		     (unsigned long long)m->handle);
	} else {
		if (s.pub.nhandles == 0)
			return corrupt("session");
		rc = handle_release(p, &h);
		if (rc)
			return rc;
		s.pub.nhandles--;
		res->handle = h.handle;
		res->count = h.count;
	}
	s.last_request = m->request_id;
	s.last = *res;
	return session_store(p, &s);
}

static int do_remove_handle(struct lm_pool *p, const Lmcmd__RemoveHandle *m,
                            struct lm_pool_result *res)
{
	struct session s;
	struct lm_pool_handle h;
	bool found;
	int rc;

	rc = handle_load(p, m->handle, &h, &found);
	if (rc)
		return rc;
	if (!found) {
		deny(res, LMC_ENOHANDLE, "no handle %llu", (unsigned long long)m->handle);
		return 0;
	}
	rc = session_load(p, h.session_id, &s, &found);
	if (!rc && (!found || s.pub.nhandles == 0))
		rc = corrupt("handle");
	if (!rc)
		rc = handle_release(p, &h);
	if (rc)
		return rc;
	s.pub.nhandles--;
	res->handle = h.handle;
	res->count = h.count;
	return session_store(p, &s);
}

/* ---- Apply ------------------------------------------------------------- */

static int dispatch(struct lm_pool *p, const Lmcmd__Command *cmd, struct lm_pool_result *res)
{
	int64_t now = cmd->has_time_us ? cmd->time_us : 0;

	switch (cmd->body_case) {
	case LMCMD__COMMAND__BODY_SET_LICENSE: return do_set_license(p, cmd->set_license, res);
	case LMCMD__COMMAND__BODY_OPEN_SESSION:
		return do_open_session(p, now, cmd->open_session, res);
	case LMCMD__COMMAND__BODY_CHECKOUT: return do_checkout(p, now, cmd->checkout, res);
	case LMCMD__COMMAND__BODY_CHECKIN: return do_checkin(p, cmd->checkin, res);
	case LMCMD__COMMAND__BODY_CLOSE_SESSION:
		return do_close_session(p, cmd->close_session, res);
	case LMCMD__COMMAND__BODY_REMOVE_HANDLE:
		return do_remove_handle(p, cmd->remove_handle, res);
	default: break;
	}
	return LMC_EPROTO;
}

/* Apply's errors: LMC_EPROTO for bytes that are not a command (a corrupt
 * log), LMC_EINVAL for an index that does not move forward (a caller's bug),
 * LMC_EIO for a store failure or a corrupt record, LMC_ENOMEM.  Every one of
 * them leaves the store as it was, and every one is fatal to the server:
 * the other servers applied this entry, and this one cannot. */
int lm_pool_apply(struct lm_pool *p, uint64_t index, const void *buf, size_t len,
                  struct lm_pool_result *res)
{
	bool in_arena = len <= ARENA_COMMAND_MAX;
	Lmcmd__Command *cmd;
	int rc;

	memset(res, 0, sizeof *res);
	if (index <= p->applied) {
		deny(res, LMC_EINVAL, "entry %llu applied after %llu", (unsigned long long)index,
		     (unsigned long long)p->applied);
		return LMC_EINVAL;
	}
	cmd = lmcmd__command__unpack(in_arena ? lm_arena_allocator(&p->arena) : NULL, len, buf);
	if (!cmd || cmd->body_case == LMCMD__COMMAND__BODY__NOT_SET) {
		deny(res, LMC_EPROTO, "entry %llu is not a command", (unsigned long long)index);
		rc = LMC_EPROTO;
		goto out;
	}
	rc = lm_store_begin(p->store);
	if (rc) {
		rc = store_failed(p, rc);
		goto out;
	}
	rc = dispatch(p, cmd, res);
	/* The applied index moves in the same transaction as the effects, so
	 * the two can never disagree. */
	if (!rc)
		rc = meta_put(p, key_applied, index);
	if (rc) {
		lm_store_abort(p->store);
		memset(res, 0, sizeof *res);
		deny(res, rc, "entry %llu could not be applied", (unsigned long long)index);
		goto out;
	}
	rc = lm_store_commit(p->store);
	if (rc) {
		rc = store_failed(p, rc);
		goto out;
	}
	p->applied = index;
out:
	if (in_arena)
		lm_arena_reset(&p->arena);
	else if (cmd)
		lmcmd__command__free_unpacked(cmd, NULL);
	return rc;
}

uint64_t lm_pool_applied_index(const struct lm_pool *p)
{
	return p->applied;
}

/* ---- Open and close ---------------------------------------------------- */

int lm_pool_open(struct lm_pool **out, const char *dir, char *err, size_t errsize)
{
	struct lm_pool *p;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->arena_block = malloc(LM_ARENA_SIZE(ARENA_COMMAND_MAX));
	if (!p->arena_block)
		goto nomem_pool;
	lm_arena_init(&p->arena, p->arena_block, LM_ARENA_SIZE(ARENA_COMMAND_MAX));
	rc = lm_store_open(&p->store, dir, err, errsize);
	if (rc) {
		free(p->arena_block);
		free(p);
		return rc == LMC_ENOMEM ? rc : LMC_EIO;
	}
	*out = p;
	return 0;

nomem_pool:
	free(p);
nomem:
	snprintf(err, errsize, "out of memory");
	return LMC_ENOMEM;
}

void lm_pool_close(struct lm_pool *p)
{
	if (!p)
		return;
	lm_store_close(p->store);
	free(p->arena_block);
	free(p);
}

/* ---- Queries ----------------------------------------------------------- */

/* Queries read in a transaction of their own (or through the open one);
 * the callbacks they make may call other queries but not apply. */

int lm_pool_line(struct lm_pool *p, uint32_t i, char *text, size_t size, uint8_t sig[LM_SIG_LEN])
{
	uint8_t key[4];
	struct lm_val v;
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	set_u32(key, i);
	rc = lm_store_get(p->store, LM_DB_LINES, key, sizeof key, &v);
	if (rc) {
		rc = store_failed(p, rc);
	} else if (!v.data) {
		rc = LMC_ENOFEATURE;
	} else {
		const uint8_t *b = v.data;
		size_t siglen = v.len ? b[0] : 0, textlen;
		if (v.len == 0 || (siglen != 0 && siglen != LM_SIG_LEN) || v.len < 1 + siglen) {
			rc = corrupt("lines");
		} else if ((textlen = v.len - 1 - siglen) >= size) {
			rc = LMC_ETOOLARGE;
		} else {
			memcpy(text, b + 1 + siglen, textlen);
			text[textlen] = '\0';
			if (siglen)
				memcpy(sig, b + 1, LM_SIG_LEN);
			else
				memset(sig, 0, LM_SIG_LEN);
		}
	}
	lm_store_read_end(p->store);
	return rc;
}

int lm_pool_session(struct lm_pool *p, uint64_t id, struct lm_pool_session *out)
{
	struct session s;
	bool found;
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	rc = session_load(p, id, &s, &found);
	if (!rc && !found)
		rc = LMC_ENOSESSION;
	if (!rc)
		*out = s.pub;
	lm_store_read_end(p->store);
	return rc;
}

/* The state of a query's scan: the caller's callback and argument, and
 * whether a record failed to decode (then the scan stopped with 1). */
struct walk {
	struct lm_pool *p;
	int (*session_fn)(void *arg, const struct lm_pool_session *s);
	void *arg;
	bool corrupt;
	struct lm_pool_handle *out;
	int max, n;
};

static int walk_session(void *arg, struct lm_val key, struct lm_val val)
{
	struct walk *w = arg;
	struct session s;

	if (key.len != 8 || session_decode(get_u64(key.data), val, &s) != 0) {
		w->corrupt = true;
		return 1;
	}
	return w->session_fn(w->arg, &s.pub);
}

/* Returns 0, the non-zero value fn stopped with, or LMC_EIO. */
int lm_pool_each_session(struct lm_pool *p, int (*fn)(void *arg, const struct lm_pool_session *s),
                         void *arg)
{
	struct walk w = {.p = p, .session_fn = fn, .arg = arg};
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	rc = lm_store_scan(p->store, LM_DB_SESSIONS, NULL, 0, walk_session, &w);
	lm_store_read_end(p->store);
	if (w.corrupt)
		return LMC_EIO;
	return rc == LMC_EIO ? store_failed(p, rc) : rc;
}

static int walk_session_handle(void *arg, struct lm_val key, struct lm_val val)
{
	struct walk *w = arg;
	struct lm_pool_handle h;
	bool found;

	if (key.len != 16)
		goto bad;
	if (w->n < w->max) {
		if (handle_load(w->p, get_u64((const uint8_t *)key.data + 8), &h, &found) != 0 ||
		    !found)
			goto bad;
		w->out[w->n] = h;
	}
	w->n++;
	return 0;
bad:
	w->corrupt = true;
	return 1;
}

int lm_pool_session_handles(struct lm_pool *p, uint64_t session_id, struct lm_pool_handle *out,
                            int max)
{
	struct walk w = {.p = p, .out = out, .max = max};
	uint8_t key[8];
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	set_u64(key, session_id);
	rc = lm_store_scan(p->store, LM_DB_BY_SESSION, key, sizeof key, walk_session_handle, &w);
	lm_store_read_end(p->store);
	if (w.corrupt)
		return LMC_EIO;
	if (rc)
		return store_failed(p, rc);
	return w.n;
}

/* ---- Features for lmstat ----------------------------------------------- */

/* One (feature, version) pool, gathered before the callbacks run so that
 * pools that only live on through held seats sort among the others. */
struct feature_entry {
	uint8_t key[POOLKEY_MAX];
	size_t klen;
	bool has_lines;
	struct lm_pool_feature f;
};

struct features {
	struct lm_pool *p;
	int32_t today;
	struct feature_entry *v;
	size_t n, cap, sorted;
	bool corrupt, nomem;
};

static struct feature_entry *features_add(struct features *fs)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? 2 * fs->cap : 16;
		struct feature_entry *v = realloc(fs->v, cap * sizeof *v);
		if (!v) {
			fs->nomem = true;
			return NULL;
		}
		fs->v = v;
		fs->cap = cap;
	}
	struct feature_entry *e = &fs->v[fs->n++];
	memset(e, 0, sizeof *e);
	return e;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct feature_entry *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* features table: one entry per pool of the record. */
static int gather_feature(void *arg, struct lm_val key, struct lm_val val)
{
	struct features *fs = arg;
	struct rbuf r = {.p = val.data, .len = val.len};
	struct pool_def d;
	struct pool_state st;
	char name[LM_NAME_MAX + 1];
	int more;

	if (key.len == 0 || key.len > LM_NAME_MAX || memchr(key.data, 0, key.len))
		goto bad;
	memcpy(name, key.data, key.len);
	name[key.len] = '\0';
	r_u16(&r);
	while ((more = pool_next(&r, &d)) == 1) {
		struct feature_entry *e = features_add(fs);
		if (!e)
			return 1;
		pool_eval(&d, fs->today, &st);
		e->klen = pool_key(e->key, name, d.vkey);
		e->has_lines = true;
		memcpy(e->f.name, name, sizeof e->f.name);
		memcpy(e->f.version, d.version, sizeof e->f.version);
		e->f.issued = st.issued;
		e->f.expiry = st.expiry;
	}
	if (more == 0)
		return 0;
bad:
	fs->corrupt = true;
	return 1;
}

/* usage table: seats in use, and the pools that have no line left.  The
 * entries from the features table, v[0..sorted), are in key order; pools
 * found only here are appended after them and sorted at the end. */
static int gather_usage(void *arg, struct lm_val key, struct lm_val val)
{
	struct features *fs = arg;
	struct feature_entry probe, *e;
	const uint8_t *k = key.data;
	size_t nlen;

	if (key.len <= VKEY_LEN + 1 || key.len > POOLKEY_MAX || val.len != 4)
		goto bad;
	nlen = key.len - VKEY_LEN - 1;
	if (k[nlen] != 0 || memchr(k, 0, nlen))
		goto bad;
	memcpy(probe.key, k, key.len);
	probe.klen = key.len;
	e = fs->sorted ? bsearch(&probe, fs->v, fs->sorted, sizeof *fs->v, cmp_entry) : NULL;
	if (!e) {
		e = features_add(fs);
		if (!e)
			return 1;
		memcpy(e->key, k, key.len);
		e->klen = key.len;
		memcpy(e->f.name, k, nlen);
		e->f.name[nlen] = '\0';
		e->f.expiry = LM_DATE_NONE;
	}
	e->f.in_use = get_u32(val.data);
	return 0;
bad:
	fs->corrupt = true;
	return 1;
}

struct holders {
	struct lm_pool *p;
	int (*fn)(void *arg, const struct lm_pool_handle *h, const struct lm_pool_session *s);
	void *arg;
	size_t plen;
	char *version; /* first_holder: where the version goes */
	bool corrupt;
};

static int load_holder(struct holders *hs, struct lm_val key, struct lm_pool_handle *h)
{
	bool found;

	if (key.len != hs->plen + 8 ||
	    handle_load(hs->p, get_u64((const uint8_t *)key.data + hs->plen), h, &found) != 0 ||
	    !found) {
		hs->corrupt = true;
		return 1;
	}
	return 0;
}

/* A pool with no line left is shown with its oldest handle's spelling of
 * the version: content only, whatever the history of the license set. */
static int first_holder(void *arg, struct lm_val key, struct lm_val val)
{
	struct holders *hs = arg;
	struct lm_pool_handle h;

	if (load_holder(hs, key, &h) == 0)
		memcpy(hs->version, h.pool_version, sizeof h.pool_version);
	return 1;
}

static int walk_holder(void *arg, struct lm_val key, struct lm_val val)
{
	struct holders *hs = arg;
	struct lm_pool_handle h;
	struct session s;
	bool found;

	if (load_holder(hs, key, &h) != 0)
		return 1;
	if (session_load(hs->p, h.session_id, &s, &found) != 0 || !found) {
		hs->corrupt = true;
		return 1;
	}
	return hs->fn(hs->arg, &h, &s.pub);
}

/* Pools come in order of feature name, then version.  Returns 0, the
 * non-zero value a callback stopped with, LMC_EIO or LMC_ENOMEM. */
int lm_pool_each_feature(struct lm_pool *p, int32_t today,
                         int (*fn)(void *arg, const struct lm_pool_feature *f),
                         int (*holder_fn)(void *arg, const struct lm_pool_handle *h,
                                          const struct lm_pool_session *s),
                         void *arg)
{
	struct features fs = {.p = p, .today = today};
	struct holders hs = {.p = p, .fn = holder_fn, .arg = arg};
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	rc = lm_store_scan(p->store, LM_DB_FEATURES, NULL, 0, gather_feature, &fs);
	fs.sorted = fs.n;
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_USAGE, NULL, 0, gather_usage, &fs);
	if (fs.corrupt || fs.nomem || rc) {
		rc = fs.corrupt ? corrupt("features") : fs.nomem ? LMC_ENOMEM : store_failed(p, rc);
		goto out;
	}
	if (fs.n)
		qsort(fs.v, fs.n, sizeof *fs.v, cmp_entry);
	for (size_t i = 0; i < fs.n && !rc; i++) {
		struct feature_entry *e = &fs.v[i];
		hs.plen = e->klen;
		if (!e->has_lines) {
			hs.version = e->f.version;
			rc = lm_store_scan(p->store, LM_DB_BY_POOL, e->key, e->klen, first_holder,
			                   &hs);
			/* Seats in use with no handle to hold them. */
			if (e->f.version[0] == '\0')
				hs.corrupt = true;
			if (rc < 0 || hs.corrupt)
				break;
		}
		rc = fn(arg, &e->f);
		if (!rc && holder_fn)
			rc = lm_store_scan(p->store, LM_DB_BY_POOL, e->key, e->klen, walk_holder,
			                   &hs);
	}
	if (hs.corrupt)
		rc = corrupt("by_pool");
	else if (rc == LMC_EIO)
		rc = store_failed(p, rc);
out:
	lm_store_read_end(p->store);
	free(fs.v);
	return rc;
}

/* ---- Snapshots --------------------------------------------------------- */

/* A growing malloc'd buffer that protobuf-c packs into. */
struct outbuf {
	ProtobufCBuffer base;
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

static void outbuf_append(ProtobufCBuffer *b, size_t n, const uint8_t *data)
{
	struct outbuf *o = (struct outbuf *)b;

	if (o->failed)
		return;
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 4096;
		while (n > cap - o->len) {
			if (cap > SIZE_MAX / 2) {
				o->failed = true;
				return;
			}
			cap *= 2;
		}
		uint8_t *d = realloc(o->data, cap);
		if (!d) {
			o->failed = true;
			return;
		}
		o->data = d;
		o->cap = cap;
	}
	memcpy(o->data + o->len, data, n);
	o->len += n;
}

struct snap {
	struct outbuf out;
	bool corrupt;
};

/* Each record is packed as a PoolSnapshot of its own; their concatenation
 * parses as one message with every repeated field appended
 * (command.proto), so the snapshot never exists twice in memory. */
static void snap_emit(struct snap *sn, Lmcmd__PoolSnapshot *one)
{
	lmcmd__pool_snapshot__pack_to_buffer(one, &sn->out.base);
}

static ProtobufCBinaryData bin(const void *data, size_t len)
{
	return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

static int snap_line(void *arg, struct lm_val key, struct lm_val val)
{
	struct snap *sn = arg;
	Lmcmd__PoolSnapshot one = LMCMD__POOL_SNAPSHOT__INIT;
	Lmcmd__Line line = LMCMD__LINE__INIT, *lines[1] = {&line};
	const uint8_t *b = val.data;
	size_t siglen = val.len ? b[0] : 0;

	if (key.len != 4 || val.len < 1 + siglen || (siglen && siglen != LM_SIG_LEN)) {
		sn->corrupt = true;
		return 1;
	}
	line.has_text = 1;
	line.text = bin(b + 1 + siglen, val.len - 1 - siglen);
	if (siglen) {
		line.has_signature = 1;
		line.signature = bin(b + 1, siglen);
	}
	one.n_lines = 1;
	one.lines = lines;
	snap_emit(sn, &one);
	return 0;
}

/* Sets an optional bytes field from a C string, leaving it absent when
 * empty (the same content always packs to the same bytes). */
static void set_text(protobuf_c_boolean *has, ProtobufCBinaryData *b, const char *s)
{
	*has = s[0] != '\0';
	*b = bin(s, strlen(s));
}

static int snap_session(void *arg, struct lm_val key, struct lm_val val)
{
	struct snap *sn = arg;
	Lmcmd__PoolSnapshot one = LMCMD__POOL_SNAPSHOT__INIT;
	Lmcmd__PoolSession ps = LMCMD__POOL_SESSION__INIT, *sessions[1] = {&ps};
	Lmcmd__OpenSession id = LMCMD__OPEN_SESSION__INIT;
	struct session s;

	if (key.len != 8 || session_decode(get_u64(key.data), val, &s) != 0) {
		sn->corrupt = true;
		return 1;
	}
	id.has_session_id = 1;
	id.session_id = s.pub.id;
	id.has_secret_digest = 1;
	id.secret_digest = bin(s.pub.secret_digest, sizeof s.pub.secret_digest);
	set_text(&id.has_user, &id.user, s.pub.user);
	set_text(&id.has_host, &id.host, s.pub.host);
	set_text(&id.has_display, &id.display, s.pub.display);
	id.has_pid = 1;
	id.pid = s.pub.pid;
	set_text(&id.has_lock_code, &id.lock_code, s.pub.lock_code);
	set_text(&id.has_app_version, &id.app_version, s.pub.app_version);
	ps.identity = &id;
	ps.has_opened_us = 1;
	ps.opened_us = s.pub.opened_us;
	ps.has_last_request_id = 1;
	ps.last_request_id = s.last_request;
	ps.has_last_code = 1;
	ps.last_code = s.last.code;
	ps.has_last_handle = 1;
	ps.last_handle = s.last.handle;
	ps.has_last_count = 1;
	ps.last_count = s.last.count;
	ps.has_last_line = 1;
	ps.last_line = s.last.line;
	set_text(&ps.has_last_message, &ps.last_message, s.last.message);
	one.n_sessions = 1;
	one.sessions = sessions;
	snap_emit(sn, &one);
	return 0;
}

static int snap_handle(void *arg, struct lm_val key, struct lm_val val)
{
	struct snap *sn = arg;
	Lmcmd__PoolSnapshot one = LMCMD__POOL_SNAPSHOT__INIT;
	Lmcmd__PoolHandle ph = LMCMD__POOL_HANDLE__INIT, *handles[1] = {&ph};
	struct lm_pool_handle h;

	if (key.len != 8 || handle_decode(get_u64(key.data), val, &h) != 0) {
		sn->corrupt = true;
		return 1;
	}
	ph.has_handle = 1;
	ph.handle = h.handle;
	ph.has_session_id = 1;
	ph.session_id = h.session_id;
	set_text(&ph.has_feature, &ph.feature, h.feature);
	set_text(&ph.has_version, &ph.version, h.version);
	set_text(&ph.has_pool_version, &ph.pool_version, h.pool_version);
	ph.has_count = 1;
	ph.count = h.count;
	ph.has_since_us = 1;
	ph.since_us = h.since_us;
	one.n_handles = 1;
	one.handles = handles;
	snap_emit(sn, &one);
	return 0;
}

/* Only the content that cannot be derived goes into a snapshot; restore
 * rebuilds the rest (command.proto, PoolSnapshot).  The applied index is
 * not in it: raft passes it to restore. */
int lm_pool_snapshot(struct lm_pool *p, void **buf, size_t *len)
{
	struct snap sn = {.out.base.append = outbuf_append};
	Lmcmd__PoolSnapshot head = LMCMD__POOL_SNAPSHOT__INIT;
	uint64_t next_handle;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = lm_store_read_begin(p->store);
	if (rc)
		return store_failed(p, rc);
	rc = meta_get(p, key_next_handle, 1, &next_handle);
	if (!rc) {
		head.has_format = 1;
		head.format = SNAPSHOT_FORMAT;
		head.has_next_handle = 1;
		head.next_handle = next_handle;
		snap_emit(&sn, &head);
		rc = lm_store_scan(p->store, LM_DB_LINES, NULL, 0, snap_line, &sn);
	}
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_SESSIONS, NULL, 0, snap_session, &sn);
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_HANDLES, NULL, 0, snap_handle, &sn);
	lm_store_read_end(p->store);
	if (sn.corrupt)
		rc = corrupt("snapshot source");
	else if (rc < 0)
		rc = rc == LMC_EIO ? store_failed(p, rc) : rc;
	else if (sn.out.failed)
		rc = LMC_ENOMEM;
	if (rc) {
		free(sn.out.data);
		return rc;
	}
	*buf = sn.out.data;
	*len = sn.out.len;
	return 0;
}

/* A snapshot that fails a check is refused whole with LMC_EPROTO (and a
 * note on stderr): it came from a node that does not run our format. */
static int bad_snapshot(const char *why)
{
	fprintf(stderr, "lmd: pool: refusing snapshot: %s\n", why);
	return LMC_EPROTO;
}

static int restore_sessions(struct lm_pool *p, const Lmcmd__PoolSnapshot *snap)
{
	for (size_t i = 0; i < snap->n_sessions; i++) {
		const Lmcmd__PoolSession *ps = snap->sessions[i];
		struct session s, old;
		bool found;
		int rc;

		if (!ps->identity || !identity_copy(ps->identity, &s) ||
		    !copy_field(s.last.message, sizeof s.last.message, ps->has_last_message,
		                &ps->last_message) ||
		    ps->last_code > 0 || ps->last_code < LMC_ERROR_MIN)
			return bad_snapshot("a session is malformed");
		rc = session_load(p, s.pub.id, &old, &found);
		if (rc)
			return rc;
		if (found)
			return bad_snapshot("a session appears twice");
		s.pub.opened_us = ps->opened_us;
		s.last_request = ps->last_request_id;
		s.last.code = ps->last_code;
		s.last.handle = ps->last_handle;
		s.last.count = ps->last_count;
		s.last.line = ps->last_line;
		rc = session_store(p, &s);
		if (rc)
			return rc;
	}
	return 0;
}

static bool version_ok(const char *v)
{
	uint8_t vkey[VKEY_LEN];
	return lm_version_valid(v) && version_key(v, vkey) == 0;
}

static int restore_handles(struct lm_pool *p, const Lmcmd__PoolSnapshot *snap, uint64_t next_handle)
{
	for (size_t i = 0; i < snap->n_handles; i++) {
		const Lmcmd__PoolHandle *ph = snap->handles[i];
		struct lm_pool_handle h = {0}, old;
		struct session s;
		bool found;
		int rc;

		if (!ph->has_handle || ph->handle == 0 || ph->handle >= next_handle ||
		    !ph->has_count || ph->count == 0 || ph->count > LM_CHECKOUT_COUNT_MAX ||
		    !ph->has_feature || ph->feature.len == 0 ||
		    !copy_field(h.feature, sizeof h.feature, ph->has_feature, &ph->feature) ||
		    !copy_field(h.version, sizeof h.version, ph->has_version, &ph->version) ||
		    !copy_field(h.pool_version, sizeof h.pool_version, ph->has_pool_version,
		                &ph->pool_version) ||
		    !version_ok(h.version) || !version_ok(h.pool_version))
			return bad_snapshot("a handle is malformed");
		h.handle = ph->handle;
		h.session_id = ph->session_id;
		h.count = ph->count;
		h.since_us = ph->since_us;
		rc = handle_load(p, h.handle, &old, &found);
		if (rc)
			return rc;
		if (found)
			return bad_snapshot("a handle appears twice");
		rc = session_load(p, h.session_id, &s, &found);
		if (rc)
			return rc;
		if (!found || s.pub.nhandles >= LM_POOL_HANDLES_PER_SESSION_MAX)
			return bad_snapshot("a handle names a missing or full session");
		rc = handle_charge(p, &h);
		if (rc == LMC_ETOOLARGE)
			return bad_snapshot("a pool's seats in use overflow");
		if (rc)
			return rc;
		s.pub.nhandles++;
		rc = session_store(p, &s);
		if (rc)
			return rc;
	}
	return 0;
}

int lm_pool_restore(struct lm_pool *p, uint64_t index, const void *buf, size_t len)
{
	struct lm_pool_result res = {0};
	struct parsed_line *pl = NULL;
	Lmcmd__PoolSnapshot *snap;
	int rc;

	snap = lmcmd__pool_snapshot__unpack(NULL, len, buf);
	if (!snap)
		return bad_snapshot("not a PoolSnapshot message");
	if (!snap->has_format || snap->format != SNAPSHOT_FORMAT) {
		rc = bad_snapshot("unknown format");
		goto out;
	}
	if (!snap->has_next_handle || snap->next_handle == 0 ||
	    snap->n_lines > LM_LICENSE_LINES_MAX || snap->n_sessions > LM_POOL_SESSIONS_MAX) {
		rc = bad_snapshot("counters out of range");
		goto out;
	}
	pl = calloc(snap->n_lines ? snap->n_lines : 1, sizeof *pl);
	if (!pl) {
		rc = LMC_ENOMEM;
		goto out;
	}
	rc = lines_parse(snap->lines, snap->n_lines, pl, &res);
	if (rc)
		goto out;
	if (res.code) {
		rc = bad_snapshot(res.message);
		goto out;
	}

	/* Everything in one transaction: a snapshot refused half-way leaves
	 * the pool as it was. */
	rc = lm_store_begin(p->store);
	if (rc) {
		rc = store_failed(p, rc);
		goto out;
	}
	rc = lm_store_clear(p->store);
	if (rc)
		rc = store_failed(p, rc);
	if (!rc)
		rc = lines_write(p, snap->lines, pl, snap->n_lines);
	if (!rc)
		rc = restore_sessions(p, snap);
	if (!rc)
		rc = restore_handles(p, snap, snap->next_handle);
	/* An absent counter means 1, as in a new pool: written only once it
	 * moved, so that a restored empty pool is the same as a new one. */
	if (!rc && snap->next_handle > 1)
		rc = meta_put(p, key_next_handle, snap->next_handle);
	if (!rc)
		rc = meta_put(p, key_applied, index);
	if (rc) {
		lm_store_abort(p->store);
		goto out;
	}
	rc = lm_store_commit(p->store);
	if (rc) {
		rc = store_failed(p, rc);
		goto out;
	}
	p->applied = index;
out:
	free(pl);
	lmcmd__pool_snapshot__free_unpacked(snap, NULL);
	return rc;
}

/* ---- Digest ------------------------------------------------------------ */

struct hasher {
	EVP_MD_CTX *ctx;
	uint8_t db;
	bool failed;
};

static int hash_record(void *arg, struct lm_val key, struct lm_val val)
{
	struct hasher *h = arg;
	uint8_t head[9];

	/* Where this server is in the log is not content: two servers with
	 * the same pool may have applied different raft entries (barriers,
	 * configurations, a snapshot taken at another index). */
	if (h->db == LM_DB_META && key.len == strlen(key_applied) &&
	    memcmp(key.data, key_applied, key.len) == 0)
		return 0;
	head[0] = h->db;
	set_u32(head + 1, (uint32_t)key.len);
	set_u32(head + 5, (uint32_t)val.len);
	if (!EVP_DigestUpdate(h->ctx, head, sizeof head) ||
	    !EVP_DigestUpdate(h->ctx, key.data, key.len) ||
	    !EVP_DigestUpdate(h->ctx, val.data, val.len)) {
		h->failed = true;
		return 1;
	}
	return 0;
}

/* Every record of every table, in table then key order, each as (table,
 * key length, value length, key, value): the records are our own explicit
 * big-endian encodings, so equal content gives equal bytes whatever LMDB's
 * pages look like.  Derived tables are included, so that a server whose
 * counters or indexes drifted also differs. */
int lm_pool_digest(struct lm_pool *p, uint8_t digest[32])
{
	struct hasher h = {0};
	unsigned int n = 0;
	int rc;

	h.ctx = EVP_MD_CTX_new();
	if (!h.ctx || !EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(h.ctx);
		return LMC_ENOMEM;
	}
	rc = lm_store_read_begin(p->store);
	if (rc) {
		EVP_MD_CTX_free(h.ctx);
		return store_failed(p, rc);
	}
	for (int db = 0; db < LM_DB_COUNT && !rc; db++) {
		h.db = (uint8_t)db;
		rc = lm_store_scan(p->store, (enum lm_store_db)db, NULL, 0, hash_record, &h);
	}
	lm_store_read_end(p->store);
	if (h.failed)
		rc = LMC_ENOMEM;
	else if (rc)
		rc = store_failed(p, rc);
	else if (!EVP_DigestFinal_ex(h.ctx, digest, &n) || n != 32)
		rc = LMC_ENOMEM;
	EVP_MD_CTX_free(h.ctx);
	return rc;
}
