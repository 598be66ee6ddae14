/*
 * media_parse.c - the one-pass parser of the common `media` frame
 * (media_parse.h); anything unusual is left to the full parser.
 */
#include "gateway/media_parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int gw_parse_u32(const char *p, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* A cursor over the input. */
typedef struct cur {
	const char *p;
	const char *end;
} cur_t;

/* Consumes the literal lit, or fails. */
static int lit(cur_t *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n))
		return 0;
	c->p += n;
	return 1;
}

#define LIT(c, s) lit(c, s, sizeof(s) - 1)

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any byte of the span is a backslash, a control character or not
 * ASCII: eight bytes at a time (a word has a byte below n when
 * (v - ONES * n) & ~v & HIGHS is not zero, for n <= 128). */
static bool has_special(const char *p, size_t n)
{
	uint64_t bad = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v, bs;

		memcpy(&v, p + i, 8);
		bs = v ^ (ONES * '\\');
		bad |= v | ((v - ONES * 0x20) & ~v) | ((bs - ONES) & ~bs);
	}
	for (; i < n; i++) {
		unsigned char b = (unsigned char)p[i];

		bad |= (uint64_t)((b == '\\') | (b < 0x20) | (b >= 0x80)) << 7;
	}
	return bad & HIGHS;
}

/* Consumes the rest of a JSON string whose opening quote was just consumed,
 * including its closing quote. Fails on a backslash (the slow path unescapes),
 * on control characters (invalid JSON; the slow path reports it) and on
 * non-ASCII bytes (Twilio sends none; the slow path checks UTF-8). */
static int str(cur_t *c, gw_span_t *out)
{
	const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));

	if (!q || has_special(c->p, (size_t)(q - c->p)))
		return 0;
	out->p = c->p;
	out->len = (size_t)(q - c->p);
	c->p = q + 1;
	return 1;
}

static int num(cur_t *c, uint32_t *out)
{
	gw_span_t s;

	return str(c, &s) && gw_parse_u32(s.p, s.len, out) == 0;
}

int gw_media_parse_fast(const char *buf, size_t len, gw_media_t *out)
{
	cur_t c = {buf, buf + len};

	if (!buf)
		return 0;
	return LIT(&c, "{\"event\":\"media\",\"sequenceNumber\":\"") &&
	       num(&c, &out->seq) && LIT(&c, ",\"media\":{\"track\":\"") &&
	       str(&c, &out->track) && LIT(&c, ",\"chunk\":\"") &&
	       num(&c, &out->chunk) && LIT(&c, ",\"timestamp\":\"") &&
	       num(&c, &out->timestamp) && LIT(&c, ",\"payload\":\"") &&
	       str(&c, &out->payload) && LIT(&c, "},\"streamSid\":\"") &&
	       str(&c, &out->stream_sid) && LIT(&c, "}") && c.p == c.end;
}
