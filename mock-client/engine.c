/*
 * engine.c - see engine.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "mock-client/engine.h"

#define MAX_EVENTS 512

struct watch {
	unsigned mask; /* 0: not watched */
	mc_io_fn *fn;
	void *data;
};

struct timer {
	mc_timer_fn *fn; /* NULL: a free slot */
	void *data;
};

struct mc_engine {
	int ep;
	struct watch *watch; /* indexed by descriptor, as ae.c does */
	size_t watch_cap;
	/* Deadlines apart from their callbacks: the tick scans due[] alone. */
	uint64_t *due;
	struct timer *timers;
	size_t ntimers, timers_cap;
	int *free_ids; /* deleted slots, reused first */
	size_t nfree;
	mc_timer_fn *tick_fn;
	void *tick_data;
	volatile sig_atomic_t stop;
};

mc_engine_t *mc_engine_new(void)
{
	mc_engine_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	if (e->ep < 0) {
		free(e);
		return NULL;
	}
	return e;
}

void mc_engine_free(mc_engine_t *e)
{
	if (!e)
		return;
	close(e->ep);
	free(e->watch);
	free(e->due);
	free(e->timers);
	free(e->free_ids);
	free(e);
}

static int grow_watch(mc_engine_t *e, int fd)
{
	size_t cap = e->watch_cap ? e->watch_cap : 256;
	struct watch *w;

	while (cap <= (size_t)fd)
		cap *= 2;
	w = realloc(e->watch, cap * sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = e->watch_cap; i < cap; i++)
		w[i] = (struct watch){0};
	e->watch = w;
	e->watch_cap = cap;
	return 0;
}

int mc_engine_watch(mc_engine_t *e, int fd, unsigned mask, mc_io_fn *fn,
		    void *data)
{
	struct epoll_event ev = {.data.fd = fd};
	struct watch *w;
	int op;

	if (fd < 0 || !mask || !fn)
		return -EINVAL;
	if ((size_t)fd >= e->watch_cap && grow_watch(e, fd))
		return -ENOMEM;
	w = &e->watch[fd];
	w->fn = fn;
	w->data = data;
	if (w->mask == mask)
		return 0;
	op = w->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = (mask & MC_READABLE ? EPOLLIN : 0) |
		    (mask & MC_WRITABLE ? EPOLLOUT : 0);
	if (epoll_ctl(e->ep, op, fd, &ev))
		return -errno;
	w->mask = mask;
	return 0;
}

void mc_engine_unwatch(mc_engine_t *e, int fd)
{
	if (fd < 0 || (size_t)fd >= e->watch_cap || !e->watch[fd].mask)
		return;
	/* Fails with EBADF when fd is already closed; the kernel dropped it
	 * from the set then. */
	epoll_ctl(e->ep, EPOLL_CTL_DEL, fd, NULL);
	e->watch[fd] = (struct watch){0};
}

static int grow_timers(mc_engine_t *e)
{
	size_t cap = e->timers_cap ? 2 * e->timers_cap : 64;
	uint64_t *due = realloc(e->due, cap * sizeof(*due));
	struct timer *t;
	int *ids;

	if (!due)
		return -ENOMEM;
	e->due = due;
	t = realloc(e->timers, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	e->timers = t;
	ids = realloc(e->free_ids, cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	e->free_ids = ids;
	e->timers_cap = cap;
	return 0;
}

int mc_engine_timer_new(mc_engine_t *e, mc_timer_fn *fn, void *data)
{
	int id;

	if (!fn)
		return -EINVAL;
	if (e->nfree) {
		id = e->free_ids[--e->nfree];
	} else {
		if (e->ntimers == e->timers_cap && grow_timers(e))
			return -ENOMEM;
		id = (int)e->ntimers++;
	}
	e->due[id] = MC_ENGINE_NEVER;
	e->timers[id] = (struct timer){.fn = fn, .data = data};
	return id;
}

void mc_engine_timer_arm(mc_engine_t *e, int id, uint64_t due_ns)
{
	e->due[id] = due_ns;
}

void mc_engine_timer_del(mc_engine_t *e, int id)
{
	if (id < 0 || (size_t)id >= e->ntimers || !e->timers[id].fn)
		return;
	e->due[id] = MC_ENGINE_NEVER;
	e->timers[id] = (struct timer){0};
	e->free_ids[e->nfree++] = id;
}

void mc_engine_on_tick(mc_engine_t *e, mc_timer_fn *fn, void *data)
{
	e->tick_fn = fn;
	e->tick_data = data;
}

void mc_engine_stop(mc_engine_t *e)
{
	e->stop = 1;
}

/* The tick callback, then every timer whose deadline has come. A callback
 * may arm, create or delete timers: the arrays are re-read each time. */
static void tick(mc_engine_t *e, uint64_t now)
{
	if (e->tick_fn)
		e->tick_fn(e, e->tick_data, now);
	for (size_t i = 0; i < e->ntimers; i++) {
		if (e->due[i] > now)
			continue;
		e->due[i] = MC_ENGINE_NEVER;
		e->timers[i].fn(e, e->timers[i].data, now);
	}
}

static void dispatch(mc_engine_t *e, const struct epoll_event *ev)
{
	int fd = ev->data.fd;
	unsigned events = 0;
	struct watch *w;

	if ((size_t)fd >= e->watch_cap || !e->watch[fd].mask)
		return; /* unwatched by an earlier callback of this batch */
	w = &e->watch[fd];
	if (ev->events & (EPOLLIN | EPOLLHUP))
		events |= MC_READABLE;
	if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		events |= MC_WRITABLE;
	w->fn(e, fd, w->data, events);
}

int mc_engine_run(mc_engine_t *e)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t next_tick = chorus_now_ns(), now;
	int n, wait_ms;

	while (!e->stop) {
		now = chorus_now_ns();
		if (now >= next_tick) {
			tick(e, now);
			/* Absolute ticks; after a stall, resume from now. */
			next_tick += MC_ENGINE_TICK_NS;
			if (next_tick < now)
				next_tick = now + MC_ENGINE_TICK_NS;
			continue;
		}
		wait_ms = (int)((next_tick - now + CHORUS_NS_PER_MS - 1) /
				CHORUS_NS_PER_MS);
		n = epoll_wait(e->ep, evs, MAX_EVENTS, wait_ms);
		for (int i = 0; i < n; i++)
			dispatch(e, &evs[i]);
	}
	e->stop = 0;
	return 0;
}
