/* The loopback ceiling: a frame echo server and a closed-loop client that
 * use the same framing, codec and loop as lmd and the checkout clients, but
 * do no work per request.  lmd's throughput is read against this figure,
 * measured on the same machine in the same run. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bench/hist.h"
#include "bench/lmbench.h"
#include "bench/uvconn.h"

/* ---- the server ---- */

struct echo_peer {
	uv_tcp_t tcp;
	struct lm_frame_reader reader;
};

struct echo_write {
	uv_write_t req;
	uint8_t data[];
};

static void peer_closed(uv_handle_t *h)
{
	struct echo_peer *p = h->data;
	lm_frame_reader_close(&p->reader);
	free(p);
}

static void peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct echo_peer *p = h->data;
	uint8_t *base;
	size_t len;
	lm_frame_reader_space(&p->reader, &base, &len);
	buf->base = (char *)base;
	buf->len = len;
}

static void echo_written(uv_write_t *req, int status)
{
	free(req);
}

/* Sends back every complete frame of this read, header and all, in one
 * write. */
static void peer_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct echo_peer *p = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		uv_close((uv_handle_t *)s, peer_closed);
		return;
	}
	lm_frame_reader_commit(&p->reader, (size_t)nread);
	const uint8_t *payload, *first = NULL;
	size_t len, total = 0;
	int rc;
	while ((rc = lm_frame_reader_next(&p->reader, &payload, &len)) == 1) {
		if (!first)
			first = payload - LM_FRAME_HEADER;
		total += LM_FRAME_HEADER + len;
	}
	if (rc < 0) {
		uv_close((uv_handle_t *)s, peer_closed);
		return;
	}
	if (total == 0)
		return;
	/* The frames handed out are contiguous in the reader's buffer and
	 * stay there until the next reader call. */
	struct echo_write *w = malloc(sizeof *w + total);
	if (!w) {
		uv_close((uv_handle_t *)s, peer_closed);
		return;
	}
	memcpy(w->data, first, total);
	uv_buf_t out = uv_buf_init((char *)w->data, (unsigned)total);
	if (uv_write(&w->req, s, &out, 1, echo_written) != 0)
		free(w);
}

static void on_echo_connection(uv_stream_t *listener, int status)
{
	if (status != 0)
		return;
	struct echo_peer *p = calloc(1, sizeof *p);
	if (!p || lm_frame_reader_init(&p->reader, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)) != 0) {
		free(p);
		return;
	}
	uv_tcp_init(listener->loop, &p->tcp);
	p->tcp.data = p;
	if (uv_accept(listener, (uv_stream_t *)&p->tcp) != 0) {
		uv_close((uv_handle_t *)&p->tcp, peer_closed);
		return;
	}
	uv_tcp_nodelay(&p->tcp, 1);
	uv_read_start((uv_stream_t *)&p->tcp, peer_alloc, peer_read);
}

int lb_echo_server(const struct lb_options *o)
{
	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t listener;
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", (int)o->port, &addr);
	uv_tcp_init(loop, &listener);
	int rc = uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&listener, 1024, on_echo_connection);
	if (rc != 0) {
		fprintf(stderr, "lmbench echo-server: port %u: %s\n", o->port, uv_strerror(rc));
		return 1;
	}
	/* Runs until killed: bench/run stops it. */
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}

/* ---- the client ---- */

struct echo_client {
	struct lb_conn conn;
	struct echo_run *run;
	uint64_t request_id;
	uint64_t sent_ns;
};

struct echo_run {
	const struct lb_options *o;
	uv_loop_t *loop;
	struct echo_client *clients;
	uint64_t window_start, window_end; /* lb_now_ns() */
	uint64_t ops, errors;
	unsigned open;
	bool stopping;
	struct lb_hist hist;
	uv_timer_t timer;
};

static void echo_send(struct echo_client *c)
{
	/* A Heartbeat is the smallest request of the protocol. */
	Lm__Envelope e;
	Lm__Heartbeat hb;
	lm_envelope_init(&e, ++c->request_id);
	lm__heartbeat__init(&hb);
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	c->sent_ns = lb_now_ns();
	lb_conn_send(&c->conn, &e);
}

static void echo_connected(struct lb_conn *conn)
{
	echo_send(conn->data);
}

static void echo_frame(struct lb_conn *conn, const Lm__Envelope *env)
{
	struct echo_client *c = conn->data;
	struct echo_run *r = c->run;
	uint64_t now = lb_now_ns();
	if (env->request_id != c->request_id) {
		r->errors++;
	} else if (now >= r->window_start && now < r->window_end) {
		r->ops++;
		lb_hist_record(&r->hist, (now - c->sent_ns) / 1000);
	}
	if (r->stopping)
		lb_conn_close(conn);
	else
		echo_send(c);
}

static void echo_closed(struct lb_conn *conn, int status)
{
	struct echo_client *c = conn->data;
	struct echo_run *r = c->run;
	if (status != 0 && !r->stopping) {
		fprintf(stderr, "lmbench echo: connection lost: %s\n", uv_strerror(status));
		r->errors++;
	}
	if (--r->open == 0)
		uv_close((uv_handle_t *)&r->timer, NULL);
}

static const struct lb_conn_cbs echo_cbs = {
        .connected = echo_connected, .frame = echo_frame, .closed = echo_closed};

static void echo_tick(uv_timer_t *t)
{
	struct echo_run *r = t->data;
	if (r->stopping || lb_now_ns() < r->window_end)
		return;
	r->stopping = true;
	/* Each client closes on its next reply; the ones idle close now. */
	for (unsigned i = 0; i < r->o->clients; i++)
		if (r->clients[i].conn.state == LB_CONN_CONNECTING)
			lb_conn_close(&r->clients[i].conn);
}

int lb_echo(const struct lb_options *o)
{
	if (o->clients == 0)
		return 2;
	struct echo_run *r = calloc(1, sizeof *r);
	if (!r || !(r->clients = calloc(o->clients, sizeof *r->clients))) {
		free(r);
		return 2;
	}
	r->o = o;
	r->loop = uv_default_loop();
	lb_hist_init(&r->hist);
	uint64_t now = lb_now_ns();
	r->window_start = now + (uint64_t)(o->warmup * 1e9);
	r->window_end = r->window_start + (uint64_t)(o->seconds * 1e9);
	for (unsigned i = 0; i < o->clients; i++) {
		struct echo_client *c = &r->clients[i];
		c->run = r;
		if (lb_conn_start(&c->conn, r->loop, &o->server_addrs[0],
		                  lb_source_addr(o, i, o->clients), &echo_cbs, c) == 0)
			r->open++;
	}
	uv_timer_init(r->loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, echo_tick, 50, 50);
	uv_run(r->loop, UV_RUN_DEFAULT);

	char clients[32];
	snprintf(clients, sizeof clients, "clients=%u", o->clients);
	lb_emit(o, "loopback_rtt_per_s", (double)r->ops / o->seconds, clients, (char *)NULL);
	fprintf(stderr, "echo clients=%u: %.0f round trips/s, p50 %.3f ms, p99 %.3f ms%s\n",
	        o->clients, (double)r->ops / o->seconds, lb_hist_quantile(&r->hist, 0.5) / 1000,
	        lb_hist_quantile(&r->hist, 0.99) / 1000, r->errors ? " (with errors)" : "");
	free(r->clients);
	int rc = r->errors || r->ops == 0 ? 1 : 0;
	free(r);
	return rc;
}
