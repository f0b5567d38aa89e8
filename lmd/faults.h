/* Allocation failures on demand, for tests: in a build configured with
 * --enable-test-hooks, LM_TEST_FAIL_ALLOC=N makes every N-th call of
 * lm_fault_alloc() return true, and the allocation sites that ask it act as
 * if malloc had failed.  A test then drives lmd's out-of-memory paths with
 * real clients and checks that it answers LMC_ENOMEM or closes a connection,
 * and never crashes or loses a seat.  Release builds always say false. */
#ifndef LM_FAULTS_H
#define LM_FAULTS_H

#include <stdbool.h>

#include "config.h"

#ifdef LM_TEST_HOOKS
bool lm_fault_alloc(void);
#else
static inline bool lm_fault_alloc(void)
{
	return false;
}
#endif

#endif
