/*
 * jitter.c - one participant's jitter buffer: stream time to room slots.
 *
 * Time. The first chunk anchors the stream: anchor = arrival - stream time,
 * the server time at which stream position 0 "happened". At a tick at now,
 * the nominal slot is
 *
 *	P = (now - anchor) * rate - target + adj		(in samples)
 *
 * so audio waits `target` in the buffer, and adj is the correction that drift
 * control and the cap apply. Audio is filed by its stream position, never by
 * arrival, into a ring with a presence bit per sample: reordered chunks land
 * where they belong, a duplicate finds its samples present and is ignored,
 * and chunks of any size re-frame for free. Millisecond timestamps cannot
 * express every chunk boundary (137 samples is 17.125 ms), so a chunk that
 * starts within 1 ms of where the previous one ended is taken as contiguous.
 *
 * The play cursor rd normally equals P. When the stream stalls (nothing at
 * rd and nothing after it: TCP head-of-line blocking, the usual jitter on a
 * WebSocket), the tick conceals and holds rd, as long as that keeps rd within
 * the alignment window behind P; audio that then arrives is still played. rd
 * catches up with P one sample per tick (the quietest sample of a frame is
 * dropped), and if it ever falls more than the window behind, it jumps to P
 * and what it skips is late. Audio behind rd has had its slot: it is late,
 * dropped and counted.
 *
 * Drift. Each chunk's lead (how early it came, relative to the anchor) is
 * measured at filing; the largest lead over the last one to two seconds is
 * the buffer's true headroom, since network delay only ever makes chunks
 * later. When it is more than 1 ms away from the target, adj moves by one
 * sample per tick, and rd follows by dropping or repeating the quietest
 * sample of a frame. That absorbs ±100 ppm (0.8 samples/s at 8 kHz) with
 * room to spare (up to 50 samples/s), and also trims extra delay left by a
 * first chunk that happened to arrive late.
 *
 * Cap. Audio more than `cap` ahead of rd makes the oldest audio go: rd (and
 * adj with it) jumps forward. A chunk more than REANCHOR_MS behind (a
 * restarted stream) makes the buffer re-anchor on it, forgetting what it
 * still held of the old stream (about the target delay's worth).
 *
 * Concealment. A lost frame is replaced by the last frame played, mirrored
 * in time and faded out linearly: the mirror starts exactly where the last
 * frame ended (no step, no click) and the fade ends at zero; further lost
 * frames are silence. The first real frame after a loss is faded in.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mixer/internal.h"

#define NONE INT64_MIN
/* Ticks per drift-measuring period (about 1 s at 20 ms frames). */
#define DRIFT_PERIOD_TICKS 50
/* A chunk this far behind the play cursor means a restarted stream. */
#define REANCHOR_MS 1000

static inline int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Stream position due at server time t, before target and adj. Constant
 * divisors only: this runs per participant per tick, and per chunk. */
static int64_t due(const mix_jitter_t *jb, uint64_t t)
{
	int64_t us = floordiv((int64_t)t - jb->anchor_ns, 1000);

	return floordiv(us * (int64_t)jb->per_ms, 1000);
}

static int64_t slot(const mix_jitter_t *jb, uint64_t now)
{
	return due(jb, now) - jb->target + jb->adj;
}

/* ---- presence bits over the ring ---- */

enum { BITS_COUNT, BITS_SET, BITS_CLEAR, BITS_ANY, BITS_ALL };

/* Applies op to the bits of n positions from pos (n <= size). COUNT returns
 * how many are set, ANY and ALL return 1 or 0; SET and CLEAR return 0. Only
 * COUNT needs popcount, a library call without -mpopcnt: the per-frame path
 * uses the others, and COUNT only serves statistics of dropped audio.
 * The per-frame path calls this five times per participant per tick, so the
 * loop is kept to a few instructions a word: the ring's size is a multiple
 * of 64, so a word never straddles its wrap, and a mask of take bits is ~0
 * shifted right by 64 - take (take is 1 to 64), with no branch. */
static inline unsigned bits_op(uint64_t *bits, uint32_t mask, int64_t pos,
			       uint32_t n, int op)
{
	unsigned was = 0;
	uint32_t i = (uint32_t)pos & mask;

	while (n) {
		uint32_t w = i >> 6, b = i & 63;
		uint32_t take = 64 - b < n ? 64 - b : n;
		uint64_t m = (~0ULL >> (64 - take)) << b;

		if (op == BITS_SET)
			bits[w] |= m;
		else if (op == BITS_CLEAR)
			bits[w] &= ~m;
		else if (op == BITS_ANY && (bits[w] & m))
			return 1;
		else if (op == BITS_ALL && (bits[w] & m) != m)
			return 0;
		else if (op == BITS_COUNT)
			was += (unsigned)__builtin_popcountll(bits[w] & m);
		i = (i + take) & mask;
		n -= take;
	}
	return op == BITS_ALL ? 1 : was;
}

static bool present(const mix_jitter_t *jb, int64_t pos)
{
	uint32_t i = (uint32_t)pos & jb->mask;

	return jb->bits[i >> 6] >> (i & 63) & 1;
}

/* Forgets [from, to), returning how many samples were there. */
static unsigned forget(mix_jitter_t *jb, int64_t from, int64_t to)
{
	if (to <= from)
		return 0;
	if (to - from >= jb->size) {
		unsigned was =
		    bits_op(jb->bits, jb->mask, 0, jb->size, BITS_COUNT);
		memset(jb->bits, 0, jb->size / 8);
		return was;
	}
	unsigned was = bits_op(jb->bits, jb->mask, from, (uint32_t)(to - from),
			       BITS_COUNT);

	bits_op(jb->bits, jb->mask, from, (uint32_t)(to - from), BITS_CLEAR);
	return was;
}

static uint64_t frames_of(const mix_jitter_t *jb, unsigned samples)
{
	return (samples + jb->frame - 1) / jb->frame;
}

/* ---- life cycle ---- */

int mix__jb_init(mix_jitter_t *jb, const mix_settings_t *s)
{
	memset(jb, 0, sizeof(*jb));
	jb->rate = s->rate;
	jb->per_ms = s->rate / 1000;
	jb->frame = jb->per_ms * s->frame_ms;
	jb->target = jb->per_ms * s->jitter_target_ms;
	jb->window = jb->per_ms * s->window_ms;
	jb->cap = jb->per_ms * s->jitter_cap_ms;
	/* Room for the cap, the window behind rd, and a few frames of
	 * look-ahead and correction. */
	uint32_t need = jb->cap + jb->window + 4 * jb->frame;

	jb->size = 64;
	while (jb->size < need)
		jb->size <<= 1;
	jb->mask = jb->size - 1;
	jb->buf = calloc(jb->size, sizeof(*jb->buf));
	jb->bits = calloc(jb->size / 64, sizeof(*jb->bits));
	if (!jb->buf || !jb->bits) {
		mix__jb_free(jb);
		return -ENOMEM;
	}
	jb->lead_cur = jb->lead_prev = NONE;
	return 0;
}

void mix__jb_free(mix_jitter_t *jb)
{
	free(jb->buf);
	free(jb->bits);
	jb->buf = NULL;
	jb->bits = NULL;
}

static void anchor(mix_jitter_t *jb, const mix_chunk_t *c, int64_t pos,
		   uint64_t now)
{
	forget(jb, 0, jb->size);
	jb->anchor_ns =
	    (int64_t)c->arrival_ns - pos * 1000000000 / (int64_t)jb->rate;
	jb->adj = 0;
	jb->rd = slot(jb, now);
	jb->hi = jb->hi_start = jb->rd;
	jb->hi_arrival = c->arrival_ns;
	jb->lead_cur = jb->lead_prev = NONE;
	jb->period_ticks = 0;
	jb->anchored = true;
}

/* ---- filing audio ---- */

/* Copies n samples from src to stream position pos, skipping any already
 * present; returns whether some were (a duplicate). */
static bool file_piece(mix_jitter_t *jb, int64_t pos, const int16_t *src,
		       uint32_t n)
{
	if (!bits_op(jb->bits, jb->mask, pos, n, BITS_ANY)) {
		uint32_t at = (uint32_t)pos & jb->mask;
		uint32_t first = jb->size - at;

		if (first > n)
			first = n;
		memcpy(jb->buf + at, src, first * sizeof(*src));
		if (n > first) /* wraps: rarely, so no empty call */
			memcpy(jb->buf, src + first,
			       (n - first) * sizeof(*src));
		bits_op(jb->bits, jb->mask, pos, n, BITS_SET);
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!present(jb, pos + i)) {
			jb->buf[(uint32_t)(pos + i) & jb->mask] = src[i];
			bits_op(jb->bits, jb->mask, pos + i, 1, BITS_SET);
		}
	}
	return true;
}

/* Drops everything before new_rd, counting it as dropped at the cap; the
 * slot moves with rd, so the delay really shrinks. */
static void drop_oldest(mix_jitter_t *jb, int64_t new_rd)
{
	jb->dropped_cap += frames_of(jb, forget(jb, jb->rd, new_rd));
	jb->adj += new_rd - jb->rd;
	jb->rd = new_rd;
	jb->lead_cur = jb->lead_prev = NONE;
}

void mix__jb_put(mix_jitter_t *jb, const mix_chunk_t *c, const int16_t *a,
		 uint32_t na, const int16_t *b, uint32_t nb, uint64_t now_ns)
{
	int64_t pos = (int64_t)c->stream_ms * jb->per_ms;
	int64_t n = c->n;

	if (n == 0)
		return;
	if (jb->anchored && llabs(pos - jb->last_end) < jb->per_ms)
		pos = jb->last_end;
	if (!jb->anchored || pos + n < jb->rd - REANCHOR_MS * jb->per_ms)
		anchor(jb, c, pos, now_ns);
	jb->last_end = pos + n;

	int64_t lead = pos - due(jb, c->arrival_ns);

	if (lead > jb->lead_cur)
		jb->lead_cur = lead;

	/* The part behind the play cursor has had its slot. */
	int64_t skip = jb->rd - pos;

	if (skip > 0) {
		jb->late++;
		if (skip >= n)
			return;
	} else {
		skip = 0;
	}
	if (pos + n - jb->rd > jb->cap) {
		drop_oldest(jb, pos + n - jb->cap);
		if (jb->rd - pos > skip)
			skip = jb->rd - pos;
	}

	bool dup = false;
	/* Walk the two pieces, starting skip samples in. */
	int64_t at = pos;

	if (skip < na) {
		dup |=
		    file_piece(jb, at + skip, a + skip, (uint32_t)(na - skip));
		skip = 0;
	} else {
		skip -= na;
	}
	at += na;
	if (nb && skip < nb)
		dup |=
		    file_piece(jb, at + skip, b + skip, (uint32_t)(nb - skip));
	if (dup)
		jb->duplicate++;
	if (pos + n > jb->hi) {
		jb->hi = pos + n;
		jb->hi_start = pos;
		jb->hi_arrival = c->arrival_ns;
	}
}

/* ---- playing ---- */

/* Moves adj one sample toward the measured headroom (see the top). */
static void drift_control(mix_jitter_t *jb)
{
	if (++jb->period_ticks >= DRIFT_PERIOD_TICKS) {
		jb->period_ticks = 0;
		jb->lead_prev = jb->lead_cur;
		jb->lead_cur = NONE;
	}
	int64_t lead =
	    jb->lead_cur > jb->lead_prev ? jb->lead_cur : jb->lead_prev;
	if (lead == NONE)
		return;
	int64_t err = lead - jb->adj;

	if (err > (int64_t)jb->per_ms)
		jb->adj++;
	else if (err < -(int64_t)jb->per_ms)
		jb->adj--;
}

static void conceal(mix_jitter_t *jb, int16_t *out, const int16_t *last)
{
	unsigned f = jb->frame;

	if (jb->concealed_run++ > 0 || !jb->started) {
		memset(out, 0, f * sizeof(*out));
		return;
	}
	for (unsigned i = 0; i < f; i++)
		out[i] = (int16_t)((int32_t)last[f - 1 - i] * (int32_t)(f - i) /
				   (int32_t)f);
}

static unsigned quietest(const int16_t *s, unsigned n)
{
	unsigned best = 0, mag = 65536;

	for (unsigned i = 0; i < n; i++) {
		unsigned m = (unsigned)abs(s[i]);

		if (m < mag) {
			mag = m;
			best = i;
		}
	}
	return best;
}

/* Reads n samples from pos (absent ones as 0) and forgets them. */
static void read_out(mix_jitter_t *jb, int64_t pos, unsigned n, int16_t *dst)
{
	uint32_t at = (uint32_t)pos & jb->mask;
	uint32_t first = jb->size - at;

	if (first > n)
		first = n;
	memcpy(dst, jb->buf + at, first * sizeof(*dst));
	if (n > first) /* wraps: rarely, so no empty call */
		memcpy(dst + first, jb->buf, (n - first) * sizeof(*dst));
	if (!bits_op(jb->bits, jb->mask, pos, n, BITS_ALL)) {
		/* A partial frame: a hole is silence, not stale audio. */
		for (unsigned i = 0; i < n; i++)
			if (!present(jb, pos + (int64_t)i))
				dst[i] = 0;
	}
	bits_op(jb->bits, jb->mask, pos, n, BITS_CLEAR);
}

int mix__jb_take(mix_jitter_t *jb, uint64_t now_ns, int16_t *out,
		 const int16_t *prev)
{
	unsigned f = jb->frame;

	if (!jb->anchored) {
		memset(out, 0, f * sizeof(*out));
		return MIX_JB_IDLE;
	}
	drift_control(jb);
	int64_t p = slot(jb, now_ns);
	int64_t lag = p - jb->rd;

	if (lag > (int64_t)jb->window) {
		/* Too far behind the slot: skip to it; what is skipped is
		 * late. */
		jb->late += frames_of(jb, forget(jb, jb->rd, p));
		jb->rd = p;
		lag = 0;
	} else if (lag < -(int64_t)(jb->window + f)) {
		/* The slot went back (a clock that jumped): move the slot,
		 * never the cursor, so nothing is played twice. */
		jb->adj -= lag;
		jb->lead_cur = jb->lead_prev = NONE;
		lag = 0;
	}
	/* The delay: from the newest chunk's arrival to its playing. */
	int64_t wait_us = (jb->hi_start - jb->rd) * 1000 / jb->per_ms +
			  ((int64_t)now_ns - (int64_t)jb->hi_arrival) / 1000;

	jb->delay_ms = wait_us > 0 ? (unsigned)((wait_us + 500) / 1000) : 0;
	if (jb->delay_ms > jb->delay_max_ms)
		jb->delay_max_ms = jb->delay_ms;

	if (!bits_op(jb->bits, jb->mask, jb->rd, f, BITS_ANY)) {
		bool ahead = jb->hi > jb->rd + f;
		bool was_started = jb->started;

		conceal(jb, out, prev);
		if (!was_started || ahead || lag + f > jb->window)
			jb->rd += f;
		if (!was_started)
			return MIX_JB_IDLE;
		jb->concealed++;
		return MIX_JB_CONCEALED;
	}

	/* One sample of correction toward the slot, at the quietest point. */
	int d = lag > 0 ? 1 : lag < 0 ? -1 : 0;
	int16_t src[MIX_MAX_FRAME_SAMPLES + 1];
	unsigned n = (unsigned)((int)f + d);

	if (d == 0) {
		read_out(jb, jb->rd, n, out);
	} else if (d > 0) {
		read_out(jb, jb->rd, n, src);
		unsigned q = quietest(src, n);

		memcpy(out, src, q * sizeof(*out));
		memcpy(out + q, src + q + 1, (f - q) * sizeof(*out));
		jb->squeezed++;
	} else {
		read_out(jb, jb->rd, n, src);
		unsigned q = quietest(src, n);

		memcpy(out, src, (q + 1) * sizeof(*out));
		memcpy(out + q + 1, src + q, (n - q) * sizeof(*out));
		jb->stretched++;
	}
	jb->rd += n;
	if (jb->concealed_run && jb->started) {
		for (unsigned i = 0; i < f; i++)
			out[i] = (int16_t)((int32_t)out[i] * (int32_t)i /
					   (int32_t)f);
	}
	jb->concealed_run = 0;
	jb->started = true;
	return MIX_JB_AUDIO;
}

bool mix__jb_peek_energy(const mix_jitter_t *jb, unsigned k, uint64_t *e)
{
	int64_t pos = jb->rd + (int64_t)k * jb->frame;

	if (!jb->anchored ||
	    !bits_op((uint64_t *)jb->bits, jb->mask, pos, jb->frame, BITS_ALL))
		return false;
	uint64_t sum = 0;

	for (unsigned i = 0; i < jb->frame; i++) {
		int32_t x = jb->buf[(uint32_t)(pos + i) & jb->mask];

		sum += (uint64_t)(x * x);
	}
	*e = sum;
	return true;
}
