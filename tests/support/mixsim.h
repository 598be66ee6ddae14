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

/* Adds to ata and aty the normal equations of fitting y[at, at+n) with the
 * three references (least squares: ata a = aty). */
static inline void sim_normal3(const double *y, double *const ref[3], size_t at,
			       size_t n, double ata[3][3], double aty[3])
{
	for (size_t i = at; i < at + n; i++)
		for (int r = 0; r < 3; r++) {
			aty[r] += ref[r][i] * y[i];
			for (int c = 0; c < 3; c++)
				ata[r][c] += ref[r][i] * ref[c][i];
		}
}

/* Each of three talkers' level in y, in dB against its level alone: the
 * least-squares gains of y fitted with the three clean signals. */
static inline void sim_levels(const double *y, double *const ref[3], size_t n,
			      double db[3])
{
	double ata[3][3] = {{0}}, aty[3] = {0}, a[3];

	sim_normal3(y, ref, 0, n, ata, aty);
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

/* ---- word onsets under jitter: the gate's measurement (issue 16) ---- */

#define SIM_ONSET_TALKERS 8
#define SIM_ONSET_BURSTS  32
#define SIM_ONSET_GAP_MS  700 /* between one burst and the next talker's */
#define SIM_ONSET_LEN_MS  400
#define SIM_ONSET_AMP	  8000

typedef struct sim_onsets {
	double kept[SIM_ONSET_BURSTS]; /* share of each burst's first 20 ms
					* heard */
	unsigned kept_half;	       /* bursts that kept >= 50% of it */
	uint64_t late;		       /* frames dropped as late, all talkers */
} sim_onsets_t;

/* xorshift64*, for jitter that a seed replays. */
static inline uint64_t sim_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

/* Sample i of the burst: white noise, uniform in +-SIM_ONSET_AMP (-17
 * dBFS), at a steady level from its very first sample, so a share of its
 * energy is a share of its time; and never periodic, so it aligns in one
 * place only. */
static inline int16_t sim_burst(size_t i)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return (int16_t)((int)(x % (2 * SIM_ONSET_AMP + 1)) - SIM_ONSET_AMP);
}

/*
 * Eight talkers take turns: burst b (0-31) is talker b % 8's, starting
 * 2 s + b * SIM_ONSET_GAP_MS into the streams and (b % 4) * 5 ms into a
 * frame, so each talker has 5.6 s of silence (zeros) before each of its
 * bursts. Every frame of every talker arrives 20 ms after its start (when
 * a caller's frame is complete), plus a per-talker phase, plus a random
 * 0 to jitter_ms; the frames are pushed in the tick where they have
 * arrived. A silent ninth participant listens, and for each burst the share
 * of its first 20 ms's energy that it heard is measured, aligned by the
 * 20 ms after it (which the gate always lets through). Returns false out
 * of memory.
 */
static inline bool sim_onsets(const mix_settings_t *s, unsigned jitter_ms,
			      uint64_t seed, sim_onsets_t *out)
{
	const unsigned n = SIM_ONSET_TALKERS, rate = s->rate;
	mix_room_t *room = mix_room_new(s);
	unsigned f = mix_room_frame_samples(room), per_ms = rate / 1000;
	unsigned frames =
	    (2000 + SIM_ONSET_BURSTS * SIM_ONSET_GAP_MS + 1000) / s->frame_ms;
	uint64_t fns = (uint64_t)s->frame_ms * 1000000, x = seed | 1;
	size_t len = (size_t)frames * f, start[SIM_ONSET_BURSTS];
	mix_participant_t *p[SIM_ONSET_TALKERS + 1];
	int16_t *v = calloc(len * n, sizeof(*v));
	int16_t *heard = calloc(len, sizeof(*heard));
	uint64_t *arrive = calloc((size_t)frames * n, sizeof(*arrive));
	unsigned next[SIM_ONSET_TALKERS] = {0};
	bool ok = room && v && heard && arrive;
	mix_tick_t t;

	memset(out, 0, sizeof(*out));
	for (unsigned b = 0; ok && b < SIM_ONSET_BURSTS; b++) {
		start[b] =
		    (size_t)(2000 + b * SIM_ONSET_GAP_MS) * per_ms / f * f +
		    (b % 4) * 5 * per_ms;
		for (size_t i = 0; i < SIM_ONSET_LEN_MS * per_ms; i++)
			v[(b % n) * len + start[b] + i] = sim_burst(i);
	}
	for (unsigned c = 0; ok && c < n; c++)
		for (unsigned k = 0; k < frames; k++)
			arrive[c * frames + k] =
			    SIM_T0 + (k + 1) * fns + c * fns / n +
			    (jitter_ms ? sim_rand(&x) % (jitter_ms * 1000000ULL)
				       : 0);
	for (unsigned c = 0; ok && c <= n; c++) {
		p[c] = mix_participant_new(room, NULL);
		ok = p[c] && mix_room_add(room, p[c]) == 0;
	}
	for (unsigned k = 0; ok && k < frames; k++) {
		uint64_t now = SIM_T0 + k * fns;

		/* Each talker's arrived frames, oldest first; a frame that
		 * overtook an older one waits for it no more than a real
		 * network would: it is pushed as soon as it is here. */
		for (unsigned c = 0; c < n; c++) {
			for (unsigned j = next[c]; j < frames && j <= k + 4;
			     j++) {
				uint64_t *a = &arrive[c * frames + j];

				if (*a == 0 || *a > now)
					continue;
				mix_participant_push(p[c], v + c * len + j * f,
						     f, j * s->frame_ms, *a);
				*a = 0;
			}
			while (next[c] < frames &&
			       arrive[c * frames + next[c]] == 0)
				next[c]++;
		}
		mix_room_tick(room, now, &t);
		memcpy(heard + (size_t)k * f, sim_heard(&t, p[n])->pcm,
		       f * sizeof(*heard));
	}
	for (unsigned b = 0; ok && b < SIM_ONSET_BURSTS; b++) {
		/* Align on the burst's 20-60 ms: the least squared error
		 * within 200 ms after its start. */
		size_t w = 20 * per_ms, best = start[b];
		double best_e = INFINITY, got = 0, want = 0;

		for (size_t o = start[b]; o < start[b] + 200 * per_ms; o++) {
			double e = 0;

			for (size_t i = w; i < 3 * w && e < best_e; i++) {
				double d = heard[o + i] - sim_burst(i);

				e += d * d;
			}
			if (e < best_e) {
				best_e = e;
				best = o;
			}
		}
		/* Energy, not sample by sample: drift control may have
		 * dropped or repeated a sample in there. */
		for (size_t i = 0; i < w; i++) {
			double h = heard[best + i], b0 = sim_burst(i);

			got += h * h;
			want += b0 * b0;
		}
		out->kept[b] = got < want ? got / want : 1.0;
		out->kept_half += out->kept[b] >= 0.5;
	}
	for (unsigned c = 0; ok && c <= n; c++) {
		mix_participant_stats_t st;

		mix_participant_stats(p[c], &st);
		out->late += st.frames_late;
	}
	for (unsigned c = 0; room && c <= n; c++)
		mix_participant_free(p[c]);
	mix_room_free(room);
	free(v);
	free(heard);
	free(arrive);
	return ok;
}

#endif /* CHORUS_MIXSIM_H */
