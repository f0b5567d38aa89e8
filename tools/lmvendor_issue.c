/* lmvendor issue: writes a complete signed license file from options (SERVER
 * lines, the VENDOR line and one FEATURE line). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/report.h"
#include "vendor/sign.h"

/* ---- issue ------------------------------------------------------------- */

/* The new license is written as license file text and read back by the
 * license parser, so that it passes exactly the checks every file passes.
 * For that, no value may smuggle in syntax: no quotes (values are quoted)
 * and no control characters (a newline would start a new line); fields
 * written bare may not contain blanks or '=' either. */
static int check_value(const char *opt, const char *v, bool bare)
{
	if (!*v)
		return lmvendor_usage_error("issue: %s is empty", opt);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"')
			return lmvendor_usage_error("issue: %s cannot contain a double quote", opt);
		if (*p < 0x20 || *p == 0x7f)
			return lmvendor_usage_error("issue: %s cannot contain control characters",
			                            opt);
		if (bare && (*p == ' ' || *p == '=' || *p == '\\'))
			return lmvendor_usage_error("issue: %s cannot contain '%c'", opt, *p);
	}
	return 0;
}

struct issue {
	const char *key, *feature, *vendor, *version, *expiry, *count, *hostid, *auth;
	const char *start, *notice, *named_users, *borrow, *sn, *host_desc, *tolerance, *out;
	const char *servers[4];
	int nservers;
	bool uncounted;
	bool force; /* sign an expiry already past, or one before the start */
};

/* HOST:LOCKCODE:PORT, split at the last two colons so that an IPv6 host
 * keeps its own. */
static int split_server(const char *arg, char *host, size_t hsize, char *code, size_t csize,
                        char *port, size_t psize)
{
	const char *last = strrchr(arg, ':');
	if (!last || last == arg)
		return -1;
	const char *mid = last - 1;
	while (mid > arg && *mid != ':')
		mid--;
	if (*mid != ':' || mid == arg || last - mid < 2 || !last[1])
		return -1;
	if ((size_t)(mid - arg) >= hsize || (size_t)(last - mid - 1) >= csize ||
	    strlen(last + 1) >= psize)
		return -1;
	snprintf(host, hsize, "%.*s", (int)(mid - arg), arg);
	snprintf(code, csize, "%.*s", (int)(last - mid - 1), mid + 1);
	snprintf(port, psize, "%s", last + 1);
	return 0;
}

static void keyword(FILE *out, const char *name, const char *value)
{
	if (value)
		fprintf(out, " %s=\"%s\"", name, value);
}

static int compose(const struct issue *is, const char *auth, char **text, size_t *len)
{
	FILE *out = open_memstream(text, len);
	if (!out) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return 1;
	}
	char today[16];
	lm_date_format(lm_date_today(), today, sizeof today);
	fprintf(out, "# %s %s for vendor %s, issued %s by lmvendor\n", is->feature, is->version,
	        is->vendor, today);
	for (int i = 0; i < is->nservers; i++) {
		char host[512], code[512], port[64];
		if (split_server(is->servers[i], host, sizeof host, code, sizeof code, port,
		                 sizeof port) != 0) {
			fclose(out);
			return lmvendor_usage_error(
			        "issue: --server '%s' is not HOST:LOCKCODE:PORT", is->servers[i]);
		}
		fprintf(out, "SERVER %s %s %s\n", host, code, port);
	}
	fprintf(out, "VENDOR %s\n", is->vendor);
	fprintf(out, "FEATURE %s %s %s %s %s", is->feature, is->vendor, is->version,
	        is->expiry ? is->expiry : "permanent", is->uncounted ? "uncounted" : is->count);
	keyword(out, "HOSTID", is->hostid);
	keyword(out, "AUTH", auth);
	keyword(out, "START", is->start);
	keyword(out, "ISSUED", today);
	keyword(out, "NOTICE", is->notice);
	keyword(out, "NAMED_USERS", is->named_users);
	keyword(out, "BORROW", is->borrow);
	keyword(out, "HOST_DESC", is->host_desc);
	keyword(out, "SN", is->sn);
	keyword(out, "TOLERANCE", is->tolerance);
	fputc('\n', out);
	if (fclose(out) != 0) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return 1;
	}
	return 0;
}

static int check_issue(const struct issue *is)
{
	if (!is->key)
		return lmvendor_usage_error("issue needs --key PRIVATE.pem");
	if (!is->feature || !is->vendor || !is->version)
		return lmvendor_usage_error(
		        "issue needs --feature NAME, --vendor VENDOR and --version X");
	if (!is->count == !is->uncounted)
		return lmvendor_usage_error("issue needs either --count N or --uncounted");
	if (is->nservers > 3)
		return lmvendor_usage_error(
		        "issue: give --server once, or three times for redundant servers");
	const struct {
		const char *opt, *value;
		bool bare;
	} values[] = {
	        {"--feature", is->feature, true},      {"--vendor", is->vendor, true},
	        {"--version", is->version, true},      {"--expiry", is->expiry, true},
	        {"--count", is->count, true},          {"--hostid", is->hostid, false},
	        {"--auth", is->auth, false},           {"--start", is->start, false},
	        {"--notice", is->notice, false},       {"--named-users", is->named_users, false},
	        {"--borrow", is->borrow, false},       {"--sn", is->sn, false},
	        {"--host-desc", is->host_desc, false}, {"--tolerance", is->tolerance, false},
	        {"--server", is->servers[0], true},    {"--server", is->servers[1], true},
	        {"--server", is->servers[2], true},
	};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		if (!values[i].value)
			continue;
		int rc = check_value(values[i].opt, values[i].value, values[i].bare);
		if (rc)
			return rc;
	}
	return 0;
}

/* A license that cannot be used as signed is refused unless --force: an
 * expiry already past (a typo in the year, most often) or an expiry before
 * its START. */
static int check_dates(const struct issue *is, const struct lm_license *l)
{
	char expiry[16], start[16];
	lm_date_format(l->expiry, expiry, sizeof expiry);
	lm_date_format(l->start, start, sizeof start);
	if (is->force)
		return 0;
	if (l->expiry != LM_DATE_PERMANENT && l->expiry < lm_date_today())
		return lmvendor_usage_error(
		        "issue: the expiry %s is already past: nobody could use "
		        "this license (check the year, or add --force)",
		        expiry);
	if (l->start != LM_DATE_NONE && l->expiry < l->start)
		return lmvendor_usage_error("issue: the expiry %s comes before the START %s: the "
		                            "license would never be valid (add --force to sign it "
		                            "anyway)",
		                            expiry, start);
	return 0;
}

/* Says on standard error what was signed, the terms a typo would change
 * most: seats, expiry (and that "permanent" is what no --expiry means),
 * start, lock. */
static void state_terms(const struct issue *is, const struct lm_license *l)
{
	char expiry[16], start[16];
	lm_date_format(l->expiry, expiry, sizeof expiry);
	lm_date_format(l->start, start, sizeof start);
	char seats[32];
	if (l->uncounted)
		snprintf(seats, sizeof seats, "uncounted");
	else
		snprintf(seats, sizeof seats, "%u seat%s", (unsigned)l->count,
		         l->count == 1 ? "" : "s");
	fprintf(stderr, "lmvendor: signed %s %s for vendor %s: %s, %s%s%s%s%s\n", l->name,
	        l->version, l->vendor, seats,
	        l->expiry == LM_DATE_PERMANENT ? "permanent" : "expires ",
	        l->expiry == LM_DATE_PERMANENT ? (is->expiry ? "" : " (no --expiry given)")
	                                       : expiry,
	        l->start != LM_DATE_NONE ? ", starts " : "", l->start != LM_DATE_NONE ? start : "",
	        is->hostid ? ", locked to HOSTID" : (is->nservers ? ", served by lmd" : ""));
}

/* What --json says of the new license, before "output" and "license":
 * its FEATURE line as the parser read it back. */
static json_t *issued_json(const struct lm_license_file *f)
{
	const struct lm_license *l = &f->lines[0];
	char issued[16], expiry[16];
	lm_date_format(l->issued, issued, sizeof issued);
	lm_date_format(l->expiry, expiry, sizeof expiry);
	json_t *doc = lm_json_object();
	lm_json_set(doc, "feature", lm_json_text(l->name));
	lm_json_set(doc, "vendor", lm_json_text(l->vendor));
	lm_json_set(doc, "version", lm_json_text(l->version));
	lm_json_set(doc, "expiry", lm_json_text(expiry));
	lm_json_set(doc, "count", l->uncounted ? json_null() : lm_json_int(l->count));
	lm_json_set(doc, "auth", lm_json_text(l->auth));
	lm_json_set(doc, "issued", lm_json_text(issued));
	return doc;
}

int lmvendor_cmd_issue(int argc, char **argv)
{
	enum {
		O_FEATURE = 256,
		O_VENDOR,
		O_VERSION,
		O_EXPIRY,
		O_COUNT,
		O_UNCOUNTED,
		O_HOSTID,
		O_SERVER,
		O_AUTH,
		O_START,
		O_NOTICE,
		O_NAMED,
		O_BORROW,
		O_SN,
		O_HOSTDESC,
		O_TOLERANCE,
		O_FORCE,
	};
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"output", required_argument, NULL, 'o'},
	        {"feature", required_argument, NULL, O_FEATURE},
	        {"vendor", required_argument, NULL, O_VENDOR},
	        {"version", required_argument, NULL, O_VERSION},
	        {"expiry", required_argument, NULL, O_EXPIRY},
	        {"count", required_argument, NULL, O_COUNT},
	        {"uncounted", no_argument, NULL, O_UNCOUNTED},
	        {"hostid", required_argument, NULL, O_HOSTID},
	        {"server", required_argument, NULL, O_SERVER},
	        {"auth", required_argument, NULL, O_AUTH},
	        {"start", required_argument, NULL, O_START},
	        {"notice", required_argument, NULL, O_NOTICE},
	        {"named-users", required_argument, NULL, O_NAMED},
	        {"borrow", required_argument, NULL, O_BORROW},
	        {"sn", required_argument, NULL, O_SN},
	        {"host-desc", required_argument, NULL, O_HOSTDESC},
	        {"tolerance", required_argument, NULL, O_TOLERANCE},
	        {"force", no_argument, NULL, O_FORCE},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct issue is = {0};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': is.key = optarg; break;
		case 'o': is.out = optarg; break;
		case O_FEATURE: is.feature = optarg; break;
		case O_VENDOR: is.vendor = optarg; break;
		case O_VERSION: is.version = optarg; break;
		case O_EXPIRY: is.expiry = optarg; break;
		case O_COUNT: is.count = optarg; break;
		case O_UNCOUNTED: is.uncounted = true; break;
		case O_HOSTID: is.hostid = optarg; break;
		case O_SERVER:
			if (is.nservers < 4)
				is.servers[is.nservers] = optarg;
			is.nservers++;
			break;
		case O_AUTH: is.auth = optarg; break;
		case O_START: is.start = optarg; break;
		case O_NOTICE: is.notice = optarg; break;
		case O_NAMED: is.named_users = optarg; break;
		case O_BORROW: is.borrow = optarg; break;
		case O_SN: is.sn = optarg; break;
		case O_HOSTDESC: is.host_desc = optarg; break;
		case O_TOLERANCE: is.tolerance = optarg; break;
		case O_FORCE: is.force = true; break;
		case 'j':
			json = true;
			lm_report_json();
			break;
		case 'h': return lmvendor_help(argv[0]);
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (optind != argc)
		return lmvendor_usage_error("issue takes options only, not '%s'", argv[optind]);
	int rc = check_issue(&is);
	if (rc)
		return rc;

	char auth[64];
	if (!is.auth && lmvendor_new_authcode(auth, sizeof auth) != 0)
		return 1;
	EVP_PKEY *key = NULL;
	if (lmvendor_load_private(is.key, &key) != 0)
		return 1;
	char *text = NULL;
	size_t len = 0;
	rc = compose(&is, is.auth ? is.auth : auth, &text, &len);
	if (rc) {
		free(text);
		EVP_PKEY_free(key);
		return rc;
	}

	struct lm_license_file f;
	struct lm_parse_error perr;
	int status = 1;
	rc = lm_license_parse(text, len, &f, &perr);
	if (rc) {
		/* The message names the field; the line number would only
		 * point into text the user never saw. */
		lm_report_fail(rc, "issue: %s", perr.message);
		goto out;
	}
	if (check_dates(&is, &f.lines[0]) != 0) {
		status = LMVENDOR_EXIT_USAGE;
		lm_license_free(&f);
		goto out;
	}
	rc = lm_license_sign(&f, key);
	/* Check the new signatures before anyone sees them. */
	for (size_t i = 0; rc == 0 && i < f.nlines; i++)
		rc = lm_license_verify(&f, &f.lines[i], key);
	if (rc) {
		lm_report_fail(rc, "issue: cannot sign the license: %s", lmc_strerror(rc));
	} else {
		status = lmvendor_emit(is.out, &f, json ? issued_json(&f) : NULL);
		if (status == 0 && !json)
			state_terms(&is, &f.lines[0]);
	}
	lm_license_free(&f);
out:
	free(text);
	EVP_PKEY_free(key);
	return status;
}
