/* The license server: one libuv loop that owns the license set, the pool,
 * the cluster seam, the client listener and the live sessions. */
#ifndef LM_SERVER_H
#define LM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <uv.h>

#include "core/license.h"
#include "lmd/cluster.h"
#include "lmd/args.h"
#include "lmd/datadir.h"
#include "lmd/live.h"
#include "lmd/peers.h"
#include "lmd/pool.h"
#include "proto/arena.h"

#define LM_SERVER_VERSION "lmd " PACKAGE_VERSION
/* Connections accepted at once, at most; the open-file limit may lower it
 * (lm_server_start).  More are answered LMC_ELIMIT and closed at accept. */
#define LM_SERVER_CONNECTIONS_MAX 60000
/* Descriptors kept for everything but client connections: the raft log and
 * its peers, LMDB, the license file, the log. */
#define LM_SERVER_FD_RESERVE 128
/* A connection must say Hello within this long. */
#define LM_HELLO_TIMEOUT_MS 10000
/* A frame must arrive whole within this long of its first byte: a client
 * that drips bytes holds a buffer and a slot for nothing. */
#define LM_FRAME_DEADLINE_MS 10000
/* A connection with no session (lmstat, a client between sessions) is
 * closed after this long without a request. */
#define LM_IDLE_TIMEOUT_MS 60000
/* Bytes of unfinished frames held for all connections together; past it
 * the connection that would add more is answered LMC_ELIMIT and closed. */
#define LM_SERVER_PENDING_MAX (64u * 1024 * 1024)
/* Refusals of one kind from one address are logged once per window. */
#define LM_REFUSAL_LOG_WINDOW_MS 10000

struct lm_client;

struct lm_server {
	uv_loop_t *loop;
	struct lm_config cfg;
	struct lm_license_file license;
	EVP_PKEY *vendor_key;
	unsigned node;              /* 1-based SERVER line */
	unsigned raft_id;           /* node, or node + 3k for a replacement */
	unsigned port;              /* client port */
	char addresses[3][300];     /* each server's "port@host" for clients */
	char raft_addresses[3][64]; /* each server's raft "ip:port" */

	struct lm_datadir datadir; /* locked for the life of the process */
	struct lm_pool *pool;
	struct lm_cluster *cluster;
	/* While a triad member with no raft state asks its peers whether it
	 * may bootstrap (bootstrap.h); raft is not started meanwhile. */
	struct lm_bootstrap *bootstrap;
	bool raft_fresh; /* raft bootstrapped by this process after asking */
	struct lm_live live;
	bool ready; /* leader with its barrier applied */
	/* The cluster id (lmd/pool.h), once known: read from DATA/cluster-id
	 * at start, or learnt when the pool first holds it.  It goes on the
	 * replication port and in every HelloReply and SessionReply. */
	uint8_t cluster_id[LM_POOL_CLUSTER_ID_SIZE];
	bool has_cluster_id;
	bool pool_has_cluster_id; /* no need to look in the pool again */
	bool cluster_id_proposed; /* a SetClusterId is being committed */

	uv_tcp_t listener;
	uv_timer_t expiry_timer;
	uv_signal_t sigterm, sigint;
	struct lm_client *conns; /* all connections, a doubly linked list */
	unsigned nconns;
	unsigned conns_max;    /* LM_SERVER_CONNECTIONS_MAX or less (open-file limit) */
	struct lm_peers peers; /* connections and session opens per address */
	size_t pending_total;  /* bytes of unfinished frames, all connections */
	unsigned expiring;     /* session expiries being committed */
	unsigned ticks;        /* of the expiry timer, for slower chores */
	/* Whether the loaded license file differs from the pool's set, and
	 * whether that must be computed again (the file or the set changed). */
	bool license_differs;
	bool license_check_due;
	uint64_t started_ms;
	bool stopping;
	bool rereading; /* an lmreread is reading the license in the thread pool */

	/* Decoding is synchronous, one frame at a time, so one arena serves
	 * every connection. */
	struct lm_arena arena;
	uint8_t *arena_block;
	/* The read buffer libuv fills; frames are parsed straight from it and
	 * only a partial frame is copied to its connection. */
	uint8_t *read_buf;
	bool read_buf_busy;
};

/* Loads and checks the license, opens the store and the cluster, starts
 * listening.  Exits the process with a message naming the problem when the
 * license is invalid or this machine is not the one its SERVER line names. */
void lm_server_start(struct lm_server *s, uv_loop_t *loop, const struct lm_config *cfg);
/* Stops accepting, closes every connection and the cluster; the loop then
 * ends by itself. */
void lm_server_stop(struct lm_server *s);

/* Tells systemd the server's role and seats in use (lmd/notify.h). */
void lm_server_notify_status(struct lm_server *s);

/* Microseconds of wall-clock time: the only clock commands carry. */
int64_t lm_server_now_us(void);

/* ---- between server.c and client.c ---- */
void lm_client_accept(struct lm_server *s);
void lm_client_close(struct lm_client *c);
/* Closes connections that did not say Hello in time. */
void lm_client_sweep(struct lm_server *s);
/* Closes every connection, first telling each client code and why: when
 * this node stops being the leader (clients must reconnect to the new one)
 * and when the server stops. */
void lm_client_close_all(struct lm_server *s, int code, const char *why);
void lm_client_detach(struct lm_client *c);

/* Proposes a packed lmcmd.Command; cb receives the pool's result (NULL
 * unless status is 0). */
typedef void (*lm_server_done_cb)(void *arg, int status, struct lm_pool_result *res);
int lm_server_propose(struct lm_server *s, const void *cmd, size_t len, lm_server_done_cb cb,
                      void *arg);
/* Proposes the license file's lines as the pool's license set. */
int lm_server_propose_license(struct lm_server *s);
/* True when the license file this server loaded differs from the license
 * set the pool serves (replicated state: the cluster's). */
bool lm_server_license_differs(struct lm_server *s);
/* The SERVER line (1-based) whose server runs under raft_id, 0 if none. */
unsigned lm_server_line_of(const struct lm_server *s, unsigned raft_id);
/* The client address ("port@host") of the leader, or NULL when unknown. */
const char *lm_server_leader_address(struct lm_server *s);

#endif
