/*
 * mixsim.h - drives a mixer room on a simulated clock for the mixer's tests
 * and benchmark: pushes frames with exact timestamps and arrival times,
 * ticks at exact deadlines, and finds what each participant heard.
 *
 * With the defaults (40 ms target, 20 ms frames), frame k pushed at tick k
 * is mixed in tick k + 2: SIM_DELAY ticks later.
 */
#ifndef CHORUS_MIXSIM_H
#define CHORUS_MIXSIM_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mixer/mixer.h"

#define SIM_T0	  1000000000ULL /* the first tick, 1 s into the clock */
#define SIM_DELAY 2

static inline uint64_t sim_frame_ns(const mix_room_t *r)
{
	return (uint64_t)mix_room_settings(r)->frame_ms * 1000000ULL;
}

/* Pushes frame k (frame_samples samples) as if it arrived on time. */
static inline int sim_push(const mix_room_t *r, mix_participant_t *p,
			   unsigned k, const int16_t *s)
{
	return mix_participant_push(p, s, mix_room_frame_samples(r),
				    k * mix_room_settings(r)->frame_ms,
				    SIM_T0 + k * sim_frame_ns(r));
}

static inline int sim_tick(mix_room_t *r, unsigned k, mix_tick_t *t)
{
	return mix_room_tick(r, SIM_T0 + k * sim_frame_ns(r), t);
}

/* The mix p hears in tick t, or NULL if p is not listed. */
static inline const mix_out_t *sim_heard(const mix_tick_t *t,
					 const mix_participant_t *p)
{
	for (unsigned i = 0; i < t->n_listeners; i++)
		if (t->listeners[i].p == p)
			return &t->mixes[t->listeners[i].mix];
	return NULL;
}

static inline unsigned sim_mix_index(const mix_tick_t *t,
				     const mix_participant_t *p)
{
	for (unsigned i = 0; i < t->n_listeners; i++)
		if (t->listeners[i].p == p)
			return t->listeners[i].mix;
	return ~0u;
}

/* Fills n samples of a sine of amplitude amp and frequency hz, starting at
 * sample index `at` of the tone, rounded to nearest. */
static inline void sim_tone(int16_t *s, unsigned n, unsigned at, double hz,
			    double amp, unsigned rate)
{
	for (unsigned i = 0; i < n; i++)
		s[i] =
		    (int16_t)lrint(amp * sin(2 * M_PI * hz * (at + i) / rate));
}

static inline void sim_const(int16_t *s, unsigned n, int16_t v)
{
	for (unsigned i = 0; i < n; i++)
		s[i] = v;
}

/* ---- three loud talkers: the limiter's measurement (issue 16) ---- */

#define SIM_VOICE_PEAK 29205 /* -1 dBFS */

/*
 * Fills v[0, n) with synthetic voice c (0-7) at rate: a pitch gliding
 * around 110-250 Hz with harmonics up to 3.4 kHz falling 6 dB an octave,
 * cut into syllables (3.7-5.8 a second, every fifth one a pause) of uneven
 * loudness, scaled so its peak is exactly SIM_VOICE_PEAK. The same c gives
 * the same samples every time. Three of them at once sum to peaks 6-8 dB
 * over full scale, like three loud callers. Returns false out of memory.
 */
static inline bool sim_voice(int16_t *v, size_t n, unsigned c, unsigned rate)
{
	double *x = malloc(n * sizeof(*x)), ph = 0, peak = 1e-9;
	double base = 110 + 20 * c, syl = 3.7 + 0.3 * c;

	if (!x)
		return false;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate, pos = t * syl + 0.37 * c;
		long k = (long)pos;
		double in = pos - (double)k, env = pow(sin(M_PI * in), 0.2);
		double f0 =
		    base * (1 + 0.15 * sin(2 * M_PI * 0.9 * t + c) + 0.12 * in);
		double sum = 0;

		env *= k % 6 == 5 ? 0 : 0.85 + 0.15 * ((k * 7) % 5) / 4;
		ph += 2 * M_PI * f0 / rate;
		for (int h = 1; h * f0 < 3400; h++)
			sum += sin(h * ph + M_PI * h * h / 12 + c) / h;
		x[i] = env * sum;
		peak = fabs(x[i]) > peak ? fabs(x[i]) : peak;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (int16_t)lrint(x[i] * SIM_VOICE_PEAK / peak);
	free(x);
	return true;
}

/* Solves the 3x3 system a x = b by Cramer's rule. */
static inline void sim_solve3(double a[3][3], const double b[3], double x[3])
{
#define SIM_DET(m)                                                             \
	((m)[0][0] * ((m)[1][1] * (m)[2][2] - (m)[1][2] * (m)[2][1]) -         \
	 (m)[0][1] * ((m)[1][0] * (m)[2][2] - (m)[1][2] * (m)[2][0]) +         \
	 (m)[0][2] * ((m)[1][0] * (m)[2][1] - (m)[1][1] * (m)[2][0]))
	double d = SIM_DET(a);

	for (int c = 0; c < 3; c++) {
		double m[3][3];

		memcpy(m, a, sizeof(m));
		for (int r = 0; r < 3; r++)
			m[r][c] = b[r];
		x[c] = SIM_DET(m) / d;
	}
#undef SIM_DET
}

/*
 * Signal-to-distortion ratio of y against the ideal ref, in dB, after
 * fitting one gain per block of samples: a gain that moves slowly (over
 * blocks) is level, not distortion, but one that pumps within a block, or
 * a clipped waveform, is distortion.
 */
static inline double sim_sdr_blocks(const double *y, const double *ref,
				    size_t n, size_t block)
{
	double sig = 0, err = 0;

	for (size_t at = 0; at < n; at += block) {
		size_t end = at + block < n ? at + block : n;
		double yr = 0, rr = 1e-9;

		for (size_t i = at; i < end; i++) {
			yr += y[i] * ref[i];
			rr += ref[i] * ref[i];
		}
		for (size_t i = at; i < end; i++) {
			double fit = yr / rr * ref[i];

			sig += fit * fit;
			err += (y[i] - fit) * (y[i] - fit);
		}
	}
	return 10 * log10(sig / (err + 1e-9));
}

/* Each of three talkers' level in y, in dB against its level alone: the
 * least-squares gains of y fitted with the three clean signals. */
static inline void sim_levels(const double *y, double *const ref[3], size_t n,
			      double db[3])
{
	double ata[3][3] = {{0}}, aty[3] = {0}, a[3];

	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < 3; r++) {
			aty[r] += ref[r][i] * y[i];
			for (int c = 0; c < 3; c++)
				ata[r][c] += ref[r][i] * ref[c][i];
		}
	sim_solve3(ata, aty, a);
	for (int c = 0; c < 3; c++)
		db[c] = 20 * log10(a[c] > 1e-9 ? a[c] : 1e-9);
}

typedef struct sim_loud {
	size_t samples;	    /* measured */
	size_t top_codes;   /* samples at µ-law's loudest code (±32124) */
	int peak;	    /* largest magnitude heard */
	double sdr100;	    /* SDR, one gain per 100 ms block */
	double sdr20;	    /* SDR, one gain per 20 ms block */
	double level_db[3]; /* each talker's level against alone */
} sim_loud_t;

/*
 * Three synthetic voices (sim_voice 0-2) talk at once for `seconds` in a
 * room with settings s; a silent fourth participant listens, and what it
 * hears, from the first tick with audio, is measured against the ideal
 * (unclipped) sum. Returns false out of memory.
 */
static inline bool sim_three_loud(const mix_settings_t *s, unsigned seconds,
				  sim_loud_t *out)
{
	mix_room_t *room = mix_room_new(s);
	unsigned f = mix_room_frame_samples(room), rate = s->rate;
	unsigned frames = seconds * 1000 / s->frame_ms;
	size_t len = (size_t)frames * f;
	mix_participant_t *p[4];
	int16_t *v[3], zero[MIX_MAX_FRAME_SAMPLES] = {0};
	double *y = calloc(len, sizeof(*y)), *ideal = calloc(len, sizeof(*y));
	double *ref[3];
	bool ok = y && ideal;
	mix_tick_t t;

	memset(out, 0, sizeof(*out));
	for (int c = 0; c < 3; c++) {
		v[c] = malloc(len * sizeof(int16_t));
		ref[c] = calloc(len, sizeof(double));
		ok = ok && v[c] && ref[c] && sim_voice(v[c], len, c, rate);
	}
	for (int i = 0; i < 4; i++) {
		p[i] = mix_participant_new(room, NULL);
		mix_room_add(room, p[i]);
	}
	for (unsigned k = 0; ok && k < frames + SIM_DELAY; k++) {
		for (int c = 0; k < frames && c < 3; c++)
			sim_push(room, p[c], k, v[c] + (size_t)k * f);
		sim_push(room, p[3], k, zero);
		sim_tick(room, k, &t);
		if (k < SIM_DELAY)
			continue;
		size_t at = (size_t)(k - SIM_DELAY) * f;
		const mix_out_t *o = sim_heard(&t, p[3]);

		for (unsigned j = 0; j < f; j++) {
			y[at + j] = o->pcm[j];
			out->top_codes += (o->ulaw[j] & 0x7F) == 0;
			out->peak = abs(o->pcm[j]) > out->peak ? abs(o->pcm[j])
							       : out->peak;
			for (int c = 0; c < 3; c++) {
				ref[c][at + j] = v[c][at + j];
				ideal[at + j] += v[c][at + j];
			}
		}
	}
	if (ok) {
		out->samples = len;
		out->sdr100 = sim_sdr_blocks(y, ideal, len, rate / 10);
		out->sdr20 = sim_sdr_blocks(y, ideal, len, rate / 50);
		sim_levels(y, ref, len, out->level_db);
	}
	for (int i = 0; i < 4; i++)
		mix_participant_free(p[i]);
	mix_room_free(room);
	for (int c = 0; c < 3; c++) {
		free(v[c]);
		free(ref[c]);
	}
	free(y);
	free(ideal);
	return ok;
}

#endif /* CHORUS_MIXSIM_H */
