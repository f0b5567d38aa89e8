/* The license file a server serves (see licfile.h). */
#include "config.h"

#include "lmd/licfile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/key.h"
#include "core/lockcode.h"
#include "core/log.h"
#include "core/machine.h"

/* A line that does not verify is left out, as FlexLM leaves out a line with
 * a bad key, and said at once in the log and in lmstat: an administrator
 * must learn when the file is loaded, not from a denied user, that a line
 * was edited.  A file none of whose lines verify is refused: the --pubkey
 * is then likely another vendor's, not one line edited. */
static int verify_lines(const struct lm_licfile_rules *r, struct lm_license_file *f, char *msg,
                        size_t size)
{
	size_t had = f->nlines;
	char first[LM_MESSAGE_MAX] = "";
	for (size_t i = 0; i < f->nlines;) {
		const struct lm_license *l = &f->lines[i];
		if (lm_license_verify(f, l, r->vendor_key) == 0) {
			i++;
			continue;
		}
		const char *why = l->has_sig ? "signature does not verify" : "line is not signed";
		if (!first[0])
			snprintf(first, sizeof first, "%s:%d: %s %s: %s", r->path, l->lineno,
			         lm_line_type_name(l->type), l->name, why);
		int rc = lm_license_skip(f, i, LMC_EBADSIG,
		                         "%s; lmd serves only lines the vendor signed, unchanged",
		                         why);
		if (rc) {
			snprintf(msg, size, "%s: out of memory", r->path);
			return rc;
		}
	}
	if (had > 0 && f->nlines == 0) {
		snprintf(msg, size,
		         "%s, and no license line of the file verifies: check that --pubkey is "
		         "this vendor's key",
		         first);
		return LMC_EBADSIG;
	}
	return 0;
}

/* The running cluster's addresses and raft ids derive from the SERVER
 * lines' hosts and ports in their order (lm_addresses_plan in addresses.c and
 * lm_datadir_line_of in datadir_ids.c): a reread that changed them would leave
 * this server planning one cluster and serving another.  A lock code may
 * change: that is how the vendor rehosts a dead server's line for its
 * replacement (lmreplace), and this server's own code was just checked
 * against this machine. */
static bool same_server(const struct lm_license_server *a, const struct lm_license_server *b)
{
	return strcasecmp(a->host, b->host) == 0 && a->port == b->port;
}

static int check_servers(const struct lm_licfile_rules *r, const struct lm_license_file *f,
                         char *msg, size_t size)
{
	if (r->nservers == 0)
		return 0;
	if (f->nservers != r->nservers) {
		snprintf(msg, size,
		         "%s has %d SERVER line%s, the running servers %d: changing the servers "
		         "needs a restart of lmd",
		         r->path, f->nservers, f->nservers == 1 ? "" : "s", r->nservers);
		return LMC_EINVAL;
	}
	for (int i = 0; i < f->nservers; i++) {
		const struct lm_license_server *now = &r->servers[i], *next = &f->servers[i];
		if (same_server(now, next))
			continue;
		snprintf(
		        msg, size,
		        "%s:%d: SERVER line %d is now %s port %u, the running servers have %s port "
		        "%u: changing the servers or their order needs a restart of lmd",
		        r->path, next->lineno, i + 1, next->host, next->port, now->host, now->port);
		return LMC_EINVAL;
	}
	return 0;
}

/* The machine must be the one the SERVER line names, within the default
 * tolerance, or a counted license could be served anywhere. */
static int check_host(const struct lm_licfile_rules *r, const struct lm_license_file *f, char *msg,
                      size_t size)
{
	if (f->nservers == 0) {
		snprintf(msg, size,
		         "%s: no SERVER line: this file holds only uncounted licenses, which "
		         "applications use with no server",
		         r->path);
		return LMC_EINVAL;
	}
	if (r->node < 1 || r->node > (unsigned)f->nservers) {
		snprintf(msg, size, "--node %u: %s has %d SERVER line%s", r->node, r->path,
		         f->nservers, f->nservers == 1 ? "" : "s");
		return LMC_EINVAL;
	}
	const struct lm_license_server *sl = &f->servers[r->node - 1];
	struct lm_machine here;
	if (lm_machine_probe(NULL, &here) != 0) {
		snprintf(msg, size, "cannot read any lock criterion of this machine");
		return LMC_ENOTLICENSED;
	}
	struct lm_lock_match m;
	lm_lockcode_match(&sl->code, &here.code, LM_LOCK_TOLERANCE_DEFAULT, &m);
	if (m.accepted)
		return 0;
	char code[LM_LOCKCODE_TEXT_MAX];
	lm_lockcode_format(&here.code, code, sizeof code);
	snprintf(msg, size,
	         "%s:%d: this machine is not the server this license names (SERVER %s %s): %d of "
	         "%d lock criteria match; this machine's lock code is %s. Run `lmutil lmhostid "
	         "--explain %s` for details, or ask the vendor to rehost the license",
	         r->path, sl->lineno, sl->host, sl->code_text, m.matched, m.licensed, code,
	         sl->code_text);
	return LMC_ENOTLICENSED;
}

int lm_licfile_load(const struct lm_licfile_rules *r, struct lm_license_file *f, char *msg,
                    size_t size)
{
	struct lm_parse_error perr;
	int rc = lm_license_load_skipping(r->path, f, &perr);
	if (rc != 0) {
		if (perr.lineno > 0)
			snprintf(msg, size, "%s:%d: %s", r->path, perr.lineno, perr.message);
		else
			snprintf(msg, size, "%s", perr.message);
		return rc;
	}
	/* The host first: a file rehosted to another machine is refused for
	 * that, the plainer reason, rather than for its changed SERVER line. */
	rc = verify_lines(r, f, msg, size);
	if (rc == 0 && f->nlines == 0 && f->nskipped > 0) {
		snprintf(msg, size, "%s:%d: %s %s: %s; no license line of the file can be read",
		         r->path, f->skipped[0].lineno, f->skipped[0].type, f->skipped[0].name,
		         f->skipped[0].message);
		rc = f->skipped[0].code;
	}
	if (rc == 0)
		rc = check_host(r, f, msg, size);
	if (rc == 0)
		rc = check_servers(r, f, msg, size);
	if (rc != 0) {
		lm_license_free(f);
		return rc;
	}
	for (size_t i = 0; i < f->nskipped; i++)
		lm_log_warning("%s:%d: %s %s left out, not served: %s", r->path,
		               f->skipped[i].lineno, f->skipped[i].type, f->skipped[i].name,
		               f->skipped[i].message);
	return 0;
}

/* The VENDOR line's options path is relative to the license file, as
 * FlexLM reads it. */
static void resolve_options_path(const struct lm_licfile_rules *r, const struct lm_license_file *f,
                                 char *out, size_t size)
{
	const char *slash = strrchr(r->path, '/');
	if (f->vendor_options[0] == '/' || !slash)
		snprintf(out, size, "%s", f->vendor_options);
	else
		snprintf(out, size, "%.*s/%s", (int)(slash - r->path), r->path, f->vendor_options);
}

int lm_licfile_options(const struct lm_licfile_rules *r, const struct lm_license_file *f,
                       struct lm_options **options, char *msg, size_t size)
{
	char path[2 * LM_TEXT_MAX + 4096];
	*options = NULL;
	if (r->options_path)
		snprintf(path, sizeof path, "%s", r->options_path);
	else if (f->vendor_options[0])
		resolve_options_path(r, f, path, sizeof path);
	else
		return 0;

	struct lm_opt_diags diags;
	lm_opt_diags_init(&diags);
	int rc = lm_options_load(path, f, options, &diags);
	size_t used = 0;
	msg[0] = '\0';
	for (size_t i = 0; i < diags.n; i++) {
		const struct lm_opt_diag *d = &diags.items[i];
		/* "file:line", or "file" for the whole file. */
		char where[sizeof path + 16];
		if (d->lineno > 0)
			snprintf(where, sizeof where, "%s:%d", path, d->lineno);
		else
			snprintf(where, sizeof where, "%s", path);
		if (d->severity == LM_OPT_WARNING) {
			lm_log_warning("%s: %s", where, d->message);
			continue;
		}
		if (used + 1 < size) {
			int n = snprintf(msg + used, size - used, "%s%s: %s", used ? "; " : "",
			                 where, d->message);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	if (rc && !msg[0])
		snprintf(msg, size, "%s: %s", path, lmc_strerror(rc));
	if (rc && diags.nerrors > 1 && used < size) {
		/* Say how many there were when they did not all fit. */
		char tail[80];
		snprintf(tail, sizeof tail, " (%zu errors in all: `lmutil lmoptcheck` lists them)",
		         diags.nerrors);
		if (used + strlen(tail) < size)
			strcat(msg, tail);
	}
	lm_opt_diags_free(&diags);
	return rc;
}
