/* The records of the pool's tables (their formats are in
 * lmd/pool_internal.h): the keys they are filed under, the meta counters,
 * sessions, and handles with their two index entries and the seats in use
 * they add to their pool. */
#include "lmd/pool.h"

#include <assert.h>
#include <string.h>

#include "core/error.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

/* The version key: up to four parts of up to nine digits each (the rule of
 * lm_version_valid), missing parts 0, so that memcmp orders versions like
 * lm_version_compare.  Returns 0 or -1. */
int lm_pool_version_key(const char *v, uint8_t out[LM_POOL_VKEY_LEN])
{
	memset(out, 0, LM_POOL_VKEY_LEN);
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
		lm_be32_put(out + 4 * part, n);
		if (*v == '\0')
			return 0;
		if (*v++ != '.')
			return -1;
	}
	return -1;
}

size_t lm_pool_key(uint8_t out[LM_POOL_KEY_MAX], const char *feature,
                   const uint8_t vkey[LM_POOL_VKEY_LEN])
{
	size_t n = strlen(feature);
	assert(n <= LM_NAME_MAX);
	memcpy(out, feature, n);
	out[n] = 0;
	memcpy(out + n + 1, vkey, LM_POOL_VKEY_LEN);
	return n + 1 + LM_POOL_VKEY_LEN;
}

int lm_pool_meta_get(struct lm_pool *p, const char *name, uint64_t dflt, uint64_t *out)
{
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_META, name, strlen(name), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data) {
		*out = dflt;
		return 0;
	}
	if (v.len != 8)
		return lm_pool_corrupt("meta");
	*out = lm_be64_get(v.data);
	return 0;
}

int lm_pool_meta_put(struct lm_pool *p, const char *name, uint64_t value)
{
	uint8_t b[8];
	lm_be64_put(b, value);
	int rc = lm_store_put(p->store, LM_DB_META, name, strlen(name), b, sizeof b);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

int lm_pool_cluster_id_get(struct lm_pool *p, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known)
{
	const char *key = LM_POOL_KEY_CLUSTER_ID;
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_META, key, strlen(key), &v);
	*known = false;
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 0;
	if (v.len != LM_CLUSTER_ID_SIZE)
		return lm_pool_corrupt("cluster id");
	memcpy(id, v.data, LM_CLUSTER_ID_SIZE);
	*known = true;
	return 0;
}

int lm_pool_cluster_id_put(struct lm_pool *p, const uint8_t id[LM_CLUSTER_ID_SIZE])
{
	const char *key = LM_POOL_KEY_CLUSTER_ID;
	int rc = lm_store_put(p->store, LM_DB_META, key, strlen(key), id, LM_CLUSTER_ID_SIZE);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* An id of all zeros is what "none" looks like on the replication port
 * (lmd/transport.h): it cannot be an identity. */
bool lm_pool_cluster_id_valid(const uint8_t *id, size_t len)
{
	if (len != LM_CLUSTER_ID_SIZE)
		return false;
	for (size_t i = 0; i < len; i++)
		if (id[i] != 0)
			return true;
	return false;
}

int lm_pool_do_set_cluster_id(struct lm_pool *p, const Lmcmd__SetClusterId *m,
                              struct lm_pool_result *res)
{
	uint8_t old[LM_CLUSTER_ID_SIZE];
	bool known;

	if (!m->has_id || !lm_pool_cluster_id_valid(m->id.data, m->id.len)) {
		lm_pool_deny(res, LMC_EINVAL, "a cluster id is %d bytes, not all zero",
		             LM_CLUSTER_ID_SIZE);
		return 0;
	}
	int rc = lm_pool_cluster_id_get(p, old, &known);
	if (rc || known)
		return rc; /* the first one stays: a second leader raced the first */
	res->count = 1;
	return lm_pool_cluster_id_put(p, m->id.data);
}

static int session_encode(struct lm_pool *p, const struct lm_pool_session_rec *s, size_t *len)
{
	struct lm_pool_wbuf w = {.p = p->record, .cap = sizeof p->record};
	lm_pool_w_bytes(&w, s->pub.secret_digest, 32);
	lm_pool_w_u64(&w, (uint64_t)s->pub.opened_us);
	lm_pool_w_u32(&w, s->pub.pid);
	lm_pool_w_u32(&w, s->pub.nhandles);
	lm_pool_w_u64(&w, s->last_request);
	lm_pool_w_u32(&w, (uint32_t)s->last.code);
	lm_pool_w_u64(&w, s->last.handle);
	lm_pool_w_u32(&w, s->last.count);
	lm_pool_w_u32(&w, s->last.line);
	lm_pool_w_u32(&w, s->last.overdraft);
	lm_pool_w_str16(&w, s->last.message);
	lm_pool_w_str16(&w, s->pub.user);
	lm_pool_w_str16(&w, s->pub.host);
	lm_pool_w_str16(&w, s->pub.display);
	lm_pool_w_str16(&w, s->pub.lock_code);
	lm_pool_w_str16(&w, s->pub.app_version);
	lm_pool_w_str16(&w, s->pub.ip);
	lm_pool_w_str16(&w, s->pub.project);
	assert(!w.overflow);
	*len = w.len;
	return 0;
}

int lm_pool_session_decode(uint64_t id, struct lm_val v, struct lm_pool_session_rec *s)
{
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};
	const uint8_t *secret;

	memset(s, 0, sizeof *s);
	s->pub.id = id;
	secret = lm_pool_r_take(&r, 32);
	if (secret)
		memcpy(s->pub.secret_digest, secret, 32);
	s->pub.opened_us = (int64_t)lm_pool_r_u64(&r);
	s->pub.pid = lm_pool_r_u32(&r);
	s->pub.nhandles = lm_pool_r_u32(&r);
	s->last_request = lm_pool_r_u64(&r);
	s->last.code = (int32_t)lm_pool_r_u32(&r);
	s->last.handle = lm_pool_r_u64(&r);
	s->last.count = lm_pool_r_u32(&r);
	s->last.line = lm_pool_r_u32(&r);
	s->last.overdraft = lm_pool_r_u32(&r);
	lm_pool_r_str16(&r, s->last.message, sizeof s->last.message);
	lm_pool_r_str16(&r, s->pub.user, sizeof s->pub.user);
	lm_pool_r_str16(&r, s->pub.host, sizeof s->pub.host);
	lm_pool_r_str16(&r, s->pub.display, sizeof s->pub.display);
	lm_pool_r_str16(&r, s->pub.lock_code, sizeof s->pub.lock_code);
	lm_pool_r_str16(&r, s->pub.app_version, sizeof s->pub.app_version);
	lm_pool_r_str16(&r, s->pub.ip, sizeof s->pub.ip);
	lm_pool_r_str16(&r, s->pub.project, sizeof s->pub.project);
	if (r.bad || r.off != r.len)
		return lm_pool_corrupt("session");
	return 0;
}

/* Reads session id into *s; *found says whether it exists. */
int lm_pool_session_load(struct lm_pool *p, uint64_t id, struct lm_pool_session_rec *s, bool *found)
{
	uint8_t key[8];
	struct lm_val v;
	int rc;

	lm_be64_put(key, id);
	*found = false;
	rc = lm_store_get(p->store, LM_DB_SESSIONS, key, sizeof key, &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 0;
	*found = true;
	return lm_pool_session_decode(id, v, s);
}

int lm_pool_session_store(struct lm_pool *p, const struct lm_pool_session_rec *s)
{
	uint8_t key[8];
	size_t len;

	lm_be64_put(key, s->pub.id);
	session_encode(p, s, &len);
	int rc = lm_store_put(p->store, LM_DB_SESSIONS, key, sizeof key, p->record, len);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

int lm_pool_handle_decode(uint64_t id, struct lm_val v, struct lm_pool_handle *h)
{
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};

	memset(h, 0, sizeof *h);
	h->handle = id;
	h->session_id = lm_pool_r_u64(&r);
	h->count = lm_pool_r_u32(&r);
	h->overdraft = lm_pool_r_u32(&r);
	h->since_us = (int64_t)lm_pool_r_u64(&r);
	lm_pool_r_str8(&r, h->feature, sizeof h->feature);
	lm_pool_r_str8(&r, h->version, sizeof h->version);
	lm_pool_r_str8(&r, h->pool_version, sizeof h->pool_version);
	h->has_share = lm_pool_r_u8(&r) != 0;
	if (h->has_share) {
		const uint8_t *share = lm_pool_r_take(&r, LM_POOL_SHARE_LEN);
		if (share)
			memcpy(h->share, share, LM_POOL_SHARE_LEN);
	}
	lm_pool_r_str8(&r, h->vendor_data, sizeof h->vendor_data);
	lm_pool_r_str8(&r, h->package, sizeof h->package);
	if (r.bad || r.off != r.len)
		return lm_pool_corrupt("handle");
	return 0;
}

int lm_pool_handle_load(struct lm_pool *p, uint64_t id, struct lm_pool_handle *h, bool *found)
{
	uint8_t key[8];
	struct lm_val v;
	int rc;

	lm_be64_put(key, id);
	*found = false;
	rc = lm_store_get(p->store, LM_DB_HANDLES, key, sizeof key, &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 0;
	*found = true;
	return lm_pool_handle_decode(id, v, h);
}

/* The pool key a handle is charged to. */
static size_t handle_pool_key(const struct lm_pool_handle *h, uint8_t key[LM_POOL_KEY_MAX])
{
	uint8_t vkey[LM_POOL_VKEY_LEN];
	int rc = lm_pool_version_key(h->pool_version, vkey);
	assert(rc == 0); /* checked when the handle was made */
	(void)rc;
	/* A component's seats are its package's. */
	return lm_pool_key(key, h->package[0] ? h->package : h->feature, vkey);
}

int lm_pool_usage_get(struct lm_pool *p, const uint8_t *key, size_t klen, uint32_t *in_use)
{
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_USAGE, key, klen, &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	*in_use = 0;
	if (!v.data)
		return 0;
	if (v.len != 4)
		return lm_pool_corrupt("usage");
	*in_use = lm_be32_get(v.data);
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
		lm_be32_put(b, in_use);
		rc = lm_store_put(p->store, LM_DB_USAGE, key, klen, b, sizeof b);
	}
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* Records h and its index entries and counts its seats in use.  Returns
 * LMC_ETOOLARGE when the pool's counter would overflow (possible only from
 * a forged snapshot: checkout never grants beyond the issued seats). */
int lm_pool_handle_charge(struct lm_pool *p, const struct lm_pool_handle *h)
{
	uint8_t key[8], ikey[LM_POOL_KEY_MAX + 8], pkey[LM_POOL_KEY_MAX];
	size_t plen = handle_pool_key(h, pkey);
	struct lm_pool_wbuf w = {.p = p->record, .cap = sizeof p->record};
	uint32_t in_use, charge;
	int rc;

	rc = lm_pool_usage_get(p, pkey, plen, &in_use);
	if (rc)
		return rc;
	if (h->count > UINT32_MAX - in_use)
		return LMC_ETOOLARGE;
	/* DUP_GROUP: a handle that shares seats already held adds none. */
	rc = lm_pool_share_join(p, h, pkey, plen, &charge);
	if (rc)
		return rc;

	lm_pool_w_u64(&w, h->session_id);
	lm_pool_w_u32(&w, h->count);
	lm_pool_w_u32(&w, h->overdraft);
	lm_pool_w_u64(&w, (uint64_t)h->since_us);
	lm_pool_w_str8(&w, h->feature);
	lm_pool_w_str8(&w, h->version);
	lm_pool_w_str8(&w, h->pool_version);
	lm_pool_w_u8(&w, h->has_share);
	if (h->has_share)
		lm_pool_w_bytes(&w, h->share, LM_POOL_SHARE_LEN);
	lm_pool_w_str8(&w, h->vendor_data);
	lm_pool_w_str8(&w, h->package);
	assert(!w.overflow);
	lm_be64_put(key, h->handle);
	rc = lm_store_put(p->store, LM_DB_HANDLES, key, sizeof key, w.p, w.len);
	if (!rc) {
		lm_be64_put(ikey, h->session_id);
		lm_be64_put(ikey + 8, h->handle);
		rc = lm_store_put(p->store, LM_DB_BY_SESSION, ikey, 16, "", 0);
	}
	if (!rc) {
		memcpy(ikey, pkey, plen);
		lm_be64_put(ikey + plen, h->handle);
		rc = lm_store_put(p->store, LM_DB_BY_POOL, ikey, plen + 8, "", 0);
	}
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = usage_put(p, pkey, plen, in_use + charge);
	if (!rc)
		lm_pool_holdings_note_charge(p, h);
	return rc;
}

/* Forgets h and gives its seats back to its pool.  The session's handle
 * count is the caller's business. */
int lm_pool_handle_release(struct lm_pool *p, const struct lm_pool_handle *h)
{
	uint8_t key[8], ikey[LM_POOL_KEY_MAX + 8], pkey[LM_POOL_KEY_MAX];
	size_t plen = handle_pool_key(h, pkey);
	bool f1, f2, f3;
	uint32_t in_use, release;
	int rc;

	lm_be64_put(key, h->handle);
	rc = lm_store_del(p->store, LM_DB_HANDLES, key, sizeof key, &f1);
	if (!rc) {
		lm_be64_put(ikey, h->session_id);
		lm_be64_put(ikey + 8, h->handle);
		rc = lm_store_del(p->store, LM_DB_BY_SESSION, ikey, 16, &f2);
	}
	if (!rc) {
		memcpy(ikey, pkey, plen);
		lm_be64_put(ikey + plen, h->handle);
		rc = lm_store_del(p->store, LM_DB_BY_POOL, ikey, plen + 8, &f3);
	}
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!f1 || !f2 || !f3)
		return lm_pool_corrupt("handle index");
	/* DUP_GROUP: the seats stay while another handle shares them. */
	rc = lm_pool_share_leave(p, h, pkey, plen, &release);
	if (!rc)
		rc = lm_pool_usage_get(p, pkey, plen, &in_use);
	if (rc)
		return rc;
	if (in_use < release)
		return lm_pool_corrupt("usage");
	rc = usage_put(p, pkey, plen, in_use - release);
	if (!rc)
		lm_pool_holdings_note_release(p, h);
	return rc;
}
