/*
 * g711.h - G.711 µ-law and A-law, both directions, table driven.
 *
 * Bit-exact with the classic CCITT/Sun reference implementation (the one
 * behind sox and Python's audioop): µ-law quantizes the top 14 bits of a
 * 16-bit sample, A-law the top 13. Each direction is one table look-up, so
 * the per-sample functions are static inline and cannot fail; the buffer
 * functions convert n samples and return n. g711_ulaw_encode_buf, the
 * mixer's per-mix encoder, computes the codes eight at a time with SSE2
 * where it is available, with the same results as the table (see g711.c).
 *
 * The tables are generated at build time from the reference algorithm
 * (codec/g711_gen.c) and checked against an independent implementation by
 * tests/test_g711.c. This module does no I/O and keeps no state.
 *
 * Note: µ-law has two zeros. Code 0x7F ("negative zero") decodes to 0, which
 * encodes to 0xFF; every other code survives encode(decode(c)) unchanged.
 */
#ifndef CHORUS_G711_H
#define CHORUS_G711_H

#include <stddef.h>
#include <stdint.h>

/* Sample rate and frame size of a Media Streams call, for callers' use. */
#define G711_RATE 8000

extern const int16_t g711_ulaw_dec_table[256];
extern const int16_t g711_alaw_dec_table[256];
/* Indexed by the 16-bit sample's top 14 (µ-law) or 13 (A-law) bits. */
extern const uint8_t g711_ulaw_enc_table[1 << 14];
extern const uint8_t g711_alaw_enc_table[1 << 13];

static inline int16_t g711_ulaw_decode(uint8_t code)
{
	return g711_ulaw_dec_table[code];
}

static inline uint8_t g711_ulaw_encode(int16_t sample)
{
	return g711_ulaw_enc_table[(uint16_t)sample >> 2];
}

static inline int16_t g711_alaw_decode(uint8_t code)
{
	return g711_alaw_dec_table[code];
}

static inline uint8_t g711_alaw_encode(int16_t sample)
{
	return g711_alaw_enc_table[(uint16_t)sample >> 3];
}

/* Each converts n samples from src into dst (which must not overlap) and
 * returns n. */
size_t g711_ulaw_decode_buf(int16_t *dst, const uint8_t *src, size_t n);
size_t g711_ulaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n);
size_t g711_alaw_decode_buf(int16_t *dst, const uint8_t *src, size_t n);
size_t g711_alaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n);

#endif /* CHORUS_G711_H */
