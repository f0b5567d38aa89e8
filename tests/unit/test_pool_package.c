/* PACKAGE components in the pool (lmd/pool_package.c): a component takes
 * seats from its package's enabling line; its version rule; without SUITE
 * each component takes a seat; with SUITE one user's components share one
 * seat, the next user takes another, the last checkin frees it; snapshots
 * keep it all. */
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
#include "lmd/pool.h"
#include "proto/command.pb-c.h"
#include "tests/unit/helpers.h"
#include "tests/unit/pool_fixture.h"

struct usage {
	const char *name;
	uint32_t in_use, issued;
};

static int note_usage(void *arg, const struct lm_pool_feature *f)
{
	struct usage *u = arg;
	if (strcmp(f->name, u->name) == 0) {
		u->in_use = f->in_use;
		u->issued = f->issued;
	}
	return 0;
}

/* Seats in use of feature's pools. */
static uint32_t in_use(struct tp *t, const char *feature)
{
	struct usage u = {.name = feature};
	int32_t today = (int32_t)(now_us / (24 * HOUR_US));
	assert_int_equal(lm_pool_each_feature(t->pool, today, note_usage, NULL, &u), 0);
	return u.in_use;
}

#define PACKAGE_LINES(options)                                                                     \
	"PACKAGE suite acme 1.0 COMPONENTS=\"compA compB:2.0 compC\" " options "\n"                \
	"FEATURE suite acme 1.0 permanent 2\n"

static void test_components_share_the_count(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES(""));
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws2");
	struct lm_pool_result res = checkout(t, 1, 1, "compA");
	assert_int_equal(res.code, 0);
	/* The grant names the enabling line and the PACKAGE line. */
	assert_true(res.has_package);
	assert_non_null(strstr(res.license_text, "FEATURE suite acme"));
	assert_non_null(strstr(res.package_text, "PACKAGE suite acme"));
	take(t, 1, 2, "compB");
	assert_int_equal(in_use(t, "suite"), 2);
	/* Without SUITE each component took a seat: the count is spent. */
	res = checkout(t, 2, 1, "compC");
	assert_int_equal(res.code, LMC_ENOSEATS);
	/* A retry is answered again with the PACKAGE line. */
	res = checkout(t, 1, 2, "compB");
	assert_int_equal(res.code, 0);
	assert_true(res.replayed);
	assert_non_null(strstr(res.package_text, "PACKAGE suite acme"));
	/* An unknown name stays unknown. */
	assert_int_equal(checkout(t, 2, 2, "compZ").code, LMC_ENOFEATURE);
}

static void test_component_versions(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES(""));
	session(t, 1, "alice", "ws1");
	/* compB is 2.0, compA the package's 1.0. */
	assert_int_equal(checkout_version(t, 1, 1, "compB", "2.0").code, 0);
	assert_int_equal(checkout_version(t, 1, 2, "compB", "2.1").code, LMC_EVERSION);
	assert_int_equal(checkout_version(t, 1, 3, "compA", "1.5").code, LMC_EVERSION);
	assert_int_equal(checkout_version(t, 1, 4, "compA", "1.0").code, 0);
}

static void test_no_enabling_line(void **state)
{
	struct tp *t = *state;
	license(t, "PACKAGE suite acme 1.0 COMPONENTS=\"compA\"\n"
	           "FEATURE other acme 1.0 permanent 2\n");
	session(t, 1, "alice", "ws1");
	struct lm_pool_result res = checkout(t, 1, 1, "compA");
	assert_int_equal(res.code, LMC_ENOFEATURE);
	assert_non_null(strstr(res.message, "package suite"));
}

static void test_suite_one_seat_per_user(void **state)
{
	struct tp *t = *state;
	license(t, PACKAGE_LINES("OPTIONS=SUITE"));
	session(t, 1, "alice", "ws1");
	session(t, 2, "alice", "ws1"); /* the same user in a second process */
	session(t, 3, "bob", "ws2");
	session(t, 4, "carol", "ws3");
	uint64_t a = take(t, 1, 1, "compA");
	uint64_t b = take(t, 1, 2, "compB");
	uint64_t c = take(t, 2, 1, "compC");
	assert_int_equal(in_use(t, "suite"), 1);
	uint64_t d = take(t, 3, 1, "compA");
	assert_int_equal(in_use(t, "suite"), 2);
	/* Two suites in use: carol finds none. */
	assert_int_equal(checkout(t, 4, 1, "compA").code, LMC_ENOSEATS);

	/* Snapshot and restore: the same seats and the same digest. */
	void *buf;
	size_t len;
	uint8_t d1[32], d2[32];
	assert_int_equal(lm_pool_snapshot(t->pool, &buf, &len), 0);
	struct tp *u = tp_new();
	assert_int_equal(lm_pool_restore(u->pool, t->index, buf, len), 0);
	free(buf);
	u->index = t->index;
	assert_int_equal(lm_pool_digest(t->pool, d1), 0);
	assert_int_equal(lm_pool_digest(u->pool, d2), 0);
	assert_memory_equal(d1, d2, sizeof d1);
	assert_int_equal(in_use(u, "suite"), 2);

	/* Alice's suite seat stays until her last component goes. */
	checkin(u, 1, 3, a);
	checkin(u, 1, 4, b);
	assert_int_equal(in_use(u, "suite"), 2);
	assert_int_equal(checkout(u, 4, 2, "compA").code, LMC_ENOSEATS);
	checkin(u, 2, 2, c);
	assert_int_equal(in_use(u, "suite"), 1);
	take(u, 4, 3, "compB");
	assert_int_equal(in_use(u, "suite"), 2);
	checkin(u, 3, 2, d);
	assert_int_equal(in_use(u, "suite"), 1);
	/* A session that goes returns its suite seat. */
	close_session(u, 4);
	assert_int_equal(in_use(u, "suite"), 0);
	tp_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_components_share_the_count, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_component_versions, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_no_enabling_line, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_suite_one_seat_per_user, pool_fixture_setup,
	                                        pool_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
