/* lmutil lmhostid: prints this machine's lock code, the criteria it is
 * made of, and, with --explain, whether a license bound to some other code
 * would be accepted here and which criteria differ. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "core/server_key.h"
#include "core/server_key_file.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_hostid.h"
#include "tools/report.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil lmhostid [--root DIR] [--json]\n"
	        "       lmutil lmhostid --server --data DIR [--root DIR] [--json]\n"
	        "       lmutil lmhostid --explain CODE [--tolerance N] [--root DIR] [--json]\n"
	        "       lmutil lmhostid -ether|-hostname|-internet|-user|-display|-flexlm [-n]\n"
	        "Prints the lock code of this machine, to send to the vendor.  With --explain,\n"
	        "tells whether a license bound to CODE would be accepted here, criterion by\n"
	        "criterion: exit 0 when accepted, 1 when not.  --tolerance N allows N criteria\n"
	        "to differ (default: fewer than half of those in CODE).  --root DIR reads the\n"
	        "machine's files below DIR instead of / (as LM_HOSTID_ROOT does).  With\n"
	        "--server, run as lmd's user on the server, also prints the server key of lmd's\n"
	        "data directory DIR (made there if lmd never ran), for the SERVER line's KEY=.\n"
	        "The single-dash forms print this machine's FlexLM-style host ids (what a\n"
	        "HOSTID= of a FlexLM license line names), -flexlm all of them; -n prints\n"
	        "only the ids.\n");
}

static const char *root_name(const char *root)
{
	return root ? root : lm_machine_default_root();
}

/* The 20-bit digest as the five hex digits people compare. */
static json_t *digest_json(uint32_t d)
{
	char text[8];
	snprintf(text, sizeof text, "%05x", (unsigned)d);
	return lm_json_text(text);
}

static bool has(uint16_t mask, int c)
{
	return mask & (1u << c);
}

static json_t *criterion_json(const struct lm_machine *m, int c)
{
	bool used = has(m->code.present, c);
	json_t *o = lm_json_object();
	lm_json_set(o, "name", lm_json_text(lm_criterion_name(c)));
	lm_json_set(o, "used", lm_json_bool(used));
	lm_json_set(o, "value", lm_json_text_or_null(used ? m->value[c] : NULL));
	lm_json_set(o, "digest", used ? digest_json(m->code.digest[c]) : json_null());
	lm_json_set(o, "source", lm_json_text(m->source[c]));
	return o;
}

/* The public half of the identity key in lmd's data directory dir, made
 * there (with the directory, 0700) when lmd never ran, so that the vendor
 * can pin it before the first start.  0 or 1 (reported). */
static int server_key(const char *dir, char *text, size_t size)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		lm_report_fail(LMC_EIO, "cannot make %s: %s", dir, strerror(errno));
		return 1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		lm_report_fail(LMC_EIO, "cannot open %s: %s", dir, strerror(errno));
		return 1;
	}
	EVP_PKEY *key;
	bool created;
	char msg[1024];
	uint8_t raw[LM_SERVER_KEY_LEN];
	int rc = lm_server_key_file_open(fd, dir, true, &key, &created, msg, sizeof msg);
	close(fd);
	if (rc != 0) {
		lm_report_fail(rc, "%s", msg);
		return 1;
	}
	rc = lm_server_key_raw(key, raw);
	EVP_PKEY_free(key);
	if (rc == 0)
		rc = lm_server_key_format(raw, text, size);
	if (rc != 0) {
		lm_report_fail(rc, "%s/%s: cannot print the key", dir, LM_SERVER_KEY_FILE);
		return 1;
	}
	if (created)
		fprintf(stderr, "lmutil: made the server key %s/%s\n", dir, LM_SERVER_KEY_FILE);
	return 0;
}

static int show(const struct lm_machine *m, const char *code, const char *key, bool json)
{
	if (json) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "lockcode", lm_json_text(code));
		if (key)
			lm_json_set(doc, "server_key", lm_json_text(key));
		json_t *criteria = lm_json_array();
		for (int c = 0; c < LM_CRIT_COUNT; c++)
			lm_json_append(criteria, criterion_json(m, c));
		lm_json_set(doc, "criteria", criteria);
		return lm_report_print(doc);
	}
	/* The code comes last, alone at the end of the last line, so that
	 * scripts can take the last word and people can copy it. */
	printf("Lock code criteria:");
	for (int c = 0, i = 0; c < LM_CRIT_COUNT; c++)
		if (has(m->code.present, c))
			printf("%s %s", i++ ? "," : "", lm_criterion_name(c));
	int unused = 0;
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		if (!has(m->code.present, c))
			printf("%s%s",
			       unused++ ? ", " : " (not available here: ", lm_criterion_name(c));
	printf("%s\n", unused ? "; see --json for why)" : "");
	printf("The lock code of this machine is: %s\n", code);
	if (key)
		printf("The server key (SERVER line KEY=) is: %s\n", key);
	return 0;
}

static const char *verdict_word(const struct lm_lock_match *r, int c)
{
	if (has(r->missing, c))
		return "missing";
	if (has(r->differs, c))
		return "differs";
	return "match";
}

static json_t *verdict_json(const struct lm_lockcode *lic, const struct lm_machine *m,
                            const struct lm_lock_match *r, int c)
{
	bool here_too = has(m->code.present, c);
	json_t *o = lm_json_object();
	lm_json_set(o, "name", lm_json_text(lm_criterion_name(c)));
	lm_json_set(o, "result", lm_json_text(verdict_word(r, c)));
	lm_json_set(o, "licensed_digest", digest_json(lic->digest[c]));
	lm_json_set(o, "digest", here_too ? digest_json(m->code.digest[c]) : json_null());
	lm_json_set(o, "value", lm_json_text_or_null(here_too ? m->value[c] : NULL));
	lm_json_set(o, "source", lm_json_text(m->source[c]));
	return o;
}

static int explain_json(const char *code, const struct lm_lockcode *lic, const struct lm_machine *m,
                        bool probed, const char *here, int tolerance, const struct lm_lock_match *r)
{
	json_t *doc = lm_json_object();
	lm_json_set(doc, "code", lm_json_text(code));
	lm_json_set(doc, "lockcode", lm_json_text_or_null(probed ? here : NULL));
	/* null: the default, whose allowance depends on the code. */
	lm_json_set(doc, "tolerance",
	            tolerance == LM_LOCK_TOLERANCE_DEFAULT ? json_null() : lm_json_int(tolerance));
	lm_json_set(doc, "allowed_misses", lm_json_int(r->allowed_misses));
	lm_json_set(doc, "licensed", lm_json_int(r->licensed));
	lm_json_set(doc, "matched", lm_json_int(r->matched));
	lm_json_set(doc, "accepted", lm_json_bool(r->accepted));
	json_t *criteria = lm_json_array();
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		if (has(lic->present, c))
			lm_json_append(criteria, verdict_json(lic, m, r, c));
	lm_json_set(doc, "criteria", criteria);
	return lm_report_print(doc);
}

static void explain_text(const char *code, const struct lm_lockcode *lic,
                         const struct lm_machine *m, bool probed, const char *here,
                         const char *root, int tolerance, const struct lm_lock_match *r)
{
	printf("Lock code %s records %d criteria; on this machine (%s):\n", code, r->licensed,
	       root);
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		if (!has(lic->present, c))
			continue;
		const char *name = lm_criterion_name(c);
		if (has(r->missing, c))
			printf("  %-13s missing here: %s\n", name, m->source[c]);
		else if (has(r->differs, c))
			printf("  %-13s differs: here %s (from %s)\n", name, m->value[c],
			       m->source[c]);
		else
			printf("  %-13s match\n", name);
	}
	char tol[64];
	if (tolerance == LM_LOCK_TOLERANCE_DEFAULT)
		snprintf(tol, sizeof tol, "default tolerance: fewer than half may differ");
	else
		snprintf(tol, sizeof tol, "tolerance %d", tolerance);
	if (r->accepted) {
		printf("Accepted: %d of %d criteria match and %d may differ or be missing (%s), so "
		       "a license bound to this code would be accepted here.\n",
		       r->matched, r->licensed, r->allowed_misses, tol);
		return;
	}
	if (r->matched == 0)
		printf("Refused: none of the %d criteria match, so a license bound to this code "
		       "would be refused here, whatever its tolerance.\n",
		       r->licensed);
	else
		printf("Refused: only %d of %d criteria match, and at most %d may differ or be "
		       "missing (%s), so a license bound to this code would be refused here.\n",
		       r->matched, r->licensed, r->allowed_misses, tol);
	if (probed)
		printf("Send the vendor this machine's lock code instead: %s\n", here);
}

static int explain(const char *text, const char *root, int tolerance, bool json)
{
	struct lm_lockcode lic;
	char err[256];
	int rc = lm_lockcode_parse(text, &lic, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		return 2;
	}
	/* A machine where nothing can be read is still explained: every
	 * criterion is then missing here, which is what the user needs to
	 * hear. */
	struct lm_machine m;
	char here[LM_LOCKCODE_TEXT_MAX] = "";
	rc = lm_machine_probe(root, &m);
	if (rc == LMC_EINVAL) {
		lm_report_fail(rc, "--root %s: path too long", root);
		return 2;
	}
	bool probed = rc == 0 && lm_lockcode_format(&m.code, here, sizeof here) == 0;
	char code[LM_LOCKCODE_TEXT_MAX];
	if (lm_lockcode_format(&lic, code, sizeof code) != 0)
		snprintf(code, sizeof code, "%s", text);

	struct lm_lock_match r;
	lm_lockcode_match(&lic, &m.code, tolerance, &r);
	if (json) {
		if (explain_json(code, &lic, &m, probed, here, tolerance, &r) != 0)
			return 1;
	} else {
		explain_text(code, &lic, &m, probed, here, root_name(root), tolerance, &r);
	}
	return r.accepted ? 0 : 1;
}

static int parse_tolerance(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > LM_CRIT_COUNT)
		return -1;
	*out = (int)v;
	return 0;
}

int lm_cmd_lmhostid(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"root", required_argument, NULL, 'r'},
	        {"explain", required_argument, NULL, 'e'},
	        {"tolerance", required_argument, NULL, 't'},
	        {"server", no_argument, NULL, 's'},
	        {"data", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *root = NULL, *code = NULL, *data = NULL;
	bool server = false;
	int tolerance = LM_LOCK_TOLERANCE_DEFAULT;
	bool json = false, have_tolerance = false;
	int opt;

	int flexlm = lm_lmhostid_flexlm(argc, argv, NULL);
	if (flexlm >= 0)
		return flexlm;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			lm_report_json();
			break;
		case 'r': root = optarg; break;
		case 'e': code = optarg; break;
		case 's': server = true; break;
		case 'd': data = optarg; break;
		case 't':
			if (parse_tolerance(optarg, &tolerance) != 0) {
				lm_report_fail(
				        LMC_EINVAL,
				        "--tolerance %s: expected a number of criteria from 0 "
				        "to %d",
				        optarg, LM_CRIT_COUNT);
				return 2;
			}
			have_tolerance = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || (have_tolerance && !code) || (server != (data != NULL)) ||
	    (server && code)) {
		usage(stderr);
		return 2;
	}
	if (root && !*root) {
		lm_report_fail(LMC_EINVAL, "--root needs a directory");
		return 2;
	}
	if (code)
		return explain(code, root, tolerance, json);

	struct lm_machine m;
	int rc = lm_machine_probe(root, &m);
	if (rc != 0) {
		lm_report_fail(rc, "no lock criterion of this machine is readable below %s: %s",
		               root_name(root), lmc_strerror(rc));
		for (int c = 0; c < LM_CRIT_COUNT; c++)
			if (m.source[c][0])
				fprintf(stderr, "  %s: %s\n", lm_criterion_name(c), m.source[c]);
		return 1;
	}
	char text[LM_LOCKCODE_TEXT_MAX];
	rc = lm_lockcode_format(&m.code, text, sizeof text);
	if (rc != 0) {
		lm_report_fail(rc, "cannot format the lock code: %s", lmc_strerror(rc));
		return 1;
	}
	char key[LM_SERVER_KEY_TEXT_MAX];
	if (server && server_key(data, key, sizeof key) != 0)
		return 1;
	return show(&m, text, server ? key : NULL, json);
}
