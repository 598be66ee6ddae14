/*
 * conn.c - one Media Streams call on its worker (conn.h): admission, the
 * inbound messages, and the close codes of docs/protocol.md.
 */
#include "gateway/conn.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/g711.h"
#include "common/clock.h"
#include "gateway/auth.h"
#include "gateway/log.h"
#include "gateway/media_parse.h"
#include "gateway/names.h"
#include "gateway/proto.h"
#include "gateway/worker.h"

/* Decoded payloads up to this size stay on the stack. */
#define STACK_ULAW 2048
/* Samples handed to the mixer per push: 120 ms at 8 kHz, whole ms. */
#define PUSH_SAMPLES 960

typedef enum conn_state {
	CONN_WAIT_START = 0,
	CONN_JOINED,
	CONN_CLOSING,
} conn_state_t;

/* One call: lws's per-session data, so lws allocates and frees it. */
struct gw_conn {
	gw_calls_t *calls; /* NULL until established */
	struct lws *wsi;
	gw_conn_t *prev, *next; /* the worker's calls */
	conn_state_t state;
	bool counted;			 /* in calls->total */
	bool signed_stream;		 /* a valid X-Twilio-Signature */
	char room[GW_ROOM_NAME_MAX + 1]; /* from the path, else "" */
	char peer[48];
	uint64_t connected_ns;

	/* A message that arrived in pieces; grown to at most max_frame. */
	char *rx;
	size_t rx_len, rx_cap;
	uint8_t *big; /* decoded payloads too big for the stack */

	gw_start_t start;
	char sid_json[GW_SID_JSON_MAX];
	gw_call_info_t info; /* what the admin API shows */
	gw_member_t m;
	gw_outq_t out;

	int close_code; /* close from the timer (shutdown) */
	char close_reason[124];
	char end[140]; /* why it ended, for the leave line */
	int end_code;  /* and its close code, for participant.left */

	/* For the leave line. */
	uint64_t frames_in, bad, bad_run, other_track, dtmf, marks;
	uint64_t dropped_in;
};

/* Names each connection for commands (cmdq.h): never reused. */
static atomic_uint_fast64_t next_id = 1;

size_t gw__conn_size(void)
{
	return sizeof(gw_conn_t);
}

static const gw_config_t *cfg_of(gw_conn_t *c)
{
	return c->calls->cfg;
}

/* Ends the call with code and reason (<= 123 bytes). Returns -1, which the
 * lws callback returns to close. */
static int __attribute__((format(printf, 3, 4)))
end_call(gw_conn_t *c, int code, const char *fmt, ...)
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
	c->end_code = code;
	if (c->state == CONN_WAIT_START) {
		gw__count_refused(c->calls->n, code);
		gw_info("refuse code=%d reason=\"%s\" room=%s streamSid=%s "
			"callSid=%s peer=%s",
			code, reason,
			c->start.room[0] ? c->start.room : c->room,
			c->start.stream_sid, c->start.call_sid, c->peer);
	}
	lws_close_reason(c->wsi, (enum lws_close_status)code,
			 (unsigned char *)reason, (size_t)n);
	c->state = CONN_CLOSING;
	gw__outq_close(&c->out);
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

/* The start message's customParameters (borrowed from root), or NULL. */
static const json_t *custom_params(const void *root)
{
	return json_object_get(json_object_get(root, "start"),
			       "customParameters");
}

/*
 * Who the call is (a signed stream, a join token) and so how it may enter:
 * returns the registry's GW_JOIN_* flags, or -EACCES with the close reason
 * in c->end (end_call() then overwrites it). A token is checked only when
 * a join secret is set; without one it is ignored like any other parameter.
 */
static int admission(gw_conn_t *c, const gw_start_t *st, const char *room)
{
	const gw_config_t *cfg = cfg_of(c);
	gw_room_policy_t policy = gw_config_policy(cfg);
	bool token_ok = false;
	unsigned flags = 0;

	if (st->token && cfg->join_secret[0]) {
		gw_token_claims_t cl;
		char why[64];

		if (gw_token_verify(cfg->join_secret, st->token, room,
				    time(NULL), &cl, why, sizeof(why)) < 0) {
			snprintf(c->end, sizeof(c->end), "invalid token: %s",
				 why);
			return -EACCES;
		}
		token_ok = true;
		printable(cl.identity);
		gw_info("token accepted room=%s role=%s identity=%s "
			"streamSid=%s peer=%s",
			room, cl.role, cl.identity, c->start.stream_sid,
			c->peer);
	}
	if (cfg->twilio_auth_token[0] && !c->signed_stream && !token_ok) {
		snprintf(c->end, sizeof(c->end),
			 "stream not signed: a join token is required");
		return -EACCES;
	}
	if (policy == GW_POLICY_OPEN || (policy == GW_POLICY_AUTHENTICATED &&
					 (c->signed_stream || token_ok)))
		flags |= GW_JOIN_MAY_CREATE;
	if (token_ok)
		flags |= GW_JOIN_TRUSTED;
	return (int)flags;
}

/* What the admin API shows of the call (room.h). */
static void set_info(gw_conn_t *c, const gw_msg_t *msg)
{
	struct timespec now;

	strcpy(c->info.call_sid, c->start.call_sid);
	strcpy(c->info.stream_sid, c->start.stream_sid);
	free(c->info.params);
	c->info.params = gw_proto_public_params(msg);
	clock_gettime(CLOCK_REALTIME, &now);
	c->info.joined_unix_ms =
	    (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static int on_start(gw_conn_t *c, const gw_msg_t *msg)
{
	const gw_start_t *st = &msg->start;
	const char *room = c->room;
	gw_calls_t *calls = c->calls;
	int r;

	c->start = *st;
	c->start.token = NULL; /* borrowed from the message: not kept */
	/* The Sids go on as the platform sent them (sid_json); the copies
	 * kept for log lines must not be able to forge lines. */
	printable(c->start.stream_sid);
	printable(c->start.call_sid);
	printable(c->start.account_sid);
	if (atomic_load(calls->stopping))
		return end_call(c, GW_CLOSE_GOING_AWAY, "server shutting down");
	if (!room[0]) {
		if (st->has_room && !st->room_valid)
			return end_call(c, GW_CLOSE_INVALID,
					"invalid room name: 1-64 of "
					"[A-Za-z0-9._-]");
		if (!st->has_room)
			return end_call(c, GW_CLOSE_INVALID,
					"no room: connect to "
					"/rooms/<room> or set "
					"customParameters.room");
		room = st->room;
	}
	strcpy(c->start.room, room);
	if (gw_proto_json_string(c->sid_json, sizeof(c->sid_json),
				 st->stream_sid) < 0)
		return end_call(c, GW_CLOSE_INVALID,
				"streamSid is not valid UTF-8");
	r = admission(c, st, room);
	if (r < 0)
		return end_call(c, GW_CLOSE_BAD_PASSWORD, "%s", c->end);
	set_info(c, msg);
	r = gw_registry_admit(calls->reg, room,
			      st->has_password ? st->password : NULL,
			      (unsigned)r, &c->out, &c->info, &c->m);
	switch (r) {
	case 0:
		break;
	case -EACCES:
		return end_call(c, GW_CLOSE_BAD_PASSWORD,
				"wrong password for room %s", room);
	case -ENOENT:
		return end_call(c, GW_CLOSE_NO_ROOM, "room %s does not exist",
				room);
	case -EPERM:
		return end_call(c, GW_CLOSE_REMOVED, "room %s is locked", room);
	case -EUSERS:
		return end_call(c, GW_CLOSE_FULL, "room %s is full", room);
	case -EMLINK:
		return end_call(c, GW_CLOSE_FULL,
				"server full: too many rooms");
	default:
		return end_call(c, GW_CLOSE_INTERNAL,
				"internal error joining room");
	}
	c->state = CONN_JOINED;
	gw__outq_open(&c->out, c->sid_json);
	lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
	gw__count(&calls->n->joined, 1);
	calls->participants++;
	gw_info("join room=%s seat=%u streamSid=%s callSid=%s peer=%s%s", room,
		c->m.seat, st->stream_sid, st->call_sid, c->peer,
		c->m.created ? " (room created)" : "");
	if (c->m.created)
		gw_events_room(calls->events, "room.created", room);
	gw_events_joined(calls->events, room, c->m.seat, c->start.call_sid,
			 c->start.stream_sid, custom_params(msg->root));
	if (c->m.start_timer)
		gw__clock_start(calls->clocks, calls->worker, &c->m.room->tick);
	return 0;
}

/* --- inbound ----------------------------------------------------------- */

/* A bad frame after start: dropped and counted; a long run ends the call. */
static int bad_frame(gw_conn_t *c, gw_bad_frame_kind_t kind, const char *why)
{
	c->bad++;
	gw__count(&c->calls->n->bad_frames[kind], 1);
	c->bad_run++;
	gw_debug("bad frame streamSid=%s: %s", c->start.stream_sid, why);
	if (c->bad_run >= cfg_of(c)->bad_frames_max)
		return end_call(c, GW_CLOSE_INVALID,
				"%llu bad frames in a row, last: %.60s",
				(unsigned long long)c->bad_run, why);
	return 0;
}

static int on_media(gw_conn_t *c, const gw_media_t *m)
{
	uint8_t stack_ulaw[STACK_ULAW];
	int16_t pcm[PUSH_SAMPLES];
	uint8_t *ulaw = stack_ulaw;
	size_t cap = sizeof(stack_ulaw);
	uint64_t arrival = chorus_now_ns();
	long n;

	if (m->track.len != 7 || memcmp(m->track.p, "inbound", 7)) {
		/* outbound (or unknown) tracks are another source: not
		 * mixed, counted. */
		c->other_track++;
		gw__count(&c->calls->n->other_track, 1);
		c->bad_run = 0;
		return 0;
	}
	if (B64_DECODED_MAX(m->payload.len) > cap) {
		if (!c->big) {
			c->big = malloc(B64_DECODED_MAX(cfg_of(c)->max_frame));
			if (!c->big)
				return end_call(c, GW_CLOSE_INTERNAL,
						"out of memory");
		}
		ulaw = c->big;
		cap = B64_DECODED_MAX(cfg_of(c)->max_frame);
	}
	n = b64_decode(ulaw, cap, m->payload.p, m->payload.len);
	if (n < 0)
		return bad_frame(c, GW_BAD_BASE64, "payload is not base64");
	c->frames_in++;
	gw__count(&c->calls->n->frames_in, 1);
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
			gw__count(&c->calls->n->dropped_in, 1);
		}
	}
	return 0;
}

static int on_message_joined(gw_conn_t *c, const char *buf, size_t len)
{
	char why[160];
	gw_media_t fast;
	gw_msg_t msg;
	int r = 0;

	if (gw_media_parse_fast(buf, len, &fast))
		return on_media(c, &fast);
	if (gw_proto_parse(buf, len, &msg, why, sizeof(why)) < 0)
		return bad_frame(c, GW_BAD_JSON, why);
	switch (msg.event) {
	case GW_EV_MEDIA:
		r = on_media(c, &msg.media);
		break;
	case GW_EV_DTMF:
		c->dtmf++;
		gw__count(&c->calls->n->dtmf, 1);
		c->bad_run = 0;
		pthread_mutex_lock(&c->m.room->lock);
		mix_participant_dtmf(c->m.p, msg.digit);
		pthread_mutex_unlock(&c->m.room->lock);
		gw_info("dtmf room=%s seat=%u digit=%c", c->m.room->name,
			c->m.seat, msg.digit);
		gw_events_dtmf(c->calls->events, c->m.room->name, c->m.seat,
			       c->start.call_sid, c->start.stream_sid,
			       msg.digit);
		break;
	case GW_EV_MARK:
		c->marks++;
		gw__count(&c->calls->n->marks, 1);
		c->bad_run = 0;
		break;
	case GW_EV_STOP:
		r = end_call(c, GW_CLOSE_NORMAL, "stop received");
		break;
	default:
		/* connected/start again, or an event we do not know */
		r = bad_frame(c, GW_BAD_EVENT, "unexpected event after start");
		break;
	}
	gw_msg_release(&msg);
	return r;
}

static int on_message_waiting(gw_conn_t *c, const char *buf, size_t len)
{
	char why[160];
	gw_msg_t msg;
	int r = 0;

	switch (gw_proto_parse(buf, len, &msg, why, sizeof(why))) {
	case 0:
		break;
	default:
		return end_call(c, GW_CLOSE_INVALID, "%s", why);
	}
	switch (msg.event) {
	case GW_EV_CONNECTED:
	case GW_EV_MARK:
	case GW_EV_DTMF:
		break;
	case GW_EV_START:
		r = on_start(c, &msg);
		break;
	case GW_EV_MEDIA:
		r = end_call(c, GW_CLOSE_INVALID, "media before start");
		break;
	case GW_EV_STOP:
		r = end_call(c, GW_CLOSE_NORMAL, "stop received");
		break;
	default:
		r = end_call(c, GW_CLOSE_INVALID, "unknown event before start");
		break;
	}
	gw_msg_release(&msg);
	return r;
}

static int on_message(gw_conn_t *c, const char *buf, size_t len)
{
	if (c->state == CONN_JOINED)
		return on_message_joined(c, buf, len);
	return on_message_waiting(c, buf, len);
}

/* Appends a piece of a message, growing the buffer up to the limit. */
static int rx_append(gw_conn_t *c, const void *in, size_t len)
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

static int on_receive(gw_conn_t *c, const void *in, size_t len)
{
	size_t max = cfg_of(c)->max_frame;
	size_t remaining = lws_remaining_packet_payload(c->wsi);
	bool done = lws_is_final_fragment(c->wsi) && remaining == 0;
	int r;

	if (c->state == CONN_CLOSING || c->out.failed)
		return -1;
	if (lws_frame_is_binary(c->wsi))
		return end_call(c, GW_CLOSE_UNSUPPORTED,
				"binary frames are not accepted: "
				"send JSON text frames");
	if (c->rx_len + len + remaining > max)
		return end_call(c, GW_CLOSE_TOO_BIG,
				"message larger than %zu bytes", max);
	if (done && c->rx_len == 0)
		return on_message(c, in, len); /* the usual case: no copy */
	if (rx_append(c, in, len) < 0)
		return end_call(c, GW_CLOSE_INTERNAL, "out of memory");
	if (!done)
		return 0;
	r = on_message(c, c->rx, c->rx_len);
	c->rx_len = 0;
	return r;
}

/* --- life cycle -------------------------------------------------------- */

/*
 * The stream's X-Twilio-Signature: 1 valid, 0 absent, -1 wrong (or the URL
 * could not be rebuilt). Only meaningful with a Twilio auth token set.
 */
static int stream_signature(struct lws *wsi, const gw_config_t *cfg)
{
	static const char name[] = "x-twilio-signature:";
	char sig[GW_SIGNATURE_SIZE + 1], host[256], path[512], url[1024];
	int n = lws_hdr_custom_length(wsi, name, sizeof(name) - 1);

	if (n < 0)
		return 0;
	if (n >= (int)sizeof(sig) ||
	    lws_hdr_custom_copy(wsi, sig, sizeof(sig), name, sizeof(name) - 1) <
		0 ||
	    lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0 ||
	    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
	    gw_twilio_url(url, sizeof(url), cfg->public_url, host, path) < 0)
		return -1;
	return gw_twilio_signature_valid(cfg->twilio_auth_token, url, sig) ? 1
									   : -1;
}

/*
 * Before the upgrade is accepted, with HTTP still spoken: with a Twilio auth
 * token set, a wrong signature, or a missing one when no join secret could
 * let the call in instead, is answered 403. Returns 0 to go on, 1 when it
 * answered (lws then ends the request).
 */
static int check_upgrade_signature(struct lws *wsi)
{
	const gw_config_t *cfg = ((gw_calls_t *)gw__worker_of(wsi)->data)->cfg;
	char peer[48];
	int r;

	if (!cfg->twilio_auth_token[0])
		return 0;
	r = stream_signature(wsi, cfg);
	if (r > 0 || (r == 0 && cfg->join_secret[0]))
		return 0;
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	gw_info("refuse http=403 reason=\"%s X-Twilio-Signature\" peer=%s",
		r < 0 ? "invalid" : "missing", peer);
	if (lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN,
				   r < 0 ? "invalid X-Twilio-Signature"
					 : "missing X-Twilio-Signature"))
		return -1;
	return 1;
}

/*
 * Before the upgrade: only / and /rooms/<room> become calls (lws answers
 * anything else with 403). The room is kept for on_established(): lws has
 * allocated the call's data by now.
 */
static int on_filter(gw_conn_t *c, struct lws *wsi)
{
	const gw_config_t *cfg = ((gw_calls_t *)gw__worker_of(wsi)->data)->cfg;
	char path[256];

	memset(c, 0, sizeof(*c));
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
	    gw_room_from_path(path, c->room) < 0)
		return 1;
	/* check_upgrade_signature() let through only valid or absent ones. */
	c->signed_stream =
	    cfg->twilio_auth_token[0] && stream_signature(wsi, cfg) > 0;
	return 0;
}

static int on_established(gw_conn_t *c, struct lws *wsi)
{
	gw_calls_t *calls = gw__worker_of(wsi)->data;

	c->calls = calls;
	c->wsi = wsi;
	c->connected_ns = chorus_now_ns();
	c->info.id = atomic_fetch_add(&next_id, 1);
	c->info.worker = calls->worker;
	c->next = calls->list;
	if (calls->list)
		calls->list->prev = c;
	calls->list = c;
	calls->live++;
	gw__count(&calls->n->accepted, 1);
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	c->counted = true;
	if (atomic_fetch_add(calls->total, 1) >= cfg_of(c)->max_connections)
		return end_call(c, GW_CLOSE_FULL,
				"server full: too many connections");
	if (atomic_load(calls->stopping))
		return end_call(c, GW_CLOSE_GOING_AWAY, "server shutting down");
	if (gw__outq_init(&c->out, calls->out, wsi) < 0)
		return end_call(c, GW_CLOSE_INTERNAL, "out of memory");
	lws_set_timer_usecs(wsi,
			    (lws_usec_t)cfg_of(c)->start_timeout_ms * 1000);
	return 0;
}

/* participant.left: the code the call was closed with (the peer's, or 1006
 * when the connection just ended) and the reason without the code. */
static void left_event(gw_conn_t *c, const char *room, unsigned seat)
{
	const char *reason = "connection lost";
	int code = c->end_code ? c->end_code : 1006;

	if (c->out.failed)
		reason = "write failed";
	else if (!strncmp(c->end, "peer closed", 11))
		reason = "peer closed";
	else if (c->end_code)
		reason = strchr(c->end, ' ') + 1; /* after "<code> " */
	gw_events_left(c->calls->events, room, seat, c->start.call_sid,
		       c->start.stream_sid, code, reason, c->frames_in,
		       c->out.frames_out, c->bad, c->dtmf);
}

static void on_closed(gw_conn_t *c)
{
	gw_calls_t *calls = c->calls;
	uint64_t dropped_out = atomic_load(&c->out.dropped);

	if (!calls)
		return; /* never established */
	if (c->m.room) {
		char room[GW_ROOM_NAME_MAX + 1];
		unsigned seat = c->m.seat;
		mix_participant_stats_t st;

		strcpy(room, c->m.room->name);
		gw_registry_leave(calls->reg, &c->m, &st);
		calls->participants--;
		gw__count(&calls->n->late_frames, st.frames_late);
		gw__count(&calls->n->capped_frames, st.frames_dropped_cap);
		gw__count(&calls->n->concealed_frames, st.frames_concealed);
		gw_info(
		    "leave room=%s seat=%u streamSid=%s callSid=%s "
		    "in=%llu out=%llu bad=%llu dropped=%llu late=%llu "
		    "capped=%llu concealed=%llu delay_max_ms=%u "
		    "end=\"%s\"",
		    room, seat, c->start.stream_sid, c->start.call_sid,
		    (unsigned long long)c->frames_in,
		    (unsigned long long)c->out.frames_out,
		    (unsigned long long)c->bad, (unsigned long long)dropped_out,
		    (unsigned long long)st.frames_late,
		    (unsigned long long)st.frames_dropped_cap,
		    (unsigned long long)st.frames_concealed, st.delay_max_ms,
		    c->out.failed ? "write failed"
		    : c->end[0]	  ? c->end
				  : "connection lost");
		left_event(c, room, seat);
	}
	/* No clock can deliver to this call any more. */
	gw__outq_free(&c->out);
	gw__count(&calls->n->dropped_out, dropped_out);
	if (c->prev)
		c->prev->next = c->next;
	else
		calls->list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	calls->live--;
	if (c->counted)
		atomic_fetch_sub(calls->total, 1);
	free(c->rx);
	free(c->big);
	free(c->info.params);
	c->info.params = NULL;
	c->calls = NULL;
}

static void close_soon(gw_conn_t *c, int code, const char *reason)
{
	if (!c->close_code) {
		c->close_code = code;
		snprintf(c->close_reason, sizeof(c->close_reason), "%s",
			 reason);
	}
	gw__outq_close(&c->out);
	/* Closed from the wsi's timer: lws 4.1 sends no close frame when
	 * WRITEABLE returns -1, but does from TIMER. */
	lws_set_timer_usecs(c->wsi, 1);
}

void gw__conn_talk(gw_events_t *ev, void *user, bool talking)
{
	gw_conn_t *c = lws_container_of(user, gw_conn_t, out);

	/* The call's room, seat and Sids are set before it joined and kept
	 * until it leaves, which waits for the room's lock that the tick
	 * holds. */
	gw_events_participant(
	    ev, talking ? "participant.talking" : "participant.silent",
	    c->m.room->name, c->m.seat, c->start.call_sid, c->start.stream_sid);
}

void gw__conn_close_all(gw_calls_t *calls, int code, const char *reason)
{
	for (gw_conn_t *c = calls->list; c; c = c->next)
		close_soon(c, code, reason);
}

bool gw__conn_close_id(gw_calls_t *calls, uint64_t id, int code,
		       const char *reason)
{
	for (gw_conn_t *c = calls->list; c; c = c->next) {
		if (c->info.id == id) {
			close_soon(c, code, reason);
			return true;
		}
	}
	return false;
}

int gw__conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len)
{
	gw_conn_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return check_upgrade_signature(wsi);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(c, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(c, wsi);
	case LWS_CALLBACK_RECEIVE:
		return on_receive(c, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return gw__outq_writeable(&c->out);
	case LWS_CALLBACK_TIMER:
		if (c->close_code)
			return end_call(c, c->close_code, "%s",
					c->close_reason);
		if (c->state == CONN_WAIT_START)
			return end_call(c, GW_CLOSE_TIMEOUT,
					"no start within %u ms",
					cfg_of(c)->start_timeout_ms);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* lws answers the close: no audio after it. */
		if (c->state == CONN_JOINED) {
			c->state = CONN_CLOSING;
			gw__outq_close(&c->out);
		}
		if (len >= 2 && !c->end[0]) {
			c->end_code = ((const unsigned char *)in)[0] << 8 |
				      ((const unsigned char *)in)[1];
			snprintf(c->end, sizeof(c->end), "peer closed %d",
				 c->end_code);
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(c);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
