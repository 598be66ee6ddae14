/*
 * wsclient.h - a small blocking WebSocket client over a raw socket, for the
 * gateway's end-to-end tests and benchmark: handshake, masked frames of any
 * kind (text, binary, fragments, oversize, broken), reading frames and the
 * close code and reason, and an abrupt reset. Every read has a timeout, so
 * no test can hang on a silent server.
 *
 * Deliberately not a general client: no TLS, no extensions, loopback only.
 */
#ifndef CHORUS_TS_WSCLIENT_H
#define CHORUS_TS_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames are built and parsed by the shared framing module; its opcodes
 * (MC_WS_OP_*) are what ws_recv() returns and ws_send_frame() takes. */
#include "mock-client/wsframe.h"

typedef struct ws_client {
	int fd;
	int http_status; /* of the handshake response */
	uint8_t *rbuf;	 /* bytes read, not yet parsed */
	size_t rlen, rcap;
	char *msg; /* last message received, NUL-terminated */
	size_t msg_len;
	int close_code; /* from the server's close frame; 1005 if none */
	char close_reason[128];
	bool closed;
	char response[1024]; /* the handshake's response headers */
} ws_client_t;

/* When > 0, ws_connect() sets this SO_RCVBUF before connecting (a slow
 * reader's small window). */
extern int ws_client_rcvbuf;

/*
 * Connects to 127.0.0.1:port and upgrades at path. Returns 0, -EPROTO when
 * the server answered without 101 (http_status says what), or a negative
 * errno (-ETIMEDOUT after timeout_ms).
 */
int ws_connect(ws_client_t *c, uint16_t port, const char *path, int timeout_ms);
/* The same, with more request headers: lines each ending in "\r\n". */
int ws_connect_hdr(ws_client_t *c, uint16_t port, const char *path,
		   const char *headers, int timeout_ms);

/* Sends one frame, masked as a client must. fin false starts/continues a
 * fragmented message. Returns 0 or a negative errno. */
int ws_send_frame(ws_client_t *c, unsigned opcode, bool fin, const void *data,
		  size_t len);
int ws_send_text(ws_client_t *c, const char *text);
int ws_sendf(ws_client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reads one whole message (answering pings). Returns its opcode (text and
 * binary messages are in c->msg; for a close frame, c->close_code and
 * c->close_reason are set and c->closed), -ETIMEDOUT, -ECONNRESET when
 * the connection ended without a close frame, or -EPROTO for a frame
 * mc_ws_parse() refuses. With timeout_ms 0 it never waits: -EAGAIN when no
 * whole message is available yet (event loops).
 */
int ws_recv(ws_client_t *c, int timeout_ms);

/* Reads until the server's close frame. Returns the close code, or a
 * negative errno as ws_recv(). */
int ws_wait_close(ws_client_t *c, int timeout_ms);

/* Sends a close frame with code (and no reason), then closes the socket. */
void ws_close(ws_client_t *c, int code);
/* Sends a close frame with code but keeps the socket to read the rest. */
void ws_close_keep(ws_client_t *c, int code);
/* Closes with SO_LINGER 0: the server sees a TCP reset. */
void ws_abort(ws_client_t *c);
/* Frees buffers and closes the socket if still open. */
void ws_free(ws_client_t *c);

/* A free TCP port on 127.0.0.1 (bound, read, closed). 0 on failure. */
uint16_t ws_free_port(void);

/* One plain HTTP GET; returns the status code or a negative errno; the body
 * (NUL-terminated, truncated to cap) goes to body if not NULL. */
int ws_http_get(uint16_t port, const char *path, char *body, size_t cap,
		int timeout_ms);
/* The same with extra request header lines (each ending in \r\n). */
int ws_http_get_hdr(uint16_t port, const char *path, const char *headers,
		    char *body, size_t cap, int timeout_ms);

/*
 * One plain HTTP request: method, path, extra header lines (each ending in
 * "\r\n"; NULL for none) and a body (NULL for none; Content-Length is
 * added). Returns the status code or a negative errno; the response body
 * goes to body as ws_http_get() does.
 */
int ws_http_request(uint16_t port, const char *method, const char *path,
		    const char *headers, const char *req_body, char *body,
		    size_t cap, int timeout_ms);

#endif /* CHORUS_TS_WSCLIENT_H */
