/* Vendor keys and signed license lines: any edit to a signed field breaks
 * that line only; layout, comments and order do not matter; a counted line
 * is bound to its servers' lock codes but not to their names. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/key.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "tests/unit/helpers.h"
#include "vendor/sign.h"

static char *dir;
static EVP_PKEY *priv, *pub, *other_priv, *other_pub;
static char S1[LM_LOCKCODE_TEXT_MAX], S2[LM_LOCKCODE_TEXT_MAX], S3[LM_LOCKCODE_TEXT_MAX];
static char S4[LM_LOCKCODE_TEXT_MAX], H1[LM_LOCKCODE_TEXT_MAX], H2[LM_LOCKCODE_TEXT_MAX];
static char A1[64], A2[64]; /* authorization codes */

static void code_text(unsigned present, uint32_t seed, char *buf)
{
	struct lm_lockcode c = {.present = (uint16_t)present};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		if (present & (1u << i))
			c.digest[i] = (seed * 2654435761u + (uint32_t)i * 977u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, buf, LM_LOCKCODE_TEXT_MAX), 0);
}

static void load_pair(const char *name, EVP_PKEY **sk, EVP_PKEY **pk)
{
	char privname[64], pubname[64], err[256];
	snprintf(privname, sizeof privname, "%s.pem", name);
	snprintf(pubname, sizeof pubname, "%s.pub.pem", name);
	const char *pp = strdup(th_path(dir, privname)), *qp = strdup(th_path(dir, pubname));
	assert_int_equal(lm_key_generate(pp, qp, err, sizeof err), 0);
	assert_int_equal(lm_key_load_private(pp, sk, err, sizeof err), 0);
	assert_int_equal(lm_key_load_public(qp, pk, err, sizeof err), 0);
	free((void *)pp);
	free((void *)qp);
}

static int setup(void **state)
{
	dir = th_tempdir();
	load_pair("vendor", &priv, &pub);
	load_pair("other", &other_priv, &other_pub);
	code_text(0x3f, 1, S1);
	code_text(0x3f, 2, S2);
	code_text(0x3f, 3, S3);
	code_text(0x3f, 4, S4);
	code_text(0x0f, 5, H1);
	code_text(0x0f, 6, H2);
	uint8_t sym[16];
	for (int i = 0; i < 16; i++)
		sym[i] = (uint8_t)i;
	assert_int_equal(lm_code32_encode(sym, 16, 4, A1, sizeof A1), 0);
	sym[7] = 30;
	assert_int_equal(lm_code32_encode(sym, 16, 4, A2, sizeof A2), 0);
	return 0;
}

static int teardown(void **state)
{
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other_priv);
	EVP_PKEY_free(other_pub);
	th_rmtree(dir);
	free(dir);
	return 0;
}

/* The licenses every test signs: a counted line with every keyword, a
 * node-locked line, a package. */
static char *template(void)
{
	char *text;
	int n = asprintf(
	        &text,
	        "# Acme Corp\n"
	        "SERVER alpha %s 27000\n"
	        "SERVER beta %s 27000\n"
	        "SERVER gamma %s 27000\n"
	        "VENDOR acme\n"
	        "FEATURE statistics acme 29.0 2027-12-31 25 AUTH=%s \\\n"
	        "\tSTART=2025-01-01 ISSUED=2024-12-15 NOTICE=\"Acme Corp\" NAMED_USERS=20 \\\n"
	        "\tBORROW=72 HOST_DESC=\"build farm\" SN=SN-42 TOLERANCE=2\n"
	        "INCREMENT plotting acme 2.0 permanent uncounted HOSTID=%s\n"
	        "PACKAGE suite acme 1.0 COMPONENTS=\"statistics plotting\" OPTIONS=SUITE\n",
	        S1, S2, S3, A1, H1);
	assert_true(n > 0);
	return text;
}

static void parse(const char *text, struct lm_license_file *f)
{
	struct lm_parse_error err;
	int rc = lm_license_parse(text, strlen(text), f, &err);
	if (rc)
		fail_msg("line %d: %s\n%s", err.lineno, err.message, text);
}

static char *print_str(const struct lm_license_file *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(lm_license_print(f, out), 0);
	fclose(out);
	return buf;
}

/* The template, signed and printed. */
static char *signed_text(EVP_PKEY *key)
{
	struct lm_license_file f;
	char *text = template();
	parse(text, &f);
	assert_int_equal(lm_license_sign(&f, key), 0);
	char *out = print_str(&f);
	lm_license_free(&f);
	free(text);
	return out;
}

/* Verifies every line of text; returns a bit mask of the lines that fail. */
static unsigned failing_lines(const char *text, EVP_PKEY *key)
{
	struct lm_license_file f;
	unsigned mask = 0;
	parse(text, &f);
	assert_int_equal(f.nlines, 3);
	for (size_t i = 0; i < f.nlines; i++) {
		int rc = lm_license_verify(&f, &f.lines[i], key);
		assert_true(rc == 0 || rc == LMC_EBADSIG);
		if (rc)
			mask |= 1u << i;
	}
	lm_license_free(&f);
	return mask;
}

/* text with the first occurrence of from replaced by to; free() it. */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	if (!at)
		fail_msg("'%s' not found in\n%s", from, text);
	char *out;
	assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0);
	return out;
}

/* s with @H1@ @H2@ @A1@ @A2@ replaced by their codes; free() it. */
static char *expand(const char *s)
{
	static const char *const keys[] = {"@H1@", "@H2@", "@A1@", "@A2@"};
	const char *vals[] = {H1, H2, A1, A2};
	char *out = strdup(s);
	for (int i = 0; i < 4; i++) {
		while (strstr(out, keys[i])) {
			char *next = replace(out, keys[i], vals[i]);
			free(out);
			out = next;
		}
	}
	return out;
}

/* ---- Keys -------------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	char *buf = calloc(1, 65536);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 65535, in);
	buf[n] = '\0';
	fclose(in);
	return buf;
}

static void test_keygen_files(void **state)
{
	struct stat st;
	assert_int_equal(stat(th_path(dir, "vendor.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(th_path(dir, "vendor.pub.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	char *text = slurp(th_path(dir, "vendor.pem"));
	assert_int_equal(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	free(text);
	text = slurp(th_path(dir, "vendor.pub.pem"));
	assert_int_equal(strncmp(text, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
	free(text);

	/* Generating again replaces the pair; no temporary file is left. */
	char err[256];
	assert_int_equal(lm_key_generate(th_path(dir, "again.pem"), th_path(dir, "again.pub"), err,
	                                 sizeof err),
	                 0);
	assert_int_equal(lm_key_generate(th_path(dir, "again.pem"), th_path(dir, "again.pub"), err,
	                                 sizeof err),
	                 0);
	char *cmd;
	assert_true(asprintf(&cmd, "test $(ls '%s' | grep -c again) -eq 2", dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	/* A directory that does not exist is an I/O error with its name. */
	assert_int_equal(lm_key_generate(th_path(dir, "no/such.pem"), th_path(dir, "no/such.pub"),
	                                 err, sizeof err),
	                 LMC_EIO);
	assert_non_null(strstr(err, "no/such.pem"));
}

static void test_load_from_pem_text(void **state)
{
	char err[256];
	char *text = slurp(th_path(dir, "vendor.pub.pem"));
	EVP_PKEY *k = NULL;
	assert_int_equal(lm_key_load_public(text, &k, err, sizeof err), 0);
	assert_int_equal(EVP_PKEY_eq(k, pub), 1);
	EVP_PKEY_free(k);
	free(text);

	text = slurp(th_path(dir, "vendor.pem"));
	assert_int_equal(lm_key_load_private(text, &k, err, sizeof err), 0);
	assert_int_equal(EVP_PKEY_eq(k, pub), 1);
	EVP_PKEY_free(k);
	free(text);
}

static void test_load_refusals(void **state)
{
	char err[256];
	EVP_PKEY *k = (EVP_PKEY *)1;

	assert_int_equal(lm_key_load_public(th_path(dir, "missing.pem"), &k, err, sizeof err),
	                 LMC_EIO);
	assert_null(k);
	assert_non_null(strstr(err, "missing.pem"));

	/* The private key is no public key: it must never ship. */
	assert_int_equal(lm_key_load_public(th_path(dir, "vendor.pem"), &k, err, sizeof err),
	                 LMC_EKEY);
	assert_non_null(strstr(err, "private key"));
	assert_int_equal(lm_key_load_private(th_path(dir, "vendor.pub.pem"), &k, err, sizeof err),
	                 LMC_EKEY);
	assert_non_null(strstr(err, "PUBLIC KEY"));

	th_write(dir, "garbage.pem", "this is not a key\n");
	assert_int_equal(lm_key_load_public(th_path(dir, "garbage.pem"), &k, err, sizeof err),
	                 LMC_EKEY);
	assert_non_null(strstr(err, "no PEM data"));
	assert_int_equal(lm_key_load_public("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
	                                    "KEY-----\n",
	                                    &k, err, sizeof err),
	                 LMC_EKEY);
	assert_null(k);
	/* No stale OpenSSL error is left for the next caller. */
	assert_int_equal(ERR_peek_error(), 0);
}

/* Writes key as PEM files name.pem / name.pub.pem (optionally encrypted). */
static void write_foreign(EVP_PKEY *key, const char *name, const EVP_CIPHER *cipher)
{
	char path[64];
	snprintf(path, sizeof path, "%s.pem", name);
	FILE *out = fopen(th_path(dir, path), "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_PrivateKey(out, key, cipher, NULL, 0, NULL, (void *)"secret"),
	                 1);
	fclose(out);
	snprintf(path, sizeof path, "%s.pub.pem", name);
	out = fopen(th_path(dir, path), "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_PUBKEY(out, key), 1);
	fclose(out);
}

static void refused_as(const char *name, const char *what)
{
	char path[64], err[256];
	EVP_PKEY *k = NULL;
	snprintf(path, sizeof path, "%s.pem", name);
	assert_int_equal(lm_key_load_private(th_path(dir, path), &k, err, sizeof err), LMC_EKEY);
	assert_null(k);
	if (!strstr(err, what))
		fail_msg("'%s' does not mention %s", err, what);
	snprintf(path, sizeof path, "%s.pub.pem", name);
	assert_int_equal(lm_key_load_public(th_path(dir, path), &k, err, sizeof err), LMC_EKEY);
	assert_null(k);
	if (!strstr(err, what))
		fail_msg("'%s' does not mention %s", err, what);
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_other_key_types_refused(void **state)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	assert_non_null(rsa);
	assert_non_null(ec);
	assert_non_null(ed448);
	write_foreign(rsa, "rsa", NULL);
	write_foreign(ec, "ec", NULL);
	write_foreign(ed448, "ed448", NULL);
	refused_as("rsa", "is RSA (2048 bits), not Ed25519");
	refused_as("ec", "is EC (256 bits)");
	refused_as("ed448", "is ED448");

	/* Keys passed in directly are refused too, not misused. */
	uint8_t sig[LM_SIG_LEN];
	assert_int_equal(lm_sig_sign(rsa, "x", 1, sig), LMC_EKEY);
	assert_int_equal(lm_sig_verify(ec, "x", 1, sig), LMC_EKEY);
	assert_int_equal(lm_sig_sign(pub, "x", 1, sig), LMC_EKEY); /* a public key cannot sign */
	assert_int_equal(ERR_peek_error(), 0);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed448);
}

static void test_encrypted_key_refused_without_prompt(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	write_foreign(ed, "locked", EVP_aes_256_cbc());
	char err[256];
	EVP_PKEY *k = NULL;
	assert_int_equal(lm_key_load_private(th_path(dir, "locked.pem"), &k, err, sizeof err),
	                 LMC_EKEY);
	assert_non_null(strstr(err, "encrypted"));
	EVP_PKEY_free(ed);
}

/* ---- Raw signatures ---------------------------------------------------- */

static void test_raw_signatures(void **state)
{
	const char msg[] = "FEATURE f acme 1 permanent 1";
	uint8_t sig[LM_SIG_LEN], again[LM_SIG_LEN];
	assert_int_equal(lm_sig_sign(priv, msg, strlen(msg), sig), 0);
	assert_int_equal(lm_sig_verify(pub, msg, strlen(msg), sig), 0);
	/* Ed25519 is deterministic. */
	assert_int_equal(lm_sig_sign(priv, msg, strlen(msg), again), 0);
	assert_memory_equal(sig, again, LM_SIG_LEN);
	/* The private key verifies its own signatures too. */
	assert_int_equal(lm_sig_verify(priv, msg, strlen(msg), sig), 0);

	assert_int_equal(lm_sig_verify(pub, msg, strlen(msg) - 1, sig), LMC_EBADSIG);
	assert_int_equal(lm_sig_verify(other_pub, msg, strlen(msg), sig), LMC_EBADSIG);
	for (int bit = 0; bit < LM_SIG_LEN * 8; bit += 37) {
		memcpy(again, sig, LM_SIG_LEN);
		again[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(lm_sig_verify(pub, msg, strlen(msg), again), LMC_EBADSIG);
	}
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- Signed license files ---------------------------------------------- */

static void test_sign_and_verify(void **state)
{
	struct lm_license_file f;
	char *text = template();
	parse(text, &f);
	for (size_t i = 0; i < f.nlines; i++)
		assert_int_equal(lm_license_verify(&f, &f.lines[i], pub), LMC_EBADSIG);
	assert_int_equal(lm_license_sign(&f, priv), 0);
	for (size_t i = 0; i < f.nlines; i++) {
		assert_true(f.lines[i].has_sig);
		assert_int_equal(lm_license_verify(&f, &f.lines[i], pub), 0);
		assert_int_equal(lm_license_verify(&f, &f.lines[i], other_pub), LMC_EBADSIG);
	}
	lm_license_free(&f);
	free(text);

	/* The signatures survive printing and parsing. */
	text = signed_text(priv);
	assert_int_equal(failing_lines(text, pub), 0);
	assert_int_equal(failing_lines(text, other_pub), 7);
	free(text);
}

/* Each edit changes one field of one line; that line, and only that line,
 * stops verifying. */
static void test_textual_tampering(void **state)
{
	char *text = signed_text(priv);
	const struct {
		const char *from, *to;
		unsigned fails;
	} edits[] = {
	        {"FEATURE statistics", "FEATURE statisticz", 1},
	        {"FEATURE statistics", "INCREMENT statistics", 1},
	        /* (dropping the VENDOR line, which is not signed, to allow it) */
	        {"VENDOR acme\nFEATURE statistics acme", "FEATURE statistics acmf", 1},
	        {"29.0", "29.1", 1},
	        {"29.0", "30", 1},
	        {"2027-12-31", "2028-12-31", 1},
	        {"2027-12-31 25", "2027-12-31 26", 1},
	        {"@A1@", "@A2@", 1},
	        {"START=2025-01-01", "START=2025-01-02", 1},
	        {"ISSUED=2024-12-15", "ISSUED=2024-12-16", 1},
	        {"Acme Corp\"", "Acme Corq\"", 1},
	        {"NAMED_USERS=20", "NAMED_USERS=21", 1},
	        {"BORROW=72", "BORROW=720", 1},
	        {"\"build farm\"", "\"build farm 2\"", 1},
	        {"SN=SN-42", "SN=SN-43", 1},
	        {"TOLERANCE=2", "TOLERANCE=3", 1},
	        {"TOLERANCE=2", "TOLERANCE=2 HOSTID=@H2@", 1},
	        {"INCREMENT plotting", "INCREMENT plottinf", 2},
	        {"2.0 permanent", "2.0 2099-01-01", 2},
	        {"uncounted", "uncounted NOTICE=x", 2},
	        {"OPTIONS=SUITE", "", 4},
	        {"statistics plotting\"", "statistics\"", 4},
	        {"suite acme 1.0", "suite acme 1.1", 4},
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		char *from = expand(edits[i].from), *to = expand(edits[i].to);
		char *edited = replace(text, from, to);
		unsigned got = failing_lines(edited, pub);
		if (got != edits[i].fails)
			fail_msg("edit %zu (%s -> %s): failing lines 0x%x, expected 0x%x", i,
			         edits[i].from, to, got, edits[i].fails);
		free(edited);
		free(from);
		free(to);
	}

	/* Changing the HOSTID of the node-locked line. */
	char *edited = replace(text, H1, H2);
	assert_int_equal(failing_lines(edited, pub), 2);
	free(edited);
	free(text);
}

/* The same, on the parsed structure: every field the canonical form covers
 * is covered by the signature. */
static void test_every_field_is_signed(void **state)
{
	char *text = signed_text(priv);
	struct lm_license_file f;
	parse(text, &f);
	for (int which = 0; which < 40; which++) {
		struct lm_license_file g = f;
		struct lm_license lines[3];
		memcpy(lines, f.lines, sizeof lines);
		g.lines = lines;
		struct lm_license *a = &lines[0], *b = &lines[1], *p = &lines[2];
		unsigned want = 1;
		switch (which) {
		case 0: a->name[0] = 'S'; break;
		case 1: a->vendor[0] = 'b'; break;
		case 2: strcpy(a->version, "29.0.1"); break;
		case 3: a->expiry++; break;
		case 4: a->count--; break;
		case 5: a->uncounted = true; break;
		case 6: a->type = LM_LINE_INCREMENT; break;
		case 7: a->has_hostid = true, a->hostid = b->hostid; break;
		case 8: a->auth[0] = '1'; break;
		case 9: a->start = LM_DATE_NONE; break;
		case 10: a->issued--; break;
		case 11: a->notice[0] = 'a'; break;
		case 12: a->named_users = 0; break;
		case 13: a->borrow_hours = 1; break;
		case 14: a->host_desc[0] = '\0'; break;
		case 15: strcpy(a->sn, "SN-42 "); break;
		case 16: a->tolerance = LM_LOCK_TOLERANCE_DEFAULT; break;
		case 17: a->sig[5] ^= 1; break;
		case 18: a->has_sig = false; break;
		case 19: b->hostid.ids[0].code.digest[0] ^= 1, want = 2; break;
		case 20: b->hostid.ids[0].code.present &= ~1u, want = 2; break;
		case 21: b->tolerance = 1, want = 2; break;
		case 22: b->uncounted = false, b->count = 1, want = 2; break;
		case 23: b->expiry = lm_date_from_ymd(2099, 1, 1), want = 2; break;
		case 24: p->suite = false, want = 4; break;
		case 25: strcpy(p->components, "plotting statistics"), want = 4; break;
		case 26: p->type = LM_LINE_FEATURE, want = 4; break;
		case 27: p->name[0] = 'S', want = 4; break;
		/* The servers: lock codes are signed into counted lines only. */
		case 28: g.servers[1].code.digest[2] ^= 1; break;
		case 29: g.servers[0].code.present &= ~4u; break;
		/* What is not signed: server names and ports, the line
		 * number, the vendor line. */
		case 30: strcpy(g.servers[0].host, "elsewhere"), want = 0; break;
		case 31: g.servers[2].port = 1, want = 0; break;
		case 32: a->lineno = 99, want = 0; break;
		case 33: g.vendor[0] = '\0', want = 0; break;
		/* Reordering the server lines changes nothing either. */
		case 34: {
			struct lm_license_server t = g.servers[0];
			g.servers[0] = g.servers[2];
			g.servers[2] = t;
			want = 0;
			break;
		}
		default: continue;
		}
		unsigned got = 0;
		for (int i = 0; i < 3; i++)
			if (lm_license_verify(&g, &lines[i], pub) != 0)
				got |= 1u << i;
		if (got != want)
			fail_msg("change %d: failing lines 0x%x, expected 0x%x", which, got, want);
	}
	lm_license_free(&f);
	free(text);
}

/* Layout is free: joined continuation lines, extra blanks, comments, blank
 * lines, keyword case, keyword and line order, date spelling. */
static void test_layout_changes_keep_signatures(void **state)
{
	char *text = signed_text(priv);

	/* Join the continuation lines. */
	char *joined = strdup(text);
	for (char *p; (p = strstr(joined, " \\\n\t"));)
		memmove(p + 1, p + 4, strlen(p + 4) + 1);
	assert_null(strstr(joined, "\\\n"));
	assert_int_equal(failing_lines(joined, pub), 0);

	/* Reverse the order of all lines, with comments and blanks between,
	 * extra blanks inside, and lower-case keywords. */
	char *lines[32];
	int n = 0;
	char *save;
	char *copy = strdup(joined);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	char *shuffled = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&shuffled, &len);
	for (int i = n - 1; i >= 0; i--) {
		fprintf(out, "# line %d\n\n   ", i);
		int quoted = 0;
		for (char *p = lines[i]; *p; p++) {
			quoted ^= *p == '"';
			if (*p == ' ' && !quoted)
				fputs(" \t ", out);
			else
				fputc(*p, out);
		}
		fputc('\n', out);
	}
	fclose(out);
	char *lower = replace(shuffled, "NOTICE=", "notice=");
	char *dates = replace(lower, "2027-12-31", "31-Dec-2027");
	/* Move a keyword to the front of the keywords. */
	char *moved = replace(dates, "SN=SN-42", "");
	char *moved2 = replace(moved, "AUTH=", "SN=SN-42 AUTH=");
	assert_int_equal(failing_lines(moved2, pub), 0);

	/* Re-continued at other places. */
	char *cont = replace(joined, "NAMED_USERS", "\\\n  NAMED_USERS");
	char *cont2 = replace(cont, "COMPONENTS", "\\\n\\\n\tCOMPONENTS");
	assert_int_equal(failing_lines(cont2, pub), 0);

	free(cont);
	free(cont2);
	free(moved);
	free(moved2);
	free(dates);
	free(lower);
	free(shuffled);
	free(copy);
	free(joined);
	free(text);
}

static void test_servers_bind_counted_lines(void **state)
{
	char *text = signed_text(priv);
	/* Another server machine: the counted line fails, the node-locked
	 * line and the package do not depend on the servers. */
	char *moved = replace(text, S2, S4);
	assert_int_equal(failing_lines(moved, pub), 1);
	free(moved);
	/* Renamed hosts, other ports, reordered SERVER lines: still valid. */
	char *renamed = replace(text, "SERVER alpha", "SERVER alpha.example.com");
	char *ported = replace(renamed, "27000\nSERVER beta", "27010\nSERVER beta");
	char *swapped_a = replace(ported, S1, "@@");
	char *swapped_b = replace(swapped_a, S3, S1);
	char *swapped = replace(swapped_b, "@@", S3);
	assert_int_equal(failing_lines(swapped, pub), 0);
	free(renamed);
	free(ported);
	free(swapped_a);
	free(swapped_b);
	free(swapped);
	free(text);
}

static void test_unsigned_and_foreign_lines(void **state)
{
	/* A line added to a signed file, unsigned, fails alone. */
	char *text = signed_text(priv);
	struct lm_license_file f;
	char *added;
	assert_true(asprintf(&added, "%sFEATURE extra acme 1.0 permanent 1\n", text) > 0);
	parse(added, &f);
	assert_int_equal(f.nlines, 4);
	assert_false(f.lines[3].has_sig);
	assert_int_equal(lm_license_verify(&f, &f.lines[3], pub), LMC_EBADSIG);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lm_license_verify(&f, &f.lines[i], pub), 0);
	lm_license_free(&f);
	free(added);

	/* A line signed by another vendor's key, pasted in, fails alone. */
	char *theirs = signed_text(other_priv);
	const char *their_pkg = strstr(theirs, "PACKAGE");
	const char *our_pkg = strstr(text, "PACKAGE");
	char *mixed;
	assert_true(asprintf(&mixed, "%.*s%s", (int)(our_pkg - text), text, their_pkg) > 0);
	assert_int_equal(failing_lines(mixed, pub), 4);
	free(mixed);
	free(theirs);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keygen_files),
	        cmocka_unit_test(test_load_from_pem_text),
	        cmocka_unit_test(test_load_refusals),
	        cmocka_unit_test(test_other_key_types_refused),
	        cmocka_unit_test(test_encrypted_key_refused_without_prompt),
	        cmocka_unit_test(test_raw_signatures),
	        cmocka_unit_test(test_sign_and_verify),
	        cmocka_unit_test(test_textual_tampering),
	        cmocka_unit_test(test_every_field_is_signed),
	        cmocka_unit_test(test_layout_changes_keep_signatures),
	        cmocka_unit_test(test_servers_bind_counted_lines),
	        cmocka_unit_test(test_unsigned_and_foreign_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown) ? 1 : 0;
}
