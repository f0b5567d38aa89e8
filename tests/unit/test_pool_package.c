/* PACKAGE components in the pool (lmd/pool_package.c): a component takes
 * seats from its package's enabling line; its version rule; without SUITE
 * each component takes a seat; with SUITE one user's components share one
 * seat, the next user takes another, the last checkin frees it;
 * SUITE_DUP_GROUP says who "one user" is; SUITE_RESERVED lists each suite
 * seat as a reservation of the components its holder does not use;
 * snapshots keep it all. */
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
	struct tp *u = tp_restored(t);
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

#define SUITE_LINES(enabling)                                                                      \
	"PACKAGE suite acme 1.0 COMPONENTS=\"compA compB compC\" OPTIONS=SUITE\n"                  \
	"FEATURE suite acme 1.0 permanent 2 " enabling "\n"

static void test_suite_dup_group_default_is_uhd(void **state)
{
	struct tp *t = *state;
	license(t, SUITE_LINES(""));
	session(t, 1, "alice", "ws1");
	session(t, 2, "alice", "ws2");
	take(t, 1, 1, "compA");
	take(t, 2, 1, "compB");
	/* The same user on two hosts: two suite seats. */
	assert_int_equal(in_use(t, "suite"), 2);
}

static void test_suite_dup_group_user(void **state)
{
	struct tp *t = *state;
	license(t, SUITE_LINES("SUITE_DUP_GROUP=U"));
	session(t, 1, "alice", "ws1");
	session(t, 2, "alice", "ws2");
	session(t, 3, "bob", "ws1");
	session(t, 4, "carol", "ws3");
	uint64_t a = take(t, 1, 1, "compA");
	uint64_t b = take(t, 2, 1, "compB");
	/* U: alice is one user wherever she works. */
	assert_int_equal(in_use(t, "suite"), 1);
	take(t, 3, 1, "compA");
	assert_int_equal(in_use(t, "suite"), 2);
	assert_int_equal(checkout(t, 4, 1, "compC").code, LMC_ENOSEATS);

	/* The grouping comes back from the lines after a restore. */
	struct tp *u = tp_restored(t);
	assert_int_equal(in_use(u, "suite"), 2);
	session(u, 5, "alice", "ws5");
	take(u, 5, 1, "compC");
	assert_int_equal(in_use(u, "suite"), 2);
	checkin(u, 1, 2, a);
	checkin(u, 2, 2, b);
	assert_int_equal(in_use(u, "suite"), 2);
	close_session(u, 5);
	assert_int_equal(in_use(u, "suite"), 1);
	tp_free(u);
}

static void test_suite_dup_group_host_site_none(void **state)
{
	struct tp *t = *state;
	/* H: users on one host share a seat. */
	license(t, SUITE_LINES("SUITE_DUP_GROUP=H"));
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws1");
	session(t, 3, "carol", "ws2");
	take(t, 1, 1, "compA");
	take(t, 2, 1, "compB");
	assert_int_equal(in_use(t, "suite"), 1);
	take(t, 3, 1, "compB");
	assert_int_equal(in_use(t, "suite"), 2);

	/* SITE: everyone shares one seat. */
	struct tp *s = tp_new();
	license(s, SUITE_LINES("SUITE_DUP_GROUP=SITE"));
	session(s, 1, "alice", "ws1");
	session(s, 2, "bob", "ws2");
	session(s, 3, "carol", "ws3");
	take(s, 1, 1, "compA");
	take(s, 2, 1, "compB");
	take(s, 3, 1, "compC");
	assert_int_equal(in_use(s, "suite"), 1);
	tp_free(s);

	/* NONE: every component checkout takes a seat of its own, as
	 * without SUITE, even where the line's DUP_GROUP would share. */
	struct tp *n = tp_new();
	license(n, SUITE_LINES("DUP_GROUP=UHD SUITE_DUP_GROUP=NONE"));
	session(n, 1, "alice", "ws1");
	take(n, 1, 1, "compA");
	take(n, 1, 2, "compB");
	assert_int_equal(in_use(n, "suite"), 2);
	assert_int_equal(checkout(n, 1, 3, "compA").code, LMC_ENOSEATS);
	tp_free(n);
}

/* What lm_pool_each_component says of one component. */
struct component_view {
	const char *name;
	uint32_t in_use, reserved;
	int holders;
	char reserved_for[4][LM_POOL_NAMED_NAME_MAX + 1]; /* users of its reservations */
	int nreserved_for;
	bool current;
};

static int note_component(void *arg, const struct lm_pool_feature *f)
{
	struct component_view *v = arg;
	v->current = strcmp(f->name, v->name) == 0;
	if (v->current) {
		v->in_use = f->in_use;
		v->reserved = f->suite_reserved;
	}
	return 0;
}

static int note_component_holder(void *arg, const struct lm_pool_handle *h,
                                 const struct lm_pool_session *s)
{
	struct component_view *v = arg;
	if (!v->current)
		return 0;
	assert_string_equal(h->feature, v->name);
	if (!h->suite_reservation) {
		v->holders++;
	} else if (v->nreserved_for < 4) {
		snprintf(v->reserved_for[v->nreserved_for++], sizeof v->reserved_for[0], "%s",
		         s->user);
	}
	return 0;
}

static struct component_view component(struct tp *t, const char *name)
{
	struct component_view v = {.name = name};
	int32_t today = (int32_t)(now_us / (24 * HOUR_US));
	assert_int_equal(
	        lm_pool_each_component(t->pool, today, note_component, note_component_holder, &v),
	        0);
	return v;
}

static void test_suite_reserved(void **state)
{
	struct tp *t = *state;
	license(t, "PACKAGE suite acme 1.0 COMPONENTS=\"compA compB compC\" "
	           "OPTIONS=SUITE_RESERVED\n"
	           "FEATURE suite acme 1.0 permanent 2\n");
	session(t, 1, "alice", "ws1");
	session(t, 2, "bob", "ws2");
	session(t, 3, "carol", "ws3");
	uint64_t a = take(t, 1, 1, "compA");
	/* Alice's suite seat reserves compB and compC for her. */
	struct component_view v = component(t, "compA");
	assert_int_equal(v.in_use, 1);
	assert_int_equal(v.reserved, 0);
	assert_int_equal(v.holders, 1);
	v = component(t, "compB");
	assert_int_equal(v.in_use, 0);
	assert_int_equal(v.reserved, 1);
	assert_int_equal(v.nreserved_for, 1);
	assert_string_equal(v.reserved_for[0], "alice");
	/* Her own use of another component is her reservation's: no seat. */
	take(t, 1, 2, "compB");
	assert_int_equal(in_use(t, "suite"), 1);
	assert_int_equal(component(t, "compB").reserved, 0);
	take(t, 2, 1, "compC");
	assert_int_equal(in_use(t, "suite"), 2);
	v = component(t, "compA");
	assert_int_equal(v.reserved, 1);
	assert_string_equal(v.reserved_for[0], "bob");
	v = component(t, "compC");
	assert_int_equal(v.in_use, 1);
	assert_int_equal(v.reserved, 1);
	assert_string_equal(v.reserved_for[0], "alice");
	/* Every suite seat is held and reserves the components: carol is
	 * told so. */
	struct lm_pool_result res = checkout(t, 3, 1, "compC");
	assert_int_equal(res.code, LMC_ENOSEATS);
	assert_non_null(strstr(res.message, "SUITE_RESERVED"));

	/* A restore shows the same reservations. */
	struct tp *u = tp_restored(t);
	v = component(u, "compB");
	assert_int_equal(v.in_use, 1);
	assert_int_equal(v.reserved, 1);
	assert_string_equal(v.reserved_for[0], "bob");
	/* The reservation ends with the suite seat. */
	checkin(u, 1, 3, a);
	assert_int_equal(component(u, "compC").reserved, 1);
	close_session(u, 1);
	v = component(u, "compC");
	assert_int_equal(v.reserved, 0);
	assert_int_equal(v.nreserved_for, 0);
	take(u, 3, 2, "compA");
	assert_int_equal(component(u, "compC").reserved, 1);
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
	        cmocka_unit_test_setup_teardown(test_suite_dup_group_default_is_uhd,
	                                        pool_fixture_setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_suite_dup_group_user, pool_fixture_setup,
	                                        pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_suite_dup_group_host_site_none,
	                                        pool_fixture_setup, pool_fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_suite_reserved, pool_fixture_setup,
	                                        pool_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
