/*
 * test_client_ws.c - the WebSocket framing the mock client speaks
 * (mock-client/ws.h): headers for every length class read back, partial
 * frames wait for more bytes, protocol violations are refused, masking is
 * its own inverse, and the accept key matches RFC 6455's example.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mock-client/wsframe.h"
#include "tests/support/tsupport.h"

static void header_reads_back_for_every_length_class(void **state)
{
	const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
	const uint8_t mask[4] = {1, 2, 3, 4};
	static uint8_t buf[MC_WS_MAX_HEADER + 100000];
	mc_ws_frame_t f;

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int masked = 0; masked < 2; masked++) {
			size_t h =
			    mc_ws_header(buf, MC_WS_OP_TEXT, true, lens[i],
					 masked ? mask : NULL);

			assert_int_equal(mc_ws_parse(buf, h + lens[i], &f), 1);
			assert_true(f.fin);
			assert_int_equal(f.opcode, 1);
			assert_int_equal(f.len, lens[i]);
			assert_int_equal(f.header_len, h);
			assert_int_equal(f.masked, masked);
			if (masked)
				assert_memory_equal(f.mask, mask, 4);
			/* One byte short: wait for more. */
			assert_int_equal(mc_ws_parse(buf, h + lens[i] - 1, &f),
					 0);
		}
	}
}

static void every_prefix_of_a_frame_asks_for_more(void **state)
{
	uint8_t buf[MC_WS_MAX_HEADER + 300];
	const uint8_t mask[4] = {9, 8, 7, 6};
	size_t h = mc_ws_header(buf, MC_WS_OP_BINARY, true, 300, mask);
	mc_ws_frame_t f;

	(void)state;
	for (size_t n = 0; n < h + 300; n++)
		assert_int_equal(mc_ws_parse(buf, n, &f), 0);
	assert_int_equal(mc_ws_parse(buf, h + 300, &f), 1);
}

static void protocol_violations_are_refused(void **state)
{
	const uint8_t rsv[] = {0xC1, 0x00}; /* RSV1 without extension */
	const uint8_t op3[] = {0x83, 0x00}; /* reserved opcode */
	const uint8_t opB[] = {0x8B, 0x00}; /* reserved control */
	const uint8_t big_ping[] = {0x89, 126, 0, 126};
	const uint8_t split_close[] = {0x08, 0x02, 0x03, 0xE8};
	mc_ws_frame_t f;

	(void)state;
	assert_int_equal(mc_ws_parse(rsv, 2, &f), -EPROTO);
	assert_int_equal(mc_ws_parse(op3, 2, &f), -EPROTO);
	assert_int_equal(mc_ws_parse(opB, 2, &f), -EPROTO);
	assert_int_equal(mc_ws_parse(big_ping, 4, &f), -EPROTO);
	assert_int_equal(mc_ws_parse(split_close, 4, &f), -EPROTO);
}

static void masking_twice_restores_the_payload(void **state)
{
	uint8_t a[333], b[333];
	const uint8_t mask[4] = {0xDE, 0xAD, 0xBE, 0xEF};

	(void)state;
	ts_seed("ws-mask");
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)ts_rand();
	for (size_t n = 0; n <= sizeof(a); n += 37) {
		mc_ws_mask(b, n, mask);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(b[i], a[i] ^ mask[i & 3]);
		mc_ws_mask(b, n, mask);
		assert_memory_equal(a, b, sizeof(a));
	}
}

static void accept_key_matches_rfc6455_example(void **state)
{
	char out[29];

	(void)state;
	assert_int_equal(mc_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_reads_back_for_every_length_class),
	    cmocka_unit_test(every_prefix_of_a_frame_asks_for_more),
	    cmocka_unit_test(protocol_violations_are_refused),
	    cmocka_unit_test(masking_twice_restores_the_payload),
	    cmocka_unit_test(accept_key_matches_rfc6455_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
