/*
 * norm.c - bringing a mix (int32 sum of talkers) back into int16.
 *
 * limiter (the default): a peak limiter with a per-sample gain g.
 *   - Below full scale with g at 1.0 it is not there at all: the samples are
 *     copied, so one talker passes bit-exact and two quiet ones sum exactly.
 *   - Attack: in a frame that needs it, a backward pass computes for every
 *     sample the largest gain that keeps it and every later sample of the
 *     frame within int16, ramped so the gain never has to fall faster than
 *     MIX_LIMITER_ATTACK_MS from 1.0 to 0. So the gain starts falling before
 *     the peak (a look-ahead within the frame) and no sample ever exceeds
 *     full scale: nothing is clipped. Only a peak in the frame's first ~2 ms
 *     can force a faster fall, since the previous frame is already sent.
 *   - Hold and release: after the gain last had to fall, it holds for
 *     MIX_LIMITER_HOLD_MS (so the peaks of several voices, a few ms apart,
 *     do not make it saw up and down at audio rates), then recovers
 *     exponentially toward 1.0 with a time constant of
 *     MIX_LIMITER_RELEASE_MS, and snaps to exactly 1.0 once within 1e-4, so
 *     transparency returns after a loud passage (about 0.8 s after a 6 dB
 *     reduction). The values were chosen with tests/bench_mixer.c: against
 *     50 ms and no hold, they gain 3-6 dB of per-frame SDR with three
 *     talkers.
 * average: the sum divided by the talkers mixed, so everyone gets quieter
 *   as more of them talk.
 * clip: plain saturation, for comparison.
 */
#include <math.h>
#include <string.h>

#include "mixer/internal.h"

#define MIX_LIMITER_ATTACK_MS  2.0
#define MIX_LIMITER_HOLD_MS    20
#define MIX_LIMITER_RELEASE_MS 100.0
#define GAIN_SNAP	       (1.0f - 1e-4f)

void mix__limiter_cfg(mix_limiter_cfg_t *cfg, unsigned rate)
{
	cfg->attack_step = (float)(1000.0 / (MIX_LIMITER_ATTACK_MS * rate));
	cfg->release_coef =
	    (float)(1.0 - exp(-1000.0 / (MIX_LIMITER_RELEASE_MS * rate)));
	cfg->hold = MIX_LIMITER_HOLD_MS * rate / 1000;
}

void mix__limiter_idle(const mix_limiter_cfg_t *cfg, mix_limiter_t *lim,
		       unsigned n)
{
	unsigned held = n < lim->hold ? n : lim->hold;

	lim->hold -= held;
	if (lim->gain >= 1.0f)
		return;
	lim->gain = 1.0f - (1.0f - lim->gain) * powf(1.0f - cfg->release_coef,
						     (float)(n - held));
	if (lim->gain > GAIN_SNAP)
		lim->gain = 1.0f;
}

static int16_t sat16(int32_t x)
{
	return (int16_t)(x > 32767 ? 32767 : x < -32768 ? -32768 : x);
}

/* The peak magnitude of samples whose max is hi and min is lo. */
static int32_t peak16(int16_t hi, int16_t lo)
{
	return hi > -(int32_t)lo ? hi : -(int32_t)lo;
}

/* Largest magnitude in s. Written as separate int16 max and min (SSE2 has
 * both, so it vectorizes; abs() of -32768 would not fit). */
static int32_t peak_of(const int16_t *s, unsigned n)
{
	int16_t hi = 0, lo = 0;

	for (unsigned i = 0; i < n; i++) {
		hi = s[i] > hi ? s[i] : hi;
		lo = s[i] < lo ? s[i] : lo;
	}
	return peak16(hi, lo);
}

/*
 * The limiter's usual case, a mix that fits int16 with the gain at 1.0, in
 * one pass rather than three (check, copy, peak): copies in to out, returns
 * whether every sample fit and, if so, their peak magnitude in *peak. If not
 * every sample fit, out holds garbage for the limiter to overwrite.
 *
 * A sample fits when x + 32768 lies in [0, 65535], so OR-ing them all leaves
 * the top 16 bits clear: an add and an or per sample, which vectorizes where
 * a signed 32-bit max (SSE4.1) would not; the peak is kept as int16 max and
 * min, as in peak_of(). gcc 12 vectorizes the whole loop at -O3.
 */
static bool copy_fits16(const int32_t *in, unsigned n, int16_t *out,
			int32_t *peak)
{
	uint32_t acc = 0;
	int16_t hi = 0, lo = 0;

	for (unsigned i = 0; i < n; i++) {
		int16_t x = (int16_t)in[i];

		acc |= (uint32_t)in[i] + 32768u;
		out[i] = x;
		hi = x > hi ? x : hi;
		lo = x < lo ? x : lo;
	}
	*peak = peak16(hi, lo);
	return acc >> 16 == 0;
}

static void limit(const mix_limiter_cfg_t *cfg, const int32_t *in, unsigned n,
		  mix_limiter_t *lim, int16_t *out, bool *limited)
{
	float need[MIX_MAX_FRAME_SAMPLES];
	float a = 1.0f, g = lim->gain, lowest = g;
	unsigned hold = lim->hold;

	for (unsigned i = n; i-- > 0;) {
		int32_t x = in[i];
		float r = x > 32767    ? 32767.0f / (float)x
			  : x < -32768 ? -32768.0f / (float)x
				       : 1.0f;

		a += cfg->attack_step;
		a = a < r ? a : r;
		need[i] = a;
	}
	for (unsigned i = 0; i < n; i++) {
		float up = g + (1.0f - g) * cfg->release_coef;

		if (up > GAIN_SNAP)
			up = 1.0f;
		if (need[i] <= g) { /* falling, or pinned: hold from here */
			g = need[i];
			hold = cfg->hold;
		} else if (hold) {
			hold--;
		} else {
			g = up < need[i] ? up : need[i];
		}
		lowest = g < lowest ? g : lowest;
		/* g <= 32767/|x|, so only float rounding could overshoot. */
		out[i] = sat16((int32_t)lrintf((float)in[i] * g));
	}
	lim->gain = g;
	lim->hold = hold;
	*limited = lowest < 1.0f;
}

int32_t mix__normalize(mix_norm_t mode, const mix_limiter_cfg_t *cfg,
		       const int32_t *in, unsigned n, unsigned talkers,
		       mix_limiter_t *lim, int16_t *out, bool *limited)
{
	int32_t peak;

	*limited = false;
	switch (mode) {
	case MIX_NORM_AVERAGE:
		/* One talker is its own average: copied exactly. */
		for (unsigned i = 0; i < n; i++)
			out[i] =
			    sat16(in[i] / (int32_t)(talkers ? talkers : 1));
		break;
	case MIX_NORM_CLIP:
		for (unsigned i = 0; i < n; i++)
			out[i] = sat16(in[i]);
		break;
	case MIX_NORM_LIMITER:
	default:
		if (lim->gain >= 1.0f && copy_fits16(in, n, out, &peak))
			return peak;
		limit(cfg, in, n, lim, out, limited);
		break;
	}
	return peak_of(out, n);
}
