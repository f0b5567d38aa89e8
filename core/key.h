/* Vendor public keys (Ed25519, via OpenSSL 3) and the verification of the
 * signatures over license lines.  The vendor's side, making keys and
 * signing, is vendor/sign.h: nothing in this layer can sign a license. */
#ifndef LM_KEY_H
#define LM_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/license.h"

/* Loads the vendor's public key from a PEM file path, or from PEM text if
 * the string starts with "-----BEGIN".  Anything but an Ed25519 key is
 * LMC_EKEY, with a sentence in err. */
int lm_key_load_public(const char *path_or_pem, EVP_PKEY **out, char *err, size_t errsize);

/* Returns 0 or LMC_EBADSIG (LMC_EKEY for a key that is not Ed25519). */
int lm_sig_verify(EVP_PKEY *key, const void *data, size_t len, const uint8_t sig[LM_SIG_LEN]);

/* Verifies line l of f: LMC_EBADSIG when unsigned or the signature fails. */
int lm_license_verify(const struct lm_license_file *f, const struct lm_license *l, EVP_PKEY *key);

/* ---- Shared with the vendor library ---- */

/* PEM_read_bio_PUBKEY or PEM_read_bio_PrivateKey. */
typedef EVP_PKEY *(*lm_key_pem_reader)(BIO *bio, EVP_PKEY **x, pem_password_cb *cb, void *u);

/* What lm_key_load_public and vendor/sign.c's lm_key_load_private share:
 * reads the text (path or PEM), parses it with read, never prompts for a
 * passphrase, and refuses anything but Ed25519.  private only chooses the
 * words of the messages. */
int lm_key_load(const char *path_or_pem, bool private, lm_key_pem_reader read, EVP_PKEY **out,
                char *err, size_t errsize);

/* Writes the sentence into err (when non-NULL), clears the thread's OpenSSL
 * error queue so that the next, unrelated call does not report a stale
 * error, and returns code. */
__attribute__((format(printf, 4, 5))) int lm_key_fail(int code, char *err, size_t errsize,
                                                      const char *fmt, ...);

#endif
