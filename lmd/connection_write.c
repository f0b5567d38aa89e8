/* Replies (connection.h): every frame lmd sends goes through here, with a
 * bound on what a client that does not read can make the server hold. */
#include "config.h"

#include "lmd/connection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/faults.h"
#include "core/tls_conn.h"
#include "proto/frame.h"

struct write_req {
	uv_write_t req;
	struct lm_connection *c;
	bool close_after;
	uint8_t data[];
};

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct lm_connection *c = w->c;
	if ((status != 0 || w->close_after) && c->state != LM_CONNECTION_CLOSING)
		lm_connection_close(c);
	lm_connection_unref(c);
	free(w);
}

/* A client that does not read its replies must not make the server hold
 * them without bound. */
#define WRITE_QUEUE_MAX (8u * 1024 * 1024)

static void write_bytes(struct lm_connection *c, struct write_req *w, size_t len, bool close_after);

void lm_connection_flush_tls(struct lm_connection *c, bool close_after)
{
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	size_t len = lm_tls_conn_pending(c->tls);
	if (len == 0) {
		if (close_after)
			lm_connection_close(c);
		return;
	}
	struct write_req *w = lm_fault_alloc() ? NULL : malloc(sizeof *w + len);
	if (!w) {
		lm_connection_close(c);
		return;
	}
	len = lm_tls_conn_take(c->tls, w->data, len);
	write_bytes(c, w, len, close_after);
}

/* Queues the frame in w (len bytes of w->data) for writing: as it is, or
 * encrypted into TLS records. */
static void write_frame(struct lm_connection *c, struct write_req *w, size_t len, bool close_after)
{
	if (c->transport == LM_CONNECTION_TLS) {
		int rc = lm_tls_conn_encrypt(c->tls, w->data, len);
		free(w);
		if (rc != 0) {
			lm_log_error("peer=%s cannot encrypt a reply: closing", c->peer);
			lm_connection_close(c);
			return;
		}
		lm_connection_flush_tls(c, close_after);
		return;
	}
	write_bytes(c, w, len, close_after);
}

/* Queues len bytes of w->data for writing. */
static void write_bytes(struct lm_connection *c, struct write_req *w, size_t len, bool close_after)
{
	if (uv_stream_get_write_queue_size(&c->io.stream) > WRITE_QUEUE_MAX) {
		lm_log_error("peer=%s does not read its replies: closing", c->peer);
		free(w);
		lm_connection_close(c);
		return;
	}
	w->c = c;
	w->close_after = close_after;
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	c->refs++;
	if (uv_write(&w->req, &c->io.stream, &buf, 1, on_written) != 0) {
		c->refs--;
		free(w);
		lm_connection_close(c);
	}
}

void lm_connection_send(struct lm_connection *c, const Lm__Envelope *e, bool close_after)
{
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	size_t size = lm__envelope__get_packed_size(e) + LM_FRAME_HEADER;
	struct write_req *w = lm_fault_alloc() ? NULL : malloc(sizeof *w + size);
	size_t len;
	if (!w || lm_frame_pack(e, w->data, size, &len) != 0) {
		lm_log_error("peer=%s cannot pack a %s reply", c->peer, lm_body_name(e->body_case));
		free(w);
		lm_connection_close(c);
		return;
	}
	write_frame(c, w, len, close_after);
}

void lm_connection_send_error(struct lm_connection *c, uint64_t request_id, int code,
                              const char *message, bool close_after)
{
	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 64)];
	size_t len;
	/* lm_frame_pack_error cleans the message so that the client accepts
	 * it; re-wrap its bytes for the common write path. */
	if (lm_frame_pack_error(request_id, code, message, buf, sizeof buf, &len) != 0) {
		lm_connection_close(c);
		return;
	}
	if (c->state == LM_CONNECTION_CLOSING)
		return;
	struct write_req *w = lm_fault_alloc() ? NULL : malloc(sizeof *w + len);
	if (!w) {
		lm_connection_close(c);
		return;
	}
	memcpy(w->data, buf, len);
	write_frame(c, w, len, close_after);
}

/* Where to go when this server cannot serve: the leader, or nobody yet. */
void lm_connection_send_not_serving(struct lm_connection *c, uint64_t request_id)
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
		lm_connection_send(c, &e, false);
		return;
	}
	if (lm_server_awaits_membership(s)) {
		lm_connection_send_error(
		        c, request_id, LMC_ENOQUORUM,
		        "this server is not a member of the cluster yet (a replacement waiting "
		        "for `lmutil lmreplace`); ask another server",
		        false);
		return;
	}
	if (s->license.nservers == 1) {
		lm_connection_send_error(c, request_id, LMC_ENOQUORUM,
		                         "the server is starting; retry", false);
		return;
	}
	/* Raft needs two of the three servers to elect a leader and to commit
	 * anything: alone, a server can only say so.  It cannot tell whether
	 * the other two still serve together (then they may expire this
	 * client's session), so it promises nothing about seats held: the
	 * client keeps them only as long as its lease. */
	lm_connection_send_error(
	        c, request_id, LMC_ENOQUORUM,
	        "no quorum here: this server is not in touch with a leader (fewer than 2 of "
	        "the 3 license servers up and in touch with it, or an election under way); "
	        "try the other servers; seats held last until their lease runs out",
	        false);
}
