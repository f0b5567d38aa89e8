/* Codes people type: Crockford base32 symbols with a Luhn mod 32 check
 * symbol, and the packing of bytes into 5-bit symbols (see code32.h). */
#include "core/code32.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

char lm_code32_symbol(unsigned v)
{
	return alphabet[v & 31];
}

/* The value of one typed character, or -1.  Crockford's decoding rules:
 * case does not matter, O reads as 0, I and L read as 1. */
static int symbol_value(int c)
{
	c = toupper(c);
	if (c == 'O')
		return 0;
	if (c == 'I' || c == 'L')
		return 1;
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Luhn mod N with N = 32: walking from the rightmost symbol, every second
 * symbol is doubled and its base-32 digits summed; the check symbol makes
 * the total a multiple of 32. */
static unsigned luhn32(const uint8_t *sym, size_t n)
{
	unsigned sum = 0;
	int doubled = 1;
	for (size_t i = n; i-- > 0;) {
		unsigned v = sym[i];
		if (doubled) {
			v *= 2;
			v = v / 32 + v % 32;
		}
		sum += v;
		doubled = !doubled;
	}
	return (32 - sum % 32) % 32;
}

int lm_code32_encode(const uint8_t *sym, size_t nsym, unsigned group, char *out, size_t size)
{
	size_t total = nsym + 1;
	size_t need = total + (group ? (total - 1) / group : 0) + 1;
	if (nsym > LM_CODE32_MAX_SYMBOLS || size < need)
		return LMC_ETOOLARGE;
	size_t o = 0;
	for (size_t i = 0; i < total; i++) {
		if (group && i && i % group == 0)
			out[o++] = '-';
		out[o++] = i < nsym ? alphabet[sym[i] & 31] : alphabet[luhn32(sym, nsym)];
	}
	out[o] = '\0';
	return 0;
}

static int fail(char *err, size_t errsize, const char *msg)
{
	if (err && errsize)
		snprintf(err, errsize, "%s", msg);
	return LMC_EBADCODE;
}

int lm_code32_decode(const char *text, uint8_t *sym, size_t max, size_t *nsym, char *err,
                     size_t errsize)
{
	uint8_t buf[LM_CODE32_MAX_SYMBOLS + 1];
	size_t n = 0;
	int pos = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '-' || *p == ' ' || *p == '\t')
			continue;
		pos++;
		int v = symbol_value((unsigned char)*p);
		if (v < 0) {
			/* Formatted here rather than in fail(): a format string
			 * passed around as a variable escapes the compiler's
			 * argument checks. */
			if (err && errsize)
				snprintf(err, errsize,
				         "'%c' (symbol %d) is not a code symbol: codes use digits "
				         "and letters other than U",
				         isprint((unsigned char)*p) ? *p : '?', pos);
			return LMC_EBADCODE;
		}
		if (n == sizeof buf)
			return fail(err, errsize, "code is too long");
		buf[n++] = (uint8_t)v;
	}
	if (n < 2)
		return fail(err, errsize, "code is empty or too short");
	if (luhn32(buf, n - 1) != buf[n - 1])
		return fail(err, errsize,
		            "check symbol does not match: a symbol is mistyped or two "
		            "are swapped; copy the code again");
	if (n - 1 > max)
		return fail(err, errsize, "code is too long");
	memcpy(sym, buf, n - 1);
	*nsym = n - 1;
	return 0;
}

size_t lm_code32_from_bytes(const uint8_t *bytes, size_t n, uint8_t *sym, size_t max)
{
	size_t out = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | bytes[i];
		bits += 8;
		while (bits >= 5 && out < max) {
			bits -= 5;
			sym[out++] = (uint8_t)((acc >> bits) & 31);
		}
	}
	if (bits && out < max)
		sym[out++] = (uint8_t)((acc << (5 - bits)) & 31);
	return out;
}

int lm_code32_to_bytes(const uint8_t *sym, size_t nsym, uint8_t *bytes, size_t n)
{
	if (nsym != (n * 8 + 4) / 5)
		return LMC_EBADCODE;
	unsigned acc = 0, bits = 0;
	size_t out = 0;
	for (size_t i = 0; i < nsym; i++) {
		acc = (acc << 5) | (sym[i] & 31u);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (out < n)
				bytes[out++] = (uint8_t)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	return acc == 0 ? 0 : LMC_EBADCODE;
}
