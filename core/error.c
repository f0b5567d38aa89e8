/* The stable error codes shared by liblmc, lmd and the tools. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/error_message.h"

struct error_text {
	const char *name;
	const char *message;
	const char *hint;
};

/* Indexed by -code. */
static const struct error_text errors[] = {
        [0] = {"LMC_OK", "success", "nothing to do"},
        [1] = {"LMC_ENOFEATURE", "no such feature",
               "check the feature name, or ask the vendor for a license that includes it"},
        [2] = {"LMC_EEXPIRED", "license expired",
               "ask the vendor for a renewed license and install it"},
        [3] = {"LMC_ENOTSTARTED", "license not yet valid",
               "wait until the START date, or check that the system clock is right"},
        [4] = {"LMC_EVERSION", "version too new for the license",
               "request an older version, or ask the vendor for an upgraded license"},
        [5] = {"LMC_EWRONGHOST", "license is bound to another machine",
               "run `lmutil lmhostid --explain CODE` with the license's lock code to see "
               "what differs, and send the vendor this machine's `lmutil lmhostid`"},
        [6] = {"LMC_EBADSIG", "license signature is invalid",
               "the line was edited or signed with another key; reinstall the vendor's "
               "file unchanged"},
        [7] = {"LMC_EBADCODE", "invalid code",
               "a symbol is mistyped or missing; copy the code again"},
        [8] = {"LMC_ESYNTAX", "license file syntax error",
               "fix the line named in the message, or reinstall the vendor's file"},
        [9] = {"LMC_EKEY", "unusable key",
               "give the vendor's Ed25519 key in PEM form (public for checking, private "
               "for signing)"},
        [10] = {"LMC_EIO", "input/output error",
                "check that the path exists and that permissions allow access"},
        [11] = {"LMC_ENOMEM", "out of memory", "free memory or raise the process's limits"},
        [12] = {"LMC_EINVAL", "invalid argument", "check the arguments against the documentation"},
        [13] = {"LMC_ENOSEATS", "all seats in use",
                "retry later, or see who holds seats with `lmutil lmstat -a`"},
        [14] = {"LMC_ENOSERVER", "no license server reachable",
                "check LM_LICENSE_FILE (port@host) and that lmd is running and reachable"},
        [15] = {"LMC_ENOQUORUM", "license servers have no quorum",
                "at least two of the three redundant servers must be up; restart the "
                "ones that are down"},
        [16] = {"LMC_EPROTO", "protocol error",
                "client and server may be of incompatible versions; upgrade the older one"},
        [17] = {"LMC_ETIMEDOUT", "timed out", "the server is slow or unreachable; retry"},
        [18] = {"LMC_ECLOCK", "system clock set back", "set the system clock to the correct time"},
        [19] = {"LMC_ENOTLICENSED", "server not licensed for this host",
                "run lmd on the machine whose lock code is on the SERVER line, or ask "
                "the vendor to rehost the license"},
        [20] = {"LMC_EVENDOR", "license belongs to another vendor",
                "use the license file and public key of this application's vendor"},
        [21] = {"LMC_ECOUNTED", "counted license needs a license server",
                "start lmd with this license and point LM_LICENSE_FILE at it (port@host)"},
        [22] = {"LMC_ETOOLARGE", "input too large", "shorten the input to the documented limit"},
        [23] = {"LMC_ENOSESSION", "session unknown or expired",
                "the server dropped the session after missed heartbeats; check out again"},
        [24] = {"LMC_ENOTLEADER", "server is not the leader",
                "the client follows the leader by itself; list all three servers"},
        [25] = {"LMC_ELIMIT", "server limit reached",
                "raise the server's limit or reduce the number of clients"},
        [26] = {"LMC_EDENIED", "denied by the administrator's policy",
                "ask the license administrator for access"},
        [27] = {"LMC_ENOHANDLE", "unknown checkout handle",
                "check in only handles returned by lmc_checkout"},
        [28] = {"LMC_ESHUTDOWN", "server is shutting down", "retry once the server is back"},
        [29] = {"LMC_ESTORE", "the server's disk is full or failing",
                "free space in its data directory; the server resumes by itself"},
        [30] = {"LMC_EINDOUBT", "outcome unknown: the request may still take effect",
                "retry with the same request id: the server applies a request once"},
        [31] = {"LMC_EIDLE", "seats taken back while the application was idle",
                "the options file's TIMEOUT returns idle seats; liblmc checks them out again "
                "when the application calls lmc_set_idle(ctx, 0)"},
        [32] = {"LMC_ENOTADMIN", "not an administrator of this server",
                "run lmutil as root or as a member of lmd's admin group on the server's "
                "machine, or sign the request with an admin key (lmutil --admin-key)"},
        [33] = {"LMC_EADMINSIG", "the admin request's signature was refused",
                "use a key listed in lmd's --admin-keys under the name given with "
                "--admin-key-name; each request needs a fresh challenge"},
        [34] = {"LMC_ETLS", "the TLS handshake with the license server failed",
                "the server may be older than TLS or run with --client-tls off: upgrade "
                "it, or ask its administrator; unset LMC_TLS for servers without a pinned "
                "key"},
        [35] = {"LMC_EKEYPIN", "the server did not prove the server key its SERVER line pins",
                "someone between this machine and the server, or another server at that "
                "address: compare the SERVER line's KEY= with `lmutil lmhostid --server "
                "--data DIR` run on the license server"},
        [36] = {"LMC_ENEEDTLS", "the license server accepts only TLS connections",
                "upgrade liblmc and lmutil to a version that speaks TLS, or set LMC_TLS=on "
                "(the server's administrator chose lmd --client-tls require)"},
};

static const struct error_text *lookup(int code)
{
	if (code > 0 || code < LMC_ERROR_MIN)
		return 0;
	return &errors[-code];
}

const char *lmc_strerror(int code)
{
	const struct error_text *e = lookup(code);
	return e ? e->message : "unknown error";
}

const char *lmc_errhint(int code)
{
	const struct error_text *e = lookup(code);
	return e ? e->hint : "upgrade liblmc: this error code is newer than the library";
}

const char *lmc_errname(int code)
{
	const struct error_text *e = lookup(code);
	return e ? e->name : "LMC_EUNKNOWN";
}

int lm_error_message(char *err, size_t errsize, int code, const char *fmt, ...)
{
	if (err && errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return code;
}
