#include "gwtest.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec/base64.h"
#include "codec/g711.h"
#include "tsupport.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int gwt_start(gwt_proc_t *g, const char *const *args)
{
	const char *bin = getenv("CHORUS_GATEWAY");
	char port[16];
	const char *argv[64];
	bool tls = false;
	int n = 0, fd;

	memset(g, 0, sizeof(*g));
	if (!bin)
		bin = "build/chorus-gateway";
	g->port = ws_free_port();
	if (!g->port)
		return -EADDRNOTAVAIL;
	snprintf(port, sizeof(port), "%u", g->port);
	snprintf(g->log, sizeof(g->log), "/tmp/chorus-gw-test-XXXXXX");
	fd = mkstemp(g->log);
	if (fd < 0)
		return -errno;
	argv[n++] = bin;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	g->pid = fork();
	if (g->pid < 0) {
		close(fd);
		return -errno;
	}
	if (g->pid == 0) {
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(fd);
	for (int i = 0; args && args[i]; i++)
		tls = tls || !strcmp(args[i], "--tls-cert");
	/* Up to 10 s for it to answer: the machine may be busy. Plain HTTP
	 * cannot ask a TLS server: its start-up line says it is ready. */
	for (int i = 0; i < 500; i++) {
		if (tls ? gwt_log_count(g, "listening on") > 0
			: ws_http_get(g->port, "/healthz", NULL, 0, 1000) ==
			      200)
			return 0;
		if (!gwt_alive(g))
			break;
		sleep_ms(20);
	}
	gwt_stop(g, SIGKILL, 1000);
	return -ECONNREFUSED;
}

bool gwt_alive(gwt_proc_t *g)
{
	return g->pid > 0 && waitpid(g->pid, NULL, WNOHANG) == 0;
}

int gwt_stop(gwt_proc_t *g, int sig, int timeout_ms)
{
	int status = 0, ret = -ETIMEDOUT;

	if (g->pid <= 0)
		return -ESRCH;
	kill(g->pid, sig);
	for (int i = 0; i < timeout_ms / 5; i++) {
		pid_t r = waitpid(g->pid, &status, WNOHANG);

		if (r == g->pid) {
			ret = WIFEXITED(status) ? WEXITSTATUS(status)
						: 128 + WTERMSIG(status);
			break;
		}
		sleep_ms(5);
	}
	if (ret == -ETIMEDOUT) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, &status, 0);
	}
	if (getenv("CHORUS_KEEP_LOGS"))
		fprintf(stderr, "gateway log kept: %s\n", g->log);
	else
		unlink(g->log);
	g->pid = 0;
	return ret;
}

int gwt_log_count2(gwt_proc_t *g, const char *a, const char *b)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(g->log, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, a) && strstr(line, b))
			n++;
	}
	fclose(f);
	return n;
}

int gwt_log_count(gwt_proc_t *g, const char *needle)
{
	return gwt_log_count2(g, needle, ""); /* "" is in every line */
}

long gwt_log_value(gwt_proc_t *g, const char *needle, const char *key)
{
	char line[2048];
	long v = -1;
	FILE *f = fopen(g->log, "r");

	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f)) {
		char *k;

		if (strstr(line, needle) && (k = strstr(line, key)))
			v = strtol(k + strlen(key), NULL, 10);
	}
	fclose(f);
	return v;
}

long gwt_metric(uint16_t port, const char *name)
{
	static char body[65536];
	size_t len = strlen(name);
	int st = ws_http_get(port, "/metrics", body, sizeof(body), 5000);
	bool found = false;
	long sum = 0;

	if (st < 0)
		return st;
	if (st != 200)
		return -EPROTO;
	/* A whole line "name value" (never a longer name that starts so),
	 * or, for a name without labels, every "name{...} value" summed. */
	for (const char *line = body; line && *line;) {
		if (!strncmp(line, name, len) && line[len] == ' ')
			return strtol(line + len + 1, NULL, 10);
		if (!strncmp(line, name, len) && line[len] == '{' &&
		    !strchr(name, '{')) {
			const char *v = strchr(line, '}');

			if (v && v[1] == ' ') {
				sum += strtol(v + 2, NULL, 10);
				found = true;
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return found ? sum : -ENOENT;
}

int gwt_start_call(ws_client_t *c, const char *stream_sid, const char *params)
{
	int r = ws_send_text(c, "{\"event\":\"connected\",\"protocol\":"
				"\"Call\",\"version\":\"1.0.0\"}");

	if (r < 0)
		return r;
	return ws_sendf(
	    c,
	    "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{"
	    "\"accountSid\":\"ACtest\",\"streamSid\":\"%s\",\"callSid\":"
	    "\"CA%s\",\"tracks\":[\"inbound\"],\"customParameters\":{%s},"
	    "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
	    "\"sampleRate\":8000,\"channels\":1}},\"streamSid\":\"%s\"}",
	    stream_sid, stream_sid, params, stream_sid);
}

int gwt_call(ws_client_t *c, uint16_t port, const char *path,
	     const char *stream_sid, const char *room, const char *password)
{
	char params[512];
	int r;

	r = ws_connect(c, port, path, 5000);
	if (r < 0)
		return r;
	snprintf(params, sizeof(params), "%s%s%s%s%s%s%s",
		 room ? "\"room\":\"" : "", room ? room : "", room ? "\"" : "",
		 room && password ? "," : "", password ? "\"password\":\"" : "",
		 password ? password : "", password ? "\"" : "");
	return gwt_start_call(c, stream_sid, params);
}

int gwt_send_media(ws_client_t *c, const char *stream_sid, uint32_t seq,
		   uint32_t ts_ms, const uint8_t *ulaw, size_t n)
{
	char b64[4096];

	if (b64_encode(b64, sizeof(b64), ulaw, n) < 0)
		return -ENOSPC;
	return ws_sendf(c,
			"{\"event\":\"media\",\"sequenceNumber\":\"%u\","
			"\"media\":{\"track\":\"inbound\",\"chunk\":\"%u\","
			"\"timestamp\":\"%u\",\"payload\":\"%s\"},"
			"\"streamSid\":\"%s\"}",
			seq, seq, ts_ms, b64, stream_sid);
}

int gwt_recv_media(ws_client_t *c, const char *stream_sid, int16_t *pcm,
		   size_t cap, int timeout_ms)
{
	char prefix[256];
	uint8_t ulaw[4096];
	size_t pl, bl;
	long n;
	int r;

	r = ws_recv(c, timeout_ms);
	if (r < 0)
		return r;
	if (r != MC_WS_OP_TEXT)
		return -EBADMSG;
	pl = (size_t)snprintf(prefix, sizeof(prefix),
			      "{\"event\":\"media\",\"streamSid\":\"%s\","
			      "\"media\":{\"payload\":\"",
			      stream_sid);
	if (c->msg_len < pl + 4 || memcmp(c->msg, prefix, pl) ||
	    strcmp(c->msg + c->msg_len - 3, "\"}}"))
		return -EBADMSG;
	bl = c->msg_len - pl - 3;
	n = b64_decode(ulaw, sizeof(ulaw), c->msg + pl, bl);
	if (n < 0 || (size_t)n > cap)
		return -EBADMSG;
	for (long i = 0; i < n; i++)
		pcm[i] = g711_ulaw_decode(ulaw[i]);
	return (int)n;
}

void gwt_tone(uint8_t *ulaw, size_t n, double freq, double amp, uint64_t start)
{
	for (size_t i = 0; i < n; i++) {
		double t = (double)(start + i) / 8000.0;

		ulaw[i] = g711_ulaw_encode(
		    (int16_t)lrint(amp * 32767.0 * sin(2 * M_PI * freq * t)));
	}
}

double gwt_goertzel(const int16_t *pcm, size_t n, double freq)
{
	double w = 2 * M_PI * freq / 8000.0, coeff = 2 * cos(w);
	double s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = pcm[i] / 32768.0 + coeff * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	/* |X(f)|^2 / n^2: a sine of amplitude A gives ~A^2/4. */
	return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / ((double)n * n);
}

double gwt_power(const int16_t *pcm, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (pcm[i] / 32768.0) * (pcm[i] / 32768.0);
	return n ? s / (double)n : 0;
}
