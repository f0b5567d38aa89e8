/* The session thread's loop: attach when not connected (session_attach.c),
 * otherwise send the request in flight and the heartbeats and hand the
 * server's replies to session_wire.c; the lease (session_lease.c) checked
 * at every turn; SessionClose at the end. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "client/session_internal.h"
#include "core/error.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"

static void drain_wake(struct lm_session *s)
{
	char buf[64];
	while (read(s->wake[0], buf, sizeof buf) > 0)
		;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

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
		struct lm_session_request *r = s->queue_head;
		if (r) {
			lm_session_queue_unlink(s, r);
			r->state = REQ_INFLIGHT;
			s->inflight = r;
		}
		pthread_mutex_unlock(&s->lock);
	}
	struct lm_session_request *r = s->inflight;
	if (r && !r->sent && now >= r->retry_at && lm_session_send_request(s, r) != 0) {
		lm_session_drop_connection(s, false);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->idle_news) {
		/* A TIMEOUT counts from the idle time the server last heard:
		 * tell it now rather than at the next heartbeat. */
		s->idle_news = false;
		s->hb_due = now;
	}
	pthread_mutex_unlock(&s->lock);
	if (!s->hb_outstanding && now >= s->hb_due) {
		if (lm_session_send_simple(s, LM__ENVELOPE__BODY_HEARTBEAT) != 0) {
			lm_session_drop_connection(s, false);
			return;
		}
		s->hb_outstanding = true;
		s->hb_sent_at = now;
		s->hb_sent++;
	}

	int64_t answer_ms = lm_session_lease_answer_ms(s);
	int64_t until = s->hb_outstanding ? s->hb_sent_at + answer_ms : s->hb_due;
	if (r && r->sent)
		until = min64(until, r->sent_at + s->cfg.io_timeout_ms);
	else if (r)
		until = min64(until, r->retry_at);
	until = min64(until, lm_session_lease_deadline(s));
	/* Polled even when a deadline has passed, so that an answer already
	 * here is read before the server is declared silent. */
	int64_t left = until - lm_clock_ms();
	left = left < 0 ? 0 : left > 60000 ? 60000 : left;
	struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN},
	                      {.fd = s->conn.fd, .events = POLLIN}};
	if (poll(p, 2, (int)left) < 0 && errno != EINTR) {
		lm_session_drop_connection(s, false);
		return;
	}
	drain_wake(s);
	if (p[1].revents) {
		for (;;) {
			Lm__Envelope *e;
			/* A deadline in the past: only what has arrived. */
			int rc = lm_frame_conn_recv(&s->conn, &e, 0);
			if (rc == LMC_ETIMEDOUT)
				break;
			if (rc != 0) {
				/* EOF or reset with no word from the server: maybe a
				 * proxy that closed both sides. */
				lm_session_drop_connection(s, false);
				return;
			}
			if (!lm_session_on_frame(s, e))
				return;
		}
	}
	now = lm_clock_ms();
	r = s->inflight;
	if ((r && r->sent && now - r->sent_at > s->cfg.io_timeout_ms) ||
	    (s->hb_outstanding && now - s->hb_sent_at > answer_ms)) {
		/* The server stopped answering: reconnect, maybe elsewhere. */
		lm_session_drop_connection(s, false);
		s->cursor = (s->cursor + 1) % s->nservers;
	}
}

/* SessionClose, waiting for its answer until the deadline: the seats go
 * back at once instead of after the session timeout. */
static void close_session(struct lm_session *s, int64_t deadline)
{
	if (lm_session_send_simple(s, LM__ENVELOPE__BODY_SESSION_CLOSE) != 0)
		return;
	for (;;) {
		Lm__Envelope *e;
		if (lm_frame_conn_recv(&s->conn, &e, deadline) != 0)
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
	struct lm_session_request *r = s->queue_head, *next;
	s->queue_head = s->queue_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		lm_session_finish_locked(s, r, code, message);
	}
	if (s->inflight)
		lm_session_finish_locked(s, s->inflight, code, message);
	s->inflight = NULL;
	pthread_mutex_unlock(&s->lock);
}

void *lm_session_run(void *arg)
{
	struct lm_session *s = arg;
	for (;;) {
		lm_session_lease_check(s);
		lm_session_events_fire(s);
		int64_t now = lm_clock_ms();
		pthread_mutex_lock(&s->lock);
		bool stopping = s->stopping;
		int64_t cap = stopping ? s->stop_deadline : INT64_MAX;
		bool fresh = false; /* a request waits for its first attempt */
		for (struct lm_session_request *r = s->queue_head; r && !fresh; r = r->next)
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
				idle_until(s, min64(min64(s->next_attempt, cap),
				                    lm_session_lease_deadline(s)));
				continue;
			}
			lm_session_attach_round(s, cap);
			continue;
		}
		serve(s);
	}
	lm_session_events_fire(s);
	finish_all(s, LMC_ESHUTDOWN, "the context is closing");
	lm_frame_conn_close(&s->conn);
	return NULL;
}
