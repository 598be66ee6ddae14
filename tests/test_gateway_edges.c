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
	static const char *args[] = {"--workers", "1", "--log-buffer", "4096",
				     NULL};
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
	assert_int_equal(gwt_metric(g.port, "chorus_refused_total"), 200);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(caller_strings_cannot_forge_log_lines),
	    cmocka_unit_test(a_stalled_log_reader_does_not_freeze_calls),
	    cmocka_unit_test(
		a_silent_caller_is_closed_4008_after_the_idle_timeout),
	    cmocka_unit_test(idle_timeout_zero_never_closes),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
