/*
 * worker.c - a worker thread's loop, lws context, accepting socket and stop
 * (worker.h).
 */
#include "gateway/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "gateway/log.h"

/* How often a stopping worker checks whether its calls have gone. */
#define STOP_POLL_US 5000
/* Descriptors besides the calls: listeners, loops, wake-ups, logs, and
 * connections being refused. */
#define FD_SPARE 256
/* lws keeps two tables of this many entries per context (one per fd
 * number): a limit above it is lowered to it, as far as the calls allow. */
#define FD_TABLE_MAX (1u << 20)
/* The kernel's queue of connections not yet accepted, per worker. */
#define LISTEN_BACKLOG 1024

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	char esc[GW_LOG_ESC_MAX];

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* lws may quote a caller's request (its path, its headers). */
	gw_log(level == LLL_ERR ? GW_LOG_WARN : GW_LOG_DEBUG, "lws: %s",
	       gw_log_escape(esc, sizeof(esc), line, n));
}

/*
 * Sets the open-file limit the lws contexts size their fd tables by: room
 * for every call (each worker's table is indexed by fd number, and fds are
 * shared by all workers), and not so far above that the tables get huge.
 */
static void fds_fit(const gw_config_t *c)
{
	rlim_t want = (rlim_t)c->max_connections + FD_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	} else if (rl.rlim_cur > FD_TABLE_MAX && want <= FD_TABLE_MAX) {
		rl.rlim_cur = FD_TABLE_MAX;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want)
		gw_warn("open-file limit %llu is below --max-connections %u "
			"+ %u: calls beyond it are refused",
			(unsigned long long)rl.rlim_cur, c->max_connections,
			FD_SPARE);
}

void gw__workers_prepare(const gw_config_t *c)
{
	int levels = LLL_ERR |
		     (gw_log_enabled(GW_LOG_DEBUG) ? LLL_WARN | LLL_NOTICE : 0);

	lws_set_log_level(levels, lws_log_emit);
	fds_fit(c);
}

/* --- accepting --------------------------------------------------------- */

static int listen_open(const gw_config_t *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)c->port)};
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, c->bind, &sa.sin_addr) != 1) {
		gw_err("--bind %s is not an IPv4 address", c->bind);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, LISTEN_BACKLOG)) {
		int e = -errno;

		gw_err("cannot listen on %s:%u: %s", c->bind, c->port,
		       strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	gw_worker_t *w = h->data;

	for (;;) {
		int one = 1;
		int fd = accept4(w->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or a transient error: next time */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Audio queued in the kernel is delay: keep it bounded. */
		if (w->cfg->sndbuf)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &w->cfg->sndbuf,
				   sizeof(w->cfg->sndbuf));
		if (atomic_load(w->refuse) ||
		    !lws_adopt_socket_vhost(w->vh, fd)) {
			close(fd);
			continue;
		}
	}
}

static void listen_stop(gw_worker_t *w)
{
	if (!w->listening)
		return;
	w->listening = false;
	uv_poll_stop(&w->listen_poll);
	uv_close((uv_handle_t *)&w->listen_poll, NULL);
	close(w->listen_fd);
	w->listen_fd = -1;
}

/* --- the loop ---------------------------------------------------------- */

/*
 * Runs the worker's loop until it is stopped. Each call's frame arrives on
 * its own, 20 ms apart: a worker that blocks until the next event sleeps
 * and wakes for nearly every frame, and the context switches cost more than
 * the frames. So after each pass over the ready events it waits until
 * batch_us after the pass began (never past the loop's next timer) before
 * it polls again, and one epoll_wait() then returns the frames of many
 * calls. An idle worker still blocks in the poll; an inbound frame waits
 * batch_us at most.
 */
static void loop_run(gw_worker_t *w)
{
	uint64_t batch = (uint64_t)w->cfg->batch_us * 1000;

	if (!batch) {
		while (!w->exit)
			uv_run(&w->loop, UV_RUN_DEFAULT);
		return;
	}
	while (!w->exit) {
		uint64_t until = chorus_now_ns() + batch;

		uv_run(&w->loop, UV_RUN_ONCE);
		if (w->due_ns && w->due_ns < until)
			until = w->due_ns;
		if (w->exit || chorus_now_ns() >= until)
			continue;
		chorus_sleep_until(until);
	}
}

/* Destroys the context on its foreign loop and closes the loop. */
static void context_end(gw_worker_t *w)
{
	/* On a foreign loop lws closes its handles asynchronously: run the
	 * loop until the destruction completes (lws then NULLs w->ctx
	 * through info.pcontext); in 4.1 a second call finishes it. */
	if (w->ctx)
		lws_context_destroy(w->ctx);
	while (uv_run(&w->loop, UV_RUN_NOWAIT))
		;
	if (w->ctx) {
		gw_debug("second destroy");
		lws_context_destroy(w->ctx);
		while (uv_run(&w->loop, UV_RUN_NOWAIT))
			;
	}
	if (uv_loop_close(&w->loop))
		gw_warn("event loop not closed cleanly");
	w->ctx = NULL;
	SSL_CTX_free(w->tls_client_ctx);
	w->tls_client_ctx = NULL;
}

static int context_new(gw_worker_t *w)
{
	struct lws_context_creation_info info;
	void *loops[1] = {&w->loop};

	memset(&info, 0, sizeof(info));
	info.foreign_loops = loops;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we accept: see above */
	info.protocols = w->protocols;
	info.options = LWS_SERVER_OPTION_LIBUV |
		       LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = w;
	info.pcontext = &w->ctx;
	if (w->cfg->tls_cert[0]) {
		/* The default vhost gets the certificate; the sockets we adopt
		 * (lws_adopt_socket_vhost() allows TLS) then speak TLS: wss://
		 * and https:// on the one port. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = w->cfg->tls_cert;
		info.ssl_private_key_filepath = w->cfg->tls_key;
		/* Else lws 4.1 makes a client context loading every system CA
		 * that it never frees (LeakSanitizer, at exit); the gateway
		 * makes no client connections, so an empty one will do. */
		w->tls_client_ctx = SSL_CTX_new(TLS_client_method());
		if (!w->tls_client_ctx)
			return -ENOMEM;
		info.provided_client_ssl_ctx = w->tls_client_ctx;
	}
	/* No fd_limit_per_thread: below the open-file limit it makes lws find
	 * a connection by a linear scan of its fd table on every event (4.1
	 * wsi_from_fd()); at the limit (fds_fit()) the fd indexes it. */
	info.timeout_secs = 10; /* the HTTP handshake */
	w->ctx = lws_create_context(&info);
	w->vh = w->ctx ? lws_get_vhost_by_name(w->ctx, "default") : NULL;
	w->listen_fd = listen_open(w->cfg);
	if (!w->vh || w->listen_fd < 0 ||
	    uv_poll_init(&w->loop, &w->listen_poll, w->listen_fd)) {
		if (!w->ctx)
			gw_err("worker %u: cannot create its lws context (is "
			       "libwebsockets-evlib-uv installed?)",
			       w->id);
		else if (w->listen_fd >= 0)
			gw_err("worker %u: cannot start", w->id);
		else if (w->cfg->tls_cert[0])
			gw_err("worker %u: cannot start: is --tls-cert %s with "
			       "--tls-key a readable PEM pair?",
			       w->id, w->cfg->tls_cert);
		if (w->listen_fd >= 0)
			close(w->listen_fd);
		w->listen_fd = -1;
		return -EADDRINUSE;
	}
	w->listen_poll.data = w;
	uv_poll_start(&w->listen_poll, UV_READABLE, on_accept);
	w->listening = true;
	return 0;
}

static void *worker_main(void *arg)
{
	gw_worker_t *w = arg;

	gw_log_thread_name(w->name);
	if (uv_loop_init(&w->loop)) {
		atomic_store(&w->state, GW_WORKER_FAILED);
		return NULL;
	}
	if (context_new(w) < 0) {
		context_end(w);
		atomic_store(&w->state, GW_WORKER_FAILED);
		return NULL;
	}
	pthread_mutex_lock(&w->wake_lock);
	atomic_store(&w->state, GW_WORKER_RUNNING);
	pthread_mutex_unlock(&w->wake_lock);
	/* Whatever other workers asked of this one before it ran (a room's
	 * clock given to it while it started) is taken at the first wake-up:
	 * their own wake-ups were skipped. */
	lws_cancel_service(w->ctx);
	loop_run(w); /* the loop is ours */
	/* From here no other thread may touch the context, which is about
	 * to be destroyed (and w->ctx cleared by lws). */
	pthread_mutex_lock(&w->wake_lock);
	atomic_store(&w->state, GW_WORKER_STOPPING);
	pthread_mutex_unlock(&w->wake_lock);
	listen_stop(w);
	context_end(w);
	atomic_store(&w->state, GW_WORKER_ENDED);
	return NULL;
}

int gw__worker_start(gw_worker_t *w)
{
	gw_worker_state_t st;

	snprintf(w->name, sizeof(w->name), "w%u", w->id);
	w->listen_fd = -1;
	atomic_store(&w->state, GW_WORKER_STARTING);
	if (pthread_create(&w->th, NULL, worker_main, w)) {
		gw_err("cannot start worker %u", w->id);
		return -EAGAIN;
	}
	w->started = true;
	while ((st = atomic_load(&w->state)) == GW_WORKER_STARTING)
		usleep(1000);
	return st == GW_WORKER_FAILED ? -EADDRINUSE : 0;
}

void gw__worker_wake(gw_worker_t *w)
{
	/* The lock orders this against the worker's own change of state
	 * around its context's destruction. */
	pthread_mutex_lock(&w->wake_lock);
	if (atomic_load(&w->state) == GW_WORKER_RUNNING)
		lws_cancel_service(w->ctx);
	pthread_mutex_unlock(&w->wake_lock);
}

gw_worker_state_t gw__worker_state(gw_worker_t *w)
{
	return atomic_load(&w->state);
}

void gw__worker_join(gw_worker_t *w)
{
	if (w->started)
		pthread_join(w->th, NULL);
	w->started = false;
}

int gw__worker_init(gw_worker_t *w)
{
	return pthread_mutex_init(&w->wake_lock, NULL) ? -ENOMEM : 0;
}

void gw__worker_destroy(gw_worker_t *w)
{
	pthread_mutex_destroy(&w->wake_lock);
}

gw_worker_t *gw__worker_of(struct lws *wsi)
{
	struct lws_context *ctx = lws_get_context(wsi);

	return ctx ? lws_context_user(ctx) : NULL;
}

/* --- stopping ---------------------------------------------------------- */

static void stop_check(lws_sorted_usec_list_t *sul)
{
	gw_worker_t *w = lws_container_of(sul, gw_worker_t, stop_sul);

	if (*w->live == 0 || chorus_now_ns() > w->stop_deadline_ns) {
		w->exit = true;
		uv_stop(&w->loop);
		return;
	}
	lws_sul_schedule(w->ctx, 0, &w->stop_sul, stop_check, STOP_POLL_US);
}

void gw__worker_stop(gw_worker_t *w, const unsigned *live, unsigned grace_ms)
{
	listen_stop(w);
	w->live = live;
	w->stop_deadline_ns =
	    chorus_now_ns() + (uint64_t)grace_ms * CHORUS_NS_PER_MS;
	lws_sul_schedule(w->ctx, 0, &w->stop_sul, stop_check, 0);
}
