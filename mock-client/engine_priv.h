/*
 * engine_priv.h - what engine.c and call.c share; not for other modules.
 */
#ifndef CHORUS_MC_ENGINE_PRIV_H
#define CHORUS_MC_ENGINE_PRIV_H

#include <signal.h>

#include "mock-client/engine.h"

struct mc_engine {
	mc_engine_opts_t opts;
	int ep; /* epoll */
	mc_call_t *calls;
	uint64_t *due_ns; /* per call: next frame due; UINT64_MAX for none */
	size_t ncalls, next_connect, active;
	uint64_t begin_ns, last_progress_ns;
	volatile sig_atomic_t interrupted;
	bool finished;
	mc_engine_stats_t stats;
};

#define MC_NO_DEADLINE UINT64_MAX

/* Opens call c's connection (call.c). Returns 0 or -1 (c is then DONE). */
int mc__call_connect(mc_call_t *c);
/* Timer work for one call whose deadline has come (call.c). */
void mc__call_due(mc_call_t *c, uint64_t now);
/* Asks call c to end its stream now (call.c). */
void mc__call_hangup(mc_call_t *c);
/* epoll reported events on call c's socket (call.c). */
void mc__call_io(mc_call_t *c, uint32_t events);
/* A call reached DONE (engine.c). */
void mc__engine_call_done(mc_engine_t *e, mc_call_t *c);
/* Re-registers c's socket for the events it needs now (engine.c). */
void mc__engine_watch(mc_engine_t *e, mc_call_t *c);

#endif /* CHORUS_MC_ENGINE_PRIV_H */
