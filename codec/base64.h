/*
 * base64.h - strict RFC 4648 base64, standard alphabet, '=' padding.
 *
 * The encoder writes one unbroken line (no newlines, unlike Debian's libb64,
 * which wraps at 72 characters) because Media Streams rejects anything else.
 * The decoder is strict where libb64 is lenient: it fails on any character
 * outside the alphabet, on misplaced or missing padding, on lengths that are
 * not a multiple of four, and on non-zero bits after the last byte, and it
 * never writes a partial result that the caller could mistake for audio.
 *
 * Both are hand-written for the per-frame path (libb64 costs ~0.35 µs a frame
 * and still needs its output cleaned); tests/test_base64.c checks them against
 * libb64 as an oracle. No I/O, no allocation, no state.
 */
#ifndef CHORUS_BASE64_H
#define CHORUS_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters produced for n input bytes (no terminator). */
#define B64_ENCODED_LEN(n) ((((size_t)(n) + 2) / 3) * 4)
/* Largest number of bytes len characters can decode to. */
#define B64_DECODED_MAX(len) (((size_t)(len) / 4) * 3)

/*
 * Encodes n bytes of src into dst and NUL-terminates it. cap is the size of
 * dst and must be at least B64_ENCODED_LEN(n) + 1.
 * Returns the number of characters written (without the NUL), or -ENOSPC
 * when dst is too small (dst is then left untouched).
 */
long b64_encode(char *dst, size_t cap, const uint8_t *src, size_t n);

/*
 * Decodes len characters of src into dst, whose size is cap.
 * Returns the number of bytes written, -EINVAL when src is not canonical
 * base64 (dst contents are then unspecified and must not be used), or
 * -ENOSPC when the result would not fit in cap.
 */
long b64_decode(uint8_t *dst, size_t cap, const char *src, size_t len);

#endif /* CHORUS_BASE64_H */
