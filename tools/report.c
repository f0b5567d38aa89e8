#include "tools/report.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"
#include "tools/json.h"

/* One command runs per process, so its report is the process's. */
static struct {
	const char *command;
	bool json;
	bool printed; /* the command printed a document of its own */
	int code;
	char message[1024];
} report = {.command = "lmutil"};

void lm_report_begin(const char *command)
{
	report.command = command;
}

void lm_report_json(void)
{
	report.json = true;
}

bool lm_report_is_json(void)
{
	return report.json;
}

static void keep(int code, const char *fmt, va_list ap)
{
	vsnprintf(report.message, sizeof report.message, fmt, ap);
	report.code = code;
}

void lm_report_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keep(code, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", report.command, report.message);
}

const char *lm_report_keep(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	keep(code, fmt, ap);
	va_end(ap);
	return report.message;
}

void lm_report_say(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", report.command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *lm_report_last(int *code)
{
	*code = report.code;
	return report.message;
}

void lm_report_forget(void)
{
	report.code = 0;
	report.message[0] = '\0';
}

int lm_report_print(json_t *doc)
{
	report.printed = true;
	if (lm_json_print(doc) != 0) {
		lm_report_say("cannot write to standard output");
		return 1;
	}
	return 0;
}

int lm_report_end(int status)
{
	if (!report.json || status == 0 || report.printed)
		return status;
	/* A failure nobody described is a command line getopt refused (it
	 * said why on stderr). */
	int code = report.code ? report.code : LMC_EINVAL;
	const char *message = report.code ? report.message : "wrong usage; see --help";
	json_t *doc = lm_json_object();
	lm_json_set(doc, "error", lm_json_error(code, message));
	lm_json_print(doc);
	return status;
}
