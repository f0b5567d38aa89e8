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
 * follows. */
#include "config.h"

#include "lmd/transport.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/error.h"
#include "lmd/little_endian.h"

#define MAGIC "lmd-raft"
/* libraft's stock handshake starts with its protocol number, 1, as a 64-bit
 * little-endian integer (src/uv_tcp.h): an lmd that still speaks it is worth
 * a sentence of its own. */
static const uint8_t stock_magic[8] = {1, 0, 0, 0, 0, 0, 0, 0};

#define ADDRESS_OFFSET    40
#define ADDRESS_FIELD     64
#define CLUSTER_ID_OFFSET 104
#define TICK_MS           (LM_TRANSPORT_HANDSHAKE_MS / 4)
#define LOG_WINDOW_MS     60000
/* raft's stock listener has a backlog of 1: a burst of connections would
 * then make the kernel drop a real peer's. */
#define LISTEN_BACKLOG 64

_Static_assert(ADDRESS_OFFSET + ADDRESS_FIELD == CLUSTER_ID_OFFSET, "preamble layout");
_Static_assert(CLUSTER_ID_OFFSET + LM_CLUSTER_ID_SIZE == LM_TRANSPORT_PREAMBLE, "preamble layout");
_Static_assert(LM_TRANSPORT_ADDRESS_MAX < ADDRESS_FIELD, "the address field keeps a zero");

enum hs_state {
	HS_CONNECTING, /* dialling: the TCP connect is in flight */
	HS_WRITING,    /* writing our preamble */
	HS_READING,    /* reading the other side's preamble */
	HS_CLOSING,    /* refused or cancelled; freed when the handle closed */
};

/* One connection until it is handed to raft or closed. */
struct handshake {
	struct transport *t;
	struct handshake *prev, *next;
	bool outgoing;
	bool counted; /* one of t->incoming */
	enum hs_state state;
	uint64_t deadline;
	uv_tcp_t *tcp; /* raft_malloc'd: raft frees it once it owns it */
	uv_connect_t connect;
	uv_write_t write;
	uint8_t out[LM_TRANSPORT_PREAMBLE];
	uint8_t in[LM_TRANSPORT_PREAMBLE];
	size_t nread;
	/* Dialling: raft's request, the id it dialled, and the status its
	 * callback gets once the handle closed. */
	struct raft_uv_connect *req;
	raft_id want_id;
	int status;
	/* The other side, once its preamble passed. */
	raft_id peer_id;
	char peer_address[LM_TRANSPORT_ADDRESS_MAX + 1];
	/* For the log: the socket's peer ("10.0.0.5:51234") when it dialled
	 * us, the address we dialled otherwise. */
	char peer[LM_TRANSPORT_ADDRESS_MAX + 1];
};

struct transport {
	struct raft_uv_transport *raft;
	uv_loop_t *loop;
	struct lm_transport_config cfg;
	raft_id id;
	char address[LM_TRANSPORT_ADDRESS_MAX + 1];
	struct sockaddr_in bind;
	bool inited, closing, closed;
	uv_tcp_t listener;
	uv_timer_t timer;      /* expires handshakes, while there are some */
	unsigned open_handles; /* listener, timer, spare while busy */
	/* Accepts and closes a connection when there is no memory for its
	 * handshake: libuv watches the listener again only once the pending
	 * connection is accepted. */
	uv_tcp_t spare;
	bool spare_busy, drop_pending;
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	struct handshake *handshakes; /* every one not yet freed */
	unsigned incoming;            /* incoming ones not closing */
	/* The log's budget (see log_refusal). */
	uint64_t window_start, last_ms;
	unsigned logged, unlogged;
	char last_why[400];
};

int lm_transport_parse_address(const char *address, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	unsigned port = 0, digits = 0;

	if (address == NULL ||
	    strnlen(address, LM_TRANSPORT_ADDRESS_MAX + 1) > LM_TRANSPORT_ADDRESS_MAX)
		return LMC_EINVAL;
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || (size_t)(colon - address) >= sizeof host)
		return LMC_EINVAL;
	/* Digits only: strtoul() would take signs and blanks. */
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || ++digits > 5)
			return LMC_EINVAL;
		port = port * 10 + (unsigned)(*p - '0');
	}
	if (digits == 0 || port == 0 || port > 65535)
		return LMC_EINVAL;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	return uv_ip4_addr(host, (int)port, sa) == 0 ? 0 : LMC_EINVAL;
}

/* ---- Logging refusals, within a budget ---- */

/* One line per refusal, except that a refusal saying exactly what the last
 * line said, within a minute of it, is only counted (a server of another
 * cluster dials again every second), and that at most
 * LM_TRANSPORT_LOG_BURST lines a minute are written (a flood).  What was
 * counted is told with the next line written. */
static void log_refusal(struct transport *t, const char *peer, const char *why)
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

static void maybe_closed(struct transport *t);

static void unlink_hs(struct handshake *hs)
{
	struct transport *t = hs->t;
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
	struct handshake *hs = h->data;
	struct transport *t = hs->t;
	struct raft_uv_connect *req = hs->req;
	int status = hs->status;

	unlink_hs(hs);
	raft_free(hs->tcp);
	free(hs);
	/* raft may dial again from its callback: we are done with hs. */
	if (req != NULL)
		req->cb(req, NULL, status);
	maybe_closed(t);
}

/* Closes the connection; a dialler's request is called back with status
 * once the handle is closed. */
static void hs_close(struct handshake *hs, int status)
{
	if (hs->state == HS_CLOSING)
		return;
	hs->state = HS_CLOSING;
	hs->status = status;
	if (hs->counted) {
		hs->counted = false;
		hs->t->incoming--;
	}
	uv_close((uv_handle_t *)hs->tcp, hs_closed);
}

static void refuse(struct handshake *hs, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void refuse(struct handshake *hs, const char *fmt, ...)
{
	char why[sizeof hs->t->last_why];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_refusal(hs->t, hs->peer, why);
	hs_close(hs, RAFT_NOCONNECTION);
}

/* The handshake passed: the stream is raft's from here on. */
static void hand_over(struct handshake *hs)
{
	struct transport *t = hs->t;
	uv_stream_t *stream = (uv_stream_t *)hs->tcp;

	uv_read_stop(stream);
	unlink_hs(hs);
	stream->data = NULL;
	if (hs->outgoing)
		hs->req->cb(hs->req, stream, 0);
	else
		t->accept_cb(t->raft, hs->peer_id, hs->peer_address, stream);
	free(hs);
}

static void on_tick(uv_timer_t *timer);

static struct handshake *hs_new(struct transport *t, bool outgoing)
{
	struct handshake *hs = calloc(1, sizeof *hs);
	uv_tcp_t *tcp = raft_malloc(sizeof *tcp);

	if (hs == NULL || tcp == NULL) {
		free(hs);
		raft_free(tcp);
		return NULL;
	}
	/* Cannot fail: no socket is created yet. */
	uv_tcp_init(t->loop, tcp);
	tcp->data = hs;
	hs->tcp = tcp;
	hs->t = t;
	hs->outgoing = outgoing;
	hs->deadline = uv_now(t->loop) + LM_TRANSPORT_HANDSHAKE_MS;
	hs->next = t->handshakes;
	if (t->handshakes != NULL)
		t->handshakes->prev = hs;
	t->handshakes = hs;
	if (!uv_is_active((uv_handle_t *)&t->timer))
		uv_timer_start(&t->timer, on_tick, TICK_MS, TICK_MS);
	return hs;
}

static bool known_cluster_id(struct transport *t, uint8_t id[LM_CLUSTER_ID_SIZE])
{
	return t->cfg.cluster_id && t->cfg.cluster_id(t->cfg.cluster_id_arg, id);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void encode(struct transport *t, uint8_t *p)
{
	size_t n = strlen(t->address);

	memset(p, 0, LM_TRANSPORT_PREAMBLE);
	memcpy(p, MAGIC, 8);
	lm_le_put(p + 8, LM_TRANSPORT_VERSION, 2);
	lm_le_put(p + 10, n, 2);
	memcpy(p + 16, t->cfg.config_id, LM_CONFIG_ID_SIZE);
	lm_le_put(p + 32, t->id, 8);
	memcpy(p + ADDRESS_OFFSET, t->address, n);
	if (!known_cluster_id(t, p + CLUSTER_ID_OFFSET))
		memset(p + CLUSTER_ID_OFFSET, 0, LM_CLUSTER_ID_SIZE);
}

/* Checks a whole preamble; refuses the connection (and returns false) at the
 * first thing wrong.  The format comes first and the identity last, so that
 * a peer of another cluster is told apart from a broken one. */
static bool validate(struct handshake *hs)
{
	struct transport *t = hs->t;
	const uint8_t *p = hs->in;
	struct sockaddr_in sa;

	unsigned version = (unsigned)lm_le_get(p + 8, 2);
	if (version != LM_TRANSPORT_VERSION) {
		refuse(hs, "handshake version %u, this lmd speaks %d", version,
		       LM_TRANSPORT_VERSION);
		return false;
	}
	if (lm_le_get(p + 12, 4) != 0) {
		refuse(hs, "the handshake's reserved bytes are not zero");
		return false;
	}
	raft_id id = lm_le_get(p + 32, 8);
	if (id == 0 || id > UINT32_MAX) {
		refuse(hs, "raft id %llu is out of range", (unsigned long long)id);
		return false;
	}
	size_t n = (size_t)lm_le_get(p + 10, 2);
	if (n == 0 || n > LM_TRANSPORT_ADDRESS_MAX) {
		refuse(hs, "address length %zu is not between 1 and %d", n,
		       LM_TRANSPORT_ADDRESS_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (p[ADDRESS_OFFSET + i] <= ' ' || p[ADDRESS_OFFSET + i] > '~') {
			refuse(hs, "its address is not printable");
			return false;
		}
	for (size_t i = n; i < ADDRESS_FIELD; i++)
		if (p[ADDRESS_OFFSET + i] != 0) {
			refuse(hs, "its address is not followed by zeros");
			return false;
		}
	memcpy(hs->peer_address, p + ADDRESS_OFFSET, n);
	hs->peer_address[n] = '\0';
	if (lm_transport_parse_address(hs->peer_address, &sa) != 0) {
		refuse(hs, "its address \"%s\" is not IPV4:PORT", hs->peer_address);
		return false;
	}
	if (memcmp(p + 16, t->cfg.config_id, LM_CONFIG_ID_SIZE) != 0) {
		refuse(hs,
		       "it belongs to another cluster (raft id %llu at %s): check the "
		       "--peer-port and the license file of both",
		       (unsigned long long)id, hs->peer_address);
		return false;
	}
	uint8_t ours[LM_CLUSTER_ID_SIZE];
	const uint8_t *theirs = p + CLUSTER_ID_OFFSET;
	if (!is_zero(theirs, LM_CLUSTER_ID_SIZE) && known_cluster_id(t, ours) &&
	    memcmp(theirs, ours, LM_CLUSTER_ID_SIZE) != 0) {
		char a[2 * LM_CLUSTER_ID_SIZE + 1], b[2 * LM_CLUSTER_ID_SIZE + 1];
		lm_hex_encode(theirs, LM_CLUSTER_ID_SIZE, a);
		lm_hex_encode(ours, LM_CLUSTER_ID_SIZE, b);
		refuse(hs,
		       "it holds the data of another cluster (raft id %llu at %s, cluster id %s; "
		       "this one is %s): its data directory is from an earlier or another "
		       "cluster of the same servers; to bring it into this one, start it with "
		       "--join on an empty --data and run `lmutil lmreplace`",
		       (unsigned long long)id, hs->peer_address, a, b);
		return false;
	}
	if (hs->outgoing && id != hs->want_id) {
		refuse(hs, "it is raft id %llu, not %llu", (unsigned long long)id,
		       (unsigned long long)hs->want_id);
		return false;
	}
	if (!hs->outgoing && id == t->id) {
		refuse(hs, "raft id %llu is this server's own", (unsigned long long)id);
		return false;
	}
	hs->peer_id = id;
	return true;
}

/* ---- Reading the other side's preamble ---- */

static void on_write(uv_write_t *w, int status);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct handshake *hs = h->data;
	(void)suggested;
	/* Never more than the rest of the preamble: what follows is raft's. */
	buf->base = (char *)hs->in + hs->nread;
	buf->len = hs->state == HS_READING ? LM_TRANSPORT_PREAMBLE - hs->nread : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct handshake *hs = s->data;
	(void)buf;

	if (nread == 0 || hs->state != HS_READING)
		return;
	if (nread < 0) {
		/* A dialler keeps quiet: the side that closed says why. */
		if (hs->outgoing)
			hs_close(hs, RAFT_NOCONNECTION);
		else
			refuse(hs, "closed the connection after %zu of %d handshake bytes",
			       hs->nread, LM_TRANSPORT_PREAMBLE);
		return;
	}
	hs->nread += (size_t)nread;
	/* The magic is checked as it arrives, so that garbage is refused at
	 * once rather than after a timeout. */
	size_t k = hs->nread < 8 ? hs->nread : 8;
	if (memcmp(hs->in, MAGIC, k) != 0) {
		if (memcmp(hs->in, stock_magic, k) != 0)
			refuse(hs, "not an lmd replication handshake");
		else if (k == 8)
			refuse(hs, "it speaks libraft's stock handshake, not lmd's (an older "
			           "lmd?)");
		return;
	}
	if (hs->nread < LM_TRANSPORT_PREAMBLE)
		return;
	uv_read_stop(s);
	if (!validate(hs))
		return;
	/* Before a byte of raft traffic either way (transport.h). */
	if (hs->t->cfg.peer != NULL && hs->t->cfg.peer(hs->t->cfg.peer_arg, hs->peer_id) != 0) {
		refuse(hs, "this server cannot record raft id %llu in its data directory",
		       (unsigned long long)hs->peer_id);
		return;
	}
	if (hs->outgoing) {
		hand_over(hs);
		return;
	}
	/* Answer only a peer that proved to be of this cluster. */
	uv_buf_t b = uv_buf_init((char *)hs->out, LM_TRANSPORT_PREAMBLE);
	encode(hs->t, hs->out);
	hs->state = HS_WRITING;
	hs->write.data = hs;
	if (uv_write(&hs->write, s, &b, 1, on_write) != 0)
		hs_close(hs, RAFT_NOCONNECTION);
}

static void on_write(uv_write_t *w, int status)
{
	struct handshake *hs = w->data;

	if (hs->state != HS_WRITING)
		return; /* closing: status is UV_ECANCELED */
	if (status != 0) {
		hs_close(hs, RAFT_NOCONNECTION);
		return;
	}
	if (!hs->outgoing) {
		hand_over(hs);
		return;
	}
	hs->state = HS_READING;
	if (uv_read_start((uv_stream_t *)hs->tcp, on_alloc, on_read) != 0)
		hs_close(hs, RAFT_NOCONNECTION);
}

/* ---- Timeouts ---- */

static void on_tick(uv_timer_t *timer)
{
	struct transport *t = timer->data;
	uint64_t now = uv_now(t->loop);
	struct handshake *hs, *next;

	/* hs_close() leaves hs in the list until its handle closed. */
	for (hs = t->handshakes; hs != NULL; hs = next) {
		next = hs->next;
		if (hs->state == HS_CLOSING || now < hs->deadline)
			continue;
		if (hs->outgoing)
			hs_close(hs, RAFT_NOCONNECTION);
		else
			refuse(hs, "no complete handshake within %d ms (%zu of %d bytes)",
			       LM_TRANSPORT_HANDSHAKE_MS, hs->nread, LM_TRANSPORT_PREAMBLE);
	}
	if (t->handshakes == NULL)
		uv_timer_stop(timer);
}

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

static void drop_connection(struct transport *t);

static void spare_closed(uv_handle_t *h)
{
	struct transport *t = h->data;

	t->spare_busy = false;
	t->open_handles--;
	if (t->drop_pending && !t->closing)
		drop_connection(t);
	maybe_closed(t);
}

static void drop_connection(struct transport *t)
{
	char peer[LM_TRANSPORT_ADDRESS_MAX + 1] = "?";

	t->drop_pending = false;
	uv_tcp_init(t->loop, &t->spare);
	t->spare.data = t;
	t->spare_busy = true;
	t->open_handles++;
	if (uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)&t->spare) == 0) {
		name_peer(&t->spare, peer, sizeof peer);
		log_refusal(t, peer, "out of memory for its handshake");
	}
	uv_close((uv_handle_t *)&t->spare, spare_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct transport *t = listener->data;

	if (status != 0)
		return;
	/* libuv stops watching the listener until a connection is accepted,
	 * so every one is accepted, even those closed at once. */
	struct handshake *hs = hs_new(t, false);
	if (hs == NULL) {
		if (t->spare_busy)
			t->drop_pending = true;
		else
			drop_connection(t);
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)hs->tcp) != 0) {
		hs_close(hs, 0);
		return;
	}
	name_peer(hs->tcp, hs->peer, sizeof hs->peer);
	if (t->incoming >= LM_TRANSPORT_HANDSHAKES_MAX) {
		refuse(hs, "too many handshakes in progress (%d)", LM_TRANSPORT_HANDSHAKES_MAX);
		return;
	}
	hs->counted = true;
	t->incoming++;
	hs->state = HS_READING;
	if (uv_read_start((uv_stream_t *)hs->tcp, on_alloc, on_read) != 0)
		hs_close(hs, 0);
}

/* ---- Outgoing connections ---- */

static void on_connect(uv_connect_t *c, int status)
{
	struct handshake *hs = c->data;

	if (hs->state != HS_CONNECTING)
		return; /* closing: status is UV_ECANCELED */
	if (status != 0) {
		hs_close(hs, RAFT_NOCONNECTION);
		return;
	}
	uv_buf_t b = uv_buf_init((char *)hs->out, LM_TRANSPORT_PREAMBLE);
	encode(hs->t, hs->out);
	hs->state = HS_WRITING;
	hs->write.data = hs;
	if (uv_write(&hs->write, (uv_stream_t *)hs->tcp, &b, 1, on_write) != 0)
		hs_close(hs, RAFT_NOCONNECTION);
}

static int tr_connect(struct raft_uv_transport *rt, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
	struct transport *t = rt->impl;
	struct sockaddr_in sa;

	if (t->closing)
		return RAFT_CANCELED;
	if (lm_transport_parse_address(address, &sa) != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg, "raft address \"%.64s\" is not IPV4:PORT",
		         address);
		return RAFT_NOCONNECTION;
	}
	struct handshake *hs = hs_new(t, true);
	if (hs == NULL)
		return RAFT_NOMEM;
	req->cb = cb;
	hs->want_id = id;
	snprintf(hs->peer, sizeof hs->peer, "%s", address);
	hs->state = HS_CONNECTING;
	hs->connect.data = hs;
	int rv = uv_tcp_connect(&hs->connect, hs->tcp, (const struct sockaddr *)&sa, on_connect);
	if (rv != 0) {
		snprintf(rt->errmsg, sizeof rt->errmsg, "connect to %s: %s", address,
		         uv_strerror(rv));
		/* raft retries later; its callback must not run. */
		hs_close(hs, RAFT_NOCONNECTION);
		return RAFT_NOCONNECTION;
	}
	/* Only now: with req set, closing calls raft back. */
	hs->req = req;
	return 0;
}

/* ---- Set-up and closing ---- */

static int tr_init(struct raft_uv_transport *rt, raft_id id, const char *address)
{
	struct transport *t = rt->impl;

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
	struct transport *t = rt->impl;

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

static void maybe_closed(struct transport *t)
{
	if (!t->closing || t->closed || t->open_handles > 0 || t->handshakes != NULL)
		return;
	t->closed = true;
	if (t->close_cb != NULL)
		t->close_cb(t->raft);
}

static void handle_closed(uv_handle_t *h)
{
	struct transport *t = h->data;

	assert(t->open_handles > 0);
	t->open_handles--;
	maybe_closed(t);
}

static void tr_close(struct raft_uv_transport *rt, raft_uv_transport_close_cb cb)
{
	struct transport *t = rt->impl;

	assert(t->inited && !t->closing);
	t->closing = true;
	t->close_cb = cb;
	/* Dials in progress are called back with RAFT_CANCELED once their
	 * handles closed, as raft_uv expects before it calls back itself. */
	for (struct handshake *hs = t->handshakes; hs != NULL; hs = hs->next)
		hs_close(hs, RAFT_CANCELED);
	uv_close((uv_handle_t *)&t->listener, handle_closed);
	uv_close((uv_handle_t *)&t->timer, handle_closed);
}

int lm_transport_init(struct raft_uv_transport *rt, uv_loop_t *loop,
                      const struct lm_transport_config *cfg)
{
	struct transport *t = calloc(1, sizeof *t);

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
	rt->impl = t;
	rt->init = tr_init;
	rt->listen = tr_listen;
	rt->connect = tr_connect;
	rt->close = tr_close;
	return 0;
}

void lm_transport_close(struct raft_uv_transport *rt)
{
	struct transport *t = rt->impl;

	if (t == NULL)
		return;
	/* Handles still on the loop point into t: better a leak than a
	 * dangling pointer. */
	assert(!t->inited || t->closed);
	if (t->inited && !t->closed)
		return;
	free(t);
	rt->impl = NULL;
}
