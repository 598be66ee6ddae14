/*
 * events.h - the server's live events: what happened to rooms and calls,
 * as one JSON object each, for the /api/events subscribers (subscriber.h)
 * and the webhook.
 *
 * An event is {"type":"participant.joined","seq":17,"time":"<RFC 3339
 * UTC>","room":"standup",...}. seq rises by one per event across the
 * server, in the order the events were emitted.
 *
 * The bus is a broadcast ring of GW_EVENTS_SLOTS fixed-size slots: emitting
 * formats the event on the stack, takes the next seq with one atomic add
 * and copies the text into that seq's slot, overwriting the oldest event.
 * It never waits, never allocates and never fails the caller: it is called
 * from workers and from the rooms' clocks, inside a tick. Each reader keeps
 * its own cursor (the next seq it wants) and reads slots under a sequence
 * check; a reader that falls GW_EVENTS_SLOTS behind finds its event
 * overwritten (-ESTALE) and decides what to do (an events subscriber is
 * closed as too slow). An event too long for a slot is cut to a valid
 * object without its optional fields (counted as truncated).
 *
 * Threads: gw_events_emit() and every gw_events_* emitter, gw_events_head()
 * and gw_events_read() are safe on any thread at once. new/free are the
 * server's, before the workers start and after they end.
 */
#ifndef CHORUS_GW_EVENTS_H
#define CHORUS_GW_EVENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Events kept for readers: about a minute of a busy server's talk events. */
#define GW_EVENTS_SLOTS 4096
/* The longest event, JSON text without NUL. */
#define GW_EVENT_MAX 1200

typedef struct gw_events gw_events_t;

/* Counts for /metrics. */
typedef struct gw_events_stats {
	uint64_t emitted;   /* events given a seq */
	uint64_t truncated; /* emitted without their optional fields */
	uint64_t collided;  /* lost: their slot was still being written */
} gw_events_stats_t;

/* Returns NULL on out of memory. */
gw_events_t *gw_events_new(void);
void gw_events_free(gw_events_t *e);

/*
 * Emits an event of type about room (NULL: none). fields, when not NULL, is
 * a printf format for further JSON members, written after "room" without a
 * leading comma, e.g. "\"seat\":%u"; the caller escapes any string it puts
 * there (gw_events_json_string()). Never blocks. Any thread.
 */
void gw_events_emit(gw_events_t *e, const char *type, const char *room,
		    const char *fields, ...)
    __attribute__((format(printf, 4, 5)));

/* The seq the next event will get (the first is 1). Any thread. */
uint64_t gw_events_head(const gw_events_t *e);

/*
 * Copies event seq into buf (GW_EVENT_MAX + 1 bytes, NUL-terminated).
 * Returns its length, -EAGAIN if it has not been emitted yet (or is still
 * being written), -ESTALE if it was overwritten or lost. Any thread.
 */
int gw_events_read(const gw_events_t *e, uint64_t seq, char *buf);

void gw_events_stats(const gw_events_t *e, gw_events_stats_t *out);

/*
 * Writes s as a JSON string literal (quotes included, control characters,
 * quotes and backslashes escaped) into out (cap bytes), cutting it short
 * rather than failing. Returns out.
 */
char *gw_events_json_string(char *out, size_t cap, const char *s);

/* --- the events the gateway emits, one function each ------------------- */

/* room.created, room.closed, room.locked, room.unlocked. */
void gw_events_room(gw_events_t *e, const char *type, const char *room);

/*
 * participant.talking, participant.silent, participant.muted,
 * participant.unmuted: {"seat","callSid","streamSid"}.
 */
void gw_events_participant(gw_events_t *e, const char *type, const char *room,
			   unsigned seat, const char *call_sid,
			   const char *stream_sid);

/* participant.joined; custom_params is the start message's
 * customParameters (a json_t object, or NULL), written without its
 * "password" and "token". */
void gw_events_joined(gw_events_t *e, const char *room, unsigned seat,
		      const char *call_sid, const char *stream_sid,
		      const void *custom_params);

/* participant.left: the close code and reason, and the call's counts. */
void gw_events_left(gw_events_t *e, const char *room, unsigned seat,
		    const char *call_sid, const char *stream_sid, int code,
		    const char *reason, uint64_t frames_in, uint64_t frames_out,
		    uint64_t bad_frames, uint64_t dtmf);

/* participant.dtmf. */
void gw_events_dtmf(gw_events_t *e, const char *room, unsigned seat,
		    const char *call_sid, const char *stream_sid, char digit);

#endif /* CHORUS_GW_EVENTS_H */
