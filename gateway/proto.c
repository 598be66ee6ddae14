/*
 * proto.c - the Twilio Media Streams dialect (proto.h): inbound messages
 * read with jansson and checked for shape, the outbound media envelope
 * written with snprintf.
 */
#include "gateway/proto.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "gateway/names.h"

static const char *const event_names[] = {
    [GW_EV_CONNECTED] = "connected", [GW_EV_START] = "start",
    [GW_EV_MEDIA] = "media",	     [GW_EV_DTMF] = "dtmf",
    [GW_EV_MARK] = "mark",	     [GW_EV_STOP] = "stop",
};

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -EINVAL)

/* Copies an optional string member into dst (cap bytes). 0, or -EINVAL if it
 * is present but not a string or too long. */
static int opt_str(json_t *obj, const char *key, char *dst, size_t cap)
{
	json_t *v = json_object_get(obj, key);

	dst[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

static int parse_format(json_t *fmt, char *why, size_t why_len)
{
	json_t *enc = json_object_get(fmt, "encoding");
	json_t *rate = json_object_get(fmt, "sampleRate");
	json_t *ch = json_object_get(fmt, "channels");

	if (!json_is_object(fmt))
		return WHY("start.mediaFormat is not an object");
	if (!json_is_string(enc) ||
	    strcmp(json_string_value(enc), "audio/x-mulaw") ||
	    (rate && json_number_value(rate) != 8000) ||
	    (ch && json_number_value(ch) != 1)) {
		snprintf(why, why_len,
			 "unsupported mediaFormat %.40s %g Hz %g ch: only "
			 "audio/x-mulaw 8000 Hz mono",
			 json_is_string(enc) ? json_string_value(enc) : "?",
			 json_number_value(rate), json_number_value(ch));
		return -ENOTSUP;
	}
	return 0;
}

static int parse_start(json_t *root, gw_start_t *s, char *why, size_t why_len)
{
	json_t *st = json_object_get(root, "start");
	json_t *params, *fmt, *tracks;
	int r;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(st))
		return WHY("start without a \"start\" object");
	if (opt_str(st, "streamSid", s->stream_sid, sizeof(s->stream_sid)) <
		0 ||
	    opt_str(st, "callSid", s->call_sid, sizeof(s->call_sid)) < 0 ||
	    opt_str(st, "accountSid", s->account_sid, sizeof(s->account_sid)) <
		0)
		return WHY("start: a Sid is not a string of at most %d bytes",
			   GW_SID_MAX);
	if (!s->stream_sid[0] && opt_str(root, "streamSid", s->stream_sid,
					 sizeof(s->stream_sid)) < 0)
		return WHY("streamSid is not a string of at most %d bytes",
			   GW_SID_MAX);
	if (!s->stream_sid[0])
		return WHY("start without a streamSid");
	tracks = json_object_get(st, "tracks");
	if (tracks && !json_is_array(tracks))
		return WHY("start.tracks is not an array");
	fmt = json_object_get(st, "mediaFormat");
	if (fmt && (r = parse_format(fmt, why, why_len)) < 0)
		return r;
	params = json_object_get(st, "customParameters");
	if (params && !json_is_object(params))
		return WHY("start.customParameters is not an object");
	if (params) {
		json_t *room = json_object_get(params, "room");
		json_t *token = json_object_get(params, "token");

		r = opt_str(params, "password", s->password,
			    sizeof(s->password));
		if (r < 0)
			return WHY("customParameters.password is not a string "
				   "of at most %d bytes",
				   GW_PASSWORD_MAX);
		s->has_password = r > 0;
		if (room && !json_is_string(room))
			return WHY("customParameters.room is not a string");
		if (token && !json_is_string(token))
			return WHY("customParameters.token is not a string");
		s->token = token ? json_string_value(token) : NULL;
		if (room) {
			s->has_room = true;
			s->room_valid = gw_room_name_valid(
			    json_string_value(room), json_string_length(room));
			if (s->room_valid)
				strcpy(s->room, json_string_value(room));
		}
	}
	return 0;
}

/* Accepts "123" (Twilio) or 123. */
static int get_u32(json_t *v, uint32_t *out)
{
	if (json_is_string(v))
		return gw_parse_u32(json_string_value(v), json_string_length(v),
				    out);
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= UINT32_MAX) {
		*out = (uint32_t)json_integer_value(v);
		return 0;
	}
	return -EINVAL;
}

static int parse_media(json_t *root, gw_media_t *m, char *why, size_t why_len)
{
	json_t *md = json_object_get(root, "media");
	json_t *payload, *track, *ts, *chunk, *seq;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(md))
		return WHY("media without a \"media\" object");
	payload = json_object_get(md, "payload");
	track = json_object_get(md, "track");
	ts = json_object_get(md, "timestamp");
	chunk = json_object_get(md, "chunk");
	seq = json_object_get(root, "sequenceNumber");
	if (!json_is_string(payload))
		return WHY("media.payload is not a string");
	if (!ts || get_u32(ts, &m->timestamp) < 0)
		return WHY("media.timestamp is not a number in a string");
	if ((chunk && get_u32(chunk, &m->chunk) < 0) ||
	    (seq && get_u32(seq, &m->seq) < 0))
		return WHY("media.chunk or sequenceNumber is not a number");
	if (track && !json_is_string(track))
		return WHY("media.track is not a string");
	m->payload.p = json_string_value(payload);
	m->payload.len = json_string_length(payload);
	if (track) {
		m->track.p = json_string_value(track);
		m->track.len = json_string_length(track);
	} else {
		m->track.p = "inbound";
		m->track.len = 7;
	}
	return 0;
}

static int parse_dtmf(json_t *root, char *digit, char *why, size_t why_len)
{
	json_t *d = json_object_get(json_object_get(root, "dtmf"), "digit");
	const char *s;

	if (!json_is_string(d) || json_string_length(d) != 1)
		return WHY("dtmf.digit is not a one-character string");
	s = json_string_value(d);
	if (!strchr("0123456789*#ABCDabcd", s[0]) || !s[0])
		return WHY("dtmf.digit is not a DTMF digit");
	*digit = s[0];
	return 0;
}

int gw_proto_parse(const char *buf, size_t len, gw_msg_t *msg, char *why,
		   size_t why_len)
{
	json_error_t je;
	json_t *root, *ev;
	const char *name;
	int r = 0;

	memset(msg, 0, sizeof(*msg));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return WHY("invalid JSON: %s", je.text);
	ev = json_object_get(root, "event");
	if (!json_is_object(root) || !json_is_string(ev)) {
		json_decref(root);
		return WHY("not an object with a string \"event\"");
	}
	name = json_string_value(ev);
	for (unsigned i = 1; i < sizeof(event_names) / sizeof(*event_names);
	     i++) {
		if (!strcmp(name, event_names[i]))
			msg->event = (gw_event_t)i;
	}
	switch (msg->event) {
	case GW_EV_START:
		r = parse_start(root, &msg->start, why, why_len);
		break;
	case GW_EV_MEDIA:
		r = parse_media(root, &msg->media, why, why_len);
		break;
	case GW_EV_DTMF:
		r = parse_dtmf(root, &msg->digit, why, why_len);
		break;
	default:
		break;
	}
	if (r < 0) {
		json_decref(root);
		return r;
	}
	msg->root = root;
	return 0;
}

void gw_msg_release(gw_msg_t *msg)
{
	json_decref(msg->root);
	msg->root = NULL;
}

int gw_proto_json_string(char *out, size_t cap, const char *sid)
{
	json_t *s = json_string(sid);
	size_t n;

	if (!s)
		return -EINVAL;
	n = json_dumpb(s, out, cap, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(s);
	if (n == 0 || n >= cap)
		return -ENOSPC;
	out[n] = '\0';
	return (int)n;
}

/* Copies n bytes to *p and moves it on. */
static char *put(char *p, const char *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

/* Once per outbound frame per listener: plain copies, no printf. */
int gw_proto_media_out(char *out, size_t cap, const char *sid_json,
		       const char *b64, size_t b64_len)
{
	static const char head[] = "{\"event\":\"media\",\"streamSid\":";
	static const char mid[] = ",\"media\":{\"payload\":\"";
	static const char tail[] = "\"}}";
	size_t sid_len = strlen(sid_json);
	size_t n = sizeof(head) - 1 + sid_len + sizeof(mid) - 1 + b64_len +
		   sizeof(tail) - 1;
	char *p = out;

	if (n >= cap || n > INT_MAX)
		return -ENOSPC;
	p = put(p, head, sizeof(head) - 1);
	p = put(p, sid_json, sid_len);
	p = put(p, mid, sizeof(mid) - 1);
	p = put(p, b64, b64_len);
	p = put(p, tail, sizeof(tail) - 1);
	*p = '\0';
	return (int)n;
}

static bool secret_key(const char *key)
{
	static const char *const words[] = {"password", "token", "secret"};

	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
		if (strcasestr(key, words[i]))
			return true;
	}
	return false;
}

char *gw_proto_public_params(const gw_msg_t *msg)
{
	json_t *st = json_object_get(msg->root, "start");
	json_t *params = json_object_get(st, "customParameters");
	json_t *pub, *v;
	const char *key;
	char *out;

	if (msg->event != GW_EV_START || !json_is_object(params) ||
	    !(pub = json_object()))
		return NULL;
	json_object_foreach(params, key, v)
	{
		if (!secret_key(key))
			json_object_set(pub, key, v);
	}
	out = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);
	return out;
}
