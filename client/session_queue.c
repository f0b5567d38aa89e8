/* What application threads and the session thread share, under s->lock:
 * the seat table, the request queue and the results that requests carry
 * back to their waiters; and the lost/regained events the thread gathers
 * under the lock and fires after it lets go. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/session_internal.h"
#include "core/error.h"

/* Handles made up when the server reuses a handle that the application
 * already holds under the same number (after a regain in a new session):
 * this range is far from both the server's counters and the offline
 * handles of context.c (top bit). */
#define SYNTHETIC_HANDLE_BASE (UINT64_C(1) << 62)

struct lm_session_seat *lm_session_seat_find(struct lm_session *s, uint64_t app_handle)
{
	for (size_t i = 0; i < s->nseats; i++)
		if (s->seats[i].app_handle == app_handle)
			return &s->seats[i];
	return NULL;
}

void lm_session_seat_remove(struct lm_session *s, struct lm_session_seat *seat)
{
	*seat = s->seats[--s->nseats];
}

/* The application's handle for a new grant: the server's, unless the
 * application already holds that number (possible after a regain in a new
 * session, whose handles may repeat those of the old one). */
uint64_t lm_session_app_handle_for(struct lm_session *s, uint64_t server_handle)
{
	if (!lm_session_seat_find(s, server_handle))
		return server_handle;
	uint64_t h;
	do
		h = SYNTHETIC_HANDLE_BASE + s->next_synthetic++;
	while (lm_session_seat_find(s, h));
	return h;
}

bool lm_session_add_seat(struct lm_session *s, const struct lm_session_request *r,
                         uint64_t app_handle, uint64_t server_handle)
{
	if (s->nseats == s->capseats) {
		if (s->capseats == LM_SESSION_SEATS_MAX)
			return false;
		size_t cap = s->capseats ? 2 * s->capseats : 16;
		struct lm_session_seat *seats = realloc(s->seats, cap * sizeof *seats);
		if (!seats)
			return false;
		s->seats = seats;
		s->capseats = cap;
	}
	struct lm_session_seat *seat = &s->seats[s->nseats++];
	memset(seat, 0, sizeof *seat);
	seat->app_handle = app_handle;
	seat->server_handle = server_handle;
	snprintf(seat->feature, sizeof seat->feature, "%s", r->feature);
	snprintf(seat->version, sizeof seat->version, "%s", r->version);
	seat->count = r->count;
	snprintf(seat->vendor_data, sizeof seat->vendor_data, "%s", r->vendor_data);
	seat->state = SEAT_HELD;
	seat->hb_epoch = s->hb_sent;
	return true;
}

void lm_session_event_add(struct lm_session *s, bool lost, const struct lm_session_seat *seat,
                          int code, const char *message)
{
	if (s->nevents == s->capevents) {
		size_t cap = s->capevents ? 2 * s->capevents : 8;
		struct lm_session_event *e = realloc(s->events, cap * sizeof *e);
		if (!e)
			return; /* the seat's state is still right; only the news is lost */
		s->events = e;
		s->capevents = cap;
	}
	struct lm_session_event *e = &s->events[s->nevents++];
	e->lost = lost;
	e->handle = seat->app_handle;
	snprintf(e->feature, sizeof e->feature, "%s", seat->feature);
	e->code = code;
	snprintf(e->message, sizeof e->message, "%s",
	         message ? message
	         : lost  ? lmc_strerror(code)
	                 : "");
}

/* Runs the callbacks for the events gathered, with no lock held, so that a
 * callback may call lm_session_checkin. */
void lm_session_events_fire(struct lm_session *s)
{
	if (s->nevents == 0)
		return;
	pthread_mutex_lock(&s->lock);
	lm_session_lost_fn on_lost = s->cfg.on_lost;
	lm_session_regained_fn on_regained = s->cfg.on_regained;
	void *arg = s->cfg.cb_arg;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->nevents; i++) {
		const struct lm_session_event *e = &s->events[i];
		if (e->lost && on_lost)
			on_lost(arg, e->handle, e->feature, e->code, e->message);
		else if (!e->lost && on_regained)
			on_regained(arg, e->handle, e->feature);
	}
	s->nevents = 0;
}

void lm_session_queue_push(struct lm_session *s, struct lm_session_request *r, bool front)
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

void lm_session_queue_unlink(struct lm_session *s, struct lm_session_request *r)
{
	struct lm_session_request **p = &s->queue_head, *prev = NULL;
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

void lm_session_request_unref(struct lm_session_request *r)
{
	if (--r->refs == 0)
		free(r);
}

/* A request of the thread's own, which nobody waits for. */
static struct lm_session_request *internal_request(enum lm_session_request_kind kind)
{
	struct lm_session_request *r = calloc(1, sizeof *r);
	if (r) {
		r->kind = kind;
		r->refs = 1;
	}
	return r;
}

/* Queues the checkin of seats that the application does not know about (a
 * grant that arrived after its caller gave up, or one refused for its
 * license line), first in line so that the seats go back soon. */
void lm_session_queue_orphan_checkin(struct lm_session *s, uint64_t server_handle)
{
	struct lm_session_request *r = internal_request(REQ_CHECKIN);
	if (!r)
		return; /* the session's end returns the seats */
	r->server_handle = server_handle;
	lm_session_queue_push(s, r, true);
}

void lm_session_queue_regain(struct lm_session *s, struct lm_session_seat *seat)
{
	struct lm_session_request *r = internal_request(REQ_CHECKOUT);
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
	snprintf(r->vendor_data, sizeof r->vendor_data, "%s", seat->vendor_data);
	lm_session_queue_push(s, r, true);
}

/* Sets the final result of r and lets its waiter (if any) go; drops the
 * thread's reference.  A failed regain marks its seat lost. */
void lm_session_finish_locked(struct lm_session *s, struct lm_session_request *r, int code,
                              const char *message)
{
	r->state = REQ_FINISHED;
	r->result = code;
	/* Server messages are cut to what the request keeps. */
	snprintf(r->message, sizeof r->message, "%.*s", (int)sizeof r->message - 1,
	         message ? message : "");
	if (r->regain && code != 0) {
		struct lm_session_seat *seat = lm_session_seat_find(s, r->seat);
		if (seat && seat->state == SEAT_REGAINING) {
			seat->state = SEAT_LOST;
			if (!seat->lost_told)
				lm_session_event_add(s, true, seat, code, r->message);
			seat->lost_told = true;
		}
	}
	if (r->app_waiting)
		pthread_cond_broadcast(&s->cond);
	lm_session_request_unref(r);
}

void lm_session_finish(struct lm_session *s, struct lm_session_request *r, int code,
                       const char *message)
{
	pthread_mutex_lock(&s->lock);
	lm_session_finish_locked(s, r, code, message);
	pthread_mutex_unlock(&s->lock);
}

/* Gives a waiter an early answer (a one-try request that met a transient
 * error) while the thread keeps the request until the server's answer. */
void lm_session_deliver_locked(struct lm_session *s, struct lm_session_request *r, int code,
                               const char *message)
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

int lm_session_feature_info(struct lm_session *s, const char *feature, unsigned *held,
                            unsigned *overdraft, struct lm_session_grant *last)
{
	int rc = LMC_ENOFEATURE;
	uint64_t newest = 0;
	*held = *overdraft = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nseats; i++) {
		const struct lm_session_seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD || strcmp(seat->feature, feature) != 0)
			continue;
		*held += seat->count;
		*overdraft += seat->grant.overdraft;
		/* Server handles grow: the largest is the latest grant. */
		if (rc != 0 || seat->server_handle > newest) {
			newest = seat->server_handle;
			*last = seat->grant;
		}
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
