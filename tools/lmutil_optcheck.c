/* lmutil lmoptcheck: checks an options file offline, against a license
 * file when one is given, the way lmd will read it: syntax, undefined
 * groups, features the license does not serve, reservations over the
 * seats, rules that can never apply.  Exit 1 when there is an error. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/license.h"
#include "core/error.h"
#include "core/options.h"
#include "tools/cmd.h"
#include "tools/json.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil lmoptcheck [-c LICENSE_FILE] OPTIONS_FILE [--json]\n"
	             "Checks an options file (FlexLM syntax) as lmd would load it, against the\n"
	             "license file when -c is given. Prints FILE:LINE: error|warning: ...\n"
	             "Exit 0 when the file has no error (warnings allowed), 1 otherwise.\n");
}

static const char *severity_name(enum lm_opt_severity s)
{
	return s == LM_OPT_ERROR ? "error" : "warning";
}

static void print_human(const char *path, const struct lm_opt_diags *d, const struct lm_options *o)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct lm_opt_diag *x = &d->items[i];
		if (x->lineno > 0)
			printf("%s:%d: %s: %s\n", path, x->lineno, severity_name(x->severity),
			       x->message);
		else
			printf("%s: %s: %s\n", path, severity_name(x->severity), x->message);
	}
	if (d->dropped)
		printf("%s: %zu more diagnostics not shown\n", path, d->dropped);
	printf("%s: %zu error%s, %zu warning%s", path, d->nerrors, d->nerrors == 1 ? "" : "s",
	       d->nwarnings, d->nwarnings == 1 ? "" : "s");
	if (o) {
		printf("; %zu rule%s, %zu group%s; policy sha256 ", o->nrules,
		       o->nrules == 1 ? "" : "s", o->ngroups, o->ngroups == 1 ? "" : "s");
		for (int i = 0; i < 32; i++)
			printf("%02x", o->sha256[i]);
	}
	printf("\n");
}

static void print_json(const char *path, const char *license, const struct lm_opt_diags *d,
                       const struct lm_options *o)
{
	printf("{");
	lm_json_key(stdout, "file", 1);
	lm_json_string(stdout, path);
	lm_json_key(stdout, "license", 0);
	if (license)
		lm_json_string(stdout, license);
	else
		printf("null");
	lm_json_key(stdout, "ok", 0);
	printf("%s", d->nerrors ? "false" : "true");
	lm_json_key(stdout, "errors", 0);
	printf("%zu", d->nerrors);
	lm_json_key(stdout, "warnings", 0);
	printf("%zu", d->nwarnings);
	lm_json_key(stdout, "dropped", 0);
	printf("%zu", d->dropped);
	lm_json_key(stdout, "diagnostics", 0);
	printf("[");
	for (size_t i = 0; i < d->n; i++) {
		const struct lm_opt_diag *x = &d->items[i];
		printf("%s{", i ? "," : "");
		lm_json_key(stdout, "line", 1);
		printf("%d", x->lineno);
		lm_json_key(stdout, "severity", 0);
		lm_json_string(stdout, severity_name(x->severity));
		lm_json_key(stdout, "message", 0);
		lm_json_string(stdout, x->message);
		printf("}");
	}
	printf("]");
	lm_json_key(stdout, "sha256", 0);
	if (o) {
		printf("\"");
		for (int i = 0; i < 32; i++)
			printf("%02x", o->sha256[i]);
		printf("\"");
	} else {
		printf("null");
	}
	lm_json_key(stdout, "rules", 0);
	printf("[");
	for (size_t i = 0; o && i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		printf("%s{", i ? "," : "");
		lm_json_key(stdout, "line", 1);
		printf("%d", r->lineno);
		lm_json_key(stdout, "keyword", 0);
		lm_json_string(stdout, lm_opt_keyword_name(r->kw));
		lm_json_key(stdout, "text", 0);
		lm_json_string(stdout, r->text);
		lm_json_key(stdout, "no_effect_yet", 0);
		printf("%s}", r->no_effect ? "true" : "false");
	}
	printf("]");
	lm_json_key(stdout, "groups", 0);
	printf("[");
	for (size_t i = 0; o && i < o->ngroups; i++) {
		const struct lm_opt_group *g = &o->groups[i];
		printf("%s{", i ? "," : "");
		lm_json_key(stdout, "name", 1);
		lm_json_string(stdout, g->name);
		lm_json_key(stdout, "type", 0);
		lm_json_string(stdout, g->host ? "HOST_GROUP" : "GROUP");
		lm_json_key(stdout, "line", 0);
		printf("%d", g->lineno);
		lm_json_key(stdout, "members", 0);
		printf("%zu}", g->nmembers);
	}
	printf("]}\n");
}

int lm_cmd_lmoptcheck(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *license = NULL;
	bool json = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': license = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];

	struct lm_license_file lic;
	bool have_license = false;
	if (license) {
		struct lm_parse_error perr;
		int rc = lm_license_load(license, &lic, &perr);
		if (rc != 0) {
			if (perr.lineno > 0)
				fprintf(stderr, "%s:%d: error: %s\n", license, perr.lineno,
				        perr.message);
			else
				fprintf(stderr, "%s: error: %s\n", license, perr.message);
			return 1;
		}
		have_license = true;
	}

	struct lm_opt_diags diags;
	struct lm_options *o = NULL;
	lm_opt_diags_init(&diags);
	lm_options_load(path, have_license ? &lic : NULL, &o, &diags);
	if (json)
		print_json(path, license, &diags, o);
	else
		print_human(path, &diags, o);
	int status = diags.nerrors ? 1 : 0;
	lm_options_free(o);
	lm_opt_diags_free(&diags);
	if (have_license)
		lm_license_free(&lic);
	return status;
}
