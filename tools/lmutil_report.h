/* lmutil report: reading lmd's usage report log (lmd/report_log.h).
 *
 *   lmutil_report.c          the command line
 *   lmutil_report_verify.c   --verify: the hash chain across the files
 *   lmutil_report_usage.c    the summary: one pass over the records, in
 *                            memory only the features, users, held handles
 *                            and the rows of the periods
 *   lmutil_report_groups.c   the use per GROUP of an options file
 *   lmutil_report_print.c    the summary as text, CSV or JSON
 *   lmutil_report_html.c     the summary as one self-contained HTML page,
 *                            its charts embedded as PNG data
 *   report_chart.c           the charts (--chart), drawn with cairo from
 *                            the summary's trace: use over time, denials
 *                            per day, top users
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

/* What the charts draw, gathered in the same pass.  Use over time is kept
 * in LM_TRACE_BUCKETS buckets per feature from the first record in range;
 * when a record falls past the last bucket the width doubles (pairs of
 * buckets merge), so a log of an hour and one of a year both give at most
 * that many points, at the finest width that holds them.  Denials are
 * counted per UTC day. */
#define LM_TRACE_BUCKETS   1024
#define LM_TRACE_WIDTH_MIN INT64_C(60000000) /* one minute */

struct lm_trace_bucket {
	uint32_t peak;   /* the most seats in use at once */
	uint32_t issued; /* the most seats issued while the bucket lasted */
	double seat_us;  /* integral of seats in use (the average's numerator) */
};

struct lm_trace_day {
	uint64_t no_seat, policy, other;
};

struct lm_usage_trace {
	int64_t origin_us, width_us; /* bucket i: [origin + i width, +width) */
	size_t nbuckets;             /* in use; 0 before the first record */
	/* buckets[feature * LM_TRACE_BUCKETS + i] */
	struct lm_trace_bucket *buckets;
	int64_t first_day; /* Unix days of days[0] */
	struct lm_trace_day *days;
	size_t ndays;
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
	struct lm_usage_trace trace;
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

/* A row's figures over the part of its period the log and the query
 * cover. */
struct lm_usage_figures {
	int64_t start, end;
	double average, utilisation; /* utilisation < 0: no seats issued */
};
struct lm_usage_figures lm_usage_figures(const struct lm_usage *u, const struct lm_usage_row *r);
/* The period a row starts at, as wide as --by: "2026-11-30T10", "all". */
void lm_usage_period_label(const struct lm_usage *u, int64_t start, char *buf, size_t size);
/* A user's name, "(hidden)" for the empty name of a hidden holder. */
const char *lm_usage_user_name(const struct lm_usage *u, uint32_t i);

enum lm_usage_format { LM_FORMAT_TEXT, LM_FORMAT_CSV, LM_FORMAT_JSON, LM_FORMAT_HTML };
/* Sorts the rows and the users (the order every view shows), once. */
void lm_usage_sort(struct lm_usage *u);
/* Prints the sorted summary on stdout.  Returns 0, or -1 after saying
 * why (a chart of the HTML page that could not be drawn). */
int lm_usage_print(const struct lm_usage *u, enum lm_usage_format format);
/* The HTML page (lmutil_report_html.c). */
int lm_usage_print_html(const struct lm_usage *u);

/* ---- charts (report_chart.c) ---- */

enum lm_chart_kind { LM_CHART_USE, LM_CHART_DENIALS, LM_CHART_USERS };
enum lm_chart_type { LM_CHART_PNG, LM_CHART_SVG };

#define LM_CHART_WIDTH  900
#define LM_CHART_HEIGHT 400

/* "use", "denials" or "users" to a kind; false when none. */
bool lm_chart_kind_parse(const char *name, enum lm_chart_kind *kind);
/* The type a file name asks for (.png, .svg); false when neither. */
bool lm_chart_type_of(const char *path, enum lm_chart_type *type);

/* Draws chart kind of the sorted summary u into a malloc'd buffer (*out,
 * *len; the caller frees it).  Returns 0, or -1 with why filled in. */
int lm_chart_draw(const struct lm_usage *u, enum lm_chart_kind kind, enum lm_chart_type type,
                  char **out, size_t *len, char *why, size_t why_size);
/* Lets go of the fonts cairo and fontconfig keep for the next chart, after
 * the last: what they hold at exit would otherwise look leaked. */
void lm_chart_release(void);

#endif
