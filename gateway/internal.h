/*
 * internal.h - what server.c (workers, clocks, hand-off) and conn.c (one
 * Media Streams connection) share. Not a public interface.
 */
#ifndef CHORUS_GW_INTERNAL_H
#define CHORUS_GW_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec/base64.h"
#include "gateway/config.h"
#include "gateway/proto.h"
#include "gateway/room.h"
#include "gateway/server.h"
#include "mixer/mixer.h"

/* Output queue slots per connection (the configurable depth is below this,
 * so that the producer never finds the ring full while the consumer runs). */
#define GW_RING_SLOTS 8
#define GW_SLOT_CAP   (B64_ENCODED_LEN(MIX_MAX_FRAME_SAMPLES) + 1)
/* A streamSid as a JSON literal: every byte may become \u00XX. */
#define GW_SID_JSON_MAX (GW_SID_MAX * 6 + 3)
#define GW_TX_MAX	(GW_SLOT_CAP + GW_SID_JSON_MAX + 64)

typedef struct worker worker_t;
typedef struct conn conn_t;

/* Counters; per worker, summed for /metrics. Each is written by its worker's
 * thread only (gw_count(), no locked instruction) and read by others for
 * metrics; dropped_out also gets a call's ring-full drops when it ends, and
 * ticks/ticks_skipped come from the worker's clock. */
typedef struct gw_counters {
	atomic_ullong accepted;
	atomic_ullong joined;
	atomic_ullong refused;
	atomic_ullong frames_in;
	atomic_ullong frames_out;
	atomic_ullong bad_frames;
	atomic_ullong other_track;
	atomic_ullong dtmf;
	atomic_ullong marks;
	atomic_ullong dropped_out; /* oldest audio dropped, slow reader */
	atomic_ullong dropped_in;  /* mixer hand-off ring full */
	atomic_ullong ticks;
	atomic_ullong ticks_skipped;
	/* Audio quality, from each call's mixer statistics, added when the
	 * call leaves its room (so a call still in progress is not in them
	 * yet). In room frames. */
	atomic_ullong late_frames;	/* arrived too late for its slot */
	atomic_ullong capped_frames;	/* dropped at the jitter buffer cap */
	atomic_ullong concealed_frames; /* nothing to play: concealed */
} gw_counters_t;

typedef struct out_slot {
	uint32_t len;
	char b64[GW_SLOT_CAP];
} out_slot_t;

typedef enum conn_state {
	CONN_WAIT_START = 0,
	CONN_JOINED,
	CONN_CLOSING,
} conn_state_t;

/* One call: lws's per-session data, so lws allocates and frees it. */
struct conn {
	worker_t *w;
	struct lws *wsi;
	conn_t *prev, *next; /* the worker's connections */
	conn_state_t state;
	bool counted;			 /* in the server's connection count */
	char room[GW_ROOM_NAME_MAX + 1]; /* from the path, else "" */
	char peer[48];
	uint64_t connected_ns;

	/* A message that arrived in pieces; grown to at most max_frame. */
	char *rx;
	size_t rx_len, rx_cap;
	uint8_t *big; /* decoded payloads too big for the stack */

	gw_start_t start;
	char sid_json[GW_SID_JSON_MAX];
	gw_member_t m;

	/* Output: written by the room's clock, read by this worker. */
	out_slot_t *ring;
	atomic_uint head, tail;
	atomic_int wake_pending; /* on the worker's wake list */
	conn_t *wake_next;
	bool flush_queued; /* on the worker's flush list (its thread only) */
	conn_t *flush_next;

	int close_code; /* close when next writeable (shutdown) */
	char close_reason[124];
	char end[140]; /* why it ended, for the leave line */

	/* Counted on this worker's thread; folded in at close. */
	uint64_t frames_in, frames_out, bad, bad_run, other_track, dtmf, marks;
	uint64_t dropped_in;
	atomic_ullong dropped_out; /* the producer counts full rings */
};

struct worker {
	gw_server_t *srv;
	unsigned id;
	char name[16];
	pthread_t th;
	uv_loop_t loop; /* ours, given to lws as a foreign loop */
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int listen_fd;	       /* this worker's SO_REUSEPORT socket */
	uv_poll_t listen_poll; /* accepts on the loop, lws adopts */
	bool listening;
	atomic_int state; /* 0 starting, 1 listening, 2 stopping, 3 ended,
			   -1 failed */

	pthread_mutex_t lock;
	gw_room_t *start_reqs; /* rooms whose clock this worker must start */
	_Atomic(conn_t *) pending; /* listeners with new frames (lock-free) */

	conn_t *conns; /* this worker's connections (its thread only) */
	unsigned n_conns;
	bool stop_seen;
	bool exit;
	uint64_t stop_deadline_ns;
	lws_sorted_usec_list_t stop_sul;
	bool *wake; /* scratch for a tick: which workers to wake */
	conn_t *flush; /* this worker's listeners the tick gave a frame */
	/* The worker's clock: one timer for all the rooms it ticks, which
	 * share a 20 ms grid, so one wake-up serves them all and each other
	 * worker is woken at most once per tick. */
	gw_room_t *clock_rooms;
	lws_sorted_usec_list_t clock_sul;
	uint64_t clock_at; /* when clock_sul fires; 0 = not scheduled */

	gw_counters_t n;
	char tx[LWS_PRE + GW_TX_MAX];
};

struct gw_server {
	const gw_config_t *cfg;
	gw_registry_t *reg;
	worker_t *workers;
	unsigned n_workers;
	atomic_uint n_conns;
	atomic_int stopping;
	uint64_t started_ns;
};

uint64_t gw_now_ns(void);

/* conn.c: the lws protocol callback for WebSocket and HTTP. */
int gw_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		     void *user, void *in, size_t len);

/* server.c: starts ticking room (on its owner worker, from any worker). */
void gw_clock_start(worker_t *self, gw_room_t *room);
/* server.c: handles lws_cancel_service() wake-ups on w's thread. */
void gw_worker_woken(worker_t *w);
/* server.c: takes w's wake list and sends each listener its frame
 * (gw_conn_flush()), or with write_now false only asks for WRITEABLE (from
 * inside another connection's callback); skip is a connection that is
 * closing. */
void gw_worker_drain_wakes(worker_t *w, conn_t *skip, bool write_now);
/* conn.c: on c's worker, outside c's callbacks: writes c's oldest queued
 * frame now if lws holds none of c's output, else leaves it queued for
 * WRITEABLE. A failed write closes the call asynchronously. */
void gw_conn_flush(conn_t *c);
/* server.c: writes the /metrics text into buf. Returns its length. */
size_t gw_metrics_text(gw_server_t *s, char *buf, size_t cap);

/* Adds n to a counter only this thread writes: a plain load and store. */
static inline void gw_count(atomic_ullong *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Output ring, consumer side (the connection's worker): drops the oldest
 * frames beyond depth, counting them. */
static inline void gw_ring_trim(conn_t *c, unsigned depth)
{
	unsigned h = atomic_load_explicit(&c->head, memory_order_acquire);
	unsigned t = atomic_load_explicit(&c->tail, memory_order_relaxed);

	if (h - t > depth) {
		atomic_fetch_add_explicit(&c->dropped_out, h - t - depth,
					  memory_order_relaxed);
		atomic_store_explicit(&c->tail, h - depth,
				      memory_order_release);
	}
}

#endif /* CHORUS_GW_INTERNAL_H */
