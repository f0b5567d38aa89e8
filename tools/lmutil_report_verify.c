/* lmutil report --verify: walks the hash chain (core/report_chain.h)
 * across the files in order, a line at a time. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/lmutil_report.h"

__attribute__((format(printf, 4, 5))) static void
broken(struct lm_chain_check *chk, const char *file, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	chk->ok = false;
	chk->file = file;
	chk->line = line;
	va_start(ap, fmt);
	vsnprintf(chk->problem, sizeof chk->problem, fmt, ap);
	va_end(ap);
}

/* Checks one file, going on from the chain as chk and seq leave it.
 * Returns 0 (chk->ok false at the first broken record) or -1. */
static int verify_file(const char *file, struct lm_chain_check *chk, uint64_t *seq)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		snprintf(chk->problem, sizeof chk->problem, "%s: %s", file, strerror(errno));
		return -1;
	}
	char *buf = NULL, prev[LM_REPORT_CHAIN_HEX + 1];
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0, s, index;
	while (chk->ok && (n = getline(&buf, &cap, f)) > 0) {
		lineno++;
		if (buf[n - 1] != '\n') {
			broken(chk, file, lineno,
			       "the last record is cut short (no newline): the file was truncated "
			       "in the middle of a record");
			break;
		}
		size_t len = (size_t)n - 1;
		if (!lm_report_chain_head(buf, len, &s, &index) ||
		    !lm_report_chain_prev(buf, len, prev)) {
			broken(chk, file, lineno, "not a record of lmd's report log");
			break;
		}
		if (strcmp(prev, chk->head) != 0) {
			broken(chk, file, lineno,
			       "record seq %" PRIu64 " does not chain from the record before it: "
			       "that one was edited, or records were deleted or inserted here",
			       s);
			break;
		}
		if (*seq != 0 && s != *seq + 1) {
			broken(chk, file, lineno,
			       "record seq %" PRIu64 " follows seq %" PRIu64 ": its seq was edited",
			       s, *seq);
			break;
		}
		*seq = s;
		lm_report_chain_hash(buf, len, chk->head);
		chk->records++;
	}
	int rc = ferror(f) ? -1 : 0;
	if (rc)
		snprintf(chk->problem, sizeof chk->problem, "%s: %s", file, strerror(errno));
	free(buf);
	fclose(f);
	return rc;
}

int lm_report_verify(char **files, int nfiles, const char *anchor, struct lm_chain_check *chk)
{
	uint64_t seq = 0;
	*chk = (struct lm_chain_check){.ok = true};
	snprintf(chk->head, sizeof chk->head, "%s", anchor ? anchor : LM_REPORT_CHAIN_ANCHOR);
	for (int i = 0; i < nfiles && chk->ok; i++)
		if (verify_file(files[i], chk, &seq) != 0)
			return -1;
	return 0;
}
