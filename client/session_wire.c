/* The session's requests on the wire and the server's replies: checkouts
 * and checkins sent, grants checked against the vendor key, errors placed,
 * HeartbeatReplies compared with the seats held.  Thread only. */
#include "config.h"

#include <pthread.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "client/session_internal.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"

int lm_session_send_request(struct lm_session *s, struct lm_session_request *r)
{
	Lm__Envelope e;
	Lm__Checkout co;
	Lm__Checkin ci;
	if (r->request_id == 0) {
		r->request_id = ++s->next_request_id;
		/* Unpredictable, so that no grant can be signed ahead of the
		 * request it answers. */
		if (RAND_bytes(r->nonce, sizeof r->nonce) != 1)
			return LMC_ENOMEM;
	}
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
		co.has_nonce = 1;
		co.nonce.data = r->nonce;
		co.nonce.len = sizeof r->nonce;
		if (r->vendor_data[0]) {
			co.has_vendor_data = 1;
			co.vendor_data = lm_bytes_from_cstr(r->vendor_data);
		}
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
	int rc = lm_frame_conn_send(&s->conn, &e, now + s->cfg.io_timeout_ms);
	if (rc == 0) {
		r->sent = true;
		r->sent_at = now;
	}
	return rc;
}

int lm_session_send_simple(struct lm_session *s, Lm__Envelope__BodyCase body)
{
	Lm__Envelope e;
	Lm__Heartbeat hb;
	Lm__SessionClose sc;
	lm_envelope_init(&e, 0);
	e.body_case = body;
	if (body == LM__ENVELOPE__BODY_HEARTBEAT) {
		lm__heartbeat__init(&hb);
		pthread_mutex_lock(&s->lock);
		int64_t idle_since = s->idle_since;
		pthread_mutex_unlock(&s->lock);
		s->hb_idle = idle_since != 0;
		if (idle_since) {
			int64_t idle = lm_clock_ms() - idle_since;
			hb.has_idle_ms = 1;
			hb.idle_ms = idle > 0 ? (uint64_t)idle : 1;
		}
		e.heartbeat = &hb;
	} else {
		lm__session_close__init(&sc);
		e.session_close = &sc;
	}
	return lm_frame_conn_send(&s->conn, &e, lm_clock_ms() + s->cfg.io_timeout_ms);
}

static void on_checkout_granted(struct lm_session *s, struct lm_session_request *r,
                                const Lm__CheckoutReply *m)
{
	char why[512];
	struct lm_session_grant grant;
	int rc = lm_session_check_grant(s, r, m, &grant, why, sizeof why);
	if (rc == 0) {
		lm_session_lease_confirm(s, r->sent_at);
		/* An answer slower than the lease proves nothing about now:
		 * the new seats are reported lost with the others, and
		 * regained when a heartbeat lists them. */
		if (!lm_session_lease_live(s))
			s->reported = 0;
	}
	pthread_mutex_lock(&s->lock);
	if (rc != 0) {
		lm_session_queue_orphan_checkin(s, m->handle);
		lm_session_finish_locked(s, r, rc, why);
	} else if (r->regain) {
		struct lm_session_seat *seat = lm_session_seat_find(s, r->seat);
		if (seat && seat->state == SEAT_REGAINING) {
			seat->server_handle = m->handle;
			seat->grant = grant;
			seat->state = SEAT_HELD;
			seat->lost_told = false;
			seat->hb_epoch = s->hb_sent;
			lm_session_event_add(s, false, seat, 0, NULL);
		} else {
			/* Checked in by the application meanwhile. */
			lm_session_queue_orphan_checkin(s, m->handle);
		}
		lm_session_finish_locked(s, r, 0, NULL);
	} else if (!r->app_waiting) {
		/* The caller gave up before the grant arrived. */
		lm_session_queue_orphan_checkin(s, m->handle);
		lm_session_finish_locked(s, r, LMC_ETIMEDOUT, NULL);
	} else {
		uint64_t h = lm_session_app_handle_for(s, m->handle);
		if (lm_session_add_seat(s, r, h, m->handle)) {
			s->seats[s->nseats - 1].grant = grant;
			r->handle = h;
			lm_session_finish_locked(s, r, 0, NULL);
		} else {
			lm_session_queue_orphan_checkin(s, m->handle);
			lm_session_finish_locked(s, r, LMC_ELIMIT,
			                         "this context holds too many checkouts");
		}
	}
	pthread_mutex_unlock(&s->lock);
	s->inflight = NULL;
}

/* An ErrorReply to the request in flight.  Transient errors keep it (it is
 * re-sent with the same request id); any other ends it. */
static void on_request_error(struct lm_session *s, struct lm_session_request *r, int code,
                             const char *message)
{
	if (code == LMC_ENOQUORUM || code == LMC_ETIMEDOUT) {
		/* The redundant servers cannot commit now; the seats we hold
		 * stay held, for as long as the lease allows.  Ask again after
		 * a pause. */
		s->noquorum |= code == LMC_ENOQUORUM;
		r->sent = false;
		r->retry_ms = r->retry_ms ? r->retry_ms * 2 : s->cfg.backoff_min_ms;
		if (r->retry_ms > s->cfg.backoff_max_ms)
			r->retry_ms = s->cfg.backoff_max_ms;
		r->retry_at = lm_clock_ms() + r->retry_ms;
		pthread_mutex_lock(&s->lock);
		lm_session_deliver_locked(s, r, code, message);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* A checkin of a handle the server no longer has: the seats are not
	 * held, which is what the checkin wanted. */
	if (r->kind == REQ_CHECKIN && code == LMC_ENOHANDLE)
		code = 0;
	lm_session_finish(s, r, code, message);
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
 * (lmremove): tell the application, then try to get it back.  Missing
 * while the application is idle, or in answer to a heartbeat that said so,
 * it was most likely a TIMEOUT of the options file (LMC_EIDLE): it is
 * checked out again only once the application is active.  A seat
 * reported lost for want of a server and listed again was kept all along:
 * it is regained, provided that the answer came within the lease (a late
 * one proves nothing about now: the next heartbeat goes at once). */
static void on_heartbeat_reply(struct lm_session *s, const Lm__HeartbeatReply *m)
{
	uint64_t answered = s->hb_sent;
	s->hb_outstanding = false;
	lm_session_lease_confirm(s, s->hb_sent_at);
	bool live = lm_session_lease_live(s);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nseats; i++) {
		struct lm_session_seat *seat = &s->seats[i];
		if (seat->state != SEAT_HELD)
			continue;
		bool listed = handle_listed(m, seat->server_handle);
		if (seat->unconfirmed && listed) {
			if (!live)
				continue;
			seat->unconfirmed = false;
			seat->lost_told = false;
			lm_session_event_add(s, false, seat, 0, NULL);
			continue;
		}
		if (seat->hb_epoch >= answered || listed)
			continue;
		seat->unconfirmed = false;
		bool idle_now = s->idle_since != 0;
		if (!seat->lost_told && (idle_now || s->hb_idle))
			lm_session_event_add(
			        s, true, seat, LMC_EIDLE,
			        idle_now ? "the license server took the seats back while the "
			                   "application was idle (TIMEOUT in the options file); "
			                   "they are checked out again when it is active"
			                 : "the license server took the seats back while the "
			                   "application was idle (TIMEOUT in the options file); "
			                   "checking them out again");
		else if (!seat->lost_told)
			lm_session_event_add(
			        s, true, seat, LMC_ENOHANDLE,
			        "the license server no longer lists the seats (an "
			        "administrator removed them); checking them out again");
		seat->lost_told = true;
		if (idle_now) {
			seat->state = SEAT_LOST;
			seat->idle_taken = true;
		} else {
			lm_session_queue_regain(s, seat);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (live)
		s->lease_over = false;
	s->hb_due = live ? lm_clock_ms() + s->heartbeat_ms : lm_clock_ms();
}

/* Handles one frame from the server; false when the connection was
 * dropped. */
bool lm_session_on_frame(struct lm_session *s, const Lm__Envelope *e)
{
	struct lm_session_request *r = s->inflight;
	bool for_inflight = r && r->sent && e->request_id == r->request_id;

	switch (e->body_case) {
	case LM__ENVELOPE__BODY_ERROR_REPLY: {
		const Lm__ErrorReply *er = e->error_reply;
		char message[LM_WIRE_TEXT_MAX + LM_ADDRESS_TEXT_MAX + 4];
		snprintf(message, sizeof message, "%s: %s", s->conn.name,
		         er->message ? er->message : lmc_strerror(er->code));
		if (er->code == LMC_ENOTLEADER || er->code == LMC_ESHUTDOWN) {
			/* Another server serves now: move there and resume.  A
			 * leader that lost its leadership and knows no other
			 * leader is watching an election, or has no quorum. */
			lm_session_note_leader(s, er->leader);
			if (!s->has_redirect) {
				s->noquorum |= er->code == LMC_ENOTLEADER;
				s->cursor = (s->cursor + 1) % s->nservers;
			}
			/* Said why first: it reclaims nothing. */
			lm_session_drop_connection(s, true);
			return false;
		}
		if (er->code == LMC_ENOSESSION) {
			lm_session_forget(s, NULL);
			lm_session_drop_connection(s, true);
			return false;
		}
		if (for_inflight) {
			on_request_error(s, r, er->code, message);
			return true;
		}
		if (s->hb_outstanding && e->request_id == 0 && er->code == LMC_ENOQUORUM) {
			s->hb_outstanding = false;
			s->noquorum = true;
			s->hb_due = lm_clock_ms() + s->heartbeat_ms;
			return true;
		}
		/* An error we cannot place: the server found something
		 * malformed and closes the connection; start afresh. */
		lm_session_drop_connection(s, true);
		return false;
	}
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
		if (for_inflight && r->kind == REQ_CHECKOUT)
			on_checkout_granted(s, r, e->checkout_reply);
		return true;
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
		if (for_inflight && r->kind == REQ_CHECKIN) {
			lm_session_finish(s, r, 0, NULL);
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
