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

#ifdef __cplusplus
extern "C" {
#endif

enum lmc_error {
	LMC_OK = 0,
	LMC_ENOFEATURE = -1,    /* no license line for this feature */
	LMC_EEXPIRED = -2,      /* every matching license has expired */
	LMC_ENOTSTARTED = -3,   /* the license's START date is in the future */
	LMC_EVERSION = -4,      /* requested version newer than licensed */
	LMC_EWRONGHOST = -5,    /* bound to another machine's lock code */
	LMC_EBADSIG = -6,       /* signature missing or does not verify */
	LMC_EBADCODE = -7,      /* a lock code or authorization code is mistyped */
	LMC_ESYNTAX = -8,       /* license file syntax error */
	LMC_EKEY = -9,          /* vendor public or private key unusable */
	LMC_EIO = -10,          /* a file could not be read or written */
	LMC_ENOMEM = -11,       /* out of memory */
	LMC_EINVAL = -12,       /* invalid argument from the caller */
	LMC_ENOSEATS = -13,     /* all seats in use */
	LMC_ENOSERVER = -14,    /* no license server reachable */
	LMC_ENOQUORUM = -15,    /* redundant servers have lost their quorum */
	LMC_EPROTO = -16,       /* protocol error talking to a server */
	LMC_ETIMEDOUT = -17,    /* no answer in time */
	LMC_ECLOCK = -18,       /* system clock set back */
	LMC_ENOTLICENSED = -19, /* server not licensed to run on this host */
	LMC_EVENDOR = -20,      /* license belongs to another vendor */
	LMC_ECOUNTED = -21,     /* counted license needs a license server */
	LMC_ETOOLARGE = -22,    /* input exceeds a documented limit */
	LMC_ENOSESSION = -23,   /* session unknown or expired on the server */
	LMC_ENOTLEADER = -24,   /* this server is not the leader */
	LMC_ELIMIT = -25,       /* a server limit was reached (sessions, connections) */
	LMC_EDENIED = -26,      /* refused by the administrator's policy */
	LMC_ENOHANDLE = -27,    /* unknown checkout handle */
	LMC_ESHUTDOWN = -28,    /* server is shutting down */
};
#define LMC_ERROR_MIN (-28)

/* A one-line description of code (never NULL). */
const char *lmc_strerror(int code);
/* What a user or an administrator can do about code (never NULL). */
const char *lmc_errhint(int code);
/* The symbolic name of code, "LMC_EEXPIRED" (never NULL). */
const char *lmc_errname(int code);

/* This machine's lock code, as printed by `lmutil lmhostid`, written into
 * buf as a NUL-terminated string.  The probes read below the directory named
 * by the LM_HOSTID_ROOT environment variable when it is set (tests use this
 * to simulate other machines). */
int lmc_lockcode(char *buf, size_t size);

/* ---- Contexts and checkouts ---- */

struct lmc_ctx;

struct lmc_options {
	/* Vendor public key: a PEM file path, or PEM text itself. Required. */
	const char *vendor_pubkey;
	/* Where licenses come from: a license file path, "port@host", a
	 * comma-separated list of those, or NULL to use LM_LICENSE_FILE. */
	const char *license_source;
	/* Reserved for later use; set to 0. */
	unsigned flags;
};

/* Opens a context. On failure *out is NULL and, when errbuf is non-NULL, a
 * message naming the cause is written there. */
int lmc_open(struct lmc_ctx **out, const struct lmc_options *opts,
             char *errbuf, size_t errsize);
void lmc_close(struct lmc_ctx *ctx);

/* Checks out count seats of feature at version ("29.0").  On success the
 * handle identifies the seats for lmc_checkin().  timeout_ms bounds how long
 * the call may block (0: try once). */
int lmc_checkout(struct lmc_ctx *ctx, const char *feature, const char *version,
                 unsigned count, unsigned timeout_ms, uint64_t *handle);
int lmc_checkin(struct lmc_ctx *ctx, uint64_t handle);

/* The reason behind the last failure on this context, more precise than
 * lmc_strerror() (for example, which line expired on which date). */
const char *lmc_last_error(const struct lmc_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
