/* The FlexLM grammar real license files use: count 0, two-digit and year-0
 * dates, positional license keys, VENDOR_STRING, ISSUER, TS_OK, vendor
 * attributes, escaped quotes, HOSTID=ANY and DEMO, USE_SERVER; the
 * keywords lmd does not implement, refused; and the canonical text of
 * lines without any of these, pinned byte for byte. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"

/* A server's and a workstation's lock codes, printed; set by setup(). */
static char SERVER_CODE[LM_LOCKCODE_TEXT_MAX], HOST_CODE[LM_LOCKCODE_TEXT_MAX];

static void code_text(unsigned present, uint32_t seed, char *buf)
{
	struct lm_lockcode c = {.present = (uint16_t)present};
	for (int i = 0; i < LM_CRIT_COUNT; i++)
		if (present & (1u << i))
			c.digest[i] = (seed * 2654435761u + (uint32_t)i * 40503u) & 0xFFFFFu;
	assert_int_equal(lm_lockcode_format(&c, buf, LM_LOCKCODE_TEXT_MAX), 0);
}

static int setup(void **state)
{
	(void)state;
	code_text(0x3f, 1, SERVER_CODE);
	code_text(0x2b, 4, HOST_CODE);
	return 0;
}

/* A file of one SERVER line, a VENDOR line and `line`. */
static int parse_with_server(const char *line, struct lm_license_file *f,
                             struct lm_parse_error *err)
{
	char text[LM_LINE_MAX];
	snprintf(text, sizeof text, "SERVER lic1 %s 27000\nVENDOR acme\n%s\n", SERVER_CODE, line);
	return lm_license_parse(text, strlen(text), f, err);
}

static void parse_ok(const char *line, struct lm_license_file *f)
{
	struct lm_parse_error err;
	int rc = parse_with_server(line, f, &err);
	if (rc != 0)
		fail_msg("refused (%d) line %d: %s\n  %s", rc, err.lineno, err.message, line);
	assert_int_equal(f->nlines, 1);
}

/* The parse fails with the sentence containing `want`, on line 3. */
static void parse_refused(const char *line, const char *want)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	int rc = parse_with_server(line, &f, &err);
	if (rc == 0)
		fail_msg("accepted: %s", line);
	if (!strstr(err.message, want))
		fail_msg("message '%s' lacks '%s'", err.message, want);
	assert_int_equal(err.lineno, 3);
}

static const char *canon(const struct lm_license_file *f, const struct lm_license *l)
{
	static char buf[LM_LINE_MAX + 1];
	assert_true(lm_license_canonical(f, l, buf, sizeof buf) > 0);
	return buf;
}

/* The canonical text reads back as the same line, unchanged. */
static void canonical_reads_back(const struct lm_license_file *f, const struct lm_license *l)
{
	struct lm_license back;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int ncodes;
	struct lm_parse_error err;
	char text[LM_LINE_MAX + 1];
	strcpy(text, canon(f, l));
	if (lm_license_parse_canonical(text, &back, codes, &ncodes, &err) != 0)
		fail_msg("canonical text does not read back: %s\n  %s", err.message, text);
	assert_string_equal(canon(f, &back), text);
}

/* ---- Signed text that must never change --------------------------------- */

/* Every license signed so far verifies only while the canonical text of its
 * line stays byte for byte what it was: lines without the new grammar are
 * pinned here as literal text. */
static void test_canonical_of_existing_lines_is_pinned(void **state)
{
	(void)state;
	struct lm_license_file f;
	char line[512], want[1024];
	parse_ok("FEATURE stats acme 29.0 31-dec-2027 25 START=2025-01-01 ISSUED=15-dec-2024 "
	         "NOTICE=\"Acme Corp, Lab 4\" SN=SN-0042 BORROW=72 NAMED_USERS=20",
	         &f);
	snprintf(want, sizeof want,
	         "FEATURE stats acme 29.0 2027-12-31 25 START=\"2025-01-01\" "
	         "ISSUED=\"2024-12-15\" NOTICE=\"Acme Corp, Lab 4\" NAMED_USERS=\"20\" "
	         "BORROW=\"72\" SN=\"SN-0042\" SERVER_CODES=\"%s\"",
	         SERVER_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	lm_license_free(&f);

	snprintf(line, sizeof line,
	         "INCREMENT plot acme 1.2 permanent uncounted HOSTID=%s HOST_DESC=\"C:\\lab\\\"",
	         HOST_CODE);
	parse_ok(line, &f);
	snprintf(want, sizeof want,
	         "INCREMENT plot acme 1.2 permanent uncounted HOSTID=\"%s\" "
	         "HOST_DESC=\"C:\\lab\\\"",
	         HOST_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);

	parse_ok("PACKAGE suite acme 2.0 COMPONENTS=\"a  b c\" OPTIONS=suite", &f);
	assert_string_equal(canon(&f, &f.lines[0]),
	                    "PACKAGE suite acme 2.0 COMPONENTS=\"a b c\" OPTIONS=\"SUITE\"");
	lm_license_free(&f);
}

/* ---- Counts and dates --------------------------------------------------- */

static void test_count_zero_is_uncounted(void **state)
{
	(void)state;
	struct lm_license_file f;
	char line[256], want[512];
	snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 0 HOSTID=%s", HOST_CODE);
	parse_ok(line, &f);
	assert_true(f.lines[0].uncounted);
	assert_int_equal(f.lines[0].count, 0);
	/* Signed as if it said uncounted: the same license either way. */
	snprintf(want, sizeof want, "FEATURE f1 acme 1.0 permanent uncounted HOSTID=\"%s\"",
	         HOST_CODE);
	assert_string_equal(canon(&f, &f.lines[0]), want);
	lm_license_free(&f);

	/* An uncounted line still needs a HOSTID. */
	parse_refused("FEATURE f1 acme 1.0 permanent 0", "no HOSTID");
	parse_refused("FEATURE f1 acme 1.0 permanent 00", "count '00' is invalid");
	parse_refused("FEATURE f1 acme 1.0 permanent -1", "count '-1' is invalid");
}

static void test_flexlm_dates_on_lines(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE f1 acme 1.0 1-jan-99 5 ISSUED=19-Apr-23", &f);
	assert_int_equal(f.lines[0].expiry, lm_date_from_ymd(1999, 1, 1));
	assert_int_equal(f.lines[0].issued, lm_date_from_ymd(2023, 4, 19));
	lm_license_free(&f);

	const char *forever[] = {"1-jan-0", "01-jan-0000", "1-jan-00", "31-dec-000"};
	for (size_t i = 0; i < sizeof forever / sizeof forever[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "INCREMENT f1 acme 1.0 %s 10", forever[i]);
		parse_ok(line, &f);
		assert_int_equal(f.lines[0].expiry, LM_DATE_PERMANENT);
		lm_license_free(&f);
	}
	/* A year 0 START or ISSUED is no date at all. */
	parse_refused("FEATURE f1 acme 1.0 permanent 5 START=1-jan-0", "START='1-jan-0'");
}

/* ---- Positional license keys -------------------------------------------- */

static void test_positional_keys_are_ignored(void **state)
{
	(void)state;
	struct lm_license_file f, plain;
	parse_ok("INCREMENT MATLAB acme 43 01-jan-0000 10 1234567890AB SN=1", &f);
	parse_ok("INCREMENT MATLAB acme 43 permanent 10 SN=1", &plain);
	/* Not signed: the same license with or without its FlexLM key. */
	assert_string_equal(canon(&f, &f.lines[0]), canon(&plain, &plain.lines[0]));
	lm_license_free(&f);
	lm_license_free(&plain);
	parse_ok("FEATURE f1 acme 1.0 permanent 3 0123456789abcdef0123", &f);
	lm_license_free(&f);
	parse_ok("PACKAGE suite acme 1.0 ABCDEF123456 COMPONENTS=\"f1 f2:2.0\"", &f);
	assert_string_equal(f.lines[0].components, "f1 f2:2.0");
	assert_string_equal(canon(&f, &f.lines[0]),
	                    "PACKAGE suite acme 1.0 COMPONENTS=\"f1 f2:2.0\"");
	lm_license_free(&f);
	parse_ok("INCREMENT MATLAB acme 18 01-sep-2015 1 4C9D3348561BE9E3B SN=12345", &f);
	lm_license_free(&f);
	/* Only 12 to 20 hex digits are a key. */
	parse_refused("FEATURE f1 acme 1.0 permanent 3 1234567890A", "unexpected '1234567890A'");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 1234567890AG", "unexpected");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 1234567890ABCDEF12345", "unexpected");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 1234567890AB 1234567890AB", "unexpected");
	parse_refused("PACKAGE s acme 1.0 COMPONENTS=\"a:1.0:3\"", "component counts");
	parse_refused("PACKAGE s acme 1.0 COMPONENTS=\"a:x\"", "not a version");
	parse_refused("PACKAGE s acme 1.0 COMPONENTS=\"a:1.0 a:2.0\"", "twice");
}

/* ---- New keywords, attributes and quotes ------------------------------- */

static void test_vendor_keywords_are_kept_and_signed(void **state)
{
	(void)state;
	struct lm_license_file f;
	char want[1024];
	parse_ok("INCREMENT MATLAB acme 43 01-jan-0000 10 1234567890AB VENDOR_STRING=QQ "
	         "ISSUED=19-Apr-2023 SN=123456 vendor_info=\"v 1\" asset_info=123456 TS_OK "
	         "ISSUER=\"Acme Inc\" ck=77",
	         &f);
	const struct lm_license *l = &f.lines[0];
	assert_string_equal(l->vendor_string, "QQ");
	assert_string_equal(l->issuer, "Acme Inc");
	assert_true(l->ts_ok);
	assert_int_equal(l->nattrs, 2);
	assert_string_equal(l->attrs[0].key, "asset_info");
	assert_string_equal(l->attrs[0].value, "123456");
	assert_string_equal(l->attrs[1].key, "vendor_info");
	assert_string_equal(l->attrs[1].value, "v 1");
	/* Fixed order whatever the file's order; ck= is not signed. */
	snprintf(want, sizeof want,
	         "INCREMENT MATLAB acme 43 permanent 10 ISSUED=\"2023-04-19\" SN=\"123456\" "
	         "VENDOR_STRING=\"QQ\" ISSUER=\"Acme Inc\" TS_OK asset_info=\"123456\" "
	         "vendor_info=\"v 1\" SERVER_CODES=\"%s\"",
	         SERVER_CODE);
	assert_string_equal(canon(&f, l), want);
	canonical_reads_back(&f, l);
	/* Each of them is signed: changing one changes the canonical text. */
	char before[LM_LINE_MAX + 1];
	strcpy(before, canon(&f, l));
	f.lines[0].ts_ok = false;
	assert_string_not_equal(canon(&f, l), before);
	f.lines[0].ts_ok = true;
	f.lines[0].attrs[0].value[0] = '7';
	assert_string_not_equal(canon(&f, l), before);
	lm_license_free(&f);

	parse_refused("FEATURE f1 acme 1.0 permanent 3 TS_OK TS_OK", "twice");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 TS_OK=1", "takes no value");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 a_b=1 a_b=2", "twice");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 Asset_Info=1", "unknown keyword");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 "
	              "a_key_of_more_than_thirty_two_chars=1",
	              "unknown keyword");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1",
	              "more than 8");
	parse_refused("FEATURE f1 acme 1.0 permanent 3 VENDOR_STRING=\"\"", "empty");
	parse_refused("PACKAGE s acme 1.0 COMPONENTS=a TS_OK", "misplaced keyword 'TS_OK'");
}

static void test_escaped_quotes(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE f1 acme 1.0 permanent 5 NOTICE=\"product=\\\"Parallel Server\\\"\" "
	         "VENDOR_STRING=type=\"x\"",
	         &f);
	const struct lm_license *l = &f.lines[0];
	assert_string_equal(l->notice, "product=\"Parallel Server\"");
	assert_string_equal(l->vendor_string, "type=\"x\"");
	char want[512];
	snprintf(want, sizeof want,
	         "FEATURE f1 acme 1.0 permanent 5 NOTICE=\"product=\\\"Parallel Server\\\"\" "
	         "VENDOR_STRING=\"type=\\\"x\\\"\" SERVER_CODES=\"%s\"",
	         SERVER_CODE);
	assert_string_equal(canon(&f, l), want);
	canonical_reads_back(&f, l);

	/* The printed file reads back as the same license. */
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_int_equal(lm_license_print(&f, out), 0);
	fclose(out);
	struct lm_license_file again;
	assert_int_equal(lm_license_parse(text, len, &again, NULL), 0);
	assert_string_equal(again.lines[0].notice, l->notice);
	assert_string_equal(canon(&again, &again.lines[0]), want);
	free(text);
	lm_license_free(&again);
	lm_license_free(&f);

	/* A tab in a quoted value, as the indentation of a continued line
	 * leaves one, is a space: the protocol carries no control
	 * characters, and the value reads the same everywhere. */
	parse_ok("FEATURE f1 acme 1.0 permanent 5 NOTICE=\"contact \\\n\tyour\tsupplier.\"", &f);
	assert_string_equal(f.lines[0].notice, "contact   your supplier.");
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);

	/* Backslashes elsewhere are plain text, as they always were. */
	parse_ok("FEATURE f1 acme 1.0 permanent 5 NOTICE=\"a\\\\\\\"b c\\\\\"", &f);
	assert_string_equal(f.lines[0].notice, "a\\\\\"b c\\\\");
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_refused("FEATURE f1 acme 1.0 permanent 5 NOTICE=\"a\\\"b", "never closed");
}

/* ---- Host ids ------------------------------------------------------------ */

static void test_hostid_any_and_demo(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE f1 acme 1.0 1-jan-99 0 HOSTID=ANY", &f);
	assert_true(f.lines[0].has_hostid);
	assert_int_equal(f.lines[0].hostid.ids[0].kind, LM_HOSTID_ANY);
	assert_string_equal(canon(&f, &f.lines[0]),
	                    "FEATURE f1 acme 1.0 1999-01-01 uncounted HOSTID=\"ANY\"");
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_ok("FEATURE f2 acme 1.0 permanent uncounted HOSTID=demo", &f);
	assert_int_equal(f.lines[0].hostid.ids[0].kind, LM_HOSTID_DEMO);
	assert_string_equal(canon(&f, &f.lines[0]),
	                    "FEATURE f2 acme 1.0 permanent uncounted HOSTID=\"DEMO\"");
	lm_license_free(&f);
}

/* FlexLM's host id forms and lists are read, normalised for the signature
 * and read back; the ones lmd cannot check are refused saying what they
 * are. */
static void test_hostid_flexlm_forms(void **state)
{
	(void)state;
	static const struct {
		const char *written, *canonical;
	} forms[] = {
	        {"HOSTNAME=lab1.acme.com", "HOSTNAME=lab1.acme.com"},
	        {"hostname=lab1", "HOSTNAME=lab1"},
	        {"ID=1234-5678", "ID=12345678"},
	        {"INTERNET=10.1.*.*", "INTERNET=10.1.*.*"},
	        {"0015C5F1A2B3", "0015c5f1a2b3"},
	        {"00-15-C5-F1-A2-B3", "0015c5f1a2b3"},
	        {"00:15:c5:f1:a2:b3", "0015c5f1a2b3"},
	        {"PTC_HOSTID=08-00-4E-22-AB-08", "08004e22ab08"},
	        {"USER=ana", "USER=ana"},
	        {"DISPLAY=:0", "DISPLAY=:0"},
	        {"\"0015c5f1a2b3   HOSTNAME=lab2 ANY\"", "0015c5f1a2b3 HOSTNAME=lab2 ANY"},
	};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		char line[300], want[300];
		struct lm_license_file f;
		snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 0 HOSTID=%s",
		         forms[i].written);
		parse_ok(line, &f);
		snprintf(want, sizeof want, "FEATURE f1 acme 1.0 permanent uncounted HOSTID=\"%s\"",
		         forms[i].canonical);
		assert_string_equal(canon(&f, &f.lines[0]), want);
		canonical_reads_back(&f, &f.lines[0]);
		lm_license_free(&f);
	}

	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=FLEXID=9-abc", "dongle");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=GUARD_ID=T000012345", "dongle");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=COMPOSITE=0015c5f1a2b3", "composite");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=1a2b3c4d", "8-digit host id");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=00-15:c5-f1-a2-b3", "not a host id");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=INTERNET=10.1.300.*",
	              "not an IPv4 address pattern");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=INTERNET=10.1.*", "four octets");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=ID=12a4", "not an ID= number");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=HOSTNAME=", "needs a value");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=SERIAL=42",
	              "does not know the host id type SERIAL=");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=\"ANY ANY ANY ANY ANY ANY ANY ANY "
	              "ANY\"",
	              "more than 8");
	parse_refused("FEATURE f1 acme 1.0 permanent 0 HOSTID=\" \"", "HOSTID is empty");
}

/* ---- Keywords lmd does not implement -------------------------------------- */

static void test_unimplemented_keywords_refused(void **state)
{
	(void)state;
	const char *words[] = {"MINIMUM=2", "sort=100", "FLOAT_OK"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		char line[256];
		snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 5 SN=1 %s", words[i]);
		parse_refused(line, "lmd does not support");
	}
}

/* ---- OVERDRAFT and SUPERSEDE ------------------------------------------------ */

static void test_overdraft(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=2", &f);
	assert_int_equal(f.lines[0].overdraft, 2);
	assert_non_null(strstr(canon(&f, &f.lines[0]), " OVERDRAFT=\"2\" SERVER_CODES="));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	/* Its place in the canonical order: after the vendor attributes. */
	parse_ok("FEATURE f1 acme 1.0 permanent 5 overdraft=2 SN=1 asset_info=7 TS_OK", &f);
	assert_non_null(
	        strstr(canon(&f, &f.lines[0]), " SN=\"1\" TS_OK asset_info=\"7\" OVERDRAFT=\"2\""));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);

	/* FlexLM's OVERDRAFT=0: none, signed as if not written. */
	parse_ok("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=0", &f);
	assert_int_equal(f.lines[0].overdraft, 0);
	assert_null(strstr(canon(&f, &f.lines[0]), "OVERDRAFT"));
	lm_license_free(&f);
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=00x", "is not a number");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=-1", "is not a number from 1");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=two", "is not a number from 1");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=1000001", "from 1 to 1000000");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=99999999999999999999999",
	              "is not a number");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT", "written KEY=value");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=\"3", "quote");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 OVERDRAFT=1 OVERDRAFT=2", "twice");
	parse_refused("FEATURE f1 acme 1.0 permanent uncounted HOSTID=ANY OVERDRAFT=2",
	              "counted lines only");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=f1 OVERDRAFT=2", "misplaced keyword");
}

static void test_supersede(void **state)
{
	(void)state;
	struct lm_license_file f;
	/* Bare, as FlexLM writes it right after the count too. */
	parse_ok("INCREMENT f1 acme 2.0 permanent 5 SUPERSEDE ISSUED=1-dec-2026", &f);
	assert_true(f.lines[0].supersede);
	assert_string_equal(f.lines[0].supersede_list, "");
	assert_non_null(strstr(canon(&f, &f.lines[0]), " SUPERSEDE SERVER_CODES="));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_ok("FEATURE f1 acme 2.0 permanent 5 ISSUED=2026-12-01 SUPERSEDE=\"  f1\tf2 old-3 \"",
	         &f);
	assert_string_equal(f.lines[0].supersede_list, "f1 f2 old-3");
	assert_non_null(strstr(canon(&f, &f.lines[0]), " SUPERSEDE=\"f1 f2 old-3\""));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);

	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUPERSEDE", "needs ISSUED=");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=\"f1 f1\"",
	              "names 'f1' twice");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=\"f1 b@d\"",
	              "not a feature name");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=\" \"",
	              "SUPERSEDE is empty");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=\"f1 f2",
	              "quote");
	char line[LM_LINE_MAX], names[LM_TEXT_MAX + 100] = "";
	for (int i = 0; strlen(names) < LM_TEXT_MAX + 20; i++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%sfeature%03d",
		         i ? " " : "", i);
	snprintf(line, sizeof line,
	         "FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=\"%s\"", names);
	parse_refused(line, "longer than");
	char longname[LM_NAME_MAX + 10];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	snprintf(line, sizeof line,
	         "FEATURE f1 acme 1.0 permanent 5 ISSUED=2026-01-01 SUPERSEDE=%s", longname);
	parse_refused(line, "longer than 64 characters");
}

/* ---- DUP_GROUP and PACKAGE ------------------------------------------------- */

static void test_dup_group(void **state)
{
	(void)state;
	struct lm_license_file f;
	const struct {
		const char *value, *canonical;
		unsigned bits;
	} ok[] = {
	        {"U", "U", LM_DUP_USER},
	        {"UHD", "UHD", LM_DUP_USER | LM_DUP_HOST | LM_DUP_DISPLAY},
	        {"dhu", "UHD", LM_DUP_USER | LM_DUP_HOST | LM_DUP_DISPLAY},
	        {"HD", "HD", LM_DUP_HOST | LM_DUP_DISPLAY},
	        {"UHDV", "UHDV", LM_DUP_USER | LM_DUP_HOST | LM_DUP_DISPLAY | LM_DUP_VENDOR},
	        {"v", "V", LM_DUP_VENDOR},
	        {"VU", "UV", LM_DUP_USER | LM_DUP_VENDOR},
	        {"site", "SITE", LM_DUP_SITE},
	        {"NONE", "NONE", LM_DUP_NONE},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char line[200], want[64];
		snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=%s",
		         ok[i].value);
		parse_ok(line, &f);
		assert_int_equal(f.lines[0].dup_group, ok[i].bits);
		snprintf(want, sizeof want, " DUP_GROUP=\"%s\" SERVER_CODES=", ok[i].canonical);
		assert_non_null(strstr(canon(&f, &f.lines[0]), want));
		canonical_reads_back(&f, &f.lines[0]);
		lm_license_free(&f);
	}
	/* Siemens' INCREMENT, as published. */
	parse_ok("INCREMENT cam_base acme 26.0 permanent 56 SUPERSEDE DUP_GROUP=UHD "
	         "user_info=\"cam_base module\" ISSUED=30-Aug-2007",
	         &f);
	assert_true(f.lines[0].supersede);
	lm_license_free(&f);

	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=X", "not a duplicate group");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=UU", "each once");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=USITE", "not a duplicate group");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=\"\"", "empty");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP", "written KEY=value");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=U DUP_GROUP=H", "twice");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 DUP_GROUP=UVV", "each once");
	parse_refused("FEATURE f1 acme 1.0 permanent uncounted HOSTID=ANY DUP_GROUP=U",
	              "counted lines only");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=f1 DUP_GROUP=U", "misplaced keyword");
}

/* SUITE_DUP_GROUP, on the line enabling a suite: DUP_GROUP's values. */
static void test_suite_dup_group(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("INCREMENT suite acme 1.0 permanent 5 DUP_GROUP=UH SUITE_DUP_GROUP=uhv", &f);
	assert_int_equal(f.lines[0].suite_dup_group, LM_DUP_USER | LM_DUP_HOST | LM_DUP_VENDOR);
	assert_int_equal(f.lines[0].dup_group, LM_DUP_USER | LM_DUP_HOST);
	assert_non_null(strstr(canon(&f, &f.lines[0]),
	                       " DUP_GROUP=\"UH\" SUITE_DUP_GROUP=\"UHV\" SERVER_CODES="));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_ok("FEATURE suite acme 1.0 permanent 5 SUITE_DUP_GROUP=NONE", &f);
	assert_int_equal(f.lines[0].suite_dup_group, LM_DUP_NONE);
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_ok("FEATURE suite acme 1.0 permanent 5 SUITE_DUP_GROUP=SITE", &f);
	assert_int_equal(f.lines[0].suite_dup_group, LM_DUP_SITE);
	lm_license_free(&f);
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=X",
	              "SUITE_DUP_GROUP='X' is not a duplicate group");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=UHH", "each once");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=SITEU",
	              "not a duplicate group");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=\"\"", "empty");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP", "written KEY=value");
	parse_refused("FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=U SUITE_DUP_GROUP=U",
	              "twice");
	char line[600], value[400];
	memset(value, 'U', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	snprintf(line, sizeof line, "FEATURE f1 acme 1.0 permanent 5 SUITE_DUP_GROUP=%s", value);
	parse_refused(line, "each once");
	parse_refused("FEATURE f1 acme 1.0 permanent uncounted HOSTID=ANY SUITE_DUP_GROUP=UH",
	              "uncounted; SUITE_DUP_GROUP");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=f1 OPTIONS=SUITE SUITE_DUP_GROUP=U",
	              "misplaced keyword 'SUITE_DUP_GROUP' on PACKAGE line");
}

static void test_package(void **state)
{
	(void)state;
	struct lm_license_file f;
	/* ISSUED and SUPERSEDE, as FlexNet writes them on PACKAGE lines. */
	parse_ok("PACKAGE p acme 1.0 COMPONENTS=\"a b:2.0\" OPTIONS=SUITE ISSUED=1-dec-2026 "
	         "SUPERSEDE",
	         &f);
	assert_int_not_equal(f.lines[0].issued, LM_DATE_NONE);
	assert_true(f.lines[0].supersede);
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=a SUPERSEDE", "needs ISSUED=");
	/* SUITE_RESERVED: a suite, written back as it was given. */
	parse_ok("PACKAGE p acme 1.0 COMPONENTS=\"a b\" OPTIONS=suite_reserved", &f);
	assert_true(f.lines[0].suite);
	assert_true(f.lines[0].suite_reserved);
	assert_non_null(strstr(canon(&f, &f.lines[0]), " OPTIONS=\"SUITE_RESERVED\""));
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_refused("FEATURE p acme 1.0 permanent 2 OPTIONS=SUITE_RESERVED",
	              "misplaced keyword 'OPTIONS' on FEATURE line");
	parse_refused("INCREMENT p acme 1.0 permanent 2 OPTIONS=SUITE", "misplaced keyword");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=a OPTIONS=SUITE OPTIONS=SUITE_RESERVED",
	              "twice");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=a OPTIONS=SUITE_RESERVE",
	              "expected SUITE or SUITE_RESERVED");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=a OPTIONS", "written KEY=value");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=a OPTIONS=BUNDLE", "unknown");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=\"a:1.x\"", "not a version");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=\"a: b\"", "not a version");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=\"a:1.0 b a\"", "names 'a' twice");
	parse_refused("PACKAGE p acme 1.0 COMPONENTS=\" \"", "COMPONENTS is empty");

	/* A list longer than 255 bytes, as Siemens' NX bundle's (27 names,
	 * about 700 bytes), loads: only the line's length limits it. */
	char line[LM_LINE_MAX + 200], names[LM_LINE_MAX + 100] = "";
	for (int i = 0; strlen(names) < 700; i++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%sNX11110_part%02d",
		         i ? " " : "", i);
	snprintf(line, sizeof line, "PACKAGE NX11110 acme 26.0 COMPONENTS=\"%s\"", names);
	parse_ok(line, &f);
	assert_string_equal(f.lines[0].components, names);
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
}

/* ---- USE_SERVER ------------------------------------------------------------ */

static void test_use_server(void **state)
{
	(void)state;
	struct lm_license_file f;
	char text[512];
	snprintf(text, sizeof text,
	         "SERVER lic1 %s 27000\nVENDOR acme\nUSE_SERVER\nFEATURE f acme 1.0 permanent 5\n",
	         SERVER_CODE);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, NULL), 0);
	assert_true(f.use_server);
	assert_int_equal(f.nlines, 1);
	char *printed = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&printed, &len);
	assert_int_equal(lm_license_print(&f, out), 0);
	fclose(out);
	assert_non_null(strstr(printed, "VENDOR acme\nUSE_SERVER\nFEATURE"));
	free(printed);
	lm_license_free(&f);

	struct lm_parse_error err;
	const char *bad = "USE_SERVER now\n";
	assert_int_equal(lm_license_parse(bad, strlen(bad), &f, &err), LMC_ESYNTAX);
	assert_non_null(strstr(err.message, "USE_SERVER takes nothing"));
}

/* ---- Names with '/', SERVER lines as FlexLM writes them ------------------- */

static void test_feature_names_with_slash(void **state)
{
	(void)state;
	struct lm_license_file f;
	parse_ok("FEATURE ARC/INFO acme 10.0 permanent 5", &f);
	lm_license_free(&f);
	parse_ok("INCREMENT ARC/INFO acme 10.0 permanent 5", &f);
	assert_string_equal(f.lines[0].name, "ARC/INFO");
	canonical_reads_back(&f, &f.lines[0]);
	lm_license_free(&f);
	parse_refused("FEATURE /INFO acme 10.0 permanent 5", "'/INFO' is invalid");
	parse_refused("FEATURE f1 ac/me 10.0 permanent 5", "vendor name 'ac/me' is invalid");
}

static void test_server_lines_flexlm_style(void **state)
{
	(void)state;
	struct lm_license_file f;
	struct lm_parse_error err;
	char text[1024];
	/* No port: 27000, as FlexLM's first default. */
	snprintf(text, sizeof text,
	         "SERVER lic1 %s\nVENDOR acme\nFEATURE f1 acme 1.0 permanent 5\n", SERVER_CODE);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), 0);
	assert_int_equal(f.servers[0].port, LM_LICENSE_PORT_DEFAULT);
	lm_license_free(&f);
	/* A FlexLM host id where lmd needs a lock code: said so. */
	static const char *const ids[] = {"0050569a1b2c", "ANY", "INTERNET=10.1.2.3"};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		snprintf(text, sizeof text, "SERVER lic1 %s 27000\nVENDOR acme\n", ids[i]);
		assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_EBADCODE);
		if (!strstr(err.message, "is FlexLM's; lmd locks a server by its lock code"))
			fail_msg("%s: %s", ids[i], err.message);
	}
	snprintf(text, sizeof text, "SERVER lic1 %s 27000 extra\n", SERVER_CODE);
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_ESYNTAX);
	snprintf(text, sizeof text, "SERVER lic1\n");
	assert_int_equal(lm_license_parse(text, strlen(text), &f, &err), LMC_ESYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_canonical_of_existing_lines_is_pinned),
	        cmocka_unit_test(test_count_zero_is_uncounted),
	        cmocka_unit_test(test_flexlm_dates_on_lines),
	        cmocka_unit_test(test_positional_keys_are_ignored),
	        cmocka_unit_test(test_vendor_keywords_are_kept_and_signed),
	        cmocka_unit_test(test_escaped_quotes),
	        cmocka_unit_test(test_hostid_any_and_demo),
	        cmocka_unit_test(test_hostid_flexlm_forms),
	        cmocka_unit_test(test_unimplemented_keywords_refused),
	        cmocka_unit_test(test_use_server),
	        cmocka_unit_test(test_overdraft),
	        cmocka_unit_test(test_supersede),
	        cmocka_unit_test(test_feature_names_with_slash),
	        cmocka_unit_test(test_server_lines_flexlm_style),
	        cmocka_unit_test(test_dup_group),
	        cmocka_unit_test(test_suite_dup_group),
	        cmocka_unit_test(test_package),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
