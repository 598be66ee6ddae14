/*
 * conn.c - one Media Streams call on its worker: admission, the inbound
 * messages, the outbound frames, and the close codes of protocol.md. Also
 * the two plain HTTP endpoints (/healthz, /metrics), which arrive on the
 * same lws protocol.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/g711.h"
#include "gateway/internal.h"
#include "gateway/log.h"
#include "gateway/media_parse.h"

/* Decoded payloads up to this size stay on the stack. */
#define STACK_ULAW 2048
/* Samples handed to the mixer per push: 120 ms at 8 kHz, whole ms. */
#define PUSH_SAMPLES 960

static const gw_config_t *cfg_of(conn_t *c)
{
	return c->w->srv->cfg;
}

/* Ends the call with code and reason (<= 123 bytes). Returns -1, which the
 * lws callback returns to close. */
static int __attribute__((format(printf, 3, 4)))
end_call(conn_t *c, int code, const char *fmt, ...)
{
	va_list ap;
	char reason[124];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n >= (int)sizeof(reason))
		n = sizeof(reason) - 1;
	snprintf(c->end, sizeof(c->end), "%d %s", code, reason);
	if (c->state == CONN_WAIT_START) {
		atomic_fetch_add_explicit(&c->w->n.refused, 1,
					  memory_order_relaxed);
		gw_info("refuse code=%d reason=\"%s\" room=%s streamSid=%s "
			"callSid=%s peer=%s",
			code, reason,
			c->start.room[0] ? c->start.room : c->room,
			c->start.stream_sid, c->start.call_sid, c->peer);
	}
	lws_close_reason(c->wsi, (enum lws_close_status)code,
			 (unsigned char *)reason, (size_t)n);
	c->state = CONN_CLOSING;
	return -1;
}

/* --- admission --------------------------------------------------------- */

static void printable(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '"')
			*s = '?';
	}
}

static int on_start(conn_t *c, const gw_start_t *st)
{
	const char *room = c->room;
	worker_t *w = c->w;
	int r;

	c->start = *st;
	/* The Sids go on as the platform sent them (sid_json); the copies
	 * kept for log lines must not be able to forge lines. */
	printable(c->start.stream_sid);
	printable(c->start.call_sid);
	printable(c->start.account_sid);
	if (atomic_load(&w->srv->stopping))
		return end_call(c, 1001, "server shutting down");
	if (!room[0]) {
		if (st->has_room && !st->room_valid)
			return end_call(c, 1007,
					"invalid room name: 1-64 of "
					"[A-Za-z0-9._-]");
		if (!st->has_room)
			return end_call(c, 1007,
					"no room: connect to "
					"/rooms/<room> or set "
					"customParameters.room");
		room = st->room;
	}
	strcpy(c->start.room, room);
	if (gw_proto_json_string(c->sid_json, sizeof(c->sid_json),
				 st->stream_sid) < 0)
		return end_call(c, 1007, "streamSid is not valid UTF-8");
	r = gw_registry_join(w->srv->reg, room,
			     st->has_password ? st->password : NULL, c, &c->m);
	switch (r) {
	case 0:
		break;
	case -EACCES:
		return end_call(c, 4001, "wrong password for room %s", room);
	case -ENOENT:
		return end_call(c, 4004, "room %s does not exist", room);
	case -EUSERS:
		return end_call(c, 4029, "room %s is full", room);
	case -EMLINK:
		return end_call(c, 4029, "server full: too many rooms");
	default:
		return end_call(c, 1011, "internal error joining room");
	}
	c->state = CONN_JOINED;
	lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
	atomic_fetch_add_explicit(&w->n.joined, 1, memory_order_relaxed);
	gw_info("join room=%s seat=%u streamSid=%s callSid=%s peer=%s%s", room,
		c->m.seat, st->stream_sid, st->call_sid, c->peer,
		c->m.created ? " (room created)" : "");
	if (c->m.start_timer)
		gw_clock_start(w, c->m.room);
	return 0;
}

/* --- inbound ----------------------------------------------------------- */

/* A bad frame after start: dropped and counted; a long run ends the call. */
static int bad_frame(conn_t *c, const char *why)
{
	c->bad++;
	gw_count(&c->w->n.bad_frames, 1);
	c->bad_run++;
	gw_debug("bad frame streamSid=%s: %s", c->start.stream_sid, why);
	if (c->bad_run >= cfg_of(c)->bad_frames_max)
		return end_call(c, 1007,
				"%llu bad frames in a row, last: %.60s",
				(unsigned long long)c->bad_run, why);
	return 0;
}

static int on_media(conn_t *c, const gw_media_t *m)
{
	uint8_t stack_ulaw[STACK_ULAW];
	int16_t pcm[PUSH_SAMPLES];
	uint8_t *ulaw = stack_ulaw;
	size_t cap = sizeof(stack_ulaw);
	uint64_t arrival = gw_now_ns();
	long n;

	if (m->track.len != 7 || memcmp(m->track.p, "inbound", 7)) {
		/* outbound (or unknown) tracks are another source: not
		 * mixed, counted. */
		c->other_track++;
		gw_count(&c->w->n.other_track, 1);
		c->bad_run = 0;
		return 0;
	}
	if (B64_DECODED_MAX(m->payload.len) > cap) {
		if (!c->big) {
			c->big = malloc(B64_DECODED_MAX(cfg_of(c)->max_frame));
			if (!c->big)
				return end_call(c, 1011, "out of memory");
		}
		ulaw = c->big;
		cap = B64_DECODED_MAX(cfg_of(c)->max_frame);
	}
	n = b64_decode(ulaw, cap, m->payload.p, m->payload.len);
	if (n < 0)
		return bad_frame(c, "payload is not base64");
	c->frames_in++;
	gw_count(&c->w->n.frames_in, 1);
	c->bad_run = 0;
	for (long off = 0; off < n; off += PUSH_SAMPLES) {
		size_t k = (size_t)(n - off) < PUSH_SAMPLES ? (size_t)(n - off)
							    : PUSH_SAMPLES;

		for (size_t i = 0; i < k; i++)
			pcm[i] = g711_ulaw_decode(ulaw[off + i]);
		/* 8 samples per ms at 8 kHz: each push starts on a whole ms. */
		if (mix_participant_push(c->m.p, pcm, k,
					 m->timestamp + (uint32_t)(off / 8),
					 arrival) < 0) {
			c->dropped_in++;
			gw_count(&c->w->n.dropped_in, 1);
		}
	}
	return 0;
}

static int on_message_joined(conn_t *c, const char *buf, size_t len)
{
	char why[160];
	gw_media_t fast;
	gw_msg_t msg;
	int r = 0;

	if (gw_media_parse_fast(buf, len, &fast))
		return on_media(c, &fast);
	if (gw_proto_parse(buf, len, &msg, why, sizeof(why)) < 0)
		return bad_frame(c, why);
	switch (msg.event) {
	case GW_EV_MEDIA:
		r = on_media(c, &msg.media);
		break;
	case GW_EV_DTMF:
		c->dtmf++;
		gw_count(&c->w->n.dtmf, 1);
		c->bad_run = 0;
		pthread_mutex_lock(&c->m.room->lock);
		mix_participant_dtmf(c->m.p, msg.digit);
		pthread_mutex_unlock(&c->m.room->lock);
		gw_info("dtmf room=%s seat=%u digit=%c", c->m.room->name,
			c->m.seat, msg.digit);
		break;
	case GW_EV_MARK:
		c->marks++;
		gw_count(&c->w->n.marks, 1);
		c->bad_run = 0;
		break;
	case GW_EV_STOP:
		r = end_call(c, 1000, "stop received");
		break;
	default:
		/* connected/start again, or an event we do not know */
		r = bad_frame(c, "unexpected event after start");
		break;
	}
	gw_msg_release(&msg);
	return r;
}

static int on_message_waiting(conn_t *c, const char *buf, size_t len)
{
	char why[160];
	gw_msg_t msg;
	int r = 0;

	switch (gw_proto_parse(buf, len, &msg, why, sizeof(why))) {
	case 0:
		break;
	default:
		return end_call(c, 1007, "%s", why);
	}
	switch (msg.event) {
	case GW_EV_CONNECTED:
	case GW_EV_MARK:
	case GW_EV_DTMF:
		break;
	case GW_EV_START:
		r = on_start(c, &msg.start);
		break;
	case GW_EV_MEDIA:
		r = end_call(c, 1007, "media before start");
		break;
	case GW_EV_STOP:
		r = end_call(c, 1000, "stop received");
		break;
	default:
		r = end_call(c, 1007, "unknown event before start");
		break;
	}
	gw_msg_release(&msg);
	return r;
}

static int on_message(conn_t *c, const char *buf, size_t len)
{
	if (c->state == CONN_JOINED)
		return on_message_joined(c, buf, len);
	return on_message_waiting(c, buf, len);
}

/* Appends a piece of a message, growing the buffer up to the limit. */
static int rx_append(conn_t *c, const void *in, size_t len)
{
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 4096;
		char *p;

		while (cap < c->rx_len + len)
			cap *= 2;
		if (cap > cfg_of(c)->max_frame)
			cap = cfg_of(c)->max_frame;
		p = realloc(c->rx, cap);
		if (!p)
			return -ENOMEM;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

static int on_receive(conn_t *c, const void *in, size_t len)
{
	size_t max = cfg_of(c)->max_frame;
	size_t remaining = lws_remaining_packet_payload(c->wsi);
	bool done = lws_is_final_fragment(c->wsi) && remaining == 0;
	int r;

	if (c->state == CONN_CLOSING)
		return -1;
	if (lws_frame_is_binary(c->wsi))
		return end_call(c, 1003,
				"binary frames are not accepted: "
				"send JSON text frames");
	if (c->rx_len + len + remaining > max)
		return end_call(c, 1009, "message larger than %zu bytes", max);
	if (done && c->rx_len == 0)
		return on_message(c, in, len); /* the usual case: no copy */
	if (rx_append(c, in, len) < 0)
		return end_call(c, 1011, "out of memory");
	if (!done)
		return 0;
	r = on_message(c, c->rx, c->rx_len);
	c->rx_len = 0;
	return r;
}

/* --- outbound ---------------------------------------------------------- */

/*
 * How a frame leaves (design: nothing per frame but the send itself). The
 * ring's oldest frame is written straight from the tick that queued it (or
 * from the hand-off wake-up, for a room ticked on another worker), on this
 * connection's worker, which is the thread that services its wsi. Asking lws
 * for a WRITEABLE callback instead costs two epoll_ctl() calls per frame
 * with the libuv loop (write interest on, then off again), four syscalls
 * where the send is one. lws 4.1 accepts lws_write() outside WRITEABLE on
 * its service thread: what the kernel does not take (a full socket buffer)
 * lws keeps and sends itself, asking for POLLOUT, and then calls WRITEABLE
 * once it is drained. So a write only happens while lws holds nothing of
 * ours (lws_partial_buffered(), which unlike lws_send_pipe_choked() makes
 * no poll() call): otherwise the frame waits in the ring, trimmed to the
 * configured depth, for WRITEABLE, and lws never holds more than one frame.
 */

static bool ring_empty(conn_t *c)
{
	return atomic_load_explicit(&c->head, memory_order_acquire) ==
	       atomic_load_explicit(&c->tail, memory_order_relaxed);
}

/* Writes the ring's oldest frame, dropping what is beyond the queue's depth
 * first. Returns 0 (also when there was nothing to write), or -1 when the
 * connection failed. */
static int write_next(conn_t *c)
{
	worker_t *w = c->w;
	unsigned h, t;
	out_slot_t *s;
	int n;

	gw_ring_trim(c, cfg_of(c)->out_queue);
	h = atomic_load_explicit(&c->head, memory_order_acquire);
	t = atomic_load_explicit(&c->tail, memory_order_relaxed);
	if (h == t)
		return 0;
	s = &c->ring[t % GW_RING_SLOTS];
	n = gw_proto_media_out(w->tx + LWS_PRE, GW_TX_MAX, c->sid_json, s->b64,
			       s->len);
	atomic_store_explicit(&c->tail, t + 1, memory_order_release);
	if (n < 0)
		return 0;
	if (lws_write(c->wsi, (unsigned char *)w->tx + LWS_PRE, (size_t)n,
		      LWS_WRITE_TEXT) < n) {
		snprintf(c->end, sizeof(c->end), "write failed");
		return -1;
	}
	c->frames_out++;
	gw_count(&w->n.frames_out, 1);
	return 0;
}

static int on_writeable(conn_t *c)
{
	if (c->state != CONN_JOINED || c->close_code)
		return 0;
	if (write_next(c) < 0)
		return -1;
	if (!ring_empty(c))
		lws_callback_on_writable(c->wsi);
	return 0;
}

void gw_conn_flush(conn_t *c)
{
	if (c->state != CONN_JOINED || c->close_code)
		return;
	if (lws_partial_buffered(c->wsi)) {
		/* lws finishes its part, then WRITEABLE takes the ring's. */
		gw_ring_trim(c, cfg_of(c)->out_queue);
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (write_next(c) < 0) {
		/* Outside a callback: close at lws's next timeout check. */
		c->state = CONN_CLOSING;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
		return;
	}
	if (!ring_empty(c))
		lws_callback_on_writable(c->wsi);
}

/* --- life cycle -------------------------------------------------------- */

static int on_established(conn_t *c, struct lws *wsi)
{
	worker_t *w = lws_context_user(lws_get_context(wsi));
	gw_server_t *s = w->srv;
	char path[256];

	memset(c, 0, sizeof(*c));
	c->w = w;
	c->wsi = wsi;
	c->connected_ns = gw_now_ns();
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	atomic_fetch_add_explicit(&w->n.accepted, 1, memory_order_relaxed);
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
	    gw_room_from_path(path, c->room) < 0)
		return end_call(c, 1007, "bad path: use / or /rooms/<room>");
	c->counted = true;
	if (atomic_fetch_add(&s->n_conns, 1) >= s->cfg->max_connections)
		return end_call(c, 4029, "server full: too many connections");
	if (atomic_load(&s->stopping))
		return end_call(c, 1001, "server shutting down");
	c->ring = calloc(GW_RING_SLOTS, sizeof(*c->ring));
	if (!c->ring)
		return end_call(c, 1011, "out of memory");
	lws_set_timer_usecs(wsi, (lws_usec_t)s->cfg->start_timeout_ms * 1000);
	return 0;
}

/* Output frames the room's clock could not queue (counted on its thread) join
 * the worker's counters when the call ends. */
static void fold_counters(conn_t *c)
{
	atomic_fetch_add_explicit(&c->w->n.dropped_out,
				  atomic_load(&c->dropped_out),
				  memory_order_relaxed);
}

static void on_closed(conn_t *c)
{
	worker_t *w = c->w;

	if (!w)
		return; /* never established */
	if (c->m.room) {
		char room[GW_ROOM_NAME_MAX + 1];
		unsigned seat = c->m.seat;

		mix_participant_stats_t st;

		strcpy(room, c->m.room->name);
		gw_registry_leave(w->srv->reg, &c->m, &st);
		gw_count(&w->n.late_frames, st.frames_late);
		gw_count(&w->n.capped_frames, st.frames_dropped_cap);
		gw_count(&w->n.concealed_frames, st.frames_concealed);
		gw_info("leave room=%s seat=%u streamSid=%s callSid=%s "
			"in=%llu out=%llu bad=%llu dropped=%llu late=%llu "
			"capped=%llu concealed=%llu delay_max_ms=%u "
			"end=\"%s\"",
			room, seat, c->start.stream_sid, c->start.call_sid,
			(unsigned long long)c->frames_in,
			(unsigned long long)c->frames_out,
			(unsigned long long)c->bad,
			(unsigned long long)atomic_load(&c->dropped_out),
			(unsigned long long)st.frames_late,
			(unsigned long long)st.frames_dropped_cap,
			(unsigned long long)st.frames_concealed,
			st.delay_max_ms,
			c->end[0] ? c->end : "connection lost");
	}
	/* No clock can queue this call any more: forget any wake-up. */
	gw_worker_drain_wakes(w, c, false);
	fold_counters(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	if (c->counted)
		atomic_fetch_sub(&w->srv->n_conns, 1);
	free(c->rx);
	free(c->big);
	free(c->ring);
	c->w = NULL;
}

/* --- HTTP -------------------------------------------------------------- */

static int http_reply(struct lws *wsi, unsigned status, const char *body)
{
	unsigned char buf[LWS_PRE + 4096];
	unsigned char *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	size_t n = strlen(body);

	if (lws_add_http_common_headers(wsi, status, "text/plain", n, &p,
					end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	if (n > sizeof(buf) - LWS_PRE)
		n = sizeof(buf) - LWS_PRE;
	memcpy(start, body, n);
	if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) != (int)n)
		return 1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_http(struct lws *wsi, const char *uri)
{
	worker_t *w = lws_context_user(lws_get_context(wsi));
	char body[2048];

	if (!strcmp(uri, "/healthz"))
		return http_reply(wsi, HTTP_STATUS_OK, "ok\n");
	if (!strcmp(uri, "/metrics")) {
		gw_metrics_text(w->srv, body, sizeof(body));
		return http_reply(wsi, HTTP_STATUS_OK, body);
	}
	return http_reply(wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
}

int gw_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		     void *user, void *in, size_t len)
{
	conn_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, in ? (const char *)in : "/");
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char path[256], room[GW_ROOM_NAME_MAX + 1];

		/* Refuse the upgrade (HTTP 403) outside / and /rooms/<room>. */
		if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <
			0 ||
		    gw_room_from_path(path, room) < 0)
			return 1;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(c, wsi);
	case LWS_CALLBACK_RECEIVE:
		return on_receive(c, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(c);
	case LWS_CALLBACK_TIMER:
		if (c->close_code)
			return end_call(c, c->close_code, "%s",
					c->close_reason);
		if (c->state == CONN_WAIT_START)
			return end_call(c, 4008, "no start within %u ms",
					cfg_of(c)->start_timeout_ms);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* lws answers the close: no audio after it. */
		if (c->state == CONN_JOINED)
			c->state = CONN_CLOSING;
		if (len >= 2 && !c->end[0])
			snprintf(c->end, sizeof(c->end), "peer closed %d",
				 ((const unsigned char *)in)[0] << 8 |
				     ((const unsigned char *)in)[1]);
		return 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		struct lws_context *ctx = lws_get_context(wsi);
		worker_t *w = ctx ? lws_context_user(ctx) : NULL;

		if (w)
			gw_worker_woken(w);
		return 0;
	}
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
