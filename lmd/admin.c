/* The administrators' requests: lmstat's status, lmremove, lmdown,
 * lmreread and lmreplace.  All but the status are accepted only from the
 * server's own machine unless lmd runs with --remote-admin. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/key.h"
#include "core/error.h"
#include "lmd/bootstrap.h"
#include "lmd/client_internal.h"
#include "lmd/licfile.h"
#include "lmd/log.h"

/* ---- status (lmstat) ---- */

/* Everything a StatusReply points to, freed after packing. */
struct status_build {
	struct lm_client *c;
	bool holders;
	const char *only;
	Lm__FeatureStatus **features;
	size_t nfeatures, cap;
	void **allocs;
	size_t nallocs, alloc_cap;
	bool oom;
};

static void *track(struct status_build *b, void *p)
{
	if (!p) {
		b->oom = true;
		return NULL;
	}
	if (b->nallocs == b->alloc_cap) {
		size_t cap = b->alloc_cap ? b->alloc_cap * 2 : 64;
		void **n = realloc(b->allocs, cap * sizeof *n);
		if (!n) {
			free(p);
			b->oom = true;
			return NULL;
		}
		b->allocs = n;
		b->alloc_cap = cap;
	}
	b->allocs[b->nallocs++] = p;
	return p;
}

static ProtobufCBinaryData tracked_bytes(struct status_build *b, const char *s)
{
	char *copy = track(b, strdup(s));
	return lm_bytes_from_cstr(copy ? copy : "");
}

static int status_feature(void *arg, const struct lm_pool_feature *f)
{
	struct status_build *b = arg;
	if (b->oom || (b->only && strcmp(b->only, f->name) != 0))
		return 0;
	if (b->nfeatures == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		Lm__FeatureStatus **n = realloc(b->features, cap * sizeof *n);
		if (!n) {
			b->oom = true;
			return 1;
		}
		b->features = n;
		b->cap = cap;
	}
	Lm__FeatureStatus *fs = track(b, malloc(sizeof *fs));
	if (!fs)
		return 1;
	lm__feature_status__init(fs);
	fs->has_name = fs->has_version = fs->has_issued = fs->has_in_use = fs->has_expiry = 1;
	fs->name = tracked_bytes(b, f->name);
	fs->version = tracked_bytes(b, f->version);
	fs->issued = f->issued;
	fs->in_use = f->in_use;
	fs->expiry = f->expiry;
	b->features[b->nfeatures++] = fs;
	return 0;
}

static int status_holder(void *arg, const struct lm_pool_handle *h,
                         const struct lm_pool_session *ps)
{
	struct status_build *b = arg;
	if (b->oom || !b->holders || b->nfeatures == 0 ||
	    (b->only && strcmp(b->only, h->feature) != 0))
		return 0;
	/* Holders are reported right after their feature. */
	Lm__FeatureStatus *fs = b->features[b->nfeatures - 1];
	Lm__Holder *ho = track(b, malloc(sizeof *ho));
	if (!ho)
		return 1;
	lm__holder__init(ho);
	ho->has_user = ho->has_host = ho->has_display = ho->has_count = ho->has_since = 1;
	ho->has_handle = ho->has_version = 1;
	ho->user = tracked_bytes(b, ps->user);
	ho->host = tracked_bytes(b, ps->host);
	ho->display = tracked_bytes(b, ps->display);
	ho->count = h->count;
	ho->since = h->since_us / 1000000;
	ho->handle = h->handle;
	ho->version = tracked_bytes(b, h->version);
	/* The array is freed with its feature in on_status. */
	Lm__Holder **n = realloc(fs->holders, (fs->n_holders + 1) * sizeof *n);
	if (!n) {
		b->oom = true;
		return 1;
	}
	fs->holders = n;
	fs->holders[fs->n_holders++] = ho;
	return 0;
}

void lm_client_on_status(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__StatusRequest *q = env->status_request;
	char only[LM_NAME_MAX + 1] = "";
	if (q->has_feature && q->feature.len)
		lm_bytes_to_cstr(&q->feature, only, sizeof only);
	struct status_build b = {
	        .c = c, .holders = q->has_holders && q->holders, .only = only[0] ? only : NULL};

	struct lm_cluster_status cs;
	uint8_t digest[LM_WIRE_DIGEST_LEN];
	lm_cluster_status(s->cluster, &cs);
	Lm__ServerStatus servers[3], *server_ptrs[3];
	int n = s->license.nservers;
	for (int i = 0; i < n; i++) {
		Lm__ServerStatus *ss = &servers[i];
		lm__server_status__init(ss);
		server_ptrs[i] = ss;
		ss->address = s->addresses[i];
		ss->has_role = 1;
		if ((unsigned)i + 1 == s->node) {
			ss->role = cs.role == LM_CLUSTER_LEADER
			                   ? LM__SERVER_ROLE__SERVER_ROLE_LEADER
			           : cs.role == LM_CLUSTER_FOLLOWER
			                   ? LM__SERVER_ROLE__SERVER_ROLE_FOLLOWER
			           : cs.role == LM_CLUSTER_CANDIDATE
			                   ? LM__SERVER_ROLE__SERVER_ROLE_CANDIDATE
			                   : LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN;
			ss->has_uptime_s = ss->has_term = ss->has_applied_index = 1;
			ss->uptime_s = (uv_now(s->loop) - s->started_ms) / 1000;
			ss->version = LM_SERVER_VERSION;
			ss->term = cs.term;
			ss->applied_index = cs.applied_index;
			ss->has_raft_id = ss->has_voter = 1;
			ss->raft_id = s->raft_id;
			ss->raft_address = s->raft_addresses[s->node - 1];
			ss->voter = cs.voter;
			ss->has_license_differs = 1;
			ss->license_differs = lm_server_license_differs(s);
			/* What a peer with no raft state asks (bootstrap.h). */
			ss->has_pristine = 1;
			ss->pristine = lm_bootstrap_pristine(s);
			ss->n_seen_raft_ids = s->datadir.nseen;
			ss->seen_raft_ids = s->datadir.seen;
			if (s->has_cluster_id) {
				ss->has_cluster_id = 1;
				ss->cluster_id.data = s->cluster_id;
				ss->cluster_id.len = sizeof s->cluster_id;
			}
			/* The digest is of the pool as applied up to applied_index:
			 * both are read in this same loop turn, with no apply in
			 * between. */
			if (q->has_digest && q->digest && lm_pool_digest(s->pool, digest) == 0) {
				ss->has_digest = 1;
				ss->digest.data = digest;
				ss->digest.len = sizeof digest;
			}
		} else {
			ss->role = lm_server_line_of(s, cs.leader_id) == (unsigned)i + 1
			                   ? LM__SERVER_ROLE__SERVER_ROLE_LEADER
			                   : LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN;
		}
	}
	int32_t today = (int32_t)(lm_server_now_us() / 1000000 / 86400);
	lm_pool_each_feature(s->pool, today, status_feature, status_holder, &b);
	if (b.oom) {
		lm_client_send_error(c, env->request_id, LMC_ENOMEM,
		                     "server out of memory building the status", false);
	} else {
		Lm__Envelope e;
		lm_envelope_init(&e, env->request_id);
		Lm__StatusReply r = LM__STATUS_REPLY__INIT;
		r.n_servers = (size_t)n;
		r.servers = server_ptrs;
		r.n_features = b.nfeatures;
		r.features = b.features;
		e.body_case = LM__ENVELOPE__BODY_STATUS_REPLY;
		e.status_reply = &r;
		if (lm__envelope__get_packed_size(&e) > LM_FRAME_REPLY_MAX)
			lm_client_send_error(
			        c, env->request_id, LMC_ETOOLARGE,
			        "status too large for one reply: ask for one feature (-f)", false);
		else
			lm_client_send(c, &e, false);
	}
	for (size_t i = 0; i < b.nfeatures; i++)
		free(b.features[i]->holders);
	for (size_t i = 0; i < b.nallocs; i++)
		free(b.allocs[i]);
	free(b.allocs);
	free(b.features);
}

/* ---- admin requests ---- */

static bool admin_allowed(struct lm_client *c, const Lm__Envelope *env)
{
	if (c->local || c->s->cfg.remote_admin)
		return true;
	lm_log("denied",
	       "peer=%s user=%s %s: admin requests come from this machine only "
	       "(start lmd with --remote-admin to allow others)",
	       c->peer, c->user, lm_body_name(env->body_case));
	lm_client_send_error(c, env->request_id, LMC_EDENIED,
	                     "admin requests are accepted from the server's own machine only (lmd "
	                     "--remote-admin allows others)",
	                     false);
	return false;
}

struct remove_match {
	const Lm__RemoveRequest *q;
	char feature[LM_NAME_MAX + 1];
	uint64_t handles[HANDLES_MAX];
	unsigned n;
};

static int remove_holder(void *arg, const struct lm_pool_handle *h,
                         const struct lm_pool_session *ps)
{
	struct remove_match *m = arg;
	const Lm__RemoveRequest *q = m->q;
	if (m->feature[0] && strcmp(m->feature, h->feature) != 0)
		return 0;
	if (q->has_handle && q->handle != h->handle)
		return 0;
	if (q->has_user && !lm_bytes_equal(&q->user, ps->user))
		return 0;
	if (q->has_host && !lm_bytes_equal(&q->host, ps->host))
		return 0;
	if (q->has_display && q->display.len && !lm_bytes_equal(&q->display, ps->display))
		return 0;
	for (unsigned i = 0; i < m->n; i++)
		if (m->handles[i] == h->handle)
			return 0;
	if (m->n < HANDLES_MAX)
		m->handles[m->n++] = h->handle;
	return 0;
}

static int no_feature(void *arg, const struct lm_pool_feature *f)
{
	return 0;
}

/* One handle of an lmremove returned; the reply, once all are, counts them. */
static void handle_removed(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_client *c = p->c;
	if (res->code == 0) {
		c->affected += res->count;
		lm_log("remove", "handle=%llu seats=%u by peer=%s", (unsigned long long)p->handle,
		       res->count, c->peer);
	}
	if (c->outstanding > 1 || !open)
		return;
	Lm__Envelope e;
	lm_envelope_init(&e, p->request_id);
	Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
	char msg[128];
	snprintf(msg, sizeof msg, "removed %u seat%s", c->affected, c->affected == 1 ? "" : "s");
	r.has_affected = 1;
	r.affected = c->affected;
	r.message = msg;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &r;
	lm_client_send(c, &e, false);
}

void lm_client_on_remove(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!admin_allowed(c, env))
		return;
	if (!s->ready) {
		lm_client_send_not_serving(c, env->request_id);
		return;
	}
	static struct remove_match m;
	memset(&m, 0, sizeof m);
	m.q = env->remove_request;
	if (m.q->has_feature)
		lm_bytes_to_cstr(&m.q->feature, m.feature, sizeof m.feature);
	int32_t today = (int32_t)(lm_server_now_us() / 1000000 / 86400);
	lm_pool_each_feature(s->pool, today, no_feature, remove_holder, &m);
	if (m.n == 0) {
		lm_client_send_error(c, env->request_id, LMC_ENOHANDLE,
		                     "no seat matches: check the names with `lmutil lmstat -a`",
		                     false);
		return;
	}
	c->affected = 0;
	c->outstanding = 0;
	for (unsigned i = 0; i < m.n; i++) {
		struct lm_request *p = lm_request_new(c, env, handle_removed);
		if (!p)
			break;
		p->handle = m.handles[i];
		Lmcmd__RemoveHandle rh = LMCMD__REMOVE_HANDLE__INIT;
		rh.has_handle = 1;
		rh.handle = m.handles[i];
		Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
		cmd.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
		cmd.remove_handle = &rh;
		if (lm_request_submit(p, &cmd) != 0)
			break;
	}
}

void lm_client_on_shutdown(struct lm_client *c, const Lm__Envelope *env)
{
	if (!admin_allowed(c, env))
		return;
	lm_log("stop", "shutdown requested by user=%s host=%s peer=%s", c->user, c->host, c->peer);
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
	r.message = "lmd is shutting down";
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &r;
	lm_client_send(c, &e, true);
	/* Stop once the loop has flushed the reply. */
	lm_server_stop(c->s);
}

/* ---- rereading the license (lmreread) ---- */

/* A reread reads, parses and verifies the file in the thread pool: a
 * license of four thousand lines takes hundreds of milliseconds to verify,
 * and whatever the path names (a FIFO, a file on a hung NFS mount) must
 * not stall the loop that serves every client.  The loop thread only swaps
 * the result in and proposes it.  One reread runs at a time, so that a file
 * that never answers holds one thread of the pool, never all of them (raft
 * writes its log through the same pool). */
struct reread {
	uv_work_t work;
	struct lm_client *c;
	uint64_t request_id;
	/* The worker's inputs, copied: it reads nothing of the server. */
	struct lm_licfile_rules rules;
	/* Its outputs. */
	int rc;
	struct lm_license_file f;
	char msg[1024];
};

static void reread_work(uv_work_t *w)
{
	struct reread *r = w->data;
	r->rc = lm_licfile_load(&r->rules, &r->f, r->msg, sizeof r->msg);
}

/* Every server of a triad reloads its own file: the leader proposes the
 * new license set, which every server then serves; a follower only keeps
 * the file, so that lmstat can say whether its copy matches the cluster's
 * (a new leader never proposes its file over the replicated set:
 * adopt_license() in server.c). */
static void reread_install(struct reread *r)
{
	struct lm_client *c = r->c;
	struct lm_server *s = c->s;
	char msg[600];
	size_t nlines = r->f.nlines;
	lm_license_free(&s->license);
	s->license = r->f;
	s->license_check_due = true;
	memset(&r->f, 0, sizeof r->f);
	if (s->ready) {
		int rc = lm_server_propose_license(s);
		if (rc != 0) {
			lm_client_send_error(c, r->request_id, rc, lmc_strerror(rc), false);
			return;
		}
		snprintf(msg, sizeof msg, "reloaded %zu license lines", nlines);
	} else {
		snprintf(msg, sizeof msg,
		         "reloaded %zu license lines (a follower: it serves them once it leads)",
		         nlines);
	}
	lm_log("reread", "%s: %zu license lines, requested by peer=%s%s", s->cfg.license_path,
	       nlines, c->peer, s->ready ? "" : " (follower)");
	Lm__Envelope e;
	lm_envelope_init(&e, r->request_id);
	Lm__AdminReply rep = LM__ADMIN_REPLY__INIT;
	rep.has_affected = 1;
	rep.affected = (uint32_t)nlines;
	rep.message = msg;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &rep;
	lm_client_send(c, &e, false);
}

static void reread_done(uv_work_t *w, int status)
{
	struct reread *r = w->data;
	struct lm_client *c = r->c;
	struct lm_server *s = c->s;
	s->rereading = false;
	if (status != 0 && r->rc == 0) {
		r->rc = LMC_EIO;
		snprintf(r->msg, sizeof r->msg, "the reread did not run: %s", uv_strerror(status));
	}
	if (r->rc != 0) {
		lm_log("reread",
		       "refused, still serving the previous license: %s (requested by "
		       "peer=%s)",
		       r->msg, c->peer);
		if (c->state != CONN_CLOSING) {
			char msg[1100];
			snprintf(msg, sizeof msg, "%s (still serving the previous license)",
			         r->msg);
			lm_client_send_error(c, r->request_id, r->rc, msg, false);
		}
	} else if (!s->stopping) {
		/* Installed even when the client has gone: the file was
		 * checked, and the administrator asked for it. */
		reread_install(r);
	}
	lm_license_free(&r->f);
	free(r);
	lm_client_finish_request(c);
	lm_client_unref(c);
}

void lm_client_on_reread(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!admin_allowed(c, env))
		return;
	if (s->rereading) {
		lm_client_send_error(c, env->request_id, LMC_ELIMIT,
		                     "a reread is already running: wait for it to end, then try "
		                     "again",
		                     false);
		return;
	}
	struct reread *r = calloc(1, sizeof *r);
	if (!r) {
		lm_client_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	r->c = c;
	r->request_id = env->request_id;
	r->work.data = r;
	r->rules = (struct lm_licfile_rules){.path = s->cfg.license_path,
	                                     .vendor_key = s->vendor_key,
	                                     .node = s->node,
	                                     .nservers = s->license.nservers};
	memcpy(r->rules.servers, s->license.servers, sizeof r->rules.servers);
	int rc = uv_queue_work(s->loop, &r->work, reread_work, reread_done);
	if (rc != 0) {
		free(r);
		lm_client_send_error(c, env->request_id, LMC_EIO, uv_strerror(rc), false);
		return;
	}
	s->rereading = true;
	/* Busy until the reread ends: the reply says how it ended. */
	c->busy = true;
	c->refs++;
}

/* ---- replacing a dead server (lmreplace) ---- */

struct replacing {
	struct lm_client *c;
	uint64_t request_id;
	unsigned node, old_id, new_id;
};

static void replace_done(void *arg, int status)
{
	struct replacing *p = arg;
	struct lm_client *c = p->c;
	struct lm_server *s = c->s;
	char msg[512];
	if (status == 0) {
		snprintf(msg, sizeof msg,
		         "SERVER line %u is now served by raft id %u (raft id %u removed)", p->node,
		         p->new_id, p->old_id);
		lm_log("replace", "%s", msg);
	} else {
		const char *why = s->cluster ? lm_cluster_errmsg(s->cluster) : "";
		snprintf(msg, sizeof msg,
		         "replacing raft id %u by %u for SERVER line %u failed: %s%s%s; run "
		         "lmreplace again",
		         p->old_id, p->new_id, p->node, lmc_strerror(status), *why ? ": " : "",
		         why);
		lm_log("error", "%s", msg);
	}
	if (c->state != CONN_CLOSING) {
		if (status == 0) {
			Lm__Envelope e;
			lm_envelope_init(&e, p->request_id);
			Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
			r.message = msg;
			e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
			e.admin_reply = &r;
			lm_client_send(c, &e, false);
		} else {
			lm_client_send_error(c, p->request_id,
			                     status == LM_CLUSTER_EUNKNOWN ? LMC_ENOTLEADER
			                                                   : status,
			                     msg, false);
		}
	}
	free(p);
	lm_client_finish_request(c);
	lm_client_unref(c);
}

void lm_client_on_replace(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__ReplaceRequest *q = env->replace_request;
	char msg[300];
	if (!admin_allowed(c, env))
		return;
	if (!s->ready) {
		lm_client_send_not_serving(c, env->request_id);
		return;
	}
	if (s->license.nservers != 3) {
		lm_client_send_error(c, env->request_id, LMC_EINVAL,
		                     "only a triad (three SERVER lines) has servers to replace",
		                     false);
		return;
	}
	unsigned node = q->node;
	if (q->new_id > UINT32_MAX || lm_server_line_of(s, (unsigned)q->new_id) != node) {
		snprintf(msg, sizeof msg,
		         "raft id %llu does not belong to SERVER line %u: is the server started "
		         "with --node %u --join?",
		         (unsigned long long)q->new_id, node, node);
		lm_client_send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	unsigned new_id = (unsigned)q->new_id;
	/* The member to remove is the one that serves the same line now.  None
	 * left means an earlier lmreplace removed it: `node` itself is then
	 * not a member either, and the replacement only has steps to finish. */
	struct lm_cluster_member members[8];
	int n = lm_cluster_members(s->cluster, members, 8);
	unsigned old_id = node;
	for (int i = 0; i < n && i < 8; i++)
		if (members[i].id != new_id && lm_server_line_of(s, members[i].id) == node)
			old_id = members[i].id;
	if (old_id == s->raft_id) {
		snprintf(msg, sizeof msg,
		         "SERVER line %u is served by this very server, the leader: lmreplace "
		         "replaces a dead server",
		         node);
		lm_client_send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	struct replacing *p = calloc(1, sizeof *p);
	if (!p) {
		lm_client_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	*p = (struct replacing){.c = c,
	                        .request_id = env->request_id,
	                        .node = node,
	                        .old_id = old_id,
	                        .new_id = new_id};
	int rc = lm_cluster_replace(s->cluster, old_id, new_id, q->new_address, replace_done, p);
	if (rc != 0) {
		free(p);
		if (rc == LMC_ENOTLEADER) {
			lm_client_send_not_serving(c, env->request_id);
			return;
		}
		snprintf(msg, sizeof msg, "cannot replace raft id %u by %u: %s", old_id, new_id,
		         *lm_cluster_errmsg(s->cluster) ? lm_cluster_errmsg(s->cluster)
		                                        : lmc_strerror(rc));
		lm_client_send_error(c, env->request_id, rc, msg, false);
		return;
	}
	lm_log("replace", "SERVER line %u: raft id %u at %s replaces raft id %u, by peer=%s", node,
	       new_id, q->new_address, old_id, c->peer);
	/* Busy until the change is done: the reply says how it ended. */
	c->busy = true;
	c->refs++;
}
