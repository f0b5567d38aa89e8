/* lmvendor: the vendor's tool.  It makes the vendor's key pair, signs and
 * verifies license files, and issues new licenses.  It is the only program
 * that ever reads the private key; lmd and applications get the public key
 * only.
 *
 * This file holds main(), the usage, the helpers the commands share
 * (tools/lmvendor.h), and the small commands: keygen, sign, authcode.
 * verify and issue have their own files, lmvendor_<command>.c.
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
#include "vendor/sign.h"

const char lmvendor_usage[] =
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

void lmvendor_complain(const char *fmt, ...)
{
	va_list ap;
	fputs("lmvendor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int lmvendor_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("lmvendor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see `lmvendor --help`\n", stderr);
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
		lmvendor_complain("%s: path too long", path);
		return 1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		lmvendor_complain("cannot create %s: %s", tmp, strerror(errno));
		return 1;
	}
	/* mkstemp makes the file private; a license file is not secret. */
	mode_t mask = umask(0);
	umask(mask);
	FILE *out = fdopen(fd, "w");
	if (!out || fchmod(fd, 0666 & ~mask) != 0) {
		lmvendor_complain("cannot write %s: %s", tmp, strerror(errno));
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
		lmvendor_complain("cannot write %s: %s", path, strerror(e));
		unlink(tmp);
		return 1;
	}
	return 0;
}

int lmvendor_output(const char *path, const struct lm_license_file *f)
{
	if (path)
		return write_atomic(path, f);
	if (lm_license_print(f, stdout) != 0) {
		lmvendor_complain("cannot write to standard output: %s", strerror(errno));
		return 1;
	}
	return 0;
}

int lmvendor_load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err)
{
	int rc = lm_license_load(path, f, err);
	if (rc == 0)
		return 0;
	if (err->lineno > 0)
		lmvendor_complain("%s:%d: %s", path, err->lineno, err->message);
	else
		lmvendor_complain("%s", err->message);
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
		case 'h': fputs(lmvendor_usage, stdout); return 0;
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
				lmvendor_complain(
				        "%s exists; keeping it (use --force to replace it, and "
				        "remember that licenses signed with the old key will no "
				        "longer verify with the new public key)",
				        p);
				return 1;
			}
		}
	}
	char err[512];
	if (lm_key_generate(priv, pub, err, sizeof err) != 0) {
		lmvendor_complain("%s", err);
		return 1;
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
	if (lm_key_load_private(path, key, err, sizeof err) != 0) {
		lmvendor_complain("%s", err);
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
		case 'h': fputs(lmvendor_usage, stdout); return 0;
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
		lmvendor_complain("warning: %s has no FEATURE, INCREMENT or PACKAGE line to sign",
		                  path);
	int rc = lm_license_sign(&f, key);
	if (rc) {
		lmvendor_complain("cannot sign %s: %s", path, lmc_strerror(rc));
		status = 1;
	} else {
		status = lmvendor_output(out, &f);
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
		lmvendor_complain("the random number generator failed");
		return 1;
	}
	size_t n = lm_code32_from_bytes(bytes, sizeof bytes, sym, sizeof sym);
	if (lm_code32_encode(sym, n, 4, buf, size) != 0) {
		lmvendor_complain("cannot format an authorization code");
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
		case 'h': fputs(lmvendor_usage, stdout); return 0;
		default: return lmvendor_bad_option(argv, c);
		}
	}
	if (optind != argc)
		return lmvendor_usage_error("authcode takes no arguments");
	char code[64];
	if (lmvendor_new_authcode(code, sizeof code) != 0)
		return 1;
	printf("%s\n", code);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
        {"keygen", cmd_keygen},          {"sign", cmd_sign},
        {"verify", lmvendor_cmd_verify}, {"authcode", cmd_authcode},
        {"issue", lmvendor_cmd_issue},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(lmvendor_usage, stderr);
		return LMVENDOR_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		fputs(lmvendor_usage, stdout);
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
	return lmvendor_usage_error("unknown command '%s'", name);
}
