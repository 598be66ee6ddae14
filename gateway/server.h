/*
 * server.h - the gateway server: builds the workers, the room registry, the
 * rooms' clocks and the HTTP endpoints, wires them together, and starts and
 * stops them. main.c is its only user.
 *
 * How the parts fit (docs/architecture.md): each worker (worker.h) runs one
 * lws context on its own thread; its connections are calls (conn.h) or
 * plain HTTP requests (http.h). A call's audio goes to its room's mixer;
 * each room is ticked by one worker's clock (clock.h), which hands every
 * listener its frame through the output queues (outq.h), waking other
 * workers with lws_cancel_service().
 */
#ifndef CHORUS_GW_SERVER_H
#define CHORUS_GW_SERVER_H

#include "gateway/config.h"

typedef struct gw_server gw_server_t;

/* Creates the server and its rooms from c (which must outlive it). Returns
 * NULL on failure (logged). */
gw_server_t *gw_server_new(const gw_config_t *c);

/* Starts the workers and returns once every one listens. Returns 0, or a
 * negative errno when a worker could not create its context (logged). */
int gw_server_start(gw_server_t *s);

/*
 * Stops the server: refuses new calls, closes every call with 1001 and stops
 * the workers. Returns 0 once all workers have ended (then call
 * gw_server_free()), or -ETIMEDOUT if they did not within timeout_ms.
 */
int gw_server_stop(gw_server_t *s, unsigned timeout_ms);

void gw_server_free(gw_server_t *s);

#endif /* CHORUS_GW_SERVER_H */
