/*
 * access.h - who may use the admin endpoints (/api/, /api/events,
 * /metrics): the holder of --admin-token, or, with no token configured,
 * clients on the loopback interface only.
 *
 * The token is read from "Authorization: Bearer <token>", or, for a
 * WebSocket opened by a browser (which cannot set headers), from the
 * subprotocol list: Sec-WebSocket-Protocol: chorus-events,
 * chorus-token.<token>. Neither header is ever logged. Tokens are compared
 * in constant time.
 *
 * Threads: on the worker that serves wsi, during its handshake or request.
 */
#ifndef CHORUS_GW_ACCESS_H
#define CHORUS_GW_ACCESS_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "gateway/config.h"

/* The subprotocol prefix that carries a token. */
#define GW_ACCESS_TOKEN_PROTOCOL "chorus-token."

/*
 * Returns 0 when wsi's client may use the admin endpoints, -EACCES when a
 * token is configured and the request carries none or a wrong one (HTTP
 * 401), -EPERM when no token is configured and the client is not on
 * loopback (HTTP 403). from_protocol: also look in Sec-WebSocket-Protocol.
 */
int gw_access_admin(struct lws *wsi, const gw_config_t *c, bool from_protocol);

/* Whether the client is on this host: its peer address, or behind a
 * --trusted-proxy the address the proxy forwarded (X-Forwarded-For), is
 * 127.0.0.0/8 or ::1. */
bool gw_access_on_loopback(struct lws *wsi, const gw_config_t *c);

/* Constant-time comparison of two NUL-terminated secrets (the time depends
 * on want's length only). */
bool gw_access_secret_equal(const char *want, const char *got);

#endif /* CHORUS_GW_ACCESS_H */
