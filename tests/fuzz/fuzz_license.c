/* libFuzzer harness for the license parser: any input either fails with a
 * line number and a message, or parses into lines whose canonical form
 * reads back to the same canonical form, and whose printed file parses
 * back to the same lines.
 *
 *   make fuzz && ./tests/fuzz/fuzz_license -max_total_time=60 CORPUS_DIR */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/license.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

/* The printed file means the same as the parsed one. */
static void check_reprint(const struct lm_license_file *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out || lm_license_print(f, out) != 0 || fclose(out) != 0)
		abort();
	struct lm_license_file g;
	struct lm_parse_error err;
	if (lm_license_parse(text, len, &g, &err) != 0) {
		fprintf(stderr, "reprinted file fails at line %d: %s\n%s", err.lineno, err.message,
		        text);
		abort();
	}
	if (g.nlines != f->nlines || g.nservers != f->nservers || g.nitems != f->nitems ||
	    strcmp(g.vendor, f->vendor))
		abort();
	for (size_t i = 0; i < f->nlines; i++) {
		char a[LM_LINE_MAX + 1], b[LM_LINE_MAX + 1];
		const struct lm_license *x = &f->lines[i], *y = &g.lines[i];
		if (lm_license_canonical(f, x, a, sizeof a) < 0 ||
		    lm_license_canonical(&g, y, b, sizeof b) < 0 || strcmp(a, b) ||
		    x->has_sig != y->has_sig || memcmp(x->sig, y->sig, sizeof x->sig))
			abort();
	}
	lm_license_free(&g);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_license_file f;
	struct lm_parse_error err;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
	}
	/* Reading as lmd does, leaving out the lines it cannot read: what is
	 * kept is a file lm_license_print writes and the strict parser reads. */
	if (lm_license_parse_skipping((const char *)data, size, &f, &err) == 0) {
		for (size_t i = 0; i < f.nskipped; i++)
			if (f.skipped[i].lineno < 1 || f.skipped[i].code >= 0 ||
			    !f.skipped[i].message[0])
				abort();
		check_reprint(&f);
		lm_license_free(&f);
	} else if (f.lines || f.skipped || f.nlines || f.nskipped) {
		abort();
	}

	int rc = lm_license_parse((const char *)data, size, &f, &err);
	if (rc) {
		/* A refusal always says where and why, and returns nothing. */
		if (rc >= 0 || err.lineno < 0 || !err.message[0] || f.lines || f.items || f.nlines)
			abort();
		return 0;
	}
	for (size_t i = 0; i < f.nlines; i++) {
		char canon[LM_LINE_MAX + 1], again[LM_LINE_MAX + 1];
		int n = lm_license_canonical(&f, &f.lines[i], canon, sizeof canon);
		if (n < 0 || (size_t)n != strlen(canon))
			abort();

		struct lm_license l;
		struct lm_lockcode codes[3];
		int ncodes;
		if (lm_license_parse_canonical(canon, &l, codes, &ncodes, &err) != 0)
			abort();
		struct lm_license_file g;
		memset(&g, 0, sizeof g);
		g.nservers = ncodes;
		for (int k = 0; k < ncodes; k++)
			g.servers[k].code = codes[k];
		if (lm_license_canonical(&g, &l, again, sizeof again) != n || strcmp(canon, again))
			abort();
	}
	if (lm_license_print(&f, devnull) != 0)
		abort();
	check_reprint(&f);
	lm_license_free(&f);
	return 0;
}
