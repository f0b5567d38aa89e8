/* One client connection on a libuv loop (see uvconn.h). */
#include "config.h"

#include "bench/uvconn.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tls.h"
#include "core/tls_conn.h"

/* lmbench is single-threaded and handles one frame at a time, so one arena
 * serves every connection, as in lmd. */
static uint8_t arena_block[LM_ARENA_SIZE(LB_REPLY_MAX)];
static struct lm_arena arena;
static bool arena_ready;

struct write_req {
	uv_write_t req;
	uint8_t data[];
};

/* With TLS: the context, the key the server must prove, and the buffer
 * every connection reads its ciphertext into. */
static SSL_CTX *tls_ctx;
static bool tls_pinned;
static uint8_t tls_pin[LM_SERVER_KEY_LEN];
static uint8_t tls_read_buf[65536];

int lb_conn_use_tls(const uint8_t *pin)
{
	if (!tls_ctx && lm_tls_client_ctx_new(&tls_ctx) != 0)
		return LMC_ENOMEM;
	tls_pinned = pin != NULL;
	if (pin)
		memcpy(tls_pin, pin, sizeof tls_pin);
	return 0;
}

static void write_tls(struct lb_conn *c);
static void on_written(uv_write_t *req, int status);

static void on_closed(uv_handle_t *h)
{
	struct lb_conn *c = h->data;
	lm_frame_reader_close(&c->reader);
	lm_tls_conn_free(c->tls);
	c->tls = NULL;
	c->state = LB_CONN_IDLE;
	c->cbs->closed(c, c->status);
}

static void close_with(struct lb_conn *c, int status)
{
	if (c->state == LB_CONN_CLOSING || c->state == LB_CONN_IDLE)
		return;
	c->state = LB_CONN_CLOSING;
	c->status = status;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void lb_conn_close(struct lb_conn *c)
{
	close_with(c, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lb_conn *c = h->data;
	uint8_t *base;
	size_t len;
	if (c->tls) {
		buf->base = (char *)tls_read_buf;
		buf->len = sizeof tls_read_buf;
		return;
	}
	lm_frame_reader_space(&c->reader, &base, &len);
	buf->base = (char *)base;
	buf->len = len;
}

/* Plaintext from TLS into the frame reader's space. */
static int feed_reader(void *arg, const uint8_t *data, size_t len)
{
	struct lb_conn *c = arg;
	uint8_t *space;
	size_t room;
	lm_frame_reader_space(&c->reader, &space, &room);
	if (len > room)
		return LMC_ETOOLARGE;
	memcpy(space, data, len);
	lm_frame_reader_commit(&c->reader, len);
	return 0;
}

/* n bytes of ciphertext in tls_read_buf (none: start the handshake): false
 * when the connection is closing or not connected yet. */
static bool take_tls(struct lb_conn *c, size_t n)
{
	char why[240];
	bool was = lm_tls_conn_established(c->tls);
	int rc = lm_tls_conn_feed(c->tls, tls_read_buf, n, feed_reader, c, why, sizeof why);
	write_tls(c);
	if (rc != 0) {
		fprintf(stderr, "lmbench: TLS: %s\n", why);
		close_with(c, rc);
		return false;
	}
	if (was || !lm_tls_conn_established(c->tls))
		return was && c->state == LB_CONN_OPEN;
	uint8_t key[LM_SERVER_KEY_LEN];
	if (lm_tls_peer_key(lm_tls_conn_ssl(c->tls), key) != 0 ||
	    (tls_pinned && memcmp(key, tls_pin, sizeof key) != 0)) {
		fprintf(stderr, "lmbench: the server did not prove the pinned key\n");
		close_with(c, LMC_EKEYPIN);
		return false;
	}
	c->cbs->connected(c);
	return c->state == LB_CONN_OPEN;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lb_conn *c = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		close_with(c, (int)nread);
		return;
	}
	if (c->tls) {
		if (!take_tls(c, (size_t)nread))
			return;
	} else {
		lm_frame_reader_commit(&c->reader, (size_t)nread);
	}
	const uint8_t *payload;
	size_t len;
	int rc;
	while (c->state == LB_CONN_OPEN &&
	       (rc = lm_frame_reader_next(&c->reader, &payload, &len)) == 1) {
		Lm__Envelope *env;
		char why[200];
		lm_arena_reset(&arena);
		rc = lm_envelope_decode(payload, len, &arena, &env, why, sizeof why);
		if (rc != 0) {
			fprintf(stderr, "lmbench: bad frame from the server: %s\n", why);
			close_with(c, rc);
			return;
		}
		c->cbs->frame(c, env);
	}
	if (rc < 0)
		close_with(c, rc);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct lb_conn *c = req->data;
	if (c->state != LB_CONN_CONNECTING)
		return; /* closed meanwhile: on_closed reports it */
	if (status != 0) {
		close_with(c, status);
		return;
	}
	c->state = LB_CONN_OPEN;
	uv_tcp_nodelay(&c->tcp, 1);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc != 0) {
		close_with(c, rc);
		return;
	}
	if (tls_ctx) {
		/* Connected once the handshake proved the key (take_tls). */
		c->tls = lm_tls_conn_new(tls_ctx);
		if (!c->tls)
			close_with(c, LMC_ENOMEM);
		else
			take_tls(c, 0);
		return;
	}
	c->cbs->connected(c);
}

int lb_conn_start(struct lb_conn *c, uv_loop_t *loop, const struct sockaddr_in *addr,
                  const struct sockaddr_in *src, const struct lb_conn_cbs *cbs, void *data)
{
	if (!arena_ready) {
		lm_arena_init(&arena, arena_block, sizeof arena_block);
		arena_ready = true;
	}
	c->cbs = cbs;
	c->data = data;
	c->status = 0;
	if (lm_frame_reader_init(&c->reader, NULL, LM_FRAME_BUFSIZE(LB_REPLY_MAX)) != 0)
		return LMC_ENOMEM;
	/* From here on every failure goes through uv_close, so that the
	 * caller always hears of it through closed(). */
	int rc = uv_tcp_init_ex(loop, &c->tcp, AF_INET);
	if (rc != 0) {
		lm_frame_reader_close(&c->reader);
		return rc;
	}
	c->tcp.data = c;
	c->connect_req.data = c;
	c->state = LB_CONN_CONNECTING;
	if (src) {
		/* Bind only the address: the port is chosen at connect time
		 * per destination, so each alias really adds ports. */
		uv_os_fd_t fd;
		int one = 1;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)src, 0);
	}
	if (rc == 0)
		rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)addr,
		                    on_connect);
	if (rc != 0)
		close_with(c, rc);
	return 0;
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct lb_conn *c = req->handle->data;
	free(w);
	if (status != 0)
		close_with(c, status);
}

/* Sends what TLS has for the network. */
static void write_tls(struct lb_conn *c)
{
	size_t len = lm_tls_conn_pending(c->tls);
	if (len == 0 || c->state != LB_CONN_OPEN)
		return;
	struct write_req *w = malloc(sizeof *w + len);
	if (!w) {
		close_with(c, LMC_ENOMEM);
		return;
	}
	len = lm_tls_conn_take(c->tls, w->data, len);
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
		free(w);
		close_with(c, LMC_ENOSERVER);
	}
}

int lb_conn_send(struct lb_conn *c, const Lm__Envelope *e)
{
	if (c->state != LB_CONN_OPEN)
		return LMC_ENOSERVER;
	size_t size = lm__envelope__get_packed_size(e) + LM_FRAME_HEADER, len;
	struct write_req *w = malloc(sizeof *w + size);
	if (!w) {
		close_with(c, LMC_ENOMEM);
		return LMC_ENOMEM;
	}
	int rc = lm_frame_pack(e, w->data, size, &len);
	if (rc == 0 && c->tls) {
		rc = lm_tls_conn_encrypt(c->tls, w->data, len);
		free(w);
		if (rc != 0) {
			close_with(c, rc);
			return rc;
		}
		write_tls(c);
		return c->state == LB_CONN_OPEN ? 0 : LMC_ENOSERVER;
	}
	if (rc == 0) {
		uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
		rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
	}
	if (rc != 0) {
		free(w);
		close_with(c, rc);
	}
	return rc;
}
