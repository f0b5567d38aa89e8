/* Vendor public keys and the verification of license signatures (Ed25519
 * through OpenSSL 3).  Making keys and signing is the vendor's library's
 * (vendor/sign.c), which lmd and liblmc do not link.
 *
 * Ed25519 hashes internally, so OpenSSL wants the one-shot
 * EVP_DigestSign/EVP_DigestVerify with a NULL digest (research notes §2.5).
 * Every OpenSSL call that can fail is checked against exactly 1, since some
 * return 0 for "no" and a negative value for "error", and after a failure
 * the thread's OpenSSL error queue is cleared so that the next, unrelated
 * call does not report a stale error. */
#include "core/key.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "core/limits.h"

int lm_key_fail(int code, char *err, size_t errsize, const char *fmt, ...)
{
	if (err && errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return code;
}

/* ---- Loading keys ------------------------------------------------------ */

/* The text of a key: the argument itself when it is PEM, else the file it
 * names.  *owned is what the caller frees. */
static int key_text(const char *path_or_pem, const char **text, size_t *len, char **owned,
                    const char **what, char *err, size_t errsize)
{
	const char *p = path_or_pem;
	*owned = NULL;
	if (!p)
		return lm_key_fail(LMC_EINVAL, err, errsize, "no key given");
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (strncmp(p, "-----BEGIN", 10) == 0) {
		*text = p;
		*len = strlen(p);
		*what = "the PEM text given";
		return 0;
	}
	*what = path_or_pem;
	FILE *in = fopen(path_or_pem, "rb");
	if (!in)
		return lm_key_fail(LMC_EIO, err, errsize, "cannot open key file %.200s: %s",
		                   path_or_pem, strerror(errno));
	char *buf = malloc(LM_KEY_FILE_MAX + 1);
	if (!buf) {
		fclose(in);
		return lm_key_fail(LMC_ENOMEM, err, errsize, "out of memory");
	}
	size_t n = fread(buf, 1, LM_KEY_FILE_MAX + 1, in);
	int bad = ferror(in);
	int e = errno;
	fclose(in);
	if (bad) {
		free(buf);
		return lm_key_fail(LMC_EIO, err, errsize, "cannot read key file %.200s: %s",
		                   path_or_pem, strerror(e));
	}
	if (n > LM_KEY_FILE_MAX) {
		free(buf);
		return lm_key_fail(LMC_EKEY, err, errsize,
		                   "%.200s is larger than %d bytes: not a PEM key file",
		                   path_or_pem, LM_KEY_FILE_MAX);
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	*owned = buf;
	return 0;
}

/* What the first PEM block of text is ("PRIVATE KEY", "CERTIFICATE"...),
 * to tell the user what they gave instead of a key. */
static void pem_label(const char *text, char *buf, size_t size)
{
	const char *begin = strstr(text, "-----BEGIN ");
	snprintf(buf, size, "no PEM data");
	if (!begin)
		return;
	begin += 11;
	const char *end = strstr(begin, "-----");
	if (!end || end - begin > 40)
		return;
	snprintf(buf, size, "a PEM block \"%.*s\"", (int)(end - begin), begin);
}

/* OpenSSL would prompt on the terminal for the passphrase of an encrypted
 * key; a library must never do that. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int check_ed25519(EVP_PKEY **key, const char *what, char *err, size_t errsize)
{
	if (EVP_PKEY_is_a(*key, "ED25519"))
		return 0;
	const char *type = EVP_PKEY_get0_type_name(*key);
	int bits = EVP_PKEY_get_bits(*key);
	int rc =
	        lm_key_fail(LMC_EKEY, err, errsize,
	                    "the key in %.200s is %s (%d bits), not Ed25519; license keys are made "
	                    "with `lmvendor keygen`",
	                    what, type ? type : "of another type", bits);
	EVP_PKEY_free(*key);
	*key = NULL;
	return rc;
}

int lm_key_load(const char *path_or_pem, bool private, lm_key_pem_reader read, EVP_PKEY **out,
                char *err, size_t errsize)
{
	const char *text = NULL, *what = NULL;
	size_t len = 0;
	char *owned = NULL;
	char label[64];

	*out = NULL;
	int rc = key_text(path_or_pem, &text, &len, &owned, &what, err, errsize);
	if (rc)
		return rc;
	if (len > INT_MAX) {
		free(owned);
		return lm_key_fail(LMC_EKEY, err, errsize, "key text too large");
	}
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	if (!bio) {
		free(owned);
		return lm_key_fail(LMC_ENOMEM, err, errsize, "out of memory");
	}
	EVP_PKEY *key = read(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!key) {
		pem_label(text, label, sizeof label);
		if (private && strstr(label, "ENCRYPTED"))
			rc = lm_key_fail(
			        LMC_EKEY, err, errsize,
			        "the private key in %.200s is encrypted; give an unencrypted "
			        "key and protect the file instead (mode 0600)",
			        what);
		else if (!private && strstr(label, "PRIVATE KEY"))
			rc = lm_key_fail(
			        LMC_EKEY, err, errsize,
			        "%.200s holds a private key; give the vendor's public key (the "
			        "private key stays with the vendor)",
			        what);
		else
			rc = lm_key_fail(LMC_EKEY, err, errsize,
			                 "no %s key in %.200s: found %s, expected "
			                 "\"-----BEGIN %s KEY-----\"",
			                 private ? "private" : "public", what, label,
			                 private ? "PRIVATE" : "PUBLIC");
		free(owned);
		return rc;
	}
	free(owned);
	rc = check_ed25519(&key, what, err, errsize);
	if (rc)
		return rc;
	*out = key;
	return 0;
}

int lm_key_load_public(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize)
{
	return lm_key_load(path_or_pem, false, PEM_read_bio_PUBKEY, out, err, errsize);
}

/* ---- Signatures -------------------------------------------------------- */

int lm_sig_verify(EVP_PKEY *key, const void *data, size_t len, const uint8_t sig[LM_SIG_LEN])
{
	if (!key || !EVP_PKEY_is_a(key, "ED25519"))
		return LMC_EKEY;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return lm_key_fail(LMC_ENOMEM, NULL, 0, "out of memory");
	int rc = LMC_EKEY;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
		rc = EVP_DigestVerify(ctx, sig, LM_SIG_LEN, data, len) == 1 ? 0 : LMC_EBADSIG;
	EVP_MD_CTX_free(ctx);
	if (rc)
		ERR_clear_error();
	return rc;
}

int lm_license_verify(const struct lm_license_file *f, const struct lm_license *l, EVP_PKEY *key)
{
	char buf[LM_LINE_MAX + 1];
	if (!l->has_sig)
		return LMC_EBADSIG;
	int n = lm_license_canonical(f, l, buf, sizeof buf);
	if (n < 0)
		return LMC_EBADSIG;
	return lm_sig_verify(key, buf, (size_t)n, l->sig);
}
