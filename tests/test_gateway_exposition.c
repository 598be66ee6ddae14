/*
 * The Prometheus exposition's shapes (gateway/metrics.h): labelled
 * families, per-worker series and the cumulative histogram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/metrics.h"

static char buf[65536];

static void refusals_are_labelled_by_close_code_once_counted(void **state)
{
	gw_counters_t n;
	gw_metrics_t m;

	memset(&n, 0, sizeof(n));
	memset(&m, 0, sizeof(m));
	gw__count_refused(&n, 4001);
	gw__count_refused(&n, 4001);
	gw__count_refused(&n, 1007);
	gw__count_refused(&n, 3000); /* no slot: not counted, no crash */
	gw__metrics_add(&m, &n);
	gw__metrics_text(&m, buf, sizeof(buf));
	assert_non_null(strstr(buf, "# TYPE chorus_refused_total counter\n"));
	assert_non_null(strstr(buf, "chorus_refused_total{code=\"4001\"} 2\n"));
	assert_non_null(strstr(buf, "chorus_refused_total{code=\"1007\"} 1\n"));
	assert_null(strstr(buf, "code=\"4004\""));
	assert_non_null(strstr(buf, "chorus_bad_frames_total{kind=\"json\"} "
				    "0\n"));
	assert_int_equal(gw__close_slot(999), -1);
	assert_int_equal(gw__close_slot(4099), GW_CLOSE_SLOTS - 1);
}

static void tick_histogram_is_cumulative_with_sum_and_count(void **state)
{
	gw_counters_t n;
	gw_metrics_t m;

	memset(&n, 0, sizeof(n));
	memset(&m, 0, sizeof(m));
	gw__observe_tick(&n, 40000);	/* <= 50 us */
	gw__observe_tick(&n, 300000);	/* <= 500 us */
	gw__observe_tick(&n, 90000000); /* beyond 50 ms: +Inf */
	gw__metrics_add(&m, &n);
	gw__metrics_text(&m, buf, sizeof(buf));
	assert_non_null(strstr(
	    buf, "chorus_tick_duration_seconds_bucket{le=\"5e-05\"} 1\n"
		 "chorus_tick_duration_seconds_bucket{le=\"0.0001\"} 1\n"
		 "chorus_tick_duration_seconds_bucket{le=\"0.00025\"} 1\n"
		 "chorus_tick_duration_seconds_bucket{le=\"0.0005\"} 2\n"));
	assert_non_null(
	    strstr(buf, "chorus_tick_duration_seconds_bucket{le=\"0.05\"} 2\n"
			"chorus_tick_duration_seconds_bucket{le=\"+Inf\"} 3\n"
			"chorus_tick_duration_seconds_sum 0.090340000\n"
			"chorus_tick_duration_seconds_count 3\n"));
}

static void per_worker_series_have_a_worker_label(void **state)
{
	gw_counters_t n0, n1;
	gw_metrics_t m;

	memset(&n0, 0, sizeof(n0));
	memset(&n1, 0, sizeof(n1));
	memset(&m, 0, sizeof(m));
	gw__count(&n1.worker_tick, 1500000000);
	gw__metrics_worker(&m, &n0, 0);
	gw__metrics_worker(&m, &n1, 1);
	m.worker_rooms[1] = 4;
	gw__metrics_text(&m, buf, sizeof(buf));
	assert_non_null(strstr(buf, "chorus_worker_tick_seconds_total{worker="
				    "\"1\"} 1.500000000\n"));
	assert_non_null(strstr(buf, "chorus_worker_rooms{worker=\"0\"} 0\n"
				    "chorus_worker_rooms{worker=\"1\"} 4\n"));
	assert_null(strstr(buf, "worker=\"2\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(refusals_are_labelled_by_close_code_once_counted),
	    cmocka_unit_test(tick_histogram_is_cumulative_with_sum_and_count),
	    cmocka_unit_test(per_worker_series_have_a_worker_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
