/*
 * tsupport.h - small helpers shared by the test and benchmark programs:
 * fixtures, and a seeded PRNG whose seed is printed so a failure can be
 * replayed. Tests read time with common/clock.h, like the programs.
 */
#ifndef CHORUS_TSUPPORT_H
#define CHORUS_TSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Reads tests/fixtures/<name> (found through $CHORUS_FIXTURES, else
 * ./tests/fixtures) into buf. Returns the number of bytes read, or -1 if the
 * file is missing or larger than cap. */
long ts_read_fixture(const char *name, void *buf, size_t cap);

/* Seeds the PRNG from $CHORUS_SEED if set, else from the clock, and prints
 * "seed: N (replay with CHORUS_SEED=N)". Returns the seed. */
uint64_t ts_seed(const char *who);
/* xorshift64* from the seeded state. */
uint64_t ts_rand(void);

#endif /* CHORUS_TSUPPORT_H */
