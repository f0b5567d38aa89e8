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

static void add_char(struct lm_text *t, char c)
{
	if (!reserve(t, 1))
		return;
	t->data[t->len++] = c;
	t->data[t->len] = '\0';
}

void lm_text_json(struct lm_text *t, const char *s)
{
	add_char(t, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			lm_text_printf(t, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			lm_text_printf(t, "\\u%04x", *p);
		/* "</" could end the page's script if the JSON were ever
		 * inlined; the dashboard fetches it, but stay safe. */
		else if (*p == '<')
			lm_text_printf(t, "\\u003c");
		else
			add_char(t, (char)*p);
	}
	add_char(t, '"');
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
