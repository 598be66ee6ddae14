/*
 * media_parse.h - the fast path for inbound Media Streams `media` frames.
 *
 * 99.9% of a call's traffic is one message shape, sent by Twilio byte for
 * byte the same way:
 *
 *   {"event":"media","sequenceNumber":"3","media":{"track":"inbound",
 *    "chunk":"1","timestamp":"5","payload":"<base64>"},"streamSid":"MZ..."}
 *
 * gw_media_parse_fast() recognises exactly that shape (no whitespace, that
 * key order, every value a string, the numbers decimal digits) in one pass
 * without allocating, and answers "not handled" for anything else - escapes
 * such as `\/`, other key orders, extra or missing fields - so the caller
 * falls back to the full JSON parser, which accepts any valid JSON. It never
 * decides a frame is invalid: only that it is not the common case.
 *
 * Pure function: no I/O, no lws, no jansson, no allocation, no state. The
 * results point into the caller's buffer. It is a fuzz target.
 */
#ifndef CHORUS_GW_MEDIA_PARSE_H
#define CHORUS_GW_MEDIA_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A span of the input buffer (not NUL-terminated). */
typedef struct gw_span {
	const char *p;
	size_t len;
} gw_span_t;

typedef struct gw_media {
	gw_span_t track;      /* "inbound", "outbound", ... */
	gw_span_t payload;    /* base64, not yet validated */
	gw_span_t stream_sid; /* raw JSON string contents, no escapes */
	uint32_t timestamp;   /* media.timestamp, ms since the stream began */
	uint32_t chunk;	      /* media.chunk */
	uint32_t seq;	      /* sequenceNumber */
} gw_media_t;

/*
 * Parses buf[0..len) as a `media` frame of exactly the shape above.
 * Returns 1 and fills *out when it is; 0 ("not handled") otherwise, with *out
 * unspecified. buf need not be NUL-terminated.
 */
int gw_media_parse_fast(const char *buf, size_t len, gw_media_t *out);

/* Decimal digits only, no sign, fits in uint32: the way Twilio writes
 * numbers as strings. Returns 0 or -EINVAL. */
int gw_parse_u32(const char *p, size_t len, uint32_t *out);

#endif /* CHORUS_GW_MEDIA_PARSE_H */
