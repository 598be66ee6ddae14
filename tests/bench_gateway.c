/*
 * bench_gateway: the gateway's CPU cost per participant.
 *
 * Starts the real chorus-gateway, then from this one thread opens N
 * simulated calls (default 300, in rooms of 4, one talker per room sending
 * a tone, the others silence), each sending one media frame every 20 ms on
 * absolute deadlines and reading everything that comes back, with epoll
 * over raw sockets. After a warm-up it measures the gateway's CPU time
 * (utime + stime from /proc/<pid>/stat) over the run and reports it per
 * participant-second, with frames in, out and lost.
 *
 * CHORUS_BENCH_PARTICIPANTS, CHORUS_BENCH_ROOM_SIZE, CHORUS_BENCH_SECONDS
 * and CHORUS_BENCH_WORKERS change the defaults (300, 4, 15, cores).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "codec/base64.h"
#include "codec/g711.h"
#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define FRAME 160

typedef struct part {
	ws_client_t ws;
	char sid[32];
	bool talker;
	uint64_t sent, received;
} part_t;

static unsigned env_or(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? (unsigned)atoi(v) : def;
}

/* utime + stime of pid, in seconds. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	/* Fields after the command name (which may hold spaces). */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long metric(uint16_t port, const char *name)
{
	long v = gwt_metric(port, name);

	if (v < 0)
		fprintf(stderr, "GET /metrics: %s: %s\n", name,
			strerror((int)-v));
	return v;
}

static void drain(part_t *p)
{
	int r;

	while ((r = ws_recv(&p->ws, 0)) == MC_WS_OP_TEXT)
		p->received++;
	if (r == -ECONNRESET || r == MC_WS_OP_CLOSE) {
		fprintf(stderr, "%s: connection ended (%d %s)\n", p->sid,
			p->ws.close_code, p->ws.close_reason);
		exit(1);
	}
}

int main(void)
{
	unsigned n = env_or("CHORUS_BENCH_PARTICIPANTS", 300);
	unsigned room_size = env_or("CHORUS_BENCH_ROOM_SIZE", 4);
	unsigned seconds = env_or("CHORUS_BENCH_SECONDS", 15);
	unsigned warmup = 3;
	char workers[16], maxc[16];
	/* Every call from 127.0.0.1: no per-source limits. */
	const char *args[] = {"--workers",
			      workers,
			      "--max-connections",
			      maxc,
			      "--log-level",
			      "warn",
			      "--max-per-source",
			      "0",
			      "--handshakes-per-source",
			      "0",
			      NULL};
	struct rlimit rl;
	gwt_proc_t gw;
	part_t *parts;
	uint8_t tone[FRAME], silence[FRAME];
	int ep;
	uint64_t t0, next, measure_start = 0, end, ticks = 0;
	double cpu0 = 0, cpu1, secs;
	uint64_t sent0 = 0, recv0 = 0, sent = 0, recv = 0;

	signal(SIGPIPE, SIG_IGN);
	ts_seed("bench_gateway");
	/* One fd per call here and one in the gateway. */
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * n + 64 && rl.rlim_max >= 2 * n + 64) {
		rl.rlim_cur = 2 * n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(workers, sizeof(workers), "%u",
		 env_or("CHORUS_BENCH_WORKERS",
			(unsigned)sysconf(_SC_NPROCESSORS_ONLN)));
	snprintf(maxc, sizeof(maxc), "%u", n + 16);
	if (gwt_start(&gw, args) < 0) {
		fprintf(stderr, "cannot start the gateway\n");
		return 1;
	}
	parts = calloc(n, sizeof(*parts));
	ep = epoll_create1(0);
	gwt_tone(tone, FRAME, 440, 0.25, 0);
	memset(silence, 0xff, sizeof(silence));
	for (unsigned i = 0; i < n; i++) {
		part_t *p = &parts[i];
		char room[32];
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		snprintf(p->sid, sizeof(p->sid), "MZbench%u", i);
		snprintf(room, sizeof(room), "bench%u", i / room_size);
		p->talker = i % room_size == 0;
		if (gwt_call(&p->ws, gw.port, "/", p->sid, room, NULL) < 0) {
			fprintf(stderr, "call %u: cannot join\n", i);
			return 1;
		}
		epoll_ctl(ep, EPOLL_CTL_ADD, p->ws.fd, &ev);
	}
	printf("%u participants in rooms of %u (1 talker each), %s workers, "
	       "%u s measured after %u s warm-up\n",
	       n, room_size, workers, seconds, warmup);

	t0 = chorus_now_ns();
	next = t0;
	end = t0 + (uint64_t)(warmup + seconds) * 1000000000ull;
	for (;;) {
		uint64_t now = chorus_now_ns();
		struct epoll_event evs[256];
		int k, wait_ms;

		if (!measure_start &&
		    now >= t0 + (uint64_t)warmup * 1000000000ull) {
			measure_start = now;
			cpu0 = cpu_seconds(gw.pid);
			for (unsigned i = 0; i < n; i++) {
				sent0 += parts[i].sent;
				recv0 += parts[i].received;
			}
		}
		if (now >= end)
			break;
		if (now >= next) {
			/* One frame per call per 20 ms, absolute deadlines. */
			for (unsigned i = 0; i < n; i++) {
				part_t *p = &parts[i];

				gwt_send_media(
				    &p->ws, p->sid, (uint32_t)p->sent + 2,
				    (uint32_t)(p->sent * 20),
				    p->talker ? tone : silence, FRAME);
				p->sent++;
			}
			ticks++;
			next += 20000000ull;
			continue;
		}
		wait_ms = (int)((next - now) / 1000000);
		k = epoll_wait(ep, evs, 256, wait_ms);
		for (int e = 0; e < k; e++)
			drain(&parts[evs[e].data.u32]);
	}
	cpu1 = cpu_seconds(gw.pid);
	secs = (double)(chorus_now_ns() - measure_start) / 1e9;
	for (unsigned i = 0; i < n; i++) {
		sent += parts[i].sent;
		recv += parts[i].received;
	}
	sent -= sent0;
	recv -= recv0;

	printf("gateway CPU: %.2f s over %.1f s = %.1f%% of one core\n",
	       cpu1 - cpu0, secs, 100.0 * (cpu1 - cpu0) / secs);
	printf("CPU per participant-second: %.1f us (%.2f us per frame in + "
	       "frame out)\n",
	       1e6 * (cpu1 - cpu0) / (secs * n),
	       1e6 * (cpu1 - cpu0) / (secs * n * 50.0));
	printf("frames in the window: sent %llu, received %llu, expected "
	       "%.0f out (%.2f%% short)\n",
	       (unsigned long long)sent, (unsigned long long)recv,
	       secs * 50.0 * n,
	       100.0 * (1.0 - (double)recv / (secs * 50.0 * n)));
	for (unsigned i = 0; i < n; i++)
		ws_close(&parts[i].ws, 1000);
	usleep(500000);
	printf(
	    "gateway counters: frames_in %ld, frames_out %ld, bad %ld, "
	    "dropped_out %ld, dropped_in %ld, ticks %ld, ticks_skipped %ld\n",
	    metric(gw.port, "chorus_frames_in_total"),
	    metric(gw.port, "chorus_frames_out_total"),
	    metric(gw.port, "chorus_bad_frames_total"),
	    metric(gw.port, "chorus_dropped_out_total"),
	    metric(gw.port, "chorus_dropped_in_total"),
	    metric(gw.port, "chorus_ticks_total"),
	    metric(gw.port, "chorus_ticks_skipped_total"));
	for (unsigned i = 0; i < n; i++)
		ws_free(&parts[i].ws);
	free(parts);
	close(ep);
	return gwt_stop(&gw, SIGTERM, 5000) == 0 ? 0 : 1;
}
