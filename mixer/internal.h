/*
 * internal.h - the mixer's private pieces, shared by its files only: the
 * single-producer/single-consumer hand-off ring (ring.c), the per-participant
 * jitter buffer (jitter.c) and the normalizers (norm.c). mixer.c builds rooms
 * and the tick out of them. Nothing here is public API.
 */
#ifndef CHORUS_MIXER_INTERNAL_H
#define CHORUS_MIXER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mixer/mixer.h"

/* ---- hand-off ring (ring.c) ------------------------------------------- */

/* One pushed chunk: where its samples start in the sample ring is implied
 * (chunks are stored back to back), so only its length and times travel. */
typedef struct mix_chunk {
	uint32_t n;
	uint32_t stream_ms;
	uint64_t arrival_ns;
} mix_chunk_t;

/*
 * Lock-free SPSC ring of chunks: a sample ring plus a descriptor ring, each
 * indexed by free-running 32-bit counters (their difference is the fill).
 * The producer writes samples and a descriptor, then publishes both with a
 * release store of its counters; the consumer acquires them, copies out, and
 * releases its own counters so the producer can reuse the space. Producer and
 * consumer counters sit on separate cache lines.
 */
typedef struct mix_ring {
	int16_t *samples;
	mix_chunk_t *chunks;
	uint32_t samples_mask; /* capacity - 1, capacities are powers of 2 */
	uint32_t chunks_mask;
	_Alignas(64) _Atomic uint32_t s_head; /* producer's */
	_Atomic uint32_t c_head;
	_Alignas(64) _Atomic uint32_t s_tail; /* consumer's */
	_Atomic uint32_t c_tail;
} mix_ring_t;

int mix__ring_init(mix_ring_t *r, uint32_t samples_cap, uint32_t chunks_cap);
void mix__ring_free(mix_ring_t *r);
/* Producer. Returns 0 or -ENOSPC (nothing was written). */
int mix__ring_push(mix_ring_t *r, const int16_t *s, uint32_t n,
		   uint32_t stream_ms, uint64_t arrival_ns);
/* Consumer: calls fn for each published chunk, with its samples as one or
 * two contiguous pieces (the second empty unless the chunk wraps). */
typedef void (*mix_ring_fn)(void *ctx, const mix_chunk_t *c, const int16_t *a,
			    uint32_t na, const int16_t *b, uint32_t nb);
unsigned mix__ring_drain(mix_ring_t *r, mix_ring_fn fn, void *ctx);

/* ---- jitter buffer (jitter.c) ----------------------------------------- */

/* What jb_take() produced. */
enum {
	MIX_JB_IDLE = 0,  /* nothing played yet: silence, not a loss */
	MIX_JB_AUDIO,	  /* real audio (holes in a partial frame are 0) */
	MIX_JB_CONCEALED, /* a lost frame, concealed */
};

typedef struct mix_jitter {
	/* Sizes in samples, from the room's settings. */
	unsigned rate, frame, per_ms, target, window, cap;
	/* Audio by stream position (samples since the stream's start), in a
	 * power-of-two ring with one presence bit per sample. */
	int16_t *buf;
	uint64_t *bits;
	uint32_t size, mask;

	bool anchored, started;
	int64_t anchor_ns;   /* server time of stream position 0 */
	int64_t adj;	     /* correction added to the nominal slot, samples */
	int64_t rd;	     /* next stream position to play */
	int64_t hi;	     /* end of the newest audio received */
	int64_t hi_start;    /* start of the chunk that ends at hi */
	uint64_t hi_arrival; /* and when it arrived */
	int64_t last_end;    /* end of the last chunk, for ms-rounded stamps */

	/* Drift: the earliest arrival ("lead", in samples) seen in the
	 * current and the previous period; INT64_MIN when none. */
	int64_t lead_cur, lead_prev;
	unsigned period_ticks;

	unsigned concealed_run; /* consecutive concealed frames */

	uint64_t late, dropped_cap, duplicate, concealed, stretched, squeezed;
	unsigned delay_ms, delay_max_ms;
} mix_jitter_t;

int mix__jb_init(mix_jitter_t *jb, const mix_settings_t *s);
void mix__jb_free(mix_jitter_t *jb);
/* Files one chunk, given as up to two pieces, at its stream time. now_ns is
 * the current tick's time (used to place the play cursor at anchoring). */
void mix__jb_put(mix_jitter_t *jb, const mix_chunk_t *c, const int16_t *a,
		 uint32_t na, const int16_t *b, uint32_t nb, uint64_t now_ns);
/* Produces the frame for the tick at now_ns into out; prev is the frame it
 * produced last time (kept by the caller, for concealment: no copy per tick).
 * Returns MIX_JB_*. */
int mix__jb_take(mix_jitter_t *jb, uint64_t now_ns, int16_t *out,
		 const int16_t *prev);
/* Sum of squares of the k-th frame after the play cursor (k = 0 is the next
 * tick's), if all of it is present. Used by the gate to look ahead. */
bool mix__jb_peek_energy(const mix_jitter_t *jb, unsigned k, uint64_t *e);

/* ---- normalization (norm.c) ------------------------------------------- */

typedef struct mix_limiter_cfg {
	int32_t ceiling;     /* a mix of 2+ talkers never exceeds this */
	float slow_headroom; /* the slow gain aims peaks at ceiling * this */
	float slow_fall;     /* its largest fall in one frame, a factor */
	unsigned slow_hold;  /* samples it holds before releasing */
	float slow_release;  /* per-sample approach of it to 1.0 */
	float attack_step;   /* fast gain's largest fall per sample */
	float release_coef;  /* per-sample approach of the fast gain to 1 */
	unsigned hold;	     /* samples the fast gain holds */
} mix_limiter_cfg_t;

/* One distinct mix's limiter state; MIX_LIMITER_IDLE is idle. */
typedef struct mix_limiter {
	float gain;	    /* fast gain */
	unsigned hold;	    /* samples of its hold left */
	float slow;	    /* slow gain, in front of the fast one */
	unsigned slow_hold; /* samples of its hold left */
} mix_limiter_t;

#define MIX_LIMITER_IDLE ((mix_limiter_t){1.0f, 0, 1.0f, 0})

/* The limiter's constants for a room of this rate and frame (samples). */
void mix__limiter_cfg(mix_limiter_cfg_t *cfg, unsigned rate, unsigned frame);
/* Lets an unused limiter recover as if n samples of silence passed. */
void mix__limiter_idle(const mix_limiter_cfg_t *cfg, mix_limiter_t *lim,
		       unsigned n);

/*
 * Normalizes n int32 samples into int16 out. talkers is the number of
 * talkers summed in (for MIX_NORM_AVERAGE); gain is the limiter's state for
 * this distinct mix. Returns the output's peak magnitude; *limited is set when
 * the limiter's gain was below 1.0 anywhere in the frame.
 */
int32_t mix__normalize(mix_norm_t mode, const mix_limiter_cfg_t *cfg,
		       const int32_t *in, unsigned n, unsigned talkers,
		       mix_limiter_t *lim, int16_t *out, bool *limited);

#endif /* CHORUS_MIXER_INTERNAL_H */
