/*
 * server.h - the gateway server: worker threads, each with its own lws
 * context on its own libuv (epoll) loop and its own SO_REUSEPORT socket on
 * the shared port, so the kernel spreads connections (lws 4.1's
 * ALLOW_LISTEN_SHARE sets SO_REUSEPORT only on Windows: each worker accepts
 * and hands the socket to lws); the Media Streams connection state machine;
 * the rooms' clocks; and the hand-off of mixed frames to the workers that own
 * the listeners' connections.
 *
 * Threads: a connection lives on the worker that accepted it, which does all
 * its parsing, decoding and writing. Each worker has one clock (an lws_sul
 * timer) that ticks the rooms it owns (room.h chooses which) on a shared
 * 20 ms grid of absolute CLOCK_MONOTONIC deadlines. A tick copies each
 * listener's payload into that connection's bounded single-producer/
 * single-consumer queue; a listener on another worker is put on that
 * worker's lock-free wake list, and that worker is woken once per tick with
 * lws_cancel_service(), the only lws call made from a foreign thread.
 *
 * Plain HTTP on the same port: GET /healthz (200 "ok") and GET /metrics
 * (counters as text). The admin API is not here (a later issue).
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
