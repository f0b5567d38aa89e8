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

#include <openssl/err.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/grant.h"
#include "core/log.h"
#include "lmd/admin_auth.h"
#include "lmd/command.h"
#include "lmd/connection.h"
#include "lmd/expiry.h"
#include "lmd/idle.h"
#include "lmd/requests.h"
#include "lmd/walltime.h"

/* Signs the grant with this server's identity key (core/grant.h), so that
 * a client whose license pins the key can tell this server from an
 * emulator replaying a genuine line.  Ed25519 is one-shot: EVP_DigestSign
 * with no digest (EVP_SIGNATURE-ED25519(7)).  False when signing failed,
 * which is logged; the grant then goes unsigned and pinned clients refuse
 * it. */
static bool sign_grant(struct lm_server *s, const struct lm_grant_claim *g, uint8_t sig[LM_SIG_LEN])
{
	char text[LM_GRANT_TEXT_MAX];
	int n = lm_grant_text(g, text, sizeof text);
	size_t siglen = LM_SIG_LEN;
	EVP_MD_CTX *ctx = n > 0 && s->server_key ? EVP_MD_CTX_new() : NULL;
	bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->server_key) == 1 &&
	          EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)text, (size_t)n) == 1 &&
	          siglen == LM_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		lm_log_error("cannot sign a grant with the server key");
	}
	return ok;
}

/* The other lines of the granted line's pool, valid today, for a grant of
 * more seats than that line has: the client adds their counts up
 * (CheckoutReply.pool_lines).  Read from the license file this server
 * loaded; after a reread still being applied they may differ from the
 * pool's, and the client then refuses the grant rather than believe too
 * much. */
struct pool_lines {
	Lm__SignedLicense lines[LM_WIRE_POOL_LINES_MAX];
	Lm__SignedLicense *ptrs[LM_WIRE_POOL_LINES_MAX];
	char text[LM_WIRE_POOL_LINES_MAX][LM_LINE_MAX + 1];
	size_t n;
};

static void add_pool_lines(struct lm_server *s, const char *granted, struct pool_lines *out)
{
	struct lm_license l;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int ncodes;
	out->n = 0;
	if (lm_license_parse_canonical(granted, &l, codes, &ncodes, NULL) != 0)
		return;
	int32_t today = (int32_t)(lm_walltime_us() / 86400000000LL);
	const struct lm_license_file *f = &s->license;
	for (size_t i = 0; i < f->nlines && out->n < LM_WIRE_POOL_LINES_MAX; i++) {
		const struct lm_license *o = &f->lines[i];
		char *text = out->text[out->n];
		if (o->type == LM_LINE_PACKAGE || o->uncounted || !o->has_sig ||
		    strcmp(o->name, l.name) != 0 ||
		    lm_version_compare(o->version, l.version) != 0 ||
		    (o->start != LM_DATE_NONE && today < o->start) ||
		    (o->expiry != LM_DATE_PERMANENT && today > o->expiry) ||
		    lm_license_canonical(f, o, text, LM_LINE_MAX + 1) < 0 ||
		    strcmp(text, granted) == 0)
			continue;
		Lm__SignedLicense *sl = &out->lines[out->n];
		lm__signed_license__init(sl);
		sl->has_text = sl->has_signature = 1;
		sl->text = lm_bytes_from_cstr(text);
		sl->signature.data = (uint8_t *)o->sig;
		sl->signature.len = LM_SIG_LEN;
		out->ptrs[out->n++] = sl;
	}
}

static struct pool_lines pool_buf;

/* The reply carries the line the seat was charged under, as the commit
 * read it (pool.h), not as the pool holds it now: a reread applied since
 * cannot make a granted seat look refused. */
/* The expiry of a canonical license line (its fifth word, core/license.h),
 * or LM_DATE_NONE. */
static int32_t canonical_expiry(const char *text)
{
	const char *p = text;
	for (int word = 0; word < 4 && p; word++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	char date[16];
	size_t n = p ? strcspn(p, " ") : 0;
	int32_t days;
	if (n == 0 || n >= sizeof date)
		return LM_DATE_NONE;
	memcpy(date, p, n);
	date[n] = '\0';
	return lm_date_parse(date, &days) == 0 ? days : LM_DATE_NONE;
}

static void reply_checkout(struct lm_connection *c, struct lm_request *p,
                           struct lm_pool_result *res)
{
	if (!res->license_text[0] || (res->has_package && !res->package_text[0])) {
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
	/* A component: the PACKAGE line that ties it to the enabling line. */
	Lm__SignedLicense pkg = LM__SIGNED_LICENSE__INIT;
	if (res->has_package) {
		pkg.has_text = pkg.has_signature = 1;
		pkg.text = lm_bytes_from_cstr(res->package_text);
		pkg.signature.data = res->package_sig;
		pkg.signature.len = LM_SIG_LEN;
		r.package = &pkg;
	}
	if (res->count > 1) {
		struct lm_license granted;
		struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
		int ncodes;
		if (lm_license_parse_canonical(res->license_text, &granted, codes, &ncodes, NULL) ==
		            0 &&
		    res->count > granted.count) {
			add_pool_lines(c->s, res->license_text, &pool_buf);
			r.n_pool_lines = pool_buf.n;
			r.pool_lines = pool_buf.ptrs;
		}
	}
	/* Only a license whose SERVER lines pin keys lets a client check the
	 * signature (they pin all or none), and a signature costs an Ed25519
	 * operation per checkout: unpinned servers do not sign. */
	uint8_t sig[LM_SIG_LEN];
	if (p->has_nonce && c->s->license.nservers > 0 && c->s->license.servers[0].has_key) {
		struct lm_grant_claim g = {.line = res->license_text,
		                           .count = res->count,
		                           .session_id = p->session_id,
		                           .time_ms = (uint64_t)(lm_walltime_us() / 1000)};
		memcpy(g.nonce, p->nonce, sizeof g.nonce);
		if (sign_grant(c->s, &g, sig)) {
			r.has_grant_time_ms = r.has_grant_signature = 1;
			r.grant_time_ms = g.time_ms;
			r.grant_signature.data = sig;
			r.grant_signature.len = LM_SIG_LEN;
		}
	}
	r.has_overdraft = res->overdraft != 0;
	r.overdraft = res->overdraft;
	int32_t today = (int32_t)(lm_walltime_us() / 1000000 / 86400);
	int days_left = lm_expiry_days_left(c->s, canonical_expiry(res->license_text), today);
	r.has_expiry_warning_days = days_left >= 0;
	r.expiry_warning_days = days_left;
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

/* " overdraft=2 (beyond the count of 5)" for a grant beyond the count, so
 * that the administrator sees the lent seats in the log; "" otherwise. */
static const char *overdraft_note(const struct lm_pool_result *res, char *buf, size_t size)
{
	if (res->overdraft == 0)
		return "";
	snprintf(buf, size, " overdraft=%u", res->overdraft);
	return buf;
}

static void checked_out(struct lm_request *p, struct lm_pool_result *res, bool open)
{
	struct lm_connection *c = p->c;
	char note[48];
	if (res->code == 0) {
		if (!nolog(c->s, LM_OPT_NOLOG_OUT))
			lm_log("checkout",
			       "user=%s host=%s feature=%s version=%s count=%u handle=%llu "
			       "session=%016llx%s",
			       c->user, c->host, p->feature, p->version, res->count,
			       (unsigned long long)res->handle, (unsigned long long)p->session_id,
			       overdraft_note(res, note, sizeof note));
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

/* Whether every line of feature in the served file is dated (an expiry or
 * a START); false when one is perpetual, or when there is none (the pool
 * then answers). */
static bool time_limited(const struct lm_license_file *f, const char *feature)
{
	bool any = false;
	for (size_t i = 0; i < f->nlines; i++) {
		const struct lm_license *l = &f->lines[i];
		if (l->type == LM_LINE_PACKAGE || strcmp(l->name, feature) != 0)
			continue;
		if (l->expiry == LM_DATE_PERMANENT && l->start == LM_DATE_NONE)
			return false;
		any = true;
	}
	return any;
}

/* Issue 16: a leader whose clock is well behind the last committed time
 * (set back by hand, or a server that became the leader with a slow
 * clock) cannot tell today's date, so it refuses what depends on it: the
 * commands it stamps never go back (walltime.h), but its own judgement of
 * "today" would.  Perpetual licenses keep working.  The log says so once
 * each time the clock falls behind. */
static bool refuse_clock_set_back(struct lm_connection *c, const Lm__Envelope *env,
                                  const char *feature)
{
	struct lm_server *s = c->s;
	int64_t behind_s = lm_walltime_behind_us() / 1000000;
	bool back = behind_s > (int64_t)s->cfg.clock_tolerance_s;
	if (back != s->clock_back_told) {
		s->clock_back_told = back;
		if (back)
			lm_log("clock",
			       "clock set back: the wall clock is %lld s behind the last committed "
			       "time (more than --clock-tolerance %u s); time-limited licenses are "
			       "refused until it is corrected",
			       (long long)behind_s, s->cfg.clock_tolerance_s);
		else
			lm_log("clock", "the wall clock caught up with the last committed time");
	}
	if (!back || !time_limited(&s->license, feature))
		return false;
	char msg[300];
	snprintf(msg, sizeof msg,
	         "clock set back: the license server's clock is %lld s behind the last "
	         "committed time, so it cannot tell whether the license of %s is in its dates; "
	         "correct the server's clock",
	         (long long)behind_s, feature);
	lm_connection_send_error(c, env->request_id, LMC_ECLOCK, msg, false);
	return true;
}

static void on_checkout(struct lm_connection *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	char feature[LM_NAME_MAX + 1];
	lm_bytes_to_cstr(&env->checkout->feature, feature, sizeof feature);
	if (refuse_clock_set_back(c, env, feature))
		return;
	const Lm__Checkout *co = env->checkout;
	struct lm_request *p = lm_request_new(c, env, checked_out);
	if (!p)
		return;
	p->session_id = c->session_id;
	p->count = co->count;
	if (co->has_nonce && co->nonce.len == sizeof p->nonce) {
		p->has_nonce = true;
		memcpy(p->nonce, co->nonce.data, sizeof p->nonce);
	}
	lm_bytes_to_cstr(&co->feature, p->feature, sizeof p->feature);
	if (co->has_version && co->version.len)
		lm_bytes_to_cstr(&co->version, p->version, sizeof p->version);
	else
		snprintf(p->version, sizeof p->version, "0");

	/* Checked with the envelope (core/vendor_data.h's rule). */
	char vendor_data[LM_WIRE_VENDOR_DATA_MAX + 1] = "";
	if (co->has_vendor_data)
		lm_bytes_to_cstr(&co->vendor_data, vendor_data, sizeof vendor_data);

	struct lm_command cmd;
	lm_command_checkout(&cmd, c->session_id, env->request_id, p->feature, p->version, co->count,
	                    vendor_data);
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
