/*
 * worker.h - one worker thread: its libuv (epoll) event loop, its own lws
 * context on that loop, its own SO_REUSEPORT socket on the shared port, and
 * its orderly stop.
 *
 * Debian's lws 4.1 serves one context from one thread, so the gateway runs
 * one context per core. lws 4.1 sets SO_REUSEPORT only on Windows
 * (ALLOW_LISTEN_SHARE), so each worker opens its own listening socket,
 * accepts on its loop and hands each connection to its context
 * (lws_adopt_socket_vhost()); the kernel spreads connections over the
 * workers' sockets. The worker knows nothing of calls, rooms or clocks: the
 * caller gives it the lws protocols that handle its connections, and a data
 * pointer those callbacks find again with gw__worker_of().
 *
 * Threads: everything here runs on the worker's own thread, except
 * gw__worker_start(), gw__worker_wake(), gw__worker_state() and
 * gw__worker_join(), which the thread that owns the worker calls, and
 * gw__worker_wake(), which any thread may call.
 * gw__worker_wake() is the only way another thread reaches a worker: it
 * calls lws_cancel_service(), the one lws call that is safe across threads,
 * and the worker's protocols then get LWS_CALLBACK_EVENT_WAIT_CANCELLED.
 */
#ifndef CHORUS_GW_WORKER_H
#define CHORUS_GW_WORKER_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "gateway/config.h"

typedef enum gw_worker_state {
	GW_WORKER_STARTING = 0, /* creating its loop, context and socket */
	GW_WORKER_RUNNING,	/* accepting; wake-ups are delivered */
	GW_WORKER_STOPPING,	/* its loop has ended; no more wake-ups */
	GW_WORKER_ENDED,	/* everything freed; join the thread */
	GW_WORKER_FAILED,	/* could not start; join the thread */
} gw_worker_state_t;

typedef struct gw_worker {
	/* Set by the caller before gw__worker_start(). */
	unsigned id;
	const gw_config_t *cfg;
	const struct lws_protocols *protocols;
	const atomic_int *refuse; /* while set, new connections are closed */
	void *data;		  /* the caller's; see gw__worker_of() */

	/* The worker's own. */
	char name[16];
	pthread_t th;
	bool started; /* th exists */
	/* Held by gw__worker_wake() and by the worker as it enters and
	 * leaves RUNNING, so no wake-up reaches a context being destroyed. */
	pthread_mutex_t wake_lock;
	_Atomic gw_worker_state_t state;
	uv_loop_t loop; /* ours, given to lws as a foreign loop */
	struct lws_context *ctx;
	struct lws_vhost *vh;
	void *tls_client_ctx; /* SSL_CTX * given to lws with TLS (worker.c) */
	int listen_fd;
	uv_poll_t listen_poll;
	bool listening;
	bool exit;
	/* The earliest deadline of a timer on this loop (0: none), kept by
	 * whoever schedules one: the loop never waits past it to gather
	 * events. */
	uint64_t due_ns;
	/* Stopping: exits once *live is 0 or at the deadline. */
	const unsigned *live;
	uint64_t stop_deadline_ns;
	lws_sorted_usec_list_t stop_sul;
} gw_worker_t;

/* Before any worker starts: sets up what other threads may touch (the
 * wake-up lock). Returns 0 or -ENOMEM. gw__worker_destroy() undoes it,
 * after gw__worker_join(). */
int gw__worker_init(gw_worker_t *w);
void gw__worker_destroy(gw_worker_t *w);

/*
 * Process-wide lws set-up, once before any worker starts: routes lws's log
 * into the gateway's, and raises (or caps) the open-file limit that lws
 * sizes each context's fd tables by, so that every call fits.
 */
void gw__workers_prepare(const gw_config_t *c);

/* Starts w's thread and returns once it runs (0) or has failed (-EAGAIN:
 * no thread; -EADDRINUSE: no context or socket; logged). Workers must be
 * started one after the other: lws's global set-up is not thread-safe. */
int gw__worker_start(gw_worker_t *w);

/* Any thread: makes w's protocols get LWS_CALLBACK_EVENT_WAIT_CANCELLED on
 * w's thread. Does nothing unless w is running. */
void gw__worker_wake(gw_worker_t *w);

gw_worker_state_t gw__worker_state(gw_worker_t *w);

/* Waits for w's thread to end (after ENDED or FAILED). */
void gw__worker_join(gw_worker_t *w);

/* On w's thread: the worker whose context serves wsi. */
gw_worker_t *gw__worker_of(struct lws *wsi);

/* On w's thread: stops accepting, then ends the loop once *live (the
 * caller's count of connections still open) is 0, or after grace_ms. */
void gw__worker_stop(gw_worker_t *w, const unsigned *live, unsigned grace_ms);

#endif /* CHORUS_GW_WORKER_H */
