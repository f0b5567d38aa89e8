/* Server identity keys in text, and the verification of what they sign
 * (see server_key.h). */
#include "core/server_key.h"

#include <stdio.h>
#include <string.h>

#include "core/code32.h"
#include "core/error.h"
#include "core/key.h"

/* ceil(256 / 5) */
#define KEY_SYMBOLS 52

int lm_server_key_format(const uint8_t key[LM_SERVER_KEY_LEN], char *buf, size_t size)
{
	uint8_t sym[KEY_SYMBOLS];
	size_t n = lm_code32_from_bytes(key, LM_SERVER_KEY_LEN, sym, sizeof sym);
	return lm_code32_encode(sym, n, 4, buf, size);
}

int lm_server_key_parse(const char *text, uint8_t key[LM_SERVER_KEY_LEN], char *why, size_t size)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS];
	size_t n;
	char err[160];
	if (strlen(text) >= LM_SERVER_KEY_TEXT_MAX) {
		snprintf(why, size, "a server key is %d characters at most",
		         LM_SERVER_KEY_TEXT_MAX - 1);
		return LMC_EBADCODE;
	}
	if (lm_code32_decode(text, sym, sizeof sym, &n, err, sizeof err) != 0) {
		snprintf(why, size, "%s", err);
		return LMC_EBADCODE;
	}
	if (n != KEY_SYMBOLS || lm_code32_to_bytes(sym, n, key, LM_SERVER_KEY_LEN) != 0) {
		snprintf(why, size,
		         "not a server key (%zu symbols, a key has %d); copy it as `lmutil "
		         "lmhostid --server` prints it",
		         n, KEY_SYMBOLS);
		return LMC_EBADCODE;
	}
	return 0;
}

int lm_server_key_raw(EVP_PKEY *pkey, uint8_t key[LM_SERVER_KEY_LEN])
{
	size_t len = LM_SERVER_KEY_LEN;
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pkey, key, &len) != 1 || len != LM_SERVER_KEY_LEN)
		return lm_key_fail(LMC_EKEY, NULL, 0, "not an Ed25519 key");
	return 0;
}

int lm_server_key_verify(const uint8_t key[LM_SERVER_KEY_LEN], const void *data, size_t len,
                         const uint8_t *sig)
{
	EVP_PKEY *pkey =
	        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, LM_SERVER_KEY_LEN);
	if (!pkey)
		return lm_key_fail(LMC_EKEY, NULL, 0, "not an Ed25519 public key");
	int rc = lm_sig_verify(pkey, data, len, sig);
	EVP_PKEY_free(pkey);
	return rc;
}
