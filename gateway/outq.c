/*
 * outq.c - listeners' output rings and the hand-off between workers
 * (outq.h).
 */
#include "gateway/outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gw__outq_home_init(gw_outq_home_t *home, gw_worker_t *w,
		       gw_outq_home_t **all, unsigned n, unsigned depth,
		       gw_counters_t *counters)
{
	home->w = w;
	home->all = all;
	home->n_all = n;
	home->depth = depth;
	home->n = counters;
	atomic_init(&home->posted, NULL);
	home->local = NULL;
	home->wake = calloc(n, sizeof(*home->wake));
	return home->wake ? 0 : -ENOMEM;
}

void gw__outq_home_free(gw_outq_home_t *home)
{
	free(home->wake);
	home->wake = NULL;
}

int gw__outq_init(gw_outq_t *q, gw_outq_home_t *home, struct lws *wsi)
{
	memset(q, 0, sizeof(*q));
	q->home = home;
	q->wsi = wsi;
	q->slots = calloc(GW_OUTQ_SLOTS, sizeof(*q->slots));
	return q->slots ? 0 : -ENOMEM;
}

void gw__outq_open(gw_outq_t *q, const char *sid_json)
{
	q->sid_json = sid_json;
	q->open = true;
}

void gw__outq_close(gw_outq_t *q)
{
	q->open = false;
}

/* --- the ring ---------------------------------------------------------- */

/* Producer. */
static void ring_push(gw_outq_t *q, const char *b64, size_t len)
{
	unsigned h = atomic_load_explicit(&q->head, memory_order_relaxed);
	unsigned t = atomic_load_explicit(&q->tail, memory_order_acquire);
	gw_out_slot_t *s;

	if (h - t >= GW_OUTQ_SLOTS || len >= GW_OUTQ_SLOT_CAP) {
		/* Its worker has not run for GW_OUTQ_SLOTS ticks: the
		 * consumer trims the oldest, here we can only skip. */
		atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
		return;
	}
	s = &q->slots[h % GW_OUTQ_SLOTS];
	memcpy(s->b64, b64, len);
	s->len = (uint32_t)len;
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
}

/* Consumer: drops the oldest frames beyond the configured depth. */
void gw__outq_trim(gw_outq_t *q)
{
	unsigned depth = q->home->depth;
	unsigned h = atomic_load_explicit(&q->head, memory_order_acquire);
	unsigned t = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (h - t > depth) {
		atomic_fetch_add_explicit(&q->dropped, h - t - depth,
					  memory_order_relaxed);
		atomic_store_explicit(&q->tail, h - depth,
				      memory_order_release);
	}
}

static bool ring_empty(gw_outq_t *q)
{
	return atomic_load_explicit(&q->head, memory_order_acquire) ==
	       atomic_load_explicit(&q->tail, memory_order_relaxed);
}

/* --- writing ----------------------------------------------------------- */

const gw_out_slot_t *gw__outq_peek(gw_outq_t *q)
{
	unsigned h, t;

	gw__outq_trim(q);
	h = atomic_load_explicit(&q->head, memory_order_acquire);
	t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	return h == t ? NULL : &q->slots[t % GW_OUTQ_SLOTS];
}

void gw__outq_pop(gw_outq_t *q)
{
	unsigned t = atomic_load_explicit(&q->tail, memory_order_relaxed);

	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
}

/* Writes the ring's oldest frame, after trimming to the depth. Returns 0
 * (also when there was nothing to write), or -1 when the write failed. */
static int write_next(gw_outq_t *q)
{
	gw_outq_home_t *home = q->home;
	const gw_out_slot_t *s = gw__outq_peek(q);
	int n;

	if (!s)
		return 0;
	n = gw_proto_media_out(home->tx + LWS_PRE, GW_TX_MAX, q->sid_json,
			       s->b64, s->len);
	gw__outq_pop(q);
	if (n < 0)
		return 0;
	if (lws_write(q->wsi, (unsigned char *)home->tx + LWS_PRE, (size_t)n,
		      LWS_WRITE_TEXT) < n) {
		q->open = false;
		q->failed = true;
		return -1;
	}
	q->frames_out++;
	gw__count(&home->n->frames_out, 1);
	return 0;
}

/* On q's worker, outside q's callbacks: writes q's oldest frame now unless
 * lws holds part of an earlier one (lws_partial_buffered(), which unlike
 * lws_send_pipe_choked() makes no poll() call); then WRITEABLE takes it. A
 * failed write closes the connection at lws's next timeout check. */
static void flush(gw_outq_t *q)
{
	if (!q->open)
		return;
	if (lws_partial_buffered(q->wsi)) {
		gw__outq_trim(q);
		lws_callback_on_writable(q->wsi);
		return;
	}
	if (write_next(q) < 0) {
		lws_set_timeout(q->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
		return;
	}
	if (!ring_empty(q))
		lws_callback_on_writable(q->wsi);
}

int gw__outq_writeable(gw_outq_t *q)
{
	if (!q->open)
		return 0;
	if (write_next(q) < 0)
		return -1;
	if (!ring_empty(q))
		lws_callback_on_writable(q->wsi);
	return 0;
}

/* --- the hand-off ------------------------------------------------------ */

static void post(gw_outq_home_t *home, gw_outq_t *q)
{
	gw_outq_t *old =
	    atomic_load_explicit(&home->posted, memory_order_relaxed);

	do {
		q->post_next = old;
	} while (!atomic_compare_exchange_weak_explicit(&home->posted, &old, q,
							memory_order_release,
							memory_order_relaxed));
}

void gw__outq_deliver(gw_outq_home_t *from, gw_outq_t *q, const char *b64,
		      size_t len)
{
	gw_outq_home_t *home = q->home;

	ring_push(q, b64, len);
	if (home == from) {
		if (!q->local) {
			q->local = true;
			q->local_next = from->local;
			from->local = q;
		}
	} else if (!atomic_exchange(&q->posted, 1)) {
		post(home, q);
		from->wake[home->w->id] = true;
	}
}

void gw__outq_deliver_end(gw_outq_home_t *from)
{
	gw_outq_t *q = from->local;

	/* The others write theirs while we write ours. */
	for (unsigned i = 0; i < from->n_all; i++) {
		if (from->wake[i]) {
			from->wake[i] = false;
			gw__worker_wake(from->all[i]->w);
		}
	}
	/* No lws event ran since these were queued: none has closed. */
	from->local = NULL;
	while (q) {
		gw_outq_t *next = q->local_next;

		q->local = false;
		flush(q);
		q = next;
	}
}

void gw__outq_drain(gw_outq_home_t *home)
{
	gw_outq_t *q =
	    atomic_exchange_explicit(&home->posted, NULL, memory_order_acquire);

	while (q) {
		gw_outq_t *next = q->post_next;

		/* Clear first: a frame queued from now on posts q again. */
		atomic_store(&q->posted, 0);
		flush(q);
		q = next;
	}
}

void gw__outq_free(gw_outq_t *q)
{
	gw_outq_home_t *home = q->home;

	if (atomic_load(&q->posted)) {
		/*
		 * Take the wake list and put back all but q. Each one put
		 * back stays posted, so no clock posts it twice, and the
		 * wake-up that its clock sent after posting it is still to
		 * come (a wake-up already handled would have drained it).
		 */
		gw_outq_t *p = atomic_exchange_explicit(&home->posted, NULL,
							memory_order_acquire);

		while (p) {
			gw_outq_t *next = p->post_next;

			if (p != q)
				post(home, p);
			p = next;
		}
		atomic_store(&q->posted, 0);
	}
	q->open = false;
	free(q->slots);
	q->slots = NULL;
}
