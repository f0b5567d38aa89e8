/* The license file parser.
 *
 * A license file arrives from a vendor by mail, is edited by administrators
 * and is read by lmd and by every application, so the parser trusts
 * nothing: every limit of license.h is checked where the text is read, and
 * every refusal names the line and says what was expected there.  The
 * parser never stops at the first doubt with a partial result: either the
 * whole file is understood or nothing is returned. */
#include "core/license.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/license_internal.h"
#include "client/lmc.h"

/* More fields than any line can use, so that a line of a thousand words is
 * refused before it costs anything. */
#define TOKENS_MAX      64
#define COUNT_MAX       1000000
#define NAMED_USERS_MAX 1000000
/* A borrowed seat comes back within a year at most. */
#define BORROW_HOURS_MAX 8760
/* Lock codes record at most LM_CRIT_COUNT criteria. */
#define TOLERANCE_MAX 5
/* The largest file lm_license_load reads: the longest file the limits of
 * license.h allow, which no real license file comes near. */
#define FILE_MAX ((size_t)LM_LINE_MAX * LM_LICENSE_LINES_MAX)

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
        [LM_KW_SERVER_CODES] = "SERVER_CODES",
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

__attribute__((format(printf, 4, 5))) static int fail(struct lm_parse_error *err, int lineno,
                                                      int code, const char *fmt, ...)
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
static int valid_name(const char *s)
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
static int valid_host(const char *s)
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
static int parse_number(const char *s, unsigned long max, unsigned long *out)
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

/* A bare word (value NULL) or KEY=value, pointing into the line. */
struct token {
	char *word;
	char *value;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits a line into tokens in place.  Values may be quoted to hold blanks;
 * there are no escapes, so a value can never contain a quote, which keeps
 * the canonical form unambiguous. */
static int tokenize(char *s, struct token *tok, int *ntok, char *msg, size_t size)
{
	int n = 0;
	char *p = s;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		if (n == TOKENS_MAX) {
			snprintf(msg, size, "more than %d fields on one line", TOKENS_MAX);
			return LMC_ETOOLARGE;
		}
		struct token *t = &tok[n++];
		t->word = p;
		t->value = NULL;
		while (*p && !is_blank(*p) && *p != '=' && *p != '"')
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
			char *close = strchr(p + 1, '"');
			if (!close) {
				snprintf(msg, size,
				         "the value of %.40s opens a quote that is never closed; "
				         "write %.40s=\"value\"",
				         t->word, t->word);
				return LMC_ESYNTAX;
			}
			t->value = p + 1;
			*close = '\0';
			p = close + 1;
			if (*p && !is_blank(*p)) {
				snprintf(msg, size,
				         "text right after the closing quote of %.40s; separate "
				         "fields with spaces",
				         t->word);
				return LMC_ESYNTAX;
			}
		} else {
			t->value = p;
			while (*p && !is_blank(*p)) {
				if (*p == '"') {
					snprintf(msg, size,
					         "a quote inside the value of %.40s; quote whole "
					         "values, as in %.40s=\"a b\"",
					         t->word, t->word);
					return LMC_ESYNTAX;
				}
				p++;
			}
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

/* ---- License lines ----------------------------------------------------- */

static int keyword_lookup(const char *word)
{
	for (int k = 0; k < LM_KW_COUNT; k++)
		if (strcasecmp(word, keyword_names[k]) == 0)
			return k;
	return -1;
}

static int keyword_allowed(enum lm_line_type type, bool canonical, int k)
{
	if (k == LM_KW_SIGN)
		return !canonical;
	if (k == LM_KW_SERVER_CODES)
		return canonical && type != LM_LINE_PACKAGE;
	if (type == LM_LINE_PACKAGE)
		return k == LM_KW_COMPONENTS || k == LM_KW_OPTIONS;
	return k != LM_KW_COMPONENTS && k != LM_KW_OPTIONS;
}

/* "HOSTID, AUTH, ... and SIGN": what a line of this type accepts. */
static void allowed_list(enum lm_line_type type, bool canonical, char *buf, size_t size)
{
	int total = 0, seen = 0;
	for (int k = 0; k < LM_KW_COUNT; k++)
		total += keyword_allowed(type, canonical, k);
	buf[0] = '\0';
	for (int k = 0; k < LM_KW_COUNT; k++) {
		if (!keyword_allowed(type, canonical, k))
			continue;
		seen++;
		size_t o = strlen(buf);
		snprintf(buf + o, size - o, "%s%s",
		         seen == 1       ? ""
		         : seen == total ? " and "
		                         : ", ",
		         keyword_names[k]);
	}
}

static int set_text(char *dst, const char *value, const char *key, int lineno,
                    struct lm_parse_error *err)
{
	size_t n = strlen(value);
	if (n == 0)
		return fail(err, lineno, LMC_ESYNTAX, "%s has an empty value; leave it out instead",
		            key);
	if (n >= LM_TEXT_MAX)
		return fail(err, lineno, LMC_ETOOLARGE,
		            "%s is %zu bytes long; at most %d are allowed", key, n,
		            LM_TEXT_MAX - 1);
	memcpy(dst, value, n + 1);
	return 0;
}

static int set_date(int32_t *dst, const char *value, const char *key, int lineno,
                    struct lm_parse_error *err)
{
	int32_t days;
	if (lm_date_parse(value, &days) != 0 || days == LM_DATE_PERMANENT)
		return fail(err, lineno, LMC_ESYNTAX,
		            "%s='%.40s' is not a date; expected YYYY-MM-DD or dd-mon-yyyy "
		            "(1970 to 9999)",
		            key, value);
	*dst = days;
	return 0;
}

static int set_number(uint32_t *dst, const char *value, unsigned long max, const char *key,
                      int lineno, struct lm_parse_error *err)
{
	unsigned long v;
	if (parse_number(value, max, &v) != 0)
		return fail(err, lineno, LMC_ESYNTAX, "%s='%.40s' is not a number from 1 to %lu",
		            key, value, max);
	*dst = (uint32_t)v;
	return 0;
}

/* COMPONENTS="a b c": names separated by blanks, kept in the vendor's order
 * with single spaces. */
static int set_components(struct lm_license *l, const char *value, int lineno,
                          struct lm_parse_error *err)
{
	char buf[LM_TEXT_MAX];
	size_t o = 0;
	const char *p = value;
	int n = 0;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !is_blank(*p))
			p++;
		size_t len = (size_t)(p - start);
		char name[LM_NAME_MAX + 1];
		if (len > LM_NAME_MAX)
			return fail(err, lineno, LMC_ESYNTAX,
			            "COMPONENTS: '%.40s...' is longer than %d characters", start,
			            LM_NAME_MAX);
		memcpy(name, start, len);
		name[len] = '\0';
		if (!valid_name(name))
			return fail(err, lineno, LMC_ESYNTAX,
			            "COMPONENTS: '%.40s' is not a feature name (letters, digits, "
			            "'_', '.' and '-')",
			            name);
		/* A component named twice would count its seats twice. */
		for (const char *q = buf; n && q < buf + o;) {
			size_t ql = strcspn(q, " ");
			if (ql == len && memcmp(q, name, len) == 0)
				return fail(err, lineno, LMC_ESYNTAX,
				            "COMPONENTS names '%s' twice; name each component once",
				            name);
			q += ql + 1;
		}
		if (o + (n ? 1 : 0) + len >= sizeof buf)
			return fail(err, lineno, LMC_ETOOLARGE,
			            "COMPONENTS is longer than %d bytes", LM_TEXT_MAX - 1);
		if (n)
			buf[o++] = ' ';
		memcpy(buf + o, name, len);
		o += len;
		buf[o] = '\0';
		n++;
	}
	if (n == 0)
		return fail(err, lineno, LMC_ESYNTAX,
		            "COMPONENTS is empty; list the package's features, as in "
		            "COMPONENTS=\"a b c\"");
	memcpy(l->components, buf, o + 1);
	return 0;
}

static int set_server_codes(const char *value, struct lm_lockcode codes[3], int *ncodes, int lineno,
                            struct lm_parse_error *err)
{
	char copy[LM_TEXT_MAX];
	if (strlen(value) >= sizeof copy)
		return fail(err, lineno, LMC_ETOOLARGE, "SERVER_CODES is too long");
	strcpy(copy, value);
	int n = 0;
	for (char *save, *c = strtok_r(copy, " \t", &save); c; c = strtok_r(NULL, " \t", &save)) {
		char why[160];
		if (n == 3)
			return fail(err, lineno, LMC_ESYNTAX,
			            "SERVER_CODES lists more than 3 lock codes");
		if (lm_lockcode_parse(c, &codes[n], why, sizeof why) != 0)
			return fail(err, lineno, LMC_EBADCODE, "SERVER_CODES: %s", why);
		n++;
	}
	if (n != 1 && n != 3)
		return fail(err, lineno, LMC_ESYNTAX,
		            "SERVER_CODES lists %d lock codes; expected 1 or 3", n);
	*ncodes = n;
	return 0;
}

static int set_keyword(struct lm_license *l, enum lm_keyword k, const char *value,
                       struct lm_lockcode codes[3], int *ncodes, int lineno,
                       struct lm_parse_error *err)
{
	const char *key = keyword_names[k];
	char why[160];
	unsigned long v;
	switch (k) {
	case LM_KW_HOSTID:
		if (lm_lockcode_parse(value, &l->hostid, why, sizeof why) != 0)
			return fail(err, lineno, LMC_EBADCODE,
			            "HOSTID is not a valid lock code: %s", why);
		l->has_hostid = true;
		return 0;
	case LM_KW_AUTH: {
		uint8_t sym[LM_CODE32_MAX_SYMBOLS];
		size_t n;
		if (lm_code32_decode(value, sym, sizeof sym, &n, why, sizeof why) != 0)
			return fail(err, lineno, LMC_EBADCODE,
			            "AUTH is not a valid authorization code: %s", why);
		if (lm_code32_encode(sym, n, 4, l->auth, sizeof l->auth) != 0)
			return fail(err, lineno, LMC_ETOOLARGE, "AUTH is too long");
		return 0;
	}
	case LM_KW_START: return set_date(&l->start, value, key, lineno, err);
	case LM_KW_ISSUED: return set_date(&l->issued, value, key, lineno, err);
	case LM_KW_NOTICE: return set_text(l->notice, value, key, lineno, err);
	case LM_KW_HOST_DESC: return set_text(l->host_desc, value, key, lineno, err);
	case LM_KW_SN: return set_text(l->sn, value, key, lineno, err);
	case LM_KW_NAMED_USERS:
		return set_number(&l->named_users, value, NAMED_USERS_MAX, key, lineno, err);
	case LM_KW_BORROW:
		return set_number(&l->borrow_hours, value, BORROW_HOURS_MAX, key, lineno, err);
	case LM_KW_TOLERANCE:
		/* 0 is a valid tolerance (every criterion must match), so
		 * parse_number's lower bound of 1 does not fit here. */
		if (strcmp(value, "0") == 0) {
			l->tolerance = 0;
			return 0;
		}
		if (parse_number(value, TOLERANCE_MAX, &v) != 0)
			return fail(err, lineno, LMC_ESYNTAX,
			            "TOLERANCE='%.40s' is not a number from 0 to %d (how many "
			            "lock code criteria may differ)",
			            value, TOLERANCE_MAX);
		l->tolerance = (int)v;
		return 0;
	case LM_KW_COMPONENTS: return set_components(l, value, lineno, err);
	case LM_KW_OPTIONS:
		if (strcasecmp(value, "SUITE") != 0)
			return fail(err, lineno, LMC_ESYNTAX,
			            "OPTIONS='%.40s' is unknown; the only option is SUITE", value);
		l->suite = true;
		return 0;
	case LM_KW_SIGN:
		if (lm_license_sig_parse(value, l->sig, why, sizeof why) != 0)
			return fail(err, lineno, LMC_EBADCODE, "SIGN is not a valid signature: %s",
			            why);
		l->has_sig = true;
		return 0;
	case LM_KW_SERVER_CODES: return set_server_codes(value, codes, ncodes, lineno, err);
	case LM_KW_COUNT: break;
	}
	return fail(err, lineno, LMC_ESYNTAX, "unknown keyword");
}

static int parse_type(const char *word, enum lm_line_type *type)
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

int lm_license_parse_line(char *line, int lineno, bool canonical, struct lm_license *l,
                          struct lm_lockcode codes[3], int *ncodes, struct lm_parse_error *err)
{
	struct token tok[TOKENS_MAX];
	char msg[200];
	int n, rc;
	struct lm_lockcode unused_codes[3];
	int unused_n = 0;

	if (!codes || !ncodes) {
		codes = unused_codes;
		ncodes = &unused_n;
	}
	*ncodes = 0;
	memset(l, 0, sizeof *l);
	l->lineno = lineno;
	l->start = LM_DATE_NONE;
	l->issued = LM_DATE_NONE;
	l->tolerance = LM_LOCK_TOLERANCE_DEFAULT;

	rc = tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return fail(err, lineno, rc, "%s", msg);
	if (n == 0 || tok[0].value || parse_type(tok[0].word, &l->type) != 0)
		return fail(err, lineno, LMC_ESYNTAX,
		            "expected a FEATURE, INCREMENT or PACKAGE line");

	const char *tname = lm_line_type_name(l->type);
	const bool package = l->type == LM_LINE_PACKAGE;
	const int want = package ? 3 : 5;
	const char *usage = package ? "name vendor version" : "name vendor version expiry count";
	int npos = 0;
	while (1 + npos < n && !tok[1 + npos].value)
		npos++;
	if (npos < want)
		return fail(err, lineno, LMC_ESYNTAX,
		            "%s needs %d fields before its keywords (%s) but has %d", tname, want,
		            usage, npos);
	if (npos > want)
		return fail(err, lineno, LMC_ESYNTAX,
		            "unexpected '%.40s' after the %d fields of %s (%s); keywords are "
		            "written KEY=value",
		            tok[1 + want].word, want, tname, usage);

	const char *name = tok[1].word, *vendor = tok[2].word, *version = tok[3].word;
	if (!valid_name(name))
		return fail(err, lineno, LMC_ESYNTAX,
		            "%s name '%.40s' is invalid; names are 1 to %d letters, digits, '_', "
		            "'.' or '-'",
		            tname, name, LM_NAME_MAX);
	if (!valid_name(vendor))
		return fail(err, lineno, LMC_ESYNTAX,
		            "vendor name '%.40s' is invalid; names are 1 to %d letters, digits, "
		            "'_', '.' or '-'",
		            vendor, LM_NAME_MAX);
	if (!lm_version_valid(version))
		return fail(err, lineno, LMC_ESYNTAX,
		            "version '%.40s' is invalid; expected 1 to 4 numbers joined by dots, "
		            "as in 29.0 (at most %d characters)",
		            version, LM_VERSION_MAX);
	strcpy(l->name, name);
	strcpy(l->vendor, vendor);
	strcpy(l->version, version);

	if (package) {
		l->expiry = LM_DATE_PERMANENT;
	} else {
		const char *expiry = tok[4].word, *count = tok[5].word;
		unsigned long v;
		if (lm_date_parse(expiry, &l->expiry) != 0)
			return fail(err, lineno, LMC_ESYNTAX,
			            "expiry date '%.40s' is invalid; expected YYYY-MM-DD, "
			            "dd-mon-yyyy (1970 to 9999) or permanent",
			            expiry);
		if (strcasecmp(count, "uncounted") == 0)
			l->uncounted = true;
		else if (parse_number(count, COUNT_MAX, &v) == 0)
			l->count = (uint32_t)v;
		else
			return fail(
			        err, lineno, LMC_ESYNTAX,
			        "count '%.40s' is invalid; expected a number of seats from 1 to "
			        "%d, or uncounted",
			        count, COUNT_MAX);
	}

	unsigned seen = 0;
	for (int i = 1 + want; i < n; i++) {
		int k = keyword_lookup(tok[i].word);
		char list[200];
		if (!tok[i].value)
			return fail(err, lineno, LMC_ESYNTAX,
			            "unexpected '%.40s' among the keywords of %s; keywords are "
			            "written KEY=value",
			            tok[i].word, tname);
		if (k == LM_KW_SERVER_CODES && !canonical)
			return fail(
			        err, lineno, LMC_ESYNTAX,
			        "SERVER_CODES belongs only to the canonical form that "
			        "signatures cover; in a file the SERVER lines give the lock codes");
		if (k == LM_KW_SIGN && canonical)
			return fail(err, lineno, LMC_ESYNTAX,
			            "SIGN is not part of the canonical form; the signature travels "
			            "beside it");
		if (k < 0 || !keyword_allowed(l->type, canonical, k)) {
			allowed_list(l->type, canonical, list, sizeof list);
			return fail(err, lineno, LMC_ESYNTAX,
			            "%s keyword '%.40s' on %s line; %s lines take %s",
			            k < 0 ? "unknown" : "misplaced", tok[i].word, tname, tname,
			            list);
		}
		if (seen & (1u << k))
			return fail(err, lineno, LMC_ESYNTAX,
			            "keyword %s is given twice on this %s line; give it once",
			            keyword_names[k], tname);
		seen |= 1u << k;
		rc = set_keyword(l, (enum lm_keyword)k, tok[i].value, codes, ncodes, lineno, err);
		if (rc)
			return rc;
	}

	if (package && !(seen & (1u << LM_KW_COMPONENTS)))
		return fail(err, lineno, LMC_ESYNTAX,
		            "PACKAGE %s has no COMPONENTS; list its features, as in "
		            "COMPONENTS=\"a b c\"",
		            l->name);
	if (!package && l->uncounted && !l->has_hostid)
		return fail(err, lineno, LMC_ESYNTAX,
		            "%s %s is uncounted but has no HOSTID; an uncounted license must be "
		            "locked to a machine with HOSTID=<lock code>, or be counted and served",
		            tname, l->name);
	if (canonical && !package && !l->uncounted && *ncodes == 0)
		return fail(err, lineno, LMC_ESYNTAX, "%s %s is counted but has no SERVER_CODES",
		            tname, l->name);
	if (canonical && (package || l->uncounted) && *ncodes)
		return fail(err, lineno, LMC_ESYNTAX,
		            "%s %s is not counted and must not have SERVER_CODES", tname, l->name);
	return 0;
}

/* ---- SERVER and VENDOR lines ------------------------------------------- */

struct parser {
	struct lm_license_file *f;
	struct lm_parse_error *err;
	size_t lines_cap;
	size_t items_cap;
	int vendor_lineno;
};

static int check_plain_words(const struct token *tok, int n, const char *what, int lineno,
                             struct lm_parse_error *err)
{
	for (int i = 1; i < n; i++)
		if (tok[i].value)
			return fail(err, lineno, LMC_ESYNTAX,
			            "%s lines take no keywords, found %.40s=; expected %s",
			            tok[0].word, tok[i].word, what);
	return 0;
}

static int parse_server(struct parser *ps, char *line, int lineno)
{
	struct lm_license_file *f = ps->f;
	struct token tok[TOKENS_MAX];
	char msg[200];
	int n;
	const char *usage = "SERVER <host> <lock code> <port>";
	int rc = tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return fail(ps->err, lineno, rc, "%s", msg);
	rc = check_plain_words(tok, n, usage, lineno, ps->err);
	if (rc)
		return rc;
	if (n != 4)
		return fail(ps->err, lineno, LMC_ESYNTAX, "SERVER has %d fields; expected %s",
		            n - 1, usage);
	if (f->nservers == 3)
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "a fourth SERVER line; a license names one server, or three redundant "
		            "servers");

	struct lm_server_line *s = &f->servers[f->nservers];
	unsigned long port;
	char why[160];
	if (!valid_host(tok[1].word))
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "SERVER host '%.40s' is invalid; expected a host name or an IP address",
		            tok[1].word);
	if (lm_lockcode_parse(tok[2].word, &s->code, why, sizeof why) != 0)
		return fail(ps->err, lineno, LMC_EBADCODE,
		            "SERVER lock code '%.40s' is invalid: %s; run `lmutil lmhostid` on the "
		            "server to get it",
		            tok[2].word, why);
	if (parse_number(tok[3].word, 65535, &port) != 0)
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "SERVER port '%.40s' is invalid; expected a TCP port from 1 to 65535 "
		            "(27000 is usual)",
		            tok[3].word);
	for (int i = 0; i < f->nservers; i++)
		if (strcasecmp(f->servers[i].host, tok[1].word) == 0 && f->servers[i].port == port)
			return fail(ps->err, lineno, LMC_ESYNTAX,
			            "SERVER %s %lu is already named on line %d; redundant servers "
			            "need distinct addresses",
			            tok[1].word, port, f->servers[i].lineno);
	strcpy(s->host, tok[1].word);
	if (lm_lockcode_format(&s->code, s->code_text, sizeof s->code_text) != 0)
		return fail(ps->err, lineno, LMC_EBADCODE, "SERVER lock code cannot be printed");
	s->port = (uint16_t)port;
	s->lineno = lineno;
	f->nservers++;
	return 0;
}

static int parse_vendor(struct parser *ps, char *line, int lineno)
{
	struct token tok[TOKENS_MAX];
	char msg[200];
	int n;
	int rc = tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return fail(ps->err, lineno, rc, "%s", msg);
	rc = check_plain_words(tok, n, "VENDOR <vendor name>", lineno, ps->err);
	if (rc)
		return rc;
	if (n != 2)
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "VENDOR has %d fields; expected VENDOR <vendor name>", n - 1);
	if (ps->vendor_lineno)
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "a second VENDOR line (the first is line %d); a file serves one vendor",
		            ps->vendor_lineno);
	if (!valid_name(tok[1].word))
		return fail(ps->err, lineno, LMC_ESYNTAX,
		            "vendor name '%.40s' is invalid; names are 1 to %d letters, digits, "
		            "'_', '.' or '-'",
		            tok[1].word, LM_NAME_MAX);
	strcpy(ps->f->vendor, tok[1].word);
	ps->vendor_lineno = lineno;
	return 0;
}

/* ---- The file ---------------------------------------------------------- */

static int add_item(struct parser *ps, enum lm_item_kind kind, size_t index, const char *text,
                    int lineno)
{
	struct lm_license_file *f = ps->f;
	if (f->nitems >= LM_LICENSE_LINES_MAX)
		return fail(ps->err, lineno, LMC_ETOOLARGE,
		            "the file has more than %d lines (comments and blank lines included); "
		            "split it",
		            LM_LICENSE_LINES_MAX);
	if (f->nitems == ps->items_cap) {
		size_t cap = ps->items_cap ? ps->items_cap * 2 : 16;
		struct lm_license_item *items = realloc(f->items, cap * sizeof *items);
		if (!items)
			return fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
		f->items = items;
		ps->items_cap = cap;
	}
	struct lm_license_item *it = &f->items[f->nitems];
	it->kind = kind;
	it->index = index;
	it->text = NULL;
	if (text) {
		it->text = strdup(text);
		if (!it->text)
			return fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
	}
	f->nitems++;
	return 0;
}

static int parse_license(struct parser *ps, char *line, int lineno)
{
	struct lm_license_file *f = ps->f;
	if (f->nlines == ps->lines_cap) {
		size_t cap = ps->lines_cap ? ps->lines_cap * 2 : 8;
		struct lm_license *lines = realloc(f->lines, cap * sizeof *lines);
		if (!lines)
			return fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
		f->lines = lines;
		ps->lines_cap = cap;
	}
	int rc = lm_license_parse_line(line, lineno, false, &f->lines[f->nlines], NULL, NULL,
	                               ps->err);
	if (rc)
		return rc;
	f->nlines++;
	return add_item(ps, LM_ITEM_LICENSE, f->nlines - 1, NULL, lineno);
}

static int parse_logical(struct parser *ps, char *line, int lineno)
{
	char *p = line;
	while (is_blank(*p))
		p++;
	if (!*p)
		return add_item(ps, LM_ITEM_TEXT, 0, "", lineno);
	size_t wlen = strcspn(p, " \t");
	char word[16];
	enum lm_line_type type;
	int rc;
	snprintf(word, sizeof word, "%.*s", (int)(wlen < 15 ? wlen : 15), p);
	if (wlen < sizeof word && strcasecmp(word, "SERVER") == 0) {
		rc = parse_server(ps, p, lineno);
		return rc ? rc
		          : add_item(ps, LM_ITEM_SERVER, (size_t)ps->f->nservers - 1, NULL, lineno);
	}
	if (wlen < sizeof word && strcasecmp(word, "VENDOR") == 0) {
		rc = parse_vendor(ps, p, lineno);
		return rc ? rc : add_item(ps, LM_ITEM_VENDOR, 0, NULL, lineno);
	}
	if (wlen < sizeof word && parse_type(word, &type) == 0)
		return parse_license(ps, p, lineno);
	return fail(ps->err, lineno, LMC_ESYNTAX,
	            "unknown line type '%.*s'; expected SERVER, VENDOR, FEATURE, INCREMENT or "
	            "PACKAGE (comment lines start with #)",
	            (int)(wlen < 40 ? wlen : 40), p);
}

/* Rules that involve several lines, checked in file order once every line
 * is read, so that SERVER and VENDOR lines may come anywhere. */
static int check_file(struct parser *ps)
{
	struct lm_license_file *f = ps->f;
	for (size_t i = 0; i < f->nitems; i++) {
		const struct lm_license_item *it = &f->items[i];
		if (it->kind == LM_ITEM_SERVER && it->index == 1 && f->nservers == 2)
			return fail(ps->err, f->servers[1].lineno, LMC_ESYNTAX,
			            "the file has 2 SERVER lines; a license names one server, or "
			            "three redundant servers (a majority of two must agree)");
		if (it->kind != LM_ITEM_LICENSE)
			continue;
		const struct lm_license *l = &f->lines[it->index];
		const char *tname = lm_line_type_name(l->type);
		if (f->vendor[0] && strcmp(l->vendor, f->vendor) != 0)
			return fail(
			        ps->err, l->lineno, LMC_ESYNTAX,
			        "%s %s names vendor '%s' but the VENDOR line (line %d) names '%s'",
			        tname, l->name, l->vendor, ps->vendor_lineno, f->vendor);
		if (l->type != LM_LINE_PACKAGE && !l->uncounted && f->nservers == 0)
			return fail(
			        ps->err, l->lineno, LMC_ESYNTAX,
			        "%s %s is counted (%u seats) but the file has no SERVER line; "
			        "counted licenses are served by lmd: add SERVER lines, or make it "
			        "uncounted with a HOSTID",
			        tname, l->name, (unsigned)l->count);
	}
	return 0;
}

void lm_license_free(struct lm_license_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nitems; i++)
		free(f->items[i].text);
	free(f->items);
	free(f->lines);
	memset(f, 0, sizeof *f);
}

/* Trailing blanks never matter, and removing them lets a `\` followed by a
 * stray space still continue the line, as people expect. */
static size_t trim_right(const char *s, size_t n)
{
	while (n && is_blank(s[n - 1]))
		n--;
	return n;
}

int lm_license_parse(const char *text, size_t len, struct lm_license_file *f,
                     struct lm_parse_error *err)
{
	struct lm_parse_error scratch;
	struct parser ps = {.f = f, .err = err ? err : &scratch};
	char msg[200];
	int rc = 0;

	memset(f, 0, sizeof *f);
	memset(ps.err, 0, sizeof *ps.err);
	if (!text && len)
		return fail(ps.err, 0, LMC_EINVAL, "no text to parse");
	/* Room for the longest logical line, the space that replaces a
	 * continuation, and the NUL. */
	char *line = malloc(LM_LINE_MAX + 2);
	if (!line)
		return fail(ps.err, 0, LMC_ENOMEM, "out of memory");

	size_t pos = 0;
	int phys = 0;
	/* Editors on Windows start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len && rc == 0) {
		int first = phys + 1;
		size_t ll = 0;
		bool more = false, comment = false;
		do {
			const char *start = text + pos;
			const char *nl = memchr(start, '\n', len - pos);
			size_t plen = nl ? (size_t)(nl - start) : len - pos;
			pos += plen + (nl != NULL);
			phys++;
			if (plen && start[plen - 1] == '\r')
				plen--;
			plen = trim_right(start, plen);
			if (ll + plen > LM_LINE_MAX) {
				rc = fail(ps.err, first, LMC_ETOOLARGE,
				          "line is longer than %d bytes (continuation lines "
				          "included); a license line is much shorter, is this a "
				          "license file?",
				          LM_LINE_MAX);
				break;
			}
			rc = lm_license_check_text(start, plen, msg, sizeof msg);
			if (rc) {
				fail(ps.err, phys, rc, "%s", msg);
				break;
			}
			size_t lead = 0;
			while (lead < plen && is_blank(start[lead]))
				lead++;
			/* A comment is one physical line: a backslash ending a
			 * sentence does not swallow the next line. */
			comment = ll == 0 && lead < plen && start[lead] == '#';
			more = !comment && plen && start[plen - 1] == '\\';
			if (more)
				plen--;
			memcpy(line + ll, start, plen);
			ll += plen;
			if (more)
				line[ll++] = ' ';
		} while (more && pos < len);
		if (rc)
			break;
		line[ll] = '\0';
		if (comment)
			rc = add_item(&ps, LM_ITEM_TEXT, 0, line, first);
		else
			rc = parse_logical(&ps, line, first);
	}
	free(line);
	if (rc == 0)
		rc = check_file(&ps);
	if (rc) {
		lm_license_free(f);
		return rc;
	}
	return 0;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a special file";
}

int lm_license_load(const char *path, struct lm_license_file *f, struct lm_parse_error *err)
{
	struct lm_parse_error scratch;
	if (!err)
		err = &scratch;
	memset(f, 0, sizeof *f);
	memset(err, 0, sizeof *err);
	/* O_NONBLOCK so that opening a FIFO returns at once instead of
	 * waiting for a writer; symbolic links are followed, since
	 * administrators link license files into place. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, 0, LMC_EIO, "cannot open %.200s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return fail(err, 0, LMC_EIO, "cannot stat %.200s: %s", path, strerror(e));
	}
	/* Checked on what was opened, not on the name, so that the file cannot
	 * be swapped between a check and the read.  A FIFO or a device would
	 * block the reader or never end. */
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, 0, LMC_EIO,
		            "%.200s is %s, not a regular file; a license file must be a regular "
		            "file",
		            path, file_kind(st.st_mode));
	}
	if ((uintmax_t)st.st_size > FILE_MAX) {
		close(fd);
		return fail(err, 0, LMC_ETOOLARGE,
		            "%.200s is larger than %zu bytes; it is not a license file", path,
		            FILE_MAX);
	}
	FILE *in = fdopen(fd, "rb");
	if (!in) {
		int e = errno;
		close(fd);
		return fail(err, 0, LMC_ENOMEM, "cannot read %.200s: %s", path, strerror(e));
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		fclose(in);
		return fail(err, 0, LMC_ENOMEM, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			if (cap > FILE_MAX) {
				rc = fail(
				        err, 0, LMC_ETOOLARGE,
				        "%.200s is larger than %zu bytes; it is not a license file",
				        path, FILE_MAX);
				break;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				rc = fail(err, 0, LMC_ENOMEM, "out of memory");
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, in);
		len += got;
		if (got == 0) {
			if (ferror(in))
				rc = fail(err, 0, LMC_EIO, "cannot read %.200s: %s", path,
				          strerror(errno));
			break;
		}
	}
	fclose(in);
	if (rc == 0)
		rc = lm_license_parse(buf, len, f, err);
	free(buf);
	return rc;
}
