/* lmutil checkout: a real liblmc client for scripts and smoke tests.  It
 * checks a feature out, holds it, checks it in, as many rounds as asked,
 * and reports each event as it happens (one JSON object per line with
 * --json) so that a test can follow a failover from the outside. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/lmc.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/report.h"

struct checkout_run {
	struct lmc_ctx *ctx;
	const char *feature;
	bool json;
};

/* Events come from the main thread and from the context's thread (lost,
 * regained): one line at a time. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil checkout -c SOURCE --pubkey VENDOR.pub FEATURE [--version V]\n"
	        "                       [--count K] [--hold SECONDS] [--loop N] [--timeout MS]\n"
	        "                       [--idle] [--vendor-data TEXT] [--json]\n"
	        "Checks FEATURE out of the license servers (or license files) of SOURCE\n"
	        "(\"27000@host\", \"27000@a,27000@b,27000@c\", a license file; default:\n"
	        "LM_LICENSE_FILE), holds it SECONDS (default 0), checks it in; N rounds\n"
	        "(default 1, 0: until a signal).  SIGTERM or SIGINT checks in and exits.\n"
	        "--timeout: how long a checkout may wait for a server (default 0: one try).\n"
	        "--idle: says the application is idle while it holds (lmc_set_idle), so a\n"
	        "TIMEOUT in the server's options file takes the seats back (event lost,\n"
	        "LMC_EIDLE).\n"
	        "--vendor-data: the vendor data sent with each checkout\n"
	        "(lmc_set_checkout_data): up to 64 printable characters; a line with\n"
	        "DUP_GROUP=V shares one seat among checkouts with the same data.\n"
	        "With --json, one object per event: granted, denied, releasing, released,\n"
	        "lost, regained.  Exit status 1 when a checkout was denied.\n");
}

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void emit(const struct checkout_run *run, const char *event, int code, uint64_t handle,
                 const char *message)
{
	char server[300];
	if (lmc_server(run->ctx, server, sizeof server) != 0)
		server[0] = '\0';
	/* What a grant's license says, as an application would show it. */
	struct lmc_license_info info;
	bool has_info = strcmp(event, "granted") == 0 &&
	                lmc_license_info(run->ctx, run->feature, &info) == 0;
	pthread_mutex_lock(&out_lock);
	if (run->json) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "t_us", lm_json_int(wall_us()));
		lm_json_set(doc, "event", lm_json_text(event));
		lm_json_set(doc, "feature", lm_json_text(run->feature));
		/* A code liblmc does not name (newer than this lmutil) is
		 * given as its number. */
		const char *name = lmc_errname(code);
		lm_json_set(doc, "code",
		            strcmp(name, "LMC_EUNKNOWN") == 0 ? lm_json_int(code)
		                                              : lm_json_text(name));
		lm_json_set(doc, "server", lm_json_text_or_null(server));
		if (handle)
			lm_json_set(doc, "handle", lm_json_u64(handle));
		if (message && *message)
			lm_json_set(doc, "message", lm_json_text(message));
		if (has_info) {
			json_t *lic = lm_json_object();
			lm_json_set(lic, "version", lm_json_text(info.version));
			lm_json_set(lic, "expiry", lm_json_text(info.expiry));
			lm_json_set(lic, "days_left",
			            info.days_left < 0 ? json_null() : lm_json_int(info.days_left));
			lm_json_set(lic, "expires_soon", lm_json_bool(info.expires_soon));
			lm_json_set(lic, "vendor_string", lm_json_text(info.vendor_string));
			lm_json_set(lic, "held", lm_json_int(info.held));
			lm_json_set(lic, "overdraft", lm_json_int(info.overdraft));
			lm_json_set(doc, "license", lic);
		}
		lm_report_print(doc);
	} else {
		printf("%s %s", event, run->feature);
		if (handle)
			printf(" handle %" PRIu64, handle);
		if (server[0])
			printf(" from %s", server);
		if (code)
			printf(": %s (%s)", lmc_strerror(code), lmc_errname(code));
		if (message && *message)
			printf(": %s", message);
		if (has_info && info.overdraft)
			printf(" (%u overdraft seat%s: beyond the license's count)", info.overdraft,
			       info.overdraft == 1 ? "" : "s");
		if (has_info && info.expires_soon)
			printf(" (the license expires on %s, in %d day%s)", info.expiry,
			       info.days_left, info.days_left == 1 ? "" : "s");
		if (has_info && info.vendor_string[0])
			printf(" (vendor string: %s)", info.vendor_string);
		printf("\n");
	}
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void on_lost(void *arg, uint64_t handle, const char *feature, int code)
{
	struct checkout_run *run = arg;
	emit(arg, "lost", code, handle, lmc_last_error(run->ctx));
}

static void on_regained(void *arg, uint64_t handle, const char *feature)
{
	emit(arg, "regained", 0, handle, NULL);
}

/* Sleeps up to seconds, or until SIGTERM/SIGINT (blocked in every thread,
 * so they wait here to be taken).  Returns true when one arrived. */
static bool hold(const sigset_t *stop, double seconds)
{
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		struct timespec now, left;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000;
		}
		if (left.tv_sec < 0)
			left = (struct timespec){0, 0};
		int sig = sigtimedwait(stop, NULL, &left);
		if (sig > 0)
			return true;
		if (errno == EAGAIN)
			return false;
	}
}

static bool parse_unsigned(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

int lm_cmd_checkout(int argc, char **argv)
{
	lm_report_begin("lmutil checkout");
	static const struct option longopts[] = {
	        {"source", required_argument, NULL, 'c'},
	        {"pubkey", required_argument, NULL, 'p'},
	        {"version", required_argument, NULL, 'V'},
	        {"count", required_argument, NULL, 'k'},
	        {"hold", required_argument, NULL, 'H'},
	        {"loop", required_argument, NULL, 'l'},
	        {"timeout", required_argument, NULL, 't'},
	        {"json", no_argument, NULL, 'j'},
	        {"idle", no_argument, NULL, 'i'},
	        {"vendor-data", required_argument, NULL, 'D'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *source = NULL, *pubkey = NULL, *version = NULL, *vendor_data = NULL;
	unsigned long count = 1, loops = 1, timeout_ms = 0;
	double hold_s = 0;
	bool idle = false;
	struct checkout_run run = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'c': source = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'V': version = optarg; break;
		case 'k':
			if (!parse_unsigned(optarg, 1000000, &count) || count == 0) {
				fprintf(stderr, "lmutil checkout: --count takes 1 to 1000000\n");
				return 2;
			}
			break;
		case 'H':
			hold_s = strtod(optarg, &end);
			if (end == optarg || *end || !(hold_s >= 0 && hold_s < 1e7)) {
				fprintf(stderr,
				        "lmutil checkout: --hold takes seconds, such as 2.5\n");
				return 2;
			}
			break;
		case 'l':
			if (!parse_unsigned(optarg, 1000000000, &loops)) {
				fprintf(stderr,
				        "lmutil checkout: --loop takes a count (0: forever)\n");
				return 2;
			}
			break;
		case 't':
			if (!parse_unsigned(optarg, 86400000, &timeout_ms)) {
				fprintf(stderr, "lmutil checkout: --timeout takes milliseconds\n");
				return 2;
			}
			break;
		case 'i': idle = true; break;
		case 'D': vendor_data = optarg; break;
		case 'j':
			run.json = true;
			lm_report_json();
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !pubkey) {
		usage(stderr);
		return 2;
	}
	run.feature = argv[optind];

	/* Blocked before the context's thread exists, so that it inherits the
	 * mask and the signals wait for hold() to take them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	char err[512];
	struct lmc_options opts = {.vendor_pubkey = pubkey, .license_source = source};
	int rc = lmc_open(&run.ctx, &opts, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s (%s)", err, lmc_errname(rc));
		return 2;
	}
	lmc_set_callbacks(run.ctx, on_lost, on_regained, &run);
	rc = vendor_data ? lmc_set_checkout_data(run.ctx, vendor_data) : 0;
	if (rc != 0) {
		lm_report_fail(rc, "--vendor-data: %s (%s)", lmc_last_error(run.ctx),
		               lmc_errname(rc));
		lmc_close(run.ctx);
		return 2;
	}

	bool denied = false, stopped = false;
	for (unsigned long i = 0; !stopped && (loops == 0 || i < loops); i++) {
		uint64_t handle;
		rc = lmc_checkout(run.ctx, run.feature, version, (unsigned)count,
		                  (unsigned)timeout_ms, &handle);
		if (rc != 0) {
			denied = true;
			emit(&run, "denied", rc, 0, lmc_last_error(run.ctx));
			stopped = hold(&stop, hold_s);
			continue;
		}
		emit(&run, "granted", 0, handle, NULL);
		if (idle)
			lmc_set_idle(run.ctx, 1);
		stopped = hold(&stop, hold_s);
		if (idle)
			lmc_set_idle(run.ctx, 0);
		emit(&run, "releasing", 0, handle, NULL);
		rc = lmc_checkin(run.ctx, handle);
		emit(&run, "released", rc, handle, rc ? lmc_last_error(run.ctx) : NULL);
	}
	lmc_close(run.ctx);
	return denied ? 1 : 0;
}
