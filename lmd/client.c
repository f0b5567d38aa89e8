/* Client connections: reading frames, answering requests, and turning the
 * requests that change the pool into commands for the cluster.
 *
 * A connection handles one request at a time: while a command is being
 * committed it stops reading, which bounds what a client can queue on the
 * server and keeps each session's requests in order (the pool deduplicates
 * only a session's last request id).  A reply that grants or returns a seat
 * is sent only from the commit callback, once the command is durable
 * (DESIGN.md §2.6). */
#include "config.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/key.h"
#include "client/lmc.h"
#include "lmd/log.h"
#include "lmd/server.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

enum conn_state {
	CONN_HELLO, /* waiting for Hello */
	CONN_READY, /* said Hello; may open a session or ask for status */
	CONN_CLOSING,
};

struct lm_client {
	struct lm_server *s;
	uv_tcp_t tcp;
	struct lm_client *prev, *next;
	enum conn_state state;
	bool local;    /* peer on loopback: may use admin requests */
	bool busy;     /* a command of this connection is being committed */
	bool closed;   /* uv_close done */
	unsigned refs; /* pending callbacks that will touch this struct */
	uint64_t accepted_ms;
	uint64_t session_id; /* attached session, 0 if none */
	uint64_t request_id; /* of the request in flight */
	char peer[64];
	/* Identity from Hello. */
	char user[LM_WIRE_USER_MAX + 1];
	char host[LM_WIRE_HOST_MAX + 1];
	char display[LM_WIRE_DISPLAY_MAX + 1];
	char lock_code[LM_WIRE_LOCKCODE_MAX + 1];
	char app_version[LM_WIRE_VERSION_MAX + 1];
	uint32_t pid;
	/* Bytes of a frame not yet complete, or frames received while busy. */
	uint8_t *pending;
	size_t pending_len, pending_cap;
	/* Requests with several commands (lmremove by user). */
	unsigned outstanding;
	unsigned affected;
};

static void process(struct lm_client *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* ---- lifetime ---- */

static void conn_free(struct lm_client *c)
{
	free(c->pending);
	free(c);
}

static void on_closed(uv_handle_t *h)
{
	struct lm_client *c = h->data;
	c->closed = true;
	if (c->refs == 0)
		conn_free(c);
}

static void unref(struct lm_client *c)
{
	c->refs--;
	if (c->closed && c->refs == 0)
		conn_free(c);
}

void lm_client_close(struct lm_client *c)
{
	if (c->state == CONN_CLOSING)
		return;
	struct lm_server *s = c->s;
	c->state = CONN_CLOSING;
	if (c->session_id) {
		struct lm_live_session *ls = lm_live_find(&s->live, c->session_id);
		if (ls && ls->conn == c)
			ls->conn = NULL;
		c->session_id = 0;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void lm_client_close_all(struct lm_server *s)
{
	while (s->conns)
		lm_client_close(s->conns);
}

/* The session ended on the server (expired, removed): a client still
 * connected learns it by reconnecting and failing to resume. */
void lm_client_detach(struct lm_client *c)
{
	c->session_id = 0;
	lm_client_close(c);
}

/* ---- writing ---- */

struct write_req {
	uv_write_t req;
	struct lm_client *c;
	bool close_after;
	uint8_t data[];
};

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct lm_client *c = w->c;
	if ((status != 0 || w->close_after) && c->state != CONN_CLOSING)
		lm_client_close(c);
	unref(c);
	free(w);
}

/* A client that does not read its replies must not make the server hold
 * them without bound. */
#define WRITE_QUEUE_MAX (8u * 1024 * 1024)

static void send_envelope(struct lm_client *c, const Lm__Envelope *e, bool close_after)
{
	if (c->state == CONN_CLOSING)
		return;
	size_t size = lm__envelope__get_packed_size(e) + LM_FRAME_HEADER;
	struct write_req *w = malloc(sizeof *w + size);
	size_t len;
	if (!w || lm_frame_pack(e, w->data, size, &len) != 0) {
		lm_log("error", "peer=%s cannot pack a %s reply", c->peer,
		       lm_body_name(e->body_case));
		free(w);
		lm_client_close(c);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
		lm_log("error", "peer=%s does not read its replies: closing", c->peer);
		free(w);
		lm_client_close(c);
		return;
	}
	w->c = c;
	w->close_after = close_after;
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	c->refs++;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
		c->refs--;
		free(w);
		lm_client_close(c);
	}
}

static void send_error(struct lm_client *c, uint64_t request_id, int code, const char *message,
                       bool close_after)
{
	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 64)];
	size_t len;
	/* lm_frame_pack_error cleans the message so that the client accepts
	 * it; re-wrap its bytes for the common write path. */
	if (lm_frame_pack_error(request_id, code, message, buf, sizeof buf, &len) != 0) {
		lm_client_close(c);
		return;
	}
	if (c->state == CONN_CLOSING)
		return;
	struct write_req *w = malloc(sizeof *w + len);
	if (!w) {
		lm_client_close(c);
		return;
	}
	memcpy(w->data, buf, len);
	w->c = c;
	w->close_after = close_after;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	c->refs++;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
		c->refs--;
		free(w);
		lm_client_close(c);
	}
}

/* Where to go when this server cannot serve: the leader, or nobody yet. */
static void send_not_serving(struct lm_client *c, uint64_t request_id)
{
	struct lm_server *s = c->s;
	const char *leader = lm_server_leader_address(s);
	if (leader && strcmp(leader, s->addresses[s->node - 1]) != 0) {
		Lm__Envelope e;
		Lm__ErrorReply r;
		char msg[400];
		snprintf(msg, sizeof msg, "this server is not the leader; the leader is %s",
		         leader);
		lm_envelope_error(&e, &r, request_id, LMC_ENOTLEADER, msg);
		r.leader = (char *)leader;
		send_envelope(c, &e, false);
		return;
	}
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	if (!st.voter && st.role != LM_CLUSTER_UNAVAILABLE) {
		send_error(c, request_id, LMC_ENOQUORUM,
		           "this server is not a member of the cluster yet (a replacement waiting "
		           "for `lmutil lmreplace`); ask another server",
		           false);
		return;
	}
	if (s->license.nservers == 1) {
		send_error(c, request_id, LMC_ENOQUORUM, "the server is starting; retry", false);
		return;
	}
	/* Raft needs two of the three servers to elect a leader and to commit
	 * anything: alone, a server can only say so.  Seats already held stay
	 * held, since nothing can expire them either. */
	send_error(c, request_id, LMC_ENOQUORUM,
	           "no quorum: no leader is elected (fewer than 2 of the 3 license servers are "
	           "up and in touch, or an election is under way); new checkouts wait, seats "
	           "held are kept",
	           false);
}

/* ---- committing commands ---- */

struct pending_cmd {
	struct lm_client *c;
	uint64_t request_id;
	Lm__Envelope__BodyCase kind;
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	unsigned count;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
};

static void finish_request(struct lm_client *c)
{
	c->busy = false;
	if (c->state == CONN_CLOSING)
		return;
	process(c);
}

static void on_committed(void *arg, int status, struct lm_pool_result *res);

static int propose(struct lm_client *c, Lmcmd__Command *cmd, struct pending_cmd *p)
{
	uint8_t buf[1024];
	cmd->has_time_us = 1;
	cmd->time_us = lm_server_now_us();
	size_t size = lmcmd__command__get_packed_size(cmd);
	if (size > sizeof buf)
		return LMC_ETOOLARGE;
	lmcmd__command__pack(cmd, buf);
	p->c = c;
	int rc = lm_server_propose(c->s, buf, size, on_committed, p);
	if (rc == 0) {
		c->refs++;
		c->busy = true;
	}
	return rc;
}

static void refuse_proposal(struct lm_client *c, struct pending_cmd *p, int rc)
{
	if (rc == LMC_ENOTLEADER)
		send_not_serving(c, p->request_id);
	else
		send_error(c, p->request_id, rc, lmc_strerror(rc), false);
	free(p);
}

static void reply_checkout(struct lm_client *c, struct pending_cmd *p, struct lm_pool_result *res)
{
	struct lm_server *s = c->s;
	static char text[LM_LINE_MAX];
	uint8_t sig[LM_SIG_LEN];
	if (lm_pool_line(s->pool, res->line, text, sizeof text, sig) != 0) {
		send_error(c, p->request_id, LMC_ENOFEATURE,
		           "the license line backing this seat was removed by a reread", false);
		return;
	}
	Lm__Envelope e;
	lm_envelope_init(&e, p->request_id);
	Lm__CheckoutReply r = LM__CHECKOUT_REPLY__INIT;
	Lm__SignedLicense sl = LM__SIGNED_LICENSE__INIT;
	sl.has_text = sl.has_signature = 1;
	sl.text = lm_bytes_from_cstr(text);
	sl.signature.data = sig;
	sl.signature.len = LM_SIG_LEN;
	r.has_handle = r.has_count = 1;
	r.handle = res->handle;
	r.count = res->count;
	r.license = &sl;
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT_REPLY;
	e.checkout_reply = &r;
	send_envelope(c, &e, false);
}

static void reply_session(struct lm_client *c, uint64_t request_id, uint64_t id,
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
	r.has_grace_ms = 1;
	r.grace_ms = s->cfg.grace_ms;
	if (secret) {
		r.has_secret = 1;
		r.secret.data = (uint8_t *)secret;
		r.secret.len = LM_SESSION_SECRET_LEN;
	}
	e.body_case = LM__ENVELOPE__BODY_SESSION_REPLY;
	e.session_reply = &r;
	send_envelope(c, &e, false);
}

static void attach(struct lm_client *c, uint64_t session_id)
{
	struct lm_server *s = c->s;
	struct lm_live_session *ls = lm_live_add(&s->live, session_id);
	if (!ls)
		return;
	/* The session moved to this connection (a client that reconnected
	 * before its old connection timed out): the old one is dead. */
	if (ls->conn && ls->conn != c)
		lm_client_detach(ls->conn);
	ls = lm_live_find(&s->live, session_id);
	if (!ls)
		return;
	ls->conn = c;
	ls->closing = false;
	ls->last_heard_ms = uv_now(s->loop);
	c->session_id = session_id;
}

static void on_committed(void *arg, int status, struct lm_pool_result *res)
{
	struct pending_cmd *p = arg;
	struct lm_client *c = p->c;
	struct lm_server *s = c->s;
	bool open = c->state != CONN_CLOSING;

	if (status != 0) {
		/* LEADERSHIPLOST means the outcome is unknown: the command may
		 * still commit under the next leader.  The client retries there
		 * with the same request id and the pool's dedup answers. */
		if (open)
			send_not_serving(c, p->request_id);
		goto done;
	}
	switch (p->kind) {
	case LM__ENVELOPE__BODY_SESSION_OPEN:
		if (res->code != 0) {
			lm_log("denied", "peer=%s user=%s host=%s session: %s", c->peer, c->user,
			       c->host, res->message[0] ? res->message : lmc_strerror(res->code));
			if (open)
				send_error(c, p->request_id, res->code,
				           res->message[0] ? res->message : lmc_strerror(res->code),
				           false);
			break;
		}
		lm_log("session", "session=%016llx user=%s host=%s display=%s peer=%s opened",
		       (unsigned long long)p->session_id, c->user, c->host, c->display, c->peer);
		if (open) {
			attach(c, p->session_id);
			reply_session(c, p->request_id, p->session_id, p->secret, false);
		} else {
			/* Opened for a client that is gone: it expires unless the
			 * client comes back (it cannot: it never got the secret). */
			struct lm_live_session *ls = lm_live_add(&s->live, p->session_id);
			if (ls)
				ls->last_heard_ms = uv_now(s->loop);
		}
		break;
	case LM__ENVELOPE__BODY_CHECKOUT:
		if (res->code == 0) {
			lm_log("checkout",
			       "user=%s host=%s feature=%s version=%s count=%u handle=%llu "
			       "session=%016llx",
			       c->user, c->host, p->feature, p->version, res->count,
			       (unsigned long long)res->handle, (unsigned long long)p->session_id);
			if (open)
				reply_checkout(c, p, res);
		} else {
			lm_log("denied",
			       "user=%s host=%s feature=%s version=%s count=%u code=%s: %s",
			       c->user, c->host, p->feature, p->version, p->count,
			       lmc_errname(res->code), res->message);
			if (open)
				send_error(c, p->request_id, res->code,
				           res->message[0] ? res->message : lmc_strerror(res->code),
				           false);
		}
		break;
	case LM__ENVELOPE__BODY_CHECKIN:
		if (res->code == 0) {
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
				send_envelope(c, &e, false);
			}
		} else if (open) {
			send_error(c, p->request_id, res->code,
			           res->message[0] ? res->message : lmc_strerror(res->code), false);
		}
		break;
	case LM__ENVELOPE__BODY_SESSION_CLOSE:
		lm_log("close", "session=%016llx user=%s host=%s returned %u seats",
		       (unsigned long long)p->session_id, c->user, c->host, res->count);
		lm_live_remove(&s->live, p->session_id);
		if (open) {
			c->session_id = 0;
			Lm__Envelope e;
			lm_envelope_init(&e, p->request_id);
			Lm__SessionCloseReply r = LM__SESSION_CLOSE_REPLY__INIT;
			r.has_seats = 1;
			r.seats = res->count;
			e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY;
			e.session_close_reply = &r;
			send_envelope(c, &e, false);
		}
		break;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST:
		if (res->code == 0) {
			c->affected += res->count;
			lm_log("remove", "handle=%llu seats=%u by peer=%s",
			       (unsigned long long)p->handle, res->count, c->peer);
		}
		if (--c->outstanding > 0) {
			/* More handles to go: this request is not finished. */
			free(p);
			unref(c);
			return;
		}
		if (open) {
			Lm__Envelope e;
			lm_envelope_init(&e, p->request_id);
			Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
			char msg[128];
			snprintf(msg, sizeof msg, "removed %u seat%s", c->affected,
			         c->affected == 1 ? "" : "s");
			r.has_affected = 1;
			r.affected = c->affected;
			r.message = msg;
			e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
			e.admin_reply = &r;
			send_envelope(c, &e, false);
		}
		break;
	default: break;
	}
done:
	free(p);
	c->busy = c->outstanding > 0 && status == 0;
	if (!c->busy && open)
		finish_request(c);
	unref(c);
}

/* ---- requests ---- */

static void on_hello(struct lm_client *c, const Lm__Envelope *env)
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
	c->pid = h->has_pid ? h->pid : 0;
	if (!c->display[0] && c->pid)
		snprintf(c->display, sizeof c->display, "pid:%u", c->pid);
	c->state = CONN_READY;
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__HelloReply r = LM__HELLO_REPLY__INIT;
	r.server_version = LM_SERVER_VERSION;
	r.has_frame_max = 1;
	r.frame_max = LM_FRAME_MAX;
	e.body_case = LM__ENVELOPE__BODY_HELLO_REPLY;
	e.hello_reply = &r;
	send_envelope(c, &e, false);
}

static void digest_secret(const uint8_t *secret, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_Digest(secret, LM_SESSION_SECRET_LEN, out, &len, EVP_sha256(), NULL);
}

static void on_session_open(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__SessionOpen *o = env->session_open;
	if (!s->ready) {
		send_not_serving(c, env->request_id);
		return;
	}
	if (o->has_session_id) {
		/* Resume: the pool knows the session and the digest of its
		 * secret; only the client that got the secret can resume it. */
		struct lm_pool_session ps;
		uint8_t digest[32];
		if (!o->has_secret || lm_pool_session(s->pool, o->session_id, &ps) != 0) {
			send_error(c, env->request_id, LMC_ENOSESSION,
			           "session unknown or expired: open a new one", false);
			return;
		}
		digest_secret(o->secret.data, digest);
		if (CRYPTO_memcmp(digest, ps.secret_digest, 32) != 0) {
			lm_log("denied", "peer=%s resume of session=%016llx with a wrong secret",
			       c->peer, (unsigned long long)o->session_id);
			send_error(c, env->request_id, LMC_ENOSESSION,
			           "session unknown or expired: open a new one", false);
			return;
		}
		attach(c, o->session_id);
		lm_log("resume", "session=%016llx user=%s host=%s peer=%s holding %u handles",
		       (unsigned long long)o->session_id, ps.user, ps.host, c->peer, ps.nhandles);
		reply_session(c, env->request_id, o->session_id, NULL, true);
		return;
	}
	struct pending_cmd *p = calloc(1, sizeof *p);
	if (!p) {
		send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	p->kind = LM__ENVELOPE__BODY_SESSION_OPEN;
	p->request_id = env->request_id;
	do {
		RAND_bytes((uint8_t *)&p->session_id, sizeof p->session_id);
	} while (p->session_id == 0);
	RAND_bytes(p->secret, sizeof p->secret);
	uint8_t digest[32];
	digest_secret(p->secret, digest);

	Lmcmd__OpenSession os = LMCMD__OPEN_SESSION__INIT;
	os.has_session_id = os.has_secret_digest = os.has_user = os.has_host = 1;
	os.session_id = p->session_id;
	os.secret_digest.data = digest;
	os.secret_digest.len = 32;
	os.user = lm_bytes_from_cstr(c->user);
	os.host = lm_bytes_from_cstr(c->host);
	os.has_display = os.has_lock_code = os.has_app_version = os.has_pid = 1;
	os.display = lm_bytes_from_cstr(c->display);
	os.lock_code = lm_bytes_from_cstr(c->lock_code);
	os.app_version = lm_bytes_from_cstr(c->app_version);
	os.pid = c->pid;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION;
	cmd.open_session = &os;
	int rc = propose(c, &cmd, p);
	if (rc != 0)
		refuse_proposal(c, p, rc);
}

static bool need_session(struct lm_client *c, const Lm__Envelope *env)
{
	if (!c->s->ready) {
		send_not_serving(c, env->request_id);
		return false;
	}
	if (!c->session_id) {
		send_error(c, env->request_id, LMC_ENOSESSION,
		           "no session on this connection: send SessionOpen first", false);
		return false;
	}
	return true;
}

static void on_checkout(struct lm_client *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	const Lm__Checkout *co = env->checkout;
	struct pending_cmd *p = calloc(1, sizeof *p);
	if (!p) {
		send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	p->kind = LM__ENVELOPE__BODY_CHECKOUT;
	p->request_id = env->request_id;
	p->session_id = c->session_id;
	p->count = co->count;
	lm_bytes_to_cstr(&co->feature, p->feature, sizeof p->feature);
	if (co->has_version && co->version.len)
		lm_bytes_to_cstr(&co->version, p->version, sizeof p->version);
	else
		snprintf(p->version, sizeof p->version, "0");

	Lmcmd__Checkout cc = LMCMD__CHECKOUT__INIT;
	cc.has_session_id = cc.has_request_id = cc.has_feature = cc.has_version = cc.has_count = 1;
	cc.session_id = c->session_id;
	cc.request_id = env->request_id;
	cc.feature = lm_bytes_from_cstr(p->feature);
	cc.version = lm_bytes_from_cstr(p->version);
	cc.count = co->count;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	cmd.checkout = &cc;
	int rc = propose(c, &cmd, p);
	if (rc != 0)
		refuse_proposal(c, p, rc);
}

static void on_checkin(struct lm_client *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	struct pending_cmd *p = calloc(1, sizeof *p);
	if (!p) {
		send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	p->kind = LM__ENVELOPE__BODY_CHECKIN;
	p->request_id = env->request_id;
	p->session_id = c->session_id;
	p->handle = env->checkin->handle;
	Lmcmd__Checkin ci = LMCMD__CHECKIN__INIT;
	ci.has_session_id = ci.has_request_id = ci.has_handle = 1;
	ci.session_id = c->session_id;
	ci.request_id = env->request_id;
	ci.handle = p->handle;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.body_case = LMCMD__COMMAND__BODY_CHECKIN;
	cmd.checkin = &ci;
	int rc = propose(c, &cmd, p);
	if (rc != 0)
		refuse_proposal(c, p, rc);
}

static void on_session_close(struct lm_client *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	struct pending_cmd *p = calloc(1, sizeof *p);
	if (!p) {
		send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return;
	}
	p->kind = LM__ENVELOPE__BODY_SESSION_CLOSE;
	p->request_id = env->request_id;
	p->session_id = c->session_id;
	Lmcmd__CloseSession cs = LMCMD__CLOSE_SESSION__INIT;
	cs.has_session_id = cs.has_reason = 1;
	cs.session_id = c->session_id;
	cs.reason = LMCMD__CLOSE_REASON__CLOSE_CLEAN;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	cmd.close_session = &cs;
	int rc = propose(c, &cmd, p);
	if (rc != 0)
		refuse_proposal(c, p, rc);
}

#define HANDLES_MAX LM_POOL_HANDLES_PER_SESSION_MAX
static struct lm_pool_handle handle_buf[HANDLES_MAX];

static void on_heartbeat(struct lm_client *c, const Lm__Envelope *env)
{
	if (!need_session(c, env))
		return;
	int n = lm_pool_session_handles(c->s->pool, c->session_id, handle_buf, HANDLES_MAX);
	if (n < 0) {
		/* Expired between the last heartbeat and this one. */
		send_error(c, env->request_id, LMC_ENOSESSION, "session expired", true);
		return;
	}
	if (n > HANDLES_MAX)
		n = HANDLES_MAX;
	uint64_t handles[HANDLES_MAX];
	for (int i = 0; i < n; i++)
		handles[i] = handle_buf[i].handle;
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__HeartbeatReply r = LM__HEARTBEAT_REPLY__INIT;
	r.n_handles = (size_t)n;
	r.handles = handles;
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT_REPLY;
	e.heartbeat_reply = &r;
	send_envelope(c, &e, false);
}

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

static void on_status(struct lm_client *c, const Lm__Envelope *env)
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
		send_error(c, env->request_id, LMC_ENOMEM,
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
			send_error(c, env->request_id, LMC_ETOOLARGE,
			           "status too large for one reply: ask for one feature (-f)",
			           false);
		else
			send_envelope(c, &e, false);
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
	send_error(c, env->request_id, LMC_EDENIED,
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

static void on_remove(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!admin_allowed(c, env))
		return;
	if (!s->ready) {
		send_not_serving(c, env->request_id);
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
		send_error(c, env->request_id, LMC_ENOHANDLE,
		           "no seat matches: check the names with `lmutil lmstat -a`", false);
		return;
	}
	c->affected = 0;
	c->outstanding = 0;
	for (unsigned i = 0; i < m.n; i++) {
		struct pending_cmd *p = calloc(1, sizeof *p);
		if (!p)
			break;
		p->kind = LM__ENVELOPE__BODY_REMOVE_REQUEST;
		p->request_id = env->request_id;
		p->handle = m.handles[i];
		Lmcmd__RemoveHandle rh = LMCMD__REMOVE_HANDLE__INIT;
		rh.has_handle = 1;
		rh.handle = m.handles[i];
		Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
		cmd.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
		cmd.remove_handle = &rh;
		c->outstanding++;
		if (propose(c, &cmd, p) != 0) {
			c->outstanding--;
			free(p);
			break;
		}
	}
	if (c->outstanding == 0)
		send_not_serving(c, env->request_id);
}

static void on_shutdown(struct lm_client *c, const Lm__Envelope *env)
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
	send_envelope(c, &e, true);
	/* Stop once the loop has flushed the reply. */
	lm_server_stop(c->s);
}

/* Every server of a triad reloads its own file: the leader proposes the
 * new license set at once, and a follower keeps it for the day it leads,
 * since a new leader proposes the license file it holds (on_cluster_change
 * in server.c); otherwise the next failover would bring the old set back. */
static void on_reread(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	if (!admin_allowed(c, env))
		return;
	struct lm_license_file f;
	struct lm_parse_error perr;
	char msg[600];
	int rc = lm_license_load(s->cfg.license_path, &f, &perr);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "%s:%d: %s (still serving the previous license)",
		         s->cfg.license_path, perr.lineno, perr.message);
		send_error(c, env->request_id, rc, msg, false);
		return;
	}
	for (size_t i = 0; i < f.nlines; i++) {
		if (lm_license_verify(&f, &f.lines[i], s->vendor_key) != 0) {
			snprintf(msg, sizeof msg,
			         "%s:%d: signature does not verify (still serving the previous "
			         "license)",
			         s->cfg.license_path, f.lines[i].lineno);
			lm_license_free(&f);
			send_error(c, env->request_id, LMC_EBADSIG, msg, false);
			return;
		}
	}
	if (f.nservers != s->license.nservers) {
		snprintf(msg, sizeof msg,
		         "%s has %d SERVER lines, the running servers %d: restart them to change "
		         "(still serving the previous license)",
		         s->cfg.license_path, f.nservers, s->license.nservers);
		lm_license_free(&f);
		send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	lm_license_free(&s->license);
	s->license = f;
	if (s->ready) {
		rc = lm_server_propose_license(s);
		if (rc != 0) {
			send_error(c, env->request_id, rc, lmc_strerror(rc), false);
			return;
		}
		snprintf(msg, sizeof msg, "reloaded %zu license lines", f.nlines);
	} else {
		snprintf(msg, sizeof msg,
		         "reloaded %zu license lines (a follower: it serves them once it leads)",
		         f.nlines);
	}
	lm_log("reread", "%s: %zu license lines, requested by peer=%s%s", s->cfg.license_path,
	       f.nlines, c->peer, s->ready ? "" : " (follower)");
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__AdminReply r = LM__ADMIN_REPLY__INIT;
	r.has_affected = 1;
	r.affected = (uint32_t)f.nlines;
	r.message = msg;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_REPLY;
	e.admin_reply = &r;
	send_envelope(c, &e, false);
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
			send_envelope(c, &e, false);
		} else {
			send_error(c, p->request_id,
			           status == LM_CLUSTER_EUNKNOWN ? LMC_ENOTLEADER : status, msg,
			           false);
		}
	}
	free(p);
	finish_request(c);
	unref(c);
}

static void on_replace(struct lm_client *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__ReplaceRequest *q = env->replace_request;
	char msg[300];
	if (!admin_allowed(c, env))
		return;
	if (!s->ready) {
		send_not_serving(c, env->request_id);
		return;
	}
	if (s->license.nservers != 3) {
		send_error(c, env->request_id, LMC_EINVAL,
		           "only a triad (three SERVER lines) has servers to replace", false);
		return;
	}
	unsigned node = q->node;
	if (q->new_id > UINT32_MAX || lm_server_line_of(s, (unsigned)q->new_id) != node) {
		snprintf(msg, sizeof msg,
		         "raft id %llu does not belong to SERVER line %u: is the server started "
		         "with --node %u --join?",
		         (unsigned long long)q->new_id, node, node);
		send_error(c, env->request_id, LMC_EINVAL, msg, false);
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
		send_error(c, env->request_id, LMC_EINVAL, msg, false);
		return;
	}
	struct replacing *p = calloc(1, sizeof *p);
	if (!p) {
		send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
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
			send_not_serving(c, env->request_id);
			return;
		}
		snprintf(msg, sizeof msg, "cannot replace raft id %u by %u: %s", old_id, new_id,
		         *lm_cluster_errmsg(s->cluster) ? lm_cluster_errmsg(s->cluster)
		                                        : lmc_strerror(rc));
		send_error(c, env->request_id, rc, msg, false);
		return;
	}
	lm_log("replace", "SERVER line %u: raft id %u at %s replaces raft id %u, by peer=%s", node,
	       new_id, q->new_address, old_id, c->peer);
	/* Busy until the change is done: the reply says how it ended. */
	c->busy = true;
	c->refs++;
}

/* ---- frames ---- */

static void handle_frame(struct lm_client *c, const uint8_t *payload, size_t len)
{
	struct lm_server *s = c->s;
	Lm__Envelope *env = NULL;
	char err[300];
	lm_arena_reset(&s->arena);
	int rc = lm_envelope_decode(payload, len, &s->arena, &env, err, sizeof err);
	if (rc != 0) {
		lm_log("error", "peer=%s user=%s bad request: %s; closing", c->peer, c->user, err);
		send_error(c, env ? env->request_id : 0, rc, err, true);
		return;
	}
	if (lm_body_is_reply(env->body_case)) {
		send_error(c, env->request_id, LMC_EPROTO, "a client sent a reply message", true);
		return;
	}
	if (c->session_id) {
		struct lm_live_session *ls = lm_live_find(&s->live, c->session_id);
		if (ls)
			ls->last_heard_ms = uv_now(s->loop);
	}
	if (c->state == CONN_HELLO && env->body_case != LM__ENVELOPE__BODY_HELLO) {
		send_error(c, env->request_id, LMC_EPROTO, "say Hello first", true);
		return;
	}
	switch (env->body_case) {
	case LM__ENVELOPE__BODY_HELLO: on_hello(c, env); break;
	case LM__ENVELOPE__BODY_SESSION_OPEN: on_session_open(c, env); break;
	case LM__ENVELOPE__BODY_CHECKOUT: on_checkout(c, env); break;
	case LM__ENVELOPE__BODY_CHECKIN: on_checkin(c, env); break;
	case LM__ENVELOPE__BODY_HEARTBEAT: on_heartbeat(c, env); break;
	case LM__ENVELOPE__BODY_SESSION_CLOSE: on_session_close(c, env); break;
	case LM__ENVELOPE__BODY_STATUS_REQUEST: on_status(c, env); break;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: on_remove(c, env); break;
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST: on_shutdown(c, env); break;
	case LM__ENVELOPE__BODY_REREAD_REQUEST: on_reread(c, env); break;
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: on_replace(c, env); break;
	default: send_error(c, env->request_id, LMC_EPROTO, "unsupported request", true); break;
	}
	lm_arena_reset(&s->arena);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Handles the complete frames at the front of c->pending, one at a time,
 * until the connection is busy with a command or only a partial frame is
 * left; reading resumes only when nothing is waiting. */
static void process(struct lm_client *c)
{
	size_t off = 0;
	while (c->state != CONN_CLOSING && !c->busy && c->pending_len - off >= LM_FRAME_HEADER) {
		uint32_t n = be32(c->pending + off);
		if (n > LM_FRAME_MAX) {
			char msg[128];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds the limit of %u", n,
			         LM_FRAME_MAX);
			lm_log("error", "peer=%s %s; closing", c->peer, msg);
			send_error(c, 0, LMC_ETOOLARGE, msg, true);
			break;
		}
		if (c->pending_len - off - LM_FRAME_HEADER < n)
			break;
		off += LM_FRAME_HEADER;
		handle_frame(c, c->pending + off, n);
		off += n;
	}
	if (c->state == CONN_CLOSING)
		return;
	memmove(c->pending, c->pending + off, c->pending_len - off);
	c->pending_len -= off;
	if (c->busy)
		uv_read_stop((uv_stream_t *)&c->tcp);
	else if (!uv_is_active((uv_handle_t *)&c->tcp))
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lm_client *c = h->data;
	buf->base = (char *)c->s->read_buf;
	buf->len = LM_FRAME_BUFSIZE(LM_FRAME_MAX);
}

/* Appends what was read to the connection's pending bytes, growing them to
 * at most one whole frame (plus what the read brought beyond it). */
static int append(struct lm_client *c, const uint8_t *data, size_t n)
{
	size_t need = c->pending_len + n;
	if (need > c->pending_cap) {
		size_t cap = c->pending_cap ? c->pending_cap : 256;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(c->pending, cap);
		if (!p)
			return LMC_ENOMEM;
		c->pending = p;
		c->pending_cap = cap;
	}
	memcpy(c->pending + c->pending_len, data, n);
	c->pending_len = need;
	return 0;
}

/* Idle connections hold no buffer: once everything is consumed, a large
 * pending buffer is given back. */
static void trim(struct lm_client *c)
{
	if (c->pending_len == 0 && c->pending_cap > 4096) {
		free(c->pending);
		c->pending = NULL;
		c->pending_cap = 0;
	}
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct lm_client *c = stream->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->session_id)
			lm_log("disconnect", "peer=%s user=%s session=%016llx kept for resume",
			       c->peer, c->user, (unsigned long long)c->session_id);
		lm_client_close(c);
		return;
	}
	if (append(c, (const uint8_t *)buf->base, (size_t)nread) != 0) {
		lm_client_close(c);
		return;
	}
	process(c);
	if (c->state != CONN_CLOSING)
		trim(c);
}

/* Connections that never said Hello are closed: they hold a slot and
 * memory for nothing. */
void lm_client_sweep(struct lm_server *s)
{
	uint64_t now = uv_now(s->loop);
	struct lm_client *c = s->conns;
	while (c) {
		struct lm_client *next = c->next;
		if (c->state == CONN_HELLO && now - c->accepted_ms > LM_HELLO_TIMEOUT_MS) {
			lm_log("error", "peer=%s said no Hello within %u ms; closing", c->peer,
			       LM_HELLO_TIMEOUT_MS);
			lm_client_close(c);
		}
		c = next;
	}
}

void lm_client_accept(struct lm_server *s)
{
	struct lm_client *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0 || s->stopping) {
		c->state = CONN_CLOSING;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	c->accepted_ms = uv_now(s->loop);
	uv_tcp_nodelay(&c->tcp, 1);

	struct sockaddr_storage peer;
	int plen = sizeof peer;
	snprintf(c->peer, sizeof c->peer, "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
		char ip[INET6_ADDRSTRLEN] = "";
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&peer;
			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
			c->local = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
			snprintf(c->peer, sizeof c->peer, "%s:%u", ip, ntohs(in->sin_port));
		} else if (peer.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
			c->local = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
			snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, ntohs(in6->sin6_port));
		}
	}
	if (s->nconns > LM_SERVER_CONNECTIONS_MAX) {
		lm_log("error", "peer=%s refused: %u connections is the limit", c->peer,
		       LM_SERVER_CONNECTIONS_MAX);
		send_error(c, 0, LMC_ELIMIT, "too many connections to this server", true);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
