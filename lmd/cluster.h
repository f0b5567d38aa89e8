/* The cluster: the one narrow seam between lmd and its consensus engine.
 *
 * lmd's seat pool is a deterministic state machine (DESIGN.md §2, principle
 * 1).  This module replicates the commands that change it through libraft
 * and hands each committed command back, in log order, to the state machine
 * described by struct lm_cluster_fsm.  Nothing else in lmd includes raft.h:
 * the rest of the daemon sees only "propose this command, hear back its
 * result once committed", "am I the leader, and who is", and "the
 * leadership changed".  A cluster has one node or three; there is no second
 * code path for the single server.
 *
 * Everything here runs on the daemon's libuv loop, on the loop's thread.
 *
 * Security: the raft port speaks lmd's own transport (transport.h), not
 * libraft's stock one.  Before libraft sees a connection, its fixed-size
 * handshake is checked (magic, version, a raft id in range, a bounded,
 * printable IPV4:PORT address) and must name this cluster's configuration
 * identity (cfg.config_id) and, once both sides know it, its cluster id
 * (cfg.cluster_id), in both directions; handshakes are bounded in time, in
 * bytes and in number, and every refusal is logged.  So hostile bytes never
 * reach libraft's handshake parser, and two clusters cannot join by mistake.
 * Still missing: authentication and encryption (TLS is a later step).  The
 * identity is not a secret, and once past the handshake libraft trusts the
 * raft messages it reads: anyone who can reach the port and knows the
 * identity can forge the license pool (research/stack-notes.md §1.12).  Bind
 * the raft addresses to a private network between the servers only, never to
 * the clients' side.  Addresses are dotted IPv4 literals with a port.
 *
 * The process must ignore SIGPIPE: raft's transport writes to peers that may
 * have closed their end, and libuv does not block the signal itself. */
#ifndef LM_CLUSTER_H
#define LM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/limits.h"

/* Outcomes.  Every code here is an LMC_E* (core/error.h).  One of them is
 * the cluster's own: LMC_EINDOUBT, the status passed to a done callback when
 * the proposer lost its leadership before the command was known to commit.
 * The command may still commit under the next leader, so the caller must not
 * assume either outcome: it retries with the same request id and the state
 * machine drops the duplicate (DESIGN.md §2, principle 3).  lmd never sends
 * it on the wire. */

/* The largest command lm_cluster_propose() accepts, in bytes. */
#define LM_CLUSTER_MAX_COMMAND (1024 * 1024)
/* The largest snapshot restore accepts, in bytes (raft ships a snapshot as a
 * single message built in memory). */
#define LM_CLUSTER_MAX_SNAPSHOT (256 * 1024 * 1024)

#define LM_CLUSTER_MAX_NODES 3
/* Longest raft address we keep: a dotted IPv4 literal, a colon and a port
 * fit in 21 bytes; the status struct has room for 63. */
#define LM_CLUSTER_ADDRESS_MAX 63

/* lmd/transport.h */
struct lm_transport_tls;

/* The state machine the cluster drives.  The callbacks run on the loop. */
struct lm_cluster_fsm {
	void *data;
	/* Applies one committed command: exactly the bytes that were proposed,
	 * at raft log index `index` (strictly increasing, with gaps where raft
	 * keeps entries of its own).  It runs on every node, so it must be
	 * deterministic (stack-notes.md §4.8), and it must not fail for
	 * business reasons: "no seats left" is a result, not an error.  It may
	 * set *result to a malloc'd value; on the node that proposed the
	 * command the proposer's callback receives it and owns it, elsewhere
	 * the cluster free()s it.  A non-zero return means this node cannot go
	 * on (say, a full disk) and ends the process: raft would otherwise
	 * retry the same entry forever. */
	int (*apply)(void *data, uint64_t index, const void *cmd, size_t len, void **result);
	/* The whole state as one malloc'd buffer, which the cluster frees. */
	int (*snapshot)(void *data, void **buf, size_t *len);
	/* Replaces the whole state (never merges) with a snapshot taken on
	 * some node when the entry at `index` was the last one applied.  That
	 * entry may be one of raft's own (a barrier, a configuration), so
	 * index can be beyond the last command the state saw; the next apply
	 * comes after it.  The buffer belongs to the cluster. */
	int (*restore)(void *data, uint64_t index, const void *buf, size_t len);
};

struct lm_cluster_config {
	unsigned id;     /* 1-based node id = index of the SERVER line */
	unsigned nnodes; /* 1 or 3 */
	const char *addresses[LM_CLUSTER_MAX_NODES]; /* "10.0.0.5:27100": raft addresses, by id */
	const char *dir;                             /* raft's own data directory */
	/* This node's raft address; NULL means addresses[id - 1].  Needed only
	 * by a joining node whose id is beyond nnodes. */
	const char *address;
	/* Optional; 0 picks the default. */
	unsigned heartbeat_ms;       /* leader's heartbeat period (100) */
	unsigned election_ms;        /* election timeout, randomised up to 2x by raft (1000) */
	unsigned snapshot_threshold; /* applied entries between snapshots (8192) */
	unsigned snapshot_trailing;  /* entries kept behind a snapshot, >= threshold (8192) */
	size_t segment_size;         /* size of raft's pre-allocated log segments (8 MiB) */
	/* How long the leader waits for a follower to install a snapshot before
	 * sending it again (5000).  raft's own default is 30 s, and a 0.15
	 * follower that is busy taking its own snapshot refuses an install
	 * without the leader noticing: it would lag that long. */
	unsigned install_snapshot_ms;
	/* Set on a node that joins an existing cluster through
	 * lm_cluster_replace() (its id may then exceed nnodes): it starts with
	 * an empty log and never bootstraps.  Without it a pristine data
	 * directory bootstraps the static configuration of addresses[]
	 * (stack-notes.md §1.3), which is only safe on the very first start of
	 * the cluster: a node that lost its data directory must come back
	 * under a new id with join set. */
	bool join;
	/* What the cluster is configured to be: the raft port refuses
	 * connections from any server whose handshake names another
	 * configuration identity.  All nodes of one cluster must have the
	 * same; where it comes from is the caller's business. */
	uint8_t config_id[LM_CONFIG_ID_SIZE];
	/* Optional: the cluster id, once known (transport.h); a server whose
	 * handshake names another one is refused.  Called with log_arg. */
	bool (*cluster_id)(void *arg, uint8_t id[LM_CLUSTER_ID_SIZE]);
	/* Optional: told one sentence ("replication peer 10.0.0.7:51234
	 * refused: ...") for each connection the raft port refuses; called on
	 * the loop. */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
	/* Optional: told the raft id of each peer whose replication handshake
	 * passed, before any raft message goes either way on that connection;
	 * non-zero refuses the connection.  lmd records the ids it has met,
	 * so that a server that lost its data can learn that it had been
	 * running before (bootstrap.h).  Called on the loop, at every
	 * handshake, with log_arg. */
	int (*peer)(void *arg, uint64_t raft_id);
	/* Optional: mutual TLS with pinned keys on the raft port
	 * (lmd/transport.h); NULL keeps it plaintext.  Copied. */
	const struct lm_transport_tls *tls;
};

/* status is 0 once the command committed and was applied here (result is
 * what fsm->apply set, and now belongs to the callback), or
 * LMC_EINDOUBT (result NULL). */
typedef void (*lm_cluster_done_cb)(void *arg, int status, void *result);
/* ready: whether this node is now the leader and may serve (lm_cluster_ready). */
typedef void (*lm_cluster_change_cb)(void *arg, bool ready);
typedef void (*lm_cluster_close_cb)(void *arg);

struct lm_cluster;

/* Sets up the cluster on loop (nothing runs before lm_cluster_start).  The
 * configuration is copied; fsm must outlive the cluster.  The data directory
 * is created (one level, mode 0700) when missing.  On failure *out is NULL and
 * a sentence naming the cause is written into err. */
int lm_cluster_init(struct lm_cluster **out, uv_loop_t *loop, const struct lm_cluster_config *cfg,
                    struct lm_cluster_fsm *fsm, char *err, size_t errsize);

/* Loads the log and the last snapshot (fsm->restore runs inside this call;
 * a cluster of one also elects itself and replays its whole log here) and
 * starts taking part in elections.  The first start on a pristine data
 * directory bootstraps the configuration of all nodes, identical on every
 * node; later starts find it already there.  Once lm_cluster_init succeeded,
 * lm_cluster_close must be called even if this fails; lm_cluster_errmsg()
 * says why it failed. */
int lm_cluster_start(struct lm_cluster *c);

/* Proposes one command (any bytes, at most LM_CLUSTER_MAX_COMMAND; copied).
 * Returns 0, and cb will be called exactly once, later, from the loop; or a
 * negative code and cb will never be called: LMC_ENOTLEADER when this node is
 * not lm_cluster_ready() (ask lm_cluster_status() who leads), LMC_ETOOLARGE,
 * LMC_EINVAL, LMC_ENOMEM, LMC_ESHUTDOWN once closing. */
int lm_cluster_propose(struct lm_cluster *c, const void *cmd, size_t len, lm_cluster_done_cb cb,
                       void *arg);

/* Whether this node is the leader and its state machine has applied every
 * entry committed before its election (the post-election barrier), so that
 * it may answer from the state and propose. */
bool lm_cluster_ready(struct lm_cluster *c);

/* Sets the callback told when this node becomes ready, stops being ready, or
 * learns of another leader.  It is called from a loop check handle, outside
 * raft's own call stack, at most once per loop iteration; it may lag the
 * real state by an iteration, so use it for housekeeping (dropping leader-only
 * soft state), never for safety.  cb NULL removes it. */
void lm_cluster_on_change(struct lm_cluster *c, lm_cluster_change_cb cb, void *arg);

enum lm_cluster_role {
	LM_CLUSTER_UNAVAILABLE = 0, /* not started, or closing */
	LM_CLUSTER_FOLLOWER,
	LM_CLUSTER_CANDIDATE,
	LM_CLUSTER_LEADER,
};

/* What lmstat shows about the cluster. */
struct lm_cluster_status {
	int role;                /* enum lm_cluster_role */
	bool ready;              /* lm_cluster_ready() */
	unsigned id;             /* this node */
	unsigned nnodes;         /* voters in the static configuration */
	unsigned leader_id;      /* 0 while unknown (during an election) */
	char leader_address[64]; /* raft address of the leader, "" while unknown */
	uint64_t term;           /* current raft term */
	uint64_t commit_index;   /* highest entry known committed */
	uint64_t applied_index;  /* highest entry applied to the state machine */
	uint64_t last_index;     /* highest entry in the local log */
	/* Whether this node is a voter of the configuration it knows: false
	 * for a joining node that the leader has not added (or promoted) yet,
	 * and for one that was removed. */
	bool voter;
};
void lm_cluster_status(struct lm_cluster *c, struct lm_cluster_status *st);
/* One server of the configuration this node knows. */
struct lm_cluster_member {
	unsigned id;
	char address[64]; /* raft address */
	bool voter;       /* else a spare or standby, being added */
};
/* The configuration this node knows (the newest in its log, committed or
 * not): up to max members go to out; returns how many there are. */
int lm_cluster_members(struct lm_cluster *c, struct lm_cluster_member *out, int max);

/* "follower", "candidate", "leader", "unavailable". */
const char *lm_cluster_role_name(int role);
/* The last error of start or of a background step, "" if none. */
const char *lm_cluster_errmsg(struct lm_cluster *c);

/* Replaces voter old_id by a new voter new_id at new_address: adds it as a
 * spare, promotes it to voter once it caught up, then removes old_id (adding
 * first keeps the old voter counted while the new node catches up).  When
 * the new node takes over old_id's very address, raft cannot hold both, so
 * old_id is removed first.  The new node must be running with cfg.join set.  Only the leader can
 * do it (LMC_ENOTLEADER otherwise); steps already done are skipped, so a
 * failed replacement can be retried.  cb receives 0 or a negative code. */
int lm_cluster_replace(struct lm_cluster *c, unsigned old_id, unsigned new_id,
                       const char *new_address, void (*cb)(void *arg, int status), void *arg);

/* Stops taking part in the cluster and frees c; cb(arg) is called from the
 * loop once nothing of the cluster is left on it (raft_uv's last disk work
 * included, see "Closing" in cluster.c), so uv_loop_close() can succeed.
 * Proposals still in flight are called back first, with LMC_EINDOUBT
 * unless they were applied meanwhile.  Safe to call from any callback of this
 * module, once. */
void lm_cluster_close(struct lm_cluster *c, lm_cluster_close_cb cb, void *arg);

/* The raft version lmd was built with ("0.15.0"): 0.15 has no run-time
 * version query, so this is what pkg-config said at configure time. */
const char *lm_cluster_raft_version(void);

/* The envelope of a log entry, exposed for the tests.  raft 0.15 requires
 * every entry to be a multiple of 8 bytes (stack-notes.md §1.5), so a command
 * travels as a 16-byte header (magic, format version, real length) followed
 * by the command and zero padding.  lm_cluster_wrap() returns the envelope in
 * a raft_malloc()'d buffer of *size bytes, or NULL when out of memory or len
 * exceeds LM_CLUSTER_MAX_COMMAND;
 * lm_cluster_unwrap() returns 0 and points *cmd into buf, or LMC_EPROTO when
 * the envelope is malformed. */
void *lm_cluster_wrap(const void *cmd, size_t len, size_t *size);
int lm_cluster_unwrap(const void *buf, size_t size, const void **cmd, size_t *len);
/* raft_free() for the result of lm_cluster_wrap(). */
void lm_cluster_wrap_free(void *buf);

#endif
