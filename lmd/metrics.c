/* The counters of /metrics (metrics.h). */
#include "config.h"

#include "lmd/metrics.h"

#include "core/options.h"
#include "lmd/pool.h"

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

/* Each RESERVE rule in file order takes min(its count, what is left of the
 * issued seats), as lm_options_decide() charges them (core/options.h,
 * step 4). */
uint32_t lm_metrics_reserved(const struct lm_options *o, const struct lm_pool_feature *f)
{
	uint32_t left = f->issued;
	for (size_t i = 0; o && i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw != LM_OPT_RESERVE || !lm_opt_rule_applies(r, f->name, f->version))
			continue;
		left -= r->number < left ? r->number : left;
	}
	return f->issued - left;
}
