/*
 * The gateway's own accounting and pace, end to end against the real
 * binary: what /metrics counts for calls, refusals, frames and ticks
 * matches what happened; the room clock ticks every 20 ms, not roughly
 * so; and media on a track other than inbound is counted but never heard.
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

#include "codec/base64.h"
#include "common/clock.h"
#include "tests/support/gwtest.h"

#define T	 5000
#define FRAME_NS (20 * CHORUS_NS_PER_MS)

static gwt_proc_t gw;

static int setup(void **state)
{
	/* the_clock_ticks_every_20_ms listens, silent, for 10 s. */
	static const char *args[] = {"--workers", "2", "--idle-timeout-ms",
				     "60000", NULL};

	return gwt_start(&gw, args) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	return gwt_stop(&gw, SIGTERM, 5000) == 0 ? 0 : -1;
}

static long metric(const char *name)
{
	long v = gwt_metric(gw.port, name);

	assert_true(v >= 0);
	return v;
}

/* Waits until name reaches at least want (counters of a call are added
 * when it leaves); returns its value then. */
static long metric_reaches(const char *name, long want)
{
	long v = metric(name);

	for (int i = 0; i < 250 && v < want; i++) {
		usleep(20000);
		v = metric(name);
	}
	return v;
}

/* Waits for n leave lines containing needle. */
static void left(const char *needle, int n)
{
	for (int i = 0; i < 250 && gwt_log_count(&gw, needle) < n; i++)
		usleep(20000);
	assert_int_equal(gwt_log_count(&gw, needle), n);
}

/* Reads every frame already waiting; returns how many. */
static int drain(ws_client_t *c, const char *sid)
{
	int16_t pcm[960];
	int n = 0;

	while (gwt_recv_media(c, sid, pcm, 960, 0) == 160)
		n++;
	return n;
}

static void counters_match_what_happened(void **state)
{
	long accepted = metric("chorus_accepted_total");
	long joined = metric("chorus_joined_total");
	/* A labelled family (by close code): absent until a first refusal. */
	long refused = gwt_metric(gw.port, "chorus_refused_total");
	long out = metric("chorus_frames_out_total");
	long in = metric("chorus_frames_in_total");
	long ticks = metric("chorus_ticks_total");
	uint8_t ulaw[160];
	ws_client_t a, b, bad;
	uint64_t t0, next;
	long out_a, out_b, ticked;

	if (refused == -ENOENT)
		refused = 0;
	assert_true(refused >= 0);
	assert_int_equal(
	    gwt_call(&a, gw.port, "/rooms/count", "MZca", NULL, "pw"), 0);
	assert_int_equal(
	    gwt_call(&b, gw.port, "/rooms/count", "MZcb", NULL, "pw"), 0);
	/* One refusal: a wrong password. */
	assert_int_equal(
	    gwt_call(&bad, gw.port, "/rooms/count", "MZcx", NULL, "nope"), 0);
	assert_int_equal(ws_wait_close(&bad, T), 4001);
	ws_free(&bad);
	t0 = chorus_now_ns();
	next = t0;
	for (uint32_t i = 0; i < 100; i++) {
		gwt_tone(ulaw, sizeof(ulaw), 500, 0.3, (uint64_t)i * 160);
		assert_int_equal(gwt_send_media(&a, "MZca", i + 1, i * 20, ulaw,
						sizeof(ulaw)),
				 0);
		drain(&a, "MZca");
		drain(&b, "MZcb");
		next += FRAME_NS;
		chorus_sleep_until(next);
	}
	ws_close(&a, 1000);
	ws_close(&b, 1000);
	ws_free(&a);
	ws_free(&b);
	left("streamSid=MZca callSid=CAMZca in=", 1);
	left("streamSid=MZcb callSid=CAMZcb in=", 1);
	ticked = (long)((chorus_now_ns() - t0) / FRAME_NS);
	out_a = gwt_log_value(&gw, "streamSid=MZca callSid=CAMZca", "out=");
	out_b = gwt_log_value(&gw, "streamSid=MZcb callSid=CAMZcb", "out=");
	assert_true(out_a > 50 && out_b > 50);
	assert_int_equal(metric_reaches("chorus_accepted_total", accepted + 3),
			 accepted + 3);
	assert_int_equal(metric("chorus_joined_total"), joined + 2);
	assert_int_equal(metric("chorus_refused_total"), refused + 1);
	assert_int_equal(metric("chorus_frames_in_total"), in + 100);
	/* Every frame written is in the calls' own counts. */
	assert_int_equal(metric("chorus_frames_out_total"),
			 out + out_a + out_b);
	/* One room ticked through the call, once per 20 ms (its clock ran
	 * from the first join to a tick after the last leave). */
	ticks = metric("chorus_ticks_total") - ticks;
	printf("ticks %ld over %ld periods, out %ld + %ld\n", ticks, ticked,
	       out_a, out_b);
	assert_true(ticks >= out_b && ticks <= ticked + 10);
}

static void the_clock_ticks_every_20_ms(void **state)
{
	enum { SECONDS = 10, DUE = SECONDS * 50 };
	int16_t pcm[960];
	ws_client_t c;
	uint64_t end;
	int got = 0;

	/* A lone listener gets one frame per tick (silence). Counted over
	 * 10 s of this clock from its first frame: a period 1% off is 5
	 * frames, arrival jitter at the two ends a frame or two. */
	assert_int_equal(
	    gwt_call(&c, gw.port, "/rooms/pace", "MZpace", NULL, NULL), 0);
	assert_int_equal(gwt_recv_media(&c, "MZpace", pcm, 960, T), 160);
	end = chorus_now_ns() + SECONDS * CHORUS_NS_PER_S;
	while (chorus_now_ns() < end) {
		int left_ms = (int)((end - chorus_now_ns()) / CHORUS_NS_PER_MS);
		int r = gwt_recv_media(&c, "MZpace", pcm, 960,
				       left_ms > 0 ? left_ms : 1);

		if (r == 160)
			got++;
		else
			assert_true(r == -ETIMEDOUT || r == -EAGAIN);
	}
	printf("%d frames in %d s (%d due)\n", got, SECONDS, DUE);
	assert_true(got >= DUE - 4 && got <= DUE + 4);
	ws_close(&c, 1000);
	ws_free(&c);
}

/* A media frame of the 1 kHz tone on the given track. */
static void send_track(ws_client_t *c, const char *track, uint32_t i)
{
	uint8_t ulaw[160];
	char b64[B64_ENCODED_LEN(160) + 1];

	gwt_tone(ulaw, sizeof(ulaw), 1000, 0.3, (uint64_t)i * 160);
	assert_true(b64_encode(b64, sizeof(b64), ulaw, sizeof(ulaw)) > 0);
	assert_int_equal(
	    ws_sendf(c,
		     "{\"event\":\"media\",\"sequenceNumber\":\"%u\","
		     "\"media\":{\"track\":\"%s\",\"chunk\":\"%u\","
		     "\"timestamp\":\"%u\",\"payload\":\"%s\"},"
		     "\"streamSid\":\"MZtrk\"}",
		     i + 1, track, i + 1, i * 20, b64),
	    0);
}

/* Sends 1 s of the tone on track while the listener reads; returns the
 * listener's tone power over its last 0.5 s. */
static double listen_while(ws_client_t *talker, ws_client_t *listener,
			   const char *track, uint32_t first)
{
	int16_t pcm[960], heard[4000];
	size_t n = 0;
	uint64_t next = chorus_now_ns();

	for (uint32_t i = first; i < first + 50; i++) {
		int r;

		send_track(talker, track, i);
		while ((r = gwt_recv_media(listener, "MZlis", pcm, 960, 0)) ==
		       160) {
			if (i >= first + 25 && n + 160 <= 4000) {
				memcpy(heard + n, pcm, sizeof(int16_t) * 160);
				n += 160;
			}
		}
		while (ws_recv(talker, 0) > 0)
			;
		next += FRAME_NS;
		chorus_sleep_until(next);
	}
	assert_true(n >= 2000);
	return gwt_goertzel(heard, n, 1000);
}

static void other_tracks_are_counted_never_heard(void **state)
{
	long other = metric("chorus_other_track_total");
	ws_client_t talker, listener;
	double outbound, inbound;

	assert_int_equal(
	    gwt_call(&listener, gw.port, "/rooms/trk", "MZlis", NULL, NULL), 0);
	assert_int_equal(
	    gwt_call(&talker, gw.port, "/rooms/trk", "MZtrk", NULL, NULL), 0);
	outbound = listen_while(&talker, &listener, "outbound", 0);
	/* The same tone on the inbound track is heard: the listener works. */
	inbound = listen_while(&talker, &listener, "inbound", 50);
	printf("1 kHz heard: outbound track %.5f, inbound track %.5f\n",
	       outbound, inbound);
	assert_true(outbound < 1e-5);
	assert_true(inbound > 0.005);
	assert_int_equal(metric("chorus_other_track_total"), other + 50);
	ws_close(&talker, 1000);
	ws_close(&listener, 1000);
	ws_free(&talker);
	ws_free(&listener);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counters_match_what_happened),
	    cmocka_unit_test(the_clock_ticks_every_20_ms),
	    cmocka_unit_test(other_tracks_are_counted_never_heard),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
