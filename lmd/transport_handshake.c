/* lmd's replication transport: one handshake, from accept or dial until
 * the connection is handed to raft or closed (transport.h states the
 * rules; transport_preamble.c checks the bytes). */
#include "config.h"

#include "lmd/transport_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libraft's stock handshake starts with its protocol number, 1, as a 64-bit
 * little-endian integer (src/uv_tcp.h): an lmd that still speaks it is worth
 * a sentence of its own. */
static const uint8_t stock_magic[8] = {1, 0, 0, 0, 0, 0, 0, 0};

#define TICK_MS       (LM_TRANSPORT_HANDSHAKE_MS / 4)
#define LOG_WINDOW_MS 60000

static void on_tick(uv_timer_t *timer);
static void on_write(uv_write_t *w, int status);

/* ---- Logging refusals, within a budget ---- */

/* One line per refusal, except that a refusal saying exactly what the last
 * line said, within a minute of it, is only counted (a server of another
 * cluster dials again every second), and that at most
 * LM_TRANSPORT_LOG_BURST lines a minute are written (a flood).  What was
 * counted is told with the next line written. */
void lm_transport_log_refusal(struct lm_transport *t, const char *peer, const char *why)
{
	char msg[LM_TRANSPORT_ADDRESS_MAX + sizeof t->last_why + 64];

	if (t->cfg.log == NULL)
		return;
	uint64_t now = uv_now(t->loop);
	if (now - t->window_start >= LOG_WINDOW_MS) {
		t->window_start = now;
		t->logged = 0;
	}
	if ((strcmp(why, t->last_why) == 0 && now - t->last_ms < LOG_WINDOW_MS) ||
	    t->logged >= LM_TRANSPORT_LOG_BURST) {
		t->unlogged++;
		return;
	}
	if (t->unlogged > 0) {
		snprintf(msg, sizeof msg,
		         "replication peers were refused %u more times since the line before "
		         "(repeats and floods are counted, not logged)",
		         t->unlogged);
		t->cfg.log(t->cfg.log_arg, msg);
		t->unlogged = 0;
	}
	snprintf(msg, sizeof msg, "replication peer %s refused: %s", peer, why);
	t->cfg.log(t->cfg.log_arg, msg);
	snprintf(t->last_why, sizeof t->last_why, "%s", why);
	t->last_ms = now;
	t->logged++;
}

/* ---- Handshakes: the list, closing, handing over ---- */

static void unlink_hs(struct lm_handshake *hs)
{
	struct lm_transport *t = hs->t;
	if (hs->prev != NULL)
		hs->prev->next = hs->next;
	else
		t->handshakes = hs->next;
	if (hs->next != NULL)
		hs->next->prev = hs->prev;
	if (hs->counted) {
		hs->counted = false;
		t->incoming--;
	}
}

static void hs_closed(uv_handle_t *h)
{
	struct lm_handshake *hs = h->data;
	struct lm_transport *t = hs->t;
	struct raft_uv_connect *req = hs->req;
	int status = hs->status;

	unlink_hs(hs);
	raft_free(hs->stream);
	free(hs);
	/* raft may dial again from its callback: we are done with hs. */
	if (req != NULL)
		req->cb(req, NULL, status);
	lm_transport_maybe_closed(t);
}

/* Closes the connection; a dialler's request is called back with status
 * once the handle is closed. */
void lm_handshake_close(struct lm_handshake *hs, int status)
{
	if (hs->state == HS_CLOSING)
		return;
	hs->state = HS_CLOSING;
	hs->status = status;
	if (hs->counted) {
		hs->counted = false;
		hs->t->incoming--;
	}
	if (hs->link != NULL)
		lm_tls_link_close(hs->link); /* clears hs->link */
	uv_close((uv_handle_t *)hs->stream, hs_closed);
}

void lm_handshake_refuse(struct lm_handshake *hs, const char *fmt, ...)
{
	char why[sizeof hs->t->last_why];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	lm_transport_log_refusal(hs->t, hs->peer, why);
	lm_handshake_close(hs, RAFT_NOCONNECTION);
}

/* The handshake passed: the stream is raft's from here on. */
static void hand_over(struct lm_handshake *hs)
{
	struct lm_transport *t = hs->t;
	uv_stream_t *stream = hs->stream;

	uv_read_stop(stream);
	if (hs->link != NULL)
		lm_tls_link_detach(hs->link);
	unlink_hs(hs);
	stream->data = NULL;
	if (hs->outgoing)
		hs->req->cb(hs->req, stream, 0);
	else
		t->accept_cb(t->raft, hs->peer_id, hs->peer_address, stream);
	free(hs);
}

struct lm_handshake *lm_handshake_new(struct lm_transport *t, bool outgoing)
{
	struct lm_handshake *hs = calloc(1, sizeof *hs);

	if (hs == NULL)
		return NULL;
	hs->t = t;
	hs->outgoing = outgoing;
	if (t->cfg.tls != NULL) {
		if (lm_tls_link_new(hs) != 0) {
			free(hs);
			return NULL;
		}
	} else {
		uv_tcp_t *tcp = raft_malloc(sizeof *tcp);
		if (tcp == NULL) {
			free(hs);
			return NULL;
		}
		/* Cannot fail: no socket is created yet. */
		uv_tcp_init(t->loop, tcp);
		tcp->data = hs;
		hs->tcp = tcp;
		hs->stream = (uv_stream_t *)tcp;
	}
	hs->deadline = uv_now(t->loop) + LM_TRANSPORT_HANDSHAKE_MS;
	hs->next = t->handshakes;
	if (t->handshakes != NULL)
		t->handshakes->prev = hs;
	t->handshakes = hs;
	if (!uv_is_active((uv_handle_t *)&t->timer))
		uv_timer_start(&t->timer, on_tick, TICK_MS, TICK_MS);
	return hs;
}

/* ---- Reading the other side's preamble ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lm_handshake *hs = h->data;
	(void)suggested;
	/* Never more than the rest of the preamble: what follows is raft's. */
	buf->base = (char *)hs->in + hs->nread;
	buf->len = hs->state == HS_READING ? LM_TRANSPORT_PREAMBLE - hs->nread : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lm_handshake *hs = s->data;
	(void)buf;

	if (nread == 0 || hs->state != HS_READING)
		return;
	if (nread < 0) {
		/* A dialler keeps quiet: the side that closed says why. */
		if (hs->outgoing)
			lm_handshake_close(hs, RAFT_NOCONNECTION);
		else
			lm_handshake_refuse(hs,
			                    "closed the connection after %zu of %d handshake bytes",
			                    hs->nread, LM_TRANSPORT_PREAMBLE);
		return;
	}
	hs->nread += (size_t)nread;
	/* The magic is checked as it arrives, so that garbage is refused at
	 * once rather than after a timeout. */
	size_t k = hs->nread < 8 ? hs->nread : 8;
	if (memcmp(hs->in, LM_TRANSPORT_MAGIC, k) != 0) {
		if (memcmp(hs->in, stock_magic, k) != 0)
			lm_handshake_refuse(hs, "not an lmd replication handshake");
		else if (k == 8)
			lm_handshake_refuse(
			        hs, "it speaks libraft's stock handshake, not lmd's (an older "
			            "lmd?)");
		return;
	}
	if (hs->nread < LM_TRANSPORT_PREAMBLE)
		return;
	uv_read_stop(s);
	if (!lm_transport_preamble_check(hs))
		return;
	if (hs->t->cfg.tls != NULL && !lm_tls_check_announced(hs))
		return;
	/* Before a byte of raft traffic either way (transport.h). */
	if (hs->t->cfg.peer != NULL && hs->t->cfg.peer(hs->t->cfg.peer_arg, hs->peer_id) != 0) {
		lm_handshake_refuse(hs,
		                    "this server cannot record raft id %llu in its data directory",
		                    (unsigned long long)hs->peer_id);
		return;
	}
	if (hs->outgoing) {
		hand_over(hs);
		return;
	}
	/* Answer only a peer that proved to be of this cluster. */
	if (lm_handshake_send_preamble(hs) != 0)
		lm_handshake_close(hs, RAFT_NOCONNECTION);
}

static void on_write(uv_write_t *w, int status)
{
	struct lm_handshake *hs = w->data;

	if (hs->state != HS_WRITING)
		return; /* closing: status is UV_ECANCELED */
	if (status != 0) {
		lm_handshake_close(hs, RAFT_NOCONNECTION);
		return;
	}
	if (!hs->outgoing) {
		hand_over(hs);
		return;
	}
	if (lm_handshake_read_preamble(hs) != 0)
		lm_handshake_close(hs, RAFT_NOCONNECTION);
}

int lm_handshake_send_preamble(struct lm_handshake *hs)
{
	uv_buf_t b = uv_buf_init((char *)hs->out, LM_TRANSPORT_PREAMBLE);

	lm_transport_preamble_encode(hs->t, hs->out);
	hs->state = HS_WRITING;
	hs->write.data = hs;
	return uv_write(&hs->write, hs->stream, &b, 1, on_write);
}

int lm_handshake_read_preamble(struct lm_handshake *hs)
{
	hs->state = HS_READING;
	return uv_read_start(hs->stream, on_alloc, on_read);
}

int lm_handshake_start(struct lm_handshake *hs)
{
	if (hs->link != NULL) {
		hs->state = HS_TLS;
		return lm_tls_link_start(hs->link);
	}
	return hs->outgoing ? lm_handshake_send_preamble(hs) : lm_handshake_read_preamble(hs);
}

void lm_handshake_tls_ready(struct lm_handshake *hs)
{
	int rc = hs->outgoing ? lm_handshake_send_preamble(hs) : lm_handshake_read_preamble(hs);
	if (rc != 0)
		lm_handshake_close(hs, RAFT_NOCONNECTION);
}

/* ---- Timeouts ---- */

static void on_tick(uv_timer_t *timer)
{
	struct lm_transport *t = timer->data;
	uint64_t now = uv_now(t->loop);
	struct lm_handshake *hs, *next;

	/* lm_handshake_close() leaves hs in the list until its handle closed. */
	for (hs = t->handshakes; hs != NULL; hs = next) {
		next = hs->next;
		if (hs->state == HS_CLOSING || now < hs->deadline)
			continue;
		if (hs->outgoing)
			lm_handshake_close(hs, RAFT_NOCONNECTION);
		else if (hs->state == HS_TLS)
			lm_handshake_refuse(hs, "no complete TLS handshake within %d ms",
			                    LM_TRANSPORT_HANDSHAKE_MS);
		else
			lm_handshake_refuse(
			        hs, "no complete handshake within %d ms (%zu of %d bytes)",
			        LM_TRANSPORT_HANDSHAKE_MS, hs->nread, LM_TRANSPORT_PREAMBLE);
	}
	if (t->handshakes == NULL)
		uv_timer_stop(timer);
}
