/*
 * test_client_proto.c - the messages the mock platform sends
 * (mock-client/proto.h) have the shapes of docs/protocol.md (numbers as
 * strings where Twilio sends strings), and server messages are read on both
 * the fast and the slow path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mock-client/proto.h"

static json_t *load(const char *buf, long n)
{
	json_t *j;

	assert_true(n > 0);
	assert_int_equal(strlen(buf), (size_t)n);
	j = json_loadb(buf, (size_t)n, 0, NULL);
	assert_non_null(j);
	return j;
}

static const char *str(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		j = json_object_get(j, key);
		path = dot + 1;
	}
	j = json_object_get(j, path);
	assert_true(json_is_string(j));
	return json_string_value(j);
}

static void ids_have_twilio_prefixes_and_length(void **state)
{
	mc_ids_t a, b;
	uint64_t rng = 42;

	(void)state;
	mc_proto_make_ids(&a, &rng);
	mc_proto_make_ids(&b, &rng);
	assert_int_equal(strlen(a.stream_sid), MC_SID_LEN);
	assert_memory_equal(a.account_sid, "AC", 2);
	assert_memory_equal(a.call_sid, "CA", 2);
	assert_memory_equal(a.stream_sid, "MZ", 2);
	assert_string_not_equal(a.stream_sid, b.stream_sid);
}

static void connected_is_the_platform_greeting(void **state)
{
	char buf[256];
	json_t *j = load(buf, mc_proto_connected(buf, sizeof(buf)));

	(void)state;
	assert_string_equal(str(j, "event"), "connected");
	assert_string_equal(str(j, "protocol"), "Call");
	assert_string_equal(str(j, "version"), "1.0.0");
	json_decref(j);
}

static void start_carries_ids_tracks_parameters_and_format(void **state)
{
	char buf[2048];
	mc_ids_t ids;
	uint64_t rng = 1;
	mc_param_t p[] = {{"password", "hun\"ter2"}, {"room", "standup"}};
	json_t *j, *fmt;

	(void)state;
	mc_proto_make_ids(&ids, &rng);
	j = load(buf, mc_proto_start(buf, sizeof(buf), &ids, p, 2));
	assert_string_equal(str(j, "event"), "start");
	assert_string_equal(str(j, "sequenceNumber"), "1");
	assert_string_equal(str(j, "streamSid"), ids.stream_sid);
	assert_string_equal(str(j, "start.streamSid"), ids.stream_sid);
	assert_string_equal(str(j, "start.callSid"), ids.call_sid);
	assert_string_equal(str(j, "start.accountSid"), ids.account_sid);
	assert_string_equal(str(j, "start.customParameters.password"),
			    "hun\"ter2");
	assert_string_equal(str(j, "start.customParameters.room"), "standup");
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(j, "start"), "tracks"), 0)),
	    "inbound");
	fmt = json_object_get(json_object_get(j, "start"), "mediaFormat");
	assert_string_equal(str(fmt, "encoding"), "audio/x-mulaw");
	assert_int_equal(json_integer_value(json_object_get(fmt, "sampleRate")),
			 8000);
	assert_int_equal(json_integer_value(json_object_get(fmt, "channels")),
			 1);
	json_decref(j);
}

static void media_numbers_are_strings(void **state)
{
	char buf[1024];
	json_t *j;

	(void)state;
	j = load(buf, mc_proto_media(buf, sizeof(buf), "MZ1", 3, 1, 220,
				     "AAAA//8=", 8));
	assert_string_equal(str(j, "event"), "media");
	assert_string_equal(str(j, "sequenceNumber"), "3");
	assert_string_equal(str(j, "media.track"), "inbound");
	assert_string_equal(str(j, "media.chunk"), "1");
	assert_string_equal(str(j, "media.timestamp"), "220");
	assert_string_equal(str(j, "media.payload"), "AAAA//8=");
	assert_string_equal(str(j, "streamSid"), "MZ1");
	json_decref(j);
	assert_int_equal(mc_proto_media(buf, 40, "MZ1", 3, 1, 220, "AAAA", 4),
			 -ENOSPC);
}

static void mark_and_stop_have_their_shapes(void **state)
{
	char buf[1024];
	mc_ids_t ids;
	uint64_t rng = 3;
	json_t *j;

	(void)state;
	mc_proto_make_ids(&ids, &rng);
	j = load(buf, mc_proto_mark(buf, sizeof(buf), ids.stream_sid, 9,
				    "greeting"));
	assert_string_equal(str(j, "event"), "mark");
	assert_string_equal(str(j, "sequenceNumber"), "9");
	assert_string_equal(str(j, "mark.name"), "greeting");
	json_decref(j);
	j = load(buf, mc_proto_stop(buf, sizeof(buf), &ids, 10));
	assert_string_equal(str(j, "event"), "stop");
	assert_string_equal(str(j, "stop.callSid"), ids.call_sid);
	assert_string_equal(str(j, "stop.accountSid"), ids.account_sid);
	assert_string_equal(str(j, "streamSid"), ids.stream_sid);
	json_decref(j);
}

static void server_media_is_read_on_the_fast_path(void **state)
{
	const char *m = "{\"event\":\"media\",\"streamSid\":\"MZ1\","
			"\"media\":{\"payload\":\"//79/A==\"}}";
	char scratch[64];
	mc_inbound_t in;

	(void)state;
	assert_int_equal(
	    mc_proto_parse(m, strlen(m), scratch, sizeof(scratch), &in),
	    MC_EV_MEDIA);
	assert_true(in.payload > m && in.payload < m + strlen(m));
	assert_int_equal(in.payload_len, 8);
	assert_memory_equal(in.payload, "//79/A==", 8);
}

static void escaped_slashes_take_the_slow_path(void **state)
{
	const char *m = "{\"event\":\"media\",\"streamSid\":\"MZ1\","
			"\"media\":{\"payload\":\"\\/\\/79\\/A==\"}}";
	char scratch[64];
	mc_inbound_t in;

	(void)state;
	assert_int_equal(
	    mc_proto_parse(m, strlen(m), scratch, sizeof(scratch), &in),
	    MC_EV_MEDIA);
	assert_ptr_equal(in.payload, scratch);
	assert_int_equal(in.payload_len, 8);
	assert_memory_equal(in.payload, "//79/A==", 8);
	assert_string_equal(in.stream_sid, "MZ1");
}

static void mark_clear_and_garbage_are_told_apart(void **state)
{
	const char *mark = "{\"event\":\"mark\",\"streamSid\":\"MZ1\","
			   "\"mark\":{\"name\":\"n1\"}}";
	const char *clear = "{\"event\":\"clear\",\"streamSid\":\"MZ1\"}";
	const char *junk[] = {"",
			      "{",
			      "[]",
			      "{\"event\":1}",
			      "{\"event\":\"media\",\"media\":{}}",
			      "{\"event\":\"mark\",\"mark\":{}}"};
	char scratch[64];
	mc_inbound_t in;

	(void)state;
	assert_int_equal(mc_proto_parse(mark, strlen(mark), scratch, 64, &in),
			 MC_EV_MARK);
	assert_string_equal(in.mark_name, "n1");
	assert_int_equal(mc_proto_parse(clear, strlen(clear), scratch, 64, &in),
			 MC_EV_CLEAR);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(
		    mc_proto_parse(junk[i], strlen(junk[i]), scratch, 64, &in),
		    MC_EV_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ids_have_twilio_prefixes_and_length),
	    cmocka_unit_test(connected_is_the_platform_greeting),
	    cmocka_unit_test(start_carries_ids_tracks_parameters_and_format),
	    cmocka_unit_test(media_numbers_are_strings),
	    cmocka_unit_test(mark_and_stop_have_their_shapes),
	    cmocka_unit_test(server_media_is_read_on_the_fast_path),
	    cmocka_unit_test(escaped_slashes_take_the_slow_path),
	    cmocka_unit_test(mark_clear_and_garbage_are_told_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
