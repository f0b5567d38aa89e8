/* lmutil report: verifies lmd's usage report log, or summarises it per
 * feature and period (lmutil_report.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/options.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_report.h"
#include "tools/report.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil report --verify [--anchor HEX] [--json] LOG...\n"
	        "       lmutil report [--from T] [--to T] [--feature F] [--by hour|day|month]\n"
	        "                     [--format text|csv|json|html] [--options FILE]\n"
	        "                     [--chart FILE.png|FILE.svg [--chart-kind "
	        "use|denials|users]]\n"
	        "                     LOG...\n"
	        "Reads lmd's usage report log (lmd --report-log, REPORTLOG); give rotated\n"
	        "files oldest first (LOG.* LOG). --verify checks the hash chain and names the\n"
	        "first broken record; exit 1 when the log was edited, cut or has lost records.\n"
	        "Otherwise prints, per feature and period, the peak and average seats in use,\n"
	        "the utilisation of the seats issued, checkouts and denials (no seat free,\n"
	        "refused by the options file, other), then the seat-hours of each user, and\n"
	        "with --options those of each GROUP of that options file.  html is one page\n"
	        "with those tables and the three charts, needing no other file.\n"
	        "--chart draws one chart (900x400) into FILE: use (seats in use over time per\n"
	        "feature and the seats licensed; the default), denials (per day: no seat free\n"
	        "apart from policy refusals) or users (the most seat-hours); it prints the\n"
	        "summary too only when --format is given.\n"
	        "T is YYYY-MM-DD[THH[:MM[:SS]]] in UTC; --from is inclusive, --to exclusive.\n");
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = 10 * v + (s[i] - '0');
	return v;
}

bool lm_usage_parse_time(const char *s, size_t len, int64_t *us)
{
	if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return false;
	struct tm tm = {
	        .tm_year = num(s, 4) - 1900, .tm_mon = num(s + 5, 2) - 1, .tm_mday = num(s + 8, 2)};
	size_t i = 10;
	int64_t frac = 0;
	/* HH, :MM, :SS, then .ffffff: each part optional after the one before. */
	if (i < len && (s[i] == 'T' || s[i] == ' ')) {
		int *parts[] = {&tm.tm_hour, &tm.tm_min, &tm.tm_sec};
		i++;
		for (int k = 0; k < 3 && i + 2 <= len && digits(s + i, 2); k++) {
			*parts[k] = num(s + i, 2);
			i += 2;
			if (k < 2 && i < len && s[i] == ':')
				i++;
			else
				break;
		}
		if (i < len && s[i] == '.') {
			int64_t scale = 100000;
			for (i++; i < len && digits(s + i, 1); i++, scale /= 10)
				frac += (s[i] - '0') * scale;
		}
	}
	if (i < len && s[i] == 'Z')
		i++;
	if (i != len || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	*us = (int64_t)timegm(&tm) * 1000000 + frac;
	return true;
}

void lm_usage_format_time(int64_t us, char *buf, size_t size)
{
	time_t secs = (time_t)(us / 1000000 - (us % 1000000 < 0));
	struct tm tm;
	if (!gmtime_r(&secs, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "?");
}

static int write_chart(const struct lm_usage *u, const char *path, enum lm_chart_kind kind)
{
	enum lm_chart_type type;
	char *data, why[256];
	size_t len;
	lm_chart_type_of(path, &type);
	if (lm_chart_draw(u, kind, type, &data, &len, why, sizeof why) != 0) {
		lm_report_fail(LMC_EIO, "%s", why);
		return -1;
	}
	FILE *f = fopen(path, "w");
	bool ok = f && fwrite(data, 1, len, f) == len;
	int err = errno;
	if (f && fclose(f) != 0 && ok) {
		ok = false;
		err = errno;
	}
	free(data);
	if (!ok) {
		lm_report_fail(LMC_EIO, "--chart %s: cannot write it: %s", path, strerror(err));
		return -1;
	}
	return 0;
}

static int verify(char **files, int nfiles, const char *anchor)
{
	struct lm_chain_check chk;
	if (lm_report_verify(files, nfiles, anchor, &chk) != 0) {
		lm_report_fail(LMC_EIO, "%s", chk.problem);
		return 2;
	}
	if (lm_report_is_json()) {
		json_t *o = lm_json_object();
		lm_json_set(o, "ok", lm_json_bool(chk.ok));
		lm_json_set(o, "records", lm_json_u64(chk.records));
		if (chk.ok) {
			lm_json_set(o, "head", lm_json_text(chk.head));
		} else {
			lm_json_set(o, "file", lm_json_text(chk.file));
			lm_json_set(o, "line", lm_json_u64(chk.line));
			lm_json_set(o, "problem", lm_json_text(chk.problem));
		}
		lm_report_print(o);
	} else if (chk.ok) {
		printf("ok: %" PRIu64 " records in %d file%s chain from the anchor; the last "
		       "record's sha256 is %s\n",
		       chk.records, nfiles, nfiles == 1 ? "" : "s", chk.head);
	} else {
		printf("%s:%" PRIu64 ": %s\n", chk.file, chk.line, chk.problem);
	}
	return chk.ok ? 0 : 1;
}

static bool parse_by(const char *s, enum lm_usage_period *by)
{
	static const char *names[] = {"hour", "day", "month"};
	static const enum lm_usage_period values[] = {LM_BY_HOUR, LM_BY_DAY, LM_BY_MONTH};
	for (size_t i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			*by = values[i];
			return true;
		}
	return false;
}

static bool parse_format(const char *s, enum lm_usage_format *f)
{
	static const char *names[] = {"text", "csv", "json", "html"};
	static const enum lm_usage_format values[] = {LM_FORMAT_TEXT, LM_FORMAT_CSV, LM_FORMAT_JSON,
	                                              LM_FORMAT_HTML};
	for (size_t i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*f = values[i];
			return true;
		}
	return false;
}

int lm_cmd_report(int argc, char **argv)
{
	static const struct option options[] = {
	        {"verify", no_argument, NULL, 'v'},
	        {"anchor", required_argument, NULL, 'a'},
	        {"json", no_argument, NULL, 'j'},
	        {"from", required_argument, NULL, 'f'},
	        {"to", required_argument, NULL, 't'},
	        {"feature", required_argument, NULL, 'F'},
	        {"by", required_argument, NULL, 'b'},
	        {"format", required_argument, NULL, 'o'},
	        {"options", required_argument, NULL, 'O'},
	        {"chart", required_argument, NULL, 'c'},
	        {"chart-kind", required_argument, NULL, 'k'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lm_usage_query q = {.from_us = INT64_MIN, .to_us = INT64_MAX, .by = LM_BY_ALL};
	enum lm_usage_format format = LM_FORMAT_TEXT;
	enum lm_chart_kind kind = LM_CHART_USE;
	enum lm_chart_type type;
	bool check = false, format_given = false, kind_given = false;
	const char *anchor = NULL, *options_path = NULL, *chart_path = NULL;
	int opt;

	lm_report_begin("report");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'v': check = true; break;
		case 'a':
			anchor = optarg;
			if (strlen(anchor) != LM_REPORT_CHAIN_HEX ||
			    strspn(anchor, "0123456789abcdef") != LM_REPORT_CHAIN_HEX) {
				lm_report_fail(LMC_EINVAL,
				               "--anchor wants 64 lowercase hex digits");
				return 2;
			}
			break;
		case 'j':
			lm_report_json();
			format = LM_FORMAT_JSON;
			format_given = true;
			break;
		case 'f':
		case 't':
			if (!lm_usage_parse_time(optarg, strlen(optarg),
			                         opt == 'f' ? &q.from_us : &q.to_us)) {
				lm_report_fail(LMC_EINVAL,
				               "--%s %s: write YYYY-MM-DD[THH[:MM[:SS]]]",
				               opt == 'f' ? "from" : "to", optarg);
				return 2;
			}
			break;
		case 'F': q.feature = optarg; break;
		case 'O': options_path = optarg; break;
		case 'b':
			if (!parse_by(optarg, &q.by)) {
				lm_report_fail(LMC_EINVAL, "--by is hour, day or month, not %s",
				               optarg);
				return 2;
			}
			break;
		case 'o':
			if (!parse_format(optarg, &format)) {
				lm_report_fail(LMC_EINVAL,
				               "--format is text, csv, json or html, not %s",
				               optarg);
				return 2;
			}
			format_given = true;
			if (format == LM_FORMAT_JSON)
				lm_report_json();
			break;
		case 'c':
			chart_path = optarg;
			if (!lm_chart_type_of(chart_path, &type)) {
				lm_report_fail(LMC_EINVAL,
				               "--chart %s: name a .png or a .svg file (the name "
				               "says which to draw)",
				               optarg);
				return 2;
			}
			break;
		case 'k':
			if (!lm_chart_kind_parse(optarg, &kind)) {
				lm_report_fail(LMC_EINVAL,
				               "--chart-kind is use, denials or users, not %s",
				               optarg);
				return 2;
			}
			kind_given = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	if (kind_given && !chart_path) {
		lm_report_fail(LMC_EINVAL, "--chart-kind wants --chart FILE");
		return 2;
	}
	if (check)
		return verify(argv + optind, argc - optind, anchor);
	if (q.from_us >= q.to_us) {
		lm_report_fail(LMC_EINVAL, "--from must come before --to");
		return 2;
	}
	struct lm_options *o = NULL;
	if (options_path) {
		struct lm_opt_diags diags = {0};
		int orc = lm_options_load(options_path, NULL, &o, &diags);
		lm_opt_diags_free(&diags);
		if (orc != 0) {
			lm_report_fail(orc, "%s: not a valid options file (see lmutil lmoptcheck)",
			               options_path);
			return 2;
		}
	}
	struct lm_usage u;
	int rc = lm_usage_read(&u, &q, argv + optind, argc - optind);
	if (rc == 0 && o)
		rc = lm_usage_groups(&u, o);
	if (rc == 0)
		lm_usage_sort(&u);
	if (rc == 0 && chart_path)
		rc = write_chart(&u, chart_path, kind);
	if (rc == 0 && (format_given || !chart_path))
		rc = lm_usage_print(&u, format);
	if (chart_path || format == LM_FORMAT_HTML)
		lm_chart_release();
	lm_usage_free(&u);
	lm_options_free(o);
	return rc == 0 ? 0 : 2;
}
