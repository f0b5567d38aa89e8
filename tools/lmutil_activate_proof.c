/* The proof of a return request (see lmutil_activate_proof.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tools/lmutil_activate_proof.h"

int lm_return_proof(const json_t *req, const char *secret, char out[LM_RETURN_KEY_HEX + 1])
{
	json_t *copy = json_deep_copy(req);
	if (!copy)
		return -1;
	json_object_del(copy, "proof");
	char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (!text)
		return -1;
	/* The format's name first: a proof of one kind of statement is never
	 * one of another made with the same secret. */
	size_t len = strlen(LM_RETURN_FORMAT) + 1 + strlen(text);
	char *message = malloc(len + 1);
	if (message)
		snprintf(message, len + 1, "%s\n%s", LM_RETURN_FORMAT, text);
	free(text);
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	int rc = message &&
	                         EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret,
	                                   strlen(secret), (const unsigned char *)message, len, mac,
	                                   sizeof mac, &mac_len) != NULL &&
	                         mac_len == 32
	                 ? 0
	                 : -1;
	free(message);
	for (size_t i = 0; rc == 0 && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return rc;
}
