/* lmutil deactivate: the customer's return of a license the vendor's key
 * center issued, FlexNet's "return" of trusted storage done with files.
 * On the machine that holds the license (a node-locked license's machine,
 * or one of the servers of a served one), it
 *
 *   - reads the license and its return key (the "# lmd-return-key" line
 *     every key-center license carries: the host it was issued to and a
 *     secret made for that issue, tools/lmutil_activate_proof.h);
 *   - checks that this machine's lock code is the license's (or one of a
 *     triad's): the return is made where the license was installed;
 *   - writes a return request naming the license lines given up and
 *     proving, with the secret, that it comes from a holder of the license
 *     as last issued (-o REQUEST for `lmvendor fulfil`), or sends it to the
 *     vendor's `lmvendor serve` (--url, POST /v1/return with the site's
 *     token);
 *   - and removes the license file: offline once the request is written,
 *     online once the key center has taken it back (a refusal leaves it).
 *
 * What the proof proves, and what it cannot: that the request was made by
 * someone holding the license file exactly as last issued (its secret
 * travels in no other record the customer has), on a machine whose lock
 * code is the license's (a customer who fakes the lock code in a tampered
 * lmutil could make it elsewhere), unaltered, and once (the key center
 * forgets the secret when it takes the return).  It cannot prove that no
 * copy of the file survives (a backup): software alone cannot attest to a
 * deletion, so returns still count against the rehost limit per code, as
 * the vendor's own `authcode return` does. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_activate_proof.h"
#include "tools/lmutil_https.h"
#include "tools/report.h"

#define USAGE_EXIT  2
#define LICENSE_MAX (1 << 20)

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil deactivate LICENSE [-o REQUEST] [--json]\n"
	             "       lmutil deactivate LICENSE --url https://HOST[:PORT] --token TOKEN\n"
	             "                         [--pin SHA256 | --cacert FILE] [--json]\n"
	             "Returns a license of the vendor's key center from this machine: writes a\n"
	             "return request proved with the license's return key (for `lmvendor\n"
	             "fulfil REQUEST`), or sends it online with the site's token; then\n"
	             "removes LICENSE.  Run it on the machine the license was issued to.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	char sentence[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sentence, sizeof sentence, fmt, ap);
	va_end(ap);
	lm_report_fail(LMC_EINVAL, "%s; see `lmutil deactivate --help`", sentence);
	return USAGE_EXIT;
}

static char *read_text(const char *path, size_t *len)
{
	FILE *in = fopen(path, "r");
	char *text = in ? malloc(LICENSE_MAX + 1) : NULL;
	*len = text ? fread(text, 1, LICENSE_MAX + 1, in) : 0;
	int err = errno;
	if (in)
		fclose(in);
	if (!text || *len > LICENSE_MAX || memchr(text, '\0', *len)) {
		free(text);
		lm_report_fail(LMC_EIO, "deactivate: cannot read %s: %s", path,
		               in ? "not a license file" : strerror(err));
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

/* The "# lmd-return-key SITE/FEATURE/VERSION/LOCKS SECRET" line into
 * req (site, feature, feature_version, locks) and secret: 0, or 1. */
static int return_key(const char *path, const char *text, json_t *req, char *secret)
{
	const char *line = strstr(text, "\n" LM_RETURN_KEY_PREFIX);
	char host[LM_RETURN_KEY_HEX * 8], key[LM_RETURN_KEY_HEX + 2];
	char *part[4], *save;
	if (!line ||
	    sscanf(line + 1 + strlen(LM_RETURN_KEY_PREFIX), "%511s %65s", host, key) != 2 ||
	    strlen(key) != LM_RETURN_KEY_HEX || strspn(key, "0123456789abcdef") != strlen(key)) {
		lm_report_fail(
		        LMC_EINVAL,
		        "deactivate: %s has no return key (its \"%s\" line): it was not "
		        "issued by a key center that takes proved returns; ask the vendor to "
		        "return it",
		        path, LM_RETURN_KEY_PREFIX);
		return 1;
	}
	part[0] = strtok_r(host, "/", &save);
	for (int i = 1; i < 4; i++)
		part[i] = part[i - 1] ? strtok_r(NULL, "/", &save) : NULL;
	if (!part[3] || strtok_r(NULL, "/", &save)) {
		lm_report_fail(LMC_EINVAL, "deactivate: the return key line of %s is damaged",
		               path);
		return 1;
	}
	json_t *locks = lm_json_array();
	for (char *s2, *w = strtok_r(part[3], "+", &s2); w; w = strtok_r(NULL, "+", &s2))
		lm_json_append(locks, lm_json_text(w));
	lm_json_set(req, "site", lm_json_text(part[0]));
	lm_json_set(req, "feature", lm_json_text(part[1]));
	lm_json_set(req, "feature_version", lm_json_text(part[2]));
	lm_json_set(req, "locks", locks);
	strcpy(secret, key);
	return 0;
}

/* The license lines given up, as the request names them. */
static json_t *given_up(const struct lm_license_file *f)
{
	json_t *lines = lm_json_array();
	for (size_t i = 0; i < f->nlines; i++) {
		const struct lm_license *l = &f->lines[i];
		char expiry[16];
		lm_date_format(l->expiry, expiry, sizeof expiry);
		json_t *line = lm_json_object();
		lm_json_set(line, "type", lm_json_text(lm_line_type_name(l->type)));
		lm_json_set(line, "feature", lm_json_text(l->name));
		lm_json_set(line, "version", lm_json_text(l->version));
		lm_json_set(line, "count",
		            l->uncounted ? lm_json_text("uncounted")
		                         : lm_json_int((long long)l->count));
		lm_json_set(line, "expiry", lm_json_text(expiry));
		lm_json_set(line, "auth", lm_json_text_or_null(l->auth[0] ? l->auth : NULL));
		lm_json_append(lines, line);
	}
	return lines;
}

/* Sends req to the key center: 0 with the answer in *doc, or 1. */
static int send_online(const char *url_text, const struct lm_https_options *o, json_t *req,
                       json_t **doc)
{
	struct lm_https_url url;
	struct lm_https_answer answer;
	char err[512];
	if (lm_https_parse_url(url_text, &url, err, sizeof err) != 0)
		return usage_error("%s", err);
	char *body = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!body)
		lm_json_out_of_memory();
	int rc = lm_https_post(&url, "/v1/return", o, body, strlen(body), &answer, err, sizeof err);
	free(body);
	if (rc) {
		lm_report_fail(LMC_ENOSERVER, "%s", err);
		return 1;
	}
	json_error_t jerr;
	*doc = json_loadb(answer.body, answer.len, 0, &jerr);
	free(answer.body);
	if (answer.status != 200 || !json_is_object(*doc)) {
		json_t *error = json_object_get(*doc, "error");
		const char *message = json_string_value(json_object_get(error, "message"));
		json_int_t number = json_integer_value(json_object_get(error, "number"));
		lm_report_fail(number < 0 && number >= LMC_ERROR_MIN ? (int)number : LMC_EPROTO,
		               "the key center refused the return (HTTP %u): %s; the license was "
		               "left where it is",
		               answer.status, message ? message : "no reason given");
		json_decref(*doc);
		*doc = NULL;
		return 1;
	}
	return 0;
}

int lm_cmd_deactivate(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'U'},    {"pin", required_argument, NULL, 'P'},
	        {"cacert", required_argument, NULL, 'C'}, {"token", required_argument, NULL, 'T'},
	        {"output", required_argument, NULL, 'o'}, {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},         {0},
	};
	struct lm_https_options https = {0};
	const char *url = NULL, *out = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'U': url = optarg; break;
		case 'P': https.pin = optarg; break;
		case 'C': https.cafile = optarg; break;
		case 'T': https.token = optarg; break;
		case 'o': out = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': usage(stdout); return 0;
		case ':':
			usage(stderr);
			return usage_error("option %s needs a value", argv[optind - 1]);
		default: usage(stderr); return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("deactivate takes one license file");
	if (!url && (https.pin || https.cafile || https.token))
		return usage_error("--pin, --cacert and --token go with --url");
	if (url && out)
		return usage_error("give --url (online) or -o REQUEST (offline), not both");
	if (url && !https.token)
		return usage_error(
		        "an online return needs the site's --token (lmvendor token create)");
	const char *path = argv[optind];
	size_t len;
	char *text = read_text(path, &len);
	if (!text)
		return 1;
	struct lm_license_file f;
	struct lm_parse_error perr;
	int rc = lm_license_parse(text, len, &f, &perr);
	if (rc) {
		lm_report_fail(rc, "deactivate: %s, line %d: %s", path, perr.lineno, perr.message);
		free(text);
		return 1;
	}
	json_t *req = lm_json_object(), *doc = NULL;
	char secret[LM_RETURN_KEY_HEX + 1], proof[LM_RETURN_KEY_HEX + 1];
	lm_json_set(req, "format", lm_json_text(LM_RETURN_FORMAT));
	lm_json_set(req, "version", lm_json_int(LM_RETURN_VERSION));
	rc = return_key(path, text, req, secret);
	free(text);
	/* The return is made where the license is installed. */
	struct lm_machine m;
	char lock[LM_LOCKCODE_TEXT_MAX];
	if (rc == 0 && lm_machine_probe(NULL, &m) != 0) {
		lm_report_fail(LMC_EIO, "deactivate: cannot compute this machine's lock code");
		rc = 1;
	}
	if (rc == 0) {
		lm_lockcode_format(&m.code, lock, sizeof lock);
		bool mine = false;
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(req, "locks"), i, v) mine =
		        mine || !strcmp(json_string_value(v), lock);
		if (!mine) {
			lm_report_fail(
			        LMC_EDENIED,
			        "deactivate: %s was issued to lock code %s, and this machine's "
			        "is %s: run lmutil deactivate on the machine that holds it",
			        path,
			        json_string_value(json_array_get(json_object_get(req, "locks"), 0)),
			        lock);
			rc = 1;
		}
	}
	if (rc == 0) {
		unsigned char nonce[16];
		char nonce_hex[33], made[32];
		if (RAND_bytes(nonce, sizeof nonce) != 1)
			memset(nonce, 0, sizeof nonce);
		for (size_t i = 0; i < sizeof nonce; i++)
			snprintf(nonce_hex + 2 * i, 3, "%02x", nonce[i]);
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(made, sizeof made, "%Y-%m-%dT%H:%M:%SZ", &tm);
		lm_json_set(req, "machine", lm_json_text(lock));
		lm_json_set(req, "lines", given_up(&f));
		lm_json_set(req, "made", lm_json_text(made));
		lm_json_set(req, "nonce", lm_json_text(nonce_hex));
		if (lm_return_proof(req, secret, proof) != 0) {
			lm_report_fail(LMC_ENOMEM, "deactivate: cannot compute the proof");
			rc = 1;
		} else {
			lm_json_set(req, "proof", lm_json_text(proof));
		}
	}
	lm_license_free(&f);
	if (rc == 0 && url)
		rc = send_online(url, &https, req, &doc);
	else if (rc == 0 && out &&
	         json_dump_file(req, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
		lm_report_fail(LMC_EIO, "deactivate: cannot write %s: %s", out, strerror(errno));
		unlink(out);
		rc = 1;
	}
	/* The license goes once the return is on its way (offline) or taken
	 * (online): a request can be made of it once. */
	if (rc == 0 && unlink(path) != 0) {
		lm_report_fail(LMC_EIO,
		               "deactivate: the return is made, but %s cannot be removed: %s; "
		               "remove it by hand",
		               path, strerror(errno));
		rc = 1;
	}
	if (rc == 0) {
		if (lm_report_is_json()) {
			json_t *report = lm_json_object();
			lm_json_set(report, "license", lm_json_text(path));
			lm_json_set(report, "removed", json_true());
			lm_json_set(report, "output", out ? lm_json_text(out) : json_null());
			lm_json_set(report, "request", json_incref(req));
			lm_json_set(report, "answer", doc ? json_incref(doc) : json_null());
			rc = lm_report_print(report);
		} else if (!url && !out) {
			json_dumpf(req, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
			fprintf(stderr,
			        "lmutil: removed %s; send the request above to your vendor\n",
			        path);
		} else {
			fprintf(stderr,
			        url ? "lmutil: the key center took back %s %s (%lld); removed %s\n"
			            : "lmutil: wrote %s: send it to your vendor (lmvendor fulfil); "
			              "removed %s\n",
			        url ? json_string_value(json_object_get(req, "feature")) : out,
			        url ? json_string_value(json_object_get(req, "feature_version"))
			            : path,
			        (long long)json_integer_value(json_object_get(doc, "returned")),
			        path);
		}
	}
	json_decref(doc);
	json_decref(req);
	return rc;
}
