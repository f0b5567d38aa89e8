/* What the files of the cluster (lmd/cluster*.c) share: the cluster object
 * and the functions one file calls in another.  Private to those files.
 *
 *   cluster.c             setting a node up and starting it, the
 *                         post-election barrier and the leadership watch,
 *                         status
 *   cluster_config.c      checking a configuration before anything starts
 *   cluster_fsm.c         a command's way through raft: the entry and
 *                         snapshot envelopes, proposals, and the raft FSM
 *                         around the caller's state machine
 *   cluster_membership.c  replacing a server (lm_cluster_replace)
 *   cluster_close.c       closing, around raft issue #341
 *
 * Written against the raft 0.15 API that Debian ships, keeping clear of the
 * traps research/stack-notes.md §1 lists for it:
 *
 *  - every entry is a multiple of 8 bytes, or 0.15 mis-decodes it after a
 *    restart or on a follower (§1.5): commands travel in an envelope that
 *    records their real length and is zero-padded;
 *  - one buffer per raft_apply(), or the callback fires for the first entry
 *    of the batch only (§1.5);
 *  - the raft FSM's apply never fails for business reasons, or raft retries
 *    the same entry forever (§1.6);
 *  - 0.15 appends no entry when a node wins an election, so the new leader's
 *    state machine may lag entries committed by its predecessor: we issue a
 *    barrier and call the node ready only once it has been applied (§1.7);
 *  - RAFT_LEADERSHIPLOST means the outcome is unknown, the entry may still
 *    commit (§1.5): proposers hear LMC_EINDOUBT;
 *  - 0.15 has no state-change callback (§1.7): a check handle compares the
 *    role after every loop iteration;
 *  - the stock TCP transport trusts the handshake it reads (a heap overflow
 *    in 0.15) and carries no cluster identity: raft_uv runs on lmd's own
 *    transport instead (transport.h).
 *
 * Code that reaches into struct raft reads only fields that keep their names
 * in raft 0.16 to 0.18 (current_term, commit_index, configuration), so that
 * the module builds unchanged against a newer raft. */
#ifndef LM_CLUSTER_INTERNAL_H
#define LM_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>

#include "lmd/cluster.h"
#include "lmd/transport.h"

#define LM_CLUSTER_DEFAULT_HEARTBEAT_MS 100
#define LM_CLUSTER_DEFAULT_ELECTION_MS  1000
/* Every snapshot stops this node's loop for 30-50 ms: raft_uv closes the
 * open log segment, and closing its writer calls io_destroy() on the loop
 * thread, which the kernel is slow to return from (seen with strace under
 * bench/run; raft 0.15).  Every 1024 entries that halved lmd's checkout
 * throughput and put the stall in the p99 at any load; every 8192 it costs
 * a few percent.  The price is memory and replay: up to threshold +
 * trailing entries (16384 of 100-300 bytes, a few MB) stay in memory, and
 * a restart re-applies up to 8192 entries (under 100 ms here).  Trailing
 * stays >= threshold (stack-notes.md §1.9). */
#define LM_CLUSTER_DEFAULT_SNAPSHOT_THRESHOLD  8192
#define LM_CLUSTER_DEFAULT_SNAPSHOT_TRAILING   8192
#define LM_CLUSTER_DEFAULT_INSTALL_SNAPSHOT_MS 5000
_Static_assert(LM_CLUSTER_ADDRESS_MAX == LM_TRANSPORT_ADDRESS_MAX, "one bound on raft addresses");
/* One proposal in flight: raft keeps req until it calls apply_cb. */
struct proposal {
	struct raft_apply req;
	struct lm_cluster *c;
	lm_cluster_done_cb cb;
	void *arg;
};

/* A replacement in progress.  Its steps are not counted but read from the
 * current configuration each time (see lm_cluster_replace_step), so that a retried
 * replacement skips what is done. */
struct replace {
	struct raft_change req;
	struct lm_cluster *c;
	bool inflight; /* raft holds req */
	bool added;    /* the new server was in the configuration at some point */
	unsigned old_id, new_id;
	char address[LM_CLUSTER_ADDRESS_MAX + 1];
	void (*cb)(void *arg, int status);
	void *arg;
};

struct lm_cluster {
	uv_loop_t *loop;
	struct lm_cluster_fsm *fsm;
	unsigned id, nnodes;
	bool join;
	char addresses[LM_CLUSTER_MAX_NODES][LM_CLUSTER_ADDRESS_MAX + 1];
	char address[LM_CLUSTER_ADDRESS_MAX + 1];
	char *dir;

	/* raft's objects, in the order they are set up (stack-notes.md §1.2). */
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm raft_fsm;
	struct raft raft;

	bool started, closing;
	uv_check_t watch; /* role changes, barrier, notifications */
	uv_timer_t defer; /* runs raft_close(), then reaps raft_uv */
	unsigned open_handles;

	/* Closing around raft issue #341 (see cluster_close.c). */
	void (*uv_io_close)(struct raft_io *io, raft_io_close_cb cb);
	/* raft_uv's append, when a test hook goes in front of it. */
	int (*uv_io_append)(struct raft_io *io, struct raft_io_append *req,
	                    const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);
	raft_io_close_cb raft_io_close_cb;
	unsigned io_close_calls, reap_calls, reap_quiet;
	uint64_t reap_deadline;
	bool leak;

	/* The post-election barrier: ready_term is the term in which this node
	 * led and had applied everything committed before it won. */
	struct raft_barrier barrier;
	bool barrier_inflight;
	uint64_t barrier_term, ready_term;

	lm_cluster_change_cb change_cb;
	void *change_arg;
	bool told_ready;
	raft_id told_leader;

	/* What fsm->apply returned for the entry applied last, until its
	 * proposer's callback takes it (raft calls it right after the apply
	 * on the proposing node) or until we free it. */
	void *result;
	uint64_t result_index, applied_seen;
	unsigned pending; /* proposals raft still holds */

	struct replace *replace;

	lm_cluster_close_cb close_cb;
	void *close_arg;
	char errmsg[256];
};

/* cluster.c */
/* Keeps a sentence for lm_cluster_errmsg(). */
void lm_cluster_seterr(struct lm_cluster *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* cluster_config.c */
int lm_cluster_check_config(const struct lm_cluster_config *cfg, const struct lm_cluster_fsm *fsm,
                            char *err, size_t errsize);
/* what names the address in the message: "server 2", "new server". */
int lm_cluster_check_address(const char *what, const char *a, char *err, size_t errsize);
int lm_cluster_make_dir(const char *dir, char *err, size_t errsize);

/* cluster_fsm.c */
/* Fills c->raft_fsm, for raft_init(). */
void lm_cluster_fsm_setup(struct lm_cluster *c);
/* Frees the result of the entry applied last, if nobody claimed it. */
void lm_cluster_drop_result(struct lm_cluster *c);
/* Goes between raft and raft_uv's append in builds with test hooks
 * (LM_FAULT_RAFT_WRITE in lmd/faults.h). */
int lm_cluster_fault_append(struct raft_io *io, struct raft_io_append *req,
                            const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);

/* cluster_membership.c */
const struct raft_server *lm_cluster_find_server(struct lm_cluster *c, unsigned id);
/* Runs the next step of c->replace (from the watch). */
void lm_cluster_replace_step(struct lm_cluster *c);
/* Ends c->replace and calls its callback with status. */
void lm_cluster_replace_finish(struct lm_cluster *c, int status);

/* cluster_close.c */
/* Goes between raft and raft_uv's close. */
void lm_cluster_io_close(struct raft_io *io, raft_io_close_cb cb);

static inline struct lm_cluster *lm_cluster_of_io(struct raft_io *io)
{
	return (struct lm_cluster *)(void *)((char *)io - offsetof(struct lm_cluster, io));
}

#endif
