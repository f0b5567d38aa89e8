/* The error codes of the whole project, and their messages.
 *
 * Every function of lmd, liblmc and the tools returns 0 or a negative LMC_E*
 * code; lmc_strerror() turns a code into a one-line message and
 * lmc_errhint() into what to do about it.  The codes are stable: they travel
 * on the wire and appear in logs, so a code is never renumbered or reused.
 *
 * They are also liblmc's public error codes: client/lmc.h includes this
 * header, and the lmc.h that `make install` writes has it copied in, so this
 * file must stay valid C and C++ that needs nothing but <stddef.h>. */
#ifndef LMC_ERROR_H
#define LMC_ERROR_H

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
	LMC_ESTORE = -29,       /* the server's disk is full or failing */
	LMC_EINDOUBT = -30,     /* lmd, internal: a command may or may not have committed */
	LMC_EIDLE = -31,        /* seats taken back while the application was idle */
	LMC_ENOTADMIN = -32,    /* an admin request from someone without admin authority */
	LMC_EADMINSIG = -33,    /* an admin request's signature was refused */
	LMC_ETLS = -34,         /* the TLS handshake with the server failed */
	LMC_EKEYPIN = -35,      /* the server did not prove the pinned server key */
	LMC_ENEEDTLS = -36,     /* the server takes only TLS clients (--client-tls require) */
};
#define LMC_ERROR_MIN (-36)

/* A one-line description of code (never NULL). */
const char *lmc_strerror(int code);
/* What a user or an administrator can do about code (never NULL). */
const char *lmc_errhint(int code);
/* The symbolic name of code, "LMC_EEXPIRED" (never NULL). */
const char *lmc_errname(int code);

#ifdef __cplusplus
}
#endif
#endif
