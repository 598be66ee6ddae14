/*
 * The gateway's pure parts without a server: room names, paths and
 * passwords, the registry's admission rules and seats, which worker's
 * clock ticks a room, the metrics exposition, the settings
 * (defaults, environment, flags, config file), and the protocol layer's
 * reading of control messages and writing of the media envelope.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/clock.h"
#include "gateway/cmdq.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/outq.h"
#include "gateway/proto.h"
#include "gateway/room.h"

/* --- names, paths, passwords ------------------------------------------- */

static void room_names_are_1_to_64_safe_characters(void **state)
{
	char n65[66];

	assert_true(gw_room_name_valid("a", 1));
	assert_true(gw_room_name_valid("Team_1.sync-2", 13));
	assert_false(gw_room_name_valid("", 0));
	assert_false(gw_room_name_valid("a b", 3));
	assert_false(gw_room_name_valid("a/b", 3));
	assert_false(gw_room_name_valid("caf\xc3\xa9", 5));
	memset(n65, 'x', 65);
	assert_true(gw_room_name_valid(n65, 64));
	assert_false(gw_room_name_valid(n65, 65));
}

static void paths_give_the_room_or_none(void **state)
{
	char room[GW_ROOM_NAME_MAX + 1];

	assert_int_equal(gw_room_from_path("/", room), 0);
	assert_int_equal(gw_room_from_path("/rooms/demo", room), 1);
	assert_string_equal(room, "demo");
	assert_int_equal(gw_room_from_path("/rooms/demo/", room), 1);
	assert_string_equal(room, "demo");
	assert_int_equal(gw_room_from_path("/rooms/a%2Eb%5fc", room), 1);
	assert_string_equal(room, "a.b_c");
	assert_int_equal(gw_room_from_path("/rooms/", room), -EINVAL);
	assert_int_equal(gw_room_from_path("/rooms/a/b", room), 1);
	assert_string_equal(room, "a");
	assert_int_equal(gw_room_from_path("/rooms//b", room), -EINVAL);
	assert_int_equal(gw_room_from_path("/rooms/a%2", room), -EINVAL);
	assert_int_equal(gw_room_from_path("/rooms/a%20b", room), -EINVAL);
	assert_int_equal(gw_room_from_path("/other", room), -EINVAL);
	assert_int_equal(gw_room_from_path("/roomsx/a", room), -EINVAL);
}

static void passwords_compare_exactly(void **state)
{
	assert_true(gw_password_equal("", ""));
	assert_true(gw_password_equal("hunter2", "hunter2"));
	assert_false(gw_password_equal("hunter2", "hunter3"));
	assert_false(gw_password_equal("hunter2", "hunter"));
	assert_false(gw_password_equal("hunter", "hunter2"));
	assert_false(gw_password_equal("", "x"));
}

/* --- registry ---------------------------------------------------------- */

/* What the admin API would show of a call: nothing, here. */
static const gw_call_info_t no_info;

static gw_registry_t *registry(unsigned max_rooms, unsigned per_room,
			       bool auto_create)
{
	gw_config_t c;
	gw_registry_t *r;

	gw_config_default(&c);
	c.max_rooms = max_rooms;
	c.max_per_room = per_room;
	c.auto_create = auto_create;
	r = gw_registry_new(&c);
	assert_non_null(r);
	return r;
}

static void seats_are_lowest_free_and_limits_hold(void **state)
{
	gw_registry_t *r = registry(2, 3, true);
	gw_member_t m[4];
	int u;

	assert_int_equal(gw_registry_join(r, "a", NULL, &u, &no_info, &m[0]),
			 0);
	assert_true(m[0].created);
	assert_true(m[0].start_timer);
	assert_int_equal(m[0].seat, 1);
	assert_int_equal(gw_registry_join(r, "a", NULL, &u, &no_info, &m[1]),
			 0);
	assert_false(m[1].created);
	assert_false(m[1].start_timer);
	assert_int_equal(m[1].seat, 2);
	assert_int_equal(gw_registry_join(r, "a", NULL, &u, &no_info, &m[2]),
			 0);
	assert_int_equal(m[2].seat, 3);
	assert_int_equal(gw_registry_join(r, "a", NULL, &u, &no_info, &m[3]),
			 -EUSERS);
	gw_registry_leave(r, &m[1], NULL);
	assert_int_equal(gw_registry_join(r, "a", NULL, &u, &no_info, &m[1]),
			 0);
	assert_int_equal(m[1].seat, 2);
	/* Rooms: "a" and "b" fit, "c" does not. */
	assert_int_equal(gw_registry_join(r, "b", NULL, &u, &no_info, &m[3]),
			 0);
	{
		gw_member_t x;

		assert_int_equal(
		    gw_registry_join(r, "c", NULL, &u, &no_info, &x), -EMLINK);
	}
	for (int i = 0; i < 4; i++)
		gw_registry_leave(r, &m[i], NULL);
	gw_registry_free(r);
}

static void creator_sets_password_until_room_empties(void **state)
{
	gw_registry_t *r = registry(10, 10, true);
	gw_member_t a, b;
	gw_room_t *first;
	int u;

	assert_int_equal(gw_registry_join(r, "s", "pw", &u, &no_info, &a), 0);
	assert_int_equal(gw_registry_join(r, "s", NULL, &u, &no_info, &b),
			 -EACCES);
	assert_int_equal(gw_registry_join(r, "s", "PW", &u, &no_info, &b),
			 -EACCES);
	assert_int_equal(gw_registry_join(r, "s", "pw", &u, &no_info, &b), 0);
	gw_registry_leave(r, &b, NULL);
	first = a.room;
	gw_registry_leave(r, &a, NULL);
	/* Emptied: its clock would free it; the name is free again. */
	assert_true(gw_registry_clock_idle(r, first));
	assert_int_equal(gw_registry_join(r, "s", "other", &u, &no_info, &a),
			 0);
	assert_true(a.created);
	gw_registry_leave(r, &a, NULL);
	gw_registry_free(r);
}

static bool never_idle(void *data, gw_tick_t *t)
{
	return false;
}

static void rooms_go_to_the_clock_with_fewest(void **state)
{
	atomic_int stopping = 0;
	gw_clocks_t *cs = gw__clocks_new(3, never_idle, NULL, &stopping);
	gw_tick_t t[7];
	unsigned per[3] = {0};

	assert_non_null(cs);
	/* Round robin while they are even: each worker gets one before any
	 * gets a second. */
	for (unsigned i = 0; i < 7; i++) {
		unsigned o = gw__clock_assign(cs, &t[i]);

		assert_true(o < 3);
		assert_int_equal(t[i].owner, o);
		per[o]++;
		if (i == 2)
			assert_true(per[0] == 1 && per[1] == 1 && per[2] == 1);
	}
	assert_true(per[0] >= 2 && per[1] >= 2 && per[2] >= 2);
	gw__clocks_free(cs);
}

/* Delivers frames "<tag>0", "<tag>1", ... to q, as its own worker's clock
 * would, without writing any. */
static void deliver(gw_outq_home_t *home, gw_outq_t *q, char tag, int n)
{
	for (int i = 0; i < n; i++) {
		char b[16];

		snprintf(b, sizeof(b), "%c%d", tag, i);
		gw__outq_deliver(home, q, b, strlen(b));
	}
}

static void expect_frames(gw_outq_t *q, char tag, int from, int to)
{
	for (int i = from; i <= to; i++) {
		const gw_out_slot_t *s = gw__outq_peek(q);
		char b[16];

		snprintf(b, sizeof(b), "%c%d", tag, i);
		assert_non_null(s);
		assert_int_equal(s->len, strlen(b));
		assert_memory_equal(s->b64, b, s->len);
		gw__outq_pop(q);
	}
	assert_null(gw__outq_peek(q));
}

static void output_queue_keeps_the_newest_frames(void **state)
{
	gw_worker_t w = {.id = 0};
	gw_outq_home_t home, *all[1] = {&home};
	gw_counters_t n;
	gw_outq_t q;

	memset(&n, 0, sizeof(n));
	assert_int_equal(gw__outq_home_init(&home, &w, all, 1, 4, &n), 0);
	assert_int_equal(gw__outq_init(&q, &home, NULL), 0);
	/* Seven frames while the listener reads nothing: it gets the newest
	 * four (depth 4), in order, and the three oldest are counted. */
	deliver(&home, &q, 'f', 7);
	expect_frames(&q, 'f', 3, 6);
	assert_int_equal(atomic_load(&q.dropped), 3);
	/* A consumer that never ran: the producer fills the ring's slots and
	 * skips what does not fit (counted), then the consumer trims. */
	deliver(&home, &q, 'g', GW_OUTQ_SLOTS + 2);
	assert_int_equal(atomic_load(&q.dropped), 3 + 2);
	expect_frames(&q, 'g', GW_OUTQ_SLOTS - 4, GW_OUTQ_SLOTS - 1);
	assert_int_equal(atomic_load(&q.dropped), 3 + 2 + GW_OUTQ_SLOTS - 4);
	gw__outq_free(&q);
	gw__outq_home_free(&home);
}

static void metrics_print_help_type_and_value(void **state)
{
	gw_counters_t n;
	gw_metrics_t m;
	char buf[8192];
	size_t len;

	memset(&n, 0, sizeof(n));
	memset(&m, 0, sizeof(m));
	gw__count(&n.frames_in, 40);
	gw__count(&n.frames_in, 2);
	gw__metrics_add(&m, &n);
	gw__metrics_add(&m, &n);
	m.connections = 3;
	len = gw__metrics_text(&m, buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_non_null(strstr(buf, "# HELP chorus_connections Open WebSocket "
				    "connections.\n# TYPE chorus_connections "
				    "gauge\nchorus_connections 3\n"));
	assert_non_null(strstr(buf, "# TYPE chorus_frames_in_total counter\n"
				    "chorus_frames_in_total 84\n"));
	assert_non_null(strstr(buf, "\nchorus_concealed_frames_total 0\n"));
	/* Cut short, still a string. */
	assert_int_equal(gw__metrics_text(&m, buf, 10), 9);
	assert_int_equal(strlen(buf), 9);
}

static void config_rooms_exist_without_auto_create(void **state)
{
	gw_config_t c;
	gw_registry_t *r;
	gw_member_t a, b;
	gw_room_t *room;
	int u;

	gw_config_default(&c);
	c.auto_create = false;
	c.rooms = calloc(1, sizeof(*c.rooms));
	c.n_rooms = 1;
	strcpy(c.rooms[0].name, "board");
	strcpy(c.rooms[0].password, "x");
	c.rooms[0].max_participants = 1;
	c.rooms[0].mix = c.mix;
	r = gw_registry_new(&c);
	assert_int_equal(gw_registry_join(r, "nosuch", NULL, &u, &no_info, &a),
			 -ENOENT);
	assert_int_equal(gw_registry_join(r, "board", "y", &u, &no_info, &a),
			 -EACCES);
	assert_int_equal(gw_registry_join(r, "board", "x", &u, &no_info, &a),
			 0);
	assert_int_equal(gw_registry_join(r, "board", "x", &u, &no_info, &b),
			 -EUSERS);
	assert_true(a.start_timer);
	room = a.room;
	gw_registry_leave(r, &a, NULL);
	/* An administrator's room stays when empty; its clock stops, and
	 * starts again with the next call. */
	assert_true(gw_registry_clock_idle(r, room));
	assert_int_equal(gw_registry_join(r, "board", "x", &u, &no_info, &a),
			 0);
	assert_false(a.created);
	assert_ptr_equal(a.room, room);
	assert_true(a.start_timer);
	gw_registry_leave(r, &a, NULL);
	gw_registry_free(r);
	gw_config_free(&c);
}

/* --- settings ---------------------------------------------------------- */

static void flags_override_environment_override_defaults(void **state)
{
	char *argv[] = {"gw",	  "--port",  "9000",	    "--no-auto-create",
			"--norm", "average", "--log-level", "debug",
			NULL};
	char err[GW_ERR_LEN];
	gw_config_t c;

	gw_config_default(&c);
	assert_int_equal(c.port, 8080);
	assert_true(c.auto_create);
	setenv("CHORUS_PORT", "7000", 1);
	setenv("CHORUS_MAX_PER_ROOM", "5", 1);
	setenv("CHORUS_ECHO", "true", 1);
	assert_int_equal(gw_config_from_env(&c, err), 0);
	assert_int_equal(c.port, 7000);
	assert_int_equal(c.max_per_room, 5);
	assert_true(c.mix.echo);
	assert_int_equal(gw_config_from_args(&c, 8, argv, err), 0);
	assert_int_equal(c.port, 9000);
	assert_false(c.auto_create);
	assert_int_equal(c.mix.norm, MIX_NORM_AVERAGE);
	assert_int_equal(c.log_level, GW_LOG_DEBUG);
	unsetenv("CHORUS_PORT");
	unsetenv("CHORUS_MAX_PER_ROOM");
	unsetenv("CHORUS_ECHO");
}

static void bad_settings_are_refused_with_a_message(void **state)
{
	char *bad_port[] = {"gw", "--port", "70000", NULL};
	char *bad_norm[] = {"gw", "--norm", "loud", NULL};
	char *unknown[] = {"gw", "--frobnicate", NULL};
	char *extra[] = {"gw", "stray", NULL};
	char *huge_frame[] = {"gw", "--max-frame", "16777216", NULL};
	char *huge_room[] = {"gw", "--max-per-room", "100000", NULL};
	char err[GW_ERR_LEN];
	gw_config_t c;

	gw_config_default(&c);
	assert_int_equal(gw_config_from_args(&c, 3, bad_port, err), -EINVAL);
	assert_non_null(strstr(err, "--port"));
	assert_int_equal(gw_config_from_args(&c, 3, bad_norm, err), -EINVAL);
	assert_int_equal(gw_config_from_args(&c, 2, unknown, err), -EINVAL);
	assert_int_equal(gw_config_from_args(&c, 2, extra, err), -EINVAL);
	/* Bounded: a call's buffers for its life, the mixer's int32 sum. */
	assert_int_equal(gw_config_from_args(&c, 3, huge_frame, err), -EINVAL);
	assert_non_null(strstr(err, "--max-frame"));
	assert_int_equal(gw_config_from_args(&c, 3, huge_room, err), -EINVAL);
	assert_non_null(strstr(err, "--max-per-room"));
	setenv("CHORUS_WORKERS", "many", 1);
	assert_int_equal(gw_config_from_env(&c, err), -EINVAL);
	assert_non_null(strstr(err, "CHORUS_WORKERS"));
	unsetenv("CHORUS_WORKERS");
	c.mix.jitter_cap_ms = 10; /* below the target */
	assert_int_equal(gw_config_validate(&c, err), -EINVAL);
}

static int load(const char *json, gw_config_t *c, char *err)
{
	char path[] = "/tmp/chorus-units-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	gw_config_default(c);
	r = gw_config_load_file(c, path, err);
	unlink(path);
	return r;
}

static void config_file_defines_rooms(void **state)
{
	char err[GW_ERR_LEN];
	gw_config_t c;

	assert_int_equal(
	    load("{\"rooms\":[{\"name\":\"a\",\"password\":\"p\","
		 "\"max_participants\":3,\"mixer\":{\"norm\":\"clip\","
		 "\"echo\":true,\"gate_threshold_dbfs\":-50}},"
		 "{\"name\":\"b\"}]}",
		 &c, err),
	    0);
	assert_int_equal(c.n_rooms, 2);
	assert_string_equal(c.rooms[0].password, "p");
	assert_int_equal(c.rooms[0].max_participants, 3);
	assert_int_equal(c.rooms[0].mix.norm, MIX_NORM_CLIP);
	assert_true(c.rooms[0].mix.echo);
	assert_true(c.rooms[0].mix.gate_threshold_dbfs == -50);
	assert_int_equal(c.rooms[1].max_participants, 0);
	gw_config_free(&c);

	assert_int_equal(load("{\"rooms\":[{\"name\":\"a b\"}]}", &c, err),
			 -EINVAL);
	gw_config_free(&c);
	assert_int_equal(
	    load("{\"rooms\":[{\"name\":\"a\",\"pasword\":1}]}", &c, err),
	    -EINVAL);
	assert_non_null(strstr(err, "pasword"));
	gw_config_free(&c);
	assert_int_equal(
	    load("{\"rooms\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", &c, err),
	    -EINVAL);
	gw_config_free(&c);
	assert_int_equal(load("{\"rooms\":[", &c, err), -EINVAL);
	gw_config_free(&c);
	assert_int_equal(load("{\"room\":[]}", &c, err), -EINVAL);
	gw_config_free(&c);
}

/* --- protocol ---------------------------------------------------------- */

static int parse(const char *s, gw_msg_t *m)
{
	char why[160];

	return gw_proto_parse(s, strlen(s), m, why, sizeof(why));
}

static void start_is_read_with_its_parameters(void **state)
{
	gw_msg_t m;

	assert_int_equal(
	    parse("{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{"
		  "\"accountSid\":\"AC1\",\"streamSid\":\"MZ1\",\"callSid\":"
		  "\"CA1\",\"tracks\":[\"inbound\"],\"customParameters\":{"
		  "\"room\":\"standup\",\"password\":\"hunter2\"},"
		  "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
		  "\"sampleRate\":8000,\"channels\":1}},"
		  "\"streamSid\":\"MZ1\"}",
		  &m),
	    0);
	assert_int_equal(m.event, GW_EV_START);
	assert_string_equal(m.start.stream_sid, "MZ1");
	assert_string_equal(m.start.call_sid, "CA1");
	assert_string_equal(m.start.account_sid, "AC1");
	assert_true(m.start.room_valid);
	assert_string_equal(m.start.room, "standup");
	assert_true(m.start.has_password);
	assert_string_equal(m.start.password, "hunter2");
	gw_msg_release(&m);
}

static void public_params_leave_out_secrets(void **state)
{
	gw_msg_t m;
	char *pub;

	assert_int_equal(
	    parse("{\"event\":\"start\",\"start\":{\"streamSid\":\"MZ1\","
		  "\"customParameters\":{\"room\":\"r\",\"password\":\"p\","
		  "\"token\":\"t\",\"Join_Token\":\"t\",\"apiSecret\":\"s\","
		  "\"agent\":\"bob\"},"
		  "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
		  "\"sampleRate\":8000,\"channels\":1}},"
		  "\"streamSid\":\"MZ1\"}",
		  &m),
	    0);
	pub = gw_proto_public_params(&m);
	assert_non_null(pub);
	assert_string_equal(pub, "{\"room\":\"r\",\"agent\":\"bob\"}");
	free(pub);
	gw_msg_release(&m);
	(void)state;
}

/* Commands come out in the order posted, all at once, and the queue is
 * empty after. */
static void commands_are_taken_in_order(void **state)
{
	gw_cmdq_t q;
	gw_cmd_t c = {.code = 4003}, *got;

	assert_int_equal(gw__cmdq_init(&q), 0);
	assert_int_equal(gw__cmdq_take(&q, &got), 0);
	assert_null(got);
	for (uint64_t i = 1; i <= 40; i++) {
		c.call_id = i;
		assert_int_equal(gw__cmdq_post(&q, &c), 0);
	}
	assert_int_equal(gw__cmdq_take(&q, &got), 40);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(got[i].call_id, i + 1);
	free(got);
	assert_int_equal(gw__cmdq_take(&q, &got), 0);
	gw__cmdq_free(&q);
	(void)state;
}

static void other_media_formats_are_not_supported(void **state)
{
	gw_msg_t m;

	assert_int_equal(parse("{\"event\":\"start\",\"start\":{\"streamSid\":"
			       "\"MZ\",\"mediaFormat\":{\"encoding\":"
			       "\"audio/x-mulaw\",\"sampleRate\":16000,"
			       "\"channels\":1}}}",
			       &m),
			 -ENOTSUP);
	assert_int_equal(parse("{\"event\":\"start\",\"start\":{\"streamSid\":"
			       "\"MZ\",\"mediaFormat\":{\"encoding\":"
			       "\"audio/x-mulaw\",\"sampleRate\":8000,"
			       "\"channels\":2}}}",
			       &m),
			 -ENOTSUP);
	assert_int_equal(parse("{\"event\":\"start\",\"start\":{}}", &m),
			 -EINVAL);
}

static void control_events_are_recognised(void **state)
{
	gw_msg_t m;

	assert_int_equal(parse("{\"event\":\"connected\",\"protocol\":\"Call\","
			       "\"version\":\"1.0.0\"}",
			       &m),
			 0);
	assert_int_equal(m.event, GW_EV_CONNECTED);
	gw_msg_release(&m);
	assert_int_equal(parse("{\"event\":\"dtmf\",\"streamSid\":\"MZ\","
			       "\"dtmf\":{\"track\":\"inbound_track\","
			       "\"digit\":\"#\"}}",
			       &m),
			 0);
	assert_int_equal(m.event, GW_EV_DTMF);
	assert_int_equal(m.digit, '#');
	gw_msg_release(&m);
	assert_int_equal(
	    parse("{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"x\"}}", &m),
	    -EINVAL);
	assert_int_equal(
	    parse("{\"event\":\"mark\",\"mark\":{\"name\":\"g\"}}", &m), 0);
	assert_int_equal(m.event, GW_EV_MARK);
	gw_msg_release(&m);
	assert_int_equal(parse("{\"event\":\"stop\"}", &m), 0);
	assert_int_equal(m.event, GW_EV_STOP);
	gw_msg_release(&m);
	assert_int_equal(parse("{\"event\":\"later\"}", &m), 0);
	assert_int_equal(m.event, GW_EV_UNKNOWN);
	gw_msg_release(&m);
	assert_int_equal(parse("{\"event\":\"stop\",\"event\":\"x\"}", &m),
			 -EINVAL);
}

static void media_envelope_is_exactly_the_protocol_shape(void **state)
{
	char sid[64], out[512];
	int n;

	assert_int_equal(gw_proto_json_string(sid, sizeof(sid), "MZ12"), 6);
	n = gw_proto_media_out(out, sizeof(out), sid, "AAAA", 4);
	assert_int_equal(n, (int)strlen(out));
	assert_string_equal(out, "{\"event\":\"media\",\"streamSid\":\"MZ12\","
				 "\"media\":{\"payload\":\"AAAA\"}}");
	/* A hostile streamSid stays inside its string. */
	assert_true(gw_proto_json_string(sid, sizeof(sid), "a\"b\\c") > 0);
	assert_string_equal(sid, "\"a\\\"b\\\\c\"");
	assert_int_equal(gw_proto_media_out(out, 20, sid, "AAAA", 4), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(room_names_are_1_to_64_safe_characters),
	    cmocka_unit_test(paths_give_the_room_or_none),
	    cmocka_unit_test(passwords_compare_exactly),
	    cmocka_unit_test(seats_are_lowest_free_and_limits_hold),
	    cmocka_unit_test(creator_sets_password_until_room_empties),
	    cmocka_unit_test(rooms_go_to_the_clock_with_fewest),
	    cmocka_unit_test(metrics_print_help_type_and_value),
	    cmocka_unit_test(output_queue_keeps_the_newest_frames),
	    cmocka_unit_test(config_rooms_exist_without_auto_create),
	    cmocka_unit_test(flags_override_environment_override_defaults),
	    cmocka_unit_test(bad_settings_are_refused_with_a_message),
	    cmocka_unit_test(config_file_defines_rooms),
	    cmocka_unit_test(start_is_read_with_its_parameters),
	    cmocka_unit_test(public_params_leave_out_secrets),
	    cmocka_unit_test(commands_are_taken_in_order),
	    cmocka_unit_test(other_media_formats_are_not_supported),
	    cmocka_unit_test(control_events_are_recognised),
	    cmocka_unit_test(media_envelope_is_exactly_the_protocol_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
