/*
 * ws.c - see ws.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "codec/base64.h"
#include "mock-client/rand.h"
#include "mock-client/ws.h"

#define OP_CONT	      0x0
#define OP_TEXT	      0x1
#define OP_BINARY     0x2
#define OP_CLOSE      0x8
#define OP_PING	      0x9
#define OP_PONG	      0xA
#define MAX_HANDSHAKE 4096

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

size_t mc_ws_header(uint8_t *hdr, unsigned opcode, uint64_t len,
		    const uint8_t mask[4])
{
	size_t h = 0;
	uint8_t m = mask ? 0x80 : 0;

	hdr[h++] = (uint8_t)(0x80 | (opcode & 0x0F));
	if (len < 126) {
		hdr[h++] = (uint8_t)(m | len);
	} else if (len < 65536) {
		hdr[h++] = m | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = m | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)(len >> (8 * i));
	}
	if (mask) {
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	return h;
}

int mc_ws_parse(const uint8_t *buf, size_t n, mc_ws_frame_t *f)
{
	size_t h = 2;
	uint64_t len;

	f->header_len = 0;
	f->len = 0;
	if (n < 2)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0F;
	if (buf[0] & 0x70)
		return -EPROTO; /* no extension negotiated */
	if ((f->opcode > OP_BINARY && f->opcode < OP_CLOSE) ||
	    f->opcode > OP_PONG)
		return -EPROTO;
	f->masked = buf[1] & 0x80;
	len = buf[1] & 0x7F;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		h = 10;
		if (len >> 63)
			return -EPROTO;
	}
	if (f->opcode >= OP_CLOSE && (len > 125 || !f->fin))
		return -EPROTO;
	if (f->masked) {
		if (n < h + 4)
			return 0;
		memcpy(f->mask, buf + h, 4);
		h += 4;
	}
	f->header_len = h;
	f->len = len;
	return n - h >= len ? 1 : 0;
}

void mc_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4])
{
	uint32_t m32;
	size_t i = 0;

	memcpy(&m32, mask, 4);
	for (; i + 4 <= len; i += 4) {
		uint32_t v;

		memcpy(&v, p + i, 4);
		v ^= m32;
		memcpy(p + i, &v, 4);
	}
	for (; i < len; i++)
		p[i] ^= mask[i & 3];
}

int mc_ws_accept_for(const char *key, char out[29])
{
	unsigned char sha[SHA_DIGEST_LENGTH];
	char buf[128];
	size_t kl = strlen(key);

	if (kl + sizeof(guid) > sizeof(buf))
		return -EINVAL;
	memcpy(buf, key, kl);
	memcpy(buf + kl, guid, sizeof(guid));
	SHA1((unsigned char *)buf, kl + sizeof(guid) - 1, sha);
	return b64_encode(out, 29, sha, sizeof(sha)) == 28 ? 0 : -EINVAL;
}

int mc_ws_init(mc_ws_t *w, size_t in_cap, size_t out_cap,
	       const mc_ws_handler_t *h, void *user, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->h = h;
	w->user = user;
	w->rng = seed ? seed : 0x853C49E6748FEA9Bull;
	w->in_cap = in_cap;
	w->msg_cap = in_cap;
	w->out_cap = out_cap;
	w->in = malloc(in_cap);
	w->msg = malloc(in_cap);
	w->out = malloc(out_cap);
	if (!w->in || !w->msg || !w->out) {
		mc_ws_free(w);
		return -ENOMEM;
	}
	return 0;
}

void mc_ws_free(mc_ws_t *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->in);
	free(w->msg);
	free(w->out);
	w->in = w->msg = w->out = NULL;
}

static void shut(mc_ws_t *w, const char *err)
{
	if (w->state == MC_WS_CLOSED)
		return;
	w->state = MC_WS_CLOSED;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->h->on_closed)
		w->h->on_closed(w->user, err);
}

static int queue(mc_ws_t *w, const void *p, size_t n)
{
	if (w->out_len + n > w->out_cap)
		return -ENOBUFS;
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
	return 0;
}

int mc_ws_connect(mc_ws_t *w, const void *addr, unsigned addrlen,
		  const char *host, int port, const char *path)
{
	uint8_t raw[16];
	char req[1024];
	int one = 1, n;

	w->fd = socket(((const struct sockaddr *)addr)->sa_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return -errno;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(w->fd, addr, addrlen) < 0 && errno != EINPROGRESS) {
		n = -errno;
		close(w->fd);
		w->fd = -1;
		return n;
	}
	for (int i = 0; i < 16; i += 8) {
		uint64_t r = mc_rand(&w->rng);

		memcpy(raw + i, &r, 8);
	}
	b64_encode(w->key, sizeof(w->key), raw, sizeof(raw));
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		     "User-Agent: chorus-client\r\n\r\n",
		     path, host, port, w->key);
	if (n < 0 || (size_t)n >= sizeof(req) || queue(w, req, (size_t)n)) {
		close(w->fd);
		w->fd = -1;
		return -EINVAL;
	}
	w->state = MC_WS_CONNECTING;
	return w->fd;
}

bool mc_ws_wants_write(const mc_ws_t *w)
{
	return w->state == MC_WS_CONNECTING || w->out_len;
}

/* Writes as much of the output buffer as the socket takes. */
static int flush(mc_ws_t *w)
{
	size_t done = 0;
	ssize_t n;

	while (done < w->out_len) {
		n = send(w->fd, w->out + done, w->out_len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	memmove(w->out, w->out + done, w->out_len - done);
	w->out_len -= done;
	return 0;
}

void mc_ws_on_writable(mc_ws_t *w)
{
	if (w->state == MC_WS_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			shut(w, strerror(err));
			return;
		}
		w->state = MC_WS_HANDSHAKE;
	}
	if (flush(w) < 0)
		shut(w, "write failed");
}

int mc_ws_send_text(mc_ws_t *w, const char *msg, size_t len)
{
	uint8_t hdr[MC_WS_MAX_HEADER], mask[4];
	uint64_t r = mc_rand(&w->rng);
	size_t h;

	if (w->state != MC_WS_OPEN || w->close_sent)
		return -ENOTCONN;
	memcpy(mask, &r, 4);
	h = mc_ws_header(hdr, OP_TEXT, len, mask);
	if (w->out_len + h + len > w->out_cap) {
		w->dropped++;
		return -ENOBUFS;
	}
	memcpy(w->out + w->out_len, hdr, h);
	memcpy(w->out + w->out_len + h, msg, len);
	mc_ws_mask(w->out + w->out_len + h, len, mask);
	w->out_len += h + len;
	if (flush(w) < 0) {
		shut(w, "write failed");
		return -EPIPE;
	}
	return 0;
}

static void send_control(mc_ws_t *w, unsigned op, const uint8_t *p, size_t len)
{
	uint8_t frame[MC_WS_MAX_HEADER + 125], mask[4];
	uint64_t r = mc_rand(&w->rng);
	size_t h;

	memcpy(mask, &r, 4);
	h = mc_ws_header(frame, op, len, mask);
	memcpy(frame + h, p, len);
	mc_ws_mask(frame + h, len, mask);
	queue(w, frame, h + len);
	flush(w);
}

void mc_ws_close(mc_ws_t *w, int code, const char *reason)
{
	uint8_t p[125];
	size_t rl = reason ? strlen(reason) : 0;

	if (w->state == MC_WS_OPEN && !w->close_sent) {
		if (rl > 123)
			rl = 123;
		p[0] = (uint8_t)(code >> 8);
		p[1] = (uint8_t)code;
		memcpy(p + 2, reason, rl);
		send_control(w, OP_CLOSE, p, rl + 2);
		w->close_sent = true;
	}
	shut(w, NULL);
}

/* Reads the HTTP response to the upgrade. Returns bytes consumed, 0 if
 * incomplete, -1 if refused (the connection is then closed). */
static long handshake_reply(mc_ws_t *w)
{
	char accept[29], err[160], *hdrs, *a, *end;
	uint8_t *e = memmem(w->in, w->in_len, "\r\n\r\n", 4);
	size_t len;

	if (!e) {
		if (w->in_len >= MAX_HANDSHAKE || w->in_len == w->in_cap) {
			shut(w, "handshake reply too long");
			return -1;
		}
		return 0;
	}
	len = (size_t)(e - w->in) + 4;
	*e = '\0';
	hdrs = (char *)w->in;
	if (strncmp(hdrs, "HTTP/1.1 101", 12)) {
		snprintf(err, sizeof(err), "handshake refused: %.*s",
			 (int)strcspn(hdrs, "\r\n"), hdrs);
		shut(w, err);
		return -1;
	}
	a = strcasestr(hdrs, "\r\nSec-WebSocket-Accept:");
	if (a) {
		a += 23;
		a += strspn(a, " \t");
		end = a + strcspn(a, " \t\r\n");
		*end = '\0';
	}
	if (!a || mc_ws_accept_for(w->key, accept) || strcmp(a, accept)) {
		shut(w, "handshake: bad Sec-WebSocket-Accept");
		return -1;
	}
	w->state = MC_WS_OPEN;
	if (w->h->on_open)
		w->h->on_open(w->user);
	return (long)len;
}

static void on_data(mc_ws_t *w, const mc_ws_frame_t *f, uint8_t *p)
{
	if (f->opcode == OP_TEXT || f->opcode == OP_BINARY) {
		if (f->fin) {
			if (w->h->on_text)
				w->h->on_text(w->user, (const char *)p,
					      (size_t)f->len);
			return;
		}
		w->msg_on = true;
		w->msg_len = 0;
		w->msg_overflow = false;
	} else if (!w->msg_on) {
		return; /* a continuation of nothing */
	}
	if (w->msg_len + f->len > w->msg_cap)
		w->msg_overflow = true;
	else
		memcpy(w->msg + w->msg_len, p, (size_t)f->len);
	w->msg_len += (size_t)f->len;
	if (f->fin) {
		w->msg_on = false;
		if (!w->msg_overflow && w->h->on_text)
			w->h->on_text(w->user, (const char *)w->msg,
				      w->msg_len);
	}
}

/* Handles one complete frame; returns -1 once the connection is closed. */
static int on_frame(mc_ws_t *w, const mc_ws_frame_t *f, uint8_t *p)
{
	if (f->masked)
		mc_ws_mask(p, (size_t)f->len, f->mask);
	switch (f->opcode) {
	case OP_PING:
		send_control(w, OP_PONG, p, (size_t)f->len);
		return 0;
	case OP_PONG:
		return 0;
	case OP_CLOSE:
		if (w->h->on_close_frame) {
			if (f->len >= 2)
				w->h->on_close_frame(w->user, p[0] << 8 | p[1],
						     (const char *)p + 2,
						     (size_t)f->len - 2);
			else
				w->h->on_close_frame(w->user, 1005, "", 0);
		}
		/* Echo the close, then hang up. */
		if (!w->close_sent && f->len >= 2)
			send_control(w, OP_CLOSE, p, 2);
		w->close_sent = true;
		shut(w, NULL);
		return -1;
	default:
		on_data(w, f, p);
		return w->state == MC_WS_CLOSED ? -1 : 0;
	}
}

/* Parses every complete frame in the input buffer. */
static void parse_input(mc_ws_t *w)
{
	size_t off = 0;
	mc_ws_frame_t f;
	long hs;
	int rc;

	if (w->state == MC_WS_HANDSHAKE) {
		hs = handshake_reply(w);
		if (hs <= 0)
			return;
		off = (size_t)hs;
	}
	while (w->state == MC_WS_OPEN && off < w->in_len) {
		rc = mc_ws_parse(w->in + off, w->in_len - off, &f);
		if (rc < 0 || (rc == 0 && f.header_len &&
			       f.header_len + f.len > w->in_cap)) {
			shut(w, rc < 0 ? "bad frame from server"
				       : "frame too large");
			return;
		}
		if (rc == 0)
			break;
		if (on_frame(w, &f, w->in + off + f.header_len) < 0)
			return;
		off += f.header_len + (size_t)f.len;
	}
	memmove(w->in, w->in + off, w->in_len - off);
	w->in_len -= off;
}

void mc_ws_on_readable(mc_ws_t *w)
{
	ssize_t n;

	while (w->state == MC_WS_HANDSHAKE || w->state == MC_WS_OPEN) {
		size_t want = w->in_cap - w->in_len;

		n = recv(w->fd, w->in + w->in_len, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			shut(w, n == 0 ? "connection closed by server without "
					 "a close frame"
				       : strerror(errno));
			return;
		}
		w->in_len += (size_t)n;
		parse_input(w);
		/* A short read drained the socket: skip the recv() that would
		 * only say EAGAIN (level-triggered epoll reports any more). */
		if ((size_t)n < want)
			return;
	}
}
