/* The session thread's connection: one round of attempts through the
 * server list (redirects to the leader first), Hello and SessionOpen to
 * resume the session or open a new one, the regain of every seat when the
 * server forgot the session, and the backoff between rounds.  Thread only,
 * except for the shared fields it updates under s->lock. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/session_internal.h"
#include "core/error.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"

/* delay_ms give or take a quarter, so that the clients that one failover
 * cut off at the same instant do not all come back at the same instant. */
static int64_t jitter(struct lm_session *s, unsigned delay_ms)
{
	if (delay_ms < 4)
		return delay_ms;
	unsigned spread = delay_ms / 2;
	return (int64_t)(delay_ms - spread / 2 + (unsigned)rand_r(&s->seed) % (spread + 1));
}

void lm_session_drop_connection(struct lm_session *s, bool announced)
{
	int64_t now = lm_clock_ms();
	lm_session_lease_closed(s, announced);
	lm_frame_conn_close(&s->conn);
	s->connected = false;
	s->hb_outstanding = false;
	if (s->inflight)
		s->inflight->sent = false;
	/* Reconnect at once after a connection that served a while, so that
	 * the session resumes well within its timeout; one that broke soon
	 * after it was made is retried with backoff, not in a tight loop. */
	if (now - s->connected_at >= s->cfg.backoff_max_ms) {
		s->backoff = s->cfg.backoff_min_ms;
		s->next_attempt = now;
	} else {
		s->next_attempt = now + jitter(s, s->backoff);
		s->backoff = s->backoff * 2 > s->cfg.backoff_max_ms ? s->cfg.backoff_max_ms
		                                                    : s->backoff * 2;
	}
	pthread_mutex_lock(&s->lock);
	s->online = false;
	pthread_mutex_unlock(&s->lock);
}

/* Remembers where a follower says the leader is, for the next attempt. */
void lm_session_note_leader(struct lm_session *s, const char *leader)
{
	struct lm_address a;
	if (leader && *leader && lm_address_parse(leader, &a, NULL, 0) == 0) {
		s->redirect = a;
		s->has_redirect = true;
	}
}

void lm_session_forget(struct lm_session *s, const char *why)
{
	s->has_session = false;
	s->session_lost = true;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nseats; i++) {
		struct lm_session_seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD || seat->lost_told)
			continue;
		seat->lost_told = true;
		lm_session_event_add(s, true, seat, LMC_ENOSESSION,
		                     why ? why
		                         : "the license server no longer knows the session: its "
		                           "seats went back to the pool; checking them out again");
	}
	pthread_mutex_unlock(&s->lock);
}

/* SessionOpen: resumes the session we have, or opens a new one (at once
 * when the server has expired ours). */
static int open_session(struct lm_session *s, int64_t cap)
{
	if (s->has_session && s->has_cluster_id && s->conn.has_cluster_id &&
	    memcmp(s->cluster_id, s->conn.cluster_id, sizeof s->cluster_id) != 0)
		/* Not even worth asking: that cluster never knew the session,
		 * and the seats it held are in nobody's pool now. */
		lm_session_forget(s, "the license servers now belong to another cluster (their "
		                     "data was re-created): the session's seats are gone; "
		                     "checking them out again");
	bool resuming = s->has_session;
	Lm__Envelope e, *reply;
	Lm__SessionOpen so;
	lm_envelope_init(&e, 0);
	lm__session_open__init(&so);
	if (resuming) {
		so.has_session_id = 1;
		so.session_id = s->session_id;
		so.has_secret = 1;
		so.secret.len = LM_SESSION_SECRET_LEN;
		so.secret.data = s->secret;
	}
	e.body_case = LM__ENVELOPE__BODY_SESSION_OPEN;
	e.session_open = &so;
	int64_t left = cap - lm_clock_ms();
	unsigned timeout = left < (int64_t)s->cfg.io_timeout_ms ? (unsigned)(left > 0 ? left : 0)
	                                                        : s->cfg.io_timeout_ms;
	int64_t sent_at = lm_clock_ms();
	int rc = lm_frame_conn_call(&s->conn, &e, &reply, timeout);
	if (rc == LMC_ENOSESSION && resuming) {
		/* Expired: the seats went back to the pool.  A new session
		 * follows, and with it the regain of every seat. */
		lm_session_forget(s, NULL);
		return open_session(s, cap);
	}
	bool bad_reply = rc == 0 && reply->body_case != LM__ENVELOPE__BODY_SESSION_REPLY;
	if (resuming && ((rc && !reply) || bad_reply))
		/* No answer, or not one we can use: the server may have
		 * attached the session to this connection, which ends. */
		lm_session_lease_closed(s, false);
	if (rc)
		return rc;
	if (bad_reply) {
		snprintf(s->conn.error, sizeof s->conn.error, "%s: answered session_open with %s",
		         s->conn.name, lm_body_name(reply->body_case));
		return LMC_EPROTO;
	}
	const Lm__SessionReply *r = reply->session_reply;
	bool resumed = resuming && r->has_resumed && r->resumed && r->session_id == s->session_id;
	if (!resumed) {
		if (resuming)
			lm_session_forget(s, NULL);
		s->session_id = r->session_id;
		memcpy(s->secret, r->secret.data, LM_SESSION_SECRET_LEN);
	}
	s->has_cluster_id = r->has_cluster_id && r->cluster_id.len == LM_CLUSTER_ID_SIZE;
	if (s->has_cluster_id)
		memcpy(s->cluster_id, r->cluster_id.data, LM_CLUSTER_ID_SIZE);
	s->has_session = true;
	lm_session_lease_terms(s, r);
	lm_session_lease_confirm(s, sent_at);
	return 0;
}

static bool is_checkout_of_app(const struct lm_session_request *r)
{
	return r->kind == REQ_CHECKOUT && !r->regain;
}

/* The server forgot the session: every seat has gone back to the pool.
 * Checkins waiting to be sent are done, what the thread had queued for
 * itself is void, and every seat is checked out again, first in line. */
static void regain_all(struct lm_session *s)
{
	struct lm_session_request *inflight = s->inflight;
	pthread_mutex_lock(&s->lock);
	struct lm_session_request *r = s->queue_head, *next;
	s->queue_head = s->queue_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		if (is_checkout_of_app(r))
			lm_session_queue_push(s, r, false);
		else
			lm_session_finish_locked(s, r, 0,
			                         NULL); /* checkins: done; regains: redone below */
	}
	if (inflight && inflight->kind == REQ_CHECKIN) {
		lm_session_finish_locked(s, inflight, 0, NULL);
		s->inflight = inflight = NULL;
	} else if (inflight) {
		/* Numbered afresh: the request ids of the new session start
		 * past everything the old one saw anyway. */
		inflight->request_id = 0;
		inflight->sent = false;
	}
	for (size_t i = 0; i < s->nseats; i++) {
		struct lm_session_seat *seat = &s->seats[i];
		if ((inflight && inflight->regain && inflight->seat == seat->app_handle) ||
		    seat->idle_taken)
			continue; /* an idle application's seats wait for it to be active */
		lm_session_queue_regain(s, seat);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Connects to a, says Hello and opens or resumes the session. */
static int attach_one(struct lm_session *s, const struct lm_address *a, int64_t cap)
{
	int64_t left = cap - lm_clock_ms();
	if (left <= 0)
		return LMC_ETIMEDOUT;
	unsigned connect_ms = left < (int64_t)s->cfg.connect_timeout_ms ? (unsigned)left
	                                                                : s->cfg.connect_timeout_ms;
	const uint8_t *pin = lm_session_pinned_key(s, a);
	enum lm_frame_tls_use use = s->cfg.tls_use;
	int rc;
	for (;;) {
		rc = lm_frame_conn_open(&s->conn, a, LM_FRAME_MAX, connect_ms);
		if (rc)
			return rc;
		left = cap - lm_clock_ms();
		unsigned io_ms = left < (int64_t)s->cfg.io_timeout_ms
		                         ? (unsigned)(left > 0 ? left : 0)
		                         : s->cfg.io_timeout_ms;
		rc = lm_frame_conn_secure(&s->conn, use, pin, io_ms);
		if (rc == 0)
			rc = lm_frame_conn_hello(&s->conn, &s->id, io_ms);
		/* A server that takes only TLS (lmd --client-tls require) gets
		 * it even unpinned: encryption, without proof of who answers. */
		if (rc != LMC_ENEEDTLS || s->conn.security != LM_FRAME_PLAINTEXT)
			break;
		lm_frame_conn_close(&s->conn);
		use = LM_FRAME_TLS_ON;
	}
	if (rc == 0)
		rc = open_session(s, cap);
	if (rc) {
		lm_frame_conn_close(&s->conn);
		return rc;
	}
	int64_t now = lm_clock_ms();
	s->connected = true;
	s->connected_at = now;
	/* Seats reported lost for want of a server are confirmed by the next
	 * HeartbeatReply: ask at once. */
	s->hb_due = s->lease_over ? now : now + s->heartbeat_ms;
	s->hb_outstanding = false;
	if (s->inflight)
		s->inflight->sent = false; /* re-sent with its request id */
	if (s->session_lost) {
		s->session_lost = false;
		regain_all(s);
	}
	pthread_mutex_lock(&s->lock);
	s->online = true;
	s->last_error = 0;
	snprintf(s->server, sizeof s->server, "%s", s->conn.name);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int error_rank(int code)
{
	switch (code) {
	case LMC_ENOQUORUM: return 3;
	case LMC_ENOSERVER:
	case LMC_ETIMEDOUT:
	case LMC_ENOTLEADER: return 1; /* a pointer to a leader that did not answer */
	default: return 2;             /* a server's own refusal */
	}
}

/* One round of connection attempts: a redirect first if a follower named
 * the leader, then each server of the list once, starting with the one
 * that served last.  On failure the error is kept for the requests
 * waiting, and one-try requests get it.  A round still going when the lease
 * runs out is cut short, so that the seats are reported lost on time, and
 * starts again at once. */
void lm_session_attach_round(struct lm_session *s, int64_t cap)
{
	int64_t lease_end = lm_session_lease_deadline(s);
	if (lease_end < cap)
		cap = lease_end;
	else
		lease_end = INT64_MAX;
	int last = LMC_ENOSERVER, last_rank = 0;
	bool live = false; /* some server answered */
	char message[LM_MESSAGE_LONG_MAX] = "no license server answered";
	size_t tried = 0;
	int redirects = 0;
	bool redirect = s->has_redirect;
	s->has_redirect = false;

	pthread_mutex_lock(&s->lock);
	for (struct lm_session_request *r = s->queue_head; r; r = r->next)
		r->attempted = true;
	pthread_mutex_unlock(&s->lock);

	for (;;) {
		struct lm_address target;
		size_t index = s->nservers;
		if (redirect) {
			target = s->redirect;
			redirect = false;
			for (size_t i = 0; i < s->nservers; i++)
				if (lm_address_equal(&s->servers[i], &target))
					index = i;
		} else if (tried < s->nservers) {
			index = (s->cursor + tried++) % s->nservers;
			target = s->servers[index];
		} else {
			break;
		}
		if (lm_clock_ms() >= lease_end) {
			s->next_attempt = lm_clock_ms();
			return;
		}
		if (lm_clock_ms() >= cap)
			break;
		int rc = attach_one(s, &target, cap);
		if (rc == 0) {
			if (index < s->nservers)
				s->cursor = index;
			return;
		}
		if (rc == LMC_ENOQUORUM)
			s->noquorum = true;
		if (lm_clock_ms() >= lease_end) {
			s->next_attempt = lm_clock_ms();
			return;
		}
		/* Reported is the most telling failure of the round: a triad
		 * without quorum says so even when the dead servers were
		 * tried after the live one. */
		int rank = error_rank(rc);
		live |= rc != LMC_ENOSERVER && rc != LMC_ETIMEDOUT;
		if (rank >= last_rank) {
			last = rc;
			last_rank = rank;
			/* A sentence for the application: cut to its buffer. */
			snprintf(message, sizeof message, "%.*s", (int)sizeof message - 1,
			         s->conn.error);
		}
		/* A follower knows the leader: go there next, a few times at
		 * most so that two confused followers cannot bounce us. */
		if (rc == LMC_ENOTLEADER && redirects < LM_SESSION_REDIRECTS_MAX) {
			lm_session_note_leader(s, s->conn.leader);
			if (s->has_redirect && !lm_address_equal(&s->redirect, &target)) {
				redirect = true;
				redirects++;
			}
			s->has_redirect = false;
		}
	}

	int64_t now = lm_clock_ms();
	/* A server that answers but cannot serve (no leader, or a leader that
	 * does not answer) is most likely watching an election, which lasts
	 * one or two election timeouts (a second or two): ask again soon, but
	 * not so often that every client of a triad without quorum hammers
	 * the server left.  Servers that do not answer at all are backed off
	 * all the way. */
	unsigned max = s->cfg.backoff_max_ms;
	if (live && max > LM_SESSION_ELECTION_RETRY_MS)
		max = LM_SESSION_ELECTION_RETRY_MS > s->cfg.backoff_min_ms
		              ? LM_SESSION_ELECTION_RETRY_MS
		              : s->cfg.backoff_min_ms;
	if (s->backoff > max)
		s->backoff = max;
	s->next_attempt = now + jitter(s, s->backoff);
	s->backoff = s->backoff * 2 > max ? max : s->backoff * 2;
	pthread_mutex_lock(&s->lock);
	s->last_error = last;
	snprintf(s->last_message, sizeof s->last_message, "%s", message);
	/* A one-try request never sent is over; one that was sent stays with
	 * the thread (its outcome is unknown) but its caller is answered. */
	struct lm_session_request *r = s->queue_head, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->one_try && r->app_waiting) {
			lm_session_queue_unlink(s, r);
			lm_session_finish_locked(s, r, last, message);
		}
	}
	if (s->inflight)
		lm_session_deliver_locked(s, s->inflight, last, message);
	pthread_mutex_unlock(&s->lock);
}
