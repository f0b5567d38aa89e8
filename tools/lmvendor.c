/* lmvendor: the vendor's tool.  It makes the vendor's key pair, signs and
 * verifies license files, issues new licenses, and runs the key center (what
 * was sold to whom, authorization codes, activation: lmvendor_center*.c,
 * over the store of vendor/keycenter.h).  It is the only program
 * that ever reads the private key; lmd and applications get the public key
 * only.
 *
 * This file holds main(), the usages, the helpers the commands share
 * (tools/lmvendor.h), and the small commands: keygen, sign, authcode.
 * verify and issue have their own files, lmvendor_<command>.c.
 *
 * Every command takes --help, and --json for one JSON document on stdout:
 *   keygen    {"private_key":PATH,"public_key":PATH}
 *   sign      {"file":PATH,"lines":N,"output":PATH|null,"license":TEXT}
 *   verify    {"file":PATH,"lines":[...],"valid":BOOL} (lmvendor_verify.c)
 *   authcode  {"authcode":CODE}
 *   issue     {"feature":..,"vendor":..,"version":..,"expiry":DATE,
 *              "count":N|null,"auth":CODE,"issued":DATE,
 *              "output":PATH|null,"license":TEXT}
 * and the key center's documents (man/lmvendor.1, JSON OUTPUT),
 * and {"error":{"code","number","message"}} when it fails (tools/report.h).
 *
 * Exit status: 0 done, 1 failed (a file, a key, a license, a signature),
 * 2 wrong usage. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/report.h"
#include "vendor/sign.h"

/* A command: its name, what follows the name in its usage (continuation
 * lines after '\n'), and what it does (lines after '\n'). */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *about;
};

static int cmd_keygen(int argc, char **argv);
static int cmd_sign(int argc, char **argv);
static int cmd_authcode(int argc, char **argv);

static const struct command commands[] = {
        {"keygen", cmd_keygen, "keygen [--force] [--json] PRIVATE.pem PUBLIC.pem",
         "make a new Ed25519 key pair; the private key file gets mode 0600.\n"
         "Existing files are kept unless --force is given."},
        {"sign", cmd_sign, "sign --key PRIVATE.pem [-o OUT] [--json] FILE",
         "sign every FEATURE, INCREMENT and PACKAGE line of FILE and print the\n"
         "signed file (or write it to OUT, atomically)."},
        {"verify", lmvendor_cmd_verify, "verify --pubkey PUBLIC.pem [--json] FILE",
         "check the signature of every license line; exit 0 only if all are valid."},
        {"authcode", cmd_authcode,
         "authcode [--json]\n"
         "authcode generate --site S --entitlement E [--count N] [--comment TEXT]\n"
         "[--outbox DIR]\n"
         "authcode return CODE --lock LOCK[,LOCK,LOCK] [--count N] [--rehost-limit N]",
         "print a new random authorization code; with generate, make one in the\n"
         "key-center store from entitlement E, carrying N of its quantity (all that\n"
         "is not on a code yet when --count is not given); with return, give back\n"
         "what the host of LOCK holds from CODE (N of it, or all), so that it can be\n"
         "activated elsewhere: at most 4 returns of a code in 365 days (or N)."},
        {"issue", lmvendor_cmd_issue,
         "issue --key PRIVATE.pem --feature NAME --vendor VENDOR --version VERSION\n"
         "(--count N | --uncounted) [--expiry DATE|permanent] [--hostid CODE]\n"
         "[--server HOST:LOCKCODE:PORT]... [--auth CODE] [--start DATE]\n"
         "[--notice TEXT] [--named-users N] [--borrow HOURS] [--sn TEXT]\n"
         "[--host-desc TEXT] [--tolerance N] [--force] [-o OUT] [--json]",
         "write a complete signed license file: SERVER lines (one, or three\n"
         "redundant servers), the VENDOR line and the FEATURE line, with\n"
         "ISSUED set to today and a new authorization code unless --auth.\n"
         "Counted licenses need --server; uncounted ones need --hostid.\n"
         "Dates are YYYY-MM-DD or dd-mon-yyyy; no --expiry means permanent.\n"
         "An expiry already past or before --start is refused unless --force.\n"
         "What was signed (seats, expiry, start) is stated on standard error."},
        /* The key center: every one of these takes --store PATH (or
         * LMVENDOR_STORE); see lmvendor_center*.c. */
        {"site", lmvendor_cmd_site,
         "site add [--number S] --company NAME [--contact ROLE=TEXT]... [--vendor V]\n"
         "[--outbox DIR]\n"
         "site show S | site list",
         "the customer accounts of the key center.  ROLE is primary, technical,\n"
         "administrative, renewal, shipping or billing.  The first site add makes\n"
         "the store and needs --vendor (the VENDOR of the licenses it issues).\n"
         "--outbox DIR (site add, authcode generate, order add with renewals):\n"
         "the welcome, authorization or renewal message to the site's contacts,\n"
         "written to DIR as an .eml file."},
        {"order", lmvendor_cmd_order,
         "order add --site S --order NUMBER [--po PO] [--date DATE] [--partner NAME]\n"
         "[--bundle NAME=FEATURE,FEATURE...] [--outbox DIR] --line LINE...\n"
         "order show NUMBER | order list [--site S]\n"
         "order partner NUMBER [--partner NAME]\n"
         "order proof NUMBER [--pdf FILE]",
         "record an order and its entitlement lines.  LINE is \"PRODUCT VERSION TYPE\n"
         "QUANTITY [start=DATE] [end=DATE|perpetual] [maintenance=DATE]\" with TYPE\n"
         "concurrent, authorized-user (right to copy; also authorized-user-copy),\n"
         "authorized-user-single (single copy: one machine per code) or named-user;\n"
         "a PRODUCT named by --bundle gives each component its own entitlement.\n"
         "\"renew E end=DATE\n"
         "[maintenance=DATE]\" extends entitlement E's term.  order partner shows the\n"
         "order's partner of record (the reseller) and its history; with --partner\n"
         "it changes it from today on.  order proof prints the order's proof of\n"
         "entitlement (what was bought), and draws it into a PDF with --pdf."},
        {"member", lmvendor_cmd_member,
         "member add|request --site S --email ADDRESS [--name TEXT] [--rights admin|member]\n"
         "member approve --site S --email ADDRESS --by ADMIN [--rights R]\n"
         "member list --site S",
         "the people who act for a site, with admin or member rights: the vendor\n"
         "adds the first (active at once), others request access (pending) and an\n"
         "active admin of the site approves them.  A customer token may name an\n"
         "active member (token create --member ADDRESS)."},
        {"activate", lmvendor_cmd_activate,
         "activate --key PRIVATE.pem --auth CODE --lock LOCK[,LOCK,LOCK]\n"
         "[--servers HOST:PORT[,...]] [--count N] [--host-desc TEXT] [--days N]\n"
         "[-o OUT]",
         "take N (default 1) from the code's remaining quantity and write the signed\n"
         "license of that host: node-locked for authorized-user, SERVER lines for\n"
         "concurrent and named-user (three lock codes: a redundant triad).  A host\n"
         "that already holds the product gets its license re-issued with the new\n"
         "total; --count 0 only re-issues it (after a renewal).  --days N makes it\n"
         "a temporary license.  Refused, changing nothing: an unknown, mistyped,\n"
         "expired or used-up code, or more than it has left."},
        {"renew", lmvendor_cmd_renew,
         "renew --key PRIVATE.pem --order ORDER --until DATE [--maintenance DATE]\n"
         "[--out DIR] [--outbox DIR]",
         "renew every entitlement of the order until DATE (as its \"renew E\" lines\n"
         "would) and re-issue the license of every host holding seats of them, one\n"
         "file a host and product into DIR (.); prints the site's renewal contacts\n"
         "to send them to, and with --outbox writes them the message.  Refused,\n"
         "changing nothing: an unknown order, a DATE not after the current end, an\n"
         "order whose entitlements are all perpetual."},
        {"fulfil", lmvendor_cmd_fulfil, "fulfil --key PRIVATE.pem [--days N] [-o OUT] REQUEST",
         "answer a request file written by `lmutil activate-request` with the\n"
         "license file, as activate would."},
        {"serve", lmvendor_cmd_serve,
         "serve --listen ADDR:PORT --cert CERT.pem --key TLSKEY.pem [--plain-http]\n"
         "[--signing-key PRIVATE.pem] [--rate N] [--code-rate N] [--rehost-limit N]",
         "the key center online: a JSON API over HTTPS (activate, return, a code's\n"
         "status, a site's inventory); --rate requests a minute per token or address\n"
         "(120), --code-rate requests naming one authorization code a minute,\n"
         "whoever asks (60); --plain-http on a loopback address only, for tests."},
        {"token", lmvendor_cmd_token,
         "token create --role vendor|customer [--site S] [--member ADDRESS] [--name TEXT]\n"
         "token list [--site S] [--json]\n"
         "token revoke ID [--json]",
         "make an API token for serve, printed once (the store keeps its hash): a\n"
         "vendor token sees every site, a customer token its own site only; list\n"
         "the tokens (id, role, site, created, last used, never the secret); revoke\n"
         "one by its id: a running serve refuses it from the next request on."},
        {"audit", lmvendor_cmd_audit, "audit [--site S] [--json]",
         "print serve's audit trail: every request, who made it, its outcome."},
        {"dump", lmvendor_cmd_dump, "dump [PREFIX]",
         "print the store's records whose keys start with PREFIX (all), one a line:\n"
         "KEY JSON, in key order; for backups, diffs and support."},
        {"inventory", lmvendor_cmd_inventory,
         "inventory --site S [--expiring DAYS[d]] [--json|--csv]",
         "per entitlement and code: bought, activated, remaining, deployed where,\n"
         "and the term; --expiring lists only terms or maintenance ending within\n"
         "DAYS (the renewal-quote list)."},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Prints text, each line after the first preceded by indent. */
static void print_lines(FILE *out, const char *text, const char *indent)
{
	for (const char *p = text; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fputs(indent, out);
	}
	fputc('\n', out);
}

static void usage(FILE *out)
{
	fputs("usage: lmvendor COMMAND [OPTIONS]\n\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fputs("  ", out);
		print_lines(out, commands[i].synopsis, "        ");
		fputs("      ", out);
		print_lines(out, commands[i].about, "      ");
	}
	fputs("\n"
	      "Every command takes --help, and --json to print one JSON document on\n"
	      "stdout, {\"error\":{\"code\":...,\"number\":...,\"message\":...}} when it fails.\n"
	      "The key-center commands (site, order, authcode generate|return, activate,\n"
	      "fulfil, renew, inventory, member, serve, token, audit, dump) take --store\n"
	      "PATH or LMVENDOR_STORE, and those that sign take --key PRIVATE.pem or\n"
	      "LMVENDOR_KEY (serve: --signing-key, its --key being the TLS key).\n"
	      "Exit status: 0 done, 1 failed, 2 wrong usage.\n",
	      out);
}

int lmvendor_help(const char *command)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, command) != 0)
			continue;
		fputs("usage: lmvendor ", stdout);
		print_lines(stdout, commands[i].synopsis, "        ");
		print_lines(stdout, commands[i].about, "");
		return 0;
	}
	usage(stdout);
	return 0;
}

int lmvendor_usage_error(const char *fmt, ...)
{
	char sentence[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sentence, sizeof sentence, fmt, ap);
	va_end(ap);
	lm_report_fail(LMC_EINVAL, "%s; see `lmvendor --help`", sentence);
	return LMVENDOR_EXIT_USAGE;
}

/* getopt's own messages would carry the subcommand as the program name;
 * main() turns them off (opterr) and this says it our way.  The option
 * strings start with ':' so that a missing value is told apart. */
int lmvendor_bad_option(char **argv, int c)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		return lmvendor_usage_error("%s: option %s needs a value", argv[0], arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		return lmvendor_usage_error("%s: unknown option -%c", argv[0], optopt);
	return lmvendor_usage_error("%s: unknown option %s", argv[0], arg);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Writes f to path through a temporary file in the same directory and a
 * rename, so that a reader (or lmd rereading its file) never sees half a
 * license file. */
static int write_atomic(const char *path, const struct lm_license_file *f)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
		lm_report_fail(LMC_ETOOLARGE, "%s: path too long", path);
		return 1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		lm_report_fail(LMC_EIO, "cannot create %s: %s", tmp, strerror(errno));
		return 1;
	}
	/* mkstemp makes the file private; a license file is not secret. */
	mode_t mask = umask(0);
	umask(mask);
	FILE *out = fdopen(fd, "w");
	if (!out || fchmod(fd, 0666 & ~mask) != 0) {
		lm_report_fail(LMC_EIO, "cannot write %s: %s", tmp, strerror(errno));
		if (out)
			fclose(out);
		else
			close(fd);
		unlink(tmp);
		return 1;
	}
	int rc = lm_license_print(f, out);
	int e = errno;
	if (rc == 0 && fsync(fd) != 0) {
		rc = LMC_EIO;
		e = errno;
	}
	if (fclose(out) != 0 && rc == 0) {
		rc = LMC_EIO;
		e = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = LMC_EIO;
		e = errno;
	}
	if (rc) {
		lm_report_fail(LMC_EIO, "cannot write %s: %s", path, strerror(e));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* The text of f, as lm_license_print writes it (caller frees), or NULL
 * after reporting. */
static char *license_text(const struct lm_license_file *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return NULL;
	}
	int rc = lm_license_print(f, out);
	if (fclose(out) != 0 || rc != 0) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		free(text);
		return NULL;
	}
	return text;
}

int lmvendor_emit(const char *path, const struct lm_license_file *f, json_t *doc)
{
	if (!doc) {
		if (path)
			return write_atomic(path, f);
		if (lm_license_print(f, stdout) != 0) {
			lm_report_fail(LMC_EIO, "cannot write to standard output: %s",
			               strerror(errno));
			return 1;
		}
		return 0;
	}
	char *text = license_text(f);
	if (!text || (path && write_atomic(path, f) != 0)) {
		free(text);
		json_decref(doc);
		return 1;
	}
	lm_json_set(doc, "output", path ? lm_json_text(path) : json_null());
	lm_json_set(doc, "license", lm_json_text(text));
	free(text);
	return lm_report_print(doc);
}

int lmvendor_load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err)
{
	int rc = lm_license_load(path, f, err);
	if (rc == 0)
		return 0;
	if (err->lineno > 0)
		lm_report_fail(rc, "%s:%d: %s", path, err->lineno, err->message);
	else
		lm_report_fail(rc, "%s", err->message);
	return rc;
}

/* ---- keygen ------------------------------------------------------------ */

static int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"force", no_argument, NULL, 'f'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help(argv[0]);
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (argc - optind != 2)
		return lmvendor_usage_error("keygen takes two files: PRIVATE.pem PUBLIC.pem");
	const char *priv = argv[optind], *pub = argv[optind + 1];
	if (strcmp(priv, pub) == 0)
		return lmvendor_usage_error(
		        "keygen: the private and the public key need two different files");
	if (!force) {
		for (int i = 0; i < 2; i++) {
			const char *p = i ? pub : priv;
			if (exists(p)) {
				lm_report_fail(
				        LMC_EINVAL,
				        "%s exists; keeping it (use --force to replace it, and "
				        "remember that licenses signed with the old key will "
				        "no longer verify with the new public key)",
				        p);
				return 1;
			}
		}
	}
	char err[512];
	int rc = lm_key_generate(priv, pub, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		return 1;
	}
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "private_key", lm_json_text(priv));
		lm_json_set(doc, "public_key", lm_json_text(pub));
		return lm_report_print(doc);
	}
	printf("wrote private key %s (keep it secret) and public key %s (ship it with lmd "
	       "and your application)\n",
	       priv, pub);
	return 0;
}

/* ---- sign -------------------------------------------------------------- */

int lmvendor_load_private(const char *path, EVP_PKEY **key)
{
	char err[512];
	int rc = lm_key_load_private(path, key, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		return 1;
	}
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"output", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *keypath = NULL, *out = NULL;
	int c;
	while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 'o': out = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help(argv[0]);
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (!keypath)
		return lmvendor_usage_error("sign needs --key PRIVATE.pem");
	if (argc - optind != 1)
		return lmvendor_usage_error("sign takes one license file");
	const char *path = argv[optind];

	EVP_PKEY *key = NULL;
	struct lm_license_file f;
	struct lm_parse_error perr;
	if (lmvendor_load_private(keypath, &key) != 0)
		return 1;
	if (lmvendor_load_file(path, &f, &perr) != 0) {
		EVP_PKEY_free(key);
		return 1;
	}
	int status = 0;
	if (f.nlines == 0)
		lm_report_say("warning: %s has no FEATURE, INCREMENT or PACKAGE line to sign",
		              path);
	int rc = lm_license_sign(&f, key);
	if (rc) {
		lm_report_fail(rc, "cannot sign %s: %s", path, lmc_strerror(rc));
		status = 1;
	} else {
		json_t *doc = NULL;
		if (lm_report_is_json()) {
			doc = lm_json_object();
			lm_json_set(doc, "file", lm_json_text(path));
			lm_json_set(doc, "lines", lm_json_int((long long)f.nlines));
		}
		status = lmvendor_emit(out, &f, doc);
	}
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}

/* ---- authcode ---------------------------------------------------------- */

/* An authorization code: 80 random bits, as 16 symbols and a check symbol
 * in groups of 4.  Enough that codes never collide among all orders ever
 * placed, short enough to read over the phone. */
#define AUTH_BYTES 10

int lmvendor_new_authcode(char *buf, size_t size)
{
	uint8_t bytes[AUTH_BYTES], sym[LM_CODE32_MAX_SYMBOLS];
	if (RAND_bytes(bytes, sizeof bytes) != 1) {
		lm_report_fail(LMC_EIO, "the random number generator failed");
		return 1;
	}
	size_t n = lm_code32_from_bytes(bytes, sizeof bytes, sym, sizeof sym);
	int rc = lm_code32_encode(sym, n, 4, buf, size);
	if (rc != 0) {
		lm_report_fail(rc, "cannot format an authorization code");
		return 1;
	}
	return 0;
}

static int cmd_authcode(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	if (argc > 1 && !strcmp(argv[1], "generate"))
		return lmvendor_cmd_authcode_generate(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "return"))
		return lmvendor_cmd_authcode_return(argc - 1, argv + 1);
	int c;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help(argv[0]);
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (optind != argc)
		return lmvendor_usage_error("authcode takes no arguments (or: authcode generate)");
	char code[64];
	if (lmvendor_new_authcode(code, sizeof code) != 0)
		return 1;
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "authcode", lm_json_text(code));
		return lm_report_print(doc);
	}
	printf("%s\n", code);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	lm_report_begin("lmvendor");
	if (argc < 2) {
		usage(stderr);
		return LMVENDOR_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version")) {
		printf("lmvendor (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	opterr = 0;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return lm_report_end(commands[i].run(argc - 1, argv + 1));
	return lmvendor_usage_error("unknown command '%s'", name);
}
