/* lmvendor: the vendor's tool.  It makes the vendor's key pair, signs and
 * verifies license files, and issues new licenses.  It is the only program
 * that ever reads the private key; lmd and applications get the public key
 * only.
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
#include "core/key.h"
#include "core/license.h"
#include "client/lmc.h"
#include "tools/json.h"

#define EXIT_USAGE 2

/* An authorization code: 80 random bits, as 16 symbols and a check symbol
 * in groups of 4.  Enough that codes never collide among all orders ever
 * placed, short enough to read over the phone. */
#define AUTH_BYTES 10

static const char usage_text[] =
        "usage: lmvendor COMMAND [OPTIONS]\n"
        "\n"
        "  keygen [--force] PRIVATE.pem PUBLIC.pem\n"
        "      make a new Ed25519 key pair; the private key file gets mode 0600.\n"
        "      Existing files are kept unless --force is given.\n"
        "  sign --key PRIVATE.pem [-o OUT] FILE\n"
        "      sign every FEATURE, INCREMENT and PACKAGE line of FILE and print the\n"
        "      signed file (or write it to OUT, atomically).\n"
        "  verify --pubkey PUBLIC.pem [--json] FILE\n"
        "      check the signature of every license line; exit 0 only if all are valid.\n"
        "  authcode\n"
        "      print a new random authorization code.\n"
        "  issue --key PRIVATE.pem --feature NAME --vendor VENDOR --version VERSION\n"
        "        (--count N | --uncounted) [--expiry DATE|permanent] [--hostid CODE]\n"
        "        [--server HOST:LOCKCODE:PORT]... [--auth CODE] [--start DATE]\n"
        "        [--notice TEXT] [--named-users N] [--borrow HOURS] [--sn TEXT]\n"
        "        [--host-desc TEXT] [--tolerance N] [-o OUT]\n"
        "      write a complete signed license file: SERVER lines (one, or three\n"
        "      redundant servers), the VENDOR line and the FEATURE line, with\n"
        "      ISSUED set to today and a new authorization code unless --auth.\n"
        "      Counted licenses need --server; uncounted ones need --hostid.\n"
        "\n"
        "Dates are YYYY-MM-DD or dd-mon-yyyy.  Exit status: 0 done, 1 failed,\n"
        "2 wrong usage.\n";

__attribute__((format(printf, 1, 2))) static void complain(const char *fmt, ...)
{
	va_list ap;
	fputs("lmvendor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("lmvendor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see `lmvendor --help`\n", stderr);
	return EXIT_USAGE;
}

/* getopt's own messages would carry the subcommand as the program name;
 * main() turns them off (opterr) and this says it our way.  The option
 * strings start with ':' so that a missing value is told apart. */
static int bad_option(char **argv, int c)
{
	const char *arg = argv[optind - 1];
	if (c == ':')
		return usage_error("%s: option %s needs a value", argv[0], arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		return usage_error("%s: unknown option -%c", argv[0], optopt);
	return usage_error("%s: unknown option %s", argv[0], arg);
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
		complain("%s: path too long", path);
		return 1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		complain("cannot create %s: %s", tmp, strerror(errno));
		return 1;
	}
	/* mkstemp makes the file private; a license file is not secret. */
	mode_t mask = umask(0);
	umask(mask);
	FILE *out = fdopen(fd, "w");
	if (!out || fchmod(fd, 0666 & ~mask) != 0) {
		complain("cannot write %s: %s", tmp, strerror(errno));
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
		complain("cannot write %s: %s", path, strerror(e));
		unlink(tmp);
		return 1;
	}
	return 0;
}

static int output(const char *path, const struct lm_license_file *f)
{
	if (path)
		return write_atomic(path, f);
	if (lm_license_print(f, stdout) != 0) {
		complain("cannot write to standard output: %s", strerror(errno));
		return 1;
	}
	return 0;
}

static int load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err)
{
	int rc = lm_license_load(path, f, err);
	if (rc == 0)
		return 0;
	if (err->lineno > 0)
		complain("%s:%d: %s", path, err->lineno, err->message);
	else
		complain("%s", err->message);
	return rc;
}

/* ---- keygen ------------------------------------------------------------ */

static int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"force", no_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return bad_option(argv, c);
		}
	}
	if (argc - optind != 2)
		return usage_error("keygen takes two files: PRIVATE.pem PUBLIC.pem");
	const char *priv = argv[optind], *pub = argv[optind + 1];
	if (strcmp(priv, pub) == 0)
		return usage_error(
		        "keygen: the private and the public key need two different files");
	if (!force) {
		for (int i = 0; i < 2; i++) {
			const char *p = i ? pub : priv;
			if (exists(p)) {
				complain("%s exists; keeping it (use --force to replace it, and "
				         "remember that licenses signed with the old key will no "
				         "longer verify with the new public key)",
				         p);
				return 1;
			}
		}
	}
	char err[512];
	if (lm_key_generate(priv, pub, err, sizeof err) != 0) {
		complain("%s", err);
		return 1;
	}
	printf("wrote private key %s (keep it secret) and public key %s (ship it with lmd "
	       "and your application)\n",
	       priv, pub);
	return 0;
}

/* ---- sign -------------------------------------------------------------- */

static int load_private(const char *path, EVP_PKEY **key)
{
	char err[512];
	if (lm_key_load_private(path, key, err, sizeof err) != 0) {
		complain("%s", err);
		return 1;
	}
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"output", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *keypath = NULL, *out = NULL;
	int c;
	while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return bad_option(argv, c);
		}
	}
	if (!keypath)
		return usage_error("sign needs --key PRIVATE.pem");
	if (argc - optind != 1)
		return usage_error("sign takes one license file");
	const char *path = argv[optind];

	EVP_PKEY *key = NULL;
	struct lm_license_file f;
	struct lm_parse_error perr;
	if (load_private(keypath, &key) != 0)
		return 1;
	if (load_file(path, &f, &perr) != 0) {
		EVP_PKEY_free(key);
		return 1;
	}
	int status = 0;
	if (f.nlines == 0)
		complain("warning: %s has no FEATURE, INCREMENT or PACKAGE line to sign", path);
	int rc = lm_license_sign(&f, key);
	if (rc) {
		complain("cannot sign %s: %s", path, lmc_strerror(rc));
		status = 1;
	} else {
		status = output(out, &f);
	}
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}

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

static int cmd_verify(int argc, char **argv)
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
		case 'h': fputs(usage_text, stdout); return 0;
		default: return bad_option(argv, c);
		}
	}
	if (!keypath)
		return usage_error("verify needs --pubkey PUBLIC.pem");
	if (argc - optind != 1)
		return usage_error("verify takes one license file");
	const char *path = argv[optind];

	EVP_PKEY *key = NULL;
	char err[512];
	if (lm_key_load_public(keypath, &key, err, sizeof err) != 0) {
		complain("%s", err);
		return 1;
	}
	struct lm_license_file f;
	struct lm_parse_error perr;
	int rc = load_file(path, &f, &perr);
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
		complain("%s has no FEATURE, INCREMENT or PACKAGE line", path);
	else if (bad)
		complain("%s: %zu of %zu license lines are invalid", path, bad, f.nlines);
	int status = bad == 0 && f.nlines > 0 ? 0 : 1;
	lm_license_free(&f);
	EVP_PKEY_free(key);
	return status;
}

/* ---- authcode ---------------------------------------------------------- */

static int new_authcode(char *buf, size_t size)
{
	uint8_t bytes[AUTH_BYTES], sym[LM_CODE32_MAX_SYMBOLS];
	if (RAND_bytes(bytes, sizeof bytes) != 1) {
		complain("the random number generator failed");
		return 1;
	}
	size_t n = lm_code32_from_bytes(bytes, sizeof bytes, sym, sizeof sym);
	if (lm_code32_encode(sym, n, 4, buf, size) != 0) {
		complain("cannot format an authorization code");
		return 1;
	}
	return 0;
}

static int cmd_authcode(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(usage_text, stdout); return 0;
		default: return bad_option(argv, c);
		}
	}
	if (optind != argc)
		return usage_error("authcode takes no arguments");
	char code[64];
	if (new_authcode(code, sizeof code) != 0)
		return 1;
	printf("%s\n", code);
	return 0;
}

/* ---- issue ------------------------------------------------------------- */

/* The new license is written as license file text and read back by the
 * license parser, so that it passes exactly the checks every file passes.
 * For that, no value may smuggle in syntax: no quotes (values are quoted)
 * and no control characters (a newline would start a new line); fields
 * written bare may not contain blanks or '=' either. */
static int check_value(const char *opt, const char *v, bool bare)
{
	if (!*v)
		return usage_error("issue: %s is empty", opt);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"')
			return usage_error("issue: %s cannot contain a double quote", opt);
		if (*p < 0x20 || *p == 0x7f)
			return usage_error("issue: %s cannot contain control characters", opt);
		if (bare && (*p == ' ' || *p == '=' || *p == '\\'))
			return usage_error("issue: %s cannot contain '%c'", opt, *p);
	}
	return 0;
}

struct issue {
	const char *key, *feature, *vendor, *version, *expiry, *count, *hostid, *auth;
	const char *start, *notice, *named_users, *borrow, *sn, *host_desc, *tolerance, *out;
	const char *servers[4];
	int nservers;
	bool uncounted;
};

/* HOST:LOCKCODE:PORT, split at the last two colons so that an IPv6 host
 * keeps its own. */
static int split_server(const char *arg, char *host, size_t hsize, char *code, size_t csize,
                        char *port, size_t psize)
{
	const char *last = strrchr(arg, ':');
	if (!last || last == arg)
		return -1;
	const char *mid = last - 1;
	while (mid > arg && *mid != ':')
		mid--;
	if (*mid != ':' || mid == arg || last - mid < 2 || !last[1])
		return -1;
	if ((size_t)(mid - arg) >= hsize || (size_t)(last - mid - 1) >= csize ||
	    strlen(last + 1) >= psize)
		return -1;
	snprintf(host, hsize, "%.*s", (int)(mid - arg), arg);
	snprintf(code, csize, "%.*s", (int)(last - mid - 1), mid + 1);
	snprintf(port, psize, "%s", last + 1);
	return 0;
}

static void keyword(FILE *out, const char *name, const char *value)
{
	if (value)
		fprintf(out, " %s=\"%s\"", name, value);
}

static int compose(const struct issue *is, const char *auth, char **text, size_t *len)
{
	FILE *out = open_memstream(text, len);
	if (!out) {
		complain("out of memory");
		return 1;
	}
	char today[16];
	lm_date_format(lm_date_today(), today, sizeof today);
	fprintf(out, "# %s %s for vendor %s, issued %s by lmvendor\n", is->feature, is->version,
	        is->vendor, today);
	for (int i = 0; i < is->nservers; i++) {
		char host[512], code[512], port[64];
		if (split_server(is->servers[i], host, sizeof host, code, sizeof code, port,
		                 sizeof port) != 0) {
			fclose(out);
			return usage_error("issue: --server '%s' is not HOST:LOCKCODE:PORT",
			                   is->servers[i]);
		}
		fprintf(out, "SERVER %s %s %s\n", host, code, port);
	}
	fprintf(out, "VENDOR %s\n", is->vendor);
	fprintf(out, "FEATURE %s %s %s %s %s", is->feature, is->vendor, is->version,
	        is->expiry ? is->expiry : "permanent", is->uncounted ? "uncounted" : is->count);
	keyword(out, "HOSTID", is->hostid);
	keyword(out, "AUTH", auth);
	keyword(out, "START", is->start);
	keyword(out, "ISSUED", today);
	keyword(out, "NOTICE", is->notice);
	keyword(out, "NAMED_USERS", is->named_users);
	keyword(out, "BORROW", is->borrow);
	keyword(out, "HOST_DESC", is->host_desc);
	keyword(out, "SN", is->sn);
	keyword(out, "TOLERANCE", is->tolerance);
	fputc('\n', out);
	if (fclose(out) != 0) {
		complain("out of memory");
		return 1;
	}
	return 0;
}

static int check_issue(const struct issue *is)
{
	if (!is->key)
		return usage_error("issue needs --key PRIVATE.pem");
	if (!is->feature || !is->vendor || !is->version)
		return usage_error("issue needs --feature NAME, --vendor VENDOR and --version X");
	if (!is->count == !is->uncounted)
		return usage_error("issue needs either --count N or --uncounted");
	if (is->nservers > 3)
		return usage_error(
		        "issue: give --server once, or three times for redundant servers");
	const struct {
		const char *opt, *value;
		bool bare;
	} values[] = {
	        {"--feature", is->feature, true},      {"--vendor", is->vendor, true},
	        {"--version", is->version, true},      {"--expiry", is->expiry, true},
	        {"--count", is->count, true},          {"--hostid", is->hostid, false},
	        {"--auth", is->auth, false},           {"--start", is->start, false},
	        {"--notice", is->notice, false},       {"--named-users", is->named_users, false},
	        {"--borrow", is->borrow, false},       {"--sn", is->sn, false},
	        {"--host-desc", is->host_desc, false}, {"--tolerance", is->tolerance, false},
	        {"--server", is->servers[0], true},    {"--server", is->servers[1], true},
	        {"--server", is->servers[2], true},
	};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		if (!values[i].value)
			continue;
		int rc = check_value(values[i].opt, values[i].value, values[i].bare);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmd_issue(int argc, char **argv)
{
	enum {
		O_FEATURE = 256,
		O_VENDOR,
		O_VERSION,
		O_EXPIRY,
		O_COUNT,
		O_UNCOUNTED,
		O_HOSTID,
		O_SERVER,
		O_AUTH,
		O_START,
		O_NOTICE,
		O_NAMED,
		O_BORROW,
		O_SN,
		O_HOSTDESC,
		O_TOLERANCE,
	};
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"output", required_argument, NULL, 'o'},
	        {"feature", required_argument, NULL, O_FEATURE},
	        {"vendor", required_argument, NULL, O_VENDOR},
	        {"version", required_argument, NULL, O_VERSION},
	        {"expiry", required_argument, NULL, O_EXPIRY},
	        {"count", required_argument, NULL, O_COUNT},
	        {"uncounted", no_argument, NULL, O_UNCOUNTED},
	        {"hostid", required_argument, NULL, O_HOSTID},
	        {"server", required_argument, NULL, O_SERVER},
	        {"auth", required_argument, NULL, O_AUTH},
	        {"start", required_argument, NULL, O_START},
	        {"notice", required_argument, NULL, O_NOTICE},
	        {"named-users", required_argument, NULL, O_NAMED},
	        {"borrow", required_argument, NULL, O_BORROW},
	        {"sn", required_argument, NULL, O_SN},
	        {"host-desc", required_argument, NULL, O_HOSTDESC},
	        {"tolerance", required_argument, NULL, O_TOLERANCE},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct issue is = {0};
	int c;
	while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': is.key = optarg; break;
		case 'o': is.out = optarg; break;
		case O_FEATURE: is.feature = optarg; break;
		case O_VENDOR: is.vendor = optarg; break;
		case O_VERSION: is.version = optarg; break;
		case O_EXPIRY: is.expiry = optarg; break;
		case O_COUNT: is.count = optarg; break;
		case O_UNCOUNTED: is.uncounted = true; break;
		case O_HOSTID: is.hostid = optarg; break;
		case O_SERVER:
			if (is.nservers < 4)
				is.servers[is.nservers] = optarg;
			is.nservers++;
			break;
		case O_AUTH: is.auth = optarg; break;
		case O_START: is.start = optarg; break;
		case O_NOTICE: is.notice = optarg; break;
		case O_NAMED: is.named_users = optarg; break;
		case O_BORROW: is.borrow = optarg; break;
		case O_SN: is.sn = optarg; break;
		case O_HOSTDESC: is.host_desc = optarg; break;
		case O_TOLERANCE: is.tolerance = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return bad_option(argv, c);
		}
	}
	if (optind != argc)
		return usage_error("issue takes options only, not '%s'", argv[optind]);
	int rc = check_issue(&is);
	if (rc)
		return rc;

	char auth[64];
	if (!is.auth && new_authcode(auth, sizeof auth) != 0)
		return 1;
	EVP_PKEY *key = NULL;
	if (load_private(is.key, &key) != 0)
		return 1;
	char *text = NULL;
	size_t len = 0;
	rc = compose(&is, is.auth ? is.auth : auth, &text, &len);
	if (rc) {
		free(text);
		EVP_PKEY_free(key);
		return rc;
	}

	struct lm_license_file f;
	struct lm_parse_error perr;
	int status = 1;
	rc = lm_license_parse(text, len, &f, &perr);
	if (rc) {
		/* The message names the field; the line number would only
		 * point into text the user never saw. */
		complain("issue: %s", perr.message);
		goto out;
	}
	rc = lm_license_sign(&f, key);
	/* Check the new signatures before anyone sees them. */
	for (size_t i = 0; rc == 0 && i < f.nlines; i++)
		rc = lm_license_verify(&f, &f.lines[i], key);
	if (rc) {
		complain("issue: cannot sign the license: %s", lmc_strerror(rc));
	} else {
		status = output(is.out, &f);
	}
	lm_license_free(&f);
out:
	free(text);
	EVP_PKEY_free(key);
	return status;
}

/* ---- main -------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
        {"keygen", cmd_keygen},     {"sign", cmd_sign},   {"verify", cmd_verify},
        {"authcode", cmd_authcode}, {"issue", cmd_issue},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(name, "--version")) {
		printf("lmvendor (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	opterr = 0;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", name);
}
