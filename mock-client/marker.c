/*
 * marker.c - see marker.h for the stamp's layout and why it survives.
 */
#include <errno.h>
#include <string.h>

#include "mock-client/marker.h"

#define EXPONENT  2
#define ULAW_ZERO 0xFF /* decodes to 0 */
#define MAGIC_LEN 4
#define DATA_LEN  8
static const uint8_t magic[MAGIC_LEN] = {0xA, 0x5, 0xC, 0x3};

/* µ-law codes are stored inverted: code = ~(sign | exponent << 4 | mantissa),
 * where sign 0x80 means a positive sample. */
static uint8_t code_for(unsigned i, unsigned nibble)
{
	unsigned sign = (i & 1) ? 0x00 : 0x80;

	return (uint8_t) ~(sign | EXPONENT << 4 | (nibble & 0xF));
}

/* Returns the nibble carried by code at position i, or -1. */
static int nibble_of(unsigned i, uint8_t code)
{
	unsigned raw = (uint8_t)~code;
	unsigned sign = (i & 1) ? 0x00 : 0x80;

	if ((raw & 0x80) != sign || ((raw >> 4) & 7) != EXPONENT)
		return -1;
	return (int)(raw & 0xF);
}

int mc_marker_write(uint8_t *frame, size_t n, uint16_t call, uint16_t seq)
{
	uint32_t v = (uint32_t)call << 16 | seq;
	unsigned check = 0, i;

	if (!frame || n < MC_MARKER_LEN)
		return -EINVAL;
	for (i = 0; i < MAGIC_LEN; i++)
		frame[i] = code_for(i, magic[i]);
	for (i = 0; i < DATA_LEN; i++) {
		unsigned nib = (v >> (28 - 4 * i)) & 0xF;

		check ^= nib;
		frame[MAGIC_LEN + i] = code_for(MAGIC_LEN + i, nib);
	}
	frame[MC_MARKER_LEN - 1] = code_for(MC_MARKER_LEN - 1, check ^ 0x9);
	if (n >= 2 * MC_MARKER_LEN)
		frame[n / 2] = frame[n / 2 + 1] = ULAW_ZERO;
	return 0;
}

int mc_marker_read(const uint8_t *buf, size_t n, uint16_t *call, uint16_t *seq)
{
	uint32_t v = 0;
	unsigned check = 0, i;
	int nib;

	if (n < MC_MARKER_LEN)
		return 0;
	for (i = 0; i < MAGIC_LEN; i++)
		if (nibble_of(i, buf[i]) != magic[i])
			return 0;
	for (i = 0; i < DATA_LEN; i++) {
		nib = nibble_of(MAGIC_LEN + i, buf[MAGIC_LEN + i]);
		if (nib < 0)
			return 0;
		check ^= (unsigned)nib;
		v = v << 4 | (unsigned)nib;
	}
	nib = nibble_of(MC_MARKER_LEN - 1, buf[MC_MARKER_LEN - 1]);
	if (nib < 0 || (unsigned)nib != (check ^ 0x9))
		return 0;
	*call = (uint16_t)(v >> 16);
	*seq = (uint16_t)v;
	return 1;
}

void mc_marker_det_init(mc_marker_det_t *d)
{
	d->tail_len = 0;
}

/* The first magic code, either sign position: a cheap filter before the
 * full check. */
static int may_start(uint8_t c)
{
	return c == code_for(0, magic[0]);
}

int mc_marker_scan(mc_marker_det_t *d, const uint8_t *frame, size_t n,
		   mc_stamp_t *out, size_t max)
{
	uint8_t join[2 * (MC_MARKER_LEN - 1)];
	size_t i, keep, from = 0, found = 0;

	/* A stamp that straddles the previous frame and this one: it ends
	 * within this frame's first MC_MARKER_LEN - 1 bytes. */
	if (d->tail_len && max) {
		size_t head = n < MC_MARKER_LEN - 1 ? n : MC_MARKER_LEN - 1;

		memcpy(join, d->tail, d->tail_len);
		memcpy(join + d->tail_len, frame, head);
		for (i = 0; i < d->tail_len && !found; i++) {
			if (may_start(join[i]) &&
			    mc_marker_read(join + i, d->tail_len + head - i,
					   &out[0].call, &out[0].seq)) {
				found = 1;
				from = i + MC_MARKER_LEN - d->tail_len;
			}
		}
	}
	/* Then every whole stamp in the frame; stamps never overlap. */
	for (i = from; i + MC_MARKER_LEN <= n && found < max; i++) {
		if (may_start(frame[i]) &&
		    mc_marker_read(frame + i, n - i, &out[found].call,
				   &out[found].seq)) {
			found++;
			i += MC_MARKER_LEN - 1;
		}
	}

	/* Keep the bytes that could begin a stamp completed by the next frame.
	 * A stamp found wholly in this frame cannot start in its last
	 * MC_MARKER_LEN - 1 bytes, so keeping them never reports it twice,
	 * and one found across the boundary ended early in this frame. */
	keep = MC_MARKER_LEN - 1;
	if (n >= keep) {
		memcpy(d->tail, frame + n - keep, keep);
		d->tail_len = keep;
	} else if (found) {
		d->tail_len = 0; /* a tiny frame: the stamp may still be here */
	} else {
		/* A tiny frame: append, keeping the newest bytes. */
		size_t total = d->tail_len + n, drop;

		drop = total > keep ? total - keep : 0;
		memmove(d->tail, d->tail + drop, d->tail_len - drop);
		memcpy(d->tail + d->tail_len - drop, frame, n);
		d->tail_len = total - drop;
	}
	return (int)found;
}
