/* The usage report log: an append-only file of what the pool did, one JSON
 * object a line, hash-chained (core/report_chain.h), read by `lmutil
 * report`.
 *
 * Records are made from applied commands only (lmd/report_events.h), so
 * the three servers of a triad write the same bytes: a record holds the
 * raft index of its command and the leader's time, never this server's
 * clock.  A command makes zero or more records, framed once the pool
 * applied it; they are written by lm_report_log_flush, which lmd calls once
 * per turn of its event loop, so that a burst of commands costs one
 * write(2).  Records still in memory when lmd dies are not lost: they are
 * made again when raft replays their commands at the next start.
 *
 * A restart replays commands that were already logged (raft re-applies its
 * log after the last snapshot): at open, the log reads its last record,
 * continues the chain from it and skips every command up to its index.  A
 * last line cut short (a crash mid-write) was never a record: it is cut
 * off, with a warning.
 *
 * The log must never stop the server: a failure to open, write or rotate is
 * counted (lm_report_log_errors), logged once until a write succeeds again,
 * and retried at the next command.  Commands whose records could not be
 * written are not lost silently: the next record written is a "lost" one
 * naming their indexes, chained like any other.
 *
 * Rotation by size: when a write would take a non-empty file past
 * max_bytes, the file is renamed PATH.<seq of its first record, 12 digits>
 * and a new PATH is started, whose first record chains from the last one of
 * the renamed file.  `ls PATH.* PATH` lists the files in chain order.
 *
 * Rotation by day (daily): the same renaming when a command's records fall
 * on another UTC day than the last record of a non-empty file.  The day is
 * the records' own time (the leader's), not this server's clock, so the
 * three servers of a triad rotate at the same record; a file holds one day
 * (a day without commands has no file).  Both may be on: a busy day then
 * spans several files. */
#ifndef LM_REPORT_LOG_H
#define LM_REPORT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lm_report_log;

struct lm_report_log_config {
	const char *path;   /* copied */
	uint64_t max_bytes; /* rotate past this size; 0: never */
	bool daily;         /* rotate when the records' UTC day changes */
};

/* Opens (or creates) the log and reads its last record.  Returns 0, or
 * LMC_ENOMEM; trouble with the file itself is logged and retried later. */
int lm_report_log_open(struct lm_report_log **out, const struct lm_report_log_config *cfg);
void lm_report_log_close(struct lm_report_log *r);

/* Whether the command at index still needs its records: false for the
 * commands a restart replays after they were logged. */
bool lm_report_log_wants(const struct lm_report_log *r, uint64_t index);

/* Building the records of one command, in the order they are written:
 * lm_report_log_record starts one (its "time" and "event" fields), the
 * field functions add to it, and lm_report_log_commit writes every record
 * started since the last commit.  seq, index and prev are added at commit.
 * Strings that are not valid UTF-8 are written with each bad byte as
 * U+FFFD, so that every line stays valid JSON. */
void lm_report_log_record(struct lm_report_log *r, uint64_t index, int64_t time_us,
                          const char *event);
void lm_report_log_str(struct lm_report_log *r, const char *key, const char *value);
void lm_report_log_strn(struct lm_report_log *r, const char *key, const void *value, size_t len);
void lm_report_log_int(struct lm_report_log *r, const char *key, int64_t value);
/* Unix microseconds as the records' "time" is written. */
void lm_report_log_time(struct lm_report_log *r, const char *key, int64_t time_us);
void lm_report_log_commit(struct lm_report_log *r);
/* Writes the records committed so far (also done by close). */
void lm_report_log_flush(struct lm_report_log *r);

/* The pool jumped to index (a snapshot was installed) past the last
 * command logged: the next commit starts with a "gap" record naming the
 * indexes the log will never hold, with the time of that commit's first
 * record (a snapshot carries no time of its own). */
void lm_report_log_skip_to(struct lm_report_log *r, uint64_t index);

/* Failures to open, write, truncate or rotate since the start. */
uint64_t lm_report_log_errors(const struct lm_report_log *r);

/* The index of the last command logged (0: none). */
uint64_t lm_report_log_last_index(const struct lm_report_log *r);

#endif
