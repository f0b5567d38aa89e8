/* The counters of /metrics (metrics.h). */
#include "config.h"

#include "lmd/metrics.h"

void lm_metrics_checkout(struct lm_metrics *m, int code, uint64_t latency_ns)
{
	static const double bounds[LM_METRICS_LATENCY_BUCKETS] = LM_METRICS_LATENCY_BOUNDS;
	if (code == 0)
		m->checkouts++;
	else if (code < 0 && code >= LMC_ERROR_MIN)
		m->denials[-code]++;
	double s = (double)latency_ns / 1e9;
	for (int i = 0; i < LM_METRICS_LATENCY_BUCKETS; i++)
		if (s <= bounds[i])
			m->latency_buckets[i]++;
	m->latency_buckets[LM_METRICS_LATENCY_BUCKETS]++;
	m->latency_count++;
	m->latency_sum_s += s;
}
