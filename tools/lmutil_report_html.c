/* lmutil report --format html (lmutil_report.h): the text report's tables
 * and the three charts in one page that needs nothing else: the style is
 * inline and the charts are PNG data URLs, so the file can be mailed or
 * opened on an air-gapped site. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/lmutil_report.h"
#include "tools/report.h"

static void html_text(const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", stdout); break;
		case '>': fputs("&gt;", stdout); break;
		case '&': fputs("&amp;", stdout); break;
		case '"': fputs("&quot;", stdout); break;
		default: putchar(*s);
		}
}

static void base64(const unsigned char *p, size_t len)
{
	static const char digits[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		putchar(digits[v >> 18 & 63]);
		putchar(digits[v >> 12 & 63]);
		putchar(i + 1 < len ? digits[v >> 6 & 63] : '=');
		putchar(i + 2 < len ? digits[v & 63] : '=');
	}
}

static int chart(const struct lm_usage *u, enum lm_chart_kind kind, const char *alt)
{
	char *png, why[256];
	size_t len;
	if (lm_chart_draw(u, kind, LM_CHART_PNG, &png, &len, why, sizeof why) != 0) {
		lm_report_fail(LMC_EIO, "%s", why);
		return -1;
	}
	printf("<figure><img width=\"%d\" height=\"%d\" alt=\"%s\" src=\"data:image/png;base64,",
	       LM_CHART_WIDTH, LM_CHART_HEIGHT, alt);
	base64((const unsigned char *)png, len);
	printf("\"></figure>\n");
	free(png);
	return 0;
}

static void usage_table(const struct lm_usage *u)
{
	printf("<h2>Use per feature</h2>\n<table id=\"usage\">\n<tr><th>Period</th><th>Feature</th>"
	       "<th>Issued</th><th>Peak</th><th>Average</th><th>Use %%</th><th>Checkouts</th>"
	       "<th>No seat</th><th>Policy</th><th>Other</th></tr>\n");
	for (size_t i = 0; i < u->nrows; i++) {
		const struct lm_usage_row *r = &u->rows[i];
		struct lm_usage_figures f = lm_usage_figures(u, r);
		char label[32];
		lm_usage_period_label(u, r->start_us, label, sizeof label);
		printf("<tr><td>%s</td><td>", label);
		html_text(u->features[r->feature].name);
		printf("</td><td>%" PRIu32 "</td><td>%" PRIu32 "</td><td>%.2f</td>", r->issued,
		       r->peak, f.average);
		if (f.utilisation >= 0)
			printf("<td>%.1f</td>", f.utilisation);
		else
			printf("<td>-</td>");
		printf("<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		       "</td></tr>\n",
		       r->checkouts, r->denied_no_seat, r->denied_policy, r->denied_other);
	}
	printf("</table>\n");
}

static void holders_table(const struct lm_usage *u, bool groups)
{
	size_t n = groups ? u->nper_group : u->nper_user;
	if (groups && n == 0)
		return;
	printf("<h2>Use per %s</h2>\n<table id=\"%s\">\n<tr><th>%s</th><th>Feature</th>"
	       "<th>Seat-hours</th><th>Checkouts</th><th>Denials</th></tr>\n",
	       groups ? "group" : "user", groups ? "groups" : "users", groups ? "Group" : "User");
	for (size_t i = 0; i < n; i++) {
		const char *who;
		uint32_t feature;
		double seat_us;
		uint64_t checkouts, denials;
		if (groups) {
			const struct lm_usage_group *g = &u->per_group[i];
			who = g->group;
			feature = g->feature;
			seat_us = g->seat_us;
			checkouts = g->checkouts;
			denials = g->denials;
		} else {
			const struct lm_usage_user *p = &u->per_user[i];
			who = lm_usage_user_name(u, p->user);
			feature = p->feature;
			seat_us = p->seat_us;
			checkouts = p->checkouts;
			denials = p->denials;
		}
		printf("<tr><td>");
		html_text(who);
		printf("</td><td>");
		html_text(u->features[feature].name);
		printf("</td><td>%.2f</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
		       seat_us / 3600e6, checkouts, denials);
	}
	printf("</table>\n");
}

static void expiry_list(const struct lm_usage *u)
{
	bool any = false;
	for (size_t i = 0; i < u->nfeatures; i++) {
		char day[32];
		if (u->features[i].expiry_days == INT32_MAX)
			continue;
		if (!any)
			printf("<h2>Expiring licenses</h2>\n<ul id=\"expiry\">\n");
		any = true;
		lm_date_format(u->features[i].expiry_days, day, sizeof day);
		printf("<li>");
		html_text(u->features[i].name);
		printf(" expires %s</li>\n", day);
	}
	if (any)
		printf("</ul>\n");
}

int lm_usage_print_html(const struct lm_usage *u)
{
	char from[32] = "-", to[32] = "-";
	if (u->records) {
		int64_t a = u->first_us > u->q.from_us ? u->first_us : u->q.from_us;
		int64_t b = u->last_us < u->q.to_us ? u->last_us : u->q.to_us;
		lm_usage_format_time(a, from, sizeof from);
		lm_usage_format_time(b, to, sizeof to);
	}
	printf("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<title>lmd usage report %s to %s</title>\n"
	       "<style>\n"
	       "body{font-family:sans-serif;margin:2em;color:#222;max-width:960px}\n"
	       "table{border-collapse:collapse;margin:0 0 1.5em}\n"
	       "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}\n"
	       "th{background:#eee}td:nth-child(-n+2){text-align:left}\n"
	       "figure{margin:0 0 1em}img{max-width:100%%;height:auto;border:1px solid #ddd}\n"
	       ".warn{color:#a40}\n"
	       "</style>\n</head>\n<body>\n<h1>License usage</h1>\n"
	       "<p>From %s to %s, %" PRIu64 " records.</p>\n",
	       from, to, from, to, u->records);
	if (chart(u, LM_CHART_USE, "Seats in use over time per feature, with the seats licensed") ||
	    chart(u, LM_CHART_DENIALS,
	          "Denials per day: no seat free, refused by options, other") ||
	    chart(u, LM_CHART_USERS, "Top users by seat-hours"))
		return -1;
	usage_table(u);
	holders_table(u, false);
	holders_table(u, true);
	expiry_list(u);
	if (u->gaps)
		printf("<p class=\"warn\">warning: %" PRIu64 " gap or lost records: the log misses "
		       "commands (see lmd(8))</p>\n",
		       u->gaps);
	if (u->bad_records)
		printf("<p class=\"warn\">warning: %" PRIu64 " lines are not records</p>\n",
		       u->bad_records);
	printf("</body>\n</html>\n");
	return fflush(stdout) == 0 ? 0 : -1;
}
