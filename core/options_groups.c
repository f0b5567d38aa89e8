/* Options files: GROUP and HOST_GROUP lines, and, once the file is read,
 * the rules that name a group bound to it. */
#include "core/options_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lm_opt_group *find_group(const struct lm_options *o, const char *name, bool host)
{
	for (size_t i = 0; i < o->ngroups; i++)
		if (o->groups[i].host == host && strcmp(o->groups[i].name, name) == 0)
			return &o->groups[i];
	return NULL;
}

void lm_opt_parse_group(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw)
{
	struct lm_options *o = st->o;
	bool host = k->kw == LM_OPT_HOST_GROUP;

	if (nw < 1) {
		ERR("%s needs a name: write %s", k->name, k->usage);
		return;
	}
	if (!lm_opt_check_name(st, w[0], "the group name"))
		return;
	for (int i = 1; i < nw; i++) {
		if (!lm_opt_check_name(st, w[i], host ? "a host" : "a user"))
			return;
		if (host && lm_opt_attempts_ip(w[i]) && !lm_opt_ip_pattern_valid(w[i])) {
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
		        lm_opt_grow(st, o->groups, &st->cap_groups, o->ngroups, sizeof *groups);
		if (!groups)
			return;
		o->groups = groups;
		g = &groups[o->ngroups];
		memset(g, 0, sizeof *g);
		g->name = lm_opt_strdup(st, w[0]);
		if (!g->name)
			return;
		g->host = host;
		g->lineno = st->lineno;
		o->ngroups++;
	}
	/* FlexLM: several lines of the same name add to one group. */
	for (int i = 1; i < nw; i++) {
		char **m = lm_opt_grow(st, g->members, &g->cap, g->nmembers, sizeof *m);
		if (!m)
			return;
		g->members = m;
		m[g->nmembers] = lm_opt_strdup(st, w[i]);
		if (!m[g->nmembers])
			return;
		g->nmembers++;
	}

	struct lm_opt_sbuf b = {0};
	lm_opt_sb_str(&b, k->name);
	for (int i = 0; i < nw; i++)
		lm_opt_sb_word(&b, w[i]);
	if (b.failed) {
		free(b.p);
		st->nomem = true;
		return;
	}
	lm_opt_canon_add(st, b.p);
}

/* The groups defined (host groups or user groups), for a message. */
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

/* Binds each rule naming a GROUP or HOST_GROUP to its definition, which may
 * come later in the file, and warns about groups no rule uses. */
void lm_opt_resolve_groups(struct lm_opt_state *st)
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
