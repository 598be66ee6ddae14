/*
 * test_g711.c - G.711 against the reference, exhaustively.
 *
 * The fixtures in tests/fixtures/g711/ were produced by Python's audioop
 * (tests/fixtures/g711/gen.py), an implementation independent of ours, so a
 * single wrong table entry fails here.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/g711.h"
#include "tests/support/tsupport.h"

static int16_t le16(const uint8_t *p)
{
	return (int16_t)(p[0] | p[1] << 8);
}

static void check_decode(const char *fixture, int16_t (*dec)(uint8_t))
{
	uint8_t ref[512];

	assert_int_equal(ts_read_fixture(fixture, ref, sizeof(ref)), 512);
	for (int c = 0; c < 256; c++) {
		if (dec((uint8_t)c) != le16(ref + 2 * c))
			fail_msg("%s: code 0x%02x decodes to %d, reference %d",
				 fixture, c, dec((uint8_t)c),
				 le16(ref + 2 * c));
	}
}

static void check_encode(const char *fixture, uint8_t (*enc)(int16_t))
{
	static uint8_t ref[65536];

	assert_int_equal(ts_read_fixture(fixture, ref, sizeof(ref)), 65536);
	for (int x = -32768; x <= 32767; x++) {
		if (enc((int16_t)x) != ref[x + 32768])
			fail_msg("%s: %d encodes to 0x%02x, reference 0x%02x",
				 fixture, x, enc((int16_t)x), ref[x + 32768]);
	}
}

static void ulaw_decodes_every_code_like_reference(void **state)
{
	check_decode("g711/ulaw_decode.bin", g711_ulaw_decode);
}

static void alaw_decodes_every_code_like_reference(void **state)
{
	check_decode("g711/alaw_decode.bin", g711_alaw_decode);
}

static void ulaw_encodes_every_sample_like_reference(void **state)
{
	check_encode("g711/ulaw_encode.bin", g711_ulaw_encode);
}

static void alaw_encodes_every_sample_like_reference(void **state)
{
	check_encode("g711/alaw_encode.bin", g711_alaw_encode);
}

static void ulaw_code_survives_decode_encode(void **state)
{
	for (int c = 0; c < 256; c++) {
		uint8_t back = g711_ulaw_encode(g711_ulaw_decode((uint8_t)c));
		/* 0x7F is µ-law's "negative zero": it decodes to 0, and 0
		 * encodes as positive zero, 0xFF. */
		uint8_t want = c == 0x7F ? 0xFF : (uint8_t)c;

		if (back != want)
			fail_msg("code 0x%02x came back as 0x%02x", c, back);
	}
}

static void alaw_code_survives_decode_encode(void **state)
{
	for (int c = 0; c < 256; c++) {
		uint8_t back = g711_alaw_encode(g711_alaw_decode((uint8_t)c));

		if (back != c)
			fail_msg("code 0x%02x came back as 0x%02x", c, back);
	}
}

/* ITU-T G.711's digital milliwatt: this 8-code sequence repeated is a 1 kHz
 * sine at 0 dBm0. µ-law's full-scale sine (peak 8159 << 2) is +3.17 dBm0. */
static void ulaw_digital_milliwatt_is_0dbm0_1khz(void **state)
{
	static const uint8_t dmw[8] = {0x1E, 0x0B, 0x0B, 0x1E,
				       0x9E, 0x8B, 0x8B, 0x9E};
	int16_t pcm[8];
	double sum2 = 0, re = 0, im = 0;
	double full_scale_rms = 8159.0 * 4 / sqrt(2.0);
	double dbm0_rms = full_scale_rms * pow(10.0, -3.17 / 20);

	assert_int_equal(g711_ulaw_decode_buf(pcm, dmw, 8), 8);
	for (int i = 0; i < 8; i++) {
		double ph = 2 * M_PI * 1000.0 * i / G711_RATE;

		sum2 += (double)pcm[i] * pcm[i];
		re += pcm[i] * cos(ph);
		im += pcm[i] * sin(ph);
	}
	double rms = sqrt(sum2 / 8);
	double level_db = 20 * log10(rms / dbm0_rms);
	/* Power in the 1 kHz bin over total power: a clean sine is ~1. */
	double tone_share = 2 * (re * re + im * im) / 8 / sum2;

	print_message("digital milliwatt: %.3f dB from 0 dBm0, %.5f at 1 kHz\n",
		      level_db, tone_share);
	assert_true(fabs(level_db) < 0.1);
	assert_true(tone_share > 0.999);
}

static void buffer_functions_match_per_sample(void **state)
{
	uint8_t codes[256], out[256];
	int16_t pcm[256], all[65536 / 4];

	for (int c = 0; c < 256; c++)
		codes[c] = (uint8_t)c;
	assert_int_equal(g711_ulaw_decode_buf(pcm, codes, 256), 256);
	for (int c = 0; c < 256; c++)
		assert_int_equal(pcm[c], g711_ulaw_decode((uint8_t)c));
	assert_int_equal(g711_alaw_decode_buf(pcm, codes, 256), 256);
	for (int c = 0; c < 256; c++)
		assert_int_equal(pcm[c], g711_alaw_decode((uint8_t)c));

	for (size_t i = 0; i < 65536 / 4; i++)
		all[i] = (int16_t)(i * 4 - 32768 + (i % 4));
	for (size_t off = 0; off < 65536 / 4; off += 256) {
		assert_int_equal(g711_ulaw_encode_buf(out, all + off, 256),
				 256);
		for (int i = 0; i < 256; i++)
			assert_int_equal(out[i],
					 g711_ulaw_encode(all[off + i]));
		assert_int_equal(g711_alaw_encode_buf(out, all + off, 256),
				 256);
		for (int i = 0; i < 256; i++)
			assert_int_equal(out[i],
					 g711_alaw_encode(all[off + i]));
	}
	assert_int_equal(g711_ulaw_encode_buf(out, all, 0), 0);
}

/* The buffer encoder is not the table look-up on x86-64 (codec/g711.c
 * computes it, 16 samples at a time): every input, through both its vector
 * body and its scalar tail (every start offset 0-15 and lengths that are not
 * multiples of 16), must give the reference's code. */
static void ulaw_encode_buf_matches_reference_for_every_sample(void **state)
{
	static uint8_t ref[65536], out[65536];
	static int16_t all[65536];

	assert_int_equal(
	    ts_read_fixture("g711/ulaw_encode.bin", ref, sizeof(ref)), 65536);
	for (int i = 0; i < 65536; i++)
		all[i] = (int16_t)(i - 32768);
	for (size_t off = 0; off < 16; off++) {
		size_t n = 65536 - off - (off * 7) % 16;

		memset(out, 0xA5, sizeof(out));
		assert_int_equal(g711_ulaw_encode_buf(out, all + off, n), n);
		for (size_t i = 0; i < n; i++) {
			if (out[i] != ref[off + i])
				fail_msg("offset %zu: %d encodes to 0x%02x, "
					 "reference 0x%02x",
					 off, all[off + i], out[i],
					 ref[off + i]);
		}
		for (size_t i = n; i < sizeof(out); i++)
			if (out[i] != 0xA5)
				fail_msg("wrote past n = %zu at %zu", n, i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ulaw_decodes_every_code_like_reference),
	    cmocka_unit_test(alaw_decodes_every_code_like_reference),
	    cmocka_unit_test(ulaw_encodes_every_sample_like_reference),
	    cmocka_unit_test(alaw_encodes_every_sample_like_reference),
	    cmocka_unit_test(ulaw_code_survives_decode_encode),
	    cmocka_unit_test(alaw_code_survives_decode_encode),
	    cmocka_unit_test(ulaw_digital_milliwatt_is_0dbm0_1khz),
	    cmocka_unit_test(buffer_functions_match_per_sample),
	    cmocka_unit_test(
		ulaw_encode_buf_matches_reference_for_every_sample),
	};

	return cmocka_run_group_tests_name("g711", tests, NULL, NULL);
}
