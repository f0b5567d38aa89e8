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

#include "core/key.h"
#include "core/error.h"
#include "lmd/faults.h"
#include "lmd/log.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

#include "lmd/client_internal.h"

static void process(struct lm_client *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* ---- lifetime ---- */

static void conn_free(struct lm_client *c)
{
	c->s->pending_total -= c->pending_cap;
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

void lm_client_unref(struct lm_client *c)
{
	c->refs--;
	if (c->closed && c->refs == 0)
		conn_free(c);
}

/* ---- the link between a connection and its session ----
 *
 * A live session points at the connection it is attached to and the
 * connection names the session: both sides are set in lm_client_bind() and
 * cleared together by unbind(), on every path that ends one of them, so
 * that neither can outlive the other (a session expiring later must never
 * reach a connection that was freed). */

static void unbind(struct lm_client *c)
{
	if (!c->session_id)
		return;
	struct lm_live_session *ls = lm_live_find(&c->s->live, c->session_id);
	if (ls && ls->conn == c)
		ls->conn = NULL;
	c->session_id = 0;
}

struct lm_live_session *lm_client_bind(struct lm_client *c, uint64_t session_id)
{
	struct lm_server *s = c->s;
	/* A connection carries one session: one opened after another leaves
	 * the first unattached, to be resumed or to expire. */
	if (c->session_id != session_id)
		unbind(c);
	struct lm_live_session *ls = lm_live_add(&s->live, session_id);
	if (!ls)
		return NULL;
	struct lm_client *old = ls->conn;
	if (old && old != c) {
		/* The session moved here (a client that reconnected before its
		 * old connection timed out): the old one is dead. */
		old->session_id = 0;
		ls->conn = NULL;
		lm_client_close(old);
	}
	ls->conn = c;
	ls->closing = false;
	ls->eof_ms = 0;
	ls->last_heard_ms = uv_now(s->loop);
	c->session_id = session_id;
	return ls;
}

void lm_client_close(struct lm_client *c)
{
	if (c->state == CONN_CLOSING)
		return;
	struct lm_server *s = c->s;
	c->state = CONN_CLOSING;
	unbind(c);
	if (c->counted)
		lm_peers_disconnect(&s->peers, c->peer_key);
	c->counted = false;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Closes c on purpose, saying why first: a client whose connection ends
 * unannounced must assume the server saw a dead process and will reclaim
 * its seats soon (SessionReply.linger_ms); one told why need not. */
static void end_announced(struct lm_client *c, int code, const char *why)
{
	if (c->state == CONN_CLOSING)
		return;
	/* Best effort and at once: a client that does not read must not keep
	 * the connection (or a stopping server) waiting. */
	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 64)];
	size_t len;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0 &&
	    lm_frame_pack_error(0, code, why, buf, sizeof buf, &len) == 0) {
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
		uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	}
	lm_client_close(c);
}

void lm_client_close_all(struct lm_server *s, int code, const char *why)
{
	for (struct lm_client *c = s->conns, *next; c; c = next) {
		next = c->next;
		end_announced(c, code, why);
	}
}

/* The session ended on the server (expired, removed): the client is told,
 * and a resume would fail. */
void lm_client_detach(struct lm_client *c)
{
	end_announced(c, LMC_ENOSESSION, "session expired: its seats went back to the pool");
}

/* Refusals of a flood are logged once per address and window, with the
 * count of those that were not. */
static bool should_log(struct lm_client *c, enum lm_peers_log_kind kind, unsigned *suppressed)
{
	struct lm_server *s = c->s;
	return lm_peers_should_log(&s->peers, c->peer_key, kind, uv_now(s->loop),
	                           LM_REFUSAL_LOG_WINDOW_MS, suppressed);
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
	lm_client_unref(c);
	free(w);
}

/* A client that does not read its replies must not make the server hold
 * them without bound. */
#define WRITE_QUEUE_MAX (8u * 1024 * 1024)

/* Queues the frame in w (len bytes of w->data) for writing. */
static void write_frame(struct lm_client *c, struct write_req *w, size_t len, bool close_after)
{
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

void lm_client_send(struct lm_client *c, const Lm__Envelope *e, bool close_after)
{
	if (c->state == CONN_CLOSING)
		return;
	size_t size = lm__envelope__get_packed_size(e) + LM_FRAME_HEADER;
	struct write_req *w = lm_fault_alloc() ? NULL : malloc(sizeof *w + size);
	size_t len;
	if (!w || lm_frame_pack(e, w->data, size, &len) != 0) {
		lm_log("error", "peer=%s cannot pack a %s reply", c->peer,
		       lm_body_name(e->body_case));
		free(w);
		lm_client_close(c);
		return;
	}
	write_frame(c, w, len, close_after);
}

void lm_client_send_error(struct lm_client *c, uint64_t request_id, int code, const char *message,
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
	struct write_req *w = lm_fault_alloc() ? NULL : malloc(sizeof *w + len);
	if (!w) {
		lm_client_close(c);
		return;
	}
	memcpy(w->data, buf, len);
	write_frame(c, w, len, close_after);
}

/* Where to go when this server cannot serve: the leader, or nobody yet. */
void lm_client_send_not_serving(struct lm_client *c, uint64_t request_id)
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
		lm_client_send(c, &e, false);
		return;
	}
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	if (!st.voter && st.role != LM_CLUSTER_UNAVAILABLE) {
		lm_client_send_error(
		        c, request_id, LMC_ENOQUORUM,
		        "this server is not a member of the cluster yet (a replacement waiting "
		        "for `lmutil lmreplace`); ask another server",
		        false);
		return;
	}
	if (s->license.nservers == 1) {
		lm_client_send_error(c, request_id, LMC_ENOQUORUM, "the server is starting; retry",
		                     false);
		return;
	}
	/* Raft needs two of the three servers to elect a leader and to commit
	 * anything: alone, a server can only say so.  It cannot tell whether
	 * the other two still serve together (then they may expire this
	 * client's session), so it promises nothing about seats held: the
	 * client keeps them only as long as its lease. */
	lm_client_send_error(
	        c, request_id, LMC_ENOQUORUM,
	        "no quorum here: this server is not in touch with a leader (fewer than 2 of "
	        "the 3 license servers up and in touch with it, or an election under way); "
	        "try the other servers; seats held last until their lease runs out",
	        false);
}

/* ---- committing commands ---- */

struct lm_request *lm_request_new(struct lm_client *c, const Lm__Envelope *env,
                                  lm_request_done_fn done)
{
	struct lm_request *p = lm_fault_alloc() ? NULL : calloc(1, sizeof *p);
	if (!p) {
		lm_client_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory", false);
		return NULL;
	}
	p->c = c;
	p->request_id = env->request_id;
	p->session_id = c->session_id;
	p->done = done;
	return p;
}

static void on_committed(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_request *p = arg;
	struct lm_client *c = p->c;
	bool open = c->state != CONN_CLOSING;
	/* A failure means the outcome is unknown (LEADERSHIPLOST): the command
	 * may still commit under the next leader.  The client retries there
	 * with the same request id, and the pool's dedup answers. */
	if (status == 0) {
		p->done(p, res, open && !c->request_failed);
	} else {
		lm_log("error",
		       "peer=%s user=%s request=%llu: outcome unknown (%s); the client retries "
		       "with the same request id",
		       c->peer, c->user, (unsigned long long)p->request_id,
		       status == LM_CLUSTER_EUNKNOWN ? "leadership lost before it committed"
		                                     : "the cluster failed to commit it");
		c->request_failed = true;
	}
	if (--c->outstanding == 0) {
		if (c->request_failed && open)
			lm_client_send_not_serving(c, p->request_id);
		c->request_failed = false;
		lm_client_finish_request(c);
	}
	free(p);
	lm_client_unref(c);
}

int lm_request_submit(struct lm_request *p, Lmcmd__Command *cmd)
{
	struct lm_client *c = p->c;
	uint8_t buf[1024];
	cmd->has_time_us = 1;
	cmd->time_us = lm_server_now_us();
	size_t size = lmcmd__command__get_packed_size(cmd);
	int rc = size > sizeof buf ? LMC_ETOOLARGE : 0;
	if (rc == 0) {
		lmcmd__command__pack(cmd, buf);
		rc = lm_server_propose(c->s, buf, size, on_committed, p);
	}
	if (rc == 0) {
		c->refs++;
		c->outstanding++;
		c->busy = true;
		return 0;
	}
	/* Refused before anything was proposed; commands already proposed
	 * for this request will answer it. */
	/* The disk guard logs a full disk once, not once per refusal. */
	if (rc != LMC_ENOTLEADER && rc != LMC_ESTORE)
		lm_log("error", "peer=%s user=%s request=%llu refused before replication: %s",
		       c->peer, c->user, (unsigned long long)p->request_id, lmc_strerror(rc));
	if (c->outstanding == 0) {
		if (rc == LMC_ENOTLEADER)
			lm_client_send_not_serving(c, p->request_id);
		else
			lm_client_send_error(c, p->request_id, rc, lmc_strerror(rc), false);
	}
	free(p);
	return rc;
}

void lm_client_finish_request(struct lm_client *c)
{
	c->busy = false;
	if (c->state == CONN_CLOSING)
		return;
	process(c);
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
		lm_client_send_error(c, env ? env->request_id : 0, rc, err, true);
		return;
	}
	if (lm_body_is_reply(env->body_case)) {
		lm_client_send_error(c, env->request_id, LMC_EPROTO,
		                     "a client sent a reply message", true);
		return;
	}
	c->active_ms = uv_now(s->loop);
	if (c->session_id) {
		/* A session being expired is not kept alive by what its client
		 * says now: the request is refused (lm_client_need_session). */
		struct lm_live_session *ls = lm_live_find(&s->live, c->session_id);
		if (ls && !ls->closing)
			ls->last_heard_ms = c->active_ms;
	}
	if (c->state == CONN_HELLO && env->body_case != LM__ENVELOPE__BODY_HELLO) {
		lm_client_send_error(c, env->request_id, LMC_EPROTO, "say Hello first", true);
		return;
	}
	if (c->state != CONN_HELLO && env->body_case == LM__ENVELOPE__BODY_HELLO) {
		/* The identity is fixed once a session may have been opened
		 * under it: the log and lmstat must name the same user. */
		lm_client_send_error(c, env->request_id, LMC_EPROTO,
		                     "Hello was already said on this connection; open a new "
		                     "connection to change the user or host",
		                     false);
		return;
	}
	switch (env->body_case) {
	case LM__ENVELOPE__BODY_HELLO: lm_client_on_hello(c, env); break;
	case LM__ENVELOPE__BODY_SESSION_OPEN: lm_client_on_session_open(c, env); break;
	case LM__ENVELOPE__BODY_CHECKOUT: lm_client_on_checkout(c, env); break;
	case LM__ENVELOPE__BODY_CHECKIN: lm_client_on_checkin(c, env); break;
	case LM__ENVELOPE__BODY_HEARTBEAT: lm_client_on_heartbeat(c, env); break;
	case LM__ENVELOPE__BODY_SESSION_CLOSE: lm_client_on_session_close(c, env); break;
	case LM__ENVELOPE__BODY_STATUS_REQUEST: lm_client_on_status(c, env); break;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: lm_client_on_remove(c, env); break;
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST: lm_client_on_shutdown(c, env); break;
	case LM__ENVELOPE__BODY_REREAD_REQUEST: lm_client_on_reread(c, env); break;
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: lm_client_on_replace(c, env); break;
	default:
		lm_client_send_error(c, env->request_id, LMC_EPROTO, "unsupported request", true);
		break;
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
			lm_client_send_error(c, 0, LMC_ETOOLARGE, msg, true);
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
	/* The deadline of a partial frame runs from its first byte. */
	if (c->pending_len == 0)
		c->frame_started_ms = 0;
	else if (off > 0 || c->frame_started_ms == 0)
		c->frame_started_ms = uv_now(c->s->loop);
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
	struct lm_server *s = c->s;
	size_t need = c->pending_len + n;
	if (need > c->pending_cap) {
		size_t cap = c->pending_cap ? c->pending_cap : 256;
		while (cap < need)
			cap *= 2;
		if (s->pending_total - c->pending_cap + cap > LM_SERVER_PENDING_MAX)
			return LMC_ELIMIT;
		uint8_t *p = lm_fault_alloc() ? NULL : realloc(c->pending, cap);
		if (!p)
			return LMC_ENOMEM;
		s->pending_total = s->pending_total - c->pending_cap + cap;
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
		c->s->pending_total -= c->pending_cap;
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
		struct lm_server *s = c->s;
		struct lm_live_session *ls = lm_live_find(&s->live, c->session_id);
		/* The peer's kernel ended the connection (FIN, or RST when the
		 * process died with unread replies) without a SessionClose: the
		 * process most likely died.  liblmc shortens its own lease when
		 * it closes a connection itself (SessionReply.linger_ms), so the
		 * seats can come back after --reclaim-after instead of the whole
		 * session timeout. */
		bool ended = nread == UV_EOF || nread == UV_ECONNRESET;
		if (ls && ls->conn == c && ended && s->cfg.reclaim_ms) {
			ls->eof_ms = uv_now(s->loop) ? uv_now(s->loop) : 1;
			lm_log("disconnect",
			       "peer=%s user=%s session=%016llx closed without checkin: its seats "
			       "return in %u ms unless it reconnects",
			       c->peer, c->user, (unsigned long long)c->session_id,
			       s->cfg.reclaim_ms);
		} else if (ls) {
			lm_log("disconnect", "peer=%s user=%s session=%016llx (%s) kept for resume",
			       c->peer, c->user, (unsigned long long)c->session_id,
			       uv_err_name((int)nread));
		}
		lm_client_close(c);
		return;
	}
	int rc = append(c, (const uint8_t *)buf->base, (size_t)nread);
	if (rc == LMC_ELIMIT) {
		unsigned suppressed;
		if (should_log(c, LM_PEERS_LOG_BUSY, &suppressed))
			lm_log("error",
			       "peer=%s unfinished frames of all connections hold %u bytes, the "
			       "limit: closing this one (%u more not logged)",
			       c->peer, LM_SERVER_PENDING_MAX, suppressed);
		uv_read_stop(stream);
		lm_client_send_error(c, 0, LMC_ELIMIT, "the server is busy: retry", true);
		return;
	}
	if (rc != 0) {
		lm_log("error", "peer=%s out of memory reading a frame: closing", c->peer);
		lm_client_close(c);
		return;
	}
	process(c);
	if (c->state != CONN_CLOSING)
		trim(c);
}

/* Connections that hold a slot and memory for nothing are closed: no
 * Hello in time, a frame that never completes, no session and no request
 * for a long while.  A connection with a session is left to the session's
 * own timeout, which detaches it. */
void lm_client_sweep(struct lm_server *s)
{
	uint64_t now = uv_now(s->loop);
	struct lm_client *c = s->conns;
	while (c) {
		struct lm_client *next = c->next;
		const char *why = NULL;
		unsigned limit = 0;
		enum lm_peers_log_kind kind = LM_PEERS_LOG_HELLO;
		if (c->busy) {
			/* Waiting for its command to commit: not the client's fault. */
		} else if (c->state == CONN_HELLO && now - c->accepted_ms > LM_HELLO_TIMEOUT_MS) {
			why = "said no Hello within";
			limit = LM_HELLO_TIMEOUT_MS;
		} else if (c->frame_started_ms &&
		           now - c->frame_started_ms > LM_FRAME_DEADLINE_MS) {
			why = "sent no whole frame within";
			limit = LM_FRAME_DEADLINE_MS;
			kind = LM_PEERS_LOG_FRAME;
		} else if (!c->session_id && c->state == CONN_READY &&
		           now - c->active_ms > LM_IDLE_TIMEOUT_MS) {
			why = "has no session and sent nothing for";
			limit = LM_IDLE_TIMEOUT_MS;
			kind = LM_PEERS_LOG_IDLE;
		}
		if (why) {
			unsigned suppressed;
			if (should_log(c, kind, &suppressed))
				lm_log("error", "peer=%s %s %u ms: closing (%u more not logged)",
				       c->peer, why, limit, suppressed);
			lm_client_close(c);
		}
		c = next;
	}
	lm_peers_prune(&s->peers, now);
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
		lm_peers_key((struct sockaddr *)&peer, c->peer_key);
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
	c->active_ms = c->accepted_ms;
	/* The refusals are answered, not silent resets: the descriptor
	 * reserve (LM_SERVER_FD_RESERVE) leaves room to accept, say why and
	 * close. */
	const char *refusal = NULL;
	char msg[160];
	if (s->nconns > s->conns_max) {
		refusal = "connections to this server";
		snprintf(msg, sizeof msg,
		         "the server holds %u connections, its limit (--max-connections): retry "
		         "later",
		         s->conns_max);
	} else if (!lm_peers_connect(&s->peers, c->peer_key)) {
		refusal = "connections from this address";
		snprintf(msg, sizeof msg,
		         "this address holds %u connections to the server, its limit "
		         "(--max-host-connections): close some or retry later",
		         s->peers.conns_max);
	} else {
		c->counted = true;
	}
	if (refusal) {
		unsigned suppressed;
		if (should_log(c, LM_PEERS_LOG_CONNS, &suppressed))
			lm_log("error", "peer=%s refused: too many %s (%u more not logged)",
			       c->peer, refusal, suppressed);
		lm_client_send_error(c, 0, LMC_ELIMIT, msg, true);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
