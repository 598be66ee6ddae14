/*
 * clock.c - the workers' room clocks (clock.h).
 */
#include "gateway/clock.h"

#include <stdlib.h>

#include "common/clock.h"

/* A clock this many periods behind skips ahead (counted) rather than
 * bursting frames at the platform. */
#define SKIP_AFTER 3
/* lws and libuv count timers in ms: a timer may fire up to this early, and
 * a room due that soon is due now, not a period later. */
#define EARLY_NS 500000

typedef struct clock {
	gw_clocks_t *all;
	gw_worker_t *w;
	gw_outq_home_t *out;
	gw_counters_t *n;
	atomic_uint n_rooms; /* assigned to this clock, for the choice */

	pthread_mutex_t lock;
	gw_tick_t *requests; /* rooms other workers started here */

	gw_tick_t *rooms; /* ticking (this worker's thread only) */
	lws_sorted_usec_list_t sul;
	uint64_t at; /* when sul fires; 0 = not scheduled */
} worker_clock_t;

struct gw_clocks {
	gw_clock_idle_fn idle;
	void *data;
	gw_clock_talk_fn talk;
	void *talk_data;
	const atomic_int *stopping;
	unsigned n;
	worker_clock_t clocks[];
};

gw_clocks_t *gw__clocks_new(unsigned n, gw_clock_idle_fn idle, void *data,
			    const atomic_int *stopping)
{
	gw_clocks_t *cs = calloc(1, sizeof(*cs) + n * sizeof(cs->clocks[0]));

	if (!cs)
		return NULL;
	cs->idle = idle;
	cs->data = data;
	cs->stopping = stopping;
	for (unsigned i = 0; i < n; i++) {
		cs->clocks[i].all = cs;
		if (pthread_mutex_init(&cs->clocks[i].lock, NULL)) {
			gw__clocks_free(cs);
			return NULL;
		}
		cs->n = i + 1;
	}
	return cs;
}

void gw__clocks_bind(gw_clocks_t *cs, unsigned i, gw_worker_t *w,
		     gw_outq_home_t *out, gw_counters_t *n)
{
	cs->clocks[i].w = w;
	cs->clocks[i].out = out;
	cs->clocks[i].n = n;
}

void gw__clocks_on_talk(gw_clocks_t *cs, gw_clock_talk_fn talk, void *data)
{
	cs->talk = talk;
	cs->talk_data = data;
}

void gw__clocks_free(gw_clocks_t *cs)
{
	if (!cs)
		return;
	for (unsigned i = 0; i < cs->n; i++)
		pthread_mutex_destroy(&cs->clocks[i].lock);
	free(cs);
}

/* --- ticking ----------------------------------------------------------- */

/* Ticks t if due. Returns false when the room left the clock. */
static bool room_tick(worker_clock_t *c, gw_tick_t *t, uint64_t now)
{
	uint64_t period = t->period_ns, started;
	mix_tick_t mt;

	if (c->all->idle(c->all->data, t)) {
		atomic_fetch_sub(&c->n_rooms, 1);
		return false; /* an empty room costs nothing */
	}
	if (now < t->next_ns)
		return true;
	if (now > t->next_ns + SKIP_AFTER * period) {
		uint64_t missed = (now - t->next_ns) / period;

		t->next_ns += missed * period;
		t->ticks_skipped += missed;
		gw__count(&c->n->ticks_skipped, missed);
	}
	started = chorus_now_ns();
	pthread_mutex_lock(t->lock);
	if (mix_room_tick(t->mix, t->next_ns, &mt) == 0) {
		for (unsigned i = 0; i < mt.n_listeners; i++) {
			const mix_listener_t *l = &mt.listeners[i];
			gw_outq_t *q = mix_participant_user(l->p);
			const mix_out_t *o;

			if (!q || l->mix >= mt.n_mixes)
				continue;
			o = &mt.mixes[l->mix];
			gw__outq_deliver(c->out, q, o->b64, o->b64_len);
		}
		for (unsigned i = 0; c->all->talk && i < mt.n_events; i++) {
			void *user = mix_participant_user(mt.events[i].p);

			if (user)
				c->all->talk(c->all->talk_data, user,
					     mt.events[i].talking);
		}
	}
	pthread_mutex_unlock(t->lock);
	gw__observe_tick(c->n, chorus_now_ns() - started);
	gw__count(&c->n->ticks, 1);
	t->next_ns += period;
	return true;
}

static void clock_cb(lws_sorted_usec_list_t *sul);

static void schedule(worker_clock_t *c, uint64_t at)
{
	uint64_t now = chorus_now_ns();

	c->at = at;
	c->w->due_ns = at;
	lws_sul_schedule(c->w->ctx, 0, &c->sul, clock_cb,
			 at > now ? (lws_usec_t)((at - now) / 1000) : 0);
}

static void clock_cb(lws_sorted_usec_list_t *sul)
{
	worker_clock_t *c = lws_container_of(sul, worker_clock_t, sul);
	uint64_t woke = chorus_now_ns(), now = woke + EARLY_NS, spent;
	uint64_t earliest = UINT64_MAX, frame = UINT64_MAX;
	gw_tick_t **pp = &c->rooms;

	c->at = 0;
	c->w->due_ns = 0;
	if (atomic_load(c->all->stopping))
		return;
	while (*pp) {
		gw_tick_t *t = *pp;
		gw_tick_t *next = t->next; /* t may be freed */

		if (!room_tick(c, t, now)) {
			*pp = next;
			continue;
		}
		if (t->next_ns < earliest)
			earliest = t->next_ns;
		if (t->period_ns < frame)
			frame = t->period_ns;
		pp = &t->next;
	}
	gw__outq_deliver_end(c->out);
	/* The pass's work, the worker's load; a pass longer than a frame
	 * made some room miss its deadline. */
	spent = chorus_now_ns() - woke;
	gw__count(&c->n->worker_tick, spent);
	if (spent > frame)
		gw__count(&c->n->tick_overruns, 1);
	if (c->rooms)
		schedule(c, earliest);
}

/* --- starting ---------------------------------------------------------- */

unsigned gw__clock_rooms(const gw_clocks_t *cs, unsigned i)
{
	return atomic_load(&cs->clocks[i].n_rooms);
}

unsigned gw__clock_assign(gw_clocks_t *cs, gw_tick_t *t)
{
	unsigned best = 0;

	for (unsigned i = 1; i < cs->n; i++) {
		if (atomic_load(&cs->clocks[i].n_rooms) <
		    atomic_load(&cs->clocks[best].n_rooms))
			best = i;
	}
	atomic_fetch_add(&cs->clocks[best].n_rooms, 1);
	t->owner = best;
	return best;
}

/* On c's thread. */
static void start_local(worker_clock_t *c, gw_tick_t *t)
{
	uint64_t period = t->period_ns;

	t->next_ns = (chorus_now_ns() / period + 2) * period;
	t->ticks_skipped = 0;
	t->next = c->rooms;
	c->rooms = t;
	if (!c->at || t->next_ns < c->at)
		schedule(c, t->next_ns);
}

void gw__clock_start(gw_clocks_t *cs, unsigned self, gw_tick_t *t)
{
	worker_clock_t *owner = &cs->clocks[gw__clock_assign(cs, t)];

	if (owner == &cs->clocks[self]) {
		start_local(owner, t);
		return;
	}
	pthread_mutex_lock(&owner->lock);
	t->next = owner->requests;
	owner->requests = t;
	pthread_mutex_unlock(&owner->lock);
	gw__worker_wake(owner->w);
}

void gw__clock_woken(gw_clocks_t *cs, unsigned i)
{
	worker_clock_t *c = &cs->clocks[i];
	gw_tick_t *t;

	pthread_mutex_lock(&c->lock);
	t = c->requests;
	c->requests = NULL;
	pthread_mutex_unlock(&c->lock);
	while (t) {
		gw_tick_t *next = t->next;

		start_local(c, t);
		t = next;
	}
}
