#include "config.h"
/* Lock codes: what is read from a machine, how the code is written and
 * read back, and which changes of the machine a license survives. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/lmc.h"
#include "core/code32.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "tests/unit/helpers.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ---- Fixtures ---- */

/* Each test gets a scratch directory; machines are built below it. */
static int setup(void **state)
{
	*state = th_tempdir();
	return 0;
}

static int teardown(void **state)
{
	th_rmtree(*state);
	free(*state);
	return 0;
}

static struct lm_machine probe_dir(const char *root)
{
	struct lm_machine m;
	assert_int_equal(lm_machine_probe(root, &m), 0);
	return m;
}

/* Builds machine m in a fresh directory below base and probes it. */
static struct lm_machine probe_machine(const char *base, const char *name,
                                       const struct th_machine *m)
{
	const char *root = th_path(base, name);
	th_make_machine(root, m);
	return probe_dir(root);
}

static struct lm_lock_match match(const struct lm_lockcode *licensed,
                                  const struct lm_lockcode *here, int tolerance)
{
	struct lm_lock_match r;
	lm_lockcode_match(licensed, here, tolerance, &r);
	return r;
}

static uint16_t bit(enum lm_criterion c)
{
	return (uint16_t)(1u << c);
}

static uint16_t all_criteria(void)
{
	return (uint16_t)((1u << LM_CRIT_COUNT) - 1);
}

/* ---- Encoding ---- */

static void test_names(void **state)
{
	assert_string_equal(lm_criterion_name(LM_CRIT_MACHINE_ID), "machine_id");
	assert_string_equal(lm_criterion_name(LM_CRIT_PRODUCT_UUID), "product_uuid");
	assert_string_equal(lm_criterion_name(LM_CRIT_MAC), "mac");
	assert_string_equal(lm_criterion_name(LM_CRIT_HOSTNAME), "hostname");
	assert_string_equal(lm_criterion_name(LM_CRIT_DISK), "disk");
	assert_string_equal(lm_criterion_name(LM_CRIT_CPU), "cpu");
}

/* Pinned values: a change here breaks every license already issued. */
static void test_digest_known_values(void **state)
{
	/* SHA-256("lmd-lockcode-v1:hostname:build-07.example.com") starts
	 * c5b3a4c8...; the digest is its top 20 bits. */
	assert_int_equal(lm_criterion_digest(LM_CRIT_HOSTNAME, "build-07.example.com"), 0xc5b3a);
	assert_int_equal(lm_criterion_digest(LM_CRIT_MAC, "52:54:00:12:34:56,52:54:00:ab:cd:ef"),
	                 0xb41a2);
	/* The criterion's name is part of the digest. */
	assert_int_not_equal(lm_criterion_digest(LM_CRIT_MACHINE_ID, "x"),
	                     lm_criterion_digest(LM_CRIT_HOSTNAME, "x"));
}

static void test_format_parse_round_trip(void **state)
{
	uint32_t seed = 7;
	for (unsigned mask = 1; mask < (1u << LM_CRIT_COUNT); mask++) {
		struct lm_lockcode code = {.present = (uint16_t)mask}, back;
		for (int c = 0; c < LM_CRIT_COUNT; c++) {
			seed = seed * 1103515245u + 12345u;
			if (mask & (1u << c))
				code.digest[c] = seed >> 12;
		}
		char text[LM_LOCKCODE_TEXT_MAX], err[200];
		assert_int_equal(lm_lockcode_format(&code, text, sizeof text), 0);
		/* Version 1 is the first symbol. */
		assert_int_equal(text[0], '1');
		assert_int_equal(lm_lockcode_parse(text, &back, err, sizeof err), 0);
		assert_int_equal(back.present, code.present);
		assert_memory_equal(back.digest, code.digest, sizeof code.digest);
	}
}

static void test_format_layout(void **state)
{
	/* Version 1, mask 0b000001 (machine_id), digest 0x00421 = symbols
	 * 0 1 1 1: "1 0 1 0 1 1 1" and the check symbol, in groups of 4. */
	struct lm_lockcode code = {.present = bit(LM_CRIT_MACHINE_ID), .digest = {0x00421}};
	char text[LM_LOCKCODE_TEXT_MAX];
	assert_int_equal(lm_lockcode_format(&code, text, sizeof text), 0);
	assert_int_equal(strlen(text), 9);
	assert_memory_equal(text, "1010-111", 8);

	/* All six criteria: 3 + 24 symbols and the check, 7 groups. */
	code.present = all_criteria();
	assert_int_equal(lm_lockcode_format(&code, text, sizeof text), 0);
	assert_int_equal(strlen(text), 28 + 6);
	assert_memory_equal(text, "11Z", 3);

	assert_int_equal(lm_lockcode_format(&code, text, 20), LMC_ETOOLARGE);
	assert_string_equal(text, "");
}

static void test_format_refuses_invalid(void **state)
{
	char text[LM_LOCKCODE_TEXT_MAX];
	struct lm_lockcode none = {0};
	assert_int_equal(lm_lockcode_format(&none, text, sizeof text), LMC_EINVAL);
	struct lm_lockcode unknown = {.present = 1u << LM_CRIT_COUNT};
	assert_int_equal(lm_lockcode_format(&unknown, text, sizeof text), LMC_EINVAL);
	struct lm_lockcode wide = {.present = bit(LM_CRIT_CPU)};
	wide.digest[LM_CRIT_CPU] = 0x100000;
	assert_int_equal(lm_lockcode_format(&wide, text, sizeof text), LMC_EINVAL);
}

/* ---- Typed codes ---- */

static void test_every_single_typo_refused(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine m = probe_machine(*state, "m", &def);
	char text[LM_LOCKCODE_TEXT_MAX], typo[LM_LOCKCODE_TEXT_MAX], err[200];
	struct lm_lockcode back;
	assert_int_equal(lm_lockcode_format(&m.code, text, sizeof text), 0);
	size_t len = strlen(text);
	int tried = 0;
	for (size_t pos = 0; pos < len; pos++) {
		if (text[pos] == '-')
			continue;
		for (int v = 0; v < 32; v++) {
			if (alphabet[v] == text[pos])
				continue;
			memcpy(typo, text, len + 1);
			typo[pos] = alphabet[v];
			err[0] = '\0';
			assert_int_equal(lm_lockcode_parse(typo, &back, err, sizeof err),
			                 LMC_EBADCODE);
			assert_true(strlen(err) > 10);
			/* Nothing half-parsed is left for a careless caller. */
			assert_int_equal(back.present, 0);
			tried++;
		}
	}
	assert_int_equal(tried, 28 * 31);
}

static void test_typing_variants_accepted(void **state)
{
	/* A code full of 0 and 1, the symbols people write as O, I and L. */
	struct lm_lockcode code = {.present = bit(LM_CRIT_MACHINE_ID), .digest = {0x00421}};
	struct lm_lockcode back;
	char text[LM_LOCKCODE_TEXT_MAX], typed[LM_LOCKCODE_TEXT_MAX], err[200];
	assert_int_equal(lm_lockcode_format(&code, text, sizeof text), 0);

	const char *const look_alikes = "IiLl";
	size_t o = 0;
	for (size_t i = 0; text[i]; i++) {
		if (text[i] == '-')
			continue; /* hyphens dropped */
		char c = (char)tolower((unsigned char)text[i]);
		if (text[i] == '0')
			c = (i % 2) ? 'O' : 'o';
		else if (text[i] == '1')
			c = look_alikes[i % 4];
		typed[o++] = c;
	}
	typed[o] = '\0';
	assert_null(strchr(typed, '-'));
	assert_non_null(strpbrk(typed, "Oo"));
	assert_non_null(strpbrk(typed, "Ll"));
	assert_int_equal(lm_lockcode_parse(typed, &back, err, sizeof err), 0);
	assert_int_equal(back.present, code.present);
	assert_int_equal(back.digest[LM_CRIT_MACHINE_ID], 0x00421);
}

/* A code with a valid check symbol but these symbols inside. */
static void encode_raw(const uint8_t *sym, size_t n, char *text, size_t size)
{
	assert_int_equal(lm_code32_encode(sym, n, 4, text, size), 0);
}

static void expect_bad(const char *text, const char *needle)
{
	struct lm_lockcode code;
	char err[256] = "";
	int rc = lm_lockcode_parse(text, &code, err, sizeof err);
	if (rc != LMC_EBADCODE)
		fail_msg("'%s' gave %d, expected LMC_EBADCODE", text, rc);
	if (!strstr(err, needle))
		fail_msg("'%s': error \"%s\" does not mention \"%s\"", text, err, needle);
	assert_int_equal(code.present, 0);
}

static void test_garbage_refused(void **state)
{
	expect_bad("", "empty");
	expect_bad("   ", "empty");
	expect_bad("hello, world", "not a code symbol");
	expect_bad("1UUU-UUUU", "'U'");
	expect_bad("1234-5678-9ABC", "check symbol");
	char page[1000];
	memset(page, 'A', sizeof page - 1);
	page[sizeof page - 1] = '\0';
	expect_bad(page, "too long");

	/* Well-formed base32, wrong content: each rule of the parser. */
	char text[128];
	const uint8_t v2[] = {2, 0, 1, 1, 2, 3, 4};
	encode_raw(v2, sizeof v2, text, sizeof text);
	expect_bad(text, "version 2");
	const uint8_t v0[] = {0, 0, 1, 1, 2, 3, 4};
	encode_raw(v0, sizeof v0, text, sizeof text);
	expect_bad(text, "version 0");
	/* Mask bit 6, beyond cpu. */
	const uint8_t bit6[] = {1, 2, 0, 1, 2, 3, 4};
	encode_raw(bit6, sizeof bit6, text, sizeof text);
	expect_bad(text, "does not know");
	/* Mask bit 9, the highest the encoding has room for. */
	const uint8_t bit9[] = {1, 16, 1, 1, 2, 3, 4};
	encode_raw(bit9, sizeof bit9, text, sizeof text);
	expect_bad(text, "does not know");
	const uint8_t empty[] = {1, 0, 0};
	encode_raw(empty, sizeof empty, text, sizeof text);
	expect_bad(text, "no criteria");
	const uint8_t head_only[] = {1, 0};
	encode_raw(head_only, sizeof head_only, text, sizeof text);
	expect_bad(text, "too short");
	/* Mask 0b11 (two criteria) but one digest; then one symbol short,
	 * then a digest too many. */
	const uint8_t short_by_4[] = {1, 0, 3, 1, 2, 3, 4};
	encode_raw(short_by_4, sizeof short_by_4, text, sizeof text);
	expect_bad(text, "symbols");
	const uint8_t short_by_1[] = {1, 0, 3, 1, 2, 3, 4, 5, 6, 7};
	encode_raw(short_by_1, sizeof short_by_1, text, sizeof text);
	expect_bad(text, "symbols");
	const uint8_t extra[] = {1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8};
	encode_raw(extra, sizeof extra, text, sizeof text);
	expect_bad(text, "symbols");

	/* And the same shape with the right count is fine. */
	const uint8_t good[] = {1, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8};
	encode_raw(good, sizeof good, text, sizeof text);
	struct lm_lockcode code;
	assert_int_equal(lm_lockcode_parse(text, &code, NULL, 0), 0);
	assert_int_equal(code.present, 3);
	assert_int_equal(code.digest[0], (1u << 15) | (2u << 10) | (3u << 5) | 4u);
	assert_int_equal(code.digest[1], (5u << 15) | (6u << 10) | (7u << 5) | 8u);
}

/* ---- Probing ---- */

static void test_probe_reads_each_criterion(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine m = probe_machine(*state, "m", &def);
	assert_int_equal(m.code.present, all_criteria());
	assert_string_equal(m.value[LM_CRIT_MACHINE_ID], def.machine_id);
	/* Lower-cased: SMBIOS tools print it either way. */
	assert_string_equal(m.value[LM_CRIT_PRODUCT_UUID], "6a1b2c3d-4e5f-6789-abcd-ef0123456789");
	assert_string_equal(m.value[LM_CRIT_MAC], "52:54:00:12:34:56,52:54:00:ab:cd:ef");
	assert_string_equal(m.value[LM_CRIT_HOSTNAME], def.hostname);
	assert_string_equal(m.value[LM_CRIT_DISK], def.disk_uuid);
	assert_string_equal(m.value[LM_CRIT_CPU],
	                    "GenuineIntel/6/85/Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
	assert_string_equal(m.source[LM_CRIT_MACHINE_ID],
	                    th_path(th_path(*state, "m"), "etc/machine-id"));
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		assert_int_equal(m.code.digest[c], lm_criterion_digest(c, m.value[c]));
}

static void test_code_stable_across_probes(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine a = probe_machine(*state, "m", &def);
	struct lm_machine b = probe_dir(th_path(*state, "m"));
	/* The same machine laid out elsewhere: the root is not part of it. */
	struct lm_machine c = probe_machine(*state, "elsewhere", &def);
	char ta[LM_LOCKCODE_TEXT_MAX], tb[LM_LOCKCODE_TEXT_MAX], tc[LM_LOCKCODE_TEXT_MAX];
	assert_int_equal(lm_lockcode_format(&a.code, ta, sizeof ta), 0);
	assert_int_equal(lm_lockcode_format(&b.code, tb, sizeof tb), 0);
	assert_int_equal(lm_lockcode_format(&c.code, tc, sizeof tc), 0);
	assert_string_equal(ta, tb);
	assert_string_equal(ta, tc);
	/* A trailing slash on the root changes nothing. */
	char slashed[4096];
	snprintf(slashed, sizeof slashed, "%s/", th_path(*state, "m"));
	struct lm_machine d = probe_dir(slashed);
	assert_memory_equal(&d.code, &a.code, sizeof a.code);
	assert_string_equal(d.source[LM_CRIT_HOSTNAME], a.source[LM_CRIT_HOSTNAME]);
}

static void test_one_change_accepted(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine licensed = probe_machine(*state, "licensed", &def);

	struct th_machine new_nic = def;
	new_nic.macs[1] = "52:54:00:99:99:99";
	struct lm_machine here = probe_machine(*state, "new-nic", &new_nic);
	struct lm_lock_match r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_true(r.accepted);
	assert_int_equal(r.licensed, 6);
	assert_int_equal(r.matched, 5);
	assert_int_equal(r.allowed_misses, 2);
	assert_int_equal(r.differs, bit(LM_CRIT_MAC));
	assert_int_equal(r.missing, 0);

	struct th_machine renamed = def;
	renamed.hostname = "build-08.example.com";
	here = probe_machine(*state, "renamed", &renamed);
	r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_true(r.accepted);
	assert_int_equal(r.differs, bit(LM_CRIT_HOSTNAME));
}

static void test_two_of_six_changed_accepted(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine licensed = probe_machine(*state, "licensed", &def);
	struct th_machine changed = def;
	changed.hostname = "renamed";
	changed.disk_uuid = "11111111-2222-3333-4444-555555555555";
	struct lm_machine here = probe_machine(*state, "changed", &changed);
	struct lm_lock_match r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_true(r.accepted);
	assert_int_equal(r.matched, 4);
	assert_int_equal(r.differs, bit(LM_CRIT_HOSTNAME) | bit(LM_CRIT_DISK));
}

static void test_three_of_six_changed_refused(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine licensed = probe_machine(*state, "licensed", &def);
	struct th_machine changed = def;
	changed.hostname = "renamed";
	changed.disk_uuid = "11111111-2222-3333-4444-555555555555";
	changed.macs[0] = "52:54:00:00:00:01";
	struct lm_machine here = probe_machine(*state, "changed", &changed);
	struct lm_lock_match r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_false(r.accepted);
	assert_int_equal(r.matched, 3);
	assert_int_equal(r.allowed_misses, 2);
	assert_int_equal(r.differs, bit(LM_CRIT_HOSTNAME) | bit(LM_CRIT_DISK) | bit(LM_CRIT_MAC));
	/* An explicit, more lenient tolerance lets it through. */
	assert_true(match(&licensed.code, &here.code, 3).accepted);
}

static void test_missing_criterion_is_a_miss(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine licensed = probe_machine(*state, "licensed", &def);

	struct th_machine no_dmi = def;
	no_dmi.product_uuid = NULL;
	struct lm_machine here = probe_machine(*state, "no-dmi", &no_dmi);
	assert_int_equal(here.code.present, all_criteria() & ~bit(LM_CRIT_PRODUCT_UUID));
	assert_string_equal(here.value[LM_CRIT_PRODUCT_UUID], "");
	char want[4200];
	snprintf(want, sizeof want, "unreadable: %s (No such file or directory)",
	         th_path(th_path(*state, "no-dmi"), "sys/class/dmi/id/product_uuid"));
	assert_string_equal(here.source[LM_CRIT_PRODUCT_UUID], want);

	struct lm_lock_match r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_true(r.accepted);
	assert_int_equal(r.missing, bit(LM_CRIT_PRODUCT_UUID));
	assert_int_equal(r.matched, 5);
	/* With tolerance 0 the missing criterion alone refuses. */
	assert_false(match(&licensed.code, &here.code, 0).accepted);

	/* Missing plus two changes: three misses of six. */
	struct th_machine worse = no_dmi;
	worse.hostname = "renamed";
	worse.cpu_model = "AMD EPYC 7763 64-Core Processor";
	here = probe_machine(*state, "worse", &worse);
	r = match(&licensed.code, &here.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_false(r.accepted);
	assert_int_equal(r.missing, bit(LM_CRIT_PRODUCT_UUID));
	assert_int_equal(r.differs, bit(LM_CRIT_HOSTNAME) | bit(LM_CRIT_CPU));

	/* The other way round: a criterion found here but not licensed
	 * does not count at all. */
	struct lm_machine small = probe_machine(*state, "small", &no_dmi);
	r = match(&small.code, &licensed.code, LM_LOCK_TOLERANCE_DEFAULT);
	assert_true(r.accepted);
	assert_int_equal(r.licensed, 5);
	assert_int_equal(r.matched, 5);
}

static void test_explicit_tolerance(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine licensed = probe_machine(*state, "licensed", &def);
	struct th_machine renamed = def;
	renamed.hostname = "elsewhere";
	struct lm_machine here = probe_machine(*state, "renamed", &renamed);

	struct lm_lock_match r = match(&licensed.code, &here.code, 0);
	assert_false(r.accepted);
	assert_int_equal(r.allowed_misses, 0);
	assert_true(match(&licensed.code, &licensed.code, 0).accepted);
	assert_true(match(&licensed.code, &here.code, 1).accepted);

	/* However wide the tolerance, a machine must match something. */
	struct lm_lockcode other = licensed.code;
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		other.digest[c] ^= 1;
	r = match(&licensed.code, &other, LM_CRIT_COUNT);
	assert_false(r.accepted);
	assert_int_equal(r.matched, 0);
}

static void test_default_tolerance_by_size(void **state)
{
	/* (n-1)/2 misses of n: a strict majority must match. */
	const int want[LM_CRIT_COUNT + 1] = {0, 0, 0, 1, 1, 2, 2};
	for (int n = 1; n <= LM_CRIT_COUNT; n++) {
		struct lm_lockcode code = {.present = (uint16_t)((1u << n) - 1)};
		struct lm_lock_match r = match(&code, &code, LM_LOCK_TOLERANCE_DEFAULT);
		assert_true(r.accepted);
		assert_int_equal(r.licensed, n);
		assert_int_equal(r.allowed_misses, want[n]);
	}
	/* A code that records nothing binds to nothing. */
	struct lm_lockcode none = {0}, here = {.present = all_criteria()};
	struct lm_lock_match r = match(&none, &here, LM_LOCK_TOLERANCE_DEFAULT);
	assert_false(r.accepted);
	assert_false(match(&none, &here, 3).accepted);
}

static void test_virtual_interfaces_ignored(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine plain = probe_machine(*state, "plain", &def);

	const char *root = th_path(*state, "virtual");
	th_make_machine(root, &def);
	/* lo, a bridge and a veth have no device link: their addresses are
	 * not the machine's. */
	th_write(root, "sys/class/net/lo/address", "aa:bb:cc:dd:ee:ff\n");
	th_write(root, "sys/class/net/docker0/address", "02:42:ac:11:00:01\n");
	th_write(root, "sys/class/net/veth1a2b3c/address", "7e:11:22:33:44:55\n");
	/* A physical interface with no address yet, or an all-zero one. */
	th_write(root, "sys/class/net/eth3/device/uevent", "DRIVER=e1000\n");
	th_write(root, "sys/class/net/wlan0/address", "00:00:00:00:00:00\n");
	th_write(root, "sys/class/net/wlan0/device/uevent", "DRIVER=iwlwifi\n");
	struct lm_machine m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_MAC], plain.value[LM_CRIT_MAC]);
	assert_memory_equal(&m.code, &plain.code, sizeof m.code);

	/* Only virtual interfaces: the criterion is missing, not empty. */
	struct th_machine no_nic = def;
	memset(no_nic.macs, 0, sizeof no_nic.macs);
	struct lm_machine bare = probe_machine(*state, "bare", &no_nic);
	assert_false(bare.code.present & bit(LM_CRIT_MAC));
	assert_non_null(strstr(bare.source[LM_CRIT_MAC], "no physical network interface"));
}

static void test_interface_order_does_not_matter(void **state)
{
	struct th_machine def = th_machine_default();
	struct lm_machine a = probe_machine(*state, "a", &def);

	/* The same cards on other slots, in the other order, upper-cased. */
	struct th_machine moved = def;
	memset(moved.macs, 0, sizeof moved.macs);
	moved.macs[3] = "52:54:00:12:34:56";
	moved.macs[1] = "52:54:00:AB:CD:EF";
	struct lm_machine b = probe_machine(*state, "b", &moved);
	assert_string_equal(b.value[LM_CRIT_MAC], a.value[LM_CRIT_MAC]);
	assert_memory_equal(&b.code, &a.code, sizeof a.code);
}

/* Writes a mountinfo whose lines are given, replacing the helper's. */
static void write_mountinfo(const char *root, const char *text)
{
	th_write(root, "proc/self/mountinfo", text);
}

static void test_mountinfo_root_only(void **state)
{
	struct th_machine def = th_machine_default();
	const char *root = th_path(*state, "m");
	th_make_machine(root, &def);
	/* sdb1 (the other UUID) mounted first, at /home; optional fields of
	 * varying count before the dash. */
	write_mountinfo(root, "30 1 8:17 / /home rw,relatime shared:2 - ext4 /dev/sdb1 rw\n"
	                      "22 1 8:1 / / rw,relatime shared:1 master:3 - ext4 /dev/sda1 rw\n"
	                      "31 22 8:17 / /srv/ rw - xfs /dev/sdb1 rw\n");
	struct lm_machine m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_DISK], def.disk_uuid);
	assert_non_null(strstr(m.source[LM_CRIT_DISK], "-> sda1"));

	/* A later mount over / hides the earlier: the last one is the root. */
	write_mountinfo(root, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
	                      "40 22 8:17 / / rw - ext4 /dev/sdb1 rw\n");
	m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_DISK], "0000-other");

	/* A container: / is an overlay, which has no UUID. */
	write_mountinfo(root, "500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/a\n");
	m = probe_dir(root);
	assert_false(m.code.present & bit(LM_CRIT_DISK));
	assert_non_null(strstr(m.source[LM_CRIT_DISK], "overlay"));
	/* ... and the rest of the machine is still read. */
	assert_int_equal(m.code.present, all_criteria() & ~bit(LM_CRIT_DISK));

	/* Nothing mounted at /. */
	write_mountinfo(root, "30 1 8:17 / /home rw - ext4 /dev/sdb1 rw\n");
	m = probe_dir(root);
	assert_false(m.code.present & bit(LM_CRIT_DISK));
	assert_non_null(strstr(m.source[LM_CRIT_DISK], "no filesystem mounted at /"));
}

static void test_mapper_device_resolved(void **state)
{
	struct th_machine def = th_machine_default();
	def.disk_uuid = NULL;
	const char *root = th_path(*state, "lvm");
	th_make_machine(root, &def);
	/* mountinfo names /dev/mapper/vg-root, a link to dm-0, which is what
	 * the by-uuid link points at. */
	write_mountinfo(root, "22 1 253:0 / / rw - ext4 /dev/mapper/vg-root rw\n");
	th_write(root, "dev/mapper/x", "");
	th_write(root, "dev/disk/by-uuid/x", "");
	assert_int_equal(symlink("../dm-0", th_path(root, "dev/mapper/vg-root")), 0);
	assert_int_equal(symlink("../../dm-0", th_path(root, "dev/disk/by-uuid/feed-beef")), 0);
	struct lm_machine m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_DISK], "feed-beef");
}

static void test_placeholder_product_uuid_ignored(void **state)
{
	struct th_machine def = th_machine_default();
	def.product_uuid = "00000000-0000-0000-0000-000000000000";
	struct lm_machine m = probe_machine(*state, "zero", &def);
	assert_false(m.code.present & bit(LM_CRIT_PRODUCT_UUID));
	assert_non_null(strstr(m.source[LM_CRIT_PRODUCT_UUID], "placeholder"));

	def.product_uuid = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF";
	m = probe_machine(*state, "ones", &def);
	assert_false(m.code.present & bit(LM_CRIT_PRODUCT_UUID));
}

static void test_cpu_fields(void **state)
{
	struct th_machine def = th_machine_default();
	const char *root = th_path(*state, "m");
	th_make_machine(root, &def);
	/* The first processor's fields; speed and flags are not used. */
	th_write(root, "proc/cpuinfo",
	         "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
	         "model name\t: AMD EPYC 7763\ncpu MHz\t\t: 2450.000\nflags\t\t: fpu vme\n\n"
	         "processor\t: 1\nvendor_id\t: Other\nmodel name\t: Other\n");
	struct lm_machine m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_CPU], "AuthenticAMD/25/1/AMD EPYC 7763");
	th_write(root, "proc/cpuinfo",
	         "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
	         "model name\t: AMD EPYC 7763\ncpu MHz\t\t: 1500.000\nflags\t\t: fpu\n");
	struct lm_machine slower = probe_dir(root);
	assert_int_equal(slower.code.digest[LM_CRIT_CPU], m.code.digest[LM_CRIT_CPU]);

	/* Each field is taken from its first line, wherever that is. */
	th_write(root, "proc/cpuinfo",
	         "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\n"
	         "model name\t: AMD EPYC 7763\n\n"
	         "processor\t: 1\nvendor_id\t: Other\ncpu family\t: 99\nmodel\t\t: 2\n");
	m = probe_dir(root);
	assert_string_equal(m.value[LM_CRIT_CPU], "AuthenticAMD/99/1/AMD EPYC 7763");

	/* A kernel that reports none of the fields. */
	th_write(root, "proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n");
	m = probe_dir(root);
	assert_false(m.code.present & bit(LM_CRIT_CPU));
}

static void test_nothing_readable_is_eio(void **state)
{
	struct lm_machine m;
	assert_int_equal(lm_machine_probe(*state, &m), LMC_EIO);
	assert_int_equal(m.code.present, 0);
	/* Each criterion still says why. */
	for (int c = 0; c < LM_CRIT_COUNT; c++)
		assert_true(strlen(m.source[c]) > 0);
	assert_int_equal(lm_machine_probe(th_path(*state, "does-not-exist"), &m), LMC_EIO);

	/* Empty files are no better than absent ones. */
	th_write(*state, "etc/machine-id", "\n");
	th_write(*state, "proc/sys/kernel/hostname", "");
	assert_int_equal(lm_machine_probe(*state, &m), LMC_EIO);
	assert_non_null(strstr(m.source[LM_CRIT_MACHINE_ID], "empty"));
}

static void test_environment_root_and_public_api(void **state)
{
	struct th_machine def = th_machine_default();
	const char *root = th_path(*state, "m");
	th_make_machine(root, &def);
	struct lm_machine m = probe_dir(root);
	char want[LM_LOCKCODE_TEXT_MAX], got[LM_LOCKCODE_TEXT_MAX];
	assert_int_equal(lm_lockcode_format(&m.code, want, sizeof want), 0);

#ifdef LM_TEST_HOOKS
	assert_int_equal(setenv("LM_HOSTID_ROOT", root, 1), 0);
	struct lm_machine from_env;
	assert_int_equal(lm_machine_probe(NULL, &from_env), 0);
	assert_memory_equal(&from_env.code, &m.code, sizeof m.code);
	assert_int_equal(lmc_lockcode(got, sizeof got), 0);
	assert_string_equal(got, want);
	assert_int_equal(lmc_lockcode(got, 10), LMC_ETOOLARGE);
	assert_int_equal(lmc_lockcode(NULL, 10), LMC_EINVAL);

	assert_int_equal(setenv("LM_HOSTID_ROOT", *state, 1), 0);
	assert_int_equal(lmc_lockcode(got, sizeof got), LMC_EIO);
	assert_string_equal(got, "");
#else
	/* Release builds ignore the variable: it would let a user fake a
	 * node-locked machine. */
	assert_int_equal(setenv("LM_HOSTID_ROOT", root, 1), 0);
	struct lm_machine from_env, real;
	int rc = lm_machine_probe(NULL, &from_env);
	assert_int_equal(rc, lm_machine_probe("/", &real));
	assert_memory_equal(&from_env.code, &real.code, sizeof real.code);
	(void)got;
	(void)want;
#endif
	unsetenv("LM_HOSTID_ROOT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_digest_known_values),
	        cmocka_unit_test(test_format_parse_round_trip),
	        cmocka_unit_test(test_format_layout),
	        cmocka_unit_test(test_format_refuses_invalid),
	        cmocka_unit_test_setup_teardown(test_every_single_typo_refused, setup, teardown),
	        cmocka_unit_test(test_typing_variants_accepted),
	        cmocka_unit_test(test_garbage_refused),
	        cmocka_unit_test_setup_teardown(test_probe_reads_each_criterion, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_code_stable_across_probes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_one_change_accepted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_two_of_six_changed_accepted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_three_of_six_changed_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_criterion_is_a_miss, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_explicit_tolerance, setup, teardown),
	        cmocka_unit_test(test_default_tolerance_by_size),
	        cmocka_unit_test_setup_teardown(test_virtual_interfaces_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_interface_order_does_not_matter, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_mountinfo_root_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mapper_device_resolved, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_placeholder_product_uuid_ignored, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cpu_fields, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_nothing_readable_is_eio, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_environment_root_and_public_api, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
