#include "tools/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void lm_json_out_of_memory(void)
{
	fputs("out of memory while writing JSON\n", stderr);
	exit(1);
}

static json_t *must(json_t *value)
{
	if (!value)
		lm_json_out_of_memory();
	return value;
}

json_t *lm_json_object(void)
{
	return must(json_object());
}

json_t *lm_json_array(void)
{
	return must(json_array());
}

/* The length of the valid UTF-8 sequence at p, or 0 when there is none
 * (RFC 3629 §4: no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_length(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n;
	unsigned low = 0x80, high = 0xbf;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			low = 0xa0;
		else if (p[0] == 0xed)
			high = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			low = 0x90;
		else if (p[0] == 0xf4)
			high = 0x8f;
	} else {
		return 0;
	}
	if (p[1] < low || p[1] > high)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* s with U+FFFD (3 bytes) for each byte that starts no valid sequence. */
static json_t *text_repaired(const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd";
	size_t len = strlen(s);
	char *out = malloc(3 * len + 1);
	if (!out)
		lm_json_out_of_memory();
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_length(p);
		if (n == 0) {
			memcpy(out + o, replacement, 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	json_t *value = must(json_stringn(out, o));
	free(out);
	return value;
}

json_t *lm_json_text(const char *s)
{
	/* json_string refuses text that is not UTF-8 (and fails when out of
	 * memory): either way the repaired copy settles it. */
	json_t *value = json_string(s);
	return value ? value : text_repaired(s);
}

json_t *lm_json_text_or_null(const char *s)
{
	return s && *s ? lm_json_text(s) : json_null();
}

json_t *lm_json_int(long long v)
{
	return must(json_integer(v));
}

json_t *lm_json_u64(uint64_t v)
{
	if (v > (uint64_t)INT64_MAX)
		return must(json_real((double)v));
	return must(json_integer((json_int_t)v));
}

json_t *lm_json_bool(bool v)
{
	return json_boolean(v);
}

json_t *lm_json_error(int code, const char *message)
{
	json_t *error = lm_json_object();
	lm_json_set(error, "code", lm_json_text(lmc_errname(code)));
	lm_json_set(error, "number", lm_json_int(code));
	lm_json_set(error, "message", lm_json_text(message));
	return error;
}

void lm_json_set(json_t *obj, const char *key, json_t *value)
{
	if (json_object_set_new(obj, key, value) != 0)
		lm_json_out_of_memory();
}

void lm_json_append(json_t *arr, json_t *value)
{
	if (json_array_append_new(arr, value) != 0)
		lm_json_out_of_memory();
}

int lm_json_print(json_t *doc)
{
	int rc = json_dumpf(doc, stdout, JSON_COMPACT);
	json_decref(doc);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return -1;
	return 0;
}
