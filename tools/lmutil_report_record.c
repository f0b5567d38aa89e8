/* A flat JSON object, read fast (lmutil_report_record.h). */
#include "config.h"

#include "tools/lmutil_report_record.h"

#include <stdlib.h>
#include <string.h>

struct cursor {
	const char *p, *end;
	char *out; /* where the next decoded string goes, in scratch */
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		int d = h >= '0' && h <= '9'   ? h - '0'
		        : h >= 'a' && h <= 'f' ? h - 'a' + 10
		        : h >= 'A' && h <= 'F' ? h - 'A' + 10
		                               : -1;
		if (d < 0)
			return -1;
		v = 16 * v + d;
	}
	return v;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* Decodes the escapes of the string body [s, e) into c->out. */
static bool unescape(struct cursor *c, const char *s, const char *e, struct lm_usage_text *t)
{
	char *o = c->out;
	t->p = o;
	while (s < e) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		if (++s == e)
			return false;
		char k = *s++;
		switch (k) {
		case '"':
		case '\\':
		case '/': *o++ = k; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			int cp = e - s >= 4 ? hex4(s) : -1;
			if (cp < 0)
				return false;
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && e - s >= 6 && s[0] == '\\' &&
			    s[1] == 'u') {
				int lo = hex4(s + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s += 6;
				}
			}
			o = put_utf8(o, (unsigned)cp);
			break;
		}
		default: return false;
		}
	}
	t->len = (size_t)(o - c->out);
	c->out = o;
	return true;
}

/* A string at c->p (its opening quote). */
static bool string(struct cursor *c, struct lm_usage_text *t)
{
	const char *s = ++c->p;
	bool escaped = false;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\') {
			escaped = true;
			c->p++;
		}
		c->p++;
	}
	if (c->p >= c->end)
		return false;
	const char *e = c->p++;
	if (!escaped) {
		t->p = s;
		t->len = (size_t)(e - s);
		return true;
	}
	return unescape(c, s, e, t);
}

/* A number (kept when integral) or true, false, null. */
static bool scalar(struct cursor *c, int64_t *v, bool *is_int)
{
	const char *s = c->p;
	bool neg = *s == '-', integral = true;
	int64_t n = 0;
	if (neg)
		c->p++;
	while (c->p < c->end &&
	       ((*c->p >= '0' && *c->p <= '9') || *c->p == '.' || *c->p == 'e' || *c->p == 'E' ||
	        *c->p == '+' || *c->p == '-' || (*c->p >= 'a' && *c->p <= 'z'))) {
		if (*c->p >= '0' && *c->p <= '9')
			n = 10 * n + (*c->p - '0');
		else
			integral = false;
		c->p++;
	}
	*v = neg ? -n : n;
	*is_int = integral && c->p > s + neg;
	return c->p > s;
}

bool lm_usage_record_parse(struct lm_usage_record *rec, const char *line, size_t len)
{
	if (rec->scratch_cap < len) {
		char *p = realloc(rec->scratch, len);
		if (!p)
			return false;
		rec->scratch = p;
		rec->scratch_cap = len;
	}
	struct lm_usage_text none = {"", 0};
	rec->time = rec->event = rec->feature = rec->user = rec->code = none;
	rec->since = rec->expiry = none;
	rec->count = rec->handle = 0;
	struct cursor c = {.p = line, .end = line + len, .out = rec->scratch};
	skip_space(&c);
	if (c.p == c.end || *c.p++ != '{')
		return false;
	for (bool first = true;; first = false) {
		skip_space(&c);
		if (c.p < c.end && *c.p == '}' && first)
			break;
		struct lm_usage_text key, value = none;
		int64_t number = 0;
		bool is_int = false;
		if (c.p == c.end || *c.p != '"' || !string(&c, &key))
			return false;
		skip_space(&c);
		if (c.p == c.end || *c.p++ != ':')
			return false;
		skip_space(&c);
		if (c.p == c.end)
			return false;
		if (*c.p == '"') {
			if (!string(&c, &value))
				return false;
		} else if (!scalar(&c, &number, &is_int)) {
			return false; /* an object, an array: not one of lmd's records */
		}
		switch (key.len) {
		case 4:
			if (lm_usage_text_is(key, "time"))
				rec->time = value;
			else if (lm_usage_text_is(key, "user"))
				rec->user = value;
			else if (lm_usage_text_is(key, "code"))
				rec->code = value;
			break;
		case 5:
			if (lm_usage_text_is(key, "event"))
				rec->event = value;
			else if (lm_usage_text_is(key, "count") && is_int)
				rec->count = number;
			else if (lm_usage_text_is(key, "since"))
				rec->since = value;
			break;
		case 6:
			if (lm_usage_text_is(key, "handle") && is_int)
				rec->handle = number;
			else if (lm_usage_text_is(key, "expiry"))
				rec->expiry = value;
			break;
		case 7:
			if (lm_usage_text_is(key, "feature"))
				rec->feature = value;
			break;
		default: break;
		}
		skip_space(&c);
		if (c.p == c.end)
			return false;
		if (*c.p == '}')
			break;
		if (*c.p++ != ',')
			return false;
	}
	c.p++;
	skip_space(&c);
	return c.p == c.end;
}
