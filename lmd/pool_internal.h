/* What the files of the seat pool (lmd/pool*.c) share: the pool object,
 * the formats of its tables and their byte encoding, and the functions one
 * file calls in another.  Private to those files.
 *
 * Tables and record formats.  All integers are big-endian, so that keys
 * sort numerically and the bytes are the same on every server (the digest
 * and the triad tests compare them).  A "str8"/"str16" is a one- or
 * two-byte length followed by that many bytes, no NUL.  Records carry no
 * format version: the store is emptied at every open and only ever read by
 * the binary that wrote it.
 *
 *   meta        "applied_index" -> u64;  "next_handle" -> u64 (absent: 1);
 *               "cluster_id" -> 16 bytes (absent until SetClusterId);
 *               "options_name" -> the options file's name, "options_text" ->
 *               its canonical text (both absent: no policy)
 *   lines       u32 index -> u8 siglen (0 or 64), signature, canonical text
 *   features    feature name -> u16 npools, then per pool, by version:
 *                 vkey[16], str8 version, u32 nlines,
 *                 nlines x (u32 line index, u32 count, i32 start, i32 expiry,
 *                 u32 overdraft, u8 named kind, u32 named max, u32 DUP_GROUP)
 *   usage       pool key -> u32 seats in use (absent when none)
 *   sessions    u64 id -> secret[32], i64 opened_us, u32 pid, u32 nhandles,
 *                 u64 last request id, i32 code, u64 handle, u32 count,
 *                 u32 line, u32 overdraft, str16 message, str16 user, host, display,
 *                 lock code, app version, ip, project
 *   handles     u64 handle -> u64 session, u32 count, u32 overdraft, i64 since_us,
 *                 str8 feature, str8 version, str8 pool version, u8 shares,
 *                 then when shares is 1 its sharing group[32] (pool_share.c),
 *                 str8 vendor data (core/vendor_data.h; empty: none),
 *                 str8 package (pool_package.c; empty: not a component)
 *   by_session  u64 session + u64 handle -> (empty)
 *   by_pool     pool key + u64 handle -> (empty)
 *   named       feature name, 0, name -> u8 kind (enum lm_named_kind),
 *                 i64 added_us (pool_named.c)
 *   shares      pool key + sharing group[32] -> u32 handles, u32 seats
 *   components  component name -> u16 n, then per PACKAGE listing it: str8
 *                 package, str8 package version, str8 component version,
 *                 u8 suite (bit 0), SUITE_RESERVED (bit 1) and SUITE_DUP_GROUP
 *                 (bits 2-7), u32 PACKAGE line index (pool_package.c)
 *
 * A pool key is the feature name, a 0 byte, and the version key: the four
 * parts of a version as u32 ("29" and "29.0" are one pool, and pools sort by
 * version).  features is derived from lines (rewritten only by SetLicense
 * and restore); usage, by_session, by_pool and shares from handles.  A pool whose
 * lines were removed while seats are held lives on in usage and by_pool
 * only, until its last handle goes.
 *
 * Checkout reads one features record and one usage counter per candidate
 * version, and checkin touches a fixed number of records: neither depends
 * on how many sessions or handles there are. */
#ifndef LM_POOL_INTERNAL_H
#define LM_POOL_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "core/license.h"
#include "core/options.h"
#include "lmd/pool.h"
#include "lmd/store.h"
#include "proto/arena.h"
#include "proto/command.pb-c.h"

#define LM_POOL_VKEY_LEN       16
#define LM_POOL_KEY_MAX        (LM_NAME_MAX + 1 + LM_POOL_VKEY_LEN)
#define LM_POOL_LINE_ENTRY_LEN 29

/* The largest session record (see the format above), rounded up. */
#define LM_POOL_RECORD_MAX 2048

/* The names of the meta table's records. */
#define LM_POOL_KEY_APPLIED     "applied_index"
#define LM_POOL_KEY_NEXT_HANDLE "next_handle"
#define LM_POOL_KEY_CLUSTER_ID  "cluster_id" /* LM_CLUSTER_ID_SIZE bytes */

struct lm_pool {
	struct lm_store *store;
	uint64_t applied;
	struct lm_arena arena;
	uint8_t *arena_block;
	/* The handles of a session being closed, gathered before any is
	 * released (the store must not change under a scan). */
	uint64_t closing[LM_POOL_HANDLES_PER_SESSION_MAX];
	/* Where session and handle records are encoded before a put. */
	uint8_t record[LM_POOL_RECORD_MAX];
	/* The administrator's policy, parsed from the options text of the
	 * meta table (NULL: none).
	 * A command that replaces the text stages the new policy in
	 * policy_next; it takes over once the transaction commits. */
	struct lm_options *policy;
	struct lm_options *policy_next;
	bool policy_replace;
	/* The policy cut per feature (pool_policy.c): the same decisions from
	 * only the rules that can apply, so that a checkout does not walk a
	 * big file's rules about other features.  NULL when they could not
	 * be built: the whole policy decides, just slower. */
	struct lm_pool_policy_view *views;
	size_t nviews;
	struct lm_options *general; /* the rules of no feature */
	/* Who holds the seats of each feature the policy asked about, kept
	 * in memory (pool_holdings.c), and the changes of the transaction in
	 * progress, which reach them when it commits. */
	struct lm_pool_holdings *holdings;
	size_t nholdings;
	struct lm_pool_holdings_change *holdings_pending;
	size_t npending, cappending;
	bool holdings_touched; /* seats changed in the transaction in progress */
	bool holdings_broken;  /* a change could not be followed: drop them all */
};

/* One seat held: its handle and its holder. */
struct lm_pool_holding {
	uint64_t handle;
	uint32_t count;
	char version[LM_VERSION_MAX + 1]; /* of the pool charged */
	struct lm_pool_session holder;
};

/* The seats of one feature, in handle order. */
struct lm_pool_holdings {
	char feature[LM_NAME_MAX + 1];
	struct lm_pool_holding **items; /* each malloc'd: a release moves pointers */
	size_t n, cap;
};

/* A session as stored: what the header shows, plus the last request. */
struct lm_pool_session_rec {
	struct lm_pool_session pub;
	uint64_t last_request;
	struct lm_pool_result last;
};

/* Byte encoding.  A writer stops at its capacity and says so in overflow,
 * a reader at its end (or at a bad string) and says so in bad, so that a
 * record is checked once, after the last field. */

struct lm_pool_wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static inline void lm_pool_w_bytes(struct lm_pool_wbuf *w, const void *b, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static inline void lm_pool_w_u8(struct lm_pool_wbuf *w, uint8_t v)
{
	lm_pool_w_bytes(w, &v, 1);
}

static inline void lm_pool_w_u16(struct lm_pool_wbuf *w, uint16_t v)
{
	uint8_t b[2];
	lm_be16_put(b, v);
	lm_pool_w_bytes(w, b, 2);
}

static inline void lm_pool_w_u32(struct lm_pool_wbuf *w, uint32_t v)
{
	uint8_t b[4];
	lm_be32_put(b, v);
	lm_pool_w_bytes(w, b, 4);
}

static inline void lm_pool_w_u64(struct lm_pool_wbuf *w, uint64_t v)
{
	lm_pool_w_u32(w, (uint32_t)(v >> 32));
	lm_pool_w_u32(w, (uint32_t)v);
}

static inline void lm_pool_w_str8(struct lm_pool_wbuf *w, const char *s)
{
	size_t n = strlen(s);
	assert(n <= UINT8_MAX);
	lm_pool_w_u8(w, (uint8_t)n);
	lm_pool_w_bytes(w, s, n);
}

static inline void lm_pool_w_str16(struct lm_pool_wbuf *w, const char *s)
{
	size_t n = strlen(s);
	assert(n <= UINT16_MAX);
	lm_pool_w_u16(w, (uint16_t)n);
	lm_pool_w_bytes(w, s, n);
}

struct lm_pool_rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static inline const uint8_t *lm_pool_r_take(struct lm_pool_rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *at = r->p + r->off;
	r->off += n;
	return at;
}

static inline uint8_t lm_pool_r_u8(struct lm_pool_rbuf *r)
{
	const uint8_t *b = lm_pool_r_take(r, 1);
	return b ? b[0] : 0;
}

static inline uint16_t lm_pool_r_u16(struct lm_pool_rbuf *r)
{
	const uint8_t *b = lm_pool_r_take(r, 2);
	return b ? lm_be16_get(b) : 0;
}

static inline uint32_t lm_pool_r_u32(struct lm_pool_rbuf *r)
{
	const uint8_t *b = lm_pool_r_take(r, 4);
	return b ? lm_be32_get(b) : 0;
}

static inline uint64_t lm_pool_r_u64(struct lm_pool_rbuf *r)
{
	const uint8_t *b = lm_pool_r_take(r, 8);
	return b ? lm_be64_get(b) : 0;
}

/* Reads a string of n bytes into out (size bytes, NUL-terminated). */
static inline void lm_pool_r_strn(struct lm_pool_rbuf *r, size_t n, char *out, size_t size)
{
	const uint8_t *b = lm_pool_r_take(r, n);
	if (!b || n >= size || memchr(b, 0, n)) {
		r->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

static inline void lm_pool_r_str8(struct lm_pool_rbuf *r, char *out, size_t size)
{
	lm_pool_r_strn(r, lm_pool_r_u8(r), out, size);
}

static inline void lm_pool_r_str16(struct lm_pool_rbuf *r, char *out, size_t size)
{
	lm_pool_r_strn(r, lm_pool_r_u16(r), out, size);
}

/* pool.c: failures.  A handler of apply returns 0 after a denial (a
 * result), and one of these for a local failure (fatal to the server). */
int lm_pool_store_failed(struct lm_pool *p, int rc);
int lm_pool_corrupt(const char *what);
void lm_pool_deny(struct lm_pool_result *res, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* pool_record.c: keys, and the records of the meta, sessions, handles and
 * usage tables.  A load sets *found; a missing record is not an error. */
int lm_pool_version_key(const char *v, uint8_t out[LM_POOL_VKEY_LEN]);
size_t lm_pool_key(uint8_t out[LM_POOL_KEY_MAX], const char *feature,
                   const uint8_t vkey[LM_POOL_VKEY_LEN]);
int lm_pool_meta_get(struct lm_pool *p, const char *name, uint64_t dflt, uint64_t *out);
int lm_pool_meta_put(struct lm_pool *p, const char *name, uint64_t value);
/* The cluster id record, inside the caller's transaction: *known false when
 * there is none yet. */
int lm_pool_cluster_id_get(struct lm_pool *p, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known);
int lm_pool_cluster_id_put(struct lm_pool *p, const uint8_t id[LM_CLUSTER_ID_SIZE]);
bool lm_pool_cluster_id_valid(const uint8_t *id, size_t len);
int lm_pool_session_decode(uint64_t id, struct lm_val v, struct lm_pool_session_rec *s);
int lm_pool_session_load(struct lm_pool *p, uint64_t id, struct lm_pool_session_rec *s,
                         bool *found);
int lm_pool_session_store(struct lm_pool *p, const struct lm_pool_session_rec *s);
int lm_pool_handle_decode(uint64_t id, struct lm_val v, struct lm_pool_handle *h);
int lm_pool_handle_load(struct lm_pool *p, uint64_t id, struct lm_pool_handle *h, bool *found);
int lm_pool_usage_get(struct lm_pool *p, const uint8_t *key, size_t klen, uint32_t *in_use);
int lm_pool_handle_charge(struct lm_pool *p, const struct lm_pool_handle *h);
int lm_pool_handle_release(struct lm_pool *p, const struct lm_pool_handle *h);

/* pool_license.c: the license set, and the pools of the features table. */

/* One pool of a features record, decoded in place. */
struct lm_pool_def {
	uint8_t vkey[LM_POOL_VKEY_LEN];
	char version[LM_VERSION_MAX + 1];
	uint32_t nlines;
	const uint8_t *lines; /* nlines entries of LM_POOL_LINE_ENTRY_LEN bytes */
};

/* What the lines of a pool give on a day. */
struct lm_pool_state {
	uint32_t issued;     /* seats of the lines in their dates */
	uint32_t overdraft;  /* their OVERDRAFT seats, summed */
	bool active;         /* some line is in its dates */
	uint32_t line;       /* the backing line, when active */
	int32_t expiry;      /* latest expiry of all lines */
	int32_t next_start;  /* earliest START still ahead, or LM_DATE_NONE */
	int32_t last_expiry; /* latest expiry already past, or LM_DATE_NONE */
	uint8_t named_kind;  /* enum lm_named_kind of the lines in their dates */
	uint32_t named_max;  /* their USER_BASED/HOST_BASED/NAMED_USERS, summed */
	unsigned dup_group;  /* the backing line's DUP_GROUP (LM_DUP_*) */
};

struct lm_pool_parsed_line {
	struct lm_license lic;
	uint8_t vkey[LM_POOL_VKEY_LEN];
	uint32_t index;
};

int lm_pool_def_next(struct lm_pool_rbuf *r, struct lm_pool_def *d);
void lm_pool_def_eval(const struct lm_pool_def *d, int32_t today, struct lm_pool_state *st);
int lm_pool_lines_parse(Lmcmd__Line *const *lines, size_t n, struct lm_pool_parsed_line *out,
                        struct lm_pool_result *res);
/* Line i of the license set (lm_pool_line), read through the transaction
 * already open. */
int lm_pool_line_load(struct lm_pool *p, uint32_t i, char *text, size_t size,
                      uint8_t sig[LM_SIG_LEN]);
int lm_pool_lines_write(struct lm_pool *p, Lmcmd__Line *const *lines,
                        struct lm_pool_parsed_line *pl, size_t n);
int lm_pool_do_set_license(struct lm_pool *p, const Lmcmd__SetLicense *m,
                           struct lm_pool_result *res);

/* pool_policy.c: the options file served with the license set.  stage
 * parses text (NULL: no policy) against the n parsed lines of the same
 * command and writes it to the meta table; a text that does not parse
 * leaves a denial in res.  settle swaps the staged policy in after a
 * commit, or drops it.  decide answers lm_options_decide for session s,
 * gathering the feature's holdings when a rule counts seats. */
int lm_pool_policy_stage(struct lm_pool *p, const ProtobufCBinaryData *name,
                         const ProtobufCBinaryData *text, const struct lm_pool_parsed_line *pl,
                         size_t n, struct lm_pool_result *res);
void lm_pool_policy_settle(struct lm_pool *p, bool committed);
/* The overdraft seats a pool may lend: the lines' OVERDRAFT sum, capped by
 * the smallest MAX_OVERDRAFT that applies to (feature, version). */
uint32_t lm_pool_policy_overdraft(struct lm_pool *p, const char *feature, const char *version,
                                  uint32_t overdraft);

/* ---- pool_holdings.c ---- */

/* The seats of feature held now (committed, and as this transaction left
 * them): *out is the pool's copy, or scratch (zeroed by the caller, who
 * frees it with lm_pool_holdings_free_scratch) when the copy cannot be
 * kept. */
int lm_pool_holdings_get(struct lm_pool *p, const char *feature, struct lm_pool_holdings *scratch,
                         const struct lm_pool_holdings **out);
void lm_pool_holdings_free_scratch(struct lm_pool_holdings *scratch);
/* Called by lm_pool_handle_charge and _release once the store has them. */
void lm_pool_holdings_note_charge(struct lm_pool *p, const struct lm_pool_handle *h);
void lm_pool_holdings_note_release(struct lm_pool *p, const struct lm_pool_handle *h);
/* At the end of every write transaction: its changes reach the copies when
 * it committed, and are forgotten when not. */
void lm_pool_holdings_settle(struct lm_pool *p, bool committed);
/* Drops every copy (restore, close). */
void lm_pool_holdings_clear(struct lm_pool *p);
void lm_pool_policy_free(struct lm_pool *p);
int lm_pool_policy_text(struct lm_pool *p, struct lm_val *name, struct lm_val *text);
int lm_pool_policy_decide(struct lm_pool *p, const struct lm_pool_session *s, const char *feature,
                          const char *version, uint32_t count, uint32_t issued,
                          struct lm_opt_decision *out);

/* pool_seats.c: the commands that open and close sessions and move seats,
 * and the checks of a session's identity that restore shares. */
bool lm_pool_identity_copy(const Lmcmd__OpenSession *m, struct lm_pool_session_rec *s);
int lm_pool_do_open_session(struct lm_pool *p, int64_t now, const Lmcmd__OpenSession *m,
                            struct lm_pool_result *res);
int lm_pool_do_close_session(struct lm_pool *p, const Lmcmd__CloseSession *m,
                             struct lm_pool_result *res);
int lm_pool_do_checkout(struct lm_pool *p, int64_t now, const Lmcmd__Checkout *m,
                        struct lm_pool_result *res);
int lm_pool_do_checkin(struct lm_pool *p, const Lmcmd__Checkin *m, struct lm_pool_result *res);
int lm_pool_do_set_cluster_id(struct lm_pool *p, const Lmcmd__SetClusterId *m,
                              struct lm_pool_result *res);
int lm_pool_do_remove_handle(struct lm_pool *p, const Lmcmd__RemoveHandle *m,
                             struct lm_pool_result *res);

/* The pool a checkout is charged to. */
struct lm_pool_choice {
	uint8_t vkey[LM_POOL_VKEY_LEN];
	char version[LM_VERSION_MAX + 1];
	uint32_t line;
	uint32_t overdraft; /* of the seats asked for, those beyond the count */
	uint8_t named_kind; /* its lines' named users or hosts (pool_named.c) */
	uint32_t named_max;
	bool has_share; /* DUP_GROUP: the sharing group the handle joins */
	uint8_t share[LM_POOL_SHARE_LEN];
	/* A component of a PACKAGE (pool_package.c): its PACKAGE line. */
	bool has_package;
	uint32_t package_line;
};

/* The suite group of a component checkout (pool_package.c): sharing false
 * when SUITE_DUP_GROUP=NONE makes it share nothing. */
struct lm_pool_suite {
	bool sharing;
	uint8_t share[LM_POOL_SHARE_LEN];
};

/* Picks the pool of feature of smallest version >= want with count seats
 * free on day today (pool.h) that the policy lets s take, or leaves the
 * reason in res; vendor_data is the checkout's (DUP_GROUP=V).  suite, when
 * not NULL, is the sharing group the checkout joins instead of its line's
 * DUP_GROUP (a PACKAGE's SUITE). */
int lm_pool_choose(struct lm_pool *p, const struct lm_pool_session *s, const char *feature,
                   const char *want_text, const uint8_t want[LM_POOL_VKEY_LEN], uint32_t count,
                   const char *vendor_data, int32_t today, const struct lm_pool_suite *suite,
                   struct lm_pool_choice *c, struct lm_pool_result *res);

/* ---- pool_package.c: PACKAGE components and suites ---- */

/* Writes the components table from the n parsed lines (SetLicense). */
int lm_pool_package_write(struct lm_pool *p, const struct lm_pool_parsed_line *pl, size_t n);
/* After the pools of h->feature denied LMC_ENOFEATURE: the pool of a
 * PACKAGE listing h->feature as a component, chosen as lm_pool_choose does,
 * h->package and c filled; res keeps the denial when no package lists it. */
int lm_pool_package_choose(struct lm_pool *p, const struct lm_pool_session *s,
                           struct lm_pool_handle *h, uint32_t count, int32_t today,
                           struct lm_pool_choice *c, struct lm_pool_result *res);
/* The PACKAGE line of a granted component checkout into res (also for a
 * retry answered again, from its handle). */
int lm_pool_package_granted(struct lm_pool *p, struct lm_pool_result *res);

/* pool_named.c: named users and hosts.  admit lets s use feature, whose
 * chosen pool names kind with at most max names, adding s to the list when
 * there is room, or leaves a denial in res. */
int lm_pool_named_admit(struct lm_pool *p, int64_t now, const struct lm_pool_session *s,
                        const char *feature, uint8_t kind, uint32_t max,
                        struct lm_pool_result *res);
int lm_pool_do_remove_named(struct lm_pool *p, int64_t now, const Lmcmd__RemoveNamed *m,
                            struct lm_pool_result *res);
/* Every list, inside the caller's (read) transaction, for snapshots; and
 * back, into restore's transaction (LMC_EPROTO for a malformed entry). */
int lm_pool_named_walk(struct lm_pool *p, int (*fn)(void *arg, const struct lm_pool_named *n),
                       void *arg);
int lm_pool_named_restore(struct lm_pool *p, Lmcmd__PoolNamed *const *named, size_t n);
/* ---- pool_share.c: DUP_GROUP, checkouts that share one seat ---- */

/* The sharing group a checkout by s with vendor_data ("" for none) joins
 * under dup_group (LM_DUP_*): *shared false when the line shares nothing
 * (no DUP_GROUP, or NONE).  0 or LMC_ENOMEM. */
int lm_pool_share_name(unsigned dup_group, const struct lm_pool_session *s, const char *vendor_data,
                       bool *shared, uint8_t share[LM_POOL_SHARE_LEN]);
/* The seats the group share of pool pkey holds now: 0 when nobody holds
 * it. */
int lm_pool_share_seats(struct lm_pool *p, const uint8_t *pkey, size_t plen,
                        const uint8_t share[LM_POOL_SHARE_LEN], uint32_t *seats, uint32_t *holders);
/* Handle h joins its group (it has one) and *charge says how many seats it
 * adds to the pool: its count when it opens the group, 0 when it joins
 * one that holds enough.  leave is the reverse: *release is the group's
 * seats when h was its last holder, else 0. */
int lm_pool_share_join(struct lm_pool *p, const struct lm_pool_handle *h, const uint8_t *pkey,
                       size_t plen, uint32_t *charge);
int lm_pool_share_leave(struct lm_pool *p, const struct lm_pool_handle *h, const uint8_t *pkey,
                        size_t plen, uint32_t *release);

#endif
