/* Expiring silent sessions (expiry.h). */
#include "config.h"

#include "lmd/expiry.h"

#include <stdlib.h>

#include "core/log.h"
#include "lmd/command.h"
#include "lmd/connection.h"
#include "lmd/faults.h"

struct expiry {
	struct lm_server *s;
	uint64_t session_id;
	bool abandoned; /* its connection ended without SessionClose */
};

static void expire_done(void *arg, int status, struct lm_pool_result *res)
{
	struct expiry *e = arg;
	struct lm_server *s = e->s;
	struct lm_live_session *ls = lm_live_sessions_find(&s->live, e->session_id);
	s->expiring--;
	if (status == 0) {
		if (res->code == 0 && e->abandoned)
			lm_log("expire",
			       "session=%016llx returned %u seats %u ms after its connection "
			       "closed "
			       "without checkin",
			       (unsigned long long)e->session_id, res->count, s->cfg.reclaim_ms);
		else if (res->code == 0)
			lm_log("expire", "session=%016llx returned %u seats after %u ms of silence",
			       (unsigned long long)e->session_id, res->count, s->cfg.timeout_ms);
		if (ls) {
			if (ls->conn)
				lm_connection_detach(ls->conn);
			lm_live_sessions_remove(&s->live, e->session_id);
		}
	} else if (ls) {
		ls->closing = false;
	}
	free(e);
}

static void propose_expiry(struct lm_server *s, struct lm_live_session *ls, bool abandoned)
{
	struct lm_command cmd;
	lm_command_close_session(&cmd, ls->id,
	                         abandoned ? LMCMD__CLOSE_REASON__CLOSE_ABANDONED
	                                   : LMCMD__CLOSE_REASON__CLOSE_EXPIRED);
	struct expiry *e = lm_fault_alloc() ? NULL : malloc(sizeof *e);
	if (e) {
		*e = (struct expiry){.s = s, .session_id = ls->id, .abandoned = abandoned};
		if (lm_server_propose(s, &cmd, expire_done, e) == 0) {
			ls->closing = true;
			s->expiring++;
		} else {
			free(e);
		}
	}
	lm_command_release(&cmd);
}

void lm_expiry_sweep(struct lm_server *s)
{
	if (!s->ready)
		return;
	uint64_t now = uv_now(s->loop);
	for (size_t i = 0; i < s->live.capacity && s->expiring < LM_EXPIRY_IN_FLIGHT_MAX; i++) {
		struct lm_live_session *ls = &s->live.slots[i];
		if (!ls->id || ls->closing)
			continue;
		/* The pool may take back a session only once its client's lease
		 * (counted from the send time of a request heard here, so no
		 * later than last_heard_ms) has run out: after the session
		 * timeout of silence, or after --reclaim-after when the
		 * connection ended without SessionClose (liblmc shortens its
		 * lease to match when it closes a connection itself). */
		bool abandoned = !ls->conn && ls->eof_ms && now - ls->eof_ms > s->cfg.reclaim_ms;
		if (abandoned || now - ls->last_heard_ms > s->cfg.timeout_ms)
			propose_expiry(s, ls, abandoned);
	}
}
