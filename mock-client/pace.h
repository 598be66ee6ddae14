/*
 * pace.h - when each outbound frame of a call is due, on absolute deadlines.
 *
 * Frame k of a stream is due at start + k * period, computed from k, never
 * by adding a period to the last send: a send that runs late does not push
 * the ones after it. With jitter enabled, each frame is held back by a
 * random delay in [0, jitter] drawn from a seeded generator (the same seed
 * gives the same delays), imitating a network that delivers in bursts; a
 * frame is never due before the one ahead of it, so order is kept. The
 * media timestamp of frame k is derived from k alone, as a platform's clock
 * would stamp it, whatever the send delay.
 *
 * Pure arithmetic on nanoseconds; no clock reads, no I/O.
 */
#ifndef CHORUS_MC_PACE_H
#define CHORUS_MC_PACE_H

#include <stdint.h>

typedef struct mc_pace {
	uint64_t start_ns;
	uint64_t samples;   /* samples per frame */
	uint64_t rate;	    /* samples per second */
	uint64_t jitter_ns; /* largest random hold-back; 0 for none */
	uint64_t rng;	    /* xorshift64 state */
	uint64_t k;	    /* next frame to send */
	uint64_t due_ns;    /* when frame k is due */
} mc_pace_t;

/*
 * Starts pacing frames of samples samples at rate Hz from start_ns.
 * Returns 0, or -EINVAL if samples or rate is 0.
 */
int mc_pace_init(mc_pace_t *p, uint64_t start_ns, unsigned samples,
		 unsigned rate, unsigned jitter_ms, uint64_t seed);

/* When the next frame (number mc_pace_frame()) is due. */
static inline uint64_t mc_pace_due(const mc_pace_t *p)
{
	return p->due_ns;
}

/* The next frame's number, from 0. */
static inline uint64_t mc_pace_frame(const mc_pace_t *p)
{
	return p->k;
}

/* Moves to the following frame and computes its deadline. */
void mc_pace_advance(mc_pace_t *p);

/* Nominal time of frame k relative to the stream's start, without jitter. */
uint64_t mc_pace_offset_ns(const mc_pace_t *p, uint64_t k);

/* Media timestamp (milliseconds since the stream began) of frame k. */
uint64_t mc_pace_timestamp_ms(const mc_pace_t *p, uint64_t k);

#endif /* CHORUS_MC_PACE_H */
