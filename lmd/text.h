/* A growing text buffer: the pages lmd serves over HTTP (http.h), the
 * Prometheus metrics and the dashboard's JSON, are built in one and handed
 * to the HTTP thread whole; the report log's records (report_log.h) are
 * framed in them. */
#ifndef LM_TEXT_H
#define LM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct lm_text {
	char *data; /* NUL-terminated, owned; NULL until something is added */
	size_t len, cap;
	bool oom; /* an addition failed: the text is incomplete, do not serve it */
};

/* Appends len bytes; on failure sets t->oom and leaves t as it was. */
void lm_text_add(struct lm_text *t, const void *data, size_t len);
/* Appends printf-style; on failure sets t->oom and leaves t as it was. */
void lm_text_printf(struct lm_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string, quotes included: control characters and '<'
 * as \uXXXX, bytes that are not UTF-8 (RFC 3629) as U+FFFD, so that the
 * result is valid JSON whatever a client sent, and the same bytes on every
 * server for the same input. */
void lm_text_json_bytes(struct lm_text *t, const void *s, size_t len);
void lm_text_json(struct lm_text *t, const char *s);
/* Appends s as a Prometheus label value (quotes included): backslash,
 * double quote and newline escaped (exposition format 0.0.4). */
void lm_text_label(struct lm_text *t, const char *s);
/* Hands t->data over to the caller (free() it) and empties t. */
char *lm_text_take(struct lm_text *t, size_t *len);
void lm_text_free(struct lm_text *t);

#endif
