/*
 * test_client_marker.c - the latency stamp hidden in a talker's µ-law audio
 * (mock-client/marker.h): it reads back, survives the G.711 round trip a
 * mixer applies, is found at any offset and across a frame boundary, and
 * is not invented in plain tones or silence.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/g711.h"
#include "mock-client/marker.h"
#include "tests/support/tsupport.h"

#define FRAME 160

static void tone(uint8_t *f, size_t n, double hz, int amp, size_t phase)
{
	for (size_t i = 0; i < n; i++)
		f[i] = g711_ulaw_encode((int16_t)lrint(
		    amp * sin(2 * M_PI * hz * (double)(i + phase) / 8000)));
}

static void stamp_reads_back_every_call_and_sequence(void **state)
{
	uint8_t f[FRAME];
	uint16_t call, seq;

	(void)state;
	ts_seed("marker");
	for (int i = 0; i < 10000; i++) {
		uint16_t c = (uint16_t)ts_rand(), s = (uint16_t)ts_rand();

		tone(f, FRAME, 400, 6000, 0);
		assert_int_equal(mc_marker_write(f, FRAME, c, s), 0);
		assert_int_equal(mc_marker_read(f, FRAME, &call, &seq), 1);
		assert_int_equal(call, c);
		assert_int_equal(seq, s);
	}
}

static void stamp_survives_ulaw_decode_and_encode(void **state)
{
	uint8_t f[FRAME], g[FRAME];
	uint16_t call, seq;

	(void)state;
	tone(f, FRAME, 400, 6000, 0);
	mc_marker_write(f, FRAME, 1234, 65535);
	/* A lone talker through a mixer: decode, sum of one, encode. */
	for (int i = 0; i < FRAME; i++)
		g[i] = g711_ulaw_encode(g711_ulaw_decode(f[i]));
	assert_memory_equal(f, g, MC_MARKER_LEN);
	assert_int_equal(mc_marker_read(g, FRAME, &call, &seq), 1);
	assert_int_equal(call, 1234);
	assert_int_equal(seq, 65535);
}

static void stamp_is_quiet_enough_to_stay_clear_of_the_limiter(void **state)
{
	uint8_t f[FRAME];

	(void)state;
	memset(f, 0xFF, sizeof(f));
	mc_marker_write(f, FRAME, 0xFFFF, 0xFFFF);
	for (int i = 0; i < MC_MARKER_LEN; i++)
		assert_true(abs(g711_ulaw_decode(f[i])) < 1000);
}

/* What a drift-correcting jitter buffer does: drop or repeat the quietest
 * sample of a 160/161-sample window. With the zero pair, that is never a
 * stamp sample, wherever the window starts. */
static void drift_correction_never_cuts_the_stamp(void **state)
{
	uint8_t stream[3 * FRAME];
	int16_t pcm[3 * FRAME];

	(void)state;
	/* The worst case: audio never quieter than the stamp (a tone riding
	 * on an offset), so without the zeros its quietest point would be
	 * inside the stamp. */
	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = g711_ulaw_encode((int16_t)lrint(
		    7000 + 6000 * sin(2 * M_PI * 300 * (double)i / 8000)));
	for (int k = 0; k < 3; k++)
		mc_marker_write(stream + k * FRAME, FRAME, 5, (uint16_t)k);
	for (size_t i = 0; i < sizeof(stream); i++)
		pcm[i] = g711_ulaw_decode(stream[i]);
	for (size_t start = 0; start + FRAME + 1 <= 2 * FRAME; start++) {
		size_t q = start;

		for (size_t i = start; i < start + FRAME + 1; i++)
			if (abs(pcm[i]) < abs(pcm[q]))
				q = i;
		assert_int_equal(pcm[q], 0);
		assert_true(q % FRAME >= MC_MARKER_LEN);
	}
}

static void short_frame_is_refused_and_left_alone(void **state)
{
	uint8_t f[MC_MARKER_LEN - 1];

	(void)state;
	memset(f, 0x55, sizeof(f));
	assert_int_equal(mc_marker_write(f, sizeof(f), 1, 1), -EINVAL);
	for (size_t i = 0; i < sizeof(f); i++)
		assert_int_equal(f[i], 0x55);
}

static void detector_finds_stamp_at_any_offset(void **state)
{
	uint8_t f[FRAME];
	uint16_t call, seq;
	mc_marker_det_t d;

	(void)state;
	for (size_t off = 0; off + MC_MARKER_LEN <= FRAME; off++) {
		mc_marker_det_init(&d);
		tone(f, FRAME, 523, 5000, off);
		mc_marker_write(f + off, FRAME - off, 7, (uint16_t)off);
		assert_int_equal(mc_marker_scan(&d, f, FRAME, &call, &seq), 1);
		assert_int_equal(call, 7);
		assert_int_equal(seq, off);
	}
}

static void detector_finds_stamp_across_two_frames(void **state)
{
	uint8_t stream[2 * FRAME];
	uint16_t call, seq;
	mc_marker_det_t d;

	(void)state;
	for (size_t cut = 1; cut < MC_MARKER_LEN; cut++) {
		int found = 0;

		tone(stream, sizeof(stream), 300, 5000, 0);
		mc_marker_write(stream + FRAME - cut, FRAME + cut, 42, 9);
		mc_marker_det_init(&d);
		found += mc_marker_scan(&d, stream, FRAME, &call, &seq);
		found += mc_marker_scan(&d, stream + FRAME, FRAME, &call, &seq);
		assert_int_equal(found, 1);
		assert_int_equal(call, 42);
		assert_int_equal(seq, 9);
	}
}

/* A mixer that re-frames by s samples puts every stamp across the same
 * boundary: each one must still be found, one per frame. */
static void detector_finds_every_stamp_of_a_shifted_stream(void **state)
{
	enum { FRAMES = 50 };
	static uint8_t talker[(FRAMES + 1) * FRAME];
	uint16_t call, seq;
	mc_marker_det_t d;

	(void)state;
	tone(talker, sizeof(talker), 300, 5000, 0);
	for (int k = 0; k <= FRAMES; k++)
		mc_marker_write(talker + k * FRAME, FRAME, 3, (uint16_t)k);
	for (size_t shift = 0; shift < FRAME; shift += 3) {
		int found = 0, expect = 0;

		mc_marker_det_init(&d);
		/* Output frame j = talker samples [j*160 - shift, ...). */
		for (int j = 1; j < FRAMES; j++) {
			if (mc_marker_scan(&d, talker + j * FRAME - shift,
					   FRAME, &call, &seq)) {
				assert_int_equal(seq, expect ? expect : seq);
				expect = seq + 1;
				found++;
			}
		}
		assert_true(found >= FRAMES - 2);
	}
}

static void detector_reports_a_stamp_once(void **state)
{
	uint8_t f[FRAME], g[FRAME];
	uint16_t call, seq;
	mc_marker_det_t d;

	(void)state;
	mc_marker_det_init(&d);
	tone(f, FRAME, 300, 5000, 0);
	mc_marker_write(f + FRAME - MC_MARKER_LEN, MC_MARKER_LEN, 1, 2);
	tone(g, FRAME, 300, 5000, FRAME);
	assert_int_equal(mc_marker_scan(&d, f, FRAME, &call, &seq), 1);
	assert_int_equal(mc_marker_scan(&d, g, FRAME, &call, &seq), 0);
}

static void tones_noise_and_silence_carry_no_stamp(void **state)
{
	uint8_t f[FRAME];
	uint16_t call, seq;
	mc_marker_det_t d;
	int found = 0;

	(void)state;
	ts_seed("marker-false");
	mc_marker_det_init(&d);
	for (int hz = 100; hz < 4000; hz += 7) {
		tone(f, FRAME, hz, 2000 + hz, (size_t)hz);
		found += mc_marker_scan(&d, f, FRAME, &call, &seq);
	}
	memset(f, 0xFF, sizeof(f));
	found += mc_marker_scan(&d, f, FRAME, &call, &seq);
	for (int i = 0; i < 20000; i++) {
		for (int j = 0; j < FRAME; j++)
			f[j] = (uint8_t)ts_rand();
		found += mc_marker_scan(&d, f, FRAME, &call, &seq);
	}
	/* Random bytes: the chance per position is 2^-52 (13 codes, 4 bits
	 * of exponent/sign each) times the magic; none expected. */
	assert_int_equal(found, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stamp_reads_back_every_call_and_sequence),
	    cmocka_unit_test(stamp_survives_ulaw_decode_and_encode),
	    cmocka_unit_test(
		stamp_is_quiet_enough_to_stay_clear_of_the_limiter),
	    cmocka_unit_test(drift_correction_never_cuts_the_stamp),
	    cmocka_unit_test(short_frame_is_refused_and_left_alone),
	    cmocka_unit_test(detector_finds_stamp_at_any_offset),
	    cmocka_unit_test(detector_finds_stamp_across_two_frames),
	    cmocka_unit_test(detector_finds_every_stamp_of_a_shifted_stream),
	    cmocka_unit_test(detector_reports_a_stamp_once),
	    cmocka_unit_test(tones_noise_and_silence_carry_no_stamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
