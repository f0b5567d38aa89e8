/* Options files: checks over the whole file once every line is read: rules
 * an EXCLUDE makes useless, RESERVE and MAX against the license's seats. */
#include "core/options_internal.h"

#include <stdlib.h>
#include <string.h>

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
void lm_opt_check_shadowed(struct lm_opt_state *st)
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
void lm_opt_check_counts(struct lm_opt_state *st)
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
			lm_opt_diag_add(
			        st->diags, 0, LM_OPT_WARNING,
			        "every seat of %s %s is reserved: nobody outside the RESERVE lines "
			        "can "
			        "use it",
			        l->name, l->version);
	}
	for (size_t k = 0; k < o->nrules; k++) {
		const struct lm_opt_rule *r = &o->rules[k];
		if (r->kw != LM_OPT_MAX || !lm_opt_name_in_license(lic, r->feature, true))
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

/* Adds name to the n distinct names of set (cap entries), saying whether
 * it is new. */
static bool add_name(const char **set, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(set[i], name) == 0)
			return false;
	set[(*n)++] = name;
	return true;
}

/* FlexLM: with USER_BASED (HOST_BASED), the users (hosts) INCLUDEd for the
 * feature are its named users, and including more than the license names
 * is an error of the options file.  INCLUDE lines of the matching type
 * count, a GROUP (HOST_GROUP) by its members, each name once; the limit is
 * the sum over the feature's lines, dates aside. */
void lm_opt_check_named(struct lm_opt_state *st)
{
	const struct lm_options *o = st->o;
	const struct lm_license_file *lic = st->lic;
	if (!lic)
		return;
	for (size_t i = 0; i < lic->nlines; i++) {
		const struct lm_license *l = &lic->lines[i];
		uint32_t max;
		enum lm_named_kind kind = lm_license_named_rule(l, &max);
		bool first = true;
		if (kind == LM_NAMED_NONE || l->type == LM_LINE_PACKAGE)
			continue;
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(lic->lines[k].name, l->name) != 0 ||
			        lic->lines[k].type == LM_LINE_PACKAGE;
		if (!first)
			continue;
		uint64_t limit = 0;
		for (size_t k = i; k < lic->nlines; k++) {
			uint32_t m;
			if (lic->lines[k].type != LM_LINE_PACKAGE &&
			    strcmp(lic->lines[k].name, l->name) == 0 &&
			    lm_license_named_rule(&lic->lines[k], &m) == kind)
				limit += m;
		}
		enum lm_opt_type one = kind == LM_NAMED_USERS ? LM_OPT_USER : LM_OPT_HOST;
		enum lm_opt_type group =
		        kind == LM_NAMED_USERS ? LM_OPT_TYPE_GROUP : LM_OPT_TYPE_HOST_GROUP;
		size_t cap = 0, n = 0;
		for (size_t k = 0; k < o->nrules; k++) {
			const struct lm_opt_rule *r = &o->rules[k];
			if (r->kw != LM_OPT_INCLUDE || !r->has_feature ||
			    strcmp(r->feature, l->name))
				continue;
			if (r->type == one)
				cap++;
			else if (r->type == group && r->group >= 0)
				cap += o->groups[r->group].nmembers;
		}
		if (cap == 0)
			continue;
		const char **names = malloc(cap * sizeof *names);
		if (!names) {
			st->nomem = true;
			return;
		}
		for (size_t k = 0; k < o->nrules; k++) {
			const struct lm_opt_rule *r = &o->rules[k];
			bool added = false;
			if (r->kw != LM_OPT_INCLUDE || !r->has_feature ||
			    strcmp(r->feature, l->name))
				continue;
			if (r->type == one) {
				added = add_name(names, &n, r->who);
			} else if (r->type == group && r->group >= 0) {
				const struct lm_opt_group *g = &o->groups[r->group];
				for (size_t m = 0; m < g->nmembers; m++)
					added |= add_name(names, &n, g->members[m]);
			}
			if (added && n > limit) {
				st->lineno = r->lineno;
				const char *what = kind == LM_NAMED_USERS ? "users" : "hosts";
				ERR("%s: the license limits %s to %llu named %s, and this line "
				    "makes %zu included %s; include at most %llu, or ask the "
				    "vendor for more",
				    r->text, l->name, (unsigned long long)limit, what, n, what,
				    (unsigned long long)limit);
				break;
			}
		}
		free(names);
	}
}
