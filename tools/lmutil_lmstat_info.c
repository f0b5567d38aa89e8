/* lmstat -i and -v in FlexLM's layout (lmutil_lmstat.h,
 * tests/data/lmstat/MONITORS.md): the Checkmk agent counts nine lines
 * before the first row of -i and reads the fifth column as the expiry;
 * the exporter and the Nagios checks find the header by its first word
 * "Feature" and its last "Expires", and the version line by "lmstat v". */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "core/date.h"
#include "tools/lmutil_lmstat.h"

void lm_lmstat_flexlm_info(const Lm__StatusReply *r, const char *vendor, const char *feature,
                           bool header)
{
	if (header) {
		char now[40];
		lm_lmstat_flex_time(time(NULL), true, now, sizeof now);
		printf("lmutil - Copyright (c) 2026 the lmd authors. All Rights Reserved.\n");
		printf("%s\n", now);
	}
	/* FlexLM's note says -i reads only the license file; lmd's asks
	 * the server, and says so in as many lines.  After -a's usage, the
	 * empty line that ends it comes first. */
	if (header)
		printf("\n");
	printf("NOTE: lmstat -i asks the license server for the features it serves\n"
	       "      now (FlexLM's reads only the license file); lmstat -a also\n"
	       "      shows who uses them.\n\n");
	printf("Feature                         Version     #licenses    Vendor        Expires\n");
	printf("_______                         _________   _________    ______        ________\n");
	for (size_t i = 0; i < r->n_features; i++) {
		const Lm__FeatureStatus *f = r->features[i];
		char name[LM_NAME_MAX + 1], version[LM_VERSION_MAX + 1], count[16], expiry[40];
		/* A pool whose lines are gone lives on only through its held
		 * seats: no license line to list. */
		if (f->expiry == LM_DATE_NONE)
			continue;
		lm_lmstat_one_word(&f->name, "?", name, sizeof name);
		if (feature && strcmp(name, feature) != 0)
			continue;
		lm_lmstat_one_word(&f->version, "0", version, sizeof version);
		snprintf(count, sizeof count, "%u", f->issued);
		lm_lmstat_flex_expiry(f->expiry, expiry, sizeof expiry);
		printf("%-32s %-12s %-11s %-12s %s\n", name, version, count, vendor, expiry);
	}
}

/* "0.1.0" from PACKAGE_VERSION: digits and dots only (the exporter's
 * pattern), with at least one dot. */
static void plain_version(char *out, size_t size)
{
	size_t n = strspn(PACKAGE_VERSION, "0123456789.");
	snprintf(out, size, "%.*s", (int)n, PACKAGE_VERSION);
	if (!strchr(out, '.'))
		snprintf(out, size, "%.*s.0", (int)(n ? n : 1), n ? PACKAGE_VERSION : "0");
}

/* FlexLM names platforms x64_lsb and the like; lmd says what uname says,
 * as one word ("x86_64_linux"). */
static void platform(char *out, size_t size)
{
	struct utsname u;
	if (uname(&u) != 0) {
		snprintf(out, size, "unknown");
		return;
	}
	snprintf(out, size, "%s_%s", u.machine, u.sysname);
	for (char *p = out; *p; p++)
		*p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
}

void lm_lmstat_flexlm_version(void)
{
	char version[32], arch[2 * sizeof((struct utsname *)0)->machine];
	plain_version(version, sizeof version);
	platform(arch, sizeof arch);
	printf("lmutil - Copyright (c) 2026 the lmd authors. All Rights Reserved.\n");
	/* lmd has no build numbers: 0. */
	printf("lmstat v%s build 0 %s\n", version, arch);
}
