/* Failures on demand, for tests.  In a build configured with
 * --enable-test-hooks, the sites below ask lm_fault() before doing their
 * work, and act as if it had failed when it says so:
 *
 *   LM_FAULT_ALLOC        the allocation sites that call lm_fault_alloc()
 *                         (requests, replies, read buffers, proposals,
 *                         expiry) act as if malloc had failed;
 *   LM_FAULT_STORE_WRITE  the store's writes (lm_store_put, _del, _drop and
 *                         _commit) fail as a failed LMDB call does, with
 *                         EIO: the write transaction stays open for the
 *                         caller to abort, and a failed commit is aborted,
 *                         as LMDB does with a commit that fails;
 *   LM_FAULT_RAFT_WRITE   the leader's append of a proposed command to its
 *                         raft log fails as raft_uv's append does once its
 *                         writer failed (RAFT_IOERR): raft drops the entry
 *                         and lm_cluster_propose() returns LMC_EIO.
 *
 * In lmd, the environment arms them: LM_TEST_FAIL_ALLOC=N,
 * LM_TEST_FAIL_STORE_WRITE=N and LM_TEST_FAIL_RAFT_WRITE=N make every N-th
 * call of that kind fail.  A test then drives the failure paths with real
 * clients and checks that lmd answers with an error or closes a connection,
 * and never crashes or loses a seat.  Unit tests arm them with
 * lm_fault_set() to fail one chosen call.  Release builds always say
 * false. */
#ifndef LM_FAULTS_H
#define LM_FAULTS_H

#include <stdbool.h>

#include "config.h"

enum lm_fault { LM_FAULT_ALLOC, LM_FAULT_STORE_WRITE, LM_FAULT_RAFT_WRITE, LM_FAULT_COUNT };

#ifdef LM_TEST_HOOKS
/* Whether this call of a site of that kind must fail; counts the call. */
bool lm_fault(enum lm_fault kind);
/* From now on the nth call of kind fails, then every `every`-th call after
 * it (0: no more); nth 0 disarms kind.  Overrides the environment. */
void lm_fault_set(enum lm_fault kind, unsigned long nth, unsigned long every);
/* How many calls of kind failed since the last lm_fault_set(). */
unsigned long lm_fault_failures(enum lm_fault kind);
#else
static inline bool lm_fault(enum lm_fault kind)
{
	(void)kind;
	return false;
}
#endif

static inline bool lm_fault_alloc(void)
{
	return lm_fault(LM_FAULT_ALLOC);
}

#endif
