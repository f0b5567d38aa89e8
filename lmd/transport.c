/* lmd's replication transport (see transport.h).
 *
 * What libraft 0.15 expects of a transport, read from its uv backend
 * (src/uv.c, uv_recv.c, uv_send.c at v0.15.0):
 *
 *  - init(id, address) runs inside raft_init() and is its last step that
 *    can fail; close(cb) runs from raft_close() once init succeeded, and
 *    raft_uv waits for cb before it calls back itself;
 *  - listen(accept_cb) runs at raft_start(); accept_cb(id, address, stream)
 *    takes the stream, which raft frees with raft_free() after closing it,
 *    and copies the address;
 *  - connect(req, id, address, cb) must call cb exactly once, later, with
 *    a stream raft then owns the same way, or with an error; if connect
 *    itself fails cb is never called and raft retries after a delay;
 *  - raft overwrites stream->data and reads (incoming) or writes
 *    (outgoing) raft messages only: it has no handshake of its own.
 *
 * So a stream is always raft_malloc'd, and it changes hands only between
 * two reads: the handshake reads exactly the preamble, never a byte of what
 * follows.  How the files of the transport divide the work:
 * transport_internal.h. */
#include "config.h"

#include "lmd/transport_internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* raft's stock listener has a backlog of 1: a burst of connections would
 * then make the kernel drop a real peer's. */
#define LISTEN_BACKLOG 64

/* ---- Incoming connections ---- */

static void name_peer(uv_tcp_t *tcp, char *out, size_t size)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *sa = (const struct sockaddr_in *)&ss;
			uv_ip4_name(sa, ip, sizeof ip);
			port = ntohs(sa->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)&ss;
			uv_ip6_name(sa, ip, sizeof ip);
			port = ntohs(sa->sin6_port);
		}
	}
	snprintf(out, size, "%s:%u", ip, port);
}

static void drop_connection(struct lm_transport *t);

static void spare_closed(uv_handle_t *h)
{
	struct lm_transport *t = h->data;

	t->spare_busy = false;
	t->open_handles--;
	if (t->drop_pending && !t->closing)
		drop_connection(t);
	lm_transport_maybe_closed(t);
}

static void drop_connection(struct lm_transport *t)
{
	char peer[LM_TRANSPORT_ADDRESS_MAX + 1] = "?";

	t->drop_pending = false;
	uv_tcp_init(t->loop, &t->spare);
	t->spare.data = t;
	t->spare_busy = true;
	t->open_handles++;
	if (uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)&t->spare) == 0) {
		name_peer(&t->spare, peer, sizeof peer);
		lm_transport_log_refusal(t, peer, "out of memory for its handshake");
	}
	uv_close((uv_handle_t *)&t->spare, spare_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct lm_transport *t = listener->data;

	if (status != 0)
		return;
	/* libuv stops watching the listener until a connection is accepted,
	 * so every one is accepted, even those closed at once. */
	struct lm_handshake *hs = lm_handshake_new(t, false);
	if (hs == NULL) {
		if (t->spare_busy)
			t->drop_pending = true;
		else
			drop_connection(t);
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)hs->tcp) != 0) {
		lm_handshake_close(hs, 0);
		return;
	}
	name_peer(hs->tcp, hs->peer, sizeof hs->peer);
	if (t->incoming >= LM_TRANSPORT_HANDSHAKES_MAX) {
		lm_handshake_refuse(hs, "too many handshakes in progress (%d)",
		                    LM_TRANSPORT_HANDSHAKES_MAX);
		return;
	}
	hs->counted = true;
	t->incoming++;
	if (lm_handshake_start(hs) != 0)
		lm_handshake_close(hs, 0);
}

/* ---- Outgoing connections ---- */

void lm_transport_connected(struct lm_handshake *hs, int status)
{
	if (hs->state != HS_CONNECTING)
		return; /* closing: status is UV_ECANCELED */
	if (status != 0) {
		lm_handshake_close(hs, RAFT_NOCONNECTION);
		return;
	}
	if (lm_handshake_start(hs) != 0)
		lm_handshake_close(hs, RAFT_NOCONNECTION);
}

static void on_connect(uv_connect_t *c, int status)
{
	lm_transport_connected(c->data, status);
}

static int tr_connect(struct raft_uv_transport *rt, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
	struct lm_transport *t = rt->impl;
	struct sockaddr_in sa;

	if (t->closing)
		return RAFT_CANCELED;
	if (lm_transport_parse_address(address, &sa) != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg, "raft address \"%.64s\" is not IPV4:PORT",
		         address);
		return RAFT_NOCONNECTION;
	}
	struct lm_handshake *hs = lm_handshake_new(t, true);
	if (hs == NULL)
		return RAFT_NOMEM;
	req->cb = cb;
	hs->want_id = id;
	snprintf(hs->peer, sizeof hs->peer, "%s", address);
	hs->state = HS_CONNECTING;
	hs->connect.data = hs;
	/* With TLS the request is the link's, which outlives its socket. */
	int rv = hs->link != NULL ? lm_tls_link_connect(hs->link, &sa)
	                          : uv_tcp_connect(&hs->connect, hs->tcp,
	                                           (const struct sockaddr *)&sa, on_connect);
	if (rv != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg, "connect to %s: %s", address,
		         uv_strerror(rv));
		/* raft retries later; its callback must not run. */
		lm_handshake_close(hs, RAFT_NOCONNECTION);
		return RAFT_NOCONNECTION;
	}
	/* Only now: with req set, closing calls raft back. */
	hs->req = req;
	return 0;
}

/* ---- Set-up and closing ---- */

static int tr_init(struct raft_uv_transport *rt, raft_id id, const char *address)
{
	struct lm_transport *t = rt->impl;

	if (id == 0 || id > UINT32_MAX || lm_transport_parse_address(address, &t->bind) != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg,
		         "raft id %llu at \"%.64s\": not an id and an IPV4:PORT",
		         (unsigned long long)id, address ? address : "");
		return RAFT_INVALID;
	}
	t->id = id;
	snprintf(t->address, sizeof t->address, "%s", address);
	/* Neither can fail: no socket is created yet. */
	uv_tcp_init(t->loop, &t->listener);
	uv_timer_init(t->loop, &t->timer);
	t->listener.data = t;
	t->timer.data = t;
	t->open_handles = 2;
	t->inited = true;
	return 0;
}

static int tr_listen(struct raft_uv_transport *rt, raft_uv_accept_cb cb)
{
	struct lm_transport *t = rt->impl;

	t->accept_cb = cb;
	int rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&t->bind, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&t->listener, LISTEN_BACKLOG, on_connection);
	if (rv != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg, "listen on %s: %s", t->address,
		         uv_strerror(rv));
		return RAFT_IOERR;
	}
	return 0;
}

void lm_transport_maybe_closed(struct lm_transport *t)
{
	if (!t->closing || t->closed || t->open_handles > 0 || t->handshakes != NULL ||
	    t->links != NULL)
		return;
	t->closed = true;
	if (t->close_cb != NULL)
		t->close_cb(t->raft);
}

static void handle_closed(uv_handle_t *h)
{
	struct lm_transport *t = h->data;

	assert(t->open_handles > 0);
	t->open_handles--;
	lm_transport_maybe_closed(t);
}

static void tr_close(struct raft_uv_transport *rt, raft_uv_transport_close_cb cb)
{
	struct lm_transport *t = rt->impl;

	assert(t->inited && !t->closing);
	t->closing = true;
	t->close_cb = cb;
	/* Dials in progress are called back with RAFT_CANCELED once their
	 * handles closed, as raft_uv expects before it calls back itself. */
	for (struct lm_handshake *hs = t->handshakes; hs != NULL; hs = hs->next)
		lm_handshake_close(hs, RAFT_CANCELED);
	/* And TLS links raft holds the stream of: raft reads end of file. */
	for (struct lm_tls_link *l = t->links; l != NULL; l = lm_tls_link_next(l))
		lm_tls_link_close(l);
	uv_close((uv_handle_t *)&t->listener, handle_closed);
	uv_close((uv_handle_t *)&t->timer, handle_closed);
}

int lm_transport_init(struct raft_uv_transport *rt, uv_loop_t *loop,
                      const struct lm_transport_config *cfg)
{
	struct lm_transport *t = calloc(1, sizeof *t);

	if (t == NULL)
		return LMC_ENOMEM;
	/* raft_uv keeps its own pointer in data. */
	void *data = rt->data;
	memset(rt, 0, sizeof *rt);
	rt->data = data;
	t->raft = rt;
	t->loop = loop;
	t->cfg = *cfg;
	t->window_start = uv_now(loop);
	if (cfg->tls != NULL) {
		t->tls = *cfg->tls;
		SSL_CTX_up_ref(t->tls.server);
		SSL_CTX_up_ref(t->tls.client);
		t->cfg.tls = &t->tls;
	}
	rt->impl = t;
	rt->init = tr_init;
	rt->listen = tr_listen;
	rt->connect = tr_connect;
	rt->close = tr_close;
	return 0;
}

void lm_transport_close(struct raft_uv_transport *rt)
{
	struct lm_transport *t = rt->impl;

	if (t == NULL)
		return;
	/* Handles still on the loop point into t: better a leak than a
	 * dangling pointer. */
	assert(!t->inited || t->closed);
	if (t->inited && !t->closed)
		return;
	if (t->cfg.tls != NULL) {
		SSL_CTX_free(t->tls.server);
		SSL_CTX_free(t->tls.client);
	}
	free(t);
	rt->impl = NULL;
}
