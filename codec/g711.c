/*
 * g711.c - buffer conversions over the generated G.711 tables.
 */
#include "g711.h"

size_t g711_ulaw_decode_buf(int16_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_ulaw_decode(src[i]);
	return n;
}

size_t g711_ulaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_ulaw_encode(src[i]);
	return n;
}

size_t g711_alaw_decode_buf(int16_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_alaw_decode(src[i]);
	return n;
}

size_t g711_alaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_alaw_encode(src[i]);
	return n;
}
