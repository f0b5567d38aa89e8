/* The tools' JSON output, built with Debian's libjansson.
 *
 * Every --json document is built as a jansson value and printed compact
 * ("key":value, no blanks) on one line, keys in the order they were set:
 * the form monitors and tests have always read.  Builders never return
 * NULL: a tool that runs out of memory while building its output stops
 * (lm_json_out_of_memory), since half a document would mislead a monitor
 * more than none. */
#ifndef LM_JSON_H
#define LM_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Says "out of memory" on stderr and exits with status 1. */
__attribute__((noreturn)) void lm_json_out_of_memory(void);

json_t *lm_json_object(void);
json_t *lm_json_array(void);
/* A string of s.  JSON text is UTF-8: a byte of s that does not start a
 * valid UTF-8 sequence (a name read off the wire) becomes U+FFFD. */
json_t *lm_json_text(const char *s);
/* lm_json_text(s), or null when s is NULL or empty. */
json_t *lm_json_text_or_null(const char *s);
json_t *lm_json_int(long long v);
/* An integer; one past what jansson holds (2^63 and up) becomes a real,
 * so that it stays a number. */
json_t *lm_json_u64(uint64_t v);
json_t *lm_json_bool(bool v);

/* {"code":"LMC_E...","number":N,"message":message}: a failure, with the
 * stable name and number of code (a negative LMC_E*, core/error.h). */
json_t *lm_json_error(int code, const char *message);

/* Sets obj's key to value, taking the caller's reference. */
void lm_json_set(json_t *obj, const char *key, json_t *value);
/* Appends value to arr, taking the caller's reference. */
void lm_json_append(json_t *arr, json_t *value);

/* Prints doc compact on one line of stdout, flushes, and drops the
 * caller's reference.  Returns 0, or -1 when stdout cannot be written. */
int lm_json_print(json_t *doc);

#endif
