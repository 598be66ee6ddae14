/*
 * g711.c - buffer conversions over the generated G.711 tables.
 *
 * µ-law encoding of a buffer is the mixer's per-mix cost, so with SSE2 (all
 * of x86-64) it is computed eight samples at a time instead of looked up:
 * the 16 KB table would take a third to a half of L1 on every tick, and
 * SSE2 has no gather to use it. The arithmetic is the reference's (see
 * codec/g711_gen.c), and tests/test_g711.c checks the buffer function
 * against the reference fixtures over all 65,536 inputs.
 */
#include "g711.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

size_t g711_ulaw_decode_buf(int16_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_ulaw_decode(src[i]);
	return n;
}

#ifdef __SSE2__
/*
 * Eight samples to eight µ-law codes, in the low bytes of 16-bit lanes.
 *
 * The reference takes the top 14 bits, their magnitude m (clipped to 8159)
 * plus a bias of 33, so t = m + 33 lies in [33, 8192]; the segment is the
 * position of t's leading one minus 5 (t >= 32 always), the mantissa the
 * four bits after that leading one, and the code (seg << 4 | mant) inverted
 * (0xFF ^) for positive samples, (0x7F ^) for negative ones. t = 8192 (any
 * m >= 8159) gives the same code as 8191, the top of segment 7, so clipping
 * t at 8191 does the reference's clip and its segment-8 case at once.
 *
 * Converting t to float (exact, t < 2^24) leaves the leading one's position
 * in the exponent and the next four bits at the top of the mantissa: bits
 * 19-30 of the float are (position + 127) << 4 | mant, and position + 127 =
 * seg + 132. So seg << 4 | mant = f - 2112 with f those bits, and, as that
 * is at most 0x7F, 0xFF ^ it is 0xFF - it = 2367 - f.
 */
static inline __m128i ulaw_encode8(__m128i x)
{
	const __m128i zero = _mm_setzero_si128();
	__m128i v = _mm_srai_epi16(x, 2);
	__m128i neg = _mm_srai_epi16(v, 15); /* all ones where v < 0 */
	__m128i m = _mm_sub_epi16(_mm_xor_si128(v, neg), neg); /* |v| */
	__m128i t = _mm_min_epi16(_mm_add_epi16(m, _mm_set1_epi16(33)),
				  _mm_set1_epi16(0x1FFF));
	__m128 flo = _mm_cvtepi32_ps(_mm_unpacklo_epi16(t, zero));
	__m128 fhi = _mm_cvtepi32_ps(_mm_unpackhi_epi16(t, zero));
	__m128i f = _mm_packs_epi32(_mm_srli_epi32(_mm_castps_si128(flo), 19),
				    _mm_srli_epi32(_mm_castps_si128(fhi), 19));
	__m128i code = _mm_sub_epi16(_mm_set1_epi16(2367), f);

	/* Negative samples: 0x7F ^ rather than 0xFF ^, so flip bit 7 back. */
	return _mm_xor_si128(code, _mm_and_si128(neg, _mm_set1_epi16(0x80)));
}

size_t g711_ulaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + i + 8));

		_mm_storeu_si128(
		    (__m128i *)(dst + i),
		    _mm_packus_epi16(ulaw_encode8(a), ulaw_encode8(b)));
	}
	for (; i < n; i++)
		dst[i] = g711_ulaw_encode(src[i]);
	return n;
}
#else
size_t g711_ulaw_encode_buf(uint8_t *dst, const int16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = g711_ulaw_encode(src[i]);
	return n;
}
#endif

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
