/*
 * subscriber.c - the /api/events WebSocket (subscriber.h).
 */
#include "gateway/subscriber.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/access.h"
#include "gateway/log.h"
#include "gateway/names.h"
#include "gateway/proto.h"

#define EVENTS_PATH "/api/events"
/* Events written per writable callback before yielding to other work. */
#define WRITE_BURST 32

struct gw_sub {
	gw_subs_t *subs; /* NULL until established */
	struct lws *wsi;
	gw_sub_t *prev, *next;
	uint64_t next_seq;		 /* the next event to send */
	char room[GW_ROOM_NAME_MAX + 1]; /* the filter; "" = every room */
	int close_code;			 /* close from the timer */
	char close_reason[64];
};

bool gw__sub_path(const char *path)
{
	size_t n = strlen(EVENTS_PATH);

	return !strncmp(path, EVENTS_PATH, n) &&
	       (path[n] == '\0' || path[n] == '?');
}

size_t gw__sub_size(void)
{
	return sizeof(gw_sub_t);
}

/* Asks the timer to close s with code (lws 4.1 sends the close frame from
 * TIMER, not from a WRITEABLE that returns -1). */
static void close_later(gw_sub_t *s, int code, const char *reason)
{
	if (s->close_code)
		return;
	s->close_code = code;
	snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
	lws_set_timer_usecs(s->wsi, 1);
}

/* The ?room= filter into room ("" for none). Returns 0 or -EINVAL. */
static int room_filter(struct lws *wsi, char room[GW_ROOM_NAME_MAX + 1])
{
	char arg[GW_ROOM_NAME_MAX + 8];
	/* (lws copies "room=<value>" and returns the value's start) */
	const char *v = lws_get_urlarg_by_name(wsi, "room=", arg, sizeof(arg));

	room[0] = '\0';
	if (!v)
		return 0;
	if (!gw_room_name_valid(v, strlen(v)))
		return -EINVAL;
	strcpy(room, v);
	return 0;
}

int gw__sub_confirm(gw_subs_t *subs, struct lws *wsi)
{
	char room[GW_ROOM_NAME_MAX + 1];
	int r = gw_access_admin(wsi, subs->cfg, true);

	if (r < 0) {
		gw__count(&subs->n->events_refused, 1);
		gw_info("events subscriber refused: %s",
			r == -EACCES ? "missing or wrong admin token"
				     : "not on loopback and no admin token");
		lws_return_http_status(wsi,
				       r == -EACCES ? HTTP_STATUS_UNAUTHORIZED
						    : HTTP_STATUS_FORBIDDEN,
				       NULL);
		return 1;
	}
	if (room_filter(wsi, room) < 0) {
		lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
				       "invalid room filter");
		return 1;
	}
	return 0;
}

/* After gw__sub_confirm() let it through: checks again (no upgrade skips
 * the confirmation) and keeps the filter. */
static int on_filter(gw_sub_t *s, gw_subs_t *subs, struct lws *wsi)
{
	memset(s, 0, sizeof(*s));
	if (gw_access_admin(wsi, subs->cfg, true) < 0 ||
	    room_filter(wsi, s->room) < 0)
		return 1;
	return 0;
}

static void on_established(gw_sub_t *s, gw_subs_t *subs, struct lws *wsi)
{
	s->subs = subs;
	s->wsi = wsi;
	s->next_seq = gw_events_head(subs->events);
	s->next = subs->list;
	if (subs->list)
		subs->list->prev = s;
	subs->list = s;
	subs->live++;
	gw_info("events subscriber opened room=%s", s->room[0] ? s->room : "*");
	lws_set_timer_usecs(wsi, GW_SUB_POLL_MS * 1000);
}

static void on_closed(gw_sub_t *s)
{
	gw_subs_t *subs = s->subs;

	if (!subs)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		subs->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	subs->live--;
	s->subs = NULL;
}

/* True if the event is about the filter's room: "room" is the first member
 * after "time" (events.c), before any caller-supplied field. */
static bool wanted(const gw_sub_t *s, const char *text)
{
	const char *p = strstr(text, ",\"room\":\"");
	size_t n = strlen(s->room);

	if (!s->room[0])
		return true;
	return p && !strncmp(p + 9, s->room, n) && p[9 + n] == '"';
}

static bool lapped(const gw_sub_t *s)
{
	return gw_events_head(s->subs->events) > s->next_seq + GW_EVENTS_SLOTS;
}

static int on_writeable(gw_sub_t *s)
{
	unsigned char buf[LWS_PRE + GW_EVENT_MAX + 1];
	char *text = (char *)buf + LWS_PRE;

	for (int i = 0; i < WRITE_BURST && !s->close_code; i++) {
		int n = gw_events_read(s->subs->events, s->next_seq, text);

		if (n == -EAGAIN)
			return 0; /* all sent: the timer looks again */
		if (n < 0 && lapped(s)) {
			close_later(s, GW_CLOSE_SLOW,
				    "events subscriber too slow");
			return 0;
		}
		s->next_seq++;
		if (n < 0 || !wanted(s, text))
			continue; /* (an event lost to a slot collision) */
		if (lws_write(s->wsi, buf + LWS_PRE, (size_t)n,
			      LWS_WRITE_TEXT) < n)
			return -1;
		gw__count(&s->subs->n->events_sent, 1);
		if (lws_send_pipe_choked(s->wsi))
			break;
	}
	lws_callback_on_writable(s->wsi);
	return 0;
}

static int on_timer(gw_sub_t *s)
{
	if (s->close_code) {
		if (s->close_code == GW_CLOSE_SLOW) {
			gw__count(&s->subs->n->events_slow, 1);
			gw_info("events subscriber closed: too slow");
		}
		lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
				 (unsigned char *)s->close_reason,
				 strlen(s->close_reason));
		return -1;
	}
	if (lapped(s)) {
		close_later(s, GW_CLOSE_SLOW, "events subscriber too slow");
		return 0;
	}
	if (gw_events_head(s->subs->events) > s->next_seq)
		lws_callback_on_writable(s->wsi);
	lws_set_timer_usecs(s->wsi, GW_SUB_POLL_MS * 1000);
	return 0;
}

int gw__sub_callback(gw_subs_t *subs, struct lws *wsi,
		     enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	gw_sub_t *s = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(s, subs, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		on_established(s, subs, wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s->subs ? on_writeable(s) : 0;
	case LWS_CALLBACK_TIMER:
		return s->subs ? on_timer(s) : 0;
	case LWS_CALLBACK_RECEIVE:
		return 0; /* nothing a subscriber says matters */
	case LWS_CALLBACK_CLOSED:
		on_closed(s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

void gw__sub_close_all(gw_subs_t *subs, int code, const char *reason)
{
	for (gw_sub_t *s = subs->list; s; s = s->next)
		close_later(s, code, reason);
}
