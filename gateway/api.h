/*
 * api.h - the admin HTTP API under /api/: JSON in and out (jansson), bearer
 * token access, the server, its rooms and their participants.
 *
 * This module turns one whole request (method, path, the access decision
 * of access.h, body) into one response (status and JSON body); http.c does
 * the lws side (reading the request and its body, deciding access, writing
 * the answer). It knows nothing of lws.
 *
 *   Access   with a token configured (--admin-token), every request needs
 *            "Authorization: Bearer <token>" (compared in constant time),
 *            else 401; with none, only loopback peers are answered (403).
 *   Errors   {"error": "<short>", "detail": "<human>"} with 400 (malformed
 *            JSON), 401, 403, 404, 405, 409, 413 (http.c: body over
 *            GW_API_BODY_MAX), 422 (unknown field, bad value).
 *
 * POST /api/rooms/{room}/tokens mints a join token (auth.h) with
 * --join-secret: {"role"?, "ttl_s"?, "identity"?} -> 201 {"token",
 * "expires_at"}; 409 when no join secret is configured.
 *
 * Changes made here are announced on the live events (events.h):
 * room.locked / room.unlocked, participant.muted / participant.unmuted,
 * and room.closed for a deleted room that had no calls (the clock announces
 * the others when their last call has gone).
 *
 * Calls are closed through close_call(), which must hand the close to the
 * call's own worker (cmdq.h); the response does not wait for the close.
 *
 * Threads: on the worker serving the request. Rooms are read and changed
 * under the registry's and the room's locks (room.h), so a request can run
 * on any worker concurrently with ticks and joins anywhere.
 */
#ifndef CHORUS_GW_API_H
#define CHORUS_GW_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/events.h"
#include "gateway/metrics.h"
#include "gateway/room.h"

#ifndef CHORUS_VERSION
#define CHORUS_VERSION "0.1.0"
#endif

/* Largest request body accepted; larger gets 413. */
#define GW_API_BODY_MAX 16384

typedef enum gw_http_method {
	GW_HTTP_OTHER = 0,
	GW_HTTP_GET,
	GW_HTTP_POST,
	GW_HTTP_PATCH,
	GW_HTTP_PUT,
	GW_HTTP_DELETE,
} gw_http_method_t;

typedef struct gw_api {
	const gw_config_t *cfg; /* cfg->admin_token */
	gw_registry_t *reg;
	gw_events_t *events; /* room.locked, participant.muted, ... */
	uint64_t started_ns; /* CLOCK_MONOTONIC at start, for uptime */
	unsigned workers;
	/* Fills in every metric's current value (for counts). */
	void (*metrics)(void *data, gw_metrics_t *m);
	/* Closes call call_id on its worker with code and reason. Returns 0
	 * or a negative errno (not queued). Any thread. */
	int (*close_call)(void *data, unsigned worker, uint64_t call_id,
			  int code, const char *reason);
	void *data;
} gw_api_t;

typedef struct gw_api_req {
	gw_http_method_t method;
	const char *path; /* "/api/...", without the query */
	/* Access, as gw_access_admin() decided it: 0, -EACCES (a token is
	 * configured and this one is missing or wrong: 401) or -EPERM (no
	 * token configured and the client is not local: 403). */
	int access;
	bool has_auth;	  /* an Authorization header came (for the message) */
	const char *body; /* may be NULL when body_len is 0 */
	size_t body_len;
} gw_api_req_t;

typedef struct gw_api_resp {
	unsigned status;
	char *body; /* JSON, NUL-terminated, free() it; NULL for 204 */
	size_t len;
} gw_api_resp_t;

/* Answers req in *resp (always filled: 500 if out of memory). */
void gw__api_handle(const gw_api_t *api, const gw_api_req_t *req,
		    gw_api_resp_t *resp);

/* Fills *resp with the JSON error for status. */
void gw__api_error(gw_api_resp_t *resp, unsigned status, const char *error,
		   const char *detail);

#endif /* CHORUS_GW_API_H */
