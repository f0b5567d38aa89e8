/* Calendar dates in license files.
 *
 * A date is a whole number of days since 1970-01-01 in the proleptic
 * Gregorian calendar, so that comparing two dates is comparing two integers
 * and no time zone ever enters a license decision. */
#include "core/date.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/error.h"
#include "core/limits.h"

/* The years a license file may name (LM_DATE_YEAR_MIN..MAX): nothing before
 * the epoch, and four digits are what every spelling we accept can hold. */

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};

/* Days before the first of each month in a common year. */
static const int days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

/* Division rounding towards minus infinity, so that the formulas below hold
 * for years before 1 as well ("no range checks" in date.h). */
static long long floor_div(long long a, long long b)
{
	long long q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return len[m - 1] + (m == 2 && is_leap(y));
}

/* Leap years among the years up to and including y, counted from an
 * arbitrary origin: only differences of this function are used. */
static long long leaps_through(long long y)
{
	return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

int32_t lm_date_from_ymd(int y, int m, int d)
{
	long long days = 365LL * (y - 1970) + leaps_through((long long)y - 1) - leaps_through(1969);
	if (m >= 1 && m <= 12) {
		days += days_before_month[m - 1];
		if (m > 2 && is_leap(y))
			days++;
	}
	days += d - 1;
	return (int32_t)days;
}

/* The inverse of lm_date_from_ymd.  The first guess for the year uses the
 * mean Gregorian year (146097 days per 400 years) and is off by at most one,
 * which the two loops correct. */
static void ymd_from_days(int32_t days, int *y, int *m, int *d)
{
	long long year = 1970 + floor_div((long long)days * 400, 146097);
	while (lm_date_from_ymd((int)year, 1, 1) > days)
		year--;
	while (lm_date_from_ymd((int)year + 1, 1, 1) <= days)
		year++;
	int doy = days - lm_date_from_ymd((int)year, 1, 1);
	int month = 1;
	while (month < 12 && doy >= days_in_month(year, month)) {
		doy -= days_in_month(year, month);
		month++;
	}
	*y = (int)year;
	*m = month;
	*d = doy + 1;
}

/* Reads exactly n decimal digits. */
static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int checked(int y, int m, int d, int32_t *days)
{
	if (y < LM_DATE_YEAR_MIN || y > LM_DATE_YEAR_MAX || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return LMC_ESYNTAX;
	*days = lm_date_from_ymd(y, m, d);
	return 0;
}

/* "2027-12-31": exactly four, two and two digits. */
static int parse_iso(const char *t, int32_t *days)
{
	int y, m, d;
	if (strlen(t) != 10 || t[4] != '-' || t[7] != '-' || !digits(t, 4, &y) ||
	    !digits(t + 5, 2, &m) || !digits(t + 8, 2, &d))
		return LMC_ESYNTAX;
	return checked(y, m, d, days);
}

/* FlexLM's "31-dec-2027" or "1-jan-2027": a day of one or two digits, a
 * three-letter month name in any case, and a year.  FlexLM's End User Guide
 * (appendix B) says a license whose year is 0, written "0", "00", "000" or
 * "0000", never expires, whatever the day and month ("1-jan-0" is what
 * generators write).  Licenses from before 2000 write two-digit years
 * ("1-jan-99"); they are read with the pivot POSIX strptime's %y uses, 70
 * to 99 as 19xx and 01 to 69 as 20xx, so that no date falls before 1970. */
static int parse_flexlm(const char *t, int32_t *days)
{
	const char *dash1 = strchr(t, '-');
	if (!dash1)
		return LMC_ESYNTAX;
	size_t dlen = (size_t)(dash1 - t);
	int d;
	if (dlen < 1 || dlen > 2 || !digits(t, dlen, &d))
		return LMC_ESYNTAX;
	const char *mon = dash1 + 1;
	if (strlen(mon) < 4 || mon[3] != '-')
		return LMC_ESYNTAX;
	int m = 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(mon, month_names[i], 3) == 0) {
			m = i + 1;
			break;
		}
	}
	if (!m)
		return LMC_ESYNTAX;
	const char *year = mon + 4;
	size_t ylen = strlen(year);
	int y;
	if (ylen == 0 || ylen > 4 || !digits(year, ylen, &y))
		return LMC_ESYNTAX;
	if (y == 0) {
		/* Still a real day of that month (2000 is a leap year, so
		 * 29-feb-0 passes as FlexLM lets it). */
		if (d < 1 || d > days_in_month(2000, m))
			return LMC_ESYNTAX;
		*days = LM_DATE_PERMANENT;
		return 0;
	}
	if (ylen == 2)
		y += y >= 70 ? 1900 : 2000;
	else if (ylen != 4)
		return LMC_ESYNTAX;
	return checked(y, m, d, days);
}

int lm_date_parse(const char *text, int32_t *days)
{
	if (!text || !*text)
		return LMC_ESYNTAX;
	if (strcasecmp(text, "permanent") == 0 || strcmp(text, "0") == 0) {
		*days = LM_DATE_PERMANENT;
		return 0;
	}
	if (isdigit((unsigned char)text[0]) && strlen(text) == 10 && text[4] == '-')
		return parse_iso(text, days);
	return parse_flexlm(text, days);
}

void lm_date_format(int32_t days, char *buf, size_t size)
{
	if (!size)
		return;
	if (days == LM_DATE_PERMANENT) {
		snprintf(buf, size, "permanent");
		return;
	}
	if (days == LM_DATE_NONE) {
		snprintf(buf, size, "none");
		return;
	}
	int y, m, d;
	ymd_from_days(days, &y, &m, &d);
	snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
}

int32_t lm_date_today(void)
{
	return (int32_t)floor_div((long long)time(NULL), 86400);
}
