/* Admin keys on lmutil's side (tools/lmutil_admin.h): making a key pair
 * (`lmutil admin-keygen`), loading the private key LM_ADMIN_KEY names, and
 * signing an admin request with it (lmd/admin_auth.h says what is signed).
 *
 * An admin key signs admin requests only: it cannot sign a license, which
 * only the vendor's key (vendor/sign.h, linked by lmvendor alone) does.
 *
 * The private key file is PEM (PKCS#8, as `openssl genpkey -algorithm
 * ED25519` writes it) after one line naming the key, "lmd-admin-key: NAME",
 * which PEM readers skip; it is created 0600 and refused when others may
 * read it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "core/key.h"
#include "tools/cmd.h"
#include "tools/lmutil_admin.h"
#include "tools/report.h"

#define NAME_TAG "lmd-admin-key: "

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > LM_ADMIN_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		            (ch >= '0' && ch <= '9') || strchr("._@-", ch);
		if (!word)
			return false;
	}
	return true;
}

/* "NAME ed25519 BASE64" of key's public half into out. */
static int public_line(EVP_PKEY *key, const char *name, char *out, size_t size)
{
	unsigned char raw[32];
	size_t len = sizeof raw;
	unsigned char b64[64];
	if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32)
		return LMC_EKEY;
	EVP_EncodeBlock(b64, raw, 32);
	snprintf(out, size, "%s ed25519 %s", name, (const char *)b64);
	return 0;
}

int lm_admin_signer_load(struct lm_admin_signer *sg, const char *path, char *err, size_t errsize)
{
	memset(sg, 0, sizeof *sg);
	struct stat st;
	if (stat(path, &st) != 0)
		return lm_key_fail(LMC_EIO, err, errsize, "admin key %.200s: %s", path,
		                   strerror(errno));
	if (st.st_mode & 077)
		return lm_key_fail(LMC_EKEY, err, errsize,
		                   "admin key %.200s: others may read it (mode %03o): chmod 600 it",
		                   path, (unsigned)(st.st_mode & 0777));
	FILE *f = fopen(path, "r");
	if (!f)
		return lm_key_fail(LMC_EIO, err, errsize, "admin key %.200s: %s", path,
		                   strerror(errno));
	char line[256] = "";
	bool got = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	if (!got || strncmp(line, NAME_TAG, strlen(NAME_TAG)) != 0 ||
	    !name_ok(line + strlen(NAME_TAG)))
		return lm_key_fail(LMC_EKEY, err, errsize,
		                   "admin key %.200s: its first line must be \"" NAME_TAG
		                   "NAME\" (lmutil admin-keygen writes it)",
		                   path);
	snprintf(sg->name, sizeof sg->name, "%.*s", LM_ADMIN_KEY_NAME_MAX, line + strlen(NAME_TAG));
	return lm_key_load(path, true, PEM_read_bio_PrivateKey, &sg->key, err, errsize);
}

void lm_admin_signer_free(struct lm_admin_signer *sg)
{
	EVP_PKEY_free(sg->key);
	sg->key = NULL;
}

int lm_admin_sign(const struct lm_admin_signer *sg, const uint8_t *nonce, const uint8_t *req,
                  size_t len, uint8_t sig[LM_SIG_LEN])
{
	size_t prefix = sizeof LM_ADMIN_SIGNED_PREFIX;
	size_t total = prefix + LM_ADMIN_NONCE_LEN + len;
	uint8_t *msg = malloc(total);
	if (!msg)
		return LMC_ENOMEM;
	memcpy(msg, LM_ADMIN_SIGNED_PREFIX, prefix);
	memcpy(msg + prefix, nonce, LM_ADMIN_NONCE_LEN);
	memcpy(msg + prefix + LM_ADMIN_NONCE_LEN, req, len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = LM_SIG_LEN;
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, sg->key) == 1 &&
	         EVP_DigestSign(ctx, sig, &siglen, msg, total) == 1 && siglen == LM_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	free(msg);
	return ok ? 0 : LMC_EKEY;
}

/* ---- lmutil admin-keygen ---- */

static void keygen_usage(FILE *out)
{
	fprintf(out, "usage: lmutil admin-keygen [--force] NAME KEYFILE\n"
	             "Makes an Ed25519 admin key pair: the private key goes to KEYFILE (mode\n"
	             "0600), the public key's line \"NAME ed25519 KEY\" to KEYFILE.pub and to\n"
	             "stdout.  Add that line to the file lmd reads with --admin-keys; then\n"
	             "LM_ADMIN_KEY=KEYFILE lmutil lmdown|lmremove|lmreread|lmreplace signs the\n"
	             "request, which the server accepts from anywhere.\n");
}

/* Creates path with mode and writes text; refuses to overwrite unless
 * force (then the old file is replaced by a rename, never rewritten in
 * place with looser permissions). */
static int write_new(const char *path, mode_t mode, const char *text, size_t len, bool force)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp)
		return lm_report_fail(LMC_EIO, "%s: path too long", path), LMC_EIO;
	if (!force && access(path, F_OK) == 0) {
		lm_report_fail(LMC_EIO, "%s exists: remove it or use --force", path);
		return LMC_EIO;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		lm_report_fail(LMC_EIO, "cannot create %s: %s", tmp, strerror(errno));
		return LMC_EIO;
	}
	bool ok = fchmod(fd, mode) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	int e = errno;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		e = ok ? errno : e;
		unlink(tmp);
		lm_report_fail(LMC_EIO, "cannot write %s: %s", path, strerror(e));
		return LMC_EIO;
	}
	return 0;
}

int lm_cmd_admin_keygen(int argc, char **argv)
{
	static const struct option options[] = {{"force", no_argument, NULL, 'f'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	bool force = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'f': force = true; break;
		case 'h': keygen_usage(stdout); return 0;
		default: keygen_usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		keygen_usage(stderr);
		return 2;
	}
	const char *name = argv[optind], *path = argv[optind + 1];
	if (!name_ok(name)) {
		lm_report_fail(LMC_EINVAL, "key name %s: up to %d letters, digits and ._@-", name,
		               LM_ADMIN_KEY_NAME_MAX);
		return 2;
	}
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key) {
		lm_report_fail(LMC_EKEY, "OpenSSL could not make an Ed25519 key");
		return 1;
	}
	int status = 1;
	char *pem = NULL;
	long pemlen = 0;
	char pub[160], pubpath[4096], text[1024];
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0 ||
	    public_line(key, name, pub, sizeof pub)) {
		lm_report_fail(LMC_EKEY, "OpenSSL could not write the key");
		goto out;
	}
	int n = snprintf(text, sizeof text, NAME_TAG "%s\n%.*s", name, (int)pemlen, pem);
	if (n < 0 || (size_t)n >= sizeof text) {
		lm_report_fail(LMC_EKEY, "the key does not fit its buffer");
		goto out;
	}
	snprintf(pubpath, sizeof pubpath, "%s.pub", path);
	if (write_new(path, 0600, text, (size_t)n, force) != 0)
		goto out;
	size_t publen = strlen(pub);
	pub[publen] = '\n';
	int wrc = write_new(pubpath, 0644, pub, publen + 1, force);
	pub[publen] = 0;
	if (wrc != 0)
		goto out;
	printf("%s\n", pub);
	status = 0;
out:
	OPENSSL_cleanse(text, sizeof text);
	BIO_free(bio);
	EVP_PKEY_free(key);
	return status;
}
