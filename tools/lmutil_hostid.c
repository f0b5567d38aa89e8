/* lmutil lmhostid: prints this machine's lock code, the criteria it is
 * made of, and, with --explain, whether a license bound to some other code
 * would be accepted here and which criteria differ. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "tools/cmd.h"
#include "tools/json.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil lmhostid [--root DIR] [--json]\n"
	        "       lmutil lmhostid --explain CODE [--tolerance N] [--root DIR] [--json]\n"
	        "Prints the lock code of this machine, to send to the vendor.  With --explain,\n"
	        "tells whether a license bound to CODE would be accepted here, criterion by\n"
	        "criterion: exit 0 when accepted, 1 when not.  --tolerance N allows N criteria\n"
	        "to differ (default: fewer than half of those in CODE).  --root DIR reads the\n"
	        "machine's files below DIR instead of / (as LM_HOSTID_ROOT does).\n");
}

static const char *root_name(const char *root)
{
	return root ? root : lm_machine_default_root();
}

/* Writes the 20-bit digest as the five hex digits people compare. */
static void json_digest(uint32_t d)
{
	char hex[8];
	snprintf(hex, sizeof hex, "%05x", (unsigned)d);
	lm_json_string(stdout, hex);
}

static void json_text_or_null(const char *s)
{
	if (s && *s)
		lm_json_string(stdout, s);
	else
		fputs("null", stdout);
}

static bool has(uint16_t mask, int c)
{
	return mask & (1u << c);
}

static int show(const struct lm_machine *m, const char *code, bool json)
{
	if (json) {
		fputc('{', stdout);
		lm_json_key(stdout, "lockcode", 1);
		lm_json_string(stdout, code);
		lm_json_key(stdout, "criteria", 0);
		fputc('[', stdout);
		for (int c = 0; c < LM_CRIT_COUNT; c++) {
			bool used = has(m->code.present, c);
			fputs(c ? ",{" : "{", stdout);
			lm_json_key(stdout, "name", 1);
			lm_json_string(stdout, lm_criterion_name(c));
			lm_json_key(stdout, "used", 0);
			fputs(used ? "true" : "false", stdout);
			lm_json_key(stdout, "value", 0);
			json_text_or_null(used ? m->value[c] : NULL);
			lm_json_key(stdout, "digest", 0);
			if (used)
				json_digest(m->code.digest[c]);
			else
				fputs("null", stdout);
			lm_json_key(stdout, "source", 0);
			lm_json_string(stdout, m->source[c]);
			fputc('}', stdout);
		}
		fputs("]}\n", stdout);
		return 0;
	}
	/* The code comes last, alone at the end of the last line, so that
	 * scripts can take the last word and people can copy it. */
	printf("Lock code criteria:");
	for (int c = 0, i = 0; c < LM_CRIT_COUNT; c++)
		if (has(m->code.present, c))
			printf("%s %s", i++ ? "," : "", lm_criterion_name(c));
	int unused = 0;
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		if (!has(m->code.present, c))
			printf("%s%s",
			       unused++ ? ", " : " (not available here: ", lm_criterion_name(c));
	printf("%s\n", unused ? "; see --json for why)" : "");
	printf("The lock code of this machine is: %s\n", code);
	return 0;
}

static const char *verdict_word(const struct lm_lock_match *r, int c)
{
	if (has(r->missing, c))
		return "missing";
	if (has(r->differs, c))
		return "differs";
	return "match";
}

static void explain_json(const char *code, const struct lm_lockcode *lic,
                         const struct lm_machine *m, bool probed, const char *here, int tolerance,
                         const struct lm_lock_match *r)
{
	fputc('{', stdout);
	lm_json_key(stdout, "code", 1);
	lm_json_string(stdout, code);
	lm_json_key(stdout, "lockcode", 0);
	json_text_or_null(probed ? here : NULL);
	lm_json_key(stdout, "tolerance", 0);
	/* null: the default, whose allowance depends on the code. */
	if (tolerance == LM_LOCK_TOLERANCE_DEFAULT)
		fputs("null", stdout);
	else
		printf("%d", tolerance);
	lm_json_key(stdout, "allowed_misses", 0);
	printf("%d", r->allowed_misses);
	lm_json_key(stdout, "licensed", 0);
	printf("%d", r->licensed);
	lm_json_key(stdout, "matched", 0);
	printf("%d", r->matched);
	lm_json_key(stdout, "accepted", 0);
	fputs(r->accepted ? "true" : "false", stdout);
	lm_json_key(stdout, "criteria", 0);
	fputc('[', stdout);
	bool first = true;
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		if (!has(lic->present, c))
			continue;
		bool here_too = has(m->code.present, c);
		fputs(first ? "{" : ",{", stdout);
		first = false;
		lm_json_key(stdout, "name", 1);
		lm_json_string(stdout, lm_criterion_name(c));
		lm_json_key(stdout, "result", 0);
		lm_json_string(stdout, verdict_word(r, c));
		lm_json_key(stdout, "licensed_digest", 0);
		json_digest(lic->digest[c]);
		lm_json_key(stdout, "digest", 0);
		if (here_too)
			json_digest(m->code.digest[c]);
		else
			fputs("null", stdout);
		lm_json_key(stdout, "value", 0);
		json_text_or_null(here_too ? m->value[c] : NULL);
		lm_json_key(stdout, "source", 0);
		lm_json_string(stdout, m->source[c]);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void explain_text(const char *code, const struct lm_lockcode *lic,
                         const struct lm_machine *m, bool probed, const char *here,
                         const char *root, int tolerance, const struct lm_lock_match *r)
{
	printf("Lock code %s records %d criteria; on this machine (%s):\n", code, r->licensed,
	       root);
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		if (!has(lic->present, c))
			continue;
		const char *name = lm_criterion_name(c);
		if (has(r->missing, c))
			printf("  %-13s missing here: %s\n", name, m->source[c]);
		else if (has(r->differs, c))
			printf("  %-13s differs: here %s (from %s)\n", name, m->value[c],
			       m->source[c]);
		else
			printf("  %-13s match\n", name);
	}
	char tol[64];
	if (tolerance == LM_LOCK_TOLERANCE_DEFAULT)
		snprintf(tol, sizeof tol, "default tolerance: fewer than half may differ");
	else
		snprintf(tol, sizeof tol, "tolerance %d", tolerance);
	if (r->accepted) {
		printf("Accepted: %d of %d criteria match and %d may differ or be missing (%s), so "
		       "a license bound to this code would be accepted here.\n",
		       r->matched, r->licensed, r->allowed_misses, tol);
		return;
	}
	if (r->matched == 0)
		printf("Refused: none of the %d criteria match, so a license bound to this code "
		       "would be refused here, whatever its tolerance.\n",
		       r->licensed);
	else
		printf("Refused: only %d of %d criteria match, and at most %d may differ or be "
		       "missing (%s), so a license bound to this code would be refused here.\n",
		       r->matched, r->licensed, r->allowed_misses, tol);
	if (probed)
		printf("Send the vendor this machine's lock code instead: %s\n", here);
}

static int explain(const char *text, const char *root, int tolerance, bool json)
{
	struct lm_lockcode lic;
	char err[256];
	if (lm_lockcode_parse(text, &lic, err, sizeof err) != 0) {
		fprintf(stderr, "lmhostid: %s\n", err);
		return 2;
	}
	/* A machine where nothing can be read is still explained: every
	 * criterion is then missing here, which is what the user needs to
	 * hear. */
	struct lm_machine m;
	char here[LM_LOCKCODE_TEXT_MAX] = "";
	int rc = lm_machine_probe(root, &m);
	if (rc == LMC_EINVAL) {
		fprintf(stderr, "lmhostid: --root %s: path too long\n", root);
		return 2;
	}
	bool probed = rc == 0 && lm_lockcode_format(&m.code, here, sizeof here) == 0;
	char code[LM_LOCKCODE_TEXT_MAX];
	if (lm_lockcode_format(&lic, code, sizeof code) != 0)
		snprintf(code, sizeof code, "%s", text);

	struct lm_lock_match r;
	lm_lockcode_match(&lic, &m.code, tolerance, &r);
	if (json)
		explain_json(code, &lic, &m, probed, here, tolerance, &r);
	else
		explain_text(code, &lic, &m, probed, here, root_name(root), tolerance, &r);
	return r.accepted ? 0 : 1;
}

static int parse_tolerance(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > LM_CRIT_COUNT)
		return -1;
	*out = (int)v;
	return 0;
}

int lm_cmd_lmhostid(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"root", required_argument, NULL, 'r'},
	        {"explain", required_argument, NULL, 'e'},
	        {"tolerance", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *root = NULL, *code = NULL;
	int tolerance = LM_LOCK_TOLERANCE_DEFAULT;
	bool json = false, have_tolerance = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'r': root = optarg; break;
		case 'e': code = optarg; break;
		case 't':
			if (parse_tolerance(optarg, &tolerance) != 0) {
				fprintf(stderr,
				        "lmhostid: --tolerance %s: expected a number of criteria "
				        "from 0 to %d\n",
				        optarg, LM_CRIT_COUNT);
				return 2;
			}
			have_tolerance = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || (have_tolerance && !code)) {
		usage(stderr);
		return 2;
	}
	if (root && !*root) {
		fprintf(stderr, "lmhostid: --root needs a directory\n");
		return 2;
	}
	if (code)
		return explain(code, root, tolerance, json);

	struct lm_machine m;
	int rc = lm_machine_probe(root, &m);
	if (rc != 0) {
		fprintf(stderr,
		        "lmhostid: no lock criterion of this machine is readable below %s: %s\n",
		        root_name(root), lmc_strerror(rc));
		for (int c = 0; c < LM_CRIT_COUNT; c++)
			if (m.source[c][0])
				fprintf(stderr, "  %s: %s\n", lm_criterion_name(c), m.source[c]);
		return 1;
	}
	char text[LM_LOCKCODE_TEXT_MAX];
	rc = lm_lockcode_format(&m.code, text, sizeof text);
	if (rc != 0) {
		fprintf(stderr, "lmhostid: cannot format the lock code: %s\n", lmc_strerror(rc));
		return 1;
	}
	return show(&m, text, json);
}
