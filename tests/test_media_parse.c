/*
 * gateway/media_parse.c: the fast path takes exactly Twilio's media shape
 * and answers "not handled" for everything else, never misreading a frame;
 * whatever it handles, the full parser (proto.c) reads the same way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/media_parse.h"
#include "gateway/proto.h"
#include "tests/support/tsupport.h"

static const char twilio[] =
    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{\"track\":"
    "\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\",\"payload\":"
    "\"//////////8=\"},\"streamSid\":\"MZ18ad3ab5a668481ce02b83e7395059f0\"}";

static int fast(const char *s, gw_media_t *m)
{
	return gw_media_parse_fast(s, strlen(s), m);
}

static void span_is(gw_span_t s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

static void twilio_shape_is_handled(void **state)
{
	gw_media_t m;

	assert_int_equal(fast(twilio, &m), 1);
	span_is(m.track, "inbound");
	span_is(m.payload, "//////////8=");
	span_is(m.stream_sid, "MZ18ad3ab5a668481ce02b83e7395059f0");
	assert_int_equal(m.timestamp, 5);
	assert_int_equal(m.chunk, 1);
	assert_int_equal(m.seq, 3);
}

static void large_numbers_and_outbound_track(void **state)
{
	static const char s[] =
	    "{\"event\":\"media\",\"sequenceNumber\":\"4294967295\","
	    "\"media\":{\"track\":\"outbound\",\"chunk\":\"123456\","
	    "\"timestamp\":\"4000000000\",\"payload\":\"\"},"
	    "\"streamSid\":\"x\"}";
	gw_media_t m;

	assert_int_equal(fast(s, &m), 1);
	span_is(m.track, "outbound");
	assert_int_equal(m.payload.len, 0);
	assert_int_equal(m.timestamp, 4000000000u);
	assert_int_equal(m.seq, 4294967295u);
}

static void anything_unusual_is_not_handled(void **state)
{
	static const char *const cases[] = {
	    /* escapes: the slow path unescapes */
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"\\/\\/\\/\\/\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"M\\\"Z\"}",
	    /* other key order */
	    "{\"sequenceNumber\":\"3\",\"event\":\"media\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"timestamp\":\"5\",\"chunk\":\"1\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    /* extra / missing fields */
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\",\"x\":1},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\",\"x\":1}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"}}",
	    /* whitespace, numbers not strings, bad numbers */
	    "{ \"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":3,\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"-5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":"
	    "\"4294967296\",\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"}",
	    /* trailing bytes, truncation, control characters */
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"} ",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAA\"},\"streamSid\":\"MZ\"",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AA\nAA\"},\"streamSid\":\"MZ\"}",
	    "{\"event\":\"start\"}",
	    "",
	};
	gw_media_t m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (fast(cases[i], &m) != 0)
			fail_msg("case %zu was handled: %s", i, cases[i]);
	}
	assert_int_equal(gw_media_parse_fast(NULL, 0, &m), 0);
}

static void every_prefix_is_not_handled(void **state)
{
	gw_media_t m;

	/* No read past len: each prefix is a fresh exact-size copy. */
	for (size_t n = 0; n < sizeof(twilio) - 1; n++) {
		char *p = malloc(n ? n : 1);

		memcpy(p, twilio, n);
		assert_int_equal(gw_media_parse_fast(p, n, &m), 0);
		free(p);
	}
}

/* Whatever the fast path handles, the slow path reads identically. */
static void fast_and_slow_paths_agree_on_random_mutations(void **state)
{
	size_t n = sizeof(twilio) - 1;
	char buf[sizeof(twilio)];
	int handled = 0;

	ts_seed("fast_and_slow_paths_agree");
	for (int iter = 0; iter < 20000; iter++) {
		gw_media_t f;
		gw_msg_t msg;
		char why[128];

		memcpy(buf, twilio, n);
		for (int k = 0; k < 1 + (int)(ts_rand() % 3); k++)
			buf[ts_rand() % n] = (char)(ts_rand() % 256);
		if (!gw_media_parse_fast(buf, n, &f))
			continue;
		handled++;
		if (gw_proto_parse(buf, n, &msg, why, sizeof(why)) < 0)
			fail_msg("fast handled what the parser refuses (%s): "
				 "%.*s",
				 why, (int)n, buf);
		assert_int_equal(msg.event, GW_EV_MEDIA);
		assert_int_equal(msg.media.timestamp, f.timestamp);
		assert_int_equal(msg.media.payload.len, f.payload.len);
		assert_memory_equal(msg.media.payload.p, f.payload.p,
				    f.payload.len);
		assert_int_equal(msg.media.track.len, f.track.len);
		assert_memory_equal(msg.media.track.p, f.track.p, f.track.len);
		gw_msg_release(&msg);
	}
	printf("mutations handled by the fast path: %d of 20000\n", handled);
	assert_true(handled > 0);
}

static void parse_u32_is_strict(void **state)
{
	uint32_t v;

	assert_int_equal(gw_parse_u32("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(gw_parse_u32("4294967295", 10, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(gw_parse_u32("4294967296", 10, &v), -EINVAL);
	assert_int_equal(gw_parse_u32("", 0, &v), -EINVAL);
	assert_int_equal(gw_parse_u32("+1", 2, &v), -EINVAL);
	assert_int_equal(gw_parse_u32("1 ", 2, &v), -EINVAL);
	assert_int_equal(gw_parse_u32("12345678901", 11, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(twilio_shape_is_handled),
	    cmocka_unit_test(large_numbers_and_outbound_track),
	    cmocka_unit_test(anything_unusual_is_not_handled),
	    cmocka_unit_test(every_prefix_is_not_handled),
	    cmocka_unit_test(fast_and_slow_paths_agree_on_random_mutations),
	    cmocka_unit_test(parse_u32_is_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
