/* Per-address accounting for the client port: how many connections each
 * client address holds and how fast it opens sessions, so that one host
 * (a runaway script, a hostile client) cannot take every connection slot or
 * fill the pool with sessions while the other hosts wait.
 *
 * Addresses are kept as 16 bytes (IPv4 as v4-mapped IPv6).  An entry lives
 * while the address has connections or its session bucket is refilling;
 * lm_peers_prune() drops the rest.  Everything runs on the loop thread. */
#ifndef LM_PEERS_H
#define LM_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* Kinds of refusal, each logged on its own schedule. */
enum lm_peers_log_kind {
	LM_PEERS_LOG_CONNS,    /* too many connections */
	LM_PEERS_LOG_SESSIONS, /* session opens over the rate */
	LM_PEERS_LOG_HELLO,    /* no Hello in time: closed */
	LM_PEERS_LOG_FRAME,    /* no whole frame in time: closed */
	LM_PEERS_LOG_IDLE,     /* idle with no session: closed */
	LM_PEERS_LOG_BUSY,     /* unfinished frames over the server's budget */
	LM_PEERS_LOG_TLS,      /* a failed or slow TLS handshake, or a flood of them */
	LM_PEERS_LOG_KINDS
};

struct lm_peer {
	uint8_t addr[16]; /* all zero: free slot */
	unsigned conns;   /* connections open from this address */
	size_t pending;   /* bytes of unfinished frames its connections hold */
	/* Token bucket of session opens: `tokens` (scaled by 1000) refill at
	 * the configured rate up to the burst. */
	uint64_t tokens_milli;
	uint64_t refilled_ms;
	/* Refusals are logged once per address, kind and window, with a
	 * count of the ones not logged, so that a flood cannot flood the log. */
	uint64_t logged_ms[LM_PEERS_LOG_KINDS];
	unsigned suppressed[LM_PEERS_LOG_KINDS];
};

struct lm_peers {
	struct lm_peer *slots;
	size_t capacity; /* a power of two */
	size_t count;
	unsigned conns_max;     /* per address; 0: no limit */
	unsigned sessions_rate; /* session opens per second per address; 0: no limit */
	unsigned sessions_burst;
};

int lm_peers_init(struct lm_peers *t, unsigned conns_max, unsigned sessions_rate);
void lm_peers_close(struct lm_peers *t);

/* The 16-byte key of a socket address (zeros for an unknown family). */
void lm_peers_key(const struct sockaddr *sa, uint8_t key[16]);

/* Counts a new connection from key.  Returns false (counting nothing) when
 * the address already holds conns_max connections or no memory is left. */
bool lm_peers_connect(struct lm_peers *t, const uint8_t key[16]);
/* A connection counted by lm_peers_connect() closed. */
void lm_peers_disconnect(struct lm_peers *t, const uint8_t key[16]);
/* The unfinished frames of one of key's connections go from old_size to
 * new_size bytes.  Returns false (changing nothing) when the address would
 * then hold more than max: one host cannot take the whole server's budget
 * for half-sent frames. */
bool lm_peers_hold_pending(struct lm_peers *t, const uint8_t key[16], size_t old_size,
                           size_t new_size, size_t max);
/* Takes one session-open token for key at time now_ms; false when the
 * address has used up its rate. */
bool lm_peers_take_session(struct lm_peers *t, const uint8_t key[16], uint64_t now_ms);
/* True when a refusal of kind for key should be logged now (at most one
 * line per address and kind every window_ms); *suppressed receives how many
 * were not logged since the last line. */
bool lm_peers_should_log(struct lm_peers *t, const uint8_t key[16], enum lm_peers_log_kind kind,
                         uint64_t now_ms, uint64_t window_ms, unsigned *suppressed);
/* Drops entries with no connection whose bucket is full again. */
void lm_peers_prune(struct lm_peers *t, uint64_t now_ms);

#endif
