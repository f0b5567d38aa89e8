/* The logger of core/log.h: a level, a sink, and lmd's line formats as the
 * default sink. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

/* Longer messages are cut: a line stays one write. */
#define MESSAGE_MAX 2048

static void default_sink(void *arg, enum lm_log_level level, const char *event,
                         const char *message);

static lm_log_sink_fn sink = default_sink;
static void *sink_arg;
static enum lm_log_level max_level = LM_LOG_INFO;
static unsigned log_node;
static enum lm_log_format log_format = LM_LOG_PLAIN;

void lm_log_set_sink(lm_log_sink_fn fn, void *arg)
{
	sink = fn ? fn : default_sink;
	sink_arg = fn ? arg : NULL;
}

void lm_log_set_level(enum lm_log_level level)
{
	max_level = level;
}

bool lm_log_enabled(enum lm_log_level level)
{
	return level <= max_level;
}

void lm_log_set_node(unsigned node)
{
	log_node = node;
}

void lm_log_set_format(enum lm_log_format format)
{
	log_format = format;
}

/* A decimal number starting at s (no blank, no sign: strtoull would take
 * both); *end is set after it. */
static bool parse_decimal(const char *s, char **end, unsigned long long *out)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, end, 10);
	return errno == 0;
}

bool lm_log_stream_is_journal(int fd, const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	/* systemd writes "dev:ino" in decimal, nothing else. */
	if (!journal_stream || !parse_decimal(journal_stream, &end, &dev) || *end != ':' ||
	    !parse_decimal(end + 1, &end, &ino) || *end != '\0')
		return false;
	if (fstat(fd, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The priority the journal files a line under: sd-daemon(3) prefixes are
 * syslog(3)'s levels. */
static int journal_priority(enum lm_log_level level)
{
	switch (level) {
	case LM_LOG_ERROR: return LOG_ERR;
	case LM_LOG_WARNING: return LOG_WARNING;
	case LM_LOG_INFO: return LOG_INFO;
	case LM_LOG_DEBUG: return LOG_DEBUG;
	}
	return LOG_INFO;
}

static void default_sink(void *arg, enum lm_log_level level, const char *event, const char *message)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	(void)arg;
	/* One fprintf per line keeps lines whole when stderr is shared. */
	if (log_format == LM_LOG_JOURNAL) {
		fprintf(stderr, "<%d>node %u %s %s\n", journal_priority(level), log_node, event,
		        message);
		return;
	}
	/* The plain line has no level: the event word says it ("error",
	 * "fatal"). */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ lmd[%u] %s %s\n", when, ts.tv_nsec / 1000000, log_node, event,
	        message);
}

static void vlog(enum lm_log_level level, const char *event, const char *fmt, va_list ap)
{
	char message[MESSAGE_MAX];

	if (!lm_log_enabled(level))
		return;
	vsnprintf(message, sizeof message, fmt, ap);
	sink(sink_arg, level, event, message);
}

void lm_log_at(enum lm_log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, event, fmt, ap);
	va_end(ap);
}

void lm_log(const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LM_LOG_INFO, event, fmt, ap);
	va_end(ap);
}

void lm_log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LM_LOG_ERROR, "error", fmt, ap);
	va_end(ap);
}

void lm_log_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LM_LOG_WARNING, "warning", fmt, ap);
	va_end(ap);
}

void lm_log_debug(const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LM_LOG_DEBUG, event, fmt, ap);
	va_end(ap);
}

void lm_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LM_LOG_ERROR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
