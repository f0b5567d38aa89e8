/* One record of the report log, as lmutil report's summary needs it.
 *
 * lmd writes flat JSON objects (lmd/report_record.c): string and integer
 * values, no nesting.  Reading them with a general JSON library costs more
 * than the whole rest of the summary, so this reader takes exactly that
 * shape, any key order and any JSON escapes, and refuses anything else
 * (a nested value, a syntax error) as a line that is not a record. */
#ifndef LM_LMUTIL_REPORT_RECORD_H
#define LM_LMUTIL_REPORT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string value: into the line, or into the record's scratch space when
 * it had escapes; len 0 when absent. */
struct lm_usage_text {
	const char *p;
	size_t len;
};

struct lm_usage_record {
	struct lm_usage_text time, event, feature, user, code, since, expiry;
	int64_t count, handle;
	/* Decoded strings with escapes; at least as long as the line. */
	char *scratch;
	size_t scratch_cap;
};

/* Reads the line (len bytes, its newline optional) into rec.  Returns
 * false when it is not a flat JSON object. */
bool lm_usage_record_parse(struct lm_usage_record *rec, const char *line, size_t len);

static inline bool lm_usage_text_is(struct lm_usage_text t, const char *s)
{
	size_t n = __builtin_strlen(s);
	return t.len == n && __builtin_memcmp(t.p, s, n) == 0;
}

#endif
