/* Expiring silent sessions (expiry.h). */
#include "config.h"

#include "lmd/expiry.h"

#include <stdlib.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/log.h"
#include "lmd/command.h"
#include "lmd/connection.h"
#include "lmd/faults.h"
#include "lmd/walltime.h"

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

int lm_expiry_days_left(const struct lm_server *s, int32_t expiry, int32_t today)
{
	if (s->cfg.expiry_warn_days == 0 || expiry == LM_DATE_PERMANENT || expiry == LM_DATE_NONE ||
	    expiry < today)
		return -1;
	int64_t left = (int64_t)expiry - today;
	return left <= s->cfg.expiry_warn_days ? (int)left : -1;
}

/* One line of the set: a warning when it expires soon.  Returns 0, or -1
 * when the line cannot be read. */
static int warn_line(struct lm_server *s, uint32_t i, int32_t today, char *text, size_t size)
{
	uint8_t sig[LM_SIG_LEN];
	struct lm_license l;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	struct lm_parse_error perr;
	int ncodes, rc = lm_pool_line(s->pool, i, text, size, sig);
	if (rc)
		return rc;
	if (lm_license_parse_canonical(text, &l, codes, &ncodes, &perr) != 0)
		return 0;
	int left = lm_expiry_days_left(s, l.expiry, today);
	if (left < 0 || l.type == LM_LINE_PACKAGE)
		return 0;
	char date[16], seats[32];
	lm_date_format(l.expiry, date, sizeof date);
	if (l.uncounted)
		snprintf(seats, sizeof seats, "uncounted");
	else
		snprintf(seats, sizeof seats, "%u seat%s", (unsigned)l.count,
		         l.count == 1 ? "" : "s");
	if (left == 0)
		lm_log_warning("license: %s %s %s (%s) expires today, %s: ask the vendor for a "
		               "renewal",
		               lm_line_type_name(l.type), l.name, l.version, seats, date);
	else
		lm_log_warning("license: %s %s %s (%s) expires on %s, in %d day%s: ask the vendor "
		               "for a renewal",
		               lm_line_type_name(l.type), l.name, l.version, seats, date, left,
		               left == 1 ? "" : "s");
	return 0;
}

void lm_expiry_warn_licenses(struct lm_server *s)
{
	int32_t today = (int32_t)(lm_walltime_us() / 1000000 / 86400);
	if (s->cfg.expiry_warn_days == 0 || s->expiry_warned_day == today)
		return;
	char *text = malloc(LM_LINE_MAX + 1);
	if (!text)
		return;
	uint32_t i = 0;
	while (warn_line(s, i, today, text, LM_LINE_MAX + 1) == 0)
		i++;
	free(text);
	/* Before the set is applied there is nothing to warn about yet:
	 * try again at the next sweep. */
	if (i > 0)
		s->expiry_warned_day = today;
}
