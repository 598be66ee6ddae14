/*
 * http.h - plain HTTP requests on the gateway's port: GET /healthz and
 * GET /metrics.
 *
 * lws hands a request that is not a WebSocket upgrade to the protocol
 * callback as LWS_CALLBACK_HTTP; gw__http_serve() answers it whole, in that
 * callback. /healthz answers 200 "ok" while the worker runs; /metrics the
 * Prometheus text exposition of the gateway's counters (metrics.h), to
 * whom access.h allows unless --metrics-public (401 without the admin
 * token, 403 off loopback with none configured); any other path 404.
 *
 * Threads: on the worker that serves the request. The metrics callback is
 * called there too and must be safe on any worker.
 */
#ifndef CHORUS_GW_HTTP_H
#define CHORUS_GW_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>

#include "gateway/config.h"
#include "gateway/metrics.h"

typedef struct gw_http {
	const gw_config_t *cfg; /* the admin token, --metrics-public */
	/* Fills in every metric's current value. */
	void (*metrics)(void *data, gw_metrics_t *m);
	void *data;
} gw_http_t;

/* Answers the request for uri on wsi. Returns what the lws callback must
 * return: 0 to keep the connection, -1 to close it. */
int gw__http_serve(struct lws *wsi, const char *uri, const gw_http_t *h);

#endif /* CHORUS_GW_HTTP_H */
