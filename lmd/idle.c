/* Taking back the seats of idle applications (idle.h). */
#include "config.h"

#include "lmd/idle.h"

#include <stdlib.h>

#include "core/log.h"
#include "lmd/command.h"
#include "lmd/faults.h"

struct idle_reclaim {
	struct lm_server *s;
	uint64_t session_id, handle;
	uint32_t idle_s, timeout_s;
	char feature[LM_NAME_MAX + 1];
};

void lm_idle_heard(struct lm_server *s, uint64_t session_id, uint64_t idle_ms)
{
	struct lm_live_session *ls = lm_live_sessions_find(&s->live, session_id);
	if (!ls)
		return;
	uint64_t now = uv_now(s->loop);
	if (idle_ms == 0)
		ls->idle_since_ms = 0;
	else
		/* uv_now() starts near 0: an idle time longer than this
		 * process has run counts from its start, which only delays a
		 * reclaim. */
		ls->idle_since_ms = idle_ms < now ? now - idle_ms : 1;
}

/* A TIMEOUT of t seconds as enforced, in milliseconds: raised to
 * --timeout-min; 0 (none) stays 0. */
static uint64_t enforced_ms(const struct lm_server *s, uint32_t t)
{
	if (t == 0)
		return 0;
	return (uint64_t)(t < s->cfg.timeout_min_s ? s->cfg.timeout_min_s : t) * 1000;
}

/* The shortest timeout any rule sets (0: none): sessions idle for less are
 * not looked at, so that the sweep of a server without TIMEOUT lines, or of
 * mostly active clients, walks no seats. */
static uint64_t shortest_timeout_ms(const struct lm_server *s, const struct lm_options *o)
{
	uint64_t shortest = 0;
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw != LM_OPT_TIMEOUT && r->kw != LM_OPT_TIMEOUTALL)
			continue;
		uint64_t t = enforced_ms(s, r->number);
		if (t && (shortest == 0 || t < shortest))
			shortest = t;
	}
	return shortest;
}

static void reclaim_done(void *arg, int status, struct lm_pool_result *res)
{
	struct idle_reclaim *r = arg;
	struct lm_server *s = r->s;
	struct lm_live_session *ls = lm_live_sessions_find(&s->live, r->session_id);
	if (ls && ls->reclaiming)
		ls->reclaiming--;
	s->idle_reclaiming--;
	if (status == 0 && res->code == 0)
		lm_log("timeout",
		       "session=%016llx handle=%llu returned %u seats of %s: idle %u s, TIMEOUT %u "
		       "s",
		       (unsigned long long)r->session_id, (unsigned long long)r->handle, res->count,
		       r->feature, r->idle_s, r->timeout_s);
	free(r);
}

static void propose_reclaim(struct lm_server *s, struct lm_live_session *ls,
                            const struct lm_pool_handle *h, uint64_t idle_ms, uint64_t limit_ms)
{
	struct idle_reclaim *r = lm_fault_alloc() ? NULL : malloc(sizeof *r);
	if (!r)
		return; /* the next sweep tries again */
	*r = (struct idle_reclaim){.s = s,
	                           .session_id = ls->id,
	                           .handle = h->handle,
	                           .idle_s = (uint32_t)(idle_ms / 1000),
	                           .timeout_s = (uint32_t)(limit_ms / 1000)};
	snprintf(r->feature, sizeof r->feature, "%s", h->feature);
	struct lm_command cmd;
	lm_command_remove_handle(&cmd, h->handle, LMCMD__REMOVE_REASON__REMOVE_IDLE, r->idle_s);
	if (lm_server_propose(s, &cmd, reclaim_done, r) == 0) {
		ls->reclaiming++;
		s->idle_reclaiming++;
	} else {
		free(r);
	}
	lm_command_release(&cmd);
}

static struct lm_pool_handle handles[LM_POOL_HANDLES_PER_SESSION_MAX];

void lm_idle_sweep(struct lm_server *s)
{
	const struct lm_options *o = s->ready ? lm_pool_policy(s->pool) : NULL;
	uint64_t shortest = o ? shortest_timeout_ms(s, o) : 0;
	if (!shortest)
		return;
	uint64_t now = uv_now(s->loop);
	for (size_t i = 0; i < s->live.capacity && s->idle_reclaiming < LM_IDLE_IN_FLIGHT_MAX;
	     i++) {
		struct lm_live_session *ls = &s->live.slots[i];
		if (!ls->id || ls->closing || ls->reclaiming || !ls->idle_since_ms ||
		    now - ls->idle_since_ms < shortest)
			continue;
		uint64_t idle_ms = now - ls->idle_since_ms;
		int n = lm_pool_session_handles(s->pool, ls->id, handles,
		                                LM_POOL_HANDLES_PER_SESSION_MAX);
		if (n > LM_POOL_HANDLES_PER_SESSION_MAX)
			n = LM_POOL_HANDLES_PER_SESSION_MAX; /* the rest at the next sweep */
		for (int j = 0; j < n && s->idle_reclaiming < LM_IDLE_IN_FLIGHT_MAX; j++) {
			uint64_t limit =
			        enforced_ms(s, lm_options_timeout(o, handles[j].feature,
			                                          handles[j].pool_version));
			if (limit && idle_ms >= limit)
				propose_reclaim(s, ls, &handles[j], idle_ms, limit);
		}
	}
}
