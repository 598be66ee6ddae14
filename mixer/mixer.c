/*
 * mixer.c - rooms, participants, the gate and the tick (see mixer.h).
 *
 * A tick, for a room of N participants of whom T are mixed ("talkers"):
 *   1. each participant's hand-off ring is drained into its jitter buffer,
 *      its frame for this slot taken out (concealed if lost), and its gate
 *      updated from the frame's energy: O(N);
 *   2. the talkers' frames (with their gain) are summed once in int32: O(T);
 *   3. each listener is given a mix: deaf ones the room's constant silence,
 *      talkers their own total - own (T of them, when T >= 2), everyone else
 *      the one shared total, normalized and encoded once: O(N + T).
 *
 * The gate. A frame is loud when its RMS is at or above the threshold (its
 * energy is compared with a precomputed sum of squares, so no log per
 * frame). A participant starts talking once `attack` consecutive frames are
 * loud, and stops after `hangover` of quiet frames, all of which are mixed.
 * Waiting for `attack` loud frames and then mixing from the last of them
 * would cut every word's onset; instead the gate looks ahead into the jitter
 * buffer, which already holds the next frames (the target delay's worth):
 * when the frame being mixed is loud and the frames after it that are
 * already here make the run of loud frames reach `attack`, talking starts
 * with this frame, so the onset is mixed. If the look-ahead frames have not
 * arrived yet (jitter beyond target - frame), it falls back to counting past
 * loud frames and the first attack - 1 frames of the word are lost. The
 * default attack is 2 frames (40 ms): a lone 20 ms click does not open the
 * gate, and the single look-ahead frame fits in the default 40 ms target.
 * A muted participant never talks.
 *
 * Levels are dBFS relative to 32768: a full-scale square wave is 0 dBFS.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "codec/base64.h"
#include "codec/g711.h"
#include "mixer/internal.h"

/* Default gate attack, in frames (see the top). */
#define MIX_GATE_ATTACK_FRAMES 2
/* Chunks the hand-off ring holds: 1 ms chunks for a whole cap, or more. */
#define RING_CHUNKS 256
/* The hand-off ring holds at least this much audio between two ticks. */
#define RING_MS		 500
#define LEVEL_FLOOR_DBFS (-120.0)

/* One distinct mix's buffers. */
typedef struct mix_buf {
	int16_t pcm[MIX_MAX_FRAME_SAMPLES];
	uint8_t ulaw[MIX_MAX_FRAME_SAMPLES];
	char b64[B64_ENCODED_LEN(MIX_MAX_FRAME_SAMPLES) + 1];
	size_t b64_len;
	mix_limiter_t lim; /* the limiter's state for this mix */
} mix_buf_t;

struct mix_participant {
	mix_room_t *room;
	void *user;
	mix_settings_t s; /* the settings it was made for */
	unsigned frame;

	mix_ring_t ring;
	mix_jitter_t jb;

	bool muted, deaf;
	double gain_db;
	int32_t gain_q16;   /* 65536 is unity, and then no multiply at all */
	double gate_energy; /* loud when the frame's sum of squares >= this */

	bool talking, mixed;
	/* Left, still playing out its buffer: mixed, never a listener,
	 * freed by the room after retire_left more ticks at most. */
	bool retiring;
	unsigned retire_left;
	unsigned loud_run, quiet_run;
	uint64_t energy; /* sum of squares of the last frame, before gain */

	int16_t frames[2][MIX_MAX_FRAME_SAMPLES]; /* this tick's and last's */
	int16_t *in;				  /* this tick's: one of them */
	int32_t own[MIX_MAX_FRAME_SAMPLES];	  /* with gain, when mixed */
	mix_buf_t *priv;			  /* its total - own mix */
	bool priv_live; /* priv was produced last tick */

	uint64_t frames_mixed;
	unsigned dtmf_count;
	char last_dtmf;
	/* Written by the producer thread, read by stats. */
	_Atomic uint64_t frames_received, samples_received, frames_dropped_full;
};

struct mix_room {
	mix_settings_t s;
	unsigned frame;
	unsigned attack, hangover; /* in frames */
	mix_limiter_cfg_t lim;

	mix_participant_t **parts;
	unsigned n, cap;
	unsigned retiring; /* of the n, how many are retiring */
	mix_participant_t **talkers;
	mix_out_t *mixes;
	mix_listener_t *listeners;
	mix_talk_event_t *events;

	int32_t total[MIX_MAX_FRAME_SAMPLES];
	int32_t scratch[MIX_MAX_FRAME_SAMPLES];
	mix_buf_t shared, silence;

	uint64_t ticks, limiter_active;
	unsigned talkers_last, mixes_last;
	int32_t peak;
};

/* ---- settings ---- */

void mix_settings_default(mix_settings_t *s)
{
	*s = (mix_settings_t){
	    .rate = 8000,
	    .frame_ms = 20,
	    .window_ms = 30,
	    .jitter_target_ms = 40,
	    .jitter_cap_ms = 200,
	    .gate_threshold_dbfs = -45.0,
	    .gate_attack_frames = MIX_GATE_ATTACK_FRAMES,
	    .gate_hangover_ms = 800,
	    .norm = MIX_NORM_LIMITER,
	    .echo = false,
	};
}

int mix_settings_validate(const mix_settings_t *s)
{
	if (!s || s->rate < 8000 || s->rate > 48000 || s->rate % 1000)
		return -EINVAL;
	if (s->frame_ms != 10 && s->frame_ms != 20 && s->frame_ms != 30 &&
	    s->frame_ms != 40)
		return -EINVAL;
	if (s->rate / 1000 * s->frame_ms > MIX_MAX_FRAME_SAMPLES)
		return -EINVAL;
	if (s->window_ms > 1000 || s->jitter_target_ms > 1000 ||
	    s->jitter_cap_ms > 2000 ||
	    s->jitter_cap_ms < s->jitter_target_ms + s->frame_ms)
		return -EINVAL;
	if (!(s->gate_threshold_dbfs >= -120.0 &&
	      s->gate_threshold_dbfs <= 0.0))
		return -EINVAL;
	if (s->gate_attack_frames < 1 || s->gate_attack_frames > 10 ||
	    s->gate_hangover_ms > 10000)
		return -EINVAL;
	if ((unsigned)s->norm > MIX_NORM_CLIP)
		return -EINVAL;
	return 0;
}

static const char *const norm_names[] = {"limiter", "average", "clip"};

int mix_norm_parse(const char *name, mix_norm_t *out)
{
	for (unsigned i = 0; name && i < 3; i++) {
		if (strcmp(name, norm_names[i]) == 0) {
			*out = (mix_norm_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mix_norm_name(mix_norm_t norm)
{
	return (unsigned)norm <= MIX_NORM_CLIP ? norm_names[norm] : "unknown";
}

/* ---- rooms ---- */

static void encode(mix_buf_t *b, unsigned frame)
{
	g711_ulaw_encode_buf(b->ulaw, b->pcm, frame);
	b->b64_len = (size_t)b64_encode(b->b64, sizeof(b->b64), b->ulaw, frame);
}

mix_room_t *mix_room_new(const mix_settings_t *settings)
{
	mix_settings_t s;

	if (settings)
		s = *settings;
	else
		mix_settings_default(&s);
	if (mix_settings_validate(&s) != 0)
		return NULL;

	mix_room_t *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	r->frame = s.rate / 1000 * s.frame_ms;
	r->attack = s.gate_attack_frames;
	r->hangover = (s.gate_hangover_ms + s.frame_ms - 1) / s.frame_ms;
	mix__limiter_cfg(&r->lim, s.rate);
	r->shared.lim.gain = 1.0f;
	encode(&r->silence, r->frame);
	return r;
}

void mix_room_free(mix_room_t *room)
{
	if (!room)
		return;
	for (unsigned i = 0; i < room->n; i++) {
		mix_participant_t *p = room->parts[i];

		p->room = NULL;
		if (p->retiring) /* the room's own now */
			mix_participant_free(p);
	}
	free(room->parts);
	free(room->talkers);
	free(room->mixes);
	free(room->listeners);
	free(room->events);
	free(room);
}

const mix_settings_t *mix_room_settings(const mix_room_t *room)
{
	return room ? &room->s : NULL;
}

unsigned mix_room_frame_samples(const mix_room_t *room)
{
	return room ? room->frame : 0;
}

unsigned mix_room_count(const mix_room_t *room)
{
	return room ? room->n - room->retiring : 0;
}

unsigned mix_room_retiring(const mix_room_t *room)
{
	return room ? room->retiring : 0;
}

static double dbfs(double mean_square)
{
	double db = 10.0 * log10(mean_square / (32768.0 * 32768.0));

	return db > LEVEL_FLOOR_DBFS ? db : LEVEL_FLOOR_DBFS;
}

void mix_room_stats(const mix_room_t *room, mix_room_stats_t *out)
{
	if (!room || !out)
		return;
	*out = (mix_room_stats_t){
	    .ticks = room->ticks,
	    .participants = room->n,
	    .talkers = room->talkers_last,
	    .mixes_last = room->mixes_last,
	    .limiter_active_frames = room->limiter_active,
	    .peak_dbfs = dbfs((double)room->peak * room->peak),
	};
}

/* Grows the per-participant arrays to hold cap participants. */
static int reserve(mix_room_t *r, unsigned cap)
{
	if (cap <= r->cap)
		return 0;
	cap = cap < 2 * r->cap ? 2 * r->cap : cap;
	void *p;

#define GROW(field, count)                                                     \
	do {                                                                   \
		p = realloc(r->field, (count) * sizeof(*r->field));            \
		if (!p)                                                        \
			return -ENOMEM;                                        \
		r->field = p;                                                  \
	} while (0)
	GROW(parts, cap);
	GROW(talkers, cap);
	GROW(mixes, cap + 2);
	GROW(listeners, cap);
	GROW(events, cap);
#undef GROW
	r->cap = cap;
	return 0;
}

int mix_room_add(mix_room_t *room, mix_participant_t *p)
{
	if (!room || !p)
		return -EINVAL;
	if (p->room)
		return -EEXIST;
	if (p->s.rate != room->s.rate || p->frame != room->frame ||
	    p->s.jitter_cap_ms != room->s.jitter_cap_ms ||
	    p->s.jitter_target_ms != room->s.jitter_target_ms ||
	    p->s.window_ms != room->s.window_ms)
		return -EINVAL;
	int rc = reserve(room, room->n + 1);

	if (rc)
		return rc;
	room->parts[room->n++] = p;
	p->room = room;
	p->talking = p->mixed = false;
	p->loud_run = p->quiet_run = 0;
	p->priv_live = false;
	return 0;
}

int mix_room_remove(mix_room_t *room, mix_participant_t *p)
{
	if (!room || !p || p->room != room)
		return -ENOENT;
	for (unsigned i = 0; i < room->n; i++) {
		if (room->parts[i] == p) {
			memmove(room->parts + i, room->parts + i + 1,
				(room->n - i - 1) * sizeof(*room->parts));
			room->n--;
			break;
		}
	}
	if (p->retiring)
		room->retiring--;
	p->room = NULL;
	return 0;
}

int mix_room_retire(mix_room_t *room, mix_participant_t *p)
{
	if (!room || !p || p->room != room || p->retiring)
		return -ENOENT;
	p->retiring = true;
	p->user = NULL;
	/* What it can still hold: the target delay, a frame being filled,
	 * and one frame of drift correction. */
	p->retire_left = (room->s.jitter_target_ms + room->s.frame_ms - 1) /
			     room->s.frame_ms +
			 2;
	room->retiring++;
	return 0;
}

/* ---- participants ---- */

static void update_gate_energy(mix_participant_t *p)
{
	double rms = 32768.0 * pow(10.0, p->s.gate_threshold_dbfs / 20.0);
	double g = p->gain_q16 / 65536.0;

	p->gate_energy = rms * rms * p->frame / (g * g);
}

int mix_room_set_live(mix_room_t *room, const mix_settings_t *s)
{
	const mix_settings_t *o = room ? &room->s : NULL;

	if (!room || !s || mix_settings_validate(s) != 0 ||
	    s->rate != o->rate || s->frame_ms != o->frame_ms ||
	    s->window_ms != o->window_ms ||
	    s->jitter_target_ms != o->jitter_target_ms ||
	    s->jitter_cap_ms != o->jitter_cap_ms)
		return -EINVAL;
	room->s = *s;
	room->attack = s->gate_attack_frames;
	room->hangover = (s->gate_hangover_ms + s->frame_ms - 1) / s->frame_ms;
	for (unsigned i = 0; i < room->n; i++) {
		mix_participant_t *p = room->parts[i];

		p->s.gate_threshold_dbfs = s->gate_threshold_dbfs;
		update_gate_energy(p);
	}
	return 0;
}

mix_participant_t *mix_participant_new(const mix_room_t *room, void *user)
{
	if (!room)
		return NULL;
	mix_participant_t *p = calloc(1, sizeof(*p));
	uint32_t ring = 64;

	if (!p)
		return NULL;
	p->user = user;
	p->s = room->s;
	p->frame = room->frame;
	p->gain_q16 = 65536;
	p->in = p->frames[0];
	p->priv = calloc(1, sizeof(*p->priv));
	while (ring < room->s.rate / 1000 * RING_MS)
		ring <<= 1;
	if (!p->priv || mix__ring_init(&p->ring, ring, RING_CHUNKS) ||
	    mix__jb_init(&p->jb, &room->s)) {
		mix_participant_free(p);
		return NULL;
	}
	p->priv->lim.gain = 1.0f;
	update_gate_energy(p);
	atomic_init(&p->frames_received, 0);
	atomic_init(&p->samples_received, 0);
	atomic_init(&p->frames_dropped_full, 0);
	return p;
}

void mix_participant_free(mix_participant_t *p)
{
	if (!p)
		return;
	if (p->room)
		mix_room_remove(p->room, p);
	mix__ring_free(&p->ring);
	mix__jb_free(&p->jb);
	free(p->priv);
	free(p);
}

void *mix_participant_user(const mix_participant_t *p)
{
	return p ? p->user : NULL;
}

void mix_participant_set_muted(mix_participant_t *p, bool muted)
{
	if (p)
		p->muted = muted;
}

void mix_participant_set_deaf(mix_participant_t *p, bool deaf)
{
	if (p)
		p->deaf = deaf;
}

void mix_participant_set_gain_db(mix_participant_t *p, double db)
{
	if (!p || isnan(db))
		return;
	db = db < -60.0 ? -60.0 : db > 20.0 ? 20.0 : db;
	p->gain_db = db;
	/* 0 dB is exactly 65536: bit-transparent. */
	p->gain_q16 = (int32_t)lrint(65536.0 * pow(10.0, db / 20.0));
	update_gate_energy(p);
}

void mix_participant_dtmf(mix_participant_t *p, char digit)
{
	if (!p)
		return;
	p->dtmf_count++;
	p->last_dtmf = digit;
}

void mix_participant_stats(const mix_participant_t *p,
			   mix_participant_stats_t *out)
{
	if (!p || !out)
		return;
	double g = p->gain_q16 / 65536.0;

	*out = (mix_participant_stats_t){
	    .frames_received =
		atomic_load_explicit(&p->frames_received, memory_order_relaxed),
	    .samples_received = atomic_load_explicit(&p->samples_received,
						     memory_order_relaxed),
	    .frames_mixed = p->frames_mixed,
	    .frames_late = p->jb.late,
	    .frames_dropped_cap = p->jb.dropped_cap,
	    .frames_dropped_full = atomic_load_explicit(&p->frames_dropped_full,
							memory_order_relaxed),
	    .frames_concealed = p->jb.concealed,
	    .frames_duplicate = p->jb.duplicate,
	    .samples_stretched = p->jb.stretched,
	    .samples_squeezed = p->jb.squeezed,
	    .delay_ms = p->jb.delay_ms,
	    .delay_max_ms = p->jb.delay_max_ms,
	    .talking = p->talking,
	    .level_dbfs = dbfs((double)p->energy * g * g / p->frame),
	    .dtmf_count = p->dtmf_count,
	    .last_dtmf = p->last_dtmf,
	};
}

int mix_participant_push(mix_participant_t *p, const int16_t *samples, size_t n,
			 uint32_t stream_ms, uint64_t arrival_ns)
{
	if (!p || (!samples && n))
		return -EINVAL;
	if (n == 0)
		return 0;
	int rc = n > UINT32_MAX ? -ENOSPC
				: mix__ring_push(&p->ring, samples, (uint32_t)n,
						 stream_ms, arrival_ns);

	/* Only this thread writes these; relaxed is enough for statistics. */
	atomic_fetch_add_explicit(&p->frames_received, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->samples_received, n,
				  memory_order_relaxed);
	if (rc)
		atomic_fetch_add_explicit(&p->frames_dropped_full, 1,
					  memory_order_relaxed);
	return rc;
}

/* ---- the tick ---- */

struct drain_ctx {
	mix_jitter_t *jb;
	uint64_t now;
};

static void drain_one(void *ctx, const mix_chunk_t *c, const int16_t *a,
		      uint32_t na, const int16_t *b, uint32_t nb)
{
	struct drain_ctx *d = ctx;

	mix__jb_put(d->jb, c, a, na, b, nb, d->now);
}

/*
 * Sum of squares of a frame, exactly: the gate's and the level's input, for
 * every participant every tick. With SSE2 (all of x86-64), pmaddwd squares
 * 8 samples and adds them in pairs; a pair is at most 2^31, which fits the
 * lane read as unsigned, and is widened into 64-bit sums. gcc 12 does not
 * find this by itself. Elsewhere, the plain loop.
 */
#ifdef __SSE2__
static uint64_t energy_of(const int16_t *s, unsigned n)
{
	__m128i acc = _mm_setzero_si128(), zero = _mm_setzero_si128();
	unsigned i = 0;
	uint64_t lanes[2];

	for (; i + 8 <= n; i += 8) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
		__m128i sq = _mm_madd_epi16(x, x);

		acc = _mm_add_epi64(acc, _mm_unpacklo_epi32(sq, zero));
		acc = _mm_add_epi64(acc, _mm_unpackhi_epi32(sq, zero));
	}
	_mm_storeu_si128((__m128i *)lanes, acc);
	uint64_t e = lanes[0] + lanes[1];

	for (; i < n; i++)
		e += (uint64_t)((int32_t)s[i] * s[i]);
	return e;
}
#else
static uint64_t energy_of(const int16_t *s, unsigned n)
{
	uint64_t e = 0;

	for (unsigned i = 0; i < n; i++)
		e += (uint64_t)((int32_t)s[i] * s[i]);
	return e;
}
#endif

/* Updates p's gate from this frame's energy; returns true on a change. */
static bool gate(const mix_room_t *r, mix_participant_t *p)
{
	bool was = p->talking;

	if (p->muted) {
		p->talking = false;
		p->loud_run = p->quiet_run = 0;
		return was;
	}
	if ((double)p->energy >= p->gate_energy) {
		p->loud_run++;
		p->quiet_run = 0;
	} else {
		p->loud_run = 0;
		p->quiet_run++;
	}
	if (!p->talking && p->loud_run) {
		unsigned run = p->loud_run;
		uint64_t e;

		/* Look ahead: the next frames are already buffered. */
		for (unsigned k = 0; run < r->attack; k++, run++) {
			if (!mix__jb_peek_energy(&p->jb, k, &e) ||
			    (double)e < p->gate_energy)
				break;
		}
		p->talking = run >= r->attack;
	} else if (p->talking && p->quiet_run > r->hangover) {
		p->talking = false;
	}
	return p->talking != was;
}

static void apply_gain(mix_participant_t *p)
{
	unsigned f = p->frame;

	if (p->gain_q16 == 65536) {
		for (unsigned i = 0; i < f; i++)
			p->own[i] = p->in[i];
		return;
	}
	for (unsigned i = 0; i < f; i++)
		p->own[i] =
		    (int32_t)(((int64_t)p->in[i] * p->gain_q16 + 32768) >> 16);
}

static unsigned list_mix(mix_room_t *r, unsigned *n_mixes, const mix_buf_t *b)
{
	r->mixes[*n_mixes] = (mix_out_t){.pcm = b->pcm,
					 .ulaw = b->ulaw,
					 .b64 = b->b64,
					 .b64_len = b->b64_len};
	return (*n_mixes)++;
}

/* Normalizes and encodes one mix into b and lists it; returns its index. */
static unsigned produce(mix_room_t *r, unsigned *n_mixes, mix_buf_t *b,
			const int32_t *sum, unsigned talkers)
{
	bool limited;
	int32_t peak = mix__normalize(r->s.norm, &r->lim, sum, r->frame,
				      talkers, &b->lim, b->pcm, &limited);

	if (limited)
		r->limiter_active++;
	if (peak > r->peak)
		r->peak = peak;
	encode(b, r->frame);
	return list_mix(r, n_mixes, b);
}

/* Step 1 for one participant: drain, take this slot's frame, gate. */
static void take_frame(mix_room_t *r, mix_participant_t *p, uint64_t now,
		       unsigned *n_events)
{
	struct drain_ctx d = {.jb = &p->jb, .now = now};

	const int16_t *prev = p->in;

	mix__ring_drain(&p->ring, drain_one, &d);
	p->in = prev == p->frames[0] ? p->frames[1] : p->frames[0];
	int got = mix__jb_take(&p->jb, now, p->in, prev);

	p->energy = energy_of(p->in, r->frame);
	if (p->retiring) {
		/* Its buffered audio plays out through the gate as before;
		 * once nothing real is left (or time is up) it is done. No
		 * events: nobody holds it any more. */
		gate(r, p);
		if (got != MIX_JB_AUDIO || p->retire_left-- == 0) {
			p->mixed = false;
			p->retire_left = 0;
			return;
		}
	} else if (gate(r, p)) {
		r->events[(*n_events)++] =
		    (mix_talk_event_t){.p = p, .talking = p->talking};
	}
	p->mixed = p->talking;
}

/* Frees the retiring participants that have played out. */
static void reap(mix_room_t *r)
{
	for (unsigned i = 0; i < r->n;) {
		mix_participant_t *p = r->parts[i];

		if (p->retiring && p->retire_left == 0) {
			mix_participant_free(p); /* removes it from r */
			continue;
		}
		i++;
	}
}

int mix_room_tick(mix_room_t *r, uint64_t now_ns, mix_tick_t *out)
{
	if (!r || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (r->n == 0)
		return 0;

	unsigned f = r->frame, n_events = 0, n_talkers = 0, n_mixes = 0;

	for (unsigned i = 0; i < r->n; i++) {
		mix_participant_t *p = r->parts[i];

		take_frame(r, p, now_ns, &n_events);
		if (p->mixed) {
			apply_gain(p);
			p->frames_mixed++;
			r->talkers[n_talkers++] = p;
		}
	}

	if (n_talkers) {
		memcpy(r->total, r->talkers[0]->own, f * sizeof(*r->total));
		for (unsigned t = 1; t < n_talkers; t++) {
			const int32_t *own = r->talkers[t]->own;

			for (unsigned i = 0; i < f; i++)
				r->total[i] += own[i];
		}
	}

	/* Distinct mixes are listed as first needed. */
	int silence = -1, shared = -1;
	unsigned n_listeners = 0;

	for (unsigned i = 0; i < r->n; i++) {
		mix_participant_t *p = r->parts[i];
		bool alone = r->n == 1;

		if (p->retiring) {
			p->priv_live = false;
			continue;
		}
		bool hears_total =
		    !p->deaf && n_talkers && (alone ? r->s.echo : !p->mixed);
		bool hears_minus =
		    !p->deaf && !alone && p->mixed && n_talkers >= 2;
		unsigned mix;

		if (hears_minus) {
			if (!p->priv_live) /* continue the shared limiter */
				p->priv->lim = r->shared.lim;
			for (unsigned k = 0; k < f; k++)
				r->scratch[k] = r->total[k] - p->own[k];
			mix = produce(r, &n_mixes, p->priv, r->scratch,
				      n_talkers - 1);
		} else if (hears_total) {
			if (shared < 0)
				shared = (int)produce(r, &n_mixes, &r->shared,
						      r->total, n_talkers);
			mix = (unsigned)shared;
		} else {
			if (silence < 0)
				silence =
				    (int)list_mix(r, &n_mixes, &r->silence);
			mix = (unsigned)silence;
		}
		p->priv_live = hears_minus;
		r->listeners[n_listeners++] =
		    (mix_listener_t){.p = p, .mix = mix};
	}
	if (shared < 0)
		mix__limiter_idle(&r->lim, &r->shared.lim, f);

	r->ticks++;
	r->talkers_last = n_talkers;
	if (r->retiring)
		reap(r);
	r->mixes_last = n_mixes;
	*out = (mix_tick_t){
	    .tick = r->ticks,
	    .mixes = r->mixes,
	    .n_mixes = n_mixes,
	    .listeners = r->listeners,
	    .n_listeners = n_listeners,
	    .events = r->events,
	    .n_events = n_events,
	};
	return 0;
}
