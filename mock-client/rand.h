/*
 * rand.h - the mock client's one PRNG: xorshift64, for ids, WebSocket masks
 * and send jitter. Reproducible from a seed; not for secrets (a test tool
 * needs no CSPRNG).
 */
#ifndef CHORUS_MC_RAND_H
#define CHORUS_MC_RAND_H

#include <stdint.h>

/* Advances *state and returns the new value. A zero state (which xorshift
 * would never leave) is replaced by a fixed non-zero one. */
static inline uint64_t mc_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545F4914F6CDD1Dull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

#endif /* CHORUS_MC_RAND_H */
