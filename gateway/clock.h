/*
 * clock.h - the rooms' clocks: which worker ticks which room, and ticking
 * each on absolute deadlines.
 *
 * Every worker has one clock, an lws_sul timer that ticks all the rooms the
 * worker owns. Rooms of the same period share a grid of absolute
 * CLOCK_MONOTONIC deadlines (next += period, never "sleep a period after the
 * work", which drifts), so one wake-up serves them all and each other
 * worker is woken at most once per tick. A room is given to the worker with
 * the fewest rooms when its clock starts. A clock that falls more than a
 * few periods behind (the machine stalled) skips ahead, counted, rather
 * than burst frames at the platform. Each tick mixes the room
 * (mix_room_tick(), under the room's lock) and hands every listener its
 * frame through the output queues (outq.h).
 *
 * The clock knows nothing of rooms beyond their gw_tick_t, which the room
 * embeds and sets up, and the idle callback, which tells the clock when a
 * room has emptied and must leave it (the registry may free the room then).
 *
 * Threads: gw__clock_start() runs on any worker; a start for another worker
 * is queued under that clock's mutex and the worker is woken to take it
 * (gw__clock_woken()). Everything else about a tick runs on the owning
 * worker's thread.
 */
#ifndef CHORUS_GW_CLOCK_H
#define CHORUS_GW_CLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/metrics.h"
#include "gateway/outq.h"
#include "gateway/worker.h"
#include "mixer/mixer.h"

/* One room's place on a clock. */
typedef struct gw_tick {
	/* Set by the room before its first start, then constant. */
	mix_room_t *mix;
	pthread_mutex_t *lock; /* held around mix_room_tick() */
	uint64_t period_ns;    /* the mixer's frame */

	/* The clock's own. */
	unsigned owner;		/* the worker that ticks it */
	uint64_t next_ns;	/* the next tick's deadline */
	uint64_t ticks_skipped; /* after falling far behind */
	struct gw_tick *next;	/* in the owner's list, or its requests */
} gw_tick_t;

/*
 * Called on the owner's thread at each tick: returns true when the room has
 * no participants left and its clock must stop. After true the clock never
 * touches t again (the room may have been freed).
 */
typedef bool (*gw_clock_idle_fn)(void *data, gw_tick_t *t);

typedef struct gw_clocks gw_clocks_t;

/* One clock per worker. stopping: while set, clocks do nothing (rooms are
 * freed with the registry). Returns NULL on failure. */
gw_clocks_t *gw__clocks_new(unsigned n, gw_clock_idle_fn idle, void *data,
			    const atomic_int *stopping);

/* Gives clock i its worker, that worker's output home and its counters
 * (ticks, ticks_skipped, tick_overruns, the tick_duration histogram,
 * worker_tick). Before the worker starts. */
void gw__clocks_bind(gw_clocks_t *cs, unsigned i, gw_worker_t *w,
		     gw_outq_home_t *out, gw_counters_t *n);

/* Called on the owner's thread, under the room's lock, for each talk event
 * of a tick (mixer.h mix_talk_event_t); user is the participant's user
 * pointer. It must not block. */
typedef void (*gw_clock_talk_fn)(void *data, void *user, bool talking);

/* Sets the talk callback. Before the workers start. */
void gw__clocks_on_talk(gw_clocks_t *cs, gw_clock_talk_fn talk, void *data);

/* After every worker has ended. */
void gw__clocks_free(gw_clocks_t *cs);

/* Rooms on clock i now. Any thread. */
unsigned gw__clock_rooms(const gw_clocks_t *cs, unsigned i);

/* Chooses t's owner: the worker whose clock has the fewest rooms. Returns
 * it. Any thread. */
unsigned gw__clock_assign(gw_clocks_t *cs, gw_tick_t *t);

/* On worker self's thread: assigns t an owner and starts ticking it there,
 * on the next grid point at least one period away. */
void gw__clock_start(gw_clocks_t *cs, unsigned self, gw_tick_t *t);

/* On worker i's thread after a wake-up: starts the rooms other workers
 * gave it. */
void gw__clock_woken(gw_clocks_t *cs, unsigned i);

#endif /* CHORUS_GW_CLOCK_H */
