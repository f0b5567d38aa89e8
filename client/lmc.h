/* liblmc: the library applications link to hold seats of licensed features.
 *
 * Every function returns 0 or a negative LMC_E* code; lmc_strerror() turns a
 * code into a one-line message and lmc_errhint() into what to do about it.
 * The codes are stable: they travel on the wire and appear in logs, so a
 * code is never renumbered or reused. */
#ifndef LMC_H
#define LMC_H

#include <stddef.h>
#include <stdint.h>

/* The LMC_E* codes and lmc_strerror(), lmc_errhint(), lmc_errname(): shared
 * with lmd and the tools, so they live in the bottom layer.  The installed
 * lmc.h has that header copied in its place (see Makefile.am), so that
 * applications still include one self-contained file. */
#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* This machine's lock code, as printed by `lmutil lmhostid`, written into
 * buf as a NUL-terminated string.  The probes read below the directory named
 * by the LM_HOSTID_ROOT environment variable when it is set (tests use this
 * to simulate other machines). */
int lmc_lockcode(char *buf, size_t size);

/* ---- Contexts and checkouts ----
 *
 * A context finds licenses in two places: local license files, whose
 * uncounted (node-locked) lines are honoured with no server at all, and
 * license servers (lmd), named directly ("27000@lic1") or by the SERVER
 * lines of a license file.  lmc_checkout tries a usable node-locked line
 * first, then the servers.
 *
 * Seats from a server are kept by a background thread that the context
 * starts at the first server checkout: it heartbeats, reconnects when the
 * connection drops (with backoff, through every server of the list, to the
 * leader of a redundant triad), and resumes the session so that the seats
 * stay held.  If the server expired the session meanwhile, the thread
 * checks every seat out again and reports the outcome through the
 * callbacks of lmc_set_callbacks().
 *
 * Every function may be called from any thread; lmc_close() must be the
 * last call on a context. */

struct lmc_ctx;

struct lmc_options {
	/* Vendor public key: a PEM file path, or PEM text itself. Required. */
	const char *vendor_pubkey;
	/* Where licenses come from: license file paths and "port@host"
	 * servers ("@host": port 27000; "port@[::1]": IPv6), separated by ','
	 * or ':', or NULL to use LM_LICENSE_FILE. */
	const char *license_source;
	/* Reserved for later use; set to 0. */
	unsigned flags;
	/* The application's version, shown by lmstat and written to the
	 * server's report log: at most 16 printable characters without
	 * spaces ("29.0.1").  NULL: none. */
	const char *app_version;
	/* How often to heartbeat a server, in milliseconds.  0: as often as
	 * the server asks, or every 10 s when it does not say.  A value is
	 * used only when it is shorter than what the server asks for (a
	 * longer one could let the server expire the session). */
	unsigned heartbeat_ms;
};

/* Opens a context.  Nothing is sent to a server yet.  On failure *out is
 * NULL and, when errbuf is non-NULL, a message naming the cause is written
 * there. */
int lmc_open(struct lmc_ctx **out, const struct lmc_options *opts, char *errbuf, size_t errsize);

/* Closes a context and frees it.  When it has a session with a server, it
 * first sends SessionClose so that every seat still held goes back to the
 * pool at once, waiting at most about 2 s for the answer (and for a
 * connection, when the server was unreachable at that moment); otherwise
 * the server returns the seats when the session times out.  Must not be
 * called from a callback, nor while another thread uses ctx. */
void lmc_close(struct lmc_ctx *ctx);

/* Checks out count seats of feature at version ("29.0"; NULL: any
 * version).  On success *handle identifies the seats for lmc_checkin().
 *
 * A usable node-locked line in a local license file answers at once.
 * Otherwise, when the source names servers, a server is asked:
 * - timeout_ms == 0: one try.  If the context is not connected, one round
 *   of connection attempts (each server once, following a redirect to the
 *   leader); then the first answer.  A transient failure (LMC_ENOSERVER,
 *   LMC_ENOQUORUM) is returned as it is.
 * - timeout_ms > 0: the call may block that long, waiting through
 *   reconnections, failovers and LMC_ENOQUORUM retries.  When the time is
 *   up it returns the last transient error seen, or LMC_ETIMEDOUT.
 * A refusal (LMC_ENOSEATS, LMC_ENOFEATURE, LMC_EVERSION, LMC_EDENIED...)
 * is returned as soon as the server gives it.  A request that reached the
 * server before the caller stopped waiting is finished in the background,
 * and its seats are checked back in if they are granted after all.
 *
 * Each grant must come with a license line signed by the vendor key, for
 * this feature and a version >= version; otherwise the seats are returned
 * and the result is LMC_EBADSIG.
 *
 * Handles are the server's handles (offline handles have the top bit
 * set).  They stay valid for as long as the application holds the seats,
 * across reconnections and across a regain under a new server handle.
 * Must not be called from a callback (LMC_EINVAL). */
int lmc_checkout(struct lmc_ctx *ctx, const char *feature, const char *version, unsigned count,
                 unsigned timeout_ms, uint64_t *handle);

/* Returns the seats of handle; the handle is invalid once this returns.
 * For a server seat it waits up to 5 s for the server to confirm: 0 when
 * it did, LMC_ETIMEDOUT when it did not yet (the context keeps trying in
 * the background, and the seats return anyway when the session ends).
 * LMC_ENOHANDLE: the context does not hold handle.  A seat reported lost
 * is checked in at once.  From a callback, the checkin is queued and 0
 * returned at once. */
int lmc_checkin(struct lmc_ctx *ctx, uint64_t handle);

/* Called on the context's background thread when the seats of handle are
 * no longer held: code is LMC_ENOHANDLE when an administrator removed them
 * (lmremove; the context then tries to check them out again), or
 * LMC_ENOSESSION when the server no longer knew the session, or the refusal
 * met when checking them out again (LMC_ENOSEATS...), or LMC_ENOQUORUM /
 * LMC_ENOSERVER when no server confirmed them within the lease lmd
 * announced (the session timeout less a margin; lmd --grace can only make
 * it shorter), so that the application hears it before the pool can give
 * the seats to anyone else.  lmc_last_error() in the callback says why.  A
 * failover or a shorter outage is not reported at all.  feature is valid
 * during the call only.  The handle stays valid for lmc_checkin(). */
typedef void (*lmc_lost_cb)(void *arg, uint64_t handle, const char *feature, int code);
/* Called on the context's background thread when lost seats, or the seats
 * of an expired session, have been checked out again, or when a server
 * that resumed the session lists again seats reported lost for want of
 * one; never for a seat the pool gave to someone else meanwhile.  handle is
 * the application's original handle. */
typedef void (*lmc_regained_cb)(void *arg, uint64_t handle, const char *feature);

/* Sets the callbacks (either may be NULL) and their argument, replacing
 * earlier ones.  They run on the context's thread with no lock held: they
 * may call lmc_checkin() (queued, not awaited) but must not call
 * lmc_checkout() or lmc_close(), and should return quickly because the
 * session's heartbeats wait for them.  Returns 0 or LMC_EINVAL. */
int lmc_set_callbacks(struct lmc_ctx *ctx, lmc_lost_cb on_lost, lmc_regained_cb on_regained,
                      void *arg);

/* Tells the license servers that the application is idle (idle != 0: the
 * user has walked away) or active again (idle == 0).  An administrator's
 * options file may set a TIMEOUT for a feature (or TIMEOUTALL): once the
 * application has been idle that long, the server takes its seats back for
 * others, and the lost callback reports each with LMC_EIDLE.  When the
 * application becomes active, the context checks those seats out again and
 * reports each regained, or lost with the refusal met (LMC_ENOSEATS...).
 * The idle time travels with the heartbeats, so it survives a failover.
 * Nothing is taken back from an application that never says it is idle:
 * call this from the application's own notion of inactivity (no input for
 * some minutes).  Node-locked seats are never taken back.  Returns 0 or
 * LMC_EINVAL. */
int lmc_set_idle(struct lmc_ctx *ctx, int idle);

/* Sets the vendor data sent with every later server checkout of this
 * context (FlexLM's vendor-defined checkout data, LM_A_CHECKOUT_DATA): a
 * text of the application's choosing, at most 64 printable ASCII
 * characters (spaces allowed, no control characters); NULL or "" sends
 * none.  The server keeps it with the seats and lmstat shows it on the
 * holder's line; when the license line says DUP_GROUP with the letter V
 * (DUP_GROUP=V, UHDV...), checkouts with the same vendor data (and the same
 * user, host and display, as the other letters name) share one seat.
 * Seats already held keep the data they were checked out with, also when
 * the context checks them out again after a lost session.  Node-locked
 * checkouts ignore it.  Returns 0, or LMC_EINVAL for a text that breaks
 * these rules (the data in force stays; lmc_last_error() says why). */
int lmc_set_checkout_data(struct lmc_ctx *ctx, const char *data);

/* What the license behind the seats of a feature says, for the application
 * to show its user: see lmc_license_info(). */
struct lmc_license_info {
	/* The version of the license line the seats are held under. */
	char version[32];
	/* Its expiry: "2026-12-31", or "permanent". */
	char expiry[16];
	/* Days left until the expiry (0: it expires today), -1 when it is
	 * permanent. */
	int days_left;
	/* 1 when the application should warn its user that the license
	 * expires soon: within the server's --expiry-warn-days (30 by
	 * default), or, for a node-locked line, within 30 days. */
	int expires_soon;
	/* The line's VENDOR_STRING=, as the vendor signed it; "" when none. */
	char vendor_string[256];
	/* Seats of the feature this context holds, and of those the seats the
	 * server lent beyond the license's count (the line's OVERDRAFT=):
	 * the application may tell its user that the site uses more seats
	 * than it bought. */
	unsigned held;
	unsigned overdraft;
};

/* Fills *info about the seats of feature this context holds now (the most
 * recent grant's line when several are held).  LMC_ENOFEATURE when it holds
 * none, LMC_EINVAL for bad arguments. */
int lmc_license_info(struct lmc_ctx *ctx, const char *feature, struct lmc_license_info *info);

/* Writes into buf the "port@host" of the server that the context is
 * connected to, or was last connected to, or "" when it never talked to a
 * server.  Returns 0, LMC_EINVAL or LMC_ETOOLARGE (buf too small). */
int lmc_server(struct lmc_ctx *ctx, char *buf, size_t size);

/* The reason behind the last failure on this context, more precise than
 * lmc_strerror() (for example, which line expired on which date).  Shared
 * by every thread using the context: read it right after the failure. */
const char *lmc_last_error(const struct lmc_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
