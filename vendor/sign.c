/* The vendor's side of license keys: making a key pair, loading the private
 * key, signing license lines (vendor/sign.h).  Same rules as core/key.c:
 * Ed25519 through OpenSSL's one-shot EVP_DigestSign with a NULL digest,
 * every OpenSSL result checked against exactly 1, and the thread's error
 * queue cleared after a failure. */
#include "vendor/sign.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "core/key.h"

/* ---- Making keys ------------------------------------------------------- */

/* Writes key into a new temporary file next to path (same directory, so
 * that the final rename stays on one file system and is atomic).  mkstemp
 * creates the file with mode 0600, so a private key is never readable by
 * others, not even for a moment. */
static int write_temp(const char *path, mode_t mode, EVP_PKEY *key, int private, char *tmp,
                      size_t tmpsize, char *err, size_t errsize)
{
	if ((size_t)snprintf(tmp, tmpsize, "%s.XXXXXX", path) >= tmpsize)
		return lm_key_fail(LMC_EIO, err, errsize, "path too long: %.200s", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return lm_key_fail(LMC_EIO, err, errsize, "cannot create %.200s: %s", tmp,
		                   strerror(errno));
	if (fchmod(fd, mode) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return lm_key_fail(LMC_EIO, err, errsize, "cannot set the mode of %.200s: %s", tmp,
		                   strerror(e));
	}
	FILE *fp = fdopen(fd, "w");
	if (!fp) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return lm_key_fail(LMC_EIO, err, errsize, "cannot write %.200s: %s", tmp,
		                   strerror(e));
	}
	/* PEM_write_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), the
	 * format `openssl genpkey` writes; no cipher, as genpkey without
	 * -aes256. */
	int ok = private ? PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
	                 : PEM_write_PUBKEY(fp, key);
	int e = errno;
	ok = ok == 1 && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	if (!ok)
		e = errno;
	if (fclose(fp) != 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		return lm_key_fail(LMC_EIO, err, errsize, "cannot write %.200s: %s", path,
		                   e ? strerror(e) : "OpenSSL failed to write the key");
	}
	return 0;
}

int lm_key_generate(const char *private_path, const char *public_path, char *err, size_t errsize)
{
	char tmp_priv[PATH_MAX], tmp_pub[PATH_MAX];
	int rc;

	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key) {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());
		return lm_key_fail(LMC_EKEY, err, errsize,
		                   "OpenSSL cannot generate an Ed25519 key: %s",
		                   why ? why : "unknown error");
	}
	rc = write_temp(private_path, 0600, key, 1, tmp_priv, sizeof tmp_priv, err, errsize);
	if (rc)
		goto out;
	rc = write_temp(public_path, 0644, key, 0, tmp_pub, sizeof tmp_pub, err, errsize);
	if (rc) {
		unlink(tmp_priv);
		goto out;
	}
	/* Both files are complete before either takes its final name. */
	if (rename(tmp_priv, private_path) != 0) {
		rc = lm_key_fail(LMC_EIO, err, errsize, "cannot create %.200s: %s", private_path,
		                 strerror(errno));
		unlink(tmp_priv);
		unlink(tmp_pub);
		goto out;
	}
	if (rename(tmp_pub, public_path) != 0) {
		rc = lm_key_fail(LMC_EIO, err, errsize, "cannot create %.200s: %s", public_path,
		                 strerror(errno));
		unlink(tmp_pub);
		goto out;
	}
out:
	EVP_PKEY_free(key);
	return rc;
}

/* ---- Loading the private key ------------------------------------------ */

int lm_key_load_private(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize)
{
	return lm_key_load(path_or_pem, true, PEM_read_bio_PrivateKey, out, err, errsize);
}

/* ---- Signing ----------------------------------------------------------- */

int lm_sig_sign(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[LM_SIG_LEN])
{
	if (!key || !EVP_PKEY_is_a(key, "ED25519"))
		return LMC_EKEY;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return lm_key_fail(LMC_ENOMEM, NULL, 0, "out of memory");
	size_t siglen = LM_SIG_LEN;
	int rc = LMC_EKEY;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, data, len) == 1 && siglen == LM_SIG_LEN)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	if (rc)
		ERR_clear_error();
	return rc;
}

int lm_license_sign(struct lm_license_file *f, EVP_PKEY *key)
{
	char buf[LM_LINE_MAX + 1];
	for (size_t i = 0; i < f->nlines; i++) {
		struct lm_license *l = &f->lines[i];
		int n = lm_license_canonical(f, l, buf, sizeof buf);
		if (n < 0)
			return n;
		int rc = lm_sig_sign(key, buf, (size_t)n, l->sig);
		if (rc)
			return rc;
		l->has_sig = true;
	}
	return 0;
}
