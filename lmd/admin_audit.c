/* The audit trail of admin requests (admin_audit.h). */
#include "config.h"

#include "lmd/admin_audit.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/server.h"
#include "lmd/walltime.h"

static void proposed(void *arg, int status, struct lm_pool_result *res)
{
	(void)arg;
	(void)res;
	if (status != 0)
		lm_log_error("an admin action did not reach the report log: %s (lmd's log has it)",
		             lmc_strerror(status));
}

/* On the leader, the entry goes to every server's report log through the
 * replicated log; refusals within the rate limit only. */
static void propose(struct lm_server *s, const struct lm_admin_audit_entry *e)
{
	struct lm_admin_audit *a = &s->audit;
	if (!s->ready)
		return;
	if (!e->accepted) {
		if (a->window_s != e->time) {
			a->window_s = e->time;
			a->window_refusals = 0;
		}
		if (++a->window_refusals > LM_ADMIN_AUDIT_REFUSALS_PER_S) {
			a->suppressed++;
			return;
		}
	}
	struct lm_command cmd;
	lm_command_admin_action(&cmd, e->who, e->address, e->action, e->accepted, e->detail,
	                        a->suppressed);
	int rc = lm_server_propose(s, &cmd, proposed, NULL);
	lm_command_release(&cmd);
	if (rc == 0)
		a->suppressed = 0;
	else
		lm_log_error("an admin action did not reach the report log: %s (lmd's log has it)",
		             lmc_strerror(rc));
}

void lm_admin_audit_record(struct lm_server *s, const char *who, const char *address,
                           const char *action, bool accepted, const char *detail)
{
	struct lm_admin_audit *a = &s->audit;
	int64_t now = (int64_t)(lm_walltime_us() / 1000000);
	lm_log("admin", "%s %s by %s from %s%s%s", action, accepted ? "allowed" : "REFUSED", who,
	       address, *detail ? ": " : "", detail);
	struct lm_admin_audit_entry *e = &a->entries[a->next];
	e->time = now;
	snprintf(e->who, sizeof e->who, "%s", who);
	snprintf(e->address, sizeof e->address, "%s", address);
	snprintf(e->action, sizeof e->action, "%s", action);
	e->accepted = accepted;
	snprintf(e->detail, sizeof e->detail, "%s", detail);
	a->next = (a->next + 1) % LM_ADMIN_AUDIT_KEEP;
	if (a->count < LM_ADMIN_AUDIT_KEEP)
		a->count++;
	propose(s, e);
}

void lm_admin_audit_status(struct lm_server *s, Lm__StatusReply *r)
{
	struct lm_admin_audit *a = &s->audit;
	if (a->count == 0)
		return;
	Lm__AdminAction **list = lm_arena_alloc(&s->arena, a->count * sizeof *list);
	Lm__AdminAction *actions = lm_arena_alloc(&s->arena, a->count * sizeof *actions);
	if (!list || !actions)
		return;
	unsigned first = (a->next + LM_ADMIN_AUDIT_KEEP - a->count) % LM_ADMIN_AUDIT_KEEP;
	for (unsigned i = 0; i < a->count; i++) {
		struct lm_admin_audit_entry *e = &a->entries[(first + i) % LM_ADMIN_AUDIT_KEEP];
		Lm__AdminAction *x = &actions[i];
		lm__admin_action__init(x);
		x->has_time = x->has_accepted = 1;
		x->time = e->time;
		x->accepted = e->accepted;
		x->who = e->who;
		x->address = e->address;
		x->action = e->action;
		x->detail = e->detail;
		list[i] = x;
	}
	r->n_admin_actions = a->count;
	r->admin_actions = list;
}
