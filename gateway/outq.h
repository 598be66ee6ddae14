/*
 * outq.h - the way out for mixed frames: a listener's output queue, and
 * the hand-off from the thread that mixed a frame to the worker that owns
 * the listener's connection.
 *
 * A room's clock runs on one worker; its listeners may live on any. Each
 * listener has a gw_outq_t: a bounded single-producer/single-consumer ring
 * of base64 payloads. The producer is the room's clock (gw__outq_deliver()),
 * the consumer is the listener's worker, which wraps each payload in the
 * media envelope and writes it. Each worker has one gw_outq_home_t: a
 * lock-free list of its listeners that another worker's clock gave a frame
 * (the wake list), the listeners its own clock gave one, and the buffer
 * frames are written from. After a tick the clock wakes each other worker it
 * posted to once (lws_cancel_service(), the only lws call made across
 * threads) and writes its own worker's frames at once.
 *
 * A frame is written as soon as its worker gets it, unless lws still holds
 * part of an earlier frame (a full socket buffer): then it waits in the ring
 * for WRITEABLE, and beyond the configured depth the oldest frames are
 * dropped and counted, so a slow reader gets recent audio, never growing
 * delay. Asking lws for WRITEABLE on every frame would cost two epoll_ctl()
 * calls per frame with the libuv loop; lws 4.1 accepts lws_write() outside
 * WRITEABLE on the context's own thread.
 *
 * Threads: gw__outq_deliver() and gw__outq_deliver_end() run on the
 * producing clock's worker; everything else on the listener's own worker.
 */
#ifndef CHORUS_GW_OUTQ_H
#define CHORUS_GW_OUTQ_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/base64.h"
#include "gateway/metrics.h"
#include "gateway/proto.h"
#include "gateway/worker.h"
#include "mixer/mixer.h"

/* Slots per listener; the configurable depth is below this, so that the
 * producer never finds the ring full while the consumer runs. */
#define GW_OUTQ_SLOTS	 8
#define GW_OUTQ_SLOT_CAP (B64_ENCODED_LEN(MIX_MAX_FRAME_SAMPLES) + 1)
/* A streamSid as a JSON literal: every byte may become \u00XX. */
#define GW_SID_JSON_MAX (GW_SID_MAX * 6 + 3)
/* The media envelope around the largest payload. */
#define GW_TX_MAX (GW_OUTQ_SLOT_CAP + GW_SID_JSON_MAX + 64)

typedef struct gw_outq_home gw_outq_home_t;

typedef struct gw_out_slot {
	uint32_t len;
	char b64[GW_OUTQ_SLOT_CAP];
} gw_out_slot_t;

/* One listener's queue, embedded in its call. */
typedef struct gw_outq {
	gw_outq_home_t *home;
	struct lws *wsi;
	const char *sid_json;  /* the envelope's streamSid, a JSON literal */
	bool open;	       /* frames are written (gw__outq_open()) */
	bool failed;	       /* a write failed: the connection is closing */
	uint64_t frames_out;   /* written */
	atomic_ullong dropped; /* dropped, by either side */

	gw_out_slot_t *slots;
	atomic_uint head, tail; /* producer moves head, consumer tail */

	atomic_int posted; /* on home's wake list */
	struct gw_outq *post_next;
	bool local; /* on home's list of frames its own clock gave */
	struct gw_outq *local_next;
} gw_outq_t;

/* One worker's side of the hand-off. */
struct gw_outq_home {
	gw_worker_t *w;
	gw_outq_home_t **all; /* every worker's home, by worker id */
	unsigned n_all;
	unsigned depth; /* frames kept for a slow reader (--out-queue) */
	gw_counters_t *n;
	_Atomic(gw_outq_t *) posted; /* the wake list: any thread pushes */
	gw_outq_t *local;
	bool *wake; /* per tick: which other homes to wake */
	char tx[LWS_PRE + GW_TX_MAX];
};

/* Sets up home for worker w; all[i] is worker i's home (all must outlive
 * home), and all[w->id] is home. Returns 0 or -ENOMEM. */
int gw__outq_home_init(gw_outq_home_t *home, gw_worker_t *w,
		       gw_outq_home_t **all, unsigned n, unsigned depth,
		       gw_counters_t *counters);
void gw__outq_home_free(gw_outq_home_t *home);

/* Sets up q for the connection wsi on home's worker, closed (frames are
 * dropped until gw__outq_open()). Returns 0 or -ENOMEM. */
int gw__outq_init(gw_outq_t *q, gw_outq_home_t *home, struct lws *wsi);

/* Starts writing frames, in envelopes carrying sid_json (which must
 * outlive q). */
void gw__outq_open(gw_outq_t *q, const char *sid_json);

/* Stops writing: the connection is closing. Frames still queued are
 * dropped with q. */
void gw__outq_close(gw_outq_t *q);

/* Takes q off its home's wake list and frees its ring. Call once no clock
 * can deliver to q any more (its participant has left the mixer). */
void gw__outq_free(gw_outq_t *q);

/* Producer (a clock on from's worker): queues a copy of a frame's payload
 * for q. A full ring or an oversized payload drops it, counted. */
void gw__outq_deliver(gw_outq_home_t *from, gw_outq_t *q, const char *b64,
		      size_t len);

/* Producer, after a tick's deliveries: wakes each other worker that got a
 * frame, then writes the frames of from's own listeners. */
void gw__outq_deliver_end(gw_outq_home_t *from);

/* On home's worker, after a wake-up: writes the frame of every listener
 * that another worker's clock posted. */
void gw__outq_drain(gw_outq_home_t *home);

/* Consumer side of the ring, on q's worker. gw__outq_trim() drops the
 * oldest frames beyond the home's depth (counted in q->dropped), so a slow
 * reader gets the most recent audio; gw__outq_peek() trims, then returns
 * the oldest frame left (NULL when empty), which stays queued until
 * gw__outq_pop(). */
void gw__outq_trim(gw_outq_t *q);
const gw_out_slot_t *gw__outq_peek(gw_outq_t *q);
void gw__outq_pop(gw_outq_t *q);

/* From q's LWS_CALLBACK_SERVER_WRITEABLE: writes the next frame. Returns 0,
 * or -1 when the write failed and the callback must close. */
int gw__outq_writeable(gw_outq_t *q);

#endif /* CHORUS_GW_OUTQ_H */
