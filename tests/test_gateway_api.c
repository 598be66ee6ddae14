/*
 * End-to-end: the admin HTTP API of the real chorus-gateway over real
 * sockets - access (bearer token, loopback-only without one), every
 * endpoint and its status codes, and what the API does to live calls:
 * deleting a room closes its calls with 1000, removing a participant closes
 * it with 4003, a locked room refuses joins with 4003. Passwords and tokens
 * never appear in the API's answers.
 *
 * A client that is not on loopback (403 without a token) cannot be made
 * from this host: the tests show that loopback is answered without a token,
 * and the check itself is access.c's, which test_gateway_events and
 * test_gateway_edges drive from another address and through a proxy.
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
#include <jansson.h>
#include <time.h>

#include "common/clock.h"
#include "gateway/auth.h"
#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T     5000 /* ms: generous, the machine may be loaded */
#define TOKEN "s3cret-admin-token"
#define AUTH  "Authorization: Bearer " TOKEN "\r\n"

static gwt_proc_t gw;
static char body[65536];

static void start_gw(const char *const *args)
{
	assert_int_equal(gwt_start(&gw, args), 0);
}

static void stop_gw(void)
{
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

/* An API request without a token (the server has none: loopback). */
static int api(const char *method, const char *path, const char *json)
{
	return ws_http_request(gw.port, method, path, NULL, json, body,
			       sizeof(body), T);
}

static void has(const char *needle)
{
	if (!strstr(body, needle))
		fail_msg("\"%s\" not in %s", needle, body);
}

static void has_not(const char *needle)
{
	if (strstr(body, needle))
		fail_msg("\"%s\" in %s", needle, body);
}

/* Repeats a request until it answers want, or T ms have passed; returns
 * the last status. */
static int status_within(const char *method, const char *path, int want)
{
	uint64_t deadline = chorus_now_ns() + (uint64_t)T * CHORUS_NS_PER_MS;
	int st;

	while ((st = api(method, path, NULL)) != want &&
	       chorus_now_ns() < deadline)
		usleep(10000);
	return st;
}

/* Joins and waits for the first media frame, proof of admission. */
static void join_ok(ws_client_t *c, const char *path, const char *sid,
		    const char *room, const char *pw)
{
	int16_t pcm[960];

	assert_int_equal(gwt_call(c, gw.port, path, sid, room, pw), 0);
	assert_int_equal(gwt_recv_media(c, sid, pcm, 960, T), 160);
}

static void refused(const char *path, const char *pw, int code,
		    const char *reason)
{
	ws_client_t c;

	assert_int_equal(gwt_call(&c, gw.port, path, "MZref", NULL, pw), 0);
	assert_int_equal(ws_wait_close(&c, T), code);
	if (reason)
		assert_string_equal(c.close_reason, reason);
	ws_free(&c);
}

/* Reads messages until the close frame; returns its code. */
static int closed_with(ws_client_t *c, const char *reason)
{
	int code = ws_wait_close(c, T);

	if (reason)
		assert_string_equal(c->close_reason, reason);
	return code;
}

static void server_reports_version_workers_limits_counts(void **state)
{
	const char *args[] = {"--workers", "2", "--max-rooms", "7", NULL};
	ws_client_t a;

	start_gw(args);
	join_ok(&a, "/rooms/one", "MZa", NULL, NULL);
	assert_int_equal(api("GET", "/api/server", NULL), 200);
	has("\"version\":\"");
	has("\"uptime_s\":");
	has("\"workers\":2");
	has("\"max_rooms\":7");
	has("\"rooms\":1");
	has("\"connections\":1");
	/* No secret configured: the open policy, and a warning saying so. */
	has("\"room_policy\":\"open\"");
	has("\"warnings\":[\"room policy open: anyone");
	ws_free(&a);
	stop_gw();
}

static void token_is_required_when_configured(void **state)
{
	const char *args[] = {"--admin-token", TOKEN, NULL};

	start_gw(args);
	assert_int_equal(api("GET", "/api/server", NULL), 401);
	has("\"error\":\"unauthorized\"");
	has("\"detail\":");
	assert_int_equal(ws_http_request(gw.port, "GET", "/api/server",
					 "Authorization: Bearer nope\r\n", NULL,
					 body, sizeof(body), T),
			 401);
	assert_int_equal(ws_http_request(gw.port, "GET", "/api/server",
					 "Authorization: Basic " TOKEN "\r\n",
					 NULL, body, sizeof(body), T),
			 401);
	/* 401 comes before routing: unknown paths are not revealed. */
	assert_int_equal(api("GET", "/api/nothing", NULL), 401);
	assert_int_equal(ws_http_request(gw.port, "GET", "/api/server", AUTH,
					 NULL, body, sizeof(body), T),
			 200);
	has("\"workers\":");
	/* /healthz stays open. */
	assert_int_equal(ws_http_get(gw.port, "/healthz", NULL, 0, T), 200);
	assert_int_equal(gwt_log_count(&gw, TOKEN), 0);
	stop_gw();
}

static void token_comes_from_the_environment_too(void **state)
{
	setenv("CHORUS_ADMIN_TOKEN", TOKEN, 1);
	start_gw(NULL);
	unsetenv("CHORUS_ADMIN_TOKEN");
	assert_int_equal(api("GET", "/api/rooms", NULL), 401);
	assert_int_equal(ws_http_request(gw.port, "GET", "/api/rooms", AUTH,
					 NULL, body, sizeof(body), T),
			 200);
	assert_int_equal(gwt_log_count(&gw, TOKEN), 0);
	stop_gw();
}

static void without_a_token_loopback_is_answered(void **state)
{
	start_gw(NULL);
	assert_int_equal(api("GET", "/api/rooms", NULL), 200);
	assert_string_equal(body, "{\"rooms\":[]}");
	stop_gw();
}

static void create_room_201_then_409_and_listed(void **state)
{
	start_gw(NULL);
	assert_int_equal(api("POST", "/api/rooms",
			     "{\"name\":\"standup\",\"password\":\"hunter2\","
			     "\"max_participants\":4,"
			     "\"mixer\":{\"norm\":\"clip\",\"echo\":true}}"),
			 201);
	has("\"name\":\"standup\"");
	has("\"has_password\":true");
	has("\"max_participants\":4");
	has("\"norm\":\"clip\"");
	has("\"echo\":true");
	has("\"participants\":[]");
	has_not("hunter2");
	assert_int_equal(api("POST", "/api/rooms", "{\"name\":\"standup\"}"),
			 409);
	has("\"error\":\"exists\"");
	assert_int_equal(api("GET", "/api/rooms", NULL), 200);
	has("\"name\":\"standup\"");
	has_not("hunter2");
	assert_int_equal(api("GET", "/api/rooms/standup", NULL), 200);
	has("\"locked\":false");
	has_not("hunter2");
	stop_gw();
}

static void bad_requests_get_their_status(void **state)
{
	char big[20000];

	start_gw(NULL);
	/* 422: invalid values, unknown fields. */
	assert_int_equal(api("POST", "/api/rooms", "{\"name\":\"bad name\"}"),
			 422);
	has("\"error\":\"invalid\"");
	assert_int_equal(
	    api("POST", "/api/rooms", "{\"name\":\"r\",\"colour\":\"red\"}"),
	    422);
	has("\"error\":\"unknown_field\"");
	assert_int_equal(api("POST", "/api/rooms",
			     "{\"name\":\"r\",\"max_participants\":0}"),
			 422);
	assert_int_equal(
	    api("POST", "/api/rooms",
		"{\"name\":\"r\",\"mixer\":{\"jitter_target_ms\":500,"
		"\"jitter_cap_ms\":100}}"),
	    422);
	assert_int_equal(api("POST", "/api/rooms",
			     "{\"name\":\"r\","
			     "\"max_participants\":17}"),
			 422); /* above --max-per-room 16 */
	/* 400: not JSON, not an object, no body. */
	assert_int_equal(api("POST", "/api/rooms", "{\"name\":"), 400);
	has("\"error\":\"bad_request\"");
	assert_int_equal(api("POST", "/api/rooms", "[1]"), 400);
	assert_int_equal(api("POST", "/api/rooms", NULL), 400);
	/* 413: over the cap. */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	assert_int_equal(api("POST", "/api/rooms", big), 413);
	has("\"error\":\"too_large\"");
	/* 404 and 405. */
	assert_int_equal(api("GET", "/api/rooms/nobody", NULL), 404);
	has("\"error\":\"not_found\"");
	assert_int_equal(api("GET", "/api/elsewhere", NULL), 404);
	assert_int_equal(api("GET", "/api/rooms/bad%20name", NULL), 404);
	assert_int_equal(api("PUT", "/api/rooms", "{}"), 405);
	has("\"error\":\"method_not_allowed\"");
	assert_int_equal(api("DELETE", "/api/server", NULL), 405);
	/* Nothing was created by any of it. */
	assert_int_equal(api("GET", "/api/rooms", NULL), 200);
	assert_string_equal(body, "{\"rooms\":[]}");
	stop_gw();
}

static void api_room_is_kept_when_empty_and_takes_its_password(void **state)
{
	const char *args[] = {"--no-auto-create", NULL};
	ws_client_t a;

	start_gw(args);
	refused("/rooms/board", NULL, 4004, NULL);
	assert_int_equal(api("POST", "/api/rooms",
			     "{\"name\":\"board\",\"password\":\"pw\"}"),
			 201);
	refused("/rooms/board", "wrong", 4001, NULL);
	join_ok(&a, "/rooms/board", "MZa", NULL, "pw");
	ws_close(&a, 1000);
	ws_free(&a);
	/* Emptied, it stays, password and all. */
	refused("/rooms/board", NULL, 4001, NULL);
	assert_int_equal(api("GET", "/api/rooms/board", NULL), 200);
	has("\"participant_count\":0");
	stop_gw();
}

static void locked_room_refuses_joins_with_4003(void **state)
{
	ws_client_t a, b;

	start_gw(NULL);
	join_ok(&a, "/rooms/quiet", "MZa", NULL, NULL);
	assert_int_equal(api("PATCH", "/api/rooms/quiet", "{\"locked\":true}"),
			 200);
	has("\"locked\":true");
	refused("/rooms/quiet", NULL, 4003, "room quiet is locked");
	/* Who was in stays in. */
	int16_t pcm[960];
	assert_int_equal(gwt_recv_media(&a, "MZa", pcm, 960, T), 160);
	assert_int_equal(api("PATCH", "/api/rooms/quiet", "{\"locked\":false}"),
			 200);
	join_ok(&b, "/rooms/quiet", "MZb", NULL, NULL);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void patch_room_password_and_limit(void **state)
{
	ws_client_t a, b;

	start_gw(NULL);
	assert_int_equal(api("POST", "/api/rooms", "{\"name\":\"p\"}"), 201);
	has("\"has_password\":false");
	assert_int_equal(api("PATCH", "/api/rooms/p", "{\"password\":\"n3w\"}"),
			 200);
	has("\"has_password\":true");
	has_not("n3w");
	refused("/rooms/p", NULL, 4001, NULL);
	join_ok(&a, "/rooms/p", "MZa", NULL, "n3w");
	assert_int_equal(
	    api("PATCH", "/api/rooms/p", "{\"max_participants\":1}"), 200);
	has("\"max_participants\":1");
	refused("/rooms/p", "n3w", 4029, NULL);
	assert_int_equal(api("PATCH", "/api/rooms/p",
			     "{\"max_participants\":2,\"password\":null}"),
			 200);
	has("\"has_password\":false");
	join_ok(&b, "/rooms/p", "MZb", NULL, NULL);
	/* Seat 2 is taken: the limit cannot drop below it. */
	assert_int_equal(
	    api("PATCH", "/api/rooms/p", "{\"max_participants\":1}"), 409);
	has("\"error\":\"busy\"");
	assert_int_equal(api("PATCH", "/api/rooms/p", "{\"locked\":1}"), 422);
	assert_int_equal(api("PATCH", "/api/rooms/p", "{\"owner\":\"me\"}"),
			 422);
	has("\"error\":\"unknown_field\"");
	/* The mixer's gate, norm and echo change live; its buffers do not,
	 * and a refused PATCH changes nothing, not even its other fields. */
	assert_int_equal(api("PATCH", "/api/rooms/p",
			     "{\"mixer\":{\"echo\":true,\"norm\":\"average\","
			     "\"gate_threshold_dbfs\":-30}}"),
			 200);
	has("\"echo\":true");
	has("\"norm\":\"average\"");
	has("\"gate_threshold_dbfs\":-30");
	assert_int_equal(api("PATCH", "/api/rooms/p",
			     "{\"max_participants\":5,\"locked\":true,"
			     "\"mixer\":{\"jitter_target_ms\":60}}"),
			 422);
	assert_int_equal(
	    api("PATCH", "/api/rooms/p", "{\"mixer\":{\"loudness\":3}}"), 422);
	assert_int_equal(api("GET", "/api/rooms/p", NULL), 200);
	has("\"max_participants\":2");
	has("\"locked\":false");
	has("\"jitter_target_ms\":40");
	assert_int_equal(api("PATCH", "/api/rooms/nope", "{\"locked\":true}"),
			 404);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void delete_room_closes_its_calls_with_1000(void **state)
{
	const char *args[] = {"--workers", "2", NULL};
	ws_client_t a, b, c;

	start_gw(args);
	join_ok(&a, "/rooms/gone", "MZa", NULL, NULL);
	join_ok(&b, "/rooms/gone", "MZb", NULL, NULL);
	join_ok(&c, "/rooms/stays", "MZc", NULL, NULL);
	assert_int_equal(api("DELETE", "/api/rooms/gone", NULL), 204);
	assert_int_equal(closed_with(&a, "room deleted by admin"), 1000);
	assert_int_equal(closed_with(&b, "room deleted by admin"), 1000);
	assert_int_equal(api("GET", "/api/rooms/gone", NULL), 404);
	assert_int_equal(api("DELETE", "/api/rooms/gone", NULL), 404);
	/* The other room's call goes on; the name is free again. */
	int16_t pcm[960];
	assert_int_equal(gwt_recv_media(&c, "MZc", pcm, 960, T), 160);
	ws_free(&a);
	join_ok(&a, "/rooms/gone", "MZa2", NULL, NULL);
	ws_free(&a);
	ws_free(&b);
	ws_free(&c);
	stop_gw();
}

static void delete_empty_api_room(void **state)
{
	start_gw(NULL);
	assert_int_equal(api("POST", "/api/rooms", "{\"name\":\"e\"}"), 201);
	assert_int_equal(api("DELETE", "/api/rooms/e", NULL), 204);
	assert_int_equal(api("GET", "/api/rooms", NULL), 200);
	assert_string_equal(body, "{\"rooms\":[]}");
	stop_gw();
}

/* A call whose customParameters carry secrets and an ordinary value. */
static void join_with_params(ws_client_t *c, const char *sid)
{
	int16_t pcm[960];

	assert_int_equal(ws_connect(c, gw.port, "/rooms/team", T), 0);
	assert_int_equal(
	    ws_sendf(c,
		     "{\"event\":\"start\",\"start\":{\"streamSid\":\"%s\","
		     "\"callSid\":\"CA%s\",\"customParameters\":{"
		     "\"password\":\"pw-secret\",\"token\":\"tok-secret\","
		     "\"apiSecret\":\"x-secret\",\"agent\":\"bob\"},"
		     "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
		     "\"sampleRate\":8000,\"channels\":1}},"
		     "\"streamSid\":\"%s\"}",
		     sid, sid, sid),
	    0);
	assert_int_equal(gwt_recv_media(c, sid, pcm, 960, T), 160);
}

static void participants_show_their_call_without_secrets(void **state)
{
	ws_client_t a, b;

	start_gw(NULL);
	join_with_params(&a, "MZa");
	join_ok(&b, "/rooms/team", "MZb", NULL, "pw-secret");
	assert_int_equal(api("GET", "/api/rooms/team/participants", NULL), 200);
	has("\"id\":\"CAMZa\"");
	has("\"seat\":1");
	has("\"streamSid\":\"MZa\"");
	has("\"customParameters\":{\"agent\":\"bob\"}");
	has("\"id\":\"CAMZb\"");
	has("\"seat\":2");
	has("\"joined_at\":\"20");
	has("\"talking\":false");
	has("\"level_dbfs\":");
	has("\"muted\":false");
	has("\"deaf\":false");
	has("\"gain_db\":0");
	has("\"delay_ms\":");
	has("\"frames_late\":");
	has("\"frames_lost\":");
	has("\"frames_concealed\":");
	has_not("secret");
	assert_int_equal(api("GET", "/api/rooms/team", NULL), 200);
	has("\"participants\":[{");
	has("\"participant_count\":2");
	has_not("secret");
	assert_int_equal(api("GET", "/api/rooms", NULL), 200);
	has_not("secret");
	assert_int_equal(api("GET", "/api/rooms/nope/participants", NULL), 404);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void participant_by_seat_or_call_sid_and_patch(void **state)
{
	ws_client_t a;

	start_gw(NULL);
	join_ok(&a, "/rooms/team", "MZa", NULL, NULL);
	assert_int_equal(api("GET", "/api/rooms/team/participants/1", NULL),
			 200);
	has("\"id\":\"CAMZa\"");
	assert_int_equal(api("GET", "/api/rooms/team/participants/CAMZa", NULL),
			 200);
	has("\"seat\":1");
	assert_int_equal(api("GET", "/api/rooms/team/participants/2", NULL),
			 404);
	assert_int_equal(
	    api("GET", "/api/rooms/team/participants/CAnobody", NULL), 404);
	assert_int_equal(api("PATCH", "/api/rooms/team/participants/1",
			     "{\"muted\":true,\"deaf\":true,\"gain_db\":-6}"),
			 200);
	has("\"muted\":true");
	has("\"deaf\":true");
	has("\"gain_db\":-6");
	assert_int_equal(api("GET", "/api/rooms/team/participants/CAMZa", NULL),
			 200);
	has("\"muted\":true");
	assert_int_equal(
	    api("PATCH", "/api/rooms/team/participants/1", "{\"gain_db\":100}"),
	    422);
	assert_int_equal(api("PATCH", "/api/rooms/team/participants/1",
			     "{\"muted\":\"yes\"}"),
			 422);
	assert_int_equal(
	    api("PATCH", "/api/rooms/team/participants/1", "{\"volume\":1}"),
	    422);
	has("\"error\":\"unknown_field\"");
	/* A refused PATCH changed nothing. */
	assert_int_equal(api("GET", "/api/rooms/team/participants/1", NULL),
			 200);
	has("\"gain_db\":-6");
	assert_int_equal(api("POST", "/api/rooms/team/participants/1", "{}"),
			 405);
	ws_free(&a);
	stop_gw();
}

/* Muting in the API mutes in the mixer: the other caller stops hearing. */
static void muted_participant_is_not_heard(void **state)
{
	ws_client_t a, b;
	uint8_t ulaw[160];
	int16_t pcm[960];
	double heard = 0;
	uint32_t seq = 0;

	start_gw(NULL);
	join_ok(&a, "/rooms/m", "MZa", NULL, NULL);
	join_ok(&b, "/rooms/m", "MZb", NULL, NULL);
	/* a talks; b hears the tone within a second. */
	for (int i = 0; i < 50 && heard < 0.01; i++, seq++) {
		gwt_tone(ulaw, 160, 1000, 0.5, seq * 160);
		assert_int_equal(
		    gwt_send_media(&a, "MZa", seq, seq * 20, ulaw, 160), 0);
		assert_int_equal(gwt_recv_media(&b, "MZb", pcm, 960, T), 160);
		heard = gwt_goertzel(pcm, 160, 1000);
	}
	assert_true(heard >= 0.01);
	assert_int_equal(
	    api("PATCH", "/api/rooms/m/participants/1", "{\"muted\":true}"),
	    200);
	/* Within a second b hears silence, and keeps hearing it. */
	int quiet = 0;
	for (int i = 0; i < 100 && quiet < 10; i++, seq++) {
		gwt_tone(ulaw, 160, 1000, 0.5, seq * 160);
		assert_int_equal(
		    gwt_send_media(&a, "MZa", seq, seq * 20, ulaw, 160), 0);
		assert_int_equal(gwt_recv_media(&b, "MZb", pcm, 960, T), 160);
		quiet = gwt_goertzel(pcm, 160, 1000) < 1e-4 ? quiet + 1 : 0;
	}
	assert_int_equal(quiet, 10);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void removed_participant_is_closed_with_4003(void **state)
{
	const char *args[] = {"--workers", "2", NULL};
	ws_client_t a, b;
	int16_t pcm[960];

	start_gw(args);
	join_ok(&a, "/rooms/team", "MZa", NULL, NULL);
	join_ok(&b, "/rooms/team", "MZb", NULL, NULL);
	assert_int_equal(
	    api("DELETE", "/api/rooms/team/participants/CAMZb", NULL), 204);
	assert_int_equal(closed_with(&b, "removed by admin"), 4003);
	/* It leaves its seat once its connection has closed. */
	assert_int_equal(
	    status_within("GET", "/api/rooms/team/participants/2", 404), 404);
	assert_int_equal(api("DELETE", "/api/rooms/team/participants/2", NULL),
			 404);
	assert_int_equal(gwt_recv_media(&a, "MZa", pcm, 960, T), 160);
	assert_int_equal(api("DELETE", "/api/rooms/team/participants/1", NULL),
			 204);
	assert_int_equal(closed_with(&a, "removed by admin"), 4003);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

#define JOIN_SECRET "join-secret-for-tests"

static void tokens_are_minted_with_the_join_secret(void **state)
{
	const char *args[] = {"--join-secret", JOIN_SECRET, NULL};
	gw_token_claims_t cl;
	char why[64];
	json_t *j;
	time_t now = time(NULL);

	start_gw(args);
	assert_int_equal(api("POST", "/api/rooms/standup/tokens",
			     "{\"role\": \"moderator\", \"identity\": "
			     "\"alice\", \"ttl_s\": 60}"),
			 201);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	has("\"expires_at\"");
	/* The token is what the gateway's own check accepts, for that room
	 * only, with the role, identity and life asked for. */
	assert_int_equal(
	    gw_token_verify(JOIN_SECRET,
			    json_string_value(json_object_get(j, "token")),
			    "standup", now, &cl, why, sizeof(why)),
	    0);
	assert_string_equal(cl.role, "moderator");
	assert_string_equal(cl.identity, "alice");
	assert_true(cl.expires_at >= now + 59 && cl.expires_at <= now + 61);
	assert_true(
	    gw_token_verify(JOIN_SECRET,
			    json_string_value(json_object_get(j, "token")),
			    "other", now, &cl, why, sizeof(why)) < 0);
	json_decref(j);
	/* Defaults, bad values, unknown fields, other methods. */
	assert_int_equal(api("POST", "/api/rooms/standup/tokens", "{}"), 201);
	has("\"role\":\"participant\"");
	assert_int_equal(
	    api("POST", "/api/rooms/standup/tokens", "{\"role\": \"Boss!\"}"),
	    422);
	assert_int_equal(
	    api("POST", "/api/rooms/standup/tokens", "{\"ttl_s\": 0}"), 422);
	assert_int_equal(
	    api("POST", "/api/rooms/standup/tokens", "{\"room\": \"x\"}"), 422);
	assert_int_equal(api("GET", "/api/rooms/standup/tokens", NULL), 405);
	stop_gw();
	/* Without a join secret there is nothing to sign with. */
	start_gw(NULL);
	assert_int_equal(api("POST", "/api/rooms/standup/tokens", "{}"), 409);
	has("no_join_secret");
	stop_gw();
	/* With a join secret the policy is authenticated and unwarned. */
	start_gw(args);
	assert_int_equal(api("GET", "/api/server", NULL), 200);
	has("\"room_policy\":\"authenticated\"");
	has("\"join_tokens\":true");
	has("\"warnings\":[]");
	stop_gw();
}

/* Reads events until one of type want; fails on a close or a time-out. */
static void wait_event(ws_client_t *c, const char *want, const char *also)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"type\":\"%s\"", want);
	for (;;) {
		assert_int_equal(ws_recv(c, T), MC_WS_OP_TEXT);
		if (strstr(c->msg, needle)) {
			if (also && !strstr(c->msg, also))
				fail_msg("%s without %s: %s", want, also,
					 c->msg);
			return;
		}
	}
}

static void api_changes_are_announced_as_events(void **state)
{
	ws_client_t sub, call;

	start_gw(NULL);
	assert_int_equal(ws_connect(&sub, gw.port, "/api/events", T), 0);
	assert_int_equal(api("POST", "/api/rooms", "{\"name\": \"ev\"}"), 201);
	join_ok(&call, "/rooms/ev", "MZev", NULL, NULL);
	assert_int_equal(api("PATCH", "/api/rooms/ev", "{\"locked\": true}"),
			 200);
	wait_event(&sub, "room.locked", "\"room\":\"ev\"");
	assert_int_equal(api("PATCH", "/api/rooms/ev", "{\"locked\": false}"),
			 200);
	wait_event(&sub, "room.unlocked", "\"room\":\"ev\"");
	assert_int_equal(
	    api("PATCH", "/api/rooms/ev/participants/1", "{\"muted\": true}"),
	    200);
	wait_event(&sub, "participant.muted", "\"callSid\":\"CAMZev\"");
	assert_int_equal(
	    api("PATCH", "/api/rooms/ev/participants/1", "{\"muted\": false}"),
	    200);
	wait_event(&sub, "participant.unmuted", "\"seat\":1");
	ws_close(&call, 1000);
	ws_free(&call);
	/* A deleted room with no calls is closed at once, and says so. */
	assert_int_equal(api("POST", "/api/rooms", "{\"name\": \"gone\"}"),
			 201);
	assert_int_equal(api("DELETE", "/api/rooms/gone", NULL), 204);
	wait_event(&sub, "room.closed", "\"room\":\"gone\"");
	ws_free(&sub);
	stop_gw();
}

static int kill_gw(void **state)
{
	if (gw.pid > 0)
		gwt_stop(&gw, SIGKILL, 2000);
	return 0;
}

int main(void)
{
#define TEST(f) cmocka_unit_test_teardown(f, kill_gw)
	const struct CMUnitTest tests[] = {
	    TEST(server_reports_version_workers_limits_counts),
	    TEST(token_is_required_when_configured),
	    TEST(token_comes_from_the_environment_too),
	    TEST(without_a_token_loopback_is_answered),
	    TEST(create_room_201_then_409_and_listed),
	    TEST(bad_requests_get_their_status),
	    TEST(api_room_is_kept_when_empty_and_takes_its_password),
	    TEST(locked_room_refuses_joins_with_4003),
	    TEST(patch_room_password_and_limit),
	    TEST(delete_room_closes_its_calls_with_1000),
	    TEST(delete_empty_api_room),
	    TEST(participants_show_their_call_without_secrets),
	    TEST(participant_by_seat_or_call_sid_and_patch),
	    TEST(muted_participant_is_not_heard),
	    TEST(removed_participant_is_closed_with_4003),
	    TEST(tokens_are_minted_with_the_join_secret),
	    TEST(api_changes_are_announced_as_events),
	};

	ts_seed("test_gateway_api");
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
