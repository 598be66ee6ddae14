/*
 * call.c - see call.h.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "codec/base64.h"
#include "codec/g711.h"
#include "common/clock.h"
#include "mock-client/call.h"
#include "mock-client/marker.h"
#include "mock-client/pace.h"
#include "mock-client/ws.h"

#define RX_CAP_LOAD   16384	/* load calls: ample for 20 ms frames */
#define RX_CAP_RECORD (1 << 20) /* a recording caller accepts big frames */
#define TX_CAP	      65536 /* about a second of frames if the peer stalls */
/* One outgoing message: the largest media frame, or a `start` whose custom
 * parameters fill the same room. */
#define OUT_CAP	      (B64_ENCODED_LEN(MC_CALL_MAX_CHUNK) + 1024)
#define CLOSE_WAIT_NS 2000000000ull /* after stop, wait for the close */
#define MISSING_MAX   1000 /* a marker jump larger than this is a restart */

typedef enum call_state {
	IDLE = 0,
	CONNECTING,
	STREAMING,
	STOPPING, /* stop sent, waiting for the server to close */
	DONE,
} call_state_t;

/* Fields a frame touches come first and the rarely read ones (ids, path,
 * the recorder with its 8 KiB of mark slots) last, so that a frame reads a
 * few neighbouring cache lines of its call rather than lines 10 KiB apart. */
struct mc_call {
	call_state_t state;
	bool need_connected, need_start, need_stop;
	bool mark_pending; /* load calls: mark_name waits to be echoed */
	bool has_rec, src_done, ws_ready;
	int timer; /* the engine's timer slot */
	int fd;	   /* the socket while the engine watches it, or -1 */
	mc_engine_t *eng;
	const mc_call_cfg_t *cfg;
	mc_meter_t *meter; /* cfg->meter */

	/* outbound */
	uint64_t seq; /* next sequenceNumber */
	mc_pace_t pace;
	size_t src_pos;

	/* inbound */
	mc_marker_det_t det;
	uint16_t last_seq; /* expected talker's last stamp, as received */
	uint64_t last_rx_ns;

	mc_call_stats_t st;
	mc_call_spec_t spec;
	mc_ws_t ws;

	/* A received message's buffers, for a recording caller only: a load
	 * call's messages are small (RX_CAP_LOAD) and are worked on in stack
	 * buffers, which stay in cache from one call to the next where a
	 * thousand calls' own buffers would not. */
	size_t rx_cap;	  /* largest message the WebSocket accepts */
	char *scratch;	  /* rx_cap: an unescaped payload */
	uint8_t *ulaw_rx; /* a received frame's audio */
	int16_t *pcm_rx;  /* the same, decoded for the recorder */

	mc_ids_t ids;
	char path[256];
	char mark_name[MC_MARK_NAME];
	mc_rec_t rec;
};

static void ws_open(void *user);
static void ws_text(void *user, const char *msg, size_t len);
static void ws_close_frame(void *user, int code, const char *reason,
			   size_t len);
static void ws_closed(void *user, const char *err);
static void on_due(mc_engine_t *e, void *data, uint64_t now);
static void pump(mc_call_t *c);

static const mc_ws_handler_t handler = {
    .on_open = ws_open,
    .on_text = ws_text,
    .on_close_frame = ws_close_frame,
    .on_closed = ws_closed,
};

static int alloc_rx_buffers(mc_call_t *c)
{
	size_t ulaw_rx = B64_DECODED_MAX(c->rx_cap);

	c->scratch = malloc(c->rx_cap);
	c->ulaw_rx = malloc(ulaw_rx);
	c->pcm_rx = malloc(ulaw_rx * sizeof(*c->pcm_rx));
	if (!c->scratch || !c->ulaw_rx || !c->pcm_rx)
		return -ENOMEM;
	return 0;
}

mc_call_t *mc_call_new(mc_engine_t *e, const mc_call_cfg_t *cfg,
		       const mc_call_spec_t *spec)
{
	mc_call_t *c;
	uint64_t rng;

	if (!cfg->chunk || cfg->chunk > MC_CALL_MAX_CHUNK)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->eng = e;
	c->cfg = cfg;
	c->meter = cfg->meter;
	c->spec = *spec;
	snprintf(c->path, sizeof(c->path), "%s", spec->path);
	c->spec.path = c->path;
	c->fd = -1;
	c->state = IDLE;
	c->rx_cap = cfg->record ? RX_CAP_RECORD : RX_CAP_LOAD;
	c->st.end_frame = UINT64_MAX;
	if (cfg->duration_s > 0)
		c->st.end_frame =
		    (uint64_t)(cfg->duration_s * G711_RATE / cfg->chunk + 0.5);
	mc_marker_det_init(&c->det);
	rng = cfg->seed ^ ((uint64_t)spec->index + 1) * 0x9E3779B97F4A7C15ull ^
	      chorus_now_ns();
	mc_proto_make_ids(&c->ids, &rng);
	c->timer = mc_engine_timer_new(e, on_due, c);
	if (c->timer < 0)
		goto fail;
	if (mc_ws_init(&c->ws, c->rx_cap, TX_CAP, &handler, c, rng))
		goto fail;
	c->ws_ready = true;
	if (cfg->record) {
		if (mc_rec_init(&c->rec, G711_RATE, cfg->playout_ms))
			goto fail;
		c->has_rec = true;
		if (alloc_rx_buffers(c))
			goto fail;
	}
	return c;
fail:
	mc_call_free(c);
	return NULL;
}

void mc_call_free(mc_call_t *c)
{
	if (!c)
		return;
	mc_engine_unwatch(c->eng, c->fd);
	if (c->timer >= 0)
		mc_engine_timer_del(c->eng, c->timer);
	if (c->ws_ready)
		mc_ws_free(&c->ws);
	if (c->has_rec)
		mc_rec_free(&c->rec);
	free(c->scratch);
	free(c->ulaw_rx);
	free(c->pcm_rx);
	free(c);
}

const mc_call_stats_t *mc_call_stats(const mc_call_t *c)
{
	return &c->st;
}

const mc_rec_t *mc_call_recording(const mc_call_t *c)
{
	return c->has_rec ? &c->rec : NULL;
}

uint64_t mc_call_frame_ns(const mc_call_t *c, uint64_t k)
{
	if (!c->pace.rate)
		return 0; /* never started streaming */
	return c->pace.start_ns + mc_pace_offset_ns(&c->pace, k);
}

static void set_due(mc_call_t *c, uint64_t due_ns)
{
	mc_engine_timer_arm(c->eng, c->timer, due_ns);
}

static void finish(mc_call_t *c)
{
	if (c->state == DONE)
		return;
	c->state = DONE;
	c->st.end_ns = chorus_now_ns();
	set_due(c, MC_ENGINE_NEVER);
	if (c->spec.on_done)
		c->spec.on_done(c, c->spec.data);
}

static void on_io(mc_engine_t *e, int fd, void *data, unsigned events);

/* Re-registers the socket for the events it needs now. */
static void watch(mc_call_t *c)
{
	unsigned mask = MC_READABLE;

	if (c->fd < 0)
		return;
	if (mc_ws_wants_write(&c->ws))
		mask |= MC_WRITABLE;
	mc_engine_watch(c->eng, c->fd, mask, on_io, c);
}

int mc_call_connect(mc_call_t *c)
{
	const mc_call_cfg_t *cfg = c->cfg;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[16];
	int fd, rc;

	c->state = CONNECTING;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if (getaddrinfo(cfg->host, port, &hints, &ai) || !ai) {
		snprintf(c->st.error, sizeof(c->st.error), "cannot resolve %s",
			 cfg->host);
		finish(c);
		return -ENOENT;
	}
	if (cfg->tls && mc_ws_use_tls(&c->ws, cfg->host) < 0) {
		snprintf(c->st.error, sizeof(c->st.error), "cannot set up TLS");
		freeaddrinfo(ai);
		finish(c);
		return -ENOMEM;
	}
	fd = mc_ws_connect(&c->ws, ai->ai_addr, ai->ai_addrlen, cfg->host,
			   cfg->port, c->path);
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(c->st.error, sizeof(c->st.error),
			 "cannot connect to %s:%d: %s", cfg->host, cfg->port,
			 strerror(-fd));
		finish(c);
		return fd;
	}
	rc = mc_engine_watch(c->eng, fd, MC_READABLE | MC_WRITABLE, on_io, c);
	if (rc) {
		snprintf(c->st.error, sizeof(c->st.error),
			 "cannot watch the socket: %s", strerror(-rc));
		mc_ws_free(&c->ws); /* closes fd */
		c->ws_ready = false;
		finish(c);
		return rc;
	}
	c->fd = fd;
	return 0;
}

void mc_call_hangup(mc_call_t *c)
{
	if (c->state == CONNECTING || c->state == IDLE) {
		c->st.end_frame = 0;
	} else if (c->state == STREAMING) {
		c->st.end_frame = mc_pace_frame(&c->pace);
		c->need_stop = true;
		pump(c);
	}
}

void mc_call_end(mc_call_t *c)
{
	if (c->has_rec)
		mc_rec_finish(&c->rec);
	if (c->ws_ready && c->ws.fd >= 0)
		mc_ws_close(&c->ws, 1001, "client giving up");
}

/* The engine's timer: a frame is due, or the wait for the close is over. */
static void on_due(mc_engine_t *e, void *data, uint64_t now)
{
	mc_call_t *c = data;

	if (c->state == DONE || c->state == CONNECTING)
		return;
	if (c->state == STOPPING) {
		/* The server did not close after our stop: hang up. */
		mc_ws_close(&c->ws, 1000, "bye");
		return;
	}
	/* Playback time only runs while the call streams: the silence after
	 * a stop is not a gap. */
	if (c->has_rec && c->state == STREAMING) {
		mc_rec_advance(&c->rec, now);
		set_due(c, mc_pace_due(&c->pace));
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

/* Fills dst with the next n samples of the source (silence once it ends).
 * The loop works on locals: a store through a uint8_t pointer may alias
 * anything, and would make the compiler reload the call's fields for every
 * sample. */
static void next_audio(mc_call_t *c, uint8_t *dst, unsigned n)
{
	const mc_call_cfg_t *cfg = c->cfg;
	const int16_t *src = cfg->audio;
	size_t pos = c->src_pos, len = cfg->audio_n;
	bool done = c->src_done, loop = cfg->loop;

	for (unsigned i = 0; i < n; i++) {
		int16_t s = 0;

		if (src && !done) {
			s = src[pos++];
			if (pos >= len) {
				pos = 0;
				done = !loop;
			}
		}
		dst[i] = g711_ulaw_encode(s);
	}
	c->src_pos = pos;
	c->src_done = done;
}

static long build_media(mc_call_t *c, char *p, size_t cap, uint64_t now)
{
	uint64_t k = mc_pace_frame(&c->pace), due = mc_pace_due(&c->pace);
	unsigned n = c->cfg->chunk;
	uint8_t ulaw[MC_CALL_MAX_CHUNK];
	char b64[B64_ENCODED_LEN(MC_CALL_MAX_CHUNK) + 1];
	long blen;

	next_audio(c, ulaw, n);
	if (c->spec.marker_id >= 0 &&
	    !mc_marker_write(ulaw, n, (uint16_t)c->spec.marker_id,
			     (uint16_t)k) &&
	    c->meter)
		mc_meter_stamp_sent(c->meter, (unsigned)c->spec.marker_id,
				    (uint16_t)k, now);
	blen = b64_encode(b64, sizeof(b64), ulaw, n);
	if (blen < 0)
		return blen;
	if (c->meter && now > due)
		mc_meter_send_lag(c->meter, (now - due) / 1000);
	c->st.frames_out++;
	mc_pace_advance(&c->pace);
	/* The stream ends after the last frame of the duration, or, with no
	 * duration, when a file that is not looped has been played. */
	if (mc_pace_frame(&c->pace) >= c->st.end_frame ||
	    (c->cfg->duration_s <= 0 && c->src_done))
		c->need_stop = true;
	return mc_proto_media(p, cap, c->ids.stream_sid, c->seq++, k + 1,
			      mc_pace_timestamp_ms(&c->pace, k), b64,
			      (size_t)blen);
}

static bool media_due(mc_call_t *c, uint64_t now)
{
	return c->state == STREAMING && !c->need_stop &&
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
			     c->cfg->jitter_ms, c->cfg->seed + c->spec.index);
		if (c->st.end_frame == 0)
			c->need_stop = true;
		else
			set_due(c, mc_pace_due(&c->pace));
		return mc_proto_start(p, cap, &c->ids, c->cfg->params,
				      c->cfg->nparams);
	}
	if (c->mark_pending) {
		c->mark_pending = false;
		c->st.marks_echoed++;
		return mc_proto_mark(p, cap, c->ids.stream_sid, c->seq++,
				     c->mark_name);
	}
	if (mark_due(c) && mc_rec_next_mark(&c->rec, name, sizeof(name))) {
		c->st.marks_echoed++;
		return mc_proto_mark(p, cap, c->ids.stream_sid, c->seq++, name);
	}
	if (media_due(c, now))
		return build_media(c, p, cap, now);
	if (c->need_stop && c->state == STREAMING) {
		c->need_stop = false;
		c->state = STOPPING;
		c->st.stop_ns = now;
		set_due(c, now + CLOSE_WAIT_NS);
		return mc_proto_stop(p, cap, &c->ids, c->seq++);
	}
	return 0;
}

/* Sends everything that is due now, then arms the timer for what is next. */
static void pump(mc_call_t *c)
{
	uint64_t now = chorus_now_ns();
	char out[OUT_CAP];
	long n;

	while (c->state != DONE) {
		n = next_message(c, out, sizeof(out), now);
		if (n <= 0)
			break;
		if (mc_ws_send_text(&c->ws, out, (size_t)n) == -EPIPE)
			return; /* closed: finish() ran */
	}
	if (c->state == DONE)
		return;
	if (c->state == STREAMING && !c->need_start)
		set_due(c, mc_pace_due(&c->pace));
	else if (c->state == STOPPING)
		set_due(c, c->st.stop_ns + CLOSE_WAIT_NS);
	watch(c);
}

/* Counts frames of the expected talker that never arrived between two that
 * did (the ones after the last arrival are counted by the load report). */
static bool track_loss(mc_call_t *c, uint16_t seq)
{
	uint16_t d;

	if (!c->st.heard) {
		c->st.heard = true;
		c->st.last_seq64 = seq;
		c->last_seq = seq;
		return true;
	}
	d = (uint16_t)(seq - c->last_seq);
	if (d == 0 || d >= 32768)
		return false; /* a duplicate or an older frame */
	if (d <= MISSING_MAX)
		c->st.missing += d - 1u;
	c->st.last_seq64 += d;
	c->last_seq = seq;
	return true;
}

static void on_stamp(mc_call_t *c, uint16_t src, uint16_t seq, uint64_t now)
{
	uint64_t sent;

	if (!mc_meter_stamp_time(c->meter, src, seq, &sent))
		return;
	if (src == c->spec.expect_src && !track_loss(c, seq))
		return;
	c->st.marked_in++;
	if (mc_meter_latency(c->meter, (now - sent) / 1000))
		c->st.late++;
}

/* Inter-arrival jitter and the stamps in a received frame of n bytes. */
static void measure(mc_call_t *c, const uint8_t *ulaw, size_t n, uint64_t now)
{
	/* Two per 20 ms frame at most; a few more for longer frames. */
	mc_stamp_t stamps[8];
	uint64_t expect, dt;
	int k;

	if (c->last_rx_ns) {
		expect = (uint64_t)n * CHORUS_NS_PER_S / G711_RATE;
		dt = now - c->last_rx_ns;
		mc_meter_jitter(
		    c->meter, (dt > expect ? dt - expect : expect - dt) / 1000);
	}
	k = mc_marker_scan(&c->det, ulaw, n, stamps,
			   sizeof(stamps) / sizeof(*stamps));
	for (int i = 0; i < k; i++)
		on_stamp(c, stamps[i].call, stamps[i].seq, now);
}

static void on_media(mc_call_t *c, const mc_inbound_t *in)
{
	uint8_t small[B64_DECODED_MAX(RX_CAP_LOAD)];
	uint8_t *ulaw = c->ulaw_rx ? c->ulaw_rx : small;
	size_t cap = c->ulaw_rx ? B64_DECODED_MAX(c->rx_cap) : sizeof(small);
	uint64_t now = chorus_now_ns();
	long n;

	n = b64_decode(ulaw, cap, in->payload, in->payload_len);
	if (n <= 0) {
		c->st.bad_in++;
		return;
	}
	c->st.frames_in++;
	if (c->meter)
		measure(c, ulaw, (size_t)n, now);
	c->last_rx_ns = now;
	if (c->has_rec && c->state == STREAMING) {
		g711_ulaw_decode_buf(c->pcm_rx, ulaw, (size_t)n);
		mc_rec_push(&c->rec, now, c->pcm_rx, (size_t)n);
	}
}

static void on_mark(mc_call_t *c, const char *name)
{
	if (c->has_rec) {
		mc_rec_mark(&c->rec, chorus_now_ns(), name);
	} else {
		/* Load calls keep no playback queue: the mark's audio counts
		 * as played on arrival. One mark is held; a second before it
		 * is sent replaces it. */
		snprintf(c->mark_name, sizeof(c->mark_name), "%s", name);
		c->mark_pending = true;
	}
	if (mark_due(c))
		pump(c);
}

static void on_clear(mc_call_t *c)
{
	c->st.clears++;
	if (c->has_rec) {
		mc_rec_clear(&c->rec, chorus_now_ns());
		if (mark_due(c))
			pump(c);
	}
}

static void ws_text(void *user, const char *msg, size_t len)
{
	mc_call_t *c = user;
	char small[RX_CAP_LOAD];
	mc_inbound_t in;

	switch (mc_proto_parse(msg, len, c->scratch ? c->scratch : small,
			       c->rx_cap, &in)) {
	case MC_EV_MEDIA:
		on_media(c, &in);
		break;
	case MC_EV_MARK:
		on_mark(c, in.mark_name);
		break;
	case MC_EV_CLEAR:
		on_clear(c);
		break;
	case MC_EV_OTHER:
		break;
	default:
		c->st.bad_in++;
	}
}

static void ws_open(void *user)
{
	mc_call_t *c = user;

	c->state = STREAMING;
	c->st.start_ns = chorus_now_ns();
	c->need_connected = c->need_start = true;
	pump(c);
}

static void ws_close_frame(void *user, int code, const char *reason, size_t len)
{
	mc_call_t *c = user;

	c->st.close_code = code;
	snprintf(c->st.close_reason, sizeof(c->st.close_reason), "%.*s",
		 (int)len, reason);
}

static void ws_closed(void *user, const char *err)
{
	mc_call_t *c = user;

	/* The WebSocket has closed the socket: the engine forgets it. */
	mc_engine_unwatch(c->eng, c->fd);
	c->fd = -1;
	/* An error after our stop (the server hung up as we asked) is not
	 * the call's failure. */
	if (err && !c->st.error[0] && c->state != STOPPING)
		snprintf(c->st.error, sizeof(c->st.error), "%s", err);
	finish(c);
}

static void on_io(mc_engine_t *e, int fd, void *data, unsigned events)
{
	mc_call_t *c = data;

	if (c->state == DONE || c->ws.state == MC_WS_CLOSED)
		return;
	if (events & MC_WRITABLE)
		mc_ws_on_writable(&c->ws);
	if (c->ws.state != MC_WS_CLOSED && (events & MC_READABLE))
		mc_ws_on_readable(&c->ws);
	if (c->state != DONE && c->ws.state != MC_WS_CLOSED)
		watch(c);
}
