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
static int64_t raw_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#ifdef LM_TEST_HOOKS
	now += clock_skew_us();
#endif
	return now;
}

/* The highest Command.time_us committed, by any leader. */
static int64_t committed_max;

int64_t lm_walltime_us(void)
{
	static int64_t latest;
	int64_t now = raw_now_us();
	if (now < latest)
		now = latest;
	latest = now;
	return now;
}

/* protobuf-c writes fields in the order of their numbers, so a command's
 * time_us (field 1, a varint: tag byte 0x08) comes first when present.
 * The entry is our own, committed by raft, but it is read as carefully as
 * any input: a varint longer than 10 bytes or cut short is ignored. */
void lm_walltime_committed(const void *entry, size_t len)
{
	const uint8_t *b = entry;
	if (len < 2 || b[0] != 0x08)
		return;
	uint64_t v = 0;
	for (size_t i = 1; i < len && i <= 10; i++) {
		v |= (uint64_t)(b[i] & 0x7f) << (7 * (i - 1));
		if (!(b[i] & 0x80)) {
			if ((int64_t)v > committed_max)
				committed_max = (int64_t)v;
			return;
		}
	}
}

int64_t lm_walltime_behind_us(void)
{
	int64_t behind = committed_max - raw_now_us();
	return behind > 0 ? behind : 0;
}
