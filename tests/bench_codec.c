/*
 * bench_codec.c - per-frame cost of the codec's hot-path pieces.
 *
 * One frame is what a Media Streams call carries every 20 ms: 160 µ-law
 * bytes, 216 base64 characters. Each line is the best of several rounds, in
 * ns per frame, beside libb64 for scale.
 */
#include <stdio.h>
#include <string.h>

#include <b64/cdecode.h>
#include <b64/cencode.h>

#include "common/clock.h"
#include "codec/base64.h"
#include "codec/g711.h"
#include "tests/support/tsupport.h"

#define FRAME  160
#define ITERS  200000
#define ROUNDS 7

/* Keeps the compiler from dropping work whose result is unused. */
#define KEEP(p) __asm__ volatile("" : : "g"(p) : "memory")

static uint8_t ulaw[FRAME], ulaw_out[FRAME + 8];
static int16_t pcm[FRAME];
static char text[512];
static long text_len;

static void ulaw_decode(void)
{
	g711_ulaw_decode_buf(pcm, ulaw, FRAME);
	KEEP(pcm);
}
static void ulaw_encode(void)
{
	g711_ulaw_encode_buf(ulaw_out, pcm, FRAME);
	KEEP(ulaw_out);
}
static void b64_dec(void)
{
	KEEP(b64_decode(ulaw_out, sizeof(ulaw_out), text, (size_t)text_len));
	KEEP(ulaw_out);
}

static void b64_enc(void)
{
	static char out[512];

	KEEP(b64_encode(out, sizeof(out), ulaw, FRAME));
	KEEP(out);
}

static void libb64_dec(void)
{
	base64_decodestate s;

	base64_init_decodestate(&s);
	KEEP(base64_decode_block(text, (int)text_len, (char *)ulaw_out, &s));
	KEEP(ulaw_out);
}

static void libb64_enc(void)
{
	static char out[512];
	base64_encodestate s;
	int n;

	base64_init_encodestate(&s);
	n = base64_encode_block((const char *)ulaw, FRAME, out, &s);
	KEEP(base64_encode_blockend(out + n, &s));
	KEEP(out);
}

static double run(void (*fn)(void))
{
	double best = 1e30;

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = chorus_now_ns();

		for (int i = 0; i < ITERS; i++)
			fn();
		double ns = (double)(chorus_now_ns() - t0) / ITERS;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
	    {"mu-law decode, 160 samples", ulaw_decode},
	    {"mu-law encode, 160 samples", ulaw_encode},
	    {"base64 decode, 216 chars", b64_dec},
	    {"base64 encode, 160 bytes", b64_enc},
	    {"libb64 decode, 216 chars (reference)", libb64_dec},
	    {"libb64 encode, 160 bytes (reference)", libb64_enc},
	};

	ts_seed("bench_codec");
	for (int i = 0; i < FRAME; i++) {
		ulaw[i] = (uint8_t)ts_rand();
		pcm[i] = (int16_t)ts_rand();
	}
	text_len = b64_encode(text, sizeof(text), ulaw, FRAME);
	printf("codec, ns per 20 ms frame (best of %d x %d):\n", ROUNDS, ITERS);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		printf("  %-40s %8.1f ns\n", cases[i].name, run(cases[i].fn));
	return 0;
}
