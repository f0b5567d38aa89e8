/* Options files: the access rules (INCLUDE, EXCLUDE, RESERVE, MAX, TIMEOUT,
 * LINGER and the BORROW family) and the user, host, group... they name. */
#include "core/options_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void lm_opt_rule_free(struct lm_opt_rule *r)
{
	free(r->text);
	free(r->qual_value);
	free(r->versions);
	free(r->who);
}

/* type name, for the access rules. */
static bool parse_who(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w,
                      struct lm_opt_rule *r)
{
	if (!parse_type(w[0], &r->type)) {
		ERR("'%s' is not a type: use USER, HOST, DISPLAY, INTERNET, PROJECT, GROUP or "
		    "HOST_GROUP (%s)",
		    w[0], k->usage);
		return false;
	}
	if (!lm_opt_check_name(st, w[1], lm_opt_type_name(r->type)))
		return false;
	r->has_who = true;
	r->group = -1;
	r->who = lm_opt_strdup(st, w[1]);
	if (!r->who)
		return false;
	switch (r->type) {
	case LM_OPT_INTERNET:
		if (!lm_opt_ip_pattern_valid(w[1])) {
			ERR("INTERNET %s is not an IPv4 address pattern: write four numbers 0-255 "
			    "or '*' separated by dots (192.168.1.*)",
			    w[1]);
			return false;
		}
		break;
	case LM_OPT_HOST:
		if (lm_opt_attempts_ip(w[1]) && !lm_opt_ip_pattern_valid(w[1])) {
			ERR("HOST %s is not a valid IPv4 address pattern: write four numbers 0-255 "
			    "or '*' separated by dots (10.1.*.*); '*' is a wildcard only in "
			    "addresses",
			    w[1]);
			return false;
		}
		if (!lm_opt_attempts_ip(w[1]) && strchr(w[1], '*'))
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

static void add_rule(struct lm_opt_state *st, struct lm_opt_rule *r)
{
	struct lm_options *o = st->o;
	struct lm_opt_rule *rules =
	        lm_opt_grow(st, o->rules, &st->cap_rules, o->nrules, sizeof *rules);
	if (!rules) {
		lm_opt_rule_free(r);
		return;
	}
	o->rules = rules;
	rules[o->nrules++] = *r;
}

void lm_opt_parse_rule(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw)
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
		ok = lm_opt_parse_feature(st, w[0], &r) && parse_who(st, k, w + 1, &r);
		break;
	case SHAPE_WHO: ok = parse_who(st, k, w, &r); break;
	case SHAPE_COUNT_FEATURE_WHO:
		ok = lm_opt_parse_number(
		             st, w[0], k->kw == LM_OPT_RESERVE ? "RESERVE's count" : "MAX's count",
		             &r.number) &&
		     lm_opt_parse_feature(st, w[1], &r) && parse_who(st, k, w + 2, &r);
		if (ok && k->kw == LM_OPT_RESERVE && r.number == 0) {
			ERR("RESERVE 0 reserves nothing: give a count of at least 1, or remove the "
			    "line");
			ok = false;
		}
		break;
	case SHAPE_FEATURE_NUMBER:
		ok = lm_opt_parse_feature(st, w[0], &r) &&
		     lm_opt_parse_number(st, w[1], k->name, &r.number);
		break;
	case SHAPE_NUMBER: ok = lm_opt_parse_number(st, w[0], k->name, &r.number); break;
	default: break;
	}
	if (!ok) {
		lm_opt_rule_free(&r);
		return;
	}
	/* The number stays as written: lmd raises it to its own minimum when
	 * it enforces it (lmd --timeout-min), so a file checked offline and a
	 * server with a lowered minimum read the same rule. */
	if ((k->kw == LM_OPT_TIMEOUT || k->kw == LM_OPT_TIMEOUTALL) &&
	    r.number < LM_OPTIONS_TIMEOUT_MIN)
		WARN("%s %u s is below the minimum of %d s: lmd uses %d s unless started with a "
		     "lower --timeout-min",
		     k->name, r.number, LM_OPTIONS_TIMEOUT_MIN, LM_OPTIONS_TIMEOUT_MIN);
	switch (k->kw) {
	case LM_OPT_INCLUDE_BORROW:
	case LM_OPT_EXCLUDE_BORROW:
	case LM_OPT_MAX_BORROW_HOURS:
	case LM_OPT_BORROW_LOWWATER:
		r.no_effect = true;
		WARN("%s has no effect yet: lmd does not lend seats for offline use", k->name);
		break;
	/* Kept, shown, and said plainly not to work until it does. */
	case LM_OPT_LINGER:
		r.no_effect = true;
		WARN("LINGER has no effect yet: a seat checked in is free at once");
		break;
	default: break;
	}
	lm_opt_check_feature_in_license(st, &r);
	r.text = lm_opt_rule_text(&r);
	if (!r.text) {
		st->nomem = true;
		lm_opt_rule_free(&r);
		return;
	}
	lm_opt_canon_add(st, lm_opt_strdup(st, r.text));
	add_rule(st, &r);
}
