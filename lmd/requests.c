/* The requests of an application's session: Hello, SessionOpen (new or
 * resumed), Checkout, Checkin, Heartbeat and SessionClose.  Those that
 * change the pool become commands; their replies go out from the commit
 * callbacks below, once the command is durable (DESIGN.md §2.6). */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/admin_auth.h"
#include "lmd/command.h"
#include "lmd/connection.h"
#include "lmd/idle.h"
#include "lmd/requests.h"

/* The reply carries the line the seat was charged under, as the commit
 * read it (pool.h), not as the pool holds it now: a reread applied since
 * cannot make a granted seat look refused. */
static void reply_checkout(struct lm_connection *c, struct lm_request *p,
                           struct lm_pool_result *res)
{
	if (!res->license_text[0]) {
		lm_connection_send_error(
		        c, p->request_id, LMC_ENOFEATURE,
		        "the license line backing this seat was removed by a reread", false);
		return;
	}
	Lm__Envelope e;
	lm_envelope_init(&e, p->request_id);
	Lm__CheckoutReply r = LM__CHECKOUT_REPLY__INIT;
	Lm__SignedLicense sl = LM__SIGNED_LICENSE__INIT;
	sl.has_text = sl.has_signature = 1;
	sl.text = lm_bytes_from_cstr(res->license_text);
	sl.signature.data = res->license_sig;
	sl.signature.len = LM_SIG_LEN;
	r.has_handle = r.has_count = 1;
	r.handle = res->handle;
	r.count = res->count;
	r.license = &sl;
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT_REPLY;
	e.checkout_reply = &r;
	lm_connection_send(c, &e, false);
}

static void reply_session(struct lm_connection *c, uint64_t request_id, uint64_t id,
                          const uint8_t *secret, bool resumed)
{
	struct lm_server *s = c->s;
	Lm__Envelope e;
	lm_envelope_init(&e, request_id);
	Lm__SessionReply r = LM__SESSION_REPLY__INIT;
	r.has_session_id = r.has_resumed = r.has_heartbeat_ms = r.has_timeout_ms = 1;
	r.session_id = id;
	r.resumed = resumed;
	r.heartbeat_ms = s->cfg.heartbeat_ms;
	r.timeout_ms = s->cfg.timeout_ms;
	r.has_grace_ms = r.has_lease_ms = r.has_linger_ms = 1;
	r.grace_ms = s->cfg.grace_ms;
	r.lease_ms = lm_config_lease_ms(&s->cfg);
	r.linger_ms = lm_config_linger_ms(&s->cfg);
	if (secret) {
		r.has_secret = 1;
		r.secret.data = (uint8_t *)secret;
		r.secret.len = LM_SESSION_SECRET_LEN;
	}
	if (s->has_cluster_id) {
		r.has_cluster_id = 1;
		r.cluster_id.data = s->cluster_id;
		r.cluster_id.len = sizeof s->cluster_id;
	}
	e.body_case = LM__ENVELOPE__BODY_SESSION_REPLY;
	e.session_reply = &r;
	lm_connection_send(c, &e, false);
}

/* ---- commit callbacks ---- */

/* Answers a request the pool refused, with the pool's reason. */
static void refuse(struct lm_request *p, const struct lm_pool_result *res)
{
	lm_connection_send_error(p->c, p->request_id, res->code,
	                         res->message[0] ? res->message : lmc_strerror(res->code), false);
}

static void session_opened(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	struct lm_server *s = c->s;
	if (res->code != 0) {
		lm_log("denied", "peer=%s user=%s host=%s session: %s", c->peer, c->user, c->host,
		       res->message[0] ? res->message : lmc_strerror(res->code));
		if (open)
			refuse(p, res);
		return;
	}
	lm_log("session", "session=%016llx user=%s host=%s display=%s peer=%s opened",
	       (unsigned long long)p->session_id, c->user, c->host, c->display, c->peer);
	if (open) {
		lm_connection_bind(c, p->session_id);
		reply_session(c, p->request_id, p->session_id, p->secret, false);
	} else {
		/* Opened for a client that is gone: it expires unless the
		 * client comes back (it cannot: it never got the secret). */
		struct lm_live_session *ls = lm_live_sessions_add(&s->live, p->session_id);
		if (ls)
			ls->last_heard_ms = uv_now(s->loop);
	}
}

/* Whether the options file in force says NOLOG for event (LM_OPT_NOLOG_*).
 * It spares lmd's own log only, as FlexLM's spares its debug log: the
 * report log keeps everything. */
static bool nolog(const struct lm_server *s, unsigned event)
{
	const struct lm_options *o = lm_pool_policy(s->pool);
	return o && (o->nolog & event);
}

static void checked_out(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	if (res->code == 0) {
		if (!nolog(c->s, LM_OPT_NOLOG_OUT))
			lm_log("checkout",
			       "user=%s host=%s feature=%s version=%s count=%u handle=%llu "
			       "session=%016llx",
			       c->user, c->host, p->feature, p->version, res->count,
			       (unsigned long long)res->handle, (unsigned long long)p->session_id);
		if (open)
			reply_checkout(c, p, res);
	} else {
		/* FlexLM calls a request for a feature it does not serve
		 * UNSUPPORTED. */
		if (!nolog(c->s, res->code == LMC_ENOFEATURE ? LM_OPT_NOLOG_UNSUPPORTED
		                                             : LM_OPT_NOLOG_DENIED))
			lm_log("denied",
			       "user=%s host=%s feature=%s version=%s count=%u code=%s: %s",
			       c->user, c->host, p->feature, p->version, p->count,
			       lmc_errname(res->code), res->message);
		if (open)
			refuse(p, res);
	}
	/* Counted once the reply is written: a grant or a denial the client
	 * is told (/metrics, metrics.h). */
	if (open)
		lm_metrics_checkout(&c->s->metrics, res->code, uv_hrtime() - p->received_ns);
}

static void checked_in(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	if (res->code == 0) {
		if (!nolog(c->s, LM_OPT_NOLOG_IN))
			lm_log("checkin", "user=%s host=%s handle=%llu", c->user, c->host,
			       (unsigned long long)p->handle);
		if (open) {
			Lm__Envelope e;
			lm_envelope_init(&e, p->request_id);
			Lm__CheckinReply r = LM__CHECKIN_REPLY__INIT;
			r.has_handle = 1;
			r.handle = p->handle;
			e.body_case = LM__ENVELOPE__BODY_CHECKIN_REPLY;
			e.checkin_reply = &r;
			lm_connection_send(c, &e, false);
		}
	} else if (open) {
		refuse(p, res);
	}
}

static void session_closed(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	struct lm_server *s = c->s;
	lm_log("close", "session=%016llx user=%s host=%s returned %u seats",
	       (unsigned long long)p->session_id, c->user, c->host, res->count);
	lm_live_sessions_remove(&s->live, p->session_id);
	if (open) {
		c->session_id = 0;
		Lm__Envelope e;
		lm_envelope_init(&e, p->request_id);
		Lm__SessionCloseReply r = LM__SESSION_CLOSE_REPLY__INIT;
		r.has_seats = 1;
		r.seats = res->count;
		e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY;
		e.session_close_reply = &r;
		lm_connection_send(c, &e, false);
	}
}

/* ---- requests ---- */

static void on_hello(struct lm_connection *c, const Lm__Envelope *env)
{
	const Lm__Hello *h = env->hello;
	lm_bytes_to_cstr(&h->user, c->user, sizeof c->user);
	lm_bytes_to_cstr(&h->host, c->host, sizeof c->host);
	if (h->has_display)
		lm_bytes_to_cstr(&h->display, c->display, sizeof c->display);
	if (h->has_lock_code)
		lm_bytes_to_cstr(&h->lock_code, c->lock_code, sizeof c->lock_code);
	if (h->has_app_version)
		lm_bytes_to_cstr(&h->app_version, c->app_version, sizeof c->app_version);
	if (h->has_project)
		lm_bytes_to_cstr(&h->project, c->project, sizeof c->project);
	c->pid = h->has_pid ? h->pid : 0;
	if (!c->display[0] && c->pid)
		snprintf(c->display, sizeof c->display, "pid:%u", c->pid);
	c->state = LM_CONNECTION_READY;
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__HelloReply r = LM__HELLO_REPLY__INIT;
	r.server_version = LM_SERVER_VERSION;
	r.has_frame_max = 1;
	r.frame_max = LM_FRAME_MAX;
	if (c->s->has_cluster_id) {
		r.has_cluster_id = 1;
		r.cluster_id.data = c->s->cluster_id;
		r.cluster_id.len = sizeof c->s->cluster_id;
	}
	lm_admin_auth_hello(c->s, &r);
	e.body_case = LM__ENVELOPE__BODY_HELLO_REPLY;
	e.hello_reply = &r;
	lm_connection_send(c, &e, false);
}

static void digest_secret(const uint8_t *secret, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_Digest(secret, LM_SESSION_SECRET_LEN, out, &len, EVP_sha256(), NULL);
}

static void on_session_open(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__SessionOpen *o = env->session_open;
	if (!s->ready) {
		lm_connection_send_not_serving(c, env->request_id);
		return;
	}
	/* Every SessionReply names the cluster (a client resumes a session
	 * only with the cluster that granted it): a new cluster's first
	 * leader answers once its cluster id is applied, a moment later. */
	if (!s->has_cluster_id) {
		lm_connection_send_error(
		        c, env->request_id, LMC_ENOQUORUM,
		        "the cluster is naming itself (its first start): retry in a "
		        "moment",
		        false);
		return;
	}
	if (o->has_session_id) {
		/* Resume: the pool knows the session and the digest of its
		 * secret; only the client that got the secret can resume it. */
		struct lm_pool_session ps;
		uint8_t digest[32];
		/* A session being expired cannot come back: its client would
		 * believe in seats that are about to return to the pool. */
		struct lm_live_session *ls = lm_live_sessions_find(&s->live, o->session_id);
		if (!o->has_secret || (ls && ls->closing) ||
		    lm_pool_session(s->pool, o->session_id, &ps) != 0) {
			lm_connection_send_error(c, env->request_id, LMC_ENOSESSION,
			                         "session unknown or expired: open a new one",
			                         false);
			return;
		}
		digest_secret(o->secret.data, digest);
		if (CRYPTO_memcmp(digest, ps.secret_digest, 32) != 0) {
			lm_log("denied", "peer=%s resume of session=%016llx with a wrong secret",
			       c->peer, (unsigned long long)o->session_id);
			lm_connection_send_error(c, env->request_id, LMC_ENOSESSION,
			                         "session unknown or expired: open a new one",
			                         false);
			return;
		}
		lm_connection_bind(c, o->session_id);
		lm_log("resume", "session=%016llx user=%s host=%s peer=%s holding %u handles",
		       (unsigned long long)o->session_id, ps.user, ps.host, c->peer, ps.nhandles);
		reply_session(c, env->request_id, o->session_id, NULL, true);
		return;
	}
	if (!lm_peers_take_session(&s->peers, c->peer_key, uv_now(s->loop))) {
		unsigned suppressed;
		if (lm_peers_should_log(&s->peers, c->peer_key, LM_PEERS_LOG_SESSIONS,
		                        uv_now(s->loop), LM_REFUSAL_LOG_WINDOW_MS, &suppressed))
			lm_log("denied",
			       "peer=%s user=%s session refused: more than %u opened per second "
			       "from this address (%u more not logged)",
			       c->peer, c->user, s->peers.sessions_rate, suppressed);
		char msg[160];
		snprintf(msg, sizeof msg,
		         "this address opens sessions faster than %u per second, the server's "
		         "limit (--session-rate): retry in a second",
		         s->peers.sessions_rate);
		lm_connection_send_error(c, env->request_id, LMC_ELIMIT, msg, false);
		return;
	}
	struct lm_request *p = lm_request_new(c, env, session_opened);
	if (!p)
		return;
	do {
		RAND_bytes((uint8_t *)&p->session_id, sizeof p->session_id);
	} while (p->session_id == 0);
	RAND_bytes(p->secret, sizeof p->secret);
	uint8_t digest[32];
	digest_secret(p->secret, digest);

	struct lm_command_session id = {.session_id = p->session_id,
	                                .secret_digest = digest,
	                                .user = c->user,
	                                .host = c->host,
	                                .display = c->display,
	                                .lock_code = c->lock_code,
	                                .app_version = c->app_version,
	                                .ip = c->ip,
	                                .project = c->project,
	                                .pid = c->pid};
	struct lm_command cmd;
	lm_command_open_session(&cmd, &id);
	lm_request_submit(p, &cmd);
	lm_command_release(&cmd);
}

/* True when this server serves and the connection has a session; else
 * answers the client and returns false. */
static bool need_session(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!c->s->ready) {
		lm_connection_send_not_serving(c, env->request_id);
		return false;
	}
	if (!c->session_id) {
		lm_connection_send_error(c, env->request_id, LMC_ENOSESSION,
		                         "no session on this connection: send SessionOpen first",
		                         false);
		return false;
	}
	struct lm_live_session *ls = lm_live_sessions_find(&c->s->live, c->session_id);
	if (!ls || ls->closing) {
		/* Its expiry is being committed: confirming anything now would
		 * let the client believe in seats the pool is giving back. */
		lm_connection_send_error(c, env->request_id, LMC_ENOSESSION,
		                         "session expired: open a new one", true);
		return false;
	}
	return true;
}

static void on_checkout(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	const Lm__Checkout *co = env->checkout;
	struct lm_request *p = lm_request_new(c, env, checked_out);
	if (!p)
		return;
	p->session_id = c->session_id;
	p->count = co->count;
	lm_bytes_to_cstr(&co->feature, p->feature, sizeof p->feature);
	if (co->has_version && co->version.len)
		lm_bytes_to_cstr(&co->version, p->version, sizeof p->version);
	else
		snprintf(p->version, sizeof p->version, "0");

	struct lm_command cmd;
	lm_command_checkout(&cmd, c->session_id, env->request_id, p->feature, p->version,
	                    co->count);
	lm_request_submit(p, &cmd);
	lm_command_release(&cmd);
}

static void on_checkin(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	struct lm_request *p = lm_request_new(c, env, checked_in);
	if (!p)
		return;
	p->session_id = c->session_id;
	p->handle = env->checkin->handle;
	struct lm_command cmd;
	lm_command_checkin(&cmd, c->session_id, env->request_id, p->handle);
	lm_request_submit(p, &cmd);
	lm_command_release(&cmd);
}

static void on_session_close(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	struct lm_request *p = lm_request_new(c, env, session_closed);
	if (!p)
		return;
	p->session_id = c->session_id;
	struct lm_command cmd;
	lm_command_close_session(&cmd, c->session_id, LMCMD__CLOSE_REASON__CLOSE_CLEAN);
	lm_request_submit(p, &cmd);
	lm_command_release(&cmd);
}

static struct lm_pool_handle handle_buf[LM_CONNECTION_HANDLES_MAX];

static void on_heartbeat(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	const Lm__Heartbeat *hb = env->heartbeat;
	lm_idle_heard(c->s, c->session_id, hb->has_idle_ms ? hb->idle_ms : 0);
	int n = lm_pool_session_handles(c->s->pool, c->session_id, handle_buf,
	                                LM_CONNECTION_HANDLES_MAX);
	if (n < 0) {
		/* Expired between the last heartbeat and this one. */
		lm_connection_send_error(c, env->request_id, LMC_ENOSESSION, "session expired",
		                         true);
		return;
	}
	if (n > LM_CONNECTION_HANDLES_MAX)
		n = LM_CONNECTION_HANDLES_MAX;
	uint64_t handles[LM_CONNECTION_HANDLES_MAX];
	for (int i = 0; i < n; i++)
		handles[i] = handle_buf[i].handle;
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__HeartbeatReply r = LM__HEARTBEAT_REPLY__INIT;
	r.n_handles = (size_t)n;
	r.handles = handles;
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT_REPLY;
	e.heartbeat_reply = &r;
	lm_connection_send(c, &e, false);
}

void lm_requests_register(struct lm_dispatch *d)
{
	lm_dispatch_add(d, LM__ENVELOPE__BODY_HELLO, on_hello);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_SESSION_OPEN, on_session_open);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_CHECKOUT, on_checkout);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_CHECKIN, on_checkin);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_HEARTBEAT, on_heartbeat);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_SESSION_CLOSE, on_session_close);
}
