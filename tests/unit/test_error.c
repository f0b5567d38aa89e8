/* One error space: every code lmd, liblmc and the tools use is an LMC_E*
 * code with a name, a message and a hint, and nothing outside the range
 * passes for one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static void test_every_code_is_known(void **state)
{
	(void)state;
	for (int code = 0; code >= LMC_ERROR_MIN; code--) {
		const char *name = lmc_errname(code);
		if (strncmp(name, "LMC_", 4) == 0 && strcmp(name, "LMC_EUNKNOWN") != 0 &&
		    strcmp(lmc_strerror(code), "unknown error") != 0 && *lmc_errhint(code) != '\0')
			continue;
		fail_msg("code %d: name %s, message \"%s\"", code, name, lmc_strerror(code));
	}
}

static void test_names_are_unique(void **state)
{
	(void)state;
	for (int a = 0; a >= LMC_ERROR_MIN; a--)
		for (int b = a - 1; b >= LMC_ERROR_MIN; b--)
			if (strcmp(lmc_errname(a), lmc_errname(b)) == 0)
				fail_msg("codes %d and %d are both %s", a, b, lmc_errname(a));
}

static void test_outside_the_range(void **state)
{
	(void)state;
	const int outside[] = {1, LMC_ERROR_MIN - 1, -1000};
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		assert_string_equal(lmc_errname(outside[i]), "LMC_EUNKNOWN");
		assert_string_equal(lmc_strerror(outside[i]), "unknown error");
	}
}

/* The cluster's "outcome unknown" is one of them, no longer a private
 * -1000 beside them. */
static void test_in_doubt(void **state)
{
	(void)state;
	assert_string_equal(lmc_errname(LMC_EINDOUBT), "LMC_EINDOUBT");
	assert_true(LMC_EINDOUBT >= LMC_ERROR_MIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_code_is_known),
	        cmocka_unit_test(test_names_are_unique),
	        cmocka_unit_test(test_outside_the_range),
	        cmocka_unit_test(test_in_doubt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
