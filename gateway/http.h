/*
 * http.h - plain HTTP requests on the gateway's port: GET /healthz,
 * GET /metrics, and the admin API under /api/ (api.h).
 *
 * lws hands a request that is not a WebSocket upgrade to the protocol
 * callback as LWS_CALLBACK_HTTP, then its body, if any, in
 * LWS_CALLBACK_HTTP_BODY pieces and LWS_CALLBACK_HTTP_BODY_COMPLETION.
 * gw__http_callback() keeps what a request needs between those in its
 * gw_http_req_t (in the connection's lws per-session data) and answers it
 * whole when it is complete. /healthz answers 200 "ok" while the worker
 * runs; /metrics the Prometheus text exposition of the gateway's counters
 * (metrics.h), to whom access.h allows unless --metrics-public (401
 * without the admin token, 403 off loopback with none configured);
 * /api/... the admin API, whose bodies are capped at
 * GW_API_BODY_MAX (413); any other path 404.
 *
 * Threads: on the worker that serves the request. The metrics callback and
 * the API are called there too and must be safe on any worker.
 */
#ifndef CHORUS_GW_HTTP_H
#define CHORUS_GW_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway/api.h"
#include "gateway/config.h"
#include "gateway/metrics.h"

typedef struct gw_http {
	const gw_config_t *cfg; /* the admin token, --metrics-public */
	/* Fills in every metric's current value. */
	void (*metrics)(void *data, gw_metrics_t *m);
	void *data;
	const gw_api_t *api;
} gw_http_t;

/* One request's state while its body arrives. Zeroed by lws when the
 * connection opens; gw__http_callback() frees what it holds. */
typedef struct gw_http_req {
	gw_http_method_t method;
	char path[256];
	bool path_too_long;
	int access;    /* gw_access_admin(): 0, -EACCES or -EPERM */
	bool has_auth; /* an Authorization header came */
	char *body;    /* the body so far; owned */
	size_t body_len;
	bool waiting_body; /* LWS_CALLBACK_HTTP came, the body is due */
} gw_http_req_t;

/* The lws callback for an HTTP connection's reasons (LWS_CALLBACK_HTTP,
 * _HTTP_BODY, _HTTP_BODY_COMPLETION, _CLOSED_HTTP, ...); others go to
 * lws_callback_http_dummy(). Returns what the lws callback must return: 0
 * to keep the connection, -1 to close it. */
int gw__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      gw_http_req_t *rq, void *in, size_t len,
		      const gw_http_t *h);

#endif /* CHORUS_GW_HTTP_H */
