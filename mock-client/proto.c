/*
 * proto.c - see proto.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mock-client/proto.h"
#include "mock-client/rand.h"

static void make_sid(char *dst, const char *prefix, uint64_t *rng)
{
	snprintf(dst, MC_SID_LEN + 1, "%s%016" PRIx64 "%016" PRIx64, prefix,
		 mc_rand(rng), mc_rand(rng));
}

void mc_proto_make_ids(mc_ids_t *ids, uint64_t *rng)
{
	make_sid(ids->account_sid, "AC", rng);
	make_sid(ids->call_sid, "CA", rng);
	make_sid(ids->stream_sid, "MZ", rng);
}

static long fit(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* Dumps j compactly into buf and releases it. */
static long dump(json_t *j, char *buf, size_t cap)
{
	size_t n;

	if (!j)
		return -ENOMEM;
	n = json_dumpb(j, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (n == 0)
		return -ENOMEM;
	if (n >= cap)
		return -ENOSPC;
	buf[n] = '\0';
	return (long)n;
}

long mc_proto_connected(char *buf, size_t cap)
{
	return fit(snprintf(buf, cap,
			    "{\"event\":\"connected\","
			    "\"protocol\":\"Call\","
			    "\"version\":\"1.0.0\"}"),
		   cap);
}

long mc_proto_start(char *buf, size_t cap, const mc_ids_t *ids,
		    const mc_param_t *params, size_t nparams)
{
	json_t *custom = json_object();

	for (size_t i = 0; custom && i < nparams; i++)
		json_object_set_new(custom, params[i].key,
				    json_string(params[i].value));
	return dump(json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[s], s:o, "
			      "s:{s:s, s:i, s:i}}, s:s}",
			      "event", "start", "sequenceNumber", "1", "start",
			      "accountSid", ids->account_sid, "streamSid",
			      ids->stream_sid, "callSid", ids->call_sid,
			      "tracks", "inbound", "customParameters", custom,
			      "mediaFormat", "encoding", "audio/x-mulaw",
			      "sampleRate", 8000, "channels", 1, "streamSid",
			      ids->stream_sid),
		    buf, cap);
}

long mc_proto_media(char *buf, size_t cap, const char *stream_sid, uint64_t seq,
		    uint64_t chunk, uint64_t timestamp_ms, const char *payload,
		    size_t plen)
{
	return fit(
	    snprintf(buf, cap,
		     "{\"event\":\"media\",\"sequenceNumber\":\"%" PRIu64
		     "\",\"media\":{\"track\":\"inbound\",\"chunk\":\"%" PRIu64
		     "\",\"timestamp\":\"%" PRIu64
		     "\",\"payload\":\"%.*s\"},\"streamSid\":\"%s\"}",
		     seq, chunk, timestamp_ms, (int)plen, payload, stream_sid),
	    cap);
}

long mc_proto_mark(char *buf, size_t cap, const char *stream_sid, uint64_t seq,
		   const char *name)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRIu64, seq);
	return dump(json_pack("{s:s, s:s, s:s, s:{s:s}}", "event", "mark",
			      "sequenceNumber", s, "streamSid", stream_sid,
			      "mark", "name", name),
		    buf, cap);
}

long mc_proto_stop(char *buf, size_t cap, const mc_ids_t *ids, uint64_t seq)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRIu64, seq);
	return dump(json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "event", "stop",
			      "sequenceNumber", s, "stop", "accountSid",
			      ids->account_sid, "callSid", ids->call_sid,
			      "streamSid", ids->stream_sid),
		    buf, cap);
}

/* The fast path: a media message whose payload needs no unescaping. */
static int parse_media_fast(const char *msg, size_t len, mc_inbound_t *out)
{
	static const char ev[] = "\"event\":\"media\"";
	static const char key[] = "\"payload\":\"";
	const char *p, *end;

	if (!len || msg[0] != '{' || !memmem(msg, len, ev, sizeof(ev) - 1))
		return 0;
	p = memmem(msg, len, key, sizeof(key) - 1);
	if (!p)
		return 0;
	p += sizeof(key) - 1;
	end = memchr(p, '"', (size_t)(msg + len - p));
	if (!end || memchr(p, '\\', (size_t)(end - p)))
		return 0;
	out->event = MC_EV_MEDIA;
	out->payload = p;
	out->payload_len = (size_t)(end - p);
	return 1;
}

static void copy_str(char *dst, size_t cap, json_t *s)
{
	const char *v = json_string_value(s);

	snprintf(dst, cap, "%s", v ? v : "");
}

mc_event_t mc_proto_parse(const char *msg, size_t len, char *scratch,
			  size_t cap, mc_inbound_t *out)
{
	json_t *root, *j;
	const char *ev;

	memset(out, 0, sizeof(*out));
	if (parse_media_fast(msg, len, out))
		return out->event;
	root = json_loadb(msg, len, 0, NULL);
	ev = json_string_value(json_object_get(root, "event"));
	if (!ev) {
		out->event = MC_EV_INVALID;
	} else if (!strcmp(ev, "media")) {
		j = json_object_get(json_object_get(root, "media"), "payload");
		if (json_is_string(j) && json_string_length(j) < cap) {
			memcpy(scratch, json_string_value(j),
			       json_string_length(j));
			out->payload = scratch;
			out->payload_len = json_string_length(j);
			out->event = MC_EV_MEDIA;
		}
	} else if (!strcmp(ev, "mark")) {
		j = json_object_get(json_object_get(root, "mark"), "name");
		out->event = json_is_string(j) ? MC_EV_MARK : MC_EV_INVALID;
		copy_str(out->mark_name, sizeof(out->mark_name), j);
	} else if (!strcmp(ev, "clear")) {
		out->event = MC_EV_CLEAR;
	} else {
		out->event = MC_EV_OTHER;
	}
	if (out->event != MC_EV_INVALID)
		copy_str(out->stream_sid, sizeof(out->stream_sid),
			 json_object_get(root, "streamSid"));
	json_decref(root);
	return out->event;
}
