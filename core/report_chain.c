/* The report log's hash chain (core/report_chain.h). */
#include "core/report_chain.h"

#include <string.h>

#include <openssl/sha.h>

void lm_report_chain_hash(const char *line, size_t len, char hex[LM_REPORT_CHAIN_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)line, len, digest);
	for (size_t i = 0; i < sizeof digest; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[LM_REPORT_CHAIN_HEX] = '\0';
}

bool lm_report_chain_prev(const char *line, size_t len, char hex[LM_REPORT_CHAIN_HEX + 1])
{
	static const char key[] = ",\"prev\":\"";
	size_t klen = sizeof key - 1, tail = klen + LM_REPORT_CHAIN_HEX + 2;
	if (len < tail)
		return false;
	const char *p = line + len - tail;
	if (memcmp(p, key, klen) != 0 || memcmp(line + len - 2, "\"}", 2) != 0)
		return false;
	p += klen;
	for (size_t i = 0; i < LM_REPORT_CHAIN_HEX; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	memcpy(hex, p, LM_REPORT_CHAIN_HEX);
	hex[LM_REPORT_CHAIN_HEX] = '\0';
	return true;
}

/* Reads the decimal number at *p (at most 20 digits, no leading sign),
 * moving *p past it. */
static bool number(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	while (s < end && *s >= '0' && *s <= '9' && s - *p < 20) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

bool lm_report_chain_head(const char *line, size_t len, uint64_t *seq, uint64_t *index)
{
	static const char seq_key[] = "{\"seq\":", index_key[] = ",\"index\":";
	const char *p = line, *end = line + len;
	if (len < sizeof seq_key - 1 || memcmp(p, seq_key, sizeof seq_key - 1) != 0)
		return false;
	p += sizeof seq_key - 1;
	if (!number(&p, end, seq))
		return false;
	if ((size_t)(end - p) < sizeof index_key - 1 ||
	    memcmp(p, index_key, sizeof index_key - 1) != 0)
		return false;
	p += sizeof index_key - 1;
	return number(&p, end, index) && p < end && (*p == ',' || *p == '}');
}
