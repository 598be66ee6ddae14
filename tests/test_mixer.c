/*
 * test_mixer.c - the mixer's room-level behaviour with exact expectations:
 * settings, mix-minus, pass-through, normalization modes, gating, flags,
 * join/leave, echo. Jitter-buffer behaviour is in test_mixer_jitter.c.
 *
 * Every test drives a room on a simulated clock (tests/support/mixsim.h):
 * frame k is pushed on time at tick k and mixed at tick k + SIM_DELAY.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/g711.h"
#include "mixer/mixer.h"
#include "tests/support/mixsim.h"

#define F_MAX MIX_MAX_FRAME_SAMPLES
#define MAXP  8

/* A room and up to MAXP participants, each sending what fill() makes. */
typedef struct room_fx {
	mix_room_t *room;
	mix_participant_t *p[MAXP];
	unsigned n, f;
} room_fx_t;

static void fx_open(room_fx_t *fx, const mix_settings_t *s, unsigned n)
{
	memset(fx, 0, sizeof(*fx));
	fx->room = mix_room_new(s);
	assert_non_null(fx->room);
	fx->f = mix_room_frame_samples(fx->room);
	fx->n = n;
	for (unsigned i = 0; i < n; i++) {
		fx->p[i] = mix_participant_new(fx->room, (void *)(uintptr_t)i);
		assert_non_null(fx->p[i]);
		assert_int_equal(mix_room_add(fx->room, fx->p[i]), 0);
	}
}

static void fx_close(room_fx_t *fx)
{
	for (unsigned i = 0; i < fx->n; i++) {
		if (fx->p[i]) {
			mix_room_remove(fx->room, fx->p[i]);
			mix_participant_free(fx->p[i]);
		}
	}
	mix_room_free(fx->room);
}

static void assert_pcm_const(const mix_out_t *o, unsigned f, int v)
{
	assert_non_null(o);
	for (unsigned i = 0; i < f; i++)
		if (o->pcm[i] != v)
			fail_msg("sample %u is %d, want %d", i, o->pcm[i], v);
}

/* Pushes a constant from each participant (vals[i]) for frame k, ticks. */
static void fx_step_const(room_fx_t *fx, unsigned k, const int16_t *vals,
			  mix_tick_t *t)
{
	int16_t s[F_MAX];

	for (unsigned i = 0; i < fx->n; i++) {
		if (!fx->p[i])
			continue;
		sim_const(s, fx->f, vals[i]);
		assert_int_equal(sim_push(fx->room, fx->p[i], k, s), 0);
	}
	assert_int_equal(sim_tick(fx->room, k, t), 0);
}

/* ---- settings ---- */

static void settings_defaults_are_as_documented(void **state)
{
	mix_settings_t s;

	mix_settings_default(&s);
	assert_int_equal(s.rate, 8000);
	assert_int_equal(s.frame_ms, 20);
	assert_int_equal(s.window_ms, 30);
	assert_int_equal(s.jitter_target_ms, 40);
	assert_int_equal(s.jitter_cap_ms, 200);
	assert_true(s.gate_threshold_dbfs == -45.0);
	assert_int_equal(s.gate_attack_frames, 2);
	assert_int_equal(s.gate_hangover_ms, 800);
	assert_int_equal(s.norm, MIX_NORM_LIMITER);
	assert_false(s.echo);
	assert_int_equal(mix_settings_validate(&s), 0);
}

static void settings_insane_values_are_rejected(void **state)
{
	mix_settings_t s, d;

	mix_settings_default(&d);
	assert_int_equal(mix_settings_validate(NULL), -EINVAL);
	s = d, s.rate = 44100;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.rate = 7000;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.frame_ms = 25;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.rate = 48000, s.frame_ms = 40; /* 1920 > 960 samples */
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.jitter_cap_ms = 50; /* below target + a frame */
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.gate_attack_frames = 0;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.gate_threshold_dbfs = NAN;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	s = d, s.norm = (mix_norm_t)7;
	assert_int_equal(mix_settings_validate(&s), -EINVAL);
	assert_null(mix_room_new(&s));
	s = d, s.rate = 48000, s.frame_ms = 20;
	assert_int_equal(mix_settings_validate(&s), 0);
}

static void norm_names_parse_both_ways(void **state)
{
	mix_norm_t m;

	for (int i = MIX_NORM_LIMITER; i <= MIX_NORM_CLIP; i++) {
		assert_int_equal(mix_norm_parse(mix_norm_name(i), &m), 0);
		assert_int_equal(m, i);
	}
	assert_string_equal(mix_norm_name(MIX_NORM_AVERAGE), "average");
	assert_int_equal(mix_norm_parse("loud", &m), -EINVAL);
	assert_int_equal(mix_norm_parse(NULL, &m), -EINVAL);
}

static void frame_size_derives_from_rate_and_frame_ms(void **state)
{
	mix_settings_t s;
	mix_room_t *r;

	mix_settings_default(&s);
	s.rate = 16000;
	r = mix_room_new(&s);
	assert_int_equal(mix_room_frame_samples(r), 320);
	mix_room_free(r);
	s.rate = 8000, s.frame_ms = 10;
	r = mix_room_new(&s);
	assert_int_equal(mix_room_frame_samples(r), 80);
	mix_room_free(r);
}

static void empty_room_tick_reports_nothing(void **state)
{
	mix_room_t *r = mix_room_new(NULL);
	mix_tick_t t;
	mix_room_stats_t st;

	assert_int_equal(mix_room_tick(r, SIM_T0, &t), 0);
	assert_int_equal(t.n_mixes, 0);
	assert_int_equal(t.n_listeners, 0);
	assert_int_equal(t.n_events, 0);
	mix_room_stats(r, &st);
	assert_int_equal(st.ticks, 0);
	assert_int_equal(mix_room_tick(NULL, SIM_T0, &t), -EINVAL);
	mix_room_free(r);
}

static void add_and_remove_report_errors(void **state)
{
	mix_room_t *r = mix_room_new(NULL), *r2 = mix_room_new(NULL);
	mix_participant_t *p = mix_participant_new(r, &r);

	assert_ptr_equal(mix_participant_user(p), &r);
	assert_int_equal(mix_room_remove(r, p), -ENOENT);
	assert_int_equal(mix_room_add(r, p), 0);
	assert_int_equal(mix_room_add(r, p), -EEXIST);
	assert_int_equal(mix_room_add(r2, p), -EEXIST);
	assert_int_equal(mix_room_count(r), 1);
	assert_int_equal(mix_room_remove(r2, p), -ENOENT);
	assert_int_equal(mix_room_remove(r, p), 0);
	assert_int_equal(mix_room_count(r), 0);
	assert_int_equal(mix_participant_push(p, NULL, 5, 0, 0), -EINVAL);
	mix_participant_free(p);
	mix_room_free(r);
	mix_room_free(r2);
}

/* ---- mix-minus ---- */

static void mix_minus_constants_each_hears_exactly_the_others(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	/* Three talkers and two silent listeners. */
	const int16_t v[5] = {1000, 2000, 4000, 0, 0};

	fx_open(&fx, NULL, 5);
	for (unsigned k = 0; k < 10; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k < SIM_DELAY)
			continue;
		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 6000);
		assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f, 5000);
		assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 3000);
		assert_pcm_const(sim_heard(&t, fx.p[3]), fx.f, 7000);
		/* Non-talkers share one mix: 3 private + 1 shared. */
		assert_int_equal(sim_mix_index(&t, fx.p[3]),
				 sim_mix_index(&t, fx.p[4]));
		assert_int_equal(t.n_mixes, 4);
		assert_int_equal(t.n_listeners, 5);
	}
	mix_room_stats_t st;

	mix_room_stats(fx.room, &st);
	assert_int_equal(st.talkers, 3);
	assert_int_equal(st.mixes_last, 4);
	assert_int_equal(st.limiter_active_frames, 0);
	fx_close(&fx);
}

static void mix_minus_tones_each_hears_exactly_the_others(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	const double hz[3] = {300, 700, 1100};
	int16_t s[3][40][F_MAX];

	fx_open(&fx, NULL, 4);
	for (unsigned k = 0; k < 40; k++) {
		for (unsigned i = 0; i < 3; i++) {
			sim_tone(s[i][k], fx.f, k * fx.f, hz[i], 5000, 8000);
			assert_int_equal(sim_push(fx.room, fx.p[i], k, s[i][k]),
					 0);
		}
		assert_int_equal(sim_tick(fx.room, k, &t), 0);
		if (k < SIM_DELAY)
			continue;
		unsigned m = k - SIM_DELAY;

		for (unsigned l = 0; l < 4; l++) {
			const mix_out_t *o = sim_heard(&t, fx.p[l]);

			for (unsigned j = 0; j < fx.f; j++) {
				int want = 0;

				for (unsigned i = 0; i < 3; i++)
					want += i == l ? 0 : s[i][m][j];
				if (o->pcm[j] != want)
					fail_msg("tick %u listener %u sample "
						 "%u: %d, want %d",
						 k, l, j, o->pcm[j], want);
			}
		}
	}
	fx_close(&fx);
}

/* Other rates and frame lengths: the frame, the delay in ticks and the
 * mixes all follow from the settings. */
static void mix_minus_works_at_other_rates_and_frames(void **state)
{
	static const unsigned cfg[][2] = {
	    {16000, 20}, {16000, 10}, {8000, 40}, {48000, 20}};

	for (unsigned c = 0; c < 4; c++) {
		room_fx_t fx;
		mix_tick_t t;
		mix_settings_t s;
		const int16_t v[3] = {1000, 2000, 0};

		mix_settings_default(&s);
		s.rate = cfg[c][0];
		s.frame_ms = cfg[c][1];
		fx_open(&fx, &s, 3);
		assert_int_equal(fx.f, cfg[c][0] / 1000 * cfg[c][1]);
		/* 40 ms target: the first frame is mixed this many ticks in. */
		unsigned delay = 40 / cfg[c][1];

		for (unsigned k = 0; k < delay + 5; k++) {
			fx_step_const(&fx, k, v, &t);
			int want = k < delay ? 0 : 1;

			assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f,
					 2000 * want);
			assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f,
					 1000 * want);
			assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f,
					 3000 * want);
		}
		assert_int_equal(sim_heard(&t, fx.p[2])->b64_len,
				 (fx.f + 2) / 3 * 4);
		fx_close(&fx);
	}
}

static void single_talker_passes_ulaw_bit_exact(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	int16_t s[F_MAX], silent[F_MAX] = {0};
	uint8_t codes[64][F_MAX];

	fx_open(&fx, NULL, 3);
	for (unsigned k = 0; k < 64; k++) {
		/* Every code, in a different order each frame. */
		for (unsigned j = 0; j < fx.f; j++) {
			codes[k][j] = (uint8_t)(j * 37 + k * 11);
			s[j] = g711_ulaw_decode(codes[k][j]);
		}
		assert_int_equal(sim_push(fx.room, fx.p[0], k, s), 0);
		assert_int_equal(sim_push(fx.room, fx.p[1], k, silent), 0);
		assert_int_equal(sim_tick(fx.room, k, &t), 0);
		if (k < SIM_DELAY)
			continue;
		const uint8_t *in = codes[k - SIM_DELAY];

		for (unsigned l = 1; l < 3; l++) {
			const mix_out_t *o = sim_heard(&t, fx.p[l]);

			for (unsigned j = 0; j < fx.f; j++) {
				uint8_t want = in[j] == 0x7F ? 0xFF : in[j];

				if (o->ulaw[j] != want)
					fail_msg("tick %u: code 0x%02x came "
						 "out as 0x%02x",
						 k, in[j], o->ulaw[j]);
			}
		}
		/* The talker, alone in talking, hears silence. */
		const mix_out_t *own = sim_heard(&t, fx.p[0]);

		for (unsigned j = 0; j < fx.f; j++)
			assert_int_equal(own->ulaw[j], 0xFF);
		assert_int_equal(strlen(own->b64), own->b64_len);
		assert_int_equal(own->b64_len, 216);
	}
	fx_close(&fx);
}

/* ---- normalization ---- */

static void limiter_is_transparent_below_full_scale(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	/* 16000 + 16767 = 32767: exactly full scale, still untouched. */
	const int16_t v[3] = {16000, 16767, 0};

	fx_open(&fx, NULL, 3);
	for (unsigned k = 0; k < 10; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k >= SIM_DELAY)
			assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 32767);
	}
	fx_close(&fx);
}

static void limiter_never_exceeds_full_scale_and_recovers(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	int16_t s[F_MAX];
	double prev_g = 1.0;
	int peak = 0, flat = 0, prev_y = 0;
	mix_settings_t set;

	mix_settings_default(&set);
	fx_open(&fx, &set, 4);
	/* Three in-phase 400 Hz tones of 20000 for 1 s (sum 60000), then
	 * quiet ones (sum 3000) for 2 s. */
	for (unsigned k = 0; k < 150; k++) {
		double amp = k < 50 ? 20000 : 1000;

		sim_tone(s, fx.f, k * fx.f, 400, amp, 8000);
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(sim_push(fx.room, fx.p[i], k, s), 0);
		assert_int_equal(sim_tick(fx.room, k, &t), 0);
		if (k < SIM_DELAY)
			continue;
		unsigned m = k - SIM_DELAY;
		const mix_out_t *o = sim_heard(&t, fx.p[3]);
		int16_t in[F_MAX];

		sim_tone(in, fx.f, m * fx.f, 400, m < 50 ? 20000 : 1000, 8000);
		/* The very first loud frame starts from silence with its
		 * peak 5 samples in: the previous frame is already gone, so
		 * the gain may step down at that frame's start (by design:
		 * the look-ahead is within the frame). Everywhere else it
		 * must glide, and never sit on the rail. */
		if (m == 0)
			prev_g = NAN;
		for (unsigned j = 0; j < fx.f; j++) {
			int sum = 3 * in[j], y = o->pcm[j];

			peak = abs(y) > peak ? abs(y) : peak;
			/* Flat-topping: two samples in a row at the rail. */
			if (m > 0 && abs(y) >= 32767 && abs(prev_y) >= 32767)
				flat++;
			prev_y = y;
			if (m >= 110) { /* released: exact again */
				assert_int_equal(y, sum);
				continue;
			}
			if (abs(sum) < 3000)
				continue;
			/* Same sign, never louder: a gain in (0, 1]. */
			double g = (double)y / sum;

			assert_true(g > 0.0 && g <= 1.0);
			/* Smooth: the gain moves at most 1/16 a sample. */
			if (!isnan(prev_g) && fabs(g - prev_g) > 0.07)
				fail_msg("frame %u sample %u: gain jumps from "
					 "%.3f to %.3f",
					 m, j, prev_g, g);
			prev_g = g;
		}
	}
	/* It uses the headroom, without flat-topping. */
	assert_true(peak >= 32000);
	assert_int_equal(flat, 0);
	mix_room_stats_t st;

	mix_room_stats(fx.room, &st);
	assert_true(st.limiter_active_frames >= 40);
	assert_true(st.peak_dbfs <= 0.0 && st.peak_dbfs > -0.3);
	fx_close(&fx);
}

static void average_divides_by_talkers_mixed(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	mix_settings_t s;
	const int16_t v[4] = {900, 2100, 3000, 0};

	mix_settings_default(&s);
	s.norm = MIX_NORM_AVERAGE;
	fx_open(&fx, &s, 4);
	for (unsigned k = 0; k < 6; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k < SIM_DELAY)
			continue;
		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 5100 / 2);
		assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f, 3900 / 2);
		assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 3000 / 2);
		assert_pcm_const(sim_heard(&t, fx.p[3]), fx.f, 6000 / 3);
	}
	fx_close(&fx);
}

static void clip_saturates(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	mix_settings_t s;
	const int16_t v[4] = {20000, 20000, -30000, 0};

	mix_settings_default(&s);
	s.norm = MIX_NORM_CLIP;
	fx_open(&fx, &s, 4);
	for (unsigned k = 0; k < 6; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k < SIM_DELAY)
			continue;
		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, -10000);
		assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f, -10000);
		assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 32767);
		assert_pcm_const(sim_heard(&t, fx.p[3]), fx.f, 10000);
	}
	fx_close(&fx);
}

/* ---- gating ---- */

/* Frame k of the gating script: quiet, a 1-frame click at 5, loud 10..29,
 * then a soft tail below the threshold. */
static int16_t gate_script(unsigned k)
{
	if (k == 5 || (k >= 10 && k < 30))
		return 3000;	  /* -20.8 dBFS */
	return k >= 30 ? 100 : 0; /* -50.3 dBFS: below -45 */
}

static void gate_onset_is_mixed_and_hangover_is_exact(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	int16_t v[2] = {0, 0};
	unsigned on_tick = 0, off_tick = 0, events = 0;
	/* 800 ms at 20 ms frames: 40 quiet frames are still mixed. */
	const unsigned hang = 40;

	fx_open(&fx, NULL, 2);
	for (unsigned k = 0; k < 100; k++) {
		v[0] = gate_script(k);
		fx_step_const(&fx, k, v, &t);
		for (unsigned e = 0; e < t.n_events; e++) {
			assert_ptr_equal(t.events[e].p, fx.p[0]);
			events++;
			if (t.events[e].talking)
				on_tick = k;
			else
				off_tick = k;
		}
		if (k < SIM_DELAY)
			continue;
		unsigned m = k - SIM_DELAY;
		bool talking = m >= 10 && m < 30 + hang;

		assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f,
				 talking ? gate_script(m) : 0);
		mix_participant_stats_t st;

		mix_participant_stats(fx.p[0], &st);
		assert_int_equal(st.talking, talking);
	}
	/* The click at frame 5 opened nothing; the onset frame 10 itself was
	 * mixed (look-ahead), and the tail ended after the hangover. */
	assert_int_equal(events, 2);
	assert_int_equal(on_tick, 10 + SIM_DELAY);
	assert_int_equal(off_tick, 30 + hang + SIM_DELAY);
	fx_close(&fx);
}

static void gate_attack_setting_needs_that_many_loud_frames(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	mix_settings_t s;
	int16_t v[2] = {0, 0};
	unsigned on_tick = 0;

	mix_settings_default(&s);
	s.gate_attack_frames = 3;
	s.jitter_target_ms = 60; /* room for 2 frames of look-ahead */
	fx_open(&fx, &s, 2);
	for (unsigned k = 0; k < 40; k++) {
		/* Two loud frames at 5-6 (too short), a word from 15. */
		v[0] = (k == 5 || k == 6 || k >= 15) ? 3000 : 0;
		fx_step_const(&fx, k, v, &t);
		if (t.n_events)
			on_tick = on_tick ? on_tick : k;
	}
	assert_int_equal(on_tick, 15 + 3);
	fx_close(&fx);
}

/* ---- participant flags ---- */

static void muted_participant_is_not_mixed(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	const int16_t v[3] = {1000, 2000, 0};

	fx_open(&fx, NULL, 3);
	mix_participant_set_muted(fx.p[0], true);
	for (unsigned k = 0; k < 8; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k < SIM_DELAY)
			continue;
		assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 2000);
		/* The muted one still hears the others. */
		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 2000);
	}
	mix_participant_stats_t st;

	mix_participant_stats(fx.p[0], &st);
	assert_false(st.talking);
	assert_int_equal(st.frames_mixed, 0);
	mix_participant_set_muted(fx.p[0], false);
	fx_step_const(&fx, 8, v, &t);
	assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 3000);
	fx_close(&fx);
}

static void deaf_participant_hears_silence_but_is_heard(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	const int16_t v[3] = {1000, 2000, 0};

	fx_open(&fx, NULL, 3);
	mix_participant_set_deaf(fx.p[0], true);
	mix_participant_set_deaf(fx.p[2], true);
	for (unsigned k = 0; k < 6; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k < SIM_DELAY)
			continue;
		const mix_out_t *o = sim_heard(&t, fx.p[0]);

		assert_pcm_const(o, fx.f, 0);
		for (unsigned j = 0; j < fx.f; j++)
			assert_int_equal(o->ulaw[j], 0xFF);
		assert_pcm_const(sim_heard(&t, fx.p[1]), fx.f, 1000);
		/* Both deaf ones share the one silence mix. */
		assert_int_equal(sim_mix_index(&t, fx.p[0]),
				 sim_mix_index(&t, fx.p[2]));
	}
	fx_close(&fx);
}

static void gain_scales_what_a_participant_sends(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	const int16_t v[4] = {1000, 1000, 1000, 0};

	fx_open(&fx, NULL, 4);
	mix_participant_set_gain_db(fx.p[0], 20.0 * log10(2.0));  /* x2 */
	mix_participant_set_gain_db(fx.p[1], -20.0 * log10(2.0)); /* /2 */
	mix_participant_set_gain_db(fx.p[2], 0.0);
	for (unsigned k = 0; k < 6; k++) {
		fx_step_const(&fx, k, v, &t);
		if (k >= SIM_DELAY)
			assert_pcm_const(sim_heard(&t, fx.p[3]), fx.f,
					 2000 + 500 + 1000);
	}
	/* -60 dB puts 1000 (-30 dBFS) under the gate: not mixed at all. */
	mix_participant_set_gain_db(fx.p[0], -200.0); /* clamped to -60 */
	for (unsigned k = 6; k < 60; k++) /* past the 800 ms hangover */
		fx_step_const(&fx, k, v, &t);
	assert_pcm_const(sim_heard(&t, fx.p[3]), fx.f, 1500);
	mix_participant_stats_t st;

	mix_participant_stats(fx.p[0], &st);
	assert_false(st.talking);
	assert_true(fabs(st.level_dbfs - (-90.3)) < 0.1);
	fx_close(&fx);
}

/* ---- membership ---- */

static void join_and_leave_mid_stream(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	int16_t v[3] = {1000, 2000, 4000};

	fx_open(&fx, NULL, 3);
	/* p[2] is created but joins at tick 10; p[1] leaves at tick 20. */
	mix_room_remove(fx.room, fx.p[2]);
	for (unsigned k = 0; k < 30; k++) {
		if (k == 10)
			assert_int_equal(mix_room_add(fx.room, fx.p[2]), 0);
		if (k == 20)
			assert_int_equal(mix_room_remove(fx.room, fx.p[1]), 0);
		fx_step_const(&fx, k, v, &t);
		bool two = k >= 10, one = k < 20;

		assert_int_equal(t.n_listeners, 2 + (two && one));
		if (k >= SIM_DELAY && k < 10)
			assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 2000);
		/* The newcomer hears the room at once, is heard once its
		 * own stream has reached the slot. */
		if (k >= 10 && k < 20)
			assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, 3000);
		if (k >= 12 && k < 20)
			assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 6000);
		if (k >= 20) {
			assert_null(sim_heard(&t, fx.p[1]));
			assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 4000);
		}
	}
	fx_close(&fx);
}

/* A talker that leaves right after its last frame is heard to the end: the
 * frames still in its jitter buffer play out, exactly, then it is gone. */
static void retiring_participant_is_heard_to_its_last_frame(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	mix_participant_t *gone;
	const unsigned last = 19; /* p[1]'s last frame */

	fx_open(&fx, NULL, 3);
	gone = fx.p[1];
	for (unsigned k = 0; k <= last + SIM_DELAY + 3; k++) {
		/* p[1] says 3000 + 10 k in frame k (loud enough for the
		 * gate); the others are silent. */
		int16_t v[3] = {0, (int16_t)(3000 + 10 * k), 0};

		if (k == last + 1) {
			fx.p[1] = NULL; /* the room's now */
			assert_int_equal(mix_room_retire(fx.room, gone), 0);
			assert_int_equal(mix_room_retire(fx.room, gone),
					 -ENOENT);
			assert_int_equal(mix_room_count(fx.room), 2);
			assert_int_equal(mix_room_retiring(fx.room), 1);
		}
		fx_step_const(&fx, k, v, &t);
		if (k > last) {
			/* Nobody hears through it or about it any more. */
			assert_int_equal(t.n_listeners, 2);
			for (unsigned i = 0; i < t.n_listeners; i++)
				assert_ptr_not_equal(t.listeners[i].p, gone);
			for (unsigned i = 0; i < t.n_events; i++)
				assert_ptr_not_equal(t.events[i].p, gone);
		}
		if (k < SIM_DELAY + 3)
			continue; /* the gate's onset */
		int want = k - SIM_DELAY <= last
			       ? 3000 + 10 * (int)(k - SIM_DELAY)
			       : 0;

		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, want);
		assert_pcm_const(sim_heard(&t, fx.p[2]), fx.f, want);
	}
	/* Played out: freed by the tick (ASan would see a leak). */
	assert_int_equal(mix_room_retiring(fx.room), 0);
	assert_int_equal(mix_room_count(fx.room), 2);
	fx_close(&fx);
}

/* The room is freed while a participant is still playing out: it goes too
 * (make asan fails on a leak otherwise). */
static void room_free_frees_a_retiring_participant(void **state)
{
	room_fx_t fx;
	mix_tick_t t;
	int16_t v[2] = {0, 5000};

	fx_open(&fx, NULL, 2);
	for (unsigned k = 0; k < 5; k++)
		fx_step_const(&fx, k, v, &t);
	assert_int_equal(mix_room_retire(fx.room, fx.p[1]), 0);
	fx.p[1] = NULL;
	assert_int_equal(mix_room_retiring(fx.room), 1);
	fx_close(&fx);
}

static void retire_refuses_a_stranger(void **state)
{
	room_fx_t a, b;

	fx_open(&a, NULL, 1);
	fx_open(&b, NULL, 1);
	assert_int_equal(mix_room_retire(a.room, b.p[0]), -ENOENT);
	assert_int_equal(mix_room_retire(NULL, a.p[0]), -ENOENT);
	assert_int_equal(mix_room_retiring(a.room), 0);
	fx_close(&a);
	fx_close(&b);
}

static void alone_hears_silence_or_itself_in_echo_mode(void **state)
{
	for (int echo = 0; echo <= 1; echo++) {
		room_fx_t fx;
		mix_tick_t t;
		mix_settings_t s;
		int16_t in[F_MAX], v[2] = {0, 1234};

		mix_settings_default(&s);
		s.echo = echo;
		fx_open(&fx, &s, 2);
		mix_room_remove(fx.room, fx.p[1]);
		for (unsigned k = 0; k < 8; k++) {
			sim_tone(in, fx.f, k * fx.f, 440, 8000, 8000);
			assert_int_equal(sim_push(fx.room, fx.p[0], k, in), 0);
			assert_int_equal(sim_tick(fx.room, k, &t), 0);
			if (k < SIM_DELAY)
				continue;
			int16_t want[F_MAX];

			sim_tone(want, fx.f, (k - SIM_DELAY) * fx.f, 440,
				 echo ? 8000 : 0, 8000);
			assert_memory_equal(sim_heard(&t, fx.p[0])->pcm, want,
					    fx.f * sizeof(int16_t));
		}
		/* Company ends the echo: mix-minus again. */
		assert_int_equal(mix_room_add(fx.room, fx.p[1]), 0);
		fx_step_const(&fx, 8, v, &t);
		assert_pcm_const(sim_heard(&t, fx.p[0]), fx.f, 0);
		fx_close(&fx);
	}
}

static void dtmf_is_recorded(void **state)
{
	room_fx_t fx;
	mix_participant_stats_t st;

	fx_open(&fx, NULL, 1);
	mix_participant_dtmf(fx.p[0], '5');
	mix_participant_dtmf(fx.p[0], '#');
	mix_participant_stats(fx.p[0], &st);
	assert_int_equal(st.dtmf_count, 2);
	assert_int_equal(st.last_dtmf, '#');
	fx_close(&fx);
}

static void live_settings_change_gate_norm_echo_only(void **state)
{
	mix_room_t *r = mix_room_new(NULL);
	mix_settings_t s = *mix_room_settings(r);

	s.norm = MIX_NORM_CLIP;
	s.echo = true;
	s.gate_threshold_dbfs = -30;
	s.gate_hangover_ms = 200;
	assert_int_equal(mix_room_set_live(r, &s), 0);
	assert_int_equal(mix_room_settings(r)->norm, MIX_NORM_CLIP);
	assert_true(mix_room_settings(r)->echo);
	assert_true(mix_room_settings(r)->gate_threshold_dbfs == -30);
	/* Buffer sizes cannot change, and a refusal changes nothing. */
	s.jitter_target_ms = 60;
	s.echo = false;
	assert_int_equal(mix_room_set_live(r, &s), -EINVAL);
	assert_true(mix_room_settings(r)->echo);
	assert_int_equal(mix_room_settings(r)->jitter_target_ms, 40);
	s = *mix_room_settings(r);
	s.frame_ms = 10;
	assert_int_equal(mix_room_set_live(r, &s), -EINVAL);
	s = *mix_room_settings(r);
	s.gate_attack_frames = 0; /* invalid */
	assert_int_equal(mix_room_set_live(r, &s), -EINVAL);
	mix_room_free(r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(settings_defaults_are_as_documented),
	    cmocka_unit_test(settings_insane_values_are_rejected),
	    cmocka_unit_test(norm_names_parse_both_ways),
	    cmocka_unit_test(live_settings_change_gate_norm_echo_only),
	    cmocka_unit_test(frame_size_derives_from_rate_and_frame_ms),
	    cmocka_unit_test(empty_room_tick_reports_nothing),
	    cmocka_unit_test(add_and_remove_report_errors),
	    cmocka_unit_test(mix_minus_constants_each_hears_exactly_the_others),
	    cmocka_unit_test(mix_minus_tones_each_hears_exactly_the_others),
	    cmocka_unit_test(mix_minus_works_at_other_rates_and_frames),
	    cmocka_unit_test(single_talker_passes_ulaw_bit_exact),
	    cmocka_unit_test(limiter_is_transparent_below_full_scale),
	    cmocka_unit_test(limiter_never_exceeds_full_scale_and_recovers),
	    cmocka_unit_test(average_divides_by_talkers_mixed),
	    cmocka_unit_test(clip_saturates),
	    cmocka_unit_test(gate_onset_is_mixed_and_hangover_is_exact),
	    cmocka_unit_test(gate_attack_setting_needs_that_many_loud_frames),
	    cmocka_unit_test(muted_participant_is_not_mixed),
	    cmocka_unit_test(deaf_participant_hears_silence_but_is_heard),
	    cmocka_unit_test(gain_scales_what_a_participant_sends),
	    cmocka_unit_test(join_and_leave_mid_stream),
	    cmocka_unit_test(retiring_participant_is_heard_to_its_last_frame),
	    cmocka_unit_test(room_free_frees_a_retiring_participant),
	    cmocka_unit_test(retire_refuses_a_stranger),
	    cmocka_unit_test(alone_hears_silence_or_itself_in_echo_mode),
	    cmocka_unit_test(dtmf_is_recorded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
