/* The wall clock lmd stamps on commands: the only clock the pool reads
 * (pool.h), and one that never goes back. */
#ifndef LM_WALLTIME_H
#define LM_WALLTIME_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since 1970, never less than the last value returned.  In a
 * build with --enable-test-hooks, LM_TEST_CLOCK_SKEW_FILE names a file
 * holding seconds to add, so that a test can jump the clock. */
int64_t lm_walltime_us(void);

/* Records the time of a committed command (Command.time_us, the first
 * field of the entry's bytes), from whichever leader proposed it: the
 * highest one is the last committed time.  An entry without one is
 * ignored. */
void lm_walltime_committed(const void *entry, size_t len);
/* How far this machine's wall clock is behind the last committed time, in
 * microseconds (0 when it is not behind): a clock set back, on this server
 * or before it became the leader. */
int64_t lm_walltime_behind_us(void);

#endif
