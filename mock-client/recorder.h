/*
 * recorder.h - what a phone would play: received audio on its own timeline.
 *
 * A telephony platform buffers the audio a server sends and plays it in
 * order at real time. The recorder imitates that: received samples go into
 * a playback queue; playback starts playout_ms after the first audio arrives
 * (the platform's small start-up buffer) and then advances with the clock
 * the caller passes in. Whatever is played is appended to the recording;
 * when the queue runs dry while the clock moves on, silence is played
 * instead and counted as a gap, so a late or missing frame shows in the
 * recording where a listener would have heard it.
 *
 * It also keeps the platform's side of marks and clears: a mark is returned
 * once the audio queued before it has been played (at once if none is
 * queued); a clear drops the queued audio and returns every pending mark.
 *
 * Time is passed in (CLOCK_MONOTONIC nanoseconds); no clock reads, no I/O.
 * The recording grows in memory (16 KB per second of 8 kHz audio); the
 * playback queue has a fixed capacity of MC_REC_QUEUE_SECONDS.
 */
#ifndef CHORUS_MC_RECORDER_H
#define CHORUS_MC_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_REC_QUEUE_SECONDS 30
#define MC_REC_MAX_MARKS     64
#define MC_REC_MARK_NAME     128

typedef struct mc_rec_mark {
	char name[MC_REC_MARK_NAME];
	uint64_t pos; /* due once this many samples have been played */
} mc_rec_mark_t;

typedef struct mc_rec {
	unsigned rate;
	uint64_t playout_ns;
	bool started;
	bool in_gap;
	uint64_t start_ns; /* when playback began (first audio + playout) */
	uint64_t played;   /* samples played into the recording */

	int16_t *queue; /* ring of samples waiting to be played */
	size_t q_cap, q_head, q_len;

	int16_t *tl; /* the recording */
	size_t tl_len, tl_cap;

	mc_rec_mark_t marks[MC_REC_MAX_MARKS]; /* FIFO */
	size_t m_head, m_len;

	uint64_t gaps; /* silences inserted while playing */
	uint64_t gap_samples;
	uint64_t received; /* samples pushed */
	uint64_t overflow; /* samples refused: queue full */
	uint64_t cleared;  /* samples dropped by clear */
} mc_rec_t;

/* Initializes r for rate Hz and a start-up buffer of playout_ms.
 * Returns 0, -EINVAL for a zero rate, or -ENOMEM. */
int mc_rec_init(mc_rec_t *r, unsigned rate, unsigned playout_ms);
/* Frees the queue and the recording. */
void mc_rec_free(mc_rec_t *r);

/* Plays up to now. Call it before reading marks, and on a timer. */
void mc_rec_advance(mc_rec_t *r, uint64_t now_ns);

/* Queues n received samples at now (advancing playback first). The first
 * push starts the playback clock. Returns 0, or -ENOBUFS if the queue was
 * full (the samples that did not fit are counted in overflow). */
int mc_rec_push(mc_rec_t *r, uint64_t now_ns, const int16_t *pcm, size_t n);

/* Queues a mark behind the audio queued so far. Returns 0, or -ENOBUFS when
 * MC_REC_MAX_MARKS are pending. name is copied (truncated if too long). */
int mc_rec_mark(mc_rec_t *r, uint64_t now_ns, const char *name);

/* Drops the queued audio; every pending mark becomes due. Returns the number
 * of samples dropped. */
size_t mc_rec_clear(mc_rec_t *r, uint64_t now_ns);

/* Pops the oldest due mark into name (cap bytes, NUL-terminated). Returns 1
 * if one was popped, 0 if none is due. */
int mc_rec_next_mark(mc_rec_t *r, char *name, size_t cap);

/* Plays whatever is still queued, without counting a gap (the call ended). */
void mc_rec_finish(mc_rec_t *r);

/* The recording so far; owned by r. */
const int16_t *mc_rec_samples(const mc_rec_t *r, size_t *n);

#endif /* CHORUS_MC_RECORDER_H */
