/*
 * proto.h - the platform's side of the Media Streams protocol: the messages
 * a telephony platform sends (connected, start, media, mark, stop) and the
 * reading of what a server sends back (media, mark, clear).
 *
 * Formats follow docs/protocol.md: sequenceNumber, chunk and
 * timestamp are JSON strings; sampleRate and channels are numbers. The media
 * envelope, built 50 times a second per call, is one snprintf around a
 * ready base64 payload; the rarer messages are built with jansson, which
 * escapes custom parameters and mark names correctly. Reading takes a fast
 * path for media (find the payload string; no backslash in it means no
 * unescaping is needed) and jansson for everything else.
 *
 * Builders write into a caller's buffer and return the length, or -ENOSPC
 * (or -ENOMEM from jansson). No I/O, no logging.
 */
#ifndef CHORUS_MC_PROTO_H
#define CHORUS_MC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define MC_SID_LEN   34 /* two letters and 32 hex digits */
#define MC_MARK_NAME 128

/* The identifiers a platform generates for one call. */
typedef struct mc_ids {
	char account_sid[MC_SID_LEN + 1];
	char call_sid[MC_SID_LEN + 1];
	char stream_sid[MC_SID_LEN + 1];
} mc_ids_t;

typedef struct mc_param {
	const char *key;
	const char *value;
} mc_param_t;

/* Fills ids with "AC…", "CA…", "MZ…" from the 64-bit random state *rng
 * (xorshift64, advanced). */
void mc_proto_make_ids(mc_ids_t *ids, uint64_t *rng);

long mc_proto_connected(char *buf, size_t cap);
/* sequenceNumber "1"; tracks ["inbound"]; µ-law 8000 Hz mono. */
long mc_proto_start(char *buf, size_t cap, const mc_ids_t *ids,
		    const mc_param_t *params, size_t nparams);
/* payload is base64 of length plen (not necessarily NUL-terminated). */
long mc_proto_media(char *buf, size_t cap, const char *stream_sid, uint64_t seq,
		    uint64_t chunk, uint64_t timestamp_ms, const char *payload,
		    size_t plen);
long mc_proto_mark(char *buf, size_t cap, const char *stream_sid, uint64_t seq,
		   const char *name);
long mc_proto_stop(char *buf, size_t cap, const mc_ids_t *ids, uint64_t seq);

typedef enum mc_event {
	MC_EV_INVALID = 0, /* not JSON, or not an object with "event" */
	MC_EV_MEDIA,
	MC_EV_MARK,
	MC_EV_CLEAR,
	MC_EV_OTHER, /* a well-formed event the client does not act on */
} mc_event_t;

/* A parsed server message. payload points into the message (fast path) or
 * into scratch (slow path); it is only valid while both live. */
typedef struct mc_inbound {
	mc_event_t event;
	const char *payload;
	size_t payload_len;
	char mark_name[MC_MARK_NAME];
	char stream_sid[MC_SID_LEN + 16];
} mc_inbound_t;

/*
 * Reads one text message of len bytes. scratch (cap bytes) holds an
 * unescaped payload when the slow path is taken. Returns the event (also in
 * out->event); MC_EV_INVALID for anything unreadable, and for a media
 * message without a string payload.
 */
mc_event_t mc_proto_parse(const char *msg, size_t len, char *scratch,
			  size_t cap, mc_inbound_t *out);

#endif /* CHORUS_MC_PROTO_H */
