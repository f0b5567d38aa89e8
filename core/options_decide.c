/* Options files: the decisions.  lm_options_decide states the rules it
 * applies (options.h); everything here is a pure function of its
 * arguments, because the pool calls it inside apply, on every server. */
#include "core/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

bool lm_opt_rule_applies(const struct lm_opt_rule *r, const char *feature, const char *version)
{
	if (!r->has_feature)
		return true;
	if (!r->feature_matched && strcmp(r->feature, feature) != 0)
		return false;
	if (!r->qual_value)
		return true;
	for (size_t i = 0; i < r->nversions; i++)
		if (lm_version_compare(r->versions[i], version) == 0)
			return true;
	return false;
}

static bool set(const char *s)
{
	return s && *s;
}

static bool name_eq(const char *a, const char *b, bool fold)
{
	return fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* An IPv4 pattern ("10.1.*.*", already checked by the parser) against an
 * address: each part equal, or '*'. */
static bool ip_matches(const char *pattern, const char *ip)
{
	const char *p = pattern, *a = ip;
	for (int part = 0; part < 4; part++) {
		size_t alen = strcspn(a, ".");
		if (alen == 0 || alen > 3)
			return false;
		if (*p == '*') {
			p++;
		} else {
			size_t plen = strcspn(p, ".");
			unsigned pv = 0, av = 0;
			for (size_t i = 0; i < plen; i++)
				pv = pv * 10 + (unsigned)(p[i] - '0');
			for (size_t i = 0; i < alen; i++) {
				if (a[i] < '0' || a[i] > '9')
					return false;
				av = av * 10 + (unsigned)(a[i] - '0');
			}
			if (pv != av)
				return false;
			p += plen;
		}
		a += alen;
		if (part < 3) {
			if (*p != '.' || *a != '.')
				return false;
			p++;
			a++;
		}
	}
	return *p == '\0' && *a == '\0';
}

static bool is_ip_pattern(const char *s)
{
	if (!strchr(s, '.'))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == '*'))
			return false;
	return true;
}

/* A host name or address pattern (a HOST rule, a HOST_GROUP member). */
static bool host_matches(const char *pattern, const struct lm_opt_client *who, bool fold)
{
	if (is_ip_pattern(pattern))
		return set(who->ip) && ip_matches(pattern, who->ip);
	return set(who->host) && name_eq(pattern, who->host, fold);
}

static bool in_group(const struct lm_options *o, const struct lm_opt_group *g,
                     const struct lm_opt_client *who)
{
	/* GROUPCASEINSENSITIVE folds the case of group members only. */
	bool fold = o->case_insensitive;
	for (size_t i = 0; i < g->nmembers; i++) {
		if (g->host ? host_matches(g->members[i], who, fold)
		            : set(who->user) && name_eq(g->members[i], who->user, fold))
			return true;
	}
	return false;
}

bool lm_opt_rule_names(const struct lm_options *o, const struct lm_opt_rule *r,
                       const struct lm_opt_client *who)
{
	if (!r->has_who)
		return false;
	switch (r->type) {
	case LM_OPT_USER: return set(who->user) && (r->all_users || strcmp(r->who, who->user) == 0);
	case LM_OPT_HOST: return host_matches(r->who, who, false);
	case LM_OPT_DISPLAY: return set(who->display) && strcmp(r->who, who->display) == 0;
	case LM_OPT_INTERNET: return set(who->ip) && ip_matches(r->who, who->ip);
	case LM_OPT_PROJECT: return set(who->project) && strcmp(r->who, who->project) == 0;
	case LM_OPT_TYPE_GROUP:
	case LM_OPT_TYPE_HOST_GROUP:
		if (r->all_groups) {
			for (size_t i = 0; i < o->ngroups; i++)
				if (!o->groups[i].host && in_group(o, &o->groups[i], who))
					return true;
			return false;
		}
		return r->group >= 0 && (size_t)r->group < o->ngroups &&
		       in_group(o, &o->groups[r->group], who);
	}
	return false;
}

/* A denial by rule r: "denied: EXCLUDE f1 USER bob (acme.opt line 7)",
 * then detail. */
static void deny(struct lm_opt_decision *d, const struct lm_options *o, const struct lm_opt_rule *r,
                 const char *detail)
{
	d->outcome = LM_OPT_DENY;
	d->rule = r;
	snprintf(d->message, sizeof d->message, "denied: %s (%s line %d)%s", r->text, o->name,
	         r->lineno, detail);
}

/* The same party for a MAX rule: what the rule counts together.  For
 * ALL_USERS, the same user; ALL_GROUPS, a member of the group g; otherwise
 * whatever the rule names. */
static bool max_counts(const struct lm_options *o, const struct lm_opt_rule *r,
                       const struct lm_opt_client *asker, const struct lm_opt_client *holder,
                       const struct lm_opt_group *g)
{
	if (r->all_users)
		return set(holder->user) && strcmp(holder->user, asker->user) == 0;
	if (r->all_groups)
		return in_group(o, g, holder);
	return lm_opt_rule_names(o, r, holder);
}

static uint64_t held_by(const struct lm_options *o, const struct lm_opt_rule *r,
                        const char *feature, const struct lm_opt_client *asker,
                        const struct lm_opt_group *g, const struct lm_opt_holding *held,
                        size_t nheld)
{
	uint64_t n = 0;
	for (size_t i = 0; i < nheld; i++)
		if (lm_opt_rule_applies(r, feature, held[i].version) &&
		    max_counts(o, r, asker, &held[i].who, g))
			n += held[i].count;
	return n;
}

/* Step 3 of lm_options_decide: MAX.  Returns the rule that refuses, or
 * NULL, with *have the seats that party holds. */
static const struct lm_opt_rule *check_max(const struct lm_options *o,
                                           const struct lm_opt_client *who, const char *feature,
                                           const char *version, uint32_t count,
                                           const struct lm_opt_holding *held, size_t nheld,
                                           uint64_t *have)
{
	bool user_capped = false;
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw != LM_OPT_MAX || !lm_opt_rule_applies(r, feature, version) ||
		    !lm_opt_rule_names(o, r, who))
			continue;
		/* The first MAX naming this user, himself or as ALL_USERS, is
		 * his personal cap; later ones are replaced by it. */
		if (r->type == LM_OPT_USER) {
			if (user_capped)
				continue;
			user_capped = true;
		}
		if (r->all_groups) {
			for (size_t g = 0; g < o->ngroups; g++) {
				if (o->groups[g].host || !in_group(o, &o->groups[g], who))
					continue;
				*have = held_by(o, r, feature, who, &o->groups[g], held, nheld);
				if (*have + count > r->number)
					return r;
			}
			continue;
		}
		*have = held_by(o, r, feature, who, NULL, held, nheld);
		if (*have + count > r->number)
			return r;
	}
	return NULL;
}

/* Step 4 of lm_options_decide, alone for lmstat: the reservations of the
 * pool in file order, each cut to what is left of the seats issued, and the
 * holdings charged in handle order, reserved seats first. */
int lm_options_reservations(const struct lm_options *o, const char *feature, const char *version,
                            uint32_t issued, const struct lm_opt_holding *held, size_t nheld,
                            struct lm_opt_reservation **out, size_t *n, uint64_t *unreserved_used)
{
	size_t nres = 0;
	*out = NULL;
	*n = 0;
	*unreserved_used = 0;
	for (size_t i = 0; i < o->nrules; i++)
		nres += o->rules[i].kw == LM_OPT_RESERVE &&
		        lm_opt_rule_applies(&o->rules[i], feature, version);
	struct lm_opt_reservation *res = NULL;
	if (nres) {
		res = calloc(nres, sizeof *res);
		if (!res)
			return LMC_ENOMEM;
	}
	uint32_t left_to_reserve = issued;
	nres = 0;
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw != LM_OPT_RESERVE || !lm_opt_rule_applies(r, feature, version))
			continue;
		uint32_t seats = r->number < left_to_reserve ? r->number : left_to_reserve;
		left_to_reserve -= seats;
		res[nres++] = (struct lm_opt_reservation){.rule = r, .seats = seats, .idle = seats};
	}
	for (size_t h = 0; h < nheld; h++) {
		if (lm_version_compare(held[h].version, version) != 0)
			continue;
		uint32_t c = held[h].count;
		for (size_t k = 0; k < nres && c; k++) {
			if (!res[k].idle || !lm_opt_rule_names(o, res[k].rule, &held[h].who))
				continue;
			uint32_t take = c < res[k].idle ? c : res[k].idle;
			res[k].idle -= take;
			c -= take;
		}
		*unreserved_used += c;
	}
	*out = res;
	*n = nres;
	return 0;
}

int lm_options_decide(const struct lm_options *o, const struct lm_opt_client *who,
                      const char *feature, const char *version, uint32_t count, uint32_t issued,
                      const struct lm_opt_holding *held, size_t nheld, struct lm_opt_decision *out)
{
	uint64_t in_pool = 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < nheld; i++)
		if (lm_version_compare(held[i].version, version) == 0)
			in_pool += held[i].count;
	uint64_t free_seats = in_pool < issued ? issued - in_pool : 0;

	/* 1. EXCLUDE and EXCLUDEALL. */
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if ((r->kw == LM_OPT_EXCLUDE || r->kw == LM_OPT_EXCLUDEALL) &&
		    lm_opt_rule_applies(r, feature, version) && lm_opt_rule_names(o, r, who)) {
			deny(out, o, r, "");
			return 0;
		}
	}

	/* 2. INCLUDE lists. */
	const struct lm_opt_rule *first_include = NULL;
	bool included = false;
	for (size_t i = 0; i < o->nrules && !included; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if ((r->kw != LM_OPT_INCLUDE && r->kw != LM_OPT_INCLUDEALL) ||
		    !lm_opt_rule_applies(r, feature, version))
			continue;
		if (!first_include)
			first_include = r;
		included = lm_opt_rule_names(o, r, who);
	}
	if (first_include && !included) {
		out->outcome = LM_OPT_DENY;
		out->rule = first_include;
		snprintf(out->message, sizeof out->message,
		         "denied: %s%s is not on the INCLUDE list of %s, which starts with %s (%s "
		         "line %d)",
		         set(who->user) ? "user " : "this client", set(who->user) ? who->user : "",
		         feature, first_include->text, o->name, first_include->lineno);
		return 0;
	}

	/* 3. MAX. */
	uint64_t have = 0;
	const struct lm_opt_rule *cap =
	        check_max(o, who, feature, version, count, held, nheld, &have);
	if (cap) {
		char detail[96];
		snprintf(detail, sizeof detail, ": %llu held, %u more asked",
		         (unsigned long long)have, count);
		deny(out, o, cap, detail);
		return 0;
	}

	/* 4. RESERVE. */
	struct lm_opt_reservation *res = NULL;
	size_t nres = 0;
	uint64_t unreserved_used = 0, mine = 0, reserved_total = 0;
	int rc = lm_options_reservations(o, feature, version, issued, held, nheld, &res, &nres,
	                                 &unreserved_used);
	if (rc)
		return rc;
	const struct lm_opt_rule *blocking = NULL;
	for (size_t k = 0; k < nres; k++) {
		reserved_total += res[k].seats;
		if (lm_opt_rule_names(o, res[k].rule, who))
			mine += res[k].idle;
		else if (res[k].idle && !blocking)
			blocking = res[k].rule;
	}
	uint64_t unreserved = issued - reserved_total;
	uint64_t unreserved_free = unreserved_used < unreserved ? unreserved - unreserved_used : 0;
	uint64_t available = unreserved_free + mine;
	if (available > free_seats)
		available = free_seats;
	out->available = available > UINT32_MAX ? UINT32_MAX : (uint32_t)available;
	if (count > free_seats) {
		out->outcome = LM_OPT_NOSEATS;
		snprintf(out->message, sizeof out->message,
		         "%u seats of %s %s asked, %llu of %u free", count, feature, version,
		         (unsigned long long)free_seats, issued);
	} else if (count > available && blocking) {
		char detail[160];
		snprintf(detail, sizeof detail,
		         ": %llu of the %llu free seats of %s %s are reserved for others",
		         (unsigned long long)(free_seats - available),
		         (unsigned long long)free_seats, feature, version);
		deny(out, o, blocking, detail);
	} else {
		out->outcome = LM_OPT_ALLOW;
	}
	free(res);
	return 0;
}

static uint32_t last_number(const struct lm_options *o, enum lm_opt_keyword kw, const char *feature,
                            const char *version)
{
	uint32_t n = 0;
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw == kw && lm_opt_rule_applies(r, feature, version))
			n = r->number;
	}
	return n;
}

uint32_t lm_options_timeout(const struct lm_options *o, const char *feature, const char *version)
{
	uint32_t t = last_number(o, LM_OPT_TIMEOUT, feature, version);
	return t ? t : last_number(o, LM_OPT_TIMEOUTALL, feature, version);
}

uint32_t lm_options_linger(const struct lm_options *o, const char *feature, const char *version)
{
	return last_number(o, LM_OPT_LINGER, feature, version);
}
