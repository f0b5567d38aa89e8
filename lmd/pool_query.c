/* The pool's read-only queries, for the server's replies, lmstat and the
 * expiry of sessions. */
#include "lmd/pool.h"

#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

/* Queries read in a transaction of their own (or through the open one);
 * the callbacks they make may call other queries but not apply. */

int lm_pool_cluster_id(struct lm_pool *p, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known)
{
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_pool_cluster_id_get(p, id, known);
	lm_store_read_end(p->store);
	return rc;
}

int lm_pool_line(struct lm_pool *p, uint32_t i, char *text, size_t size, uint8_t sig[LM_SIG_LEN])
{
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_pool_line_load(p, i, text, size, sig);
	lm_store_read_end(p->store);
	return rc;
}

int lm_pool_session(struct lm_pool *p, uint64_t id, struct lm_pool_session *out)
{
	struct lm_pool_session_rec s;
	bool found;
	int rc;

	rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_pool_session_load(p, id, &s, &found);
	if (!rc && !found)
		rc = LMC_ENOSESSION;
	if (!rc)
		*out = s.pub;
	lm_store_read_end(p->store);
	return rc;
}

int lm_pool_handle(struct lm_pool *p, uint64_t handle, struct lm_pool_handle *out)
{
	bool found;
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_pool_handle_load(p, handle, out, &found);
	if (!rc && !found)
		rc = LMC_ENOHANDLE;
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
	struct lm_pool_session_rec s;

	if (key.len != 8 || lm_pool_session_decode(lm_be64_get(key.data), val, &s) != 0) {
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
		return lm_pool_store_failed(p, rc);
	rc = lm_store_scan(p->store, LM_DB_SESSIONS, NULL, 0, walk_session, &w);
	lm_store_read_end(p->store);
	if (w.corrupt)
		return LMC_EIO;
	return rc == LMC_EIO ? lm_pool_store_failed(p, rc) : rc;
}

static int walk_session_handle(void *arg, struct lm_val key, struct lm_val val)
{
	struct walk *w = arg;
	struct lm_pool_handle h;
	bool found;

	if (key.len != 16)
		goto bad;
	if (w->n < w->max) {
		if (lm_pool_handle_load(w->p, lm_be64_get((const uint8_t *)key.data + 8), &h,
		                        &found) != 0 ||
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
		return lm_pool_store_failed(p, rc);
	lm_be64_put(key, session_id);
	rc = lm_store_scan(p->store, LM_DB_BY_SESSION, key, sizeof key, walk_session_handle, &w);
	lm_store_read_end(p->store);
	if (w.corrupt)
		return LMC_EIO;
	if (rc)
		return lm_pool_store_failed(p, rc);
	return w.n;
}

/* One (feature, version) pool, gathered before the callbacks run so that
 * pools that only live on through held seats sort among the others. */
struct feature_entry {
	uint8_t key[LM_POOL_KEY_MAX];
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
	struct lm_pool_rbuf r = {.p = val.data, .len = val.len};
	struct lm_pool_def d;
	struct lm_pool_state st;
	char name[LM_NAME_MAX + 1];
	int more;

	if (key.len == 0 || key.len > LM_NAME_MAX || memchr(key.data, 0, key.len))
		goto bad;
	memcpy(name, key.data, key.len);
	name[key.len] = '\0';
	lm_pool_r_u16(&r);
	while ((more = lm_pool_def_next(&r, &d)) == 1) {
		struct feature_entry *e = features_add(fs);
		if (!e)
			return 1;
		lm_pool_def_eval(&d, fs->today, &st);
		e->klen = lm_pool_key(e->key, name, d.vkey);
		e->has_lines = true;
		memcpy(e->f.name, name, sizeof e->f.name);
		memcpy(e->f.version, d.version, sizeof e->f.version);
		e->f.issued = st.issued;
		e->f.overdraft = lm_pool_policy_overdraft(fs->p, name, d.version, st.overdraft);
		e->f.expiry = st.expiry;
		e->f.named_kind = st.named_kind;
		e->f.named_max = st.named_max;
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

	if (key.len <= LM_POOL_VKEY_LEN + 1 || key.len > LM_POOL_KEY_MAX || val.len != 4)
		goto bad;
	nlen = key.len - LM_POOL_VKEY_LEN - 1;
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
	e->f.in_use = lm_be32_get(val.data);
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
	    lm_pool_handle_load(hs->p, lm_be64_get((const uint8_t *)key.data + hs->plen), h,
	                        &found) != 0 ||
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
	struct lm_pool_session_rec s;
	bool found;

	if (load_holder(hs, key, &h) != 0)
		return 1;
	uint32_t seats;
	if (h.has_share &&
	    lm_pool_share_seats(hs->p, key.data, hs->plen, h.share, &seats, &h.sharers) != 0) {
		hs->corrupt = true;
		return 1;
	}
	if (lm_pool_session_load(hs->p, h.session_id, &s, &found) != 0 || !found) {
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
		return lm_pool_store_failed(p, rc);
	rc = lm_store_scan(p->store, LM_DB_FEATURES, NULL, 0, gather_feature, &fs);
	fs.sorted = fs.n;
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_USAGE, NULL, 0, gather_usage, &fs);
	if (fs.corrupt || fs.nomem || rc) {
		rc = fs.corrupt ? lm_pool_corrupt("features")
		     : fs.nomem ? LMC_ENOMEM
		                : lm_pool_store_failed(p, rc);
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
		rc = lm_pool_corrupt("by_pool");
	else if (rc == LMC_EIO)
		rc = lm_pool_store_failed(p, rc);
out:
	lm_store_read_end(p->store);
	free(fs.v);
	return rc;
}
