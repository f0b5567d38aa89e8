#include "lmd/faults.h"

#ifdef LM_TEST_HOOKS
#include <stdlib.h>

bool lm_fault_alloc(void)
{
	static long every = -1, calls;
	if (every < 0) {
		const char *v = getenv("LM_TEST_FAIL_ALLOC");
		every = v ? strtol(v, NULL, 10) : 0;
	}
	return every > 0 && ++calls % every == 0;
}
#endif
