/*
 * metrics.h - the gateway's counters and gauges, defined once.
 *
 * GW_METRICS is the one list of plain metrics: each row gives a metric's
 * name, its kind and its help text. It generates the per-worker counter
 * block (gw_counters_t), the snapshot that /metrics prints (gw_metrics_t)
 * and the exposition itself, so a new metric is one row here plus the line
 * of code that counts it. Kinds:
 *   counter   counted per worker (gw__count()), summed; chorus_<name>_total
 *   total     a counter kept elsewhere, filled in at the snapshot
 *   gauge     filled in at the snapshot; chorus_<name>
 * Three more lists, in the same style, cover the other shapes:
 *   GW_METRICS_BY         counters with one label whose values are slots
 *                         of an array (refusals by close code, bad frames
 *                         by kind); a function names each slot's label
 *   GW_METRICS_PER_WORKER one series per worker, labelled worker="<i>"
 *   GW_HISTOGRAMS         counted per worker in fixed buckets, printed
 *                         cumulative with _bucket{le}, _sum and _count
 *
 * Threads: each worker owns one gw_counters_t and is its only writer
 * (gw__count(): a plain load and store, no locked instruction, since a
 * counter is bumped on the per-frame path); any thread may read them for a
 * snapshot. Gauges are not counted here: whoever takes the snapshot fills
 * them in from the state they describe.
 */
#ifndef CHORUS_GW_METRICS_H
#define CHORUS_GW_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, kind, help). */
#define GW_METRICS(X)                                                          \
	X(connections, gauge, "Open WebSocket connections.")                   \
	X(participants, gauge, "Calls in a room now.")                         \
	X(rooms, gauge, "Rooms that exist, with or without callers.")          \
	X(rooms_active, gauge, "Rooms whose clock is running.")                \
	X(workers, gauge, "Worker threads, each with its own event loop.")     \
	X(accepted, counter, "WebSocket connections accepted.")                \
	X(joined, counter, "Calls admitted to a room.")                        \
	X(frames_in, counter, "Inbound media frames decoded.")                 \
	X(frames_out, counter, "Outbound media frames written.")               \
	X(other_track, counter,                                                \
	  "Media frames of a track other than inbound (not mixed).")           \
	X(dtmf, counter, "DTMF events received.")                              \
	X(marks, counter, "Mark events received.")                             \
	X(dropped_out, counter,                                                \
	  "Outbound frames dropped because a listener read too slowly.")       \
	X(dropped_in, counter,                                                 \
	  "Inbound pushes dropped because the mixer's hand-off ring was "      \
	  "full.")                                                             \
	X(ticks, counter, "Room clock ticks (one mixed frame per room).")      \
	X(ticks_skipped, counter,                                              \
	  "Room ticks skipped after a clock fell far behind.")                 \
	X(tick_overruns, counter,                                              \
	  "Clock passes whose work took longer than a frame, so that a "       \
	  "deadline was missed.")                                              \
	X(late_frames, counter,                                                \
	  "Room frames of audio that arrived too late for their slot.")        \
	X(capped_frames, counter,                                              \
	  "Room frames dropped at the jitter buffer's cap.")                   \
	X(concealed_frames, counter,                                           \
	  "Room frames concealed because a talker's audio was missing.")       \
	X(throttled_in, counter,                                               \
	  "Inbound messages dropped for coming faster than --in-msg-rate or "  \
	  "--in-byte-rate.")                                                   \
	X(throttle_closes, counter,                                            \
	  "Calls closed (4029) for staying over the inbound rate.")            \
	X(source_refused, counter,                                             \
	  "Connections refused (4029) over --max-per-source or "               \
	  "--handshakes-per-source.")                                          \
	X(password_throttled, counter,                                         \
	  "Calls refused (4029) from an address past "                         \
	  "--max-password-failures.")                                          \
	X(handshake_refused, counter,                                          \
	  "WebSocket upgrades answered 404 (unknown path) or 400 (invalid "    \
	  "room name).")                                                       \
	X(idle_timeouts, counter,                                              \
	  "Calls closed (4008) for sending nothing for --idle-timeout-ms.")    \
	X(log_dropped, total,                                                  \
	  "Log lines dropped because stderr was not read fast enough.")        \
	X(events_sent, counter,                                                \
	  "Live events written to /api/events "                                \
	  "subscribers.")                                                      \
	X(events_slow, counter,                                                \
	  "/api/events subscribers closed (4010) for falling behind.")         \
	X(events_refused, counter,                                             \
	  "/api/events upgrades refused by the access rule.")                  \
	X(events, total, "Live events emitted (the last seq).")                \
	X(events_truncated, total,                                             \
	  "Live events emitted without their optional fields (too long).")     \
	X(events_lost, total,                                                  \
	  "Live events lost to a slot still being written a lap earlier.")     \
	X(event_subscribers, gauge, "Open /api/events subscribers.")           \
	X(webhook_delivered, total, "Live events the webhook took (2xx).")     \
	X(webhook_failed, total,                                               \
	  "Webhook requests that failed (each retry counts).")                 \
	X(webhook_dropped, total,                                              \
	  "Live events the webhook gave up on, or lost behind the bus.")

/* Refusals are counted by close code: codes 1000-1015 and 4000-4099 each
 * have a slot (gw__close_slot()); a code's series appears once counted. */
#define GW_CLOSE_SLOTS (16 + 100)
/* Bad frames by kind: the slots of gw_bad_frame_kind_t. */
typedef enum gw_bad_frame_kind {
	GW_BAD_JSON = 0, /* not JSON, or not a message of the right shape */
	GW_BAD_BASE64,	 /* a media payload that is not base64 */
	GW_BAD_EVENT,	 /* connected or start again, or an unknown event */
	GW_BAD_KINDS
} gw_bad_frame_kind_t;

/* X(name, label, slots, label_fn, show_zero, help): a counter family
 * chorus_<name>_total{<label>="<label_fn(slot)>"}; label_fn returns NULL
 * for a slot that names nothing. Zero slots are printed only if
 * show_zero. */
#define GW_METRICS_BY(X)                                                       \
	X(refused, "code", GW_CLOSE_SLOTS, gw__close_label, false,             \
	  "Calls refused or ended before joining a room, by close code.")      \
	X(bad_frames, "kind", GW_BAD_KINDS, gw__bad_frame_label, true,         \
	  "Frames after start dropped as invalid, by kind (json, base64, "     \
	  "event).")

/* Workers the per-worker series have room for (--workers' maximum). */
#define GW_WORKERS_MAX 256

/* X(name, kind, help): chorus_<name>{worker="<i>"} (gauge, filled in at the
 * snapshot) or chorus_<name>_seconds_total{worker="<i>"} (seconds: a
 * counter of ns, per worker). */
#define GW_METRICS_PER_WORKER(X)                                               \
	X(worker_participants, gauge,                                          \
	  "Calls in a room, by the worker that "                               \
	  "serves them.")                                                      \
	X(worker_rooms, gauge, "Rooms ticked by the worker's clock.")          \
	X(worker_tick, seconds,                                                \
	  "Time the worker spent ticking rooms: its load (the rate is the "    \
	  "busy fraction).")

/* Tick duration buckets, upper bounds in ns (printed in seconds). */
/* clang-format off */
#define GW_TICK_BUCKETS(Y) \
	Y(50000) Y(100000) Y(250000) Y(500000) Y(1000000) Y(2500000) \
	Y(5000000) Y(10000000) Y(20000000) Y(50000000)
/* clang-format on */
#define GW__COUNT_ONE(b) +1
#define GW_TICK_NBUCKETS (0 GW_TICK_BUCKETS(GW__COUNT_ONE))

/* X(name, buckets, n, help): chorus_<name>_seconds, observed in ns. */
#define GW_HISTOGRAMS(X)                                                       \
	X(tick_duration, GW_TICK_BUCKETS, GW_TICK_NBUCKETS,                    \
	  "Time to mix one room's frame and hand it to its listeners.")

#define GW__COUNTER_FIELD_counter(name) atomic_ullong name;
#define GW__COUNTER_FIELD_seconds(name) atomic_ullong name;
#define GW__COUNTER_FIELD_total(name)
#define GW__COUNTER_FIELD_gauge(name)
#define GW__COUNTER_FIELD(name, type, help)	    GW__COUNTER_FIELD_##type(name)
#define GW__METRIC_FIELD(name, type, help)	    uint64_t name;
#define GW__COUNTER_BY(name, label, n, fn, z, help) atomic_ullong name[n];
#define GW__METRIC_BY(name, label, n, fn, z, help)  uint64_t name[n];
#define GW__METRIC_WORKER(name, type, help)	    uint64_t name[GW_WORKERS_MAX];
/* A histogram's buckets (the last is +Inf), not cumulative, and its sum. */
#define GW__COUNTER_HIST(name, b, n, help)                                     \
	atomic_ullong name##_bucket[(n) + 1];                                  \
	atomic_ullong name##_sum_ns;
#define GW__METRIC_HIST(name, b, n, help)                                      \
	uint64_t name##_bucket[(n) + 1];                                       \
	uint64_t name##_sum_ns;

/* One worker's counters. Mixer statistics (late, capped, concealed) are
 * added when a call leaves its room, so a call in progress is not in them. */
typedef struct gw_counters {
	GW_METRICS(GW__COUNTER_FIELD)
	GW_METRICS_BY(GW__COUNTER_BY)
	GW_METRICS_PER_WORKER(GW__COUNTER_FIELD)
	GW_HISTOGRAMS(GW__COUNTER_HIST)
} gw_counters_t;

/* Every metric's value at one moment. */
typedef struct gw_metrics {
	GW_METRICS(GW__METRIC_FIELD)
	GW_METRICS_BY(GW__METRIC_BY)
	GW_METRICS_PER_WORKER(GW__METRIC_WORKER)
	GW_HISTOGRAMS(GW__METRIC_HIST)
	unsigned n_workers; /* per-worker series printed */
} gw_metrics_t;

/* Adds n to a counter that only the calling thread writes. */
static inline void gw__count(atomic_ullong *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* The slot of close code in refused[], or -1 for a code without one. */
int gw__close_slot(int code);
/* Label functions of GW_METRICS_BY: the label of slot i, or NULL. buf has
 * 16 bytes for a label made up on the spot. */
const char *gw__close_label(unsigned i, char *buf);
const char *gw__bad_frame_label(unsigned i, char *buf);

/* Counts a refusal with close code on the calling worker's counters. */
void gw__count_refused(gw_counters_t *n, int code);

/* Records one observation of value_ns in the tick_duration histogram. */
void gw__observe_tick(gw_counters_t *n, uint64_t value_ns);

/* Adds one worker's counters into m's counter fields. Any thread. */
void gw__metrics_add(gw_metrics_t *m, const gw_counters_t *n);
/* Copies worker's per-worker counters into its series of m (the gauges
 * are the caller's) and counts it in m->n_workers. Any thread. */
void gw__metrics_worker(gw_metrics_t *m, const gw_counters_t *n,
			unsigned worker);

/*
 * Writes m in the Prometheus text format (# HELP, # TYPE, values) into buf.
 * Returns the length written, excluding the NUL; the text is cut short,
 * still NUL-terminated, when cap is too small.
 */
size_t gw__metrics_text(const gw_metrics_t *m, char *buf, size_t cap);

#endif /* CHORUS_GW_METRICS_H */
