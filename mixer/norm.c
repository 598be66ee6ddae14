/*
 * norm.c - bringing a mix (int32 sum of talkers) back into int16.
 *
 * limiter (the default): a slow gain control in front of a fast peak
 * limiter, both per distinct mix.
 *   - Transparent: with both gains at 1.0 and every sample within the
 *     ceiling, the samples are copied, so two quiet talkers sum exactly. A
 *     mix of one talker has full scale as its ceiling (its samples are
 *     int16 already), so a single talker passes bit-exact, however loud.
 *   - Ceiling: a mix of two or more talkers never exceeds
 *     MIX_LIMITER_CEILING (-0.77 dBFS), below µ-law's loudest code: a
 *     sample there cannot be told from clipping.
 *   - Slow gain, once per frame: when the frame's peak exceeds the ceiling
 *     plus SLOW_HEADROOM_DB, the gain falls toward what would bring it
 *     there (at most SLOW_FALL_DB_PER_MS), holds for SLOW_HOLD_MS after the
 *     last fall, then recovers exponentially (SLOW_RELEASE_MS time
 *     constant), never above what the frame allows. Within the frame it
 *     moves in a straight line, so it is smooth at every sample. It moves
 *     at phrase rate, not syllable rate: within 100 ms it barely changes,
 *     which a listener hears as level, not pumping.
 *   - Fast limiter, per sample, after it: catches the peaks the slow gain
 *     leaves over the ceiling. A backward pass computes for every sample
 *     the largest gain that keeps it and every later sample of the frame
 *     within the ceiling, ramped so the gain never falls faster than
 *     FAST_ATTACK_MS from 1.0 to 0 (a look-ahead within the frame); it
 *     holds FAST_HOLD_MS, releases with FAST_RELEASE_MS. Since the slow
 *     gain sits near the level that fits, this one only trims the odd peak
 *     by a dB or two.
 *   Both gains snap to exactly 1.0 within 1e-4 of it, so transparency
 *   returns after a loud passage. Chosen with sim_three_loud()
 *   (tests/support/mixsim.h; bench_mixer's "loud3" rows): three voices each
 *   peaking at -1 dBFS (sum +6 dBFS, 5% of samples over full scale) go from
 *   SDR 21.7 dB with 100 ms gain blocks, 0.6% of samples on the top code
 *   and -2.9 dB of level (the old 2 ms/20 ms/100 ms limiter at full scale)
 *   to 27.7 dB, none and -4.8 dB. No headroom (0 dB) gains 1 dB of SDR for
 *   0.6 dB of level; a release of 1 s instead of 1.5 s loses ~1 dB.
 * average: the sum divided by the talkers mixed, so everyone gets quieter
 *   as more of them talk.
 * clip: plain saturation, for comparison.
 */
#include <math.h>
#include <string.h>

#include "mixer/internal.h"

/* Where a mix of two or more talkers peaks at most: -0.77 dBFS, below
 * µ-law's loudest code (which starts at 31612 and decodes to 32124), so a
 * limited mix never lands there. */
#define MIX_LIMITER_CEILING 30000
#define SLOW_HEADROOM_DB    1.0
#define SLOW_FALL_DB_PER_MS 0.1
#define SLOW_HOLD_MS	    300
#define SLOW_RELEASE_MS	    1500.0
/* The slow gain releases toward 1.05 and stops at 1.0, so it is exactly
 * 1.0 again ~3.5 s after a 5 dB reduction (1e-4 from an asymptote would
 * take ~13 s, all that time not bit-exact). */
#define SLOW_RELEASE_OVER 0.05f
#define FAST_ATTACK_MS	  2.0
#define FAST_HOLD_MS	  10
#define FAST_RELEASE_MS	  100.0
#define GAIN_SNAP	  (1.0f - 1e-4f)

void mix__limiter_cfg(mix_limiter_cfg_t *cfg, unsigned rate, unsigned frame)
{
	double ms = (double)frame * 1000 / rate;

	cfg->ceiling = MIX_LIMITER_CEILING;
	cfg->slow_headroom = (float)pow(10, SLOW_HEADROOM_DB / 20);
	cfg->slow_fall = (float)pow(10, -SLOW_FALL_DB_PER_MS * ms / 20);
	cfg->slow_hold = (unsigned)(SLOW_HOLD_MS * rate / 1000);
	cfg->slow_release =
	    (float)(1.0 - exp(-1000.0 / (SLOW_RELEASE_MS * rate)));
	cfg->attack_step = (float)(1000.0 / (FAST_ATTACK_MS * rate));
	cfg->release_coef =
	    (float)(1.0 - exp(-1000.0 / (FAST_RELEASE_MS * rate)));
	cfg->hold = (unsigned)(FAST_HOLD_MS * rate / 1000);
}

/*
 * Gain g after n samples of release at coef, with *hold samples of hold
 * first (used up). It approaches 1 + over exponentially and stops at 1.0:
 * with over > 0 it gets there in a bounded time, not only asymptotically
 * (the slow gain, whose time constant is seconds).
 */
static float released(float g, unsigned *hold, float coef, float over,
		      unsigned n)
{
	unsigned held = n < *hold ? n : *hold;

	*hold -= held;
	if (g >= 1.0f || held == n)
		return g;
	g = 1.0f + over -
	    (1.0f + over - g) * powf(1.0f - coef, (float)(n - held));
	return g > GAIN_SNAP ? 1.0f : g;
}

void mix__limiter_idle(const mix_limiter_cfg_t *cfg, mix_limiter_t *lim,
		       unsigned n)
{
	lim->gain = released(lim->gain, &lim->hold, cfg->release_coef, 0, n);
	lim->slow = released(lim->slow, &lim->slow_hold, cfg->slow_release,
			     SLOW_RELEASE_OVER, n);
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

/* Largest magnitude of n int32 samples. */
static int32_t peak_of32(const int32_t *s, unsigned n)
{
	int32_t hi = 0, lo = 0;

	for (unsigned i = 0; i < n; i++) {
		hi = s[i] > hi ? s[i] : hi;
		lo = s[i] < lo ? s[i] : lo;
	}
	return hi > -lo ? hi : -lo;
}

/* The slow gain at the end of this frame, whose peak is pk, aiming peaks
 * at aim: it falls (at most slow_fall a frame) when the frame is louder
 * than that, else holds, then releases toward 1.0, never above what this
 * frame allows. */
static float slow_next(const mix_limiter_cfg_t *cfg, mix_limiter_t *lim,
		       int32_t pk, float aim, unsigned n)
{
	float g = lim->slow;
	float want = (float)pk > aim ? aim / (float)pk : 1.0f;

	if (want < g) {
		float floor = g * cfg->slow_fall;

		lim->slow_hold = cfg->slow_hold;
		return want > floor ? want : floor;
	}
	g = released(g, &lim->slow_hold, cfg->slow_release, SLOW_RELEASE_OVER,
		     n);
	return g < want ? g : want;
}

static void limit(const mix_limiter_cfg_t *cfg, const int32_t *in, unsigned n,
		  unsigned talkers, mix_limiter_t *lim, int16_t *out,
		  bool *limited)
{
	float need[MIX_MAX_FRAME_SAMPLES], z[MIX_MAX_FRAME_SAMPLES];
	int32_t c = talkers >= 2 ? cfg->ceiling : 32767;
	float cf = (float)c, a = 1.0f, g = lim->gain, lowest = g;
	float s0 = lim->slow;
	float s1 = slow_next(cfg, lim, peak_of32(in, n),
			     talkers >= 2 ? cf * cfg->slow_headroom : cf, n);
	/* The straight line from s0 to s1 over the frame. */
	float ds = (s1 - s0) / (float)n;
	unsigned hold = lim->hold;

	for (unsigned i = 0; i < n; i++)
		z[i] = (float)in[i] * (s0 + ds * (float)(i + 1));
	for (unsigned i = n; i-- > 0;) {
		float m = fabsf(z[i]);
		float r = m > cf ? cf / m : 1.0f;

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
		/* g <= c/|z|, so only float rounding could overshoot. */
		int32_t y = (int32_t)lrintf(z[i] * g);

		out[i] = (int16_t)(y > c ? c : y < -c ? -c : y);
	}
	lim->slow = s1;
	lim->gain = g;
	lim->hold = hold;
	*limited = lowest < 1.0f || s0 < 1.0f || s1 < 1.0f;
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
		if (lim->gain >= 1.0f && lim->slow >= 1.0f &&
		    copy_fits16(in, n, out, &peak) &&
		    (talkers < 2 || peak <= cfg->ceiling))
			return peak;
		limit(cfg, in, n, talkers, lim, out, limited);
		break;
	}
	return peak_of(out, n);
}
