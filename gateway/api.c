/*
 * api.c - the admin HTTP API (api.h): access, routing, and one handler per
 * endpoint.
 */
#include "gateway/api.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "gateway/auth.h"
#include "gateway/names.h"
#include "gateway/proto.h"

/* Gains the mixer accepts (mixer.h clamps to the same). */
#define GAIN_DB_MIN -60.0
#define GAIN_DB_MAX 20.0
/* The close reasons the calls of a deleted room, or a removed call, get. */
#define REASON_ROOM_DELETED "room deleted by admin"
#define REASON_REMOVED	    "removed by admin"

/* What one request needs on its way through the handlers. */
typedef struct ctx {
	const gw_api_t *api;
	const gw_api_req_t *req;
	gw_api_resp_t *resp;
	char room[GW_ROOM_NAME_MAX + 1];
	const char *who; /* participant: callSid or seat, or NULL */
	json_t *in;	 /* the parsed body, or NULL */
} ctx_t;

/* --- responses --------------------------------------------------------- */

static void set_json(gw_api_resp_t *resp, unsigned status, json_t *j)
{
	resp->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!resp->body) {
		static const char oom[] = "{\"error\":\"internal\",\"detail\":"
					  "\"out of memory\"}";

		resp->status = 500;
		resp->body = strdup(oom);
		resp->len = resp->body ? sizeof(oom) - 1 : 0;
		return;
	}
	resp->status = status;
	resp->len = strlen(resp->body);
}

void gw__api_error(gw_api_resp_t *resp, unsigned status, const char *error,
		   const char *detail)
{
	set_json(resp, status,
		 json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

static void __attribute__((format(printf, 4, 5)))
fail(ctx_t *x, unsigned status, const char *error, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	gw__api_error(x->resp, status, error, detail);
}

static void no_content(ctx_t *x)
{
	x->resp->status = 204;
	x->resp->body = NULL;
	x->resp->len = 0;
}

/* --- rendering (under the registry's and the room's locks) ------------- */

static json_t *mixer_json(const mix_settings_t *s)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:s, s:b}",
			 "rate", (json_int_t)s->rate, "frame_ms",
			 (json_int_t)s->frame_ms, "window_ms",
			 (json_int_t)s->window_ms, "jitter_target_ms",
			 (json_int_t)s->jitter_target_ms, "jitter_cap_ms",
			 (json_int_t)s->jitter_cap_ms, "gate_threshold_dbfs",
			 s->gate_threshold_dbfs, "gate_attack_frames",
			 (json_int_t)s->gate_attack_frames, "gate_hangover_ms",
			 (json_int_t)s->gate_hangover_ms, "norm",
			 mix_norm_name(s->norm), "echo", s->echo);
}

static void rfc3339(char *out, size_t cap, uint64_t unix_ms)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03uZ", (unsigned)(unix_ms % 1000));
}

static json_t *participant_json(const gw_member_t *m)
{
	const gw_call_info_t *in = m->info;
	mix_participant_stats_t st;
	json_t *params = NULL;
	char joined[40];

	mix_participant_stats(m->p, &st);
	if (in->params)
		params = json_loads(in->params, 0, NULL);
	if (!params)
		params = json_object();
	rfc3339(joined, sizeof(joined), in->joined_unix_ms);
	return json_pack(
	    "{s:s, s:i, s:s, s:o, s:s, s:i, s:b, s:f, s:b, s:b, s:f, s:i, "
	    "s:i, s:I, s:I, s:I, s:I}",
	    "id", in->call_sid, "seat", (json_int_t)m->seat, "streamSid",
	    in->stream_sid, "customParameters", params, "joined_at", joined,
	    "worker", (json_int_t)in->worker, "talking", st.talking,
	    "level_dbfs", st.level_dbfs, "muted", m->muted, "deaf", m->deaf,
	    "gain_db", m->gain_db, "delay_ms", (json_int_t)st.delay_ms,
	    "delay_max_ms", (json_int_t)st.delay_max_ms, "frames_received",
	    (json_int_t)st.frames_received, "frames_late",
	    (json_int_t)st.frames_late, "frames_lost",
	    (json_int_t)(st.frames_dropped_cap + st.frames_dropped_full),
	    "frames_concealed", (json_int_t)st.frames_concealed);
}

static json_t *participants_json(const gw_room_t *room)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < room->n_seats; i++) {
		if (room->seats[i] && room->seats[i]->p)
			json_array_append_new(a,
					      participant_json(room->seats[i]));
	}
	return a;
}

/* Never the password itself: whether there is one. */
static json_t *room_json(const gw_room_t *room, bool with_participants)
{
	json_t *j = json_pack(
	    "{s:s, s:b, s:b, s:b, s:i, s:i, s:o}", "name", room->name, "locked",
	    room->locked, "has_password", room->password[0] != '\0',
	    "persistent", room->admin, "max_participants",
	    (json_int_t)room->max_participants, "participant_count",
	    (json_int_t)atomic_load(&room->members), "mixer",
	    mixer_json(mix_room_settings(room->mix)));

	if (j && with_participants)
		json_object_set_new(j, "participants", participants_json(room));
	return j;
}

/* --- GET /api/server ----------------------------------------------------- */

/* How the server decides who may join and create, and what is unsafe
 * about it (the same warning the start-up log gives). */
static json_t *security_json(const gw_config_t *c)
{
	gw_room_policy_t policy = gw_config_policy(c);
	json_t *warnings = json_array();

	if (policy == GW_POLICY_OPEN)
		json_array_append_new(warnings,
				      json_string(GW_POLICY_OPEN_WARNING));
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:o}", "room_policy",
			 gw_room_policy_name(policy), "twilio_signatures",
			 c->twilio_auth_token[0] != '\0', "join_tokens",
			 c->join_secret[0] != '\0', "tls",
			 c->tls_cert[0] != '\0', "admin_token",
			 c->admin_token[0] != '\0', "warnings", warnings);
}

static void get_server(ctx_t *x)
{
	const gw_api_t *api = x->api;
	const gw_config_t *c = api->cfg;
	gw_metrics_t m;
	json_t *j;

	memset(&m, 0, sizeof(m));
	api->metrics(api->data, &m);
	j = json_pack(
	    "{s:s, s:I, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:b}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "version", CHORUS_VERSION, "uptime_s",
	    (json_int_t)((chorus_now_ns() - api->started_ns) / CHORUS_NS_PER_S),
	    "workers", (json_int_t)api->workers, "limits", "max_connections",
	    (json_int_t)c->max_connections, "max_rooms",
	    (json_int_t)c->max_rooms, "max_per_room",
	    (json_int_t)c->max_per_room, "max_frame", (json_int_t)c->max_frame,
	    "start_timeout_ms", (json_int_t)c->start_timeout_ms, "auto_create",
	    c->auto_create, "counts", "connections", (json_int_t)m.connections,
	    "rooms", (json_int_t)m.rooms, "rooms_active",
	    (json_int_t)m.rooms_active, "accepted", (json_int_t)m.accepted,
	    "joined", (json_int_t)m.joined, "refused", (json_int_t)m.refused);
	if (j)
		json_object_set_new(j, "security", security_json(c));
	set_json(x->resp, 200, j);
}

/* --- rooms --------------------------------------------------------------- */

static void add_room(gw_room_t *room, void *data)
{
	json_array_append_new(data, room_json(room, false));
}

static void get_rooms(ctx_t *x)
{
	json_t *a = json_array();

	if (a)
		gw_registry_each(x->api->reg, add_room, a);
	set_json(x->resp, 200, json_pack("{s:o}", "rooms", a));
}

static void render_room(gw_room_t *room, void *data)
{
	ctx_t *x = data;

	set_json(x->resp, x->req->method == GW_HTTP_POST ? 201 : 200,
		 room_json(room, true));
}

static void post_room(ctx_t *x)
{
	char err[GW_ERR_LEN];
	gw_room_conf_t rc;
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(x->in, key, v)
	{
		if (strcmp(key, "name") && strcmp(key, "password") &&
		    strcmp(key, "max_participants") && strcmp(key, "mixer"))
			return fail(x, 422, "unknown_field",
				    "unknown field \"%s\"", key);
	}
	if (gw_config_room_json(x->api->cfg, x->in, &rc, err) < 0)
		return fail(x, 422, "invalid", "%s", err);
	if (rc.max_participants > x->api->cfg->max_per_room)
		return fail(x, 422, "invalid",
			    "max_participants is above --max-per-room %u",
			    x->api->cfg->max_per_room);
	r = gw_registry_create(x->api->reg, &rc, render_room, x);
	if (r == -EEXIST)
		return fail(x, 409, "exists", "room %s already exists",
			    rc.name);
	if (r == -EMLINK)
		return fail(x, 409, "full", "too many rooms (--max-rooms %u)",
			    x->api->cfg->max_rooms);
	if (r == -EINVAL)
		return fail(x, 422, "invalid", "invalid mixer settings");
	if (r < 0)
		return fail(x, 500, "internal", "out of memory");
}

static void get_room(ctx_t *x)
{
	if (gw_registry_with(x->api->reg, x->room, render_room, x) < 0)
		fail(x, 404, "not_found", "no room %s", x->room);
}

/* A PATCH of a room, checked whole before anything changes. */
typedef struct room_patch {
	ctx_t *x;
	json_t *locked, *password, *max, *mixer;
	int ret;
} room_patch_t;

/* The mixer's live settings (mix_room_set_live()); 422 if it refuses. */
static bool patch_mixer(gw_room_t *room, room_patch_t *rp)
{
	mix_settings_t s = *mix_room_settings(room->mix);
	char err[GW_ERR_LEN];

	if (gw_config_mixer_json(rp->mixer, &s, room->name, err) < 0) {
		fail(rp->x, 422, "invalid", "%s", err);
		return false;
	}
	if (mix_room_set_live(room->mix, &s) < 0) {
		fail(rp->x, 422, "invalid",
		     "only gate_threshold_dbfs, gate_attack_frames, "
		     "gate_hangover_ms, norm and echo can change live");
		return false;
	}
	return true;
}

/* Applies the patch whole or not at all: the limit first (it may be
 * refused, and can be set back), then the mixer, then the rest. */
static void apply_room_patch(gw_room_t *room, void *data)
{
	room_patch_t *rp = data;
	unsigned old_max = room->max_participants;

	if (rp->max) {
		rp->ret = gw_room_set_max(
		    room, (unsigned)json_integer_value(rp->max));
		if (rp->ret == -EBUSY)
			return fail(rp->x, 409, "busy",
				    "a seat above %lld is taken",
				    (long long)json_integer_value(rp->max));
		if (rp->ret < 0)
			return fail(rp->x, 500, "internal", "out of memory");
	}
	if (rp->mixer && !patch_mixer(room, rp)) {
		gw_room_set_max(room, old_max); /* cannot fail: no smaller */
		return;
	}
	if (rp->locked && room->locked != json_is_true(rp->locked)) {
		room->locked = json_is_true(rp->locked);
		gw_events_room(rp->x->api->events,
			       room->locked ? "room.locked" : "room.unlocked",
			       room->name);
	}
	if (rp->password)
		snprintf(room->password, sizeof(room->password), "%s",
			 json_is_string(rp->password)
			     ? json_string_value(rp->password)
			     : "");
	render_room(room, rp->x);
}

static void patch_room(ctx_t *x)
{
	room_patch_t rp = {.x = x};
	const char *key;
	json_t *v;

	json_object_foreach(x->in, key, v)
	{
		if (!strcmp(key, "locked") && json_is_boolean(v))
			rp.locked = v;
		else if (!strcmp(key, "password") &&
			 (json_is_null(v) ||
			  (json_is_string(v) &&
			   json_string_length(v) <= GW_PASSWORD_MAX)))
			rp.password = v;
		else if (!strcmp(key, "max_participants") &&
			 json_is_integer(v) && json_integer_value(v) >= 1 &&
			 json_integer_value(v) <= x->api->cfg->max_per_room)
			rp.max = v;
		else if (!strcmp(key, "locked") || !strcmp(key, "password") ||
			 !strcmp(key, "max_participants"))
			return fail(x, 422, "invalid", "bad value for \"%s\"",
				    key);
		else if (!strcmp(key, "mixer"))
			rp.mixer = v;
		else
			return fail(x, 422, "unknown_field",
				    "unknown field \"%s\"", key);
	}
	if (gw_registry_with(x->api->reg, x->room, apply_room_patch, &rp) < 0)
		fail(x, 404, "not_found", "no room %s", x->room);
}

/* Closes every call in a room (delete) or one (remove). */
typedef struct closer {
	ctx_t *x;
	int code;
	const char *reason;
	unsigned closed;
} closer_t;

static void close_member(closer_t *cl, const gw_member_t *m)
{
	const gw_api_t *api = cl->x->api;

	if (api->close_call(api->data, m->info->worker, m->info->id, cl->code,
			    cl->reason) == 0)
		cl->closed++;
}

static void close_all_members(gw_room_t *room, void *data)
{
	for (unsigned i = 0; i < room->n_seats; i++) {
		if (room->seats[i])
			close_member(data, room->seats[i]);
	}
}

static void delete_room(ctx_t *x)
{
	closer_t cl = {x, GW_CLOSE_NORMAL, REASON_ROOM_DELETED, 0};

	int r =
	    gw_registry_delete(x->api->reg, x->room, close_all_members, &cl);

	if (r < 0)
		return fail(x, 404, "not_found", "no room %s", x->room);
	if (r == 1) /* freed at once: no clock will say so */
		gw_events_room(x->api->events, "room.closed", x->room);
	no_content(x);
}

/* --- participants -------------------------------------------------------- */

static void render_participants(gw_room_t *room, void *data)
{
	ctx_t *x = data;

	set_json(x->resp, 200,
		 json_pack("{s:o}", "participants", participants_json(room)));
}

static void get_participants(ctx_t *x)
{
	if (gw_registry_with(x->api->reg, x->room, render_participants, x) < 0)
		fail(x, 404, "not_found", "no room %s", x->room);
}

/* The member named by a seat number or a callSid, or NULL. */
static gw_member_t *find_member(gw_room_t *room, const char *who)
{
	char *end;
	unsigned long seat = strtoul(who, &end, 10);

	if (*who >= '0' && *who <= '9' && !*end)
		return seat >= 1 && seat <= room->n_seats
			   ? room->seats[seat - 1]
			   : NULL;
	for (unsigned i = 0; i < room->n_seats; i++) {
		gw_member_t *m = room->seats[i];

		if (m && m->info->call_sid[0] &&
		    !strcmp(m->info->call_sid, who))
			return m;
	}
	return NULL;
}

static void participant_op(gw_room_t *room, void *data)
{
	ctx_t *x = data;
	gw_member_t *m = find_member(room, x->who);
	json_t *v;

	if (!m || !m->p)
		return fail(x, 404, "not_found", "no participant %s in room %s",
			    x->who, x->room);
	switch (x->req->method) {
	case GW_HTTP_DELETE: {
		closer_t cl = {x, GW_CLOSE_REMOVED, REASON_REMOVED, 0};

		close_member(&cl, m);
		if (!cl.closed)
			return fail(x, 500, "internal", "out of memory");
		return no_content(x);
	}
	case GW_HTTP_PATCH:
		if ((v = json_object_get(x->in, "muted")) &&
		    m->muted != json_is_true(v)) {
			m->muted = json_is_true(v);
			mix_participant_set_muted(m->p, m->muted);
			gw_events_participant(x->api->events,
					      m->muted ? "participant.muted"
						       : "participant.unmuted",
					      room->name, m->seat,
					      m->info->call_sid,
					      m->info->stream_sid);
		}
		if ((v = json_object_get(x->in, "deaf"))) {
			m->deaf = json_is_true(v);
			mix_participant_set_deaf(m->p, m->deaf);
		}
		if ((v = json_object_get(x->in, "gain_db"))) {
			m->gain_db = json_number_value(v);
			mix_participant_set_gain_db(m->p, m->gain_db);
		}
		/* fall through */
	default:
		set_json(x->resp, 200, participant_json(m));
	}
}

/* PATCH's fields are checked before the room is locked. */
static bool participant_patch_valid(ctx_t *x)
{
	const char *key;
	json_t *v;

	json_object_foreach(x->in, key, v)
	{
		if ((!strcmp(key, "muted") || !strcmp(key, "deaf")) &&
		    json_is_boolean(v))
			continue;
		if (!strcmp(key, "gain_db") && json_is_number(v) &&
		    json_number_value(v) >= GAIN_DB_MIN &&
		    json_number_value(v) <= GAIN_DB_MAX)
			continue;
		if (!strcmp(key, "muted") || !strcmp(key, "deaf") ||
		    !strcmp(key, "gain_db")) {
			fail(x, 422, "invalid",
			     "bad value for \"%s\" (gain_db: %g to %g)", key,
			     GAIN_DB_MIN, GAIN_DB_MAX);
			return false;
		}
		fail(x, 422, "unknown_field", "unknown field \"%s\"", key);
		return false;
	}
	return true;
}

static void participant(ctx_t *x)
{
	if (x->req->method == GW_HTTP_PATCH && !participant_patch_valid(x))
		return;
	if (gw_registry_with(x->api->reg, x->room, participant_op, x) < 0)
		fail(x, 404, "not_found", "no room %s", x->room);
}

/* --- routing ------------------------------------------------------------- */

typedef void (*handler_fn)(ctx_t *x);

/* --- join tokens -------------------------------------------------------- */

/* Longest life a minted token may ask for: a day. */
#define TOKEN_TTL_MAX 86400u
#define TOKEN_TTL_DEF 3600u

static void post_token(ctx_t *x)
{
	const char *secret = x->api->cfg->join_secret;
	const char *role = NULL, *identity = NULL, *key;
	unsigned ttl = TOKEN_TTL_DEF;
	char token[GW_TOKEN_MAX + 1], at[40];
	time_t expires;
	json_t *v;

	if (!secret[0])
		return fail(x, 409, "no_join_secret",
			    "join tokens need --join-secret");
	json_object_foreach(x->in, key, v)
	{
		if (!strcmp(key, "role") && json_is_string(v))
			role = json_string_value(v);
		else if (!strcmp(key, "identity") && json_is_string(v))
			identity = json_string_value(v);
		else if (!strcmp(key, "ttl_s") && json_is_integer(v) &&
			 json_integer_value(v) >= 1 &&
			 json_integer_value(v) <= TOKEN_TTL_MAX)
			ttl = (unsigned)json_integer_value(v);
		else if (!strcmp(key, "role") || !strcmp(key, "identity") ||
			 !strcmp(key, "ttl_s"))
			return fail(x, 422, "invalid", "bad value for \"%s\"",
				    key);
		else
			return fail(x, 422, "unknown_field",
				    "unknown field \"%s\"", key);
	}
	if (gw_token_mint(secret, x->room, role, ttl, identity, token,
			  sizeof(token), &expires) < 0)
		return fail(x, 422, "invalid",
			    "role: 1-32 of [a-z0-9_-]; identity: printable");
	rfc3339(at, sizeof(at), (uint64_t)expires * 1000);
	set_json(x->resp, 201,
		 json_pack("{s:s, s:s, s:s, s:s}", "token", token, "expires_at",
			   at, "room", x->room, "role",
			   role ? role : "participant"));
}

/* One path shape and its handler per method (NULL: 405). */
typedef struct route {
	handler_fn get, post, patch, del;
} route_t;

static const route_t R_SERVER = {get_server, NULL, NULL, NULL};
static const route_t R_ROOMS = {get_rooms, post_room, NULL, NULL};
static const route_t R_ROOM = {get_room, NULL, patch_room, delete_room};
static const route_t R_PARTS = {get_participants, NULL, NULL, NULL};
static const route_t R_PART = {participant, NULL, participant, participant};
static const route_t R_TOKENS = {NULL, post_token, NULL, NULL};

/* Copies the next path segment of *p (up to '/') into out (cap bytes).
 * Returns its length, or -1 when it is empty or too long. */
static int segment(const char **p, char *out, size_t cap)
{
	size_t n = strcspn(*p, "/");

	if (!n || n >= cap)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return (int)n;
}

/* Finds the route for path and fills x->room and x->who. NULL: 404. */
static const route_t *route(ctx_t *x, const char *path, char *who, size_t cap)
{
	const char *p = path;

	if (!strcmp(p, "/api/server"))
		return &R_SERVER;
	if (!strcmp(p, "/api/rooms") || !strcmp(p, "/api/rooms/"))
		return &R_ROOMS;
	if (strncmp(p, "/api/rooms/", 11))
		return NULL;
	p += 11;
	if (segment(&p, x->room, sizeof(x->room)) < 0 ||
	    !gw_room_name_valid(x->room, strlen(x->room)))
		return NULL;
	if (!*p)
		return &R_ROOM;
	if (!strcmp(p, "/participants"))
		return &R_PARTS;
	if (!strcmp(p, "/tokens"))
		return &R_TOKENS;
	if (strncmp(p, "/participants/", 14))
		return NULL;
	p += 14;
	if (segment(&p, who, cap) < 0 || *p)
		return NULL;
	x->who = who;
	return &R_PART;
}

static bool authorized(ctx_t *x)
{
	if (x->req->access == 0)
		return true;
	if (x->req->access == -EPERM)
		fail(x, 403, "forbidden",
		     "no --admin-token is set: the API answers loopback "
		     "clients only");
	else
		fail(x, 401, "unauthorized",
		     x->req->has_auth ? "wrong token"
				      : "send Authorization: Bearer <token>");
	return false;
}

/* Parses the body of a POST or PATCH into x->in. */
static bool parse_body(ctx_t *x)
{
	json_error_t je;

	x->in = x->req->body_len ? json_loadb(x->req->body, x->req->body_len,
					      JSON_REJECT_DUPLICATES, &je)
				 : NULL;
	if (!x->req->body_len) {
		fail(x, 400, "bad_request", "a JSON object body is required");
		return false;
	}
	if (!x->in) {
		fail(x, 400, "bad_request", "invalid JSON: %s", je.text);
		return false;
	}
	if (!json_is_object(x->in)) {
		fail(x, 400, "bad_request", "the body must be a JSON object");
		return false;
	}
	return true;
}

void gw__api_handle(const gw_api_t *api, const gw_api_req_t *req,
		    gw_api_resp_t *resp)
{
	ctx_t x = {.api = api, .req = req, .resp = resp};
	char who[GW_SID_MAX + 1];
	const route_t *rt;
	handler_fn fn = NULL;

	memset(resp, 0, sizeof(*resp));
	if (!authorized(&x))
		return;
	rt = route(&x, req->path, who, sizeof(who));
	if (!rt)
		return fail(&x, 404, "not_found", "no such endpoint %.100s",
			    req->path);
	switch (req->method) {
	case GW_HTTP_GET:
		fn = rt->get;
		break;
	case GW_HTTP_POST:
		fn = rt->post;
		break;
	case GW_HTTP_PATCH:
		fn = rt->patch;
		break;
	case GW_HTTP_DELETE:
		fn = rt->del;
		break;
	default:
		break;
	}
	if (!fn)
		return fail(&x, 405, "method_not_allowed",
			    "method not allowed on %.100s", req->path);
	if ((req->method == GW_HTTP_POST || req->method == GW_HTTP_PATCH) &&
	    !parse_body(&x)) {
		json_decref(x.in);
		return;
	}
	fn(&x);
	json_decref(x.in);
}
