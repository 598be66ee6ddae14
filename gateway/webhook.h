/*
 * webhook.h - --webhook URL: the live events (events.h) POSTed to a URL as
 * JSON arrays, each request signed so that the receiver can check it came
 * from this server.
 *
 * The webhook is one more reader of the event bus, on its own thread with
 * libcurl's multi interface: it never touches a worker or a clock, and the
 * emitters never wait for it. Every GW_WEBHOOK_POLL_MS it takes the events
 * emitted since its last batch (up to GW_WEBHOOK_BATCH) and POSTs them as
 * one array, with "X-Chorus-Signature: sha256=<hex HMAC-SHA256 of the
 * body with --webhook-secret>" when a secret is set. A failed request (no
 * answer within GW_WEBHOOK_TIMEOUT_MS, or a status outside 2xx) is retried
 * with the same body after a backoff that doubles from
 * GW_WEBHOOK_BACKOFF_MS up to GW_WEBHOOK_BACKOFF_MAX_MS, at most
 * GW_WEBHOOK_ATTEMPTS times; then the batch is dropped (counted). The
 * bus is the bounded queue: events a dead or slow receiver lets fall a
 * whole lap behind are dropped (counted) too.
 *
 * Threads: new/start/stop/free on the server's thread; stats on any.
 */
#ifndef CHORUS_GW_WEBHOOK_H
#define CHORUS_GW_WEBHOOK_H

#include <stdint.h>

#include "gateway/events.h"

#define GW_WEBHOOK_BATCH	  100
#define GW_WEBHOOK_POLL_MS	  50
#define GW_WEBHOOK_TIMEOUT_MS	  5000
#define GW_WEBHOOK_BACKOFF_MS	  250
#define GW_WEBHOOK_BACKOFF_MAX_MS 30000
#define GW_WEBHOOK_ATTEMPTS	  8

typedef struct gw_webhook gw_webhook_t;

typedef struct gw_webhook_stats {
	uint64_t delivered; /* events in batches the receiver took (2xx) */
	uint64_t failed;    /* requests that failed (each retry counts) */
	uint64_t dropped;   /* events given up on, or lapped on the bus */
} gw_webhook_stats_t;

/* Prepares delivery of e's events to url, signed with secret ("" = not
 * signed). url and secret must outlive it. Returns NULL on failure. */
gw_webhook_t *gw_webhook_new(gw_events_t *e, const char *url,
			     const char *secret);

/* Starts its thread. Returns 0 or -EAGAIN. */
int gw_webhook_start(gw_webhook_t *w);

/* Stops its thread (an undelivered batch is abandoned). */
void gw_webhook_stop(gw_webhook_t *w);

void gw_webhook_free(gw_webhook_t *w);

/* Any thread; all zero for NULL. */
void gw_webhook_stats(const gw_webhook_t *w, gw_webhook_stats_t *out);

/* Writes "sha256=<64 hex>" of HMAC-SHA256(secret, body) into out (72
 * bytes). */
void gw_webhook_sign(const char *secret, const char *body, size_t len,
		     char out[72]);

#endif /* CHORUS_GW_WEBHOOK_H */
