/*
 * conn.h - one Media Streams call, from the WebSocket upgrade to its close:
 * the state machine that admits it to a room, feeds its audio to the mixer
 * and ends it with the close code docs/protocol.md gives.
 *
 *   upgrade   the path must be / or /rooms/<room> (a valid name); any
 *             other is answered 404, an invalid name 400 (gw_upgrade_path())
 *   WAIT_START  connected, mark, dtmf ignored; start joins the room
 *             (4001, 4004, 4029 refuse it); anything else, or no start
 *             within --start-timeout-ms, ends it (1007, 4008)
 *   JOINED    media is decoded and pushed to the mixer; its mix comes
 *             back through the output queue (outq.h); dtmf and mark are
 *             counted; stop ends it (1000)
 *   CLOSING   nothing more is read or written
 *
 * Each worker's calls share one gw_calls_t, which the server sets up and
 * hands to the worker as its data (worker.h), so gw__conn_callback() finds
 * it again from the wsi. Calls of one worker are served by its thread only;
 * their rooms may be ticked by any worker.
 */
#ifndef CHORUS_GW_CONN_H
#define CHORUS_GW_CONN_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/events.h"
#include "gateway/metrics.h"
#include "gateway/outq.h"
#include "gateway/room.h"
#include "gateway/sources.h"

typedef struct gw_conn gw_conn_t;

/* What one worker's calls share. */
typedef struct gw_calls {
	/* Set up by the server. */
	const gw_config_t *cfg;
	gw_registry_t *reg;
	gw_clocks_t *clocks;
	unsigned worker;     /* this worker's index among the clocks */
	gw_outq_home_t *out; /* this worker's side of the hand-off */
	gw_counters_t *n;    /* this worker's counters */
	atomic_uint
	    *total; /* connections on every worker (--max-connections) */
	const atomic_int *stopping; /* new calls are refused with 1001 */
	gw_sources_t *sources;	    /* per-address limits, all workers' */
	const gw_cidr_t *trusted;   /* --trusted-proxy */
	gw_events_t *events;	    /* joins, leaves, DTMF, talking */

	/* The calls' own. */
	gw_conn_t *list;
	unsigned live;		  /* connections not yet closed */
	atomic_uint participants; /* calls in a room (read by /metrics) */
} gw_calls_t;

/* The size of a call's lws per-session data (lws allocates and frees it). */
size_t gw__conn_size(void);

/* The lws protocol callback for a call's WebSocket. Reasons it does not
 * handle go to lws_callback_http_dummy(). */
int gw__conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      void *user, void *in, size_t len);

/* On the calls' worker: closes every call with code and reason (<= 123
 * bytes) from each one's lws timer, which sends the close frame. */
void gw__conn_close_all(gw_calls_t *calls, int code, const char *reason);

/* On the calls' worker: closes the call whose gw_call_info_t.id is id, as
 * gw__conn_close_all() does. Returns false if it is not (or no longer) one
 * of this worker's calls. */
bool gw__conn_close_id(gw_calls_t *calls, uint64_t id, int code,
		       const char *reason);

/* On the thread of the clock that ticks the call's room, under the room's
 * lock, for a talk event of the tick (mixer.h): emits participant.talking
 * or participant.silent. user is the mixer participant's user pointer. */
void gw__conn_talk(gw_events_t *ev, void *user, bool talking);

#endif /* CHORUS_GW_CONN_H */
