/*
 * stats.c - see stats.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mock-client/stats.h"

mc_hist_t *mc_hist_new(void)
{
	return calloc(1, sizeof(mc_hist_t));
}

void mc_hist_free(mc_hist_t *h)
{
	free(h);
}

void mc_hist_reset(mc_hist_t *h)
{
	memset(h, 0, sizeof(*h));
}

void mc_hist_add(mc_hist_t *h, uint64_t us)
{
	uint64_t b = us / MC_HIST_BUCKET_US;

	if (b >= MC_HIST_BUCKETS)
		b = MC_HIST_BUCKETS - 1;
	h->bucket[b]++;
	h->count++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

uint64_t mc_hist_percentile(const mc_hist_t *h, double p)
{
	uint64_t rank, seen = 0, edge;
	size_t b;

	if (!h->count || p <= 0)
		return 0;
	if (p > 100)
		p = 100;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (b = 0; b < MC_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank)
			break;
	}
	if (b >= MC_HIST_BUCKETS - 1)
		return h->max_us; /* the overflow bucket: all we know is max */
	edge = (uint64_t)(b + 1) * MC_HIST_BUCKET_US;
	return edge < h->max_us ? edge : h->max_us;
}
