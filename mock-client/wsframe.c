/*
 * wsframe.c - WebSocket framing, see wsframe.h. Pure functions over the
 * caller's buffers; SHA-1 from libcrypto for the accept key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "codec/base64.h"
#include "mock-client/wsframe.h"

#define FIN	    0x80
#define RSV	    0x70
#define OPCODE	    0x0F
#define MASKED	    0x80
#define LEN7	    0x7F
#define LEN16	    126 /* a 16-bit length follows */
#define LEN64	    127 /* a 64-bit length follows */
#define KEY_HEADER  "\r\nSec-WebSocket-Key:"
#define MAX_KEY_LEN 91 /* what fits accept_for's buffer with the GUID */

/* RFC 6455 4.2.2: the accept key is SHA-1 of the key and this GUID. */
static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

size_t mc_ws_header(uint8_t *hdr, unsigned opcode, bool fin, uint64_t len,
		    const uint8_t mask[4])
{
	size_t h = 0;
	uint8_t m = mask ? MASKED : 0;

	hdr[h++] = (uint8_t)((fin ? FIN : 0) | (opcode & OPCODE));
	if (len < LEN16) {
		hdr[h++] = (uint8_t)(m | len);
	} else if (len < 65536) {
		hdr[h++] = m | LEN16;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = m | LEN64;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)(len >> (8 * i));
	}
	if (mask) {
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	return h;
}

size_t mc_ws_encode(uint8_t *out, size_t cap, unsigned opcode, bool fin,
		    const void *payload, size_t len, const uint8_t mask[4])
{
	uint8_t hdr[MC_WS_MAX_HEADER];
	size_t h = mc_ws_header(hdr, opcode, fin, len, mask);

	if (cap < h || cap - h < len)
		return 0;
	memcpy(out, hdr, h);
	memcpy(out + h, payload, len);
	if (mask)
		mc_ws_mask(out + h, len, mask);
	return h + len;
}

int mc_ws_parse(const uint8_t *buf, size_t n, mc_ws_frame_t *f)
{
	size_t h = 2;
	uint64_t len;

	f->header_len = 0;
	f->len = 0;
	if (n < 2)
		return 0;
	f->fin = buf[0] & FIN;
	f->opcode = buf[0] & OPCODE;
	if (buf[0] & RSV)
		return -EPROTO; /* no extension negotiated */
	if ((f->opcode > MC_WS_OP_BINARY && f->opcode < MC_WS_OP_CLOSE) ||
	    f->opcode > MC_WS_OP_PONG)
		return -EPROTO;
	f->masked = buf[1] & MASKED;
	len = buf[1] & LEN7;
	if (len == LEN16) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if (len == LEN64) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		h = 10;
		if (len >> 63)
			return -EPROTO;
	}
	if (f->opcode >= MC_WS_OP_CLOSE && (len > MC_WS_MAX_CONTROL || !f->fin))
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

	/* A word at a time: the payload need not be aligned, memcpy is. */
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
	char buf[MAX_KEY_LEN + sizeof(guid)];
	size_t kl = strlen(key);

	if (kl > MAX_KEY_LEN)
		return -EINVAL;
	memcpy(buf, key, kl);
	memcpy(buf + kl, guid, sizeof(guid));
	SHA1((unsigned char *)buf, kl + sizeof(guid) - 1, sha);
	return b64_encode(out, 29, sha, sizeof(sha)) == 28 ? 0 : -EINVAL;
}

int mc_ws_upgrade_reply(const char *req, char *out, size_t cap)
{
	char key[MAX_KEY_LEN + 1], accept[29];
	const char *k = strcasestr(req, KEY_HEADER);
	size_t kl;
	int n;

	if (!k)
		return -EINVAL;
	k += sizeof(KEY_HEADER) - 1;
	k += strspn(k, " \t");
	kl = strcspn(k, " \t\r\n");
	if (kl == 0 || kl > MAX_KEY_LEN)
		return -EINVAL;
	memcpy(key, k, kl);
	key[kl] = '\0';
	if (mc_ws_accept_for(key, accept))
		return -EINVAL;
	n = snprintf(out, cap,
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n\r\n",
		     accept);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

size_t mc_ws_close_payload(uint8_t *out, int code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;

	if (rl > MC_WS_MAX_CONTROL - 2)
		rl = MC_WS_MAX_CONTROL - 2;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (rl)
		memcpy(out + 2, reason, rl);
	return rl + 2;
}

int mc_ws_close_code(const uint8_t *p, size_t len)
{
	return len >= 2 ? p[0] << 8 | p[1] : MC_WS_CLOSE_NO_STATUS;
}
