#include "gateway/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "gateway/internal.h"
#include "gateway/log.h"

/* A clock this many periods behind skips ahead (counted) rather than
 * bursting frames at the platform. */
#define CLOCK_SKIP_AFTER 3
/* How often a stopping worker checks whether its calls have gone. */
#define STOP_POLL_US 5000
/* Descriptors besides the calls: listeners, loops, wake-ups, logs, and
 * connections being refused. */
#define FD_SPARE 256
/* lws keeps two tables of this many entries per context (one per fd
 * number): a limit above it is lowered to it, as far as the calls allow. */
#define FD_TABLE_MAX (1u << 20)

static void listen_stop(worker_t *w);

uint64_t gw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const struct lws_protocols protocols[] = {
    {"chorus-media-streams", gw_conn_callback, sizeof(conn_t), 4096, 0, NULL,
     0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- the hand-off ------------------------------------------------------ */

/* Producer side of a listener's ring (the room's clock thread). */
static void ring_push(conn_t *c, const char *b64, size_t len)
{
	unsigned h = atomic_load_explicit(&c->head, memory_order_relaxed);
	unsigned t = atomic_load_explicit(&c->tail, memory_order_acquire);
	out_slot_t *s;

	if (h - t >= GW_RING_SLOTS || len >= GW_SLOT_CAP) {
		/* Its worker has not run for GW_RING_SLOTS ticks: the
		 * consumer trims the oldest, here we can only skip. */
		atomic_fetch_add_explicit(&c->dropped_out, 1,
					  memory_order_relaxed);
		return;
	}
	s = &c->ring[h % GW_RING_SLOTS];
	memcpy(s->b64, b64, len);
	s->len = (uint32_t)len;
	atomic_store_explicit(&c->head, h + 1, memory_order_release);
}

static void wake_push(worker_t *w, conn_t *c)
{
	conn_t *old = atomic_load_explicit(&w->pending, memory_order_relaxed);

	do {
		c->wake_next = old;
	} while (!atomic_compare_exchange_weak_explicit(
	    &w->pending, &old, c, memory_order_release, memory_order_relaxed));
}

void gw_worker_drain_wakes(worker_t *w, conn_t *skip, bool write_now)
{
	conn_t *c =
	    atomic_exchange_explicit(&w->pending, NULL, memory_order_acquire);

	while (c) {
		conn_t *next = c->wake_next;

		/* Clear first: a frame queued from now on wakes us again. */
		atomic_store(&c->wake_pending, 0);
		if (c != skip && write_now) {
			gw_conn_flush(c);
		} else if (c != skip) {
			gw_ring_trim(c, w->srv->cfg->out_queue);
			lws_callback_on_writable(c->wsi);
		}
		c = next;
	}
}

/* Room lock held: hands each listener its frame. This worker's listeners
 * go on w->flush, written once the lock is released (flush_local()); other
 * workers to wake are marked in w->wake; the caller wakes them once for all
 * rooms ticked. */
static void distribute(worker_t *w, const mix_tick_t *t)
{
	for (unsigned i = 0; i < t->n_listeners; i++) {
		const mix_listener_t *l = &t->listeners[i];
		const mix_out_t *o;
		conn_t *c = mix_participant_user(l->p);

		if (!c || l->mix >= t->n_mixes)
			continue;
		o = &t->mixes[l->mix];
		ring_push(c, o->b64, o->b64_len);
		if (c->w == w) {
			if (!c->flush_queued) {
				c->flush_queued = true;
				c->flush_next = w->flush;
				w->flush = c;
			}
		} else if (!atomic_exchange(&c->wake_pending, 1)) {
			wake_push(c->w, c);
			w->wake[c->w->id] = true;
		}
	}
}

static void wake_others(worker_t *w)
{
	gw_server_t *s = w->srv;

	for (unsigned i = 0; i < s->n_workers; i++) {
		if (w->wake[i]) {
			w->wake[i] = false;
			if (atomic_load(&s->workers[i].state) == 1)
				lws_cancel_service(s->workers[i].ctx);
		}
	}
}

/* Writes the frames distribute() queued for this worker's listeners. No
 * lws event runs between the two, so none of these calls has ended. */
static void flush_local(worker_t *w)
{
	conn_t *c = w->flush;

	w->flush = NULL;
	while (c) {
		conn_t *next = c->flush_next;

		c->flush_queued = false;
		gw_conn_flush(c);
		c = next;
	}
}

/* --- the workers' clocks ----------------------------------------------- */

static uint64_t period_ns(gw_room_t *room)
{
	return room->period_ns;
}

/* Ticks room if due. Returns false when the room left the clock (emptied;
 * maybe freed). */
static bool room_tick(worker_t *w, gw_room_t *room, uint64_t now)
{
	gw_server_t *s = w->srv;
	uint64_t period = period_ns(room);
	mix_tick_t t;

	if (atomic_load(&room->members) == 0 &&
	    gw_registry_clock_idle(s->reg, room))
		return false; /* an empty room costs nothing */
	if (now < room->next_ns)
		return true;
	if (now > room->next_ns + CLOCK_SKIP_AFTER * period) {
		/* Far behind (the machine stalled): skip ahead, counted,
		 * rather than burst frames at the platform. */
		uint64_t missed = (now - room->next_ns) / period;

		room->next_ns += missed * period;
		room->ticks_skipped += missed;
		atomic_fetch_add_explicit(&w->n.ticks_skipped, missed,
					  memory_order_relaxed);
	}
	pthread_mutex_lock(&room->lock);
	if (mix_room_tick(room->mix, room->next_ns, &t) == 0)
		distribute(w, &t);
	pthread_mutex_unlock(&room->lock);
	atomic_fetch_add_explicit(&w->n.ticks, 1, memory_order_relaxed);
	room->next_ns += period;
	return true;
}

static void clock_cb(lws_sorted_usec_list_t *sul);

static void clock_schedule(worker_t *w, uint64_t at)
{
	uint64_t now = gw_now_ns();

	w->clock_at = at;
	lws_sul_schedule(w->ctx, 0, &w->clock_sul, clock_cb,
			 at > now ? (lws_usec_t)((at - now) / 1000) : 0);
}

static void clock_cb(lws_sorted_usec_list_t *sul)
{
	worker_t *w = lws_container_of(sul, worker_t, clock_sul);
	/* A timer may fire up to half a millisecond early (lws and libuv
	 * count in ms): such a room is due now, not 20 ms later. */
	uint64_t now = gw_now_ns() + 500000;
	uint64_t earliest = UINT64_MAX;
	gw_room_t **pp = &w->clock_rooms;

	w->clock_at = 0;
	if (atomic_load(&w->srv->stopping))
		return; /* rooms are freed with the registry */
	while (*pp) {
		gw_room_t *room = *pp;
		gw_room_t *next = room->clock_next; /* room may be freed */

		if (!room_tick(w, room, now)) {
			*pp = next;
			continue;
		}
		if (room->next_ns < earliest)
			earliest = room->next_ns;
		pp = &room->clock_next;
	}
	wake_others(w); /* they write theirs while we write ours */
	flush_local(w);
	if (w->clock_rooms)
		clock_schedule(w, earliest);
}

/* On the owner's thread. The first tick is on the next grid point at least
 * one period away: rooms of the same period tick together. */
static void clock_start_local(worker_t *w, gw_room_t *room)
{
	uint64_t period = period_ns(room);
	uint64_t now = gw_now_ns();

	room->next_ns = (now / period + 2) * period;
	room->ticks_skipped = 0;
	room->clock_next = w->clock_rooms;
	w->clock_rooms = room;
	if (!w->clock_at || room->next_ns < w->clock_at)
		clock_schedule(w, room->next_ns);
}

void gw_clock_start(worker_t *self, gw_room_t *room)
{
	worker_t *owner = &self->srv->workers[room->owner];

	if (owner == self) {
		clock_start_local(self, room);
		return;
	}
	pthread_mutex_lock(&owner->lock);
	room->start_next = owner->start_reqs;
	owner->start_reqs = room;
	pthread_mutex_unlock(&owner->lock);
	if (atomic_load(&owner->state) == 1)
		lws_cancel_service(owner->ctx);
}

/* --- stopping ---------------------------------------------------------- */

static void stop_check(lws_sorted_usec_list_t *sul)
{
	worker_t *w = lws_container_of(sul, worker_t, stop_sul);

	if (w->n_conns == 0 || gw_now_ns() > w->stop_deadline_ns) {
		w->exit = true;
		uv_stop(&w->loop);
		return;
	}
	lws_sul_schedule(w->ctx, 0, &w->stop_sul, stop_check, STOP_POLL_US);
}

static void stop_begin(worker_t *w)
{
	w->stop_seen = true;
	listen_stop(w);
	/* Calls get 1001 when writeable; give them half a second. */
	w->stop_deadline_ns = gw_now_ns() + 500000000ull;
	for (conn_t *c = w->conns; c; c = c->next) {
		if (!c->close_code) {
			c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
			strcpy(c->close_reason, "server shutting down");
		}
		/* Closed from the wsi's timer: lws 4.1 sends no close frame
		 * when WRITEABLE returns -1, but does from TIMER. */
		lws_set_timer_usecs(c->wsi, 1);
	}
	lws_sul_schedule(w->ctx, 0, &w->stop_sul, stop_check, 0);
}

void gw_worker_woken(worker_t *w)
{
	gw_room_t *room;

	pthread_mutex_lock(&w->lock);
	room = w->start_reqs;
	w->start_reqs = NULL;
	pthread_mutex_unlock(&w->lock);
	while (room) {
		gw_room_t *next = room->start_next;

		clock_start_local(w, room);
		room = next;
	}
	gw_worker_drain_wakes(w, NULL, true);
	if (atomic_load(&w->srv->stopping) && !w->stop_seen)
		stop_begin(w);
}

/* --- listening --------------------------------------------------------- */

/*
 * lws 4.1 sets SO_REUSEPORT only on Windows (ALLOW_LISTEN_SHARE), so each
 * worker opens its own SO_REUSEPORT socket on the shared port, accepts on
 * its libuv loop, and hands each connection to its lws context, which runs
 * the HTTP upgrade and the WebSocket from then on. The kernel spreads new
 * connections over the workers' sockets.
 */
static int listen_open(const gw_config_t *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)c->port)};
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, c->bind, &sa.sin_addr) != 1) {
		gw_err("--bind %s is not an IPv4 address", c->bind);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024)) {
		int e = -errno;

		gw_err("cannot listen on %s:%u: %s", c->bind, c->port,
		       strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	worker_t *w = h->data;

	for (;;) {
		int one = 1;
		int fd = accept4(w->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or a transient error: next time */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Audio queued in the kernel is delay: keep it bounded. */
		if (w->srv->cfg->sndbuf)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF,
				   &w->srv->cfg->sndbuf,
				   sizeof(w->srv->cfg->sndbuf));
		if (atomic_load(&w->srv->stopping) ||
		    !lws_adopt_socket_vhost(w->vh, fd)) {
			close(fd);
			continue;
		}
	}
}

static void listen_stop(worker_t *w)
{
	if (!w->listening)
		return;
	w->listening = false;
	uv_poll_stop(&w->listen_poll);
	uv_close((uv_handle_t *)&w->listen_poll, NULL);
	close(w->listen_fd);
	w->listen_fd = -1;
}

/* --- workers ----------------------------------------------------------- */

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	gw_log(level == LLL_ERR ? GW_LOG_WARN : GW_LOG_DEBUG, "lws: %.*s",
	       (int)n, line);
}

/*
 * Runs the worker's loop until stop_check() stops it. Each call's frame
 * arrives on its own, 20 ms apart: a worker that blocks until the next
 * event sleeps and wakes for nearly every frame, and the context switches
 * cost more than the frames. So after each pass over the ready events it
 * waits until batch_us after the pass began (never past its clock's next
 * tick) before it polls again, and one epoll_wait() then returns the
 * frames of many calls. An idle worker still blocks in the poll; an inbound
 * frame waits batch_us at most.
 */
static void loop_run(worker_t *w)
{
	uint64_t batch = (uint64_t)w->srv->cfg->batch_us * 1000;

	if (!batch) {
		while (!w->exit)
			uv_run(&w->loop, UV_RUN_DEFAULT);
		return;
	}
	while (!w->exit) {
		uint64_t until = gw_now_ns() + batch;
		struct timespec ts;

		uv_run(&w->loop, UV_RUN_ONCE);
		if (w->clock_at && w->clock_at < until)
			until = w->clock_at;
		if (w->exit || gw_now_ns() >= until)
			continue;
		ts.tv_sec = (time_t)(until / 1000000000ull);
		ts.tv_nsec = (long)(until % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

static void *worker_main(void *arg)
{
	worker_t *w = arg;
	const gw_config_t *c = w->srv->cfg;
	struct lws_context_creation_info info;
	void *loops[1] = {&w->loop};

	gw_log_thread_name(w->name);
	if (uv_loop_init(&w->loop)) {
		atomic_store(&w->state, -1);
		return NULL;
	}
	memset(&info, 0, sizeof(info));
	info.foreign_loops = loops;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we accept: see above */
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV |
		       LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = w;
	info.pcontext = &w->ctx;
	/* No fd_limit_per_thread: below the open-file limit it makes lws find
	 * a connection by a linear scan of its fd table on every event (4.1
	 * wsi_from_fd()); at the limit (fds_fit()) the fd indexes it. */
	info.timeout_secs = 10; /* the HTTP handshake */
	w->ctx = lws_create_context(&info);
	w->vh = w->ctx ? lws_get_vhost_by_name(w->ctx, "default") : NULL;
	w->listen_fd = listen_open(c);
	if (!w->vh || w->listen_fd < 0 ||
	    uv_poll_init(&w->loop, &w->listen_poll, w->listen_fd)) {
		if (w->vh)
			gw_err("worker %u: cannot start", w->id);
		if (w->listen_fd >= 0)
			close(w->listen_fd);
		if (w->ctx)
			lws_context_destroy(w->ctx);
		while (uv_run(&w->loop, UV_RUN_NOWAIT))
			;
		uv_loop_close(&w->loop);
		w->ctx = NULL;
		atomic_store(&w->state, -1);
		return NULL;
	}
	w->listen_poll.data = w;
	uv_poll_start(&w->listen_poll, UV_READABLE, on_accept);
	w->listening = true;
	atomic_store(&w->state, 1);
	loop_run(w); /* the loop is ours */
	atomic_store(&w->state, 2); /* no more wake-ups from other workers */
	listen_stop(w);
	/* On a foreign loop lws closes its handles asynchronously: run the
	 * loop until the destruction completes (lws then NULLs w->ctx
	 * through info.pcontext); in 4.1 a second call finishes it. */
	lws_context_destroy(w->ctx);
	while (uv_run(&w->loop, UV_RUN_NOWAIT))
		;
	if (w->ctx) {
		gw_debug("second destroy");
		lws_context_destroy(w->ctx);
		while (uv_run(&w->loop, UV_RUN_NOWAIT))
			;
	}
	if (uv_loop_close(&w->loop))
		gw_warn("event loop not closed cleanly");
	w->ctx = NULL;
	atomic_store(&w->state, 3);
	return NULL;
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
	s->n_workers = n;
	s->workers = calloc(n, sizeof(*s->workers));
	s->reg = gw_registry_new(c, n);
	if (!s->workers || !s->reg)
		goto fail;
	for (unsigned i = 0; i < n; i++) {
		worker_t *w = &s->workers[i];

		w->srv = s;
		w->id = i;
		snprintf(w->name, sizeof(w->name), "w%u", i);
		w->wake = calloc(n, sizeof(*w->wake));
		if (!w->wake || pthread_mutex_init(&w->lock, NULL))
			goto fail;
	}
	s->started_ns = gw_now_ns();
	return s;
fail:
	gw_err("out of memory creating the server");
	gw_server_free(s);
	return NULL;
}

/*
 * Sets the open-file limit the lws contexts size their fd tables by: room
 * for every call (each worker's table is indexed by fd number, and fds are
 * shared by all workers), and not so far above that the tables get huge.
 */
static void fds_fit(const gw_config_t *c)
{
	rlim_t want = (rlim_t)c->max_connections + FD_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	} else if (rl.rlim_cur > FD_TABLE_MAX && want <= FD_TABLE_MAX) {
		rl.rlim_cur = FD_TABLE_MAX;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want)
		gw_warn("open-file limit %llu is below --max-connections %u "
			"+ %u: calls beyond it are refused",
			(unsigned long long)rl.rlim_cur, c->max_connections,
			FD_SPARE);
}

int gw_server_start(gw_server_t *s)
{
	int lws_levels =
	    LLL_ERR |
	    (gw_log_enabled(GW_LOG_DEBUG) ? LLL_WARN | LLL_NOTICE : 0);

	lws_set_log_level(lws_levels, lws_log_emit);
	fds_fit(s->cfg);
	for (unsigned i = 0; i < s->n_workers; i++) {
		worker_t *w = &s->workers[i];

		if (pthread_create(&w->th, NULL, worker_main, w)) {
			gw_err("cannot start worker %u", i);
			return -EAGAIN;
		}
		/* Contexts are created one after the other: lws's global
		 * set-up (plugins, OpenSSL) is not meant to run in parallel. */
		while (atomic_load(&w->state) == 0)
			usleep(1000);
		if (atomic_load(&w->state) < 0)
			return -EADDRINUSE;
	}
	gw_info("listening on %s:%u with %u workers (libuv event loop)",
		s->cfg->bind, s->cfg->port, s->n_workers);
	return 0;
}

int gw_server_stop(gw_server_t *s, unsigned timeout_ms)
{
	uint64_t deadline = gw_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	bool all;

	atomic_store(&s->stopping, 1);
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (atomic_load(&s->workers[i].state) == 1)
			lws_cancel_service(s->workers[i].ctx);
	}
	do {
		all = true;
		for (unsigned i = 0; i < s->n_workers; i++) {
			int st = atomic_load(&s->workers[i].state);

			if (st >= 0 && st <= 2)
				all = false;
		}
		if (!all)
			usleep(2000);
	} while (!all && gw_now_ns() < deadline);
	if (!all)
		return -ETIMEDOUT;
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (s->workers[i].th)
			pthread_join(s->workers[i].th, NULL);
		s->workers[i].th = 0;
	}
	return 0;
}

void gw_server_free(gw_server_t *s)
{
	if (!s)
		return;
	if (s->workers) {
		for (unsigned i = 0; i < s->n_workers; i++) {
			free(s->workers[i].wake);
			pthread_mutex_destroy(&s->workers[i].lock);
		}
	}
	gw_registry_free(s->reg);
	free(s->workers);
	free(s);
}

/* --- metrics ----------------------------------------------------------- */

size_t gw_metrics_text(gw_server_t *s, char *buf, size_t cap)
{
	static const char *const names[] = {
	    "accepted",	     "joined",	    "refused",	   "frames_in",
	    "frames_out",    "bad_frames",  "other_track", "dtmf",
	    "marks",	     "dropped_out", "dropped_in",  "ticks",
	    "ticks_skipped", "late_frames", "capped_frames",
	    "concealed_frames",
	};
	_Static_assert(sizeof(names) / sizeof(*names) ==
			   sizeof(gw_counters_t) / sizeof(atomic_ullong),
		       "one metric name per counter");
	unsigned long long sum[sizeof(names) / sizeof(*names)] = {0};
	unsigned rooms, active;
	size_t n = 0;
	int r;

	for (unsigned i = 0; i < s->n_workers; i++) {
		atomic_ullong *f = &s->workers[i].n.accepted;

		for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++)
			sum[k] +=
			    atomic_load_explicit(&f[k], memory_order_relaxed);
	}
	gw_registry_counts(s->reg, &rooms, &active);
	r = snprintf(buf, cap,
		     "chorus_connections %u\nchorus_rooms %u\n"
		     "chorus_rooms_active %u\nchorus_workers %u\n",
		     atomic_load(&s->n_conns), rooms, active, s->n_workers);
	n = r > 0 ? (size_t)r : 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(*names) && n < cap; k++) {
		r = snprintf(buf + n, cap - n, "chorus_%s_total %llu\n",
			     names[k], sum[k]);
		if (r > 0)
			n += (size_t)r;
	}
	return n < cap ? n : cap - 1;
}
