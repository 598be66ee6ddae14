/*
 * tsupport.c - fixtures and the seeded PRNG, see tsupport.h.
 */
#include "tsupport.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"

static uint64_t rng_state = 88172645463325252ull;

long ts_read_fixture(const char *name, void *buf, size_t cap)
{
	const char *dir = getenv("CHORUS_FIXTURES");
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures",
		 name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fixture %s: cannot open\n", path);
		return -1;
	}
	n = fread(buf, 1, cap, f);
	if (fgetc(f) != EOF) {
		fprintf(stderr, "fixture %s: larger than %zu bytes\n", path,
			cap);
		n = (size_t)-1;
	}
	fclose(f);
	return (long)n;
}

uint64_t ts_seed(const char *who)
{
	const char *s = getenv("CHORUS_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : chorus_now_ns();

	if (seed == 0)
		seed = 1;
	rng_state = seed;
	printf("%s seed: %llu (replay with CHORUS_SEED=%llu)\n", who,
	       (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

uint64_t ts_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}
