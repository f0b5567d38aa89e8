/* How long the application may believe it holds its seats.
 *
 * The lease rule (README, "Redundant servers"; proto/lm.proto,
 * SessionReply.lease_ms): the pool expires a session only after timeout_ms
 * without hearing from it, counted from a moment no earlier than the send
 * time of the client's last request it answered.  The seats are therefore
 * safe until that send time plus the lease, which the server makes shorter
 * than its timeout by enough to cover a deposed leader still answering and
 * the drift between the two clocks.  Past it, a majority of servers out of
 * our reach may have expired the session and given its seats to others:
 * every seat is reported lost, whatever the grace period says.
 *
 * When the connection the session is attached to ends without a
 * SessionClose, the server may see what it sees when a process dies (EOF or
 * reset) and return the seats after its reclaim delay: whoever ended it (we,
 * after no answer in time; or a proxy or firewall that closed both sides),
 * the seats are believed held for at most SessionReply.linger_ms from then
 * on, until the session is resumed.  Only a close the server announced
 * first, with an ErrorReply saying why (it lost its leadership, it stops),
 * starts no reclaim and leaves the lease whole.
 *
 * The grace period (SessionReply.grace_ms) is what is left of the older
 * rule: while disconnected, seats nobody confirmed for that long are
 * reported lost.  It only matters when it is shorter than the lease. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>

#include "client/session_internal.h"
#include "core/error.h"
#include "proto/frame_conn.h"

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void lm_session_lease_terms(struct lm_session *s, const Lm__SessionReply *r)
{
	s->timeout_ms = r->has_timeout_ms ? r->timeout_ms : 0;
	if (r->has_lease_ms && r->lease_ms)
		s->lease_ms = r->lease_ms;
	else
		/* A server older than the lease rule: its election timeout,
		 * and so the margin it would have taken, is unknown.  Half
		 * the timeout is more than any server accepts as a margin
		 * (lmd refuses an election timeout of a third of the session
		 * timeout or more). */
		s->lease_ms = s->timeout_ms / 2;
	if (s->timeout_ms && s->lease_ms > s->timeout_ms)
		s->lease_ms = s->timeout_ms;
	/* Absent: a server without reclaim, which an ended connection does
	 * not hurry. */
	s->has_linger = r->has_linger_ms;
	s->linger_ms = r->has_linger_ms ? r->linger_ms : 0;

	unsigned hb =
	        r->has_heartbeat_ms && r->heartbeat_ms ? r->heartbeat_ms : LM_SESSION_HEARTBEAT_MS;
	if (s->cfg.heartbeat_ms && s->cfg.heartbeat_ms < hb)
		hb = s->cfg.heartbeat_ms;
	/* A heartbeat left unanswered (lm_session_lease_answer_ms) still
	 * leaves a third of the lease to resume elsewhere. */
	if (s->lease_ms && hb > s->lease_ms / 3)
		hb = s->lease_ms / 3 ? s->lease_ms / 3 : 1;
	s->heartbeat_ms = hb;
	s->grace_ms = s->cfg.grace_ms                  ? s->cfg.grace_ms
	              : r->has_grace_ms && r->grace_ms ? r->grace_ms
	                                               : LM_SESSION_GRACE_MS;
}

void lm_session_lease_confirm(struct lm_session *s, int64_t sent_at)
{
	int64_t now = lm_clock_ms();
	s->confirmed_at = now;
	s->noquorum = false;
	if (s->lease_ms && sent_at + (int64_t)s->lease_ms > s->lease_until)
		s->lease_until = sent_at + (int64_t)s->lease_ms;
	/* Seats reported lost are confirmed by the next HeartbeatReply: ask
	 * at once. */
	if (s->lease_over)
		s->hb_due = now;
}

void lm_session_lease_closed(struct lm_session *s, bool announced)
{
	if (announced || !s->has_session || !s->has_linger || !s->lease_ms)
		return;
	int64_t until = lm_clock_ms() + (int64_t)s->linger_ms;
	if (until < s->lease_until)
		s->lease_until = until;
}

bool lm_session_lease_live(const struct lm_session *s)
{
	return !s->lease_ms || lm_clock_ms() < s->lease_until;
}

int64_t lm_session_lease_deadline(const struct lm_session *s)
{
	if (!s->has_session)
		return INT64_MAX; /* the seats were reported with the session */
	int64_t d = s->lease_ms ? s->lease_until : INT64_MAX;
	if (!s->connected)
		d = min64(d, s->confirmed_at + (int64_t)s->grace_ms + 1);
	return d > s->reported ? d : INT64_MAX;
}

unsigned lm_session_lease_answer_ms(const struct lm_session *s)
{
	unsigned ms = s->cfg.io_timeout_ms;
	if (s->lease_ms && s->lease_ms / 3 < ms)
		ms = s->lease_ms / 3 ? s->lease_ms / 3 : 1;
	return ms;
}

void lm_session_lease_check(struct lm_session *s)
{
	int64_t d = lm_session_lease_deadline(s);
	if (d == INT64_MAX || lm_clock_ms() < d)
		return;
	s->reported = d;
	s->lease_over = true;
	bool lease = s->lease_ms && d == s->lease_until;
	char message[LM_MESSAGE_LONG_MAX];
	pthread_mutex_lock(&s->lock);
	bool noquorum = s->noquorum || (!s->connected && s->last_error == LMC_ENOQUORUM);
	int code = noquorum ? LMC_ENOQUORUM : LMC_ENOSERVER;
	if (lease && noquorum)
		snprintf(message, sizeof message,
		         "no license server confirmed the session within its lease (%u ms) and "
		         "the servers reached have no quorum: a majority out of reach may have "
		         "expired it and given its seats to others",
		         s->lease_ms);
	else if (lease)
		snprintf(message, sizeof message,
		         "no license server confirmed the session within its lease (%u ms): the "
		         "servers may have expired it and given its seats to others",
		         s->lease_ms);
	else
		snprintf(message, sizeof message,
		         "no license server confirmed the seats within the grace period (%u ms)",
		         s->grace_ms);
	for (size_t i = 0; i < s->nseats; i++) {
		struct lm_session_seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD || seat->lost_told)
			continue;
		seat->unconfirmed = true;
		seat->lost_told = true;
		lm_session_event_add(s, true, seat, code, message);
	}
	pthread_mutex_unlock(&s->lock);
}
