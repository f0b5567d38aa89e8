/* A latency histogram with a fixed footprint: log-linear buckets (32 per
 * power of two, so about 3% resolution) over microseconds, from 1 us to
 * well beyond an hour.  Recording is an increment; percentiles walk the
 * buckets once.  Histograms of several clients merge by adding counts. */
#ifndef LB_HIST_H
#define LB_HIST_H

#include <stdint.h>

#define LB_HIST_SUB     32 /* buckets per power of two */
#define LB_HIST_POWERS  36 /* 2^36 us is about 19 hours */
#define LB_HIST_BUCKETS (LB_HIST_SUB * (LB_HIST_POWERS + 1))

struct lb_hist {
	uint64_t counts[LB_HIST_BUCKETS];
	uint64_t total;
	uint64_t max_us;
};

void lb_hist_init(struct lb_hist *h);
void lb_hist_record(struct lb_hist *h, uint64_t us);
void lb_hist_merge(struct lb_hist *into, const struct lb_hist *from);
/* The latency below which a fraction q (0..1) of the samples fall, in
 * microseconds: the upper edge of the bucket holding that sample, so that
 * a percentile is never reported better than it was.  0 when empty. */
double lb_hist_quantile(const struct lb_hist *h, double q);

#endif
