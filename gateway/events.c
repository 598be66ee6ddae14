/*
 * events.c - the live events' broadcast ring and the gateway's events
 * (events.h).
 */
#include "gateway/events.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One event. seq is the event's seq once its text is complete, 0 while a
 * writer fills it (a sequence lock: a reader copies the text, then checks
 * that seq did not change). busy keeps two writers out of one slot, which
 * takes a writer preempted for a whole lap of the ring.
 */
typedef struct slot {
	_Atomic uint64_t seq;
	_Atomic uint64_t lost; /* a seq whose writer found the slot busy */
	atomic_flag busy;
	size_t len;
	char text[GW_EVENT_MAX + 1];
} slot_t;

struct gw_events {
	_Atomic uint64_t next; /* the next seq */
	atomic_ullong truncated, collided;
	slot_t slots[GW_EVENTS_SLOTS];
};

gw_events_t *gw_events_new(void)
{
	gw_events_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	atomic_store(&e->next, 1);
	for (unsigned i = 0; i < GW_EVENTS_SLOTS; i++)
		atomic_flag_clear(&e->slots[i].busy);
	return e;
}

void gw_events_free(gw_events_t *e)
{
	free(e);
}

uint64_t gw_events_head(const gw_events_t *e)
{
	return atomic_load(&e->next);
}

void gw_events_stats(const gw_events_t *e, gw_events_stats_t *out)
{
	out->emitted = atomic_load(&e->next) - 1;
	out->truncated = atomic_load(&e->truncated);
	out->collided = atomic_load(&e->collided);
}

/* RFC 3339 UTC with milliseconds: 2024-05-01T12:00:00.123Z. */
static void now_rfc3339(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void publish(gw_events_t *e, uint64_t seq, const char *text, size_t n)
{
	slot_t *s = &e->slots[seq % GW_EVENTS_SLOTS];

	if (atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire)) {
		atomic_store(&s->lost, seq);
		atomic_fetch_add(&e->collided, 1);
		return;
	}
	atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(s->text, text, n + 1);
	s->len = n;
	atomic_store_explicit(&s->seq, seq, memory_order_release);
	atomic_flag_clear_explicit(&s->busy, memory_order_release);
}

void gw_events_emit(gw_events_t *e, const char *type, const char *room,
		    const char *fields, ...)
{
	char buf[GW_EVENT_MAX + 1], when[32], rj[160] = "";
	uint64_t seq;
	va_list ap;
	int n, m = 0;

	now_rfc3339(when);
	if (room) {
		rj[0] = ',';
		memcpy(rj + 1, "\"room\":", 7);
		gw_events_json_string(rj + 8, sizeof(rj) - 8, room);
	}
	seq = atomic_fetch_add(&e->next, 1);
	n = snprintf(buf, sizeof(buf),
		     "{\"type\":\"%s\",\"seq\":%llu,"
		     "\"time\":\"%s\"%s",
		     type, (unsigned long long)seq, when, rj);
	if (fields && n > 0 && n < (int)sizeof(buf) - 2) {
		buf[n] = ',';
		va_start(ap, fields);
		m = vsnprintf(buf + n + 1, sizeof(buf) - (size_t)n - 1, fields,
			      ap);
		va_end(ap);
		if (m < 0 || n + 1 + m > GW_EVENT_MAX - 1) {
			atomic_fetch_add(&e->truncated, 1);
			m = -1; /* the optional fields do not fit */
		}
	}
	if (m > 0)
		n += 1 + m;
	if (n < 0 || n > GW_EVENT_MAX - 1) /* a type that long is a bug */
		n = snprintf(buf, sizeof(buf), "{\"seq\":%llu",
			     (unsigned long long)seq);
	buf[n++] = '}';
	buf[n] = '\0';
	publish(e, seq, buf, (size_t)n);
}

int gw_events_read(const gw_events_t *e, uint64_t seq, char *buf)
{
	const slot_t *s = &e->slots[seq % GW_EVENTS_SLOTS];
	uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
	size_t len;

	if (s1 != seq) {
		if (atomic_load(&s->lost) == seq)
			return -ESTALE;
		if (s1 > seq || gw_events_head(e) > seq + GW_EVENTS_SLOTS)
			return -ESTALE;
		return -EAGAIN;
	}
	len = s->len;
	if (len > GW_EVENT_MAX)
		len = GW_EVENT_MAX;
	memcpy(buf, s->text, len);
	buf[len] = '\0';
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return -ESTALE;
	return (int)len;
}

char *gw_events_json_string(char *out, size_t cap, const char *s)
{
	size_t at = 0;

	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	out[at++] = '"';
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];
		size_t k;

		if (ch == '"' || ch == '\\')
			k = (size_t)snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (ch < 0x20)
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", ch);
		else if (ch >= 0x7f)
			k = 1, esc[0] = '?'; /* callers' bytes, not text */
		else
			k = 1, esc[0] = (char)ch;
		if (at + k + 2 > cap)
			break;
		memcpy(out + at, esc, k);
		at += k;
	}
	out[at++] = '"';
	out[at] = '\0';
	return out;
}

/* --- the gateway's events ---------------------------------------------- */

void gw_events_room(gw_events_t *e, const char *type, const char *room)
{
	gw_events_emit(e, type, room, NULL);
}

/* The members every participant event has. */
#define WHO_FMT	 "\"seat\":%u,\"callSid\":%s,\"streamSid\":%s"
#define SID_JSON (2 * 6 * 128 + 3) /* a Sid with every byte escaped */
/* customParameters longer than this are left out of participant.joined, so
 * that the event fits a slot with the longest Sids. */
#define PARAMS_MAX 400

void gw_events_participant(gw_events_t *e, const char *type, const char *room,
			   unsigned seat, const char *call_sid,
			   const char *stream_sid)
{
	char cj[SID_JSON], sj[SID_JSON];

	gw_events_emit(e, type, room, WHO_FMT, seat,
		       gw_events_json_string(cj, sizeof(cj), call_sid),
		       gw_events_json_string(sj, sizeof(sj), stream_sid));
}

void gw_events_joined(gw_events_t *e, const char *room, unsigned seat,
		      const char *call_sid, const char *stream_sid,
		      const void *custom_params)
{
	char cj[SID_JSON], sj[SID_JSON];
	json_t *params = NULL;
	char *text = NULL;

	if (custom_params && json_is_object((const json_t *)custom_params))
		params = json_copy((json_t *)custom_params);
	if (params) {
		/* Secrets never leave the gateway. */
		json_object_del(params, "password");
		json_object_del(params, "token");
		text = json_dumps(params, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(params);
	}
	if (text && strlen(text) > PARAMS_MAX) {
		free(text);
		text = strdup("{\"truncated\":true}");
	}
	gw_events_emit(e, "participant.joined", room,
		       WHO_FMT ",\"customParameters\":%s", seat,
		       gw_events_json_string(cj, sizeof(cj), call_sid),
		       gw_events_json_string(sj, sizeof(sj), stream_sid),
		       text ? text : "{}");
	free(text);
}

void gw_events_left(gw_events_t *e, const char *room, unsigned seat,
		    const char *call_sid, const char *stream_sid, int code,
		    const char *reason, uint64_t frames_in, uint64_t frames_out,
		    uint64_t bad_frames, uint64_t dtmf)
{
	char cj[SID_JSON], sj[SID_JSON], rj[300];

	gw_events_emit(
	    e, "participant.left", room,
	    WHO_FMT ",\"code\":%d,\"reason\":%s,\"framesIn\":%llu,"
		    "\"framesOut\":%llu,\"badFrames\":%llu,"
		    "\"dtmf\":%llu",
	    seat, gw_events_json_string(cj, sizeof(cj), call_sid),
	    gw_events_json_string(sj, sizeof(sj), stream_sid), code,
	    gw_events_json_string(rj, sizeof(rj), reason),
	    (unsigned long long)frames_in, (unsigned long long)frames_out,
	    (unsigned long long)bad_frames, (unsigned long long)dtmf);
}

void gw_events_dtmf(gw_events_t *e, const char *room, unsigned seat,
		    const char *call_sid, const char *stream_sid, char digit)
{
	char cj[SID_JSON], sj[SID_JSON], d[2] = {digit, '\0'}, dj[16];

	gw_events_emit(e, "participant.dtmf", room, WHO_FMT ",\"digit\":%s",
		       seat, gw_events_json_string(cj, sizeof(cj), call_sid),
		       gw_events_json_string(sj, sizeof(sj), stream_sid),
		       gw_events_json_string(dj, sizeof(dj), d));
}
