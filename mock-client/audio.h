/*
 * audio.h - the client's audio files: read anything libsndfile reads into
 * 8 kHz mono 16-bit, write recordings as 16-bit PCM WAV, make test tones.
 *
 * Reading downmixes every channel to mono (the mean of the channels),
 * resamples to the wanted rate with libsamplerate (SRC_SINC_MEDIUM_QUALITY)
 * and converts to int16 with saturation. It reads the whole file into
 * memory: callers play prompts and test clips, not hours of audio.
 * Errors are returned with a human-readable message; nothing is logged.
 */
#ifndef CHORUS_MC_AUDIO_H
#define CHORUS_MC_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define MC_AUDIO_ERR_LEN 256

/* Decoded audio at the wanted rate; samples is malloc'd, owned by the
 * struct, freed by mc_audio_free(). */
typedef struct mc_audio {
	int16_t *samples;
	size_t n;
	unsigned rate;
} mc_audio_t;

/*
 * Loads path, downmixed and resampled to rate Hz. Returns 0, or a negative
 * errno (-ENOENT/-EINVAL for unreadable or unsupported files, -ENOMEM) with
 * a message in err.
 */
int mc_audio_load(mc_audio_t *out, const char *path, unsigned rate,
		  char err[MC_AUDIO_ERR_LEN]);

/*
 * Makes seconds of a sine tone at freq_hz and amplitude (0..32767).
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int mc_audio_tone(mc_audio_t *out, unsigned rate, double freq_hz, int amplitude,
		  double seconds);

void mc_audio_free(mc_audio_t *a);

/*
 * Writes n samples as a mono 16-bit PCM WAV at rate Hz to path (replacing
 * it). Returns 0, or a negative errno with a message in err.
 */
int mc_audio_write_wav(const char *path, const int16_t *pcm, size_t n,
		       unsigned rate, char err[MC_AUDIO_ERR_LEN]);

#endif /* CHORUS_MC_AUDIO_H */
