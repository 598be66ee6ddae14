/*
 * test_base64.c - strict base64 against RFC 4648 and against libb64.
 *
 * libb64 is the oracle for valid input (after removing the newlines it
 * inserts every 72 characters); strictness, which libb64 lacks, is tested
 * on its own: every byte value that is not in the alphabet, every padding
 * mistake, every impossible length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <b64/cdecode.h>
#include <b64/cencode.h>
#include <cmocka.h>

#include "codec/base64.h"
#include "tests/support/tsupport.h"

#define MAXN 1024

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* libb64's encoding of src with its line breaks removed. */
static size_t oracle_encode(char *dst, const uint8_t *src, size_t n)
{
	char raw[MAXN * 2];
	base64_encodestate s;
	size_t len, o = 0;

	base64_init_encodestate(&s);
	len = (size_t)base64_encode_block((const char *)src, (int)n, raw, &s);
	len += (size_t)base64_encode_blockend(raw + len, &s);
	for (size_t i = 0; i < len; i++)
		if (raw[i] != '\n')
			dst[o++] = raw[i];
	dst[o] = '\0';
	return o;
}

static size_t oracle_decode(uint8_t *dst, const char *src, size_t len)
{
	base64_decodestate s;

	base64_init_decodestate(&s);
	return (size_t)base64_decode_block(src, (int)len, (char *)dst, &s);
}

static void rfc4648_vectors(void **state)
{
	static const char *const v[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char enc[32];
		uint8_t dec[32];
		size_t n = strlen(v[i][0]), m = strlen(v[i][1]);

		assert_int_equal(
		    b64_encode(enc, sizeof(enc), (const uint8_t *)v[i][0], n),
		    m);
		assert_string_equal(enc, v[i][1]);
		assert_int_equal(b64_decode(dec, sizeof(dec), v[i][1], m), n);
		assert_memory_equal(dec, v[i][0], n);
	}
}

/* A Twilio frame: 160 µ-law bytes are 216 characters on one line. */
static void media_frame_is_one_line_of_216(void **state)
{
	uint8_t frame[160];
	char enc[300];

	memset(frame, 0xFF, sizeof(frame));
	assert_int_equal(b64_encode(enc, sizeof(enc), frame, 160), 216);
	assert_int_equal(strlen(enc), 216);
	assert_null(strchr(enc, '\n'));
	assert_string_equal(enc + 212, "/w==");
}

static void matches_libb64_on_random_input(void **state)
{
	static uint8_t src[MAXN], dec[MAXN], odec[MAXN];
	static char enc[MAXN * 2], oenc[MAXN * 2];

	ts_seed("base64");
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = ts_rand() % (iter < 1000 ? 8 : MAXN);
		long len;

		for (size_t i = 0; i < n; i++)
			src[i] = (uint8_t)ts_rand();
		len = b64_encode(enc, sizeof(enc), src, n);
		assert_int_equal(len, oracle_encode(oenc, src, n));
		assert_string_equal(enc, oenc);
		assert_int_equal(b64_decode(dec, sizeof(dec), enc, (size_t)len),
				 n);
		assert_memory_equal(dec, src, n);
		assert_int_equal(oracle_decode(odec, enc, (size_t)len), n);
		assert_memory_equal(odec, src, n);
	}
}

/* Every byte that is not in the alphabet, at every position of a quad, in
 * the middle and at the end of the input, is refused. */
static void rejects_every_character_outside_alphabet(void **state)
{
	uint8_t dec[64];
	int rejected = 0;

	for (int c = 0; c < 256; c++) {
		if (c && strchr(alphabet, c))
			continue;
		for (int pos = 0; pos < 12; pos++) {
			char s[13] = "QUJDREVGR0hJ"; /* "ABCDEFGHI" */

			s[pos] = (char)c;
			assert_int_equal(b64_decode(dec, sizeof(dec), s, 12),
					 -EINVAL);
			rejected++;
		}
	}
	/* 256 - 64 characters, twelve positions each. */
	assert_int_equal(rejected, (256 - 64) * 12);
}

static void accepts_every_alphabet_character(void **state)
{
	uint8_t dec[64];

	for (int i = 0; i < 64; i++) {
		char s[9] = "QUJDQUJD";

		s[i % 8] = alphabet[i];
		assert_int_equal(b64_decode(dec, sizeof(dec), s, 8), 6);
	}
}

static void rejects_bad_padding(void **state)
{
	static const char *const bad[] = {
	    "====",	"Z===",	    "=Zg=", "Zg=a",  "Zm9v=g==", "Zg==Zg==",
	    "Zm8=Zm9v", "Zh==",	    "Zm9=", "Zg=\0", "Zm9\n",	 "Zm 9v",
	    "Zm9v\n",	"Zm9v\r\n", "Zm9-", "Zm9_",  "Zg=.",	 "Zm9vYg=A",
	};
	uint8_t dec[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);

		if (len == 3 && bad[i][2] == '=')
			len = 4; /* the embedded NUL case */
		if (b64_decode(dec, sizeof(dec), bad[i], len) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void rejects_impossible_lengths(void **state)
{
	const char *s = "Zm9vYmFyZm9vYmFy";
	uint8_t dec[64];

	for (size_t len = 1; len <= 16; len++) {
		long r = b64_decode(dec, sizeof(dec), s, len);

		if (len % 4)
			assert_int_equal(r, -EINVAL);
		else
			assert_int_equal(r, len / 4 * 3);
	}
}

static void reports_no_space(void **state)
{
	uint8_t src[6] = "foobar", dec[8];
	char enc[16];

	assert_int_equal(b64_encode(enc, 8, src, 6), -ENOSPC);
	assert_int_equal(b64_encode(enc, 9, src, 6), 8);
	assert_int_equal(b64_decode(dec, 5, "Zm9vYmFy", 8), -ENOSPC);
	assert_int_equal(b64_decode(dec, 6, "Zm9vYmFy", 8), 6);
	assert_int_equal(b64_decode(dec, 4, "Zm9vYg==", 8), 4);
	assert_int_equal(b64_decode(dec, 3, "Zm9vYg==", 8), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc4648_vectors),
	    cmocka_unit_test(media_frame_is_one_line_of_216),
	    cmocka_unit_test(matches_libb64_on_random_input),
	    cmocka_unit_test(rejects_every_character_outside_alphabet),
	    cmocka_unit_test(accepts_every_alphabet_character),
	    cmocka_unit_test(rejects_bad_padding),
	    cmocka_unit_test(rejects_impossible_lengths),
	    cmocka_unit_test(reports_no_space),
	};

	return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
