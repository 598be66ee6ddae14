/*
 * cmdq.h - commands for a worker from other threads: "close call N with
 * this code and reason", posted by the admin API (which runs on whichever
 * worker serves the HTTP request) for a call that lives on another worker.
 *
 * lws allows only the thread that owns a context to touch its connections,
 * so a call is closed on its own worker: the poster appends the command to
 * that worker's queue under the queue's mutex and wakes the worker
 * (gw__worker_wake()); the worker takes every queued command when woken
 * (on_woken() in server.c) and runs it. A call that has gone by then is
 * simply not found. Not for the media path: commands are rare and may
 * allocate.
 *
 * Threads: gw__cmdq_post() from any thread; gw__cmdq_take() on the owning
 * worker only; init and free before the worker starts and after it ends.
 */
#ifndef CHORUS_GW_CMDQ_H
#define CHORUS_GW_CMDQ_H

#include <pthread.h>
#include <stdint.h>

typedef struct gw_cmd {
	uint64_t call_id; /* gw_call_info_t.id */
	int code;	  /* close code */
	char reason[124]; /* close reason, <= 123 bytes */
} gw_cmd_t;

typedef struct gw_cmdq {
	pthread_mutex_t lock;
	gw_cmd_t *items;
	unsigned n, cap;
} gw_cmdq_t;

/* Returns 0 or -ENOMEM. */
int gw__cmdq_init(gw_cmdq_t *q);
void gw__cmdq_free(gw_cmdq_t *q);

/* Appends a copy of cmd. Returns 0, or -ENOMEM (nothing queued). The
 * caller then wakes the worker. */
int gw__cmdq_post(gw_cmdq_t *q, const gw_cmd_t *cmd);

/* Takes every queued command: *items (free() it) gets them, in the order
 * posted. Returns how many (0: *items is NULL). */
unsigned gw__cmdq_take(gw_cmdq_t *q, gw_cmd_t **items);

#endif /* CHORUS_GW_CMDQ_H */
