/*
 * The live events' bus (gateway/events.h) on its own: seq order, the
 * object's shape, overwriting after a lap, escaping, secrets left out.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/events.h"

static void events_get_rising_seq_and_a_valid_object(void **state)
{
	gw_events_t *e = gw_events_new();
	char buf[GW_EVENT_MAX + 1];
	json_t *o;

	assert_int_equal(gw_events_head(e), 1);
	assert_int_equal(gw_events_read(e, 1, buf), -EAGAIN);
	gw_events_room(e, "room.created", "r1");
	gw_events_participant(e, "participant.talking", "r1", 2, "CA\"x\n",
			      "MZ1");
	assert_int_equal(gw_events_head(e), 3);
	assert_true(gw_events_read(e, 2, buf) > 0);
	o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "callSid")),
			    "CA\"x\n");
	assert_int_equal(json_integer_value(json_object_get(o, "seat")), 2);
	assert_int_equal(strlen(json_string_value(json_object_get(o, "time"))),
			 strlen("2024-01-01T00:00:00.000Z"));
	json_decref(o);
	gw_events_free(e);
}

static void a_reader_a_lap_behind_finds_its_event_stale(void **state)
{
	gw_events_t *e = gw_events_new();
	char buf[GW_EVENT_MAX + 1];

	for (unsigned i = 0; i < GW_EVENTS_SLOTS + 1; i++)
		gw_events_room(e, "room.created", "r");
	assert_int_equal(gw_events_read(e, 1, buf), -ESTALE);
	assert_true(gw_events_read(e, 2, buf) > 0);
	assert_true(gw_events_read(e, GW_EVENTS_SLOTS + 1, buf) > 0);
	gw_events_free(e);
}

static void joined_leaves_out_password_and_token(void **state)
{
	gw_events_t *e = gw_events_new();
	char buf[GW_EVENT_MAX + 1];
	json_t *params = json_pack("{s:s,s:s,s:s}", "password", "pw1", "token",
				   "tk1", "agent", "bob");
	json_t *o;

	gw_events_joined(e, "r", 1, "CA1", "MZ1", params);
	assert_true(gw_events_read(e, 1, buf) > 0);
	assert_null(strstr(buf, "pw1"));
	assert_null(strstr(buf, "tk1"));
	o = json_loads(buf, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(o, "customParameters"), "agent")),
	    "bob");
	json_decref(o);
	json_decref(params);
	gw_events_free(e);
}

static void json_string_escapes_and_cuts_short_validly(void **state)
{
	char out[32];

	assert_string_equal(
	    gw_events_json_string(out, sizeof(out), "a\"\\\x1b"),
	    "\"a\\\"\\\\\\u001b\"");
	gw_events_json_string(out, 8, "abcdefghij");
	assert_string_equal(out, "\"abcde\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(events_get_rising_seq_and_a_valid_object),
	    cmocka_unit_test(a_reader_a_lap_behind_finds_its_event_stale),
	    cmocka_unit_test(joined_leaves_out_password_and_token),
	    cmocka_unit_test(json_string_escapes_and_cuts_short_validly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
