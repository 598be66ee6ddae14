/*
 * wsframe.h - WebSocket (RFC 6455) framing: the one codec every Chorus
 * program outside the gateway uses to speak WebSocket over a raw socket.
 * The mock client's connection (ws.h), the tests' blocking client
 * (tests/support/wsclient.h), the bare epoll echo baseline and the tests'
 * scripted servers all build and read frames here, so a framing rule is
 * written, and tested (tests/test_client_ws.c), once.
 *
 * It covers both ends: frame headers with any opcode, FIN flag and length,
 * masked (client to server) or not; parsing a header from a byte buffer,
 * fragments and continuations included; masking; the handshake's
 * Sec-WebSocket-Accept key and a server's 101 reply; close payloads.
 *
 * What it deliberately does not do: I/O, allocation, reassembly of
 * fragmented messages, or any policy (which frames a peer may send, what
 * to do about a bad one). Every function is pure and thread-safe; buffers
 * belong to the caller before and after each call. No extension is ever
 * negotiated, so the RSV bits are always 0.
 */
#ifndef CHORUS_MC_WSFRAME_H
#define CHORUS_MC_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes (RFC 6455 5.2). Values from 0x8 up are control frames. */
#define MC_WS_OP_CONT	0x0
#define MC_WS_OP_TEXT	0x1
#define MC_WS_OP_BINARY 0x2
#define MC_WS_OP_CLOSE	0x8
#define MC_WS_OP_PING	0x9
#define MC_WS_OP_PONG	0xA

/* Close codes (RFC 6455 7.4.1) this code base names. */
#define MC_WS_CLOSE_NORMAL	 1000
#define MC_WS_CLOSE_GOING_AWAY	 1001
#define MC_WS_CLOSE_PROTOCOL	 1002
#define MC_WS_CLOSE_UNSUPPORTED	 1003
#define MC_WS_CLOSE_INVALID_DATA 1007
#define MC_WS_CLOSE_POLICY	 1008
#define MC_WS_CLOSE_TOO_BIG	 1009
#define MC_WS_CLOSE_SERVER_ERROR 1011
/* Never sent: what a receiver reports for a close frame without a code. */
#define MC_WS_CLOSE_NO_STATUS 1005

/* Largest frame header: 2 bytes, 8 of extended length, 4 of mask key. */
#define MC_WS_MAX_HEADER 14
/* Largest control frame payload (RFC 6455 5.5). */
#define MC_WS_MAX_CONTROL 125
/* Room for mc_ws_upgrade_reply()'s reply: 129 bytes and the NUL. */
#define MC_WS_UPGRADE_REPLY_CAP 160

/*
 * Writes the header of a frame carrying len payload bytes into hdr (at
 * least MC_WS_MAX_HEADER bytes). fin false marks a fragment that more
 * frames (opcode MC_WS_OP_CONT) continue; a control frame must have fin
 * set and len <= MC_WS_MAX_CONTROL, which is the caller's to respect. With
 * mask non-NULL the mask bit is set and the 4 key bytes follow. Returns the
 * header length (2..14). Cannot fail.
 */
size_t mc_ws_header(uint8_t *hdr, unsigned opcode, bool fin, uint64_t len,
		    const uint8_t mask[4]);

/*
 * Writes one whole frame into out (cap bytes): the header as mc_ws_header(),
 * then len bytes copied from payload and, with mask non-NULL, masked.
 * payload must not overlap out. Returns the frame's length, or 0 (nothing
 * written) when it does not fit in cap.
 */
size_t mc_ws_encode(uint8_t *out, size_t cap, unsigned opcode, bool fin,
		    const void *payload, size_t len, const uint8_t mask[4]);

typedef struct mc_ws_frame {
	bool fin;
	unsigned opcode;
	size_t header_len; /* 0 while the header is incomplete */
	uint64_t len;	   /* payload length */
	bool masked;
	uint8_t mask[4];
} mc_ws_frame_t;

/*
 * Parses the frame starting at buf (n bytes available) into f. Returns 1
 * when the whole frame (header and payload) is in buf; 0 when more bytes
 * are needed (f->header_len and f->len are already set if the header
 * itself is complete, so a caller can refuse a frame too large to wait
 * for); or -EPROTO for a malformed header: an RSV bit set, a reserved
 * opcode, a 64-bit length with the top bit set, or a control frame that is
 * fragmented or longer than MC_WS_MAX_CONTROL. Continuation frames parse
 * like any other; which of them a peer may send is the caller's policy.
 * The payload is left as it is (masked if f->masked).
 */
int mc_ws_parse(const uint8_t *buf, size_t n, mc_ws_frame_t *f);

/* XORs len bytes at p with the mask, starting at mask byte 0: masks a
 * payload, and unmasks it again. */
void mc_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4]);

/*
 * Computes the Sec-WebSocket-Accept value for a Sec-WebSocket-Key into out
 * (28 characters and a NUL). Returns 0, or -EINVAL for a key over 91
 * characters (a real one has 24).
 */
int mc_ws_accept_for(const char *key, char out[29]);

/*
 * A server's side of the handshake: finds Sec-WebSocket-Key in req (an
 * HTTP upgrade request's head, NUL-terminated) and writes the
 * "101 Switching Protocols" reply with its accept key into out (cap bytes,
 * NUL-terminated). Returns the reply's length, -EINVAL when req has no
 * usable key, or -ENOSPC when cap is too small (MC_WS_UPGRADE_REPLY_CAP
 * always does). Nothing else in req is checked: this is for test and
 * benchmark servers.
 */
int mc_ws_upgrade_reply(const char *req, char *out, size_t cap);

/*
 * Writes a close frame's payload into out (MC_WS_MAX_CONTROL bytes): code
 * in network order, then reason (may be NULL), cut to fit. Returns the
 * payload length (2..125).
 */
size_t mc_ws_close_payload(uint8_t *out, int code, const char *reason);

/* The code of a received close payload p of len bytes, or
 * MC_WS_CLOSE_NO_STATUS when it carries none (len < 2). The reason, if any,
 * is the len - 2 bytes from p + 2 (UTF-8, not NUL-terminated). */
int mc_ws_close_code(const uint8_t *p, size_t len);

#endif /* CHORUS_MC_WSFRAME_H */
