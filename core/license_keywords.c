/* The values of license keywords: which line takes which keyword, how each
 * value is read and checked, FlexLM's host ids and the keywords lmd refuses
 * because it does not do what they say, and vendor attributes. */
#include "core/license.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/license_internal.h"
#include "core/server_key.h"

/* FlexLM keywords lmd reads but does not implement: accepting them would
 * sell terms the server ignores, so they are refused, saying so. */
static const struct {
	const char *word;
	const char *meaning;
} unsupported[] = {
        {"MINIMUM", "checks out a minimum number of seats"},
        {"PLATFORMS", "limits the feature to some platforms"},
        {"CAPACITY", "counts seats by machine capacity"},
        {"FLOAT_OK", "lets a node-locked license float"},
        {"ONE_TS_OK", "allows one terminal server session"},
        {"sort", "orders the lines of the file"},
};

const char *lm_license_unsupported(const char *word)
{
	for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
		if (strcasecmp(word, unsupported[i].word) == 0)
			return unsupported[i].meaning;
	return NULL;
}

enum lm_named_kind lm_license_named_rule(const struct lm_license *l, uint32_t *max)
{
	if (l->user_based.max || l->named_users) {
		*max = l->user_based.max ? l->user_based.max : l->named_users;
		return LM_NAMED_USERS;
	}
	*max = l->host_based.max;
	return *max ? LM_NAMED_HOSTS : LM_NAMED_NONE;
}

int lm_license_attribute_key(const char *word)
{
	size_t n = strlen(word);
	if (n == 0 || n > LM_LICENSE_ATTR_KEY_MAX || !islower((unsigned char)word[0]))
		return 0;
	for (const char *p = word; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

void lm_license_escape(const char *value, char *buf, size_t size)
{
	size_t o = 0;
	for (const char *p = value; *p && o + 2 < size; p++) {
		if (*p == '"')
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	if (size)
		buf[o < size ? o : size - 1] = '\0';
}

int lm_license_keyword_lookup(const char *word)
{
	for (int k = 0; k < LM_KW_COUNT; k++)
		if (k != LM_KW_ATTRIBUTES && strcasecmp(word, lm_keyword_name(k)) == 0)
			return k;
	return -1;
}

int lm_license_keyword_allowed(enum lm_line_type type, bool canonical, int k)
{
	if (k == LM_KW_SIGN)
		return !canonical;
	if (k == LM_KW_SERVER_CODES || k == LM_KW_SERVER_KEYS)
		return canonical && type != LM_LINE_PACKAGE;
	/* Text that only describes the line fits every type. */
	if (k == LM_KW_VENDOR_STRING || k == LM_KW_ISSUER || k == LM_KW_ATTRIBUTES)
		return 1;
	/* A PACKAGE line also takes ISSUED and SUPERSEDE, as FlexNet's do:
	 * a newer PACKAGE replaces the older ones of its name. */
	if (type == LM_LINE_PACKAGE)
		return k == LM_KW_COMPONENTS || k == LM_KW_OPTIONS || k == LM_KW_ISSUED ||
		       k == LM_KW_SUPERSEDE;
	return k != LM_KW_COMPONENTS && k != LM_KW_OPTIONS;
}

void lm_license_allowed_list(enum lm_line_type type, bool canonical, char *buf, size_t size)
{
	int total = 0, seen = 0;
	for (int k = 0; k < LM_KW_COUNT; k++)
		total += lm_license_keyword_allowed(type, canonical, k);
	buf[0] = '\0';
	for (int k = 0; k < LM_KW_COUNT; k++) {
		if (!lm_license_keyword_allowed(type, canonical, k))
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
	/* Quotes are written back as \" between quotes, which reads back
	 * only when a non-blank follows them (see lm_license_tokenize). */
	for (const char *q = strchr(value, '"'); q; q = strchr(q + 1, '"'))
		if (lm_license_is_blank(q[1]))
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "%s has a quote followed by a blank; lmd cannot "
			                       "keep that",
			                       key);
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

/* A list of names separated by blanks (COMPONENTS, SUPERSEDE), kept in the
 * vendor's order with single spaces in dst (size bytes), each name once: a
 * component or a feature named twice would count twice.  With versions,
 * an item may be FlexLM's name:version. */
static int set_name_list(char *dst, size_t size, const char *value, const char *key, bool versions,
                         int lineno, struct lm_parse_error *err)
{
	size_t o = 0;
	const char *p = value;
	for (;;) {
		while (lm_license_is_blank(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !lm_license_is_blank(*p))
			p++;
		size_t len = (size_t)(p - start), name_len = len;
		char item[LM_NAME_MAX + 1 + LM_VERSION_MAX + 1];
		size_t item_max = versions ? sizeof item - 1 : LM_NAME_MAX;
		if (len > item_max)
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "%s: '%.40s...' is longer than %zu characters", key,
			                       start, item_max);
		memcpy(item, start, len);
		item[len] = '\0';
		char *version = versions ? strchr(item, ':') : NULL;
		if (version) {
			*version++ = '\0';
			name_len = strlen(item);
			/* FlexLM's component:version:count, a component that
			 * takes several seats of the package. */
			if (strchr(version, ':'))
				return lm_license_fail(
				        err, lineno, LMC_ESYNTAX,
				        "%s: '%.40s' gives a count; lmd does not support "
				        "component counts yet",
				        key, start);
			if (!lm_version_valid(version))
				return lm_license_fail(err, lineno, LMC_ESYNTAX,
				                       "%s: '%.40s' is not a version, as in %s:2.0",
				                       key, version, item);
		}
		if (!lm_license_valid_name(item))
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "%s: '%.40s' is not a feature name (letters, digits, "
			        "'_', '.' and '-')",
			        key, item);
		for (const char *q = dst; o && q < dst + o;) {
			size_t ql = strcspn(q, " ");
			if (strcspn(q, " :") == name_len && memcmp(q, item, name_len) == 0)
				return lm_license_fail(err, lineno, LMC_ESYNTAX,
				                       "%s names '%s' twice; name each once", key,
				                       item);
			q += ql + 1;
		}
		if (o + (o ? 1 : 0) + len >= size)
			return lm_license_fail(err, lineno, LMC_ETOOLARGE,
			                       "%s is longer than %zu bytes", key, size - 1);
		if (o)
			dst[o++] = ' ';
		memcpy(dst + o, start, len);
		o += len;
		dst[o] = '\0';
	}
	return o ? 0 : 1;
}

/* COMPONENTS="a b:2.0 c": the features of a package. */
static int set_components(struct lm_license *l, const char *value, int lineno,
                          struct lm_parse_error *err)
{
	int rc = set_name_list(l->components, sizeof l->components, value, "COMPONENTS", true,
	                       lineno, err);
	if (rc == 1)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "COMPONENTS is empty; list the package's features, as in "
		                       "COMPONENTS=\"a b c\"");
	return rc;
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

/* SUPERSEDE="f1 f2": the features whose older lines this one replaces. */
static int set_supersede(struct lm_license *l, const char *value, int lineno,
                         struct lm_parse_error *err)
{
	int rc = set_name_list(l->supersede_list, sizeof l->supersede_list, value, "SUPERSEDE",
	                       false, lineno, err);
	if (rc == 1)
		return lm_license_fail(
		        err, lineno, LMC_ESYNTAX,
		        "SUPERSEDE is empty; write SUPERSEDE alone for this feature, "
		        "or SUPERSEDE=\"f1 f2\"");
	if (rc == 0)
		l->supersede = true;
	return rc;
}

/* DUP_GROUP=NONE, SITE, or some of the letters U, H, D and V (the vendor
 * data the application sets, core/vendor_data.h), each once (FlexLM's UHD
 * is the usual one: one seat per person at one display). */
static int set_dup_group(unsigned *dst, const char *value, const char *key, int lineno,
                         struct lm_parse_error *err)
{
	static const char letters[] = "UHDV";
	unsigned group = 0;
	if (strcasecmp(value, "NONE") == 0) {
		*dst = LM_DUP_NONE;
		return 0;
	}
	if (strcasecmp(value, "SITE") == 0) {
		*dst = LM_DUP_SITE;
		return 0;
	}
	for (const char *p = value; *p; p++) {
		const char *at = strchr(letters, toupper((unsigned char)*p));
		unsigned bit = at && *at ? 1u << (at - letters) : 0;
		if (!bit || (group & bit))
			return lm_license_fail(
			        err, lineno, LMC_ESYNTAX,
			        "%s='%.40s' is not a duplicate group; expected NONE, SITE, or the "
			        "letters U (user), H (host), D (display) and V (vendor data), "
			        "each once, as in %s=UHD",
			        key, value, key);
		group |= bit;
	}
	if (!group)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "%s has an empty value; expected NONE, SITE or letters "
		                       "of UHDV",
		                       key);
	*dst = group;
	return 0;
}

void lm_license_dup_group_format(unsigned dup_group, char *buf, size_t size)
{
	size_t o = 0;
	if (!size)
		return;
	buf[0] = '\0';
	if (dup_group & LM_DUP_NONE) {
		snprintf(buf, size, "NONE");
		return;
	}
	if (dup_group & LM_DUP_SITE) {
		snprintf(buf, size, "SITE");
		return;
	}
	for (int i = 0; i < 4 && o + 1 < size; i++)
		if (dup_group & (1u << i))
			buf[o++] = "UHDV"[i];
	buf[o] = '\0';
}

/* HOSTID= names a lock code, a FlexLM host id, or a quoted list of them
 * (core/hostid.h). */
static int set_hostid(struct lm_license *l, const char *value, int lineno,
                      struct lm_parse_error *err)
{
	char why[400];
	l->has_hostid = true;
	int rc = lm_hostid_parse(value, &l->hostid, why, sizeof why);
	if (rc)
		return lm_license_fail(err, lineno, rc, "%s", why);
	/* The canonical form writes the list out again: it must fit there. */
	char normalised[LM_TEXT_MAX];
	if (lm_hostid_format(&l->hostid, normalised, sizeof normalised) != 0)
		return lm_license_fail(err, lineno, LMC_ETOOLARGE,
		                       "HOSTID is longer than %d characters once normalised",
		                       LM_TEXT_MAX - 1);
	return 0;
}

/* A lower-case KEY=value, kept sorted by key so that the canonical form
 * does not depend on the order the vendor wrote them in. */
static int set_attribute(struct lm_license *l, const char *key, const char *value, int lineno,
                         struct lm_parse_error *err)
{
	if (!value)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "unexpected '%.40s' among the keywords; vendor attributes "
		                       "are written key=value",
		                       key);
	int at = 0;
	while (at < l->nattrs && strcmp(l->attrs[at].key, key) < 0)
		at++;
	if (at < l->nattrs && strcmp(l->attrs[at].key, key) == 0)
		return lm_license_fail(err, lineno, LMC_ESYNTAX,
		                       "attribute %s is given twice on this line; give it once",
		                       key);
	if (l->nattrs == LM_LICENSE_ATTRS_MAX)
		return lm_license_fail(err, lineno, LMC_ETOOLARGE,
		                       "more than %d vendor attributes (lower-case key=value) on "
		                       "one line",
		                       LM_LICENSE_ATTRS_MAX);
	struct lm_license_attr attr;
	snprintf(attr.key, sizeof attr.key, "%s", key);
	int rc = set_text(attr.value, value, key, lineno, err);
	if (rc)
		return rc;
	memmove(&l->attrs[at + 1], &l->attrs[at], (size_t)(l->nattrs - at) * sizeof attr);
	l->attrs[at] = attr;
	l->nattrs++;
	return 0;
}

/* The identity keys the SERVER lines pinned (KEY=), in the order of
 * SERVER_CODES; lm_license_parse_canonical checks that the counts agree. */
static int set_server_keys(struct lm_license *l, const char *value, int lineno,
                           struct lm_parse_error *err)
{
	char copy[LM_TEXT_MAX];
	if (strlen(value) >= sizeof copy)
		return lm_license_fail(err, lineno, LMC_ETOOLARGE, "SERVER_KEYS is too long");
	strcpy(copy, value);
	int n = 0;
	for (char *save, *k = strtok_r(copy, " \t", &save); k; k = strtok_r(NULL, " \t", &save)) {
		char why[200];
		if (n == LM_LICENSE_SERVERS_MAX)
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "SERVER_KEYS lists more than 3 keys");
		if (lm_server_key_parse(k, l->server_keys[n], why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE, "SERVER_KEYS: %s", why);
		n++;
	}
	l->nserver_keys = n;
	return 0;
}

int lm_license_set_keyword(struct lm_license *l, enum lm_keyword k, const char *attr_key,
                           const char *value, struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX],
                           int *ncodes, int lineno, struct lm_parse_error *err)
{
	const char *key = lm_keyword_name(k);
	char why[160];
	unsigned long v;
	switch (k) {
	case LM_KW_HOSTID: return set_hostid(l, value, lineno, err);
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
		/* SUITE_RESERVED is a suite whose seat also reserves its holder
		 * one of each component (lmd/pool_package.c). */
		if (strcasecmp(value, "SUITE_RESERVED") == 0) {
			l->suite = l->suite_reserved = true;
			return 0;
		}
		if (strcasecmp(value, "SUITE") != 0)
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "OPTIONS='%.40s' is unknown; expected SUITE or "
			                       "SUITE_RESERVED",
			                       value);
		l->suite = true;
		return 0;
	case LM_KW_SIGN:
		if (lm_license_sig_parse(value, l->sig, why, sizeof why) != 0)
			return lm_license_fail(err, lineno, LMC_EBADCODE,
			                       "SIGN is not a valid signature: %s", why);
		l->has_sig = true;
		return 0;
	case LM_KW_VENDOR_STRING: return set_text(l->vendor_string, value, key, lineno, err);
	case LM_KW_ISSUER: return set_text(l->issuer, value, key, lineno, err);
	case LM_KW_TS_OK:
		if (value)
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "TS_OK is a flag and takes no value; write TS_OK");
		l->ts_ok = true;
		return 0;
	case LM_KW_ATTRIBUTES: return set_attribute(l, attr_key, value, lineno, err);
	case LM_KW_OVERDRAFT:
		/* FlexLM files write OVERDRAFT=0 for "none" (IBM's do): the
		 * same as no keyword, and signed as such. */
		if (value && strcmp(value, "0") == 0) {
			l->overdraft = 0;
			return 0;
		}
		return set_number(&l->overdraft, value, LM_LICENSE_OVERDRAFT_MAX, key, lineno, err);
	case LM_KW_SUPERSEDE:
		/* Bare: the older lines of this line's own feature. */
		if (!value) {
			l->supersede = true;
			return 0;
		}
		return set_supersede(l, value, lineno, err);
	case LM_KW_USER_BASED:
	case LM_KW_HOST_BASED: {
		/* Bare: as many names as the line has seats, known by now (the
		 * count comes before the keywords). */
		struct lm_license_named *nb =
		        k == LM_KW_USER_BASED ? &l->user_based : &l->host_based;
		nb->bare = value == NULL;
		if (nb->bare) {
			nb->max = l->count;
			return 0;
		}
		return set_number(&nb->max, value, LM_LICENSE_NAMED_USERS_MAX, key, lineno, err);
	}
	case LM_KW_DUP_GROUP: return set_dup_group(&l->dup_group, value, key, lineno, err);
	case LM_KW_SUITE_DUP_GROUP:
		return set_dup_group(&l->suite_dup_group, value, key, lineno, err);
	case LM_KW_SERVER_CODES: return set_server_codes(value, codes, ncodes, lineno, err);
	case LM_KW_SERVER_KEYS: return set_server_keys(l, value, lineno, err);
	case LM_KW_COUNT: break;
	}
	return lm_license_fail(err, lineno, LMC_ESYNTAX, "unknown keyword");
}
