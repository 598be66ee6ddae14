/*
 * test_client_pace.c - absolute send deadlines (mock-client/pace.h): no
 * drift over an hour, jitter that delays but never reorders and replays
 * from its seed, timestamps from the frame number, odd chunk sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mock-client/pace.h"

#define MS 1000000ull

static void deadlines_are_start_plus_k_periods_without_drift(void **state)
{
	mc_pace_t p;
	const uint64_t start = 123456789;

	(void)state;
	assert_int_equal(mc_pace_init(&p, start, 160, 8000, 0, 1), 0);
	for (uint64_t k = 0; k < 180000; k++) { /* an hour of 20 ms frames */
		assert_int_equal(mc_pace_frame(&p), k);
		assert_true(mc_pace_due(&p) == start + k * 20 * MS);
		mc_pace_advance(&p);
	}
}

static void odd_chunk_has_exact_fractional_period(void **state)
{
	mc_pace_t p;

	(void)state;
	/* 33 samples = 4.125 ms: 8000 frames are exactly 33 s. */
	mc_pace_init(&p, 0, 33, 8000, 0, 1);
	assert_true(mc_pace_offset_ns(&p, 8000) == 33000 * MS);
	assert_true(mc_pace_offset_ns(&p, 1) == 4125000);
	assert_int_equal(mc_pace_timestamp_ms(&p, 3), 12); /* 12.375 ms */
}

static void timestamps_count_milliseconds_of_audio(void **state)
{
	mc_pace_t p;

	(void)state;
	mc_pace_init(&p, 5 * MS, 160, 8000, 30, 7);
	assert_int_equal(mc_pace_timestamp_ms(&p, 0), 0);
	assert_int_equal(mc_pace_timestamp_ms(&p, 1), 20);
	assert_int_equal(mc_pace_timestamp_ms(&p, 50), 1000);
}

static void jitter_delays_within_bound_and_keeps_order(void **state)
{
	mc_pace_t p;
	uint64_t prev = 0, delayed = 0;

	(void)state;
	mc_pace_init(&p, 0, 160, 8000, 40, 99);
	for (uint64_t k = 0; k < 10000; k++) {
		uint64_t nominal = k * 20 * MS, due = mc_pace_due(&p);

		assert_true(due >= nominal);
		assert_true(due >= prev);
		/* Held back at most 40 ms past its own deadline, or behind the
		 * frame ahead of it, itself within bounds. */
		assert_true(due <= nominal + 40 * MS || due == prev);
		delayed += due > nominal;
		prev = due;
		mc_pace_advance(&p);
	}
	assert_true(delayed > 9000);
}

static void jitter_replays_from_its_seed(void **state)
{
	mc_pace_t a, b, c;
	int differ = 0;

	(void)state;
	mc_pace_init(&a, 0, 160, 8000, 40, 1234);
	mc_pace_init(&b, 0, 160, 8000, 40, 1234);
	mc_pace_init(&c, 0, 160, 8000, 40, 4321);
	for (int k = 0; k < 1000; k++) {
		assert_true(mc_pace_due(&a) == mc_pace_due(&b));
		differ += mc_pace_due(&a) != mc_pace_due(&c);
		mc_pace_advance(&a);
		mc_pace_advance(&b);
		mc_pace_advance(&c);
	}
	assert_true(differ > 900);
}

static void zero_sizes_are_refused(void **state)
{
	mc_pace_t p;

	(void)state;
	assert_int_equal(mc_pace_init(&p, 0, 0, 8000, 0, 1), -EINVAL);
	assert_int_equal(mc_pace_init(&p, 0, 160, 0, 0, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(deadlines_are_start_plus_k_periods_without_drift),
	    cmocka_unit_test(odd_chunk_has_exact_fractional_period),
	    cmocka_unit_test(timestamps_count_milliseconds_of_audio),
	    cmocka_unit_test(jitter_delays_within_bound_and_keeps_order),
	    cmocka_unit_test(jitter_replays_from_its_seed),
	    cmocka_unit_test(zero_sizes_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
