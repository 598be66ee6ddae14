/*
 * wsclient.c - the tests' blocking WebSocket client, see wsclient.h: raw
 * sockets, poll() with deadlines, and frames from mock-client/wsframe.h.
 */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "tsupport.h"

int ws_client_rcvbuf;

static int tcp_connect(uint16_t port, int timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	struct pollfd pfd;
	int fd, one = 1, err = 0;
	socklen_t el = sizeof(err);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ws_client_rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ws_client_rcvbuf,
			   sizeof(ws_client_rcvbuf));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	pfd = (struct pollfd){fd, POLLOUT, 0};
	if (poll(&pfd, 1, timeout_ms) != 1) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

/* Writes everything (the socket is non-blocking; waits up to 5 s). */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pfd = {fd, POLLOUT, 0};

			if (poll(&pfd, 1, 5000) != 1)
				return -ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more bytes into rbuf before the deadline. 0, -ETIMEDOUT or
 * -ECONNRESET. */
static int fill(ws_client_t *c, uint64_t deadline)
{
	for (;;) {
		uint64_t now = chorus_now_ns();
		struct pollfd pfd = {c->fd, POLLIN, 0};
		ssize_t n;

		if (now >= deadline && deadline)
			return -ETIMEDOUT;
		if (c->rcap - c->rlen < 65536) {
			size_t cap = c->rcap ? c->rcap * 2 : 131072;
			uint8_t *p = realloc(c->rbuf, cap);

			if (!p)
				return -ENOMEM;
			c->rbuf = p;
			c->rcap = cap;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -ECONNRESET;
		if (!deadline)
			return -EAGAIN; /* ws_recv(c, 0): never wait */
		if (poll(&pfd, 1,
			 (int)((deadline - now) / CHORUS_NS_PER_MS + 1)) < 0 &&
		    errno != EINTR)
			return -errno;
	}
}

int ws_connect(ws_client_t *c, uint16_t port, const char *path, int timeout_ms)
{
	return ws_connect_hdr(c, port, path, NULL, timeout_ms);
}

int ws_connect_hdr(ws_client_t *c, uint16_t port, const char *path,
		   const char *headers, int timeout_ms)
{
	uint64_t deadline =
	    chorus_now_ns() + (uint64_t)timeout_ms * CHORUS_NS_PER_MS;
	char req[2048];
	char *end;
	int n, r;

	memset(c, 0, sizeof(*c));
	c->close_code = MC_WS_CLOSE_NO_STATUS;
	c->fd = tcp_connect(port, timeout_ms);
	if (c->fd < 0)
		return c->fd;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		     "Sec-WebSocket-Version: 13\r\n%s\r\n",
		     path, port, headers ? headers : "");
	r = write_all(c->fd, req, (size_t)n);
	while (!r) {
		if (c->rlen >= 4 &&
		    (end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4))) {
			size_t hl = (size_t)(end - (char *)c->rbuf) + 4;
			size_t kl = hl < sizeof(c->response)
					? hl
					: sizeof(c->response) - 1;

			memcpy(c->response, c->rbuf, kl);
			c->response[kl] = '\0';
			if (sscanf((char *)c->rbuf, "HTTP/1.%*d %d",
				   &c->http_status) != 1)
				c->http_status = 0;
			memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
			c->rlen -= hl;
			return c->http_status == 101 ? 0 : -EPROTO;
		}
		r = fill(c, deadline);
	}
	close(c->fd);
	c->fd = -1;
	return r == -ECONNRESET ? -EPROTO : r;
}

int ws_send_frame(ws_client_t *c, unsigned opcode, bool fin, const void *data,
		  size_t len)
{
	size_t cap = MC_WS_MAX_HEADER + len, n;
	uint32_t key = (uint32_t)ts_rand();
	uint8_t mask[4], *frame = malloc(cap);
	int r;

	if (!frame)
		return -ENOMEM;
	memcpy(mask, &key, 4);
	n = mc_ws_encode(frame, cap, opcode, fin, data, len, mask);
	r = write_all(c->fd, frame, n);
	free(frame);
	return r;
}

int ws_send_text(ws_client_t *c, const char *text)
{
	return ws_send_frame(c, MC_WS_OP_TEXT, true, text, strlen(text));
}

int ws_sendf(ws_client_t *c, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf))
		return -ENOSPC;
	return ws_send_frame(c, MC_WS_OP_TEXT, true, buf, (size_t)n);
}

/* Parses the frame at the start of rbuf into f, reading more until it is
 * whole. 0, -EPROTO for a malformed frame, or fill()'s error. A masked
 * frame (servers must not mask) is unmasked in place. */
static int next_frame(ws_client_t *c, mc_ws_frame_t *f, uint64_t deadline)
{
	int r;

	while ((r = mc_ws_parse(c->rbuf, c->rlen, f)) == 0) {
		r = fill(c, deadline);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (f->masked)
		mc_ws_mask(c->rbuf + f->header_len, (size_t)f->len, f->mask);
	return 0;
}

static int append_msg(ws_client_t *c, const uint8_t *p, size_t n)
{
	char *m = realloc(c->msg, c->msg_len + n + 1);

	if (!m)
		return -ENOMEM;
	c->msg = m;
	memcpy(c->msg + c->msg_len, p, n);
	c->msg_len += n;
	c->msg[c->msg_len] = '\0';
	return 0;
}

int ws_recv(ws_client_t *c, int timeout_ms)
{
	uint64_t deadline =
	    timeout_ms
		? chorus_now_ns() + (uint64_t)timeout_ms * CHORUS_NS_PER_MS
		: 0;
	int msg_op = -1;

	c->msg_len = 0;
	if (c->fd < 0)
		return -ECONNRESET;
	for (;;) {
		mc_ws_frame_t f;
		uint8_t *p;
		size_t len, total;
		int r = next_frame(c, &f, deadline);

		if (r < 0)
			return r;
		p = c->rbuf + f.header_len;
		len = (size_t)f.len;
		total = f.header_len + len;
		if (f.opcode == MC_WS_OP_CLOSE) {
			size_t rl = len >= 2 ? len - 2 : 0;

			c->closed = true;
			c->close_code = mc_ws_close_code(p, len);
			if (rl >= sizeof(c->close_reason))
				rl = sizeof(c->close_reason) - 1;
			memcpy(c->close_reason, p + 2, rl);
			c->close_reason[rl] = '\0';
		} else if (f.opcode == MC_WS_OP_PING) {
			ws_send_frame(c, MC_WS_OP_PONG, true, p, len);
		} else if (f.opcode != MC_WS_OP_PONG) {
			if (f.opcode != MC_WS_OP_CONT)
				msg_op = (int)f.opcode;
			append_msg(c, p, len);
		}
		memmove(c->rbuf, c->rbuf + total, c->rlen - total);
		c->rlen -= total;
		if (f.opcode == MC_WS_OP_CLOSE)
			return MC_WS_OP_CLOSE;
		if (f.fin && msg_op >= 0 && f.opcode != MC_WS_OP_PING &&
		    f.opcode != MC_WS_OP_PONG)
			return msg_op;
	}
}

int ws_wait_close(ws_client_t *c, int timeout_ms)
{
	uint64_t deadline =
	    chorus_now_ns() + (uint64_t)timeout_ms * CHORUS_NS_PER_MS;

	for (;;) {
		uint64_t now = chorus_now_ns();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = ws_recv(c, (int)((deadline - now) / CHORUS_NS_PER_MS + 1));
		if (r == MC_WS_OP_CLOSE)
			return c->close_code;
		if (r < 0)
			return r;
	}
}

void ws_close(ws_client_t *c, int code)
{
	ws_close_keep(c, code);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void ws_close_keep(ws_client_t *c, int code)
{
	uint8_t p[MC_WS_MAX_CONTROL];

	if (c->fd >= 0)
		ws_send_frame(c, MC_WS_OP_CLOSE, true, p,
			      mc_ws_close_payload(p, code, NULL));
}

void ws_abort(ws_client_t *c)
{
	struct linger l = {1, 0};

	if (c->fd < 0)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd);
	c->fd = -1;
}

void ws_free(ws_client_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->msg);
	c->rbuf = NULL;
	c->msg = NULL;
	c->rlen = c->rcap = c->msg_len = 0;
}

uint16_t ws_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	uint16_t port = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int ws_http_request(uint16_t port, const char *method, const char *path,
		    const char *headers, const char *req_body, char *body,
		    size_t cap, int timeout_ms)
{
	uint64_t deadline =
	    chorus_now_ns() + (uint64_t)timeout_ms * CHORUS_NS_PER_MS;
	ws_client_t c = {0};
	size_t blen = req_body ? strlen(req_body) : 0;
	char *req;
	int n, r, status = 0;
	char *end;

	req = malloc(1024 + (headers ? strlen(headers) : 0) + blen);
	if (!req)
		return -ENOMEM;
	c.fd = tcp_connect(port, timeout_ms);
	if (c.fd < 0) {
		free(req);
		return c.fd;
	}
	n = sprintf(req,
		    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Connection: close\r\n%s",
		    method, path, headers ? headers : "");
	if (req_body)
		n += sprintf(req + n, "Content-Length: %zu\r\n", blen);
	n += sprintf(req + n, "\r\n");
	if (req_body) {
		memcpy(req + n, req_body, blen);
		n += (int)blen;
	}
	r = write_all(c.fd, req, (size_t)n);
	free(req);
	/* Read to EOF (Connection: close) or deadline. */
	while (!r)
		r = fill(&c, deadline);
	if (c.rlen && sscanf((char *)c.rbuf, "HTTP/1.1 %d", &status) == 1) {
		if (body && cap) {
			size_t bl = 0;

			end = memmem(c.rbuf, c.rlen, "\r\n\r\n", 4);
			if (end) {
				size_t hl = (size_t)(end - (char *)c.rbuf) + 4;

				bl = c.rlen - hl;
				if (bl >= cap)
					bl = cap - 1;
				memcpy(body, c.rbuf + hl, bl);
			}
			body[bl] = '\0';
		}
	}
	ws_free(&c);
	return status ? status : (r < 0 ? r : -EPROTO);
}

int ws_http_get_hdr(uint16_t port, const char *path, const char *headers,
		    char *body, size_t cap, int timeout_ms)
{
	return ws_http_request(port, "GET", path, headers, NULL, body, cap,
			       timeout_ms);
}

int ws_http_get(uint16_t port, const char *path, char *body, size_t cap,
		int timeout_ms)
{
	return ws_http_request(port, "GET", path, NULL, NULL, body, cap,
			       timeout_ms);
}
