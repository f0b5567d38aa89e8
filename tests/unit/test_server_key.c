/* Server identity keys: their text form, KEY= on SERVER lines, the
 * SERVER_KEYS that counted lines sign, and the grant a server signs. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/grant.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "core/server_key.h"

static char S1[LM_LOCKCODE_TEXT_MAX], S2[LM_LOCKCODE_TEXT_MAX], S3[LM_LOCKCODE_TEXT_MAX];
static EVP_PKEY *keys[3];
static char K[3][LM_SERVER_KEY_TEXT_MAX];

static int setup(void **state)
{
	(void)state;
	char *codes[] = {S1, S2, S3};
	for (int i = 0; i < 3; i++) {
		struct lm_lockcode c = {.present = 1, .digest = {(uint32_t)(i + 1) * 4099u}};
		assert_int_equal(lm_lockcode_format(&c, codes[i], LM_LOCKCODE_TEXT_MAX), 0);
		keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		assert_non_null(keys[i]);
		uint8_t raw[LM_SERVER_KEY_LEN];
		assert_int_equal(lm_server_key_raw(keys[i], raw), 0);
		assert_int_equal(lm_server_key_format(raw, K[i], sizeof K[i]), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

static int parse(const char *text, struct lm_license_file *f, struct lm_parse_error *err)
{
	return lm_license_parse(text, strlen(text), f, err);
}

static void test_key_text_round_trip_and_typos(void **state)
{
	(void)state;
	uint8_t raw[LM_SERVER_KEY_LEN], back[LM_SERVER_KEY_LEN];
	char why[200];
	assert_int_equal(lm_server_key_raw(keys[0], raw), 0);
	assert_int_equal(lm_server_key_parse(K[0], back, why, sizeof why), 0);
	assert_memory_equal(raw, back, LM_SERVER_KEY_LEN);
	/* One symbol changed: the check symbol catches it. */
	char typo[LM_SERVER_KEY_TEXT_MAX];
	strcpy(typo, K[0]);
	typo[2] = typo[2] == 'A' ? 'B' : 'A';
	assert_int_equal(lm_server_key_parse(typo, back, why, sizeof why), LMC_EBADCODE);
	/* A lock code is not a key. */
	assert_int_equal(lm_server_key_parse(S1, back, why, sizeof why), LMC_EBADCODE);
	assert_non_null(strstr(why, "not a server key"));
}

/* A file that pins keys signs them into every counted line, in the order
 * of SERVER_CODES, and the canonical line reads back with them. */
static void test_pinned_keys_are_signed(void **state)
{
	(void)state;
	char text[2048], canon[LM_LINE_MAX + 1];
	struct lm_license_file f;
	struct lm_parse_error err;
	snprintf(text, sizeof text,
	         "SERVER a %s 1 KEY=%s\nSERVER b %s 2 key=%s\nSERVER c %s 3 KEY=%s\n"
	         "FEATURE f acme 1.0 permanent 5\nFEATURE n acme 1.0 permanent uncounted "
	         "HOSTID=ANY\n",
	         S3, K[2], S1, K[0], S2, K[1]);
	assert_int_equal(parse(text, &f, &err), 0);
	assert_true(f.servers[0].has_key);
	assert_int_equal(lm_license_canonical(&f, &f.lines[0], canon, sizeof canon) > 0, 1);
	const char *codes = strstr(canon, "SERVER_CODES=");
	const char *pinned = strstr(canon, "SERVER_KEYS=");
	assert_non_null(codes);
	assert_non_null(pinned);
	assert_true(pinned > codes);
	/* Sorted with their codes. */
	const char *order[3][2] = {{S1, K[0]}, {S2, K[1]}, {S3, K[2]}};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (strcmp(order[i][0], order[j][0]) > 0) {
				const char *t0 = order[i][0], *t1 = order[i][1];
				order[i][0] = order[j][0];
				order[i][1] = order[j][1];
				order[j][0] = t0;
				order[j][1] = t1;
			}
	char want[400];
	snprintf(want, sizeof want, "SERVER_KEYS=\"%s %s %s\"", order[0][1], order[1][1],
	         order[2][1]);
	assert_string_equal(pinned, want);

	struct lm_license l;
	struct lm_lockcode back[LM_LICENSE_SERVERS_MAX];
	int n;
	assert_int_equal(lm_license_parse_canonical(canon, &l, back, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(l.nserver_keys, 3);
	uint8_t raw[LM_SERVER_KEY_LEN];
	char why[200];
	assert_int_equal(lm_server_key_parse(order[0][1], raw, why, sizeof why), 0);
	assert_memory_equal(l.server_keys[0], raw, LM_SERVER_KEY_LEN);

	/* The uncounted line names no server: no keys either. */
	assert_int_equal(lm_license_canonical(&f, &f.lines[1], canon, sizeof canon) > 0, 1);
	assert_null(strstr(canon, "SERVER_KEYS"));

	/* The printed file keeps KEY=. */
	char *printed = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&printed, &size);
	assert_int_equal(lm_license_print(&f, out), 0);
	fclose(out);
	assert_non_null(strstr(printed, K[1]));
	free(printed);
	lm_license_free(&f);
}

/* Without KEY=, lines read exactly as before keys existed. */
static void test_unpinned_lines_are_unchanged(void **state)
{
	(void)state;
	char text[512], canon[LM_LINE_MAX + 1], want[512];
	struct lm_license_file f;
	struct lm_parse_error err;
	snprintf(text, sizeof text, "SERVER a %s 1\nFEATURE f acme 1.0 permanent 5\n", S1);
	assert_int_equal(parse(text, &f, &err), 0);
	assert_int_equal(lm_license_canonical(&f, &f.lines[0], canon, sizeof canon) > 0, 1);
	snprintf(want, sizeof want, "FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"%s\"", S1);
	assert_string_equal(canon, want);
	lm_license_free(&f);
}

static void test_refused(void **state)
{
	(void)state;
	char text[2048];
	struct lm_license_file f;
	struct lm_parse_error err;

	snprintf(text, sizeof text, "SERVER a %s 1 KEY=%s\nSERVER b %s 2\nSERVER c %s 3 KEY=%s\n",
	         S1, K[0], S2, S3, K[2]);
	assert_int_equal(parse(text, &f, &err), LMC_ESYNTAX);
	assert_int_equal(err.lineno, 2);
	assert_non_null(strstr(err.message, "pin every server's key or none"));

	snprintf(text, sizeof text, "SERVER a %s 1 KEY=%s KEY=%s\n", S1, K[0], K[1]);
	assert_int_equal(parse(text, &f, &err), LMC_ESYNTAX);
	assert_non_null(strstr(err.message, "twice"));

	snprintf(text, sizeof text, "SERVER a %s 1 KEY=%s\n", S1, S2);
	assert_int_equal(parse(text, &f, &err), LMC_EBADCODE);

	snprintf(text, sizeof text,
	         "SERVER a %s 1\nFEATURE f acme 1 permanent 5 SERVER_KEYS=\"%s\"\n", S1, K[0]);
	assert_int_equal(parse(text, &f, &err), LMC_ESYNTAX);
	assert_non_null(strstr(err.message, "KEY="));

	/* A canonical line whose keys do not match its codes. */
	struct lm_license l;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int n;
	snprintf(text, sizeof text,
	         "FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"%s\" SERVER_KEYS=\"%s %s\"", S1,
	         K[0], K[1]);
	assert_int_equal(lm_license_parse_canonical(text, &l, codes, &n, &err), LMC_ESYNTAX);
	snprintf(text, sizeof text,
	         "FEATURE f acme 1.0 permanent 5 SERVER_KEYS=\"%s\" SERVER_CODES=\"%s\"", K[0], S1);
	assert_int_equal(lm_license_parse_canonical(text, &l, codes, &n, &err), LMC_ESYNTAX);
	snprintf(text, sizeof text,
	         "FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"%s\" SERVER_KEYS=\"x\"", S1);
	assert_int_equal(lm_license_parse_canonical(text, &l, codes, &n, &err), LMC_EBADCODE);
}

static void sign(EVP_PKEY *key, const char *text, uint8_t sig[LM_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = LM_SIG_LEN;
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)text, strlen(text)),
	                 1);
	EVP_MD_CTX_free(ctx);
}

/* Any change to what was granted, or another key, fails verification. */
static void test_grant_signature(void **state)
{
	(void)state;
	struct lm_grant_claim g = {.line = "FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"X\"",
	                           .count = 2,
	                           .session_id = 0x1234,
	                           .nonce = {1, 2, 3},
	                           .time_ms = 1790000000000ull};
	char text[LM_GRANT_TEXT_MAX];
	int n = lm_grant_text(&g, text, sizeof text);
	assert_true(n > 0);
	assert_non_null(strstr(text, "lmd-grant-v1 line="));
	assert_non_null(strstr(text, " count=2 session=0000000000001234 nonce=010203"));
	uint8_t sig[LM_SIG_LEN], raw[LM_SERVER_KEY_LEN], other[LM_SERVER_KEY_LEN];
	sign(keys[0], text, sig);
	assert_int_equal(lm_server_key_raw(keys[0], raw), 0);
	assert_int_equal(lm_server_key_raw(keys[1], other), 0);
	assert_int_equal(lm_server_key_verify(raw, text, (size_t)n, sig), 0);
	assert_int_equal(lm_server_key_verify(other, text, (size_t)n, sig), LMC_EBADSIG);

	struct lm_grant_claim changed[4] = {g, g, g, g};
	changed[0].count = 3;
	changed[1].session_id = 0x1235;
	changed[2].nonce[0] = 9;
	changed[3].line = "FEATURE f acme 1.0 permanent 6 SERVER_CODES=\"X\"";
	for (int i = 0; i < 4; i++) {
		char t[LM_GRANT_TEXT_MAX];
		int m = lm_grant_text(&changed[i], t, sizeof t);
		assert_true(m > 0);
		assert_int_equal(lm_server_key_verify(raw, t, (size_t)m, sig), LMC_EBADSIG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_text_round_trip_and_typos),
	        cmocka_unit_test(test_pinned_keys_are_signed),
	        cmocka_unit_test(test_unpinned_lines_are_unchanged),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_grant_signature),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
