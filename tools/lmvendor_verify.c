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

static void json_parse_error(const char *path, int code, const struct lm_parse_error *err)
{
	fputc('{', stdout);
	lm_json_key(stdout, "file", 1);
	lm_json_string(stdout, path);
	lm_json_key(stdout, "valid", 0);
	fputs("false", stdout);
	lm_json_key(stdout, "error", 0);
	fputc('{', stdout);
	lm_json_key(stdout, "line", 1);
	printf("%d", err->lineno);
	lm_json_key(stdout, "code", 0);
	lm_json_string(stdout, lmc_errname(code));
	lm_json_key(stdout, "message", 0);
	lm_json_string(stdout, err->message);
	fputs("}}\n", stdout);
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
		case 'j': json = true; break;
		case 'h': fputs(lmvendor_usage, stdout); return 0;
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
	if (lm_key_load_public(keypath, &key, err, sizeof err) != 0) {
		lmvendor_complain("%s", err);
		return 1;
	}
	struct lm_license_file f;
	struct lm_parse_error perr;
	int rc = lmvendor_load_file(path, &f, &perr);
	if (rc) {
		if (json)
			json_parse_error(path, rc, &perr);
		EVP_PKEY_free(key);
		return 1;
	}

	size_t bad = 0;
	if (json) {
		fputc('{', stdout);
		lm_json_key(stdout, "file", 1);
		lm_json_string(stdout, path);
		lm_json_key(stdout, "lines", 0);
		fputc('[', stdout);
	}
	for (size_t i = 0; i < f.nlines; i++) {
		const struct lm_license *l = &f.lines[i];
		const char *why = verdict(&f, l, key);
		bad += why != NULL;
		if (!json) {
			printf("line %d: %s %s %s: %s%s\n", l->lineno, lm_line_type_name(l->type),
			       l->name, l->version, why ? "invalid: " : "valid", why ? why : "");
			continue;
		}
		fputs(i ? ",{" : "{", stdout);
		lm_json_key(stdout, "line", 1);
		printf("%d", l->lineno);
		lm_json_key(stdout, "type", 0);
		lm_json_string(stdout, lm_line_type_name(l->type));
		lm_json_key(stdout, "name", 0);
		lm_json_string(stdout, l->name);
		lm_json_key(stdout, "version", 0);
		lm_json_string(stdout, l->version);
		lm_json_key(stdout, "valid", 0);
		fputs(why ? "false" : "true", stdout);
		if (why) {
			lm_json_key(stdout, "reason", 0);
			lm_json_string(stdout, why);
		}
		fputc('}', stdout);
	}
	if (json) {
		fputc(']', stdout);
		lm_json_key(stdout, "valid", 0);
		fputs(bad == 0 && f.nlines > 0 ? "true" : "false", stdout);
		fputs("}\n", stdout);
	}
	/* A file with nothing to verify is not a verified license file. */
	if (f.nlines == 0)
		lmvendor_complain("%s has no FEATURE, INCREMENT or PACKAGE line", path);
	else if (bad)
		lmvendor_complain("%s: %zu of %zu license lines are invalid", path, bad, f.nlines);
	int status = bad == 0 && f.nlines > 0 ? 0 : 1;
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}
