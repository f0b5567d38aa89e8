/* License lines: FEATURE, INCREMENT and PACKAGE, their positional fields
 * and keywords, in a license file or in the canonical form a server sends
 * with the signature.  Every limit of core/limits.h that a line can break is
 * checked here, and every refusal names the line and what was expected. */
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

static int keyword_lookup(const char *word)
{
	for (int k = 0; k < LM_KW_COUNT; k++)
		if (strcasecmp(word, lm_keyword_name(k)) == 0)
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
		         lm_keyword_name(k));
	}
}

static int set_text(char *dst, const char *value, const char *key, int lineno,
                    struct lm_parse_error *err)
{
	size_t n = strlen(value);
	if (n == 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s has an empty value; leave it out instead", key);
	if (n >= LM_TEXT_MAX)
		return lm_license_fail(err, lineno, LMC_ETOOLARGE,
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
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
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
	if (lm_license_parse_number(value, max, &v) != 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s='%.40s' is not a number from 1 to %lu", key, value, max);
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
		while (lm_license_is_blank(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !lm_license_is_blank(*p))
			p++;
		size_t len = (size_t)(p - start);
		char name[LM_NAME_MAX + 1];
		if (len > LM_NAME_MAX)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "COMPONENTS: '%.40s...' is longer than %d characters", start,
			        LM_NAME_MAX);
		memcpy(name, start, len);
		name[len] = '\0';
		if (!lm_license_valid_name(name))
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "COMPONENTS: '%.40s' is not a feature name (letters, digits, "
			        "'_', '.' and '-')",
			        name);
		/* A component named twice would count its seats twice. */
		for (const char *q = buf; n && q < buf + o;) {
			size_t ql = strcspn(q, " ");
			if (ql == len && memcmp(q, name, len) == 0)
				return lm_license_fail(
				        err, lineno, LMC_ESYNTAX,
				        "COMPONENTS names '%s' twice; name each component once",
				        name);
			q += ql + 1;
		}
		if (o + (n ? 1 : 0) + len >= sizeof buf)
			return lm_license_fail(err, lineno, LMC_ETOOLARGE,
			                       "COMPONENTS is longer than %d bytes",
			                       LM_TEXT_MAX - 1);
		if (n)
			buf[o++] = ' ';
		memcpy(buf + o, name, len);
		o += len;
		buf[o] = '\0';
		n++;
	}
	if (n == 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "COMPONENTS is empty; list the package's features, as in "
		                       "COMPONENTS=\"a b c\"");
	memcpy(l->components, buf, o + 1);
	return 0;
}

static int set_server_codes(const char *value, struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX],
                            int *ncodes, int lineno, struct lm_parse_error *err)
{
	char copy[LM_TEXT_MAX];
	if (strlen(value) >= sizeof copy)
		return lm_license_fail(err, lineno, LMC_ETOOLARGE, "SERVER_CODES is too long");
	strcpy(copy, value);
	int n = 0;
	for (char *save, *c = strtok_r(copy, " \t", &save); c; c = strtok_r(NULL, " \t", &save)) {
		char why[160];
		if (n == 3)
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "SERVER_CODES lists more than 3 lock codes");
		if (lm_lockcode_parse(c, &codes[n], why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE, "SERVER_CODES: %s", why);
		n++;
	}
	if (n != 1 && n != 3)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "SERVER_CODES lists %d lock codes; expected 1 or 3", n);
	*ncodes = n;
	return 0;
}

static int set_keyword(struct lm_license *l, enum lm_keyword k, const char *value,
                       struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX], int *ncodes, int lineno,
                       struct lm_parse_error *err)
{
	const char *key = lm_keyword_name(k);
	char why[160];
	unsigned long v;
	switch (k) {
	case LM_KW_HOSTID:
		if (lm_lockcode_parse(value, &l->hostid, why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE,
			                       "HOSTID is not a valid lock code: %s", why);
		l->has_hostid = true;
		return 0;
	case LM_KW_AUTH: {
		uint8_t sym[LM_CODE32_MAX_SYMBOLS];
		size_t n;
		if (lm_code32_decode(value, sym, sizeof sym, &n, why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE,
			                       "AUTH is not a valid authorization code: %s", why);
		if (lm_code32_encode(sym, n, 4, l->auth, sizeof l->auth) != 0)
			return lm_license_fail(err, lineno, LMC_ETOOLARGE, "AUTH is too long");
		return 0;
	}
	case LM_KW_START: return set_date(&l->start, value, key, lineno, err);
	case LM_KW_ISSUED: return set_date(&l->issued, value, key, lineno, err);
	case LM_KW_NOTICE: return set_text(l->notice, value, key, lineno, err);
	case LM_KW_HOST_DESC: return set_text(l->host_desc, value, key, lineno, err);
	case LM_KW_SN: return set_text(l->sn, value, key, lineno, err);
	case LM_KW_NAMED_USERS:
		return set_number(&l->named_users, value, LM_LICENSE_NAMED_USERS_MAX, key, lineno,
		                  err);
	case LM_KW_BORROW:
		return set_number(&l->borrow_hours, value, LM_LICENSE_BORROW_HOURS_MAX, key, lineno,
		                  err);
	case LM_KW_TOLERANCE:
		/* 0 is a valid tolerance (every criterion must match), so
		 * parse_number's lower bound of 1 does not fit here. */
		if (strcmp(value, "0") == 0) {
			l->tolerance = 0;
			return 0;
		}
		if (lm_license_parse_number(value, LM_LICENSE_TOLERANCE_MAX, &v) != 0)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "TOLERANCE='%.40s' is not a number from 0 to %d (how many "
			        "lock code criteria may differ)",
			        value, LM_LICENSE_TOLERANCE_MAX);
		l->tolerance = (int)v;
		return 0;
	case LM_KW_COMPONENTS: return set_components(l, value, lineno, err);
	case LM_KW_OPTIONS:
		if (strcasecmp(value, "SUITE") != 0)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "OPTIONS='%.40s' is unknown; the only option is SUITE", value);
		l->suite = true;
		return 0;
	case LM_KW_SIGN:
		if (lm_license_sig_parse(value, l->sig, why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE,
			                       "SIGN is not a valid signature: %s", why);
		l->has_sig = true;
		return 0;
	case LM_KW_SERVER_CODES: return set_server_codes(value, codes, ncodes, lineno, err);
	case LM_KW_COUNT: break;
	}
	return lm_license_fail(err, lineno, LMC_ESYNTAX, "unknown keyword");
}

int lm_license_parse_line(char *line, int lineno, bool canonical, struct lm_license *l,
                          struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX], int *ncodes,
                          struct lm_parse_error *err)
{
	struct lm_license_token tok[LM_LICENSE_TOKENS_MAX];
	char msg[200];
	int n, rc;
	struct lm_lockcode unused_codes[LM_LICENSE_SERVERS_MAX];
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

	rc = lm_license_tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return lm_license_fail(err, lineno, rc, "%s", msg);
	if (n == 0 || tok[0].value || lm_license_parse_type(tok[0].word, &l->type) != 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "expected a FEATURE, INCREMENT or PACKAGE line");

	const char *tname = lm_line_type_name(l->type);
	const bool package = l->type == LM_LINE_PACKAGE;
	const int want = package ? 3 : 5;
	const char *usage = package ? "name vendor version" : "name vendor version expiry count";
	int npos = 0;
	while (1 + npos < n && !tok[1 + npos].value)
		npos++;
	if (npos < want)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s needs %d fields before its keywords (%s) but has %d",
		                       tname, want, usage, npos);
	if (npos > want)
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "unexpected '%.40s' after the %d fields of %s (%s); keywords are "
		        "written KEY=value",
		        tok[1 + want].word, want, tname, usage);

	const char *name = tok[1].word, *vendor = tok[2].word, *version = tok[3].word;
	if (!lm_license_valid_name(name))
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "%s name '%.40s' is invalid; names are 1 to %d letters, digits, '_', "
		        "'.' or '-'",
		        tname, name, LM_NAME_MAX);
	if (!lm_license_valid_name(vendor))
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "vendor name '%.40s' is invalid; names are 1 to %d letters, digits, "
		        "'_', '.' or '-'",
		        vendor, LM_NAME_MAX);
	if (!lm_version_valid(version))
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
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
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "expiry date '%.40s' is invalid; expected YYYY-MM-DD, "
			        "dd-mon-yyyy (1970 to 9999) or permanent",
			        expiry);
		/* FlexLM writes an uncounted license's count as 0 as well. */
		if (strcasecmp(count, "uncounted") == 0 || strcmp(count, "0") == 0)
			l->uncounted = true;
		else if (lm_license_parse_number(count, LM_LICENSE_COUNT_MAX, &v) == 0)
			l->count = (uint32_t)v;
		else
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "count '%.40s' is invalid; expected a number of seats from 1 to "
			        "%d, or uncounted (or 0)",
			        count, LM_LICENSE_COUNT_MAX);
	}

	unsigned seen = 0;
	for (int i = 1 + want; i < n; i++) {
		int k = keyword_lookup(tok[i].word);
		char list[200];
		if (!tok[i].value)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "unexpected '%.40s' among the keywords of %s; keywords are "
			        "written KEY=value",
			        tok[i].word, tname);
		if (k == LM_KW_SERVER_CODES && !canonical)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "SERVER_CODES belongs only to the canonical form that "
			        "signatures cover; in a file the SERVER lines give the lock codes");
		if (k == LM_KW_SIGN && canonical)
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "SIGN is not part of the canonical form; the signature travels "
			        "beside it");
		if (k < 0 || !keyword_allowed(l->type, canonical, k)) {
			allowed_list(l->type, canonical, list, sizeof list);
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "%s keyword '%.40s' on %s line; %s lines take %s",
			                       k < 0 ? "unknown" : "misplaced", tok[i].word, tname,
			                       tname, list);
		}
		if (seen & (1u << k))
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "keyword %s is given twice on this %s line; give it once",
			        lm_keyword_name(k), tname);
		seen |= 1u << k;
		rc = set_keyword(l, (enum lm_keyword)k, tok[i].value, codes, ncodes, lineno, err);
		if (rc)
			return rc;
	}

	if (package && !(seen & (1u << LM_KW_COMPONENTS)))
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "PACKAGE %s has no COMPONENTS; list its features, as in "
		                       "COMPONENTS=\"a b c\"",
		                       l->name);
	if (!package && l->uncounted && !l->has_hostid)
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "%s %s is uncounted but has no HOSTID; an uncounted license must be "
		        "locked to a machine with HOSTID=<lock code>, or be counted and served",
		        tname, l->name);
	if (canonical && !package && !l->uncounted && *ncodes == 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s is counted but has no SERVER_CODES", tname, l->name);
	if (canonical && (package || l->uncounted) && *ncodes)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s is not counted and must not have SERVER_CODES", tname,
		                       l->name);
	return 0;
}
