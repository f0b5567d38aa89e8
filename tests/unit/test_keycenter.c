/* The key center's store (vendor/keycenter.h): what a transaction writes is
 * there after the commit and absent after an abort, across reopening; the
 * counters number from 1; a scan sees one prefix in key order; and files
 * that are not a key-center store are refused without being written. */
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
#include <jansson.h>

#include "core/error.h"
#include "tests/unit/helpers.h"
#include "vendor/keycenter.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = th_tempdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	th_rmtree(dir);
	free(dir);
	return 0;
}

static const char *store_path(const char *name)
{
	return th_path(dir, name);
}

static json_t *site(const char *company)
{
	return json_pack("{ss}", "company", company);
}

static void test_commit_survives_reopen_abort_leaves_nothing(void **state)
{
	(void)state;
	struct lm_kc kc;
	const char *path = store_path("a.mdb");
	assert_int_equal(lm_kc_open(&kc, path, true), 0);
	json_t *rec = site("Acme");
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_put(&kc, "site/S1", rec), 0);
	assert_int_equal(lm_kc_commit(&kc), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_put(&kc, "site/S2", rec), 0);
	lm_kc_abort(&kc);
	json_decref(rec);
	lm_kc_close(&kc);

	assert_int_equal(lm_kc_open(&kc, path, false), 0);
	assert_int_equal(lm_kc_begin(&kc, false), 0);
	json_t *got = NULL;
	assert_int_equal(lm_kc_get(&kc, "site/S1", &got), 0);
	assert_string_equal(json_string_value(json_object_get(got, "company")), "Acme");
	json_decref(got);
	assert_int_equal(lm_kc_get(&kc, "site/S2", &got), LM_KC_NOTFOUND);
	lm_kc_close(&kc);
}

/* lmvendor serve's one commit a request: under lm_kc_hold a command's
 * commit waits for lm_kc_release, its abort drops its own work alone, and
 * a release without commit drops everything held. */
static void test_held_commits_land_together_or_not_at_all(void **state)
{
	(void)state;
	struct lm_kc kc;
	const char *path = store_path("held.mdb");
	json_t *rec = site("Acme"), *got = NULL;
	assert_int_equal(lm_kc_open(&kc, path, true), 0);
	assert_int_equal(lm_kc_hold(&kc), 0);
	assert_int_equal(lm_kc_hold(&kc), LMC_EINVAL);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_put(&kc, "site/S1", rec), 0);
	assert_int_equal(lm_kc_commit(&kc), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0); /* a refused command */
	assert_int_equal(lm_kc_put(&kc, "site/S2", rec), 0);
	lm_kc_abort(&kc);
	assert_int_equal(lm_kc_begin(&kc, false), 0); /* reads what is held */
	assert_int_equal(lm_kc_get(&kc, "site/S1", &got), 0);
	json_decref(got);
	assert_int_equal(lm_kc_get(&kc, "site/S2", &got), LM_KC_NOTFOUND);
	lm_kc_abort(&kc);
	assert_int_equal(lm_kc_begin(&kc, true), 0); /* the audit entry */
	assert_int_equal(lm_kc_put(&kc, "audit/1", rec), 0);
	assert_int_equal(lm_kc_commit(&kc), 0);
	assert_int_equal(lm_kc_release(&kc, true), 0);
	/* Held, then dropped. */
	assert_int_equal(lm_kc_hold(&kc), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_put(&kc, "site/S3", rec), 0);
	assert_int_equal(lm_kc_commit(&kc), 0);
	assert_int_equal(lm_kc_release(&kc, false), 0);
	json_decref(rec);
	lm_kc_close(&kc);

	assert_int_equal(lm_kc_open(&kc, path, false), 0);
	assert_int_equal(lm_kc_begin(&kc, false), 0);
	assert_int_equal(lm_kc_get(&kc, "site/S1", &got), 0);
	json_decref(got);
	assert_int_equal(lm_kc_get(&kc, "audit/1", &got), 0);
	json_decref(got);
	assert_int_equal(lm_kc_get(&kc, "site/S2", &got), LM_KC_NOTFOUND);
	assert_int_equal(lm_kc_get(&kc, "site/S3", &got), LM_KC_NOTFOUND);
	lm_kc_close(&kc);
}

static void test_counters_number_from_one_and_roll_back(void **state)
{
	(void)state;
	struct lm_kc kc;
	long long n = 0;
	assert_int_equal(lm_kc_open(&kc, store_path("b.mdb"), true), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_next(&kc, "entitlement", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(lm_kc_next(&kc, "entitlement", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(lm_kc_commit(&kc), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_next(&kc, "entitlement", &n), 0);
	assert_int_equal(n, 3);
	lm_kc_abort(&kc);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	assert_int_equal(lm_kc_next(&kc, "entitlement", &n), 0);
	assert_int_equal(n, 3); /* the aborted 3 was never taken */
	lm_kc_abort(&kc);
	lm_kc_close(&kc);
}

struct seen {
	char keys[8][64];
	int n;
};

static int note_key(void *arg, const char *key, json_t *value)
{
	struct seen *s = arg;
	assert_true(json_is_object(value));
	snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", key);
	return 0;
}

static void test_scan_sees_one_prefix_in_key_order(void **state)
{
	(void)state;
	struct lm_kc kc;
	assert_int_equal(lm_kc_open(&kc, store_path("c.mdb"), true), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	json_t *rec = site("x");
	const char *keys[] = {"site/B", "order/1", "site/A", "sitex/C", "site/C"};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(lm_kc_put(&kc, keys[i], rec), 0);
	json_decref(rec);
	struct seen s = {0};
	assert_int_equal(lm_kc_scan(&kc, "site/", note_key, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "site/A");
	assert_string_equal(s.keys[1], "site/B");
	assert_string_equal(s.keys[2], "site/C");
	lm_kc_abort(&kc);
	lm_kc_close(&kc);
}

static void test_a_record_that_is_not_an_object_is_corruption(void **state)
{
	(void)state;
	struct lm_kc kc;
	assert_int_equal(lm_kc_open(&kc, store_path("d.mdb"), true), 0);
	assert_int_equal(lm_kc_begin(&kc, true), 0);
	json_t *arr = json_array();
	assert_int_equal(lm_kc_put(&kc, "site/S1", arr), 0);
	json_decref(arr);
	json_t *got = NULL;
	assert_int_equal(lm_kc_get(&kc, "site/S1", &got), LMC_EIO);
	assert_null(got);
	assert_non_null(strstr(kc.error, "record 'site/S1' is not readable"));
	lm_kc_abort(&kc);
	lm_kc_close(&kc);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_files_that_are_not_stores_are_refused_unwritten(void **state)
{
	(void)state;
	struct lm_kc kc;
	assert_int_equal(lm_kc_open(&kc, store_path("missing.mdb"), false), LMC_EIO);
	assert_non_null(strstr(kc.error, "no such file"));
	lm_kc_close(&kc);

	const char *text = store_path("text.mdb");
	write_file(text, "just some text, not LMDB at all\n");
	assert_int_equal(lm_kc_open(&kc, text, true), LMC_EIO);
	assert_non_null(strstr(kc.error, "is not a key-center store, or it is corrupted"));
	lm_kc_close(&kc);
	struct stat st;
	assert_int_equal(stat(text, &st), 0);
	assert_int_equal(st.st_size, 32);

	const char *empty = store_path("empty.mdb");
	write_file(empty, "");
	assert_int_equal(lm_kc_open(&kc, empty, true), LMC_EIO);
	assert_non_null(strstr(kc.error, "empty (0 bytes)"));
	lm_kc_close(&kc);
	assert_int_equal(stat(empty, &st), 0);
	assert_int_equal(st.st_size, 0);

	assert_int_equal(lm_kc_open(&kc, dir, true), LMC_EINVAL);
	assert_non_null(strstr(kc.error, "not a regular file"));
	lm_kc_close(&kc);
}

static void test_keys_have_a_limit(void **state)
{
	(void)state;
	char key[LM_KC_KEY_MAX + 2], big[LM_KC_KEY_MAX + 1];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(lm_kc_key(key, sizeof key, "site/%s", "S1"), 0);
	assert_string_equal(key, "site/S1");
	assert_int_equal(lm_kc_key(key, sizeof key, "site/%s", big), LMC_ETOOLARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_commit_survives_reopen_abort_leaves_nothing),
	        cmocka_unit_test(test_held_commits_land_together_or_not_at_all),
	        cmocka_unit_test(test_counters_number_from_one_and_roll_back),
	        cmocka_unit_test(test_scan_sees_one_prefix_in_key_order),
	        cmocka_unit_test(test_a_record_that_is_not_an_object_is_corruption),
	        cmocka_unit_test(test_files_that_are_not_stores_are_refused_unwritten),
	        cmocka_unit_test(test_keys_have_a_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
