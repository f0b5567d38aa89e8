/* The vendor's side of license keys: making an Ed25519 key pair, loading the
 * private key, signing license lines.
 *
 * Only the vendor's tools link this library (tools/lmvendor, and the tests
 * that make signed files): lmd, lmutil and liblmc verify with core/key.h
 * and contain no code that can sign a license, which
 * tests/integration/no_signing.sh checks with nm. */
#ifndef LM_SIGN_H
#define LM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/license.h"

/* Writes a new key pair: PKCS#8 private key and SubjectPublicKeyInfo public
 * key, both PEM, as `openssl genpkey -algorithm ED25519` would.  The private
 * key file is created with mode 0600.  Returns 0, LMC_EIO or LMC_EKEY. */
int lm_key_generate(const char *private_path, const char *public_path, char *err, size_t errsize);

/* Loads the private key from a PEM file path, or from PEM text if the string
 * starts with "-----BEGIN".  Anything but an unencrypted Ed25519 key is
 * LMC_EKEY. */
int lm_key_load_private(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize);

int lm_sig_sign(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[LM_SIG_LEN]);

/* Signs every license line of f in place. */
int lm_license_sign(struct lm_license_file *f, EVP_PKEY *key);

#endif
