/* The report log's writer (lmd/report_log.h) and checker (lmutil report
 * --verify): records chain from the anchor; a reopened log goes on from its
 * last record and skips the commands it holds; a record cut short by a
 * crash is cut off; a failing disk is counted, never fatal, and what it
 * cost is said in a "lost" record; rotation keeps one chain; bad UTF-8
 * stays valid JSON; --verify names the first record that does not hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/report_chain.h"
#include "lmd/report_log.h"
#include "tests/unit/helpers.h"
#include "tools/lmutil_report.h"
#include "tools/lmutil_report_record.h"

#define T0 INT64_C(1796040000000000) /* 2026-11-30T12:00:00Z */

static void quiet(void *arg, enum lm_log_level level, const char *event, const char *message)
{
	(void)arg, (void)level, (void)event, (void)message;
}

static struct lm_report_log *open_log(const char *path, uint64_t max_bytes)
{
	struct lm_report_log *r;
	struct lm_report_log_config cfg = {.path = path, .max_bytes = max_bytes};
	assert_int_equal(lm_report_log_open(&r, &cfg), 0);
	return r;
}

/* One command at index with one checkout record. */
static void checkout(struct lm_report_log *r, uint64_t index)
{
	lm_report_log_record(r, index, T0 + (int64_t)index * 1000000, "checkout");
	lm_report_log_str(r, "feature", "stats");
	lm_report_log_int(r, "count", 1);
	lm_report_log_commit(r);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void verify_ok(char **files, int n, uint64_t records)
{
	struct lm_chain_check chk;
	assert_int_equal(lm_report_verify(files, n, NULL, &chk), 0);
	if (!chk.ok)
		fail_msg("%s:%llu: %s", chk.file, (unsigned long long)chk.line, chk.problem);
	assert_int_equal(chk.records, records);
}

static void records_chain_from_the_anchor(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	lm_report_log_record(r, 7, T0, "checkout");
	lm_report_log_str(r, "user", "ann");
	lm_report_log_record(r, 7, T0, "issued");
	lm_report_log_int(r, "count", 5);
	lm_report_log_commit(r);
	lm_report_log_close(r);

	char *text = slurp(path);
	char first[512], hex[LM_REPORT_CHAIN_HEX + 1];
	assert_non_null(strchr(text, '\n'));
	snprintf(first, sizeof first, "%.*s", (int)(strchr(text, '\n') - text), text);
	assert_string_equal(
	        first,
	        "{\"seq\":1,\"index\":7,\"time\":\"2026-11-30T12:00:00.000000Z\","
	        "\"event\":\"checkout\",\"user\":\"ann\",\"prev\":\"" LM_REPORT_CHAIN_ANCHOR "\"}");
	lm_report_chain_hash(first, strlen(first), hex);
	assert_non_null(strstr(text, hex)); /* the second record names the first */
	verify_ok(&path, 1, 2);
	th_rmtree(dir);
	free(dir);
	free(path);
}

static void a_reopened_log_continues_and_skips_what_it_holds(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	for (uint64_t i = 1; i <= 5; i++)
		checkout(r, i);
	lm_report_log_close(r);

	r = open_log(path, 0);
	assert_int_equal(lm_report_log_last_index(r), 5);
	assert_false(lm_report_log_wants(r, 5));
	assert_true(lm_report_log_wants(r, 6));
	checkout(r, 4); /* replayed after a restart: not written again */
	checkout(r, 6);
	lm_report_log_close(r);
	assert_int_equal(count_lines(slurp(path)), 6);
	verify_ok(&path, 1, 6);
	th_rmtree(dir);
	free(dir);
	free(path);
}

static void a_record_cut_short_is_cut_off(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	checkout(r, 1);
	lm_report_log_close(r);
	FILE *f = fopen(path, "a");
	fputs("{\"seq\":2,\"index\":2,\"time\":\"2026-", f);
	fclose(f);
	struct lm_chain_check chk;
	assert_int_equal(lm_report_verify(&path, 1, NULL, &chk), 0);
	assert_false(chk.ok);
	assert_int_equal(chk.line, 2);
	assert_non_null(strstr(chk.problem, "cut short"));

	r = open_log(path, 0);
	assert_int_equal(lm_report_log_last_index(r), 1);
	checkout(r, 2);
	lm_report_log_close(r);
	verify_ok(&path, 1, 2);
	th_rmtree(dir);
	free(dir);
	free(path);
}

static void a_failing_disk_is_counted_and_the_loss_recorded(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *sub = strdup(th_path(dir, "later"));
	char path[4096];
	snprintf(path, sizeof path, "%s/usage.log", sub);
	struct lm_report_log *r = open_log(path, 0); /* its directory is missing */
	assert_int_equal(lm_report_log_errors(r), 1);
	checkout(r, 1);
	checkout(r, 2);
	assert_int_equal(lm_report_log_errors(r), 3);
	assert_int_equal(mkdir(sub, 0700), 0);
	checkout(r, 3);
	assert_int_equal(lm_report_log_errors(r), 3);
	lm_report_log_close(r);

	char *text = slurp(path), *p = path;
	assert_non_null(strstr(text, "\"index\":2,\"time\":\"2026-11-30T12:00:03.000000Z\","
	                             "\"event\":\"lost\",\"from_index\":1,\"to_index\":2"));
	assert_int_equal(count_lines(text), 2);
	verify_ok(&p, 1, 2);

	/* A full disk: every write fails, the server goes on. */
	r = open_log("/dev/full", 0);
	checkout(r, 1);
	lm_report_log_flush(r);
	checkout(r, 2);
	lm_report_log_flush(r);
	assert_true(lm_report_log_errors(r) >= 2);
	lm_report_log_close(r);
	th_rmtree(dir);
	free(dir);
	free(sub);
}

static void rotation_keeps_one_chain(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 4096);
	for (uint64_t i = 1; i <= 60; i++)
		checkout(r, i);
	lm_report_log_close(r);
	char *files[16];
	int n = 0;
	for (uint64_t seq = 1; seq <= 60; seq++) {
		char name[4200];
		snprintf(name, sizeof name, "%s.%012llu", path, (unsigned long long)seq);
		if (access(name, F_OK) == 0)
			files[n++] = strdup(name);
	}
	assert_true(n >= 2 && n < 15);
	files[n++] = path;
	verify_ok(files, n, 60);

	/* The live file emptied by a rotation: a restart reads the chain
	 * from the newest rotated file. */
	assert_int_equal(truncate(path, 0), 0);
	r = open_log(path, 4096);
	assert_true(lm_report_log_last_index(r) < 60);
	assert_true(lm_report_log_last_index(r) > 1);
	lm_report_log_close(r);
	for (int i = 0; i < n - 1; i++)
		free(files[i]);
	th_rmtree(dir);
	free(dir);
	free(path);
}

static void bad_utf8_stays_json(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	lm_report_log_record(r, 1, T0, "session_open");
	lm_report_log_strn(r, "user", "a\xff\"b\\\n\xc3\xa9", 8);
	lm_report_log_commit(r);
	lm_report_log_close(r);
	assert_non_null(strstr(slurp(path), "\"user\":\"a\\ufffd\\\"b\\\\\\u000a\xc3\xa9\""));
	th_rmtree(dir);
	free(dir);
	free(path);
}

static void verify_names_an_edit(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	for (uint64_t i = 1; i <= 4; i++)
		checkout(r, i);
	lm_report_log_close(r);
	char *text = slurp(path), *at = strstr(text, "\"index\":2,");
	at = strstr(at, "\"count\":1");
	at[8] = '2';
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	struct lm_chain_check chk;
	assert_int_equal(lm_report_verify(&path, 1, NULL, &chk), 0);
	assert_false(chk.ok);
	assert_int_equal(chk.line, 3);
	assert_int_equal(chk.records, 2);
	th_rmtree(dir);
	free(dir);
	free(path);
}

/* A snapshot installed past the log: the next records follow a "gap" that
 * names what the log will never hold; one the log is past changes
 * nothing. */
static void a_snapshot_past_the_log_leaves_a_gap(void **state)
{
	(void)state;
	char *dir = th_tempdir(), *path = strdup(th_path(dir, "usage.log"));
	struct lm_report_log *r = open_log(path, 0);
	checkout(r, 1);
	lm_report_log_skip_to(r, 10);
	assert_false(lm_report_log_wants(r, 1));
	checkout(r, 11);
	lm_report_log_skip_to(r, 5);
	checkout(r, 12);
	lm_report_log_close(r);
	char *text = slurp(path);
	assert_int_equal(count_lines(text), 4);
	assert_non_null(strstr(text,
	                       "{\"seq\":2,\"index\":10,\"time\":\"2026-11-30T12:00:11.000000Z\","
	                       "\"event\":\"gap\",\"from_index\":2,\"to_index\":10,"));
	assert_non_null(strstr(text, "{\"seq\":3,\"index\":11,"));
	assert_non_null(strstr(text, "{\"seq\":4,\"index\":12,"));
	verify_ok(&path, 1, 4);
	th_rmtree(dir);
	free(dir);
	free(path);
}

/* lmutil report's reader takes lmd's records in any key order and with
 * any escapes, and refuses what is not a flat object. */
static void the_summary_reads_records_as_json(void **state)
{
	(void)state;
	struct lm_usage_record rec = {0};
	const char *line = "{\"count\": 3, \"user\":\"a\\u00e9\\\"b\\ud83d\\ude00\","
	                   "\"event\":\"checkout\",\"x\":[1],\"handle\":42}";
	assert_false(lm_usage_record_parse(&rec, line, strlen(line)));
	line = "{\"count\": 3, \"user\":\"a\\u00e9\\\"b\\ud83d\\ude00\",\"ok\":true,"
	       "\"event\":\"checkout\",\"avg\":1.5e3,\"handle\":42}\n";
	assert_true(lm_usage_record_parse(&rec, line, strlen(line)));
	assert_int_equal(rec.count, 3);
	assert_int_equal(rec.handle, 42);
	assert_true(lm_usage_text_is(rec.event, "checkout"));
	assert_true(lm_usage_text_is(rec.user, "a\xc3\xa9\"b\xf0\x9f\x98\x80"));
	assert_int_equal(rec.feature.len, 0);
	line = "{\"event\":\"checkout\"";
	assert_false(lm_usage_record_parse(&rec, line, strlen(line)));
	line = "{\"event\":\"checkout\"} x";
	assert_false(lm_usage_record_parse(&rec, line, strlen(line)));
	assert_true(lm_usage_record_parse(&rec, "{}", 2));
	free(rec.scratch);
}

int main(void)
{
	lm_log_set_sink(quiet, NULL);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(records_chain_from_the_anchor),
	        cmocka_unit_test(a_reopened_log_continues_and_skips_what_it_holds),
	        cmocka_unit_test(a_record_cut_short_is_cut_off),
	        cmocka_unit_test(a_failing_disk_is_counted_and_the_loss_recorded),
	        cmocka_unit_test(rotation_keeps_one_chain),
	        cmocka_unit_test(a_snapshot_past_the_log_leaves_a_gap),
	        cmocka_unit_test(bad_utf8_stays_json),
	        cmocka_unit_test(verify_names_an_edit),
	        cmocka_unit_test(the_summary_reads_records_as_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
