/*
 * metrics.h - the gateway's counters and gauges, defined once.
 *
 * GW_METRICS is the one list: each row gives a metric's name, its
 * Prometheus type (counter or gauge) and its help text. It generates the
 * per-worker counter block (gw_counters_t), the snapshot that /metrics
 * prints (gw_metrics_t) and the exposition itself, so a new metric is one
 * row here plus the line of code that counts it.
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
#include <stddef.h>
#include <stdint.h>

/* X(name, type, help): printed as chorus_<name> (gauge) or
 * chorus_<name>_total (counter). */
#define GW_METRICS(X)                                                          \
	X(connections, gauge, "Open WebSocket connections.")                   \
	X(rooms, gauge, "Rooms that exist, with or without callers.")          \
	X(rooms_active, gauge, "Rooms whose clock is running.")                \
	X(workers, gauge, "Worker threads, each with its own event loop.")     \
	X(accepted, counter, "WebSocket connections accepted.")                \
	X(joined, counter, "Calls admitted to a room.")                        \
	X(refused, counter, "Calls refused or ended before joining a room.")   \
	X(frames_in, counter, "Inbound media frames decoded.")                 \
	X(frames_out, counter, "Outbound media frames written.")               \
	X(bad_frames, counter,                                                 \
	  "Frames after start dropped as invalid (JSON, shape, base64).")      \
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
	X(log_dropped, counter,                                                \
	  "Log lines dropped because stderr was not read fast enough.")

#define GW__COUNTER_FIELD_counter(name) atomic_ullong name;
#define GW__COUNTER_FIELD_gauge(name)
#define GW__COUNTER_FIELD(name, type, help) GW__COUNTER_FIELD_##type(name)
#define GW__METRIC_FIELD(name, type, help)  uint64_t name;

/* One worker's counters. Mixer statistics (late, capped, concealed) are
 * added when a call leaves its room, so a call in progress is not in them. */
typedef struct gw_counters {
	GW_METRICS(GW__COUNTER_FIELD)
} gw_counters_t;

/* Every metric's value at one moment. */
typedef struct gw_metrics {
	GW_METRICS(GW__METRIC_FIELD)
} gw_metrics_t;

/* Adds n to a counter that only the calling thread writes. */
static inline void gw__count(atomic_ullong *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Adds one worker's counters into m's counter fields. Any thread. */
void gw__metrics_add(gw_metrics_t *m, const gw_counters_t *n);

/*
 * Writes m in the Prometheus text format (# HELP, # TYPE, value) into buf.
 * Returns the length written, excluding the NUL; the text is cut short,
 * still NUL-terminated, when cap is too small.
 */
size_t gw__metrics_text(const gw_metrics_t *m, char *buf, size_t cap);

#endif /* CHORUS_GW_METRICS_H */
