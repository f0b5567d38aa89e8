#include "lmd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned log_node;

void lm_log_set_node(unsigned node)
{
	log_node = node;
}

static void vlog(const char *event, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line keeps lines whole when stderr is shared. */
	char line[2048];
	int n = snprintf(line, sizeof line, "%s.%03ldZ lmd[%u] %s ", when, ts.tv_nsec / 1000000,
	                 log_node, event);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void lm_log(const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(event, fmt, ap);
	va_end(ap);
}

void lm_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
