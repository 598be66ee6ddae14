/*
 * test_client_stats.c - percentiles from the fixed-memory histogram
 * (mock-client/stats.h), checked against a sorted copy of random samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

#include <cmocka.h>

#include "mock-client/stats.h"
#include "tests/support/tsupport.h"

#define N 20000

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void empty_histogram_reports_zero(void **state)
{
	mc_hist_t *h = mc_hist_new();

	(void)state;
	assert_non_null(h);
	assert_int_equal(mc_hist_percentile(h, 50), 0);
	assert_int_equal(mc_hist_percentile(h, 99), 0);
	mc_hist_free(h);
}

static void percentiles_match_sorted_samples_within_a_bucket(void **state)
{
	static uint64_t v[N];
	mc_hist_t *h = mc_hist_new();
	const double ps[] = {1, 50, 90, 99, 99.9, 100};

	(void)state;
	ts_seed("stats");
	for (int i = 0; i < N; i++) {
		v[i] = ts_rand() % 200000; /* up to 200 ms */
		mc_hist_add(h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t rank = (size_t)ceil(ps[i] / 100.0 * N);
		uint64_t exact = v[rank - 1],
			 got = mc_hist_percentile(h, ps[i]);

		/* The bucket's upper edge: never below, less than a bucket
		 * above. */
		assert_true(got >= exact);
		assert_true(got < exact + MC_HIST_BUCKET_US + 1);
	}
	assert_int_equal(mc_hist_percentile(h, 100), v[N - 1]);
	assert_int_equal(h->max_us, v[N - 1]);
	mc_hist_free(h);
}

static void values_past_the_range_are_kept_as_the_maximum(void **state)
{
	mc_hist_t *h = mc_hist_new();

	(void)state;
	mc_hist_add(h, 1000);
	mc_hist_add(h, 60000000); /* a minute */
	assert_int_equal(mc_hist_percentile(h, 50), 1100);
	assert_int_equal(mc_hist_percentile(h, 100), 60000000);
	mc_hist_reset(h);
	assert_int_equal(h->count, 0);
	mc_hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_histogram_reports_zero),
	    cmocka_unit_test(percentiles_match_sorted_samples_within_a_bucket),
	    cmocka_unit_test(values_past_the_range_are_kept_as_the_maximum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
