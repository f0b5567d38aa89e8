/* lmd's replication transport: the TCP connections between the servers of a
 * cluster, set up by lmd before libraft sees them.
 *
 * libraft's uv backend takes its connections from a struct raft_uv_transport
 * (raft/uv.h).  Its stock TCP transport trusts the handshake it reads: in
 * raft 0.15 a peer announcing an address without a NUL overflows a heap
 * buffer, and an announced length is allocated whatever it is
 * (src/uv_tcp_listen.c).  This one does TCP itself with libuv and runs its
 * own fixed-size handshake; only a connection whose handshake passed every
 * check below is handed to libraft, which then speaks its own message
 * protocol on it (src/uv_recv.c and src/uv_send.c read and write raft
 * messages only: the stock handshake lives entirely in the transport).
 *
 * The handshake.  The side that dials writes a preamble; the side that
 * accepted validates it and, only if it is good, answers with its own
 * preamble, which the dialler validates in turn.  So a server learns nothing
 * from a peer that is not of its cluster, and a dialler hands libraft no
 * connection (and sends no raft traffic) to a server that is not the one it
 * meant.  The preamble, LM_TRANSPORT_PREAMBLE bytes, integers little-endian:
 *
 *    0   8  magic "lmd-raft"
 *    8   2  transport version, 2
 *   10   2  address length n, 1 to LM_TRANSPORT_ADDRESS_MAX
 *   12   4  zero
 *   16  16  configuration identity
 *   32   8  sender's raft id, 1 to UINT32_MAX
 *   40  64  sender's raft address "a.b.c.d:port": n printable bytes, zeros
 *  104  16  cluster id, or zeros while the sender does not know it yet
 *
 * Two identities, for two mistakes.  The configuration identity is what the
 * servers are configured to be (lmd derives it from the license's vendor
 * and SERVER lines): two triads with a mistyped peer port differ there.  The
 * cluster id is which history the server belongs to: random, made by the
 * first leader of a cluster and kept by every member (lmd/pool.h,
 * DATA/cluster-id).  A triad whose data was wiped and bootstrapped again has
 * the same configuration and another cluster id, so a server restored from
 * an old backup, or still holding the old cluster's log, is refused.  A
 * server that does not know the id yet (a first start, a --join replacement)
 * sends zeros and is taken in: it learns the id through raft.
 *
 * Checked on every preamble, in this order: magic, version, the zero bytes,
 * the raft id (not 0, not out of range), the address (bounded, printable,
 * zero-padded, IPV4:PORT), the configuration identity, which must equal
 * ours, the cluster id, which must equal ours when both sides know it, and
 * then the raft id again: a dialler's must not be the receiver's own, an
 * answer's must be the one dialled.  A handshake must complete within
 * LM_TRANSPORT_HANDSHAKE_MS, at most LM_TRANSPORT_HANDSHAKES_MAX incoming
 * ones run at once, and nothing beyond the preamble is buffered.  Every
 * refusal closes the connection and is told to the log callback as one
 * sentence, "replication peer ADDRESS refused: WHY" (a refusal repeating the
 * line before, or past LM_TRANSPORT_LOG_BURST lines a minute, is counted
 * instead).  A dialler does not report connections that fail or that the
 * other side closes: the other side says why, and a server that is down is
 * not news.
 *
 * Authentication: TLS.  The identities are not secrets, so on their own
 * they only keep two clusters from joining by mistake.  When the license
 * pins the servers' identity keys (KEY= on every SERVER line), lmd gives the
 * transport a struct lm_transport_tls and every connection is mutual TLS 1.3
 * before the preamble above is sent: both sides present the self-signed
 * certificate of their identity key, and a connection goes no further
 * unless the other side proved one of the pinned keys, the pinned key of
 * the address it was dialled at (when dialling), and the pinned key of the
 * raft address its preamble announces.  The preamble, and then raft's
 * messages, travel inside TLS; raft still gets a plain uv_stream_t
 * (transport_tls.c says how).  A stranger on the replication network then
 * learns nothing (not even the identities) and cannot inject anything;
 * without pinned keys the port stays plaintext and lmd says so at start.
 * The checks keep hostile bytes from reaching a handshake parser either
 * way: before TLS is up, only OpenSSL reads what arrives.
 *
 * Everything runs on the loop's thread. */
#ifndef LM_TRANSPORT_H
#define LM_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "core/limits.h"

#define LM_TRANSPORT_VERSION  2
#define LM_TRANSPORT_PREAMBLE 120
/* raft 0.15 takes dotted IPv4 literals with a port (21 bytes at most). */
#define LM_TRANSPORT_ADDRESS_MAX 63
/* How long a handshake may take, from accept or from dialling. */
#define LM_TRANSPORT_HANDSHAKE_MS 3000
/* Incoming handshakes in progress at once; more connections are closed at
 * accept.  A cluster has two peers, each dialling once at a time. */
#define LM_TRANSPORT_HANDSHAKES_MAX 16
/* Refusal lines per minute at most; past it, and for a refusal that repeats
 * the line before within a minute, refusals are counted and the count is
 * logged with the next line, so that a flood cannot fill a disk. */
#define LM_TRANSPORT_LOG_BURST 20

/* Told one sentence without a newline; called on the loop. */
typedef void (*lm_transport_log_cb)(void *arg, const char *msg);
/* Told the raft id of a peer whose preamble passed every check, before
 * anything else goes to it: before the answer on an accepted connection,
 * before libraft gets a dialled one.  So whoever ever exchanged raft traffic
 * with a peer was told its id first.  Non-zero refuses the connection.
 * Called on the loop, at every handshake. */
typedef int (*lm_transport_peer_cb)(void *arg, uint64_t raft_id);

/* Fills id with the cluster id and returns true, or returns false while it
 * is not known.  Called on the loop, at every handshake. */
typedef bool (*lm_transport_cluster_id_cb)(void *arg, uint8_t id[LM_CLUSTER_ID_SIZE]);

/* At most one per SERVER line. */
#define LM_TRANSPORT_PINNED_MAX 3

/* Mutual TLS on every connection (see above).  The contexts come from
 * lm_tls_peer_ctx_new() (core/tls.h); the transport takes a reference to
 * each and frees it in lm_transport_close(). */
struct lm_transport_tls {
	SSL_CTX *server; /* for connections accepted: asks for the dialler's certificate */
	SSL_CTX *client; /* for connections dialled: presents ours */
	/* The pinned keys, and for each the raft address of its SERVER line. */
	unsigned npinned;
	uint8_t keys[LM_TRANSPORT_PINNED_MAX][LM_SERVER_KEY_LEN];
	char addresses[LM_TRANSPORT_PINNED_MAX][LM_TRANSPORT_ADDRESS_MAX + 1];
};

struct lm_transport_config {
	/* Connections whose handshake names another configuration identity
	 * are refused.  The transport does not care where it comes from. */
	uint8_t config_id[LM_CONFIG_ID_SIZE];
	/* Optional: the cluster id, which may become known while the
	 * transport runs; without it, zeros are sent and nothing is checked. */
	lm_transport_cluster_id_cb cluster_id;
	void *cluster_id_arg;
	lm_transport_log_cb log; /* optional */
	void *log_arg;
	lm_transport_peer_cb peer; /* optional */
	void *peer_arg;
	/* Optional: mutual TLS with pinned keys; NULL keeps the port plaintext. */
	const struct lm_transport_tls *tls;
};

/* Fills t with lmd's implementation for raft_uv_init() (the configuration
 * is copied).  Returns 0 or LMC_ENOMEM.  raft_uv then calls t->init and, when
 * raft closes, t->close; lm_transport_close() frees what is left once
 * t->close called back (or when raft never called t->init). */
int lm_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                      const struct lm_transport_config *cfg);
void lm_transport_close(struct raft_uv_transport *t);

/* Parses a raft address as this transport dials and listens on it:
 * "a.b.c.d:port", port 1 to 65535, at most LM_TRANSPORT_ADDRESS_MAX bytes.
 * Returns 0 or LMC_EINVAL. */
int lm_transport_parse_address(const char *address, struct sockaddr_in *sa);

#endif
