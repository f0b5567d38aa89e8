/* The wall clock of commands (walltime.h). */
#include "config.h"

#include "lmd/walltime.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef LM_TEST_HOOKS
/* Test builds only: seconds added to the wall clock, read from the file
 * LM_TEST_CLOCK_SKEW_FILE names (at most every 100 ms), so that a test can
 * jump the leader's clock without root or a time namespace. */
static int64_t clock_skew_us(void)
{
	static int64_t skew, read_at;
	const char *path = getenv("LM_TEST_CLOCK_SKEW_FILE");
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t now = (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
	if (path && now - read_at >= 100) {
		read_at = now;
		FILE *f = fopen(path, "r");
		long long seconds = 0;
		if (f && fscanf(f, "%lld", &seconds) == 1)
			skew = seconds * 1000000;
		if (f)
			fclose(f);
	}
	return skew;
}
#endif

/* The wall clock only ever moves forward here: commands carry this time
 * and the pool judges license dates by it, so a clock set back (by hand,
 * by a bad NTP step) must not make an expired license valid again.  Leases
 * and session expiry use the monotonic clock (uv_now) and ignore it. */
int64_t lm_walltime_us(void)
{
	static int64_t latest;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#ifdef LM_TEST_HOOKS
	now += clock_skew_us();
#endif
	if (now < latest)
		now = latest;
	latest = now;
	return now;
}
