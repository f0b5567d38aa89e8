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

/* Named users (USER_BASED, NAMED_USERS) and hosts (HOST_BASED): the list
 * lives on the server, so the line must be counted; one list per line, of
 * at most as many names as the line has seats, so that every named user
 * (host) can always get one. */
static int check_named(const struct lm_license *l, const char *tname, int lineno,
                       struct lm_parse_error *err)
{
	int kinds = (l->user_based.max > 0) + (l->named_users > 0) + (l->host_based.max > 0);
	uint32_t max;
	if (kinds == 0)
		return 0;
	if (kinds > 1)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s has more than one of USER_BASED, NAMED_USERS and "
		                       "HOST_BASED; a feature is limited to named users or to "
		                       "named hosts, not both: keep one",
		                       tname, l->name);
	if (l->uncounted)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s is uncounted; named users and hosts are kept by "
		                       "the license server, so they belong on counted lines only",
		                       tname, l->name);
	lm_license_named_rule(l, &max);
	if (max > l->count)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s names %u %s but has only %u seats; at most as many "
		                       "names as seats, so that each can use it",
		                       tname, l->name, (unsigned)max,
		                       l->host_based.max ? "hosts" : "users", (unsigned)l->count);
	return 0;
}

/* A pre-v8.1 FlexLM license key: 12 or 20 hex digits, and MathWorks'
 * passcodes of 17 in between, so any of 12 to 20. */
static int is_license_key(const char *word)
{
	size_t n = strlen(word);
	return n >= 12 && n <= 20 && strspn(word, "0123456789abcdefABCDEF") == n;
}

/* The keywords written without a value (FlexLM's flags, and USER_BASED,
 * HOST_BASED and SUPERSEDE, whose value is optional). */
static bool is_bare_keyword(int k)
{
	return k == LM_KW_TS_OK || k == LM_KW_SUPERSEDE || k == LM_KW_USER_BASED ||
	       k == LM_KW_HOST_BASED;
}

/* One keyword token of a line: a known keyword, TS_OK, a vendor attribute,
 * FlexLM's ck= (ignored), or a refusal that says why. */
static int parse_keyword(struct lm_license *l, const struct lm_license_token *t, bool canonical,
                         unsigned *seen, struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX],
                         int *ncodes, int lineno, struct lm_parse_error *err)
{
	const char *tname = lm_line_type_name(l->type);
	const char *meaning = lm_license_unsupported(t->word);
	int k = lm_license_keyword_lookup(t->word);
	char list[300];
	if (meaning)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%.40s (which %s) is a FlexLM keyword lmd does not support "
		                       "yet; remove it, or keep this line on FlexLM",
		                       t->word, meaning);
	if (!canonical && t->value && strcmp(t->word, "ck") == 0)
		return 0;
	if (k < 0 && lm_license_attribute_key(t->word))
		k = LM_KW_ATTRIBUTES;
	if (!t->value && !is_bare_keyword(k))
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "unexpected '%.40s' among the keywords of %s; keywords are "
		                       "written KEY=value",
		                       t->word, tname);
	if (k == LM_KW_SERVER_KEYS && !canonical)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "SERVER_KEYS belongs only to the canonical form that "
		                       "signatures cover; in a file each SERVER line's KEY= pins "
		                       "its server's key");
	if (k == LM_KW_SERVER_CODES && !canonical)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "SERVER_CODES belongs only to the canonical form that "
		                       "signatures cover; in a file the SERVER lines give the lock "
		                       "codes");
	if (k == LM_KW_SIGN && canonical)
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "SIGN is not part of the canonical form; the signature travels "
		        "beside it");
	if (k < 0 || !lm_license_keyword_allowed(l->type, canonical, k)) {
		lm_license_allowed_list(l->type, canonical, list, sizeof list);
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX, "%s keyword '%.40s' on %s line; %s lines take %s",
		        k < 0 ? "unknown" : "misplaced", t->word, tname, tname, list);
	}
	if (k != LM_KW_ATTRIBUTES && (*seen & (1u << k)))
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "keyword %s is given twice on this %s line; give it once",
		                       lm_keyword_name(k), tname);
	*seen |= 1u << k;
	return lm_license_set_keyword(l, (enum lm_keyword)k, t->word, t->value, codes, ncodes,
	                              lineno, err);
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
	while (1 + npos < n && !tok[1 + npos].value && npos <= want)
		npos++;
	/* A positional license key: signed by FlexLM, meaningless here. */
	int first_keyword = 1 + want;
	if (!canonical && npos == want + 1 && is_license_key(tok[1 + want].word)) {
		first_keyword++;
		npos = want;
	} else if (npos == want + 1 &&
	           is_bare_keyword(lm_license_keyword_lookup(tok[1 + want].word))) {
		npos = want;
	}
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
	if (!lm_license_valid_feature_name(name))
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "%s name '%.40s' is invalid; names are 1 to %d letters, digits, '_', "
		        "'.', '-' or '/'",
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
	for (int i = first_keyword; i < n; i++) {
		rc = parse_keyword(l, &tok[i], canonical, &seen, codes, ncodes, lineno, err);
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
	if (l->overdraft && l->uncounted)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s is uncounted; OVERDRAFT lends seats beyond a count, "
		                       "so it belongs on counted lines only",
		                       tname, l->name);
	rc = check_named(l, tname, lineno, err);
	if (rc)
		return rc;
	if ((l->dup_group || l->suite_dup_group) && l->uncounted)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s is uncounted; %s shares the seats of a "
		                       "count, so it belongs on counted lines only",
		                       tname, l->name,
		                       l->dup_group ? "DUP_GROUP" : "SUITE_DUP_GROUP");
	/* FlexLM decides which line is newer by ISSUED: without it a
	 * SUPERSEDE line could replace its own replacement. */
	if (l->supersede && l->issued == LM_DATE_NONE)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s %s has SUPERSEDE but no ISSUED date; SUPERSEDE replaces "
		                       "lines issued before this one, so it needs ISSUED=",
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
