/*
 * server.c - the gateway assembled (server.h): one shard per worker (its
 * worker, its calls, its output home, its counters), the registry and the
 * clocks shared by all, and the lws callback that routes each event to the
 * part that handles it.
 */
#include "gateway/server.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "gateway/api.h"
#include "gateway/clock.h"
#include "gateway/cmdq.h"
#include "gateway/conn.h"
#include "gateway/events.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/outq.h"
#include "gateway/room.h"
#include "gateway/subscriber.h"
#include "gateway/webhook.h"
#include "gateway/worker.h"

/* How long calls have to take their 1001 when the server stops. */
#define STOP_GRACE_MS 500

/* Everything one worker owns. */
typedef struct shard {
	gw_worker_t w; /* w.data is &calls */
	gw_calls_t calls;
	gw_subs_t subs; /* its /api/events subscribers */
	gw_outq_home_t out;
	gw_counters_t n;
	gw_cmdq_t cmds; /* closes asked for by the admin API */
	gw_server_t *srv;
	bool ready; /* gw__worker_init() done */
	bool stop_seen;
} shard_t;

struct gw_server {
	const gw_config_t *cfg;
	gw_registry_t *reg;
	gw_clocks_t *clocks;
	gw_events_t *events;
	gw_webhook_t *webhook; /* NULL without --webhook */
	gw_http_t http;
	gw_api_t api;
	struct lws_protocols protocols[3];
	shard_t *shards;
	gw_outq_home_t **homes; /* &shards[i].out */
	unsigned n_shards;
	atomic_uint n_conns;
	atomic_int stopping;
	gw_sources_t *sources;
	gw_cidr_t trusted;
};

/*
 * lws's per-session data: what kind of connection it is, then that kind's
 * state. lws zeroes it when a connection opens; the first event that
 * tells the kind sets it (an HTTP request, or the filter before an
 * upgrade, by its path), and events are routed by it.
 */
typedef enum session_kind {
	SESSION_NONE = 0,
	SESSION_CALL,	/* gw_conn_t (conn.h) */
	SESSION_HTTP,	/* gw_http_req_t (http.h) */
	SESSION_EVENTS, /* an /api/events subscriber (subscriber.h) */
} session_kind_t;

typedef struct session {
	session_kind_t kind;
	max_align_t state[]; /* the kind's */
} session_t;

static size_t session_size(void)
{
	size_t call = gw__conn_size(), http = sizeof(gw_http_req_t);
	size_t sub = gw__sub_size();
	size_t max = call > http ? call : http;

	return sizeof(session_t) + (max > sub ? max : sub);
}

static shard_t *shard_of(struct lws *wsi)
{
	gw_worker_t *w = gw__worker_of(wsi);

	return w ? lws_container_of(w, shard_t, w) : NULL;
}

/* On the shard's thread, after lws_cancel_service(): rooms to start ticking,
 * frames other workers' clocks posted, and the stop. */
static void on_woken(shard_t *sh)
{
	gw_server_t *s = sh->srv;

	gw_cmd_t *cmds;
	unsigned n;

	gw__clock_woken(s->clocks, sh->w.id);
	gw__outq_drain(&sh->out);
	n = gw__cmdq_take(&sh->cmds, &cmds);
	for (unsigned i = 0; i < n; i++)
		gw__conn_close_id(&sh->calls, cmds[i].call_id, cmds[i].code,
				  cmds[i].reason);
	free(cmds);
	if (atomic_load(&s->stopping) && !sh->stop_seen) {
		sh->stop_seen = true;
		gw__conn_close_all(&sh->calls, GW_CLOSE_GOING_AWAY,
				   "server shutting down");
		gw__sub_close_all(&sh->subs, GW_CLOSE_GOING_AWAY,
				  "server shutting down");
		gw__worker_stop(&sh->w, &sh->calls.live, STOP_GRACE_MS);
	}
}

static bool is_subscription(struct lws *wsi)
{
	char path[256];

	return lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) > 0 &&
	       gw__sub_path(path);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	session_t *ss = user;
	shard_t *sh = shard_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (sh)
			on_woken(sh);
		return 0;
	case LWS_CALLBACK_HTTP:
		if (ss)
			ss->kind = SESSION_HTTP;
		break;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* The last moment an upgrade can get an HTTP answer (401,
		 * 403): before any session kind is known. */
		if (sh && is_subscription(wsi))
			return gw__sub_confirm(&sh->subs, wsi);
		return gw__conn_callback(wsi, reason, NULL, in, len);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (ss)
			ss->kind = is_subscription(wsi) ? SESSION_EVENTS
							: SESSION_CALL;
		break;
	default:
		break;
	}
	if (!ss || !sh)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (ss->kind) {
	case SESSION_HTTP:
		return gw__http_callback(wsi, reason,
					 (gw_http_req_t *)ss->state, in, len,
					 &sh->srv->http);
	case SESSION_EVENTS:
		return gw__sub_callback(&sh->subs, wsi, reason, ss->state, in,
					len);
	case SESSION_CALL:
		return gw__conn_callback(wsi, reason, ss->state, in, len);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* The admin API's way to close a call: on the call's own worker. */
static int close_call(void *data, unsigned worker, uint64_t call_id, int code,
		      const char *reason)
{
	gw_server_t *s = data;
	gw_cmd_t cmd = {.call_id = call_id, .code = code};
	int r;

	if (worker >= s->n_shards)
		return -EINVAL;
	snprintf(cmd.reason, sizeof(cmd.reason), "%s", reason);
	r = gw__cmdq_post(&s->shards[worker].cmds, &cmd);
	if (r == 0)
		gw__worker_wake(&s->shards[worker].w);
	return r;
}

/* The clock's idle check: the member count first, so that a busy room's
 * tick takes no registry lock. */
static bool room_idle(void *data, gw_tick_t *t)
{
	gw_server_t *s = data;
	gw_room_t *room = lws_container_of(t, gw_room_t, tick);
	char name[GW_ROOM_NAME_MAX + 1];
	bool admin = room->admin;

	if (atomic_load(&room->members) != 0)
		return false;
	strcpy(name, room->name); /* the room may be freed */
	if (!gw_registry_clock_idle(s->reg, room))
		return false;
	if (!admin) /* an auto-created room emptied, and is gone */
		gw_events_room(s->events, "room.closed", name);
	return true;
}

static void talk(void *data, void *user, bool talking)
{
	gw__conn_talk(data, user, talking);
}

static void metrics(void *data, gw_metrics_t *m)
{
	gw_server_t *s = data;
	unsigned rooms, active;

	gw_events_stats_t es;
	gw_webhook_stats_t ws;

	for (unsigned i = 0; i < s->n_shards; i++) {
		shard_t *sh = &s->shards[i];
		unsigned in_rooms = atomic_load(&sh->calls.participants);

		gw__metrics_add(m, &sh->n);
		gw__metrics_worker(m, &sh->n, i);
		m->participants += in_rooms;
		if (i < GW_WORKERS_MAX) {
			m->worker_participants[i] = in_rooms;
			m->worker_rooms[i] = gw__clock_rooms(s->clocks, i);
		}
		m->event_subscribers += sh->subs.live;
	}
	gw_events_stats(s->events, &es);
	m->events = es.emitted;
	m->events_truncated = es.truncated;
	m->events_lost = es.collided;
	gw_webhook_stats(s->webhook, &ws);
	m->webhook_delivered = ws.delivered;
	m->webhook_failed = ws.failed;
	m->webhook_dropped = ws.dropped;
	gw_registry_counts(s->reg, &rooms, &active);
	m->connections = atomic_load(&s->n_conns);
	m->rooms = rooms;
	m->rooms_active = active;
	m->workers = s->n_shards;
	/* Counted by the log's own writer, not by a worker. */
	m->log_dropped = gw_log_dropped();
}

static int shard_init(gw_server_t *s, unsigned i)
{
	shard_t *sh = &s->shards[i];

	sh->srv = s;
	sh->w.id = i;
	sh->w.cfg = s->cfg;
	sh->w.protocols = s->protocols;
	sh->w.refuse = &s->stopping;
	sh->w.data = &sh->calls;
	sh->calls.cfg = s->cfg;
	sh->calls.reg = s->reg;
	sh->calls.clocks = s->clocks;
	sh->calls.worker = i;
	sh->calls.out = &sh->out;
	sh->calls.n = &sh->n;
	sh->calls.total = &s->n_conns;
	sh->calls.stopping = &s->stopping;
	sh->calls.sources = s->sources;
	sh->calls.trusted = &s->trusted;
	sh->calls.events = s->events;
	sh->subs.cfg = s->cfg;
	sh->subs.events = s->events;
	sh->subs.n = &sh->n;
	gw__clocks_bind(s->clocks, i, &sh->w, &sh->out, &sh->n);
	if (gw__worker_init(&sh->w) < 0)
		return -ENOMEM;
	sh->ready = true;
	s->homes[i] = &sh->out;
	if (gw__cmdq_init(&sh->cmds) < 0)
		return -ENOMEM;
	return gw__outq_home_init(&sh->out, &sh->w, s->homes, s->n_shards,
				  s->cfg->out_queue, &sh->n);
}

gw_server_t *gw_server_new(const gw_config_t *c)
{
	gw_server_t *s = calloc(1, sizeof(*s));
	unsigned n = c->workers;

	if (!s)
		return NULL;
	if (!n) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		n = cores > 0 ? (unsigned)cores : 1;
	}
	s->cfg = c;
	s->protocols[0] = (struct lws_protocols){
	    .name = "chorus-media-streams",
	    .callback = callback,
	    .per_session_data_size = session_size(),
	    .rx_buffer_size = 4096,
	};
	/* The subprotocol a browser names for /api/events (access.h): lws
	 * accepts an upgrade only for a subprotocol it knows. */
	s->protocols[1] = s->protocols[0];
	s->protocols[1].name = "chorus-events";
	s->http.cfg = c;
	s->http.metrics = metrics;
	s->http.data = s;
	s->http.api = &s->api;
	s->api.cfg = c;
	s->api.started_ns = chorus_now_ns();
	s->api.workers = n;
	s->api.metrics = metrics;
	s->api.close_call = close_call;
	s->api.data = s;
	s->shards = calloc(n, sizeof(*s->shards));
	s->homes = calloc(n, sizeof(*s->homes));
	s->reg = gw_registry_new(c);
	s->events = gw_events_new();
	s->clocks = gw__clocks_new(n, room_idle, s, &s->stopping);
	s->sources = gw_sources_new(&(gw_source_limits_t){
	    .max_conns = c->max_per_source,
	    .handshakes_per_s = c->handshakes_per_source,
	    .pw_failures_per_min = c->max_password_failures,
	});
	if (c->trusted_proxy[0])
		gw_cidr_parse(c->trusted_proxy, &s->trusted); /* validated */
	s->api.reg = s->reg;
	s->api.events = s->events;
	if (!s->shards || !s->homes || !s->reg || !s->events || !s->clocks ||
	    !s->sources)
		goto fail;
	gw__clocks_on_talk(s->clocks, talk, s->events);
	if (c->webhook[0] && !(s->webhook = gw_webhook_new(
				   s->events, c->webhook, c->webhook_secret)))
		goto fail;
	s->n_shards = n;
	for (unsigned i = 0; i < n; i++) {
		if (shard_init(s, i) < 0)
			goto fail;
	}
	return s;
fail:
	gw_err("out of memory creating the server");
	gw_server_free(s);
	return NULL;
}

int gw_server_start(gw_server_t *s)
{
	gw__workers_prepare(s->cfg);
	if (s->webhook && gw_webhook_start(s->webhook) < 0)
		return -EAGAIN;
	for (unsigned i = 0; i < s->n_shards; i++) {
		int r = gw__worker_start(&s->shards[i].w);

		if (r < 0)
			return r;
	}
	gw_info("listening on %s:%u with %u workers (libuv event loop)%s",
		s->cfg->bind, s->cfg->port, s->n_shards,
		s->cfg->tls_cert[0] ? ", TLS (wss:// and https://)" : "");
	return 0;
}

static bool all_ended(gw_server_t *s)
{
	for (unsigned i = 0; i < s->n_shards; i++) {
		gw_worker_t *w = &s->shards[i].w;
		gw_worker_state_t st = gw__worker_state(w);

		if (w->started && st != GW_WORKER_ENDED &&
		    st != GW_WORKER_FAILED)
			return false;
	}
	return true;
}

int gw_server_stop(gw_server_t *s, unsigned timeout_ms)
{
	uint64_t deadline =
	    chorus_now_ns() + (uint64_t)timeout_ms * CHORUS_NS_PER_MS;
	bool done;

	atomic_store(&s->stopping, 1);
	for (unsigned i = 0; i < s->n_shards; i++)
		gw__worker_wake(&s->shards[i].w);
	while (!(done = all_ended(s)) && chorus_now_ns() < deadline)
		usleep(2000);
	if (!done)
		return -ETIMEDOUT;
	for (unsigned i = 0; i < s->n_shards; i++)
		gw__worker_join(&s->shards[i].w);
	gw_webhook_stop(s->webhook);
	return 0;
}

void gw_server_free(gw_server_t *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->shards && i < s->n_shards; i++) {
		gw__outq_home_free(&s->shards[i].out);
		gw__cmdq_free(&s->shards[i].cmds);
		if (s->shards[i].ready)
			gw__worker_destroy(&s->shards[i].w);
	}
	gw__clocks_free(s->clocks);
	gw_registry_free(s->reg);
	gw_sources_free(s->sources);
	gw_webhook_free(s->webhook);
	gw_events_free(s->events);
	free(s->shards);
	free(s->homes);
	free(s);
}
