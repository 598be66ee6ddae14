/*
 * call.c - one simulated call: the Media Streams platform side of a
 * WebSocket, driven by the engine's timer (see engine.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/base64.h"
#include "codec/g711.h"
#include "mock-client/engine_priv.h"

#define RX_CAP_LOAD 16384	/* load calls: ample for 20 ms frames */
#define RX_CAP_RECORD (1 << 20) /* a recording caller accepts big frames */
#define MAX_CHUNK 8000		/* one second of audio per frame at most */
#define CLOSE_WAIT_NS 2000000000ull /* after stop, wait for the close */
#define MISSING_MAX 1000 /* a marker jump larger than this is a restart */

/* One thread runs the engine, so the frame buffers can be shared. */
static unsigned char out_buf[LWS_PRE + B64_ENCODED_LEN(MAX_CHUNK) + 1024];
static char b64_buf[B64_ENCODED_LEN(MAX_CHUNK) + 1];
static uint8_t ulaw_buf[RX_CAP_RECORD];
static int16_t pcm_buf[RX_CAP_RECORD];
static char scratch[RX_CAP_RECORD];

int mc_call_setup(mc_call_t *c, const mc_call_cfg_t *cfg, const char *path,
		  int marker_id)
{
	uint64_t rng = cfg->seed ^ ((uint64_t)c->index + 1) * 0x9E3779B97F4A7C15ull ^ mc_now_ns();
	size_t cap = cfg->record ? RX_CAP_RECORD : RX_CAP_LOAD;

	c->cfg = cfg;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->marker_id = marker_id;
	c->last_src = -1;
	c->expect_src = -1;
	mc_marker_det_init(&c->det);
	mc_proto_make_ids(&c->ids, &rng);
	c->rx = malloc(cap);
	if (!c->rx)
		return -ENOMEM;
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
		c->end_frame = (uint64_t)(cfg->duration_s * G711_RATE /
					  cfg->chunk + 0.5);
	c->state = MC_CALL_IDLE;
	return 0;
}

static void finish(mc_call_t *c)
{
	if (c->state == MC_CALL_DONE)
		return;
	c->state = MC_CALL_DONE;
	c->end_ns = mc_now_ns();
	c->wsi = NULL;
	mc__engine_call_done(c->eng, c);
}

int mc__call_connect(mc_call_t *c)
{
	const mc_call_cfg_t *cfg = c->cfg;
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = c->eng->ctx;
	i.address = cfg->host;
	i.port = cfg->port;
	i.path = c->path;
	i.host = cfg->host;
	/* No subprotocol, as a telephony platform asks for none. */
	i.local_protocol_name = "chorus-mock-client";
	if (cfg->tls) {
		i.ssl_connection = LCCSCF_USE_SSL;
		if (cfg->insecure)
			i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
					    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
					    LCCSCF_ALLOW_EXPIRED;
	}
	i.userdata = c;
	i.pwsi = &c->wsi;
	c->state = MC_CALL_CONNECTING;
	if (!lws_client_connect_via_info(&i)) {
		if (c->state != MC_CALL_DONE) {
			snprintf(c->error, sizeof(c->error),
				 "cannot connect to %s:%d", cfg->host,
				 cfg->port);
			finish(c);
		}
		return -1;
	}
	return 0;
}

void mc__call_hangup(mc_call_t *c)
{
	if (c->state == MC_CALL_CONNECTING || c->state == MC_CALL_IDLE) {
		c->end_frame = 0;
	} else if (c->state == MC_CALL_STREAMING) {
		c->end_frame = mc_pace_frame(&c->pace);
		c->need_stop = true;
		lws_callback_on_writable(c->wsi);
	}
}

void mc__call_due(mc_call_t *c, uint64_t now)
{
	c->eng->due_ns[c->index] = MC_NO_DEADLINE;
	if (!c->wsi)
		return;
	if (c->state == MC_CALL_STOPPING)
		c->want_close = true;
	/* Playback time only runs while the call streams: the silence after
	 * a stop is not a gap. */
	if (c->has_rec && c->state == MC_CALL_STREAMING) {
		mc_rec_advance(&c->rec, now);
		c->eng->due_ns[c->index] = mc_pace_due(&c->pace);
	}
	lws_callback_on_writable(c->wsi);
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

static int writeable(mc_call_t *c, struct lws *wsi)
{
	char *p = (char *)out_buf + LWS_PRE;
	size_t cap = sizeof(out_buf) - LWS_PRE;
	uint64_t now = mc_now_ns();
	long n;

	if (c->want_close) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
				 (unsigned char *)"bye", 3);
		return -1;
	}
	n = next_message(c, p, cap, now);
	if (n < 0) {
		snprintf(c->error, sizeof(c->error), "cannot build message");
		return -1;
	}
	if (n == 0)
		goto rearm;
	if (lws_write(wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_TEXT) <
	    n)
		return -1;
	if (c->need_start || media_due(c, now) || mark_due(c) ||
	    (c->need_stop && c->state == MC_CALL_STREAMING)) {
		lws_callback_on_writable(wsi);
		return 0;
	}
rearm:
	/* Nothing more to send now: the timer wakes this call next. */
	if (c->state == MC_CALL_STREAMING && !c->need_start)
		c->eng->due_ns[c->index] = mc_pace_due(&c->pace);
	else if (c->state == MC_CALL_STOPPING)
		c->eng->due_ns[c->index] = c->stop_ns + CLOSE_WAIT_NS;
	return 0;
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
	uint64_t now = mc_now_ns(), expect, dt;
	uint16_t src, seq;
	long n;

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
			mc_hist_add(st->jitter, (dt > expect ? dt - expect
							    : expect - dt) /
							1000);
		}
		if (mc_marker_scan(&c->det, ulaw_buf, (size_t)n, &src, &seq))
			on_marker(c, src, seq, now);
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
		now = mc_now_ns();
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
			lws_callback_on_writable(c->wsi);
		break;
	case MC_EV_CLEAR:
		c->clears++;
		if (c->has_rec) {
			mc_rec_clear(&c->rec, mc_now_ns());
			if (mark_due(c))
				lws_callback_on_writable(c->wsi);
		}
		break;
	case MC_EV_OTHER:
		break;
	default:
		c->bad_in++;
	}
}

static void on_receive(mc_call_t *c, struct lws *wsi, const char *in,
		       size_t len)
{
	size_t cap = c->cfg->record ? RX_CAP_RECORD : RX_CAP_LOAD;
	bool first = lws_is_first_fragment(wsi);
	bool last = lws_is_final_fragment(wsi) &&
		    !lws_remaining_packet_payload(wsi);

	if (first && last) {
		on_message(c, in, len);
		return;
	}
	if (first) {
		c->rx_len = 0;
		c->rx_overflow = false;
	}
	if (c->rx_len + len > cap)
		c->rx_overflow = true;
	else
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!last)
		return;
	if (c->rx_overflow)
		c->bad_in++;
	else
		on_message(c, c->rx, c->rx_len);
	c->rx_len = 0;
}

static void on_peer_close(mc_call_t *c, const unsigned char *in, size_t len)
{
	if (len < 2)
		return;
	c->close_code = in[0] << 8 | in[1];
	snprintf(c->close_reason, sizeof(c->close_reason), "%.*s",
		 (int)(len - 2), (const char *)in + 2);
}

int mc__call_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len)
{
	mc_call_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (!c)
			break;
		snprintf(c->error, sizeof(c->error), "%s",
			 in ? (const char *)in : "connection failed");
		finish(c);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->state = MC_CALL_STREAMING;
		c->start_ns = mc_now_ns();
		c->need_connected = c->need_start = true;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(c, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		on_peer_close(c, in, len);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			finish(c);
		break;
	default:
		break;
	}
	return 0;
}
