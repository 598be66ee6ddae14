/*
 * mixsim.h - drives a mixer room on a simulated clock for the mixer's tests
 * and benchmark: pushes frames with exact timestamps and arrival times,
 * ticks at exact deadlines, and finds what each participant heard.
 *
 * With the defaults (40 ms target, 20 ms frames), frame k pushed at tick k
 * is mixed in tick k + 2: SIM_DELAY ticks later.
 */
#ifndef CHORUS_MIXSIM_H
#define CHORUS_MIXSIM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mixer/mixer.h"

#define SIM_T0	  1000000000ULL /* the first tick, 1 s into the clock */
#define SIM_DELAY 2

static inline uint64_t sim_frame_ns(const mix_room_t *r)
{
	return (uint64_t)mix_room_settings(r)->frame_ms * 1000000ULL;
}

/* Pushes frame k (frame_samples samples) as if it arrived on time. */
static inline int sim_push(const mix_room_t *r, mix_participant_t *p,
			   unsigned k, const int16_t *s)
{
	return mix_participant_push(p, s, mix_room_frame_samples(r),
				    k * mix_room_settings(r)->frame_ms,
				    SIM_T0 + k * sim_frame_ns(r));
}

static inline int sim_tick(mix_room_t *r, unsigned k, mix_tick_t *t)
{
	return mix_room_tick(r, SIM_T0 + k * sim_frame_ns(r), t);
}

/* The mix p hears in tick t, or NULL if p is not listed. */
static inline const mix_out_t *sim_heard(const mix_tick_t *t,
					 const mix_participant_t *p)
{
	for (unsigned i = 0; i < t->n_listeners; i++)
		if (t->listeners[i].p == p)
			return &t->mixes[t->listeners[i].mix];
	return NULL;
}

static inline unsigned sim_mix_index(const mix_tick_t *t,
				     const mix_participant_t *p)
{
	for (unsigned i = 0; i < t->n_listeners; i++)
		if (t->listeners[i].p == p)
			return t->listeners[i].mix;
	return ~0u;
}

/* Fills n samples of a sine of amplitude amp and frequency hz, starting at
 * sample index `at` of the tone, rounded to nearest. */
static inline void sim_tone(int16_t *s, unsigned n, unsigned at, double hz,
			    double amp, unsigned rate)
{
	for (unsigned i = 0; i < n; i++)
		s[i] =
		    (int16_t)lrint(amp * sin(2 * M_PI * hz * (at + i) / rate));
}

static inline void sim_const(int16_t *s, unsigned n, int16_t v)
{
	for (unsigned i = 0; i < n; i++)
		s[i] = v;
}

#endif /* CHORUS_MIXSIM_H */
