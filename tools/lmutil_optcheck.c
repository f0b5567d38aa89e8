/* lmutil lmoptcheck: checks an options file offline, against a license
 * file when one is given, the way lmd will read it: syntax, undefined
 * groups, features the license does not serve, reservations over the
 * seats, rules that can never apply.  Exit 1 when there is an error. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/license.h"
#include "core/error.h"
#include "core/options.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/report.h"

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
		char sha256[2 * sizeof o->sha256 + 1];
		printf("; %zu rule%s, %zu group%s; policy sha256 %s", o->nrules,
		       o->nrules == 1 ? "" : "s", o->ngroups, o->ngroups == 1 ? "" : "s",
		       lm_hex_encode(o->sha256, sizeof o->sha256, sha256));
	}
	printf("\n");
}

static json_t *diagnostic_json(const struct lm_opt_diag *x)
{
	json_t *o = lm_json_object();
	lm_json_set(o, "line", lm_json_int(x->lineno));
	lm_json_set(o, "severity", lm_json_text(severity_name(x->severity)));
	lm_json_set(o, "message", lm_json_text(x->message));
	return o;
}

static json_t *rule_json(const struct lm_opt_rule *r)
{
	json_t *o = lm_json_object();
	lm_json_set(o, "line", lm_json_int(r->lineno));
	lm_json_set(o, "keyword", lm_json_text(lm_opt_keyword_name(r->kw)));
	lm_json_set(o, "text", lm_json_text(r->text));
	lm_json_set(o, "no_effect_yet", lm_json_bool(r->no_effect));
	return o;
}

static json_t *group_json(const struct lm_opt_group *g)
{
	json_t *o = lm_json_object();
	lm_json_set(o, "name", lm_json_text(g->name));
	lm_json_set(o, "type", lm_json_text(g->host ? "HOST_GROUP" : "GROUP"));
	lm_json_set(o, "line", lm_json_int(g->lineno));
	lm_json_set(o, "members", lm_json_int((long long)g->nmembers));
	return o;
}

static int print_json(const char *path, const char *license, const struct lm_opt_diags *d,
                      const struct lm_options *o)
{
	json_t *doc = lm_json_object();
	lm_json_set(doc, "file", lm_json_text(path));
	lm_json_set(doc, "license", license ? lm_json_text(license) : json_null());
	lm_json_set(doc, "ok", lm_json_bool(d->nerrors == 0));
	lm_json_set(doc, "errors", lm_json_int((long long)d->nerrors));
	lm_json_set(doc, "warnings", lm_json_int((long long)d->nwarnings));
	lm_json_set(doc, "dropped", lm_json_int((long long)d->dropped));
	json_t *diagnostics = lm_json_array();
	for (size_t i = 0; i < d->n; i++)
		lm_json_append(diagnostics, diagnostic_json(&d->items[i]));
	lm_json_set(doc, "diagnostics", diagnostics);
	json_t *sha256 = json_null();
	if (o) {
		char text[2 * sizeof o->sha256 + 1];
		sha256 = lm_json_text(lm_hex_encode(o->sha256, sizeof o->sha256, text));
	}
	lm_json_set(doc, "sha256", sha256);
	json_t *rules = lm_json_array();
	for (size_t i = 0; o && i < o->nrules; i++)
		lm_json_append(rules, rule_json(&o->rules[i]));
	lm_json_set(doc, "rules", rules);
	json_t *groups = lm_json_array();
	for (size_t i = 0; o && i < o->ngroups; i++)
		lm_json_append(groups, group_json(&o->groups[i]));
	lm_json_set(doc, "groups", groups);
	return lm_report_print(doc);
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
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': license = optarg; break;
		case 'j':
			json = true;
			lm_report_json();
			break;
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
			/* As compilers say it, for editors to jump to. */
			const char *said = perr.lineno > 0
			                           ? lm_report_keep(rc, "%s:%d: error: %s", license,
			                                            perr.lineno, perr.message)
			                           : lm_report_keep(rc, "%s: error: %s", license,
			                                            perr.message);
			fprintf(stderr, "%s\n", said);
			return 1;
		}
		have_license = true;
	}

	struct lm_opt_diags diags;
	struct lm_options *o = NULL;
	lm_opt_diags_init(&diags);
	lm_options_load(path, have_license ? &lic : NULL, &o, &diags);
	int status = diags.nerrors ? 1 : 0;
	if (json) {
		if (print_json(path, license, &diags, o) != 0)
			status = 1;
	} else {
		print_human(path, &diags, o);
	}
	lm_options_free(o);
	lm_opt_diags_free(&diags);
	if (have_license)
		lm_license_free(&lic);
	return status;
}
