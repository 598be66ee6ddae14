/*
 * End-to-end: audio through the real gateway. Calls send tones paced at
 * 20 ms like a telephony platform; what each hears is checked by Goertzel
 * power per tone (not by bytes): three talkers each hear the other two and
 * not themselves; the silence gate keeps quiet noise out; late joiners
 * hear the room and leavers stop being heard; echo mode; and output pacing.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "codec/g711.h"
#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T	     5000
#define FRAME	     160
#define MAX_CALLS    12
#define KEEP_SAMPLES (8000 * 2) /* what each call heard, last 2 s */

static gwt_proc_t gw;

/* One simulated call: what it sends and what it heard. */
typedef struct call {
	ws_client_t ws;
	char sid[32];
	bool open;
	double freq, amp; /* tone sent; amp 0: silence */
	double noise;	  /* or white noise of this RMS (full scale 1) */
	uint64_t sent;	  /* samples sent */
	int16_t heard[KEEP_SAMPLES];
	size_t n_heard; /* samples heard in total */
	unsigned frames_heard;
} call_t;

static call_t calls[MAX_CALLS];

static void start_gw(const char *const *args)
{
	assert_int_equal(gwt_start(&gw, args), 0);
	memset(calls, 0, sizeof(calls));
}

static void stop_gw(void)
{
	for (int i = 0; i < MAX_CALLS; i++) {
		if (calls[i].open)
			ws_free(&calls[i].ws);
		calls[i].open = false;
	}
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

static void join(int i, const char *room, double freq, double amp)
{
	call_t *c = &calls[i];

	snprintf(c->sid, sizeof(c->sid), "MZcall%d", i);
	c->freq = freq;
	c->amp = amp;
	c->noise = 0;
	c->sent = 0;
	c->n_heard = 0;
	c->frames_heard = 0;
	assert_int_equal(gwt_call(&c->ws, gw.port, "/", c->sid, room, NULL), 0);
	c->open = true;
}

static void leave(int i)
{
	ws_close(&calls[i].ws, 1000);
	ws_free(&calls[i].ws);
	calls[i].open = false;
}

static void send_frame(call_t *c)
{
	uint8_t ulaw[FRAME];

	if (c->noise > 0) {
		for (int k = 0; k < FRAME; k++) {
			/* uniform noise: RMS = a / sqrt(3) */
			double a = c->noise * 1.7320508;
			double u = (double)(ts_rand() % 20001) / 10000.0 - 1;

			ulaw[k] = g711_ulaw_encode((int16_t)(u * a * 32767.0));
		}
	} else {
		gwt_tone(ulaw, FRAME, c->freq, c->amp, c->sent);
	}
	/* Stream timestamps start at an arbitrary offset, as on Twilio. */
	assert_int_equal(
	    gwt_send_media(&c->ws, c->sid, (uint32_t)(c->sent / FRAME) + 2,
			   (uint32_t)(c->sent / 8) + 1234, ulaw, FRAME),
	    0);
	c->sent += FRAME;
}

static void take_frame(call_t *c)
{
	int16_t pcm[960];
	int n = gwt_recv_media(&c->ws, c->sid, pcm, 960, T);

	assert_int_equal(n, FRAME);
	for (int k = 0; k < n; k++)
		c->heard[(c->n_heard + (size_t)k) % KEEP_SAMPLES] = pcm[k];
	c->n_heard += (size_t)n;
	c->frames_heard++;
}

/* Runs every open call for ms milliseconds: each sends a frame every
 * 20 ms on absolute deadlines (unless mute) and reads what arrives. */
static void run(int ms, bool send)
{
	uint64_t start = chorus_now_ns();
	uint64_t end = start + (uint64_t)ms * CHORUS_NS_PER_MS;
	uint64_t next = start;

	for (;;) {
		uint64_t now = chorus_now_ns();
		struct pollfd pfd[MAX_CALLS];
		int idx[MAX_CALLS], n = 0, wait_ms;

		if (now >= end)
			break;
		if (now >= next) {
			for (int i = 0; i < MAX_CALLS && send; i++) {
				if (calls[i].open)
					send_frame(&calls[i]);
			}
			next += 20000000ull;
			continue;
		}
		for (int i = 0; i < MAX_CALLS; i++) {
			if (!calls[i].open)
				continue;
			/* Frames already buffered in the client first. */
			if (calls[i].ws.rlen > 2) {
				take_frame(&calls[i]);
				continue;
			}
			pfd[n] = (struct pollfd){calls[i].ws.fd, POLLIN, 0};
			idx[n++] = i;
		}
		wait_ms = (int)((next - now) / 1000000) + 1;
		if (poll(pfd, (nfds_t)n, wait_ms) <= 0)
			continue;
		for (int k = 0; k < n; k++) {
			if (pfd[k].revents & POLLIN)
				take_frame(&calls[idx[k]]);
		}
	}
}

/* Last ms of what call i heard. */
static const int16_t *recent(int i, int ms, size_t *n)
{
	static int16_t buf[KEEP_SAMPLES];
	call_t *c = &calls[i];
	size_t want = (size_t)ms * 8;

	assert_true(c->n_heard >= want);
	assert_true(want <= KEEP_SAMPLES);
	for (size_t k = 0; k < want; k++)
		buf[k] = c->heard[(c->n_heard - want + k) % KEEP_SAMPLES];
	*n = want;
	return buf;
}

static double tone_power(int i, double freq)
{
	size_t n;
	const int16_t *p = recent(i, 800, &n);

	return gwt_goertzel(p, n, freq);
}

/* The strongest 200 ms of freq in the last 1.2 s: a stall of the loaded
 * machine (late frames are dropped by design) cannot hide a tone that is
 * there. */
static double heard_tone(int i, double freq)
{
	size_t n;
	const int16_t *p = recent(i, 1200, &n);
	double best = 0;

	for (size_t at = 0; at + 1600 <= n; at += 400) {
		double v = gwt_goertzel(p + at, 1600, freq);

		if (v > best)
			best = v;
	}
	return best;
}

static double total_power(int i)
{
	size_t n;
	const int16_t *p = recent(i, 800, &n);

	return gwt_power(p, n);
}

static long metric(const char *name)
{
	long v = gwt_metric(gw.port, name);

	if (v < 0)
		fail_msg("GET /metrics: %s: %ld", name, v);
	return v;
}

static const double freqs[] = {400, 700, 1100};

static void three_talkers_hear_the_other_two_not_themselves(void **state)
{
	start_gw(NULL);
	for (int i = 0; i < 3; i++)
		join(i, "tones", freqs[i], 0.25);
	run(2500, true);
	/* Counted live: every frame sent was taken (2.5 s of 3 calls), and
	 * the mixer refused none. */
	assert_true(metric("chorus_frames_in_total") >= 3 * 110);
	assert_int_equal(metric("chorus_dropped_in_total"), 0);
	assert_int_equal(metric("chorus_bad_frames_total"), 0);
	for (int i = 0; i < 3; i++) {
		double own = tone_power(i, freqs[i]);

		printf("call %d hears:", i);
		for (int j = 0; j < 3; j++)
			printf(" %.0f Hz %.2e", freqs[j],
			       tone_power(i, freqs[j]));
		printf("\n");
		for (int j = 0; j < 3; j++) {
			if (j == i)
				continue;
			/* A 0.25 sine has power 0.0156; even halved by
			 * normalization it is far above 1e-3. */
			assert_true(heard_tone(i, freqs[j]) > 1e-3);
			/* Its own tone is absent: 40 dB below the others. */
			assert_true(own < heard_tone(i, freqs[j]) * 1e-4);
		}
	}
	stop_gw();
}

static void silence_gate_keeps_quiet_noise_out(void **state)
{
	start_gw(NULL);
	join(0, "gate", 0, 0); /* a listener, silent */
	join(1, "gate", 0, 0); /* noise at -55 dBFS, under the gate */
	calls[1].noise = 0.0018;
	run(2000, true);
	printf("listener power with gated noise: %.2e (noise %.2e)\n",
	       total_power(0), 0.0018 * 0.0018);
	/* Without gating it would hear ~3e-6 of noise. */
	assert_true(total_power(0) < 3e-7);
	/* The same path carries sound once it is loud. */
	calls[1].noise = 0;
	calls[1].freq = 700;
	calls[1].amp = 0.25;
	run(1500, true);
	printf("listener hears the loud tone at %.2e\n", heard_tone(0, 700));
	assert_true(heard_tone(0, 700) > 1e-3);
	stop_gw();
}

static void late_joiner_hears_the_room_and_leaver_stops(void **state)
{
	start_gw(NULL);
	join(0, "late", freqs[0], 0.25);
	join(1, "late", freqs[1], 0.25);
	run(1000, true);
	join(2, "late", 0, 0); /* listens only */
	run(1500, true);
	assert_true(heard_tone(2, freqs[0]) > 1e-3);
	assert_true(heard_tone(2, freqs[1]) > 1e-3);
	leave(1);
	run(1500, true);
	assert_true(heard_tone(2, freqs[0]) > 1e-3);
	assert_true(tone_power(2, freqs[1]) < 1e-6);
	/* The one who stayed now hears only the silent listener. */
	assert_true(tone_power(0, freqs[1]) < 1e-6);
	stop_gw();
}

static void echo_mode_lets_a_lone_caller_hear_itself(void **state)
{
	static const char *echo[] = {"--echo", NULL};

	start_gw(NULL);
	join(0, "alone", 500, 0.25);
	run(1500, true);
	assert_true(tone_power(0, 500) < 1e-6);
	stop_gw();
	start_gw(echo);
	join(0, "alone", 500, 0.25);
	run(1500, true);
	assert_true(heard_tone(0, 500) > 1e-3);
	stop_gw();
}

static void a_room_spans_workers(void **state)
{
	static const char *args[] = {"--workers", "2", NULL};
	int w0, w1;

	start_gw(args);
	/* The kernel spreads connections over the workers' sockets: with 12
	 * calls, both workers get some (all on one: 1 in 2048). */
	join(0, "wide", 600, 0.25);
	for (int i = 1; i < MAX_CALLS; i++)
		join(i, "wide", 0, 0);
	run(2000, true);
	w0 = gwt_log_count(&gw, "[w0] join room=wide");
	w1 = gwt_log_count(&gw, "[w1] join room=wide");
	printf("calls on worker 0: %d, on worker 1: %d\n", w0, w1);
	assert_int_equal(w0 + w1, MAX_CALLS);
	assert_true(w0 > 0 && w1 > 0);
	/* Everyone gets a frame every tick, whichever worker ticks the room. */
	for (int i = 0; i < MAX_CALLS; i++)
		assert_true(calls[i].frames_heard >= 60);
	/* And hears the talker, across threads. */
	for (int i = 1; i < MAX_CALLS; i++)
		assert_true(heard_tone(i, 600) > 1e-3);
	stop_gw();
}

/* A talker that stalls for 300 ms and then sends the backlog at once: the
 * listener's mix conceals the gap, the backlog is far behind its slots and
 * is dropped, and both are counted, in the call's leave line and, once it
 * has left, in /metrics. */
static void late_audio_is_dropped_and_counted(void **state)
{
	long late = -1, concealed;

	start_gw(NULL);
	join(0, "lag", 500, 0.25);
	join(1, "lag", 0, 0);
	run(600, true);
	calls[1].open = false; /* the listener sits this out */
	run(300, false);
	for (int k = 0; k < 15; k++)
		send_frame(&calls[0]);
	calls[1].open = true;
	run(600, true);
	assert_true(heard_tone(1, 500) > 1e-3); /* the call went on */
	leave(0);
	for (int i = 0; i < 200 && late <= 0; i++) {
		usleep(10000);
		late = metric("chorus_late_frames_total");
	}
	concealed = metric("chorus_concealed_frames_total");
	printf("late %ld, concealed %ld\n", late, concealed);
	/* 15 frames came 300 ms late; only those still within the 40 ms
	 * jitter target and 30 ms window of their slot (3 or so) can play.
	 * (No upper bound: a stall of this busy machine can make more.) */
	assert_true(late >= 10);
	/* Ticks with nothing to play during the stall: held, concealed. */
	assert_true(concealed >= 5);
	assert_int_equal(gwt_log_value(&gw, "leave room=lag seat=1", "late="),
			 late);
	assert_int_equal(
	    gwt_log_value(&gw, "leave room=lag seat=1", "concealed="),
	    concealed);
	stop_gw();
}

static void output_is_paced_one_frame_per_tick(void **state)
{
	unsigned before, got;

	start_gw(NULL);
	join(0, "pace", 0, 0);
	run(500, false); /* first frames, and any start-up slack */
	before = calls[0].frames_heard;
	run(3000, false);
	got = calls[0].frames_heard - before;
	printf("frames in 3 s: %u (150 expected)\n", got);
	/* Neither double rate nor half: generous bounds, as a loaded box may
	 * stall the clock (it then skips ticks) or this reader. */
	assert_true(got >= 90 && got <= 200);
	stop_gw();
}

/* Waking per event (--batch-us 0) and gathering events for the longest
 * allowed pause both keep one frame per tick, and the audio gets through. */
static void batching_or_not_keeps_one_frame_per_tick(void **state)
{
	static const char *const wake_each[] = {"--batch-us", "0", NULL};
	static const char *const longest[] = {"--batch-us", "5000", NULL};
	const char *const *settings[] = {wake_each, longest};

	for (int k = 0; k < 2; k++) {
		unsigned before, got;

		start_gw(settings[k]);
		join(0, "batch", 0, 0);
		join(1, "batch", 600, 0.3);
		run(500, true);
		before = calls[0].frames_heard;
		run(3000, true);
		got = calls[0].frames_heard - before;
		printf("--batch-us %s: frames in 3 s: %u (150 expected)\n",
		       settings[k][1], got);
		assert_true(got >= 90 && got <= 200);
		assert_true(heard_tone(0, 600) > 1e-3);
		stop_gw();
	}
}

/* After each test, even a failed one: no gateway is left running. */
static int kill_gw(void **state)
{
	for (int i = 0; i < MAX_CALLS; i++) {
		if (calls[i].open)
			ws_free(&calls[i].ws);
		calls[i].open = false;
	}
	if (gw.pid > 0)
		gwt_stop(&gw, SIGKILL, 2000);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
		three_talkers_hear_the_other_two_not_themselves, kill_gw),
	    cmocka_unit_test_teardown(silence_gate_keeps_quiet_noise_out,
				      kill_gw),
	    cmocka_unit_test_teardown(
		late_joiner_hears_the_room_and_leaver_stops, kill_gw),
	    cmocka_unit_test_teardown(echo_mode_lets_a_lone_caller_hear_itself,
				      kill_gw),
	    cmocka_unit_test_teardown(a_room_spans_workers, kill_gw),
	    cmocka_unit_test_teardown(late_audio_is_dropped_and_counted,
				      kill_gw),
	    cmocka_unit_test_teardown(batching_or_not_keeps_one_frame_per_tick,
				      kill_gw),
	    cmocka_unit_test_teardown(output_is_paced_one_frame_per_tick,
				      kill_gw),
	};

	ts_seed("test_gateway_media");
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
