/* lmutil lmdiag: explains, feature by feature, whether the licenses of a
 * file can be used on this machine, and why not. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "core/nodelock.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/report.h"

struct line_verdict {
	const struct lm_license *line;
	int code;
	char reason[512];
	bool feature_usable; /* some line of this feature is usable */
};

/* Verdicts are grouped by feature (in order of first appearance), so a
 * feature starts where the name changes. */
static bool starts_feature(const struct line_verdict *v, size_t i)
{
	return i == 0 || strcmp(v[i - 1].line->name, v[i].line->name) != 0;
}

static bool same_feature(const struct line_verdict *v, size_t i, size_t k)
{
	return strcmp(v[i].line->name, v[k].line->name) == 0;
}

/* Reorders v so that each feature's lines are together, and marks each
 * with whether its feature is usable. */
static int group_by_feature(struct line_verdict *v, size_t n)
{
	struct line_verdict *out = malloc((n ? n : 1) * sizeof *out);
	bool *taken = calloc(n ? n : 1, sizeof *taken);
	if (!out || !taken) {
		free(out);
		free(taken);
		return -1;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (taken[i])
			continue;
		size_t start = o;
		bool usable = false;
		for (size_t k = i; k < n; k++) {
			if (!taken[k] && same_feature(v, i, k)) {
				taken[k] = true;
				usable |= v[k].code == 0;
				out[o++] = v[k];
			}
		}
		for (size_t k = start; k < o; k++)
			out[k].feature_usable = usable;
	}
	memcpy(v, out, n * sizeof *v);
	free(out);
	free(taken);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil lmdiag -c LICENSE_FILE --pubkey VENDOR_PUBLIC.pem [--version V]\n"
	        "                     [--root DIR] [--json] [FEATURE]\n"
	        "Explains whether each feature of the file (or FEATURE) can be used on this\n"
	        "machine. Exit 0 only when FEATURE (or every feature) is usable.\n");
}

/* A counted line is usable through lmd when it is signed and within its
 * dates and version; whether lmd may run here is reported separately. */
static void judge_counted(const struct lm_license_file *f, const struct lm_license *l,
                          EVP_PKEY *key, const char *version, int32_t today, struct line_verdict *v)
{
	if (lm_license_verify(f, l, key) != 0) {
		v->code = LMC_EBADSIG;
		snprintf(v->reason, sizeof v->reason,
		         "line %d: signature does not verify with the vendor key", l->lineno);
		return;
	}
	v->code = lm_license_check_terms(l, version, today, v->reason, sizeof v->reason);
	if (v->code != 0)
		return;
	char where[300] = "";
	size_t o = 0;
	for (int i = 0; i < f->nservers && o < sizeof where; i++) {
		int n = snprintf(where + o, sizeof where - o, "%s%u@%s", i ? "," : "",
		                 f->servers[i].port, f->servers[i].host);
		if (n > 0)
			o += (size_t)n;
	}
	snprintf(v->reason, sizeof v->reason, "line %d: %u seats, served by lmd at %s", l->lineno,
	         l->count, where);
}

static json_t *line_json(const struct line_verdict *v)
{
	const struct lm_license *l = v->line;
	char expiry[16];
	lm_date_format(l->expiry, expiry, sizeof expiry);
	json_t *o = lm_json_object();
	lm_json_set(o, "line", lm_json_int(l->lineno));
	lm_json_set(o, "type", lm_json_text(lm_line_type_name(l->type)));
	lm_json_set(o, "version", lm_json_text(l->version));
	lm_json_set(o, "counted", lm_json_bool(!l->uncounted));
	lm_json_set(o, "count", lm_json_int(l->uncounted ? 0 : l->count));
	lm_json_set(o, "expiry", lm_json_text(expiry));
	lm_json_set(o, "usable", lm_json_bool(v->code == 0));
	lm_json_set(o, "code", lm_json_text(lmc_errname(v->code)));
	lm_json_set(o, "reason", lm_json_text(v->reason));
	return o;
}

/* Whether the left-out line k is of feature only (NULL: every line). */
static bool skipped_names(const struct lm_license_skipped *k, const char *only)
{
	return !only || strcmp(k->name, only) == 0;
}

static json_t *skipped_json(const struct lm_license_file *f, const char *only)
{
	json_t *list = lm_json_array();
	for (size_t i = 0; i < f->nskipped; i++) {
		const struct lm_license_skipped *k = &f->skipped[i];
		if (!skipped_names(k, only))
			continue;
		json_t *one = lm_json_object();
		lm_json_set(one, "line", lm_json_u64((uint64_t)k->lineno));
		char what[sizeof k->type + sizeof k->name];
		snprintf(what, sizeof what, "%s %s", k->type, k->name);
		lm_json_set(one, "what", lm_json_text(what));
		lm_json_set(one, "code", lm_json_text(lmc_errname(k->code)));
		lm_json_set(one, "reason", lm_json_text(k->message));
		lm_json_append(list, one);
	}
	return list;
}

static void print_skipped(const struct lm_license_file *f, const char *only)
{
	bool header = false;
	for (size_t i = 0; i < f->nskipped; i++) {
		const struct lm_license_skipped *k = &f->skipped[i];
		if (!skipped_names(k, only))
			continue;
		if (!header)
			printf("\nLines left out (lmd and applications cannot read them):\n");
		header = true;
		printf("  line %d, %s %s: %s\n        (%s: %s)\n", k->lineno, k->type, k->name,
		       k->message, lmc_errname(k->code), lmc_errhint(k->code));
	}
}

static int print_json(const struct lm_license_file *f, const char *path,
                      const struct line_verdict *v, size_t n, const char *only,
                      const char *server_here)
{
	json_t *doc = lm_json_object();
	lm_json_set(doc, "file", lm_json_text(path));
	lm_json_set(doc, "skipped_lines", skipped_json(f, only));
	lm_json_set(doc, "server_line_here", server_here ? lm_json_text(server_here) : json_null());
	json_t *features = lm_json_array();
	json_t *lines = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct lm_license *l = v[i].line;
		if (only && strcmp(l->name, only) != 0)
			continue;
		if (starts_feature(v, i)) {
			json_t *feature = lm_json_object();
			lm_json_set(feature, "name", lm_json_text(l->name));
			lm_json_set(feature, "usable", lm_json_bool(v[i].feature_usable));
			lines = lm_json_array();
			lm_json_set(feature, "lines", lines);
			lm_json_append(features, feature);
		}
		lm_json_append(lines, line_json(&v[i]));
	}
	lm_json_set(doc, "features", features);
	return lm_report_print(doc);
}

static void print_text(const struct lm_license_file *f, const char *path,
                       const struct line_verdict *v, size_t n, const char *only,
                       const char *server_here)
{
	printf("License file %s\n", path);
	if (server_here)
		printf("This machine matches %s: lmd may serve this file here.\n", server_here);
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(v[i].line->name, only) != 0)
			continue;
		if (starts_feature(v, i))
			printf("\nFeature %s: %s\n", v[i].line->name,
			       v[i].feature_usable ? "usable" : "NOT usable");
		if (v[i].code == 0)
			printf("  ok    %s\n", v[i].reason);
		else
			printf("  no    %s\n        (%s: %s)\n", v[i].reason,
			       lmc_errname(v[i].code), lmc_errhint(v[i].code));
	}
	print_skipped(f, only);
}

/* Which SERVER line, if any, names this machine. */
static const char *server_line_here(const struct lm_license_file *f, const struct lm_machine *m,
                                    char *buf, size_t size)
{
	for (int i = 0; i < f->nservers; i++) {
		struct lm_lock_match match;
		lm_lockcode_match(&f->servers[i].code, &m->code, LM_LOCK_TOLERANCE_DEFAULT, &match);
		if (match.accepted) {
			snprintf(buf, size, "SERVER line %d (%s)", f->servers[i].lineno,
			         f->servers[i].host);
			return buf;
		}
	}
	return NULL;
}

int lm_cmd_lmdiag(int argc, char **argv)
{
	static const struct option options[] = {
	        {"pubkey", required_argument, NULL, 'k'}, {"version", required_argument, NULL, 'v'},
	        {"root", required_argument, NULL, 'r'},   {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *pubkey = NULL, *version = NULL, *root = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'k': pubkey = optarg; break;
		case 'v': version = optarg; break;
		case 'r': root = optarg; break;
		case 'j':
			json = true;
			lm_report_json();
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *feature = optind < argc ? argv[optind++] : NULL;
	if (!path || !pubkey || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (version && !lm_version_valid(version)) {
		lm_report_fail(LMC_EINVAL,
		               "--version %s: expected numbers separated by dots, like 29.0",
		               version);
		return 2;
	}

	char err[512];
	EVP_PKEY *key = NULL;
	int rc = lm_key_load_public(pubkey, &key, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		return 1;
	}
	struct lm_license_file f;
	struct lm_parse_error perr;
	rc = lm_license_load_skipping(path, &f, &perr);
	if (rc != 0) {
		lm_report_fail(rc, "%s:%d: %s", path, perr.lineno, perr.message);
		EVP_PKEY_free(key);
		return 1;
	}
	struct lm_machine here;
	rc = lm_machine_probe(root, &here);
	if (rc != 0) {
		lm_report_fail(rc, "cannot read any lock criterion of this machine");
		lm_license_free(&f);
		EVP_PKEY_free(key);
		return 1;
	}

	int32_t today = lm_date_today();
	struct line_verdict *v = calloc(f.nlines ? f.nlines : 1, sizeof *v);
	size_t n = 0;
	bool all_usable = f.nskipped == 0, named_found = false, named_usable = false;
	for (size_t i = 0; i < f.nlines; i++) {
		const struct lm_license *l = &f.lines[i];
		if (l->type == LM_LINE_PACKAGE)
			continue;
		struct line_verdict *lv = &v[n++];
		lv->line = l;
		if (l->uncounted)
			lv->code = lm_nodelock_check_line(&f, l, key, &here, version, today,
			                                  lv->reason, sizeof lv->reason);
		else
			judge_counted(&f, l, key, version, today, lv);
	}
	if (group_by_feature(v, n) != 0) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		free(v);
		lm_license_free(&f);
		EVP_PKEY_free(key);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		all_usable &= v[i].feature_usable;
		if (feature && strcmp(v[i].line->name, feature) == 0) {
			named_found = true;
			named_usable = v[i].feature_usable;
		}
	}
	char here_buf[300];
	const char *server_here = server_line_here(&f, &here, here_buf, sizeof here_buf);
	int printed = 0;
	if (json)
		printed = print_json(&f, path, v, n, feature, server_here);
	else
		print_text(&f, path, v, n, feature, server_here);
	bool named_skipped = false;
	for (size_t i = 0; feature && i < f.nskipped; i++)
		named_skipped |= skipped_names(&f.skipped[i], feature);
	if (feature && !named_found && !named_skipped && !json)
		printf("\nFeature %s: NOT usable\n  no    no license line for feature %s in %s\n",
		       feature, feature, path);

	int status = feature ? (named_usable ? 0 : 1) : (all_usable ? 0 : 1);
	if (printed != 0)
		status = 1;
	free(v);
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}
