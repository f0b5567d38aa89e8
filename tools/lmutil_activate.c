/* lmutil activate-request: the customer's half of an offline activation.
 * On the machine that is to hold the license (or serve it), it writes a
 * request file naming the authorization code, this machine's lock code
 * (computed here, as lmhostid prints it) or a triad's three, the servers'
 * host names and ports, and a description of the host.  The vendor answers
 * it with `lmvendor fulfil REQUEST`, which writes the license file.
 *
 * The file is one JSON object:
 *   {"format":"lmd-activation-request","version":1,"auth":CODE,
 *    "locks":[LOCK...],"servers":["HOST:PORT"...],"host_desc":TEXT,
 *    "count":N, "made":DATE}
 * The code's check symbol is verified here, so that a mistyped code is
 * caught before the file travels.
 *
 * lmutil activate --url: the online half.  The same request goes to the
 * vendor's `lmvendor serve` (POST /v1/activate) over HTTPS, and the signed
 * license that comes back is written where -o says (atomically), ready
 * for lmd or the application.  How the server is trusted (a pinned
 * certificate, a CA file) is lmutil_https.c's. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_https.h"
#include "tools/report.h"

#define USAGE_EXIT 2

static void usage_online(FILE *out)
{
	fprintf(out, "usage: lmutil activate --url https://HOST[:PORT] --auth CODE\n"
	             "                       [--pin SHA256 | --cacert FILE] [--token TOKEN]\n"
	             "                       [--servers HOST:PORT[,...]] [--lock LOCK,LOCK,LOCK]\n"
	             "                       [--count N] [--host-desc TEXT] [-o LICENSE] [--json]\n"
	             "Activates online at the vendor's key center (lmvendor serve) and writes\n"
	             "the signed license to LICENSE (or prints it).  --pin is the SHA-256 of\n"
	             "the server's certificate, as the vendor gives it; --cacert a CA file;\n"
	             "without either the system's CAs must vouch for the server.\n");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil activate-request --auth CODE [--servers HOST:PORT[,...]]\n"
	             "                               [--lock LOCK,LOCK,LOCK] [--count N]\n"
	             "                               [--host-desc TEXT] [-o REQUEST] [--json]\n"
	             "Writes an activation request for the vendor's key center (`lmvendor\n"
	             "fulfil REQUEST` answers it with the license file): the authorization\n"
	             "code, this machine's lock code, and --servers for a license that lmd\n"
	             "serves here.  For redundant servers give their three HOST:PORT and their\n"
	             "three lock codes (`lmutil lmhostid` on each) with --lock.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	char sentence[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sentence, sizeof sentence, fmt, ap);
	va_end(ap);
	lm_report_fail(LMC_EINVAL, "%s; see `lmutil activate-request --help`", sentence);
	return USAGE_EXIT;
}

static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			return false;
	return true;
}

/* Appends each comma-separated item of list to arr, normalising lock
 * codes (lock true) or checking HOST:PORT. */
static int add_items(json_t *arr, const char *list, bool lock)
{
	char buf[1024];
	if (strlen(list) >= sizeof buf)
		return usage_error("%s is too long", lock ? "--lock" : "--servers");
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (json_array_size(arr) == 3)
			return usage_error("%s: one, or three for redundant servers",
			                   lock ? "--lock" : "--servers");
		if (lock) {
			struct lm_lockcode code;
			char err[256], text[LM_LOCKCODE_TEXT_MAX];
			if (strlen(w) >= LM_LOCKCODE_TEXT_MAX ||
			    lm_lockcode_parse(w, &code, err, sizeof err) != 0) {
				lm_report_fail(LMC_EBADCODE, "lock code '%.40s': %s", w,
				               strlen(w) >= LM_LOCKCODE_TEXT_MAX ? "too long"
				                                                 : err);
				return 1;
			}
			lm_lockcode_format(&code, text, sizeof text);
			lm_json_append(arr, lm_json_text(text));
			continue;
		}
		const char *colon = strrchr(w, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == w || !isdigit((unsigned char)colon[1]) || *end || port < 1 ||
		    port > 65535 || colon - w > LM_HOST_MAX || !printable(w) || strchr(w, ' '))
			return usage_error("--servers '%.60s' is not HOST:PORT", w);
		lm_json_append(arr, lm_json_text(w));
	}
	return 0;
}

struct online {
	const char *url;
	struct lm_https_options https;
};

static int post(const struct online *on, json_t *req, const char *out);

/* activate-request, or with on activate --url. */
static int activation(int argc, char **argv, struct online *on)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'U'},
	        {"pin", required_argument, NULL, 'P'},
	        {"cacert", required_argument, NULL, 'C'},
	        {"token", required_argument, NULL, 'T'},
	        {"auth", required_argument, NULL, 'a'},
	        {"servers", required_argument, NULL, 'S'},
	        {"lock", required_argument, NULL, 'l'},
	        {"count", required_argument, NULL, 'c'},
	        {"host-desc", required_argument, NULL, 'd'},
	        {"output", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *auth = NULL, *host_desc = NULL, *out = NULL;
	json_t *locks = lm_json_array(), *servers = lm_json_array();
	long count = -1;
	int c, rc = 0;
	opterr = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': auth = optarg; break;
		case 'S': rc = add_items(servers, optarg, false); break;
		case 'l': rc = add_items(locks, optarg, true); break;
		case 'c': {
			char *end;
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || errno || count > 1000000)
				rc = usage_error("--count '%.20s' is not a whole number from 0",
				                 optarg);
			break;
		}
		case 'd':
			host_desc = optarg;
			if (!*host_desc || strlen(host_desc) > 200 || !printable(host_desc))
				rc = usage_error(
				        "--host-desc: 1 to 200 characters, no quotes or control "
				        "characters");
			break;
		case 'o': out = optarg; break;
		case 'j': lm_report_json(); break;
		case 'U':
		case 'P':
		case 'C':
		case 'T':
			if (!on) {
				rc = usage_error("unknown option %s", argv[optind - 1]);
				break;
			}
			*(c == 'U'   ? &on->url
			  : c == 'P' ? &on->https.pin
			  : c == 'C' ? &on->https.cafile
			             : &on->https.token) = optarg;
			break;
		case 'h':
			on ? usage_online(stdout) : usage(stdout);
			json_decref(locks);
			json_decref(servers);
			return 0;
		case ':':
			rc = usage_error("option %s needs a value", argv[optind - 1]);
			usage(stderr);
			break;
		default: rc = usage_error("unknown option %s", argv[optind - 1]); usage(stderr);
		}
	}
	if (rc == 0 && (!auth || optind != argc))
		rc = usage_error("%s needs --auth CODE and takes options only",
		                 on ? "activate" : "activate-request");
	if (rc == 0 && on && !on->url)
		rc = usage_error("activate needs --url https://HOST:PORT of the key center (or "
		                 "use activate-request offline)");
	uint8_t sym[LM_CODE32_MAX_SYMBOLS];
	size_t nsym;
	char err[256], code[80];
	if (rc == 0 && (strlen(auth) > 64 ||
	                lm_code32_decode(auth, sym, sizeof sym, &nsym, err, sizeof err) != 0 ||
	                lm_code32_encode(sym, nsym, 4, code, sizeof code) != 0)) {
		lm_report_fail(LMC_EBADCODE, "authorization code '%.64s': %s", auth,
		               strlen(auth) > 64 ? "too long" : err);
		rc = 1;
	}
	/* This machine's lock code, and its host name as the description,
	 * unless the three codes of a triad are given. */
	struct lm_machine m;
	if (rc == 0 && json_array_size(locks) == 0) {
		if (json_array_size(servers) > 1)
			rc = usage_error(
			        "for redundant servers give their three lock codes with --lock "
			        "(`lmutil lmhostid` on each)");
		else if (lm_machine_probe(NULL, &m) != 0) {
			lm_report_fail(LMC_EIO, "cannot compute this machine's lock code");
			rc = 1;
		} else {
			char text[LM_LOCKCODE_TEXT_MAX];
			lm_lockcode_format(&m.code, text, sizeof text);
			lm_json_append(locks, lm_json_text(text));
			if (!host_desc && m.value[LM_CRIT_HOSTNAME][0] &&
			    printable(m.value[LM_CRIT_HOSTNAME]))
				host_desc = m.value[LM_CRIT_HOSTNAME];
		}
	}
	if (rc == 0 && json_array_size(servers) &&
	    json_array_size(servers) != json_array_size(locks))
		rc = usage_error("give one --servers HOST:PORT per lock code");
	json_t *req = NULL;
	if (rc == 0) {
		req = lm_json_object();
		lm_json_set(req, "format", lm_json_text("lmd-activation-request"));
		lm_json_set(req, "version", lm_json_int(1));
		lm_json_set(req, "auth", lm_json_text(code));
		lm_json_set(req, "locks", json_incref(locks));
		lm_json_set(req, "servers", json_incref(servers));
		lm_json_set(req, "host_desc", lm_json_text_or_null(host_desc));
		if (count >= 0)
			lm_json_set(req, "count", lm_json_int(count));
		char today[16];
		lm_date_format(lm_date_today(), today, sizeof today);
		lm_json_set(req, "made", lm_json_text(today));
		if (on) {
			rc = post(on, req, out);
			json_decref(req);
			json_decref(locks);
			json_decref(servers);
			return rc;
		}
		if (out && json_dump_file(req, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			lm_report_fail(LMC_EIO, "cannot write %s: %s", out, strerror(errno));
			rc = 1;
		}
	}
	if (rc == 0) {
		if (lm_report_is_json()) {
			json_t *doc = lm_json_object();
			lm_json_set(doc, "output", out ? lm_json_text(out) : json_null());
			lm_json_set(doc, "request", json_incref(req));
			rc = lm_report_print(doc);
		} else if (!out) {
			json_dumpf(req, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
		} else {
			fprintf(stderr,
			        "lmutil: wrote %s: send it to your vendor, who answers with the "
			        "license file\n",
			        out);
		}
	}
	json_decref(req);
	json_decref(locks);
	json_decref(servers);
	return rc;
}

int lm_cmd_activate_request(int argc, char **argv)
{
	return activation(argc, argv, NULL);
}

int lm_cmd_activate(int argc, char **argv)
{
	struct online on = {0};
	return activation(argc, argv, &on);
}

/* Writes text to path atomically: a temporary file, then a rename. */
static int write_license(const char *path, const char *text)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		lm_report_fail(LMC_ETOOLARGE, "%s: path too long", path);
		return 1;
	}
	FILE *f = fopen(tmp, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0 || rename(tmp, path) != 0) {
		lm_report_fail(LMC_EIO, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

static int post(const struct online *on, json_t *req, const char *out)
{
	struct lm_https_url url;
	struct lm_https_answer answer;
	char err[512];
	if (lm_https_parse_url(on->url, &url, err, sizeof err) != 0)
		return usage_error("%s", err);
	char *body = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!body)
		lm_json_out_of_memory();
	int rc = lm_https_post(&url, "/v1/activate", &on->https, body, strlen(body), &answer, err,
	                       sizeof err);
	free(body);
	if (rc) {
		lm_report_fail(LMC_ENOSERVER, "%s", err);
		return 1;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(answer.body, answer.len, 0, &jerr);
	free(answer.body);
	json_t *error = json_object_get(doc, "error");
	const char *license = json_string_value(json_object_get(doc, "license"));
	if (answer.status != 200 || !license) {
		const char *message = json_string_value(json_object_get(error, "message"));
		json_int_t number = json_integer_value(json_object_get(error, "number"));
		lm_report_fail(number < 0 && number >= LMC_ERROR_MIN ? (int)number : LMC_EPROTO,
		               "the key center refused (HTTP %u): %s", answer.status,
		               message ? message : "no reason given");
		json_decref(doc);
		return 1;
	}
	if (out && write_license(out, license) != 0) {
		json_decref(doc);
		return 1;
	}
	if (lm_report_is_json()) {
		lm_json_set(doc, "output", out ? lm_json_text(out) : json_null());
		return lm_report_print(doc);
	}
	if (!out)
		fputs(license, stdout);
	else
		fprintf(stderr, "lmutil: activated %lld of %s %s; the host holds %lld: wrote %s\n",
		        (long long)json_integer_value(json_object_get(doc, "added")),
		        json_string_value(json_object_get(doc, "feature")) ?: "?",
		        json_string_value(json_object_get(doc, "version")) ?: "?",
		        (long long)json_integer_value(json_object_get(doc, "count")), out);
	json_decref(doc);
	return 0;
}
