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
#include "mock-client/meter.h"

#define TALKER_AMPLITUDE   6000 /* about -15 dBFS: loud, far from clipping */
#define TONE_SECONDS	   2.0	/* looped */
#define NO_MARKER_GRACE_NS 1000000000ull /* a gate may hold back 1 s */

/* Frames of talker t sent (nominally) in [from, to]. */
static uint64_t frames_between(const mc_call_t *t, uint64_t from, uint64_t to)
{
	uint64_t sent = mc_call_stats(t)->frames_out, start, period, first,
		 last;

	if (!sent)
		return 0;
	start = mc_call_frame_ns(t, 0);
	period = mc_call_frame_ns(t, 1) - start;
	if (to <= start || to <= from)
		return 0;
	from = from > start ? from - start : 0;
	to -= start;
	first = (from + period - 1) / period;
	last = to / period;
	if (last > sent - 1)
		last = sent - 1;
	return last >= first ? last - first + 1 : 0;
}

/* The marked talker call i should hear, or -1 (see load.h). */
static int expect_src(const mc_load_opts_t *o, unsigned i)
{
	unsigned room = i % o->rooms, pos = i / o->rooms;
	bool talker = pos < o->talkers;

	if (o->expect_echo)
		return talker && pos == 0 ? (int)i : -1;
	return !talker && o->talkers == 1 ? (int)room : -1;
}

/* Missing frames a call's counters cannot see: after its last marked frame,
 * or all of them if it never received one. */
static uint64_t unseen_missing(mc_fleet_t *f, const mc_call_t *c, int expect,
			       uint64_t late_ns, bool *never)
{
	const mc_call_stats_t *cs = mc_call_stats(c);
	const mc_call_t *t;
	uint64_t cut, last;

	*never = false;
	if (expect < 0)
		return 0;
	t = mc_fleet_call(f, (size_t)expect);
	if (!cs->start_ns || !mc_call_stats(t)->start_ns) {
		/* The listener or its talker never got in: everything the
		 * listener should have heard is lost. */
		*never = true;
		return cs->end_frame != UINT64_MAX ? cs->end_frame : 0;
	}
	cut = cs->stop_ns ? cs->stop_ns : cs->end_ns;
	if (cut < late_ns)
		return 0;
	cut -= late_ns;
	if (!cs->heard) {
		*never = true;
		return frames_between(t, cs->start_ns + NO_MARKER_GRACE_NS,
				      cut);
	}
	last = mc_call_frame_ns(t, cs->last_seq64);
	return frames_between(t, last + 1, cut);
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void collect(mc_fleet_t *f, const mc_meter_t *m, const mc_load_opts_t *o,
		    mc_load_result_t *r)
{
	uint64_t late_ns = (uint64_t)o->late_ms * 1000000;
	bool never;

	for (size_t i = 0; i < mc_fleet_ncalls(f); i++) {
		const mc_call_t *c = mc_fleet_call(f, i);
		const mc_call_stats_t *cs = mc_call_stats(c);

		r->connected += cs->start_ns != 0;
		if (cs->close_code >= 4000 || cs->close_code == 1008) {
			r->refused++;
		} else if (!cs->start_ns) {
			r->failed++;
		}
		if (!r->first_close_code && cs->close_code &&
		    cs->close_code != 1000)
			r->first_close_code = cs->close_code;
		if (!r->first_error[0] && cs->error[0])
			snprintf(r->first_error, sizeof(r->first_error), "%s",
				 cs->error);
		r->frames_out += cs->frames_out;
		r->frames_in += cs->frames_in;
		r->bad_in += cs->bad_in;
		r->marked_in += cs->marked_in;
		r->late += cs->late;
		r->missing += cs->missing +
			      unseen_missing(f, c, expect_src(o, (unsigned)i),
					     late_ns, &never);
		r->unmeasured += never;
	}
	if (r->marked_in + r->missing)
		r->loss_pct = 100.0 * (double)(r->missing + r->late) /
			      (double)(r->marked_in + r->missing);
	r->lat_p50_ms = ms(mc_hist_percentile(mc_meter_latency_hist(m), 50));
	r->lat_p90_ms = ms(mc_hist_percentile(mc_meter_latency_hist(m), 90));
	r->lat_p99_ms = ms(mc_hist_percentile(mc_meter_latency_hist(m), 99));
	r->lat_max_ms = ms(mc_meter_latency_hist(m)->max_us);
	r->jitter_p99_ms = ms(mc_hist_percentile(mc_meter_jitter_hist(m), 99));
	r->send_lag_p99_ms =
	    ms(mc_hist_percentile(mc_meter_send_lag_hist(m), 99));
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Makes the listeners' config (cfgs[0]) and one per talker position
 * (cfgs[1 + p]), each a copy of base feeding meter. */
static int make_cfgs(const mc_load_opts_t *o, const mc_call_cfg_t *base,
		     mc_meter_t *meter, mc_call_cfg_t *cfgs, mc_audio_t *tones)
{
	int rc;

	cfgs[0] = *base;
	cfgs[0].audio = NULL;
	cfgs[0].meter = meter;
	for (unsigned p = 0; p < o->talkers; p++) {
		mc_call_cfg_t *cfg = &cfgs[1 + p];

		*cfg = *base;
		cfg->meter = meter;
		cfg->loop = true;
		if (o->play) {
			cfg->audio = o->play->samples;
			cfg->audio_n = o->play->n;
			continue;
		}
		/* A different pitch per talker, so a recording tells them
		 * apart. */
		rc = mc_audio_tone(&tones[p], G711_RATE, 300.0 + 150 * p,
				   TALKER_AMPLITUDE, TONE_SECONDS);
		if (rc)
			return rc;
		cfg->audio = tones[p].samples;
		cfg->audio_n = tones[p].n;
	}
	return 0;
}

/* Adds the calls: call i goes to room i % rooms; the first talker of each
 * room is marked (its marker id is its call number). */
static int add_calls(const mc_load_opts_t *o, mc_fleet_t *f, mc_meter_t *meter,
		     const mc_call_cfg_t *cfgs)
{
	char path[256];
	int rc;

	for (unsigned i = 0; i < o->participants; i++) {
		unsigned room = i % o->rooms, pos = i / o->rooms;
		bool talker = pos < o->talkers, marked = talker && pos == 0;

		snprintf(path, sizeof(path), "/rooms/%s%u", o->room_prefix,
			 room);
		if (marked && (rc = mc_meter_add_talker(meter, i)))
			return rc;
		if (!mc_fleet_add(f, &cfgs[talker ? 1 + pos : 0], path,
				  marked ? (int)i : -1, expect_src(o, i)))
			return -ENOMEM;
	}
	return 0;
}

int mc_load_run(const mc_load_opts_t *o, const mc_call_cfg_t *base,
		const mc_fleet_opts_t *fopts, mc_load_result_t *res)
{
	mc_call_cfg_t *cfgs = NULL; /* [0]: listeners, [1 + p]: talker p */
	mc_audio_t *tones = NULL;
	mc_meter_t *meter = NULL;
	mc_fleet_t *f = NULL;
	uint64_t t0;
	int rc = -ENOMEM;

	memset(res, 0, sizeof(*res));
	if (!o->participants || !o->rooms || o->talkers > o->participants ||
	    o->participants > 65535)
		return -EINVAL;
	cfgs = calloc(o->talkers + 1, sizeof(*cfgs));
	tones = calloc(o->talkers + 1, sizeof(*tones));
	meter = mc_meter_new(o->participants, (uint64_t)o->late_ms * 1000);
	f = mc_fleet_new(fopts, o->participants);
	if (!cfgs || !tones || !meter || !f)
		goto out;
	rc = make_cfgs(o, base, meter, cfgs, tones);
	if (!rc)
		rc = add_calls(o, f, meter, cfgs);
	if (rc)
		goto out;
	t0 = chorus_now_ns();
	rc = mc_fleet_run(f);
	if (rc)
		goto out;
	res->wall_s = (double)(chorus_now_ns() - t0) / 1e9;
	res->cpu_s = cpu_seconds();
	res->participants = o->participants;
	res->rooms = o->rooms;
	res->talkers = o->talkers;
	res->duration_s = base->duration_s;
	collect(f, meter, o, res);
out:
	mc_fleet_free(f);
	mc_meter_free(meter);
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
