/* The pool as one buffer and back (raft's snapshots), and the digest of
 * its content that the triad tests compare between servers. */
#include "lmd/pool.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/license.h"
#include "core/log.h"
#include "core/vendor_data.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"
#include "proto/command.pb-c.h"
#include "proto/envelope.h"

#define SNAPSHOT_FORMAT 1

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
	struct lm_pool_session_rec s;

	if (key.len != 8 || lm_pool_session_decode(lm_be64_get(key.data), val, &s) != 0) {
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
	set_text(&id.has_ip, &id.ip, s.pub.ip);
	set_text(&id.has_project, &id.project, s.pub.project);
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
	ps.has_last_overdraft = s.last.overdraft != 0;
	ps.last_overdraft = s.last.overdraft;
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

	if (key.len != 8 || lm_pool_handle_decode(lm_be64_get(key.data), val, &h) != 0) {
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
	ph.has_overdraft = h.overdraft != 0;
	ph.overdraft = h.overdraft;
	ph.has_share = h.has_share;
	ph.share.data = h.share;
	ph.share.len = h.has_share ? LM_POOL_SHARE_LEN : 0;
	set_text(&ph.has_vendor_data, &ph.vendor_data, h.vendor_data);
	if (h.package[0])
		set_text(&ph.has_package, &ph.package, h.package);
	one.n_handles = 1;
	one.handles = handles;
	snap_emit(sn, &one);
	return 0;
}

static int snap_named(void *arg, const struct lm_pool_named *nm)
{
	struct snap *sn = arg;
	Lmcmd__PoolSnapshot one = LMCMD__POOL_SNAPSHOT__INIT;
	Lmcmd__PoolNamed pn = LMCMD__POOL_NAMED__INIT, *named[1] = {&pn};
	set_text(&pn.has_feature, &pn.feature, nm->feature);
	set_text(&pn.has_name, &pn.name, nm->name);
	pn.has_kind = pn.has_added_us = 1;
	pn.kind = nm->kind;
	pn.added_us = nm->added_us;
	one.n_named = 1;
	one.named = named;
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
	uint8_t cluster_id[LM_CLUSTER_ID_SIZE];
	bool has_cluster_id = false;
	struct lm_val options_name = {0}, options_text = {0};
	uint64_t next_handle;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_pool_meta_get(p, LM_POOL_KEY_NEXT_HANDLE, 1, &next_handle);
	if (!rc)
		rc = lm_pool_cluster_id_get(p, cluster_id, &has_cluster_id);
	if (!rc) {
		head.has_format = 1;
		head.format = SNAPSHOT_FORMAT;
		head.has_next_handle = 1;
		head.next_handle = next_handle;
		head.has_cluster_id = has_cluster_id;
		head.cluster_id = bin(cluster_id, sizeof cluster_id);
		rc = lm_pool_policy_text(p, &options_name, &options_text);
	}
	if (!rc) {
		if (options_text.data) {
			head.has_options_name = head.has_options_text = 1;
			head.options_name = bin(options_name.data, options_name.len);
			head.options_text = bin(options_text.data, options_text.len);
		}
		snap_emit(&sn, &head);
		rc = lm_store_scan(p->store, LM_DB_LINES, NULL, 0, snap_line, &sn);
	}
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_SESSIONS, NULL, 0, snap_session, &sn);
	if (!rc)
		rc = lm_store_scan(p->store, LM_DB_HANDLES, NULL, 0, snap_handle, &sn);
	if (!rc)
		rc = lm_pool_named_walk(p, snap_named, &sn);
	lm_store_read_end(p->store);
	if (sn.corrupt)
		rc = lm_pool_corrupt("snapshot source");
	else if (rc < 0)
		rc = rc == LMC_EIO ? lm_pool_store_failed(p, rc) : rc;
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
 * line in the log): it came from a node that does not run our format. */
static int bad_snapshot(const char *why)
{
	lm_log_error("pool: refusing snapshot: %s", why);
	return LMC_EPROTO;
}

static int restore_sessions(struct lm_pool *p, const Lmcmd__PoolSnapshot *snap)
{
	for (size_t i = 0; i < snap->n_sessions; i++) {
		const Lmcmd__PoolSession *ps = snap->sessions[i];
		struct lm_pool_session_rec s, old;
		bool found;
		int rc;

		if (!ps->identity || !lm_pool_identity_copy(ps->identity, &s) ||
		    lm_bytes_opt_to_cstr(ps->has_last_message, &ps->last_message, s.last.message,
		                         sizeof s.last.message) != 0 ||
		    ps->last_code > 0 || ps->last_code < LMC_ERROR_MIN)
			return bad_snapshot("a session is malformed");
		rc = lm_pool_session_load(p, s.pub.id, &old, &found);
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
		s.last.overdraft = ps->has_last_overdraft ? ps->last_overdraft : 0;
		if (s.last.overdraft > s.last.count)
			return bad_snapshot("a session's last overdraft exceeds its count");
		rc = lm_pool_session_store(p, &s);
		if (rc)
			return rc;
	}
	return 0;
}

static bool version_ok(const char *v)
{
	uint8_t vkey[LM_POOL_VKEY_LEN];
	return lm_version_valid(v) && lm_pool_version_key(v, vkey) == 0;
}

static int restore_handles(struct lm_pool *p, const Lmcmd__PoolSnapshot *snap, uint64_t next_handle)
{
	for (size_t i = 0; i < snap->n_handles; i++) {
		const Lmcmd__PoolHandle *ph = snap->handles[i];
		struct lm_pool_handle h = {0}, old;
		struct lm_pool_session_rec s;
		bool found;
		int rc;

		if (!ph->has_handle || ph->handle == 0 || ph->handle >= next_handle ||
		    !ph->has_count || ph->count == 0 || ph->count > LM_CHECKOUT_COUNT_MAX ||
		    !ph->has_feature || ph->feature.len == 0 ||
		    lm_bytes_opt_to_cstr(ph->has_feature, &ph->feature, h.feature,
		                         sizeof h.feature) != 0 ||
		    lm_bytes_opt_to_cstr(ph->has_version, &ph->version, h.version,
		                         sizeof h.version) != 0 ||
		    lm_bytes_opt_to_cstr(ph->has_pool_version, &ph->pool_version, h.pool_version,
		                         sizeof h.pool_version) != 0 ||
		    !version_ok(h.version) || !version_ok(h.pool_version))
			return bad_snapshot("a handle is malformed");
		h.handle = ph->handle;
		h.session_id = ph->session_id;
		h.count = ph->count;
		h.since_us = ph->since_us;
		h.overdraft = ph->has_overdraft ? ph->overdraft : 0;
		if (h.overdraft > h.count)
			return bad_snapshot("a handle's overdraft exceeds its count");
		if (ph->has_share) {
			if (ph->share.len != LM_POOL_SHARE_LEN)
				return bad_snapshot("a handle's sharing group is malformed");
			h.has_share = true;
			memcpy(h.share, ph->share.data, LM_POOL_SHARE_LEN);
		}
		if (lm_bytes_opt_to_cstr(ph->has_vendor_data, &ph->vendor_data, h.vendor_data,
		                         sizeof h.vendor_data) != 0 ||
		    !lm_vendor_data_valid(h.vendor_data, strlen(h.vendor_data)))
			return bad_snapshot("a handle's vendor data is malformed");
		if (lm_bytes_opt_to_cstr(ph->has_package, &ph->package, h.package,
		                         sizeof h.package) != 0)
			return bad_snapshot("a handle's package is malformed");
		rc = lm_pool_handle_load(p, h.handle, &old, &found);
		if (rc)
			return rc;
		if (found)
			return bad_snapshot("a handle appears twice");
		rc = lm_pool_session_load(p, h.session_id, &s, &found);
		if (rc)
			return rc;
		if (!found || s.pub.nhandles >= LM_POOL_HANDLES_PER_SESSION_MAX)
			return bad_snapshot("a handle names a missing or full session");
		rc = lm_pool_handle_charge(p, &h);
		if (rc == LMC_ETOOLARGE)
			return bad_snapshot("a pool's seats in use overflow");
		if (rc)
			return rc;
		s.pub.nhandles++;
		rc = lm_pool_session_store(p, &s);
		if (rc)
			return rc;
	}
	return 0;
}

int lm_pool_restore(struct lm_pool *p, uint64_t index, const void *buf, size_t len)
{
	struct lm_pool_result res = {0};
	struct lm_pool_parsed_line *pl = NULL;
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
	    snap->n_lines > LM_LICENSE_LINES_MAX || snap->n_sessions > LM_POOL_SESSIONS_MAX ||
	    (snap->has_cluster_id &&
	     !lm_pool_cluster_id_valid(snap->cluster_id.data, snap->cluster_id.len))) {
		rc = bad_snapshot("counters out of range");
		goto out;
	}
	pl = calloc(snap->n_lines ? snap->n_lines : 1, sizeof *pl);
	if (!pl) {
		rc = LMC_ENOMEM;
		goto out;
	}
	rc = lm_pool_lines_parse(snap->lines, snap->n_lines, pl, &res);
	if (rc)
		goto out;
	if (res.code) {
		rc = bad_snapshot(res.message);
		goto out;
	}

	/* Everything in one transaction: a snapshot refused half-way leaves
	 * the pool as it was. */
	/* Every seat is about to be replaced: the copies are read anew. */
	lm_pool_holdings_clear(p);
	rc = lm_store_begin(p->store);
	if (rc) {
		rc = lm_pool_store_failed(p, rc);
		goto out;
	}
	rc = lm_store_clear(p->store);
	if (rc)
		rc = lm_pool_store_failed(p, rc);
	if (!rc)
		rc = lm_pool_lines_write(p, snap->lines, pl, snap->n_lines);
	if (!rc)
		rc = restore_sessions(p, snap);
	if (!rc)
		rc = restore_handles(p, snap, snap->next_handle);
	/* An absent counter means 1, as in a new pool: written only once it
	 * moved, so that a restored empty pool is the same as a new one. */
	if (!rc && snap->next_handle > 1)
		rc = lm_pool_meta_put(p, LM_POOL_KEY_NEXT_HANDLE, snap->next_handle);
	if (!rc && snap->has_cluster_id)
		rc = lm_pool_cluster_id_put(p, snap->cluster_id.data);
	if (!rc) {
		rc = lm_pool_named_restore(p, snap->named, snap->n_named);
		if (rc == LMC_EPROTO)
			rc = bad_snapshot("a named user or host is malformed");
	}
	if (!rc) {
		rc = lm_pool_policy_stage(p, snap->has_options_name ? &snap->options_name : NULL,
		                          snap->has_options_text ? &snap->options_text : NULL, pl,
		                          snap->n_lines, &res);
		if (!rc && res.code)
			rc = bad_snapshot(res.message);
	}
	if (!rc)
		rc = lm_pool_meta_put(p, LM_POOL_KEY_APPLIED, index);
	if (rc) {
		lm_store_abort(p->store);
		lm_pool_policy_settle(p, false);
		lm_pool_holdings_settle(p, false);
		goto out;
	}
	rc = lm_store_commit(p->store);
	lm_pool_policy_settle(p, rc == 0);
	lm_pool_holdings_settle(p, rc == 0);
	if (rc) {
		rc = lm_pool_store_failed(p, rc);
		goto out;
	}
	p->applied = index;
out:
	free(pl);
	lmcmd__pool_snapshot__free_unpacked(snap, NULL);
	return rc;
}

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
	if (h->db == LM_DB_META && key.len == strlen(LM_POOL_KEY_APPLIED) &&
	    memcmp(key.data, LM_POOL_KEY_APPLIED, key.len) == 0)
		return 0;
	head[0] = h->db;
	lm_be32_put(head + 1, (uint32_t)key.len);
	lm_be32_put(head + 5, (uint32_t)val.len);
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
		return lm_pool_store_failed(p, rc);
	}
	for (int db = 0; db < LM_DB_COUNT && !rc; db++) {
		h.db = (uint8_t)db;
		rc = lm_store_scan(p->store, (enum lm_store_db)db, NULL, 0, hash_record, &h);
	}
	lm_store_read_end(p->store);
	if (h.failed)
		rc = LMC_ENOMEM;
	else if (rc)
		rc = lm_pool_store_failed(p, rc);
	else if (!EVP_DigestFinal_ex(h.ctx, digest, &n) || n != 32)
		rc = LMC_ENOMEM;
	EVP_MD_CTX_free(h.ctx);
	return rc;
}
