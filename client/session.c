/* The session thread: one connection, one session, the seats the
 * application holds through it, and the requests that change them (see
 * session.h for the behaviour).
 *
 * Locking: s->lock guards the request queue, the seat table, the request
 * states and results, the callbacks and the few fields marked "shared".
 * The thread never holds it across I/O or while it runs a callback, and an
 * application thread holds it only to queue, look up or collect, so neither
 * side can block the other for long.  Everything about the connection
 * (s->conn, the in-flight request pointer, heartbeat and backoff state) is
 * touched by the thread alone. */
#include "config.h"

#include "client/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/conn.h"
#include "client/key.h"
#include "client/license.h"
#include "client/lmc.h"
#include "proto/frame.h"

/* Handles made up when the server reuses a handle that the application
 * already holds under the same number (after a regain in a new session):
 * this range is far from both the server's counters and the offline
 * handles of context.c (top bit). */
#define SYNTHETIC_HANDLE_BASE (UINT64_C(1) << 62)

enum req_kind { REQ_CHECKOUT, REQ_CHECKIN };

/* QUEUED: in s->queue, not sent in this session.  INFLIGHT: taken by the
 * thread (s->inflight); it stays there until the server gives a final
 * answer, across reconnects.  FINISHED: result set. */
enum req_state { REQ_QUEUED, REQ_INFLIGHT, REQ_FINISHED };

struct request {
	struct request *next;
	enum req_kind kind;
	enum req_state state;
	/* One reference for the thread, one for a waiting application thread;
	 * the last to let go frees the request. */
	int refs;
	bool app_waiting; /* an application thread waits for the result */
	bool delivered;   /* the waiter got an early, transient result */
	bool one_try;     /* timeout 0: one connection round, one answer */
	bool attempted;   /* a round of connection attempts was made for it */
	bool regain;      /* a checkout the thread makes to regain a seat */
	uint64_t seat;    /* regain: the application's handle of that seat */
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1]; /* "" for any */
	unsigned count;
	uint64_t server_handle; /* checkin */

	uint64_t request_id; /* 0 until numbered; kept for every retry */
	bool sent;           /* on the current connection, answer pending */
	int64_t sent_at;
	int64_t retry_at; /* after LMC_ENOQUORUM */
	unsigned retry_ms;

	int transient; /* last transient error, reported on timeout */
	int result;
	uint64_t handle; /* checkout: the application's handle */
	char message[256];
};

/* HELD: the server holds server_handle for us.  REGAINING: a checkout to
 * get it back is queued or in flight.  LOST: the last regain failed; the
 * application's handle stays valid until it checks it in. */
enum seat_state { SEAT_HELD, SEAT_REGAINING, SEAT_LOST };

struct seat {
	uint64_t app_handle;
	uint64_t server_handle;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	unsigned count;
	enum seat_state state;
	bool lost_told; /* on_lost fired since the last grant */
	/* Reported lost because no server confirmed it within the grace
	 * period; the server may well still hold it: a HeartbeatReply that
	 * lists it makes it regained. */
	bool unconfirmed;
	/* Heartbeats sent before the grant: a HeartbeatReply to one of them
	 * may not list the handle yet. */
	uint64_t hb_epoch;
};

struct event {
	bool lost; /* else regained */
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	int code;
};

struct lm_session {
	struct lm_session_config cfg;
	struct lm_server_addr servers[LM_SERVER_LIST_MAX];
	size_t nservers;
	struct lm_identity id;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	int wake[2];         /* a byte written to wake[1] wakes the thread */

	/* Shared, under lock. */
	struct request *queue_head, *queue_tail;
	struct seat *seats;
	size_t nseats, capseats;
	bool stopping;
	int64_t stop_deadline;
	bool online;
	int last_error; /* of the last failed round of connection attempts */
	char last_message[320];
	char server[LM_SERVER_NAME_MAX];
	uint64_t next_synthetic;

	/* Thread only. */
	struct lm_conn conn;
	bool connected;
	int64_t connected_at;
	bool has_session;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	bool session_lost; /* the next new session regains every seat */
	struct request *inflight;
	uint64_t next_request_id;
	unsigned heartbeat_ms;
	unsigned grace_ms;
	int64_t confirmed_at; /* a leader last vouched for the session */
	bool grace_over;      /* seats were reported lost for want of a server */
	int64_t hb_due;
	bool hb_outstanding;
	int64_t hb_sent_at;
	uint64_t hb_sent; /* heartbeats sent so far */
	size_t cursor;    /* the server to try first */
	unsigned seed;    /* rand_r() state for jitter */
	unsigned backoff;
	int64_t next_attempt;
	bool has_redirect;
	struct lm_server_addr redirect;
	struct event *events; /* fired after the lock is released */
	size_t nevents, capevents;
};

/* ---- Small helpers ---- */

static void msg_set(char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void msg_set(char *buf, size_t size, const char *fmt, ...)
{
	if (!buf || !size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void wake_thread(struct lm_session *s)
{
	/* A full pipe already guarantees a wake-up. */
	ssize_t n = write(s->wake[1], "", 1);
	(void)n;
}

static void drain_wake(struct lm_session *s)
{
	char buf[64];
	while (read(s->wake[0], buf, sizeof buf) > 0)
		;
}

static struct timespec to_timespec(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	return ts;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static struct seat *seat_find(struct lm_session *s, uint64_t app_handle)
{
	for (size_t i = 0; i < s->nseats; i++)
		if (s->seats[i].app_handle == app_handle)
			return &s->seats[i];
	return NULL;
}

static void seat_remove(struct lm_session *s, struct seat *seat)
{
	*seat = s->seats[--s->nseats];
}

static void event_add(struct lm_session *s, bool lost, const struct seat *seat, int code)
{
	if (s->nevents == s->capevents) {
		size_t cap = s->capevents ? 2 * s->capevents : 8;
		struct event *e = realloc(s->events, cap * sizeof *e);
		if (!e)
			return; /* the seat's state is still right; only the news is lost */
		s->events = e;
		s->capevents = cap;
	}
	struct event *e = &s->events[s->nevents++];
	e->lost = lost;
	e->handle = seat->app_handle;
	snprintf(e->feature, sizeof e->feature, "%s", seat->feature);
	e->code = code;
}

/* Runs the callbacks for the events gathered, with no lock held, so that a
 * callback may call lm_session_checkin. */
static void events_fire(struct lm_session *s)
{
	if (s->nevents == 0)
		return;
	pthread_mutex_lock(&s->lock);
	lm_session_lost_fn on_lost = s->cfg.on_lost;
	lm_session_regained_fn on_regained = s->cfg.on_regained;
	void *arg = s->cfg.cb_arg;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->nevents; i++) {
		const struct event *e = &s->events[i];
		if (e->lost && on_lost)
			on_lost(arg, e->handle, e->feature, e->code);
		else if (!e->lost && on_regained)
			on_regained(arg, e->handle, e->feature);
	}
	s->nevents = 0;
}

/* ---- The request queue (under lock) ---- */

static void queue_push(struct lm_session *s, struct request *r, bool front)
{
	r->state = REQ_QUEUED;
	if (front) {
		r->next = s->queue_head;
		s->queue_head = r;
		if (!s->queue_tail)
			s->queue_tail = r;
	} else {
		r->next = NULL;
		if (s->queue_tail)
			s->queue_tail->next = r;
		else
			s->queue_head = r;
		s->queue_tail = r;
	}
}

static void queue_unlink(struct lm_session *s, struct request *r)
{
	struct request **p = &s->queue_head, *prev = NULL;
	while (*p && *p != r) {
		prev = *p;
		p = &(*p)->next;
	}
	if (!*p)
		return;
	*p = r->next;
	if (s->queue_tail == r)
		s->queue_tail = prev;
	r->next = NULL;
}

static void request_unref(struct request *r)
{
	if (--r->refs == 0)
		free(r);
}

/* A request of the thread's own, which nobody waits for. */
static struct request *internal_request(enum req_kind kind)
{
	struct request *r = calloc(1, sizeof *r);
	if (r) {
		r->kind = kind;
		r->refs = 1;
	}
	return r;
}

/* Queues the checkin of seats that the application does not know about (a
 * grant that arrived after its caller gave up, or one refused for its
 * license line), first in line so that the seats go back soon. */
static void queue_orphan_checkin(struct lm_session *s, uint64_t server_handle)
{
	struct request *r = internal_request(REQ_CHECKIN);
	if (!r)
		return; /* the session's end returns the seats */
	r->server_handle = server_handle;
	queue_push(s, r, true);
}

static void queue_regain(struct lm_session *s, struct seat *seat)
{
	struct request *r = internal_request(REQ_CHECKOUT);
	seat->state = SEAT_REGAINING;
	seat->unconfirmed = false;
	if (!r) {
		seat->state = SEAT_LOST;
		return;
	}
	r->regain = true;
	r->seat = seat->app_handle;
	snprintf(r->feature, sizeof r->feature, "%s", seat->feature);
	snprintf(r->version, sizeof r->version, "%s", seat->version);
	r->count = seat->count;
	queue_push(s, r, true);
}

/* Sets the final result of r and lets its waiter (if any) go; drops the
 * thread's reference.  A failed regain marks its seat lost. */
static void finish_locked(struct lm_session *s, struct request *r, int code, const char *message)
{
	r->state = REQ_FINISHED;
	r->result = code;
	/* Server messages are cut to what the request keeps. */
	snprintf(r->message, sizeof r->message, "%.*s", (int)sizeof r->message - 1,
	         message ? message : "");
	if (r->regain && code != 0) {
		struct seat *seat = seat_find(s, r->seat);
		if (seat && seat->state == SEAT_REGAINING) {
			seat->state = SEAT_LOST;
			if (!seat->lost_told)
				event_add(s, true, seat, code);
			seat->lost_told = true;
		}
	}
	if (r->app_waiting)
		pthread_cond_broadcast(&s->cond);
	request_unref(r);
}

static void finish(struct lm_session *s, struct request *r, int code, const char *message)
{
	pthread_mutex_lock(&s->lock);
	finish_locked(s, r, code, message);
	pthread_mutex_unlock(&s->lock);
}

/* Gives a waiter an early answer (a one-try request that met a transient
 * error) while the thread keeps the request until the server's answer. */
static void deliver_locked(struct lm_session *s, struct request *r, int code, const char *message)
{
	r->transient = code;
	/* Server messages are cut to what the request keeps. */
	snprintf(r->message, sizeof r->message, "%.*s", (int)sizeof r->message - 1,
	         message ? message : "");
	if (r->one_try && r->app_waiting && !r->delivered) {
		r->delivered = true;
		r->result = code;
		pthread_cond_broadcast(&s->cond);
	}
}

/* ---- The connection ---- */

/* delay_ms give or take a quarter, so that the clients that one failover
 * cut off at the same instant do not all come back at the same instant. */
static int64_t jitter(struct lm_session *s, unsigned delay_ms)
{
	if (delay_ms < 4)
		return delay_ms;
	unsigned spread = delay_ms / 2;
	return (int64_t)(delay_ms - spread / 2 + (unsigned)rand_r(&s->seed) % (spread + 1));
}

static void drop_connection(struct lm_session *s)
{
	int64_t now = lm_clock_ms();
	lm_conn_close(&s->conn);
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
static void note_leader(struct lm_session *s, const char *leader)
{
	struct lm_server_addr a;
	if (leader && *leader && lm_server_addr_parse(leader, &a, NULL, 0) == 0) {
		s->redirect = a;
		s->has_redirect = true;
	}
}

/* SessionOpen: resumes the session we have, or opens a new one (at once
 * when the server has expired ours). */
static int open_session(struct lm_session *s, int64_t cap)
{
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
	int rc = lm_conn_call(&s->conn, &e, &reply, timeout);
	if (rc == LMC_ENOSESSION && resuming) {
		/* Expired: the seats went back to the pool.  A new session
		 * follows, and with it the regain of every seat. */
		s->has_session = false;
		s->session_lost = true;
		return open_session(s, cap);
	}
	if (rc)
		return rc;
	if (reply->body_case != LM__ENVELOPE__BODY_SESSION_REPLY) {
		snprintf(s->conn.error, sizeof s->conn.error, "%s: answered session_open with %s",
		         s->conn.name, lm_body_name(reply->body_case));
		return LMC_EPROTO;
	}
	const Lm__SessionReply *r = reply->session_reply;
	bool resumed = resuming && r->has_resumed && r->resumed && r->session_id == s->session_id;
	if (!resumed) {
		if (resuming)
			s->session_lost = true;
		s->session_id = r->session_id;
		memcpy(s->secret, r->secret.data, LM_SESSION_SECRET_LEN);
	}
	s->has_session = true;
	unsigned hb =
	        r->has_heartbeat_ms && r->heartbeat_ms ? r->heartbeat_ms : LM_SESSION_HEARTBEAT_MS;
	if (s->cfg.heartbeat_ms && s->cfg.heartbeat_ms < hb)
		hb = s->cfg.heartbeat_ms;
	s->heartbeat_ms = hb;
	s->grace_ms = s->cfg.grace_ms                  ? s->cfg.grace_ms
	              : r->has_grace_ms && r->grace_ms ? r->grace_ms
	                                               : LM_SESSION_GRACE_MS;
	return 0;
}

static bool is_checkout_of_app(const struct request *r)
{
	return r->kind == REQ_CHECKOUT && !r->regain;
}

/* The server forgot the session: every seat has gone back to the pool.
 * Checkins waiting to be sent are done, what the thread had queued for
 * itself is void, and every seat is checked out again, first in line. */
static void regain_all(struct lm_session *s)
{
	struct request *inflight = s->inflight;
	pthread_mutex_lock(&s->lock);
	struct request *r = s->queue_head, *next;
	s->queue_head = s->queue_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		if (is_checkout_of_app(r))
			queue_push(s, r, false);
		else
			finish_locked(s, r, 0, NULL); /* checkins: done; regains: redone below */
	}
	if (inflight && inflight->kind == REQ_CHECKIN) {
		finish_locked(s, inflight, 0, NULL);
		s->inflight = inflight = NULL;
	} else if (inflight) {
		/* Numbered afresh: the request ids of the new session start
		 * past everything the old one saw anyway. */
		inflight->request_id = 0;
		inflight->sent = false;
	}
	for (size_t i = 0; i < s->nseats; i++) {
		struct seat *seat = &s->seats[i];
		if (inflight && inflight->regain && inflight->seat == seat->app_handle)
			continue;
		queue_regain(s, seat);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Connects to a, says Hello and opens or resumes the session. */
static int attach_one(struct lm_session *s, const struct lm_server_addr *a, int64_t cap)
{
	int64_t left = cap - lm_clock_ms();
	if (left <= 0)
		return LMC_ETIMEDOUT;
	unsigned connect_ms = left < (int64_t)s->cfg.connect_timeout_ms ? (unsigned)left
	                                                                : s->cfg.connect_timeout_ms;
	int rc = lm_conn_open(&s->conn, a, LM_FRAME_MAX, connect_ms);
	if (rc)
		return rc;
	left = cap - lm_clock_ms();
	rc = lm_conn_hello(&s->conn, &s->id,
	                   left < (int64_t)s->cfg.io_timeout_ms ? (unsigned)(left > 0 ? left : 0)
	                                                        : s->cfg.io_timeout_ms);
	if (rc == 0)
		rc = open_session(s, cap);
	if (rc) {
		lm_conn_close(&s->conn);
		return rc;
	}
	int64_t now = lm_clock_ms();
	s->connected = true;
	s->connected_at = now;
	s->confirmed_at = now;
	/* Seats reported lost for want of a server are confirmed by the next
	 * HeartbeatReply: ask at once. */
	s->hb_due = s->grace_over ? now : now + s->heartbeat_ms;
	s->grace_over = false;
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
 * waiting, and one-try requests get it. */
static void attach_round(struct lm_session *s, int64_t cap)
{
	int last = LMC_ENOSERVER, last_rank = 0;
	bool live = false; /* some server answered */
	char message[320] = "no license server answered";
	size_t tried = 0;
	int redirects = 0;
	bool redirect = s->has_redirect;
	s->has_redirect = false;

	pthread_mutex_lock(&s->lock);
	for (struct request *r = s->queue_head; r; r = r->next)
		r->attempted = true;
	pthread_mutex_unlock(&s->lock);

	for (;;) {
		struct lm_server_addr target;
		size_t index = s->nservers;
		if (redirect) {
			target = s->redirect;
			redirect = false;
			for (size_t i = 0; i < s->nservers; i++)
				if (lm_server_addr_equal(&s->servers[i], &target))
					index = i;
		} else if (tried < s->nservers) {
			index = (s->cursor + tried++) % s->nservers;
			target = s->servers[index];
		} else {
			break;
		}
		if (lm_clock_ms() >= cap)
			break;
		int rc = attach_one(s, &target, cap);
		if (rc == 0) {
			if (index < s->nservers)
				s->cursor = index;
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
			snprintf(message, sizeof message, "%s", s->conn.error);
		}
		/* A follower knows the leader: go there next, a few times at
		 * most so that two confused followers cannot bounce us. */
		if (rc == LMC_ENOTLEADER && redirects < LM_SESSION_REDIRECTS_MAX) {
			note_leader(s, s->conn.leader);
			if (s->has_redirect && !lm_server_addr_equal(&s->redirect, &target)) {
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
	struct request *r = s->queue_head, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->one_try && r->app_waiting) {
			queue_unlink(s, r);
			finish_locked(s, r, last, message);
		}
	}
	if (s->inflight)
		deliver_locked(s, s->inflight, last, message);
	pthread_mutex_unlock(&s->lock);
}

/* ---- Requests on the wire ---- */

static int send_request(struct lm_session *s, struct request *r)
{
	Lm__Envelope e;
	Lm__Checkout co;
	Lm__Checkin ci;
	if (r->request_id == 0)
		r->request_id = ++s->next_request_id;
	lm_envelope_init(&e, r->request_id);
	if (r->kind == REQ_CHECKOUT) {
		lm__checkout__init(&co);
		co.has_feature = 1;
		co.feature = lm_bytes_from_cstr(r->feature);
		co.has_version = 1;
		/* Any version: every version is >= "0". */
		co.version = lm_bytes_from_cstr(r->version[0] ? r->version : "0");
		co.has_count = 1;
		co.count = r->count;
		e.body_case = LM__ENVELOPE__BODY_CHECKOUT;
		e.checkout = &co;
	} else {
		lm__checkin__init(&ci);
		ci.has_handle = 1;
		ci.handle = r->server_handle;
		e.body_case = LM__ENVELOPE__BODY_CHECKIN;
		e.checkin = &ci;
	}
	int64_t now = lm_clock_ms();
	int rc = lm_conn_send(&s->conn, &e, now + s->cfg.io_timeout_ms);
	if (rc == 0) {
		r->sent = true;
		r->sent_at = now;
	}
	return rc;
}

static int send_simple(struct lm_session *s, Lm__Envelope__BodyCase body)
{
	Lm__Envelope e;
	Lm__Heartbeat hb;
	Lm__SessionClose sc;
	lm_envelope_init(&e, 0);
	e.body_case = body;
	if (body == LM__ENVELOPE__BODY_HEARTBEAT) {
		lm__heartbeat__init(&hb);
		e.heartbeat = &hb;
	} else {
		lm__session_close__init(&sc);
		e.session_close = &sc;
	}
	return lm_conn_send(&s->conn, &e, lm_clock_ms() + s->cfg.io_timeout_ms);
}

/* The checks of session.h on a grant: the vendor signed the line, and it
 * is for the feature and a version asked for. */
static int verify_grant(struct lm_session *s, const struct request *r, const Lm__CheckoutReply *m,
                        char *why, size_t size)
{
	char text[LM_LINE_MAX + 1];
	struct lm_license l;
	struct lm_lockcode codes[3];
	int ncodes;
	struct lm_parse_error perr;
	const char *refusal = "; a server running a license this vendor did not sign cannot "
	                      "grant seats to this vendor's applications";

	if (lm_bytes_to_cstr(&m->license->text, text, sizeof text) != 0) {
		msg_set(why, size, "%s: the granted license line is unreadable", s->conn.name);
		return LMC_EBADSIG;
	}
	if (lm_license_parse_canonical(text, &l, codes, &ncodes, &perr) != 0) {
		msg_set(why, size, "%s: the granted license line does not parse: %s", s->conn.name,
		        perr.message);
		return LMC_EBADSIG;
	}
	if (lm_sig_verify(s->cfg.vendor_key, text, strlen(text), m->license->signature.data) != 0) {
		msg_set(why, size,
		        "%s granted %s under a line that the vendor key does not verify%s",
		        s->conn.name, r->feature, refusal);
		return LMC_EBADSIG;
	}
	/* A genuine line for something else proves nothing about this
	 * grant: the vendor signed other seats, not these. */
	if (strcmp(l.name, r->feature) != 0) {
		msg_set(why, size, "%s granted %s under a license line for %s", s->conn.name,
		        r->feature, l.name);
		return LMC_EBADSIG;
	}
	if (r->version[0] && lm_version_compare(l.version, r->version) < 0) {
		msg_set(why, size, "%s granted %s %s under a license line for version %s",
		        s->conn.name, r->feature, r->version, l.version);
		return LMC_EBADSIG;
	}
	if (m->has_count && m->count != r->count) {
		msg_set(why, size, "%s granted %u seats of %s, %u were asked for", s->conn.name,
		        (unsigned)m->count, r->feature, r->count);
		return LMC_EPROTO;
	}
	return 0;
}

/* The application's handle for a new grant: the server's, unless the
 * application already holds that number (possible after a regain in a new
 * session, whose handles may repeat those of the old one). */
static uint64_t app_handle_for(struct lm_session *s, uint64_t server_handle)
{
	if (!seat_find(s, server_handle))
		return server_handle;
	uint64_t h;
	do
		h = SYNTHETIC_HANDLE_BASE + s->next_synthetic++;
	while (seat_find(s, h));
	return h;
}

static bool add_seat(struct lm_session *s, const struct request *r, uint64_t app_handle,
                     uint64_t server_handle)
{
	if (s->nseats == s->capseats) {
		if (s->capseats == LM_SESSION_SEATS_MAX)
			return false;
		size_t cap = s->capseats ? 2 * s->capseats : 16;
		struct seat *seats = realloc(s->seats, cap * sizeof *seats);
		if (!seats)
			return false;
		s->seats = seats;
		s->capseats = cap;
	}
	struct seat *seat = &s->seats[s->nseats++];
	memset(seat, 0, sizeof *seat);
	seat->app_handle = app_handle;
	seat->server_handle = server_handle;
	snprintf(seat->feature, sizeof seat->feature, "%s", r->feature);
	snprintf(seat->version, sizeof seat->version, "%s", r->version);
	seat->count = r->count;
	seat->state = SEAT_HELD;
	seat->hb_epoch = s->hb_sent;
	return true;
}

static void on_checkout_granted(struct lm_session *s, struct request *r, const Lm__CheckoutReply *m)
{
	char why[512];
	int rc = verify_grant(s, r, m, why, sizeof why);
	pthread_mutex_lock(&s->lock);
	if (rc != 0) {
		queue_orphan_checkin(s, m->handle);
		finish_locked(s, r, rc, why);
	} else if (r->regain) {
		struct seat *seat = seat_find(s, r->seat);
		if (seat && seat->state == SEAT_REGAINING) {
			seat->server_handle = m->handle;
			seat->state = SEAT_HELD;
			seat->lost_told = false;
			seat->hb_epoch = s->hb_sent;
			event_add(s, false, seat, 0);
		} else {
			/* Checked in by the application meanwhile. */
			queue_orphan_checkin(s, m->handle);
		}
		finish_locked(s, r, 0, NULL);
	} else if (!r->app_waiting) {
		/* The caller gave up before the grant arrived. */
		queue_orphan_checkin(s, m->handle);
		finish_locked(s, r, LMC_ETIMEDOUT, NULL);
	} else {
		uint64_t h = app_handle_for(s, m->handle);
		if (add_seat(s, r, h, m->handle)) {
			r->handle = h;
			finish_locked(s, r, 0, NULL);
		} else {
			queue_orphan_checkin(s, m->handle);
			finish_locked(s, r, LMC_ELIMIT, "this context holds too many checkouts");
		}
	}
	pthread_mutex_unlock(&s->lock);
	s->inflight = NULL;
}

/* An ErrorReply to the request in flight.  Transient errors keep it (it is
 * re-sent with the same request id); any other ends it. */
static void on_request_error(struct lm_session *s, struct request *r, int code, const char *message)
{
	if (code == LMC_ENOQUORUM || code == LMC_ETIMEDOUT) {
		/* The redundant servers cannot commit now; the seats we hold
		 * stay held.  Ask again after a pause. */
		r->sent = false;
		r->retry_ms = r->retry_ms ? r->retry_ms * 2 : s->cfg.backoff_min_ms;
		if (r->retry_ms > s->cfg.backoff_max_ms)
			r->retry_ms = s->cfg.backoff_max_ms;
		r->retry_at = lm_clock_ms() + r->retry_ms;
		pthread_mutex_lock(&s->lock);
		deliver_locked(s, r, code, message);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* A checkin of a handle the server no longer has: the seats are not
	 * held, which is what the checkin wanted. */
	if (r->kind == REQ_CHECKIN && code == LMC_ENOHANDLE)
		code = 0;
	finish(s, r, code, message);
	s->inflight = NULL;
}

static bool handle_listed(const Lm__HeartbeatReply *m, uint64_t handle)
{
	for (size_t i = 0; i < m->n_handles; i++)
		if (m->handles[i] == handle)
			return true;
	return false;
}

/* A seat missing from the HeartbeatReply was removed by an administrator
 * (lmremove): tell the application, then try to get it back. */
static void on_heartbeat_reply(struct lm_session *s, const Lm__HeartbeatReply *m)
{
	uint64_t answered = s->hb_sent;
	s->hb_outstanding = false;
	s->confirmed_at = lm_clock_ms();
	s->hb_due = s->confirmed_at + s->heartbeat_ms;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nseats; i++) {
		struct seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD)
			continue;
		bool listed = handle_listed(m, seat->server_handle);
		if (seat->unconfirmed && listed) {
			/* The server kept it all along. */
			seat->unconfirmed = false;
			seat->lost_told = false;
			event_add(s, false, seat, 0);
			continue;
		}
		if (seat->hb_epoch >= answered || listed)
			continue;
		seat->unconfirmed = false;
		if (!seat->lost_told)
			event_add(s, true, seat, LMC_ENOHANDLE);
		seat->lost_told = true;
		queue_regain(s, seat);
	}
	pthread_mutex_unlock(&s->lock);
}

/* When check_grace() next has something to do. */
static int64_t grace_deadline(const struct lm_session *s)
{
	if (s->grace_over || !s->has_session)
		return INT64_MAX;
	return s->confirmed_at + (int64_t)s->grace_ms + 1;
}

/* With no server to confirm the session for longer than the grace period,
 * the application is told that its seats are lost: it may be running on
 * seats that nobody can vouch for any more.  They stay in the table (the
 * servers may still hold them, and will for as long as they cannot elect a
 * leader), and the thread keeps trying to reach one. */
static void check_grace(struct lm_session *s)
{
	if (s->grace_over || !s->has_session || s->connected ||
	    lm_clock_ms() - s->confirmed_at <= (int64_t)s->grace_ms)
		return;
	s->grace_over = true;
	pthread_mutex_lock(&s->lock);
	int code = s->last_error == LMC_ENOQUORUM ? LMC_ENOQUORUM : LMC_ENOSERVER;
	for (size_t i = 0; i < s->nseats; i++) {
		struct seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD || seat->lost_told)
			continue;
		seat->unconfirmed = true;
		seat->lost_told = true;
		event_add(s, true, seat, code);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Handles one frame from the server; false when the connection was
 * dropped. */
static bool on_frame(struct lm_session *s, const Lm__Envelope *e)
{
	struct request *r = s->inflight;
	bool for_inflight = r && r->sent && e->request_id == r->request_id;

	switch (e->body_case) {
	case LM__ENVELOPE__BODY_ERROR_REPLY: {
		const Lm__ErrorReply *er = e->error_reply;
		char message[LM_WIRE_TEXT_MAX + LM_SERVER_NAME_MAX + 4];
		snprintf(message, sizeof message, "%s: %s", s->conn.name,
		         er->message ? er->message : lmc_strerror(er->code));
		if (er->code == LMC_ENOTLEADER || er->code == LMC_ESHUTDOWN) {
			/* Another server serves now: move there and resume. */
			note_leader(s, er->leader);
			if (!s->has_redirect)
				s->cursor = (s->cursor + 1) % s->nservers;
			drop_connection(s);
			return false;
		}
		if (er->code == LMC_ENOSESSION) {
			s->has_session = false;
			s->session_lost = true;
			drop_connection(s);
			return false;
		}
		if (for_inflight) {
			on_request_error(s, r, er->code, message);
			return true;
		}
		if (s->hb_outstanding && e->request_id == 0 && er->code == LMC_ENOQUORUM) {
			s->hb_outstanding = false;
			s->hb_due = lm_clock_ms() + s->heartbeat_ms;
			return true;
		}
		/* An error we cannot place: the server found something
		 * malformed and closes the connection; start afresh. */
		drop_connection(s);
		return false;
	}
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
		if (for_inflight && r->kind == REQ_CHECKOUT)
			on_checkout_granted(s, r, e->checkout_reply);
		return true;
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
		if (for_inflight && r->kind == REQ_CHECKIN) {
			finish(s, r, 0, NULL);
			s->inflight = NULL;
		}
		return true;
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
		if (s->hb_outstanding)
			on_heartbeat_reply(s, e->heartbeat_reply);
		return true;
	default: return true; /* a reply we did not ask for: ignored */
	}
}

/* ---- The thread ---- */

/* Waits for a wake-up or until the deadline. */
static void idle_until(struct lm_session *s, int64_t deadline)
{
	int64_t left = deadline - lm_clock_ms();
	if (left > 0) {
		struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
		poll(&p, 1, left > 60000 ? 60000 : (int)left);
	}
	drain_wake(s);
}

/* One turn of work while connected: send what is due, wait for the
 * server or a wake-up, handle what arrived, and give up on a silent
 * server. */
static void serve(struct lm_session *s)
{
	int64_t now = lm_clock_ms();
	if (!s->inflight) {
		pthread_mutex_lock(&s->lock);
		struct request *r = s->queue_head;
		if (r) {
			queue_unlink(s, r);
			r->state = REQ_INFLIGHT;
			s->inflight = r;
		}
		pthread_mutex_unlock(&s->lock);
	}
	struct request *r = s->inflight;
	if (r && !r->sent && now >= r->retry_at && send_request(s, r) != 0) {
		drop_connection(s);
		return;
	}
	if (!s->hb_outstanding && now >= s->hb_due) {
		if (send_simple(s, LM__ENVELOPE__BODY_HEARTBEAT) != 0) {
			drop_connection(s);
			return;
		}
		s->hb_outstanding = true;
		s->hb_sent_at = now;
		s->hb_sent++;
	}

	int64_t until = s->hb_outstanding ? s->hb_sent_at + s->cfg.io_timeout_ms : s->hb_due;
	if (r && r->sent)
		until = min64(until, r->sent_at + s->cfg.io_timeout_ms);
	else if (r)
		until = min64(until, r->retry_at);
	/* Polled even when a deadline has passed, so that an answer already
	 * here is read before the server is declared silent. */
	int64_t left = until - lm_clock_ms();
	left = left < 0 ? 0 : left > 60000 ? 60000 : left;
	struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN},
	                      {.fd = s->conn.fd, .events = POLLIN}};
	if (poll(p, 2, (int)left) < 0 && errno != EINTR) {
		drop_connection(s);
		return;
	}
	drain_wake(s);
	if (p[1].revents) {
		for (;;) {
			Lm__Envelope *e;
			/* A deadline in the past: only what has arrived. */
			int rc = lm_conn_recv(&s->conn, &e, 0);
			if (rc == LMC_ETIMEDOUT)
				break;
			if (rc != 0) {
				drop_connection(s);
				return;
			}
			if (!on_frame(s, e))
				return;
		}
	}
	now = lm_clock_ms();
	r = s->inflight;
	if ((r && r->sent && now - r->sent_at > s->cfg.io_timeout_ms) ||
	    (s->hb_outstanding && now - s->hb_sent_at > s->cfg.io_timeout_ms)) {
		/* The server stopped answering: reconnect, maybe elsewhere. */
		drop_connection(s);
		s->cursor = (s->cursor + 1) % s->nservers;
	}
}

/* SessionClose, waiting for its answer until the deadline: the seats go
 * back at once instead of after the session timeout. */
static void close_session(struct lm_session *s, int64_t deadline)
{
	if (send_simple(s, LM__ENVELOPE__BODY_SESSION_CLOSE) != 0)
		return;
	for (;;) {
		Lm__Envelope *e;
		if (lm_conn_recv(&s->conn, &e, deadline) != 0)
			return;
		/* A late HeartbeatReply may come first; an error means the
		 * session ends by its timeout instead. */
		if (e->body_case == LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY ||
		    e->body_case == LM__ENVELOPE__BODY_ERROR_REPLY)
			return;
	}
}

/* Ends every request still here with code. */
static void finish_all(struct lm_session *s, int code, const char *message)
{
	pthread_mutex_lock(&s->lock);
	struct request *r = s->queue_head, *next;
	s->queue_head = s->queue_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		finish_locked(s, r, code, message);
	}
	if (s->inflight)
		finish_locked(s, s->inflight, code, message);
	s->inflight = NULL;
	pthread_mutex_unlock(&s->lock);
}

static void *run(void *arg)
{
	struct lm_session *s = arg;
	for (;;) {
		check_grace(s);
		events_fire(s);
		int64_t now = lm_clock_ms();
		pthread_mutex_lock(&s->lock);
		bool stopping = s->stopping;
		int64_t cap = stopping ? s->stop_deadline : INT64_MAX;
		bool fresh = false; /* a request waits for its first attempt */
		for (struct request *r = s->queue_head; r && !fresh; r = r->next)
			fresh = r->app_waiting && !r->attempted;
		pthread_mutex_unlock(&s->lock);

		if (stopping) {
			if (!s->has_session || now >= cap)
				break;
			if (s->connected) {
				/* What is still queued or in flight needs no
				 * answer: closing returns every seat. */
				finish_all(s, LMC_ESHUTDOWN, "the context is closing");
				close_session(s, cap);
				break;
			}
		}
		if (!s->connected) {
			if (now < s->next_attempt && !fresh) {
				idle_until(s,
				           min64(min64(s->next_attempt, cap), grace_deadline(s)));
				continue;
			}
			attach_round(s, cap);
			continue;
		}
		serve(s);
	}
	events_fire(s);
	finish_all(s, LMC_ESHUTDOWN, "the context is closing");
	lm_conn_close(&s->conn);
	return NULL;
}

/* ---- The application's side ---- */

void lm_session_config_init(struct lm_session_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->connect_timeout_ms = LM_SESSION_CONNECT_MS;
	cfg->io_timeout_ms = LM_SESSION_IO_MS;
	cfg->backoff_min_ms = LM_SESSION_BACKOFF_MIN_MS;
	cfg->backoff_max_ms = LM_SESSION_BACKOFF_MAX_MS;
	cfg->close_timeout_ms = LM_SESSION_CLOSE_MS;
	cfg->checkin_wait_ms = LM_SESSION_CHECKIN_WAIT_MS;
}

int lm_session_start(struct lm_session **out, const struct lm_session_config *cfg)
{
	*out = NULL;
	if (!cfg->servers || cfg->nservers == 0 || !cfg->vendor_key)
		return LMC_EINVAL;
	struct lm_session *s = calloc(1, sizeof *s);
	if (!s)
		return LMC_ENOMEM;
	s->cfg = *cfg;
	s->nservers = cfg->nservers < LM_SERVER_LIST_MAX ? cfg->nservers : LM_SERVER_LIST_MAX;
	memcpy(s->servers, cfg->servers, s->nservers * sizeof *s->servers);
	s->cfg.servers = s->servers;
	s->cfg.app_version = NULL; /* copied into s->id */
	if (!s->cfg.backoff_min_ms)
		s->cfg.backoff_min_ms = 1;
	if (s->cfg.backoff_max_ms < s->cfg.backoff_min_ms)
		s->cfg.backoff_max_ms = s->cfg.backoff_min_ms;
	s->backoff = s->cfg.backoff_min_ms;
	s->seed = (unsigned)getpid() ^ (unsigned)lm_clock_ms() ^ (unsigned)(uintptr_t)s;
	s->heartbeat_ms = LM_SESSION_HEARTBEAT_MS;
	s->grace_ms = cfg->grace_ms ? cfg->grace_ms : LM_SESSION_GRACE_MS;
	s->conn.fd = -1;
	s->last_error = LMC_ENOSERVER;
	snprintf(s->last_message, sizeof s->last_message, "not connected to a license server yet");

	int rc = lm_conn_identity(&s->id, cfg->app_version);
	if (rc)
		goto fail_identity;
	rc = LMC_ENOMEM;
	if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail_identity;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_create(&s->thread, NULL, run, s) != 0)
		goto fail_thread;
	*out = s;
	return 0;

fail_thread:
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	close(s->wake[0]);
	close(s->wake[1]);
fail_identity:
	free(s);
	return rc;
}

void lm_session_stop(struct lm_session *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->stop_deadline = lm_clock_ms() + s->cfg.close_timeout_ms;
	pthread_mutex_unlock(&s->lock);
	wake_thread(s);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s->seats);
	free(s->events);
	free(s);
}

void lm_session_set_callbacks(struct lm_session *s, lm_session_lost_fn on_lost,
                              lm_session_regained_fn on_regained, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->cfg.on_lost = on_lost;
	s->cfg.on_regained = on_regained;
	s->cfg.cb_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

void lm_session_server(struct lm_session *s, char *buf, size_t size)
{
	pthread_mutex_lock(&s->lock);
	snprintf(buf, size, "%s", s->server);
	pthread_mutex_unlock(&s->lock);
}

static bool on_session_thread(struct lm_session *s)
{
	return pthread_equal(pthread_self(), s->thread);
}

/* Waits (lock held) until r is answered or the deadline passes.  Returns
 * the result; on a timeout the caller stops waiting, and the request is
 * dropped if it was never sent and keep is false, or left to the thread
 * otherwise. */
static int wait_request(struct lm_session *s, struct request *r, int64_t deadline, bool keep,
                        char *msg, size_t msgsize)
{
	struct timespec ts = to_timespec(deadline);
	while (r->state != REQ_FINISHED && !r->delivered) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	}
	int rc;
	if (r->state == REQ_FINISHED || r->delivered) {
		rc = r->result;
		if (rc)
			msg_set(msg, msgsize, "%s", r->message[0] ? r->message : lmc_strerror(rc));
	} else if (r->transient) {
		rc = r->transient;
		msg_set(msg, msgsize, "%s", r->message[0] ? r->message : lmc_strerror(rc));
	} else if (!s->online && s->last_error) {
		rc = s->last_error;
		msg_set(msg, msgsize, "%s", s->last_message);
	} else {
		rc = LMC_ETIMEDOUT;
		msg_set(msg, msgsize, "the license server did not answer in time");
	}
	if (r->state == REQ_QUEUED && !keep) {
		queue_unlink(s, r);
		request_unref(r); /* the thread's reference: it never saw it */
	}
	r->app_waiting = false;
	return rc;
}

int lm_session_checkout(struct lm_session *s, const char *feature, const char *version,
                        unsigned count, unsigned timeout_ms, uint64_t *handle, char *msg,
                        size_t msgsize)
{
	if (on_session_thread(s)) {
		msg_set(msg, msgsize,
		        "lmc_checkout cannot be called from a lost/regained callback");
		return LMC_EINVAL;
	}
	if (!feature || strlen(feature) > LM_NAME_MAX ||
	    (version && strlen(version) > LM_VERSION_MAX) || count == 0 ||
	    count > LM_CHECKOUT_COUNT_MAX)
		return LMC_EINVAL;
	struct request *r = calloc(1, sizeof *r);
	if (!r)
		return LMC_ENOMEM;
	r->kind = REQ_CHECKOUT;
	r->refs = 2;
	r->app_waiting = true;
	r->one_try = timeout_ms == 0;
	snprintf(r->feature, sizeof r->feature, "%s", feature);
	snprintf(r->version, sizeof r->version, "%s", version ? version : "");
	r->count = count;

	int64_t now = lm_clock_ms();
	/* One try is bounded by the thread (one round of connection attempts,
	 * one answer); this bound only guards against the unforeseen. */
	int64_t deadline =
	        r->one_try ? now + (int64_t)(s->cfg.connect_timeout_ms + 2 * s->cfg.io_timeout_ms) *
	                                     (int64_t)(s->nservers + LM_SESSION_REDIRECTS_MAX + 1)
	                   : now + timeout_ms;
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		free(r);
		return LMC_ESHUTDOWN;
	}
	queue_push(s, r, false);
	wake_thread(s);
	int rc = wait_request(s, r, deadline, false, msg, msgsize);
	if (rc == 0)
		*handle = r->handle;
	request_unref(r);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lm_session_checkin(struct lm_session *s, uint64_t handle, char *msg, size_t msgsize)
{
	pthread_mutex_lock(&s->lock);
	struct seat *seat = seat_find(s, handle);
	if (!seat) {
		pthread_mutex_unlock(&s->lock);
		msg_set(msg, msgsize, "handle %llu is not checked out", (unsigned long long)handle);
		return LMC_ENOHANDLE;
	}
	if (seat->state != SEAT_HELD) {
		/* Not held on the server now.  A queued regain is dropped; one
		 * in flight finds the seat gone and checks its grant in. */
		for (struct request *r = s->queue_head; r; r = r->next) {
			if (r->regain && r->seat == handle) {
				queue_unlink(s, r);
				request_unref(r);
				break;
			}
		}
		seat_remove(s, seat);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	bool async = on_session_thread(s);
	struct request *r = calloc(1, sizeof *r);
	if (!r) {
		pthread_mutex_unlock(&s->lock);
		return LMC_ENOMEM;
	}
	r->kind = REQ_CHECKIN;
	r->server_handle = seat->server_handle;
	r->refs = async ? 1 : 2;
	r->app_waiting = !async;
	seat_remove(s, seat);
	queue_push(s, r, false);
	wake_thread(s);
	int rc = 0;
	if (!async) {
		rc = wait_request(s, r, lm_clock_ms() + s->cfg.checkin_wait_ms, true, msg, msgsize);
		if (rc != 0 && r->state != REQ_FINISHED) {
			/* Still on its way: the handle is released all the same. */
			rc = LMC_ETIMEDOUT;
			msg_set(msg, msgsize,
			        "the server has not confirmed the checkin yet; the seats will be "
			        "returned in the background");
		}
		request_unref(r);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
