/* The wall clock lmd stamps on commands: the only clock the pool reads
 * (pool.h), and one that never goes back. */
#ifndef LM_WALLTIME_H
#define LM_WALLTIME_H

#include <stdint.h>

/* Microseconds since 1970, never less than the last value returned.  In a
 * build with --enable-test-hooks, LM_TEST_CLOCK_SKEW_FILE names a file
 * holding seconds to add, so that a test can jump the clock. */
int64_t lm_walltime_us(void);

#endif
