/*
 * recorder.c - see recorder.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mock-client/recorder.h"

int mc_rec_init(mc_rec_t *r, unsigned rate, unsigned playout_ms)
{
	memset(r, 0, sizeof(*r));
	if (!rate)
		return -EINVAL;
	r->rate = rate;
	r->playout_ns = (uint64_t)playout_ms * 1000000;
	r->q_cap = (size_t)rate * MC_REC_QUEUE_SECONDS;
	r->queue = malloc(r->q_cap * sizeof(int16_t));
	if (!r->queue)
		return -ENOMEM;
	return 0;
}

void mc_rec_free(mc_rec_t *r)
{
	free(r->queue);
	free(r->tl);
	r->queue = NULL;
	r->tl = NULL;
}

/* Makes room for n more samples in the recording. */
static int tl_reserve(mc_rec_t *r, size_t n)
{
	size_t cap = r->tl_cap ? r->tl_cap : r->rate;
	int16_t *p;

	if (r->tl_len + n <= r->tl_cap)
		return 0;
	while (cap < r->tl_len + n)
		cap *= 2;
	p = realloc(r->tl, cap * sizeof(int16_t));
	if (!p)
		return -ENOMEM;
	r->tl = p;
	r->tl_cap = cap;
	return 0;
}

/* Moves up to n queued samples to the recording; returns how many. */
static size_t play_queued(mc_rec_t *r, size_t n)
{
	size_t done = 0;

	if (n > r->q_len)
		n = r->q_len;
	if (tl_reserve(r, n))
		return 0;
	while (done < n) {
		size_t run = r->q_cap - r->q_head;

		if (run > n - done)
			run = n - done;
		memcpy(r->tl + r->tl_len, r->queue + r->q_head,
		       run * sizeof(int16_t));
		r->tl_len += run;
		r->q_head = (r->q_head + run) % r->q_cap;
		r->q_len -= run;
		done += run;
	}
	r->played += done;
	return done;
}

static void play_silence(mc_rec_t *r, size_t n)
{
	if (tl_reserve(r, n))
		return;
	memset(r->tl + r->tl_len, 0, n * sizeof(int16_t));
	r->tl_len += n;
	r->played += n;
}

void mc_rec_advance(mc_rec_t *r, uint64_t now_ns)
{
	uint64_t target;

	if (!r->started || now_ns <= r->start_ns)
		return;
	target = (now_ns - r->start_ns) * r->rate / 1000000000ull;
	while (r->played < target) {
		size_t want = (size_t)(target - r->played);

		if (r->q_len) {
			if (!play_queued(r, want))
				return; /* out of memory: stop recording */
			r->in_gap = false;
			continue;
		}
		if (!r->in_gap)
			r->gaps++;
		r->in_gap = true;
		r->gap_samples += want;
		play_silence(r, want);
		if (r->played < target)
			return; /* out of memory */
	}
}

int mc_rec_push(mc_rec_t *r, uint64_t now_ns, const int16_t *pcm, size_t n)
{
	size_t i, tail;

	if (!r->started) {
		r->started = true;
		r->start_ns = now_ns + r->playout_ns;
	}
	mc_rec_advance(r, now_ns);
	r->received += n;
	for (i = 0; i < n; i++) {
		if (r->q_len == r->q_cap) {
			r->overflow += n - i;
			return -ENOBUFS;
		}
		tail = (r->q_head + r->q_len) % r->q_cap;
		r->queue[tail] = pcm[i];
		r->q_len++;
	}
	return 0;
}

int mc_rec_mark(mc_rec_t *r, uint64_t now_ns, const char *name)
{
	mc_rec_mark_t *m;

	mc_rec_advance(r, now_ns);
	if (r->m_len == MC_REC_MAX_MARKS)
		return -ENOBUFS;
	m = &r->marks[(r->m_head + r->m_len) % MC_REC_MAX_MARKS];
	strncpy(m->name, name, sizeof(m->name) - 1);
	m->name[sizeof(m->name) - 1] = '\0';
	m->pos = r->played + r->q_len;
	r->m_len++;
	return 0;
}

size_t mc_rec_clear(mc_rec_t *r, uint64_t now_ns)
{
	size_t dropped, i;

	mc_rec_advance(r, now_ns);
	dropped = r->q_len;
	r->cleared += dropped;
	r->q_len = 0;
	for (i = 0; i < r->m_len; i++)
		r->marks[(r->m_head + i) % MC_REC_MAX_MARKS].pos = 0;
	return dropped;
}

int mc_rec_next_mark(mc_rec_t *r, char *name, size_t cap)
{
	mc_rec_mark_t *m;

	if (!r->m_len)
		return 0;
	m = &r->marks[r->m_head];
	if (m->pos > r->played)
		return 0;
	if (cap) {
		strncpy(name, m->name, cap - 1);
		name[cap - 1] = '\0';
	}
	r->m_head = (r->m_head + 1) % MC_REC_MAX_MARKS;
	r->m_len--;
	return 1;
}

void mc_rec_finish(mc_rec_t *r)
{
	play_queued(r, r->q_len);
}

const int16_t *mc_rec_samples(const mc_rec_t *r, size_t *n)
{
	*n = r->tl_len;
	return r->tl;
}
