/* What the files of the session thread share: the session itself, its
 * requests, seats and events, and the helpers each file lends the others.
 * Private to client/session*.c; the API is client/session.h.
 *
 *   session.c         the application's side: start, stop, checkout, checkin
 *   session_queue.c   the request queue, the seat table and the events, which
 *                     application threads and the thread share under s->lock
 *   session_attach.c  the connection: attach, open or resume the session,
 *                     redirects, failover and backoff
 *   session_thread.c  the thread's loop
 *   session_wire.c    the requests on the wire and the server's replies
 *   session_lease.c   how long the seats may be believed held: the lease,
 *                     its shortening when we close a connection, the grace
 *
 * Locking: s->lock guards the request queue, the seat table, the request
 * states and results, the callbacks and the few fields marked "shared".
 * The thread never holds it across I/O or while it runs a callback, and an
 * application thread holds it only to queue, look up or collect, so neither
 * side can block the other for long.  Everything about the connection
 * (s->conn, the in-flight request pointer, heartbeat and backoff state) is
 * touched by the thread alone. */
#ifndef LM_SESSION_INTERNAL_H
#define LM_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/session.h"
#include "client/source.h"
#include "core/grant.h"
#include "core/license.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"

enum lm_session_request_kind { REQ_CHECKOUT, REQ_CHECKIN };

/* QUEUED: in s->queue, not sent in this session.  INFLIGHT: taken by the
 * thread (s->inflight); it stays there until the server gives a final
 * answer, across reconnects.  FINISHED: result set. */
enum lm_session_request_state { REQ_QUEUED, REQ_INFLIGHT, REQ_FINISHED };

struct lm_session_request {
	struct lm_session_request *next;
	enum lm_session_request_kind kind;
	enum lm_session_request_state state;
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
	char vendor_data[LM_WIRE_VENDOR_DATA_MAX + 1]; /* checkout: "" for none */
	uint64_t server_handle;                        /* checkin */

	uint64_t request_id; /* 0 until numbered; kept for every retry */
	/* Checkout: random, drawn with the request id and kept for every
	 * retry; the server signs it into the grant (core/grant.h). */
	uint8_t nonce[LM_GRANT_NONCE_LEN];
	bool sent; /* on the current connection, answer pending */
	int64_t sent_at;
	int64_t retry_at; /* after LMC_ENOQUORUM */
	unsigned retry_ms;

	int transient; /* last transient error, reported on timeout */
	int result;
	uint64_t handle; /* checkout: the application's handle */
	char message[LM_MESSAGE_MAX];
};

/* HELD: the server holds server_handle for us.  REGAINING: a checkout to
 * get it back is queued or in flight.  LOST: the last regain failed; the
 * application's handle stays valid until it checks it in. */
enum lm_session_seat_state { SEAT_HELD, SEAT_REGAINING, SEAT_LOST };

struct lm_session_seat {
	uint64_t app_handle;
	uint64_t server_handle;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	unsigned count;
	/* The vendor data it was checked out with, sent again by a regain:
	 * under DUP_GROUP=V it names the seat's sharing group. */
	char vendor_data[LM_WIRE_VENDOR_DATA_MAX + 1];
	enum lm_session_seat_state state;
	bool lost_told; /* on_lost fired since the last grant */
	/* Reported lost because no server confirmed it within the lease or
	 * the grace period; the server may well still hold it: a
	 * HeartbeatReply that lists it, within a live lease, makes it
	 * regained. */
	bool unconfirmed;
	/* Heartbeats sent before the grant: a HeartbeatReply to one of them
	 * may not list the handle yet. */
	uint64_t hb_epoch;
	/* Taken back while the application was idle (LMC_EIDLE, state
	 * SEAT_LOST): checked out again when it says it is active. */
	bool idle_taken;
	/* What the last grant said: the seats beyond the count, and the
	 * backing line's terms (lm_session_feature_info). */
	struct lm_session_grant grant;
};

struct lm_session_event {
	bool lost; /* else regained */
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	int code;
	char message[LM_MESSAGE_LONG_MAX]; /* lost: why */
};

struct lm_session {
	struct lm_session_config cfg;
	struct lm_address servers[LM_SOURCE_SERVERS_MAX];
	size_t nservers;
	struct lm_identity id;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	int wake[2];         /* a byte written to wake[1] wakes the thread */

	/* Shared, under lock. */
	struct lm_session_request *queue_head, *queue_tail;
	struct lm_session_seat *seats;
	size_t nseats, capseats;
	bool stopping;
	int64_t stop_deadline;
	bool online;
	int last_error; /* of the last failed round of connection attempts */
	char last_message[LM_MESSAGE_LONG_MAX];
	char server[LM_ADDRESS_TEXT_MAX];
	uint64_t next_synthetic;
	/* lm_clock_ms() since when the application says it is idle, 0 while
	 * active; idle_news asks the thread to tell the server at once. */
	int64_t idle_since;
	bool idle_news;

	/* Thread only. */
	struct lm_frame_conn conn;
	bool connected;
	int64_t connected_at;
	bool has_session;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	/* The cluster that granted the session (SessionReply.cluster_id),
	 * when the server said. */
	uint8_t cluster_id[LM_CLUSTER_ID_SIZE];
	bool has_cluster_id;
	bool session_lost; /* the next new session regains every seat */
	struct lm_session_request *inflight;
	uint64_t next_request_id;
	unsigned heartbeat_ms;
	unsigned grace_ms;
	/* The session's terms, from the last SessionReply (session_lease.c):
	 * 0 for a term the server did not give. */
	unsigned timeout_ms, lease_ms, linger_ms;
	bool has_linger;
	int64_t lease_until;  /* the seats are believed held until then */
	int64_t reported;     /* the deadline whose lost seats were reported */
	int64_t confirmed_at; /* a leader last vouched for the session */
	bool lease_over;      /* seats were reported lost for want of a server */
	bool noquorum;        /* a server said so since the last confirmation */
	int64_t hb_due;
	bool hb_outstanding;
	int64_t hb_sent_at;
	uint64_t hb_sent; /* heartbeats sent so far */
	bool hb_idle;     /* the outstanding heartbeat said the application was idle */
	size_t cursor;    /* the server to try first */
	unsigned seed;    /* rand_r() state for jitter */
	unsigned backoff;
	int64_t next_attempt;
	bool has_redirect;
	struct lm_address redirect;
	struct lm_session_event *events; /* fired after the lock is released */
	size_t nevents, capevents;
};

/* ---- session.c ---- */

/* vsnprintf into buf, which may be NULL. */
void lm_session_msg_set(char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ---- session_queue.c: the shared state, under s->lock unless told ---- */

struct lm_session_seat *lm_session_seat_find(struct lm_session *s, uint64_t app_handle);
void lm_session_seat_remove(struct lm_session *s, struct lm_session_seat *seat);
uint64_t lm_session_app_handle_for(struct lm_session *s, uint64_t server_handle);
/* False when the table is full (LM_SESSION_SEATS_MAX) or out of memory. */
bool lm_session_add_seat(struct lm_session *s, const struct lm_session_request *r,
                         uint64_t app_handle, uint64_t server_handle);

/* Events are the thread's own: gathered under the lock, fired without.
 * message (lost events; may be NULL) says why. */
void lm_session_event_add(struct lm_session *s, bool lost, const struct lm_session_seat *seat,
                          int code, const char *message);
void lm_session_events_fire(struct lm_session *s);

/* ---- session_grant.c ---- */

/* The server key pinned for the server at addr by the SERVER line of a
 * license file naming it, or NULL (session_grant.c). */
const uint8_t *lm_session_pinned_key(const struct lm_session *s, const struct lm_address *addr);
/* The checks of a grant (lmc.h, lmc_checkout): 0 with what the
 * application may ask of it (lmc_license_info) in grant, or the refusal
 * (LMC_EBADSIG, LMC_EEXPIRED, LMC_ENOTSTARTED, LMC_EWRONGHOST,
 * LMC_ENOSEATS, LMC_EPROTO) with a sentence in why. */
int lm_session_check_grant(struct lm_session *s, const struct lm_session_request *r,
                           const Lm__CheckoutReply *m, struct lm_session_grant *grant, char *why,
                           size_t size);

void lm_session_queue_push(struct lm_session *s, struct lm_session_request *r, bool front);
void lm_session_queue_unlink(struct lm_session *s, struct lm_session_request *r);
void lm_session_request_unref(struct lm_session_request *r);
void lm_session_queue_orphan_checkin(struct lm_session *s, uint64_t server_handle);
void lm_session_queue_regain(struct lm_session *s, struct lm_session_seat *seat);
void lm_session_finish_locked(struct lm_session *s, struct lm_session_request *r, int code,
                              const char *message);
/* lm_session_finish_locked, taking the lock. */
void lm_session_finish(struct lm_session *s, struct lm_session_request *r, int code,
                       const char *message);
void lm_session_deliver_locked(struct lm_session *s, struct lm_session_request *r, int code,
                               const char *message);

/* ---- session_attach.c: the connection, thread only ---- */

/* announced: the server said why it ends the connection (an ErrorReply:
 * not the leader, stopping...), so it reclaims nothing; otherwise the lease
 * shrinks to the linger (session_lease.c). */
void lm_session_drop_connection(struct lm_session *s, bool announced);
/* The server no longer knows the session: its seats went back to the pool.
 * They are reported lost (those not told yet, with why, or a sentence
 * saying the server forgot the session when why is NULL) and regained at
 * the next attach. */
void lm_session_forget(struct lm_session *s, const char *why);
void lm_session_note_leader(struct lm_session *s, const char *leader);
void lm_session_attach_round(struct lm_session *s, int64_t cap);

/* ---- session_lease.c: thread only ---- */

/* Takes the session's terms (heartbeat, timeout, lease, linger, grace) from
 * a SessionReply. */
void lm_session_lease_terms(struct lm_session *s, const Lm__SessionReply *r);
/* A server acknowledged, for the session, a request sent at sent_at. */
void lm_session_lease_confirm(struct lm_session *s, int64_t sent_at);
/* The connection the session was attached to (or was being resumed on)
 * ended: announced as for lm_session_drop_connection. */
void lm_session_lease_closed(struct lm_session *s, bool announced);
/* True while the seats may be believed held. */
bool lm_session_lease_live(const struct lm_session *s);
/* When lm_session_lease_check next has something to report (INT64_MAX:
 * nothing until a confirmation). */
int64_t lm_session_lease_deadline(const struct lm_session *s);
/* Past the lease, or the grace period while disconnected: reports every
 * seat still believed held as lost. */
void lm_session_lease_check(struct lm_session *s);
/* How long to wait for a HeartbeatReply before trying another server. */
unsigned lm_session_lease_answer_ms(const struct lm_session *s);

/* ---- session_wire.c: thread only ---- */

/* Sends the request in flight (a Checkout or a Checkin) or a body with no
 * fields (Heartbeat, SessionClose).  Returns 0 or the connection's error. */
int lm_session_send_request(struct lm_session *s, struct lm_session_request *r);
int lm_session_send_simple(struct lm_session *s, Lm__Envelope__BodyCase body);
/* Handles one frame from the server; false when the connection was
 * dropped. */
bool lm_session_on_frame(struct lm_session *s, const Lm__Envelope *e);

/* ---- session_thread.c ---- */

/* The session thread's body (pthread_create's start routine); returns
 * once the session is stopped and closed. */
void *lm_session_run(void *arg);

#endif
