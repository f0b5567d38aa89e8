/* Lock codes: the printable code made of a machine's criterion digests,
 * reading it back, and comparing two codes within a tolerance.  The
 * encoding is described in lockcode.h; this file follows it to the letter,
 * because a code printed by one release must match a license issued by
 * another.  Reading the criteria of this machine is machine.c's. */
#include "config.h"

#include "core/lockcode.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/code32.h"
#include "core/error.h"
#include "core/error_message.h"

/* Symbols of a code: version, two for the mask, four per criterion. */
#define LM_LOCK_HEAD_SYMBOLS 3
#define LM_LOCK_CRIT_SYMBOLS 4
#define LM_LOCK_SYMBOLS_MAX  (LM_LOCK_HEAD_SYMBOLS + LM_LOCK_CRIT_SYMBOLS * LM_CRIT_COUNT)
#define LM_LOCK_DIGEST_MASK  0xFFFFFu
#define LM_LOCK_GROUP        4

static const char *const names[LM_CRIT_COUNT] = {
        [LM_CRIT_MACHINE_ID] = "machine_id",
        [LM_CRIT_PRODUCT_UUID] = "product_uuid",
        [LM_CRIT_MAC] = "mac",
        [LM_CRIT_HOSTNAME] = "hostname",
        [LM_CRIT_DISK] = "disk",
        [LM_CRIT_CPU] = "cpu",
};

const char *lm_criterion_name(enum lm_criterion c)
{
	if ((unsigned)c >= LM_CRIT_COUNT)
		return "unknown";
	return names[c];
}

uint32_t lm_criterion_digest(enum lm_criterion c, const char *value)
{
	static const char prefix[] = "lmd-lockcode-v1:";
	const char *name = lm_criterion_name(c);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* The digest has no error value: a wrong digest would silently bind a
	 * license to no machine, so a failing SHA-256 (only possible when
	 * OpenSSL cannot allocate its context) ends the process instead. */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, prefix, sizeof prefix - 1) != 1 ||
	    EVP_DigestUpdate(ctx, name, strlen(name)) != 1 || EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, value, strlen(value)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 3) {
		fprintf(stderr, "lmd: SHA-256 failed while computing a lock code\n");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	return ((uint32_t)md[0] << 12) | ((uint32_t)md[1] << 4) | ((uint32_t)md[2] >> 4);
}

/* ---- Formatting and parsing ---- */

static int popcount(unsigned mask)
{
	int n = 0;
	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

int lm_lockcode_format(const struct lm_lockcode *code, char *buf, size_t size)
{
	uint8_t sym[LM_LOCK_SYMBOLS_MAX];
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	/* A code with no criteria would match nothing, and bits beyond the
	 * known criteria could not be read back: both are caller bugs. */
	if (code->present == 0 || code->present >> LM_CRIT_COUNT)
		return LMC_EINVAL;
	sym[n++] = LM_LOCKCODE_VERSION;
	sym[n++] = (uint8_t)((code->present >> 5) & 31);
	sym[n++] = (uint8_t)(code->present & 31);
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		if (!(code->present & (1u << c)))
			continue;
		uint32_t d = code->digest[c];
		if (d > LM_LOCK_DIGEST_MASK)
			return LMC_EINVAL;
		sym[n++] = (uint8_t)((d >> 15) & 31);
		sym[n++] = (uint8_t)((d >> 10) & 31);
		sym[n++] = (uint8_t)((d >> 5) & 31);
		sym[n++] = (uint8_t)(d & 31);
	}
	return lm_code32_encode(sym, n, LM_LOCK_GROUP, buf, size);
}

int lm_lockcode_parse(const char *text, struct lm_lockcode *code, char *err, size_t errsize)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS];
	size_t n = 0;

	memset(code, 0, sizeof *code);
	if (err && errsize)
		err[0] = '\0';
	int rc = lm_code32_decode(text, sym, sizeof sym, &n, err, errsize);
	if (rc)
		return rc;
	if (n < LM_LOCK_HEAD_SYMBOLS)
		return lm_error_message(
		        err, errsize, LMC_EBADCODE,
		        "lock code is too short: it must hold at least a version and "
		        "a list of criteria");
	if (sym[0] != LM_LOCKCODE_VERSION)
		return lm_error_message(err, errsize, LMC_EBADCODE,
		                        "lock code version %u is not supported (this release reads "
		                        "version %d); make the code with this release's lmhostid",
		                        (unsigned)sym[0], LM_LOCKCODE_VERSION);
	unsigned mask = ((unsigned)sym[1] << 5) | sym[2];
	if (mask >> LM_CRIT_COUNT)
		return lm_error_message(err, errsize, LMC_EBADCODE,
		                        "lock code names criteria this release does not know "
		                        "(mask 0x%03x); make the code with this release's lmhostid",
		                        mask);
	if (mask == 0)
		return lm_error_message(err, errsize, LMC_EBADCODE, "lock code names no criteria");
	int k = popcount(mask);
	size_t want = LM_LOCK_HEAD_SYMBOLS + (size_t)k * LM_LOCK_CRIT_SYMBOLS;
	if (n != want)
		return lm_error_message(
		        err, errsize, LMC_EBADCODE,
		        "lock code has %zu symbols before its check symbol but names "
		        "%d criteria, which take %zu: a part of the code is missing or "
		        "repeated",
		        n, k, want);
	code->present = (uint16_t)mask;
	const uint8_t *p = sym + LM_LOCK_HEAD_SYMBOLS;
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		if (!(mask & (1u << c)))
			continue;
		code->digest[c] = ((uint32_t)p[0] << 15) | ((uint32_t)p[1] << 10) |
		                  ((uint32_t)p[2] << 5) | p[3];
		p += LM_LOCK_CRIT_SYMBOLS;
	}
	return 0;
}

void lm_lockcode_match(const struct lm_lockcode *licensed, const struct lm_lockcode *here,
                       int tolerance, struct lm_lock_match *out)
{
	memset(out, 0, sizeof *out);
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		uint16_t bit = (uint16_t)(1u << c);
		if (!(licensed->present & bit))
			continue;
		out->licensed++;
		if (!(here->present & bit))
			out->missing |= bit;
		else if (here->digest[c] != licensed->digest[c])
			out->differs |= bit;
		else
			out->matched++;
	}
	int n = out->licensed;
	out->allowed_misses = tolerance < 0 ? (n - 1) / 2 : tolerance;
	if (out->allowed_misses < 0)
		out->allowed_misses = 0;
	/* Fail closed: a code that records nothing, or a tolerance so wide
	 * that no criterion needs to match, would bind to every machine. */
	out->accepted = n > 0 && out->matched > 0 && n - out->matched <= out->allowed_misses;
}
