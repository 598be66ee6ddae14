/*
 * End-to-end: the live events of GET /api/events against the real
 * chorus-gateway: each event type in order with rising seq, no secrets in
 * them, the room filter, the access rule (token in Authorization or in the
 * subprotocol list, loopback without one), and a slow subscriber closed
 * with 4010.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void subscribe(ws_client_t *c, const char *path)
{
	assert_int_equal(ws_connect(c, gw.port, path, T), 0);
}

/* Reads the next event; returns it (decref it) with its type in *type. */
static json_t *next_event(ws_client_t *c, const char **type)
{
	json_t *ev;

	assert_int_equal(ws_recv(c, T), MC_WS_OP_TEXT);
	ev = json_loads(c->msg, 0, NULL);
	assert_non_null(ev);
	*type = json_string_value(json_object_get(ev, "type"));
	assert_non_null(*type);
	return ev;
}

/* Reads events until one of type; returns it. Fails on a close. */
static json_t *wait_event(ws_client_t *c, const char *want)
{
	for (;;) {
		const char *type;
		json_t *ev = next_event(c, &type);

		if (!strcmp(type, want))
			return ev;
		json_decref(ev);
	}
}

/* 20 ms of a loud 440 Hz tone, frame i. */
static void send_tone(ws_client_t *c, const char *sid, unsigned i)
{
	uint8_t ulaw[160];

	gwt_tone(ulaw, 160, 440, 0.5, (uint64_t)i * 160);
	assert_int_equal(gwt_send_media(c, sid, i + 1, i * 20, ulaw, 160), 0);
}

static void subscriber_sees_a_call_in_order_with_rising_seq(void **state)
{
	static const char *const want[] = {
	    "room.created",	"participant.joined", "participant.talking",
	    "participant.dtmf", "participant.left",   "room.closed",
	};
	ws_client_t sub, call;
	long long last = 0;
	size_t k = 0;

	start_gw(NULL); /* no admin token: loopback may subscribe */
	subscribe(&sub, "/api/events");
	assert_int_equal(
	    gwt_call(&call, gw.port, "/rooms/evroom", "MZev1", NULL, "sekret"),
	    0);
	/* Real-time paced audio, so the gate hears a talker. */
	for (unsigned i = 0; i < 40; i++) {
		send_tone(&call, "MZev1", i);
		usleep(20000);
	}
	assert_int_equal(ws_send_text(&call,
				      "{\"event\":\"dtmf\",\"streamSid\":"
				      "\"MZev1\",\"dtmf\":{\"track\":"
				      "\"inbound_track\",\"digit\":\"7\"}}"),
			 0);
	assert_int_equal(ws_send_text(&call,
				      "{\"event\":\"stop\",\"streamSid\":"
				      "\"MZev1\"}"),
			 0);
	assert_int_equal(ws_wait_close(&call, T), 1000);
	ws_free(&call);

	while (k < sizeof(want) / sizeof(*want)) {
		const char *type;
		json_t *ev = next_event(&sub, &type);
		long long seq = json_integer_value(json_object_get(ev, "seq"));
		const char *time =
		    json_string_value(json_object_get(ev, "time"));

		/* Every event, in one server-wide sequence. */
		if (last)
			assert_int_equal(seq, last + 1);
		last = seq;
		assert_non_null(time);
		assert_int_equal(time[strlen(time) - 1], 'Z');
		assert_null(strstr(sub.msg, "sekret"));
		assert_string_equal(
		    json_string_value(json_object_get(ev, "room")), "evroom");
		if (!strcmp(type, "participant.silent")) {
			json_decref(ev); /* the tone may pause in the buffer */
			continue;
		}
		assert_string_equal(type, want[k]);
		if (!strcmp(type, "participant.joined")) {
			assert_int_equal(
			    json_integer_value(json_object_get(ev, "seat")), 1);
			assert_string_equal(
			    json_string_value(json_object_get(ev, "callSid")),
			    "CAMZev1");
			assert_string_equal(
			    json_string_value(json_object_get(ev, "streamSid")),
			    "MZev1");
			assert_true(json_is_object(
			    json_object_get(ev, "customParameters")));
			assert_null(json_object_get(
			    json_object_get(ev, "customParameters"),
			    "password"));
		}
		if (!strcmp(type, "participant.dtmf"))
			assert_string_equal(
			    json_string_value(json_object_get(ev, "digit")),
			    "7");
		if (!strcmp(type, "participant.left")) {
			assert_int_equal(
			    json_integer_value(json_object_get(ev, "code")),
			    1000);
			assert_string_equal(
			    json_string_value(json_object_get(ev, "reason")),
			    "stop received");
			assert_true(json_integer_value(
					json_object_get(ev, "framesIn")) >= 40);
		}
		json_decref(ev);
		k++;
	}
	assert_true(gwt_metric(gw.port, "chorus_events_sent_total") >= 6);
	ws_free(&sub);
	stop_gw();
}

static void room_filter_passes_only_that_rooms_events(void **state)
{
	ws_client_t all, only_a, b, a;
	const char *type;
	json_t *ev;

	start_gw(NULL);
	subscribe(&all, "/api/events");
	subscribe(&only_a, "/api/events?room=roomA");
	assert_int_equal(
	    gwt_call(&b, gw.port, "/rooms/roomB", "MZb", NULL, NULL), 0);
	json_decref(wait_event(&all, "participant.joined"));
	assert_int_equal(
	    gwt_call(&a, gw.port, "/rooms/roomA", "MZa", NULL, NULL), 0);
	json_decref(wait_event(&all, "participant.joined"));
	/* roomB's events came first: a filter that let them through would
	 * show them first. */
	for (int i = 0; i < 2; i++) {
		ev = next_event(&only_a, &type);
		assert_string_equal(
		    json_string_value(json_object_get(ev, "room")), "roomA");
		assert_string_equal(type,
				    i ? "participant.joined" : "room.created");
		json_decref(ev);
	}
	ws_free(&a);
	ws_free(&b);
	ws_free(&all);
	ws_free(&only_a);
	stop_gw();
}

static void events_need_the_admin_token_in_a_header_or_subprotocol(void **state)
{
	static const char *const args[] = {"--admin-token", "s3cret-t0ken",
					   NULL};
	char body[16384];
	ws_client_t c;

	start_gw(args);
	assert_int_equal(ws_connect(&c, gw.port, "/api/events", T), -EPROTO);
	ws_free(&c);
	assert_int_equal(ws_connect_hdr(&c, gw.port, "/api/events",
					"Authorization: Bearer wrong\r\n", T),
			 -EPROTO);
	ws_free(&c);
	assert_int_equal(
	    ws_connect_hdr(&c, gw.port, "/api/events",
			   "Authorization: Bearer s3cret-t0ken\r\n", T),
	    0);
	ws_free(&c);
	/* A browser's way: the token as a subprotocol beside
	 * chorus-events, which the server picks. */
	assert_int_equal(ws_connect_hdr(&c, gw.port, "/api/events",
					"Sec-WebSocket-Protocol: "
					"chorus-events, "
					"chorus-token.s3cret-t0ken\r\n",
					T),
			 0);
	assert_non_null(strcasestr(c.response, "Sec-WebSocket-Protocol: "
					       "chorus-events\r\n"));
	ws_free(&c);
	assert_int_equal(ws_connect_hdr(&c, gw.port, "/api/events",
					"Sec-WebSocket-Protocol: "
					"chorus-events, "
					"chorus-token.wrong\r\n",
					T),
			 -EPROTO);
	assert_int_equal(c.http_status, 401);
	ws_free(&c);
	/* /metrics follows the same rule. */
	assert_int_equal(ws_http_get(gw.port, "/metrics", NULL, 0, T), 401);
	assert_int_equal(ws_http_get_hdr(gw.port, "/metrics",
					 "Authorization: Bearer "
					 "s3cret-t0ken\r\n",
					 body, sizeof(body), T),
			 200);
	assert_non_null(strstr(body, "chorus_events_refused_total 3\n"));
	assert_int_equal(gwt_log_count(&gw, "s3cret"), 0);
	stop_gw();
}

static void metrics_public_serves_metrics_without_the_token(void **state)
{
	static const char *const args[] = {"--admin-token", "s3cret-t0ken",
					   "--metrics-public", NULL};

	start_gw(args);
	assert_true(gwt_metric(gw.port, "chorus_connections") >= 0);
	stop_gw();
}

/* A local IPv4 address that is not loopback, or false. */
static bool other_address(struct in_addr *out)
{
	struct ifaddrs *all, *i;
	bool found = false;

	if (getifaddrs(&all) < 0)
		return false;
	for (i = all; i && !found; i = i->ifa_next) {
		const struct sockaddr_in *a = (const void *)i->ifa_addr;

		if (a && a->sin_family == AF_INET &&
		    (ntohl(a->sin_addr.s_addr) >> 24) != 127) {
			*out = a->sin_addr;
			found = true;
		}
	}
	freeifaddrs(all);
	return found;
}

/* Sends request to addr:port; returns the answer's HTTP status or -1. */
static int status_from(struct in_addr addr, const char *request)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(gw.port),
				 .sin_addr = addr};
	struct timeval tv = {T / 1000, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), st = -1;
	char buf[512];
	ssize_t n;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, request, strlen(request)) == (ssize_t)strlen(request) &&
	    (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "HTTP/1.%*d %d", &st) != 1)
			st = -1;
	}
	close(fd);
	return st;
}

static void off_loopback_without_a_token_is_forbidden(void **state)
{
	static const char *const args[] = {"--bind", "0.0.0.0", NULL};
	struct in_addr addr;

	if (!other_address(&addr))
		skip(); /* no interface but loopback */
	start_gw(args);
	assert_int_equal(status_from(addr, "GET /metrics HTTP/1.1\r\n"
					   "Host: x\r\n\r\n"),
			 403);
	assert_int_equal(
	    status_from(addr, "GET /api/events HTTP/1.1\r\nHost: x\r\n"
			      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			      "Sec-WebSocket-Version: 13\r\n\r\n"),
	    403);
	/* The same server answers loopback. */
	assert_true(gwt_metric(gw.port, "chorus_connections") >= 0);
	stop_gw();
}

static void a_subscriber_that_does_not_read_is_closed_with_4010(void **state)
{
	/* 8000 messages at once from one call: past the inbound rate's
	 * burst (2500), which would throttle and close it (4029). */
	static const char *const args[] = {"--in-msg-rate", "100000", NULL};
	ws_client_t sub, call;
	char dtmf[128];
	int code = 0;

	start_gw(args);
	ws_client_rcvbuf = 2048;
	subscribe(&sub, "/api/events");
	ws_client_rcvbuf = 0;
	assert_int_equal(
	    gwt_call(&call, gw.port, "/rooms/slow", "MZslow", NULL, NULL), 0);
	/* More events than the bus keeps plus what the sockets hold. */
	snprintf(dtmf, sizeof(dtmf),
		 "{\"event\":\"dtmf\",\"streamSid\":\"MZslow\",\"dtmf\":{"
		 "\"track\":\"inbound_track\",\"digit\":\"1\"}}");
	for (int i = 0; i < 8000; i++)
		assert_int_equal(ws_send_text(&call, dtmf), 0);
	for (long n = -1; n < 8000;) { /* until dtmf is counted */
		n = gwt_metric(gw.port, "chorus_dtmf_total");
		assert_true(n >= 0);
		if (n < 8000)
			usleep(10000);
	}
	/* Read what the sockets held, then the close. */
	while (!sub.closed) {
		int r = ws_recv(&sub, T);

		assert_true(r >= 0);
		if (r == MC_WS_OP_CLOSE)
			code = sub.close_code;
	}
	assert_int_equal(code, 4010);
	assert_int_equal(gwt_metric(gw.port, "chorus_events_slow_total"), 1);
	ws_free(&sub);
	ws_free(&call);
	stop_gw();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(subscriber_sees_a_call_in_order_with_rising_seq),
	    cmocka_unit_test(room_filter_passes_only_that_rooms_events),
	    cmocka_unit_test(
		events_need_the_admin_token_in_a_header_or_subprotocol),
	    cmocka_unit_test(metrics_public_serves_metrics_without_the_token),
	    cmocka_unit_test(off_loopback_without_a_token_is_forbidden),
	    cmocka_unit_test(
		a_subscriber_that_does_not_read_is_closed_with_4010),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
