/* Codes people type: Crockford base32 with a Luhn mod 32 check symbol. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "core/code32.h"
#include "core/error.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* A small deterministic generator, so that a failure can be replayed. */
static uint32_t rng_state = 12345;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

static void random_symbols(uint8_t *sym, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sym[i] = (uint8_t)rnd(32);
}

static void test_symbol_alphabet(void **state)
{
	for (unsigned v = 0; v < 32; v++)
		assert_int_equal(lm_code32_symbol(v), alphabet[v]);
}

static void test_round_trip(void **state)
{
	for (size_t n = 1; n <= LM_CODE32_MAX_SYMBOLS; n++) {
		for (unsigned group = 0; group <= 6; group++) {
			uint8_t sym[LM_CODE32_MAX_SYMBOLS], back[LM_CODE32_MAX_SYMBOLS];
			char text[256], err[128];
			size_t nback = 0;
			random_symbols(sym, n);
			assert_int_equal(lm_code32_encode(sym, n, group, text, sizeof text), 0);
			assert_int_equal(
			        lm_code32_decode(text, back, sizeof back, &nback, err, sizeof err),
			        0);
			assert_int_equal(nback, n);
			assert_memory_equal(back, sym, n);
		}
	}
}

static void test_grouping(void **state)
{
	const uint8_t sym[] = {1, 2, 3, 4, 5, 6, 7};
	char text[32];
	assert_int_equal(lm_code32_encode(sym, sizeof sym, 4, text, sizeof text), 0);
	/* Seven symbols and the check symbol: two full groups. */
	assert_int_equal(strlen(text), 9);
	assert_int_equal(text[4], '-');
	assert_memory_equal(text, "1234-567", 8);
	assert_int_equal(lm_code32_encode(sym, sizeof sym, 0, text, sizeof text), 0);
	assert_int_equal(strlen(text), 8);
	assert_null(strchr(text, '-'));
}

static void test_encode_limits(void **state)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS + 1] = {0};
	char text[256];
	/* "12-3X" and its NUL need 6 bytes. */
	assert_int_equal(lm_code32_encode(sym, 3, 2, text, 5), LMC_ETOOLARGE);
	assert_int_equal(lm_code32_encode(sym, 3, 2, text, 6), 0);
	assert_int_equal(lm_code32_encode(sym, LM_CODE32_MAX_SYMBOLS + 1, 0, text, sizeof text),
	                 LMC_ETOOLARGE);
}

/* Every symbol of a code replaced by every other symbol is refused. */
static void test_every_substitution_detected(void **state)
{
	for (int trial = 0; trial < 20; trial++) {
		size_t n = 2 + rnd(30);
		uint8_t sym[LM_CODE32_MAX_SYMBOLS], back[LM_CODE32_MAX_SYMBOLS];
		char text[128], typo[128];
		size_t nback;
		random_symbols(sym, n);
		assert_int_equal(lm_code32_encode(sym, n, 0, text, sizeof text), 0);
		size_t len = strlen(text);
		for (size_t pos = 0; pos < len; pos++) {
			for (int v = 0; v < 32; v++) {
				if (alphabet[v] == text[pos])
					continue;
				memcpy(typo, text, len + 1);
				typo[pos] = alphabet[v];
				assert_int_equal(
				        lm_code32_decode(typo, back, sizeof back, &nback, NULL, 0),
				        LMC_EBADCODE);
			}
		}
	}
}

/* Luhn mod 32 misses a swap of two adjacent symbols for one pair of values
 * only (0 and Z, whose doubled values differ by the same amount). */
static void test_adjacent_transpositions_mostly_detected(void **state)
{
	unsigned swaps = 0, detected = 0;
	for (int trial = 0; trial < 400; trial++) {
		size_t n = 2 + rnd(20);
		uint8_t sym[LM_CODE32_MAX_SYMBOLS], back[LM_CODE32_MAX_SYMBOLS];
		char text[128], typo[128];
		size_t nback;
		random_symbols(sym, n);
		assert_int_equal(lm_code32_encode(sym, n, 0, text, sizeof text), 0);
		size_t len = strlen(text);
		for (size_t pos = 0; pos + 1 < len; pos++) {
			if (text[pos] == text[pos + 1])
				continue;
			memcpy(typo, text, len + 1);
			typo[pos] = text[pos + 1];
			typo[pos + 1] = text[pos];
			swaps++;
			if (lm_code32_decode(typo, back, sizeof back, &nback, NULL, 0) ==
			    LMC_EBADCODE)
				detected++;
		}
	}
	print_message("adjacent transpositions detected: %u of %u\n", detected, swaps);
	assert_true(swaps > 1000);
	assert_true(detected * 100 >= swaps * 95);

	/* The documented blind spot, so that a change of algorithm is seen. */
	const uint8_t pair[] = {0, 31};
	char text[16];
	uint8_t back[4];
	size_t nback;
	assert_int_equal(lm_code32_encode(pair, 2, 0, text, sizeof text), 0);
	char swapped[16];
	memcpy(swapped, text, sizeof text);
	swapped[0] = text[1];
	swapped[1] = text[0];
	assert_int_equal(lm_code32_decode(swapped, back, sizeof back, &nback, NULL, 0), 0);
}

static void decode_same(const char *typed, const char *canonical)
{
	uint8_t a[LM_CODE32_MAX_SYMBOLS], b[LM_CODE32_MAX_SYMBOLS];
	size_t na = 0, nb = 0;
	char err[128] = "";
	assert_int_equal(lm_code32_decode(canonical, a, sizeof a, &na, err, sizeof err), 0);
	int rc = lm_code32_decode(typed, b, sizeof b, &nb, err, sizeof err);
	if (rc != 0)
		fail_msg("'%s' refused: %s", typed, err);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
}

static void test_normalisation(void **state)
{
	/* Symbols 0, 1 and 1 again, written with the letters people confuse
	 * with them. */
	const uint8_t sym[] = {0, 1, 1, 10, 20, 30, 17};
	char code[32];
	assert_int_equal(lm_code32_encode(sym, sizeof sym, 4, code, sizeof code), 0);
	assert_memory_equal(code, "011A-MYH", 8);
	char typed[32];

	for (size_t i = 0; i < sizeof typed; i++)
		typed[i] = (char)tolower((unsigned char)code[i]);
	decode_same(typed, code);
	memcpy(typed, code, sizeof code);
	typed[0] = 'O';
	decode_same(typed, code);
	typed[0] = 'o';
	typed[1] = 'I';
	typed[2] = 'L';
	decode_same(typed, code);
	typed[1] = 'i';
	typed[2] = 'l';
	decode_same(typed, code);

	/* Hyphens, spaces and tabs anywhere are ignored. */
	char spaced[64];
	snprintf(spaced, sizeof spaced, " 0-1 1a\tM-y-H%s ", code + 8);
	decode_same(spaced, code);
	snprintf(spaced, sizeof spaced, "011AMYH%s", code + 8);
	decode_same(spaced, code);
}

static void test_bad_symbols_named(void **state)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS];
	size_t n;
	char err[160];
	assert_int_equal(lm_code32_decode("12U4-5678", sym, sizeof sym, &n, err, sizeof err),
	                 LMC_EBADCODE);
	assert_non_null(strstr(err, "'U'"));
	assert_non_null(strstr(err, "symbol 3"));
	assert_int_equal(lm_code32_decode("12*4", sym, sizeof sym, &n, err, sizeof err),
	                 LMC_EBADCODE);
	assert_non_null(strstr(err, "'*'"));
	/* An unprintable byte is not echoed back raw. */
	assert_int_equal(lm_code32_decode("12\x01"
	                                  "4",
	                                  sym, sizeof sym, &n, err, sizeof err),
	                 LMC_EBADCODE);
	assert_non_null(strstr(err, "'?'"));
	assert_int_equal(lm_code32_decode("", sym, sizeof sym, &n, err, sizeof err), LMC_EBADCODE);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(lm_code32_decode("--- -", sym, sizeof sym, &n, err, sizeof err),
	                 LMC_EBADCODE);
	assert_int_equal(lm_code32_decode("7", sym, sizeof sym, &n, NULL, 0), LMC_EBADCODE);
}

static void test_too_long(void **state)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS], back[LM_CODE32_MAX_SYMBOLS];
	char text[256], err[128];
	size_t n;
	random_symbols(sym, LM_CODE32_MAX_SYMBOLS);
	assert_int_equal(lm_code32_encode(sym, LM_CODE32_MAX_SYMBOLS, 4, text, sizeof text), 0);
	/* The longest code fits, but not in a smaller caller buffer. */
	assert_int_equal(lm_code32_decode(text, back, sizeof back, &n, err, sizeof err), 0);
	assert_int_equal(lm_code32_decode(text, back, 10, &n, err, sizeof err), LMC_EBADCODE);
	assert_non_null(strstr(err, "too long"));
	/* One symbol more than any code has. */
	char longer[300];
	snprintf(longer, sizeof longer, "0%s", text);
	assert_int_equal(lm_code32_decode(longer, back, sizeof back, &n, err, sizeof err),
	                 LMC_EBADCODE);
	assert_non_null(strstr(err, "too long"));
	/* A pasted page of text is refused quickly and safely. */
	char page[4096];
	memset(page, '7', sizeof page - 1);
	page[sizeof page - 1] = '\0';
	assert_int_equal(lm_code32_decode(page, back, sizeof back, &n, err, sizeof err),
	                 LMC_EBADCODE);
}

static void test_bytes_round_trip(void **state)
{
	for (size_t n = 1; n <= 32; n++) {
		uint8_t bytes[32], back[32], sym[LM_CODE32_MAX_SYMBOLS];
		for (size_t i = 0; i < n; i++)
			bytes[i] = (uint8_t)rnd(256);
		size_t nsym = lm_code32_from_bytes(bytes, n, sym, sizeof sym);
		assert_int_equal(nsym, (n * 8 + 4) / 5);
		memset(back, 0xAA, sizeof back);
		assert_int_equal(lm_code32_to_bytes(sym, nsym, back, n), 0);
		assert_memory_equal(back, bytes, n);
		/* A symbol too few or too many is refused. */
		assert_int_equal(lm_code32_to_bytes(sym, nsym - 1, back, n), LMC_EBADCODE);
		sym[nsym] = 0;
		assert_int_equal(lm_code32_to_bytes(sym, nsym + 1, back, n), LMC_EBADCODE);
	}
	/* Known vector: 0xFF packs as 11111 111(00). */
	const uint8_t ff = 0xFF;
	uint8_t sym[4];
	assert_int_equal(lm_code32_from_bytes(&ff, 1, sym, sizeof sym), 2);
	assert_int_equal(sym[0], 31);
	assert_int_equal(sym[1], 28);
}

static void test_nonzero_padding_refused(void **state)
{
	/* Each byte count whose symbols carry padding bits: 8n is not a
	 * multiple of 5. */
	for (size_t n = 1; n <= 8; n++) {
		if (n * 8 % 5 == 0)
			continue;
		uint8_t bytes[8] = {0}, back[8], sym[16];
		size_t nsym = lm_code32_from_bytes(bytes, n, sym, sizeof sym);
		unsigned pad = (unsigned)(nsym * 5 - n * 8);
		for (unsigned bit = 0; bit < pad; bit++) {
			uint8_t forged[16];
			memcpy(forged, sym, nsym);
			forged[nsym - 1] |= (uint8_t)(1u << bit);
			assert_int_equal(lm_code32_to_bytes(forged, nsym, back, n), LMC_EBADCODE);
		}
		assert_int_equal(lm_code32_to_bytes(sym, nsym, back, n), 0);
	}
}

static void test_from_bytes_respects_max(void **state)
{
	uint8_t bytes[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	uint8_t sym[20];
	memset(sym, 0xEE, sizeof sym);
	assert_int_equal(lm_code32_from_bytes(bytes, sizeof bytes, sym, 5), 5);
	assert_int_equal(sym[5], 0xEE);
}

/* Hex, the other way bytes are shown to people (cluster ids, digests):
 * two lowercase digits a byte, most significant nibble first, and a NUL
 * right after them. */
static void test_hex_encode(void **state)
{
	(void)state;
	const uint8_t bytes[] = {0x00, 0x09, 0x0a, 0x7f, 0x80, 0xab, 0xf0, 0xff};
	char out[2 * sizeof bytes + 2];

	memset(out, '#', sizeof out);
	assert_ptr_equal(lm_hex_encode(bytes, sizeof bytes, out), out);
	assert_string_equal(out, "00090a7f80abf0ff");
	assert_int_equal(out[2 * sizeof bytes + 1], '#');

	memset(out, '#', sizeof out);
	assert_string_equal(lm_hex_encode(bytes, 0, out), "");
	assert_int_equal(out[1], '#');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_symbol_alphabet),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_grouping),
	        cmocka_unit_test(test_encode_limits),
	        cmocka_unit_test(test_every_substitution_detected),
	        cmocka_unit_test(test_adjacent_transpositions_mostly_detected),
	        cmocka_unit_test(test_normalisation),
	        cmocka_unit_test(test_bad_symbols_named),
	        cmocka_unit_test(test_too_long),
	        cmocka_unit_test(test_bytes_round_trip),
	        cmocka_unit_test(test_nonzero_padding_refused),
	        cmocka_unit_test(test_from_bytes_respects_max),
	        cmocka_unit_test(test_hex_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
