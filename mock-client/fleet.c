/*
 * fleet.c - see fleet.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "mock-client/fleet.h"

#define PROGRESS_NS 500000000ull

struct mc_fleet {
	mc_fleet_opts_t opts;
	mc_engine_t *eng;
	mc_call_t **calls;
	size_t ncalls, cap, next_connect, active;
	uint64_t begin_ns, last_progress_ns;
	volatile sig_atomic_t interrupted;
};

mc_fleet_t *mc_fleet_new(const mc_fleet_opts_t *opts, size_t ncalls)
{
	mc_fleet_t *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->opts = *opts;
	f->cap = ncalls;
	f->calls = calloc(ncalls ? ncalls : 1, sizeof(*f->calls));
	f->eng = mc_engine_new();
	if (!f->calls || !f->eng) {
		mc_fleet_free(f);
		return NULL;
	}
	return f;
}

void mc_fleet_free(mc_fleet_t *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ncalls; i++)
		mc_call_free(f->calls[i]);
	free(f->calls);
	mc_engine_free(f->eng);
	free(f);
}

static void on_call_done(mc_call_t *c, void *data)
{
	mc_fleet_t *f = data;

	if (f->active)
		f->active--;
}

mc_call_t *mc_fleet_add(mc_fleet_t *f, const mc_call_cfg_t *cfg,
			const char *path, int marker_id, int expect_src)
{
	mc_call_spec_t spec = {
	    .path = path,
	    .index = (unsigned)f->ncalls,
	    .marker_id = marker_id,
	    .expect_src = expect_src,
	    .on_done = on_call_done,
	    .data = f,
	};
	mc_call_t *c;

	if (f->ncalls == f->cap)
		return NULL;
	c = mc_call_new(f->eng, cfg, &spec);
	if (c)
		f->calls[f->ncalls++] = c;
	return c;
}

mc_call_t *mc_fleet_call(mc_fleet_t *f, size_t i)
{
	return i < f->ncalls ? f->calls[i] : NULL;
}

size_t mc_fleet_ncalls(const mc_fleet_t *f)
{
	return f->ncalls;
}

void mc_fleet_interrupt(mc_fleet_t *f)
{
	f->interrupted = 1;
}

static void progress(mc_fleet_t *f, uint64_t now)
{
	const mc_call_stats_t *st;
	const mc_rec_t *rec;

	if (!f->opts.progress || !f->ncalls ||
	    now - f->last_progress_ns < PROGRESS_NS)
		return;
	f->last_progress_ns = now;
	st = mc_call_stats(f->calls[0]);
	rec = mc_call_recording(f->calls[0]);
	fprintf(stdout, "\r%6.1f s  sent %llu  received %llu  gaps %llu   ",
		(double)(now - f->begin_ns) / 1e9,
		(unsigned long long)st->frames_out,
		(unsigned long long)st->frames_in,
		(unsigned long long)(rec ? rec->gaps : 0));
	fflush(stdout);
}

/* Every tick, before the calls' timers: ramp connections, pass ^C on, and
 * end the run when every call is done. */
static void tick(mc_engine_t *e, void *data, uint64_t now)
{
	mc_fleet_t *f = data;
	unsigned n = 0;

	while (f->next_connect < f->ncalls && n++ < f->opts.connects_per_ms) {
		f->active++;
		mc_call_connect(f->calls[f->next_connect++]);
	}
	if (f->interrupted) {
		f->interrupted = 0;
		for (size_t i = 0; i < f->ncalls; i++)
			mc_call_hangup(f->calls[i]);
	}
	progress(f, now);
	if ((f->next_connect == f->ncalls && !f->active) ||
	    (f->opts.hard_stop_s > 0 &&
	     now - f->begin_ns > (uint64_t)(f->opts.hard_stop_s * 1e9)))
		mc_engine_stop(e);
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

int mc_fleet_run(mc_fleet_t *f)
{
	int rc;

	raise_fd_limit(f->ncalls);
	mc_engine_on_tick(f->eng, tick, f);
	f->begin_ns = chorus_now_ns();
	rc = mc_engine_run(f->eng);
	mc_engine_on_tick(f->eng, NULL, NULL);
	for (size_t i = 0; i < f->ncalls; i++)
		mc_call_end(f->calls[i]);
	return rc;
}
