/* Commands as lmd builds them (lmd/command.h): stamped with the wall
 * clock, packed whole whatever their size up to the cluster's limit, and
 * applied by the pool as sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "lmd/command.h"
#include "lmd/pool.h"
#include "lmd/walltime.h"
#include "proto/frame.h"
#include "tests/unit/helpers.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Small commands sit in the struct; a large one is sized from what it
 * holds: nothing caps it at a fixed buffer (lmd once packed into 1 KiB). */
static void test_sizes(void **state)
{
	(void)state;
	struct lm_command cmd;
	int64_t before = lm_walltime_us();
	assert_int_equal(lm_command_checkin(&cmd, 7, 3, 42), 0);
	assert_ptr_equal(cmd.data, cmd.local);
	Lmcmd__Command *c = lmcmd__command__unpack(NULL, cmd.len, cmd.data);
	assert_non_null(c);
	assert_int_equal(c->body_case, LMCMD__COMMAND__BODY_CHECKIN);
	assert_true(c->has_time_us && c->time_us >= before && c->time_us <= lm_walltime_us());
	assert_int_equal(c->checkin->handle, 42);
	lmcmd__command__free_unpacked(c, NULL);
	lm_command_release(&cmd);

	char *user = repeat('u', 3000), *host = repeat('h', 3000), *display = repeat('d', 3000);
	uint8_t digest[32] = {1};
	struct lm_command_session id = {.session_id = 9,
	                                .secret_digest = digest,
	                                .user = user,
	                                .host = host,
	                                .display = display,
	                                .lock_code = "",
	                                .app_version = "1.0",
	                                .pid = 1};
	assert_int_equal(lm_command_open_session(&cmd, &id), 0);
	assert_true(cmd.len > 9000);
	c = lmcmd__command__unpack(NULL, cmd.len, cmd.data);
	assert_non_null(c);
	assert_int_equal(c->open_session->user.len, 3000);
	assert_int_equal(c->open_session->display.len, 3000);
	lmcmd__command__free_unpacked(c, NULL);
	lm_command_release(&cmd);
	free(user);
	free(host);
	free(display);
}

/* The longest identity the wire allows (proto/frame.h) is committed whole:
 * the pool stores every byte of it. */
static void test_longest_identity_applies_whole(void **state)
{
	(void)state;
	char err[256];
	char *dir = th_tempdir();
	struct lm_pool *pool;
	if (lm_pool_open(&pool, dir, err, sizeof err) != 0)
		fail_msg("lm_pool_open: %s", err);
	char *user = repeat('u', LM_WIRE_USER_MAX), *host = repeat('h', LM_WIRE_HOST_MAX),
	     *display = repeat('d', LM_WIRE_DISPLAY_MAX),
	     *lock_code = repeat('L', LM_WIRE_LOCKCODE_MAX),
	     *app_version = repeat('v', LM_WIRE_VERSION_MAX);
	uint8_t digest[32] = {1};
	struct lm_command_session id = {.session_id = 5,
	                                .secret_digest = digest,
	                                .user = user,
	                                .host = host,
	                                .display = display,
	                                .lock_code = lock_code,
	                                .app_version = app_version,
	                                .pid = 4242};
	struct lm_command cmd;
	assert_int_equal(lm_command_open_session(&cmd, &id), 0);
	print_message("an OpenSession of the longest identity packs to %zu bytes\n", cmd.len);
	struct lm_pool_result res;
	assert_int_equal(lm_pool_apply(pool, 1, cmd.data, cmd.len, &res), 0);
	assert_int_equal(res.code, 0);
	lm_command_release(&cmd);

	struct lm_pool_session ps;
	assert_int_equal(lm_pool_session(pool, 5, &ps), 0);
	assert_string_equal(ps.user, user);
	assert_string_equal(ps.host, host);
	assert_string_equal(ps.display, display);
	assert_string_equal(ps.lock_code, lock_code);
	assert_string_equal(ps.app_version, app_version);
	assert_int_equal(ps.pid, 4242);
	free(user);
	free(host);
	free(display);
	free(lock_code);
	free(app_version);
	lm_pool_close(pool);
	th_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_longest_identity_applies_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
