/*
 * End-to-end: malformed and hostile input. Each case is sent by one call
 * while another call in the same room keeps receiving its frames, to show
 * that the server keeps running and other calls are untouched; the case
 * itself gets the close code docs/protocol.md gives it, or (after start) is
 * dropped, counted, and the call goes on.
 */
#include <errno.h>
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

#include "codec/base64.h"
#include "common/clock.h"
#include "codec/g711.h"
#include "mock-client/marker.h"
#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T	 5000
#define FRAME_NS (20 * CHORUS_NS_PER_MS) /* one Media Streams frame */

static gwt_proc_t gw;
static ws_client_t bystander;

/* A gateway with a bystander call already in room "r". */
static int setup(void **state)
{
	static const char *args[] = {"--max-frame", "8192",	"--bad-frames",
				     "5",	    "--sndbuf", "4096",
				     NULL};
	int16_t pcm[960];

	if (gwt_start(&gw, args) < 0)
		return -1;
	if (gwt_call(&bystander, gw.port, "/rooms/r", "MZby", NULL, NULL) < 0 ||
	    gwt_recv_media(&bystander, "MZby", pcm, 960, T) != 160)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	ws_free(&bystander);
	return gwt_stop(&gw, SIGTERM, 5000) == 0 ? 0 : -1;
}

/* The bystander still gets frames (draining what queued meanwhile). */
static void bystander_unaffected(void)
{
	int16_t pcm[960];

	assert_true(gwt_alive(&gw));
	for (int i = 0; i < 5; i++)
		assert_int_equal(
		    gwt_recv_media(&bystander, "MZby", pcm, 960, T), 160);
	assert_int_equal(ws_http_get(gw.port, "/healthz", NULL, 0, T), 200);
}

static void joined(ws_client_t *c, const char *sid)
{
	int16_t pcm[960];

	assert_int_equal(gwt_call(c, gw.port, "/rooms/r", sid, NULL, NULL), 0);
	assert_int_equal(gwt_recv_media(c, sid, pcm, 960, T), 160);
}

static void closes_with(const char *path, const void *data, size_t len,
			int opcode, int code)
{
	ws_client_t c;

	assert_int_equal(ws_connect(&c, gw.port, path, T), 0);
	assert_int_equal(ws_send_frame(&c, opcode, true, data, len), 0);
	assert_int_equal(ws_wait_close(&c, T), code);
	ws_free(&c);
	bystander_unaffected();
}

static void binary_frame_closes_1003(void **state)
{
	static const uint8_t bin[] = {0xff, 0x00, 0x7f};

	closes_with("/rooms/r", bin, sizeof(bin), MC_WS_OP_BINARY, 1003);
}

static void binary_frame_after_start_closes_1003(void **state)
{
	static const uint8_t bin[] = {1, 2, 3};
	ws_client_t c;

	joined(&c, "MZbin");
	assert_int_equal(ws_send_frame(&c, MC_WS_OP_BINARY, true, bin, 3), 0);
	assert_int_equal(ws_wait_close(&c, T), 1003);
	ws_free(&c);
	bystander_unaffected();
}

static void invalid_json_before_start_closes_1007(void **state)
{
	static const char *bad[] = {
	    "{\"event\":\"start\",",
	    "not json",
	    "[1,2,3]",
	    "{\"event\":5}",
	    "{\"event\":\"start\",\"start\":[]}",
	    "{\"event\":\"start\",\"start\":{\"streamSid\":7}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		closes_with("/rooms/r", bad[i], strlen(bad[i]), MC_WS_OP_TEXT,
			    1007);
}

static void media_before_start_closes_1007(void **state)
{
	static const char m[] =
	    "{\"event\":\"media\",\"sequenceNumber\":\"1\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"0\","
	    "\"payload\":\"//////////8=\"},\"streamSid\":\"MZx\"}";

	closes_with("/rooms/r", m, strlen(m), MC_WS_OP_TEXT, 1007);
}

static void oversize_frame_closes_1009(void **state)
{
	size_t n = 9000; /* over --max-frame 8192 */
	char *big = malloc(n);

	memset(big, ' ', n);
	closes_with("/rooms/r", big, n, MC_WS_OP_TEXT, 1009);
	free(big);
}

static void oversize_fragmented_message_closes_1009(void **state)
{
	char part[3000];
	ws_client_t c;

	memset(part, ' ', sizeof(part));
	assert_int_equal(ws_connect(&c, gw.port, "/rooms/r", T), 0);
	assert_int_equal(ws_send_frame(&c, MC_WS_OP_TEXT, false, part, 3000),
			 0);
	assert_int_equal(ws_send_frame(&c, MC_WS_OP_CONT, false, part, 3000),
			 0);
	assert_int_equal(ws_send_frame(&c, MC_WS_OP_CONT, true, part, 3000), 0);
	assert_int_equal(ws_wait_close(&c, T), 1009);
	ws_free(&c);
	bystander_unaffected();
}

static void fragmented_start_is_reassembled(void **state)
{
	static const char start[] =
	    "{\"event\":\"start\",\"start\":{\"streamSid\":\"MZfrag\","
	    "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
	    "\"sampleRate\":8000,\"channels\":1}},"
	    "\"streamSid\":\"MZfrag\"}";
	size_t n = strlen(start), a = n / 3, b = 2 * n / 3;
	int16_t pcm[960];
	ws_client_t c;

	assert_int_equal(ws_connect(&c, gw.port, "/rooms/r", T), 0);
	assert_int_equal(ws_send_frame(&c, MC_WS_OP_TEXT, false, start, a), 0);
	assert_int_equal(
	    ws_send_frame(&c, MC_WS_OP_CONT, false, start + a, b - a), 0);
	assert_int_equal(
	    ws_send_frame(&c, MC_WS_OP_CONT, true, start + b, n - b), 0);
	assert_int_equal(gwt_recv_media(&c, "MZfrag", pcm, 960, T), 160);
	ws_free(&c);
	bystander_unaffected();
}

static long metric(const char *name)
{
	long v = gwt_metric(gw.port, name);

	if (v < 0)
		fail_msg("GET /metrics: %s: %ld", name, v);
	return v;
}

static void bad_media_after_start_is_dropped_and_counted(void **state)
{
	static const char *bad[] = {
	    /* malformed JSON */
	    "{\"event\":\"media\",\"media\":{",
	    /* wrong types */
	    "{\"event\":\"media\",\"media\":{\"track\":\"inbound\","
	    "\"timestamp\":\"20\",\"payload\":42},\"streamSid\":\"MZbad\"}",
	    "{\"event\":\"media\",\"media\":{\"track\":\"inbound\","
	    "\"timestamp\":\"-20\",\"payload\":\"AAAA\"}}",
	    "{\"event\":\"media\",\"media\":\"nope\"}",
	    /* bad base64: alphabet, padding, length */
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AA*A\"},\"streamSid\":\"MZbad\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"A=AA\"},\"streamSid\":\"MZbad\"}",
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"AAAAA\"},\"streamSid\":\"MZbad\"}",
	};
	long before = metric("chorus_bad_frames_total");
	uint8_t ulaw[160];
	int16_t pcm[960];
	ws_client_t c;

	joined(&c, "MZbad");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(ws_send_text(&c, bad[i]), 0);
		/* A good frame between keeps the run of bad ones short. */
		memset(ulaw, 0xff, sizeof(ulaw));
		assert_int_equal(gwt_send_media(&c, "MZbad", (uint32_t)i + 2,
						(uint32_t)i * 20, ulaw, 160),
				 0);
	}
	/* The call goes on. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(gwt_recv_media(&c, "MZbad", pcm, 960, T), 160);
	ws_close(&c, 1000);
	ws_free(&c);
	/* Counted (folded into the server's counters when the call ends). */
	for (int i = 0;
	     i < 250 && metric("chorus_bad_frames_total") <
			    before + (long)(sizeof(bad) / sizeof(*bad));
	     i++)
		usleep(20000);
	assert_int_equal(metric("chorus_bad_frames_total"),
			 before + (long)(sizeof(bad) / sizeof(*bad)));
	bystander_unaffected();
}

/* Waits until a counter (added when a call ends) reaches want. */
static long metric_reaches(const char *name, long want)
{
	for (int i = 0; i < 250 && metric(name) < want; i++)
		usleep(20000);
	return metric(name);
}

static void odd_and_large_payloads_are_accepted(void **state)
{
	static uint8_t ulaw[6000];
	long bad = metric("chorus_bad_frames_total");
	long in = metric("chorus_frames_in_total");
	int16_t pcm[960];
	ws_client_t c;

	memset(ulaw, 0xff, sizeof(ulaw));
	joined(&c, "MZodd");
	/* 137 bytes (odd), 1 byte, 0 bytes, and 750 ms in one frame. */
	assert_int_equal(gwt_send_media(&c, "MZodd", 2, 0, ulaw, 137), 0);
	assert_int_equal(gwt_send_media(&c, "MZodd", 3, 17, ulaw, 1), 0);
	assert_int_equal(gwt_send_media(&c, "MZodd", 4, 18, ulaw, 0), 0);
	{
		/* gwt_send_media's buffer is for ordinary frames: build it. */
		static char b64[8200], msg[8400];

		assert_true(b64_encode(b64, sizeof(b64), ulaw, 6000) > 0);
		snprintf(msg, sizeof(msg),
			 "{\"event\":\"media\",\"sequenceNumber\":\"5\","
			 "\"media\":{\"track\":\"inbound\",\"chunk\":\"4\","
			 "\"timestamp\":\"20\",\"payload\":\"%s\"},"
			 "\"streamSid\":\"MZodd\"}",
			 b64);
		assert_int_equal(ws_send_text(&c, msg), 0);
	}
	assert_int_equal(gwt_recv_media(&c, "MZodd", pcm, 960, T), 160);
	ws_close(&c, 1000);
	ws_free(&c);
	assert_int_equal(metric_reaches("chorus_frames_in_total", in + 4),
			 in + 4);
	assert_int_equal(metric("chorus_bad_frames_total"), bad);
	bystander_unaffected();
}

static void dtmf_marks_and_other_tracks_are_counted_not_mixed(void **state)
{
	long dtmf = metric("chorus_dtmf_total");
	long marks = metric("chorus_marks_total");
	long other = metric("chorus_other_track_total");
	long bad = metric("chorus_bad_frames_total");
	int16_t pcm[960];
	ws_client_t c;

	joined(&c, "MZdtmf");
	assert_int_equal(ws_send_text(&c,
				      "{\"event\":\"dtmf\",\"streamSid\":"
				      "\"MZdtmf\",\"sequenceNumber\":\"5\","
				      "\"dtmf\":{\"track\":\"inbound_track\","
				      "\"digit\":\"7\"}}"),
			 0);
	assert_int_equal(ws_send_text(&c, "{\"event\":\"mark\",\"sequenceNumber"
					  "\":\"4\",\"streamSid\":\"MZdtmf\","
					  "\"mark\":{\"name\":\"greeting\"}}"),
			 0);
	assert_int_equal(
	    ws_send_text(&c, "{\"event\":\"media\",\"sequenceNumber\":\"6\","
			     "\"media\":{\"track\":\"outbound\",\"chunk\":"
			     "\"1\",\"timestamp\":\"0\",\"payload\":"
			     "\"AAAA\"},\"streamSid\":\"MZdtmf\"}"),
	    0);
	assert_int_equal(gwt_recv_media(&c, "MZdtmf", pcm, 960, T), 160);
	ws_close(&c, 1000);
	ws_free(&c);
	assert_int_equal(metric_reaches("chorus_dtmf_total", dtmf + 1),
			 dtmf + 1);
	assert_int_equal(metric("chorus_marks_total"), marks + 1);
	assert_int_equal(metric("chorus_other_track_total"), other + 1);
	assert_int_equal(metric("chorus_bad_frames_total"), bad);
	bystander_unaffected();
}

static void a_run_of_bad_frames_closes_1007(void **state)
{
	ws_client_t c;

	joined(&c, "MZrun");
	for (int i = 0; i < 5; i++) /* --bad-frames 5 */
		assert_int_equal(ws_send_text(&c, "{\"event\":\"media\"}"), 0);
	assert_int_equal(ws_wait_close(&c, T), 1007);
	assert_non_null(strstr(c.close_reason, "bad frames in a row"));
	ws_free(&c);
	bystander_unaffected();
}

static void escaped_and_reordered_media_takes_the_slow_path(void **state)
{
	/* "\/" in the payload, other key order, extra fields: all valid. */
	static const char *ok[] = {
	    "{\"streamSid\":\"MZesc\",\"event\":\"media\",\"media\":{"
	    "\"payload\":\"\\/\\/\\/\\/\",\"timestamp\":\"40\","
	    "\"track\":\"inbound\"},\"extra\":true}",
	    "{ \"event\" : \"media\" , \"media\" : { \"track\" : "
	    "\"inbound\", \"timestamp\" : \"60\", \"payload\" : "
	    "\"//////////8=\" } }",
	};
	long before = metric("chorus_bad_frames_total");
	long in = metric("chorus_frames_in_total");
	long refused = metric("chorus_dropped_in_total");
	int16_t pcm[960];
	ws_client_t c;

	joined(&c, "MZesc");
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(ws_send_text(&c, ok[i]), 0);
	assert_int_equal(gwt_recv_media(&c, "MZesc", pcm, 960, T), 160);
	ws_close(&c, 1000);
	ws_free(&c);
	/* Both taken as media (counted when the call's counters fold in),
	 * neither as bad. */
	assert_int_equal(metric_reaches("chorus_frames_in_total", in + 2),
			 in + 2);
	assert_int_equal(metric("chorus_bad_frames_total"), before);
	assert_int_equal(metric("chorus_dropped_in_total"), refused);
	bystander_unaffected();
}

static void abrupt_reset_leaves_others_untouched(void **state)
{
	const uint8_t mask[4] = {1, 2, 3, 4};
	uint8_t hdr[MC_WS_MAX_HEADER];
	ws_client_t c[3];
	char sid[32];

	for (int i = 0; i < 3; i++) {
		snprintf(sid, sizeof(sid), "MZrst%d", i);
		joined(&c[i], sid);
	}
	/* One mid-frame (half of an 8-byte header), one mid-call, one before
	 * start. */
	mc_ws_header(hdr, MC_WS_OP_TEXT, true, 300, mask);
	assert_int_equal(send(c[0].fd, hdr, 2, MSG_NOSIGNAL), 2);
	ws_abort(&c[0]);
	ws_abort(&c[1]);
	ws_free(&c[0]);
	ws_free(&c[1]);
	bystander_unaffected();
	assert_int_equal(ws_connect(&c[0], gw.port, "/rooms/r", T), 0);
	ws_abort(&c[0]);
	ws_free(&c[0]);
	bystander_unaffected();
	{
		int16_t pcm[960];

		assert_int_equal(gwt_recv_media(&c[2], "MZrst2", pcm, 960, T),
				 160);
	}
	ws_free(&c[2]);
	/* The two reset calls left their room, once each, without a close
	 * handshake (seen on read as a lost connection, or on write). */
	for (int i = 0; i < 250 && (gwt_log_count(&gw, "CAMZrst0 in=") < 1 ||
				    gwt_log_count(&gw, "CAMZrst1 in=") < 1);
	     i++)
		usleep(20000);
	for (int i = 0; i < 2; i++) {
		snprintf(sid, sizeof(sid), "CAMZrst%d in=", i);
		assert_int_equal(gwt_log_count(&gw, sid), 1);
		assert_int_equal(gwt_log_count2(&gw, sid, "end=\"peer closed"),
				 0);
	}
}

static void many_rooms_emptying_at_once_keep_the_server_running(void **state)
{
	enum { N = 24 };
	static ws_client_t c[N];
	char sid[32], room[32];

	for (int i = 0; i < N; i++) {
		snprintf(sid, sizeof(sid), "MZmass%d", i);
		snprintf(room, sizeof(room), "mass%d", i / 3);
		assert_int_equal(gwt_call(&c[i], gw.port, "/", sid, room, NULL),
				 0);
	}
	usleep(300000);
	/* Every room empties in the same instant: their clocks must let go
	 * of them (freeing them) without touching them afterwards. */
	for (int i = 0; i < N; i++) {
		ws_close(&c[i], 1000);
		ws_free(&c[i]);
	}
	usleep(300000);
	bystander_unaffected();
	for (int i = 0; i < N; i++) {
		snprintf(sid, sizeof(sid), "MZmass%d", i);
		snprintf(room, sizeof(room), "mass%d", i / 3);
		assert_int_equal(gwt_call(&c[i], gw.port, "/", sid, room, NULL),
				 0);
	}
	usleep(100000);
	for (int i = 0; i < N; i++)
		ws_abort(&c[i]);
	for (int i = 0; i < N; i++)
		ws_free(&c[i]);
	bystander_unaffected();
}

/* Seeded random damage to real frames, sent after start: whatever it is,
 * the call is either kept or closed with a protocol code, and the server
 * and the bystander carry on. */
static void random_damage_never_hurts_the_server(void **state)
{
	static const char good[] =
	    "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{"
	    "\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
	    "\"payload\":\"//////////////////////////8=\"},\"streamSid\":"
	    "\"MZfz\"}";
	char buf[sizeof(good) + 64];
	int closed = 0;

	for (int call = 0; call < 8; call++) {
		ws_client_t c;
		int r;

		joined(&c, "MZfz");
		for (int i = 0; i < 40; i++) {
			size_t n = sizeof(good) - 1;

			memcpy(buf, good, n);
			for (int k = 0; k < 1 + (int)(ts_rand() % 4); k++) {
				switch (ts_rand() % 3) {
				case 0: /* replace a byte */
					buf[ts_rand() % n] = (char)ts_rand();
					break;
				case 1: /* cut the tail */
					n = 1 + ts_rand() % n;
					break;
				default: /* duplicate a slice at the end */
					if (n > 16 && n + 16 < sizeof(buf)) {
						size_t at =
						    ts_rand() % (n - 16);

						memcpy(buf + n, buf + at, 16);
						n += 16;
					}
				}
			}
			if (ws_send_frame(&c, MC_WS_OP_TEXT, true, buf, n) < 0)
				break;
		}
		/* Still open (damage is dropped), or closed with 1007 after
		 * a run of bad frames; never anything else. */
		ws_close_keep(&c, 1000);
		r = ws_wait_close(&c, T);
		if (r != 1000) {
			assert_int_equal(r, 1007);
			closed++;
		}
		ws_free(&c);
	}
	printf("random damage: %d of 8 calls closed with 1007\n", closed);
	bystander_unaffected();
}

static void slow_reader_is_bounded_and_drops_oldest(void **state)
{
	const char *leave = "streamSid=MZslow callSid=CAMZslow in=";
	int16_t pcm[960];
	ws_client_t c;
	long dropped, out;
	int got = 0;

	/* A tiny receive window, and no reading for 3 s (150 frames): the
	 * socket fills, and the gateway must drop the oldest audio rather
	 * than queue it. */
	ws_client_rcvbuf = 2048;
	assert_int_equal(
	    gwt_call(&c, gw.port, "/rooms/r", "MZslow", NULL, NULL), 0);
	ws_client_rcvbuf = 0;
	usleep(3000000);
	/* Say goodbye, then drain the backlog up to the server's close. */
	ws_close_keep(&c, 1000);
	while (got < 1000 && gwt_recv_media(&c, "MZslow", pcm, 960, T) == 160)
		got++;
	ws_free(&c);
	for (int i = 0; i < 250 && gwt_log_count(&gw, leave) < 1; i++)
		usleep(20000);
	dropped = gwt_log_value(&gw, leave, "dropped=");
	out = gwt_log_value(&gw, leave, "out=");
	printf("slow reader: got %d after the pause, out=%ld dropped=%ld\n",
	       got, out, dropped);
	assert_true(dropped > 0);
	/* What it was written is what it was not dropped, give or take the
	 * frames still queued when it left, and ticks a loaded machine
	 * skipped). */
	assert_true(out + dropped >= 100);
	bystander_unaffected();
}

/* What a listener heard of a talker that stamps every frame. */
typedef struct stamps {
	mc_marker_det_t det;
	int got;     /* stamped frames read */
	int last;    /* newest sequence number, -1 before the first */
	int max_gap; /* largest step between two consecutive stamps */
} stamps_t;

/* Reads every whole media frame the reader already has, looking for the
 * talker's stamps: each must come after the last one seen. Returns how many
 * stamped frames it read. */
static int read_stamped(ws_client_t *c, const char *sid, stamps_t *st)
{
	int16_t pcm[960];
	uint8_t ulaw[960];
	mc_stamp_t found[2];
	int n = 0, r;

	while ((r = gwt_recv_media(c, sid, pcm, 960, 0)) > 0) {
		int k;

		g711_ulaw_encode_buf(ulaw, pcm, (size_t)r);
		k = mc_marker_scan(&st->det, ulaw, (size_t)r, found, 2);
		for (int i = 0; i < k; i++) {
			int seq = found[i].seq;

			assert_int_equal(found[i].call, 7);
			assert_true(seq > st->last); /* in order, no repeats */
			if (st->last >= 0 && seq - st->last > st->max_gap)
				st->max_gap = seq - st->last;
			st->last = seq;
			st->got++;
			n++;
		}
	}
	assert_int_equal(r, -EAGAIN);
	return n;
}

/* The talker's frame seq, stamped (call 7): a 440 Hz tone carrying the
 * stamp, sent with the stream timestamp seq * 20 ms. What the talker hears
 * (silence) is read and dropped, to keep its window open. */
static void send_stamped(ws_client_t *talker, const char *sid, int seq)
{
	uint8_t ulaw[160];

	gwt_tone(ulaw, sizeof(ulaw), 440, 0.2, (uint64_t)seq * 160);
	mc_marker_write(ulaw, sizeof(ulaw), 7, (uint16_t)seq);
	assert_int_equal(gwt_send_media(talker, sid, (uint32_t)seq,
					(uint32_t)seq * 20, ulaw, sizeof(ulaw)),
			 0);
	while (ws_recv(talker, 0) == MC_WS_OP_TEXT)
		;
}

static void paused_reader_resumes_in_order_with_drops_counted(void **state)
{
	const char *leave = "streamSid=MZpause callSid=CAMZpause in=";
	enum { PAUSE = 150, TOTAL = 250 }; /* frames of 20 ms */
	stamps_t st = {.last = -1};
	ws_client_t talker, reader;
	uint64_t next;
	int stale = 0;
	long dropped;

	/* The reader stops reading for 3 s while a lone talker stamps each
	 * frame with its sequence number (bytes a lone talker's listener gets
	 * back unchanged), then reads again for 2 s. */
	ws_client_rcvbuf = 2048;
	assert_int_equal(
	    gwt_call(&reader, gw.port, "/rooms/pause", "MZpause", NULL, NULL),
	    0);
	ws_client_rcvbuf = 0;
	assert_int_equal(
	    gwt_call(&talker, gw.port, "/rooms/pause", "MZtalk", NULL, NULL),
	    0);
	mc_marker_det_init(&st.det);
	next = chorus_now_ns();
	for (int seq = 0; seq < TOTAL; seq++) {
		send_stamped(&talker, "MZtalk", seq);
		if (seq == PAUSE) /* what was kept while it did not read */
			stale = read_stamped(&reader, "MZpause", &st);
		else if (seq > PAUSE)
			read_stamped(&reader, "MZpause", &st);
		next += FRAME_NS; /* absolute deadlines: no drift */
		chorus_sleep_until(next);
	}
	for (int i = 0; i < 15; i++) { /* the last frames' mixing delay */
		usleep(20000);
		read_stamped(&reader, "MZpause", &st);
	}
	ws_close(&reader, 1000);
	ws_free(&reader);
	for (int i = 0; i < 250 && gwt_log_count(&gw, leave) < 1; i++)
		usleep(20000);
	dropped = gwt_log_value(&gw, leave, "dropped=");
	printf("paused reader: %d frames kept over the pause, %d in all, "
	       "largest gap %d, last #%d of %d, dropped=%ld\n",
	       stale, st.got, st.max_gap, st.last, TOTAL - 1, dropped);
	/* Bounded: of the 3 s it did not read, only what fits the socket
	 * buffers and the output queue was kept, not the whole backlog. */
	assert_true(stale < PAUSE / 2);
	/* What it missed is one stretch, dropped and counted (less a few
	 * ticks a loaded machine may have skipped). */
	assert_true(st.max_gap > PAUSE - stale - 25);
	assert_true(dropped >= PAUSE - stale - 25);
	/* Live again: it hears the talker's last frames. */
	assert_true(st.last >= TOTAL - 10);
	ws_close(&talker, 1000);
	ws_free(&talker);
	bystander_unaffected();
}

/* A talker that sends its last frame and hangs up at once (stop, then its
 * side of the close, as a platform does when the call ends): the frames
 * still in its jitter buffer are played to the room, to the very last. */
static void a_caller_who_hangs_up_is_heard_to_the_last_frame(void **state)
{
	const char *talker_left = "streamSid=MZtail callSid=CAMZtail in=";
	enum { TOTAL = 50 };
	stamps_t st = {.last = -1};
	ws_client_t talker, reader;
	uint64_t next;
	long late;

	assert_int_equal(
	    gwt_call(&reader, gw.port, "/rooms/tail", "MZhear", NULL, NULL), 0);
	assert_int_equal(
	    gwt_call(&talker, gw.port, "/rooms/tail", "MZtail", NULL, NULL), 0);
	mc_marker_det_init(&st.det);
	next = chorus_now_ns();
	for (int seq = 0; seq < TOTAL; seq++) {
		send_stamped(&talker, "MZtail", seq);
		read_stamped(&reader, "MZhear", &st);
		next += FRAME_NS; /* absolute deadlines: no drift */
		chorus_sleep_until(next);
	}
	assert_int_equal(ws_send_text(&talker, "{\"event\":\"stop\","
					       "\"sequenceNumber\":\"51\","
					       "\"stop\":{\"accountSid\":"
					       "\"AC\",\"callSid\":\"CA\"},"
					       "\"streamSid\":\"MZtail\"}"),
			 0);
	ws_close(&talker, 1000);
	ws_free(&talker);
	for (int i = 0; i < 15; i++) { /* the buffered frames play out */
		usleep(20000);
		read_stamped(&reader, "MZhear", &st);
	}
	for (int i = 0; i < 250 && gwt_log_count(&gw, talker_left) < 1; i++)
		usleep(20000);
	late = gwt_log_value(&gw, talker_left, "late=");
	printf("heard %d of %d stamped frames, the last #%d; talker late=%ld\n",
	       st.got, TOTAL, st.last, late);
	ws_close(&reader, 1000);
	ws_free(&reader);
	/* The last frame, unless a stall of this machine made the gateway
	 * drop some of the talker's audio as late (counted). */
	assert_true(late >= 0);
	if (late == 0)
		assert_int_equal(st.last, TOTAL - 1);
	bystander_unaffected();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(binary_frame_closes_1003),
	    cmocka_unit_test(binary_frame_after_start_closes_1003),
	    cmocka_unit_test(invalid_json_before_start_closes_1007),
	    cmocka_unit_test(media_before_start_closes_1007),
	    cmocka_unit_test(oversize_frame_closes_1009),
	    cmocka_unit_test(oversize_fragmented_message_closes_1009),
	    cmocka_unit_test(fragmented_start_is_reassembled),
	    cmocka_unit_test(bad_media_after_start_is_dropped_and_counted),
	    cmocka_unit_test(odd_and_large_payloads_are_accepted),
	    cmocka_unit_test(dtmf_marks_and_other_tracks_are_counted_not_mixed),
	    cmocka_unit_test(a_run_of_bad_frames_closes_1007),
	    cmocka_unit_test(escaped_and_reordered_media_takes_the_slow_path),
	    cmocka_unit_test(abrupt_reset_leaves_others_untouched),
	    cmocka_unit_test(
		many_rooms_emptying_at_once_keep_the_server_running),
	    cmocka_unit_test(a_caller_who_hangs_up_is_heard_to_the_last_frame),
	    cmocka_unit_test(random_damage_never_hurts_the_server),
	    cmocka_unit_test(slow_reader_is_bounded_and_drops_oldest),
	    cmocka_unit_test(paused_reader_resumes_in_order_with_drops_counted),
	};

	ts_seed("test_gateway_robust");
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
