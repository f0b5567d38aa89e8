/* The license server's state, and its functions over what is replicated:
 * proposing commands to the cluster, knowing who leads, and the license
 * set the pool serves.  One libuv loop owns it all.
 *
 * Layers inside lmd, each using only those below it:
 *   daemon.c                   start-up, signals, leadership changes, stop
 *   requests.c, admin.c        the handlers of each request (dispatch.h)
 *   expiry.c, idle.c           expiring silent sessions, reclaiming idle seats
 *   connection*.c              connections: frames, replies, commits
 *   server.c, server_license.c this header: the cluster glue, the license set
 *   command.c, pool, cluster, live_sessions.c, peers.c, ...
 * (main.c wires the handlers into the daemon; lmdown's handler stops it.) */
#ifndef LM_SERVER_H
#define LM_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "core/license.h"
#include "core/options.h"
#include "lmd/admin_state.h"
#include "lmd/args.h"
#include "lmd/cluster.h"
#include "lmd/command.h"
#include "lmd/datadir.h"
#include "lmd/dispatch.h"
#include "lmd/live_sessions.h"
#include "lmd/metrics.h"
#include "lmd/peers.h"
#include "lmd/pool.h"
#include "lmd/report_events.h"
#include "lmd/report_log.h"
#include "proto/arena.h"

#define LM_SERVER_VERSION "lmd " PACKAGE_VERSION
/* Connections accepted at once, at most; the open-file limit may lower it
 * (lm_daemon_start).  More are answered LMC_ELIMIT and closed at accept. */
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
/* ...and for the connections of one address, so that a flood from one host
 * leaves the budget's rest to the others (lmstat, real clients). */
#define LM_SERVER_PENDING_PER_ADDRESS_MAX (LM_SERVER_PENDING_MAX / 4)
/* A TLS client must finish its handshake within this long of connecting:
 * one that dribbles it holds OpenSSL's state and a slot for nothing. */
#define LM_TLS_HANDSHAKE_TIMEOUT_MS 5000
/* Handshakes under way at once, at most: each costs a signature and an
 * X25519 exchange, so a flood of ClientHellos must not starve the loop of
 * the clients already served.  More are closed at their first byte. */
#define LM_TLS_HANDSHAKES_MAX 256
/* Refusals of one kind from one address are logged once per window. */
#define LM_REFUSAL_LOG_WINDOW_MS 10000

struct lm_connection;

struct lm_server {
	uv_loop_t *loop;
	struct lm_config cfg;
	struct lm_license_file license;
	/* The options file loaded with it (NULL: none); both are proposed
	 * together (SetLicense) and replaced together by lmreread. */
	struct lm_options *options;
	EVP_PKEY *vendor_key;
	/* The clock was found set back (walltime.h) and the log said so. */
	bool clock_back_told;
	/* This server's identity key (DATA/server-key): signs each grant. */
	EVP_PKEY *server_key;
	unsigned node;    /* 1-based SERVER line */
	unsigned raft_id; /* node, or node + 3k for a replacement */
	unsigned port;    /* client port */
	/* Each SERVER line's "port@host" for clients, and raft "ip:port". */
	char addresses[LM_LICENSE_SERVERS_MAX][LM_ADDRESS_TEXT_MAX];
	char raft_addresses[LM_LICENSE_SERVERS_MAX][LM_CLUSTER_ADDRESS_MAX + 1];

	struct lm_datadir datadir; /* locked for the life of the process */
	struct lm_pool *pool;
	struct lm_cluster *cluster;
	struct lm_cluster_fsm fsm; /* the pool, as the cluster's state machine */
	/* The usage report log and its view of each applied command, or NULL
	 * (no --report-log, no REPORTLOG). */
	struct lm_report_log *report_log;
	struct lm_report_events *report_events;
	uv_prepare_t report_flush; /* writes its records once per loop turn */
	/* While a triad member with no raft state asks its peers whether it
	 * may bootstrap (bootstrap.h); raft is not started meanwhile. */
	struct lm_bootstrap *bootstrap;
	bool raft_fresh; /* raft bootstrapped by this process after asking */
	struct lm_live_sessions live;
	bool ready; /* leader with its barrier applied */
	/* The cluster id (lmd/pool.h), once known: read from DATA/cluster-id
	 * at start, or learnt when the pool first holds it.  It goes on the
	 * replication port and in every HelloReply and SessionReply. */
	uint8_t cluster_id[LM_CLUSTER_ID_SIZE];
	bool has_cluster_id;
	bool pool_has_cluster_id; /* no need to look in the pool again */
	bool cluster_id_proposed; /* a SetClusterId is being committed */

	uv_tcp_t listener;
	/* TLS on the client port (core/tls_conn.h): the context holding the
	 * certificate made from server_key, NULL with --client-tls off; the
	 * handshakes under way. */
	SSL_CTX *tls_ctx;
	unsigned tls_handshakes;
	/* Admin authority (admin_auth.h): the admin socket ("" when none),
	 * the admin group, the admin keys, this process's instance id, and
	 * the audit trail (admin_audit.h). */
	uv_pipe_t admin_listener;
	char admin_socket_path[LM_ADMIN_SOCKET_PATH_MAX + 1];
	char admin_group[64];
	gid_t admin_gid;
	bool has_admin_gid;
	struct lm_admin_keys admin_keys;
	uint8_t instance[LM_ADMIN_INSTANCE_LEN];
	struct lm_admin_audit audit;
	uv_timer_t sweep_timer;
	uv_signal_t sigterm, sigint;
	struct lm_dispatch dispatch; /* the handler of each request */
	struct lm_connection *conns; /* all connections, a doubly linked list */
	unsigned nconns;
	unsigned conns_max;       /* LM_SERVER_CONNECTIONS_MAX or less (open-file limit) */
	struct lm_peers peers;    /* connections and session opens per address */
	size_t pending_total;     /* bytes of unfinished frames, all connections */
	unsigned expiring;        /* session expiries being committed */
	unsigned idle_reclaiming; /* idle reclaims being committed (idle.c) */
	unsigned ticks;           /* of the sweep timer, for slower chores */
	/* The day (since 1970) whose license expiry warnings were logged
	 * (expiry.c), 0 before the first. */
	int32_t expiry_warned_day;
	/* Whether the loaded license file differs from the pool's set, and
	 * whether that must be computed again (the file or the set changed). */
	bool license_differs;
	bool license_check_due;
	uint64_t started_ms;
	bool stopping;
	bool rereading; /* an lmreread is reading the license in the thread pool */
	/* What /metrics counts, and the --http server (NULL: off). */
	struct lm_metrics metrics;
	struct lm_http *http;

	/* Decoding is synchronous, one frame at a time, so one arena serves
	 * every connection. */
	struct lm_arena arena;
	uint8_t *arena_block;
	/* The buffer libuv reads into for every connection; each read is
	 * copied into its connection's frame reader (proto/frame.h), which
	 * holds only the bytes of frames not yet handled. */
	uint8_t *read_buf;
};

/* ---- The cluster glue (server.c) ---- */

/* On the leader: names a new cluster (proposes a random SetClusterId)
 * unless the pool holds its id already; called on election and, until the
 * id is applied, at every sweep.  The leader opens no session until then. */
void lm_server_propose_cluster_id(struct lm_server *s);

/* On a new leader, once it serves: proposes the LeaderChange that the
 * report log of every server records (report_events.c). */
void lm_server_propose_leader_change(struct lm_server *s);

/* Sets s->fsm up: the pool applies, snapshots and restores for the
 * cluster. */
void lm_server_fsm_init(struct lm_server *s);

/* Proposes a packed command (refused with cmd->error when it could not be
 * built; the cluster copies the bytes, so the caller releases cmd after);
 * cb receives the pool's result (NULL unless status is 0). */
typedef void (*lm_server_done_cb)(void *arg, int status, struct lm_pool_result *res);
int lm_server_propose(struct lm_server *s, const struct lm_command *cmd, lm_server_done_cb cb,
                      void *arg);
/* The SERVER line (1-based) whose server runs under raft_id, 0 if none. */
unsigned lm_server_line_of(const struct lm_server *s, unsigned raft_id);
/* The client address ("port@host") of the leader, or NULL when unknown. */
const char *lm_server_leader_address(struct lm_server *s);
/* True for a replacement server that the leader has not made a member
 * yet (it waits for `lmutil lmreplace`). */
bool lm_server_awaits_membership(struct lm_server *s);
/* What lmstat shows of the cluster, and its members (up to max). */
void lm_server_cluster_status(struct lm_server *s, struct lm_cluster_status *st);
int lm_server_members(struct lm_server *s, struct lm_cluster_member *out, int max);
/* Replaces member old_id by new_id at address (lm_cluster_replace). */
int lm_server_replace(struct lm_server *s, unsigned old_id, unsigned new_id, const char *address,
                      void (*cb)(void *arg, int status), void *arg);
/* A sentence on the cluster's last failure, "" if none. */
const char *lm_server_cluster_error(struct lm_server *s);

/* ---- The license set (server_license.c) ---- */

/* Proposes the license file's lines as the pool's license set. */
int lm_server_propose_license(struct lm_server *s);
/* True when the license file this server loaded differs from the license
 * set the pool serves (replicated state: the cluster's). */
bool lm_server_license_differs(struct lm_server *s);
/* On becoming the leader: serves the set the log holds; only the first
 * leader of a new cluster (an empty set) proposes its file. */
void lm_server_adopt_license(struct lm_server *s);

#endif
