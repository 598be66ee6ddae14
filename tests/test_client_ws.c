/*
 * test_client_ws.c - the WebSocket framing every Chorus program outside
 * the gateway speaks (mock-client/wsframe.h): headers for every length
 * class read back, exact bytes for a fragmented message and its
 * continuations, partial frames wait for more bytes, protocol violations
 * are refused, masking is its own inverse, whole frames are encoded or
 * refused when they do not fit, the accept key matches RFC 6455's example,
 * and close payloads round-trip.
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
			size_t h = mc_ws_header(buf, MC_WS_OP_TEXT, true,
						lens[i], masked ? mask : NULL);

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

/* RFC 6455 5.4's example: "Hel" (text, no FIN), then "lo" (continuation,
 * FIN), unmasked; then the same masked. */
static void fragmented_message_headers_are_exact(void **state)
{
	const uint8_t mask[4] = {0x37, 0xFA, 0x21, 0x3D};
	const uint8_t first[] = {0x01, 0x03};
	const uint8_t last[] = {0x80, 0x02};
	const uint8_t middle_masked[] = {0x00, 0x83, 0x37, 0xFA, 0x21, 0x3D};
	const uint8_t first_long[] = {0x02, 0x7E, 0x01, 0x00};
	uint8_t hdr[MC_WS_MAX_HEADER];

	(void)state;
	assert_int_equal(mc_ws_header(hdr, MC_WS_OP_TEXT, false, 3, NULL), 2);
	assert_memory_equal(hdr, first, 2);
	assert_int_equal(mc_ws_header(hdr, MC_WS_OP_CONT, true, 2, NULL), 2);
	assert_memory_equal(hdr, last, 2);
	assert_int_equal(mc_ws_header(hdr, MC_WS_OP_CONT, false, 3, mask), 6);
	assert_memory_equal(hdr, middle_masked, 6);
	assert_int_equal(mc_ws_header(hdr, MC_WS_OP_BINARY, false, 256, NULL),
			 4);
	assert_memory_equal(hdr, first_long, 4);
}

static void every_opcode_and_fin_read_back(void **state)
{
	const struct {
		unsigned op;
		bool fin;
		uint8_t byte0;
	} cases[] = {
	    {MC_WS_OP_TEXT, true, 0x81},   {MC_WS_OP_TEXT, false, 0x01},
	    {MC_WS_OP_BINARY, true, 0x82}, {MC_WS_OP_BINARY, false, 0x02},
	    {MC_WS_OP_CONT, false, 0x00},  {MC_WS_OP_CONT, true, 0x80},
	    {MC_WS_OP_CLOSE, true, 0x88},  {MC_WS_OP_PING, true, 0x89},
	    {MC_WS_OP_PONG, true, 0x8A},
	};
	uint8_t hdr[MC_WS_MAX_HEADER];
	mc_ws_frame_t f;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mc_ws_header(hdr, cases[i].op, cases[i].fin, 0, NULL);
		assert_int_equal(hdr[0], cases[i].byte0);
		assert_int_equal(mc_ws_parse(hdr, 2, &f), 1);
		assert_int_equal(f.opcode, cases[i].op);
		assert_int_equal(f.fin, cases[i].fin);
	}
}

/* A message sent as three encoded fragments parses back frame by frame
 * from one buffer, and the unmasked payloads join into the message. */
static void fragments_parse_back_in_order_from_one_buffer(void **state)
{
	const char msg[] = "{\"event\":\"start\",\"fragmented\":true}";
	const size_t cut[4] = {0, 5, 20, sizeof(msg) - 1};
	const uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
	uint8_t buf[3 * MC_WS_MAX_HEADER + sizeof(msg)], joined[sizeof(msg)];
	size_t n = 0, off = 0, got = 0;
	mc_ws_frame_t f;

	(void)state;
	for (int i = 0; i < 3; i++)
		n += mc_ws_encode(buf + n, sizeof(buf) - n,
				  i ? MC_WS_OP_CONT : MC_WS_OP_TEXT, i == 2,
				  msg + cut[i], cut[i + 1] - cut[i], mask);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mc_ws_parse(buf + off, n - off, &f), 1);
		assert_int_equal(f.opcode, i ? MC_WS_OP_CONT : MC_WS_OP_TEXT);
		assert_int_equal(f.fin, i == 2);
		assert_true(f.masked);
		assert_int_equal(f.len, cut[i + 1] - cut[i]);
		mc_ws_mask(buf + off + f.header_len, (size_t)f.len, f.mask);
		memcpy(joined + got, buf + off + f.header_len, (size_t)f.len);
		got += (size_t)f.len;
		off += f.header_len + (size_t)f.len;
	}
	assert_int_equal(off, n);
	assert_int_equal(got, sizeof(msg) - 1);
	assert_memory_equal(joined, msg, got);
}

static void encode_writes_header_and_masked_payload(void **state)
{
	const uint8_t mask[4] = {1, 2, 3, 4};
	/* FIN+text, mask bit+5, the key, then "hello" XOR 1 2 3 4 1. */
	const uint8_t want[] = "\x81\x85\x01\x02\x03\x04"
			       "\x69\x67\x6f\x68\x6e";
	const uint8_t plain[] = {0x89, 0x02, 'h', 'i'};
	uint8_t out[32];

	(void)state;
	assert_int_equal(mc_ws_encode(out, sizeof(out), MC_WS_OP_TEXT, true,
				      "hello", 5, mask),
			 sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want) - 1);
	assert_int_equal(
	    mc_ws_encode(out, sizeof(out), MC_WS_OP_PING, true, "hi", 2, NULL),
	    sizeof(plain));
	assert_memory_equal(out, plain, sizeof(plain));
}

static void encode_refuses_a_frame_that_does_not_fit(void **state)
{
	const uint8_t mask[4] = {1, 2, 3, 4};
	uint8_t out[16];

	(void)state;
	memset(out, 0xEE, sizeof(out));
	/* 6 header bytes + 5: fits in 11, not in 10 (nor in a header's 5). */
	assert_int_equal(
	    mc_ws_encode(out, 10, MC_WS_OP_TEXT, true, "hello", 5, mask), 0);
	assert_int_equal(
	    mc_ws_encode(out, 5, MC_WS_OP_TEXT, true, "hello", 5, mask), 0);
	assert_int_equal(out[0], 0xEE); /* nothing written */
	assert_int_equal(
	    mc_ws_encode(out, 11, MC_WS_OP_TEXT, true, "hello", 5, mask), 11);
}

static void fragmented_control_frames_are_refused(void **state)
{
	uint8_t hdr[MC_WS_MAX_HEADER];
	const unsigned ops[] = {MC_WS_OP_CLOSE, MC_WS_OP_PING, MC_WS_OP_PONG};
	mc_ws_frame_t f;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		mc_ws_header(hdr, ops[i], false, 0, NULL);
		assert_int_equal(mc_ws_parse(hdr, 2, &f), -EPROTO);
		mc_ws_header(hdr, ops[i], true, MC_WS_MAX_CONTROL + 1, NULL);
		assert_int_equal(mc_ws_parse(hdr, 4, &f), -EPROTO);
	}
}

/* The header is known before the payload arrives, so a reader can refuse
 * a frame too large to buffer without waiting for it. */
static void incomplete_payload_still_reports_the_header(void **state)
{
	const uint8_t mask[4] = {5, 6, 7, 8};
	uint8_t buf[MC_WS_MAX_HEADER];
	size_t h = mc_ws_header(buf, MC_WS_OP_BINARY, true, 1 << 20, mask);
	mc_ws_frame_t f;

	(void)state;
	assert_int_equal(mc_ws_parse(buf, h, &f), 0);
	assert_int_equal(f.header_len, h);
	assert_int_equal(f.len, 1 << 20);
	assert_int_equal(mc_ws_parse(buf, h - 1, &f), 0);
	assert_int_equal(f.header_len, 0);
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

static void upgrade_reply_carries_the_accept_key(void **state)
{
	const char req[] = "GET /rooms/r HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			   "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
			   "Sec-WebSocket-Version: 13\r\n\r\n";
	const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: "
			    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	char out[MC_WS_UPGRADE_REPLY_CAP];

	(void)state;
	assert_int_equal(mc_ws_upgrade_reply(req, out, sizeof(out)),
			 strlen(want));
	assert_string_equal(out, want);
	assert_int_equal(mc_ws_upgrade_reply(req, out, strlen(want)), -ENOSPC);
}

static void upgrade_without_a_key_is_refused(void **state)
{
	char out[MC_WS_UPGRADE_REPLY_CAP];

	(void)state;
	assert_int_equal(
	    mc_ws_upgrade_reply("GET / HTTP/1.1\r\nHost: x\r\n\r\n", out,
				sizeof(out)),
	    -EINVAL);
	assert_int_equal(mc_ws_upgrade_reply("GET / HTTP/1.1\r\n"
					     "Sec-WebSocket-Key: \r\n\r\n",
					     out, sizeof(out)),
			 -EINVAL);
}

static void close_payload_round_trips_code_and_reason(void **state)
{
	char reason[200];
	uint8_t p[MC_WS_MAX_CONTROL];

	(void)state;
	assert_int_equal(mc_ws_close_payload(p, MC_WS_CLOSE_NORMAL, "bye"), 5);
	assert_memory_equal(p,
			    "\x03\xe8"
			    "bye",
			    5);
	assert_int_equal(mc_ws_close_code(p, 5), 1000);
	assert_int_equal(mc_ws_close_payload(p, 4029, NULL), 2);
	assert_int_equal(mc_ws_close_code(p, 2), 4029);
	/* A reason too long for a control frame is cut to fit. */
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(mc_ws_close_payload(p, 1001, reason),
			 MC_WS_MAX_CONTROL);
	assert_int_equal(mc_ws_close_code(p, 1), MC_WS_CLOSE_NO_STATUS);
	assert_int_equal(mc_ws_close_code(p, 0), MC_WS_CLOSE_NO_STATUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_reads_back_for_every_length_class),
	    cmocka_unit_test(every_prefix_of_a_frame_asks_for_more),
	    cmocka_unit_test(protocol_violations_are_refused),
	    cmocka_unit_test(fragmented_message_headers_are_exact),
	    cmocka_unit_test(every_opcode_and_fin_read_back),
	    cmocka_unit_test(fragments_parse_back_in_order_from_one_buffer),
	    cmocka_unit_test(encode_writes_header_and_masked_payload),
	    cmocka_unit_test(encode_refuses_a_frame_that_does_not_fit),
	    cmocka_unit_test(fragmented_control_frames_are_refused),
	    cmocka_unit_test(incomplete_payload_still_reports_the_header),
	    cmocka_unit_test(masking_twice_restores_the_payload),
	    cmocka_unit_test(accept_key_matches_rfc6455_example),
	    cmocka_unit_test(upgrade_reply_carries_the_accept_key),
	    cmocka_unit_test(upgrade_without_a_key_is_refused),
	    cmocka_unit_test(close_payload_round_trips_code_and_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
