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
