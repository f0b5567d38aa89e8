/* lmutil report's summary (lmutil_report.h): one pass over the records.
 *
 * Each feature has a level, the seats in use, which checkouts raise and
 * returns (checkin, expired, abandoned, removed, timeout) lower.  Between two
 * records the level holds, so each period's row gets level x duration
 * (its seat-microseconds, hence the average) and the highest level seen
 * (the peak).  Handles are followed from checkout to return for the use
 * per user.  A log that starts while seats are held (a log enabled late, a
 * gap) returns seats it never saw taken: those returns count for their
 * user from the record's "since" but never take a level below zero.
 *
 * The same levels feed the charts' trace (lmutil_report.h): each span of
 * a level is also spread over the trace's buckets. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/lmutil_report.h"
#include "tools/lmutil_report_index.h"
#include "tools/lmutil_report_record.h"

struct held {
	uint32_t feature, user, count;
	int64_t since_us;
};

struct lm_usage_private {
	struct lm_name_index features, users;
	struct lm_key_index pairs;   /* user << 32 | feature -> per_user index */
	struct lm_key_index handles; /* handle -> held index */
	struct held *held;
	size_t nheld, held_cap;
	uint64_t *free_held; /* indexes of held free for reuse */
	size_t nfree, free_cap;
};

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

#define HOUR_US INT64_C(3600000000)
#define DAY_US  (24 * HOUR_US)

/* The period of by that holds t: [*start, *end). */
static void period(enum lm_usage_period by, int64_t t, int64_t *start, int64_t *end)
{
	int64_t unit = by == LM_BY_HOUR ? HOUR_US : DAY_US;
	if (by == LM_BY_ALL) {
		*start = INT64_MIN;
		*end = INT64_MAX;
		return;
	}
	int64_t s = t / unit - (t % unit < 0);
	if (by != LM_BY_MONTH) {
		*start = s * unit;
		*end = *start + unit;
		return;
	}
	/* The first day of t's month, from the civil calendar. */
	time_t secs = (time_t)(s * 86400);
	struct tm tm;
	gmtime_r(&secs, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*start = (int64_t)timegm(&tm) * 1000000;
	tm.tm_mon++;
	*end = (int64_t)timegm(&tm) * 1000000;
}

static void out_of_memory(void)
{
	fprintf(stderr, "lmutil report: out of memory\n");
	exit(2);
}

static struct lm_trace_bucket *trace_row(struct lm_usage *u, uint32_t f)
{
	return &u->trace.buckets[(size_t)f * LM_TRACE_BUCKETS];
}

/* Doubles the buckets' width: bucket i becomes buckets 2i and 2i+1. */
static void trace_widen(struct lm_usage *u)
{
	struct lm_usage_trace *tr = &u->trace;
	for (size_t f = 0; f < u->nfeatures; f++) {
		struct lm_trace_bucket *b = trace_row(u, (uint32_t)f);
		for (size_t i = 0; i < LM_TRACE_BUCKETS / 2; i++) {
			struct lm_trace_bucket x = b[2 * i], y = b[2 * i + 1];
			b[i] = (struct lm_trace_bucket){
			        .peak = x.peak > y.peak ? x.peak : y.peak,
			        .issued = x.issued > y.issued ? x.issued : y.issued,
			        .seat_us = x.seat_us + y.seat_us,
			};
		}
		memset(b + LM_TRACE_BUCKETS / 2, 0, LM_TRACE_BUCKETS / 2 * sizeof *b);
	}
	tr->width_us *= 2;
	tr->nbuckets = (tr->nbuckets + 1) / 2;
}

/* The bucket holding t, widening the buckets until one does; a time
 * before the first (a clock stepped back) counts in the first. */
static size_t trace_index(struct lm_usage *u, int64_t t)
{
	struct lm_usage_trace *tr = &u->trace;
	if (tr->nbuckets == 0) {
		tr->width_us = LM_TRACE_WIDTH_MIN;
		tr->origin_us =
		        t / tr->width_us * tr->width_us - (t % tr->width_us < 0) * tr->width_us;
		tr->nbuckets = 1;
	}
	if (t < tr->origin_us)
		return 0;
	while ((t - tr->origin_us) / tr->width_us >= LM_TRACE_BUCKETS)
		trace_widen(u);
	size_t i = (size_t)((t - tr->origin_us) / tr->width_us);
	if (i >= tr->nbuckets)
		tr->nbuckets = i + 1;
	return i;
}

/* Feature f held level seats, of issued, over [lo, hi). */
static void trace_span(struct lm_usage *u, uint32_t f, int64_t lo, int64_t hi, uint32_t level,
                       uint32_t issued)
{
	while (lo < hi) {
		size_t i = trace_index(u, lo);
		int64_t end = u->trace.origin_us + (int64_t)(i + 1) * u->trace.width_us;
		if (end <= lo)
			end = hi; /* before the first bucket */
		end = min64(end, hi);
		struct lm_trace_bucket *b = &trace_row(u, f)[i];
		b->seat_us += (double)level * (double)(end - lo);
		if (level > b->peak)
			b->peak = level;
		if (issued > b->issued)
			b->issued = issued;
		lo = end;
	}
}

/* Feature f's level or issued seats changed at t. */
static void trace_mark(struct lm_usage *u, uint32_t f, int64_t t)
{
	const struct lm_usage_feature *feat = &u->features[f];
	struct lm_trace_bucket *b = &trace_row(u, f)[trace_index(u, t)];
	if (feat->in_use > b->peak)
		b->peak = feat->in_use;
	if (feat->issued > b->issued)
		b->issued = feat->issued;
}

/* Log times far apart (a corrupt year) must not cost gigabytes of days. */
#define TRACE_DAYS_MAX (100 * 366)

static struct lm_trace_day *trace_day(struct lm_usage *u, int64_t t)
{
	struct lm_usage_trace *tr = &u->trace;
	int64_t day = t / DAY_US - (t % DAY_US < 0);
	if (tr->ndays == 0)
		tr->first_day = day;
	int64_t lo = day < tr->first_day ? day : tr->first_day;
	int64_t hi = day >= tr->first_day + (int64_t)tr->ndays ? day + 1
	                                                       : tr->first_day + (int64_t)tr->ndays;
	if (hi - lo > TRACE_DAYS_MAX)
		return NULL;
	if (lo != tr->first_day || hi - lo != (int64_t)tr->ndays) {
		size_t n = (size_t)(hi - lo), shift = (size_t)(tr->first_day - lo);
		struct lm_trace_day *days = realloc(tr->days, n * sizeof *days);
		if (!days)
			out_of_memory();
		memmove(days + shift, days, tr->ndays * sizeof *days);
		memset(days, 0, shift * sizeof *days);
		memset(days + shift + tr->ndays, 0, (n - shift - tr->ndays) * sizeof *days);
		tr->days = days;
		tr->first_day = lo;
		tr->ndays = n;
	}
	return &tr->days[day - tr->first_day];
}

/* The row of feature f for the period holding t (made if new). */
static struct lm_usage_row *row_at(struct lm_usage *u, uint32_t f, int64_t t)
{
	struct lm_usage_feature *feat = &u->features[f];
	if (feat->row != SIZE_MAX) {
		struct lm_usage_row *r = &u->rows[feat->row];
		if (t >= r->start_us && t < r->end_us)
			return r;
	}
	if (u->nrows == u->rows_cap) {
		size_t cap = u->rows_cap ? 2 * u->rows_cap : 256;
		struct lm_usage_row *rows = realloc(u->rows, cap * sizeof *rows);
		if (!rows)
			out_of_memory();
		u->rows = rows;
		u->rows_cap = cap;
	}
	struct lm_usage_row *r = &u->rows[u->nrows];
	*r = (struct lm_usage_row){.feature = f, .peak = feat->in_use, .issued = feat->issued};
	period(u->q.by, t, &r->start_us, &r->end_us);
	feat->row = u->nrows++;
	return r;
}

static bool in_range(const struct lm_usage *u, int64_t t)
{
	return t >= u->q.from_us && t < u->q.to_us;
}

/* Moves feature f's level accounting on to time t. */
static void advance(struct lm_usage *u, uint32_t f, int64_t t)
{
	struct lm_usage_feature *feat = &u->features[f];
	int64_t lo = max64(feat->since_us, u->q.from_us), hi = min64(t, u->q.to_us);
	trace_span(u, f, lo, hi, feat->in_use, feat->issued);
	while (lo < hi) {
		struct lm_usage_row *r = row_at(u, f, lo);
		int64_t end = min64(r->end_us, hi);
		r->seat_us += (double)feat->in_use * (double)(end - lo);
		if (feat->in_use > r->peak)
			r->peak = feat->in_use;
		lo = end;
	}
	feat->since_us = max64(feat->since_us, t);
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? 2 * *cap : 64;
	void *q = realloc(p, c * size);
	if (!q) {
		fprintf(stderr, "lmutil report: out of memory\n");
		exit(2);
	}
	*cap = c;
	return q;
}

static uint32_t feature_of(struct lm_usage *u, const char *name, size_t len, int64_t t)
{
	uint32_t f;
	if (lm_name_index_get(&u->priv->features, name, len, &f))
		return f;
	u->features = realloc(u->features, (u->nfeatures + 1) * sizeof *u->features);
	char *copy = strndup(name, len);
	if (!u->features || !copy || lm_name_index_put(&u->priv->features, copy, u->nfeatures)) {
		fprintf(stderr, "lmutil report: out of memory\n");
		exit(2);
	}
	u->features[u->nfeatures] = (struct lm_usage_feature){
	        .name = copy, .expiry_days = INT32_MAX, .since_us = t, .row = SIZE_MAX};
	struct lm_trace_bucket *b =
	        realloc(u->trace.buckets, (u->nfeatures + 1) * LM_TRACE_BUCKETS * sizeof *b);
	if (!b)
		out_of_memory();
	memset(b + u->nfeatures * LM_TRACE_BUCKETS, 0, LM_TRACE_BUCKETS * sizeof *b);
	u->trace.buckets = b;
	return (uint32_t)u->nfeatures++;
}

static uint32_t user_of(struct lm_usage *u, const char *name, size_t len)
{
	uint32_t i;
	if (lm_name_index_get(&u->priv->users, name, len, &i))
		return i;
	u->users = realloc(u->users, (u->nusers + 1) * sizeof *u->users);
	char *copy = strndup(name, len);
	if (!u->users || !copy || lm_name_index_put(&u->priv->users, copy, u->nusers)) {
		fprintf(stderr, "lmutil report: out of memory\n");
		exit(2);
	}
	u->users[u->nusers] = copy;
	return (uint32_t)u->nusers++;
}

static struct lm_usage_user *per_user(struct lm_usage *u, uint32_t user, uint32_t f)
{
	uint64_t key = (uint64_t)user << 32 | f, i;
	if (lm_key_index_get(&u->priv->pairs, key, &i))
		return &u->per_user[i];
	u->per_user = grow(u->per_user, &u->per_user_cap, u->nper_user, sizeof *u->per_user);
	if (lm_key_index_put(&u->priv->pairs, key, u->nper_user) != 0) {
		fprintf(stderr, "lmutil report: out of memory\n");
		exit(2);
	}
	u->per_user[u->nper_user] = (struct lm_usage_user){.user = user, .feature = f};
	return &u->per_user[u->nper_user++];
}

/* count seats held by user from since to t, inside the query's range. */
static void charge_user(struct lm_usage *u, uint32_t user, uint32_t f, uint32_t count,
                        int64_t since, int64_t t)
{
	int64_t lo = max64(since, u->q.from_us), hi = min64(t, u->q.to_us);
	if (lo < hi)
		per_user(u, user, f)->seat_us += (double)count * (double)(hi - lo);
}

static void checkout(struct lm_usage *u, const struct lm_usage_record *rec, uint32_t f,
                     uint32_t user, int64_t t)
{
	struct lm_usage_private *p = u->priv;
	uint32_t count = (uint32_t)rec->count;
	uint64_t handle = (uint64_t)rec->handle;
	advance(u, f, t);
	u->features[f].in_use += count;
	if (in_range(u, t)) {
		struct lm_usage_row *r = row_at(u, f, t);
		r->checkouts++;
		if (u->features[f].in_use > r->peak)
			r->peak = u->features[f].in_use;
		per_user(u, user, f)->checkouts++;
		trace_mark(u, f, t);
	}
	uint64_t i;
	if (p->nfree > 0) {
		i = p->free_held[--p->nfree];
	} else {
		p->held = grow(p->held, &p->held_cap, p->nheld, sizeof *p->held);
		i = p->nheld++;
	}
	p->held[i] = (struct held){.feature = f, .user = user, .count = count, .since_us = t};
	if (lm_key_index_put(&p->handles, handle, i) != 0) {
		fprintf(stderr, "lmutil report: out of memory\n");
		exit(2);
	}
}

static void seats_back(struct lm_usage *u, const struct lm_usage_record *rec, uint32_t f,
                       uint32_t user, int64_t t)
{
	struct lm_usage_private *p = u->priv;
	uint64_t handle = (uint64_t)rec->handle, i;
	uint32_t count = (uint32_t)rec->count;
	int64_t since = t;
	if (lm_key_index_get(&p->handles, handle, &i)) {
		since = p->held[i].since_us;
		lm_key_index_del(&p->handles, handle);
		p->free_held = grow(p->free_held, &p->free_cap, p->nfree, sizeof *p->free_held);
		p->free_held[p->nfree++] = i;
	} else if (!lm_usage_parse_time(rec->since.p, rec->since.len, &since)) {
		since = t;
	}
	charge_user(u, user, f, count, since, t);
	advance(u, f, t);
	struct lm_usage_feature *feat = &u->features[f];
	feat->in_use = feat->in_use > count ? feat->in_use - count : 0;
}

static void denied(struct lm_usage *u, const struct lm_usage_record *rec, uint32_t f, uint32_t user,
                   int64_t t)
{
	if (!in_range(u, t))
		return;
	struct lm_usage_row *r = row_at(u, f, t);
	struct lm_trace_day none, *day = trace_day(u, t);
	if (!day)
		day = &none;
	if (lm_usage_text_is(rec->code, "LMC_ENOSEATS")) {
		r->denied_no_seat++;
		day->no_seat++;
	} else if (lm_usage_text_is(rec->code, "LMC_EDENIED")) {
		r->denied_policy++;
		day->policy++;
	} else {
		r->denied_other++;
		day->other++;
	}
	per_user(u, user, f)->denials++;
}

static void license(struct lm_usage *u)
{
	for (size_t i = 0; i < u->nfeatures; i++) {
		u->features[i].issued = 0;
		u->features[i].expiry_days = INT32_MAX;
	}
}

static void issued(struct lm_usage *u, const struct lm_usage_record *rec, uint32_t f, int64_t t)
{
	struct lm_usage_feature *feat = &u->features[f];
	int64_t us;
	feat->issued += (uint32_t)rec->count;
	if (lm_usage_parse_time(rec->expiry.p, rec->expiry.len, &us) &&
	    us / DAY_US < feat->expiry_days)
		feat->expiry_days = (int32_t)(us / DAY_US);
	advance(u, f, t);
	if (in_range(u, t)) {
		row_at(u, f, t)->issued = feat->issued;
		trace_mark(u, f, t);
	}
}

static bool is_return(struct lm_usage_text event)
{
	return lm_usage_text_is(event, "checkin") || lm_usage_text_is(event, "expired") ||
	       lm_usage_text_is(event, "abandoned") || lm_usage_text_is(event, "removed") ||
	       lm_usage_text_is(event, "timeout");
}

static void record(struct lm_usage *u, const struct lm_usage_record *rec)
{
	int64_t t;
	if (!lm_usage_parse_time(rec->time.p, rec->time.len, &t)) {
		u->bad_records++;
		return;
	}
	if (u->first_us == INT64_MIN)
		u->first_us = t;
	u->last_us = max64(u->last_us, t);
	u->records++;
	if (lm_usage_text_is(rec->event, "license")) {
		license(u);
		return;
	}
	if (lm_usage_text_is(rec->event, "gap") || lm_usage_text_is(rec->event, "lost")) {
		u->gaps++;
		return;
	}
	struct lm_usage_text name = rec->feature;
	if (!name.len || (u->q.feature && !lm_usage_text_is(name, u->q.feature)))
		return;
	uint32_t f = feature_of(u, name.p, name.len, t);
	if (lm_usage_text_is(rec->event, "issued")) {
		issued(u, rec, f, t);
		return;
	}
	bool out = lm_usage_text_is(rec->event, "checkout"),
	     no = lm_usage_text_is(rec->event, "denied"), back = is_return(rec->event);
	if (!out && !no && !back)
		return;
	uint32_t user = user_of(u, rec->user.p, rec->user.len);
	if (out)
		checkout(u, rec, f, user, t);
	else if (no)
		denied(u, rec, f, user, t);
	else
		seats_back(u, rec, f, user, t);
}

static int read_file(struct lm_usage *u, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (!f) {
		fprintf(stderr, "lmutil report: %s: %s\n", file, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	struct lm_usage_record rec = {0};
	while ((n = getline(&buf, &cap, f)) > 0) {
		if (lm_usage_record_parse(&rec, buf, (size_t)n))
			record(u, &rec);
		else
			u->bad_records++;
	}
	free(rec.scratch);
	int rc = ferror(f) ? -1 : 0;
	if (rc)
		fprintf(stderr, "lmutil report: %s: %s\n", file, strerror(errno));
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

int lm_usage_read(struct lm_usage *u, const struct lm_usage_query *q, char **files, int nfiles)
{
	*u = (struct lm_usage){.q = *q, .first_us = INT64_MIN, .last_us = INT64_MIN};
	u->priv = calloc(1, sizeof *u->priv);
	if (!u->priv) {
		fprintf(stderr, "lmutil report: out of memory\n");
		return -1;
	}
	for (int i = 0; i < nfiles; i++)
		if (read_file(u, files[i]) != 0)
			return -1;
	/* What the log shows until its last record (or --to): seats still
	 * held count until then. */
	int64_t end = min64(u->last_us, q->to_us);
	for (size_t s = 0; s < u->priv->handles.cap; s++) {
		const struct lm_key_slot *k = &u->priv->handles.slots[s];
		if (!k->used)
			continue;
		const struct held *h = &u->priv->held[k->value];
		charge_user(u, h->user, h->feature, h->count, h->since_us, end);
	}
	for (uint32_t f = 0; f < u->nfeatures; f++)
		advance(u, f, end);
	return 0;
}

void lm_usage_free(struct lm_usage *u)
{
	for (size_t i = 0; i < u->nfeatures; i++)
		free(u->features[i].name);
	for (size_t i = 0; i < u->nusers; i++)
		free(u->users[i]);
	free(u->features);
	free(u->users);
	free(u->rows);
	free(u->per_user);
	free(u->per_group);
	free(u->trace.buckets);
	free(u->trace.days);
	if (u->priv) {
		lm_name_index_free(&u->priv->features);
		lm_name_index_free(&u->priv->users);
		lm_key_index_free(&u->priv->pairs);
		lm_key_index_free(&u->priv->handles);
		free(u->priv->held);
		free(u->priv->free_held);
		free(u->priv);
	}
}
