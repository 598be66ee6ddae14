/*
 * ws.h - the client end of a WebSocket (RFC 6455) over a non-blocking TCP
 * socket, made to carry thousands of calls on one thread cheaply.
 *
 * Why not libwebsockets here: measured on the 2-core dev machine, an lws
 * 4.1.6 client on its libuv loop cost ~20 µs of CPU per call per 20 ms tick
 * (one frame out, one in), against ~6.6 µs for a bare epoll echo server
 * doing the same socket work; at 2,000 calls the generator alone would need
 * both cores and would measure itself instead of the gateway. This layer
 * does what a platform's client needs and nothing more: ws://, or wss://
 * with OpenSSL (mc_ws_use_tls(); the server's certificate is not verified:
 * a test tool talking to a test server), no extensions, no subprotocol.
 *
 * The caller owns the socket's place in an event loop: it calls
 * mc_ws_on_writable() / mc_ws_on_readable() when epoll says so, and asks
 * mc_ws_wants_write() which events to wait for. Messages go out with
 * mc_ws_send_text(), which frames and masks into the connection's output
 * buffer and writes at once when it can. Received text messages (fragments
 * reassembled) and the server's close come back through callbacks. Pings
 * are answered. Buffers are allocated at mc_ws_init(); nothing per frame.
 *
 * Frames are built and parsed by wsframe.h, which this header includes.
 */
#ifndef CHORUS_MC_WS_H
#define CHORUS_MC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock-client/wsframe.h"

typedef enum mc_ws_state {
	MC_WS_IDLE = 0,
	MC_WS_CONNECTING, /* TCP connect in progress */
	MC_WS_TLS,	  /* TLS handshake in progress (wss://) */
	MC_WS_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
	MC_WS_OPEN,
	MC_WS_CLOSED,
} mc_ws_state_t;

typedef struct mc_ws_handler {
	void (*on_open)(void *user);
	void (*on_text)(void *user, const char *msg, size_t len);
	/* The server's close frame (code 1005 when it carried none). */
	void (*on_close_frame)(void *user, int code, const char *reason,
			       size_t len);
	/* The connection is gone (after a close, an error, or EOF); err is a
	 * message, or NULL after an orderly close. Called once. */
	void (*on_closed)(void *user, const char *err);
} mc_ws_handler_t;

typedef struct mc_ws {
	int fd;
	mc_ws_state_t state;
	const mc_ws_handler_t *h;
	void *user;
	char key[25]; /* Sec-WebSocket-Key we sent */
	uint64_t rng; /* masks; a test tool needs no CSPRNG */
	uint8_t *in;  /* raw bytes read, not yet parsed */
	size_t in_len, in_cap;
	uint8_t *msg; /* a fragmented message being reassembled */
	size_t msg_len, msg_cap;
	bool msg_on, msg_overflow;
	uint8_t *out; /* bytes to write */
	size_t out_len, out_cap;
	bool close_sent;
	uint64_t dropped;    /* messages refused: output buffer full */
	bool tls;	     /* wss:// */
	bool tls_want_write; /* the TLS handshake waits to write */
	void *ssl;	     /* SSL *, when tls */
	char sni[256];
} mc_ws_t;

/*
 * Allocates buffers: in_cap bytes for reading (and as much for reassembling
 * one message), out_cap for writing. Returns 0 or -ENOMEM.
 */
int mc_ws_init(mc_ws_t *w, size_t in_cap, size_t out_cap,
	       const mc_ws_handler_t *h, void *user, uint64_t seed);
/* Closes the socket if open and frees the buffers. No callback. */
void mc_ws_free(mc_ws_t *w);

/* Makes the next mc_ws_connect() speak TLS (wss://), naming host (SNI).
 * Returns 0, or -ENOMEM if OpenSSL could not be set up. */
int mc_ws_use_tls(mc_ws_t *w, const char *host);

/*
 * Starts connecting to addr (a struct sockaddr of addrlen bytes) and queues
 * the upgrade request for host and path. Returns the socket (for the
 * caller's epoll) or a negative errno.
 */
int mc_ws_connect(mc_ws_t *w, const void *addr, unsigned addrlen,
		  const char *host, int port, const char *path);

/* What to wait for: true if there are bytes to write (or a connect). */
bool mc_ws_wants_write(const mc_ws_t *w);

/* Event handlers. Either may end in on_closed(); afterwards w->state is
 * MC_WS_CLOSED and the socket is closed. */
void mc_ws_on_writable(mc_ws_t *w);
void mc_ws_on_readable(mc_ws_t *w);

/*
 * Frames msg as one masked text frame and writes it (or what the socket
 * takes; the rest waits for mc_ws_on_writable). Returns 0, -ENOTCONN if not
 * open, or -ENOBUFS if the output buffer is full (the message is dropped
 * and counted).
 */
int mc_ws_send_text(mc_ws_t *w, const char *msg, size_t len);

/* Sends a close frame with code and reason, writes what it can, and closes
 * the socket (on_closed(NULL) is called). */
void mc_ws_close(mc_ws_t *w, int code, const char *reason);

#endif /* CHORUS_MC_WS_H */
