/*
 * metrics.c - sums the workers' counters and writes the Prometheus text
 * exposition of GW_METRICS and its sibling lists (metrics.h).
 */
#include "gateway/metrics.h"

#include <stdarg.h>
#include <stdio.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* --- labels ------------------------------------------------------------ */

int gw__close_slot(int code)
{
	if (code >= 1000 && code < 1016)
		return code - 1000;
	if (code >= 4000 && code < 4100)
		return 16 + code - 4000;
	return -1;
}

const char *gw__close_label(unsigned i, char *buf)
{
	snprintf(buf, 16, "%u", i < 16 ? 1000 + i : 4000 + i - 16);
	return buf;
}

const char *gw__bad_frame_label(unsigned i, char *buf)
{
	static const char *const kinds[GW_BAD_KINDS] = {
	    [GW_BAD_JSON] = "json",
	    [GW_BAD_BASE64] = "base64",
	    [GW_BAD_EVENT] = "event",
	};

	(void)buf;
	return i < GW_BAD_KINDS ? kinds[i] : NULL;
}

/* --- counting ---------------------------------------------------------- */

void gw__count_refused(gw_counters_t *n, int code)
{
	int slot = gw__close_slot(code);

	if (slot >= 0)
		gw__count(&n->refused[slot], 1);
}

static const uint64_t tick_bounds[] = {
#define GW__BOUND(b) b,
    GW_TICK_BUCKETS(GW__BOUND)
#undef GW__BOUND
};

void gw__observe_tick(gw_counters_t *n, uint64_t value_ns)
{
	unsigned i = 0;

	while (i < GW_TICK_NBUCKETS && value_ns > tick_bounds[i])
		i++;
	gw__count(&n->tick_duration_bucket[i], 1);
	gw__count(&n->tick_duration_sum_ns, value_ns);
}

#define GW__ADD_counter(name) m->name += LOAD(n->name);
#define GW__ADD_total(name)
#define GW__ADD_gauge(name)
#define GW__ADD(name, type, help) GW__ADD_##type(name)
#define GW__ADD_BY(name, label, slots, fn, z, help)                            \
	for (unsigned i = 0; i < (slots); i++)                                 \
		m->name[i] += LOAD(n->name[i]);
#define GW__ADD_WORKER_gauge(name)
#define GW__ADD_WORKER_seconds(name)	 m->name[worker] = LOAD(n->name);
#define GW__ADD_WORKER(name, type, help) GW__ADD_WORKER_##type(name)
#define GW__ADD_HIST(name, b, nb, help)                                        \
	for (unsigned i = 0; i <= (nb); i++)                                   \
		m->name##_bucket[i] += LOAD(n->name##_bucket[i]);              \
	m->name##_sum_ns += LOAD(n->name##_sum_ns);

void gw__metrics_add(gw_metrics_t *m, const gw_counters_t *n)
{
	GW_METRICS(GW__ADD)
	GW_METRICS_BY(GW__ADD_BY)
	GW_HISTOGRAMS(GW__ADD_HIST)
}

void gw__metrics_worker(gw_metrics_t *m, const gw_counters_t *n,
			unsigned worker)
{
	if (worker >= GW_WORKERS_MAX)
		return;
	GW_METRICS_PER_WORKER(GW__ADD_WORKER)
	if (m->n_workers < worker + 1)
		m->n_workers = worker + 1;
}

/* --- the exposition ---------------------------------------------------- */

typedef struct out {
	char *buf;
	size_t cap, at;
} out_t;

static void __attribute__((format(printf, 2, 3)))
put(out_t *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->at + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->at, o->cap - o->at, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	o->at = (size_t)r < o->cap - o->at ? o->at + (size_t)r : o->cap - 1;
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP chorus_%s %s\n# TYPE chorus_%s %s\n", name, help, name,
	    type);
}

static void plain(out_t *o, const char *name, const char *suffix,
		  const char *type, const char *help, uint64_t v)
{
	char full[96];

	snprintf(full, sizeof(full), "%s%s", name, suffix);
	head(o, full, type, help);
	put(o, "chorus_%s %llu\n", full, (unsigned long long)v);
}

static void by_label(out_t *o, const char *name, const char *label,
		     const uint64_t *v, unsigned slots,
		     const char *(*fn)(unsigned, char *), bool show_zero,
		     const char *help)
{
	char full[96], buf[16];

	snprintf(full, sizeof(full), "%s_total", name);
	head(o, full, "counter", help);
	for (unsigned i = 0; i < slots; i++) {
		const char *l = fn(i, buf);

		if (l && (v[i] || show_zero))
			put(o, "chorus_%s{%s=\"%s\"} %llu\n", full, label, l,
			    (unsigned long long)v[i]);
	}
}

static void per_worker(out_t *o, const char *name, bool seconds,
		       const uint64_t *v, unsigned n, const char *help)
{
	char full[96];

	snprintf(full, sizeof(full), "%s%s", name,
		 seconds ? "_seconds_total" : "");
	head(o, full, seconds ? "counter" : "gauge", help);
	for (unsigned i = 0; i < n; i++) {
		if (seconds)
			put(o, "chorus_%s{worker=\"%u\"} %.9f\n", full, i,
			    (double)v[i] / 1e9);
		else
			put(o, "chorus_%s{worker=\"%u\"} %llu\n", full, i,
			    (unsigned long long)v[i]);
	}
}

static void histogram(out_t *o, const char *name, const uint64_t *bounds_ns,
		      unsigned nb, const uint64_t *bucket, uint64_t sum_ns,
		      const char *help)
{
	char full[96];
	uint64_t cum = 0;

	snprintf(full, sizeof(full), "%s_seconds", name);
	head(o, full, "histogram", help);
	for (unsigned i = 0; i <= nb; i++) {
		cum += bucket[i];
		if (i < nb)
			put(o, "chorus_%s_bucket{le=\"%g\"} %llu\n", full,
			    (double)bounds_ns[i] / 1e9,
			    (unsigned long long)cum);
		else
			put(o, "chorus_%s_bucket{le=\"+Inf\"} %llu\n", full,
			    (unsigned long long)cum);
	}
	put(o, "chorus_%s_sum %.9f\nchorus_%s_count %llu\n", full,
	    (double)sum_ns / 1e9, full, (unsigned long long)cum);
}

#define GW__SUFFIX_counter "_total"
#define GW__SUFFIX_total   "_total"
#define GW__SUFFIX_gauge   ""
#define GW__TYPE_counter   "counter"
#define GW__TYPE_total	   "counter"
#define GW__TYPE_gauge	   "gauge"
#define GW__PUT(name, type, help)                                              \
	plain(&o, #name, GW__SUFFIX_##type, GW__TYPE_##type, help, m->name);
#define GW__PUT_BY(name, label, slots, fn, z, help)                            \
	by_label(&o, #name, label, m->name, slots, fn, z, help);
#define GW__IS_SECONDS_gauge   false
#define GW__IS_SECONDS_seconds true
#define GW__PUT_WORKER(name, type, help)                                       \
	per_worker(&o, #name, GW__IS_SECONDS_##type, m->name, workers, help);
#define GW__PUT_HIST(name, b, nb, help)                                        \
	histogram(&o, #name, name##_bounds, nb, m->name##_bucket,              \
		  m->name##_sum_ns, help);

size_t gw__metrics_text(const gw_metrics_t *m, char *buf, size_t cap)
{
	const uint64_t *tick_duration_bounds = tick_bounds;
	unsigned workers =
	    m->n_workers < GW_WORKERS_MAX ? m->n_workers : GW_WORKERS_MAX;
	out_t o = {buf, cap, 0};

	if (!cap)
		return 0;
	buf[0] = '\0';
	GW_METRICS(GW__PUT)
	GW_METRICS_BY(GW__PUT_BY)
	GW_METRICS_PER_WORKER(GW__PUT_WORKER)
	GW_HISTOGRAMS(GW__PUT_HIST)
	return o.at;
}
