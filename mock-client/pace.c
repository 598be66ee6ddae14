/*
 * pace.c - see pace.h.
 */
#include <errno.h>

#include "mock-client/pace.h"
#include "mock-client/rand.h"

uint64_t mc_pace_offset_ns(const mc_pace_t *p, uint64_t k)
{
	/* k * samples * 1e9 / rate without overflow for any realistic k:
	 * whole seconds first, then the remainder. */
	uint64_t s = k * p->samples;

	return s / p->rate * 1000000000ull +
	       s % p->rate * 1000000000ull / p->rate;
}

uint64_t mc_pace_timestamp_ms(const mc_pace_t *p, uint64_t k)
{
	return k * p->samples * 1000 / p->rate;
}

static uint64_t deadline(mc_pace_t *p, uint64_t k)
{
	uint64_t t = p->start_ns + mc_pace_offset_ns(p, k);

	if (p->jitter_ns)
		t += mc_rand(&p->rng) % (p->jitter_ns + 1);
	return t;
}

int mc_pace_init(mc_pace_t *p, uint64_t start_ns, unsigned samples,
		 unsigned rate, unsigned jitter_ms, uint64_t seed)
{
	if (!samples || !rate)
		return -EINVAL;
	p->start_ns = start_ns;
	p->samples = samples;
	p->rate = rate;
	p->jitter_ns = (uint64_t)jitter_ms * 1000000;
	p->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	p->k = 0;
	p->due_ns = deadline(p, 0);
	return 0;
}

void mc_pace_advance(mc_pace_t *p)
{
	uint64_t t;

	p->k++;
	t = deadline(p, p->k);
	/* Never due before the frame ahead of it: the network keeps order. */
	p->due_ns = t > p->due_ns ? t : p->due_ns;
}
