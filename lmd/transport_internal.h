/* What the files of lmd's replication transport share.  Private to
 * lmd/transport*.c; the API and the handshake's rules are in transport.h.
 *
 *   transport.c            the raft_uv_transport: listening and accepting,
 *                          dialling, set-up and closing
 *   transport_handshake.c  one connection from accept or dial until it is
 *                          handed to raft or closed: sending and reading the
 *                          preambles, refusals and their log, timeouts
 *   transport_preamble.c   the preamble's bytes: writing ours, checking
 *                          theirs; raft addresses
 *   transport_tls.c        with pinned keys, the TLS link under each
 *                          connection: the handshake, the pins, and the
 *                          pump between TLS and the stream raft reads
 *
 * Everything runs on the loop's thread. */
#ifndef LM_TRANSPORT_INTERNAL_H
#define LM_TRANSPORT_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "core/limits.h"
#include "lmd/transport.h"

/* The preamble's first 8 bytes. */
#define LM_TRANSPORT_MAGIC "lmd-raft"

enum lm_handshake_state {
	HS_CONNECTING, /* dialling: the TCP connect is in flight */
	HS_TLS,        /* the TLS handshake, then the check of the peer's key */
	HS_WRITING,    /* writing our preamble */
	HS_READING,    /* reading the other side's preamble */
	HS_CLOSING,    /* refused or cancelled; freed when the handle closed */
};

/* One connection until it is handed to raft or closed. */
struct lm_handshake {
	struct lm_transport *t;
	struct lm_handshake *prev, *next;
	bool outgoing;
	bool counted; /* one of t->incoming */
	enum lm_handshake_state state;
	uint64_t deadline;
	/* The socket.  Plaintext: raft_malloc'd, and also the stream raft
	 * gets.  TLS: the link's, and the stream is the link's clear end. */
	uv_tcp_t *tcp;
	uv_stream_t *stream;      /* raft_malloc'd: raft frees it once it owns it */
	struct lm_tls_link *link; /* TLS only */
	/* TLS: the key the other side proved, once it is one of the pins. */
	bool has_peer_key;
	uint8_t peer_key[LM_SERVER_KEY_LEN];
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

struct lm_transport {
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
	struct lm_handshake *handshakes; /* every one not yet freed */
	unsigned incoming;               /* incoming ones not closing */
	/* The log's budget (see lm_transport_log_refusal). */
	uint64_t window_start, last_ms;
	unsigned logged, unlogged;
	char last_why[400];
	/* TLS: cfg.tls points here; every link not yet freed, handed over or
	 * not (the transport's close waits for them). */
	struct lm_transport_tls tls;
	struct lm_tls_link *links;
};

/* ---- transport_handshake.c ---- */

/* A handshake for a connection not yet made (dialled or to be accepted),
 * in t's list, with its deadline running; NULL when out of memory. */
struct lm_handshake *lm_handshake_new(struct lm_transport *t, bool outgoing);
/* Closes the connection; a dialler's request is called back with status
 * once the handle is closed.  Again is a no-op. */
void lm_handshake_close(struct lm_handshake *hs, int status);
/* Logs "replication peer PEER refused: WHY" (within the log's budget) and
 * closes the connection. */
__attribute__((format(printf, 2, 3))) void lm_handshake_refuse(struct lm_handshake *hs,
                                                               const char *fmt, ...);
/* Sends our preamble, then (dialling) reads the answer or (accepted) hands
 * the connection over.  Returns uv_write's status. */
int lm_handshake_send_preamble(struct lm_handshake *hs);
/* Reads the other side's preamble, and not a byte more.  Returns
 * uv_read_start's status. */
int lm_handshake_read_preamble(struct lm_handshake *hs);
/* One refusal for the log, within its budget (repeats and floods are
 * counted, not logged). */
void lm_transport_log_refusal(struct lm_transport *t, const char *peer, const char *why);

/* ---- transport_preamble.c ---- */

/* Writes our preamble, LM_TRANSPORT_PREAMBLE bytes, into p. */
void lm_transport_preamble_encode(struct lm_transport *t, uint8_t *p);
/* Checks the preamble read into hs->in and sets hs->peer_id and
 * hs->peer_address; refuses the connection (and returns false) at the
 * first thing wrong. */
bool lm_transport_preamble_check(struct lm_handshake *hs);

/* Where a connection goes once TLS is up and the peer proved a pinned key
 * (hs->peer_key): a dialler sends its preamble, the other reads it. */
void lm_handshake_tls_ready(struct lm_handshake *hs);
/* Starts the handshake of a connection just accepted or connected: TLS
 * first when the transport has it.  Returns non-zero when it could not
 * start (the caller closes hs). */
int lm_handshake_start(struct lm_handshake *hs);

/* ---- transport_tls.c ---- */

struct lm_tls_link;
/* Makes hs's link: the socket (hs->tcp), a socket pair whose one end is
 * hs->stream, and the TLS connection.  Returns 0, or LMC_ENOMEM / LMC_EIO
 * (no file descriptors) with nothing made. */
int lm_tls_link_new(struct lm_handshake *hs);
/* Dials sa on hs->tcp; lm_transport_connected() is told how it went
 * (unless hs closed by then).  Returns uv_tcp_connect's status. */
int lm_tls_link_connect(struct lm_tls_link *l, const struct sockaddr_in *sa);
/* Starts the TLS handshake on hs->tcp, connected or accepted.  When it is
 * over and the peer's key passed, calls lm_handshake_tls_ready(); refuses
 * hs otherwise.  Returns uv_read_start's status. */
int lm_tls_link_start(struct lm_tls_link *l);
/* The next link in the transport's list. */
struct lm_tls_link *lm_tls_link_next(struct lm_tls_link *l);
/* The stream changes hands (to raft): the link no longer tells hs. */
void lm_tls_link_detach(struct lm_tls_link *l);
/* Closes the socket and the link's end of the pair (so whoever holds the
 * other end reads end of file); frees the link once both are closed.
 * Again is a no-op. */
void lm_tls_link_close(struct lm_tls_link *l);
/* Checks the key hs's peer proved against the pin of the raft address
 * its preamble announced; refuses hs and returns false when they differ. */
bool lm_tls_check_announced(struct lm_handshake *hs);

/* ---- transport.c ---- */

/* A dialled connection's TCP connect finished with status (ignored unless
 * hs is still connecting). */
void lm_transport_connected(struct lm_handshake *hs, int status);
/* Calls raft back once a closing transport has nothing left open. */
void lm_transport_maybe_closed(struct lm_transport *t);

#endif
