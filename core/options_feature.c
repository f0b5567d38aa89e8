/* Options files: the feature a rule names, with its optional qualifier
 * (feature:VERSION=2.0), and what the license says about it. */
#include "core/options_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/date.h"

/* Qualifier keywords ("Specifying Features" in the FlexNet guide).  lmd's
 * license lines carry the first group; the others exist only in FlexLM
 * licenses, so a rule using them selects no lmd line. */
static const char *const qualifiers_lmd[] = {"VERSION", "EXPDATE", "START", "ISSUED",
                                             "NOTICE",  "SN",      "AUTH"};
static const char *const qualifiers_flexlm[] = {"KEY",           "SIGN",       "HOSTID",
                                                "VENDOR_STRING", "ISSUER",     "DIST_INFO",
                                                "USER_INFO",     "ASSET_INFO", "VENDOR_INFO"};

bool lm_opt_name_in_license(const struct lm_license_file *lic, const char *name, bool counted)
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

static void add_version(struct lm_opt_state *st, struct lm_opt_rule *r, const char *version)
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
bool lm_opt_parse_feature(struct lm_opt_state *st, const char *w, struct lm_opt_rule *r)
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
	if (!lm_opt_check_name(st, value, "the qualifier's value"))
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
	r->qual_value = lm_opt_strdup(st, value);
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
	if (r->nversions == 0 && lm_opt_name_in_license(st->lic, r->feature, false)) {
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
void lm_opt_check_feature_in_license(struct lm_opt_state *st, const struct lm_opt_rule *r)
{
	const struct lm_license_file *lic = st->lic;
	if (!lic || !r->has_feature)
		return;
	if (lm_opt_name_in_license(lic, r->feature, true))
		return;
	if (lm_opt_name_in_license(lic, r->feature, false)) {
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
