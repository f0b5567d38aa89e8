/* Server identity keys: the Ed25519 key pair each lmd keeps in its data
 * directory (lmd/identity.c), as its public half is written on a SERVER
 * line (KEY=) and checked by liblmc.
 *
 * The text form is the raw 32-byte public key itself, not a hash of it:
 * liblmc needs the key to verify what the server signs, and a key is as
 * short as a digest.  It is written like a lock code (core/code32.h):
 * Crockford base32 with a check symbol, in groups of 4 joined by hyphens,
 * so that a key copied by hand from an e-mail is either right or refused.
 * This bottom layer only reads keys and verifies; lmd alone signs. */
#ifndef LM_SERVER_KEY_H
#define LM_SERVER_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/limits.h" /* LM_SERVER_KEY_LEN, LM_SERVER_KEY_TEXT_MAX */

/* Writes key in its text form.  Returns 0 or LMC_ETOOLARGE. */
int lm_server_key_format(const uint8_t key[LM_SERVER_KEY_LEN], char *buf, size_t size);
/* Reads a text form (case-insensitive, hyphens optional).  Returns 0 or
 * LMC_EBADCODE with a sentence in why. */
int lm_server_key_parse(const char *text, uint8_t key[LM_SERVER_KEY_LEN], char *why, size_t size);
/* The raw public key of an Ed25519 EVP_PKEY.  Returns 0 or LMC_EKEY. */
int lm_server_key_raw(EVP_PKEY *pkey, uint8_t key[LM_SERVER_KEY_LEN]);
/* Verifies sig (LM_SIG_LEN bytes) over data with the raw public key.
 * Returns 0, LMC_EBADSIG, or LMC_EKEY for bytes that are not a key. */
int lm_server_key_verify(const uint8_t key[LM_SERVER_KEY_LEN], const void *data, size_t len,
                         const uint8_t *sig);

#endif
