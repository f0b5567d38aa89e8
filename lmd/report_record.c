/* The records of the report log (report_log.h): each is a body of JSON
 * fields built here, and framed with its seq, index and prev link at
 * commit (report_log.c).  lmd writes this JSON itself rather than through
 * a JSON library: lmd links none (tests/integration/tools_cli.sh), and the
 * bytes must be the same on the three servers of a triad whatever library
 * versions each one has. */
#include "config.h"

#include "lmd/report_log_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lm_report_json_time(struct lm_text *b, int64_t time_us)
{
	int64_t secs = time_us / 1000000, us = time_us % 1000000;
	if (us < 0) {
		us += 1000000;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		b->oom = true;
		return;
	}
	lm_text_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"", tm.tm_year + 1900,
	               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)us);
}

void lm_report_log_record(struct lm_report_log *r, uint64_t index, int64_t time_us,
                          const char *event)
{
	if (r->nrecs == r->recs_cap) {
		size_t cap = r->recs_cap ? 2 * r->recs_cap : 16;
		struct lm_report_body *recs = realloc(r->recs, cap * sizeof *recs);
		if (!recs) {
			r->recs_failed = true;
			return;
		}
		r->recs = recs;
		r->recs_cap = cap;
	}
	if (r->nrecs > 0) /* the previous record's body ends here */
		r->recs[r->nrecs - 1].len = r->bodies.len - r->recs[r->nrecs - 1].off;
	r->recs[r->nrecs++] =
	        (struct lm_report_body){.off = r->bodies.len, .index = index, .time_us = time_us};
	lm_text_add(&r->bodies, "\"time\":", 7);
	lm_report_json_time(&r->bodies, time_us);
	lm_report_log_str(r, "event", event);
}

/* ,"key": before a field's value. */
static void key(struct lm_report_log *r, const char *k)
{
	lm_text_add(&r->bodies, ",", 1);
	lm_text_json_bytes(&r->bodies, k, strlen(k));
	lm_text_add(&r->bodies, ":", 1);
}

void lm_report_log_strn(struct lm_report_log *r, const char *k, const void *value, size_t len)
{
	key(r, k);
	lm_text_json_bytes(&r->bodies, value, len);
}

void lm_report_log_str(struct lm_report_log *r, const char *k, const char *value)
{
	lm_report_log_strn(r, k, value, strlen(value));
}

void lm_report_log_int(struct lm_report_log *r, const char *k, int64_t value)
{
	key(r, k);
	lm_text_printf(&r->bodies, "%lld", (long long)value);
}

void lm_report_log_time(struct lm_report_log *r, const char *k, int64_t time_us)
{
	key(r, k);
	lm_report_json_time(&r->bodies, time_us);
}
