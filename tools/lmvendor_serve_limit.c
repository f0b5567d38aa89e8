/* lmvendor serve's rate limits (lmvendor_serve.h): a token bucket per
 * client, holding per_minute requests and refilled at per_minute a
 * minute, so that a client may burst a minute's worth and then keeps the
 * steady rate.
 *
 * The buckets live in a fixed table (LIMIT_CLIENTS): a flood from ever
 * new addresses must not grow the server's memory.  A new client takes
 * the slot of the one seen least recently; a client pushed out that way
 * comes back with a full bucket, which only ever errs towards allowing. */
#include "tools/lmvendor_serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_CLIENTS 4096
#define CLIENT_MAX    64

struct bucket {
	char client[CLIENT_MAX];
	double tokens;
	uint64_t seen_ms; /* the last refill; 0: a free slot */
};

struct serve_limit {
	double per_ms; /* the refill rate */
	double burst;
	struct bucket buckets[LIMIT_CLIENTS];
};

struct serve_limit *serve_limit_new(unsigned per_minute)
{
	struct serve_limit *limit = calloc(1, sizeof *limit);
	if (!limit)
		return NULL;
	limit->burst = per_minute;
	limit->per_ms = per_minute / 60000.0;
	return limit;
}

void serve_limit_free(struct serve_limit *limit)
{
	free(limit);
}

static struct bucket *find(struct serve_limit *limit, const char *client, uint64_t now_ms)
{
	struct bucket *oldest = &limit->buckets[0];
	for (size_t i = 0; i < LIMIT_CLIENTS; i++) {
		struct bucket *b = &limit->buckets[i];
		if (b->seen_ms && !strcmp(b->client, client))
			return b;
		if (b->seen_ms < oldest->seen_ms)
			oldest = b;
	}
	snprintf(oldest->client, sizeof oldest->client, "%s", client);
	oldest->tokens = limit->burst;
	oldest->seen_ms = now_ms ? now_ms : 1;
	return oldest;
}

unsigned serve_limit_take(struct serve_limit *limit, const char *client, uint64_t now_ms)
{
	struct bucket *b = find(limit, client, now_ms);
	if (now_ms > b->seen_ms) {
		b->tokens += (double)(now_ms - b->seen_ms) * limit->per_ms;
		if (b->tokens > limit->burst)
			b->tokens = limit->burst;
		b->seen_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	/* Rounded up: a client that waits as long as it is told succeeds. */
	double wait_ms = (1.0 - b->tokens) / limit->per_ms;
	unsigned seconds = (unsigned)((wait_ms + 999.0) / 1000.0);
	return seconds ? seconds : 1;
}
