/*
 * End-to-end: GET /metrics of the real chorus-gateway passes
 * `promtool check metrics` (Prometheus's own parser and linter), and its
 * labelled families count what happened: refusals by close code, bad
 * frames by kind, participants, the tick histogram, per-worker series.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T 5000 /* ms */

static gwt_proc_t gw;
static char body[65536];

static long metric(const char *name)
{
	long v = gwt_metric(gw.port, name);

	if (v < 0)
		fail_msg("GET /metrics: %s: %ld", name, v);
	return v;
}

/* Polls until metric name reaches want (or T passes); returns it. */
static long metric_reaches(const char *name, long want)
{
	for (int i = 0; i < T / 20 && metric(name) < want; i++)
		usleep(20000);
	return metric(name);
}

/* Runs promtool over the exposition; returns its exit status. */
static int promtool(const char *text)
{
	char path[] = "/tmp/chorus-metrics-XXXXXX", cmd[256];
	int fd = mkstemp(path), st;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2", path);
	st = system(cmd);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void metrics_pass_promtool_and_count_by_label(void **state)
{
	static const char *const args[] = {"--workers", "2", NULL};
	ws_client_t a, b;
	uint8_t ulaw[160];
	char bad[256];

	assert_int_equal(gwt_start(&gw, args), 0);
	assert_int_equal(gwt_call(&a, gw.port, "/rooms/m", "MZm1", NULL, "pw"),
			 0);
	for (unsigned i = 0; i < 5; i++) {
		gwt_tone(ulaw, 160, 440, 0.5, (uint64_t)i * 160);
		assert_int_equal(
		    gwt_send_media(&a, "MZm1", i + 1, i * 20, ulaw, 160), 0);
	}
	snprintf(bad, sizeof(bad),
		 "{\"event\":\"media\",\"streamSid\":\"MZm1\",\"media\":{"
		 "\"track\":\"inbound\",\"timestamp\":\"120\",\"payload\":"
		 "\"!!!!\"}}");
	assert_int_equal(ws_send_text(&a, bad), 0);
	assert_int_equal(gwt_call(&b, gw.port, "/rooms/m", "MZm2", NULL, "no"),
			 0);
	assert_int_equal(ws_wait_close(&b, T), 4001);
	ws_free(&b);

	assert_int_equal(metric_reaches("chorus_bad_frames_total", 1), 1);
	assert_int_equal(metric("chorus_bad_frames_total{kind=\"base64\"}"), 1);
	assert_int_equal(metric("chorus_bad_frames_total{kind=\"json\"}"), 0);
	assert_int_equal(metric("chorus_refused_total{code=\"4001\"}"), 1);
	assert_int_equal(metric("chorus_participants"), 1);
	assert_int_equal(metric("chorus_worker_participants"), 1);
	assert_true(metric_reaches("chorus_tick_duration_seconds_count", 10) >=
		    10);
	assert_int_equal(metric("chorus_worker_rooms"), 1);

	assert_int_equal(
	    ws_http_get(gw.port, "/metrics", body, sizeof(body), T), 200);
	assert_non_null(strstr(body, "# TYPE chorus_tick_duration_seconds "
				     "histogram\n"));
	assert_non_null(
	    strstr(body, "chorus_tick_duration_seconds_bucket{le=\"+Inf\"}"));
	assert_non_null(
	    strstr(body, "chorus_worker_tick_seconds_total{worker=\"1\"}"));
	assert_int_equal(promtool(body), 0);
	ws_free(&a);
	for (int i = 0; i < T / 20 && metric("chorus_participants") > 0; i++)
		usleep(20000);
	assert_int_equal(metric("chorus_participants"), 0);
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

static void promtool_rejects_a_broken_exposition(void **state)
{
	/* The check can fail: a counter without _total and a bad value. */
	assert_int_not_equal(promtool("# TYPE chorus_x counter\n"
				      "chorus_x{a=\"1\"} notanumber\n"),
			     0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metrics_pass_promtool_and_count_by_label),
	    cmocka_unit_test(promtool_rejects_a_broken_exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
