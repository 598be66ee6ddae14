/*
 * load.c - see load.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "common/clock.h"
#include "codec/g711.h"
#include "mock-client/load.h"

#define TALKER_AMPLITUDE   6000 /* about -15 dBFS: loud, far from clipping */
#define TONE_SECONDS	   2.0	/* looped */
#define NO_MARKER_GRACE_NS 1000000000ull /* a gate may hold back 1 s */

/* Frames of talker t sent (nominally) in [from, to]. */
static uint64_t frames_between(const mc_call_t *t, uint64_t from, uint64_t to)
{
	uint64_t period = mc_pace_offset_ns(&t->pace, 1), first, last;

	if (!t->frames_out || to <= t->pace.start_ns || to <= from)
		return 0;
	from = from > t->pace.start_ns ? from - t->pace.start_ns : 0;
	to -= t->pace.start_ns;
	first = (from + period - 1) / period;
	last = to / period;
	if (last > t->frames_out - 1)
		last = t->frames_out - 1;
	return last >= first ? last - first + 1 : 0;
}

/* Missing frames a call's counters cannot see: after its last marked frame,
 * or all of them if it never received one. */
static uint64_t unseen_missing(const mc_engine_t *e, const mc_call_t *c,
			       uint64_t late_ns, bool *never)
{
	const mc_call_t *t;
	uint64_t cut, last;

	*never = false;
	if (c->expect_src < 0)
		return 0;
	t = mc_engine_call((mc_engine_t *)e, (size_t)c->expect_src);
	if (!c->start_ns || !t->start_ns) {
		/* The listener or its talker never got in: everything the
		 * listener should have heard is lost. */
		*never = true;
		return c->end_frame != UINT64_MAX ? c->end_frame : 0;
	}
	cut = c->stop_ns ? c->stop_ns : c->end_ns;
	if (cut < late_ns)
		return 0;
	cut -= late_ns;
	if (c->last_src < 0) {
		*never = true;
		return frames_between(t, c->start_ns + NO_MARKER_GRACE_NS, cut);
	}
	last = t->pace.start_ns + mc_pace_offset_ns(&t->pace, c->last_seq64);
	return frames_between(t, last + 1, cut);
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void collect(mc_engine_t *e, const mc_load_opts_t *o,
		    mc_load_result_t *r)
{
	mc_engine_stats_t *st = mc_engine_stats(e);
	uint64_t late_ns = (uint64_t)o->late_ms * 1000000;
	bool never;

	for (size_t i = 0; i < mc_engine_ncalls(e); i++) {
		mc_call_t *c = mc_engine_call(e, i);

		r->connected += c->start_ns != 0;
		if (c->close_code >= 4000 || c->close_code == 1008) {
			r->refused++;
		} else if (!c->start_ns) {
			r->failed++;
		}
		if (!r->first_close_code && c->close_code &&
		    c->close_code != 1000)
			r->first_close_code = c->close_code;
		if (!r->first_error[0] && c->error[0])
			snprintf(r->first_error, sizeof(r->first_error), "%s",
				 c->error);
		r->frames_out += c->frames_out;
		r->frames_in += c->frames_in;
		r->bad_in += c->bad_in;
		r->marked_in += c->marked_in;
		r->late += c->late;
		r->missing +=
		    c->missing + unseen_missing(e, c, late_ns, &never);
		r->unmeasured += never;
	}
	if (r->marked_in + r->missing)
		r->loss_pct = 100.0 * (double)(r->missing + r->late) /
			      (double)(r->marked_in + r->missing);
	r->lat_p50_ms = ms(mc_hist_percentile(st->latency, 50));
	r->lat_p90_ms = ms(mc_hist_percentile(st->latency, 90));
	r->lat_p99_ms = ms(mc_hist_percentile(st->latency, 99));
	r->lat_max_ms = ms(st->latency->max_us);
	r->jitter_p99_ms = ms(mc_hist_percentile(st->jitter, 99));
	r->send_lag_p99_ms = ms(mc_hist_percentile(st->send_lag, 99));
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int mc_load_run(const mc_load_opts_t *o, const mc_call_cfg_t *base,
		const mc_engine_opts_t *eopts, mc_load_result_t *res)
{
	mc_call_cfg_t *cfgs; /* [0]: listeners, [1 + p]: talker p */
	mc_audio_t *tones;
	mc_engine_t *e;
	char path[256];
	uint64_t t0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (!o->participants || !o->rooms || o->talkers > o->participants ||
	    o->participants > 65535)
		return -EINVAL;
	cfgs = calloc(o->talkers + 1, sizeof(*cfgs));
	tones = calloc(o->talkers + 1, sizeof(*tones));
	e = mc_engine_new(eopts, o->participants);
	if (!cfgs || !tones || !e) {
		rc = -ENOMEM;
		goto out;
	}
	cfgs[0] = *base;
	cfgs[0].audio = NULL;
	for (unsigned p = 0; p < o->talkers; p++) {
		mc_call_cfg_t *cfg = &cfgs[1 + p];

		*cfg = *base;
		cfg->loop = true;
		if (o->play) {
			cfg->audio = o->play->samples;
			cfg->audio_n = o->play->n;
		} else {
			/* A different pitch per talker, so a recording tells
			 * them apart. */
			rc =
			    mc_audio_tone(&tones[p], G711_RATE, 300.0 + 150 * p,
					  TALKER_AMPLITUDE, TONE_SECONDS);
			if (rc)
				goto out;
			cfg->audio = tones[p].samples;
			cfg->audio_n = tones[p].n;
		}
	}
	for (unsigned i = 0; i < o->participants; i++) {
		unsigned room = i % o->rooms, pos = i / o->rooms;
		mc_call_t *c = mc_engine_call(e, i);
		bool talker = pos < o->talkers;

		snprintf(path, sizeof(path), "/rooms/%s%u", o->room_prefix,
			 room);
		rc = mc_call_setup(c, &cfgs[talker ? 1 + pos : 0], path,
				   talker && pos == 0 ? (int)i : -1);
		if (rc)
			goto out;
		/* Who should hear the room's marked talker (call number
		 * room, the room's first). */
		if (o->expect_echo)
			c->expect_src = talker && pos == 0 ? (int)i : -1;
		else
			c->expect_src =
			    !talker && o->talkers == 1 ? (int)room : -1;
	}
	t0 = chorus_now_ns();
	rc = mc_engine_run(e);
	if (rc)
		goto out;
	res->wall_s = (double)(chorus_now_ns() - t0) / 1e9;
	res->cpu_s = cpu_seconds();
	res->participants = o->participants;
	res->rooms = o->rooms;
	res->talkers = o->talkers;
	res->duration_s = base->duration_s;
	collect(e, o, res);
out:
	mc_engine_free(e);
	for (unsigned p = 0; tones && p < o->talkers; p++)
		mc_audio_free(&tones[p]);
	free(tones);
	free(cfgs);
	return rc;
}

static json_t *to_json(const mc_load_result_t *r)
{
	return json_pack(
	    "{s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:i, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:f, s:{s:f, s:f, s:f, s:f}, s:f, s:f, s:f}",
	    "participants", r->participants, "rooms", r->rooms, "talkers",
	    r->talkers, "duration_s", r->duration_s, "wall_s", r->wall_s,
	    "connected", r->connected, "refused", r->refused, "failed",
	    r->failed, "unmeasured_listeners", r->unmeasured, "frames_out",
	    (json_int_t)r->frames_out, "frames_in", (json_int_t)r->frames_in,
	    "bad_in", (json_int_t)r->bad_in, "marked_in",
	    (json_int_t)r->marked_in, "missing", (json_int_t)r->missing, "late",
	    (json_int_t)r->late, "loss_pct", r->loss_pct, "latency_ms", "p50",
	    r->lat_p50_ms, "p90", r->lat_p90_ms, "p99", r->lat_p99_ms, "max",
	    r->lat_max_ms, "jitter_p99_ms", r->jitter_p99_ms, "send_lag_p99_ms",
	    r->send_lag_p99_ms, "generator_cpu_s", r->cpu_s);
}

int mc_load_report(const mc_load_result_t *r, FILE *f, const char *path)
{
	json_t *j = to_json(r);
	char *s;

	fprintf(f,
		"participants %u (rooms %u, talkers %u per room), %.0f s\n"
		"  connected   %u  refused %u  failed %u  unmeasured %u\n"
		"  frames      out %llu  in %llu  bad %llu\n"
		"  marked      received %llu  missing %llu  late %llu  "
		"loss %.4f %%\n"
		"  latency ms  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n"
		"  jitter ms   p99 %.1f    generator send lag p99 %.1f ms, "
		"CPU %.1f s\n",
		r->participants, r->rooms, r->talkers, r->duration_s,
		r->connected, r->refused, r->failed, r->unmeasured,
		(unsigned long long)r->frames_out,
		(unsigned long long)r->frames_in, (unsigned long long)r->bad_in,
		(unsigned long long)r->marked_in,
		(unsigned long long)r->missing, (unsigned long long)r->late,
		r->loss_pct, r->lat_p50_ms, r->lat_p90_ms, r->lat_p99_ms,
		r->lat_max_ms, r->jitter_p99_ms, r->send_lag_p99_ms, r->cpu_s);
	if (r->first_close_code)
		fprintf(f, "  first close code %d\n", r->first_close_code);
	if (r->first_error[0])
		fprintf(f, "  first error: %s\n", r->first_error);
	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
			      JSON_REAL_PRECISION(6));
	json_decref(j);
	if (!s)
		return -ENOMEM;
	fprintf(f, "%s\n", s);
	if (path) {
		FILE *jf = fopen(path, "w");

		if (jf) {
			fprintf(jf, "%s\n", s);
			fclose(jf);
		}
	}
	free(s);
	return 0;
}
