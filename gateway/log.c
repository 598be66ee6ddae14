/*
 * log.c - one log line per event on stderr (log.h). Lines go into a bounded
 * ring that one writer thread drains with write(), so a worker never waits
 * for stderr; a line that does not fit is dropped and counted.
 */
#include "gateway/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static volatile int cur_level = GW_LOG_INFO;
static __thread const char *thread_name = "main";

/* The ring between the threads that log and the writer. The writer copies
 * nothing: it writes straight from the ring, and the space it is writing
 * is not handed back (len falls) until the write returned. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;	/* lines to write, or stop */
	pthread_cond_t drained; /* the writer has nothing left */
	char *buf;
	size_t cap, head, len;
	bool running; /* lines go through the ring */
	bool stop;
	bool idle;		   /* the writer is waiting with nothing */
	uint64_t dropped_unsaid;   /* dropped since the last notice */
	atomic_ullong dropped_all; /* dropped since start */
	pthread_t thread;
} q = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .more = PTHREAD_COND_INITIALIZER,
    .drained = PTHREAD_COND_INITIALIZER,
};

char *gw_log_escape(char *out, size_t cap, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		char e[4];
		size_t k = 0;

		if (ch == '"' || ch == '\\') {
			e[k++] = '\\';
			e[k++] = (char)ch;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			e[k++] = '\\';
			e[k++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
		} else if (ch < 0x20 || ch >= 0x7f) {
			e[k++] = '\\';
			e[k++] = 'x';
			e[k++] = hex[ch >> 4];
			e[k++] = hex[ch & 15];
		} else {
			e[k++] = (char)ch;
		}
		if (o + k >= cap)
			break; /* only whole escapes */
		memcpy(out + o, e, k);
		o += k;
	}
	out[o] = '\0';
	return out;
}

const char *gw_log_esc(gw_esc_t *e, const char *s)
{
	return gw_log_escape(e->s, sizeof(e->s), s, strlen(s));
}

uint64_t gw_log_dropped(void)
{
	return atomic_load(&q.dropped_all);
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		p += w;
		n -= (size_t)w;
	}
}

/* Appends a line to the ring, or counts it dropped. Under the lock. */
static void ring_put(const char *line, size_t n)
{
	size_t tail, first;

	if (q.len + n > q.cap) {
		q.dropped_unsaid++;
		atomic_fetch_add(&q.dropped_all, 1);
		return;
	}
	tail = (q.head + q.len) % q.cap;
	first = q.cap - tail < n ? q.cap - tail : n;
	memcpy(q.buf + tail, line, first);
	memcpy(q.buf, line + first, n - first);
	q.len += n;
	pthread_cond_signal(&q.more);
}

/* Writes the ring out; says how many lines were dropped once it is empty. */
static void *writer(void *arg)
{
	(void)arg;
	gw_log_thread_name("log");
	pthread_mutex_lock(&q.lock);
	for (;;) {
		size_t n;

		while (!q.len && !q.stop) {
			q.idle = true;
			pthread_cond_broadcast(&q.drained);
			pthread_cond_wait(&q.more, &q.lock);
		}
		q.idle = false;
		if (!q.len && q.stop)
			break;
		n = q.cap - q.head < q.len ? q.cap - q.head : q.len;
		pthread_mutex_unlock(&q.lock);
		write_all(q.buf + q.head, n);
		pthread_mutex_lock(&q.lock);
		q.head = (q.head + n) % q.cap;
		q.len -= n;
		if (!q.len && q.dropped_unsaid) {
			uint64_t d = q.dropped_unsaid;

			q.dropped_unsaid = 0;
			pthread_mutex_unlock(&q.lock);
			gw_warn("log: %llu lines dropped: stderr was not read "
				"fast enough",
				(unsigned long long)d);
			pthread_mutex_lock(&q.lock);
		}
	}
	q.idle = true;
	pthread_cond_broadcast(&q.drained);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

int gw_log_start(size_t buffer_bytes)
{
	sigset_t all, old;
	int r;

	if (buffer_bytes < 4096)
		buffer_bytes = 4096;
	q.buf = malloc(buffer_bytes);
	if (!q.buf)
		return -ENOMEM;
	q.cap = buffer_bytes;
	q.head = q.len = 0;
	q.stop = false;
	/* The writer takes no signal: main waits for SIGINT/SIGTERM with
	 * sigwait() and must stay the only thread they reach. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&q.thread, NULL, writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		free(q.buf);
		q.buf = NULL;
		return -r;
	}
	pthread_mutex_lock(&q.lock);
	q.running = true;
	pthread_mutex_unlock(&q.lock);
	return 0;
}

void gw_log_stop(unsigned timeout_ms)
{
	struct timespec dl;
	bool done;

	pthread_mutex_lock(&q.lock);
	if (!q.running) {
		pthread_mutex_unlock(&q.lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	q.stop = true;
	pthread_cond_signal(&q.more);
	while (!(q.idle && !q.len) &&
	       pthread_cond_timedwait(&q.drained, &q.lock, &dl) == 0)
		;
	done = q.idle && !q.len;
	/* A writer stuck in write() keeps the ring; lines go on being
	 * dropped rather than blocking the exit. */
	if (done)
		q.running = false;
	pthread_mutex_unlock(&q.lock);
	if (done) {
		pthread_join(q.thread, NULL);
		free(q.buf);
		q.buf = NULL;
	}
}

int gw_log_level_parse(const char *name, gw_log_level_t *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(*level_names);
	     i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (gw_log_level_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *gw_log_level_name(gw_log_level_t level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(*level_names))
		return "?";
	return level_names[level];
}

void gw_log_set_level(gw_log_level_t level)
{
	cur_level = level;
}

int gw_log_enabled(gw_log_level_t level)
{
	return (int)level <= cur_level;
}

void gw_log_thread_name(const char *name)
{
	thread_name = name;
}

void gw_log(gw_log_level_t level, const char *fmt, ...)
{
	char line[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t n;
	int r;

	if (!gw_log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s [%s] ",
		     (long)tv.tv_usec / 1000, gw_log_level_name(level),
		     thread_name);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	pthread_mutex_lock(&q.lock);
	if (q.running) {
		ring_put(line, n);
		pthread_mutex_unlock(&q.lock);
		return;
	}
	pthread_mutex_unlock(&q.lock);
	/* One write per line: lines from different workers never mix. */
	write_all(line, n);
}
