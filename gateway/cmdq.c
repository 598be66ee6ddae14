/*
 * cmdq.c - commands for a worker from other threads (cmdq.h).
 */
#include "gateway/cmdq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gw__cmdq_init(gw_cmdq_t *q)
{
	memset(q, 0, sizeof(*q));
	return pthread_mutex_init(&q->lock, NULL) ? -ENOMEM : 0;
}

void gw__cmdq_free(gw_cmdq_t *q)
{
	free(q->items);
	pthread_mutex_destroy(&q->lock);
	memset(q, 0, sizeof(*q));
}

int gw__cmdq_post(gw_cmdq_t *q, const gw_cmd_t *cmd)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	if (q->n == q->cap) {
		unsigned cap = q->cap ? 2 * q->cap : 16;
		gw_cmd_t *p = realloc(q->items, cap * sizeof(*p));

		if (p) {
			q->items = p;
			q->cap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret)
		q->items[q->n++] = *cmd;
	pthread_mutex_unlock(&q->lock);
	return ret;
}

unsigned gw__cmdq_take(gw_cmdq_t *q, gw_cmd_t **items)
{
	unsigned n;

	pthread_mutex_lock(&q->lock);
	n = q->n;
	*items = n ? q->items : NULL;
	if (n) {
		q->items = NULL;
		q->n = q->cap = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}
