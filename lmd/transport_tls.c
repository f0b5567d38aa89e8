/* lmd's replication transport with pinned keys: the TLS link under each
 * connection (transport.h says what is checked, and when).
 *
 * raft reads and writes a uv_stream_t in clear and frees it itself
 * (transport.c), so it cannot be handed the TCP socket once TLS runs on
 * it.  Each connection therefore has a link:
 *
 *    peer <== TCP, TLS 1.3 ==> tcp [link: lm_tls_conn] pump <-- socket pair --> stream
 *
 * The link owns the TCP socket, the TLS connection (core/tls_conn.h, over
 * memory BIOs) and one end of an AF_UNIX socket pair, the pump; the other
 * end, a raft_malloc'd uv_pipe_t, is the stream: the handshake writes and
 * reads its preamble there (transport_handshake.c, unchanged by TLS), and
 * then it is raft's.  Ciphertext read from the socket goes through
 * OpenSSL, and the plaintext it yields is written to the pump; what raft
 * writes comes out of the pump, is encrypted and written to the socket.
 * Either side closing closes the other: end of file or an error on the
 * socket closes the link, and raft reads end of file on its stream; raft
 * closing its stream makes the pump read end of file, which closes the
 * link.
 *
 * Nothing reaches the pump before the TLS handshake is over and the peer's
 * certificate holds a pinned key (for a dialled connection, the key pinned
 * for the address dialled), so a stranger's bytes are only ever read by
 * OpenSSL.  The pair's kernel buffers and a cap on what waits to be written
 * either way (PAUSE_BYTES) keep a slow reader from making the other side
 * buffer without bound: the link stops reading the side that feeds it.
 *
 * Everything runs on the loop's thread. */
#include "config.h"

#include "lmd/transport_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/server_key.h"
#include "core/tls.h"
#include "core/tls_conn.h"

/* Past this much waiting to be written to one side, the link stops reading
 * the other until it drained. */
#define PAUSE_BYTES (1u << 20)
/* A TLS record's plaintext, and a read's worth of ciphertext. */
#define CHUNK 16384

struct lm_tls_link {
	struct lm_transport *t;
	struct lm_tls_link *prev, *next;
	struct lm_handshake *hs; /* until handed over or closed */
	bool outgoing;
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_pipe_t pump;
	struct lm_tls_conn *tls;
	unsigned open_handles;
	bool broken;  /* the pair could not be opened: fail at start */
	bool checked; /* the peer's key was checked (and passed, unless closing) */
	bool closing;
	bool sniffed; /* the first byte from the peer was looked at */
	bool tcp_paused, pump_paused;
	uint8_t from_tcp[CHUNK];
	uint8_t from_pump[CHUNK];
};

/* One uv_write with its bytes. */
struct chunk_write {
	uv_write_t req;
	struct lm_tls_link *link;
	uint8_t data[];
};

static void check_peer(struct lm_tls_link *l);

/* ---- Closing ---- */

static void link_handle_closed(uv_handle_t *h)
{
	struct lm_tls_link *l = h->data;
	struct lm_transport *t = l->t;

	if (--l->open_handles > 0)
		return;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		t->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	lm_tls_conn_free(l->tls);
	free(l);
	lm_transport_maybe_closed(t);
}

void lm_tls_link_close(struct lm_tls_link *l)
{
	if (l->closing)
		return;
	l->closing = true;
	if (l->hs != NULL) {
		l->hs->link = NULL;
		l->hs = NULL;
	}
	uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
	uv_close((uv_handle_t *)&l->pump, link_handle_closed);
}

struct lm_tls_link *lm_tls_link_next(struct lm_tls_link *l)
{
	return l->next;
}

void lm_tls_link_detach(struct lm_tls_link *l)
{
	l->hs = NULL;
}

/* The connection cannot go on.  During the handshake, an accepted one is
 * refused with why in the log; a dialler closes quietly unless loud (the
 * side that closed says why, transport.h).  Once raft has the stream, the
 * link closes and raft reads end of file. */
static void link_fail(struct lm_tls_link *l, bool loud, const char *why)
{
	struct lm_handshake *hs = l->hs;

	if (l->closing)
		return;
	if (hs == NULL)
		lm_tls_link_close(l);
	else if (!hs->outgoing || loud)
		lm_handshake_refuse(hs, "%s", why);
	else
		lm_handshake_close(hs, RAFT_NOCONNECTION);
	/* Closing hs closed the link. */
}

/* ---- Writing ---- */

static void on_tcp_written(uv_write_t *req, int status);
static void on_pump_written(uv_write_t *req, int status);

static int write_chunk(struct lm_tls_link *l, uv_stream_t *to, const uint8_t *data, size_t len,
                       uv_write_cb cb)
{
	struct chunk_write *w = malloc(sizeof *w + len);
	if (w == NULL)
		return LMC_ENOMEM;
	memcpy(w->data, data, len);
	w->link = l;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	int rc = uv_write(&w->req, to, &b, 1, cb);
	if (rc != 0)
		free(w);
	return rc;
}

/* Writes to the socket whatever OpenSSL has for the peer. */
static int flush_tls(struct lm_tls_link *l)
{
	uint8_t buf[CHUNK];

	while (lm_tls_conn_pending(l->tls) > 0) {
		size_t n = lm_tls_conn_take(l->tls, buf, sizeof buf);
		if (n == 0)
			break;
		int rc = write_chunk(l, (uv_stream_t *)&l->tcp, buf, n, on_tcp_written);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void on_pump_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_pump_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_tcp_written(uv_write_t *req, int status)
{
	struct chunk_write *w = (struct chunk_write *)req;
	struct lm_tls_link *l = w->link;

	free(w);
	if (l->closing)
		return;
	if (status != 0) {
		link_fail(l, false, "the connection failed while writing to it");
		return;
	}
	if (l->pump_paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&l->tcp) < PAUSE_BYTES) {
		l->pump_paused = false;
		uv_read_start((uv_stream_t *)&l->pump, on_pump_alloc, on_pump_read);
	}
}

static void on_pump_written(uv_write_t *req, int status)
{
	struct chunk_write *w = (struct chunk_write *)req;
	struct lm_tls_link *l = w->link;

	free(w);
	if (l->closing)
		return;
	if (status != 0) {
		lm_tls_link_close(l);
		return;
	}
	if (l->tcp_paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&l->pump) < PAUSE_BYTES) {
		l->tcp_paused = false;
		uv_read_start((uv_stream_t *)&l->tcp, on_tcp_alloc, on_tcp_read);
	}
}

/* ---- From raft (the pump) to the peer ---- */

static void on_pump_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lm_tls_link *l = h->data;
	(void)suggested;
	buf->base = (char *)l->from_pump;
	buf->len = sizeof l->from_pump;
}

static void on_pump_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lm_tls_link *l = s->data;

	if (nread == 0 || l->closing)
		return;
	if (nread < 0) {
		/* The stream's holder closed it. */
		lm_tls_link_close(l);
		return;
	}
	if (lm_tls_conn_encrypt(l->tls, (const uint8_t *)buf->base, (size_t)nread) != 0 ||
	    flush_tls(l) != 0) {
		link_fail(l, false, "out of memory for TLS");
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&l->tcp) >= PAUSE_BYTES) {
		l->pump_paused = true;
		uv_read_stop(s);
	}
}

/* ---- From the peer to raft ---- */

static int deliver(void *arg, const uint8_t *data, size_t len)
{
	struct lm_tls_link *l = arg;

	/* Plaintext right after the handshake (a dialler's preamble): the key
	 * is checked before a byte of it goes anywhere. */
	if (!l->checked)
		check_peer(l);
	if (l->closing)
		return LMC_ETLS;
	if (write_chunk(l, (uv_stream_t *)&l->pump, data, len, on_pump_written) != 0) {
		link_fail(l, false, "out of memory for TLS");
		return LMC_ETLS;
	}
	if (!l->tcp_paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&l->pump) >= PAUSE_BYTES) {
		l->tcp_paused = true;
		uv_read_stop((uv_stream_t *)&l->tcp);
	}
	return 0;
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lm_tls_link *l = h->data;
	(void)suggested;
	buf->base = (char *)l->from_tcp;
	buf->len = sizeof l->from_tcp;
}

/* What a peer that does not speak TLS sent first: worth a sentence of its
 * own for the two kinds of replication peer it can be. */
static const char *not_tls(uint8_t first)
{
	if (first == (uint8_t)LM_TRANSPORT_MAGIC[0])
		return "it speaks the replication handshake in plaintext, and this server requires "
		       "TLS because the license pins the servers' keys (is its license the "
		       "same file?)";
	if (first == 1)
		return "it speaks libraft's stock handshake, not lmd's TLS (an older lmd?)";
	return NULL;
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lm_tls_link *l = s->data;
	char why[300];

	if (nread == 0 || l->closing)
		return;
	if (nread < 0) {
		link_fail(l, false,
		          lm_tls_conn_established(l->tls)
		                  ? "closed the connection"
		                  : "closed the connection during the TLS handshake");
		return;
	}
	if (!l->sniffed) {
		l->sniffed = true;
		const char *sentence = l->outgoing ? NULL : not_tls((uint8_t)buf->base[0]);
		if (sentence != NULL) {
			link_fail(l, true, sentence);
			return;
		}
	}
	int rc = lm_tls_conn_feed(l->tls, (const uint8_t *)buf->base, (size_t)nread, deliver, l,
	                          why, sizeof why);
	if (l->closing)
		return;
	if (flush_tls(l) != 0) {
		link_fail(l, false, "out of memory for TLS");
		return;
	}
	if (rc != 0) {
		char msg[sizeof why + 40];
		snprintf(msg, sizeof msg, "TLS failed: %s", why);
		link_fail(l, false, msg);
		return;
	}
	if (lm_tls_conn_established(l->tls) && !l->checked)
		check_peer(l);
}

/* ---- The pins ---- */

static const uint8_t *pin_of_address(const struct lm_transport_tls *tls, const char *address)
{
	for (unsigned i = 0; i < tls->npinned; i++)
		if (strcmp(tls->addresses[i], address) == 0)
			return tls->keys[i];
	return NULL;
}

static bool is_pinned(const struct lm_transport_tls *tls, const uint8_t *key)
{
	for (unsigned i = 0; i < tls->npinned; i++)
		if (memcmp(tls->keys[i], key, LM_SERVER_KEY_LEN) == 0)
			return true;
	return false;
}

static void fingerprint(const uint8_t *key, char *buf, size_t size)
{
	if (lm_server_key_format(key, buf, size) != 0)
		snprintf(buf, size, "?");
}

/* The handshake is over: the peer proved the key of its certificate. */
static void check_peer(struct lm_tls_link *l)
{
	struct lm_handshake *hs = l->hs;
	const struct lm_transport_tls *tls = l->t->cfg.tls;
	uint8_t key[LM_SERVER_KEY_LEN];
	char text[LM_SERVER_KEY_TEXT_MAX + 1], why[300];

	l->checked = true;
	if (hs == NULL) {
		lm_tls_link_close(l);
		return;
	}
	if (lm_tls_peer_key(lm_tls_conn_ssl(l->tls), key) != 0) {
		link_fail(l, true, "its TLS certificate holds no Ed25519 key");
		return;
	}
	fingerprint(key, text, sizeof text);
	if (!is_pinned(tls, key)) {
		snprintf(why, sizeof why,
		         "it proved the key %s, which no SERVER line of the license pins", text);
		link_fail(l, true, why);
		return;
	}
	const uint8_t *want = l->outgoing ? pin_of_address(tls, hs->peer) : NULL;
	if (want != NULL && memcmp(want, key, LM_SERVER_KEY_LEN) != 0) {
		snprintf(why, sizeof why,
		         "it proved the key %s, not the one pinned for the server at this address",
		         text);
		link_fail(l, true, why);
		return;
	}
	memcpy(hs->peer_key, key, LM_SERVER_KEY_LEN);
	hs->has_peer_key = true;
	if (uv_read_start((uv_stream_t *)&l->pump, on_pump_alloc, on_pump_read) != 0) {
		link_fail(l, false, "cannot read its stream");
		return;
	}
	lm_handshake_tls_ready(hs);
}

bool lm_tls_check_announced(struct lm_handshake *hs)
{
	const uint8_t *want = pin_of_address(hs->t->cfg.tls, hs->peer_address);
	char text[LM_SERVER_KEY_TEXT_MAX + 1];

	if (!hs->has_peer_key ||
	    (want != NULL && memcmp(want, hs->peer_key, LM_SERVER_KEY_LEN) != 0)) {
		fingerprint(hs->peer_key, text, sizeof text);
		lm_handshake_refuse(hs,
		                    "it announces the raft address %s but proved the key %s, "
		                    "which is not the one pinned for that server",
		                    hs->peer_address, text);
		return false;
	}
	return true;
}

/* ---- Making and starting a link ---- */

static void open_end(uv_pipe_t *pipe, int fd, bool *broken)
{
	if (uv_pipe_open(pipe, fd) != 0) {
		close(fd);
		*broken = true;
	}
}

int lm_tls_link_new(struct lm_handshake *hs)
{
	struct lm_transport *t = hs->t;
	const struct lm_transport_tls *tls = t->cfg.tls;
	int fds[2];

	struct lm_tls_link *l = calloc(1, sizeof *l);
	uv_pipe_t *stream = raft_malloc(sizeof *stream);
	struct lm_tls_conn *conn = lm_tls_conn_new(hs->outgoing ? tls->client : tls->server);
	if (l == NULL || stream == NULL || conn == NULL) {
		free(l);
		raft_free(stream);
		lm_tls_conn_free(conn);
		return LMC_ENOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		free(l);
		raft_free(stream);
		lm_tls_conn_free(conn);
		return LMC_EIO;
	}
	l->t = t;
	l->hs = hs;
	l->outgoing = hs->outgoing;
	l->tls = conn;
	/* None of these can fail: no socket is created by them. */
	uv_tcp_init(t->loop, &l->tcp);
	uv_pipe_init(t->loop, &l->pump, 0);
	uv_pipe_init(t->loop, stream, 0);
	l->tcp.data = l;
	l->pump.data = l;
	stream->data = hs;
	l->open_handles = 2;
	open_end(&l->pump, fds[0], &l->broken);
	open_end(stream, fds[1], &l->broken);
	l->next = t->links;
	if (t->links != NULL)
		t->links->prev = l;
	t->links = l;
	hs->link = l;
	hs->tcp = &l->tcp;
	hs->stream = (uv_stream_t *)stream;
	return 0;
}

static void on_connect(uv_connect_t *c, int status)
{
	struct lm_tls_link *l = c->data;

	if (!l->closing && l->hs != NULL)
		lm_transport_connected(l->hs, status);
}

int lm_tls_link_connect(struct lm_tls_link *l, const struct sockaddr_in *sa)
{
	l->connect.data = l;
	return uv_tcp_connect(&l->connect, &l->tcp, (const struct sockaddr *)sa, on_connect);
}

int lm_tls_link_start(struct lm_tls_link *l)
{
	char why[200];

	if (l->broken)
		return UV_EBADF;
	int rc = uv_read_start((uv_stream_t *)&l->tcp, on_tcp_alloc, on_tcp_read);
	if (rc != 0)
		return rc;
	/* A dialler speaks first: its ClientHello. */
	if (l->outgoing && (lm_tls_conn_feed(l->tls, NULL, 0, deliver, l, why, sizeof why) != 0 ||
	                    flush_tls(l) != 0))
		return UV_ENOMEM;
	return 0;
}
