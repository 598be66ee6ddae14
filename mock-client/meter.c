/*
 * meter.c - see meter.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "mock-client/meter.h"

struct sent {
	uint64_t ns; /* 0: never written */
	uint16_t seq;
};

struct mc_meter {
	mc_hist_t *latency, *jitter, *send_lag;
	uint64_t late_us;
	size_t ntalkers;
	struct sent **rings; /* per talker id: MC_METER_RING, or NULL */
};

mc_meter_t *mc_meter_new(size_t ntalkers, uint64_t late_us)
{
	mc_meter_t *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->late_us = late_us;
	m->ntalkers = ntalkers;
	m->rings = calloc(ntalkers ? ntalkers : 1, sizeof(*m->rings));
	m->latency = mc_hist_new();
	m->jitter = mc_hist_new();
	m->send_lag = mc_hist_new();
	if (!m->rings || !m->latency || !m->jitter || !m->send_lag) {
		mc_meter_free(m);
		return NULL;
	}
	return m;
}

void mc_meter_free(mc_meter_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->rings && i < m->ntalkers; i++)
		free(m->rings[i]);
	free(m->rings);
	mc_hist_free(m->latency);
	mc_hist_free(m->jitter);
	mc_hist_free(m->send_lag);
	free(m);
}

int mc_meter_add_talker(mc_meter_t *m, unsigned id)
{
	if (id >= m->ntalkers)
		return -EINVAL;
	if (m->rings[id])
		return 0;
	m->rings[id] = calloc(MC_METER_RING, sizeof(struct sent));
	return m->rings[id] ? 0 : -ENOMEM;
}

void mc_meter_stamp_sent(mc_meter_t *m, unsigned id, uint16_t seq,
			 uint64_t sent_ns)
{
	struct sent *s;

	if (id >= m->ntalkers || !m->rings[id])
		return;
	s = &m->rings[id][seq % MC_METER_RING];
	s->ns = sent_ns;
	s->seq = seq;
}

bool mc_meter_stamp_time(const mc_meter_t *m, unsigned id, uint16_t seq,
			 uint64_t *sent_ns)
{
	const struct sent *s;

	if (id >= m->ntalkers || !m->rings[id])
		return false;
	s = &m->rings[id][seq % MC_METER_RING];
	if (s->seq != seq || !s->ns)
		return false;
	*sent_ns = s->ns;
	return true;
}

bool mc_meter_latency(mc_meter_t *m, uint64_t us)
{
	mc_hist_add(m->latency, us);
	return us > m->late_us;
}

void mc_meter_jitter(mc_meter_t *m, uint64_t us)
{
	mc_hist_add(m->jitter, us);
}

void mc_meter_send_lag(mc_meter_t *m, uint64_t us)
{
	mc_hist_add(m->send_lag, us);
}

const mc_hist_t *mc_meter_latency_hist(const mc_meter_t *m)
{
	return m->latency;
}

const mc_hist_t *mc_meter_jitter_hist(const mc_meter_t *m)
{
	return m->jitter;
}

const mc_hist_t *mc_meter_send_lag_hist(const mc_meter_t *m)
{
	return m->send_lag;
}
