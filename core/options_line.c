/* Options files: one logical line.  Its words (quotes group blanks), the
 * checks every word passes, its keyword (or the nearest one when it is
 * misspelt), and the directive family that reads the rest. */
#include "core/options_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct lm_opt_syntax keywords[] = {
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

/* Splits a logical line into words in place.  Double quotes group blanks
 * into a word and are removed ("MATLAB asset_info=1", f1:NOTICE="a b").
 * Returns the number of words, or -1 with an error reported. */
static int split_words(struct lm_opt_state *st, char *line, char ***words, size_t *cap)
{
	size_t n = 0;
	char *r = line, *w;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		char **v = lm_opt_grow(st, *words, cap, n, sizeof *v);
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

bool lm_opt_parse_number(struct lm_opt_state *st, const char *w, const char *what, uint32_t *out)
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

bool lm_opt_check_name(struct lm_opt_state *st, const char *w, const char *what)
{
	if (strlen(w) > LM_OPTIONS_NAME_MAX) {
		ERR("%s '%.40s...' is %zu characters long, at most %d", what, w, strlen(w),
		    LM_OPTIONS_NAME_MAX);
		return false;
	}
	return true;
}

/* "a.b.c.d" where each part is 0..255 or '*'. */
bool lm_opt_ip_pattern_valid(const char *s)
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
bool lm_opt_attempts_ip(const char *s)
{
	return looks_like_ip(s) ||
	       (strchr(s, '*') && (isdigit((unsigned char)s[0]) || s[0] == '*'));
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

void lm_opt_parse_line(struct lm_opt_state *st, char *line, char ***words, size_t *cap)
{
	int nw = split_words(st, line, words, cap);
	if (nw <= 0)
		return;
	char **w = *words;
	for (size_t i = 0; i < NKEYWORDS; i++) {
		const struct lm_opt_syntax *k = &keywords[i];
		if (strcasecmp(w[0], k->name) != 0)
			continue;
		switch (k->shape) {
		case SHAPE_GROUP: lm_opt_parse_group(st, k, w + 1, nw - 1); break;
		case SHAPE_ON_OFF:
		case SHAPE_NOLOG:
		case SHAPE_PATH: lm_opt_parse_setting(st, k, w + 1, nw - 1); break;
		default: lm_opt_parse_rule(st, k, w + 1, nw - 1);
		}
		return;
	}
	if (strcasecmp(w[0], "USER_GROUP") == 0) { /* FlexLM's alias of GROUP */
		for (size_t i = 0; i < NKEYWORDS; i++)
			if (keywords[i].kw == LM_OPT_GROUP)
				lm_opt_parse_group(st, &keywords[i], w + 1, nw - 1);
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
