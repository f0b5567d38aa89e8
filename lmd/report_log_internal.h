/* The report log's state (lmd/report_log.h), shared by the file's side
 * (report_log.c: opening, the tail, writing, rotating) and the records'
 * side (report_record.c: the JSON of one record). */
#ifndef LM_REPORT_LOG_INTERNAL_H
#define LM_REPORT_LOG_INTERNAL_H

#include "lmd/report_log.h"

#include "core/report_chain.h"
#include "lmd/text.h"

/* One record started since the last commit: its body (the fields between
 * the head {"seq":N,"index":I, and the tail ,"prev":"..."}) in bodies. */
struct lm_report_body {
	size_t off, len;
	uint64_t index;
	int64_t time_us;
};

struct lm_report_log {
	char *path;
	uint64_t max_bytes;
	bool daily;

	int fd;             /* -1 until opened, and after a failed rotation */
	bool recovered;     /* the last record was read: seq, index, chain hold */
	bool dirty;         /* a write failed: the file may end in part of a line */
	uint64_t size;      /* bytes of whole records in the current file */
	uint64_t first_seq; /* of the current file's first record; 0: empty */
	/* The UTC day (Unix days) of the last record framed for the current
	 * file, for daily rotation; INT64_MIN: none or unreadable. */
	int64_t last_day;

	/* The last record framed (written, or pending below). */
	uint64_t seq, index;
	char chain[LM_REPORT_CHAIN_HEX + 1]; /* its hash, or the anchor */

	/* Records framed but not yet written, and the commands they cover
	 * (lost ones included): written by lm_report_log_flush, or when they
	 * pass PENDING_MAX.  written_* is the chain as it stands on disk, to
	 * go back to when they cannot be written. */
	struct lm_text pending;
	uint64_t pending_first_seq, pending_from, pending_to;
	uint64_t written_seq, written_index;
	char written_chain[LM_REPORT_CHAIN_HEX + 1];

	/* Commands whose records could not be written, until a write succeeds
	 * and says so in a "lost" record: 0 when none. */
	uint64_t lost_from, lost_to;
	/* Commands a snapshot brought that the log never saw (skip_to), said
	 * in a "gap" record with the next records: 0 when none. */
	uint64_t gap_from, gap_to;
	uint64_t errors;
	bool failing; /* the last attempt failed (and was logged) */

	struct lm_text bodies;
	struct lm_report_body *recs;
	size_t nrecs, recs_cap;
	bool recs_failed;
	struct lm_text out; /* the lines of one commit */
};

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC), quotes included. */
void lm_report_json_time(struct lm_text *b, int64_t time_us);

#endif
