/* lmvendor verify: checks the signature of every license line of a file,
 * for people or as JSON. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/report.h"
#include "vendor/sign.h"

/* ---- verify ------------------------------------------------------------ */

static const char *verdict(const struct lm_license_file *f, const struct lm_license *l,
                           EVP_PKEY *key)
{
	if (!l->has_sig)
		return "unsigned (no SIGN=); sign the file with `lmvendor sign`";
	int rc = lm_license_verify(f, l, key);
	if (rc == 0)
		return NULL;
	if (rc == LMC_EBADSIG)
		return l->type != LM_LINE_PACKAGE && !l->uncounted
		               ? "bad signature: a field was changed after signing, the SERVER "
		                 "lock codes changed, or another key signed it"
		               : "bad signature: a field was changed after signing, or another key "
		                 "signed it";
	return lmc_strerror(rc);
}

/* {"file":PATH,"valid":false,"error":{"line":N,"code":..,"number":..,
 * "message":..}}: a file that does not parse, named by its line. */
static int json_parse_error(const char *path, int code, const struct lm_parse_error *err)
{
	json_t *error = lm_json_object();
	lm_json_set(error, "line", lm_json_int(err->lineno));
	lm_json_set(error, "code", lm_json_text(lmc_errname(code)));
	lm_json_set(error, "number", lm_json_int(code));
	lm_json_set(error, "message", lm_json_text(err->message));
	json_t *doc = lm_json_object();
	lm_json_set(doc, "file", lm_json_text(path));
	lm_json_set(doc, "valid", json_false());
	lm_json_set(doc, "error", error);
	return lm_report_print(doc);
}

static json_t *line_json(const struct lm_license *l, const char *why)
{
	json_t *o = lm_json_object();
	lm_json_set(o, "line", lm_json_int(l->lineno));
	lm_json_set(o, "type", lm_json_text(lm_line_type_name(l->type)));
	lm_json_set(o, "name", lm_json_text(l->name));
	lm_json_set(o, "version", lm_json_text(l->version));
	lm_json_set(o, "valid", lm_json_bool(!why));
	if (why)
		lm_json_set(o, "reason", lm_json_text(why));
	return o;
}

int lmvendor_cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"pubkey", required_argument, NULL, 'k'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *keypath = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, ":k:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 'j':
			json = true;
			lm_report_json();
			break;
		case 'h': return lmvendor_help(argv[0]);
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (!keypath)
		return lmvendor_usage_error("verify needs --pubkey PUBLIC.pem");
	if (argc - optind != 1)
		return lmvendor_usage_error("verify takes one license file");
	const char *path = argv[optind];

	EVP_PKEY *key = NULL;
	char err[512];
	int rc = lm_key_load_public(keypath, &key, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		return 1;
	}
	struct lm_license_file f;
	struct lm_parse_error perr;
	rc = lmvendor_load_file(path, &f, &perr);
	if (rc) {
		if (json)
			json_parse_error(path, rc, &perr);
		EVP_PKEY_free(key);
		return 1;
	}

	size_t bad = 0;
	json_t *lines = json ? lm_json_array() : NULL;
	for (size_t i = 0; i < f.nlines; i++) {
		const struct lm_license *l = &f.lines[i];
		const char *why = verdict(&f, l, key);
		bad += why != NULL;
		if (json)
			lm_json_append(lines, line_json(l, why));
		else
			printf("line %d: %s %s %s: %s%s\n", l->lineno, lm_line_type_name(l->type),
			       l->name, l->version, why ? "invalid: " : "valid", why ? why : "");
	}
	int status = bad == 0 && f.nlines > 0 ? 0 : 1;
	if (json) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "file", lm_json_text(path));
		lm_json_set(doc, "lines", lines);
		lm_json_set(doc, "valid", lm_json_bool(status == 0));
		if (lm_report_print(doc) != 0)
			status = 1;
	}
	/* A file with nothing to verify is not a verified license file. */
	if (f.nlines == 0)
		lm_report_fail(LMC_ENOFEATURE, "%s has no FEATURE, INCREMENT or PACKAGE line",
		               path);
	else if (bad)
		lm_report_fail(LMC_EBADSIG, "%s: %zu of %zu license lines are invalid", path, bad,
		               f.nlines);
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}
