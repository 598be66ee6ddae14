/*
 * chorus-echo-baseline - the floor for Media Streams traffic on this kernel.
 *
 * A bare WebSocket echo server: one thread, epoll, no lws, no JSON, no
 * mixing. It completes the RFC 6455 handshake, then sends every data frame
 * it reads straight back as one unmasked frame of the same size, opcode and
 * FIN flag; it answers ping with pong and close with close, and drops a
 * connection that sends an unmasked or malformed frame. The frames a read
 * brings in are answered with one write. Frames and the handshake reply
 * come from the shared framing module (mock-client/wsframe.h: plain
 * functions on the caller's buffers, no allocation). `make bench` runs the
 * same load through it and through the gateway, so the gateway's CPU cost
 * can be stated as a ratio to this.
 *
 * usage: chorus-echo-baseline [--port N]    (default 8090; prints "ready")
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mock-client/wsframe.h"

#define BUF_CAP	   (256 * 1024)
#define MAX_EVENTS 256

struct conn {
	int fd;
	int open;    /* handshake done */
	int closing; /* close frame sent: drop after flushing */
	size_t in_len, out_len;
	uint8_t in[BUF_CAP];
	uint8_t out[BUF_CAP];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void conn_free(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Writes what is pending; returns -1 if the connection is dead. */
static int flush_out(int ep, struct conn *c)
{
	struct epoll_event ev = {.data.ptr = c};
	ssize_t n;

	while (c->out_len) {
		n = write(c->fd, c->out, c->out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	ev.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return c->closing && !c->out_len ? -1 : 0;
}

static int queue_out(struct conn *c, const void *p, size_t n)
{
	if (c->out_len + n > BUF_CAP)
		return -1;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Handles the HTTP upgrade once the whole request is in. Returns 1 when
 * done, 0 when more bytes are needed, -1 to drop the connection. */
static int handshake(struct conn *c)
{
	char reply[MC_WS_UPGRADE_REPLY_CAP];
	uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	size_t hl;
	int n;

	if (!end)
		return c->in_len == BUF_CAP ? -1 : 0;
	hl = (size_t)(end - c->in) + 4;
	*end = '\0';
	n = mc_ws_upgrade_reply((char *)c->in, reply, sizeof(reply));
	if (n < 0 || queue_out(c, reply, (size_t)n))
		return -1;
	memmove(c->in, c->in + hl, c->in_len - hl);
	c->in_len -= hl;
	c->open = 1;
	return 1;
}

/* Echoes one whole frame whose payload p is unmasked: a ping as a pong, a
 * pong not at all. Returns -1 if the output buffer is full. */
static int echo_frame(struct conn *c, const mc_ws_frame_t *f, const uint8_t *p)
{
	unsigned op = f->opcode == MC_WS_OP_PING ? MC_WS_OP_PONG : f->opcode;
	size_t n;

	if (f->opcode == MC_WS_OP_PONG)
		return 0;
	n = mc_ws_encode(c->out + c->out_len, BUF_CAP - c->out_len, op, f->fin,
			 p, (size_t)f->len, NULL);
	if (!n)
		return -1;
	c->out_len += n;
	if (op == MC_WS_OP_CLOSE)
		c->closing = 1;
	return 0;
}

/* Echoes every complete frame in the input buffer. Returns -1 to drop. */
static int echo_frames(struct conn *c)
{
	size_t off = 0;
	mc_ws_frame_t f;
	int rc;

	while ((rc = mc_ws_parse(c->in + off, c->in_len - off, &f)) >= 0) {
		uint8_t *p = c->in + off + f.header_len;

		if (f.header_len && (!f.masked || f.len > BUF_CAP / 2))
			return -1; /* clients must mask; too big to echo */
		if (rc == 0)
			break;
		mc_ws_mask(p, (size_t)f.len, f.mask);
		if (echo_frame(c, &f, p))
			return -1;
		off += f.header_len + (size_t)f.len;
	}
	if (rc < 0)
		return -1;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int on_readable(int ep, struct conn *c)
{
	ssize_t n;

	for (;;) {
		size_t want = BUF_CAP - c->in_len;

		n = read(c->fd, c->in + c->in_len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
		if (!c->open && handshake(c) < 0)
			return -1;
		if (c->open && echo_frames(c) < 0)
			return -1;
		if (c->in_len == BUF_CAP)
			return -1;
		/* A short read drained the socket: no read() just for EAGAIN
		 * (epoll is level-triggered and reports anything newer). */
		if ((size_t)n < want)
			break;
	}
	return flush_out(ep, c);
}

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_all(int ep, int lfd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->open = c->closing = 0;
		c->in_len = c->out_len = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = {.events = EPOLLIN}, evs[MAX_EVENTS];
	int port = 8090, lfd, ep;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(port);
	ep = epoll_create1(0);
	if (lfd < 0 || ep < 0) {
		perror("chorus-echo-baseline");
		return 1;
	}
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready on port %d\n", port);
	fflush(stdout);
	while (!stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, 200);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				accept_all(ep, lfd);
				continue;
			}
			if ((evs[i].events & (EPOLLERR | EPOLLHUP)) ||
			    ((evs[i].events & EPOLLIN) && on_readable(ep, c)) ||
			    ((evs[i].events & EPOLLOUT) && flush_out(ep, c)))
				conn_free(ep, c);
		}
	}
	close(lfd);
	close(ep);
	return 0;
}
