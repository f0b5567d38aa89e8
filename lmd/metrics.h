/* What lmd counts for /metrics (http.h): checkouts granted, denials by
 * reason and the checkout latency histogram.  The counters live in the
 * server (server.h) and are only touched on the event loop; the HTTP thread
 * never reads them, it reads the text lm_metrics_text() renders from them
 * (http.c). */
#ifndef LM_METRICS_H
#define LM_METRICS_H

#include <stdint.h>

#include "core/error.h"
#include "lmd/text.h"

/* The upper bounds of the latency buckets in seconds (a +Inf bucket
 * follows): from a loopback commit of one server (about a millisecond) to a
 * triad waiting out an election. */
#define LM_METRICS_LATENCY_BOUNDS                                                                  \
	{                                                                                          \
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10     \
	}
#define LM_METRICS_LATENCY_BUCKETS 14

struct lm_metrics {
	uint64_t checkouts; /* granted */
	/* Refusals of a checkout by the pool, by -code (LMC_E*). */
	uint64_t denials[-LMC_ERROR_MIN + 1];
	/* Checkout latency, request received to reply sent: cumulative per
	 * bucket as Prometheus wants them, the last one +Inf. */
	uint64_t latency_buckets[LM_METRICS_LATENCY_BUCKETS + 1];
	uint64_t latency_count;
	double latency_sum_s;
	int64_t started_unix_ms; /* set by the daemon at start */
};

/* A checkout answered with code (0: granted), latency_ns after it was
 * received. */
void lm_metrics_checkout(struct lm_metrics *m, int code, uint64_t latency_ns);

struct lm_server;
struct lm_pool;
struct lm_pool_feature;
/* The seats the RESERVE rules of the policy in force set aside in the pool
 * f, and how many of those are idle (no holder they name uses them), as
 * lmstat counts them (lm_pool_policy_reservations).  0 or LMC_ENOMEM. */
int lm_metrics_reserved(struct lm_pool *p, const struct lm_pool_feature *f, uint32_t *set_aside,
                        uint32_t *idle);
/* The Prometheus text exposition (format 0.0.4) of s: seats, sessions,
 * connections, the counters above, raft and license expiry
 * (metrics_text.c).  Appends to out; out->oom tells a failure. */
void lm_metrics_text(struct lm_server *s, struct lm_text *out);

#endif
