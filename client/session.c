/* The session thread: one connection, one session, the seats the
 * application holds through it, and the requests that change them (see
 * session.h for the behaviour).
 *
 * This file is the application's side: starting and stopping the thread,
 * and the checkouts and checkins that application threads queue for it and
 * wait on.  The rest is split by concept (session_internal.h lists the
 * files), and the locking rules are written there. */
#include "config.h"

#include "client/session.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/session_internal.h"
#include "core/error.h"
#include "core/vendor_data.h"
#include "proto/frame_conn.h"

void lm_session_msg_set(char *buf, size_t size, const char *fmt, ...)
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

static struct timespec to_timespec(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	return ts;
}

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
	s->nservers = cfg->nservers < LM_SOURCE_SERVERS_MAX ? cfg->nservers : LM_SOURCE_SERVERS_MAX;
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

	int rc = lm_frame_conn_identity(&s->id, cfg->app_version);
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
	if (pthread_create(&s->thread, NULL, lm_session_run, s) != 0)
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

void lm_session_set_idle(struct lm_session *s, bool idle)
{
	pthread_mutex_lock(&s->lock);
	bool was_idle = s->idle_since != 0;
	if (idle && !was_idle) {
		int64_t now = lm_clock_ms();
		s->idle_since = now > 0 ? now : 1;
	} else if (!idle && was_idle) {
		s->idle_since = 0;
		for (size_t i = 0; i < s->nseats; i++) {
			struct lm_session_seat *seat = &s->seats[i];
			if (!seat->idle_taken)
				continue;
			seat->idle_taken = false;
			seat->lost_told = false; /* the regain's outcome is news */
			lm_session_queue_regain(s, seat);
		}
	}
	s->idle_news = s->idle_news || idle != was_idle;
	pthread_mutex_unlock(&s->lock);
	if (idle != was_idle)
		wake_thread(s);
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
static int wait_request(struct lm_session *s, struct lm_session_request *r, int64_t deadline,
                        bool keep, char *msg, size_t msgsize)
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
			lm_session_msg_set(msg, msgsize, "%s",
			                   r->message[0] ? r->message : lmc_strerror(rc));
	} else if (r->transient) {
		rc = r->transient;
		lm_session_msg_set(msg, msgsize, "%s",
		                   r->message[0] ? r->message : lmc_strerror(rc));
	} else if (!s->online && s->last_error) {
		rc = s->last_error;
		lm_session_msg_set(msg, msgsize, "%s", s->last_message);
	} else {
		rc = LMC_ETIMEDOUT;
		lm_session_msg_set(msg, msgsize, "the license server did not answer in time");
	}
	if (r->state == REQ_QUEUED && !keep) {
		lm_session_queue_unlink(s, r);
		lm_session_request_unref(r); /* the thread's reference: it never saw it */
	}
	r->app_waiting = false;
	return rc;
}

int lm_session_checkout(struct lm_session *s, const char *feature, const char *version,
                        unsigned count, const char *vendor_data, unsigned timeout_ms,
                        uint64_t *handle, char *msg, size_t msgsize)
{
	if (on_session_thread(s)) {
		lm_session_msg_set(msg, msgsize,
		                   "lmc_checkout cannot be called from a lost/regained callback");
		return LMC_EINVAL;
	}
	if (!feature || strlen(feature) > LM_NAME_MAX ||
	    (version && strlen(version) > LM_VERSION_MAX) || count == 0 ||
	    count > LM_CHECKOUT_COUNT_MAX ||
	    (vendor_data && !lm_vendor_data_valid(vendor_data, strlen(vendor_data))))
		return LMC_EINVAL;
	struct lm_session_request *r = calloc(1, sizeof *r);
	if (!r)
		return LMC_ENOMEM;
	r->kind = REQ_CHECKOUT;
	r->refs = 2;
	r->app_waiting = true;
	r->one_try = timeout_ms == 0;
	snprintf(r->feature, sizeof r->feature, "%s", feature);
	snprintf(r->version, sizeof r->version, "%s", version ? version : "");
	r->count = count;
	snprintf(r->vendor_data, sizeof r->vendor_data, "%s", vendor_data ? vendor_data : "");

	int64_t now = lm_clock_ms();
	/* One try is bounded by the thread (one round of connection attempts,
	 * one answer); this bound only guards against the unforeseen.  A
	 * timeout is waited in full: the millisecond clock drops the fraction
	 * of the current millisecond, hence the one added. */
	int64_t deadline =
	        r->one_try ? now + (int64_t)(s->cfg.connect_timeout_ms + 2 * s->cfg.io_timeout_ms) *
	                                     (int64_t)(s->nservers + LM_SESSION_REDIRECTS_MAX + 1)
	                   : now + timeout_ms + 1;
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		free(r);
		return LMC_ESHUTDOWN;
	}
	lm_session_queue_push(s, r, false);
	wake_thread(s);
	int rc = wait_request(s, r, deadline, false, msg, msgsize);
	if (rc == 0)
		*handle = r->handle;
	lm_session_request_unref(r);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lm_session_checkin(struct lm_session *s, uint64_t handle, char *msg, size_t msgsize)
{
	pthread_mutex_lock(&s->lock);
	struct lm_session_seat *seat = lm_session_seat_find(s, handle);
	if (!seat) {
		pthread_mutex_unlock(&s->lock);
		lm_session_msg_set(msg, msgsize, "handle %llu is not checked out",
		                   (unsigned long long)handle);
		return LMC_ENOHANDLE;
	}
	if (seat->state != SEAT_HELD) {
		/* Not held on the server now.  A queued regain is dropped; one
		 * in flight finds the seat gone and checks its grant in. */
		for (struct lm_session_request *r = s->queue_head; r; r = r->next) {
			if (r->regain && r->seat == handle) {
				lm_session_queue_unlink(s, r);
				lm_session_request_unref(r);
				break;
			}
		}
		lm_session_seat_remove(s, seat);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	bool async = on_session_thread(s);
	struct lm_session_request *r = calloc(1, sizeof *r);
	if (!r) {
		pthread_mutex_unlock(&s->lock);
		return LMC_ENOMEM;
	}
	r->kind = REQ_CHECKIN;
	r->server_handle = seat->server_handle;
	r->refs = async ? 1 : 2;
	r->app_waiting = !async;
	lm_session_seat_remove(s, seat);
	lm_session_queue_push(s, r, false);
	wake_thread(s);
	int rc = 0;
	if (!async) {
		rc = wait_request(s, r, lm_clock_ms() + s->cfg.checkin_wait_ms, true, msg, msgsize);
		if (rc != 0 && r->state != REQ_FINISHED) {
			/* Still on its way: the handle is released all the same. */
			rc = LMC_ETIMEDOUT;
			lm_session_msg_set(
			        msg, msgsize,
			        "the server has not confirmed the checkin yet; the seats will be "
			        "returned in the background");
		}
		lm_session_request_unref(r);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
