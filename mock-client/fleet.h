/*
 * fleet.h - a set of calls run together on one engine: the connection
 * ramp, ^C, the hard stop, and the caller's progress line.
 *
 * The fleet owns its engine and its calls. Calls are added before the run,
 * numbered from 0 in the order added; mc_fleet_run() opens their
 * connections a few per tick (opts.connects_per_ms), runs until every call
 * is done or the hard stop passes, then ends the calls still open (their
 * recordings are played out, their sockets closed with 1001). Results stay
 * readable through mc_fleet_call() until mc_fleet_free().
 *
 * One thread: the one that calls mc_fleet_run(). mc_fleet_interrupt() may
 * also be called from a signal handler. Only the progress line is printed
 * (to stdout, when opts.progress is set).
 */
#ifndef CHORUS_MC_FLEET_H
#define CHORUS_MC_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "mock-client/call.h"

typedef struct mc_fleet mc_fleet_t;

typedef struct mc_fleet_opts {
	unsigned connects_per_ms; /* connection ramp */
	double hard_stop_s;	  /* give up after this long; 0 for never */
	bool progress;		  /* print call 0's progress (caller mode) */
} mc_fleet_opts_t;

/* Creates a fleet with room for ncalls calls, and its engine. Returns NULL
 * with errno set on failure. */
mc_fleet_t *mc_fleet_new(const mc_fleet_opts_t *opts, size_t ncalls);
/* Frees the calls, then the engine. */
void mc_fleet_free(mc_fleet_t *f);

/*
 * Adds a call to path with cfg (borrowed: it must outlive the fleet);
 * marker_id and expect_src as in mc_call_spec_t. The call's number is the
 * number of calls added before it. Returns the call (owned by f), or NULL
 * on out of memory or when the fleet is full.
 */
mc_call_t *mc_fleet_add(mc_fleet_t *f, const mc_call_cfg_t *cfg,
			const char *path, int marker_id, int expect_src);

/* The i-th call, or NULL past the last; owned by f. */
mc_call_t *mc_fleet_call(mc_fleet_t *f, size_t i);
size_t mc_fleet_ncalls(const mc_fleet_t *f);

/*
 * Connects every call (ramped) and runs until all are done, the hard stop
 * passes, or, after mc_fleet_interrupt(), every call has hung up. Returns
 * 0 or a negative errno.
 */
int mc_fleet_run(mc_fleet_t *f);

/* Asks every call to hang up. Async-signal-safe (sets a flag). */
void mc_fleet_interrupt(mc_fleet_t *f);

#endif /* CHORUS_MC_FLEET_H */
