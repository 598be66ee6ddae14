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
/* Per-frame events (DTMF, bad frames) logged per call before the log says
 * that it stops logging them; the leave line has their counts. */
#define LOG_REPEAT_MAX 5
/* A bad frame weighs this many good ones in bad_score: a call whose frames
 * are more than a third bad ends, one at a time or in a run. */
#define BAD_WEIGHT 2

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
	bool source_counted;		 /* in calls->sources */
	bool signed_stream;		 /* a valid X-Twilio-Signature */
	char room[GW_ROOM_NAME_MAX + 1]; /* from the path, else "" */
	char peer[48]; /* the source (sources.h): peer or proxied client */
	uint64_t connected_ns;
	uint64_t last_rx_ns; /* the last message's arrival (idle timeout) */

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
	uint64_t bad_score; /* + BAD_WEIGHT per bad frame, - 1 per good one */

	/* The inbound rate (rate_ok()): each limit's theoretical arrival time
	 * (GCRA), and messages dropped since both buckets were last full. */
	uint64_t tat_msgs, tat_bytes;
	uint64_t throttled, throttled_run;
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
		gw_esc_t er, esid, ecall, epeer;

		gw__count_refused(c->calls->n, code);
		gw_info("refuse code=%d reason=\"%s\" room=%s streamSid=%s "
			"callSid=%s peer=%s",
			code, gw_log_esc(&er, reason),
			c->start.room[0] ? c->start.room : c->room,
			gw_log_esc(&esid, c->start.stream_sid),
			gw_log_esc(&ecall, c->start.call_sid),
			gw_log_esc(&epeer, c->peer));
	}
	lws_close_reason(c->wsi, (enum lws_close_status)code,
			 (unsigned char *)reason, (size_t)n);
	c->state = CONN_CLOSING;
	gw__outq_close(&c->out);
	return -1;
}

/* --- admission --------------------------------------------------------- */

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
		gw_esc_t erole, eid, esid, epeer;
		gw_token_claims_t cl;
		char why[64];

		if (gw_token_verify(cfg->join_secret, st->token, room,
				    time(NULL), &cl, why, sizeof(why)) < 0) {
			snprintf(c->end, sizeof(c->end), "invalid token: %s",
				 why);
			return -EACCES;
		}
		token_ok = true;
		gw_info("token accepted room=%s role=%s identity=%s "
			"streamSid=%s peer=%s",
			room, gw_log_esc(&erole, cl.role),
			gw_log_esc(&eid, cl.identity),
			gw_log_esc(&esid, c->start.stream_sid),
			gw_log_esc(&epeer, c->peer));
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

	/* Kept as sent: every log line escapes them (gw_log_esc()). */
	c->start = *st;
	c->start.token = NULL; /* borrowed from the message: not kept */
	if (atomic_load(calls->stopping))
		return end_call(c, GW_CLOSE_GOING_AWAY, "server shutting down");
	/* Before the password is looked at: no more guesses from here. */
	if (gw_sources_pw_blocked(calls->sources, c->peer, chorus_now_ns())) {
		gw__count(&calls->n->password_throttled, 1);
		return end_call(c, GW_CLOSE_FULL,
				"too many wrong passwords from %s: try later",
				c->peer);
	}
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
		gw_sources_pw_failed(calls->sources, c->peer, chorus_now_ns());
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
	/* From here the timer watches for silence (on_timer()). */
	lws_set_timer_usecs(c->wsi,
			    cfg_of(c)->idle_timeout_ms
				? (lws_usec_t)cfg_of(c)->idle_timeout_ms * 1000
				: LWS_SET_TIMER_USEC_CANCEL);
	gw__count(&calls->n->joined, 1);
	calls->participants++;
	{
		gw_esc_t esid, ecall, epeer;

		gw_info("join room=%s seat=%u streamSid=%s callSid=%s "
			"peer=%s%s",
			room, c->m.seat, gw_log_esc(&esid, st->stream_sid),
			gw_log_esc(&ecall, st->call_sid),
			gw_log_esc(&epeer, c->peer),
			c->m.created ? " (room created)" : "");
	}
	if (c->m.created)
		gw_events_room(calls->events, "room.created", room);
	gw_events_joined(calls->events, room, c->m.seat, c->start.call_sid,
			 c->start.stream_sid, custom_params(msg->root));
	if (c->m.start_timer)
		gw__clock_start(calls->clocks, calls->worker, &c->m.room->tick);
	return 0;
}

/* --- inbound ----------------------------------------------------------- */

/* A good message after start ends a run of bad ones and pays one bad frame
 * back by half. */
static void good_frame(gw_conn_t *c)
{
	c->bad_run = 0;
	if (c->bad_score)
		c->bad_score--;
}

/*
 * A bad frame after start: dropped and counted. A run of --bad-frames ends
 * the call, and so does a stream that is more than a third bad for long
 * (a good frame between bad ones does not keep junk alive): bad_score
 * reaches BAD_WEIGHT * --bad-frames, where a run from a clean start would.
 */
static int bad_frame(gw_conn_t *c, gw_bad_frame_kind_t kind, const char *why)
{
	uint64_t good = c->frames_in + c->other_track + c->dtmf + c->marks;

	c->bad++;
	gw__count(&c->calls->n->bad_frames[kind], 1);
	c->bad_run++;
	c->bad_score += BAD_WEIGHT;
	if (c->bad <= LOG_REPEAT_MAX && gw_log_enabled(GW_LOG_DEBUG)) {
		gw_esc_t esid, ewhy;

		gw_debug("bad frame streamSid=%s: %s%s",
			 gw_log_esc(&esid, c->start.stream_sid),
			 gw_log_esc(&ewhy, why),
			 c->bad == LOG_REPEAT_MAX
			     ? " (further bad frames of this call are not "
			       "logged; its leave line counts them)"
			     : "");
	}
	if (c->bad_run >= cfg_of(c)->bad_frames_max)
		return end_call(c, GW_CLOSE_INVALID,
				"%llu bad frames in a row, last: %.60s",
				(unsigned long long)c->bad_run, why);
	if (c->bad_score >= (uint64_t)BAD_WEIGHT * cfg_of(c)->bad_frames_max)
		return end_call(c, GW_CLOSE_INVALID,
				"mostly bad frames (%llu bad, %llu good), "
				"last: %.50s",
				(unsigned long long)c->bad,
				(unsigned long long)good, why);
	return 0;
}

static int on_media(gw_conn_t *c, const gw_media_t *m)
{
	uint8_t stack_ulaw[STACK_ULAW];
	int16_t pcm[PUSH_SAMPLES];
	uint8_t *ulaw = stack_ulaw;
	size_t cap = sizeof(stack_ulaw);
	uint64_t arrival = c->last_rx_ns; /* on_receive() read the clock */
	long n;

	if (m->track.len != 7 || memcmp(m->track.p, "inbound", 7)) {
		/* outbound (or unknown) tracks are another source: not
		 * mixed, counted. */
		c->other_track++;
		gw__count(&c->calls->n->other_track, 1);
		good_frame(c);
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
	good_frame(c);
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
		good_frame(c);
		pthread_mutex_lock(&c->m.room->lock);
		mix_participant_dtmf(c->m.p, msg.digit);
		pthread_mutex_unlock(&c->m.room->lock);
		if (c->dtmf <= LOG_REPEAT_MAX)
			gw_info("dtmf room=%s seat=%u digit=%c%s",
				c->m.room->name, c->m.seat, msg.digit,
				c->dtmf == LOG_REPEAT_MAX
				    ? " (further digits of this call are not "
				      "logged; its leave line counts them)"
				    : "");
		gw_events_dtmf(c->calls->events, c->m.room->name, c->m.seat,
			       c->start.call_sid, c->start.stream_sid,
			       msg.digit);
		break;
	case GW_EV_MARK:
		c->marks++;
		gw__count(&c->calls->n->marks, 1);
		good_frame(c);
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

/*
 * The inbound rate, as two GCRA buckets (messages and bytes) of
 * --in-burst-ms each: a message passes if neither would overflow, and then
 * costs 1 / --in-msg-rate s and len / --in-byte-rate s. Returns true if it
 * passes. Nothing is allocated, two clock reads at most.
 */
static bool rate_ok(gw_conn_t *c, size_t len, uint64_t now)
{
	const gw_config_t *cfg = cfg_of(c);
	uint64_t burst = (uint64_t)cfg->in_burst_ms * CHORUS_NS_PER_MS;
	uint64_t cm = 1000000000ull / cfg->in_msg_rate;
	uint64_t cb = (uint64_t)len * 1000000000ull / cfg->in_byte_rate;
	uint64_t tm = c->tat_msgs > now ? c->tat_msgs : now;
	uint64_t tb = c->tat_bytes > now ? c->tat_bytes : now;

	if (tm == now && tb == now)
		c->throttled_run = 0; /* both full again: a new start */
	if (tm + cm - now > burst || tb + cb - now > burst)
		return false;
	c->tat_msgs = tm + cm;
	c->tat_bytes = tb + cb;
	return true;
}

/* A message over the rate: dropped unread and counted; once a second's
 * worth (--in-msg-rate) has been dropped without the buckets filling up
 * again, the call ends with 4029. */
static int throttle(gw_conn_t *c)
{
	const gw_config_t *cfg = cfg_of(c);

	c->throttled++;
	gw__count(&c->calls->n->throttled_in, 1);
	if (c->throttled_run++ == 0) {
		gw_esc_t esid, epeer;

		gw_info("throttle room=%s streamSid=%s peer=%s: faster than "
			"%u messages/s or %u bytes/s, dropping the excess",
			c->m.room ? c->m.room->name : c->room,
			gw_log_esc(&esid, c->start.stream_sid),
			gw_log_esc(&epeer, c->peer), cfg->in_msg_rate,
			cfg->in_byte_rate);
	}
	if (c->throttled_run < cfg->in_msg_rate)
		return 0;
	gw__count(&c->calls->n->throttle_closes, 1);
	return end_call(c, GW_CLOSE_FULL,
			"too much: over %u messages/s or %u bytes/s",
			cfg->in_msg_rate, cfg->in_byte_rate);
}

static int on_receive(gw_conn_t *c, const void *in, size_t len)
{
	size_t max = cfg_of(c)->max_frame;
	size_t remaining = lws_remaining_packet_payload(c->wsi);
	bool done = lws_is_final_fragment(c->wsi) && remaining == 0;
	int r;

	if (c->state == CONN_CLOSING || c->out.failed)
		return -1;
	c->last_rx_ns = chorus_now_ns();
	if (lws_frame_is_binary(c->wsi))
		return end_call(c, GW_CLOSE_UNSUPPORTED,
				"binary frames are not accepted: "
				"send JSON text frames");
	if (c->rx_len + len + remaining > max)
		return end_call(c, GW_CLOSE_TOO_BIG,
				"message larger than %zu bytes", max);
	if (done && !rate_ok(c, c->rx_len + len, c->last_rx_ns)) {
		c->rx_len = 0;
		return throttle(c);
	}
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
	gw_esc_t epeer;
	int r;

	if (!cfg->twilio_auth_token[0])
		return 0;
	r = stream_signature(wsi, cfg);
	if (r > 0 || (r == 0 && cfg->join_secret[0]))
		return 0;
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	gw_info("refuse http=403 reason=\"%s X-Twilio-Signature\" peer=%s",
		r < 0 ? "invalid" : "missing", gw_log_esc(&epeer, peer));
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
	gw_calls_t *calls = gw__worker_of(wsi)->data;
	const gw_config_t *cfg = calls->cfg;
	char path[256], peer[48], xff[256];
	bool has_xff = false;

	memset(c, 0, sizeof(*c));
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
	    gw_room_from_path(path, c->room) < 0)
		return 1;
	/* check_upgrade_signature() let through only valid or absent ones. */
	c->signed_stream =
	    cfg->twilio_auth_token[0] && stream_signature(wsi, cfg) > 0;
	/* The source, while the headers are at hand. */
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (calls->trusted->family)
		has_xff = lws_hdr_copy(wsi, xff, sizeof(xff),
				       WSI_TOKEN_X_FORWARDED_FOR) > 0;
	gw_source_of(c->peer, peer, has_xff ? xff : NULL, calls->trusted);
	return 0;
}

/*
 * Before lws answers an upgrade (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): a path
 * that is no call's gets an HTTP answer with the reason, not a dropped
 * connection. Returns 0 to let the upgrade go on, 1 once it has answered
 * (lws then ends the transaction), -1 to hang up.
 */
static int on_confirm_upgrade(struct lws *wsi)
{
	gw_calls_t *calls = gw__worker_of(wsi)->data;
	char path[256], room[GW_ROOM_NAME_MAX + 1], peer[48];
	unsigned status;
	const char *why;
	gw_esc_t epath, epeer;

	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0)
		path[0] = '\0'; /* too long: no call's path */
	switch (gw_upgrade_path(path, room)) {
	case 0:
	case 1:
		return check_upgrade_signature(wsi);
	case -EINVAL:
		status = HTTP_STATUS_BAD_REQUEST;
		why = "invalid room name: 1-64 of [A-Za-z0-9._-]";
		break;
	default:
		status = HTTP_STATUS_NOT_FOUND;
		why = "no such path: connect to /rooms/ROOM or /";
		break;
	}
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	gw__count(&calls->n->handshake_refused, 1);
	gw_info("refuse http=%u reason=\"%s\" path=%s peer=%s", status, why,
		gw_log_esc(&epath, path), gw_log_esc(&epeer, peer));
	if (lws_return_http_status(wsi, status, why))
		return -1;
	return 1;
}

static int on_established(gw_conn_t *c, struct lws *wsi)
{
	gw_calls_t *calls = gw__worker_of(wsi)->data;

	c->calls = calls;
	c->wsi = wsi;
	c->connected_ns = chorus_now_ns();
	c->last_rx_ns = c->connected_ns;
	c->info.id = atomic_fetch_add(&next_id, 1);
	c->info.worker = calls->worker;
	c->next = calls->list;
	if (calls->list)
		calls->list->prev = c;
	calls->list = c;
	calls->live++;
	gw__count(&calls->n->accepted, 1);
	if (!c->peer[0])
		lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	c->counted = true;
	if (atomic_fetch_add(calls->total, 1) >= cfg_of(c)->max_connections)
		return end_call(c, GW_CLOSE_FULL,
				"server full: too many connections");
	switch (gw_sources_enter(calls->sources, c->peer, c->connected_ns)) {
	case 0:
		c->source_counted = true;
		break;
	case -EMFILE:
		gw__count(&calls->n->source_refused, 1);
		return end_call(c, GW_CLOSE_FULL,
				"too many connections from %s", c->peer);
	default:
		gw__count(&calls->n->source_refused, 1);
		return end_call(c, GW_CLOSE_FULL,
				"too many handshakes from %s: try later",
				c->peer);
	}
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

		gw_esc_t esid, ecall, eend;

		strcpy(room, c->m.room->name);
		gw_registry_leave(calls->reg, &c->m, &st);
		calls->participants--;
		gw__count(&calls->n->late_frames, st.frames_late);
		gw__count(&calls->n->capped_frames, st.frames_dropped_cap);
		gw__count(&calls->n->concealed_frames, st.frames_concealed);
		gw_info("leave room=%s seat=%u streamSid=%s callSid=%s "
			"in=%llu out=%llu bad=%llu dropped=%llu late=%llu "
			"capped=%llu concealed=%llu delay_max_ms=%u dtmf=%llu "
			"end=\"%s\"",
			room, seat, gw_log_esc(&esid, c->start.stream_sid),
			gw_log_esc(&ecall, c->start.call_sid),
			(unsigned long long)c->frames_in,
			(unsigned long long)c->out.frames_out,
			(unsigned long long)c->bad,
			(unsigned long long)dropped_out,
			(unsigned long long)st.frames_late,
			(unsigned long long)st.frames_dropped_cap,
			(unsigned long long)st.frames_concealed,
			st.delay_max_ms, (unsigned long long)c->dtmf,
			gw_log_esc(&eend, c->out.failed ? "write failed"
					  : c->end[0]	? c->end
							: "connection lost"));
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
	if (c->source_counted)
		gw_sources_leave(calls->sources, c->peer);
	free(c->rx);
	free(c->big);
	free(c->info.params);
	c->info.params = NULL;
	c->calls = NULL;
}

/* A joined call's timer: it ends the call once nothing has arrived for
 * --idle-timeout-ms (the platform sends media all the time, silence
 * included), else it is set again for the time that is left. */
static int on_idle_check(gw_conn_t *c)
{
	uint64_t limit =
	    (uint64_t)cfg_of(c)->idle_timeout_ms * CHORUS_NS_PER_MS;
	uint64_t quiet = chorus_now_ns() - c->last_rx_ns;
	gw_esc_t esid;

	if (!limit)
		return 0;
	if (quiet < limit) {
		lws_set_timer_usecs(c->wsi,
				    (lws_usec_t)((limit - quiet) / 1000 + 1));
		return 0;
	}
	gw__count(&c->calls->n->idle_timeouts, 1);
	gw_info("idle room=%s seat=%u streamSid=%s: nothing received for "
		"%llu ms",
		c->m.room->name, c->m.seat,
		gw_log_esc(&esid, c->start.stream_sid),
		(unsigned long long)(quiet / CHORUS_NS_PER_MS));
	return end_call(c, GW_CLOSE_TIMEOUT, "nothing received for %u ms",
			cfg_of(c)->idle_timeout_ms);
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
		return on_confirm_upgrade(wsi);
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
		if (c->state == CONN_JOINED)
			return on_idle_check(c);
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
