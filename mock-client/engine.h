/*
 * engine.h - a one-thread event loop: file descriptors, deadlines and a
 * millisecond tick, in the shape of Redis's ae.c.
 *
 * The engine knows file descriptors, callbacks and the callbacks' data, and
 * nothing of calls, WebSockets or measurements. A descriptor is watched with
 * mc_engine_watch() (one callback and one data pointer per descriptor); a
 * deadline is a timer slot made once with mc_engine_timer_new() and armed
 * with mc_engine_timer_arm() as often as needed.
 *
 * Timers are not a heap: the loop wakes every MC_ENGINE_TICK_NS, scans the
 * compact array of armed deadlines, and runs every callback whose deadline
 * has come (a timer that fell behind fires at once, and its owner catches
 * up), so a callback runs at most about a tick after its deadline. With a
 * few thousand paced calls that scan is cheaper than keeping a heap in
 * order, and arming a timer is one store. Each tick first runs the tick
 * callback (mc_engine_on_tick), then the due timers in slot order.
 *
 * Everything runs on the thread that calls mc_engine_run(), except
 * mc_engine_stop(), which may also be called from a signal handler.
 * Nothing is logged. Int functions return 0 or a negative errno.
 */
#ifndef CHORUS_MC_ENGINE_H
#define CHORUS_MC_ENGINE_H

#include <stdint.h>

#define MC_ENGINE_TICK_NS 1000000ull /* 1 ms: the timers' resolution */
#define MC_ENGINE_NEVER	  UINT64_MAX /* a disarmed timer's deadline */

/* Events passed to an I/O callback and asked for in a watch mask. An error
 * on the descriptor is reported as MC_WRITABLE (a failed connect shows as
 * writable; SO_ERROR tells why), a hang-up as both. */
#define MC_READABLE 1u
#define MC_WRITABLE 2u

typedef struct mc_engine mc_engine_t;

typedef void mc_io_fn(mc_engine_t *e, int fd, void *data, unsigned events);
typedef void mc_timer_fn(mc_engine_t *e, void *data, uint64_t now_ns);

/* Creates an engine (its epoll descriptor). Returns NULL with errno set on
 * failure. */
mc_engine_t *mc_engine_new(void);
/* Frees e. Watched descriptors are not closed: their owners close them. */
void mc_engine_free(mc_engine_t *e);

/*
 * Watches fd for the events in mask (MC_READABLE | MC_WRITABLE), calling
 * fn(e, fd, data, events) when they happen; a later call for the same fd
 * replaces the mask, fn and data (a call with the mask already in place
 * costs no system call). Returns 0 or a negative errno.
 */
int mc_engine_watch(mc_engine_t *e, int fd, unsigned mask, mc_io_fn *fn,
		    void *data);
/* Stops watching fd. Call it before closing fd, or right after (the kernel
 * has then dropped it already; the engine forgets it either way). */
void mc_engine_unwatch(mc_engine_t *e, int fd);

/* Makes a disarmed timer slot that calls fn(e, data, now). Returns its id
 * (>= 0) or -ENOMEM. Slots are never moved: ids stay valid until deleted. */
int mc_engine_timer_new(mc_engine_t *e, mc_timer_fn *fn, void *data);
/* Sets timer id to fire at the first tick at or after due_ns
 * (MC_ENGINE_NEVER disarms it). A timer is disarmed just before it fires. */
void mc_engine_timer_arm(mc_engine_t *e, int id, uint64_t due_ns);
/* Frees timer slot id for reuse. */
void mc_engine_timer_del(mc_engine_t *e, int id);

/* Calls fn(e, data, now) at the start of every tick (NULL: none). */
void mc_engine_on_tick(mc_engine_t *e, mc_timer_fn *fn, void *data);

/*
 * Runs the loop until mc_engine_stop(); the first tick runs at once.
 * Returns 0.
 */
int mc_engine_run(mc_engine_t *e);

/* Makes mc_engine_run() return after the event or tick being handled.
 * Async-signal-safe (sets a flag). */
void mc_engine_stop(mc_engine_t *e);

#endif /* CHORUS_MC_ENGINE_H */
