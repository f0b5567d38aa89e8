/* The server-backed part of an lmc context: one session with the license
 * servers, kept alive by a background thread.
 *
 * The thread owns the connection.  It connects to the first server of the
 * list that answers (following LMC_ENOTLEADER redirects to the leader of a
 * redundant triad), opens a session, heartbeats, and when the connection
 * drops it reconnects with backoff, cycling through the servers, and
 * resumes the session with its secret, re-sending the request that was in
 * flight with the same request id (the server answers a repeated request id
 * with the original result, so nothing is granted twice).  If the server
 * has expired the session, the thread opens a new one and checks out again
 * every seat the application holds, reporting each through the lost and
 * regained callbacks.
 *
 * The lease rule (README, "Redundant servers"; SessionReply.lease_ms): the
 * seats are believed held only until the send time of the last request a
 * server acknowledged for the session (a HeartbeatReply, a SessionReply, a
 * checkout grant) plus the lease, which the server sets short enough of its
 * session timeout that the pool cannot have expired the session before.
 * Past it every seat is reported lost (LMC_ENOQUORUM when the servers
 * reached have no quorum, else LMC_ENOSERVER), however long the grace
 * period, because a majority out of reach may be giving the seats away.
 * When the thread closes a connection of its own accord while it holds a
 * session, the server may take the end of the connection for the death of
 * the process and return the seats after SessionReply.linger_ms: the lease
 * then ends no later than the close plus the linger, less the lease's
 * margin, until the session is resumed.
 *
 * Within the lease, while no server can confirm the session (redundant
 * servers without a quorum, every server down), the seats stay held and
 * nothing is reported for up to the grace period the server announced;
 * the grace never outlives the lease.  Seats reported lost are reported
 * regained only when it is true: a resumed session whose HeartbeatReply
 * lists them again, or a new checkout of them.  A session the server no
 * longer knows has lost its seats (LMC_ENOSESSION): the thread checks them
 * out again and reports each one it gets back.
 *
 * Application threads call lm_session_checkout / lm_session_checkin: they
 * queue a request for the thread (mutex, condition variable, and a pipe
 * that wakes the thread's poll) and wait for its answer.  One mutating
 * request is in flight per session at a time, in queue order, because the
 * server remembers only the last request id of a session.
 *
 * Handles given to the application are the server's handles.  When a seat
 * is regained under a new handle, the application keeps its original
 * handle and the session maps it to the new one. */
#ifndef LM_SESSION_H
#define LM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "client/source.h"
#include "core/limits.h"
#include "proto/frame_conn.h"

/* Defaults of struct lm_session_config. */
#define LM_SESSION_HEARTBEAT_MS   10000 /* when the server does not say */
#define LM_SESSION_CONNECT_MS     3000  /* to connect to one server */
#define LM_SESSION_IO_MS          5000  /* for an answer before the connection is dropped */
#define LM_SESSION_BACKOFF_MIN_MS 100
#define LM_SESSION_BACKOFF_MAX_MS 2000
/* Backoff cap while a live server answers that it cannot serve (no leader
 * elected, or one that does not answer): an election is under way. */
#define LM_SESSION_ELECTION_RETRY_MS 500
#define LM_SESSION_CLOSE_MS          2000 /* for SessionClose at the end */
#define LM_SESSION_CHECKIN_WAIT_MS   5000 /* lm_session_checkin waits this long */
/* How long seats stay held, as far as the application is told, while no
 * server confirms them, when the server did not say (SessionReply.grace_ms). */
#define LM_SESSION_GRACE_MS 300000
/* LM_SESSION_REDIRECTS_MAX and LM_SESSION_SEATS_MAX: core/limits.h. */

/* message says why in a sentence; feature and message are valid during the
 * call only. */
typedef void (*lm_session_lost_fn)(void *arg, uint64_t handle, const char *feature, int code,
                                   const char *message);
typedef void (*lm_session_regained_fn)(void *arg, uint64_t handle, const char *feature);

struct lm_session_config {
	/* The servers to try, in order (copied).  At least one. */
	const struct lm_address *servers;
	size_t nservers;
	/* Checks each granted license line; borrowed, must outlive the
	 * session. */
	EVP_PKEY *vendor_key;
	/* The license files the servers came from (borrowed, must outlive the
	 * session): a grant from a server that one of them names must be for
	 * that file's SERVER lock codes and keys, and signed by the server's
	 * pinned key (session_grant.c).  May be empty. */
	const struct lm_license_file *files;
	size_t nfiles;
	/* Sent in the Hello (copied); NULL for none. */
	const char *app_version;
	/* When to speak TLS (LMC_TLS): a server whose key a file pins always
	 * gets it (proto/frame_conn.h). */
	enum lm_frame_tls_use tls_use;
	/* 0: the server's heartbeat_ms, else LM_SESSION_HEARTBEAT_MS; a value
	 * is used only when it is shorter than the server's.  Never more than
	 * a third of the lease, so that a heartbeat left unanswered leaves
	 * time to find another server before the lease runs out. */
	unsigned heartbeat_ms;
	unsigned connect_timeout_ms;
	unsigned io_timeout_ms;
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	unsigned close_timeout_ms;
	unsigned checkin_wait_ms;
	/* 0: the server's SessionReply.grace_ms, else LM_SESSION_GRACE_MS.
	 * The lease ends the grace early when it runs out first. */
	unsigned grace_ms;
	/* Fired on the session thread, with no lock held. */
	lm_session_lost_fn on_lost;
	lm_session_regained_fn on_regained;
	void *cb_arg;
};

struct lm_session;

/* Fills cfg with the defaults above and no servers. */
void lm_session_config_init(struct lm_session_config *cfg);

/* Starts the session thread, which connects at once.  Returns 0,
 * LMC_EINVAL (no server, no key, a bad app_version) or LMC_ENOMEM. */
int lm_session_start(struct lm_session **out, const struct lm_session_config *cfg);

/* Sends SessionClose (waiting at most close_timeout_ms, connecting first if
 * need be), stops the thread and frees s.  No other call on s may be in
 * progress, and it must not be called from a callback. */
void lm_session_stop(struct lm_session *s);

/* Replaces the callbacks (either may be NULL). */
void lm_session_set_callbacks(struct lm_session *s, lm_session_lost_fn on_lost,
                              lm_session_regained_fn on_regained, void *arg);

/* Checks out count seats of feature at version (NULL: any), with
 * vendor_data (core/vendor_data.h; NULL or "": none), which a regain of the
 * seats sends again.
 *
 * timeout_ms > 0: waits up to that long, through reconnections, failovers
 * and LMC_ENOQUORUM retries.  timeout_ms == 0: one try: a single round of
 * connection attempts when not connected, and the server's first answer.
 * Refusals (LMC_ENOSEATS, LMC_ENOFEATURE...) are returned at once.  When
 * the time is up the result is the last transient error seen
 * (LMC_ENOSERVER, LMC_ENOQUORUM...) or LMC_ETIMEDOUT; a request already
 * sent then stays with the thread, which checks its seats back in should
 * they still be granted.
 *
 * A grant is accepted only when its license line verifies with the vendor
 * key, names feature and has a version >= version: otherwise the seats
 * are checked back in and the result is LMC_EBADSIG.  A sentence goes to
 * msg (may be NULL) on failure.  Must not be called from a callback
 * (LMC_EINVAL). */
int lm_session_checkout(struct lm_session *s, const char *feature, const char *version,
                        unsigned count, const char *vendor_data, unsigned timeout_ms,
                        uint64_t *handle, char *msg, size_t msgsize);

/* Returns the seats of handle.  The handle is invalid from the call on.
 * Returns 0 once the server confirms, LMC_ENOHANDLE for a handle this
 * session does not hold, or LMC_ETIMEDOUT when no confirmation came within
 * checkin_wait_ms: the thread keeps trying in the background (and an
 * expired session has returned the seats anyway).  From a callback it
 * queues the checkin and returns 0 at once. */
int lm_session_checkin(struct lm_session *s, uint64_t handle, char *msg, size_t msgsize);

/* The application says it is idle (or active again): heartbeats carry how
 * long, and a server whose options file sets a TIMEOUT for a feature takes
 * back its seats past it, reported as lost with LMC_EIDLE.  Seats taken so
 * are checked out again when the application becomes active, and reported
 * regained or lost.  Telling the same state twice changes nothing. */
void lm_session_set_idle(struct lm_session *s, bool idle);

/* What a grant says about the seats and the line behind them. */
struct lm_session_grant {
	char version[LM_VERSION_MAX + 1]; /* of the backing line */
	int32_t expiry;                   /* day number, LM_DATE_PERMANENT */
	char vendor_string[LM_TEXT_MAX];  /* VENDOR_STRING=, "" if none */
	unsigned overdraft;               /* of the seats, those beyond the count */
	/* The server's warning: days left before the expiry when within its
	 * --expiry-warn-days, else -1. */
	int expiry_warning_days;
};

/* The seats of feature this session holds now: *held seats, *overdraft of
 * them beyond the count, and the terms of the most recent grant in *last.
 * LMC_ENOFEATURE when none are held. */
int lm_session_feature_info(struct lm_session *s, const char *feature, unsigned *held,
                            unsigned *overdraft, struct lm_session_grant *last);

/* "port@host" of the server the session is attached to, or was last
 * attached to; "" before the first connection. */
void lm_session_server(struct lm_session *s, char *buf, size_t size);

#endif
