/* lmutil report: reading lmd's usage report log (lmd/report_log.h).
 *
 *   lmutil_report.c          the command line
 *   lmutil_report_verify.c   --verify: the hash chain across the files
 *   lmutil_report_usage.c    the summary: one pass over the records, in
 *                            memory only the features, users, held handles
 *                            and the rows of the periods
 *   lmutil_report_groups.c   the use per GROUP of an options file
 *   lmutil_report_print.c    the summary as text, CSV or JSON; other views
 *                            of the same summary (charts, HTML) belong
 *                            beside it
 * Every reader streams: a file is read a line at a time, never whole. */
#ifndef LM_LMUTIL_REPORT_H
#define LM_LMUTIL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/report_chain.h"

/* ---- --verify ---- */

struct lm_chain_check {
	bool ok;
	uint64_t records;
	char head[LM_REPORT_CHAIN_HEX + 1]; /* the hash of the last record */
	/* When not ok: where, and what. */
	const char *file;
	uint64_t line;
	char problem[256];
};

/* Checks that files, in order, form one chain starting from anchor (the
 * anchor of core/report_chain.h unless the first files were archived).
 * Returns 0 (chk says whether the chain holds) or -1 when a file cannot be
 * read (chk->problem says why). */
int lm_report_verify(char **files, int nfiles, const char *anchor, struct lm_chain_check *chk);

/* ---- the summary ---- */

enum lm_usage_period { LM_BY_ALL, LM_BY_HOUR, LM_BY_DAY, LM_BY_MONTH };

struct lm_usage_query {
	int64_t from_us, to_us; /* INT64_MIN / INT64_MAX: open */
	const char *feature;    /* NULL: all */
	enum lm_usage_period by;
};

/* One feature in one period. */
struct lm_usage_row {
	int64_t start_us, end_us; /* the period, clipped to the query and the log */
	uint32_t feature;         /* index into features */
	uint32_t peak;
	uint32_t issued; /* as of the end of the period (0: unknown) */
	double seat_us;  /* integral of seats in use over the period */
	uint64_t checkouts, denied_no_seat, denied_policy, denied_other;
};

struct lm_usage_user {
	uint32_t user, feature; /* indexes into users and features */
	double seat_us;
	uint64_t checkouts, denials;
};

/* The use of a GROUP of the options file (--options): the sums of its
 * members' lm_usage_user rows, a user counting in each of their groups. */
struct lm_usage_group {
	const char *group; /* the options file's name, valid while it is */
	uint32_t feature;
	double seat_us;
	uint64_t checkouts, denials;
};

struct lm_usage_feature {
	char *name;
	uint32_t issued;
	int32_t expiry_days; /* earliest expiry of its lines; INT32_MAX: permanent */
	/* While reading: seats in use since when, the open row. */
	uint32_t in_use;
	int64_t since_us;
	size_t row; /* index into rows of the current period's row, or SIZE_MAX */
};

struct lm_usage {
	struct lm_usage_query q;
	int64_t first_us, last_us; /* of the records read; INT64_MIN when none */
	uint64_t records, bad_records;
	uint64_t gaps; /* "gap" and "lost" records: commands the log does not hold */
	struct lm_usage_feature *features;
	size_t nfeatures;
	char **users;
	size_t nusers;
	struct lm_usage_row *rows;
	size_t nrows, rows_cap;
	struct lm_usage_user *per_user;
	size_t nper_user, per_user_cap;
	struct lm_usage_group *per_group; /* after lm_usage_groups */
	size_t nper_group;
	struct lm_usage_private *priv; /* the reader's indexes */
};

/* Reads the records of files in order into u.  Returns 0, or -1 after
 * printing why a file could not be read. */
int lm_usage_read(struct lm_usage *u, const struct lm_usage_query *q, char **files, int nfiles);
void lm_usage_free(struct lm_usage *u);

struct lm_options;
/* Sums the use per user into the user GROUPs of o (GROUPCASEINSENSITIVE
 * honoured).  Returns 0, or -1 when out of memory. */
int lm_usage_groups(struct lm_usage *u, const struct lm_options *o);

/* A time as the records write it, or as --from/--to take it
 * (YYYY-MM-DD[THH[:MM[:SS[.ffffff]]]][Z], UTC): Unix microseconds, or
 * false. */
bool lm_usage_parse_time(const char *text, size_t len, int64_t *us);
/* YYYY-MM-DDTHH:MM:SSZ */
void lm_usage_format_time(int64_t us, char *buf, size_t size);

enum lm_usage_format { LM_FORMAT_TEXT, LM_FORMAT_CSV, LM_FORMAT_JSON };
int lm_usage_print(const struct lm_usage *u, enum lm_usage_format format);

#endif
