#include "lmd/faults.h"

#ifdef LM_TEST_HOOKS
#include <stdlib.h>

/* One countdown per kind: the call that brings it to 0 fails, and it starts
 * again from `every`.  Plain variables, as before: the sites run on the
 * loop's thread. */
struct fault {
	bool configured;         /* the environment was read, or lm_fault_set() ran */
	unsigned long countdown; /* 0: disarmed */
	unsigned long every;
	unsigned long failures;
};

static struct fault faults[LM_FAULT_COUNT];

static const char *const env_names[LM_FAULT_COUNT] = {
        [LM_FAULT_ALLOC] = "LM_TEST_FAIL_ALLOC",
        [LM_FAULT_STORE_WRITE] = "LM_TEST_FAIL_STORE_WRITE",
        [LM_FAULT_RAFT_WRITE] = "LM_TEST_FAIL_RAFT_WRITE",
};

void lm_fault_set(enum lm_fault kind, unsigned long nth, unsigned long every)
{
	struct fault *f = &faults[kind];
	f->configured = true; /* the environment is read no more */
	f->countdown = nth;
	f->every = every;
	f->failures = 0;
}

unsigned long lm_fault_failures(enum lm_fault kind)
{
	return faults[kind].failures;
}

bool lm_fault(enum lm_fault kind)
{
	struct fault *f = &faults[kind];
	if (!f->configured) {
		const char *v = getenv(env_names[kind]);
		long every = v ? strtol(v, NULL, 10) : 0;
		lm_fault_set(kind, every > 0 ? (unsigned long)every : 0,
		             every > 0 ? (unsigned long)every : 0);
	}
	if (f->countdown == 0 || --f->countdown > 0)
		return false;
	f->countdown = f->every;
	f->failures++;
	return true;
}
#endif
