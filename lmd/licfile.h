/* The license file a server serves: read, every line verified, and its
 * SERVER line checked against this machine.  A license line that cannot be
 * read or does not verify is left out (FlexLM serves the other lines too),
 * listed in f->skipped and in the log, and shown by lmstat.  The same checks run at start
 * and at every lmreread, so that a reread can never serve what a start
 * would refuse. */
#ifndef LM_LICFILE_H
#define LM_LICFILE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "core/license.h"
#include "core/options.h"

/* What a license file must satisfy for this server.  The caller owns every
 * field and keeps them unchanged until lm_licfile_load returns. */
struct lm_licfile_rules {
	const char *path;
	EVP_PKEY *vendor_key; /* FEATURE/INCREMENT/PACKAGE lines must verify to be served */
	unsigned node;        /* --node: the SERVER line that must name this machine */
	/* At a reread, the SERVER lines being served, whose hosts and ports
	 * the file must repeat in order (lock codes may change: a rehost):
	 * the servers of a running cluster change only with a restart.
	 * nservers 0 at start: any SERVER lines. */
	struct lm_license_server servers[LM_LICENSE_SERVERS_MAX];
	int nservers;
	/* lmd --options, or NULL: the options file the VENDOR line names (a
	 * relative path from the license file's directory), if any. */
	const char *options_path;
};

/* Reads rules->path into *f and checks it: it parses, at least one license
 * line verifies under the vendor key (the others are left out, with a
 * warning in the log each), it has SERVER lines (at the running
 * servers' addresses at a reread), line `node` exists and its lock code matches
 * this machine within the default tolerance.  Returns 0 with *f to free
 * with lm_license_free, or a negative LMC_E* code with a message naming
 * the file, the line and what to do in msg (and *f empty).
 *
 * Reads only its arguments and this machine's lock criteria, so that a
 * reread can run it in the thread pool. */
int lm_licfile_load(const struct lm_licfile_rules *rules, struct lm_license_file *f, char *msg,
                    size_t size);

/* The options file served with the license f (rules->options_path, else
 * the VENDOR line's): parsed and checked against f.  Returns 0 with
 * *options set (NULL when there is no options file), or a negative LMC_E*
 * with msg listing the errors, each with its file and line, as many as fit.
 * Warnings go to the log.  Safe in the thread pool, like lm_licfile_load. */
int lm_licfile_options(const struct lm_licfile_rules *rules, const struct lm_license_file *f,
                       struct lm_options **options, char *msg, size_t size);

#endif
