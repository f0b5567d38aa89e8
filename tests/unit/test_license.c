/* License files: what the parser accepts, what it refuses and on which
 * line, what the printer writes back, and the canonical form signatures
 * cover. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"

/* ---- Fixtures ---------------------------------------------------------- */

/* Lock codes of three servers and a workstation, and an authorization
 * code, in their printed form; filled in by setup(). */
static char S1[LM_LOCKCODE_TEXT_MAX], S2[LM_LOCKCODE_TEXT_MAX], S3[LM_LOCKCODE_TEXT_MAX];
static char H1[LM_LOCKCODE_TEXT_MAX];
static char AUTH1[64];

static struct lm_lockcode make_code(unsigned present, uint32_t seed)
{
	struct lm_lockcode c = {.present = (uint16_t)present};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		if (present & (1u << i))
			c.digest[i] = (seed * 2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	return c;
}

static void code_text(unsigned present, uint32_t seed, char *buf)
{
	struct lm_lockcode c = make_code(present, seed);
	assert_int_equal(lm_lockcode_format(&c, buf, LM_LOCKCODE_TEXT_MAX), 0);
}

static int setup(void **state)
{
	code_text(0x3f, 1, S1);
	code_text(0x3f, 2, S2);
	code_text(0x1d, 3, S3);
	code_text(0x2b, 4, H1);
	uint8_t sym[16];
	for (int i = 0; i < 16; i++)
		sym[i] = (uint8_t)(i * 7 % 32);
	assert_int_equal(lm_code32_encode(sym, 16, 4, AUTH1, sizeof AUTH1), 0);
	return 0;
}

/* Replaces @S1@ @S2@ @S3@ @H1@ @AUTH@ in a template; free() the result. */
static char *expand(const char *tpl)
{
	static const struct {
		const char *key;
		const char *val;
	} subst[] = {{"@S1@", S1}, {"@S2@", S2}, {"@S3@", S3}, {"@H1@", H1}, {"@AUTH@", AUTH1}};
	size_t cap = strlen(tpl) * 4 + 256, o = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	for (const char *p = tpl; *p;) {
		int done = 0;
		for (size_t i = 0; i < sizeof subst / sizeof subst[0]; i++) {
			size_t kl = strlen(subst[i].key);
			if (strncmp(p, subst[i].key, kl) == 0) {
				size_t vl = strlen(subst[i].val);
				memcpy(out + o, subst[i].val, vl);
				o += vl;
				p += kl;
				done = 1;
				break;
			}
		}
		if (!done)
			out[o++] = *p++;
		assert_true(o + 64 < cap);
	}
	out[o] = '\0';
	return out;
}

static int parse_tpl(const char *tpl, struct lm_license_file *f, struct lm_parse_error *err)
{
	char *text = expand(tpl);
	int rc = lm_license_parse(text, strlen(text), f, err);
	free(text);
	return rc;
}

static void parse_ok(const char *tpl, struct lm_license_file *f)
{
	struct lm_parse_error err;
	int rc = parse_tpl(tpl, f, &err);
	if (rc != 0)
		fail_msg("parse failed (%s) at line %d: %s", lmc_errname(rc), err.lineno,
		         err.message);
}

/* Prints f into a string; free() the result. */
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

static const char *canon(const struct lm_license_file *f, const struct lm_license *l)
{
	static char buf[4][LM_LINE_MAX + 1];
	static int next;
	char *b = buf[next++ % 4];
	int n = lm_license_canonical(f, l, b, LM_LINE_MAX + 1);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(b));
	return b;
}

static const struct lm_license *find(const struct lm_license_file *f, const char *name)
{
	for (size_t i = 0; i < f->nlines; i++)
		if (strcmp(f->lines[i].name, name) == 0)
			return &f->lines[i];
	fail_msg("no line named %s", name);
	return NULL;
}

/* A file with every kind of line, every keyword, comments, blank lines and
 * continuations. */
static const char *const full_file =
        "# Acme license file\n"
        "\n"
        "SERVER alpha.example.com @S1@ 27000\n"
        "SERVER beta @S2@ 27001\n"
        "SERVER 10.0.0.3 @S3@ 27002\n"
        "VENDOR acme\n"
        "\n"
        "# statistics, floating\n"
        "FEATURE statistics acme 29.0 31-dec-2027 25 AUTH=@AUTH@ START=1-jan-2025 \\\n"
        "\tISSUED=2024-12-15 NOTICE=\"Acme Corp, Lab 4\" NAMED_USERS=20 BORROW=72 \\\n"
        "\tHOST_DESC=\"build farm\" SN=SN-0042 TOLERANCE=2\n"
        "INCREMENT statistics acme 30.0 permanent uncounted HOSTID=@H1@ TOLERANCE=0\n"
        "feature plotting acme 1.2.3 2026-06-30 3 notice=lower-case-keyword\n"
        "PACKAGE suite acme 2.0 COMPONENTS=\"statistics  plotting\tgraphs\" OPTIONS=suite\n"
        "   # indented comment \n";

/* ---- Accepted files ---------------------------------------------------- */

static void test_full_file(void **state)
{
	struct lm_license_file f;
	parse_ok(full_file, &f);

	assert_int_equal(f.nservers, 3);
	assert_string_equal(f.servers[0].host, "alpha.example.com");
	assert_string_equal(f.servers[0].code_text, S1);
	assert_int_equal(f.servers[0].port, 27000);
	assert_int_equal(f.servers[0].lineno, 3);
	struct lm_lockcode c3 = make_code(0x1d, 3);
	assert_int_equal(f.servers[2].code.present, c3.present);
	assert_memory_equal(f.servers[2].code.digest, c3.digest, sizeof c3.digest);
	assert_string_equal(f.servers[2].host, "10.0.0.3");
	assert_int_equal(f.servers[2].port, 27002);
	assert_string_equal(f.vendor, "acme");
	assert_int_equal(f.nlines, 4);

	const struct lm_license *l = &f.lines[0];
	assert_int_equal(l->type, LM_LINE_FEATURE);
	assert_int_equal(l->lineno, 9);
	assert_string_equal(l->name, "statistics");
	assert_string_equal(l->vendor, "acme");
	assert_string_equal(l->version, "29.0");
	assert_int_equal(l->expiry, lm_date_from_ymd(2027, 12, 31));
	assert_false(l->uncounted);
	assert_int_equal(l->count, 25);
	assert_false(l->has_hostid);
	assert_string_equal(l->auth, AUTH1);
	assert_int_equal(l->start, lm_date_from_ymd(2025, 1, 1));
	assert_int_equal(l->issued, lm_date_from_ymd(2024, 12, 15));
	assert_string_equal(l->notice, "Acme Corp, Lab 4");
	assert_int_equal(l->named_users, 20);
	assert_int_equal(l->borrow_hours, 72);
	assert_string_equal(l->host_desc, "build farm");
	assert_string_equal(l->sn, "SN-0042");
	assert_int_equal(l->tolerance, 2);
	assert_false(l->has_sig);

	l = &f.lines[1];
	assert_int_equal(l->type, LM_LINE_INCREMENT);
	assert_int_equal(l->lineno, 12);
	assert_string_equal(l->version, "30.0");
	assert_int_equal(l->expiry, LM_DATE_PERMANENT);
	assert_true(l->uncounted);
	assert_true(l->has_hostid);
	struct lm_lockcode h1 = make_code(0x2b, 4);
	assert_int_equal(l->hostid.n, 1);
	assert_int_equal(l->hostid.ids[0].kind, LM_HOSTID_CODE);
	assert_int_equal(l->hostid.ids[0].code.present, h1.present);
	assert_memory_equal(l->hostid.ids[0].code.digest, h1.digest, sizeof h1.digest);
	assert_int_equal(l->tolerance, 0);
	assert_int_equal(l->start, LM_DATE_NONE);
	assert_int_equal(l->issued, LM_DATE_NONE);
	assert_string_equal(l->auth, "");

	l = &f.lines[2];
	assert_int_equal(l->type, LM_LINE_FEATURE);
	assert_string_equal(l->version, "1.2.3");
	assert_string_equal(l->notice, "lower-case-keyword");
	assert_int_equal(l->tolerance, LM_LOCK_TOLERANCE_DEFAULT);

	l = &f.lines[3];
	assert_int_equal(l->type, LM_LINE_PACKAGE);
	assert_int_equal(l->lineno, 14);
	assert_string_equal(l->components, "statistics plotting graphs");
	assert_true(l->suite);
	assert_int_equal(l->expiry, LM_DATE_PERMANENT);
	lm_license_free(&f);
	assert_null(f.lines);
	assert_int_equal(f.nlines, 0);
}

static void test_empty_files(void **state)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(lm_license_parse("", 0, &f, &err), 0);
	assert_int_equal(f.nlines, 0);
	assert_int_equal(f.nservers, 0);
	char *text = print_str(&f);
	assert_string_equal(text, "");
	free(text);
	lm_license_free(&f);

	parse_ok("# only a comment\n\n   \n", &f);
	assert_int_equal(f.nlines, 0);
	text = print_str(&f);
	assert_string_equal(text, "# only a comment\n\n\n");
	free(text);
	lm_license_free(&f);
}

static void test_continuations(void **state)
{
	struct lm_license_file f;
	/* The logical line starts on line 3; a backslash followed by blanks
	 * still continues; CRLF line ends are accepted; a split keyword value
	 * in quotes keeps the blanks around the break. */
	parse_ok("# head\n"
	         "SERVER h @S1@ 27000\n"
	         "FEATURE a acme \\  \r\n"
	         "  1.0 \\\r\n"
	         "\tpermanent 5 NOTICE=\"one\\\n"
	         "two\"\r\n"
	         "FEATURE b acme 1.0 permanent 5\n",
	         &f);
	assert_int_equal(f.nlines, 2);
	assert_int_equal(f.lines[0].lineno, 3);
	assert_string_equal(f.lines[0].version, "1.0");
	assert_int_equal(f.lines[0].count, 5);
	assert_string_equal(f.lines[0].notice, "one two");
	assert_int_equal(f.lines[1].lineno, 7);
	lm_license_free(&f);

	/* A backslash ending a comment does not continue it. */
	parse_ok("# ends with \\\nSERVER h @S1@ 27000\n", &f);
	assert_int_equal(f.nservers, 1);
	assert_int_equal(f.servers[0].lineno, 2);
	lm_license_free(&f);

	/* A continuation on the last line of a file just ends the line. */
	parse_ok("SERVER h @S1@ 27000\nFEATURE a acme 1.0 permanent 5 \\", &f);
	assert_int_equal(f.nlines, 1);
	lm_license_free(&f);
}

static void test_byte_order_mark_and_utf8(void **state)
{
	struct lm_license_file f;
	parse_ok("\xef\xbb\xbfSERVER h @S1@ 27000\n"
	         "FEATURE a acme 1.0 permanent 5 NOTICE=\"Soci\xc3\xa9t\xc3\xa9 "
	         "G\xc3\xa9n\xc3\xa9rale "
	         "\xe2\x82\xac\"\n",
	         &f);
	assert_string_equal(f.lines[0].notice,
	                    "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe2\x82\xac");
	lm_license_free(&f);
}

static void test_single_server_and_no_vendor_line(void **state)
{
	struct lm_license_file f;
	parse_ok("FEATURE a other 1 permanent 1000000\nSERVER localhost @S1@ 1\n", &f);
	assert_int_equal(f.nservers, 1);
	assert_string_equal(f.vendor, "");
	assert_int_equal(f.lines[0].count, 1000000);
	assert_int_equal(f.servers[0].port, 1);
	lm_license_free(&f);
}

/* FlexLM's VENDOR fields, positional or with keywords, and DAEMON, its
 * older name: kept, and printed back so that they read the same. */
static void test_vendor_fields(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("SERVER h @S1@ 27000\nVENDOR acme /opt/acme/bin/acme /etc/acme.opt 27001\n", &f);
	assert_string_equal(f.vendor, "acme");
	assert_string_equal(f.vendor_path, "/opt/acme/bin/acme");
	assert_string_equal(f.vendor_options, "/etc/acme.opt");
	assert_int_equal(f.vendor_port, 27001);
	char *printed = print_str(&f);
	assert_non_null(strstr(
	        printed, "VENDOR acme /opt/acme/bin/acme OPTIONS=/etc/acme.opt PORT=27001\n"));
	free(printed);
	lm_license_free(&f);

	parse_ok("SERVER h @S1@ 27000\nDAEMON acme OPTIONS=\"my acme.opt\" port=5000\n", &f);
	assert_string_equal(f.vendor, "acme");
	assert_string_equal(f.vendor_path, "");
	assert_string_equal(f.vendor_options, "my acme.opt");
	assert_int_equal(f.vendor_port, 5000);
	printed = print_str(&f);
	assert_non_null(strstr(printed, "VENDOR acme OPTIONS=\"my acme.opt\" PORT=5000\n"));
	free(printed);
	lm_license_free(&f);

	/* A bare word after OPTIONS= is the port, as FlexLM reads it. */
	parse_ok("SERVER h @S1@ 27000\nVENDOR acme OPTIONS=acme.opt 27002\n", &f);
	assert_string_equal(f.vendor_options, "acme.opt");
	assert_int_equal(f.vendor_port, 27002);
	lm_license_free(&f);
}

static void test_codes_are_normalised(void **state)
{
	/* Lock and authorization codes are read as people type them: any
	 * case, hyphens anywhere or nowhere. */
	char lower[64], nohyphen[64], auth[64];
	size_t o = 0;
	for (const char *p = S1; *p; p++)
		lower[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	lower[o] = '\0';
	o = 0;
	for (const char *p = H1; *p; p++)
		if (*p != '-')
			nohyphen[o++] = *p;
	nohyphen[o] = '\0';
	o = 0;
	for (const char *p = AUTH1; *p; p++)
		if (*p != '-')
			auth[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	auth[o] = '\0';
	char *text;
	assert_true(asprintf(&text,
	                     "SERVER h %s 27000\n"
	                     "FEATURE a acme 1.0 permanent uncounted HOSTID=%s AUTH=%s\n",
	                     lower, nohyphen, auth) > 0);
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), 0);
	assert_string_equal(f.servers[0].code_text, S1);
	assert_string_equal(f.lines[0].auth, AUTH1);
	char *printed = print_str(&f);
	assert_non_null(strstr(printed, S1));
	assert_non_null(strstr(printed, H1));
	assert_non_null(strstr(printed, AUTH1));
	free(printed);
	free(text);
	lm_license_free(&f);
}

/* ---- Printing and round trips ------------------------------------------ */

static void assert_files_equal(const struct lm_license_file *a, const struct lm_license_file *b)
{
	assert_int_equal(a->nservers, b->nservers);
	for (int i = 0; i < a->nservers; i++) {
		assert_string_equal(a->servers[i].host, b->servers[i].host);
		assert_string_equal(a->servers[i].code_text, b->servers[i].code_text);
		assert_int_equal(a->servers[i].port, b->servers[i].port);
	}
	assert_string_equal(a->vendor, b->vendor);
	assert_int_equal(a->nlines, b->nlines);
	for (size_t i = 0; i < a->nlines; i++) {
		struct lm_license x = a->lines[i], y = b->lines[i];
		assert_string_equal(canon(a, &x), canon(b, &y));
		/* Everything but the line number is equal, padding included,
		 * since the parser starts from a zeroed struct. */
		x.lineno = y.lineno = 0;
		assert_memory_equal(&x, &y, sizeof x);
	}
}

static void test_round_trip(void **state)
{
	struct lm_license_file f, g, h;
	parse_ok(full_file, &f);
	/* Give two lines a signature, to see SIGN printed and read back. */
	for (int i = 0; i < LM_SIG_LEN; i++) {
		f.lines[0].sig[i] = (uint8_t)(i * 13 + 7);
		f.lines[3].sig[i] = (uint8_t)(255 - i);
	}
	f.lines[0].has_sig = f.lines[3].has_sig = true;

	char *text = print_str(&f);
	struct lm_parse_error err;
	int rc = lm_license_parse(text, strlen(text), &g, &err);
	if (rc)
		fail_msg("reparse failed at line %d: %s\n%s", err.lineno, err.message, text);
	assert_files_equal(&f, &g);
	assert_int_equal(g.lines[0].lineno, f.lines[0].lineno);

	/* Printing is stable: the printed file prints the same again. */
	char *again = print_str(&g);
	assert_string_equal(text, again);
	assert_int_equal(lm_license_parse(again, strlen(again), &h, &err), 0);
	assert_files_equal(&g, &h);
	free(text);
	free(again);
	lm_license_free(&f);
	lm_license_free(&g);
	lm_license_free(&h);
}

static void test_printed_form(void **state)
{
	struct lm_license_file f;
	parse_ok("# head \n"
	         "server   h.example  @S1@   27000\n"
	         "vendor acme\n"
	         "\n"
	         "  # note\n"
	         "increment  b  acme  2.5  1-JAN-2030  uncounted  tolerance=1 hostid=@H1@  "
	         "sn=\"S 1\"\n"
	         "FEATURE a acme 1.0 permanent 4 NOTICE=\"a long notice that will not fit on the "
	         "first line\" ISSUED=2-feb-2025 AUTH=@AUTH@ HOST_DESC=\"x\\\"\n",
	         &f);
	char *text = print_str(&f);
	char *want = expand("# head\n"
	                    "SERVER h.example @S1@ 27000\n"
	                    "VENDOR acme\n"
	                    "\n"
	                    "  # note\n"
	                    "INCREMENT b acme 2.5 2030-01-01 uncounted HOSTID=@H1@ \\\n"
	                    "\tSN=\"S 1\" TOLERANCE=1\n"
	                    "FEATURE a acme 1.0 permanent 4 AUTH=@AUTH@ ISSUED=2025-02-02 \\\n"
	                    "\tNOTICE=\"a long notice that will not fit on the first line\" \\\n"
	                    "\tHOST_DESC=\"x\\\"\n");
	assert_string_equal(text, want);
	free(text);
	free(want);
	lm_license_free(&f);
}

/* ---- The canonical form ------------------------------------------------ */

static void test_canonical_exact(void **state)
{
	struct lm_license_file f;
	parse_ok(full_file, &f);
	/* Server codes sorted as text. */
	const char *codes[3] = {S1, S2, S3};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (strcmp(codes[i], codes[j]) > 0) {
				const char *t = codes[i];
				codes[i] = codes[j];
				codes[j] = t;
			}
	char want[2048];
	snprintf(want, sizeof want,
	         "FEATURE statistics acme 29.0 2027-12-31 25 AUTH=\"%s\" START=\"2025-01-01\" "
	         "ISSUED=\"2024-12-15\" NOTICE=\"Acme Corp, Lab 4\" NAMED_USERS=\"20\" "
	         "BORROW=\"72\" HOST_DESC=\"build farm\" SN=\"SN-0042\" TOLERANCE=\"2\" "
	         "SERVER_CODES=\"%s %s %s\"",
	         AUTH1, codes[0], codes[1], codes[2]);
	assert_string_equal(canon(&f, &f.lines[0]), want);

	snprintf(want, sizeof want,
	         "INCREMENT statistics acme 30.0 permanent uncounted HOSTID=\"%s\" TOLERANCE=\"0\"",
	         H1);
	assert_string_equal(canon(&f, &f.lines[1]), want);
	snprintf(want, sizeof want,
	         "FEATURE plotting acme 1.2.3 2026-06-30 3 NOTICE=\"lower-case-keyword\" "
	         "SERVER_CODES=\"%s %s %s\"",
	         codes[0], codes[1], codes[2]);
	assert_string_equal(canon(&f, &f.lines[2]), want);
	assert_string_equal(canon(&f, &f.lines[3]),
	                    "PACKAGE suite acme 2.0 COMPONENTS=\"statistics plotting graphs\" "
	                    "OPTIONS=\"SUITE\"");

	/* The signature is not part of it. */
	char before[LM_LINE_MAX + 1];
	strcpy(before, canon(&f, &f.lines[0]));
	f.lines[0].has_sig = true;
	memset(f.lines[0].sig, 0xAB, LM_SIG_LEN);
	assert_string_equal(canon(&f, &f.lines[0]), before);

	/* Too small a buffer is refused, never overrun. */
	char small[16];
	assert_int_equal(lm_license_canonical(&f, &f.lines[0], small, sizeof small), LMC_ETOOLARGE);
	lm_license_free(&f);
}

/* The same licenses written differently: other whitespace, comments, line
 * and keyword order, keyword case, date spellings, code spellings, SERVER
 * line order, host names and ports. */
static void test_canonical_stable(void **state)
{
	struct lm_license_file a, b;
	parse_ok("SERVER one @S1@ 27000\n"
	         "SERVER two @S2@ 27000\n"
	         "SERVER three @S3@ 27000\n"
	         "FEATURE f acme 1.0 2027-12-31 10 NOTICE=\"x y\" START=2025-01-01\n"
	         "FEATURE g acme 2 permanent uncounted HOSTID=@H1@\n"
	         "PACKAGE p acme 1 COMPONENTS=\"f g\"\n",
	         &a);
	parse_ok("# reordered and respelled\n"
	         "package   p acme 1   components=\"  f    g \"\n"
	         "\n"
	         "SERVER three-renamed @S3@ 27003\n"
	         "feature g acme 2 PERMANENT UNCOUNTED hostid=@H1@\n"
	         "SERVER one @S1@ 1234\n"
	         "\tFEATURE\tf\tacme\t1.0\t31-Dec-2027\t10\t\\\n"
	         "    start=1-jan-2025   \\\n"
	         "    notice=\"x y\"\n"
	         "SERVER two @S2@ 27000\n"
	         "# end\n",
	         &b);
	const char *names[] = {"f", "g", "p"};
	for (int i = 0; i < 3; i++)
		assert_string_equal(canon(&a, find(&a, names[i])), canon(&b, find(&b, names[i])));
	lm_license_free(&a);
	lm_license_free(&b);
}

static void test_canonical_changes_with_fields(void **state)
{
	struct lm_license_file a, b;
	parse_ok("SERVER h @S1@ 27000\nFEATURE f acme 1.0 2027-12-31 10\n", &a);
	const char *variants[] = {
	        "SERVER h @S2@ 27000\nFEATURE f acme 1.0 2027-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE g acme 1.0 2027-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE f acmf 1.0 2027-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE f acme 1.1 2027-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE f acme 1.0 2028-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE f acme 1.0 2027-12-31 11\n",
	        "SERVER h @S1@ 27000\nINCREMENT f acme 1.0 2027-12-31 10\n",
	        "SERVER h @S1@ 27000\nFEATURE f acme 1.0 2027-12-31 10 BORROW=1\n",
	};
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		parse_ok(variants[i], &b);
		if (strcmp(canon(&a, &a.lines[0]), canon(&b, &b.lines[0])) == 0)
			fail_msg("variant %zu has the same canonical form", i);
		lm_license_free(&b);
	}
	lm_license_free(&a);
}

static void test_parse_canonical(void **state)
{
	struct lm_license_file f;
	parse_ok(full_file, &f);
	for (size_t i = 0; i < f.nlines; i++) {
		const char *c = canon(&f, &f.lines[i]);
		struct lm_license l;
		struct lm_lockcode codes[3];
		int n = -1;
		struct lm_parse_error err;
		int rc = lm_license_parse_canonical(c, &l, codes, &n, &err);
		if (rc)
			fail_msg("line %zu: %s\n%s", i, err.message, c);
		/* Same fields, same canonical form. */
		struct lm_license want = f.lines[i];
		want.lineno = l.lineno;
		assert_memory_equal(&l, &want, sizeof l);
		struct lm_license_file g;
		memset(&g, 0, sizeof g);
		g.nservers = n;
		for (int k = 0; k < n; k++)
			g.servers[k].code = codes[k];
		assert_string_equal(canon(&g, &l), c);
		if (f.lines[i].type == LM_LINE_PACKAGE || f.lines[i].uncounted) {
			assert_int_equal(n, 0);
		} else {
			assert_int_equal(n, 3);
			char t[LM_LOCKCODE_TEXT_MAX];
			int seen = 0;
			for (int k = 0; k < 3; k++) {
				assert_int_equal(lm_lockcode_format(&codes[k], t, sizeof t), 0);
				seen |= (!strcmp(t, S1)) | (!strcmp(t, S2)) << 1 |
				        (!strcmp(t, S3)) << 2;
			}
			assert_int_equal(seen, 7);
		}
	}
	lm_license_free(&f);
}

static void test_parse_canonical_refuses(void **state)
{
	const struct {
		const char *text;
		int code;
		const char *msg;
	} cases[] = {
	        /* Not the canonical spelling of a valid line. */
	        {"FEATURE f acme 1.0 permanent 5  SERVER_CODES=\"@S1@\"", LMC_ESYNTAX, "canonical"},
	        {"feature f acme 1.0 permanent 5 SERVER_CODES=\"@S1@\"", LMC_ESYNTAX, "canonical"},
	        {"FEATURE f acme 1.0 31-dec-2027 5 SERVER_CODES=\"@S1@\"", LMC_ESYNTAX,
	         "canonical"},
	        {"FEATURE f acme 1.0 permanent 5 SERVER_CODES=@S1@", LMC_ESYNTAX, "canonical"},
	        {"FEATURE f acme 1.0 permanent 5 START=\"2025-01-01\" AUTH=\"@AUTH@\" "
	         "SERVER_CODES=\"@S1@\"",
	         LMC_ESYNTAX, "canonical"},
	        {"FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"@S2@ @S1@ @S3@\"", 0, NULL},
	        /* Missing or misplaced server codes. */
	        {"FEATURE f acme 1.0 permanent 5", LMC_ESYNTAX, "SERVER_CODES"},
	        {"FEATURE f acme 1.0 permanent uncounted HOSTID=\"@H1@\" SERVER_CODES=\"@S1@\"",
	         LMC_ESYNTAX, "SERVER_CODES"},
	        {"FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"@S1@ @S2@\"", LMC_ESYNTAX,
	         "1 or 3"},
	        {"FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"@S1@ @S2@ @S3@ @S1@\"", LMC_ESYNTAX,
	         "more than 3"},
	        /* The signature travels beside the canonical form. */
	        {"FEATURE f acme 1.0 permanent 5 SIGN=\"X\" SERVER_CODES=\"@S1@\"", LMC_ESYNTAX,
	         "SIGN"},
	        {"SERVER h @S1@ 27000", LMC_ESYNTAX, "FEATURE"},
	        {"", LMC_ESYNTAX, "FEATURE"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = expand(cases[i].text);
		/* The sorted form is the only one accepted. */
		if (cases[i].code == 0) {
			const char *c[3] = {S1, S2, S3};
			for (int x = 0; x < 3; x++)
				for (int y = x + 1; y < 3; y++)
					if (strcmp(c[x], c[y]) > 0) {
						const char *t = c[x];
						c[x] = c[y];
						c[y] = t;
					}
			char sorted[512];
			snprintf(sorted, sizeof sorted,
			         "FEATURE f acme 1.0 permanent 5 SERVER_CODES=\"%s %s %s\"", c[0],
			         c[1], c[2]);
			int unsorted = strcmp(sorted, text) != 0;
			struct lm_license l;
			struct lm_lockcode codes[3];
			int n;
			assert_int_equal(lm_license_parse_canonical(sorted, &l, codes, &n, NULL),
			                 0);
			assert_int_equal(n, 3);
			assert_int_equal(lm_license_parse_canonical(text, &l, codes, &n, NULL),
			                 unsorted ? LMC_ESYNTAX : 0);
			free(text);
			continue;
		}
		struct lm_license l;
		struct lm_lockcode codes[3];
		int n = 7;
		struct lm_parse_error err;
		int rc = lm_license_parse_canonical(text, &l, codes, &n, &err);
		if (rc != cases[i].code || !strstr(err.message, cases[i].msg))
			fail_msg("case %zu: got %s '%s'", i, lmc_errname(rc), err.message);
		assert_int_equal(n, 0);
		assert_int_equal(err.lineno, 1);
		free(text);
	}
}

/* ---- Refused files ----------------------------------------------------- */

struct bad {
	const char *text;
	int code;
	int lineno;
	const char *msg; /* a substring of the message */
};

static const struct bad bad_files[] = {
        /* Unknown and duplicate keywords. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 FOO=bar\n", LMC_ESYNTAX, 2,
         "unknown keyword 'FOO'"},
        {"SERVER h @S1@ 27000\n\nFEATURE f acme 1.0 permanent 5 NOTICE=a NOTICE=b\n", LMC_ESYNTAX,
         3, "NOTICE is given twice"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=a notice=b\n", LMC_ESYNTAX, 2,
         "twice"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 SERVER_CODES=\"@S1@\"\n", LMC_ESYNTAX,
         2, "SERVER_CODES"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 COMPONENTS=x\n", LMC_ESYNTAX, 2,
         "misplaced keyword 'COMPONENTS'"},
        {"PACKAGE p acme 1.0 COMPONENTS=x HOSTID=@H1@\n", LMC_ESYNTAX, 1, "PACKAGE lines take"},
        /* Dates. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 2027-02-30 5\n", LMC_ESYNTAX, 2,
         "expiry date '2027-02-30'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 START=31-feb-2025\n", LMC_ESYNTAX, 2,
         "START='31-feb-2025' is not a date"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 ISSUED=permanent\n", LMC_ESYNTAX, 2,
         "ISSUED"},
        /* Counts. */
        /* 0 is FlexLM's uncounted, which needs a HOSTID. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 0\n", LMC_ESYNTAX, 2, "no HOSTID"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent -3\n", LMC_ESYNTAX, 2, "count '-3'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 1000001\n", LMC_ESYNTAX, 2,
         "count '1000001'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent many\n", LMC_ESYNTAX, 2, "count"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 99999999999999999999\n", LMC_ESYNTAX, 2,
         "count"},
        {"FEATURE f acme 1.0 permanent 5\n", LMC_ESYNTAX, 1, "no SERVER line"},
        {"FEATURE f acme 1.0 permanent uncounted\n", LMC_ESYNTAX, 1, "no HOSTID"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NAMED_USERS=0\n", LMC_ESYNTAX, 2,
         "NAMED_USERS"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 BORROW=10000\n", LMC_ESYNTAX, 2,
         "BORROW"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 TOLERANCE=6\n", LMC_ESYNTAX, 2,
         "TOLERANCE"},
        /* SERVER lines. */
        {"SERVER a @S1@ 27000\nSERVER b @S2@ 27000\nFEATURE f acme 1.0 permanent 5\n", LMC_ESYNTAX,
         2, "2 SERVER lines"},
        {"SERVER a @S1@ 1\nSERVER b @S2@ 2\nSERVER c @S3@ 3\nSERVER d @S1@ 4\n", LMC_ESYNTAX, 4,
         "fourth SERVER"},
        {"SERVER a @S1@ 1\nSERVER A @S2@ 1\nSERVER c @S3@ 3\n", LMC_ESYNTAX, 2, "already named"},
        {"SERVER a\n", LMC_ESYNTAX, 1, "SERVER <host> <lock code> [<port>]"},
        {"SERVER a @S1@ 0\n", LMC_ESYNTAX, 1, "port"},
        {"SERVER a @S1@ 65536\n", LMC_ESYNTAX, 1, "port"},
        {"SERVER a/b @S1@ 27000\n", LMC_ESYNTAX, 1, "host"},
        {"SERVER a @S1@X 27000\n", LMC_EBADCODE, 1, "lock code"},
        {"SERVER a @S1@ PORT=27000\n", LMC_ESYNTAX, 1, "no keywords"},
        /* VENDOR lines. */
        {"VENDOR acme\nVENDOR acme\n", LMC_ESYNTAX, 2, "second VENDOR"},
        {"VENDOR acme /opt/acme/bin/acme acme.opt 27001 more\n", LMC_ESYNTAX, 1, "too many fields"},
        {"VENDOR acme PORT=x\n", LMC_ESYNTAX, 1, "port 'x'"},
        {"VENDOR acme PORT=70000\n", LMC_ESYNTAX, 1, "port '70000'"},
        {"VENDOR acme FOO=1\n", LMC_ESYNTAX, 1, "does not take FOO="},
        {"VENDOR NAME=acme\n", LMC_ESYNTAX, 1, "VENDOR <vendor name>"},
        {"VENDOR acme\nSERVER h @S1@ 27000\n\nFEATURE f other 1.0 permanent 5\n", LMC_ESYNTAX, 4,
         "names vendor 'other'"},
        /* Missing fields. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0\n", LMC_ESYNTAX, 2, "needs 5 fields"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent NOTICE=x\n", LMC_ESYNTAX, 2,
         "needs 5 fields"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 extra\n", LMC_ESYNTAX, 2,
         "unexpected 'extra'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=x HOSTID\n", LMC_ESYNTAX, 2,
         "unexpected 'HOSTID' among the keywords"},
        {"PACKAGE p acme\n", LMC_ESYNTAX, 1, "needs 3 fields"},
        {"PACKAGE p acme 1.0\n", LMC_ESYNTAX, 1, "no COMPONENTS"},
        {"PACKAGE p acme 1.0 COMPONENTS=\"a a\"\n", LMC_ESYNTAX, 1, "twice"},
        {"PACKAGE p acme 1.0 COMPONENTS=\"a b!\"\n", LMC_ESYNTAX, 1, "'b!'"},
        {"PACKAGE p acme 1.0 COMPONENTS=a OPTIONS=BUNDLE\n", LMC_ESYNTAX, 1, "SUITE"},
        /* Names and versions. */
        {"SERVER h @S1@ 27000\nFEATURE f@x acme 1.0 permanent 5\n", LMC_ESYNTAX, 2, "name 'f@x'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.2.3.4.5 permanent 5\n", LMC_ESYNTAX, 2, "version"},
        {"SERVER h @S1@ 27000\nFEATURE f acme v1 permanent 5\n", LMC_ESYNTAX, 2, "version"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1..2 permanent 5\n", LMC_ESYNTAX, 2, "version"},
        {"SERVER h @S1@ 27000\nFEATURE "
         "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345 acme 1 permanent 5\n",
         LMC_ESYNTAX, 2, "name"},
        /* Codes with typos. */
        {"FEATURE f acme 1.0 permanent uncounted HOSTID=@H1@7\n", LMC_EBADCODE, 1, "HOSTID"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 AUTH=@AUTH@Z\n", LMC_EBADCODE, 2,
         "AUTH"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 SIGN=ABCDEFGH\n", LMC_EBADCODE, 2,
         "SIGN"},
        /* Quotes and values. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=\"open\n", LMC_ESYNTAX, 2,
         "never closed"},
        /* An escaped quote followed by a blank closes the value. */
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=\"a\\\" b\"\n", LMC_ESYNTAX, 2,
         "unexpected quote"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=\"a\"b\n", LMC_ESYNTAX, 2,
         "after the closing quote"},
        {"SERVER h @S1@ 27000\nFEATURE \"f\" acme 1.0 permanent 5\n", LMC_ESYNTAX, 2,
         "unexpected quote"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=\n", LMC_ESYNTAX, 2,
         "no value"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 NOTICE=\"\"\n", LMC_ESYNTAX, 2,
         "empty"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 =x\n", LMC_ESYNTAX, 2,
         "without a keyword"},
        /* Unknown lines. */
        {"# ok\nDEAMON acme\n", LMC_ESYNTAX, 2, "unknown line type 'DEAMON'"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5 # trailing comment\n", LMC_ESYNTAX, 2,
         "unexpected '#'"},
        /* Errors inside a continued line are reported at its first line. */
        {"SERVER h @S1@ 27000\n#\nFEATURE f acme 1.0 \\\n permanent 5 \\\n FOO=1\n", LMC_ESYNTAX, 3,
         "FOO"},
        /* Binary data. */
        {"SERVER h @S1@ 27000\n\x01\x02\x03\n", LMC_ESYNTAX, 2, "control character 0x01"},
        {"# caf\xc3\n", LMC_ESYNTAX, 1, "not UTF-8"},
        {"# \xc0\xaf overlong\n", LMC_ESYNTAX, 1, "not UTF-8"},
        {"# \xed\xa0\x80 surrogate\n", LMC_ESYNTAX, 1, "not UTF-8"},
        {"# \xc2\x85 C1 control\n", LMC_ESYNTAX, 1, "U+0085"},
        {"SERVER h @S1@ 27000\nFEATURE f acme 1.0 permanent 5\x7f\n", LMC_ESYNTAX, 2, "0x7f"},
};

static void check_bad(const struct bad *b, const char *text, size_t len)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	memset(&f, 0x5a, sizeof f);
	int rc = lm_license_parse(text, len, &f, &err);
	if (rc != b->code || err.lineno != b->lineno || !strstr(err.message, b->msg))
		fail_msg("%s\n-> %s at line %d: '%s'\nexpected %s at line %d with '%s'", text,
		         lmc_errname(rc), err.lineno, err.message, lmc_errname(b->code), b->lineno,
		         b->msg);
	/* Nothing is returned on error, and nothing needs freeing. */
	assert_int_equal(f.nlines, 0);
	assert_int_equal(f.nservers, 0);
	assert_int_equal(f.nitems, 0);
	assert_null(f.lines);
	assert_null(f.items);
	assert_string_equal(f.vendor, "");
	lm_license_free(&f);
}

static void test_refused(void **state)
{
	for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		char *text = expand(bad_files[i].text);
		check_bad(&bad_files[i], text, strlen(text));
		free(text);
	}
}

static void test_nul_bytes(void **state)
{
	static const char text[] = "VENDOR acme\n# fine\nFEATURE f\0acme 1.0 permanent 5\n";
	struct bad b = {NULL, LMC_ESYNTAX, 3, "NUL byte at column 10"};
	check_bad(&b, text, sizeof text - 1);
	/* A NUL at the very end is still seen: the length, not the NUL,
	 * ends the text. */
	static const char tail[] = "# fine\n\0";
	struct bad t = {NULL, LMC_ESYNTAX, 2, "NUL byte"};
	check_bad(&t, tail, sizeof tail - 1);
}

static void test_huge_line(void **state)
{
	size_t n = 1 << 20;
	char *text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "# ok\nFEATURE ");
	size_t o = strlen(text);
	memset(text + o, 'a', n);
	o += n;
	strcpy(text + o, " acme 1 permanent 1\n");
	struct bad b = {NULL, LMC_ETOOLARGE, 2, "longer than 4096"};
	check_bad(&b, text, strlen(text));

	/* Many short continuation lines add up to the same limit, reported
	 * at the logical line's first line. */
	o = 0;
	strcpy(text, "# ok\n# ok\nFEATURE f acme 1 permanent 1 \\\n");
	o = strlen(text);
	for (int i = 0; i < 3000; i++) {
		memcpy(text + o, "ab\\\n", 4);
		o += 4;
	}
	text[o] = '\0';
	struct bad c = {NULL, LMC_ETOOLARGE, 3, "longer than 4096"};
	check_bad(&c, text, o);

	/* A line of exactly LM_LINE_MAX bytes is fine (all blanks here). */
	memset(text, ' ', LM_LINE_MAX);
	struct lm_license_file f;
	assert_int_equal(lm_license_parse(text, LM_LINE_MAX, &f, NULL), 0);
	lm_license_free(&f);
	free(text);
}

static void test_too_many_lines(void **state)
{
	size_t n = LM_LICENSE_LINES_MAX + 1;
	char *text = malloc(n * 2 + 1);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 2 * i, "#\n", 2);
	struct bad b = {NULL, LMC_ETOOLARGE, LM_LICENSE_LINES_MAX + 1, "more than 4096 lines"};
	check_bad(&b, text, n * 2);
	struct lm_license_file f;
	assert_int_equal(lm_license_parse(text, (n - 1) * 2, &f, NULL), 0);
	assert_int_equal(f.nitems, LM_LICENSE_LINES_MAX);
	lm_license_free(&f);
	free(text);
}

static void test_text_too_long(void **state)
{
	char notice[LM_TEXT_MAX + 1];
	memset(notice, 'n', sizeof notice - 1);
	notice[sizeof notice - 1] = '\0';
	char *text;
	assert_true(asprintf(&text, "SERVER h %s 27000\nFEATURE f acme 1 permanent 1 NOTICE=%s\n",
	                     S1, notice) > 0);
	struct bad b = {NULL, LMC_ETOOLARGE, 2, "NOTICE is 256 bytes long"};
	check_bad(&b, text, strlen(text));
	free(text);

	/* 255 bytes fit. */
	notice[LM_TEXT_MAX - 1] = '\0';
	assert_true(asprintf(&text, "SERVER h %s 27000\nFEATURE f acme 1 permanent 1 NOTICE=%s\n",
	                     S1, notice) > 0);
	struct lm_license_file f;
	assert_int_equal(lm_license_parse(text, strlen(text), &f, NULL), 0);
	assert_int_equal(strlen(f.lines[0].notice), LM_TEXT_MAX - 1);
	lm_license_free(&f);
	free(text);
}

/* Random bytes, and valid files with bytes flipped: always an answer, never
 * a crash (the sanitizers watch), and a line number inside the text. */
static void test_garbage(void **state)
{
	unsigned seed = 12345;
	char buf[2048];
	char *valid = expand(full_file);
	size_t vlen = strlen(valid);
	for (int round = 0; round < 2000; round++) {
		size_t len;
		if (round % 2) {
			len = (size_t)(rand_r(&seed) % (int)sizeof buf);
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)rand_r(&seed);
		} else {
			len = vlen;
			memcpy(buf, valid, vlen);
			for (int k = 0; k < 3; k++)
				buf[rand_r(&seed) % (int)vlen] = (char)rand_r(&seed);
		}
		struct lm_license_file f;
		struct lm_parse_error err;
		int rc = lm_license_parse(buf, len, &f, &err);
		if (rc == 0) {
			lm_license_free(&f);
			continue;
		}
		int lines = 1;
		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		assert_true(err.lineno >= 1 && err.lineno <= lines);
		assert_true(strlen(err.message) > 10);
		assert_null(f.lines);
	}
	free(valid);
}

static void test_signature_text(void **state)
{
	struct lm_license_file f;
	parse_ok("SERVER h @S1@ 27000\nFEATURE f acme 1 permanent 1\n", &f);
	for (int i = 0; i < LM_SIG_LEN; i++)
		f.lines[0].sig[i] = (uint8_t)(i * 37);
	f.lines[0].has_sig = true;
	char *text = print_str(&f);
	char *sign = strstr(text, "SIGN=");
	assert_non_null(sign);
	/* 106 symbols in groups of 8, the last line of the entry. */
	assert_int_equal(strlen(sign), strlen("SIGN=") + 106 + 13 + 1);
	assert_int_equal(sign[5 + 8], '-');

	struct lm_license_file g;
	struct lm_parse_error err;
	assert_int_equal(lm_license_parse(text, strlen(text), &g, &err), 0);
	assert_true(g.lines[0].has_sig);
	assert_memory_equal(g.lines[0].sig, f.lines[0].sig, LM_SIG_LEN);
	lm_license_free(&g);

	/* A mistyped symbol, either half: the check symbols catch it. */
	for (int pos = 0; pos < 2; pos++) {
		char *copy = strdup(text);
		char *c = strstr(copy, "SIGN=") + 5 + (pos ? 100 : 3);
		*c = *c == '7' ? '8' : '7';
		assert_int_equal(lm_license_parse(copy, strlen(copy), &g, &err), LMC_EBADCODE);
		assert_int_equal(err.lineno, 2);
		assert_non_null(strstr(err.message, pos ? "second half" : "first half"));
		free(copy);
	}
	/* Lower case and no hyphens read the same. */
	char squeezed[256];
	size_t o = 0;
	for (const char *p = sign + 5; *p && *p != '\n'; p++)
		if (*p != '-')
			squeezed[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	squeezed[o] = '\0';
	char *copy;
	assert_true(asprintf(&copy, "SERVER h %s 27000\nFEATURE f acme 1 permanent 1 SIGN=%s\n", S1,
	                     squeezed) > 0);
	assert_int_equal(lm_license_parse(copy, strlen(copy), &g, &err), 0);
	assert_memory_equal(g.lines[0].sig, f.lines[0].sig, LM_SIG_LEN);
	lm_license_free(&g);
	free(copy);
	free(text);
	lm_license_free(&f);
}

static void test_load(void **state)
{
	char path[] = "/tmp/lmd-test-license-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char *text = expand(full_file);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(lm_license_load(path, &f, &err), 0);
	assert_int_equal(f.nlines, 4);
	lm_license_free(&f);
	unlink(path);
	free(text);

	assert_int_equal(lm_license_load(path, &f, &err), LMC_EIO);
	assert_int_equal(err.lineno, 0);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, "No such file"));
}

/* A FIFO would block the reader until someone writes to it, a directory
 * never reads: both are refused from what open() returned, at once. */
static void test_load_not_regular(void **state)
{
	char dir[] = "/tmp/lmd-test-license-XXXXXX", fifo[64], real[64], link[64];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo.lic", dir);
	snprintf(real, sizeof real, "%s/real.lic", dir);
	snprintf(link, sizeof link, "%s/link.lic", dir);
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(lm_license_load(dir, &f, &err), LMC_EIO);
	assert_non_null(strstr(err.message, "is a directory, not a regular file"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(lm_license_load(fifo, &f, &err), LMC_EIO);
	assert_non_null(strstr(err.message, "is a FIFO, not a regular file"));

	/* A link to a license file is followed: administrators link them. */
	FILE *out = fopen(real, "w");
	assert_non_null(out);
	char *text = expand(full_file);
	fputs(text, out);
	fclose(out);
	free(text);
	assert_int_equal(symlink(real, link), 0);
	assert_int_equal(lm_license_load(link, &f, &err), 0);
	assert_int_equal(f.nlines, 4);
	lm_license_free(&f);
	unlink(link);
	unlink(real);
	unlink(fifo);
	rmdir(dir);
}

/* ---- Versions and names ------------------------------------------------ */

static void test_versions(void **state)
{
	assert_true(lm_version_valid("29"));
	assert_true(lm_version_valid("29.0"));
	assert_true(lm_version_valid("1.2.3.4"));
	assert_true(lm_version_valid("123456789.0"));
	assert_false(lm_version_valid(""));
	assert_false(lm_version_valid("1.2.3.4.5"));
	assert_false(lm_version_valid("1234567890"));
	assert_false(lm_version_valid("1."));
	assert_false(lm_version_valid(".1"));
	assert_false(lm_version_valid("1..2"));
	assert_false(lm_version_valid("v1"));
	assert_false(lm_version_valid("1.0-beta"));
	assert_true(lm_version_valid("123456789.123456"));
	assert_false(lm_version_valid("123456789.1234567"));

	assert_int_equal(lm_version_compare("29", "29.0"), 0);
	assert_int_equal(lm_version_compare("29.0.0.0", "29"), 0);
	assert_true(lm_version_compare("29.0", "29.1") < 0);
	assert_true(lm_version_compare("30", "29.9") > 0);
	assert_true(lm_version_compare("29.10", "29.9") > 0); /* numeric, not text */
	assert_true(lm_version_compare("1.2.3", "1.2.3.1") < 0);
	assert_true(lm_version_compare("999999999", "1.0") > 0);
	assert_int_equal(lm_version_compare("007", "7"), 0);
	/* Not versions: an answer, without looping. */
	(void)lm_version_compare("abc", "1..x");
}

static void test_line_type_names(void **state)
{
	assert_string_equal(lm_line_type_name(LM_LINE_FEATURE), "FEATURE");
	assert_string_equal(lm_line_type_name(LM_LINE_INCREMENT), "INCREMENT");
	assert_string_equal(lm_line_type_name(LM_LINE_PACKAGE), "PACKAGE");
	assert_string_equal(lm_line_type_name((enum lm_line_type)42), "?");
}

/* lm_license_parse_skipping leaves out the license lines it cannot read,
 * with their line numbers and reasons, and keeps every other line (and the
 * printer's order); what breaks the whole file is still refused. */
static void test_skipping(void **state)
{
	(void)state;
	static const char tpl[] = "SERVER h1 @S1@ 27000\n"                   /* 1 */
	                          "VENDOR acme\n"                            /* 2 */
	                          "FEATURE a acme 1.0 permanent 2\n"         /* 3 */
	                          "FEATURE b acme 1.0 31-foo-2030 2\n"       /* 4: bad date */
	                          "# a comment\n"                            /* 5 */
	                          "FEATURE c other 1.0 permanent 1\n"        /* 6: vendor */
	                          "INCREMENT d acme x.y permanent 1\n"       /* 7: version */
	                          "FEATURE e acme 1.0 permanent 3 \\\n"      /* 8 */
	                          "  NOTICE=\"fine\"\n"                      /* 9 */
	                          "FEATURE f acme 1.0 permanent 1 WHAT=1\n"; /* 10 */
	struct lm_license_file f;
	struct lm_parse_error err;
	char *text = expand(tpl);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_ESYNTAX);
	assert_int_equal(err.lineno, 4);
	assert_int_equal(lm_license_parse_skipping(text, strlen(text), &f, &err), 0);
	assert_int_equal(f.nlines, 2);
	assert_string_equal(f.lines[0].name, "a");
	assert_string_equal(f.lines[1].name, "e");
	assert_int_equal(f.nskipped, 4);
	static const struct {
		int lineno;
		const char *type, *name, *says;
	} want[] = {{4, "FEATURE", "b", "date"},
	            {6, "FEATURE", "c", "vendor 'other'"},
	            {7, "INCREMENT", "d", "version"},
	            {10, "FEATURE", "f", "WHAT"}};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(f.skipped[i].lineno, want[i].lineno);
		assert_string_equal(f.skipped[i].type, want[i].type);
		assert_string_equal(f.skipped[i].name, want[i].name);
		assert_int_equal(f.skipped[i].code, LMC_ESYNTAX);
		if (!strstr(f.skipped[i].message, want[i].says))
			fail_msg("line %d: '%s' does not say %s", want[i].lineno,
			         f.skipped[i].message, want[i].says);
	}
	/* The printer writes what is kept, comments in place. */
	char *printed = print_str(&f);
	assert_non_null(strstr(printed, "FEATURE a acme"));
	assert_non_null(strstr(printed, "# a comment\nFEATURE e acme"));
	assert_null(strstr(printed, "FEATURE b"));
	free(printed);

	/* A caller leaves out a line it checked (a signature): in file order
	 * among the others, the items following it still printed. */
	assert_int_equal(lm_license_skip(&f, 0, LMC_EBADSIG, "signature does not verify"), 0);
	assert_int_equal(f.nlines, 1);
	assert_string_equal(f.lines[0].name, "e");
	assert_int_equal(f.nskipped, 5);
	assert_int_equal(f.skipped[0].lineno, 3);
	assert_string_equal(f.skipped[0].type, "FEATURE");
	assert_string_equal(f.skipped[0].name, "a");
	assert_int_equal(f.skipped[0].code, LMC_EBADSIG);
	assert_int_equal(f.skipped[1].lineno, 4);
	printed = print_str(&f);
	assert_null(strstr(printed, "FEATURE a acme"));
	assert_non_null(strstr(printed, "FEATURE e acme"));
	free(printed);
	assert_int_equal(lm_license_skip(&f, 5, LMC_EBADSIG, "x"), LMC_EINVAL);
	lm_license_free(&f);
	free(text);

	/* What breaks the file is refused as before. */
	static const char *const whole[] = {
	        "SERVER h1 @S1@ 27000\nSERVER h2 @S2@ 27000\nFEATURE a acme 1.0 permanent 2\n",
	        "VENDOR\nFEATURE a acme 1.0 permanent 2\n",
	        "FEATUER a acme 1.0 permanent 2\n",
	};
	for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
		text = expand(whole[i]);
		assert_int_not_equal(lm_license_parse_skipping(text, strlen(text), &f, &err), 0);
		assert_null(f.lines);
		assert_null(f.skipped);
		free(text);
	}
	/* A counted line with no SERVER line is a line's fault. */
	text = expand("FEATURE a acme 1.0 permanent 2\nFEATURE b acme 1.0 permanent uncounted "
	              "HOSTID=ANY\n");
	assert_int_equal(lm_license_parse_skipping(text, strlen(text), &f, &err), 0);
	assert_int_equal(f.nlines, 1);
	assert_string_equal(f.lines[0].name, "b");
	assert_int_equal(f.nskipped, 1);
	assert_non_null(strstr(f.skipped[0].message, "no SERVER line"));
	lm_license_free(&f);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full_file),
	        cmocka_unit_test(test_empty_files),
	        cmocka_unit_test(test_continuations),
	        cmocka_unit_test(test_byte_order_mark_and_utf8),
	        cmocka_unit_test(test_single_server_and_no_vendor_line),
	        cmocka_unit_test(test_vendor_fields),
	        cmocka_unit_test(test_codes_are_normalised),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_printed_form),
	        cmocka_unit_test(test_canonical_exact),
	        cmocka_unit_test(test_canonical_stable),
	        cmocka_unit_test(test_canonical_changes_with_fields),
	        cmocka_unit_test(test_parse_canonical),
	        cmocka_unit_test(test_parse_canonical_refuses),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_nul_bytes),
	        cmocka_unit_test(test_huge_line),
	        cmocka_unit_test(test_too_many_lines),
	        cmocka_unit_test(test_text_too_long),
	        cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_skipping),
	        cmocka_unit_test(test_signature_text),
	        cmocka_unit_test(test_load),
	        cmocka_unit_test(test_load_not_regular),
	        cmocka_unit_test(test_versions),
	        cmocka_unit_test(test_line_type_names),
	};
	return cmocka_run_group_tests(tests, setup, NULL) ? 1 : 0;
}
