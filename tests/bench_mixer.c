/*
 * bench_mixer.c - what a mixer tick costs, and how the mix sounds.
 *
 * 1. Cost: rooms of 2, 10, 100 and 1,000 participants with 1-3 talkers.
 *    Every participant pushes a 20 ms frame every tick (talkers a tone,
 *    the others low noise under the gate), as callers do; the tick alone is
 *    timed (draining the rings, jitter buffers, gate, mix-minus, limiter,
 *    µ-law and base64 of every distinct mix) and divided by the
 *    participants: ns per participant-frame. Best of several rounds. It
 *    should stay flat as rooms grow.
 * 2. Three loud talkers ("loud3", issue 16's measurement, run by
 *    sim_three_loud() in tests/support/mixsim.h): three synthetic voices
 *    each peaking at -1 dBFS, heard by a fourth participant, in each mode:
 *    the share of samples on µ-law's loudest code, the SDR against the
 *    ideal unclipped sum with one fitted gain per 100 ms and per 20 ms
 *    block (a slow gain change is level, pumping is distortion), and each
 *    talker's level against its level alone.
 * 3. Word onsets under jitter ("onsets", sim_onsets()): 8 talkers, 32
 *    bursts after silence, each frame held back a random 0 to J ms; the
 *    share of bursts that keep at least half of their first 20 ms, over
 *    four seeds (128 onsets), at J = 0, 5, 10 and 20 ms.
 * 4. Quality: three talkers at once, heard by a fourth participant, in each
 *    mode: steady tones and tones with a syllable-rate envelope at -6 dBFS
 *    each (their sum exceeds full scale by up to 3.5x), and three sentences
 *    of espeak-ng speech (made at run time, resampled by sox, each peaking
 *    at -1 dBFS; skipped if the tools are missing). For each it prints the
 *    output peak and each talker's signal-to-distortion ratio: the mix is
 *    least-squares fitted with the three clean signals, and SDR is a
 *    talker's fitted part against what the fit cannot explain. "SDR" fits
 *    once over the whole run, so any gain change (a limiter's job) counts
 *    as distortion; "per-frame SDR" refits every 20 ms, so only damage to
 *    the waveform counts (clipping, gain moving within a frame).
 *
 * Numbers only: nothing here asserts a timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "mixer/mixer.h"
#include "tests/support/mixsim.h"
#include "tests/support/tsupport.h"

#define ROUNDS 5

/* ---- cost ---- */

static double bench_room(unsigned n, unsigned talkers)
{
	mix_room_t *room = mix_room_new(NULL);
	unsigned f = mix_room_frame_samples(room);
	mix_participant_t **p = calloc(n, sizeof(*p));
	int16_t tone[3][MIX_MAX_FRAME_SAMPLES], noise[MIX_MAX_FRAME_SAMPLES];
	unsigned ticks = 200000 / n < 300 ? 300 : 200000 / n;
	unsigned warm = 10, k = 0;
	double best = 1e30;
	mix_tick_t t;

	for (unsigned i = 0; i < n; i++) {
		p[i] = mix_participant_new(room, NULL);
		mix_room_add(room, p[i]);
	}
	for (unsigned j = 0; j < f; j++)
		noise[j] = (int16_t)(ts_rand() % 41) - 20; /* -64 dBFS */
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t spent = 0;

		for (unsigned i = 0; i < ticks + warm; i++, k++) {
			for (unsigned c = 0; c < talkers; c++)
				sim_tone(tone[c], f, k * f, 300 + 200 * c, 8000,
					 8000);
			for (unsigned q = 0; q < n; q++)
				sim_push(room, p[q], k,
					 q < talkers ? tone[q] : noise);
			uint64_t t0 = chorus_now_ns();

			sim_tick(room, k, &t);
			if (i >= warm)
				spent += chorus_now_ns() - t0;
		}
		double ns = (double)spent / ticks / n;

		best = ns < best ? ns : best;
	}
	mix_room_stats_t st;

	mix_room_stats(room, &st);
	if (st.talkers != talkers)
		printf("  (warning: %u talkers gated in, expected %u)\n",
		       st.talkers, talkers);
	for (unsigned i = 0; i < n; i++) {
		mix_room_remove(room, p[i]);
		mix_participant_free(p[i]);
	}
	free(p);
	mix_room_free(room);
	return best;
}

static double bench_push(void)
{
	mix_room_t *room = mix_room_new(NULL);
	mix_participant_t *p = mix_participant_new(room, NULL);
	int16_t s[160] = {0};
	double best = 1e30;
	mix_tick_t t;

	mix_room_add(room, p);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t spent = 0;

		for (unsigned k = r * 20000; k < (r + 1) * 20000; k++) {
			uint64_t t0 = chorus_now_ns();

			sim_push(room, p, k, s);
			spent += chorus_now_ns() - t0;
			sim_tick(room, k, &t);
		}
		double ns = (double)spent / 20000;

		best = ns < best ? ns : best;
	}
	mix_room_remove(room, p);
	mix_participant_free(p);
	mix_room_free(room);
	return best;
}

/* ---- quality ---- */

#define Q_SECONDS     6
#define Q_SKIP_FRAMES 50 /* the first second: gate and limiter settle */

static const double q_hz[3] = {311, 563, 977};
static const double q_env_hz[3] = {3.1, 4.3, 5.7};

/* Speech, when espeak-ng and sox are there: three sentences, 8 kHz. */
static int16_t *speech[3];
static size_t speech_len[3];
static const char *const speech_text[3] = {
    "The quick brown fox jumps over the lazy dog, and then it runs "
    "away into the forest before anyone can catch it.",
    "Please call me back this afternoon about the invoice, I think "
    "there is a mistake in the second line of the total.",
    "We should meet again next week to decide which of the three "
    "designs goes to production in the spring.",
};

static bool load_speech(void)
{
	static const char *const voice[3] = {"en-us", "en", "en-us+f3"};

	for (int c = 0; c < 3; c++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd),
			 "espeak-ng -v %s -s 170 --stdout \"%s\" 2>/dev/null | "
			 "sox -t wav - -r 8000 -c 1 -t raw -e signed -b 16 - "
			 "2>/dev/null",
			 voice[c], speech_text[c]);
		FILE *f = popen(cmd, "r");

		if (!f)
			return false;
		speech[c] = malloc(8000 * 30 * sizeof(int16_t));
		speech_len[c] = fread(speech[c], sizeof(int16_t), 8000 * 30, f);
		if (pclose(f) != 0 || speech_len[c] < 8000)
			return false;
		/* Peak at -1 dBFS: loud callers, whose sum often exceeds full
		 * scale. */
		int peak = 1;

		for (size_t i = 0; i < speech_len[c]; i++)
			peak =
			    abs(speech[c][i]) > peak ? abs(speech[c][i]) : peak;
		for (size_t i = 0; i < speech_len[c]; i++)
			speech[c][i] = (int16_t)(speech[c][i] * 29205L / peak);
	}
	return true;
}

enum { Q_STEADY, Q_SYLLABIC, Q_SPEECH };
static const char *const q_names[] = {"steady", "syllabic", "speech"};

static double q_signal(unsigned c, uint64_t i, int kind)
{
	if (kind == Q_SPEECH)
		return i < speech_len[c] ? speech[c][i] : 0;
	bool envelope = kind == Q_SYLLABIC;

	double t = (double)i / 8000;
	double env =
	    envelope ? 0.55 + 0.45 * sin(2 * M_PI * q_env_hz[c] * t) : 1.0;

	return 16384 * env * sin(2 * M_PI * q_hz[c] * t);
}

/* Least-squares fit of y[at, at+n) with the three references: adds each
 * fitted part's energy to sig and the residual's to err. */
static void fit_acc(const double *y, double *const ref[3], size_t at, size_t n,
		    double sig[3], double *err)
{
	double ata[3][3] = {{0}}, aty[3] = {0}, a[3];

	sim_normal3(y, ref, at, n, ata, aty);
	/* A touch of ridge so a silent reference (speech pauses) fits 0. */
	for (int r = 0; r < 3; r++)
		ata[r][r] += 1.0 + 1e-9 * (ata[0][0] + ata[1][1] + ata[2][2]);
	sim_solve3(ata, aty, a);
	for (size_t i = at; i < at + n; i++) {
		double e = y[i];

		for (int c = 0; c < 3; c++) {
			e -= a[c] * ref[c][i];
			sig[c] += a[c] * ref[c][i] * a[c] * ref[c][i];
		}
		*err += e * e;
	}
}

static void fit(const double *y, double *const ref[3], size_t at, size_t n,
		double a[3], double sdr[3])
{
	double ata[3][3] = {{0}}, aty[3] = {0}, sig[3] = {0}, err = 0;

	fit_acc(y, ref, at, n, sig, &err);
	sim_normal3(y, ref, at, n, ata, aty);
	sim_solve3(ata, aty, a);
	for (int c = 0; c < 3; c++)
		sdr[c] = 10 * log10(sig[c] / err);
}

static void quality(mix_norm_t mode, int envelope)
{
	mix_settings_t s;
	mix_tick_t t;

	mix_settings_default(&s);
	s.norm = mode;
	mix_room_t *room = mix_room_new(&s);
	unsigned f = mix_room_frame_samples(room);
	unsigned frames = Q_SECONDS * 1000 / s.frame_ms;
	size_t len = (size_t)(frames - Q_SKIP_FRAMES) * f;
	mix_participant_t *p[4];
	double *y = calloc(len, sizeof(*y)), *ref[3];
	int16_t in[MIX_MAX_FRAME_SAMPLES], zero[MIX_MAX_FRAME_SAMPLES] = {0};
	int peak = 0;

	for (int c = 0; c < 3; c++)
		ref[c] = calloc(len, sizeof(double));
	for (int i = 0; i < 4; i++) {
		p[i] = mix_participant_new(room, NULL);
		mix_room_add(room, p[i]);
	}
	for (unsigned k = 0; k < frames + SIM_DELAY; k++) {
		for (int c = 0; c < 3; c++) {
			for (unsigned j = 0; j < f; j++)
				in[j] = (int16_t)lrint(
				    q_signal(c, (uint64_t)k * f + j, envelope));
			sim_push(room, p[c], k, in);
		}
		sim_push(room, p[3], k, zero);
		sim_tick(room, k, &t);
		if (k < SIM_DELAY + Q_SKIP_FRAMES)
			continue;
		/* Tick k plays frame k - SIM_DELAY. */
		size_t at = (size_t)(k - SIM_DELAY - Q_SKIP_FRAMES) * f;
		const int16_t *pcm = sim_heard(&t, p[3])->pcm;

		for (unsigned j = 0; j < f; j++) {
			uint64_t i = (uint64_t)(k - SIM_DELAY) * f + j;

			y[at + j] = pcm[j];
			peak = abs(pcm[j]) > peak ? abs(pcm[j]) : peak;
			for (int c = 0; c < 3; c++)
				ref[c][at + j] =
				    lrint(q_signal(c, i, envelope));
		}
	}
	/* Over the whole run (a fixed mix: gain changes count as
	 * distortion) and frame by frame (refitted every 20 ms: slow gain
	 * changes are level, only the waveform's damage counts). */
	double a[3], sdr[3], lsdr[3];

	fit(y, ref, 0, len, a, sdr);
	double lsig[3] = {0}, lerr = 0;

	for (size_t at = 0; at + f <= len; at += f)
		fit_acc(y, ref, at, f, lsig, &lerr);
	for (int c = 0; c < 3; c++)
		lsdr[c] = 10 * log10(lsig[c] / lerr);
	printf("mixer quality %-7s %-8s peak %6.2f dBFS  SDR %5.1f %5.1f "
	       "%5.1f dB  per-frame SDR %5.1f %5.1f %5.1f dB  gain %.3f\n",
	       mix_norm_name(mode), q_names[envelope],
	       20 * log10(peak / 32768.0), sdr[0], sdr[1], sdr[2], lsdr[0],
	       lsdr[1], lsdr[2], a[0]);
	for (int i = 0; i < 4; i++) {
		mix_room_remove(room, p[i]);
		mix_participant_free(p[i]);
	}
	for (int c = 0; c < 3; c++)
		free(ref[c]);
	free(y);
	mix_room_free(room);
}

/* Three loud synthetic voices (issue 16's measurement, in the mixer). */
static void loud3(mix_norm_t mode)
{
	mix_settings_t s;
	sim_loud_t r;

	mix_settings_default(&s);
	s.norm = mode;
	if (!sim_three_loud(&s, 10, &r)) {
		printf("mixer loud3: out of memory\n");
		return;
	}
	printf("mixer loud3 %-7s top code %5.2f%%  SDR 100 ms %5.1f dB  "
	       "20 ms %5.1f dB  level vs alone %5.1f %5.1f %5.1f dB  "
	       "peak %6.2f dBFS\n",
	       mix_norm_name(mode), 100.0 * r.top_codes / r.samples, r.sdr100,
	       r.sdr20, r.level_db[0], r.level_db[1], r.level_db[2],
	       20 * log10(r.peak / 32768.0));
}

static void onsets(void)
{
	static const unsigned jitter[] = {0, 5, 10, 20};
	mix_settings_t s;
	sim_onsets_t r;

	mix_settings_default(&s);
	printf("mixer onsets keeping >= 50%% of their first 20 ms (8 talkers, "
	       "4 x 32 bursts):");
	for (unsigned j = 0; j < 4; j++) {
		unsigned kept = 0;

		for (uint64_t seed = 1; seed <= 4; seed++) {
			if (!sim_onsets(&s, jitter[j], seed, &r))
				return;
			kept += r.kept_half;
		}
		printf("  %2u ms %5.1f%%", jitter[j],
		       100.0 * kept / (4 * SIM_ONSET_BURSTS));
	}
	printf("\n");
}

int main(void)
{
	static const unsigned sizes[] = {2, 10, 100, 1000};

	ts_seed("bench_mixer");
	printf("mixer tick, ns per participant-frame (8 kHz, 20 ms; tick "
	       "only, best of %d)\n",
	       ROUNDS);
	for (unsigned i = 0; i < 4; i++) {
		printf("mixer room %4u:", sizes[i]);
		for (unsigned t = 1; t <= 3 && t <= sizes[i]; t++)
			printf("  %u talker%s %7.1f ns", t, t > 1 ? "s" : " ",
			       bench_room(sizes[i], t));
		printf("\n");
	}
	printf("mixer push (producer side), ns per 20 ms frame: %.1f\n",
	       bench_push());
	for (int m = MIX_NORM_LIMITER; m <= MIX_NORM_CLIP; m++)
		loud3((mix_norm_t)m);
	onsets();
	bool talk = load_speech();

	for (int kind = Q_STEADY; kind <= Q_SPEECH; kind++) {
		if (kind == Q_SPEECH && !talk) {
			printf("mixer quality: speech skipped (needs espeak-ng "
			       "and sox)\n");
			break;
		}
		for (int m = MIX_NORM_LIMITER; m <= MIX_NORM_CLIP; m++)
			quality((mix_norm_t)m, kind);
	}
	for (int c = 0; c < 3; c++)
		free(speech[c]);
	return 0;
}
