/* Connections (connection.h): their lifetime, the link to their session,
 * reading and dispatching frames, and the sweep. */
#include "config.h"

#include "lmd/connection.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/tls.h"
#include "lmd/faults.h"
#include "core/tls_conn.h"
#include "proto/frame.h"

static void process(struct lm_connection *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* ---- lifetime ---- */

static void conn_free(struct lm_connection *c)
{
	lm_tls_conn_free(c->tls);
	lm_frame_reader_close(&c->reader);
	free(c);
}

static void on_closed(uv_handle_t *h)
{
	struct lm_connection *c = h->data;
	c->closed = true;
	if (c->refs == 0)
		conn_free(c);
}

void lm_connection_unref(struct lm_connection *c)
{
	c->refs--;
	if (c->closed && c->refs == 0)
		conn_free(c);
}

/* ---- the link between a connection and its session ----
 *
 * A live session points at the connection it is attached to and the
 * connection names the session: both sides are set in lm_connection_bind() and
 * cleared together by unbind(), on every path that ends one of them, so
 * that neither can outlive the other (a session expiring later must never
 * reach a connection that was freed). */

static void unbind(struct lm_connection *c)
{
	if (!c->session_id)
		return;
	struct lm_live_session *ls = lm_live_sessions_find(&c->s->live, c->session_id);
	if (ls && ls->conn == c)
		ls->conn = NULL;
	c->session_id = 0;
}

struct lm_live_session *lm_connection_bind(struct lm_connection *c, uint64_t session_id)
{
	struct lm_server *s = c->s;
	/* A connection carries one session: one opened after another leaves
	 * the first unattached, to be resumed or to expire. */
	if (c->session_id != session_id)
		unbind(c);
	struct lm_live_session *ls = lm_live_sessions_add(&s->live, session_id);
	if (!ls)
		return NULL;
	struct lm_connection *old = ls->conn;
	if (old && old != c) {
		/* The session moved here (a client that reconnected before its
		 * old connection timed out): the old one is dead. */
		old->session_id = 0;
		ls->conn = NULL;
		lm_connection_close(old);
	}
	ls->conn = c;
	ls->closing = false;
	ls->eof_ms = 0;
	ls->last_heard_ms = uv_now(s->loop);
	c->session_id = session_id;
	return ls;
}

/* c's TLS handshake no longer counts against LM_TLS_HANDSHAKES_MAX: it
 * completed, or the connection closes.  Idempotent. */
static void tls_handshake_done(struct lm_connection *c)
{
	if (c->tls_counted)
		c->s->tls_handshakes--;
	c->tls_counted = false;
}

void lm_connection_close(struct lm_connection *c)
{
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	struct lm_server *s = c->s;
	c->state = LM_CONNECTION_CLOSING;
	unbind(c);
	if (c->counted)
		lm_peers_disconnect(&s->peers, c->peer_key);
	c->counted = false;
	tls_handshake_done(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close(&c->io.handle, on_closed);
}

/* Closes c on purpose, saying why first: a client whose connection ends
 * unannounced must assume the server saw a dead process and will reclaim
 * its seats soon (SessionReply.linger_ms); one told why need not. */
static void end_announced(struct lm_connection *c, int code, const char *why)
{
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	/* Best effort and at once: a client that does not read must not keep
	 * the connection (or a stopping server) waiting. */
	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 64) + 256];
	size_t len;
	bool tls = c->transport == LM_CONNECTION_TLS;
	if (uv_stream_get_write_queue_size(&c->io.stream) == 0 &&
	    (!tls || lm_tls_conn_established(c->tls)) &&
	    lm_frame_pack_error(0, code, why, buf, sizeof buf, &len) == 0) {
		/* A TLS record adds a header, a type byte and a tag: 22 bytes
		 * beside the 256 kept for them. */
		if (tls && lm_tls_conn_encrypt(c->tls, buf, len) == 0)
			len = lm_tls_conn_take(c->tls, buf, sizeof buf);
		else if (tls)
			len = 0;
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
		if (len > 0)
			uv_try_write(&c->io.stream, &b, 1);
	}
	lm_connection_close(c);
}

void lm_connection_close_all(struct lm_server *s, int code, const char *why)
{
	for (struct lm_connection *c = s->conns, *next; c; c = next) {
		next = c->next;
		end_announced(c, code, why);
	}
}

/* The session ended on the server (expired, removed): the client is told,
 * and a resume would fail. */
void lm_connection_detach(struct lm_connection *c)
{
	end_announced(c, LMC_ENOSESSION, "session expired: its seats went back to the pool");
}

/* Refusals of a flood are logged once per address and window, with the
 * count of those that were not. */
static bool should_log(struct lm_connection *c, enum lm_peers_log_kind kind, unsigned *suppressed)
{
	struct lm_server *s = c->s;
	return lm_peers_should_log(&s->peers, c->peer_key, kind, uv_now(s->loop),
	                           LM_REFUSAL_LOG_WINDOW_MS, suppressed);
}

void lm_connection_finish_request(struct lm_connection *c)
{
	c->busy = false;
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	process(c);
}

/* ---- reading and dispatching frames ---- */

static void handle_frame(struct lm_connection *c, const uint8_t *payload, size_t len)
{
	struct lm_server *s = c->s;
	Lm__Envelope *env = NULL;
	char err[300];
	lm_arena_reset(&s->arena);
	int rc = lm_envelope_decode(payload, len, &s->arena, &env, err, sizeof err);
	if (rc != 0) {
		lm_log_error("peer=%s user=%s bad request: %s; closing", c->peer, c->user, err);
		lm_connection_send_error(c, env ? env->request_id : 0, rc, err, true);
		return;
	}
	if (lm_body_is_reply(env->body_case)) {
		lm_connection_send_error(c, env->request_id, LMC_EPROTO,
		                         "a client sent a reply message", true);
		return;
	}
	c->active_ms = uv_now(s->loop);
	if (c->session_id) {
		/* A session being expired is not kept alive by what its client
		 * says now: the request is refused (lm_connection_need_session). */
		struct lm_live_session *ls = lm_live_sessions_find(&s->live, c->session_id);
		if (ls && !ls->closing)
			ls->last_heard_ms = c->active_ms;
	}
	if (c->state == LM_CONNECTION_HELLO && env->body_case != LM__ENVELOPE__BODY_HELLO) {
		lm_connection_send_error(c, env->request_id, LMC_EPROTO, "say Hello first", true);
		return;
	}
	if (c->state != LM_CONNECTION_HELLO && env->body_case == LM__ENVELOPE__BODY_HELLO) {
		/* The identity is fixed once a session may have been opened
		 * under it: the log and lmstat must name the same user. */
		lm_connection_send_error(c, env->request_id, LMC_EPROTO,
		                         "Hello was already said on this connection; open a new "
		                         "connection to change the user or host",
		                         false);
		return;
	}
	lm_handler_fn handler = lm_dispatch_find(&s->dispatch, env->body_case);
	if (handler)
		handler(c, env);
	else
		lm_connection_send_error(c, env->request_id, LMC_EPROTO, "unsupported request",
		                         true);
	lm_arena_reset(&s->arena);
}

/* Handles the complete frames the reader holds, one at a time, until the
 * connection is busy with a command or only a partial frame is left;
 * reading resumes only when nothing is waiting. */
static void process(struct lm_connection *c)
{
	const uint8_t *payload;
	size_t len;
	unsigned handled = 0;
	while (c->state != LM_CONNECTION_CLOSING && !c->busy) {
		int rc = lm_frame_reader_next(&c->reader, &payload, &len);
		if (rc == 0)
			break;
		if (rc < 0) {
			char msg[128];
			snprintf(msg, sizeof msg, "frame of %zu bytes exceeds the limit of %u", len,
			         LM_FRAME_MAX);
			lm_log_error("peer=%s %s; closing", c->peer, msg);
			lm_connection_send_error(c, 0, LMC_ETOOLARGE, msg, true);
			break;
		}
		handle_frame(c, payload, len);
		handled++;
	}
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	/* The deadline of a partial frame runs from its first byte. */
	if (lm_frame_reader_pending(&c->reader) == 0)
		c->frame_started_ms = 0;
	else if (handled > 0 || c->frame_started_ms == 0)
		c->frame_started_ms = uv_now(c->s->loop);
	if (c->busy)
		uv_read_stop(&c->io.stream);
	else if (!uv_is_active(&c->io.handle))
		uv_read_start(&c->io.stream, on_alloc, on_read);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lm_connection *c = h->data;
	buf->base = (char *)c->s->read_buf;
	buf->len = LM_FRAME_BUFSIZE(LM_FRAME_MAX);
}

/* The memory of a connection's frame reader: unfinished frames of all
 * connections together hold at most LM_SERVER_PENDING_MAX bytes, those of
 * one address at most LM_SERVER_PENDING_PER_ADDRESS_MAX. */
static int pending_resize(void *arg, uint8_t **block, size_t old_size, size_t new_size)
{
	struct lm_connection *c = arg;
	struct lm_server *s = c->s;
	if (new_size == 0) {
		free(*block);
		*block = NULL;
		s->pending_total -= old_size;
		lm_peers_hold_pending(&s->peers, c->peer_key, old_size, 0, 0);
		return 0;
	}
	if (s->pending_total - old_size + new_size > LM_SERVER_PENDING_MAX)
		return LMC_ELIMIT;
	if (!lm_peers_hold_pending(&s->peers, c->peer_key, old_size, new_size,
	                           LM_SERVER_PENDING_PER_ADDRESS_MAX))
		return LMC_ELIMIT;
	uint8_t *p = lm_fault_alloc() ? NULL : realloc(*block, new_size);
	if (!p) {
		lm_peers_hold_pending(&s->peers, c->peer_key, new_size, old_size, SIZE_MAX);
		return LMC_ENOMEM;
	}
	s->pending_total = s->pending_total - old_size + new_size;
	*block = p;
	return 0;
}

/* Plaintext from TLS goes where a plaintext connection's bytes go. */
static int feed_reader(void *arg, const uint8_t *data, size_t len)
{
	struct lm_connection *c = arg;
	return lm_frame_reader_feed(&c->reader, data, len);
}

/* A TLS connection starts: refused when TLS is off (its ClientHello then
 * meets the frame reader, which refuses it as an oversized frame and says
 * so in plaintext, which the client reports as "no TLS here") or when too
 * many handshakes are under way. */
static int start_tls(struct lm_connection *c)
{
	struct lm_server *s = c->s;
	if (!s->tls_ctx) {
		c->transport = LM_CONNECTION_PLAINTEXT;
		return 0;
	}
	c->transport = LM_CONNECTION_TLS;
	unsigned suppressed;
	if (s->tls_handshakes >= LM_TLS_HANDSHAKES_MAX) {
		if (should_log(c, LM_PEERS_LOG_TLS, &suppressed))
			lm_log_error("peer=%s refused: %u TLS handshakes are under way, the "
			             "limit (%u more not logged)",
			             c->peer, s->tls_handshakes, suppressed);
		lm_connection_close(c);
		return LMC_ELIMIT;
	}
	c->tls = lm_fault_alloc() ? NULL : lm_tls_conn_new(s->tls_ctx);
	if (!c->tls) {
		lm_log_error("peer=%s out of memory for TLS: closing", c->peer);
		lm_connection_close(c);
		return LMC_ENOMEM;
	}
	s->tls_handshakes++;
	c->tls_counted = true;
	return 0;
}

/* The first bytes of a client port connection say what it speaks
 * (core/tls.h).  With --client-tls require, a plaintext client is told in
 * plaintext, which every liblmc prints. */
static int decide_transport(struct lm_connection *c, uint8_t first)
{
	struct lm_server *s = c->s;
	if (first == LM_TLS_RECORD_HANDSHAKE)
		return start_tls(c);
	c->transport = LM_CONNECTION_PLAINTEXT;
	if (s->cfg.client_tls == LM_CLIENT_TLS_REQUIRE) {
		unsigned suppressed;
		if (should_log(c, LM_PEERS_LOG_TLS, &suppressed))
			lm_log_error("peer=%s refused: a plaintext client, and TLS is required "
			             "(--client-tls require) (%u more not logged)",
			             c->peer, suppressed);
		uv_read_stop(&c->io.stream);
		lm_connection_send_error(
		        c, 0, LMC_ENEEDTLS,
		        "this license server accepts only TLS connections (lmd --client-tls "
		        "require): upgrade this program's liblmc or lmutil to one that speaks "
		        "TLS, or set LMC_TLS=on",
		        true);
		return LMC_ENEEDTLS;
	}
	return 0;
}

/* Bytes from the network into the frame reader, through TLS when the
 * connection speaks it.  Returns 0 or a code; c may be closing. */
static int take_bytes(struct lm_connection *c, const uint8_t *data, size_t len)
{
	if (c->transport == LM_CONNECTION_UNDECIDED) {
		int rc = decide_transport(c, data[0]);
		if (rc != 0)
			return rc;
	}
	if (c->transport != LM_CONNECTION_TLS)
		return lm_frame_reader_feed(&c->reader, data, len);
	char why[240];
	bool was_established = lm_tls_conn_established(c->tls);
	int rc = lm_tls_conn_feed(c->tls, data, len, feed_reader, c, why, sizeof why);
	if (!was_established && lm_tls_conn_established(c->tls))
		tls_handshake_done(c);
	if (rc == LMC_ETLS) {
		unsigned suppressed;
		if (should_log(c, LM_PEERS_LOG_TLS, &suppressed))
			lm_log_error("peer=%s TLS failed: %s; closing (%u more not logged)",
			             c->peer, why, suppressed);
		return rc;
	}
	/* Handshake messages to answer, even when the rest failed. */
	lm_connection_flush_tls(c, false);
	return rc;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct lm_connection *c = stream->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		struct lm_server *s = c->s;
		struct lm_live_session *ls = lm_live_sessions_find(&s->live, c->session_id);
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
		lm_connection_close(c);
		return;
	}
	int rc = take_bytes(c, (const uint8_t *)buf->base, (size_t)nread);
	if (c->state == LM_CONNECTION_CLOSING || rc == LMC_ENEEDTLS)
		return;
	if (rc == LMC_ETLS) {
		uv_read_stop(stream);
		lm_connection_flush_tls(c, true); /* the alert, if any */
		return;
	}
	if (rc == LMC_ELIMIT) {
		unsigned suppressed;
		if (should_log(c, LM_PEERS_LOG_BUSY, &suppressed))
			lm_log_error(
			        "peer=%s unfinished frames of all connections (or of this "
			        "address's) reached their limit of %u (%u) bytes: closing this "
			        "one (%u more not logged)",
			        c->peer, LM_SERVER_PENDING_MAX, LM_SERVER_PENDING_PER_ADDRESS_MAX,
			        suppressed);
		uv_read_stop(stream);
		lm_connection_send_error(c, 0, LMC_ELIMIT, "the server is busy: retry", true);
		return;
	}
	if (rc != 0) {
		lm_log_error("peer=%s out of memory reading a frame: closing", c->peer);
		lm_connection_close(c);
		return;
	}
	process(c);
}

/* Connections that hold a slot and memory for nothing are closed: no
 * Hello in time, a frame that never completes, no session and no request
 * for a long while.  A connection with a session is left to the session's
 * own timeout, which detaches it. */
void lm_connection_sweep(struct lm_server *s)
{
	uint64_t now = uv_now(s->loop);
	struct lm_connection *c = s->conns;
	while (c) {
		struct lm_connection *next = c->next;
		const char *why = NULL;
		unsigned limit = 0;
		enum lm_peers_log_kind kind = LM_PEERS_LOG_HELLO;
		if (c->busy) {
			/* Waiting for its command to commit: not the client's fault. */
		} else if (c->tls && !lm_tls_conn_established(c->tls) &&
		           now - c->accepted_ms > LM_TLS_HANDSHAKE_TIMEOUT_MS) {
			why = "did not finish its TLS handshake within";
			limit = LM_TLS_HANDSHAKE_TIMEOUT_MS; /* logged as a missing Hello */
		} else if (c->state == LM_CONNECTION_HELLO &&
		           now - c->accepted_ms > LM_HELLO_TIMEOUT_MS) {
			why = "said no Hello within";
			limit = LM_HELLO_TIMEOUT_MS;
		} else if (c->frame_started_ms &&
		           now - c->frame_started_ms > LM_FRAME_DEADLINE_MS) {
			why = "sent no whole frame within";
			limit = LM_FRAME_DEADLINE_MS;
			kind = LM_PEERS_LOG_FRAME;
		} else if (!c->session_id && c->state == LM_CONNECTION_READY &&
		           now - c->active_ms > LM_IDLE_TIMEOUT_MS) {
			why = "has no session and sent nothing for";
			limit = LM_IDLE_TIMEOUT_MS;
			kind = LM_PEERS_LOG_IDLE;
		}
		if (why) {
			unsigned suppressed;
			if (should_log(c, kind, &suppressed))
				lm_log_error("peer=%s %s %u ms: closing (%u more not logged)",
				             c->peer, why, limit, suppressed);
			lm_connection_close(c);
		}
		c = next;
	}
	lm_peers_prune(&s->peers, now);
}

/* Accepts the next connection of listener into c (whose handle is
 * initialised) and links it with the others; false when there was none to
 * accept, c then being closed. */
static bool accept_into(struct lm_connection *c, uv_stream_t *listener)
{
	struct lm_server *s = c->s;
	c->io.handle.data = c;
	if (uv_accept(listener, &c->io.stream) != 0 || s->stopping) {
		c->state = LM_CONNECTION_CLOSING;
		uv_close(&c->io.handle, on_closed);
		return false;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	c->accepted_ms = uv_now(s->loop);
	c->active_ms = c->accepted_ms;
	return true;
}

/* A peer of the admin socket: the kernel says who it is. */
void lm_connection_accept_admin(struct lm_server *s, lm_connection_identify_fn identify)
{
	struct lm_connection *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->s = s;
	lm_frame_reader_init_growing(&c->reader, LM_FRAME_MAX, pending_resize, c);
	uv_pipe_init(s->loop, &c->io.pipe, 0);
	if (!accept_into(c, (uv_stream_t *)&s->admin_listener))
		return;
	c->on_admin_socket = true;
	c->transport = LM_CONNECTION_PLAINTEXT;
	uv_os_fd_t fd = -1;
	uv_fileno(&c->io.handle, &fd);
	identify(c, fd);
	/* The zero key stands for every peer of the admin socket in the
	 * per-address accounting (peers.h). */
	if (s->nconns > s->conns_max || !lm_peers_connect(&s->peers, c->peer_key)) {
		lm_connection_send_error(c, 0, LMC_ELIMIT,
		                         "the server holds its limit of connections: retry later",
		                         true);
		return;
	}
	c->counted = true;
	uv_read_start(&c->io.stream, on_alloc, on_read);
}

void lm_connection_accept(struct lm_server *s)
{
	struct lm_connection *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->s = s;
	lm_frame_reader_init_growing(&c->reader, LM_FRAME_MAX, pending_resize, c);
	uv_tcp_init(s->loop, &c->io.tcp);
	if (!accept_into(c, (uv_stream_t *)&s->listener))
		return;
	uv_tcp_nodelay(&c->io.tcp, 1);

	struct sockaddr_storage peer;
	int plen = sizeof peer;
	snprintf(c->peer, sizeof c->peer, "?");
	if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&peer, &plen) == 0) {
		char ip[INET6_ADDRSTRLEN] = "";
		lm_peers_key((struct sockaddr *)&peer, c->peer_key);
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&peer;
			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
			snprintf(c->ip, sizeof c->ip, "%s", ip);
			snprintf(c->peer, sizeof c->peer, "%s:%u", ip, ntohs(in->sin_port));
		} else if (peer.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
			snprintf(c->ip, sizeof c->ip, "%s", ip);
			snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, ntohs(in6->sin6_port));
		}
	}
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
			lm_log_error("peer=%s refused: too many %s (%u more not logged)", c->peer,
			             refusal, suppressed);
		lm_connection_send_error(c, 0, LMC_ELIMIT, msg, true);
		return;
	}
	uv_read_start(&c->io.stream, on_alloc, on_read);
}
