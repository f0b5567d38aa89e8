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

void lm_report_buf_add(struct lm_report_buf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void lm_report_buf_printf(struct lm_report_buf *b, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof text)
		b->failed = true;
	else
		lm_report_buf_add(b, text, (size_t)n);
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_length(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void lm_report_buf_json_string(struct lm_report_buf *b, const void *data, size_t len)
{
	const unsigned char *s = data;
	lm_report_buf_add(b, "\"", 1);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			lm_report_buf_add(b, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			lm_report_buf_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			lm_report_buf_add(b, &s[i], 1);
			i++;
		} else {
			size_t n = utf8_length(s + i, len - i);
			if (n == 0) {
				lm_report_buf_add(b, "\\ufffd", 6);
				i++;
			} else {
				lm_report_buf_add(b, s + i, n);
				i += n;
			}
		}
	}
	lm_report_buf_add(b, "\"", 1);
}

void lm_report_buf_json_time(struct lm_report_buf *b, int64_t time_us)
{
	int64_t secs = time_us / 1000000, us = time_us % 1000000;
	if (us < 0) {
		us += 1000000;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		b->failed = true;
		return;
	}
	lm_report_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"", tm.tm_year + 1900,
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
	lm_report_buf_add(&r->bodies, "\"time\":", 7);
	lm_report_buf_json_time(&r->bodies, time_us);
	lm_report_log_str(r, "event", event);
}

/* ,"key": before a field's value. */
static void key(struct lm_report_log *r, const char *k)
{
	lm_report_buf_add(&r->bodies, ",", 1);
	lm_report_buf_json_string(&r->bodies, k, strlen(k));
	lm_report_buf_add(&r->bodies, ":", 1);
}

void lm_report_log_strn(struct lm_report_log *r, const char *k, const void *value, size_t len)
{
	key(r, k);
	lm_report_buf_json_string(&r->bodies, value, len);
}

void lm_report_log_str(struct lm_report_log *r, const char *k, const char *value)
{
	lm_report_log_strn(r, k, value, strlen(value));
}

void lm_report_log_int(struct lm_report_log *r, const char *k, int64_t value)
{
	key(r, k);
	lm_report_buf_printf(&r->bodies, "%lld", (long long)value);
}

void lm_report_log_time(struct lm_report_log *r, const char *k, int64_t time_us)
{
	key(r, k);
	lm_report_buf_json_time(&r->bodies, time_us);
}
