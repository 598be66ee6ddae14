/*
 * marker.h - a latency marker hidden in a talker's µ-law audio.
 *
 * The load generator measures the latency the gateway adds by stamping each
 * frame a talker sends with (call number, sequence number) and recognizing
 * the stamp in the frames listeners receive. The stamp is MC_MARKER_LEN
 * µ-law codes written over the first samples of the frame:
 *
 *   4 magic codes, 8 data codes (16-bit call, 16-bit sequence, a nibble
 *   each), 1 check code (xor of the data nibbles).
 *
 * Each code carries one nibble in its mantissa, with exponent 2 (a level of
 * about -33 dBFS, far from the limiter) and a sign that alternates from one
 * code to the next. Why it survives the path: G.711 decode then encode is
 * the identity for every code but 0x7F (which these never use), and a mixer
 * passes a lone talker through unchanged (sum of one, no gain under the
 * limiter's threshold), so the bytes a listener receives are the bytes the
 * talker sent when it is the only talker in its room; an echo server returns
 * them as they are. Sign alternation at this level, sample after sample, is
 * something a voice-band tone never produces, and the check nibble rejects
 * the rest. When two talkers overlap the stamp is destroyed and nothing is
 * detected: latency is only measured in rooms with one marked talker.
 *
 * A jitter buffer that corrects clock drift adds or drops one sample at
 * the quietest point of a frame; a voice-band tone is quietest at its zero
 * crossings, about as loud as the stamp, so that point could fall inside
 * it. So the writer also puts two digital-zero samples in the middle of
 * every frame: any run of 159 samples contains a zero there, the quietest
 * point is always one of them, and the stamp is only ever shifted, never cut.
 *
 * The detector finds a stamp anywhere in a frame, and across the boundary of
 * two frames (a mixer that re-frames audio by a few samples still works).
 * Pure functions and a small state; no I/O, no allocation.
 */
#ifndef CHORUS_MC_MARKER_H
#define CHORUS_MC_MARKER_H

#include <stddef.h>
#include <stdint.h>

#define MC_MARKER_LEN 13

/*
 * Writes the stamp for (call, seq) over frame[0 .. MC_MARKER_LEN-1], and,
 * when n >= 2 * MC_MARKER_LEN, two zero samples at frame[n/2] and
 * frame[n/2 + 1]. Returns 0, or -EINVAL if n < MC_MARKER_LEN (the frame is
 * left unchanged).
 */
int mc_marker_write(uint8_t *frame, size_t n, uint16_t call, uint16_t seq);

/*
 * Looks for a stamp that starts at buf[0]. Returns 1 and fills call and seq
 * if one is there, 0 if not.
 */
int mc_marker_read(const uint8_t *buf, size_t n, uint16_t *call, uint16_t *seq);

/* Detector state for one receiving stream: the tail of the last frame. */
typedef struct mc_marker_det {
	uint8_t tail[MC_MARKER_LEN - 1];
	size_t tail_len;
} mc_marker_det_t;

void mc_marker_det_init(mc_marker_det_t *d);

/* One stamp read back. */
typedef struct mc_stamp {
	uint16_t call, seq;
} mc_stamp_t;

/*
 * Scans a received frame (and the tail kept from the previous one) for
 * stamps and returns how many it found (at most max), in stream order, in
 * out. A frame can hold two: one that straddles the previous frame and
 * ends early in this one, and the next whole one, as when a jitter buffer
 * drops a sample between them (159 bytes apart, the second at byte 147 of
 * 160). Keeps the frame's last bytes for the next call. A stamp is reported
 * once.
 */
int mc_marker_scan(mc_marker_det_t *d, const uint8_t *frame, size_t n,
		   mc_stamp_t *out, size_t max);

#endif /* CHORUS_MC_MARKER_H */
