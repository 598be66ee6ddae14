/*
 * audio.c - see audio.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <samplerate.h>
#include <sndfile.h>

#include "mock-client/audio.h"

/* Reads every frame of f as float and averages the channels. */
static float *read_mono(SNDFILE *f, const SF_INFO *info, size_t *n)
{
	size_t frames = (size_t)info->frames, ch = (size_t)info->channels;
	float *all, *mono;
	sf_count_t got;

	all = malloc((frames ? frames : 1) * ch * sizeof(float));
	mono = malloc((frames ? frames : 1) * sizeof(float));
	if (!all || !mono) {
		free(all);
		free(mono);
		return NULL;
	}
	got = sf_readf_float(f, all, (sf_count_t)frames);
	if (got < 0)
		got = 0;
	for (size_t i = 0; i < (size_t)got; i++) {
		float s = 0;

		for (size_t c = 0; c < ch; c++)
			s += all[i * ch + c];
		mono[i] = s / (float)ch;
	}
	free(all);
	*n = (size_t)got;
	return mono;
}

static int16_t to_s16(float x)
{
	float v = x * 32768.0f;

	if (v > 32767.0f)
		return 32767;
	if (v < -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

int mc_audio_load(mc_audio_t *out, const char *path, unsigned rate,
		  char err[MC_AUDIO_ERR_LEN])
{
	SF_INFO info = {0};
	SRC_DATA src = {0};
	SNDFILE *f;
	float *mono, *res = NULL;
	size_t n, cap;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!rate)
		return -EINVAL;
	f = sf_open(path, SFM_READ, &info);
	if (!f) {
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: %s", path,
			 sf_strerror(NULL));
		return -ENOENT;
	}
	if (info.channels < 1 || info.samplerate < 1) {
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: no audio", path);
		sf_close(f);
		return -EINVAL;
	}
	mono = read_mono(f, &info, &n);
	sf_close(f);
	if (!mono) {
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: out of memory", path);
		return -ENOMEM;
	}
	if ((unsigned)info.samplerate != rate && n) {
		src.src_ratio = (double)rate / info.samplerate;
		cap = (size_t)(n * src.src_ratio) + 16;
		res = malloc(cap * sizeof(float));
		if (!res) {
			free(mono);
			snprintf(err, MC_AUDIO_ERR_LEN, "%s: out of memory",
				 path);
			return -ENOMEM;
		}
		src.data_in = mono;
		src.input_frames = (long)n;
		src.data_out = res;
		src.output_frames = (long)cap;
		rc = src_simple(&src, SRC_SINC_MEDIUM_QUALITY, 1);
		if (rc) {
			snprintf(err, MC_AUDIO_ERR_LEN, "%s: resampling: %s",
				 path, src_strerror(rc));
			free(mono);
			free(res);
			return -EINVAL;
		}
		free(mono);
		mono = res;
		n = (size_t)src.output_frames_gen;
	}
	out->samples = malloc((n ? n : 1) * sizeof(int16_t));
	if (!out->samples) {
		free(mono);
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		out->samples[i] = to_s16(mono[i]);
	free(mono);
	out->n = n;
	out->rate = rate;
	return 0;
}

int mc_audio_tone(mc_audio_t *out, unsigned rate, double freq_hz, int amplitude,
		  double seconds)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!rate || seconds <= 0 || amplitude < 0 || amplitude > 32767)
		return -EINVAL;
	n = (size_t)(seconds * rate);
	out->samples = malloc((n ? n : 1) * sizeof(int16_t));
	if (!out->samples)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		out->samples[i] = (int16_t)lrint(
		    amplitude * sin(2 * M_PI * freq_hz * (double)i / rate));
	out->n = n;
	out->rate = rate;
	return 0;
}

void mc_audio_free(mc_audio_t *a)
{
	free(a->samples);
	a->samples = NULL;
	a->n = 0;
}

int mc_audio_write_wav(const char *path, const int16_t *pcm, size_t n,
		       unsigned rate, char err[MC_AUDIO_ERR_LEN])
{
	SF_INFO info = {0};
	SNDFILE *f;
	sf_count_t w;

	info.samplerate = (int)rate;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	f = sf_open(path, SFM_WRITE, &info);
	if (!f) {
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: %s", path,
			 sf_strerror(NULL));
		return -EIO;
	}
	w = n ? sf_write_short(f, pcm, (sf_count_t)n) : 0;
	sf_close(f);
	if (w != (sf_count_t)n) {
		snprintf(err, MC_AUDIO_ERR_LEN, "%s: short write", path);
		return -EIO;
	}
	return 0;
}
