/*
 * subscriber.h - GET /api/events: a WebSocket that streams the server's live
 * events (events.h), one JSON object per text frame, in seq order.
 *
 *   upgrade   the path is /api/events, with an optional ?room=<room>
 *             filter; access.h decides who may open it: a refused upgrade
 *             is answered 401 (no or wrong token) or 403 (not on loopback,
 *             no token configured), an invalid filter 400
 *   open      starts at the next event; polls the bus every
 *             GW_SUB_POLL_MS from its lws timer and writes what is new
 *             when lws says the socket is writable
 *   slow      a subscriber that falls GW_EVENTS_SLOTS events behind (its
 *             socket does not drain) has lost events: it is closed with
 *             4010 "events subscriber too slow". Nothing it does can slow
 *             a tick: emitting never waits for readers.
 *   stop      the server closes subscribers with 1001
 *
 * What the subscriber sends is ignored. Threads: everything on the
 * subscriber's worker; each worker's subscribers share one gw_subs_t.
 */
#ifndef CHORUS_GW_SUBSCRIBER_H
#define CHORUS_GW_SUBSCRIBER_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "gateway/events.h"
#include "gateway/metrics.h"

#define GW_SUB_POLL_MS 20

typedef struct gw_sub gw_sub_t;

/* What one worker's subscribers share. */
typedef struct gw_subs {
	/* Set up by the server. */
	const gw_config_t *cfg;
	gw_events_t *events;
	gw_counters_t *n; /* this worker's counters */

	/* The subscribers' own. */
	gw_sub_t *list;
	atomic_uint live; /* read by /metrics */
} gw_subs_t;

/* True if the upgrade to path (query string excluded) is a subscription. */
bool gw__sub_path(const char *path);

/* At LWS_CALLBACK_HTTP_CONFIRM_UPGRADE of a subscription: returns 0 to let
 * the upgrade proceed, or 1 after answering the refusal (the lws callback
 * returns it). */
int gw__sub_confirm(gw_subs_t *subs, struct lws *wsi);

/* The size of a subscriber's lws per-session data. */
size_t gw__sub_size(void);

/* The lws callback for a subscriber's session (user is its per-session
 * data); reasons it does not handle go to lws_callback_http_dummy(). */
int gw__sub_callback(gw_subs_t *subs, struct lws *wsi,
		     enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

/* Closes every subscriber of this worker with code and reason. */
void gw__sub_close_all(gw_subs_t *subs, int code, const char *reason);

#endif /* CHORUS_GW_SUBSCRIBER_H */
