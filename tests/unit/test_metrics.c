/* What /metrics counts and how its texts are escaped (lmd/metrics.h,
 * lmd/text.h): the latency histogram is cumulative with a +Inf bucket,
 * denials land under their code, and names from clients cannot break the
 * Prometheus text or the dashboard's JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lmd/metrics.h"
#include "lmd/text.h"

static void test_latency_buckets_are_cumulative(void **state)
{
	struct lm_metrics m = {0};
	lm_metrics_checkout(&m, 0, 300000);                   /* 0.3 ms */
	lm_metrics_checkout(&m, 0, 7000000);                  /* 7 ms */
	lm_metrics_checkout(&m, LMC_ENOSEATS, 10000000);      /* 10 ms: on the bound */
	lm_metrics_checkout(&m, LMC_EDENIED, 60000000000ull); /* a minute */
	assert_int_equal(m.checkouts, 2);
	assert_int_equal(m.denials[-LMC_ENOSEATS], 1);
	assert_int_equal(m.denials[-LMC_EDENIED], 1);
	assert_int_equal(m.latency_count, 4);
	/* Bounds 0.0005, 0.001, 0.0025, 0.005, 0.01, ..., 10, then +Inf. */
	assert_int_equal(m.latency_buckets[0], 1);
	assert_int_equal(m.latency_buckets[3], 1);
	assert_int_equal(m.latency_buckets[4], 3);
	assert_int_equal(m.latency_buckets[LM_METRICS_LATENCY_BUCKETS - 1], 3);
	assert_int_equal(m.latency_buckets[LM_METRICS_LATENCY_BUCKETS], 4);
	for (int i = 1; i <= LM_METRICS_LATENCY_BUCKETS; i++)
		assert_true(m.latency_buckets[i - 1] <= m.latency_buckets[i]);
	assert_true(m.latency_sum_s > 60.017 && m.latency_sum_s < 60.018);
}

static void test_codes_outside_the_table_are_not_denials(void **state)
{
	struct lm_metrics m = {0};
	lm_metrics_checkout(&m, LMC_ERROR_MIN - 1, 1000);
	lm_metrics_checkout(&m, 5, 1000);
	assert_int_equal(m.checkouts, 0);
	for (size_t i = 0; i < sizeof m.denials / sizeof m.denials[0]; i++)
		assert_int_equal(m.denials[i], 0);
	assert_int_equal(m.latency_count, 2);
}

static void test_label_values_are_escaped(void **state)
{
	struct lm_text t = {0};
	lm_text_printf(&t, "lmd_x{user=");
	lm_text_label(&t, "a\"b\\c\nd");
	lm_text_printf(&t, "} %d", 1);
	assert_false(t.oom);
	assert_string_equal(t.data, "lmd_x{user=\"a\\\"b\\\\c\\nd\"} 1");
	size_t len;
	char *taken = lm_text_take(&t, &len);
	assert_int_equal(len, strlen(taken));
	assert_null(t.data);
	free(taken);
}

static void test_json_strings_are_escaped(void **state)
{
	struct lm_text t = {0};
	lm_text_json(&t, "al\"ice\\</script>\x01\t");
	assert_string_equal(t.data, "\"al\\\"ice\\\\\\u003c/script>\\u0001\\u0009\"");
	/* A long text grows the buffer. */
	size_t head = t.len;
	for (int i = 0; i < 2000; i++)
		lm_text_printf(&t, "%04d", i);
	assert_int_equal(t.len, strlen(t.data));
	assert_int_equal(t.len, head + 8000);
	lm_text_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_latency_buckets_are_cumulative),
	        cmocka_unit_test(test_codes_outside_the_table_are_not_denials),
	        cmocka_unit_test(test_label_values_are_escaped),
	        cmocka_unit_test(test_json_strings_are_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
