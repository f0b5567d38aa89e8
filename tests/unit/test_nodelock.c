#include "config.h"
/* Node-locked licenses honoured with no server: the checks of nodelock.c and
 * the public lmc_open / lmc_checkout path an application uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/lmc.h"
#include "core/date.h"
#include "core/key.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "core/nodelock.h"
#include "tests/unit/helpers.h"
#include "vendor/sign.h"

struct fixture {
	char *dir;
	char *machine_root; /* this machine, simulated */
	char lockcode[LM_LOCKCODE_TEXT_MAX];
	struct lm_machine here;
	EVP_PKEY *priv, *pub;
	const char *pub_path;
};

static struct fixture fx;

static char *date_from_today(int delta, char *buf)
{
	lm_date_format(lm_date_today() + delta, buf, 16);
	return buf;
}

/* Signs text with the fixture's vendor key and writes it as name. */
static const char *write_signed(const char *name, const char *text)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	int rc = lm_license_parse(text, strlen(text), &f, &err);
	if (rc != 0)
		fail_msg("template does not parse: line %d: %s", err.lineno, err.message);
	assert_int_equal(lm_license_sign(&f, fx.priv), 0);
	const char *path = th_path(fx.dir, name);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(lm_license_print(&f, out), 0);
	fclose(out);
	lm_license_free(&f);
	return path;
}

static int check_file(const char *path, const char *feature, const char *version, char *reason)
{
	struct lm_license_file f;
	struct lm_parse_error err;
	assert_int_equal(lm_license_load(path, &f, &err), 0);
	const struct lm_license *usable;
	int rc = lm_nodelock_check(&f, fx.pub, &fx.here, feature, version, lm_date_today(), &usable,
	                           reason, 512);
	assert_true((rc == 0) == (usable != NULL));
	lm_license_free(&f);
	return rc;
}

static int setup(void **state)
{
	fx.dir = th_tempdir();
	fx.machine_root = strdup(th_path(fx.dir, "machine"));
	struct th_machine m = th_machine_default();
	th_make_machine(fx.machine_root, &m);
	assert_int_equal(lm_machine_probe(fx.machine_root, &fx.here), 0);
	assert_int_equal(lm_lockcode_format(&fx.here.code, fx.lockcode, sizeof fx.lockcode), 0);
	char err[256];
	char priv_path[4096];
	snprintf(priv_path, sizeof priv_path, "%s", th_path(fx.dir, "vendor.pem"));
	fx.pub_path = strdup(th_path(fx.dir, "vendor.pub"));
	assert_int_equal(lm_key_generate(priv_path, fx.pub_path, err, sizeof err), 0);
	assert_int_equal(lm_key_load_private(priv_path, &fx.priv, err, sizeof err), 0);
	assert_int_equal(lm_key_load_public(fx.pub_path, &fx.pub, err, sizeof err), 0);
	return 0;
}

static int teardown(void **state)
{
	EVP_PKEY_free(fx.priv);
	EVP_PKEY_free(fx.pub);
	th_rmtree(fx.dir);
	free(fx.dir);
	free(fx.machine_root);
	free((char *)fx.pub_path);
	return 0;
}

static void nodelocked_line_is_usable_here(void **state)
{
	char text[1024], reason[512];
	snprintf(text, sizeof text, "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n",
	         fx.lockcode);
	const char *path = write_signed("ok.lic", text);
	assert_int_equal(check_file(path, "stats", "29.0", reason), 0);
	assert_int_equal(check_file(path, "stats", "28.5", reason), 0);
	assert_int_equal(check_file(path, "stats", NULL, reason), 0);
}

static void each_failure_has_its_code(void **state)
{
	char text[1024], reason[512], d1[16], d2[16];
	snprintf(text, sizeof text, "FEATURE stats acme 29.0 %s uncounted HOSTID=%s\n",
	         date_from_today(-1, d1), fx.lockcode);
	assert_int_equal(check_file(write_signed("expired.lic", text), "stats", "29", reason),
	                 LMC_EEXPIRED);
	assert_non_null(strstr(reason, d1));

	/* The expiry date itself is still a day of use. */
	snprintf(text, sizeof text, "FEATURE stats acme 29.0 %s uncounted HOSTID=%s\n",
	         date_from_today(0, d1), fx.lockcode);
	assert_int_equal(check_file(write_signed("today.lic", text), "stats", "29", reason), 0);

	snprintf(text, sizeof text, "FEATURE stats acme 29.0 %s uncounted HOSTID=%s START=%s\n",
	         date_from_today(30, d1), fx.lockcode, date_from_today(2, d2));
	assert_int_equal(check_file(write_signed("future.lic", text), "stats", "29", reason),
	                 LMC_ENOTSTARTED);
	assert_non_null(strstr(reason, d2));

	snprintf(text, sizeof text, "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n",
	         fx.lockcode);
	const char *path = write_signed("v29.lic", text);
	assert_int_equal(check_file(path, "stats", "29.1", reason), LMC_EVERSION);
	assert_int_equal(check_file(path, "stats", "30", reason), LMC_EVERSION);
	assert_int_equal(check_file(path, "graphics", "1", reason), LMC_ENOFEATURE);

	snprintf(text, sizeof text, "SERVER lic1 %s 27000\nFEATURE stats acme 29.0 permanent 5\n",
	         fx.lockcode);
	assert_int_equal(check_file(write_signed("counted.lic", text), "stats", "29", reason),
	                 LMC_ECOUNTED);
}

static void another_machine_is_refused_a_changed_card_is_not(void **state)
{
	char text[1024], reason[512];
	snprintf(text, sizeof text, "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n",
	         fx.lockcode);
	const char *path = write_signed("host.lic", text);

	struct lm_machine saved = fx.here;
	/* A new network card and a renamed host: a minority of six criteria. */
	struct th_machine m = th_machine_default();
	m.macs[0] = "52:54:00:99:99:99";
	m.hostname = "renamed";
	char *root = th_tempdir();
	th_make_machine(root, &m);
	assert_int_equal(lm_machine_probe(root, &fx.here), 0);
	assert_int_equal(check_file(path, "stats", "29", reason), 0);
	th_rmtree(root);
	free(root);

	/* Another machine altogether. */
	m = (struct th_machine){.machine_id = "0123456789abcdef0123456789abcdef",
	                        .macs = {"02:00:00:00:00:01"},
	                        .hostname = "elsewhere",
	                        .cpu_model = "AMD EPYC 7763"};
	root = th_tempdir();
	th_make_machine(root, &m);
	assert_int_equal(lm_machine_probe(root, &fx.here), 0);
	assert_int_equal(check_file(path, "stats", "29", reason), LMC_EWRONGHOST);
	assert_non_null(strstr(reason, "machine_id differs"));
	th_rmtree(root);
	free(root);
	fx.here = saved;
}

/* HOSTID=ANY and DEMO (FlexLM's): signed for every machine, so another
 * machine altogether may use them, still within their dates. */
static void any_and_demo_lines_are_usable_on_any_machine(void **state)
{
	char text[1024], reason[512], d1[16];
	snprintf(text, sizeof text,
	         "FEATURE stats acme 29.0 permanent 0 HOSTID=ANY\n"
	         "FEATURE demo acme 1.0 permanent uncounted HOSTID=DEMO\n"
	         "FEATURE old acme 1.0 %s uncounted HOSTID=ANY\n"
	         "FEATURE locked acme 1.0 permanent uncounted HOSTID=%s\n",
	         date_from_today(-1, d1), fx.lockcode);
	const char *path = write_signed("any.lic", text);
	struct lm_machine saved = fx.here;
	struct th_machine m = {.machine_id = "0123456789abcdef0123456789abcdef",
	                       .macs = {"02:00:00:00:00:01"},
	                       .hostname = "elsewhere",
	                       .cpu_model = "AMD EPYC 7763"};
	char *root = th_tempdir();
	th_make_machine(root, &m);
	assert_int_equal(lm_machine_probe(root, &fx.here), 0);
	assert_int_equal(check_file(path, "stats", "29", reason), 0);
	assert_non_null(strstr(reason, "any machine (HOSTID=ANY)"));
	assert_int_equal(check_file(path, "demo", "1.0", reason), 0);
	assert_non_null(strstr(reason, "HOSTID=DEMO"));
	assert_int_equal(check_file(path, "old", "1.0", reason), LMC_EEXPIRED);
	assert_int_equal(check_file(path, "locked", "1.0", reason), LMC_EWRONGHOST);
	th_rmtree(root);
	free(root);
	fx.here = saved;
}

static void a_line_signed_by_another_vendor_is_refused(void **state)
{
	char text[1024], reason[512];
	snprintf(text, sizeof text, "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n",
	         fx.lockcode);
	const char *path = write_signed("theirs.lic", text);
	EVP_PKEY *ours = fx.pub, *other = NULL;
	char err[256];
	char *dir = th_tempdir();
	assert_int_equal(
	        lm_key_generate(th_path(dir, "o.pem"), th_path(dir, "o.pub"), err, sizeof err), 0);
	assert_int_equal(lm_key_load_public(th_path(dir, "o.pub"), &other, err, sizeof err), 0);
	fx.pub = other;
	assert_int_equal(check_file(path, "stats", "29", reason), LMC_EBADSIG);
	fx.pub = ours;
	EVP_PKEY_free(other);
	th_rmtree(dir);
	free(dir);
}

/* Of an expired line and a current line for another machine, the second
 * explains the refusal: renewing would not help, rehosting would. */
static void the_most_telling_failure_is_reported(void **state)
{
	char text[2048], reason[512], d1[16];
	struct lm_lockcode other = {.present = 1u << LM_CRIT_MACHINE_ID, .digest = {12345}};
	char other_text[LM_LOCKCODE_TEXT_MAX];
	assert_int_equal(lm_lockcode_format(&other, other_text, sizeof other_text), 0);
	snprintf(text, sizeof text,
	         "FEATURE stats acme 29.0 %s uncounted HOSTID=%s\n"
	         "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n",
	         date_from_today(-10, d1), fx.lockcode, other_text);
	assert_int_equal(check_file(write_signed("two.lic", text), "stats", "29", reason),
	                 LMC_EWRONGHOST);
	assert_non_null(strstr(reason, "bound to another machine"));
}

static void applications_check_out_through_the_public_api(void **state)
{
#ifndef LM_TEST_HOOKS
	skip(); /* needs LM_HOSTID_ROOT to run as the simulated machine */
#endif
	char text[1024], d1[16];
	snprintf(text, sizeof text,
	         "FEATURE stats acme 29.0 permanent uncounted HOSTID=%s\n"
	         "FEATURE old acme 1.0 %s uncounted HOSTID=%s\n",
	         fx.lockcode, date_from_today(-3, d1), fx.lockcode);
	const char *path = write_signed("app.lic", text);
	setenv("LM_HOSTID_ROOT", fx.machine_root, 1);

	struct lmc_ctx *ctx;
	char err[256];
	struct lmc_options opts = {.vendor_pubkey = fx.pub_path, .license_source = path};
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), 0);
	uint64_t h1, h2, h3;
	assert_int_equal(lmc_checkout(ctx, "stats", "29.0", 1, 0, &h1), 0);
	assert_int_equal(lmc_checkout(ctx, "stats", "20", 2, 0, &h2), 0);
	assert_int_not_equal(h1, h2);
	assert_int_equal(lmc_checkout(ctx, "stats", "30", 1, 0, &h3), LMC_EVERSION);
	assert_non_null(strstr(lmc_last_error(ctx), "30"));
	assert_int_equal(lmc_checkout(ctx, "old", "1.0", 1, 0, &h3), LMC_EEXPIRED);
	assert_non_null(strstr(lmc_last_error(ctx), d1));
	assert_int_equal(lmc_checkout(ctx, "nothing", "1.0", 1, 0, &h3), LMC_ENOFEATURE);
	assert_int_equal(lmc_checkout(ctx, "stats", "not-a-version", 1, 0, &h3), LMC_EINVAL);
	assert_int_equal(lmc_checkout(ctx, "stats", "29", 0, 0, &h3), LMC_EINVAL);
	assert_int_equal(lmc_checkin(ctx, h1), 0);
	assert_int_equal(lmc_checkin(ctx, h1), LMC_ENOHANDLE);
	assert_int_equal(lmc_checkin(ctx, h2), 0);
	lmc_close(ctx);

	/* Running on another machine: the same file is refused. */
	char *root = th_tempdir();
	struct th_machine m = {.machine_id = "ffffffffffffffffffffffffffffff00",
	                       .hostname = "laptop"};
	th_make_machine(root, &m);
	setenv("LM_HOSTID_ROOT", root, 1);
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), 0);
	assert_int_equal(lmc_checkout(ctx, "stats", "29.0", 1, 0, &h1), LMC_EWRONGHOST);
	lmc_close(ctx);
	unsetenv("LM_HOSTID_ROOT");
	th_rmtree(root);
	free(root);
}

static void open_reports_bad_inputs(void **state)
{
	struct lmc_ctx *ctx;
	char err[256];
	struct lmc_options opts = {.vendor_pubkey = fx.pub_path,
	                           .license_source = th_path(fx.dir, "missing.lic")};
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), LMC_EIO);
	assert_null(ctx);
	assert_non_null(strstr(err, "missing.lic"));

	th_write(fx.dir, "broken.lic", "FEATURE stats acme 29.0 permanent\n");
	opts.license_source = th_path(fx.dir, "broken.lic");
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), LMC_ESYNTAX);
	assert_non_null(strstr(err, "broken.lic:1"));

	opts.vendor_pubkey = th_path(fx.dir, "broken.lic");
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), LMC_EKEY);
	opts.vendor_pubkey = NULL;
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), LMC_EINVAL);
}

/* SUPERSEDE on node-locked lines: the line issued before a signed SUPERSEDE
 * line of the same feature is not used, and a refusal says which line
 * replaced it; an edited superseding line replaces nothing. */
static void superseded_lines_are_not_used(void **state)
{
	(void)state;
	char text[1024], reason[512];
	snprintf(text, sizeof text,
	         "FEATURE stats acme 29.0 permanent uncounted HOSTID=ANY ISSUED=2025-01-10\n"
	         "FEATURE stats acme 28.0 permanent uncounted HOSTID=%s ISSUED=2026-02-01 "
	         "SUPERSEDE\n"
	         "FEATURE plot acme 1.0 permanent uncounted HOSTID=ANY ISSUED=2025-01-10\n"
	         "FEATURE draw acme 1.0 permanent uncounted HOSTID=ANY ISSUED=2026-02-01 "
	         "SUPERSEDE=\"plot\"\n",
	         fx.lockcode);
	const char *path = write_signed("supersede.lic", text);
	/* 29.0 would serve a request for 29, but the 28.0 line replaced it. */
	assert_int_equal(check_file(path, "stats", "28", reason), 0);
	assert_int_equal(check_file(path, "stats", "29", reason), LMC_EVERSION);
	assert_int_equal(check_file(path, "plot", "1.0", reason), LMC_ENOFEATURE);
	/* Line numbers are the signed file's (lmvendor continues long lines). */
	assert_non_null(strstr(reason, " (FEATURE plot 1.0) is superseded by line "));
	assert_non_null(strstr(reason, " (FEATURE draw 1.0)"));
	assert_int_equal(check_file(path, "draw", "1.0", reason), 0);

	/* An edited superseding line supersedes nothing (and is not usable). */
	char edited[4096];
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	size_t n = fread(edited, 1, sizeof edited - 1, in);
	fclose(in);
	edited[n] = '\0';
	char *at = strstr(edited, "SUPERSEDE=plot");
	if (!at)
		at = strstr(edited, "SUPERSEDE=\"plot\"");
	assert_non_null(at);
	at[strcspn(at, "t")] = 'x'; /* plot -> plox */
	th_write(fx.dir, "edited.lic", edited);
	const char *bad = th_path(fx.dir, "edited.lic");
	assert_int_equal(check_file(bad, "plot", "1.0", reason), 0);
	assert_int_equal(check_file(bad, "draw", "1.0", reason), LMC_EBADSIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(nodelocked_line_is_usable_here),
	        cmocka_unit_test(each_failure_has_its_code),
	        cmocka_unit_test(another_machine_is_refused_a_changed_card_is_not),
	        cmocka_unit_test(any_and_demo_lines_are_usable_on_any_machine),
	        cmocka_unit_test(a_line_signed_by_another_vendor_is_refused),
	        cmocka_unit_test(the_most_telling_failure_is_reported),
	        cmocka_unit_test(applications_check_out_through_the_public_api),
	        cmocka_unit_test(open_reports_bad_inputs),
	        cmocka_unit_test(superseded_lines_are_not_used),
	};
	return cmocka_run_group_tests(tests, setup, teardown) ? 1 : 0;
}
