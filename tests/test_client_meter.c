/*
 * test_client_meter.c - the load generator's cross-call measurements
 * (mock-client/meter.h): a stamp's send time is found by talker and
 * sequence number, forgotten after MC_METER_RING newer ones, and latencies
 * over the threshold count as late.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mock-client/meter.h"

static void a_registered_talkers_stamp_is_found(void **state)
{
	mc_meter_t *m = mc_meter_new(4, 150000);
	uint64_t ns = 0;

	(void)state;
	assert_non_null(m);
	assert_int_equal(mc_meter_add_talker(m, 2), 0);
	mc_meter_stamp_sent(m, 2, 7, 123456789);
	assert_true(mc_meter_stamp_time(m, 2, 7, &ns));
	assert_int_equal(ns, 123456789);
	/* Another sequence number, or another talker, is unknown. */
	assert_false(mc_meter_stamp_time(m, 2, 8, &ns));
	assert_false(mc_meter_stamp_time(m, 1, 7, &ns));
	mc_meter_free(m);
}

static void an_unregistered_talker_is_ignored(void **state)
{
	mc_meter_t *m = mc_meter_new(4, 150000);
	uint64_t ns;

	(void)state;
	mc_meter_stamp_sent(m, 1, 7, 1000);
	assert_false(mc_meter_stamp_time(m, 1, 7, &ns));
	assert_int_equal(mc_meter_add_talker(m, 4), -EINVAL);
	mc_meter_stamp_sent(m, 4, 7, 1000);
	assert_false(mc_meter_stamp_time(m, 4, 7, &ns));
	mc_meter_free(m);
}

static void a_stamp_is_forgotten_after_a_ring_of_newer_ones(void **state)
{
	mc_meter_t *m = mc_meter_new(1, 150000);
	uint64_t ns;

	(void)state;
	assert_int_equal(mc_meter_add_talker(m, 0), 0);
	for (unsigned k = 0; k <= MC_METER_RING; k++)
		mc_meter_stamp_sent(m, 0, (uint16_t)k, 1000 + k);
	assert_false(mc_meter_stamp_time(m, 0, 0, &ns));
	assert_true(mc_meter_stamp_time(m, 0, 1, &ns));
	assert_int_equal(ns, 1001);
	/* Sequence numbers wrap at 16 bits. */
	mc_meter_stamp_sent(m, 0, 65535, 5);
	assert_true(mc_meter_stamp_time(m, 0, 65535, &ns));
	assert_int_equal(ns, 5);
	mc_meter_free(m);
}

static void latency_over_the_threshold_is_late(void **state)
{
	mc_meter_t *m = mc_meter_new(1, 150000);

	(void)state;
	assert_false(mc_meter_latency(m, 150000));
	assert_true(mc_meter_latency(m, 150001));
	mc_meter_jitter(m, 300);
	mc_meter_send_lag(m, 40);
	assert_int_equal(mc_meter_latency_hist(m)->count, 2);
	assert_int_equal(mc_meter_latency_hist(m)->max_us, 150001);
	assert_int_equal(mc_meter_jitter_hist(m)->count, 1);
	assert_int_equal(mc_meter_send_lag_hist(m)->max_us, 40);
	mc_meter_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_registered_talkers_stamp_is_found),
	    cmocka_unit_test(an_unregistered_talker_is_ignored),
	    cmocka_unit_test(a_stamp_is_forgotten_after_a_ring_of_newer_ones),
	    cmocka_unit_test(latency_over_the_threshold_is_late),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
