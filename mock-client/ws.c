/*
 * ws.c - the mock client's WebSocket connection, see ws.h: connect and
 * upgrade, buffered non-blocking writes, reading and reassembling frames
 * (built and parsed by wsframe.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/base64.h"
#include "mock-client/rand.h"
#include "mock-client/ws.h"

/* Longest upgrade reply we wait for. */
#define MAX_HANDSHAKE 4096

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

/* --- TLS (wss://) -------------------------------------------------------- */

static SSL_CTX *tls_ctx;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

/* One context for every connection; no verification (see ws.h). */
static void tls_ctx_new(void)
{
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx)
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
}

int mc_ws_use_tls(mc_ws_t *w, const char *host)
{
	pthread_once(&tls_once, tls_ctx_new);
	if (!tls_ctx)
		return -ENOMEM;
	w->tls = true;
	snprintf(w->sni, sizeof(w->sni), "%s", host);
	return 0;
}

static void tls_free(mc_ws_t *w)
{
	if (w->ssl)
		SSL_free(w->ssl);
	w->ssl = NULL;
}

/* Maps an SSL_read/SSL_write/SSL_connect result to a count, -EAGAIN (try
 * again on the next event), 0 (orderly end) or -EIO. */
static ssize_t tls_result(mc_ws_t *w, int n)
{
	if (n > 0)
		return n;
	switch (SSL_get_error(w->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		w->tls_want_write = false;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		w->tls_want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

/* Advances the TLS handshake; on completion the upgrade request goes. */
static void tls_step(mc_ws_t *w);

/* Reads into buf: a count, 0 at the end, or a negative errno. */
static ssize_t io_read(mc_ws_t *w, void *buf, size_t n)
{
	ssize_t r;

	if (w->ssl)
		return tls_result(w, SSL_read(w->ssl, buf, (int)n));
	r = recv(w->fd, buf, n, 0);
	return r < 0 ? -errno : r;
}

static ssize_t io_write(mc_ws_t *w, const void *buf, size_t n)
{
	ssize_t r;

	if (w->ssl)
		return tls_result(w, SSL_write(w->ssl, buf, (int)n));
	r = send(w->fd, buf, n, MSG_NOSIGNAL);
	return r < 0 ? -errno : r;
}

void mc_ws_free(mc_ws_t *w)
{
	tls_free(w);
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
	tls_free(w);
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
	if (w->state == MC_WS_TLS)
		return w->tls_want_write;
	return w->state == MC_WS_CONNECTING || w->out_len;
}

/* Writes as much of the output buffer as the socket takes. */
static int flush(mc_ws_t *w)
{
	size_t done = 0;
	ssize_t n;

	if (w->state == MC_WS_CONNECTING || w->state == MC_WS_TLS)
		return 0; /* the upgrade request waits for the channel */
	while (done < w->out_len) {
		n = io_write(w, w->out + done, w->out_len - done);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n <= 0)
			return n < 0 ? (int)n : -EPIPE;
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
		if (w->tls) {
			w->ssl = SSL_new(tls_ctx);
			if (!w->ssl || !SSL_set_fd(w->ssl, w->fd)) {
				shut(w, "cannot start TLS");
				return;
			}
			SSL_set_tlsext_host_name(w->ssl, w->sni);
			SSL_set_mode(w->ssl,
				     SSL_MODE_ENABLE_PARTIAL_WRITE |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
			w->state = MC_WS_TLS;
		}
	}
	if (w->state == MC_WS_TLS) {
		tls_step(w);
		return;
	}
	if (flush(w) < 0)
		shut(w, "write failed");
}

static void tls_step(mc_ws_t *w)
{
	ssize_t r = tls_result(w, SSL_connect(w->ssl));

	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		shut(w, "TLS handshake failed");
		return;
	}
	w->state = MC_WS_HANDSHAKE;
	w->tls_want_write = false;
	if (flush(w) < 0)
		shut(w, "write failed");
}

int mc_ws_send_text(mc_ws_t *w, const char *msg, size_t len)
{
	uint64_t r = mc_rand(&w->rng);
	uint8_t mask[4];
	size_t n;

	if (w->state != MC_WS_OPEN || w->close_sent)
		return -ENOTCONN;
	memcpy(mask, &r, 4);
	n = mc_ws_encode(w->out + w->out_len, w->out_cap - w->out_len,
			 MC_WS_OP_TEXT, true, msg, len, mask);
	if (!n) {
		w->dropped++;
		return -ENOBUFS;
	}
	w->out_len += n;
	if (flush(w) < 0) {
		shut(w, "write failed");
		return -EPIPE;
	}
	return 0;
}

static void send_control(mc_ws_t *w, unsigned op, const uint8_t *p, size_t len)
{
	uint64_t r = mc_rand(&w->rng);
	uint8_t mask[4];

	memcpy(mask, &r, 4);
	w->out_len += mc_ws_encode(w->out + w->out_len, w->out_cap - w->out_len,
				   op, true, p, len, mask);
	flush(w);
}

void mc_ws_close(mc_ws_t *w, int code, const char *reason)
{
	uint8_t p[MC_WS_MAX_CONTROL];

	if (w->state == MC_WS_OPEN && !w->close_sent) {
		send_control(w, MC_WS_OP_CLOSE, p,
			     mc_ws_close_payload(p, code, reason));
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
	if (f->opcode == MC_WS_OP_TEXT || f->opcode == MC_WS_OP_BINARY) {
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
	case MC_WS_OP_PING:
		send_control(w, MC_WS_OP_PONG, p, (size_t)f->len);
		return 0;
	case MC_WS_OP_PONG:
		return 0;
	case MC_WS_OP_CLOSE:
		if (w->h->on_close_frame)
			w->h->on_close_frame(
			    w->user, mc_ws_close_code(p, (size_t)f->len),
			    f->len >= 2 ? (const char *)p + 2 : "",
			    f->len >= 2 ? (size_t)f->len - 2 : 0);
		/* Echo the close, then hang up. */
		if (!w->close_sent && f->len >= 2)
			send_control(w, MC_WS_OP_CLOSE, p, 2);
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

	if (w->state == MC_WS_TLS)
		tls_step(w);
	while (w->state == MC_WS_HANDSHAKE || w->state == MC_WS_OPEN) {
		size_t want = w->in_cap - w->in_len;

		n = io_read(w, w->in + w->in_len, want);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return;
		if (n <= 0) {
			shut(w, n == 0 ? "connection closed by server without "
					 "a close frame"
				       : strerror((int)-n));
			return;
		}
		w->in_len += (size_t)n;
		parse_input(w);
		/* A short read drained the socket: skip the recv() that would
		 * only say EAGAIN (level-triggered epoll reports any more). */
		if ((size_t)n < want && !w->ssl)
			return;
	}
}
