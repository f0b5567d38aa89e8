/* libFuzzer harness for the options file parser: any input either fails
 * with an error diagnostic and no policy, or gives a policy whose canonical
 * text parses back to the same canonical text, digest and rules, and on
 * which decisions run without a crash.  The input is checked against a
 * small license, so that the checks that need one run too.
 *
 *   make fuzz && ./tests/fuzz/fuzz_options -max_total_time=60 CORPUS_DIR */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/license.h"
#include "core/error.h"
#include "core/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lm_license lines[3];
static struct lm_license_file lic = {.lines = lines, .nlines = 3};

static void license_init(void)
{
	static const struct {
		const char *name, *version;
		uint32_t count;
	} l[] = {{"MATLAB", "17", 4}, {"f1", "1.0", 10}, {"hfss", "29.0", 6}};
	for (int i = 0; i < 3; i++) {
		memset(&lines[i], 0, sizeof lines[i]);
		lines[i].type = LM_LINE_FEATURE;
		snprintf(lines[i].name, sizeof lines[i].name, "%s", l[i].name);
		snprintf(lines[i].version, sizeof lines[i].version, "%s", l[i].version);
		lines[i].count = l[i].count;
		lines[i].expiry = LM_DATE_PERMANENT;
		lines[i].start = LM_DATE_NONE;
		lines[i].issued = LM_DATE_NONE;
	}
}

static void decide_a_few(const struct lm_options *o)
{
	static const struct lm_opt_client who[] = {
	        {"user1", "server1", "server1:0", "10.0.0.7", "proj-x"},
	        {"bob", "tokyo", "", "192.168.86.25", ""},
	        {NULL, NULL, NULL, NULL, NULL},
	};
	const struct lm_opt_holding held[] = {
	        {who[0], "17", 2},
	        {who[1], "17.0", 1},
	        {who[1], "1.0", 3},
	};
	for (int i = 0; i < 3; i++)
		for (int f = 0; f < 3; f++) {
			struct lm_opt_decision d;
			if (lm_options_decide(o, &who[i], lines[f].name, lines[f].version, 1 + i,
			                      lines[f].count, held, 3, &d) != 0)
				abort();
			if (d.outcome == LM_OPT_DENY && (!d.message[0] || !d.rule))
				abort();
			if (d.available > lines[f].count)
				abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_opt_diags diags;
	struct lm_options *o, *again;

	if (!lines[0].name[0])
		license_init();
	lm_opt_diags_init(&diags);
	int rc = lm_options_parse("fuzz.opt", (const char *)data, size, &lic, &o, &diags);
	if (rc) {
		/* A refusal always says why, and returns nothing. */
		if (rc >= 0 || o || diags.nerrors == 0 || (diags.n == 0 && diags.dropped == 0))
			abort();
		lm_opt_diags_free(&diags);
		return 0;
	}
	if (diags.nerrors)
		abort();
	lm_opt_diags_free(&diags);

	/* The canonical text means the same, with the same line numbers. */
	lm_opt_diags_init(&diags);
	if (lm_options_parse("fuzz.opt", o->canonical, o->canonical_len, &lic, &again, &diags) !=
	    0) {
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "canonical line %d: %s\n", diags.items[i].lineno,
			        diags.items[i].message);
		fprintf(stderr, "%s", o->canonical);
		abort();
	}
	if (again->canonical_len != o->canonical_len ||
	    memcmp(again->canonical, o->canonical, o->canonical_len) != 0 ||
	    memcmp(again->sha256, o->sha256, 32) != 0 || again->nrules != o->nrules ||
	    again->ngroups != o->ngroups)
		abort();
	for (size_t i = 0; i < o->nrules; i++)
		if (again->rules[i].lineno != o->rules[i].lineno ||
		    strcmp(again->rules[i].text, o->rules[i].text) != 0)
			abort();
	decide_a_few(o);
	lm_options_free(again);
	lm_options_free(o);
	lm_opt_diags_free(&diags);
	return 0;
}
