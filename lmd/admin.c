/* The administrators' requests: lmremove, lmdown, lmreread and lmreplace,
 * accepted only from an admin (admin_auth.h: the admin socket's root and
 * admin group, or a request signed with an admin key); lmstat's status,
 * open to all, is in admin_status.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/admin.h"
#include "lmd/admin_auth.h"
#include "lmd/command.h"
#include "lmd/connection.h"
#include "lmd/daemon.h"
#include "lmd/licfile.h"
#include "lmd/walltime.h"

/* ---- admin requests ---- */

struct remove_match {
	const Lm__RemoveRequest *q;
	char feature[LM_NAME_MAX + 1];
	uint64_t handles[LM_CONNECTION_HANDLES_MAX];
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
	if (m->n < LM_CONNECTION_HANDLES_MAX)
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
	struct lm_connection *c = p->c;
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
	lm_connection_send(c, &e, false);
}

/* `lmutil named-user remove`: the pool's answer, as it decided it. */
static void named_removed(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	if (res->code == 0)
		lm_log("remove", "%s, by peer=%s", res->message, c->peer);
	if (!open)
		return;
	if (res->code != 0) {
		lm_connection_send_error(c, p->request_id, res->code, res->message, false);
		return;
	}
	Lm__Envelope e;
	lm_envelope_init(&e, p->request_id);
	Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
	r.has_affected = 1;
	r.affected = res->count;
	r.message = res->message;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &r;
	lm_connection_send(c, &e, false);
}

/* The hold travels in the command, so that every server of a triad decides
 * with the leader's --named-user-hold. */
static void remove_named(struct lm_connection *c, const Lm__Envelope *env)
{
	const Lm__RemoveRequest *q = env->remove_request;
	char feature[LM_NAME_MAX + 1], name[LM_POOL_NAMED_NAME_MAX + 1];
	if (lm_bytes_to_cstr(&q->feature, feature, sizeof feature) != 0 ||
	    lm_bytes_to_cstr(&q->named, name, sizeof name) != 0) {
		lm_connection_send_error(c, env->request_id, LMC_EINVAL, "feature or name too long",
		                         false);
		return;
	}
	struct lm_request *p = lm_request_new(c, env, named_removed);
	if (!p)
		return;
	struct lm_command cmd;
	lm_command_remove_named(&cmd, feature, name, (int64_t)c->s->cfg.named_hold_s * 1000000);
	lm_request_submit(p, &cmd); /* answers the client itself on failure */
	lm_command_release(&cmd);
}

static void on_remove(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!lm_admin_auth_check(c, env))
		return;
	if (!s->ready) {
		lm_connection_send_not_serving(c, env->request_id);
		return;
	}
	if (env->remove_request->has_named) {
		remove_named(c, env);
		return;
	}
	static struct remove_match m;
	memset(&m, 0, sizeof m);
	m.q = env->remove_request;
	if (m.q->has_feature)
		lm_bytes_to_cstr(&m.q->feature, m.feature, sizeof m.feature);
	int32_t today = (int32_t)(lm_walltime_us() / 1000000 / 86400);
	lm_pool_each_feature(s->pool, today, no_feature, remove_holder, &m);
	if (m.n == 0) {
		lm_connection_send_error(c, env->request_id, LMC_ENOHANDLE,
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
		struct lm_command cmd;
		lm_command_remove_handle(&cmd, m.handles[i], LMCMD__REMOVE_REASON__REMOVE_ADMIN, 0);
		int rc = lm_request_submit(p, &cmd);
		lm_command_release(&cmd);
		if (rc != 0)
			break;
	}
}

static void on_shutdown(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!lm_admin_auth_check(c, env))
		return;
	lm_log("stop", "shutdown requested by user=%s host=%s peer=%s", c->user, c->host, c->peer);
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
	r.message = "lmd is shutting down";
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &r;
	lm_connection_send(c, &e, true);
	/* Stop once the loop has flushed the reply. */
	lm_daemon_stop(c->s);
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
	struct lm_connection *c;
	uint64_t request_id;
	/* The worker's inputs, copied: it reads nothing of the server. */
	struct lm_licfile_rules rules;
	/* Its outputs. */
	int rc;
	struct lm_license_file f;
	struct lm_options *options;
	char msg[1024];
};

/* License and options file together: either both are served, or neither
 * (a broken options file keeps the old license too). */
static void reread_work(uv_work_t *w)
{
	struct reread *r = w->data;
	r->rc = lm_licfile_load(&r->rules, &r->f, r->msg, sizeof r->msg);
	if (r->rc == 0) {
		/* Room left for " (still serving the previous license)" within
		 * the reply's text limit. */
		r->rc = lm_licfile_options(&r->rules, &r->f, &r->options, r->msg,
		                           sizeof r->msg - 64);
		if (r->rc != 0)
			lm_license_free(&r->f);
	}
}

/* What lmreread answers: the lines now served, and the first line left out. */
static void reread_message(const struct lm_server *s, char *msg, size_t size)
{
	const struct lm_license_file *f = &s->license;
	char skipped[LM_NAME_MAX + LM_MESSAGE_MAX + 128] = "";
	if (f->nskipped > 0)
		snprintf(
		        skipped, sizeof skipped,
		        "; %zu line%s left out (line %d: %s %s: %s; `lmutil lmstat -a --lmd` lists "
		        "them)",
		        f->nskipped, f->nskipped == 1 ? "" : "s", f->skipped[0].lineno,
		        f->skipped[0].type, f->skipped[0].name, f->skipped[0].message);
	snprintf(msg, size, "reloaded %zu license lines%s%s", f->nlines, skipped,
	         s->ready ? "" : " (a follower: it serves them once it leads)");
}

static void reread_reply(struct lm_connection *c, uint64_t request_id)
{
	char msg[1024];
	reread_message(c->s, msg, sizeof msg);
	Lm__Envelope e;
	lm_envelope_init(&e, request_id);
	Lm__AdminReply rep = LM__ADMIN_REPLY__INIT;
	rep.has_affected = 1;
	rep.affected = (uint32_t)c->s->license.nlines;
	rep.message = msg;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &rep;
	lm_connection_send(c, &e, false);
}

/* The leader answers once the new set has committed, so that a client
 * served after `lmutil lmreread` returns is served by the new license and
 * policy on every server of the triad, never by the previous ones. */
static void reread_committed(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_server *s = p->c->s;
	lm_log("license", "serving %zu license lines from %s", s->license.nlines,
	       s->cfg.license_path);
	if (open)
		reread_reply(p->c, p->request_id);
}

/* Every server of a triad reloads its own file: the leader proposes the
 * new license set, which every server then serves; a follower only keeps
 * the file, so that lmstat can say whether its copy matches the cluster's
 * (a new leader never proposes its file over the replicated set:
 * lm_server_adopt_license() in server_license.c). */
static void reread_install(struct reread *r)
{
	struct lm_connection *c = r->c;
	struct lm_server *s = c->s;
	lm_license_free(&s->license);
	s->license = r->f;
	s->license_check_due = true;
	memset(&r->f, 0, sizeof r->f);
	lm_options_free(s->options);
	s->options = r->options;
	r->options = NULL;
	lm_log("reread", "%s: %zu license lines, requested by peer=%s%s", s->cfg.license_path,
	       s->license.nlines, c->peer, s->ready ? "" : " (follower)");
	if (!s->ready) {
		reread_reply(c, r->request_id);
		return;
	}
	Lm__Envelope env;
	lm_envelope_init(&env, r->request_id);
	struct lm_request *p = lm_request_new(c, &env, reread_committed);
	if (!p)
		return;
	struct lm_command cmd;
	lm_command_set_license(&cmd, &s->license, s->options);
	lm_request_submit(p, &cmd); /* answers the client itself on failure */
	lm_command_release(&cmd);
}

static void reread_done(uv_work_t *w, int status)
{
	struct reread *r = w->data;
	struct lm_connection *c = r->c;
	struct lm_server *s = c->s;
	s->rereading = false;
	if (status != 0 && r->rc == 0) {
		r->rc = LMC_EIO;
		snprintf(r->msg, sizeof r->msg, "the reread did not run: %s", uv_strerror(status));
	}
	if (r->rc != 0) {
		/* Handled (the previous license serves on), and yet the
		 * administrator's file needs a look: a warning. */
		lm_log_at(LM_LOG_WARNING, "reread",
		          "refused, still serving the previous license: %s (requested by "
		          "peer=%s)",
		          r->msg, c->peer);
		if (c->state != LM_CONNECTION_CLOSING) {
			char msg[1100];
			snprintf(msg, sizeof msg, "%s (still serving the previous license)",
			         r->msg);
			lm_connection_send_error(c, r->request_id, r->rc, msg, false);
		}
	} else if (!s->stopping) {
		/* Installed even when the client has gone: the file was
		 * checked, and the administrator asked for it. */
		reread_install(r);
	}
	lm_license_free(&r->f);
	lm_options_free(r->options);
	free(r);
	/* A committing set finishes the request when it has committed. */
	if (c->outstanding == 0)
		lm_connection_finish_request(c);
	lm_connection_unref(c);
}

static void on_reread(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!lm_admin_auth_check(c, env))
		return;
	if (s->rereading) {
		lm_connection_send_error(
		        c, env->request_id, LMC_ELIMIT,
		        "a reread is already running: wait for it to end, then try "
		        "again",
		        false);
		return;
	}
	struct reread *r = calloc(1, sizeof *r);
	if (!r) {
		lm_connection_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory",
		                         false);
		return;
	}
	r->c = c;
	r->request_id = env->request_id;
	r->work.data = r;
	r->rules = (struct lm_licfile_rules){.path = s->cfg.license_path,
	                                     .vendor_key = s->vendor_key,
	                                     .node = s->node,
	                                     .nservers = s->license.nservers,
	                                     .options_path = s->cfg.options_path};
	memcpy(r->rules.servers, s->license.servers, sizeof r->rules.servers);
	int rc = uv_queue_work(s->loop, &r->work, reread_work, reread_done);
	if (rc != 0) {
		free(r);
		lm_connection_send_error(c, env->request_id, LMC_EIO, uv_strerror(rc), false);
		return;
	}
	s->rereading = true;
	/* Busy until the reread ends: the reply says how it ended. */
	c->busy = true;
	c->refs++;
}

/* ---- replacing a dead server (lmreplace) ---- */

struct replacing {
	struct lm_connection *c;
	uint64_t request_id;
	unsigned node, old_id, new_id;
};

static void replace_done(void *arg, int status)
{
	struct replacing *p = arg;
	struct lm_connection *c = p->c;
	struct lm_server *s = c->s;
	char msg[512];
	if (status == 0) {
		snprintf(msg, sizeof msg,
		         "SERVER line %u is now served by raft id %u (raft id %u removed)", p->node,
		         p->new_id, p->old_id);
		lm_log("replace", "%s", msg);
	} else {
		const char *why = lm_server_cluster_error(s);
		snprintf(msg, sizeof msg,
		         "replacing raft id %u by %u for SERVER line %u failed: %s%s%s; run "
		         "lmreplace again",
		         p->old_id, p->new_id, p->node, lmc_strerror(status), *why ? ": " : "",
		         why);
		lm_log_error("%s", msg);
	}
	if (c->state != LM_CONNECTION_CLOSING) {
		if (status == 0) {
			Lm__Envelope e;
			lm_envelope_init(&e, p->request_id);
			Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
			r.message = msg;
			e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
			e.admin_reply = &r;
			lm_connection_send(c, &e, false);
		} else {
			lm_connection_send_error(c, p->request_id,
			                         status == LMC_EINDOUBT ? LMC_ENOTLEADER : status,
			                         msg, false);
		}
	}
	free(p);
	lm_connection_finish_request(c);
	lm_connection_unref(c);
}

static void on_replace(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__ReplaceRequest *q = env->replace_request;
	char msg[300];
	if (!lm_admin_auth_check(c, env))
		return;
	if (!s->ready) {
		lm_connection_send_not_serving(c, env->request_id);
		return;
	}
	if (s->license.nservers != 3) {
		lm_connection_send_error(c, env->request_id, LMC_EINVAL,
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
		lm_connection_send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	unsigned new_id = (unsigned)q->new_id;
	/* The member to remove is the one that serves the same line now.  None
	 * left means an earlier lmreplace removed it: `node` itself is then
	 * not a member either, and the replacement only has steps to finish. */
	struct lm_cluster_member members[8];
	int n = lm_server_members(s, members, 8);
	unsigned old_id = node;
	for (int i = 0; i < n && i < 8; i++)
		if (members[i].id != new_id && lm_server_line_of(s, members[i].id) == node)
			old_id = members[i].id;
	if (old_id == s->raft_id) {
		snprintf(msg, sizeof msg,
		         "SERVER line %u is served by this very server, the leader: lmreplace "
		         "replaces a dead server",
		         node);
		lm_connection_send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	struct replacing *p = calloc(1, sizeof *p);
	if (!p) {
		lm_connection_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory",
		                         false);
		return;
	}
	*p = (struct replacing){.c = c,
	                        .request_id = env->request_id,
	                        .node = node,
	                        .old_id = old_id,
	                        .new_id = new_id};
	int rc = lm_server_replace(s, old_id, new_id, q->new_address, replace_done, p);
	if (rc != 0) {
		free(p);
		if (rc == LMC_ENOTLEADER) {
			lm_connection_send_not_serving(c, env->request_id);
			return;
		}
		snprintf(msg, sizeof msg, "cannot replace raft id %u by %u: %s", old_id, new_id,
		         *lm_server_cluster_error(s) ? lm_server_cluster_error(s)
		                                     : lmc_strerror(rc));
		lm_connection_send_error(c, env->request_id, rc, msg, false);
		return;
	}
	lm_log("replace", "SERVER line %u: raft id %u at %s replaces raft id %u, by peer=%s", node,
	       new_id, q->new_address, old_id, c->peer);
	/* Busy until the change is done: the reply says how it ended. */
	c->busy = true;
	c->refs++;
}

void lm_admin_register(struct lm_dispatch *d)
{
	lm_dispatch_add(d, LM__ENVELOPE__BODY_STATUS_REQUEST, lm_admin_status);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_REMOVE_REQUEST, on_remove);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_SHUTDOWN_REQUEST, on_shutdown);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_REREAD_REQUEST, on_reread);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_REPLACE_REQUEST, on_replace);
}
