/*
 * End-to-end: the gateway's edges against hostile callers. Log lines a
 * caller cannot forge, a log that never blocks a call; later sections add
 * the idle timeout, the inbound rate, the per-source limits and the
 * handshake's HTTP answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/base64.h"
#include "common/clock.h"
#include "tests/support/gwtest.h"

#define T	 5000
#define FRAME_NS (20 * CHORUS_NS_PER_MS)

static const uint8_t silence[160] = {[0 ... 159] = 0xff};

/* Polls cond for up to ms, every 20 ms. */
#define WAIT_FOR(cond, ms)                                                     \
	for (int w_ = 0; w_ < (ms) / 20 && !(cond); w_++)                      \
	usleep(20000)

static void start(gwt_proc_t *g, const char *const *args)
{
	assert_int_equal(gwt_start(g, args), 0);
}

static void stop(gwt_proc_t *g)
{
	assert_int_equal(gwt_stop(g, SIGTERM, 5000), 0);
}

/* --- log safety -------------------------------------------------------- */

/* A start whose Sids carry JSON-escaped CR, LF, ESC and quotes, each
 * followed by a whole fake log line. */
static int forged_start(ws_client_t *c, uint16_t port, const char *encoding)
{
	int r = ws_connect(c, port, "/rooms/logs", T);

	if (r < 0)
		return r;
	return ws_sendf(
	    c,
	    "{\"event\":\"start\",\"start\":{\"streamSid\":\"MZf\\r\\n"
	    "2026-01-01T00:00:00.000Z info  [w0] join room=FORGED seat=9 "
	    "\\u001b[2J\\\"\",\"callSid\":\"CAf\\n2026-01-01T00:00:00.000Z "
	    "info  [w0] leave room=FORGED\",\"mediaFormat\":{\"encoding\":"
	    "\"%s\",\"sampleRate\":8000,\"channels\":1}},"
	    "\"streamSid\":\"MZf\"}",
	    encoding);
}

static void caller_strings_cannot_forge_log_lines(void **state)
{
	gwt_proc_t g;
	ws_client_t c;

	start(&g, NULL);
	/* Joined, then left: join and leave lines carry the Sids. */
	assert_int_equal(forged_start(&c, g.port, "audio/x-mulaw"), 0);
	assert_int_equal(ws_recv(&c, T), MC_WS_OP_TEXT); /* joined */
	assert_non_null(strstr(c.msg, "\"streamSid\":\"MZf\\r\\n2026"));
	ws_close(&c, 1000);
	ws_free(&c);
	/* Refused: the parser's reason quotes mediaFormat.encoding. */
	assert_int_equal(
	    forged_start(&c, g.port,
			 "x\\r\\n2026-01-01T00:00:00Z [w0] FORGED2"),
	    0);
	assert_int_equal(ws_wait_close(&c, T), 1007);
	ws_free(&c);
	WAIT_FOR(gwt_log_count(&g, "leave room=logs") == 1 &&
		     gwt_log_count(&g, "refuse code=1007") == 1,
		 T);
	assert_int_equal(gwt_log_count(&g, "join room=logs"), 1);
	assert_int_equal(gwt_log_count(&g, "leave room=logs"), 1);
	assert_int_equal(gwt_log_count(&g, "refuse code=1007"), 1);
	/* Every line naming FORGED is one of the gateway's own. */
	assert_int_equal(gwt_log_count(&g, "FORGED"), 3);
	assert_int_equal(
	    gwt_log_count2(&g, "FORGED", "] join room=logs ") +
		gwt_log_count2(&g, "FORGED", "] leave room=logs ") +
		gwt_log_count2(&g, "FORGED2", "] refuse code=1007"),
	    3);
	/* The bytes are there, as text. */
	assert_int_equal(
	    gwt_log_count2(&g, "join room=logs", "streamSid=MZf\\r\\n2026"), 1);
	assert_int_equal(gwt_log_count(&g, "\\x1b[2J\\\""), 2);
	assert_int_equal(gwt_log_count(&g, "\x1b"), 0);
	stop(&g);
}

/* Starts the gateway with its stderr on a pipe of 4 KiB that the test does
 * not read; returns the pipe's read end. */
static int start_on_pipe(gwt_proc_t *g, const char *const *extra)
{
	const char *bin = getenv("CHORUS_GATEWAY");
	const char *argv[32];
	char port[16];
	int p[2], n = 0;

	memset(g, 0, sizeof(*g));
	g->port = ws_free_port();
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	snprintf(port, sizeof(port), "%u", g->port);
	argv[n++] = bin ? bin : "build/chorus-gateway";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		dup2(p[1], STDERR_FILENO);
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	WAIT_FOR(ws_http_get(g->port, "/healthz", NULL, 0, 1000) == 200, 10000);
	assert_int_equal(ws_http_get(g->port, "/healthz", NULL, 0, T), 200);
	return p[0];
}

static void a_stalled_log_reader_does_not_freeze_calls(void **state)
{
	static const char *args[] = {
	    "--workers", "1", "--log-buffer", "4096", "--handshakes-per-source",
	    "0",	 NULL};
	gwt_proc_t g;
	ws_client_t c;
	int16_t pcm[960];
	char buf[65536], seen[1 << 16] = "";
	size_t got = 0;
	uint64_t next;
	int rd = start_on_pipe(&g, args);

	/* ~40 KiB of refuse lines: ten times what the pipe holds. */
	for (int i = 0; i < 200; i++) {
		ws_client_t r;

		assert_int_equal(ws_connect(&r, g.port, "/rooms/x", T), 0);
		assert_int_equal(ws_send_text(&r, "not json"), 0);
		assert_int_equal(ws_wait_close(&r, T), 1007);
		ws_free(&r);
	}
	/* A call still streams in real time both ways. */
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/live", "MZlive", NULL, NULL), 0);
	next = chorus_now_ns();
	for (uint32_t i = 0; i < 50; i++) {
		assert_int_equal(
		    gwt_send_media(&c, "MZlive", i + 2, i * 20, silence, 160),
		    0);
		assert_int_equal(gwt_recv_media(&c, "MZlive", pcm, 960, 1000),
				 160);
		next += FRAME_NS;
		chorus_sleep_until(next);
	}
	assert_true(gwt_metric(g.port, "chorus_log_dropped_total") > 0);
	assert_int_equal(
	    gwt_metric(g.port, "chorus_refused_total{code=\"1007\"}"), 200);
	/* Read at last: the log says how much it lost. */
	fcntl(rd, F_SETFL, O_NONBLOCK);
	for (uint64_t dl = chorus_now_ns() + T * CHORUS_NS_PER_MS;
	     chorus_now_ns() < dl && !strstr(seen, "lines dropped");) {
		ssize_t n = read(rd, buf, sizeof(buf) - 1);

		if (n <= 0) {
			usleep(10000);
			continue;
		}
		if (got + (size_t)n >= sizeof(seen)) {
			got = 0; /* only the tail matters */
		}
		memcpy(seen + got, buf, (size_t)n);
		got += (size_t)n;
		seen[got] = '\0';
	}
	assert_non_null(strstr(seen, "lines dropped"));
	ws_close(&c, 1000);
	ws_free(&c);
	stop(&g);
	close(rd);
}

/* --- idle timeout ----------------------------------------------------- */

/* Streams n frames in real time, reading what comes back. */
static void stream(ws_client_t *c, const char *sid, uint32_t *seq, int n)
{
	int16_t pcm[960];
	uint64_t next = chorus_now_ns();

	for (int i = 0; i < n; i++, (*seq)++) {
		assert_int_equal(
		    gwt_send_media(c, sid, *seq + 2, *seq * 20, silence, 160),
		    0);
		assert_int_equal(gwt_recv_media(c, sid, pcm, 960, 1000), 160);
		next += FRAME_NS;
		chorus_sleep_until(next);
	}
}

static void a_silent_caller_is_closed_4008_after_the_idle_timeout(void **state)
{
	static const char *args[] = {"--idle-timeout-ms", "500", NULL};
	gwt_proc_t g;
	ws_client_t c;
	uint32_t seq = 0;
	uint64_t quiet_from;

	start(&g, args);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/quiet", "MZq", NULL, NULL), 0);
	/* Three timeouts' worth of media: the timer is set again each time. */
	stream(&c, "MZq", &seq, 75);
	assert_false(c.closed);
	quiet_from = chorus_now_ns();
	assert_int_equal(ws_wait_close(&c, T), 4008);
	assert_true(chorus_now_ns() - quiet_from >= 450 * CHORUS_NS_PER_MS);
	assert_non_null(strstr(c.close_reason, "nothing received for 500 ms"));
	ws_free(&c);
	WAIT_FOR(gwt_log_count(&g, "leave room=quiet") == 1, T);
	assert_int_equal(gwt_log_count(&g, "idle room=quiet seat=1"), 1);
	assert_int_equal(gwt_metric(g.port, "chorus_idle_timeouts_total"), 1);
	stop(&g);
}

static void idle_timeout_zero_never_closes(void **state)
{
	static const char *args[] = {"--idle-timeout-ms", "0", NULL};
	gwt_proc_t g;
	ws_client_t c;
	int16_t pcm[960];

	start(&g, args);
	assert_int_equal(gwt_call(&c, g.port, "/rooms/q0", "MZq0", NULL, NULL),
			 0);
	/* A listener that sends nothing still hears 1.5 s of frames. */
	for (int i = 0; i < 75; i++)
		assert_int_equal(gwt_recv_media(&c, "MZq0", pcm, 960, 1000),
				 160);
	assert_int_equal(gwt_metric(g.port, "chorus_idle_timeouts_total"), 0);
	ws_free(&c);
	stop(&g);
}

/* --- inbound rate per call -------------------------------------------- */

/* Sends at most n messages made by make(i), 10 a millisecond at most,
 * until the server closes; reads what comes back. Returns how many were
 * sent. */
static int flood(ws_client_t *c, int n, const char *(*make)(int i))
{
	int i;

	for (i = 0; i < n && !c->closed; i++) {
		if (ws_send_text(c, make(i)) < 0)
			break;
		while (ws_recv(c, i % 10 == 9 ? 1 : 0) >= 0 && !c->closed)
			;
	}
	return i;
}

static const char *small_media(int i)
{
	static char m[512];
	char b64[256];

	b64_encode(b64, sizeof(b64), silence, 160);
	snprintf(m, sizeof(m),
		 "{\"event\":\"media\",\"sequenceNumber\":\"%d\","
		 "\"media\":{\"track\":\"inbound\",\"chunk\":\"%d\","
		 "\"timestamp\":\"%d\",\"payload\":\"%s\"},"
		 "\"streamSid\":\"MZflood\"}",
		 i + 2, i + 1, i * 20, b64);
	return m;
}

static const char *big_media(int i)
{
	static char m[4096];
	static uint8_t ulaw[1600];
	char b64[2400];

	memset(ulaw, 0xff, sizeof(ulaw));
	b64_encode(b64, sizeof(b64), ulaw, sizeof(ulaw));
	snprintf(m, sizeof(m),
		 "{\"event\":\"media\",\"media\":{\"track\":\"inbound\","
		 "\"timestamp\":\"%d\",\"payload\":\"%s\"},"
		 "\"streamSid\":\"MZflood\"}",
		 i * 200, b64);
	return m;
}

static void a_message_flood_is_throttled_then_closed_4029(void **state)
{
	static const char *args[] = {"--in-msg-rate", "100", "--in-burst-ms",
				     "200", NULL};
	gwt_proc_t g;
	ws_client_t c;

	start(&g, args);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/flood", "MZflood", NULL, NULL), 0);
	/* 20 pass at once (200 ms of 100/s), then 100 dropped: closed. */
	flood(&c, 5000, small_media);
	if (!c.closed)
		assert_int_equal(ws_wait_close(&c, T), 4029);
	assert_int_equal(c.close_code, 4029);
	assert_non_null(strstr(c.close_reason, "too much"));
	ws_free(&c);
	WAIT_FOR(gwt_log_count(&g, "leave room=flood") == 1, T);
	assert_int_equal(gwt_metric(g.port, "chorus_throttled_in_total"), 100);
	assert_int_equal(gwt_metric(g.port, "chorus_throttle_closes_total"), 1);
	assert_int_equal(gwt_log_count(&g, "throttle room=flood"), 1);
	assert_int_equal(gwt_log_count2(&g, "leave room=flood", "end=\"4029"),
			 1);
	stop(&g);
}

static void a_byte_flood_is_throttled_then_closed_4029(void **state)
{
	static const char *args[] = {"--in-byte-rate",
				     "1024",
				     "--in-burst-ms",
				     "1000",
				     "--in-msg-rate",
				     "20",
				     NULL};
	gwt_proc_t g;
	ws_client_t c;

	start(&g, args);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/flood", "MZflood", NULL, NULL), 0);
	/* Each message is over a second's bytes: every one is dropped, and
	 * 20 dropped end the call. */
	flood(&c, 5000, big_media);
	if (!c.closed)
		assert_int_equal(ws_wait_close(&c, T), 4029);
	assert_int_equal(c.close_code, 4029);
	ws_free(&c);
	WAIT_FOR(gwt_log_count(&g, "leave room=flood") == 1, T);
	assert_int_equal(gwt_metric(g.port, "chorus_throttled_in_total"), 20);
	assert_int_equal(gwt_metric(g.port, "chorus_frames_in_total"), 0);
	stop(&g);
}

static void ten_seconds_caught_up_at_once_are_not_throttled(void **state)
{
	gwt_proc_t g;
	ws_client_t c;
	uint32_t seq = 500;

	start(&g, NULL);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/stall", "MZflood", NULL, NULL), 0);
	/* A platform after a 10 s stall: 500 frames back to back. */
	for (int i = 0; i < 500; i++)
		assert_int_equal(ws_send_text(&c, small_media(i)), 0);
	stream(&c, "MZflood", &seq, 25);
	WAIT_FOR(gwt_metric(g.port, "chorus_frames_in_total") >= 525, T);
	assert_int_equal(gwt_metric(g.port, "chorus_frames_in_total"), 525);
	assert_int_equal(gwt_metric(g.port, "chorus_throttled_in_total"), 0);
	ws_close(&c, 1000);
	ws_free(&c);
	stop(&g);
}

static const char *junk_between_good(int i)
{
	return i % 2 ? small_media(i) : "{\"event\":\"media\",\"media\":{";
}

static const char *one_bad_in_four(int i)
{
	return i % 4 ? small_media(i) : "{\"event\":\"media\",\"media\":{";
}

static void junk_cannot_keep_a_call_alive_with_good_frames_between(void **state)
{
	static const char *args[] = {"--bad-frames", "10", NULL};
	gwt_proc_t g;
	ws_client_t c;

	start(&g, args);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/junk", "MZflood", NULL, NULL), 0);
	/* Never two bad in a row; still closed at the 19th bad frame: the
	 * k-th leaves a score of (k - 1) x (2 - 1) + 2, and 2 x 10 ends it. */
	flood(&c, 400, junk_between_good);
	if (!c.closed)
		assert_int_equal(ws_wait_close(&c, T), 1007);
	assert_int_equal(c.close_code, 1007);
	assert_non_null(strstr(c.close_reason, "mostly bad frames"));
	ws_free(&c);
	WAIT_FOR(gwt_log_count(&g, "leave room=junk") == 1, T);
	assert_int_equal(
	    gwt_metric(g.port, "chorus_bad_frames_total{kind=\"json\"}"), 19);
	stop(&g);
}

static void
a_bad_frame_now_and_then_is_dropped_and_the_call_goes_on(void **state)
{
	static const char *args[] = {"--bad-frames", "10", NULL};
	gwt_proc_t g;
	ws_client_t c;
	uint32_t seq = 400;

	start(&g, args);
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/junk", "MZflood", NULL, NULL), 0);
	assert_int_equal(flood(&c, 400, one_bad_in_four), 400);
	stream(&c, "MZflood", &seq, 10);
	assert_false(c.closed);
	ws_close(&c, 1000);
	ws_free(&c);
	WAIT_FOR(gwt_metric(g.port, "chorus_bad_frames_total{kind=\"json\"}") ==
		     100,
		 T);
	assert_int_equal(
	    gwt_metric(g.port, "chorus_bad_frames_total{kind=\"json\"}"), 100);
	stop(&g);
}

/* --- per source address ---------------------------------------------- */

/* A path for ws_connect()/gwt_call() that adds an X-Forwarded-For header:
 * the helper writes "GET <path> HTTP/1.1", so the header rides in the
 * path and the rest of the request line becomes a harmless header. */
static const char *via_proxy(char *buf, size_t cap, const char *path,
			     const char *xff)
{
	snprintf(buf, cap, "%s HTTP/1.1\r\nX-Forwarded-For: %s\r\nX-Pad: x",
		 path, xff);
	return buf;
}

/* Expects a connection to path to be refused with 4029 and reason. */
static void refused_4029(uint16_t port, const char *path, const char *reason)
{
	ws_client_t c;

	assert_int_equal(ws_connect(&c, port, path, T), 0);
	assert_int_equal(ws_wait_close(&c, T), 4029);
	assert_non_null(strstr(c.close_reason, reason));
	ws_free(&c);
}

static void connections_from_one_address_are_limited(void **state)
{
	static const char *args[] = {"--max-per-source", "2", NULL};
	gwt_proc_t g;
	ws_client_t a, b, c;
	int16_t pcm[960];

	start(&g, args);
	assert_int_equal(gwt_call(&a, g.port, "/rooms/src", "MZa", NULL, NULL),
			 0);
	assert_int_equal(gwt_call(&b, g.port, "/rooms/src", "MZb", NULL, NULL),
			 0);
	assert_int_equal(gwt_recv_media(&b, "MZb", pcm, 960, T), 160);
	refused_4029(g.port, "/rooms/src",
		     "too many connections from 127.0.0.1");
	assert_int_equal(gwt_metric(g.port, "chorus_source_refused_total"), 1);
	assert_int_equal(gwt_log_count2(&g, "refuse code=4029",
					"too many connections from 127.0.0.1"),
			 1);
	/* One leaves: a place for the next. */
	ws_close(&a, 1000);
	ws_free(&a);
	WAIT_FOR(gwt_log_count(&g, "leave room=src") == 1, T);
	assert_int_equal(gwt_call(&c, g.port, "/rooms/src", "MZc", NULL, NULL),
			 0);
	assert_int_equal(gwt_recv_media(&c, "MZc", pcm, 960, T), 160);
	ws_free(&b);
	ws_free(&c);
	stop(&g);
}

static void handshakes_from_one_address_are_rate_limited(void **state)
{
	static const char *args[] = {"--handshakes-per-source", "5",
				     "--trusted-proxy", "127.0.0.0/8", NULL};
	gwt_proc_t g;
	char path[256];
	int refused = 0;
	ws_client_t c[10];

	start(&g, args);
	/* Ten at once (gwt_start's /healthz polls are not upgrades). */
	for (int i = 0; i < 10; i++)
		assert_int_equal(ws_connect(&c[i], g.port, "/rooms/hs", T), 0);
	for (int i = 0; i < 10; i++) {
		if (ws_recv(&c[i], 300) == MC_WS_OP_CLOSE &&
		    c[i].close_code == 4029) {
			assert_non_null(
			    strstr(c[i].close_reason, "too many handshakes"));
			refused++;
		}
		ws_free(&c[i]);
	}
	/* 5 pass at once (a second's worth), maybe one more as the rate
	 * refills while the machine is slow. */
	assert_in_range(refused, 4, 5);
	/* Another address, through the proxy, is not held back. */
	refused = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    ws_connect(&c[i], g.port,
			       via_proxy(path, sizeof(path), "/rooms/hs",
					 "203.0.113.9"),
			       T),
		    0);
	}
	for (int i = 0; i < 3; i++) {
		if (ws_recv(&c[i], 300) == MC_WS_OP_CLOSE)
			refused++;
		ws_free(&c[i]);
	}
	assert_int_equal(refused, 0);
	assert_int_equal(
	    gwt_metric(g.port, "chorus_source_refused_total"),
	    gwt_log_count(&g, "too many handshakes from 127.0.0.1"));
	stop(&g);
}

static void wrong_passwords_are_throttled_per_address_4029(void **state)
{
	static const char *args[] = {"--max-password-failures", "2",
				     "--trusted-proxy", "127.0.0.1", NULL};
	gwt_proc_t g;
	ws_client_t owner, c;
	char path[256];
	int16_t pcm[960];

	start(&g, args);
	assert_int_equal(
	    gwt_call(&owner, g.port, "/rooms/vault", "MZo", NULL, "secret"), 0);
	assert_int_equal(gwt_recv_media(&owner, "MZo", pcm, 960, T), 160);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    gwt_call(&c, g.port, "/rooms/vault", "MZg", NULL, "guess"),
		    0);
		assert_int_equal(ws_wait_close(&c, T), 4001);
		ws_free(&c);
	}
	/* The budget is spent: even the right password is not looked at. */
	assert_int_equal(
	    gwt_call(&c, g.port, "/rooms/vault", "MZg", NULL, "secret"), 0);
	assert_int_equal(ws_wait_close(&c, T), 4029);
	assert_non_null(strstr(c.close_reason, "too many wrong passwords"));
	ws_free(&c);
	assert_int_equal(gwt_metric(g.port, "chorus_password_throttled_total"),
			 1);
	assert_int_equal(gwt_log_count2(&g, "refuse code=4029",
					"too many wrong passwords from "
					"127.0.0.1"),
			 1);
	/* Another caller behind the proxy is not blocked. */
	assert_int_equal(gwt_call(&c, g.port,
				  via_proxy(path, sizeof(path), "/rooms/vault",
					    "198.51.100.4"),
				  "MZp", NULL, "secret"),
			 0);
	assert_int_equal(gwt_recv_media(&c, "MZp", pcm, 960, T), 160);
	ws_free(&c);
	ws_free(&owner);
	stop(&g);
}

static void x_forwarded_for_counts_only_from_the_trusted_proxy(void **state)
{
	static const char *trusted[] = {"--trusted-proxy", "127.0.0.0/8", NULL};
	static const char *other[] = {"--trusted-proxy", "10.0.0.0/8", NULL};
	gwt_proc_t g;
	ws_client_t c;
	char path[256];
	int16_t pcm[960];

	via_proxy(path, sizeof(path), "/rooms/px", "1.1.1.1, 203.0.113.7");
	start(&g, trusted);
	assert_int_equal(gwt_call(&c, g.port, path, "MZpx", NULL, NULL), 0);
	assert_int_equal(gwt_recv_media(&c, "MZpx", pcm, 960, T), 160);
	assert_int_equal(gwt_log_count2(&g, "join room=px", "peer=203.0.113.7"),
			 1);
	ws_free(&c);
	stop(&g);
	start(&g, other);
	assert_int_equal(gwt_call(&c, g.port, path, "MZpx", NULL, NULL), 0);
	assert_int_equal(gwt_recv_media(&c, "MZpx", pcm, 960, T), 160);
	assert_int_equal(gwt_log_count2(&g, "join room=px", "peer=127.0.0.1"),
			 1);
	ws_free(&c);
	stop(&g);
}

/* Behind a proxy on this host every request comes from loopback: without
 * an admin token, the admin endpoints must judge the forwarded client. */
static void admin_endpoints_judge_the_client_a_proxy_forwards(void **state)
{
	static const char *trusted[] = {"--trusted-proxy", "127.0.0.0/8", NULL};
	static const char *xff = "X-Forwarded-For: 203.0.113.9\r\n";
	static const char *local = "X-Forwarded-For: 127.0.0.1\r\n";
	char body[65536];
	gwt_proc_t g;

	start(&g, trusted);
	assert_int_equal(ws_http_request(g.port, "GET", "/api/server", xff,
					 NULL, body, sizeof(body), T),
			 403);
	assert_int_equal(
	    ws_http_get_hdr(g.port, "/metrics", xff, body, sizeof(body), T),
	    403);
	/* The proxy's own requests, and a client on this host, are local. */
	assert_int_equal(ws_http_request(g.port, "GET", "/api/server", NULL,
					 NULL, body, sizeof(body), T),
			 200);
	assert_int_equal(ws_http_request(g.port, "GET", "/api/server", local,
					 NULL, body, sizeof(body), T),
			 200);
	stop(&g);
}

/* --- HTTP answers at the handshake ------------------------------------ */

static void an_upgrade_on_no_call_s_path_is_answered_404_or_400(void **state)
{
	static const struct {
		const char *path;
		int status;
	} cases[] = {
	    {"/elsewhere", 404},
	    {"/healthz", 404}, /* an upgrade: /healthz is plain HTTP */
	    {"/roomsx/a", 404},
	    {"/rooms/bad%20name", 400},
	    {"/rooms/", 400},
	    {"/rooms/a123456789b123456789c123456789d123456789e123456789f12345"
	     "6789g12345",
	     400},
	};
	gwt_proc_t g;
	ws_client_t c;
	char body[512];

	start(&g, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(ws_connect(&c, g.port, cases[i].path, T),
				 -EPROTO);
		assert_int_equal(c.http_status, cases[i].status);
		ws_free(&c);
	}
	assert_int_equal(gwt_metric(g.port, "chorus_handshake_refused_total"),
			 6);
	assert_int_equal(gwt_log_count2(&g, "refuse http=404",
					"no such path: connect to /rooms/ROOM"),
			 3);
	assert_int_equal(
	    gwt_log_count2(&g, "refuse http=400", "invalid room name"), 3);
	/* Calls' paths still upgrade; plain HTTP is still served. */
	assert_int_equal(ws_connect(&c, g.port, "/rooms/ok/anything", T), 0);
	ws_free(&c);
	assert_int_equal(ws_connect(&c, g.port, "/", T), 0);
	ws_free(&c);
	assert_int_equal(ws_http_get(g.port, "/healthz", body, sizeof(body), T),
			 200);
	assert_int_equal(ws_http_get(g.port, "/metrics", body, sizeof(body), T),
			 200);
	assert_int_equal(ws_http_get(g.port, "/elsewhere", NULL, 0, T), 404);
	stop(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(caller_strings_cannot_forge_log_lines),
	    cmocka_unit_test(a_stalled_log_reader_does_not_freeze_calls),
	    cmocka_unit_test(
		a_silent_caller_is_closed_4008_after_the_idle_timeout),
	    cmocka_unit_test(idle_timeout_zero_never_closes),
	    cmocka_unit_test(a_message_flood_is_throttled_then_closed_4029),
	    cmocka_unit_test(a_byte_flood_is_throttled_then_closed_4029),
	    cmocka_unit_test(ten_seconds_caught_up_at_once_are_not_throttled),
	    cmocka_unit_test(
		junk_cannot_keep_a_call_alive_with_good_frames_between),
	    cmocka_unit_test(
		a_bad_frame_now_and_then_is_dropped_and_the_call_goes_on),
	    cmocka_unit_test(connections_from_one_address_are_limited),
	    cmocka_unit_test(handshakes_from_one_address_are_rate_limited),
	    cmocka_unit_test(wrong_passwords_are_throttled_per_address_4029),
	    cmocka_unit_test(
		x_forwarded_for_counts_only_from_the_trusted_proxy),
	    cmocka_unit_test(admin_endpoints_judge_the_client_a_proxy_forwards),
	    cmocka_unit_test(
		an_upgrade_on_no_call_s_path_is_answered_404_or_400),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
