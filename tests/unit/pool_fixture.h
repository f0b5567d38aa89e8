/* One pool in a scratch directory, driven by replicated commands, for the
 * unit tests of the pool (test_pool.c, and the license models' test_pool_named.c,
 * test_pool_package.c): each test gets a fresh pool from
 * pool_fixture_setup, and applies commands at the time now_us, which a test
 * may move. */
#ifndef LM_TESTS_UNIT_POOL_FIXTURE_H
#define LM_TESTS_UNIT_POOL_FIXTURE_H

#include <stdint.h>

#include "core/lockcode.h"
#include "lmd/pool.h"
#include "proto/command.pb-c.h"

#define HOUR_US INT64_C(3600000000)

struct tp {
	char *dir;
	struct lm_pool *pool;
	uint64_t index; /* of the last command applied */
};

/* The time commands carry: 2027-01-01 12:00 UTC at setup. */
extern int64_t now_us;
/* The lock code of the SERVER line of every license set_license makes. */
extern char S1[LM_LOCKCODE_TEXT_MAX];

/* cmocka's setup and teardown: *state is a struct tp. */
int pool_fixture_setup(void **state);
int pool_fixture_teardown(void **state);
struct tp *tp_new(void);
void tp_free(struct tp *t);
/* A new pool restored from t's snapshot at t's index; fails the test
 * unless both pools have the same digest (tp_free it). */
struct tp *tp_restored(struct tp *t);

ProtobufCBinaryData bin(const char *s);
/* Applies c at now_us as the next index; fails the test if the pool could
 * not (a refusal is in the result). */
struct lm_pool_result apply(struct tp *t, Lmcmd__Command *c);
/* SetLicense of body's lines (canonical text, unsigned: apply does not
 * verify) after a SERVER line of S1 and VENDOR acme, with options (NULL:
 * none); license() fails the test on a refusal. */
struct lm_pool_result set_license(struct tp *t, const char *body, const char *options);
void license(struct tp *t, const char *body);
/* Session sid of user on host. */
void session(struct tp *t, uint64_t sid, const char *user, const char *host);
/* One seat of feature (version 1.0, or version); each session makes its
 * requests with ids 1, 2, ...: the test passes it.  take() fails the test
 * on a refusal and returns the handle. */
struct lm_pool_result checkout_version(struct tp *t, uint64_t sid, uint64_t req,
                                       const char *feature, const char *version);
struct lm_pool_result checkout(struct tp *t, uint64_t sid, uint64_t req, const char *feature);
uint64_t take(struct tp *t, uint64_t sid, uint64_t req, const char *feature);
void checkin(struct tp *t, uint64_t sid, uint64_t req, uint64_t handle);
void close_session(struct tp *t, uint64_t sid);

#endif
