/*
 * metrics.c - sums the workers' counters and writes the Prometheus text
 * exposition of GW_METRICS (metrics.h).
 */
#include "gateway/metrics.h"

#include <stdio.h>

#define GW__ADD_counter(name)                                                  \
	m->name += atomic_load_explicit(&n->name, memory_order_relaxed);
#define GW__ADD_gauge(name)
#define GW__ADD(name, type, help) GW__ADD_##type(name)

void gw__metrics_add(gw_metrics_t *m, const gw_counters_t *n)
{
	GW_METRICS(GW__ADD)
}

/* Appends one metric; returns the new length (cap - 1 once full). */
static size_t put(char *buf, size_t cap, size_t at, const char *name,
		  const char *suffix, const char *type, const char *help,
		  uint64_t value)
{
	int r;

	if (at + 1 >= cap)
		return at;
	r = snprintf(buf + at, cap - at,
		     "# HELP chorus_%s%s %s\n# TYPE chorus_%s%s %s\n"
		     "chorus_%s%s %llu\n",
		     name, suffix, help, name, suffix, type, name, suffix,
		     (unsigned long long)value);
	if (r < 0)
		return at;
	return (size_t)r < cap - at ? at + (size_t)r : cap - 1;
}

#define GW__SUFFIX_counter "_total"
#define GW__SUFFIX_gauge   ""
#define GW__PUT(name, type, help)                                              \
	at = put(buf, cap, at, #name, GW__SUFFIX_##type, #type, help, m->name);

size_t gw__metrics_text(const gw_metrics_t *m, char *buf, size_t cap)
{
	size_t at = 0;

	if (!cap)
		return 0;
	buf[0] = '\0';
	GW_METRICS(GW__PUT)
	return at;
}
