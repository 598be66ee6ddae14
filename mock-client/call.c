/*
 * call.c - one simulated call: the Media Streams platform side of a
 * WebSocket, driven by the engine's timer (see engine.h).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "codec/base64.h"
#include "codec/g711.h"
#include "mock-client/engine_priv.h"

#define RX_CAP_LOAD   16384	/* load calls: ample for 20 ms frames */
#define RX_CAP_RECORD (1 << 20) /* a recording caller accepts big frames */
#define TX_CAP	      65536 /* about a second of frames if the peer stalls */
#define MAX_CHUNK     8000  /* one second of audio per frame at most */
#define CLOSE_WAIT_NS 2000000000ull /* after stop, wait for the close */
#define MISSING_MAX   1000 /* a marker jump larger than this is a restart */

static void ws_open(void *user);
static void ws_text(void *user, const char *msg, size_t len);
static void ws_close_frame(void *user, int code, const char *reason,
			   size_t len);
static void ws_closed(void *user, const char *err);

static void pump(mc_call_t *c);

static const mc_ws_handler_t handler = {
    .on_open = ws_open,
    .on_text = ws_text,
    .on_close_frame = ws_close_frame,
    .on_closed = ws_closed,
};

/* One thread runs the engine, so the frame buffers can be shared. */
static char out_buf[B64_ENCODED_LEN(MAX_CHUNK) + 1024];
static char b64_buf[B64_ENCODED_LEN(MAX_CHUNK) + 1];
static uint8_t ulaw_buf[RX_CAP_RECORD];
static int16_t pcm_buf[RX_CAP_RECORD];
static char scratch[RX_CAP_RECORD];

int mc_call_setup(mc_call_t *c, const mc_call_cfg_t *cfg, const char *path,
		  int marker_id)
{
	uint64_t rng = cfg->seed ^
		       ((uint64_t)c->index + 1) * 0x9E3779B97F4A7C15ull ^
		       chorus_now_ns();
	size_t cap = cfg->record ? RX_CAP_RECORD : RX_CAP_LOAD;

	c->cfg = cfg;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->marker_id = marker_id;
	c->last_src = -1;
	c->expect_src = -1;
	mc_marker_det_init(&c->det);
	mc_proto_make_ids(&c->ids, &rng);
	if (mc_ws_init(&c->ws, cap, TX_CAP, &handler, c, rng))
		return -ENOMEM;
	c->ws_ready = true;
	if (marker_id >= 0) {
		c->sent = calloc(MC_SENT_RING, sizeof(*c->sent));
		if (!c->sent)
			return -ENOMEM;
	}
	if (cfg->record) {
		if (mc_rec_init(&c->rec, G711_RATE, cfg->playout_ms))
			return -ENOMEM;
		c->has_rec = true;
	}
	c->end_frame = UINT64_MAX;
	if (cfg->duration_s > 0)
		c->end_frame =
		    (uint64_t)(cfg->duration_s * G711_RATE / cfg->chunk + 0.5);
	c->state = MC_CALL_IDLE;
	return 0;
}

static void finish(mc_call_t *c)
{
	if (c->state == MC_CALL_DONE)
		return;
	c->state = MC_CALL_DONE;
	c->end_ns = chorus_now_ns();
	mc__engine_call_done(c->eng, c);
}

int mc__call_connect(mc_call_t *c)
{
	const mc_call_cfg_t *cfg = c->cfg;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	char port[16];
	int fd;

	c->state = MC_CALL_CONNECTING;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if (getaddrinfo(cfg->host, port, &hints, &ai) || !ai) {
		snprintf(c->error, sizeof(c->error), "cannot resolve %s",
			 cfg->host);
		finish(c);
		return -1;
	}
	fd = mc_ws_connect(&c->ws, ai->ai_addr, ai->ai_addrlen, cfg->host,
			   cfg->port, c->path);
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(c->error, sizeof(c->error),
			 "cannot connect to %s:%d: %s", cfg->host, cfg->port,
			 strerror(-fd));
		finish(c);
		return -1;
	}
	epoll_ctl(c->eng->ep, EPOLL_CTL_ADD, fd, &ev);
	c->watch_out = true;
	return 0;
}

void mc__call_hangup(mc_call_t *c)
{
	if (c->state == MC_CALL_CONNECTING || c->state == MC_CALL_IDLE) {
		c->end_frame = 0;
	} else if (c->state == MC_CALL_STREAMING) {
		c->end_frame = mc_pace_frame(&c->pace);
		c->need_stop = true;
		pump(c);
	}
}

void mc__call_due(mc_call_t *c, uint64_t now)
{
	c->eng->due_ns[c->index] = MC_NO_DEADLINE;
	if (c->state == MC_CALL_DONE || c->state == MC_CALL_CONNECTING)
		return;
	if (c->state == MC_CALL_STOPPING) {
		/* The server did not close after our stop: hang up. */
		mc_ws_close(&c->ws, 1000, "bye");
		return;
	}
	/* Playback time only runs while the call streams: the silence after
	 * a stop is not a gap. */
	if (c->has_rec && c->state == MC_CALL_STREAMING) {
		mc_rec_advance(&c->rec, now);
		c->eng->due_ns[c->index] = mc_pace_due(&c->pace);
	}
	pump(c);
}

/* A mark whose audio has been played is waiting to be echoed. */
static bool mark_due(mc_call_t *c)
{
	if (c->mark_pending)
		return true;
	return c->has_rec && c->rec.m_len &&
	       c->rec.marks[c->rec.m_head].pos <= c->rec.played;
}

/* Fills ulaw_buf with the next frame of the source (silence once it ends). */
static void next_audio(mc_call_t *c, unsigned n)
{
	const mc_call_cfg_t *cfg = c->cfg;

	for (unsigned i = 0; i < n; i++) {
		int16_t s = 0;

		if (cfg->audio && !c->src_done) {
			s = cfg->audio[c->src_pos++];
			if (c->src_pos >= cfg->audio_n) {
				c->src_pos = 0;
				c->src_done = !cfg->loop;
			}
		}
		ulaw_buf[i] = g711_ulaw_encode(s);
	}
}

static long build_media(mc_call_t *c, char *p, size_t cap, uint64_t now)
{
	mc_engine_stats_t *st = &c->eng->stats;
	uint64_t k = mc_pace_frame(&c->pace);
	unsigned n = c->cfg->chunk;
	long blen;

	next_audio(c, n);
	if (c->marker_id >= 0 &&
	    !mc_marker_write(ulaw_buf, n, (uint16_t)c->marker_id,
			     (uint16_t)k)) {
		c->sent[k % MC_SENT_RING].ns = now;
		c->sent[k % MC_SENT_RING].seq = (uint16_t)k;
	}
	blen = b64_encode(b64_buf, sizeof(b64_buf), ulaw_buf, n);
	if (blen < 0)
		return blen;
	if (st->send_lag && now > mc_pace_due(&c->pace))
		mc_hist_add(st->send_lag, (now - mc_pace_due(&c->pace)) / 1000);
	c->frames_out++;
	mc_pace_advance(&c->pace);
	/* The stream ends after the last frame of the duration, or, with no
	 * duration, when a file that is not looped has been played. */
	if (mc_pace_frame(&c->pace) >= c->end_frame ||
	    (c->cfg->duration_s <= 0 && c->src_done))
		c->need_stop = true;
	return mc_proto_media(p, cap, c->ids.stream_sid, c->seq++, k + 1,
			      mc_pace_timestamp_ms(&c->pace, k), b64_buf,
			      (size_t)blen);
}

static bool media_due(mc_call_t *c, uint64_t now)
{
	return c->state == MC_CALL_STREAMING && !c->need_stop &&
	       mc_pace_due(&c->pace) <= now;
}

/* Builds the next message to send into p; returns its length, 0 if there is
 * nothing to send, or a negative errno. */
static long next_message(mc_call_t *c, char *p, size_t cap, uint64_t now)
{
	char name[MC_REC_MARK_NAME];

	if (c->need_connected) {
		c->need_connected = false;
		return mc_proto_connected(p, cap);
	}
	if (c->need_start) {
		c->need_start = false;
		c->seq = 2;
		mc_pace_init(&c->pace, now, c->cfg->chunk, G711_RATE,
			     c->cfg->jitter_ms, c->cfg->seed + c->index);
		if (c->end_frame == 0)
			c->need_stop = true;
		else
			c->eng->due_ns[c->index] = mc_pace_due(&c->pace);
		return mc_proto_start(p, cap, &c->ids, c->cfg->params,
				      c->cfg->nparams);
	}
	if (c->mark_pending) {
		c->mark_pending = false;
		c->marks_echoed++;
		return mc_proto_mark(p, cap, c->ids.stream_sid, c->seq++,
				     c->mark_name);
	}
	if (mark_due(c) && mc_rec_next_mark(&c->rec, name, sizeof(name))) {
		c->marks_echoed++;
		return mc_proto_mark(p, cap, c->ids.stream_sid, c->seq++, name);
	}
	if (media_due(c, now))
		return build_media(c, p, cap, now);
	if (c->need_stop && c->state == MC_CALL_STREAMING) {
		c->need_stop = false;
		c->state = MC_CALL_STOPPING;
		c->stop_ns = now;
		c->eng->due_ns[c->index] = now + CLOSE_WAIT_NS;
		return mc_proto_stop(p, cap, &c->ids, c->seq++);
	}
	return 0;
}

/* Sends everything that is due now, then arms the timer for what is next. */
static void pump(mc_call_t *c)
{
	uint64_t now = chorus_now_ns();
	long n;

	while (c->state != MC_CALL_DONE) {
		n = next_message(c, out_buf, sizeof(out_buf), now);
		if (n <= 0)
			break;
		if (mc_ws_send_text(&c->ws, out_buf, (size_t)n) == -EPIPE)
			return; /* closed: finish() ran */
	}
	if (c->state == MC_CALL_DONE)
		return;
	if (c->state == MC_CALL_STREAMING && !c->need_start)
		c->eng->due_ns[c->index] = mc_pace_due(&c->pace);
	else if (c->state == MC_CALL_STOPPING)
		c->eng->due_ns[c->index] = c->stop_ns + CLOSE_WAIT_NS;
	mc__engine_watch(c->eng, c);
}

/* Counts frames of the expected talker that never arrived between two that
 * did (the ones after the last arrival are counted by the load report). */
static bool track_loss(mc_call_t *c, uint16_t seq)
{
	uint16_t d;

	if (c->last_src < 0) {
		c->last_src = c->expect_src;
		c->last_seq64 = c->first_seq64 = seq;
		c->last_seq = seq;
		return true;
	}
	d = (uint16_t)(seq - c->last_seq);
	if (d == 0 || d >= 32768)
		return false; /* a duplicate or an older frame */
	if (d <= MISSING_MAX)
		c->missing += d - 1u;
	c->last_seq64 += d;
	c->last_seq = seq;
	return true;
}

static void on_marker(mc_call_t *c, uint16_t src, uint16_t seq, uint64_t now)
{
	mc_engine_t *e = c->eng;
	mc_engine_stats_t *st = &e->stats;
	mc_call_t *talker = src < e->ncalls ? &e->calls[src] : NULL;
	struct mc_sent *s;
	uint64_t us;

	if (!talker || !talker->sent)
		return;
	s = &talker->sent[seq % MC_SENT_RING];
	if (s->seq != seq || !s->ns)
		return;
	if (src == c->expect_src && !track_loss(c, seq))
		return;
	us = (now - s->ns) / 1000;
	c->marked_in++;
	if (us > st->late_us)
		c->late++;
	mc_hist_add(st->latency, us);
}

static void on_media(mc_call_t *c, const mc_inbound_t *in)
{
	mc_engine_stats_t *st = &c->eng->stats;
	uint64_t now = chorus_now_ns(), expect, dt;
	/* Two per 20 ms frame at most; a few more for longer frames. */
	mc_stamp_t stamps[8];
	long n;
	int k;

	n = b64_decode(ulaw_buf, sizeof(ulaw_buf), in->payload,
		       in->payload_len);
	if (n <= 0) {
		c->bad_in++;
		return;
	}
	c->frames_in++;
	if (st->jitter) {
		if (c->last_rx_ns) {
			expect = (uint64_t)n * 1000000000ull / G711_RATE;
			dt = now - c->last_rx_ns;
			mc_hist_add(st->jitter,
				    (dt > expect ? dt - expect : expect - dt) /
					1000);
		}
		k = mc_marker_scan(&c->det, ulaw_buf, (size_t)n, stamps,
				   sizeof(stamps) / sizeof(*stamps));
		for (int i = 0; i < k; i++)
			on_marker(c, stamps[i].call, stamps[i].seq, now);
	}
	c->last_rx_ns = now;
	if (c->has_rec && c->state == MC_CALL_STREAMING) {
		g711_ulaw_decode_buf(pcm_buf, ulaw_buf, (size_t)n);
		mc_rec_push(&c->rec, now, pcm_buf, (size_t)n);
	}
}

static void on_message(mc_call_t *c, const char *msg, size_t len)
{
	mc_inbound_t in;
	uint64_t now;

	switch (mc_proto_parse(msg, len, scratch, sizeof(scratch), &in)) {
	case MC_EV_MEDIA:
		on_media(c, &in);
		break;
	case MC_EV_MARK:
		now = chorus_now_ns();
		if (c->has_rec) {
			mc_rec_mark(&c->rec, now, in.mark_name);
		} else {
			/* Load calls keep no playback queue: the mark's audio
			 * counts as played on arrival. One mark is held; a
			 * second before it is sent replaces it. */
			snprintf(c->mark_name, sizeof(c->mark_name), "%s",
				 in.mark_name);
			c->mark_pending = true;
		}
		if (mark_due(c))
			pump(c);
		break;
	case MC_EV_CLEAR:
		c->clears++;
		if (c->has_rec) {
			mc_rec_clear(&c->rec, chorus_now_ns());
			if (mark_due(c))
				pump(c);
		}
		break;
	case MC_EV_OTHER:
		break;
	default:
		c->bad_in++;
	}
}

static void ws_text(void *user, const char *msg, size_t len)
{
	on_message(user, msg, len);
}

static void ws_open(void *user)
{
	mc_call_t *c = user;

	c->state = MC_CALL_STREAMING;
	c->start_ns = chorus_now_ns();
	c->need_connected = c->need_start = true;
	pump(c);
}

static void ws_close_frame(void *user, int code, const char *reason, size_t len)
{
	mc_call_t *c = user;

	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%.*s", (int)len,
		 reason);
}

static void ws_closed(void *user, const char *err)
{
	mc_call_t *c = user;

	/* An error after our stop (the server hung up as we asked) is not
	 * the call's failure. */
	if (err && !c->error[0] && c->state != MC_CALL_STOPPING)
		snprintf(c->error, sizeof(c->error), "%s", err);
	finish(c);
}

void mc__call_io(mc_call_t *c, uint32_t events)
{
	if (c->state == MC_CALL_DONE || c->ws.state == MC_WS_CLOSED)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		mc_ws_on_writable(&c->ws);
	if (c->ws.state != MC_WS_CLOSED && (events & (EPOLLIN | EPOLLHUP)))
		mc_ws_on_readable(&c->ws);
	if (c->state != MC_CALL_DONE && c->ws.state != MC_WS_CLOSED)
		mc__engine_watch(c->eng, c);
}
