/* lmutil report's summary as text, CSV or JSON (lmutil_report.h).  Each
 * printer reads the same struct lm_usage, as do the HTML page
 * (lmutil_report_html.c) and the charts (report_chart.c). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "tools/json.h"
#include "tools/lmutil_report.h"
#include "tools/report.h"

static const struct lm_usage *sorting; /* for the qsort comparators */

static int row_order(const void *a, const void *b)
{
	const struct lm_usage_row *x = a, *y = b;
	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	return strcmp(sorting->features[x->feature].name, sorting->features[y->feature].name);
}

static int user_order(const void *a, const void *b)
{
	const struct lm_usage_user *x = a, *y = b;
	int c = strcmp(sorting->users[x->user], sorting->users[y->user]);
	return c ? c
	         : strcmp(sorting->features[x->feature].name, sorting->features[y->feature].name);
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

struct lm_usage_figures lm_usage_figures(const struct lm_usage *u, const struct lm_usage_row *r)
{
	struct lm_usage_figures f = {
	        .start = max64(max64(r->start_us, u->q.from_us), u->first_us),
	        .end = min64(min64(r->end_us, u->q.to_us), u->last_us),
	        .utilisation = -1,
	};
	if (f.end > f.start)
		f.average = r->seat_us / (double)(f.end - f.start);
	if (r->issued)
		f.utilisation = 100.0 * f.average / r->issued;
	return f;
}

void lm_usage_period_label(const struct lm_usage *u, int64_t start, char *buf, size_t size)
{
	static const size_t width[] = {[LM_BY_HOUR] = 13, [LM_BY_DAY] = 10, [LM_BY_MONTH] = 7};
	if (u->q.by == LM_BY_ALL) {
		snprintf(buf, size, "all");
		return;
	}
	lm_usage_format_time(start, buf, size);
	if (strlen(buf) > width[u->q.by])
		buf[width[u->q.by]] = '\0';
}

const char *lm_usage_user_name(const struct lm_usage *u, uint32_t i)
{
	return u->users[i][0] ? u->users[i] : "(hidden)";
}

static void print_text(const struct lm_usage *u)
{
	char from[32], to[32], label[32];
	static const char *by[] = {"whole range", "by hour", "by day", "by month"};
	if (u->records == 0) {
		printf("no records\n");
		return;
	}
	lm_usage_format_time(max64(u->first_us, u->q.from_us), from, sizeof from);
	lm_usage_format_time(min64(u->last_us, u->q.to_us), to, sizeof to);
	printf("Usage from %s to %s (%s), %" PRIu64 " records\n\n", from, to, by[u->q.by],
	       u->records);
	printf("%-20s %-20s %6s %6s %8s %6s %9s %8s %7s %6s\n", "PERIOD", "FEATURE", "ISSUED",
	       "PEAK", "AVERAGE", "USE%", "CHECKOUTS", "NO-SEAT", "POLICY", "OTHER");
	for (size_t i = 0; i < u->nrows; i++) {
		const struct lm_usage_row *r = &u->rows[i];
		struct lm_usage_figures f = lm_usage_figures(u, r);
		char use[16] = "-";
		if (f.utilisation >= 0)
			snprintf(use, sizeof use, "%.1f", f.utilisation);
		lm_usage_period_label(u, r->start_us, label, sizeof label);
		printf("%-20s %-20s %6" PRIu32 " %6" PRIu32 " %8.2f %6s %9" PRIu64 " %8" PRIu64
		       " %7" PRIu64 " %6" PRIu64 "\n",
		       label, u->features[r->feature].name, r->issued, r->peak, f.average, use,
		       r->checkouts, r->denied_no_seat, r->denied_policy, r->denied_other);
	}
	printf("\n%-20s %-20s %10s %9s %7s\n", "USER", "FEATURE", "SEAT-HOURS", "CHECKOUTS",
	       "DENIALS");
	for (size_t i = 0; i < u->nper_user; i++) {
		const struct lm_usage_user *p = &u->per_user[i];
		printf("%-20s %-20s %10.2f %9" PRIu64 " %7" PRIu64 "\n",
		       lm_usage_user_name(u, p->user), u->features[p->feature].name,
		       p->seat_us / 3600e6, p->checkouts, p->denials);
	}
	if (u->nper_group)
		printf("\n%-20s %-20s %10s %9s %7s\n", "GROUP", "FEATURE", "SEAT-HOURS",
		       "CHECKOUTS", "DENIALS");
	for (size_t i = 0; i < u->nper_group; i++) {
		const struct lm_usage_group *g = &u->per_group[i];
		printf("%-20s %-20s %10.2f %9" PRIu64 " %7" PRIu64 "\n", g->group,
		       u->features[g->feature].name, g->seat_us / 3600e6, g->checkouts, g->denials);
	}
	for (size_t i = 0; i < u->nfeatures; i++) {
		char day[32];
		if (u->features[i].expiry_days == INT32_MAX)
			continue;
		lm_date_format(u->features[i].expiry_days, day, sizeof day);
		printf("%s%s expires %s\n", i == 0 ? "\n" : "", u->features[i].name, day);
	}
	if (u->gaps)
		printf("\nwarning: %" PRIu64 " gap or lost records: the log misses commands "
		       "(see lmd(8))\n",
		       u->gaps);
	if (u->bad_records)
		printf("\nwarning: %" PRIu64 " lines are not records\n", u->bad_records);
}

static void csv_field(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(const struct lm_usage *u)
{
	char start[32], end[32];
	printf("period_start,period_end,feature,issued,peak,average,utilisation_pct,checkouts,"
	       "denied_no_seat,denied_policy,denied_other\n");
	for (size_t i = 0; i < u->nrows; i++) {
		const struct lm_usage_row *r = &u->rows[i];
		struct lm_usage_figures f = lm_usage_figures(u, r);
		lm_usage_format_time(f.start, start, sizeof start);
		lm_usage_format_time(f.end, end, sizeof end);
		printf("%s,%s,", start, end);
		csv_field(u->features[r->feature].name);
		printf(",%" PRIu32 ",%" PRIu32 ",%.4f,", r->issued, r->peak, f.average);
		if (f.utilisation >= 0)
			printf("%.2f", f.utilisation);
		printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", r->checkouts,
		       r->denied_no_seat, r->denied_policy, r->denied_other);
	}
	printf("\nuser,feature,seat_hours,checkouts,denials\n");
	for (size_t i = 0; i < u->nper_user; i++) {
		const struct lm_usage_user *p = &u->per_user[i];
		csv_field(lm_usage_user_name(u, p->user));
		putchar(',');
		csv_field(u->features[p->feature].name);
		printf(",%.4f,%" PRIu64 ",%" PRIu64 "\n", p->seat_us / 3600e6, p->checkouts,
		       p->denials);
	}
	if (u->nper_group)
		printf("\ngroup,feature,seat_hours,checkouts,denials\n");
	for (size_t i = 0; i < u->nper_group; i++) {
		const struct lm_usage_group *g = &u->per_group[i];
		csv_field(g->group);
		putchar(',');
		csv_field(u->features[g->feature].name);
		printf(",%.4f,%" PRIu64 ",%" PRIu64 "\n", g->seat_us / 3600e6, g->checkouts,
		       g->denials);
	}
}

static json_t *time_json(int64_t us)
{
	char t[32];
	lm_usage_format_time(us, t, sizeof t);
	return lm_json_text(t);
}

static int print_json(const struct lm_usage *u)
{
	static const char *by[] = {"all", "hour", "day", "month"};
	json_t *doc = lm_json_object(), *rows = lm_json_array(), *users = lm_json_array();
	json_t *features = lm_json_array();
	lm_json_set(doc, "records", lm_json_u64(u->records));
	if (u->records) {
		lm_json_set(doc, "from", time_json(max64(u->first_us, u->q.from_us)));
		lm_json_set(doc, "to", time_json(min64(u->last_us, u->q.to_us)));
	}
	lm_json_set(doc, "by", lm_json_text(by[u->q.by]));
	for (size_t i = 0; i < u->nrows; i++) {
		const struct lm_usage_row *r = &u->rows[i];
		struct lm_usage_figures f = lm_usage_figures(u, r);
		json_t *o = lm_json_object();
		lm_json_set(o, "start", time_json(f.start));
		lm_json_set(o, "end", time_json(f.end));
		lm_json_set(o, "feature", lm_json_text(u->features[r->feature].name));
		lm_json_set(o, "issued", lm_json_u64(r->issued));
		lm_json_set(o, "peak", lm_json_u64(r->peak));
		lm_json_set(o, "average", json_real(f.average));
		lm_json_set(o, "utilisation_pct",
		            f.utilisation >= 0 ? json_real(f.utilisation) : json_null());
		lm_json_set(o, "checkouts", lm_json_u64(r->checkouts));
		lm_json_set(o, "denied_no_seat", lm_json_u64(r->denied_no_seat));
		lm_json_set(o, "denied_policy", lm_json_u64(r->denied_policy));
		lm_json_set(o, "denied_other", lm_json_u64(r->denied_other));
		lm_json_append(rows, o);
	}
	for (size_t i = 0; i < u->nper_user; i++) {
		const struct lm_usage_user *p = &u->per_user[i];
		json_t *o = lm_json_object();
		lm_json_set(o, "user", lm_json_text(u->users[p->user]));
		lm_json_set(o, "feature", lm_json_text(u->features[p->feature].name));
		lm_json_set(o, "seat_hours", json_real(p->seat_us / 3600e6));
		lm_json_set(o, "checkouts", lm_json_u64(p->checkouts));
		lm_json_set(o, "denials", lm_json_u64(p->denials));
		lm_json_append(users, o);
	}
	for (size_t i = 0; i < u->nfeatures; i++) {
		char day[32];
		json_t *o = lm_json_object();
		lm_date_format(u->features[i].expiry_days == INT32_MAX ? LM_DATE_PERMANENT
		                                                       : u->features[i].expiry_days,
		               day, sizeof day);
		lm_json_set(o, "name", lm_json_text(u->features[i].name));
		lm_json_set(o, "issued", lm_json_u64(u->features[i].issued));
		lm_json_set(o, "expiry", lm_json_text(day));
		lm_json_append(features, o);
	}
	lm_json_set(doc, "usage", rows);
	lm_json_set(doc, "users", users);
	json_t *groups = lm_json_array();
	for (size_t i = 0; i < u->nper_group; i++) {
		const struct lm_usage_group *g = &u->per_group[i];
		json_t *o = lm_json_object();
		lm_json_set(o, "group", lm_json_text(g->group));
		lm_json_set(o, "feature", lm_json_text(u->features[g->feature].name));
		lm_json_set(o, "seat_hours", json_real(g->seat_us / 3600e6));
		lm_json_set(o, "checkouts", lm_json_u64(g->checkouts));
		lm_json_set(o, "denials", lm_json_u64(g->denials));
		lm_json_append(groups, o);
	}
	lm_json_set(doc, "groups", groups);
	lm_json_set(doc, "features", features);
	lm_json_set(doc, "gaps", lm_json_u64(u->gaps));
	lm_json_set(doc, "bad_records", lm_json_u64(u->bad_records));
	return lm_report_print(doc);
}

void lm_usage_sort(struct lm_usage *u)
{
	sorting = u;
	qsort(u->rows, u->nrows, sizeof *u->rows, row_order);
	qsort(u->per_user, u->nper_user, sizeof *u->per_user, user_order);
}

int lm_usage_print(const struct lm_usage *u, enum lm_usage_format format)
{
	switch (format) {
	case LM_FORMAT_CSV: print_csv(u); return 0;
	case LM_FORMAT_JSON: return print_json(u);
	case LM_FORMAT_HTML: return lm_usage_print_html(u);
	default: print_text(u); return 0;
	}
}
