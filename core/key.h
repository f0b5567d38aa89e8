/* Vendor keys (Ed25519, via OpenSSL 3) and signatures over license lines. */
#ifndef LM_KEY_H
#define LM_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/license.h"

/* Writes a new key pair: PKCS#8 private key and SubjectPublicKeyInfo public
 * key, both PEM, as `openssl genpkey -algorithm ED25519` would.  The private
 * key file is created with mode 0600.  Returns 0, LMC_EIO or LMC_EKEY. */
int lm_key_generate(const char *private_path, const char *public_path, char *err, size_t errsize);

/* Loads a key from a PEM file path, or from PEM text if the string starts
 * with "-----BEGIN".  Anything but an Ed25519 key is LMC_EKEY. */
int lm_key_load_public(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize);
int lm_key_load_private(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize);

int lm_sig_sign(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[LM_SIG_LEN]);
/* Returns 0 or LMC_EBADSIG. */
int lm_sig_verify(EVP_PKEY *key, const void *data, size_t len, const uint8_t sig[LM_SIG_LEN]);

/* Signs every license line of f in place. */
int lm_license_sign(struct lm_license_file *f, EVP_PKEY *key);
/* Verifies line l of f: LMC_EBADSIG when unsigned or the signature fails. */
int lm_license_verify(const struct lm_license_file *f, const struct lm_license *l, EVP_PKEY *key);

#endif
