/* The bytes a server signs for a grant (see grant.h). */
#include "core/grant.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/error.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int lm_grant_text(const struct lm_grant_claim *g, char *buf, size_t size)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char line_hex[2 * 32 + 1], nonce_hex[2 * LM_GRANT_NONCE_LEN + 1];
	if (EVP_Digest(g->line, strlen(g->line), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return LMC_ENOMEM;
	hex(md, 32, line_hex);
	hex(g->nonce, LM_GRANT_NONCE_LEN, nonce_hex);
	int n = snprintf(buf, size,
	                 "lmd-grant-v1 line=%s count=%" PRIu32 " session=%016" PRIx64
	                 " nonce=%s time=%" PRIu64,
	                 line_hex, g->count, g->session_id, nonce_hex, g->time_ms);
	if (n < 0 || (size_t)n >= size)
		return LMC_ETOOLARGE;
	return n;
}
