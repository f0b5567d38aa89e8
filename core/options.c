/* Options files: reading, checking and the canonical text.  The grammar and
 * the decision rules are stated in options.h; the decisions themselves are
 * in options_decide.c. */
#include "core/options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "core/date.h"
#include "core/error.h"

/* ---- Diagnostics -------------------------------------------------------- */

void lm_opt_diags_init(struct lm_opt_diags *d)
{
	memset(d, 0, sizeof *d);
}

void lm_opt_diags_free(struct lm_opt_diags *d)
{
	free(d->items);
	memset(d, 0, sizeof *d);
}

__attribute__((format(printf, 4, 5))) static void
diag(struct lm_opt_diags *d, int lineno, enum lm_opt_severity sev, const char *fmt, ...)
{
	va_list ap;

	if (sev == LM_OPT_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n == LM_OPTIONS_DIAGS_MAX) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct lm_opt_diag *items = realloc(d->items, cap * sizeof *items);
		if (!items) {
			d->dropped++;
			return;
		}
		d->items = items;
		d->cap = cap;
	}
	struct lm_opt_diag *x = &d->items[d->n++];
	x->lineno = lineno;
	x->severity = sev;
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof x->message, fmt, ap);
	va_end(ap);
}

#define ERR(...)  diag(st->diags, st->lineno, LM_OPT_ERROR, __VA_ARGS__)
#define WARN(...) diag(st->diags, st->lineno, LM_OPT_WARNING, __VA_ARGS__)

/* ---- Keywords and types ------------------------------------------------- */

/* How the words after a keyword are laid out. */
enum shape {
	SHAPE_FEATURE_WHO,       /* INCLUDE feature type name */
	SHAPE_WHO,               /* INCLUDEALL type name */
	SHAPE_COUNT_FEATURE_WHO, /* RESERVE count feature type name */
	SHAPE_FEATURE_NUMBER,    /* TIMEOUT feature seconds */
	SHAPE_NUMBER,            /* TIMEOUTALL seconds */
	SHAPE_GROUP,             /* GROUP name member... */
	SHAPE_ON_OFF,
	SHAPE_NOLOG,
	SHAPE_PATH,
};

static const struct keyword {
	const char *name;
	enum lm_opt_keyword kw;
	enum shape shape;
	const char *usage;
} keywords[] = {
        {"INCLUDE", LM_OPT_INCLUDE, SHAPE_FEATURE_WHO, "INCLUDE feature type name"},
        {"INCLUDEALL", LM_OPT_INCLUDEALL, SHAPE_WHO, "INCLUDEALL type name"},
        {"EXCLUDE", LM_OPT_EXCLUDE, SHAPE_FEATURE_WHO, "EXCLUDE feature type name"},
        {"EXCLUDEALL", LM_OPT_EXCLUDEALL, SHAPE_WHO, "EXCLUDEALL type name"},
        {"RESERVE", LM_OPT_RESERVE, SHAPE_COUNT_FEATURE_WHO, "RESERVE count feature type name"},
        {"MAX", LM_OPT_MAX, SHAPE_COUNT_FEATURE_WHO, "MAX count feature type name"},
        {"INCLUDE_BORROW", LM_OPT_INCLUDE_BORROW, SHAPE_FEATURE_WHO,
         "INCLUDE_BORROW feature type name"},
        {"EXCLUDE_BORROW", LM_OPT_EXCLUDE_BORROW, SHAPE_FEATURE_WHO,
         "EXCLUDE_BORROW feature type name"},
        {"TIMEOUT", LM_OPT_TIMEOUT, SHAPE_FEATURE_NUMBER, "TIMEOUT feature seconds"},
        {"TIMEOUTALL", LM_OPT_TIMEOUTALL, SHAPE_NUMBER, "TIMEOUTALL seconds"},
        {"LINGER", LM_OPT_LINGER, SHAPE_FEATURE_NUMBER, "LINGER feature seconds"},
        {"MAX_OVERDRAFT", LM_OPT_MAX_OVERDRAFT, SHAPE_FEATURE_NUMBER,
         "MAX_OVERDRAFT feature count"},
        {"MAX_BORROW_HOURS", LM_OPT_MAX_BORROW_HOURS, SHAPE_FEATURE_NUMBER,
         "MAX_BORROW_HOURS feature hours"},
        {"BORROW_LOWWATER", LM_OPT_BORROW_LOWWATER, SHAPE_FEATURE_NUMBER,
         "BORROW_LOWWATER feature count"},
        {"GROUP", LM_OPT_GROUP, SHAPE_GROUP, "GROUP name user..."},
        {"HOST_GROUP", LM_OPT_HOST_GROUP, SHAPE_GROUP, "HOST_GROUP name host..."},
        {"GROUPCASEINSENSITIVE", LM_OPT_GROUPCASEINSENSITIVE, SHAPE_ON_OFF,
         "GROUPCASEINSENSITIVE ON|OFF"},
        {"NOLOG", LM_OPT_NOLOG, SHAPE_NOLOG, "NOLOG IN|OUT|DENIED|QUEUED|UNSUPPORTED"},
        {"REPORTLOG", LM_OPT_REPORTLOG, SHAPE_PATH, "REPORTLOG [+]path [HIDE_USER]"},
        {"DEBUGLOG", LM_OPT_DEBUGLOG, SHAPE_PATH, "DEBUGLOG [+]path"},
};
#define NKEYWORDS (sizeof keywords / sizeof keywords[0])

/* FlexLM keywords with no meaning for lmd: a warning, not an error, so that
 * files written for FlexLM load as they are. */
static const char *const ignored_keywords[] = {
        "AUTOMATIC_REREAD",       "FQDN_MATCHING",       "DAEMON_SELECT_TIMEOUT",
        "MAX_CONNECTIONS",        "ACTIVATION_LOWWATER", "ACTIVATION_EXPIRY_DAYS",
        "INCLUDE_ENTITLEMENT",    "EXCLUDE_ENTITLEMENT", "INCLUDEALL_ENTITLEMENT",
        "EXCLUDEALL_ENTITLEMENT", "EXCLUDEALL_BORROW",   "INCLUDEALL_BORROW",
        "USERCASEINSENSITIVE",    "HOSTCASEINSENSITIVE",
};

const char *lm_opt_keyword_name(enum lm_opt_keyword kw)
{
	for (size_t i = 0; i < NKEYWORDS; i++)
		if (keywords[i].kw == kw)
			return keywords[i].name;
	return "?";
}

static const char *const type_names[] = {
        [LM_OPT_USER] = "USER",
        [LM_OPT_HOST] = "HOST",
        [LM_OPT_DISPLAY] = "DISPLAY",
        [LM_OPT_INTERNET] = "INTERNET",
        [LM_OPT_PROJECT] = "PROJECT",
        [LM_OPT_TYPE_GROUP] = "GROUP",
        [LM_OPT_TYPE_HOST_GROUP] = "HOST_GROUP",
};

const char *lm_opt_type_name(enum lm_opt_type t)
{
	return (size_t)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

static bool parse_type(const char *w, enum lm_opt_type *t)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcasecmp(w, type_names[i]) == 0) {
			*t = (enum lm_opt_type)i;
			return true;
		}
	if (strcasecmp(w, "USER_GROUP") == 0) { /* FlexLM's alias of GROUP */
		*t = LM_OPT_TYPE_GROUP;
		return true;
	}
	return false;
}

/* Qualifier keywords ("Specifying Features" in the FlexNet guide).  lmd's
 * license lines carry the first group; the others exist only in FlexLM
 * licenses, so a rule using them selects no lmd line. */
static const char *const qualifiers_lmd[] = {"VERSION", "EXPDATE", "START", "ISSUED",
                                             "NOTICE",  "SN",      "AUTH"};
static const char *const qualifiers_flexlm[] = {"KEY",           "SIGN",       "HOSTID",
                                                "VENDOR_STRING", "ISSUER",     "DIST_INFO",
                                                "USER_INFO",     "ASSET_INFO", "VENDOR_INFO"};

/* ---- Parser state ------------------------------------------------------- */

struct canon_line {
	int lineno;
	char *text;
};

struct state {
	struct lm_options *o;
	struct lm_opt_diags *diags;
	const struct lm_license_file *lic;
	int lineno;
	bool nomem;
	size_t cap_rules, cap_groups;
	struct canon_line *canon;
	size_t ncanon, cap_canon;
	char **group_refs; /* names of groups used, resolved at the end */
};

/* A growing string for normal forms. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* A word, quoted when it holds blanks so that it reads back as one word. */
static void sb_word(struct sbuf *b, const char *s)
{
	if (b->len)
		sb_add(b, " ", 1);
	/* A final '\\' would read back as a continuation. */
	if (strpbrk(s, " \t") || s[strlen(s) - 1] == '\\') {
		sb_add(b, "\"", 1);
		sb_str(b, s);
		sb_add(b, "\"", 1);
	} else {
		sb_str(b, s);
	}
}

static void sb_feature(struct sbuf *b, const struct lm_opt_rule *r)
{
	if (!r->qual_value) {
		sb_word(b, r->feature);
		return;
	}
	if (b->len)
		sb_add(b, " ", 1);
	sb_str(b, r->feature);
	sb_add(b, ":", 1);
	sb_str(b, r->qual_key);
	sb_add(b, "=", 1);
	if (strpbrk(r->qual_value, " \t")) {
		sb_add(b, "\"", 1);
		sb_str(b, r->qual_value);
		sb_add(b, "\"", 1);
	} else {
		sb_str(b, r->qual_value);
	}
}

static void sb_number(struct sbuf *b, uint32_t n)
{
	char num[16];
	snprintf(num, sizeof num, "%u", n);
	sb_word(b, num);
}

static void *grow(struct state *st, void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *q = realloc(p, ncap * size);
	if (!q) {
		st->nomem = true;
		return NULL;
	}
	*cap = ncap;
	return q;
}

static char *copy_str(struct state *st, const char *s)
{
	char *d = strdup(s);
	if (!d)
		st->nomem = true;
	return d;
}

static void canon_add(struct state *st, char *text)
{
	if (!text) {
		st->nomem = true;
		return;
	}
	struct canon_line *c = grow(st, st->canon, &st->cap_canon, st->ncanon, sizeof *c);
	if (!c) {
		free(text);
		return;
	}
	st->canon = c;
	c[st->ncanon].lineno = st->lineno;
	c[st->ncanon].text = text;
	st->ncanon++;
}

/* ---- Words -------------------------------------------------------------- */

/* Splits a logical line into words in place.  Double quotes group blanks
 * into a word and are removed ("MATLAB asset_info=1", f1:NOTICE="a b").
 * Returns the number of words, or -1 with an error reported. */
static int split_words(struct state *st, char *line, char ***words, size_t *cap)
{
	size_t n = 0;
	char *r = line, *w;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		char **v = grow(st, *words, cap, n, sizeof *v);
		if (!v)
			return -1;
		*words = v;
		w = r;
		v[n++] = w;
		bool quoted = false;
		while (*r && (quoted || (*r != ' ' && *r != '\t'))) {
			if (*r == '"') {
				quoted = !quoted;
				r++;
				continue;
			}
			*w++ = *r++;
		}
		if (quoted) {
			ERR("a quote is not closed: end the quoted name with \"");
			return -1;
		}
		bool end = *r == '\0';
		*w = '\0';
		if (!end)
			r++;
		if (v[n - 1][0] == '\0') {
			ERR("an empty quoted name \"\": write the name between the quotes");
			return -1;
		}
		if (end)
			break;
	}
	return (int)n;
}

static bool parse_number(struct state *st, const char *w, const char *what, uint32_t *out)
{
	uint64_t v = 0;
	if (!*w)
		goto bad;
	for (const char *p = w; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > LM_OPTIONS_NUMBER_MAX) {
			ERR("%s %s is too large (at most %u)", what, w, LM_OPTIONS_NUMBER_MAX);
			return false;
		}
	}
	*out = (uint32_t)v;
	return true;
bad:
	ERR("%s must be a whole number, not '%s'", what, w);
	return false;
}

static bool check_name(struct state *st, const char *w, const char *what)
{
	if (strlen(w) > LM_OPTIONS_NAME_MAX) {
		ERR("%s '%.40s...' is %zu characters long, at most %d", what, w, strlen(w),
		    LM_OPTIONS_NAME_MAX);
		return false;
	}
	return true;
}

/* "a.b.c.d" where each part is 0..255 or '*'. */
static bool ip_pattern_valid(const char *s)
{
	int parts = 0;
	const char *p = s;
	for (;;) {
		if (*p == '*') {
			p++;
		} else {
			int v = 0, digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 4) {
				v = v * 10 + (*p++ - '0');
				digits++;
			}
			if (digits == 0 || digits > 3 || v > 255)
				return false;
		}
		parts++;
		if (*p == '\0')
			return parts == 4;
		if (*p != '.' || parts == 4)
			return false;
		p++;
	}
}

/* Looks like an attempt at an IPv4 address: digits, dots and stars only,
 * with a dot. */
static bool looks_like_ip(const char *s)
{
	if (!strchr(s, '.'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '*'))
			return false;
	return true;
}

/* Meant as an address: an IPv4 address, or a pattern with '*' that starts
 * like one ("10.1.*.x", "*.example.com"): '*' is a wildcard only in
 * addresses, so these must be valid addresses. */
static bool attempts_ip(const char *s)
{
	return looks_like_ip(s) ||
	       (strchr(s, '*') && (isdigit((unsigned char)s[0]) || s[0] == '*'));
}

/* ---- Features ------------------------------------------------------------- */

static bool name_in_license(const struct lm_license_file *lic, const char *name, bool counted)
{
	for (size_t i = 0; i < lic->nlines; i++) {
		const struct lm_license *l = &lic->lines[i];
		if (l->type != LM_LINE_PACKAGE && strcmp(l->name, name) == 0 &&
		    (!counted || !l->uncounted))
			return true;
	}
	return false;
}

static bool qualifier_matches(const struct lm_license *l, const char *key, const char *value)
{
	int32_t day;
	if (strcmp(key, "VERSION") == 0)
		return lm_version_compare(l->version, value) == 0;
	if (strcmp(key, "EXPDATE") == 0)
		return lm_date_parse(value, &day) == 0 && day == l->expiry;
	if (strcmp(key, "START") == 0)
		return lm_date_parse(value, &day) == 0 && day == l->start;
	if (strcmp(key, "ISSUED") == 0)
		return lm_date_parse(value, &day) == 0 && day == l->issued;
	if (strcmp(key, "NOTICE") == 0)
		return strcmp(l->notice, value) == 0;
	if (strcmp(key, "SN") == 0)
		return strcmp(l->sn, value) == 0;
	if (strcmp(key, "AUTH") == 0)
		return strcasecmp(l->auth, value) == 0;
	return false;
}

static void add_version(struct state *st, struct lm_opt_rule *r, const char *version)
{
	for (size_t i = 0; i < r->nversions; i++)
		if (lm_version_compare(r->versions[i], version) == 0)
			return;
	void *v = realloc(r->versions, (r->nversions + 1) * sizeof *r->versions);
	if (!v) {
		st->nomem = true;
		return;
	}
	r->versions = v;
	snprintf(r->versions[r->nversions++], LM_VERSION_MAX + 1, "%s", version);
}

/* feature, feature:KEY=value or (quotes already removed) "feature KEY=value". */
static bool parse_feature(struct state *st, const char *w, struct lm_opt_rule *r)
{
	size_t n = strcspn(w, ": \t");
	const char *rest = w + n;

	if (n == 0 || n > LM_NAME_MAX) {
		ERR("'%.70s' is not a feature name (1 to %d characters, as in the license)", w,
		    LM_NAME_MAX);
		return false;
	}
	memcpy(r->feature, w, n);
	r->feature[n] = '\0';
	r->has_feature = true;
	if (!*rest)
		return true;
	rest++;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	const char *eq = strchr(rest, '=');
	size_t klen = eq ? (size_t)(eq - rest) : 0;
	if (!eq || klen == 0 || klen >= sizeof r->qual_key || !eq[1]) {
		ERR("'%.70s' is not feature:KEYWORD=value (for example %s:VERSION=2.0)", w,
		    r->feature);
		return false;
	}
	for (size_t i = 0; i < klen; i++)
		r->qual_key[i] = (char)toupper((unsigned char)rest[i]);
	r->qual_key[klen] = '\0';
	bool known = false, in_lmd = false;
	for (size_t i = 0; i < sizeof qualifiers_lmd / sizeof *qualifiers_lmd; i++)
		if (strcmp(r->qual_key, qualifiers_lmd[i]) == 0)
			known = in_lmd = true;
	for (size_t i = 0; i < sizeof qualifiers_flexlm / sizeof *qualifiers_flexlm; i++)
		if (strcmp(r->qual_key, qualifiers_flexlm[i]) == 0)
			known = true;
	if (!known) {
		ERR("unknown qualifier %s in '%.70s': use VERSION, EXPDATE, START, ISSUED, NOTICE, "
		    "SN or AUTH",
		    r->qual_key, w);
		return false;
	}
	const char *value = eq + 1;
	if (strchr(value, '=')) {
		ERR("'%.70s' holds more than one qualifier: lmd takes one per feature", w);
		return false;
	}
	if (!check_name(st, value, "the qualifier's value"))
		return false;
	if (strcmp(r->qual_key, "VERSION") == 0 && !lm_version_valid(value)) {
		ERR("%s:VERSION=%s: '%s' is not a version (1 to 4 numbers separated by dots)",
		    r->feature, value, value);
		return false;
	}
	int32_t day;
	if ((strcmp(r->qual_key, "EXPDATE") == 0 || strcmp(r->qual_key, "START") == 0 ||
	     strcmp(r->qual_key, "ISSUED") == 0) &&
	    lm_date_parse(value, &day) != 0) {
		ERR("%s:%s=%s: '%s' is not a date (31-dec-2027, 2027-12-31 or permanent)",
		    r->feature, r->qual_key, value, value);
		return false;
	}
	r->qual_value = copy_str(st, value);
	if (!r->qual_value)
		return false;

	/* Resolve the pools the qualifier selects. */
	if (!st->lic) {
		if (strcmp(r->qual_key, "VERSION") == 0)
			add_version(st, r, value);
		return true;
	}
	for (size_t i = 0; i < st->lic->nlines; i++) {
		const struct lm_license *l = &st->lic->lines[i];
		if (l->type != LM_LINE_PACKAGE && strcmp(l->name, r->feature) == 0 &&
		    qualifier_matches(l, r->qual_key, r->qual_value))
			add_version(st, r, l->version);
	}
	if (r->nversions == 0 && name_in_license(st->lic, r->feature, false)) {
		if (!in_lmd)
			WARN("%s:%s=%s selects no license line: lmd license lines carry no %s, so "
			     "this rule never applies; select the lines by VERSION instead",
			     r->feature, r->qual_key, r->qual_value, r->qual_key);
		else
			WARN("%s:%s=%s selects no license line, so this rule never applies: copy "
			     "the value from the license",
			     r->feature, r->qual_key, r->qual_value);
	}
	return true;
}

/* Warns about a feature the license does not serve. */
static void check_feature_in_license(struct state *st, const struct lm_opt_rule *r)
{
	const struct lm_license_file *lic = st->lic;
	if (!lic || !r->has_feature)
		return;
	if (name_in_license(lic, r->feature, true))
		return;
	if (name_in_license(lic, r->feature, false)) {
		WARN("feature %s is uncounted: clients use it without lmd, so this rule never "
		     "applies",
		     r->feature);
		return;
	}
	for (size_t i = 0; i < lic->nlines; i++) {
		const struct lm_license *l = &lic->lines[i];
		if (l->type == LM_LINE_PACKAGE && strcmp(l->name, r->feature) == 0) {
			WARN("%s is a PACKAGE: lmd applies options to features, not packages yet; "
			     "name its component features (COMPONENTS=\"%s\")",
			     r->feature, l->components);
			return;
		}
	}
	for (size_t i = 0; i < lic->nlines; i++)
		if (strcasecmp(lic->lines[i].name, r->feature) == 0) {
			WARN("feature %s is not in the license; did you mean %s? Feature names are "
			     "case-sensitive",
			     r->feature, lic->lines[i].name);
			return;
		}
	WARN("feature %s is in no FEATURE or INCREMENT line of the license, so this rule never "
	     "applies: check the name against the license",
	     r->feature);
}

/* ---- Rules ---------------------------------------------------------------- */

static void rule_free(struct lm_opt_rule *r)
{
	free(r->text);
	free(r->qual_value);
	free(r->versions);
	free(r->who);
}

/* type name, for the access rules. */
static bool parse_who(struct state *st, const struct keyword *k, char **w, struct lm_opt_rule *r)
{
	if (!parse_type(w[0], &r->type)) {
		ERR("'%s' is not a type: use USER, HOST, DISPLAY, INTERNET, PROJECT, GROUP or "
		    "HOST_GROUP (%s)",
		    w[0], k->usage);
		return false;
	}
	if (!check_name(st, w[1], lm_opt_type_name(r->type)))
		return false;
	r->has_who = true;
	r->group = -1;
	r->who = copy_str(st, w[1]);
	if (!r->who)
		return false;
	switch (r->type) {
	case LM_OPT_INTERNET:
		if (!ip_pattern_valid(w[1])) {
			ERR("INTERNET %s is not an IPv4 address pattern: write four numbers 0-255 "
			    "or '*' separated by dots (192.168.1.*)",
			    w[1]);
			return false;
		}
		break;
	case LM_OPT_HOST:
		if (attempts_ip(w[1]) && !ip_pattern_valid(w[1])) {
			ERR("HOST %s is not a valid IPv4 address pattern: write four numbers 0-255 "
			    "or '*' separated by dots (10.1.*.*); '*' is a wildcard only in "
			    "addresses",
			    w[1]);
			return false;
		}
		if (!attempts_ip(w[1]) && strchr(w[1], '*'))
			WARN("HOST %s: host names are matched literally ('*' is a wildcard only "
			     "in IP addresses), so this rule never matches a real host",
			     w[1]);
		break;
	case LM_OPT_USER:
		if (strcmp(w[1], "ALL_USERS") == 0 && k->kw == LM_OPT_MAX) {
			r->all_users = true;
		} else if (strchr(w[1], '*')) {
			WARN("USER %s: user names are matched literally, '*' is no wildcard; "
			     "use a GROUP to name several users",
			     w[1]);
		}
		break;
	case LM_OPT_TYPE_GROUP:
		if (strcmp(w[1], "ALL_GROUPS") == 0 && k->kw == LM_OPT_MAX)
			r->all_groups = true;
		break;
	default: break;
	}
	return true;
}

static void add_rule(struct state *st, struct lm_opt_rule *r)
{
	struct lm_options *o = st->o;
	struct lm_opt_rule *rules = grow(st, o->rules, &st->cap_rules, o->nrules, sizeof *rules);
	if (!rules) {
		rule_free(r);
		return;
	}
	o->rules = rules;
	rules[o->nrules++] = *r;
}

/* The normal form of a rule. */
static char *rule_text(const struct lm_opt_rule *r)
{
	struct sbuf b = {0};
	sb_str(&b, lm_opt_keyword_name(r->kw));
	if (r->kw == LM_OPT_RESERVE || r->kw == LM_OPT_MAX)
		sb_number(&b, r->number);
	if (r->has_feature)
		sb_feature(&b, r);
	if (r->has_who) {
		sb_word(&b, lm_opt_type_name(r->type));
		sb_word(&b, r->who);
	}
	if (r->kw == LM_OPT_TIMEOUT || r->kw == LM_OPT_TIMEOUTALL || r->kw == LM_OPT_LINGER ||
	    r->kw == LM_OPT_MAX_OVERDRAFT || r->kw == LM_OPT_MAX_BORROW_HOURS ||
	    r->kw == LM_OPT_BORROW_LOWWATER)
		sb_number(&b, r->number);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static void parse_rule(struct state *st, const struct keyword *k, char **w, int nw)
{
	static const int want[] = {
	        [SHAPE_FEATURE_WHO] = 3,    [SHAPE_WHO] = 2,    [SHAPE_COUNT_FEATURE_WHO] = 4,
	        [SHAPE_FEATURE_NUMBER] = 2, [SHAPE_NUMBER] = 1,
	};
	struct lm_opt_rule r = {.kw = k->kw, .lineno = st->lineno, .group = -1};
	bool ok = false;

	if (nw < want[k->shape]) {
		ERR("%s takes %d word%s after it, this line has %d: write %s", k->name,
		    want[k->shape], want[k->shape] == 1 ? "" : "s", nw, k->usage);
		return;
	}
	/* FlexLM reads the words it needs and ignores the rest: so does lmd,
	 * aloud, since a name with a blank needs quotes. */
	if (nw > want[k->shape])
		WARN("'%.60s' and what follows is ignored: %s takes %d word%s (quote a name "
		     "that holds blanks)",
		     w[want[k->shape]], k->name, want[k->shape], want[k->shape] == 1 ? "" : "s");
	switch (k->shape) {
	case SHAPE_FEATURE_WHO:
		ok = parse_feature(st, w[0], &r) && parse_who(st, k, w + 1, &r);
		break;
	case SHAPE_WHO: ok = parse_who(st, k, w, &r); break;
	case SHAPE_COUNT_FEATURE_WHO:
		ok = parse_number(st, w[0],
		                  k->kw == LM_OPT_RESERVE ? "RESERVE's count" : "MAX's count",
		                  &r.number) &&
		     parse_feature(st, w[1], &r) && parse_who(st, k, w + 2, &r);
		if (ok && k->kw == LM_OPT_RESERVE && r.number == 0) {
			ERR("RESERVE 0 reserves nothing: give a count of at least 1, or remove the "
			    "line");
			ok = false;
		}
		break;
	case SHAPE_FEATURE_NUMBER:
		ok = parse_feature(st, w[0], &r) && parse_number(st, w[1], k->name, &r.number);
		break;
	case SHAPE_NUMBER: ok = parse_number(st, w[0], k->name, &r.number); break;
	default: break;
	}
	if (!ok) {
		rule_free(&r);
		return;
	}
	if ((k->kw == LM_OPT_TIMEOUT || k->kw == LM_OPT_TIMEOUTALL) &&
	    r.number < LM_OPTIONS_TIMEOUT_MIN) {
		WARN("%s %u s is below the minimum of %d s: lmd uses %d s", k->name, r.number,
		     LM_OPTIONS_TIMEOUT_MIN, LM_OPTIONS_TIMEOUT_MIN);
		r.number = LM_OPTIONS_TIMEOUT_MIN;
	}
	switch (k->kw) {
	case LM_OPT_INCLUDE_BORROW:
	case LM_OPT_EXCLUDE_BORROW:
	case LM_OPT_MAX_BORROW_HOURS:
	case LM_OPT_BORROW_LOWWATER:
		r.no_effect = true;
		WARN("%s has no effect yet: lmd does not lend seats for offline use", k->name);
		break;
	case LM_OPT_MAX_OVERDRAFT:
		r.no_effect = true;
		WARN("MAX_OVERDRAFT has no effect: lmd licenses have no OVERDRAFT seats");
		break;
	default: break;
	}
	check_feature_in_license(st, &r);
	r.text = rule_text(&r);
	if (!r.text) {
		st->nomem = true;
		rule_free(&r);
		return;
	}
	canon_add(st, copy_str(st, r.text));
	add_rule(st, &r);
}

/* ---- Definitions and settings -------------------------------------------- */

static struct lm_opt_group *find_group(const struct lm_options *o, const char *name, bool host)
{
	for (size_t i = 0; i < o->ngroups; i++)
		if (o->groups[i].host == host && strcmp(o->groups[i].name, name) == 0)
			return &o->groups[i];
	return NULL;
}

static void parse_group(struct state *st, const struct keyword *k, char **w, int nw)
{
	struct lm_options *o = st->o;
	bool host = k->kw == LM_OPT_HOST_GROUP;

	if (nw < 1) {
		ERR("%s needs a name: write %s", k->name, k->usage);
		return;
	}
	if (!check_name(st, w[0], "the group name"))
		return;
	for (int i = 1; i < nw; i++) {
		if (!check_name(st, w[i], host ? "a host" : "a user"))
			return;
		if (host && attempts_ip(w[i]) && !ip_pattern_valid(w[i])) {
			ERR("HOST_GROUP %s: %s is not a valid IPv4 address pattern: write four "
			    "numbers 0-255 or '*' separated by dots; '*' is a wildcard only in "
			    "addresses",
			    w[0], w[i]);
			return;
		}
	}
	if (nw == 1)
		WARN("%s %s lists no members: add them after the name", k->name, w[0]);

	struct lm_opt_group *g = find_group(o, w[0], host);
	if (!g) {
		struct lm_opt_group *groups =
		        grow(st, o->groups, &st->cap_groups, o->ngroups, sizeof *groups);
		if (!groups)
			return;
		o->groups = groups;
		g = &groups[o->ngroups];
		memset(g, 0, sizeof *g);
		g->name = copy_str(st, w[0]);
		if (!g->name)
			return;
		g->host = host;
		g->lineno = st->lineno;
		o->ngroups++;
	}
	/* FlexLM: several lines of the same name add to one group. */
	for (int i = 1; i < nw; i++) {
		char **m = grow(st, g->members, &g->cap, g->nmembers, sizeof *m);
		if (!m)
			return;
		g->members = m;
		m[g->nmembers] = copy_str(st, w[i]);
		if (!m[g->nmembers])
			return;
		g->nmembers++;
	}

	struct sbuf b = {0};
	sb_str(&b, k->name);
	for (int i = 0; i < nw; i++)
		sb_word(&b, w[i]);
	if (b.failed) {
		free(b.p);
		st->nomem = true;
		return;
	}
	canon_add(st, b.p);
}

static void parse_setting(struct state *st, const struct keyword *k, char **w, int nw)
{
	struct lm_options *o = st->o;
	struct sbuf b = {0};

	sb_str(&b, k->name);
	switch (k->shape) {
	case SHAPE_ON_OFF:
		if (nw != 1 || (strcasecmp(w[0], "ON") && strcasecmp(w[0], "OFF"))) {
			ERR("write GROUPCASEINSENSITIVE ON or GROUPCASEINSENSITIVE OFF");
			goto fail;
		}
		/* A file-wide switch: the last line wins, wherever groups are. */
		o->case_insensitive = strcasecmp(w[0], "ON") == 0;
		sb_word(&b, o->case_insensitive ? "ON" : "OFF");
		break;
	case SHAPE_NOLOG: {
		static const struct {
			const char *name;
			unsigned bit;
		} events[] = {{"IN", LM_OPT_NOLOG_IN},
		              {"OUT", LM_OPT_NOLOG_OUT},
		              {"DENIED", LM_OPT_NOLOG_DENIED},
		              {"QUEUED", LM_OPT_NOLOG_QUEUED},
		              {"UNSUPPORTED", LM_OPT_NOLOG_UNSUPPORTED}};
		if (nw < 1) {
			ERR("NOLOG needs an event: write NOLOG IN, NOLOG OUT, NOLOG DENIED, NOLOG "
			    "QUEUED or NOLOG UNSUPPORTED");
			goto fail;
		}
		if (nw > 1)
			WARN("only NOLOG %s is read, as FlexLM does: write one NOLOG line per "
			     "event",
			     w[0]);
		size_t i;
		for (i = 0; i < sizeof events / sizeof *events; i++)
			if (strcasecmp(w[0], events[i].name) == 0)
				break;
		if (i == sizeof events / sizeof *events) {
			ERR("NOLOG %s: the events are IN, OUT, DENIED, QUEUED and UNSUPPORTED",
			    w[0]);
			goto fail;
		}
		o->nolog |= events[i].bit;
		sb_word(&b, events[i].name);
		break;
	}
	case SHAPE_PATH: {
		bool report = k->kw == LM_OPT_REPORTLOG, hide = false;
		if (nw < 1 || nw > (report ? 2 : 1) ||
		    (nw == 2 && strcasecmp(w[1], "HIDE_USER") != 0)) {
			ERR("write %s", k->usage);
			goto fail;
		}
		hide = nw == 2;
		const char *path = w[0];
		bool append = path[0] == '+';
		if (append)
			path++;
		if (!*path || strlen(path) > 4095) {
			ERR("%s needs a file name after the optional '+'", k->name);
			goto fail;
		}
		char **dst = report ? &o->reportlog : &o->debuglog;
		if (*dst)
			WARN("a second %s line: this one replaces the one before", k->name);
		free(*dst);
		*dst = copy_str(st, path);
		if (report) {
			o->reportlog_append = append;
			o->reportlog_hide_user = hide;
		} else {
			o->debuglog_append = append;
		}
		sb_word(&b, w[0]);
		if (hide)
			sb_word(&b, "HIDE_USER");
		break;
	}
	default: break;
	}
	if (b.failed) {
		st->nomem = true;
		goto fail;
	}
	canon_add(st, b.p);
	return;
fail:
	free(b.p);
}

/* The keyword within two edits of a misspelt one (EXLCUDE), if any. */
static const char *nearest_keyword(const char *word)
{
	size_t n = strlen(word);
	if (n > 24)
		return NULL;
	for (size_t k = 0; k < NKEYWORDS; k++) {
		const char *kw = keywords[k].name;
		size_t m = strlen(kw);
		unsigned d[26][26];
		for (size_t i = 0; i <= n; i++)
			d[i][0] = (unsigned)i;
		for (size_t j = 0; j <= m; j++)
			d[0][j] = (unsigned)j;
		for (size_t i = 1; i <= n; i++)
			for (size_t j = 1; j <= m; j++) {
				unsigned cost = toupper((unsigned char)word[i - 1]) != kw[j - 1];
				unsigned best = d[i - 1][j - 1] + cost;
				if (d[i - 1][j] + 1 < best)
					best = d[i - 1][j] + 1;
				if (d[i][j - 1] + 1 < best)
					best = d[i][j - 1] + 1;
				/* A swap of two neighbours is one edit. */
				if (i > 1 && j > 1 &&
				    toupper((unsigned char)word[i - 1]) == kw[j - 2] &&
				    toupper((unsigned char)word[i - 2]) == kw[j - 1] &&
				    d[i - 2][j - 2] + 1 < best)
					best = d[i - 2][j - 2] + 1;
				d[i][j] = best;
			}
		if (d[n][m] <= 2)
			return kw;
	}
	return NULL;
}

static void parse_line(struct state *st, char *line, char ***words, size_t *cap)
{
	int nw = split_words(st, line, words, cap);
	if (nw <= 0)
		return;
	char **w = *words;
	for (size_t i = 0; i < NKEYWORDS; i++) {
		const struct keyword *k = &keywords[i];
		if (strcasecmp(w[0], k->name) != 0)
			continue;
		switch (k->shape) {
		case SHAPE_GROUP: parse_group(st, k, w + 1, nw - 1); break;
		case SHAPE_ON_OFF:
		case SHAPE_NOLOG:
		case SHAPE_PATH: parse_setting(st, k, w + 1, nw - 1); break;
		default: parse_rule(st, k, w + 1, nw - 1);
		}
		return;
	}
	if (strcasecmp(w[0], "USER_GROUP") == 0) { /* FlexLM's alias of GROUP */
		for (size_t i = 0; i < NKEYWORDS; i++)
			if (keywords[i].kw == LM_OPT_GROUP)
				parse_group(st, &keywords[i], w + 1, nw - 1);
		return;
	}
	for (size_t i = 0; i < sizeof ignored_keywords / sizeof *ignored_keywords; i++)
		if (strcasecmp(w[0], ignored_keywords[i]) == 0) {
			WARN("%s is a FlexLM option lmd does not have: the line is ignored", w[0]);
			return;
		}
	const char *near = nearest_keyword(w[0]);
	if (near) {
		ERR("unknown keyword '%.60s': did you mean %s?", w[0], near);
		return;
	}
	ERR("unknown keyword '%.60s': an options line starts with INCLUDE, INCLUDEALL, EXCLUDE, "
	    "EXCLUDEALL, RESERVE, MAX, GROUP, HOST_GROUP, TIMEOUT, TIMEOUTALL, LINGER, NOLOG, "
	    "REPORTLOG, DEBUGLOG... (or '#' for a comment)",
	    w[0]);
}

/* ---- Checks over the whole file ----------------------------------------- */

static const char *group_list(const struct lm_options *o, bool host, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->ngroups && len + 4 < size; i++) {
		if (o->groups[i].host != host)
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", o->groups[i].name);
		if (n < 0 || (size_t)n >= size - len) {
			snprintf(buf + (size > 4 ? size - 4 : 0), 4, "...");
			break;
		}
		len += (size_t)n;
	}
	return buf[0] ? buf : "none";
}

static void resolve_groups(struct state *st)
{
	struct lm_options *o = st->o;
	char list[200];

	for (size_t i = 0; i < o->nrules; i++) {
		struct lm_opt_rule *r = &o->rules[i];
		if (!r->has_who || r->all_groups)
			continue;
		if (r->type != LM_OPT_TYPE_GROUP && r->type != LM_OPT_TYPE_HOST_GROUP)
			continue;
		bool host = r->type == LM_OPT_TYPE_HOST_GROUP;
		struct lm_opt_group *g = find_group(o, r->who, host);
		st->lineno = r->lineno;
		if (g) {
			r->group = (int)(g - o->groups);
			g->used = true;
			continue;
		}
		if (find_group(o, r->who, !host))
			ERR("%s is a %s, not a %s: write %s %s", r->who,
			    host ? "GROUP" : "HOST_GROUP", host ? "HOST_GROUP" : "GROUP",
			    host ? "GROUP" : "HOST_GROUP", r->who);
		else
			ERR("%s %s is not defined: add a line '%s %s member...' or correct the "
			    "name "
			    "(%ss defined: %s)",
			    lm_opt_type_name(r->type), r->who, lm_opt_type_name(r->type), r->who,
			    lm_opt_type_name(r->type), group_list(o, host, list, sizeof list));
	}
	bool all_groups = false; /* MAX ... GROUP ALL_GROUPS uses every GROUP */
	for (size_t k = 0; k < o->nrules; k++)
		all_groups |= o->rules[k].all_groups;
	for (size_t i = 0; i < o->ngroups; i++) {
		const struct lm_opt_group *g = &o->groups[i];
		if (!g->used && !(all_groups && !g->host)) {
			st->lineno = g->lineno;
			WARN("%s %s is defined but no rule uses it: it has no effect",
			     g->host ? "HOST_GROUP" : "GROUP", g->name);
		}
	}
}

static bool same_scope(const struct lm_opt_rule *x, const struct lm_opt_rule *inc)
{
	/* x (an EXCLUDE) covers everything inc covers. */
	if (!x->has_feature)
		return true;
	return inc->has_feature && strcmp(x->feature, inc->feature) == 0 && !x->qual_value;
}

static int cmp_who(const struct lm_opt_rule *a, const struct lm_opt_rule *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->who, b->who);
}

static int cmp_who_ptr(const void *a, const void *b)
{
	const struct lm_opt_rule *x = *(const struct lm_opt_rule *const *)a;
	const struct lm_opt_rule *y = *(const struct lm_opt_rule *const *)b;
	int c = cmp_who(x, y);
	/* Equal names in file order, so the first EXCLUDE is reported. */
	return c ? c : x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/* Rules that a stronger rule makes useless: an INCLUDE or RESERVE of
 * someone an EXCLUDE names.  The EXCLUDE rules are sorted by name, so a
 * file of many rules costs n log n, not n squared. */
static void check_shadowed(struct state *st)
{
	const struct lm_options *o = st->o;
	const struct lm_opt_rule **ex = NULL;
	size_t nex = 0;

	for (size_t i = 0; i < o->nrules; i++)
		nex += o->rules[i].kw == LM_OPT_EXCLUDE || o->rules[i].kw == LM_OPT_EXCLUDEALL;
	if (!nex)
		return;
	ex = malloc(nex * sizeof *ex);
	if (!ex) {
		st->nomem = true;
		return;
	}
	nex = 0;
	for (size_t i = 0; i < o->nrules; i++)
		if (o->rules[i].kw == LM_OPT_EXCLUDE || o->rules[i].kw == LM_OPT_EXCLUDEALL)
			ex[nex++] = &o->rules[i];
	qsort(ex, nex, sizeof *ex, cmp_who_ptr);

	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw != LM_OPT_INCLUDE && r->kw != LM_OPT_INCLUDEALL &&
		    r->kw != LM_OPT_RESERVE)
			continue;
		size_t lo = 0, hi = nex;
		while (lo < hi) { /* the first EXCLUDE not below r's name */
			size_t mid = lo + (hi - lo) / 2;
			if (cmp_who(ex[mid], r) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t k = lo; k < nex && cmp_who(ex[k], r) == 0; k++) {
			const struct lm_opt_rule *x = ex[k];
			if (!same_scope(x, r))
				continue;
			st->lineno = r->lineno;
			if (r->kw == LM_OPT_RESERVE)
				WARN("%s: the seats it reserves can never be used, %s (line %d) "
				     "excludes "
				     "%s %s; remove one of the two",
				     r->text, x->text, x->lineno, lm_opt_type_name(r->type),
				     r->who);
			else
				WARN("%s never admits %s %s: %s (line %d) excludes it, and EXCLUDE "
				     "wins",
				     r->text, lm_opt_type_name(r->type), r->who, x->text,
				     x->lineno);
			break;
		}
	}
	free(ex);
}

/* Seats of the counted lines of the pool (feature, version), dates aside. */
static uint64_t pool_seats(const struct lm_license_file *lic, const char *feature,
                           const char *version)
{
	uint64_t n = 0;
	for (size_t i = 0; i < lic->nlines; i++) {
		const struct lm_license *l = &lic->lines[i];
		if (l->type != LM_LINE_PACKAGE && !l->uncounted && strcmp(l->name, feature) == 0 &&
		    lm_version_compare(l->version, version) == 0)
			n += l->count;
	}
	return n;
}

/* RESERVE and MAX against the seats of the license. */
static void check_counts(struct state *st)
{
	const struct lm_options *o = st->o;
	const struct lm_license_file *lic = st->lic;
	if (!lic)
		return;
	for (size_t i = 0; i < lic->nlines; i++) {
		const struct lm_license *l = &lic->lines[i];
		if (l->type == LM_LINE_PACKAGE || l->uncounted)
			continue;
		bool first = true; /* each pool once: at its first line */
		for (size_t k = 0; k < i && first; k++)
			first = !(lic->lines[k].type != LM_LINE_PACKAGE &&
			          !lic->lines[k].uncounted &&
			          strcmp(lic->lines[k].name, l->name) == 0 &&
			          lm_version_compare(lic->lines[k].version, l->version) == 0);
		if (!first)
			continue;
		uint64_t seats = pool_seats(lic, l->name, l->version), reserved = 0;
		for (size_t k = 0; k < o->nrules; k++) {
			const struct lm_opt_rule *r = &o->rules[k];
			if (r->kw != LM_OPT_RESERVE || !lm_opt_rule_applies(r, l->name, l->version))
				continue;
			st->lineno = r->lineno;
			if (r->number > seats) {
				ERR("%s reserves %u seats but %s %s has %llu: reserve at most %llu",
				    r->text, r->number, l->name, l->version,
				    (unsigned long long)seats, (unsigned long long)seats);
			} else if (reserved + r->number > seats) {
				ERR("%s: with the RESERVE lines before it, %llu seats of %s %s "
				    "would be "
				    "reserved, the license has %llu: lower the counts",
				    r->text, (unsigned long long)(reserved + r->number), l->name,
				    l->version, (unsigned long long)seats);
			}
			reserved += r->number;
		}
		if (reserved == seats && seats > 0)
			diag(st->diags, 0, LM_OPT_WARNING,
			     "every seat of %s %s is reserved: nobody outside the RESERVE lines "
			     "can "
			     "use it",
			     l->name, l->version);
	}
	for (size_t k = 0; k < o->nrules; k++) {
		const struct lm_opt_rule *r = &o->rules[k];
		if (r->kw != LM_OPT_MAX || !name_in_license(lic, r->feature, true))
			continue;
		uint64_t seats = 0;
		for (size_t i = 0; i < lic->nlines; i++) {
			const struct lm_license *l = &lic->lines[i];
			if (l->type != LM_LINE_PACKAGE && !l->uncounted &&
			    lm_opt_rule_applies(r, l->name, l->version))
				seats += l->count;
		}
		st->lineno = r->lineno;
		if (seats && r->number >= seats)
			WARN("%s never limits anything: %s has %llu seats in all", r->text,
			     r->feature, (unsigned long long)seats);
	}
}

/* ---- The whole file -------------------------------------------------------- */

void lm_options_free(struct lm_options *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nrules; i++)
		rule_free(&o->rules[i]);
	free(o->rules);
	for (size_t i = 0; i < o->ngroups; i++) {
		for (size_t k = 0; k < o->groups[i].nmembers; k++)
			free(o->groups[i].members[k]);
		free(o->groups[i].members);
		free(o->groups[i].name);
	}
	free(o->groups);
	free(o->name);
	free(o->reportlog);
	free(o->debuglog);
	free(o->canonical);
	free(o);
}

/* Refuses what is not text: a NUL or a control byte (tab, CR, LF and form
 * feed aside).  Bytes from 0x80 pass: names in Latin-1 or UTF-8. */
static bool check_bytes(const char *text, size_t len, struct lm_opt_diags *d)
{
	int lineno = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			lineno++;
		} else if (c == 0) {
			diag(d, lineno, LM_OPT_ERROR,
			     "a NUL byte: an options file is text; is this the right file?");
			return false;
		} else if (c == '\r' && i + 1 < len && text[i + 1] != '\n') {
			diag(d, lineno, LM_OPT_ERROR,
			     "a carriage return inside a line: save the file with Unix (LF) or "
			     "Windows (CR LF) line ends");
			return false;
		} else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\f') || c == 0x7f) {
			diag(d, lineno, LM_OPT_ERROR,
			     "control byte 0x%02x: an options file is text; is this the right "
			     "file?",
			     c);
			return false;
		}
	}
	return true;
}

/* Diagnostics from index first on in line order (a stable insertion sort:
 * at most LM_OPTIONS_DIAGS_MAX of them), those about the whole file last. */
static void sort_diags(struct lm_opt_diags *d, size_t first)
{
	for (size_t i = first + 1; i < d->n; i++) {
		struct lm_opt_diag x = d->items[i];
		unsigned key = x.lineno > 0 ? (unsigned)x.lineno : UINT32_MAX;
		size_t k = i;
		while (k > first) {
			int prev = d->items[k - 1].lineno;
			if ((prev > 0 ? (unsigned)prev : UINT32_MAX) <= key)
				break;
			d->items[k] = d->items[k - 1];
			k--;
		}
		d->items[k] = x;
	}
}

static int build_canonical(struct state *st)
{
	struct lm_options *o = st->o;
	struct sbuf b = {0};
	int line = 1;
	sb_add(&b, "", 0);
	for (size_t i = 0; i < st->ncanon; i++) {
		for (; line < st->canon[i].lineno; line++)
			sb_add(&b, "\n", 1);
		sb_str(&b, st->canon[i].text);
		sb_add(&b, "\n", 1);
		line++;
	}
	if (b.failed) {
		free(b.p);
		return LMC_ENOMEM;
	}
	o->canonical = b.p;
	o->canonical_len = b.len;
	SHA256((const unsigned char *)b.p, b.len, o->sha256);
	return 0;
}

int lm_options_parse(const char *name, const char *text, size_t len,
                     const struct lm_license_file *lic, struct lm_options **out,
                     struct lm_opt_diags *diags)
{
	struct state st = {.diags = diags, .lic = lic};
	char *line = NULL, **words = NULL;
	size_t nwords_cap = 0, nerrors = diags->nerrors, first_diag = diags->n;
	int rc = 0;

	*out = NULL;
	if (len > LM_OPTIONS_FILE_MAX) {
		diag(diags, 0, LM_OPT_ERROR,
		     "the file has %zu bytes, more than any options file "
		     "can (%d): is this the right file?",
		     len, LM_OPTIONS_FILE_MAX);
		return LMC_ETOOLARGE;
	}
	if (!check_bytes(text, len, diags))
		return LMC_ESYNTAX;
	size_t nlines = 0;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (nlines + (len && text[len - 1] != '\n') > LM_OPTIONS_LINES_MAX) {
		diag(diags, LM_OPTIONS_LINES_MAX + 1, LM_OPT_ERROR,
		     "the file has more than %d lines, lmd's limit: merge GROUP lines or split "
		     "the policy",
		     LM_OPTIONS_LINES_MAX);
		return LMC_ETOOLARGE;
	}

	st.o = calloc(1, sizeof *st.o);
	line = malloc(LM_OPTIONS_LINE_MAX + 2);
	if (!st.o || !line) {
		rc = LMC_ENOMEM;
		goto done;
	}
	st.o->name = strdup(name ? name : "options");
	if (!st.o->name) {
		rc = LMC_ENOMEM;
		goto done;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		diag(diags, 1, LM_OPT_WARNING,
		     "the file starts with a byte order mark, which FlexLM does not read: save it "
		     "as plain text without BOM");
		text += 3;
		len -= 3;
	}

	/* Physical lines to logical lines: a trailing '\' joins the next. */
	size_t pos = 0, llen = 0;
	int physical = 0, start = 0;
	bool too_long = false, continuing = false;
	while (pos < len && !st.nomem) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *p = text + pos;
		pos += n + (nl != NULL);
		physical++;
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t' ||
		             p[n - 1] == '\f'))
			n--;
		if (!continuing) {
			start = physical;
			llen = 0;
			too_long = false;
			size_t k = 0;
			while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\f'))
				k++;
			if (k == n || p[k] == '#')
				continue; /* blank or comment */
		}
		bool more = n && p[n - 1] == '\\';
		if (more)
			n--;
		if (llen + n + 1 > LM_OPTIONS_LINE_MAX)
			too_long = true;
		else {
			memcpy(line + llen, p, n);
			llen += n;
			line[llen++] = ' ';
		}
		continuing = more && pos < len;
		if (continuing)
			continue;
		line[llen] = '\0';
		st.lineno = start;
		if (too_long) {
			diag(diags, start, LM_OPT_ERROR,
			     "this line is longer than %d characters, FlexLM's limit: split a long "
			     "GROUP into several GROUP lines of the same name",
			     LM_OPTIONS_LINE_MAX);
			continue;
		}
		for (size_t k = 0; k < llen; k++)
			if (line[k] == '\f')
				line[k] = ' ';
		parse_line(&st, line, &words, &nwords_cap);
	}
	if (st.nomem) {
		rc = LMC_ENOMEM;
		goto done;
	}
	resolve_groups(&st);
	check_shadowed(&st);
	check_counts(&st);
	if (st.nomem) {
		rc = LMC_ENOMEM;
		goto done;
	}
	sort_diags(diags, first_diag);
	if (diags->nerrors > nerrors) {
		rc = LMC_ESYNTAX;
		goto done;
	}
	rc = build_canonical(&st);
done:
	if (rc == LMC_ENOMEM)
		diag(diags, 0, LM_OPT_ERROR, "out of memory while reading the options file");
	for (size_t i = 0; i < st.ncanon; i++)
		free(st.canon[i].text);
	free(st.canon);
	free(words);
	free(line);
	if (rc) {
		lm_options_free(st.o);
		return rc;
	}
	*out = st.o;
	return 0;
}

int lm_options_load(const char *path, const struct lm_license_file *lic, struct lm_options **out,
                    struct lm_opt_diags *diags)
{
	struct stat sb;
	const char *base = strrchr(path, '/');
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	base = base ? base + 1 : path;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		diag(diags, 0, LM_OPT_ERROR, "cannot read %s: %s", path,
		     fd < 0 || errno ? strerror(errno ? errno : EINVAL) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return LMC_EIO;
	}
	if (sb.st_size > LM_OPTIONS_FILE_MAX) {
		diag(diags, 0, LM_OPT_ERROR,
		     "%s has %lld bytes, more than any options file can (%d): is this the right "
		     "file?",
		     path, (long long)sb.st_size, LM_OPTIONS_FILE_MAX);
		close(fd);
		return LMC_ETOOLARGE;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		diag(diags, 0, LM_OPT_ERROR, "out of memory reading %s", path);
		return LMC_ENOMEM;
	}
	while (len <= (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			diag(diags, 0, LM_OPT_ERROR, "cannot read %s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return LMC_EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > (size_t)sb.st_size) {
		diag(diags, 0, LM_OPT_ERROR, "%s grew while being read: try again", path);
		free(buf);
		return LMC_EIO;
	}
	rc = lm_options_parse(base, buf, len, lic, out, diags);
	free(buf);
	return rc;
}
