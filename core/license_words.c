/* The words of license lines: keyword and type names, versions, names,
 * hosts and numbers, free text, signatures written as text, and the
 * tokenizer that cuts a line into words and KEY=value pairs.  What the line
 * parser (license_line.c) and the file parser (license.c) share. */
#include "core/license.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/license_internal.h"

static const char *const keyword_names[LM_KW_COUNT] = {
        [LM_KW_HOSTID] = "HOSTID",
        [LM_KW_AUTH] = "AUTH",
        [LM_KW_START] = "START",
        [LM_KW_ISSUED] = "ISSUED",
        [LM_KW_NOTICE] = "NOTICE",
        [LM_KW_NAMED_USERS] = "NAMED_USERS",
        [LM_KW_BORROW] = "BORROW",
        [LM_KW_HOST_DESC] = "HOST_DESC",
        [LM_KW_SN] = "SN",
        [LM_KW_TOLERANCE] = "TOLERANCE",
        [LM_KW_COMPONENTS] = "COMPONENTS",
        [LM_KW_OPTIONS] = "OPTIONS",
        [LM_KW_VENDOR_STRING] = "VENDOR_STRING",
        [LM_KW_ISSUER] = "ISSUER",
        [LM_KW_TS_OK] = "TS_OK",
        [LM_KW_ATTRIBUTES] = "vendor attributes (lower-case key=value)",
        [LM_KW_OVERDRAFT] = "OVERDRAFT",
        [LM_KW_SUPERSEDE] = "SUPERSEDE",
        [LM_KW_USER_BASED] = "USER_BASED",
        [LM_KW_HOST_BASED] = "HOST_BASED",
        [LM_KW_DUP_GROUP] = "DUP_GROUP",
        [LM_KW_SUITE_DUP_GROUP] = "SUITE_DUP_GROUP",
        [LM_KW_SERVER_CODES] = "SERVER_CODES",
        [LM_KW_SERVER_KEYS] = "SERVER_KEYS",
        [LM_KW_SIGN] = "SIGN",
};

const char *lm_keyword_name(enum lm_keyword k)
{
	return (unsigned)k < LM_KW_COUNT ? keyword_names[k] : "?";
}

const char *lm_line_type_name(enum lm_line_type t)
{
	switch (t) {
	case LM_LINE_FEATURE: return "FEATURE";
	case LM_LINE_INCREMENT: return "INCREMENT";
	case LM_LINE_PACKAGE: return "PACKAGE";
	}
	return "?";
}

int lm_license_parse_type(const char *word, enum lm_line_type *type)
{
	if (strcasecmp(word, "FEATURE") == 0)
		*type = LM_LINE_FEATURE;
	else if (strcasecmp(word, "INCREMENT") == 0)
		*type = LM_LINE_INCREMENT;
	else if (strcasecmp(word, "PACKAGE") == 0)
		*type = LM_LINE_PACKAGE;
	else
		return -1;
	return 0;
}

int lm_license_fail(struct lm_parse_error *err, int lineno, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->lineno = lineno;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- Versions ---------------------------------------------------------- */

int lm_version_valid(const char *text)
{
	if (!text || !*text || strlen(text) > LM_VERSION_MAX)
		return 0;
	int parts = 1, ndigits = 0;
	for (const char *p = text; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			if (++ndigits > 9)
				return 0;
		} else if (*p == '.' && ndigits > 0 && parts < 4) {
			parts++;
			ndigits = 0;
		} else {
			return 0;
		}
	}
	return ndigits > 0;
}

/* The next dot-separated number of a version, 0 once the text is used up,
 * so that "29" compares equal to "29.0". */
static unsigned long long version_part(const char **p)
{
	unsigned long long v = 0;
	while (isdigit((unsigned char)**p)) {
		if (v < 1000000000ULL)
			v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
	}
	if (**p == '.')
		(*p)++;
	return v;
}

int lm_version_compare(const char *a, const char *b)
{
	while (*a || *b) {
		const char *pa = a, *pb = b;
		unsigned long long x = version_part(&a), y = version_part(&b);
		if (x != y)
			return x < y ? -1 : 1;
		/* Neither moved: not versions at all, stop rather than spin. */
		if (a == pa && b == pb)
			break;
	}
	return 0;
}

/* ---- Field checks ------------------------------------------------------ */

/* Feature, vendor, package and component names: [A-Za-z0-9_.-]{1,64}. */
/* Feature names also take '/', as Esri's ARC/INFO: FlexLM allows it, and
 * no place lmd writes a feature name gives '/' a meaning. */
int lm_license_valid_feature_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LM_NAME_MAX || s[0] == '/')
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '/')
			continue;
		else if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	return 1;
}

int lm_license_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LM_NAME_MAX)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	return 1;
}

/* Host names and IPv4/IPv6 literals. */
int lm_license_valid_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LM_HOST_MAX)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:-", *p))
			return 0;
	return 1;
}

/* A decimal number from 1 to max, digits only. */
int lm_license_parse_number(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long long v = 0;
	size_t n = 0;
	for (const char *p = s; *p; p++, n++) {
		if (!isdigit((unsigned char)*p) || n >= 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (n == 0 || v < 1 || v > max)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

int lm_license_check_text(const char *s, size_t len, char *msg, size_t size)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0) {
			snprintf(msg, size,
			         "NUL byte at column %zu: a license file is plain text, this looks "
			         "like binary data",
			         i + 1);
			return LMC_ESYNTAX;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(msg, size,
			         "control character 0x%02x at column %zu: a license file is plain "
			         "text",
			         c, i + 1);
			return LMC_ESYNTAX;
		}
		if (c < 0x80)
			continue;
		/* UTF-8: the lead byte gives the length; the code point must
		 * use the shortest form, avoid surrogates and stay in range. */
		size_t more;
		unsigned long cp, min;
		if ((c & 0xe0) == 0xc0) {
			more = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (more >= len - i)
			goto bad;
		for (size_t k = 1; k <= more; k++) {
			unsigned char cc = (unsigned char)s[i + k];
			if ((cc & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (cp < 0xa0) {
			snprintf(msg, size,
			         "control character U+%04lX at column %zu: a license file is plain "
			         "text",
			         cp, i + 1);
			return LMC_ESYNTAX;
		}
		i += more;
		continue;
	bad:
		snprintf(msg, size,
		         "byte 0x%02x at column %zu is not UTF-8 text: a license file is plain "
		         "text (save it as UTF-8)",
		         c, i + 1);
		return LMC_ESYNTAX;
	}
	return 0;
}

/* ---- Signatures as text ------------------------------------------------ */

#define SIG_HALF_BYTES (LM_SIG_LEN / 2)
#define SIG_HALF_DATA  (LM_SIG_HALF_SYMBOLS - 1)

void lm_license_sig_format(const uint8_t sig[LM_SIG_LEN], char *buf, size_t size)
{
	char half[2][LM_SIG_HALF_SYMBOLS + 1];
	for (int h = 0; h < 2; h++) {
		uint8_t sym[SIG_HALF_DATA];
		size_t n = lm_code32_from_bytes(sig + h * SIG_HALF_BYTES, SIG_HALF_BYTES, sym,
		                                sizeof sym);
		if (lm_code32_encode(sym, n, 0, half[h], sizeof half[h]) != 0)
			half[h][0] = '\0';
	}
	size_t o = 0;
	for (size_t i = 0; i < 2 * LM_SIG_HALF_SYMBOLS && o + 2 < size; i++) {
		if (i && i % 8 == 0)
			buf[o++] = '-';
		buf[o++] = i < LM_SIG_HALF_SYMBOLS ? half[0][i] : half[1][i - LM_SIG_HALF_SYMBOLS];
	}
	if (size)
		buf[o < size ? o : size - 1] = '\0';
}

int lm_license_sig_parse(const char *text, uint8_t sig[LM_SIG_LEN], char *msg, size_t size)
{
	char half[2][LM_SIG_HALF_SYMBOLS + 1];
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '-' || *p == ' ' || *p == '\t')
			continue;
		if (n < 2 * LM_SIG_HALF_SYMBOLS)
			half[n / LM_SIG_HALF_SYMBOLS][n % LM_SIG_HALF_SYMBOLS] = *p;
		n++;
	}
	if (n != 2 * LM_SIG_HALF_SYMBOLS) {
		snprintf(msg, size,
		         "a signature has %d symbols, this one %zu: part of it is missing or was "
		         "added; copy the line again",
		         2 * LM_SIG_HALF_SYMBOLS, n);
		return LMC_EBADCODE;
	}
	for (int h = 0; h < 2; h++) {
		uint8_t sym[LM_SIG_HALF_SYMBOLS];
		size_t nsym;
		char why[160];
		half[h][LM_SIG_HALF_SYMBOLS] = '\0';
		if (lm_code32_decode(half[h], sym, sizeof sym, &nsym, why, sizeof why) != 0) {
			snprintf(msg, size, "%s half: %s", h ? "second" : "first", why);
			return LMC_EBADCODE;
		}
		if (lm_code32_to_bytes(sym, nsym, sig + h * SIG_HALF_BYTES, SIG_HALF_BYTES) != 0) {
			snprintf(msg, size, "%s half does not hold a signature",
			         h ? "second" : "first");
			return LMC_EBADCODE;
		}
	}
	return 0;
}

/* ---- Tokens ------------------------------------------------------------ */

int lm_license_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits a line into tokens in place.  Values may be quoted to hold blanks.
 * Inside quotes, \" followed by anything but a blank or the end of the line
 * is a quote that belongs to the value (FlexLM's NOTICE="x=\"a b\""); a
 * quote followed by a blank or the end closes the value, even after a
 * backslash, so that values ending in a backslash read as they always
 * did.  An unquoted value may hold quotes (VENDOR_STRING=type="x"). */
int lm_license_tokenize(char *s, struct lm_license_token *tok, int *ntok, char *msg, size_t size)
{
	int n = 0;
	char *p = s;
	for (;;) {
		while (lm_license_is_blank(*p))
			p++;
		if (!*p)
			break;
		if (n == LM_LICENSE_TOKENS_MAX) {
			snprintf(msg, size, "more than %d fields on one line",
			         LM_LICENSE_TOKENS_MAX);
			return LMC_ETOOLARGE;
		}
		struct lm_license_token *t = &tok[n++];
		t->word = p;
		t->value = NULL;
		while (*p && !lm_license_is_blank(*p) && *p != '=' && *p != '"')
			p++;
		if (*p == '"') {
			snprintf(msg, size,
			         "unexpected quote after '%.*s': only a keyword's value may be "
			         "quoted, as in NOTICE=\"a b\"",
			         (int)(p - t->word > 40 ? 40 : p - t->word), t->word);
			return LMC_ESYNTAX;
		}
		if (*p != '=') {
			if (*p)
				*p++ = '\0';
			continue;
		}
		if (p == t->word) {
			snprintf(msg, size, "'=' without a keyword before it; write KEY=value");
			return LMC_ESYNTAX;
		}
		*p++ = '\0';
		if (*p == '"') {
			char *in = p + 1, *out = p + 1;
			t->value = out;
			for (;;) {
				if (!*in) {
					snprintf(msg, size,
					         "the value of %.40s opens a quote that is never "
					         "closed; write %.40s=\"value\"",
					         t->word, t->word);
					return LMC_ESYNTAX;
				}
				if (in[0] == '\\' && in[1] == '"' && in[2] &&
				    !lm_license_is_blank(in[2])) {
					*out++ = '"';
					in += 2;
					continue;
				}
				if (*in == '"')
					break;
				/* A tab (the indentation of a continued line,
				 * mostly) is written as a space: the value then
				 * reads the same everywhere, and the protocol
				 * carries no control characters. */
				*out++ = *in == '\t' ? ' ' : *in;
				in++;
			}
			*out = '\0';
			p = in + 1;
			if (*p && !lm_license_is_blank(*p)) {
				snprintf(msg, size,
				         "text right after the closing quote of %.40s; separate "
				         "fields with spaces",
				         t->word);
				return LMC_ESYNTAX;
			}
		} else {
			t->value = p;
			while (*p && !lm_license_is_blank(*p))
				p++;
			if (p == t->value) {
				snprintf(msg, size, "%.40s= has no value; write %.40s=value",
				         t->word, t->word);
				return LMC_ESYNTAX;
			}
		}
		if (*p)
			*p++ = '\0';
	}
	*ntok = n;
	return 0;
}
