/* The text buffer (text.h). */
#include "config.h"

#include "lmd/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct lm_text *t, size_t more)
{
	if (t->oom)
		return false;
	if (t->len + more + 1 <= t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 4096;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *n = realloc(t->data, cap);
	if (!n) {
		t->oom = true;
		return false;
	}
	t->data = n;
	t->cap = cap;
	return true;
}

void lm_text_printf(struct lm_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void lm_text_add(struct lm_text *t, const void *data, size_t len)
{
	if (!reserve(t, len))
		return;
	memcpy(t->data + t->len, data, len);
	t->len += len;
	t->data[t->len] = '\0';
}

static void add_char(struct lm_text *t, char c)
{
	lm_text_add(t, &c, 1);
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

void lm_text_json_bytes(struct lm_text *t, const void *data, size_t len)
{
	const unsigned char *s = data;
	add_char(t, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = 1;
		if (c == '"' || c == '\\')
			lm_text_printf(t, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			lm_text_printf(t, "\\u%04x", c);
		/* "</" could end a page's script if the JSON were ever
		 * inlined; the dashboard fetches it, but stay safe. */
		else if (c == '<')
			lm_text_add(t, "\\u003c", 6);
		else if (c < 0x80)
			add_char(t, (char)c);
		else if ((n = utf8_length(s + i, len - i)) == 0) {
			lm_text_add(t, "\\ufffd", 6);
			n = 1;
		} else
			lm_text_add(t, s + i, n);
		i += n;
	}
	add_char(t, '"');
}

void lm_text_json(struct lm_text *t, const char *s)
{
	lm_text_json_bytes(t, s, strlen(s));
}

void lm_text_label(struct lm_text *t, const char *s)
{
	add_char(t, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			lm_text_printf(t, "\\%c", *p);
		else if (*p == '\n')
			lm_text_printf(t, "\\n");
		else
			add_char(t, *p);
	}
	add_char(t, '"');
}

char *lm_text_take(struct lm_text *t, size_t *len)
{
	char *data = t->data;
	*len = t->len;
	*t = (struct lm_text){0};
	return data;
}

void lm_text_free(struct lm_text *t)
{
	free(t->data);
	*t = (struct lm_text){0};
}
