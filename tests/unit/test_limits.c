/* The limits of core/limits.h, each at its edge: the largest value is
 * accepted, one more is refused with the error code limits.h names.  The
 * modules' own tests check the messages; this one checks that the numbers
 * in limits.h are the ones the parsers enforce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/source.h"
#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/limits.h"
#include "core/lockcode.h"
#include "core/vendor_data.h"
#include "proto/address.h"
#include "proto/envelope.h"
#include "proto/frame.h"

/* A word of n copies of c, in a static buffer. */
static const char *word(char c, size_t n)
{
	static char buf[LM_LINE_MAX + 2];
	assert_true(n < sizeof buf);
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* A SERVER line, so that counted lines are complete (setup()). */
static char server_line[128];

static int setup(void **state)
{
	(void)state;
	struct lm_lockcode code = {.present = 0x3f, .digest = {1, 2, 3, 4, 5, 6}};
	char text[LM_LOCKCODE_TEXT_MAX];
	assert_int_equal(lm_lockcode_format(&code, text, sizeof text), 0);
	snprintf(server_line, sizeof server_line, "SERVER lic1 %s 27000\n", text);
	return 0;
}

/* Parses a license file of the SERVER line and fmt, and returns
 * lm_license_parse's result. */
__attribute__((format(printf, 1, 2))) static int parse_line(const char *fmt, ...)
{
	char line[3 * LM_LINE_MAX];
	size_t o = strlen(server_line);
	memcpy(line, server_line, o);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + o, sizeof line - o, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof line - o);
	n += (int)o;

	struct lm_license_file f;
	struct lm_parse_error err;
	int rc = lm_license_parse(line, (size_t)n, &f, &err);
	if (rc == 0)
		lm_license_free(&f);
	else
		print_message("line %d: %s\n", err.lineno, err.message);
	return rc;
}

static void test_license_names(void **state)
{
	(void)state;
	assert_int_equal(parse_line("FEATURE %s acme 1.0 permanent 5\n", word('f', LM_NAME_MAX)),
	                 0);
	assert_int_equal(
	        parse_line("FEATURE %s acme 1.0 permanent 5\n", word('f', LM_NAME_MAX + 1)),
	        LMC_ESYNTAX);
	assert_int_equal(parse_line("FEATURE f %s 1.0 permanent 5\n", word('v', LM_NAME_MAX + 1)),
	                 LMC_ESYNTAX);
	/* Versions: LM_VERSION_MAX characters, parts of at most 9 digits. */
	assert_int_equal((int)strlen("123456789.123456"), LM_VERSION_MAX);
	assert_true(lm_version_valid("123456789.123456"));
	assert_false(lm_version_valid("123456789.1234567"));
	assert_int_equal(parse_line("FEATURE f acme 123456789.123456 permanent 5\n"), 0);
	assert_int_equal(parse_line("FEATURE f acme 123456789.1234567 permanent 5\n"), LMC_ESYNTAX);
}

static void test_license_numbers(void **state)
{
	(void)state;
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent %d\n", LM_LICENSE_COUNT_MAX), 0);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent %d\n", LM_LICENSE_COUNT_MAX + 1),
	                 LMC_ESYNTAX);
	/* A line names at most as many users as it has seats. */
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent %d NAMED_USERS=%d\n",
	                            LM_LICENSE_COUNT_MAX, LM_LICENSE_NAMED_USERS_MAX),
	                 0);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent %d NAMED_USERS=%d\n",
	                            LM_LICENSE_COUNT_MAX, LM_LICENSE_NAMED_USERS_MAX + 1),
	                 LMC_ESYNTAX);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent 5 BORROW=%d\n",
	                            LM_LICENSE_BORROW_HOURS_MAX),
	                 0);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent 5 BORROW=%d\n",
	                            LM_LICENSE_BORROW_HOURS_MAX + 1),
	                 LMC_ESYNTAX);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent 5 TOLERANCE=%d\n",
	                            LM_LICENSE_TOLERANCE_MAX),
	                 0);
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent 5 TOLERANCE=%d\n",
	                            LM_LICENSE_TOLERANCE_MAX + 1),
	                 LMC_ESYNTAX);
}

static void test_license_text(void **state)
{
	(void)state;
	assert_int_equal(parse_line("FEATURE f acme 1.0 permanent 5 NOTICE=%s\n",
	                            word('n', LM_TEXT_MAX - 1)),
	                 0);
	assert_int_equal(
	        parse_line("FEATURE f acme 1.0 permanent 5 NOTICE=%s\n", word('n', LM_TEXT_MAX)),
	        LMC_ETOOLARGE);

	/* Words: no line can use LM_LICENSE_TOKENS_MAX of them, so that many
	 * is merely wrong, and one more is refused before it is read. */
	char line[LM_LINE_MAX];
	strcpy(line, "FEATURE");
	for (int i = 1; i < LM_LICENSE_TOKENS_MAX; i++)
		strcat(line, " x");
	assert_int_equal(parse_line("%s\n", line), LMC_ESYNTAX);
	assert_int_equal(parse_line("%s x\n", line), LMC_ETOOLARGE);

	/* One line: a comment of exactly LM_LINE_MAX bytes, then one more. */
	assert_int_equal(
	        parse_line("# %s\nFEATURE f acme 1.0 permanent 5\n", word('c', LM_LINE_MAX - 2)),
	        0);
	assert_int_equal(
	        parse_line("# %s\nFEATURE f acme 1.0 permanent 5\n", word('c', LM_LINE_MAX - 1)),
	        LMC_ETOOLARGE);
}

/* One SERVER line or LM_LICENSE_SERVERS_MAX of them (a triad); one more is
 * refused. */
static void test_servers(void **state)
{
	(void)state;
	char code[LM_LOCKCODE_TEXT_MAX], text[1024];
	size_t o = 0;
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(sscanf(server_line, "SERVER lic1 %63s", code), 1);
	for (int i = 1; i <= LM_LICENSE_SERVERS_MAX + 1; i++) {
		o += (size_t)snprintf(text + o, sizeof text - o, "SERVER lic%d %s %d\n", i, code,
		                      27000 + i);
		assert_true(o < sizeof text);
		if (i != LM_LICENSE_SERVERS_MAX)
			continue;
		assert_int_equal(lm_license_parse(text, o, &f, &err), 0);
		assert_int_equal(f.nservers, LM_LICENSE_SERVERS_MAX);
		lm_license_free(&f);
	}
	assert_int_equal(lm_license_parse(text, o, &f, &err), LMC_ESYNTAX);
	assert_int_equal(err.lineno, LM_LICENSE_SERVERS_MAX + 1);
}

static void test_dates(void **state)
{
	(void)state;
	int32_t days;
	char text[32];
	snprintf(text, sizeof text, "%d-12-31", LM_DATE_YEAR_MAX);
	assert_int_equal(lm_date_parse(text, &days), 0);
	snprintf(text, sizeof text, "%d-01-01", LM_DATE_YEAR_MAX + 1);
	assert_int_equal(lm_date_parse(text, &days), LMC_ESYNTAX);
	snprintf(text, sizeof text, "%d-01-01", LM_DATE_YEAR_MIN);
	assert_int_equal(lm_date_parse(text, &days), 0);
	snprintf(text, sizeof text, "%d-12-31", LM_DATE_YEAR_MIN - 1);
	assert_int_equal(lm_date_parse(text, &days), LMC_ESYNTAX);
}

static void test_codes(void **state)
{
	(void)state;
	uint8_t sym[LM_CODE32_MAX_SYMBOLS + 1] = {0};
	char out[4 * LM_CODE32_MAX_SYMBOLS];
	assert_int_equal(lm_code32_encode(sym, LM_CODE32_MAX_SYMBOLS, 0, out, sizeof out), 0);
	assert_int_equal(lm_code32_encode(sym, LM_CODE32_MAX_SYMBOLS + 1, 0, out, sizeof out),
	                 LMC_ETOOLARGE);
}

static void test_sources(void **state)
{
	(void)state;
	char source[64 * (LM_SOURCE_SERVERS_MAX + 1)] = "";
	char err[256];
	struct lm_source l;
	for (int i = 0; i < LM_SOURCE_SERVERS_MAX; i++) {
		char entry[32];
		snprintf(entry, sizeof entry, "%s%d@host%d", i ? "," : "", 27000 + i, i);
		strcat(source, entry);
	}
	lm_source_init(&l);
	assert_int_equal(lm_source_parse(&l, source, err, sizeof err), 0);
	lm_source_free(&l);
	strcat(source, ",1@one-too-many");
	assert_int_equal(lm_source_parse(&l, source, err, sizeof err), LMC_ETOOLARGE);
	lm_source_free(&l);

	/* The longest address fits its text buffer. */
	struct lm_address a = {.port = 65535};
	memset(a.host, 'a', LM_HOST_MAX);
	a.host[1] = ':';
	char text[LM_ADDRESS_TEXT_MAX];
	assert_int_equal(lm_address_format(&a, text, sizeof text), 0);
	assert_int_equal(lm_address_format(&a, text, sizeof text - 1), LMC_ETOOLARGE);
}

static void test_wire(void **state)
{
	(void)state;
	Lm__Envelope e;
	Lm__Hello h = LM__HELLO__INIT;
	char err[256];
	lm_envelope_init(&e, 1);
	e.body_case = LM__ENVELOPE__BODY_HELLO;
	e.hello = &h;
	h.has_user = h.has_host = h.has_pid = 1;
	h.pid = 1;
	h.host = lm_bytes_from_cstr("h");
	h.user = lm_bytes_from_cstr(word('u', LM_WIRE_USER_MAX));
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), 0);
	h.user = lm_bytes_from_cstr(word('u', LM_WIRE_USER_MAX + 1));
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), LMC_EPROTO);

	Lm__Checkout c = LM__CHECKOUT__INIT;
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT;
	e.checkout = &c;
	c.has_feature = 1;
	c.feature = lm_bytes_from_cstr("f");
	c.has_version = 1;
	c.version = lm_bytes_from_cstr("1.0");
	c.has_count = 1;
	c.count = LM_CHECKOUT_COUNT_MAX;
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), 0);
	c.count = LM_CHECKOUT_COUNT_MAX + 1;
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), LMC_EPROTO);
	c.count = 1;

	/* A checkout's vendor data: the same edge on the wire (LMC_EPROTO)
	 * and in core/vendor_data.h's rule, which liblmc and the pool apply. */
	c.has_vendor_data = 1;
	c.vendor_data = lm_bytes_from_cstr(word('v', LM_WIRE_VENDOR_DATA_MAX));
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), 0);
	assert_true(
	        lm_vendor_data_valid(word('v', LM_WIRE_VENDOR_DATA_MAX), LM_WIRE_VENDOR_DATA_MAX));
	c.vendor_data = lm_bytes_from_cstr(word('v', LM_WIRE_VENDOR_DATA_MAX + 1));
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), LMC_EPROTO);
	assert_false(lm_vendor_data_valid(word('v', LM_WIRE_VENDOR_DATA_MAX + 1),
	                                  LM_WIRE_VENDOR_DATA_MAX + 1));
	c.has_vendor_data = 0;

	/* A cluster id is exactly LM_CLUSTER_ID_SIZE bytes, one short or one
	 * over is refused. */
	uint8_t id[LM_CLUSTER_ID_SIZE + 1] = {1};
	Lm__HelloReply hr = LM__HELLO_REPLY__INIT;
	e.body_case = LM__ENVELOPE__BODY_HELLO_REPLY;
	e.hello_reply = &hr;
	hr.server_version = "lmd";
	hr.has_cluster_id = 1;
	hr.cluster_id = (ProtobufCBinaryData){.len = LM_CLUSTER_ID_SIZE, .data = id};
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), 0);
	hr.cluster_id.len = LM_CLUSTER_ID_SIZE - 1;
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), LMC_EPROTO);
	hr.cluster_id.len = LM_CLUSTER_ID_SIZE + 1;
	assert_int_equal(lm_envelope_check(&e, err, sizeof err), LMC_EPROTO);

	/* A frame header announcing one byte over the maximum is refused as
	 * soon as it arrives. */
	struct lm_frame_reader r;
	assert_int_equal(lm_frame_reader_init(&r, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)), 0);
	uint8_t *space;
	size_t n;
	const uint8_t *payload;
	size_t len;
	lm_frame_reader_space(&r, &space, &n);
	uint32_t over = LM_FRAME_MAX + 1;
	space[0] = (uint8_t)(over >> 24), space[1] = (uint8_t)(over >> 16);
	space[2] = (uint8_t)(over >> 8), space[3] = (uint8_t)over;
	lm_frame_reader_commit(&r, 4);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), LMC_ETOOLARGE);
	lm_frame_reader_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_license_names), cmocka_unit_test(test_license_numbers),
	        cmocka_unit_test(test_license_text),  cmocka_unit_test(test_dates),
	        cmocka_unit_test(test_codes),         cmocka_unit_test(test_sources),
	        cmocka_unit_test(test_wire),          cmocka_unit_test(test_servers),
	};
	return cmocka_run_group_tests(tests, setup, NULL) ? 1 : 0;
}
