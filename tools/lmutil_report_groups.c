/* lmutil report --options: the use per GROUP (lmutil_report.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/options.h"
#include "tools/lmutil_report.h"

static bool member(const struct lm_options *o, const struct lm_opt_group *g, const char *user)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (o->case_insensitive ? strcasecmp(g->members[i], user) == 0
		                        : strcmp(g->members[i], user) == 0)
			return true;
	return false;
}

int lm_usage_groups(struct lm_usage *u, const struct lm_options *o)
{
	for (size_t g = 0; g < o->ngroups; g++) {
		const struct lm_opt_group *grp = &o->groups[g];
		if (grp->host)
			continue;
		for (uint32_t f = 0; f < u->nfeatures; f++) {
			struct lm_usage_group sum = {.group = grp->name, .feature = f};
			bool any = false;
			for (size_t i = 0; i < u->nper_user; i++) {
				const struct lm_usage_user *p = &u->per_user[i];
				if (p->feature != f || !member(o, grp, u->users[p->user]))
					continue;
				sum.seat_us += p->seat_us;
				sum.checkouts += p->checkouts;
				sum.denials += p->denials;
				any = true;
			}
			if (!any)
				continue;
			struct lm_usage_group *rows =
			        realloc(u->per_group, (u->nper_group + 1) * sizeof *rows);
			if (!rows)
				return -1;
			u->per_group = rows;
			u->per_group[u->nper_group++] = sum;
		}
	}
	return 0;
}
