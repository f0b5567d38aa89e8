/* Dates in license files: the spellings vendors and FlexLM files use, the
 * dates that do not exist, and days counted from 1970. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/date.h"
#include "core/error.h"

static int32_t parsed(const char *text)
{
	int32_t days = 12345;
	assert_int_equal(lm_date_parse(text, &days), 0);
	return days;
}

static void refused(const char *text)
{
	int32_t days = 12345;
	assert_int_equal(lm_date_parse(text, &days), LMC_ESYNTAX);
	/* A refused date leaves the output alone. */
	assert_int_equal(days, 12345);
}

static void test_epoch_and_known_days(void **state)
{
	assert_int_equal(lm_date_from_ymd(1970, 1, 1), 0);
	assert_int_equal(lm_date_from_ymd(1970, 1, 2), 1);
	assert_int_equal(lm_date_from_ymd(1971, 1, 1), 365);
	/* 2000 is a leap year (divisible by 400), 1900 and 2100 are not. */
	assert_int_equal(lm_date_from_ymd(2000, 3, 1) - lm_date_from_ymd(2000, 2, 28), 2);
	assert_int_equal(lm_date_from_ymd(2100, 3, 1) - lm_date_from_ymd(2100, 2, 28), 1);
	assert_int_equal(lm_date_from_ymd(1900, 3, 1) - lm_date_from_ymd(1900, 2, 28), 1);
	/* Checked with `date -u -d 2024-02-29 +%s` divided by 86400. */
	assert_int_equal(lm_date_from_ymd(2024, 2, 29), 19782);
	assert_int_equal(lm_date_from_ymd(2038, 1, 19), 24855);
	assert_int_equal(lm_date_from_ymd(9999, 12, 31), 2932896);
	/* Before the epoch the count goes negative. */
	assert_int_equal(lm_date_from_ymd(1969, 12, 31), -1);
	assert_int_equal(lm_date_from_ymd(1, 1, 1), -719162);
}

static void test_iso(void **state)
{
	assert_int_equal(parsed("1970-01-01"), 0);
	assert_int_equal(parsed("2027-12-31"), lm_date_from_ymd(2027, 12, 31));
	assert_int_equal(parsed("2024-02-29"), 19782);
	assert_int_equal(parsed("9999-12-31"), 2932896);
}

static void test_flexlm_spelling(void **state)
{
	int32_t d = lm_date_from_ymd(2027, 12, 31);
	assert_int_equal(parsed("31-dec-2027"), d);
	assert_int_equal(parsed("31-DEC-2027"), d);
	assert_int_equal(parsed("31-Dec-2027"), d);
	assert_int_equal(parsed("1-jan-2027"), lm_date_from_ymd(2027, 1, 1));
	assert_int_equal(parsed("01-jan-2027"), lm_date_from_ymd(2027, 1, 1));
	assert_int_equal(parsed("29-feb-2028"), lm_date_from_ymd(2028, 2, 29));
	const char *months[] = {"jan", "feb", "mar", "apr", "may", "jun",
	                        "jul", "aug", "sep", "oct", "nov", "dec"};
	for (int m = 0; m < 12; m++) {
		char text[32];
		snprintf(text, sizeof text, "15-%s-2030", months[m]);
		assert_int_equal(parsed(text), lm_date_from_ymd(2030, m + 1, 15));
	}
}

static void test_permanent(void **state)
{
	assert_int_equal(parsed("permanent"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("PERMANENT"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("Permanent"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("0"), LM_DATE_PERMANENT);
	/* FlexLM's year-0 spellings of "never expires". */
	assert_int_equal(parsed("1-jan-0"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("1-jan-00"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("1-jan-0000"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("01-jan-0000"), LM_DATE_PERMANENT);
	/* FlexLM's End User Guide: any date whose year is 0, 00, 000 or
	 * 0000 never expires. */
	assert_int_equal(parsed("1-jan-000"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("2-jan-0"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("31-dec-00"), LM_DATE_PERMANENT);
	assert_int_equal(parsed("29-feb-0"), LM_DATE_PERMANENT);
	/* but the day must still exist in that month */
	refused("32-jan-0");
	refused("31-apr-0000");
	refused("0-jan-0");
}

/* Licenses from before 2000 write two-digit years: 70..99 are 19xx, 01..69
 * are 20xx (POSIX %y), so none falls before 1970. */
static void test_two_digit_years(void **state)
{
	assert_int_equal(parsed("1-jan-99"), lm_date_from_ymd(1999, 1, 1));
	assert_int_equal(parsed("31-dec-70"), lm_date_from_ymd(1970, 12, 31));
	assert_int_equal(parsed("1-jan-70"), 0);
	assert_int_equal(parsed("15-mar-01"), lm_date_from_ymd(2001, 3, 15));
	assert_int_equal(parsed("31-dec-69"), lm_date_from_ymd(2069, 12, 31));
	assert_int_equal(parsed("29-feb-04"), lm_date_from_ymd(2004, 2, 29));
	assert_int_equal(parsed("31-dec-27"), lm_date_from_ymd(2027, 12, 31));
	refused("29-feb-99"); /* 1999 is not a leap year */
	refused("1-jan-9");   /* one digit other than 0 is not a year */
	refused("1-jan-199"); /* nor are three */
}

static void test_impossible_dates(void **state)
{
	refused("2027-02-30");
	refused("2027-02-29"); /* 2027 is not a leap year */
	refused("2100-02-29"); /* nor is 2100 */
	refused("2027-13-01");
	refused("2027-00-10");
	refused("2027-04-31");
	refused("2027-01-00");
	refused("30-feb-2028");
	refused("31-apr-2027");
	refused("0-jan-2027");
	refused("32-jan-2027");
}

static void test_out_of_range_years(void **state)
{
	refused("1969-12-31");
	refused("0001-01-01");
	refused("31-dec-1969");
	refused("10000-01-01");
}

static void test_malformed(void **state)
{
	refused("");
	refused("permanently");
	refused("perm");
	refused("00");
	refused("2027-1-1");
	refused("2027/12/31");
	refused("27-12-31");
	refused(" 2027-12-31");
	refused("2027-12-31 ");
	refused("2027-12-3x");
	refused("31-december-2027");
	refused("31-dez-2027");
	refused("31-dec-2");
	refused("31-dec-20277");
	refused("31dec2027");
	refused("123-dec-2027");
	refused("-dec-2027");
	refused("31-dec-");
	refused("tomorrow");
}

static void test_format(void **state)
{
	char buf[32];
	lm_date_format(0, buf, sizeof buf);
	assert_string_equal(buf, "1970-01-01");
	lm_date_format(19782, buf, sizeof buf);
	assert_string_equal(buf, "2024-02-29");
	lm_date_format(lm_date_from_ymd(2027, 12, 31), buf, sizeof buf);
	assert_string_equal(buf, "2027-12-31");
	lm_date_format(2932896, buf, sizeof buf);
	assert_string_equal(buf, "9999-12-31");
	lm_date_format(LM_DATE_PERMANENT, buf, sizeof buf);
	assert_string_equal(buf, "permanent");
	lm_date_format(LM_DATE_NONE, buf, sizeof buf);
	assert_string_equal(buf, "none");
	lm_date_format(-1, buf, sizeof buf);
	assert_string_equal(buf, "1969-12-31");
	/* A short buffer is truncated, never overrun. */
	char small[5] = "xxxx";
	lm_date_format(0, small, sizeof small);
	assert_string_equal(small, "1970");
}

/* Every day from 1970 to 9999 formats to a text that parses back to it, and
 * consecutive days format to consecutive calendar dates. */
static void test_round_trip_every_day(void **state)
{
	char buf[32];
	int y = 1970, m = 1, d = 1;
	const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int32_t day = 0; day <= 2932896; day++) {
		char want[32];
		int n = snprintf(want, sizeof want, "%04d-%02d-%02d", y, m, d);
		assert_true(n > 0 && (size_t)n < sizeof want);
		lm_date_format(day, buf, sizeof buf);
		if (strcmp(buf, want) != 0)
			fail_msg("day %d formats as %s, expected %s", (int)day, buf, want);
		int32_t back;
		assert_int_equal(lm_date_parse(buf, &back), 0);
		assert_int_equal(back, day);
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (++d > mdays[m - 1] + (m == 2 && leap)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	assert_int_equal(y, 10000);
}

static void test_today(void **state)
{
	int32_t today = lm_date_today();
	time_t now = time(NULL);
	/* Allow for the day changing between the two calls. */
	assert_true(today == now / 86400 || today == now / 86400 - 1);
	assert_true(today > lm_date_from_ymd(2024, 1, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_epoch_and_known_days),
	        cmocka_unit_test(test_iso),
	        cmocka_unit_test(test_flexlm_spelling),
	        cmocka_unit_test(test_two_digit_years),
	        cmocka_unit_test(test_permanent),
	        cmocka_unit_test(test_impossible_dates),
	        cmocka_unit_test(test_out_of_range_years),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_round_trip_every_day),
	        cmocka_unit_test(test_today),
	};
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
