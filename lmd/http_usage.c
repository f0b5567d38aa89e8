/* The dashboard's usage ring (http_usage.h). */
#include "config.h"

#include "lmd/http_usage.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lmd/pool.h"

#define MINUTE_US INT64_C(60000000)

void lm_http_usage_init(struct lm_http_usage *u)
{
	memset(u, 0, sizeof *u);
	for (size_t i = 0; i < LM_HTTP_USAGE_MINUTES; i++)
		u->minute[i] = -1;
	u->first_minute = INT64_MIN;
}

struct sample {
	struct lm_http_usage *u;
	size_t slot;
};

static struct lm_http_usage_feature *feature_named(struct lm_http_usage *u, const char *name)
{
	for (unsigned i = 0; i < u->nfeatures; i++)
		if (strcmp(u->features[i].name, name) == 0)
			return &u->features[i];
	if (u->nfeatures == LM_HTTP_USAGE_FEATURES) {
		u->more_features++;
		return NULL;
	}
	struct lm_http_usage_feature *f = &u->features[u->nfeatures++];
	snprintf(f->name, sizeof f->name, "%s", name);
	return f;
}

static int sample_feature(void *arg, const struct lm_pool_feature *pf)
{
	struct sample *s = arg;
	struct lm_http_usage_feature *f = feature_named(s->u, pf->name);
	if (f) {
		/* Versions of one feature add up; several samples of one
		 * minute keep the most. */
		f->in_use[s->slot] += pf->in_use;
		f->issued[s->slot] += pf->issued;
	}
	return 0;
}

void lm_http_usage_sample(struct lm_http_usage *u, struct lm_pool *pool, int64_t now_us)
{
	int64_t minute = now_us / MINUTE_US;
	size_t slot = (size_t)(minute % LM_HTTP_USAGE_MINUTES);
	/* This sample's sums, then kept where they beat the minute's. */
	uint32_t in_use[LM_HTTP_USAGE_FEATURES], issued[LM_HTTP_USAGE_FEATURES];
	bool fresh = u->minute[slot] != minute;
	for (unsigned i = 0; i < u->nfeatures; i++) {
		in_use[i] = fresh ? 0 : u->features[i].in_use[slot];
		issued[i] = fresh ? 0 : u->features[i].issued[slot];
		u->features[i].in_use[slot] = u->features[i].issued[slot] = 0;
	}
	struct sample s = {.u = u, .slot = slot};
	unsigned known = u->nfeatures;
	u->more_features = 0;
	lm_pool_each_feature(pool, (int32_t)(now_us / (1440 * MINUTE_US)), sample_feature, NULL,
	                     &s);
	for (unsigned i = 0; i < known; i++) {
		struct lm_http_usage_feature *f = &u->features[i];
		if (f->in_use[slot] < in_use[i])
			f->in_use[slot] = in_use[i];
		if (f->issued[slot] < issued[i])
			f->issued[slot] = issued[i];
	}
	u->minute[slot] = minute;
	if (u->first_minute == INT64_MIN)
		u->first_minute = minute;
}

static void points(struct lm_text *out, const struct lm_http_usage *u, const uint32_t *values,
                   int64_t from, int64_t to)
{
	lm_text_add(out, "[", 1);
	for (int64_t m = from; m <= to; m++) {
		size_t slot = (size_t)(m % LM_HTTP_USAGE_MINUTES);
		if (m > from)
			lm_text_add(out, ",", 1);
		if (u->minute[slot] == m)
			lm_text_printf(out, "%u", values[slot]);
		else
			lm_text_add(out, "null", 4);
	}
	lm_text_add(out, "]", 1);
}

void lm_http_usage_json(const struct lm_http_usage *u, int64_t now_us, struct lm_text *out)
{
	int64_t to = now_us / MINUTE_US, from = to - LM_HTTP_USAGE_MINUTES + 1;
	if (u->first_minute > from)
		from = u->first_minute;
	if (from > to)
		from = to;
	lm_text_printf(out,
	               "\"usage\":{\"step_s\":60,\"start\":%lld,\"more_features\":%u,"
	               "\"features\":[",
	               (long long)(from * 60), u->more_features);
	for (unsigned i = 0; i < u->nfeatures; i++) {
		const struct lm_http_usage_feature *f = &u->features[i];
		lm_text_printf(out, "%s{\"name\":", i ? "," : "");
		lm_text_json(out, f->name);
		lm_text_printf(out, ",\"in_use\":");
		points(out, u, f->in_use, from, to);
		lm_text_printf(out, ",\"issued\":");
		points(out, u, f->issued, from, to);
		lm_text_add(out, "}", 1);
	}
	lm_text_add(out, "]}", 2);
}
