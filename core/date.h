/* Calendar dates in license files, as whole days since 1970-01-01 (UTC). */
#ifndef LM_DATE_H
#define LM_DATE_H

#include <stddef.h>
#include <stdint.h>

/* The expiry of a license that never expires. */
#define LM_DATE_PERMANENT INT32_MAX
/* "No date given" (a START that is not set). */
#define LM_DATE_NONE INT32_MIN

/* Parses "2027-12-31", FlexLM's "31-dec-2027" (month name in any case; a
 * two-digit year 70..99 is 19xx, 01..69 is 20xx) or "permanent" (also
 * FlexLM's "0" and any date of year 0, as "1-jan-0" or "01-jan-0000"). Rejects
 * impossible dates (2027-02-30).  Returns 0 or LMC_ESYNTAX. */
int lm_date_parse(const char *text, int32_t *days);

/* Writes "YYYY-MM-DD" or "permanent". */
void lm_date_format(int32_t days, char *buf, size_t size);

/* Today (UTC) in days since 1970-01-01. */
int32_t lm_date_today(void);

/* Days since 1970-01-01 for a proleptic Gregorian y-m-d (no range checks). */
int32_t lm_date_from_ymd(int y, int m, int d);

#endif
