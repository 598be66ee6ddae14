/*
 * ring.c - the single-producer/single-consumer hand-off between a
 * connection's thread (mix_participant_push) and the room's tick.
 *
 * C11 atomics only: the producer is the sole writer of the heads, the
 * consumer of the tails. A release store of a head publishes everything
 * written before it; the acquire load on the other side makes it visible.
 * No locks, no allocation after init, no syscalls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mixer/internal.h"

int mix__ring_init(mix_ring_t *r, uint32_t samples_cap, uint32_t chunks_cap)
{
	memset(r, 0, sizeof(*r));
	r->samples = calloc(samples_cap, sizeof(*r->samples));
	r->chunks = calloc(chunks_cap, sizeof(*r->chunks));
	if (!r->samples || !r->chunks) {
		mix__ring_free(r);
		return -ENOMEM;
	}
	r->samples_mask = samples_cap - 1;
	r->chunks_mask = chunks_cap - 1;
	atomic_init(&r->s_head, 0);
	atomic_init(&r->c_head, 0);
	atomic_init(&r->s_tail, 0);
	atomic_init(&r->c_tail, 0);
	return 0;
}

void mix__ring_free(mix_ring_t *r)
{
	free(r->samples);
	free(r->chunks);
	r->samples = NULL;
	r->chunks = NULL;
}

int mix__ring_push(mix_ring_t *r, const int16_t *s, uint32_t n,
		   uint32_t stream_ms, uint64_t arrival_ns)
{
	uint32_t sh = atomic_load_explicit(&r->s_head, memory_order_relaxed);
	uint32_t ch = atomic_load_explicit(&r->c_head, memory_order_relaxed);
	uint32_t st = atomic_load_explicit(&r->s_tail, memory_order_acquire);
	uint32_t ct = atomic_load_explicit(&r->c_tail, memory_order_acquire);

	if (n > r->samples_mask + 1 - (sh - st) || ch - ct > r->chunks_mask)
		return -ENOSPC;

	uint32_t at = sh & r->samples_mask;
	uint32_t first = r->samples_mask + 1 - at;

	if (first > n)
		first = n;
	memcpy(r->samples + at, s, first * sizeof(*s));
	memcpy(r->samples, s + first, (n - first) * sizeof(*s));
	r->chunks[ch & r->chunks_mask] = (mix_chunk_t){
	    .n = n, .stream_ms = stream_ms, .arrival_ns = arrival_ns};
	atomic_store_explicit(&r->s_head, sh + n, memory_order_release);
	atomic_store_explicit(&r->c_head, ch + 1, memory_order_release);
	return 0;
}

unsigned mix__ring_drain(mix_ring_t *r, mix_ring_fn fn, void *ctx)
{
	/* The chunk head is stored last by the producer, so acquiring it
	 * makes the samples of every chunk it covers visible too. */
	uint32_t ch = atomic_load_explicit(&r->c_head, memory_order_acquire);
	uint32_t ct = atomic_load_explicit(&r->c_tail, memory_order_relaxed);
	uint32_t st = atomic_load_explicit(&r->s_tail, memory_order_relaxed);
	unsigned count = 0;

	for (; ct != ch; ct++, count++) {
		const mix_chunk_t *c = &r->chunks[ct & r->chunks_mask];
		uint32_t at = st & r->samples_mask;
		uint32_t first = r->samples_mask + 1 - at;

		if (first > c->n)
			first = c->n;
		fn(ctx, c, r->samples + at, first, r->samples, c->n - first);
		st += c->n;
	}
	atomic_store_explicit(&r->s_tail, st, memory_order_release);
	atomic_store_explicit(&r->c_tail, ct, memory_order_release);
	return count;
}
