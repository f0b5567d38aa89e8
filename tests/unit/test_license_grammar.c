/* The FlexLM grammar real license files use: count 0, two-digit and year-0
 * dates, positional license keys, VENDOR_STRING, ISSUER, TS_OK, vendor
 * attributes, escaped quotes, HOSTID=ANY and DEMO, USE_SERVER; the
 * keywords lmd does not implement, refused; and the canonical text of
 * lines without any of these, pinned byte for byte. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"

/* A server's and a workstation's lock codes, printed; set by setup(). */
static char SERVER_CODE[LM_LOCKCODE_TEXT_MAX], HOST_CODE[LM_LOCKCODE_TEXT_MAX];

static void code_text(unsigned present, uint32_t seed, char *buf)
{
	struct lm_lockcode c = {.present = (uint16_t)present};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		if (present & (1u << i))
			c.digest[i] = (seed * 2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, buf, LM_LOCKCODE_TEXT_MAX), 0);
}

static int setup(void **state)
{
	(void)state;
	code_text(0x3f, 1, SERVER_CODE);
	code_text(0x2b, 4, HOST_CODE);
	return 0;
}

/* A file of one SERVER line, a VENDOR line and `line`. */
static int parse_with_server(const char *line, struct lm_license_file *f,
                             struct lm_parse_error *err)
{
	char text[LM_LINE_MAX];
	snprintf(text, sizeof text, "SERVER lic1 %s 27000\nVENDOR acme\n%s\n", SERVER_CODE, line);
	return lm_license_parse(text, strlen(text), f, err);
}

static void parse_ok(const char *line, struct lm_license_file *f)
{
	struct lm_parse_error err;
	int rc = parse_with_server(line, f, &err);
	if (rc != 0)
		fail_msg("refused (%d) line %d: %s\n  %s", rc, err.lineno, err.message, line);
	assert_int_equal(f->nlines, 1);
}

/* The parse fails with the sentence containing `want`, on line 3. */
static void parse_refused(const char *line, const char *want)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	int rc = parse_with_server(line, &f, &err);
	if (rc == 0)
		fail_msg("accepted: %s", line);
	if (!strstr(err.message, want))
		fail_msg("message '%s' lacks '%s'", err.message, want);
	assert_int_equal(err.lineno, 3);
}

static const char *canon(const struct lm_license_file *f, const struct lm_license *l)
{
	static char buf[LM_LINE_MAX + 1];
	assert_true(lm_license_canonical(f, l, buf, sizeof buf) > 0);
	return buf;
}

/* The canonical text reads back as the same line, unchanged. */
static void canonical_reads_back(const struct lm_license_file *f, const struct lm_license *l)
{
	struct lm_license back;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int ncodes;
	struct lm_parse_error err;
	char text[LM_LINE_MAX + 1];
	strcpy(text, canon(f, l));
	if (lm_license_parse_canonical(text, &back, codes, &ncodes, &err) != 0)
		fail_msg("canonical text does not read back: %s\n  %s", err.message, text);
	assert_string_equal(canon(f, &back), text);
}

/* ---- Signed text that must never change --------------------------------- */

/* Every license signed so far verifies only while the canonical text of its
 * line stays byte for byte what it was: lines without the new grammar are
 * pinned here as literal text. */
static void test_canonical_of_existing_lines_is_pinned(void **state)
{
	(void)state;
	struct lm_license_file f;
	char line[512], want[1024];
	parse_ok("FEATURE stats acme 29.0 31-dec-2027 25 START=2025-01-01 ISSUED=15-dec-2024 "
	         "NOTICE=\"Acme Corp, Lab 4\" SN=SN-0042 BORROW=72 NAMED_USERS=20",
	         &f);
	snprintf(want, sizeof want,
	         "FEATURE stats acme 29.0 2027-12-31 25 START=\"2025-01-01\" "
	         "ISSUED=\"2024-12-15\" NOTICE=\"Acme Corp, Lab 4\" NAMED_USERS=\"20\" "
	         "BORROW=\"72\" SN=\"SN-0042\" SERVER_CODES=\"%s\"",
	         SERVER_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	lm_license_free(&f);

	snprintf(line, sizeof line,
	         "INCREMENT plot acme 1.2 permanent uncounted HOSTID=%s HOST_DESC=\"C:\\lab\\\"",
	         HOST_CODE);
	parse_ok(line, &f);
	snprintf(want, sizeof want,
	         "INCREMENT plot acme 1.2 permanent uncounted HOSTID=\"%s\" "
	         "HOST_DESC=\"C:\\lab\\\"",
	         HOST_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);

	parse_ok("PACKAGE suite acme 2.0 COMPONENTS=\"a  b c\" OPTIONS=suite", &f);
	assert_string_equal(canon(&f, &f.lines[0]),
	                    "PACKAGE suite acme 2.0 COMPONENTS=\"a b c\" OPTIONS=\"SUITE\"");
	lm_license_free(&f);
}

/* ---- Counts and dates --------------------------------------------------- */

static void test_count_zero_is_uncounted(void **state)
{
	(void)state;
	struct lm_license_file f;
	char line[256], want[512];
	snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 0 HOSTID=%s", HOST_CODE);
	parse_ok(line, &f);
	assert_true(f.lines[0].uncounted);
	assert_int_equal(f.lines[0].count, 0);
	/* Signed as if it said uncounted: the same license either way. */
	snprintf(want, sizeof want, "FEATURE f1 acme 1.0 permanent uncounted HOSTID=\"%s\"",
	         HOST_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	lm_license_free(&f);

	/* An uncounted line still needs a HOSTID. */
	parse_refused("FEATURE f1 acme 1.0 permanent 0", "no HOSTID");
	parse_refused("FEATURE f1 acme 1.0 permanent 00", "count '00' is invalid");
	parse_refused("FEATURE f1 acme 1.0 permanent -1", "count '-1' is invalid");
}

static void test_flexlm_dates_on_lines(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE f1 acme 1.0 1-jan-99 5 ISSUED=19-Apr-23", &f);
	assert_int_equal(f.lines[0].expiry, lm_date_from_ymd(1999, 1, 1));
	assert_int_equal(f.lines[0].issued, lm_date_from_ymd(2023, 4, 19));
	lm_license_free(&f);

	const char *forever[] = {"1-jan-0", "01-jan-0000", "1-jan-00", "31-dec-000"};
	for (size_t i = 0; i < sizeof forever / sizeof forever[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "INCREMENT f1 acme 1.0 %s 10", forever[i]);
		parse_ok(line, &f);
		assert_int_equal(f.lines[0].expiry, LM_DATE_PERMANENT);
		lm_license_free(&f);
	}
	/* A year 0 START or ISSUED is no date at all. */
	parse_refused("FEATURE f1 acme 1.0 permanent 5 START=1-jan-0", "START='1-jan-0'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_canonical_of_existing_lines_is_pinned),
	        cmocka_unit_test(test_count_zero_is_uncounted),
	        cmocka_unit_test(test_flexlm_dates_on_lines),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
