/*
 * engine.c - the lws context, the pacing timer and the run loop; see
 * engine.h. The per-call protocol lives in call.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock-client/engine_priv.h"

#define TICK_US 1000 /* the pacing timer's period */
#define PROGRESS_NS 500000000ull

static const struct lws_protocols protocols[] = {
	{"chorus-mock-client", mc__call_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

uint64_t mc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

mc_engine_t *mc_engine_new(const mc_engine_opts_t *opts, size_t ncalls)
{
	mc_engine_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
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
	    (opts->measure && (!e->stats.latency || !e->stats.jitter ||
			       !e->stats.send_lag))) {
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

		free(c->rx);
		free(c->sent);
		if (c->has_rec)
			mc_rec_free(&c->rec);
	}
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

static void stop_loop(mc_engine_t *e)
{
	e->finished = true;
	if (e->opts.use_uv)
		uv_stop(&e->loop);
}

/* Every millisecond: ramp connections, hand due frames to WRITEABLE, end
 * the run when every call is done. */
static void tick(lws_sorted_usec_list_t *sul)
{
	mc_engine_t *e = lws_container_of(sul, mc_engine_t, sul);
	uint64_t now = mc_now_ns();
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
	     now - e->begin_ns > (uint64_t)(e->opts.hard_stop_s * 1e9))) {
		stop_loop(e);
		return;
	}
	lws_sul_schedule(e->ctx, 0, &e->sul, tick, TICK_US);
}

int mc_engine_run(mc_engine_t *e)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = (unsigned)(e->ncalls + 64);
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (e->opts.use_uv && uv_loop_init(&e->loop) == 0) {
		/* lws's own libuv loop is not reachable through Debian's
		 * plugin build, so lend it ours: then uv_stop() ends a run. */
		info.options |= LWS_SERVER_OPTION_LIBUV;
		e->loops[0] = &e->loop;
		info.foreign_loops = e->loops;
	} else {
		e->opts.use_uv = false;
	}
	info.user = e;
	e->ctx = lws_create_context(&info);
	if (!e->ctx && e->opts.use_uv) {
		fprintf(stderr, "chorus-client: libuv event loop unavailable, "
				"using poll\n");
		e->opts.use_uv = false;
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBUV;
		info.foreign_loops = NULL;
		uv_loop_close(&e->loop);
		e->ctx = lws_create_context(&info);
	}
	if (!e->ctx)
		return -ENOMEM;
	e->begin_ns = mc_now_ns();
	lws_sul_schedule(e->ctx, 0, &e->sul, tick, 1);
	if (e->opts.use_uv)
		uv_run(&e->loop, UV_RUN_DEFAULT);
	else
		while (!e->finished)
			if (lws_service(e->ctx, 0) < 0)
				break;
	for (size_t i = 0; i < e->ncalls; i++)
		if (e->calls[i].has_rec)
			mc_rec_finish(&e->calls[i].rec);
	lws_context_destroy(e->ctx);
	e->ctx = NULL;
	if (e->opts.use_uv) {
		/* Let lws's handles close on our loop, then release it. */
		while (uv_loop_close(&e->loop) == UV_EBUSY)
			uv_run(&e->loop, UV_RUN_NOWAIT);
	}
	return 0;
}
