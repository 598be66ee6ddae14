/*
 * engine.c - the epoll loop, the pacing timer and the run; see engine.h.
 * The per-call protocol lives in call.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "mock-client/engine_priv.h"

#define TICK_NS	    1000000ull /* the pacing timer's period */
#define PROGRESS_NS 500000000ull
#define MAX_EVENTS  512

mc_engine_t *mc_engine_new(const mc_engine_opts_t *opts, size_t ncalls)
{
	mc_engine_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ep = -1;
	e->opts = *opts;
	e->ncalls = ncalls;
	e->calls = calloc(ncalls ? ncalls : 1, sizeof(mc_call_t));
	e->due_ns = malloc((ncalls ? ncalls : 1) * sizeof(uint64_t));
	if (opts->measure) {
		e->stats.latency = mc_hist_new();
		e->stats.jitter = mc_hist_new();
		e->stats.send_lag = mc_hist_new();
	}
	e->stats.late_us = opts->late_us;
	if (!e->calls || !e->due_ns ||
	    (opts->measure &&
	     (!e->stats.latency || !e->stats.jitter || !e->stats.send_lag))) {
		mc_engine_free(e);
		return NULL;
	}
	for (size_t i = 0; i < ncalls; i++) {
		e->calls[i].eng = e;
		e->calls[i].index = (unsigned)i;
		e->due_ns[i] = MC_NO_DEADLINE;
	}
	return e;
}

void mc_engine_free(mc_engine_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->calls && i < e->ncalls; i++) {
		mc_call_t *c = &e->calls[i];

		if (c->ws_ready)
			mc_ws_free(&c->ws);
		free(c->sent);
		if (c->has_rec)
			mc_rec_free(&c->rec);
	}
	if (e->ep >= 0)
		close(e->ep);
	mc_hist_free(e->stats.latency);
	mc_hist_free(e->stats.jitter);
	mc_hist_free(e->stats.send_lag);
	free(e->calls);
	free(e->due_ns);
	free(e);
}

mc_call_t *mc_engine_call(mc_engine_t *e, size_t i)
{
	return i < e->ncalls ? &e->calls[i] : NULL;
}

size_t mc_engine_ncalls(const mc_engine_t *e)
{
	return e->ncalls;
}

mc_engine_stats_t *mc_engine_stats(mc_engine_t *e)
{
	return &e->stats;
}

void mc_engine_interrupt(mc_engine_t *e)
{
	e->interrupted = 1;
}

void mc__engine_call_done(mc_engine_t *e, mc_call_t *c)
{
	e->due_ns[c->index] = MC_NO_DEADLINE;
	if (e->active)
		e->active--;
}

void mc__engine_watch(mc_engine_t *e, mc_call_t *c)
{
	struct epoll_event ev = {.data.ptr = c};
	bool out = mc_ws_wants_write(&c->ws);

	if (c->ws.fd < 0 || out == c->watch_out)
		return;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	epoll_ctl(e->ep, EPOLL_CTL_MOD, c->ws.fd, &ev);
	c->watch_out = out;
}

static void progress(mc_engine_t *e, uint64_t now)
{
	mc_call_t *c = &e->calls[0];

	if (!e->opts.progress || now - e->last_progress_ns < PROGRESS_NS)
		return;
	e->last_progress_ns = now;
	fprintf(stdout, "\r%6.1f s  sent %llu  received %llu  gaps %llu   ",
		(double)(now - e->begin_ns) / 1e9,
		(unsigned long long)c->frames_out,
		(unsigned long long)c->frames_in,
		(unsigned long long)(c->has_rec ? c->rec.gaps : 0));
	fflush(stdout);
}

/* Every millisecond: ramp connections, send due frames, end the run when
 * every call is done. */
static void tick(mc_engine_t *e, uint64_t now)
{
	unsigned n = 0;

	while (e->next_connect < e->ncalls && n++ < e->opts.connects_per_ms) {
		mc_call_t *c = &e->calls[e->next_connect++];

		e->active++;
		mc__call_connect(c);
	}
	if (e->interrupted) {
		e->interrupted = 0;
		for (size_t i = 0; i < e->ncalls; i++)
			mc__call_hangup(&e->calls[i]);
	}
	for (size_t i = 0; i < e->ncalls; i++)
		if (e->due_ns[i] <= now)
			mc__call_due(&e->calls[i], now);
	progress(e, now);
	if ((e->next_connect == e->ncalls && !e->active) ||
	    (e->opts.hard_stop_s > 0 &&
	     now - e->begin_ns > (uint64_t)(e->opts.hard_stop_s * 1e9)))
		e->finished = true;
}

/* Lets the process hold one socket per call. */
static void raise_fd_limit(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= need + 64)
		return;
	rl.rlim_cur = rl.rlim_max < need + 64 ? rl.rlim_max : need + 64;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int mc_engine_run(mc_engine_t *e)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t next_tick, now;
	int n, wait_ms;

	raise_fd_limit(e->ncalls);
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	if (e->ep < 0)
		return -errno;
	e->begin_ns = chorus_now_ns();
	next_tick = e->begin_ns;
	while (!e->finished) {
		now = chorus_now_ns();
		if (now >= next_tick) {
			tick(e, now);
			/* Absolute ticks; after a stall, resume from now. */
			next_tick += TICK_NS;
			if (next_tick < now)
				next_tick = now + TICK_NS;
			continue;
		}
		wait_ms = (int)((next_tick - now + 999999) / 1000000);
		n = epoll_wait(e->ep, evs, MAX_EVENTS, wait_ms);
		for (int i = 0; i < n; i++)
			mc__call_io(evs[i].data.ptr, evs[i].events);
	}
	for (size_t i = 0; i < e->ncalls; i++) {
		mc_call_t *c = &e->calls[i];

		if (c->has_rec)
			mc_rec_finish(&c->rec);
		if (c->ws_ready && c->ws.fd >= 0)
			mc_ws_close(&c->ws, 1001, "client giving up");
	}
	return 0;
}
