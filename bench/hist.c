/* The latency histogram (see hist.h). */
#include "bench/hist.h"

#include <string.h>

void lb_hist_init(struct lb_hist *h)
{
	memset(h, 0, sizeof *h);
}

/* Values below LB_HIST_SUB get a bucket each; above, a value with its top
 * bit at position p (p >= 5) falls in power p - 4, split into LB_HIST_SUB
 * buckets by the five bits below the top one. */
static unsigned bucket_of(uint64_t v)
{
	if (v < LB_HIST_SUB)
		return (unsigned)v;
	unsigned p = 63 - (unsigned)__builtin_clzll(v);
	unsigned power = p - 4;
	if (power > LB_HIST_POWERS)
		return LB_HIST_BUCKETS - 1;
	unsigned sub = (unsigned)(v >> (p - 5)) & (LB_HIST_SUB - 1);
	return power * LB_HIST_SUB + sub;
}

/* One past the largest value of bucket b. */
static double upper_edge(unsigned b)
{
	if (b < LB_HIST_SUB)
		return b + 1;
	unsigned power = b / LB_HIST_SUB, sub = b % LB_HIST_SUB;
	unsigned p = power + 4;
	double unit = (double)((uint64_t)1 << (p - 5));
	return ((double)((uint64_t)1 << p)) + (sub + 1) * unit;
}

void lb_hist_record(struct lb_hist *h, uint64_t us)
{
	h->counts[bucket_of(us)]++;
	h->total++;
	if (us > h->max_us)
		h->max_us = us;
}

void lb_hist_merge(struct lb_hist *into, const struct lb_hist *from)
{
	for (unsigned i = 0; i < LB_HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	if (from->max_us > into->max_us)
		into->max_us = from->max_us;
}

double lb_hist_quantile(const struct lb_hist *h, double q)
{
	if (h->total == 0)
		return 0;
	/* The rank of the sample wanted, counting from 1. */
	uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < LB_HIST_BUCKETS; b++) {
		seen += h->counts[b];
		if (seen >= rank) {
			double edge = upper_edge(b);
			return edge < (double)h->max_us + 1 ? edge : (double)h->max_us + 1;
		}
	}
	return (double)h->max_us + 1;
}
