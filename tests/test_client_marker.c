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
	mc_stamp_t st[2];
	mc_marker_det_t d;

	(void)state;
	for (size_t off = 0; off + MC_MARKER_LEN <= FRAME; off++) {
		mc_marker_det_init(&d);
		tone(f, FRAME, 523, 5000, off);
		mc_marker_write(f + off, FRAME - off, 7, (uint16_t)off);
		assert_int_equal(mc_marker_scan(&d, f, FRAME, st, 2), 1);
		assert_int_equal(st[0].call, 7);
		assert_int_equal(st[0].seq, off);
	}
}

static void detector_finds_stamp_across_two_frames(void **state)
{
	uint8_t stream[2 * FRAME];
	mc_stamp_t st[2];
	mc_marker_det_t d;

	(void)state;
	for (size_t cut = 1; cut < MC_MARKER_LEN; cut++) {
		int found = 0;

		tone(stream, sizeof(stream), 300, 5000, 0);
		mc_marker_write(stream + FRAME - cut, FRAME + cut, 42, 9);
		mc_marker_det_init(&d);
		found += mc_marker_scan(&d, stream, FRAME, st, 2);
		found += mc_marker_scan(&d, stream + FRAME, FRAME, st, 2);
		assert_int_equal(found, 1);
		assert_int_equal(st[0].call, 42);
		assert_int_equal(st[0].seq, 9);
	}
}

/* A mixer that re-frames by s samples puts every stamp across the same
 * boundary: each one must still be found, one per frame. */
static void detector_finds_every_stamp_of_a_shifted_stream(void **state)
{
	enum { FRAMES = 50 };
	static uint8_t talker[(FRAMES + 1) * FRAME];
	mc_stamp_t st[2];
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
			int k = mc_marker_scan(&d, talker + j * FRAME - shift,
					       FRAME, st, 2);

			assert_true(k <= 1);
			if (k) {
				assert_int_equal(st[0].call, 3);
				assert_int_equal(st[0].seq,
						 expect ? expect : st[0].seq);
				expect = st[0].seq + 1;
				found++;
			}
		}
		assert_true(found >= FRAMES - 2);
	}
}

/* The end of one stamp and the whole next one in the same frame: 159
 * bytes apart, as a jitter buffer catching up by one sample leaves them. */
static void detector_reports_two_stamps_in_one_frame(void **state)
{
	uint8_t stream[3 * FRAME];
	mc_stamp_t st[2];
	mc_marker_det_t d;

	(void)state;
	tone(stream, sizeof(stream), 300, 5000, 0);
	mc_marker_write(stream + FRAME - 12, MC_MARKER_LEN, 5, 16);
	mc_marker_write(stream + 2 * FRAME - 13, MC_MARKER_LEN, 5, 17);
	mc_marker_det_init(&d);
	assert_int_equal(mc_marker_scan(&d, stream, FRAME, st, 2), 0);
	assert_int_equal(mc_marker_scan(&d, stream + FRAME, FRAME, st, 2), 2);
	assert_int_equal(st[0].seq, 16);
	assert_int_equal(st[1].seq, 17);
	assert_int_equal(st[0].call, 5);
	assert_int_equal(st[1].call, 5);
	/* Neither is reported again. */
	assert_int_equal(mc_marker_scan(&d, stream + 2 * FRAME, FRAME, st, 2),
			 0);
}

/* A full array stops the scan: never more than max. */
static void detector_never_writes_past_max(void **state)
{
	uint8_t f[FRAME];
	mc_stamp_t st[2] = {{0, 0}, {0xBEEF, 0xBEEF}};
	mc_marker_det_t d;

	(void)state;
	tone(f, FRAME, 300, 5000, 0);
	mc_marker_write(f, MC_MARKER_LEN, 1, 1);
	mc_marker_write(f + 40, MC_MARKER_LEN, 1, 2);
	mc_marker_det_init(&d);
	assert_int_equal(mc_marker_scan(&d, f, FRAME, st, 1), 1);
	assert_int_equal(st[0].seq, 1);
	assert_int_equal(st[1].seq, 0xBEEF);
}

/*
 * A jitter buffer correcting drift drops (or repeats) one sample per frame
 * at the quietest point, one of the two zeros mc_marker_write() puts in
 * the middle of each frame. Every stamp must come through exactly once and
 * in order, whatever the alignment of the listener's frames: the stamps
 * walk across the frame boundary one byte per frame.
 */
static void scan_stream_with_drift(int step)
{
	enum { FRAMES = 400 };
	static uint8_t talker[FRAMES * FRAME], out[FRAMES * (FRAME + 1)];
	mc_stamp_t st[2];
	mc_marker_det_t d;
	size_t len = 0;

	tone(talker, sizeof(talker), 300, 5000, 0);
	for (int k = 0; k < FRAMES; k++)
		mc_marker_write(talker + k * FRAME, FRAME, 9, (uint16_t)k);
	for (int k = 0; k < FRAMES; k++) {
		const uint8_t *t = talker + k * FRAME;
		size_t z = FRAME / 2; /* the first zero */

		memcpy(out + len, t, z);
		len += z;
		if (step < 0) /* repeat the zero */
			out[len++] = t[z];
		if (step <= 0)
			out[len++] = t[z];
		memcpy(out + len, t + z + 1, FRAME - z - 1);
		len += FRAME - z - 1;
	}
	for (size_t off = 0; off < FRAME; off++) {
		int expect = -1;

		mc_marker_det_init(&d);
		for (size_t at = off; at + FRAME <= len; at += FRAME) {
			int k = mc_marker_scan(&d, out + at, FRAME, st, 2);

			for (int i = 0; i < k; i++) {
				assert_int_equal(st[i].call, 9);
				if (expect >= 0)
					assert_int_equal(st[i].seq, expect);
				expect = st[i].seq + 1;
			}
		}
		/* All but the stamps cut by the first and last frame. */
		assert_true(expect >= FRAMES - 2);
	}
}

static void detector_finds_every_stamp_while_samples_are_dropped(void **state)
{
	(void)state;
	scan_stream_with_drift(+1);
}

static void detector_finds_every_stamp_while_samples_are_repeated(void **state)
{
	(void)state;
	scan_stream_with_drift(-1);
}

static void detector_reports_a_stamp_once(void **state)
{
	uint8_t f[FRAME], g[FRAME];
	mc_stamp_t st[2];
	mc_marker_det_t d;

	(void)state;
	mc_marker_det_init(&d);
	tone(f, FRAME, 300, 5000, 0);
	mc_marker_write(f + FRAME - MC_MARKER_LEN, MC_MARKER_LEN, 1, 2);
	tone(g, FRAME, 300, 5000, FRAME);
	assert_int_equal(mc_marker_scan(&d, f, FRAME, st, 2), 1);
	assert_int_equal(mc_marker_scan(&d, g, FRAME, st, 2), 0);
}

static void tones_noise_and_silence_carry_no_stamp(void **state)
{
	uint8_t f[FRAME];
	mc_stamp_t st[2];
	mc_marker_det_t d;
	int found = 0;

	(void)state;
	ts_seed("marker-false");
	mc_marker_det_init(&d);
	for (int hz = 100; hz < 4000; hz += 7) {
		tone(f, FRAME, hz, 2000 + hz, (size_t)hz);
		found += mc_marker_scan(&d, f, FRAME, st, 2);
	}
	memset(f, 0xFF, sizeof(f));
	found += mc_marker_scan(&d, f, FRAME, st, 2);
	for (int i = 0; i < 20000; i++) {
		for (int j = 0; j < FRAME; j++)
			f[j] = (uint8_t)ts_rand();
		found += mc_marker_scan(&d, f, FRAME, st, 2);
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
	    cmocka_unit_test(detector_reports_two_stamps_in_one_frame),
	    cmocka_unit_test(detector_never_writes_past_max),
	    cmocka_unit_test(
		detector_finds_every_stamp_while_samples_are_dropped),
	    cmocka_unit_test(
		detector_finds_every_stamp_while_samples_are_repeated),
	    cmocka_unit_test(detector_reports_a_stamp_once),
	    cmocka_unit_test(tones_noise_and_silence_carry_no_stamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
