/* A command's way through raft: the envelope it travels in, proposing it,
 * applying it once committed, and the snapshots of the state machine, all
 * around the caller's struct lm_cluster_fsm. */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/cluster_internal.h"
#include "lmd/faults.h"
#include "lmd/little_endian.h"

/* Entry envelope, little-endian:
 *   0  4  magic "lmdc"
 *   4  2  format version
 *   6  2  reserved, zero
 *   8  4  length of the command
 *  12  4  reserved, zero
 *  16     the command, then zeros up to a multiple of 8 */
#define ENTRY_MAGIC   "lmdc"
#define ENTRY_VERSION 1
#define ENTRY_HEADER  16
#define ENTRY_ALIGN   8

/* Snapshot envelope, little-endian:
 *   0  4  magic "lmds"
 *   4  2  format version
 *   6  2  reserved, zero
 *   8  8  index of the last entry the snapshot includes
 *  16  8  length of the state machine's snapshot
 *  24     the state machine's snapshot
 * raft does not tell restore() which index a snapshot stands for, so we keep
 * it in the snapshot itself. */
#define SNAPSHOT_MAGIC   "lmds"
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER  24

/* ---- The entry envelope ---- */

void *lm_cluster_wrap(const void *cmd, size_t len, size_t *size)
{
	if (len > LM_CLUSTER_MAX_COMMAND)
		return NULL;
	size_t padded = (len + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN;
	uint8_t *buf = raft_malloc(ENTRY_HEADER + padded);
	if (buf == NULL)
		return NULL;
	memset(buf, 0, ENTRY_HEADER);
	memcpy(buf, ENTRY_MAGIC, 4);
	lm_le_put(buf + 4, ENTRY_VERSION, 2);
	lm_le_put(buf + 8, len, 4);
	if (len > 0)
		memcpy(buf + ENTRY_HEADER, cmd, len);
	memset(buf + ENTRY_HEADER + len, 0, padded - len);
	*size = ENTRY_HEADER + padded;
	return buf;
}

void lm_cluster_wrap_free(void *buf)
{
	raft_free(buf);
}

int lm_cluster_unwrap(const void *buf, size_t size, const void **cmd, size_t *len)
{
	const uint8_t *p = buf;
	if (size < ENTRY_HEADER || size % ENTRY_ALIGN != 0)
		return LMC_EPROTO;
	if (memcmp(p, ENTRY_MAGIC, 4) != 0 || lm_le_get(p + 4, 2) != ENTRY_VERSION ||
	    lm_le_get(p + 6, 2) != 0 || lm_le_get(p + 12, 4) != 0)
		return LMC_EPROTO;
	uint64_t n = lm_le_get(p + 8, 4);
	/* The size must be exactly the padded length: anything else means the
	 * entry was cut or glued to another one. */
	if (n > LM_CLUSTER_MAX_COMMAND ||
	    size != ENTRY_HEADER + (n + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN)
		return LMC_EPROTO;
	for (size_t i = ENTRY_HEADER + n; i < size; i++)
		if (p[i] != 0)
			return LMC_EPROTO;
	*cmd = p + ENTRY_HEADER;
	*len = n;
	return 0;
}
/* ---- The raft FSM: our envelopes around the caller's state machine ---- */

void lm_cluster_drop_result(struct lm_cluster *c)
{
	free(c->result);
	c->result = NULL;
}

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
	struct lm_cluster *c = f->data;
	/* raft 0.15 bumps last_applied right after each entry it applies
	 * (replicationApply), so this is the index of the entry in hand. */
	uint64_t index = raft_last_applied(&c->raft) + 1;
	const void *cmd;
	size_t len;

	assert(index > c->applied_seen);
	c->applied_seen = index;
	/* A broken invariant of the replicated log: the only safe reaction
	 * is to stop this replica before it diverges from the others
	 * (STYLE.md, habit 4). */
	if (lm_cluster_unwrap(buf->base, buf->len, &cmd, &len) != 0)
		lm_fatal("cluster: raft entry %llu (%zu bytes) is not an lmd command: the raft log "
		         "in %s is corrupt",
		         (unsigned long long)index, buf->len, c->dir);

	/* Nobody claimed the previous result: it was applied on a node that
	 * did not propose it, or its proposal was already failed. */
	lm_cluster_drop_result(c);
	void *res = NULL;
	int rv = c->fsm->apply(c->fsm->data, index, cmd, len, &res);
	if (rv != 0) {
		/* Returning rv to raft would make it retry this entry forever
		 * without applying anything after it (stack-notes.md §1.6). */
		free(res);
		lm_fatal("cluster: applying raft entry %llu failed (%s): this replica cannot go "
		         "on; restart it to replay the log",
		         (unsigned long long)index, lmc_strerror(rv));
	}
	c->result = res;
	c->result_index = index;
	*result = res;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n)
{
	struct lm_cluster *c = f->data;
	void *state = NULL;
	size_t len = 0;

	int rv = c->fsm->snapshot(c->fsm->data, &state, &len);
	if (rv != 0) {
		lm_cluster_seterr(c, "snapshot: %s", lmc_strerror(rv));
		free(state);
		/* Not fatal: the log keeps growing and raft tries again at the
		 * next threshold. */
		return RAFT_IOERR;
	}
	struct raft_buffer *b = raft_malloc(sizeof *b);
	uint8_t *p = raft_malloc(SNAPSHOT_HEADER + len);
	if (b == NULL || p == NULL) {
		raft_free(b);
		raft_free(p);
		free(state);
		return RAFT_NOMEM;
	}
	memset(p, 0, SNAPSHOT_HEADER);
	memcpy(p, SNAPSHOT_MAGIC, 4);
	lm_le_put(p + 4, SNAPSHOT_VERSION, 2);
	/* raft 0.15 snapshots at last_applied (takeSnapshot). */
	lm_le_put(p + 8, raft_last_applied(&c->raft), 8);
	lm_le_put(p + 16, len, 8);
	if (len > 0)
		memcpy(p + SNAPSHOT_HEADER, state, len);
	free(state);
	b->base = p;
	b->len = SNAPSHOT_HEADER + len;
	/* With FSM version 1 raft frees both with raft_free (snapshotClose). */
	*bufs = b;
	*n = 1;
	return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
	struct lm_cluster *c = f->data;
	const uint8_t *p = buf->base;

	if (buf->len < SNAPSHOT_HEADER || memcmp(p, SNAPSHOT_MAGIC, 4) != 0 ||
	    lm_le_get(p + 4, 2) != SNAPSHOT_VERSION || lm_le_get(p + 6, 2) != 0 ||
	    lm_le_get(p + 16, 8) != buf->len - SNAPSHOT_HEADER ||
	    buf->len - SNAPSHOT_HEADER > LM_CLUSTER_MAX_SNAPSHOT) {
		lm_cluster_seterr(c, "restore: a %zu-byte snapshot is not an lmd snapshot envelope",
		                  buf->len);
		return RAFT_MALFORMED; /* raft frees buf */
	}
	uint64_t index = lm_le_get(p + 8, 8);
	int rv = c->fsm->restore(c->fsm->data, index, p + SNAPSHOT_HEADER,
	                         buf->len - SNAPSHOT_HEADER);
	if (rv != 0) {
		lm_cluster_seterr(c, "restore of the snapshot at index %llu: %s",
		                  (unsigned long long)index, lmc_strerror(rv));
		return RAFT_IOERR; /* raft frees buf */
	}
	lm_cluster_drop_result(c);
	c->applied_seen = index;
	/* On success the buffer is ours (snapshotRestore in raft 0.15). */
	raft_free(buf->base);
	return 0;
}

void lm_cluster_fsm_setup(struct lm_cluster *c)
{
	/* Version 1: synchronous snapshots whose buffers raft frees.  Version
	 * 3 (async) is refused with raft_uv in 0.15 (stack-notes.md §1.6). */
	c->raft_fsm.version = 1;
	c->raft_fsm.data = c;
	c->raft_fsm.apply = fsm_apply;
	c->raft_fsm.snapshot = fsm_snapshot;
	c->raft_fsm.restore = fsm_restore;
}

/* ---- Proposals ---- */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *p = req->data;
	struct lm_cluster *c = p->c;

	assert(c->pending > 0);
	c->pending--;
	if (status == 0) {
		/* raft calls us right after fsm_apply() of this very entry, so
		 * the result is still the one we keep; from here on it is the
		 * proposer's. */
		assert(result == NULL || (result == c->result && c->result_index == req->index));
		if (result != NULL)
			c->result = NULL;
		p->cb(p->arg, 0, result);
	} else {
		/* RAFT_LEADERSHIPLOST, or RAFT_SHUTDOWN, or a failed disk write
		 * on the leader: in each case the entry may already sit in a
		 * majority of logs and commit under the next leader
		 * (stack-notes.md §1.5), so we cannot say it failed. */
		p->cb(p->arg, LMC_EINDOUBT, NULL);
	}
	free(p);
}

int lm_cluster_propose(struct lm_cluster *c, const void *cmd, size_t len, lm_cluster_done_cb cb,
                       void *arg)
{
	struct raft_buffer buf;
	struct proposal *p;
	int rv;

	if (c->closing)
		return LMC_ESHUTDOWN;
	if (cb == NULL || (cmd == NULL && len > 0))
		return LMC_EINVAL;
	if (len > LM_CLUSTER_MAX_COMMAND)
		return LMC_ETOOLARGE;
	/* A leader before its barrier could decide from a stale state. */
	if (!lm_cluster_ready(c))
		return LMC_ENOTLEADER;
	p = malloc(sizeof *p);
	if (p == NULL)
		return LMC_ENOMEM;
	buf.base = lm_cluster_wrap(cmd, len, &buf.len);
	if (buf.base == NULL) {
		free(p);
		return LMC_ENOMEM;
	}
	p->req.data = p;
	p->c = c;
	p->cb = cb;
	p->arg = arg;
	/* Exactly one buffer: with several, raft 0.15 calls back after the
	 * first entry only (stack-notes.md §1.5). */
	rv = raft_apply(&c->raft, &p->req, &buf, 1, apply_cb);
	if (rv != 0) {
		/* The buffer is still ours when raft_apply() fails. */
		raft_free(buf.base);
		free(p);
		switch (rv) {
		case RAFT_NOTLEADER:
		case RAFT_LEADERSHIPLOST: return LMC_ENOTLEADER;
		case RAFT_NOMEM: return LMC_ENOMEM;
		case RAFT_SHUTDOWN: return LMC_ESHUTDOWN;
		case RAFT_TOOBIG: return LMC_ETOOLARGE;
		default: lm_cluster_seterr(c, "propose: %s", raft_strerror(rv)); return LMC_EIO;
		}
	}
	c->pending++;
	return 0;
}

#ifdef LM_TEST_HOOKS
/* LM_FAULT_RAFT_WRITE: the leader's append of one proposed command fails
 * the way raft_uv's does once its writer has failed, by returning
 * RAFT_IOERR before anything is written.  raft_apply() then drops the entry
 * from its log and fails (appendLeader() in raft 0.15), so the proposal
 * fails at once with nothing committed and nothing left in raft's log.
 * Other appends (barriers, configurations, a follower's) are left alone:
 * their failures take other paths through raft, which the hook does not
 * claim to reproduce. */
int lm_cluster_fault_append(struct raft_io *io, struct raft_io_append *req,
                            const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
	struct lm_cluster *c = lm_cluster_of_io(io);

	if (n == 1 && entries[0].type == RAFT_COMMAND && raft_state(&c->raft) == RAFT_LEADER &&
	    lm_fault(LM_FAULT_RAFT_WRITE)) {
		snprintf(io->errmsg, sizeof io->errmsg, "raft log write failed (test hook)");
		return RAFT_IOERR;
	}
	return c->uv_io_append(io, req, entries, n, cb);
}
#endif
