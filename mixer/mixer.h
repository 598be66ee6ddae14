/*
 * mixer.h - the Chorus conference mixer: jitter buffers, the room clock,
 * silence gating, mix-minus, normalization.
 *
 * A room (mix_room_t) holds participants (mix_participant_t). Each
 * participant's decoded audio is pushed in with the stream's own timestamp;
 * once per frame (20 ms) the room is ticked, and the tick produces, for every
 * participant, the frame it should hear: everyone else in the room, aligned
 * by stream time. Talkers are summed once; a talker hears the total minus its
 * own audio, every non-talker hears the shared total, so a tick costs
 * O(participants + talkers) and every distinct mix is normalized, µ-law
 * encoded and base64 encoded exactly once.
 *
 * What it deliberately does not do: no I/O, no clock of its own (the caller
 * passes CLOCK_MONOTONIC time in), no threads, no logging, no lws or jansson.
 *
 * Threads. Each room is ticked by one thread at a time. Control calls on a
 * room and its participants (add, remove, flags, settings, stats, tick) must
 * not run concurrently with each other: the caller serializes them (the
 * gateway holds the room's lock; it is taken once per tick, never per frame).
 * mix_participant_push() is the exception: it may be called concurrently with
 * anything, from one producer thread per participant (the thread that owns
 * the call's connection). It hands audio over through a lock-free
 * single-producer/single-consumer ring that the tick drains. Nothing is
 * allocated per frame: rings and frame buffers are allocated when a room or
 * participant is created.
 *
 * Errors: int functions return 0 or a negative errno; constructors return
 * NULL. Bad arguments never abort.
 */
#ifndef CHORUS_MIXER_H
#define CHORUS_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame a room can have: 20 ms at 48 kHz. */
#define MIX_MAX_FRAME_SAMPLES 960

typedef enum mix_norm {
	MIX_NORM_LIMITER = 0, /* smooth peak limiter; default */
	MIX_NORM_AVERAGE,     /* divide by the number of talkers mixed */
	MIX_NORM_CLIP,	      /* plain saturation, for comparison */
} mix_norm_t;

/* A room's settings. mix_settings_default() fills in the defaults noted. */
typedef struct mix_settings {
	unsigned rate;		     /* samples per second; 8000 */
	unsigned frame_ms;	     /* tick period and frame length; 20 */
	unsigned window_ms;	     /* alignment window; 30 */
	unsigned jitter_target_ms;   /* jitter buffer target delay; 40 */
	unsigned jitter_cap_ms;	     /* jitter buffer hard cap; 200 */
	double gate_threshold_dbfs;  /* frame RMS at or above = loud; -45 */
	unsigned gate_attack_frames; /* loud frames before talking; 2. The
				      * gate looks ahead into the jitter
				      * buffer, so the first loud frame is
				      * mixed too (see mixer.c). */
	unsigned gate_hangover_ms;   /* quiet time before not talking; 800 */
	mix_norm_t norm;	     /* MIX_NORM_LIMITER */
	bool echo; /* a lone participant hears itself; false */
} mix_settings_t;

void mix_settings_default(mix_settings_t *s);
/* Returns 0 if s is usable, -EINVAL if not (rate not a multiple of 1000
 * between 8000 and 48000, frame_ms not 10/20/30/40 or the frame larger than
 * MIX_MAX_FRAME_SAMPLES, cap below target, ...). */
int mix_settings_validate(const mix_settings_t *s);
/* Parses "limiter", "average", "clip". Returns 0 or -EINVAL. */
int mix_norm_parse(const char *name, mix_norm_t *out);
const char *mix_norm_name(mix_norm_t norm);

typedef struct mix_room mix_room_t;
typedef struct mix_participant mix_participant_t;

/* Per-participant statistics, counted since it joined. */
typedef struct mix_participant_stats {
	uint64_t frames_received; /* chunks pushed (any size) */
	uint64_t samples_received;
	uint64_t frames_mixed;	      /* ticks in which its audio was mixed */
	uint64_t frames_late;	      /* frames dropped for arriving too late */
	uint64_t frames_dropped_cap;  /* frames dropped at the jitter cap */
	uint64_t frames_dropped_full; /* pushes refused: hand-off ring full */
	uint64_t frames_concealed;    /* ticks with no audio, concealed */
	uint64_t frames_duplicate;    /* audio for a slot already filled */
	uint64_t samples_stretched;   /* drift correction: inserted (+) */
	uint64_t samples_squeezed;    /* drift correction: dropped (-) */
	unsigned delay_ms;     /* jitter buffer delay now: from the newest
				* chunk's arrival to its playing (about
				* jitter_target_ms when steady) */
	unsigned delay_max_ms; /* and its maximum so far */
	bool talking;
	double level_dbfs; /* RMS of its last frame; -inf-safe: >= -120 */
	unsigned dtmf_count;
	char last_dtmf; /* '\0' if none */
} mix_participant_stats_t;

/* Per-room statistics. */
typedef struct mix_room_stats {
	uint64_t ticks;
	unsigned participants;
	unsigned talkers;    /* in the last tick */
	unsigned mixes_last; /* distinct mixes produced in the last tick */
	uint64_t
	    limiter_active_frames; /* frames where the limiter reduced gain */
	double peak_dbfs;	   /* highest output sample level so far */
} mix_room_stats_t;

/*
 * Creates a room with a copy of settings (NULL for the defaults). Allocates
 * its mix buffers now; a room with no participants does no work in a tick.
 * Returns NULL on invalid settings or out of memory.
 */
mix_room_t *mix_room_new(const mix_settings_t *settings);
/* Frees the room and any participant still retiring. Its other participants
 * must have been removed first. */
void mix_room_free(mix_room_t *room);
const mix_settings_t *mix_room_settings(const mix_room_t *room);
/*
 * Changes a live room's settings to s. Only the gate (gate_threshold_dbfs,
 * gate_attack_frames, gate_hangover_ms), norm and echo may differ from the
 * room's: they take effect at the next tick, for its participants too. The
 * rate, frame and jitter settings size buffers and cannot change. Returns
 * 0, or -EINVAL (nothing changed) if s is invalid or changes another field.
 */
int mix_room_set_live(mix_room_t *room, const mix_settings_t *s);
/* Number of samples in one frame: rate * frame_ms / 1000. */
unsigned mix_room_frame_samples(const mix_room_t *room);
/* Participants in room, not counting those retiring. */
unsigned mix_room_count(const mix_room_t *room);
void mix_room_stats(const mix_room_t *room, mix_room_stats_t *out);

/*
 * Creates a participant for room (taking the room's frame size and buffer
 * limits) without adding it. user is the caller's, returned in tick results.
 * Returns NULL on out of memory.
 */
mix_participant_t *mix_participant_new(const mix_room_t *room, void *user);
/* Frees a participant once its producer has stopped pushing (removing it
 * from its room first if the caller has not). */
void mix_participant_free(mix_participant_t *p);
void *mix_participant_user(const mix_participant_t *p);

/* Adds p to room; it is mixed from the next tick. Returns 0, -EEXIST if it
 * is already in a room, -EINVAL if p was made for a room whose rate, frame
 * or jitter settings differ, or -ENOMEM. */
int mix_room_add(mix_room_t *room, mix_participant_t *p);
/* Removes p; it is not mixed from the next tick. Returns 0 or -ENOENT. */
int mix_room_remove(mix_room_t *room, mix_participant_t *p);
/*
 * Hands p, which has left, over to its room so that what is still in its
 * jitter buffer is heard: a caller that hangs up mid-word is not cut off by
 * the target delay. From the next tick p is in no tick result (no listener
 * entry, no talk event; its user pointer is forgotten), but its buffered
 * audio is mixed for the others, through the gate as before, until nothing
 * real is left or jitter_target_ms + 2 frames have passed; then the tick
 * frees p. The producer must have stopped pushing, and the caller must not
 * touch p again. mix_room_free() frees a p still retiring. Returns 0, or
 * -ENOENT if p is not in room (or already retiring).
 */
int mix_room_retire(mix_room_t *room, mix_participant_t *p);
/* Participants retiring in room: it needs ticks until this is 0. */
unsigned mix_room_retiring(const mix_room_t *room);

void mix_participant_set_muted(mix_participant_t *p,
			       bool muted); /* not mixed */
void mix_participant_set_deaf(mix_participant_t *p,
			      bool deaf); /* hears silence */
/* Gain in dB applied to what p sends, clamped to [-60, +20]. */
void mix_participant_set_gain_db(mix_participant_t *p, double db);
/* Records a DTMF digit the participant pressed, for later use. */
void mix_participant_dtmf(mix_participant_t *p, char digit);
void mix_participant_stats(const mix_participant_t *p,
			   mix_participant_stats_t *out);

/*
 * Producer side (the connection's thread). Hands over n decoded samples of
 * any length (10 ms, 20 ms, 137 samples...) that start at stream_ms, the
 * stream's own timestamp (ms since its start, as the platform sent it), and
 * arrived at arrival_ns (CLOCK_MONOTONIC). The first push anchors the stream
 * to the server clock; later audio is placed by stream_ms, not by arrival.
 * Returns 0, or -ENOSPC when the hand-off ring is full (the audio is dropped
 * and counted).
 */
int mix_participant_push(mix_participant_t *p, const int16_t *samples, size_t n,
			 uint32_t stream_ms, uint64_t arrival_ns);

/* One distinct mix produced by a tick. Buffers belong to the room and stay
 * valid until its next tick or control call. */
typedef struct mix_out {
	const int16_t *pcm;  /* frame_samples linear samples */
	const uint8_t *ulaw; /* the same, µ-law encoded */
	const char *b64;     /* ulaw as one-line base64, NUL-terminated */
	size_t b64_len;
} mix_out_t;

/* What one participant hears this tick: mixes[mix] of the tick result. */
typedef struct mix_listener {
	mix_participant_t *p;
	unsigned mix;
} mix_listener_t;

/* A participant whose talking state changed in this tick. */
typedef struct mix_talk_event {
	mix_participant_t *p;
	bool talking;
} mix_talk_event_t;

typedef struct mix_tick {
	uint64_t tick;		/* ticks of this room so far, from 1 */
	const mix_out_t *mixes; /* n_mixes distinct mixes */
	unsigned n_mixes;
	const mix_listener_t *listeners; /* one per participant in the room */
	unsigned n_listeners;
	const mix_talk_event_t *events; /* talking changes in this tick */
	unsigned n_events;
} mix_tick_t;

/*
 * Mixes one frame. now_ns is the CLOCK_MONOTONIC time of this tick's
 * deadline (the caller keeps absolute deadlines: next += frame_ms). Drains
 * each participant's ring into its jitter buffer, takes the frame for this
 * slot from each (concealing a missing one, dropping late audio), gates,
 * mixes, normalizes and encodes, and fills *out. Returns 0, or -EINVAL.
 * With no participants it does nothing and reports nothing.
 */
int mix_room_tick(mix_room_t *room, uint64_t now_ns, mix_tick_t *out);

#endif /* CHORUS_MIXER_H */
