/*
 * End-to-end: the real chorus-gateway over real sockets - the HTTP
 * endpoints, joining rooms by path and by customParameters, passwords,
 * seats, limits, the start timeout, stop, and shutdown, each with the close
 * code docs/protocol.md gives it.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T 5000 /* ms: generous, the machine may be loaded */

static gwt_proc_t gw;

static void start_gw(const char *const *args)
{
	assert_int_equal(gwt_start(&gw, args), 0);
}

static void stop_gw(void)
{
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

/* Joins and waits for the first media frame, proof of admission. */
static void join_ok(ws_client_t *c, const char *path, const char *sid,
		    const char *room, const char *pw)
{
	int16_t pcm[960];

	assert_int_equal(gwt_call(c, gw.port, path, sid, room, pw), 0);
	assert_int_equal(gwt_recv_media(c, sid, pcm, 960, T), 160);
}

static void refused(const char *path, const char *room, const char *pw,
		    int code)
{
	ws_client_t c;

	assert_int_equal(gwt_call(&c, gw.port, path, "MZref", room, pw), 0);
	assert_int_equal(ws_wait_close(&c, T), code);
	ws_free(&c);
}

static void healthz_and_metrics_answer_over_http(void **state)
{
	char body[4096];

	start_gw(NULL);
	assert_int_equal(
	    ws_http_get(gw.port, "/healthz", body, sizeof(body), T), 200);
	assert_string_equal(body, "ok\n");
	assert_int_equal(
	    ws_http_get(gw.port, "/metrics", body, sizeof(body), T), 200);
	assert_non_null(strstr(body, "chorus_connections 0\n"));
	assert_int_equal(ws_http_get(gw.port, "/nope", NULL, 0, T), 404);
	stop_gw();
}

static void join_by_path_gets_media_frames_with_own_stream_sid(void **state)
{
	ws_client_t a, b;

	start_gw(NULL);
	join_ok(&a, "/rooms/demo", "MZaaa", NULL, NULL);
	join_ok(&b, "/rooms/demo", "MZbbb", NULL, NULL);
	/* Frames keep coming, each with the listener's own streamSid. */
	for (int i = 0; i < 10; i++) {
		int16_t pcm[960];

		assert_int_equal(gwt_recv_media(&a, "MZaaa", pcm, 960, T), 160);
		assert_int_equal(gwt_recv_media(&b, "MZbbb", pcm, 960, T), 160);
	}
	ws_free(&a);
	ws_free(&b);
	stop_gw();
	(void)state;
}

static void join_by_custom_parameter_on_root_path(void **state)
{
	ws_client_t a;

	start_gw(NULL);
	join_ok(&a, "/", "MZroot", "standup", NULL);
	ws_free(&a);
	stop_gw();
}

static void path_room_is_url_decoded(void **state)
{
	ws_client_t a;

	start_gw(NULL);
	join_ok(&a, "/rooms/team%2Dsync", "MZdec", NULL, NULL);
	ws_free(&a);
	assert_int_equal(gwt_log_count(&gw, "join room=team-sync seat=1"), 1);
	stop_gw();
}

static void no_room_anywhere_closes_1007(void **state)
{
	start_gw(NULL);
	refused("/", NULL, NULL, 1007);
	stop_gw();
}

static void invalid_room_names_are_refused(void **state)
{
	ws_client_t c;

	start_gw(NULL);
	refused("/", "bad name!", NULL, 1007);
	refused("/",
		"a123456789b123456789c123456789d123456789e123456789f123456789"
		"g12345",
		NULL, 1007);
	/* A bad path is refused at the handshake. */
	assert_int_equal(ws_connect(&c, gw.port, "/rooms/bad%20name", T),
			 -EPROTO);
	assert_int_not_equal(c.http_status, 101);
	ws_free(&c);
	assert_int_equal(ws_connect(&c, gw.port, "/elsewhere", T), -EPROTO);
	ws_free(&c);
	stop_gw();
}

static void wrong_password_closes_4001_right_one_joins(void **state)
{
	ws_client_t a, b;

	start_gw(NULL);
	/* The creator's password becomes the room's. */
	join_ok(&a, "/rooms/secret", "MZa", NULL, "hunter2");
	refused("/rooms/secret", NULL, "hunter3", 4001);
	refused("/rooms/secret", NULL, NULL, 4001);
	refused("/rooms/secret", NULL, "hunter22", 4001);
	join_ok(&b, "/rooms/secret", "MZb", NULL, "hunter2");
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void emptied_room_forgets_its_password(void **state)
{
	ws_client_t a;

	start_gw(NULL);
	join_ok(&a, "/rooms/temp", "MZa", NULL, "pw1");
	ws_close(&a, 1000);
	ws_free(&a);
	/* Once it has emptied, the next caller creates it afresh. */
	for (int i = 0; i < 250 && gwt_log_count(&gw, "leave room=temp") < 1;
	     i++)
		usleep(20000);
	join_ok(&a, "/rooms/temp", "MZb", NULL, "pw2");
	ws_free(&a);
	stop_gw();
}

static const char *write_config(char *path, size_t cap)
{
	static const char json[] =
	    "{\"rooms\":[{\"name\":\"board\",\"password\":\"s3cret\","
	    "\"max_participants\":2,\"mixer\":{\"window_ms\":30}},"
	    "{\"name\":\"open\"}]}";
	FILE *f;
	int fd;

	snprintf(path, cap, "/tmp/chorus-gw-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(json, f);
	fclose(f);
	return path;
}

static void auto_create_off_unknown_room_closes_4004(void **state)
{
	char conf[64];
	const char *args[] = {"--no-auto-create", "--config",
			      write_config(conf, sizeof(conf)), NULL};
	ws_client_t a, b;

	start_gw(args);
	refused("/rooms/nosuch", NULL, NULL, 4004);
	/* Rooms from the config file exist, with their settings. */
	join_ok(&a, "/rooms/open", "MZo", NULL, NULL);
	refused("/rooms/board", NULL, "wrong", 4001);
	join_ok(&b, "/rooms/board", "MZb1", NULL, "s3cret");
	ws_free(&a);
	ws_free(&b);
	stop_gw();
	unlink(conf);
}

static void config_room_seat_limit_closes_4029(void **state)
{
	char conf[64];
	const char *args[] = {"--config", write_config(conf, sizeof(conf)),
			      NULL};
	ws_client_t a, b;

	start_gw(args);
	join_ok(&a, "/rooms/board", "MZb1", NULL, "s3cret");
	join_ok(&b, "/rooms/board", "MZb2", NULL, "s3cret");
	refused("/rooms/board", NULL, "s3cret", 4029);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
	unlink(conf);
}

static void room_full_closes_4029(void **state)
{
	const char *args[] = {"--max-per-room", "2", NULL};
	ws_client_t a, b, c;

	start_gw(args);
	join_ok(&a, "/rooms/small", "MZa", NULL, NULL);
	join_ok(&b, "/rooms/small", "MZb", NULL, NULL);
	refused("/rooms/small", NULL, NULL, 4029);
	/* Another room still has seats. */
	join_ok(&c, "/rooms/other", "MZc", NULL, NULL);
	ws_free(&a);
	ws_free(&b);
	ws_free(&c);
	stop_gw();
}

static void too_many_rooms_closes_4029(void **state)
{
	const char *args[] = {"--max-rooms", "1", NULL};
	ws_client_t a;

	start_gw(args);
	join_ok(&a, "/rooms/one", "MZa", NULL, NULL);
	refused("/rooms/two", NULL, NULL, 4029);
	ws_free(&a);
	stop_gw();
}

static void too_many_connections_closes_4029(void **state)
{
	const char *args[] = {"--max-connections", "1", NULL};
	ws_client_t a, b;

	start_gw(args);
	join_ok(&a, "/rooms/one", "MZa", NULL, NULL);
	assert_int_equal(ws_connect(&b, gw.port, "/rooms/one", T), 0);
	assert_int_equal(ws_wait_close(&b, T), 4029);
	ws_free(&b);
	ws_free(&a);
	stop_gw();
}

static void seats_are_lowest_free_from_one(void **state)
{
	ws_client_t a, b, c;

	start_gw(NULL);
	join_ok(&a, "/rooms/seats", "MZs1", NULL, NULL);
	join_ok(&b, "/rooms/seats", "MZs2", NULL, NULL);
	assert_int_equal(gwt_log_count(&gw, "seat=1 streamSid=MZs1"), 1);
	assert_int_equal(gwt_log_count(&gw, "seat=2 streamSid=MZs2"), 1);
	ws_close(&a, 1000);
	ws_free(&a);
	for (int i = 0; i < 250 && gwt_log_count(&gw, "leave room=seats") < 1;
	     i++)
		usleep(20000);
	join_ok(&c, "/rooms/seats", "MZs3", NULL, NULL);
	assert_int_equal(gwt_log_count(&gw, "seat=1 streamSid=MZs3"), 1);
	ws_free(&b);
	ws_free(&c);
	stop_gw();
}

static void no_start_in_time_closes_4008(void **state)
{
	const char *args[] = {"--start-timeout-ms", "300", NULL};
	ws_client_t c;

	start_gw(args);
	assert_int_equal(ws_connect(&c, gw.port, "/rooms/x", T), 0);
	assert_int_equal(ws_send_text(&c, "{\"event\":\"connected\","
					  "\"protocol\":\"Call\","
					  "\"version\":\"1.0.0\"}"),
			 0);
	assert_int_equal(ws_wait_close(&c, T), 4008);
	ws_free(&c);
	stop_gw();
}

static void unsupported_media_format_is_refused_with_reason(void **state)
{
	ws_client_t c;

	start_gw(NULL);
	assert_int_equal(ws_connect(&c, gw.port, "/rooms/fmt", T), 0);
	assert_int_equal(
	    ws_send_text(&c, "{\"event\":\"start\",\"start\":{\"streamSid\":"
			     "\"MZf\",\"mediaFormat\":{\"encoding\":"
			     "\"audio/x-alaw\",\"sampleRate\":8000,"
			     "\"channels\":1}},\"streamSid\":\"MZf\"}"),
	    0);
	assert_int_equal(ws_wait_close(&c, T), 1007);
	assert_non_null(strstr(c.close_reason, "audio/x-mulaw"));
	ws_free(&c);
	stop_gw();
}

static void stop_event_closes_1000(void **state)
{
	ws_client_t a;

	start_gw(NULL);
	join_ok(&a, "/rooms/bye", "MZa", NULL, NULL);
	assert_int_equal(ws_send_text(&a, "{\"event\":\"stop\","
					  "\"sequenceNumber\":\"5\",\"stop\":{"
					  "\"accountSid\":\"AC\",\"callSid\":"
					  "\"CA\"},\"streamSid\":\"MZa\"}"),
			 0);
	assert_int_equal(ws_wait_close(&a, T), 1000);
	ws_free(&a);
	stop_gw();
}

static void sigterm_closes_every_call_1001_and_exits_0(void **state)
{
	ws_client_t c[4];
	char sid[32];

	start_gw(NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(sid, sizeof(sid), "MZ%d", i);
		join_ok(&c[i], i < 2 ? "/rooms/r1" : "/rooms/r2", sid, NULL,
			NULL);
	}
	kill(gw.pid, SIGTERM);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ws_wait_close(&c[i], T), 1001);
		ws_free(&c[i]);
	}
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

static void sigint_closes_calls_1001_and_exits_0_too(void **state)
{
	ws_client_t c;
	int16_t pcm[960];

	start_gw(NULL);
	join_ok(&c, "/rooms/int", "MZint", NULL, NULL);
	kill(gw.pid, SIGINT);
	/* Frames already queued may arrive before the close. */
	while (gwt_recv_media(&c, "MZint", pcm, 960, T) == 160)
		;
	assert_true(c.closed);
	assert_int_equal(c.close_code, 1001);
	ws_free(&c);
	assert_int_equal(gwt_stop(&gw, SIGINT, 5000), 0);
}

static void a_path_under_the_room_names_the_room(void **state)
{
	ws_client_t c;

	start_gw(NULL);
	join_ok(&c, "/rooms/demo/caller-42", "MZsub", NULL, NULL);
	ws_free(&c);
	assert_int_equal(gwt_log_count(&gw, "join room=demo seat=1"), 1);
	stop_gw();
}

/* After each test, even a failed one: no gateway is left running. */
static int kill_gw(void **state)
{
	if (gw.pid > 0)
		gwt_stop(&gw, SIGKILL, 2000);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(healthz_and_metrics_answer_over_http,
				      kill_gw),
	    cmocka_unit_test_teardown(
		join_by_path_gets_media_frames_with_own_stream_sid, kill_gw),
	    cmocka_unit_test_teardown(join_by_custom_parameter_on_root_path,
				      kill_gw),
	    cmocka_unit_test_teardown(path_room_is_url_decoded, kill_gw),
	    cmocka_unit_test_teardown(no_room_anywhere_closes_1007, kill_gw),
	    cmocka_unit_test_teardown(invalid_room_names_are_refused, kill_gw),
	    cmocka_unit_test_teardown(
		wrong_password_closes_4001_right_one_joins, kill_gw),
	    cmocka_unit_test_teardown(emptied_room_forgets_its_password,
				      kill_gw),
	    cmocka_unit_test_teardown(auto_create_off_unknown_room_closes_4004,
				      kill_gw),
	    cmocka_unit_test_teardown(config_room_seat_limit_closes_4029,
				      kill_gw),
	    cmocka_unit_test_teardown(room_full_closes_4029, kill_gw),
	    cmocka_unit_test_teardown(too_many_rooms_closes_4029, kill_gw),
	    cmocka_unit_test_teardown(too_many_connections_closes_4029,
				      kill_gw),
	    cmocka_unit_test_teardown(seats_are_lowest_free_from_one, kill_gw),
	    cmocka_unit_test_teardown(no_start_in_time_closes_4008, kill_gw),
	    cmocka_unit_test_teardown(
		unsupported_media_format_is_refused_with_reason, kill_gw),
	    cmocka_unit_test_teardown(stop_event_closes_1000, kill_gw),
	    cmocka_unit_test_teardown(
		sigterm_closes_every_call_1001_and_exits_0, kill_gw),
	    cmocka_unit_test_teardown(sigint_closes_calls_1001_and_exits_0_too,
				      kill_gw),
	    cmocka_unit_test_teardown(a_path_under_the_room_names_the_room,
				      kill_gw),
	};

	ts_seed("test_gateway_admission");
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
