/*
 * load.h - load mode: many simulated calls over many rooms on one engine,
 * and the report of what their users would have felt.
 *
 * Call i goes to room i % rooms, so each room fills evenly; the first
 * `talkers` calls of each room talk (a tone per position in the room, or a
 * WAV), the others send silence. The first talker of each room stamps its
 * frames with latency markers (marker.h). Which calls should hear those
 * stamps depends on the server: a mixing gateway sends the talker's audio
 * to everyone else in the room (expect "mix": needs one talker per room for
 * the stamps to survive); an echo server sends it back to the talker itself
 * (expect "echo").
 *
 * Loss counts the expected talker's frames that a listener never received:
 * between the first and the last received, plus those after the last that
 * were sent before the listener hung up (minus the late threshold). Frames
 * before a listener's first are not counted: a gateway's silence gate holds
 * a talker's first frames back by design. A listener that never connected,
 * or whose talker never did, lost every frame of its duration. A frame is
 * late when it arrived more than late_ms after it was sent.
 */
#ifndef CHORUS_MC_LOAD_H
#define CHORUS_MC_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mock-client/audio.h"
#include "mock-client/call.h"
#include "mock-client/fleet.h"

typedef struct mc_load_opts {
	unsigned participants, rooms, talkers;
	const char *room_prefix; /* rooms are /rooms/<prefix><n> */
	bool expect_echo;	 /* the server echoes instead of mixing */
	const mc_audio_t *play;	 /* talkers' audio, NULL for tones */
	unsigned late_ms;
	const char *json_path; /* also write the JSON summary here */
} mc_load_opts_t;

typedef struct mc_load_result {
	unsigned participants, rooms, talkers;
	double duration_s, wall_s;
	unsigned connected, refused, failed, unmeasured;
	uint64_t frames_out, frames_in, bad_in;
	uint64_t marked_in, missing, late;
	double loss_pct;
	double lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_max_ms;
	double jitter_p99_ms, send_lag_p99_ms;
	double cpu_s; /* the generator's own CPU time (user + system) */
	int first_close_code;
	char first_error[160];
} mc_load_result_t;

/*
 * Runs the load described by opts, each call with a copy of base (host,
 * port, duration, chunk, jitter, params...), on a fleet with fopts, and
 * measures it (base->meter is ignored: the run makes its own). Fills res.
 * Returns 0, or a negative errno (-EINVAL for opts out of range, -ENOMEM)
 * if the run could not start.
 */
int mc_load_run(const mc_load_opts_t *opts, const mc_call_cfg_t *base,
		const mc_fleet_opts_t *fopts, mc_load_result_t *res);

/* Prints res as a table, then as one line of JSON, to f; writes the JSON to
 * path too if path is not NULL. Returns 0 or a negative errno. */
int mc_load_report(const mc_load_result_t *res, FILE *f, const char *path);

#endif /* CHORUS_MC_LOAD_H */
