/*
 * nomixer.c - a stand-in for mixer/ while the mixer is not in this tree,
 * so that the gateway builds, runs and can be tested end to end without
 * it. Compiled only when the Makefile finds no mixer sources (it then defines
 * CHORUS_NO_MIXER). It does not mix: every participant hears silence, and
 * pushed audio is only counted. The real mixer replaces it by merging;
 * tests that need real mixing skip themselves in such a build.
 */
#ifdef CHORUS_NO_MIXER

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "codec/base64.h"
#include "mixer/mixer.h"

#define MAX_PARTS 1024

struct mix_room {
	mix_settings_t s;
	mix_participant_t *parts[MAX_PARTS];
	unsigned n;
	uint64_t ticks;
	uint8_t ulaw[MIX_MAX_FRAME_SAMPLES];
	int16_t pcm[MIX_MAX_FRAME_SAMPLES];
	char b64[B64_ENCODED_LEN(MIX_MAX_FRAME_SAMPLES) + 1];
	mix_out_t out;
	mix_listener_t listeners[MAX_PARTS];
};

struct mix_participant {
	void *user;
	mix_room_t *room;
	atomic_ullong frames;
	char last_dtmf;
	unsigned dtmf_count;
};

void mix_settings_default(mix_settings_t *s)
{
	memset(s, 0, sizeof(*s));
	s->rate = 8000;
	s->frame_ms = 20;
	s->window_ms = 30;
	s->jitter_target_ms = 40;
	s->jitter_cap_ms = 200;
	s->gate_threshold_dbfs = -45;
	s->gate_attack_frames = 2;
	s->gate_hangover_ms = 800;
	s->norm = MIX_NORM_LIMITER;
}

int mix_settings_validate(const mix_settings_t *s)
{
	if (!s || s->rate < 8000 || s->rate > 48000 || s->rate % 1000 ||
	    (s->frame_ms != 10 && s->frame_ms != 20 && s->frame_ms != 30 &&
	     s->frame_ms != 40) ||
	    s->rate / 1000 * s->frame_ms > MIX_MAX_FRAME_SAMPLES ||
	    s->jitter_cap_ms < s->jitter_target_ms)
		return -EINVAL;
	return 0;
}

static const char *const norms[] = {"limiter", "average", "clip"};

int mix_norm_parse(const char *name, mix_norm_t *out)
{
	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(name, norms[i])) {
			*out = (mix_norm_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mix_norm_name(mix_norm_t norm)
{
	return (unsigned)norm < 3 ? norms[norm] : "?";
}

mix_room_t *mix_room_new(const mix_settings_t *settings)
{
	mix_room_t *r = calloc(1, sizeof(*r));
	unsigned n;

	if (!r)
		return NULL;
	if (settings)
		r->s = *settings;
	else
		mix_settings_default(&r->s);
	if (mix_settings_validate(&r->s) < 0) {
		free(r);
		return NULL;
	}
	n = mix_room_frame_samples(r);
	memset(r->ulaw, 0xff, n); /* µ-law silence */
	r->out.pcm = r->pcm;
	r->out.ulaw = r->ulaw;
	r->out.b64 = r->b64;
	r->out.b64_len = (size_t)b64_encode(r->b64, sizeof(r->b64), r->ulaw, n);
	return r;
}

void mix_room_free(mix_room_t *room)
{
	free(room);
}

const mix_settings_t *mix_room_settings(const mix_room_t *room)
{
	return &room->s;
}

unsigned mix_room_frame_samples(const mix_room_t *room)
{
	return room->s.rate / 1000 * room->s.frame_ms;
}

unsigned mix_room_count(const mix_room_t *room)
{
	return room->n;
}

void mix_room_stats(const mix_room_t *room, mix_room_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	out->ticks = room->ticks;
	out->participants = room->n;
	out->peak_dbfs = -120;
}

mix_participant_t *mix_participant_new(const mix_room_t *room, void *user)
{
	mix_participant_t *p = calloc(1, sizeof(*p));

	(void)room;
	if (p)
		p->user = user;
	return p;
}

void mix_participant_free(mix_participant_t *p)
{
	free(p);
}

void *mix_participant_user(const mix_participant_t *p)
{
	return p->user;
}

int mix_room_add(mix_room_t *room, mix_participant_t *p)
{
	if (p->room)
		return -EEXIST;
	if (room->n == MAX_PARTS)
		return -ENOMEM;
	room->parts[room->n++] = p;
	p->room = room;
	return 0;
}

int mix_room_remove(mix_room_t *room, mix_participant_t *p)
{
	for (unsigned i = 0; i < room->n; i++) {
		if (room->parts[i] == p) {
			room->parts[i] = room->parts[--room->n];
			p->room = NULL;
			return 0;
		}
	}
	return -ENOENT;
}

void mix_participant_set_muted(mix_participant_t *p, bool muted)
{
	(void)p;
	(void)muted;
}

void mix_participant_set_deaf(mix_participant_t *p, bool deaf)
{
	(void)p;
	(void)deaf;
}

void mix_participant_set_gain_db(mix_participant_t *p, double db)
{
	(void)p;
	(void)db;
}

void mix_participant_dtmf(mix_participant_t *p, char digit)
{
	p->last_dtmf = digit;
	p->dtmf_count++;
}

void mix_participant_stats(const mix_participant_t *p,
			   mix_participant_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	out->frames_received = atomic_load(&p->frames);
	out->level_dbfs = -120;
	out->dtmf_count = p->dtmf_count;
	out->last_dtmf = p->last_dtmf;
}

int mix_participant_push(mix_participant_t *p, const int16_t *samples, size_t n,
			 uint32_t stream_ms, uint64_t arrival_ns)
{
	(void)samples;
	(void)n;
	(void)stream_ms;
	(void)arrival_ns;
	atomic_fetch_add(&p->frames, 1);
	return 0;
}

int mix_room_tick(mix_room_t *room, uint64_t now_ns, mix_tick_t *out)
{
	(void)now_ns;
	memset(out, 0, sizeof(*out));
	if (!room->n)
		return 0;
	out->tick = ++room->ticks;
	out->mixes = &room->out;
	out->n_mixes = 1;
	for (unsigned i = 0; i < room->n; i++)
		room->listeners[i] = (mix_listener_t){room->parts[i], 0};
	out->listeners = room->listeners;
	out->n_listeners = room->n;
	return 0;
}

#endif /* CHORUS_NO_MIXER */
