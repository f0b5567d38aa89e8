/* The dashboard's usage chart (dashboard.html): the seats in use and issued
 * per feature over the last LM_HTTP_USAGE_MINUTES minutes, one point a
 * minute, in /status.json's "usage".
 *
 * Fed on the event loop from the pool, whose counts are the applied
 * commands the report log records: every LM_HTTP_USAGE_SAMPLE_MS the
 * minute's point keeps the most seats seen in use (a checkout and its
 * checkin within one sample are not seen: the report log and `lmutil
 * report --chart` have every record).  In memory only: after a restart the
 * chart starts again from then. */
#ifndef LM_HTTP_USAGE_H
#define LM_HTTP_USAGE_H

#include <stdint.h>

#include "core/limits.h"
#include "lmd/text.h"

#define LM_HTTP_USAGE_MINUTES   360 /* six hours */
#define LM_HTTP_USAGE_FEATURES  32  /* features charted; the rest are counted */
#define LM_HTTP_USAGE_SAMPLE_MS 2000

struct lm_pool;

struct lm_http_usage_feature {
	char name[LM_NAME_MAX + 1];
	uint32_t in_use[LM_HTTP_USAGE_MINUTES], issued[LM_HTTP_USAGE_MINUTES];
};

struct lm_http_usage {
	/* The minute (Unix minutes) each slot of the ring holds; slot
	 * minute % LM_HTTP_USAGE_MINUTES.  -1: never filled. */
	int64_t minute[LM_HTTP_USAGE_MINUTES];
	int64_t first_minute; /* of the first sample; INT64_MIN: none yet */
	struct lm_http_usage_feature features[LM_HTTP_USAGE_FEATURES];
	unsigned nfeatures, more_features;
};

void lm_http_usage_init(struct lm_http_usage *u);
/* Samples the pool's features (summed over their versions) at now_us. */
void lm_http_usage_sample(struct lm_http_usage *u, struct lm_pool *pool, int64_t now_us);
/* Appends "usage":{...} (no comma): "step_s", "start" (the Unix time of
 * the first point), and per feature its "in_use" and "issued" points,
 * oldest first, null where lmd was not sampling. */
void lm_http_usage_json(const struct lm_http_usage *u, int64_t now_us, struct lm_text *out);

#endif
