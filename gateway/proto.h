/*
 * proto.h - the Twilio Media Streams dialect: reading the platform's
 * messages with jansson and writing ours.
 *
 * gw_proto_parse() reads any inbound message (connected, start, media, dtmf,
 * mark, stop) and checks its shape; the gateway calls it for control
 * messages and for `media` frames that the fast path (media_parse.h) did not
 * handle. gw_proto_media_out() writes the outbound `media` envelope around a
 * ready base64 payload with snprintf, without allocating. Other dialects
 * (Telnyx, Plivo, ...) would be another file with the same two jobs.
 *
 * Nothing here knows about rooms, connections or lws, and nothing logs.
 */
#ifndef CHORUS_GW_PROTO_H
#define CHORUS_GW_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "gateway/media_parse.h"

#define GW_SID_MAX 128 /* longest streamSid/callSid/accountSid accepted */

/* The codes a call is closed with, and when (docs/protocol.md). */
typedef enum gw_close_code {
	GW_CLOSE_NORMAL = 1000,	      /* stop received */
	GW_CLOSE_GOING_AWAY = 1001,   /* the server is shutting down */
	GW_CLOSE_UNSUPPORTED = 1003,  /* a binary frame */
	GW_CLOSE_INVALID = 1007,      /* not JSON of the expected shape */
	GW_CLOSE_TOO_BIG = 1009,      /* a message over --max-frame */
	GW_CLOSE_INTERNAL = 1011,     /* out of memory, say */
	GW_CLOSE_BAD_PASSWORD = 4001, /* wrong room password */
	GW_CLOSE_REMOVED = 4003,      /* removed by an admin; room locked */
	GW_CLOSE_NO_ROOM = 4004,      /* no such room, auto-creation off */
	GW_CLOSE_TIMEOUT = 4008,      /* no start in time */
	GW_CLOSE_SLOW = 4010,	      /* an events subscriber fell behind */
	GW_CLOSE_FULL = 4029,	      /* the room or the server is full */
} gw_close_code_t;

typedef enum gw_event {
	GW_EV_UNKNOWN = 0, /* a valid object with an event we do not know */
	GW_EV_CONNECTED,
	GW_EV_START,
	GW_EV_MEDIA,
	GW_EV_DTMF,
	GW_EV_MARK,
	GW_EV_STOP,
} gw_event_t;

typedef struct gw_start {
	char stream_sid[GW_SID_MAX + 1];
	char call_sid[GW_SID_MAX + 1];	  /* "" if absent */
	char account_sid[GW_SID_MAX + 1]; /* "" if absent */
	char room[GW_ROOM_NAME_MAX + 1];  /* customParameters.room, or "" */
	bool has_room;			  /* room given (maybe invalid) */
	bool room_valid;		  /* and it is a valid name */
	char password[GW_PASSWORD_MAX + 1];
	bool has_password;
	/* customParameters.token, borrowed from the message (valid until
	 * gw_msg_release()); NULL if absent. Not checked here (auth.h). */
	const char *token;
} gw_start_t;

/* One parsed message. Spans in media point into root, which the message
 * owns until gw_msg_release(). */
typedef struct gw_msg {
	gw_event_t event;
	gw_start_t start; /* GW_EV_START */
	gw_media_t media; /* GW_EV_MEDIA */
	char digit;	  /* GW_EV_DTMF */
	void *root;	  /* json_t *, owned */
} gw_msg_t;

/*
 * Parses buf[0..len). Returns 0 with *msg filled (release it), or a negative
 * errno with a short human-readable reason in why (why_len bytes) and
 * nothing to release: -EINVAL for invalid JSON or a message of the wrong
 * shape, -ENOTSUP for a `start` whose mediaFormat is not audio/x-mulaw
 * 8000 Hz mono.
 */
int gw_proto_parse(const char *buf, size_t len, gw_msg_t *msg, char *why,
		   size_t why_len);
void gw_msg_release(gw_msg_t *msg);

/*
 * Writes sid as a JSON string literal (quotes included, escaped) into out
 * (cap bytes, NUL-terminated). Returns its length or -ENOSPC.
 */
int gw_proto_json_string(char *out, size_t cap, const char *sid);

/*
 * Writes {"event":"media","streamSid":<sid_json>,"media":{"payload":"<b64>"}}
 * into out (cap bytes). sid_json comes from gw_proto_json_string(). Returns
 * the length written (without NUL) or -ENOSPC.
 */
int gw_proto_media_out(char *out, size_t cap, const char *sid_json,
		       const char *b64, size_t b64_len);

/*
 * The start message's customParameters (msg->event must be GW_EV_START) as
 * compact JSON without secrets: every key containing "password", "token"
 * or "secret" (any case) is left out. Returns a new string (free() it), or
 * NULL when there are none or out of memory.
 */
char *gw_proto_public_params(const gw_msg_t *msg);

#endif /* CHORUS_GW_PROTO_H */
