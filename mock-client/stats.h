/*
 * stats.h - fixed-memory histograms for the load generator's measurements
 * (latency, inter-arrival jitter, send lag), with percentiles.
 *
 * Values are microseconds. Buckets are 100 µs wide up to MC_HIST_MAX_US;
 * larger values land in the last bucket, and the exact maximum is kept on
 * the side. Adding a value is O(1) and allocates nothing; a percentile is
 * one pass over the buckets. No I/O.
 */
#ifndef CHORUS_MC_STATS_H
#define CHORUS_MC_STATS_H

#include <stdint.h>

#define MC_HIST_BUCKET_US 100
#define MC_HIST_MAX_US	  10000000 /* 10 s */
#define MC_HIST_BUCKETS	  (MC_HIST_MAX_US / MC_HIST_BUCKET_US + 1)

typedef struct mc_hist {
	uint64_t count;
	uint64_t max_us;
	uint64_t sum_us;
	uint32_t bucket[MC_HIST_BUCKETS];
} mc_hist_t;

/* Creates an empty histogram (about 400 KB). Returns NULL on out of memory.
 * Free with mc_hist_free(). */
mc_hist_t *mc_hist_new(void);
void mc_hist_free(mc_hist_t *h);
void mc_hist_reset(mc_hist_t *h);

void mc_hist_add(mc_hist_t *h, uint64_t us);

/*
 * Returns the value at percentile p (0..100]: the upper edge of the bucket
 * holding the ceil(p% of count)-th smallest value, never more than the
 * maximum seen (the maximum itself when that value is past the range).
 * Returns 0 for an empty histogram.
 */
uint64_t mc_hist_percentile(const mc_hist_t *h, double p);

#endif /* CHORUS_MC_STATS_H */
