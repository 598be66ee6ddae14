/*
 * call.h - one simulated call: the telephony platform's side of a Media
 * Streams WebSocket, run on an engine (engine.h).
 *
 * A call connects, sends `connected` and `start`, then one `media` frame per
 * period on absolute deadlines (pace.h), then `stop`, and waits for the
 * server to close. It answers `mark` and `clear` as a platform would
 * (recorder.h), records what it hears if asked, and, given a meter
 * (meter.h), stamps its frames with latency markers (marker.h) and measures
 * the frames it receives. Its WebSocket is an mc_ws_t (ws.h: why not
 * libwebsockets).
 *
 * A call owns its socket, its timer slot on the engine, its WebSocket's
 * buffers and, if it records, its receive buffers, all allocated by
 * mc_call_new(). Frames being built, and a load call's received messages,
 * are worked on in stack buffers, which stay in cache from one call to the
 * next. Nothing is allocated per frame and nothing is static: a process
 * may run several engines, one per thread. A call borrows its
 * mc_call_cfg_t (shared by many calls in load mode) and the meter.
 *
 * Everything runs on the engine's thread. Nothing is logged: a failure is
 * kept in the call's stats (error, close_code) for the caller to report.
 */
#ifndef CHORUS_MC_CALL_H
#define CHORUS_MC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock-client/engine.h"
#include "mock-client/meter.h"
#include "mock-client/proto.h"
#include "mock-client/recorder.h"

#define MC_MAX_PARAMS	  16
#define MC_CALL_MAX_CHUNK 8000 /* one second of audio per frame at most */

typedef struct mc_call mc_call_t;

/* What a call does; shared by many calls in load mode. */
typedef struct mc_call_cfg {
	const char *host;
	int port;
	bool tls;	      /* wss:// (the certificate is not verified) */
	const int16_t *audio; /* 8 kHz source, NULL for silence */
	size_t audio_n;
	bool loop;	    /* replay the source until the duration ends */
	double duration_s;  /* 0: until the source ends (or forever) */
	unsigned chunk;	    /* samples (= µ-law bytes) per media frame */
	unsigned jitter_ms; /* random send delay, 0..jitter_ms */
	uint64_t seed;
	mc_param_t params[MC_MAX_PARAMS];
	size_t nparams;
	bool record;	     /* keep a recording (mc_rec_t) */
	unsigned playout_ms; /* the recorder's start-up buffer */
	mc_meter_t *meter;   /* measurements to feed; NULL for none */
} mc_call_cfg_t;

/* What sets one call apart from the others sharing its cfg. */
typedef struct mc_call_spec {
	const char *path; /* request path, copied */
	unsigned index;	  /* seeds the call's ids and send jitter */
	int marker_id;	  /* >= 0: stamp frames with (marker_id, seq) */
	int expect_src;	  /* marked talker this call should hear, or -1 */
	/* Called once when the call is over (connection gone or never made). */
	void (*on_done)(mc_call_t *c, void *data);
	void *data;
} mc_call_spec_t;

/* What happened to a call; read it with mc_call_stats(). */
typedef struct mc_call_stats {
	uint64_t frames_out, frames_in, bad_in, marks_echoed, clears;
	/* Stamped frames received, those of the expected talker that never
	 * arrived between two that did, and those that arrived late. */
	uint64_t marked_in, missing, late;
	bool heard;	     /* a stamped frame of the expected talker came */
	uint64_t last_seq64; /* its last sequence number, unwrapped */
	uint64_t end_frame;  /* frames to send; UINT64_MAX for no limit */
	uint64_t start_ns;   /* the WebSocket opened; 0 if it never did */
	uint64_t stop_ns;    /* `stop` was sent; 0 if it never was */
	uint64_t end_ns;     /* the call ended */
	int close_code;	     /* from the server's close frame; 0 if none */
	char close_reason[128];
	char error[160]; /* connection error, if any */
} mc_call_stats_t;

/*
 * Makes a call on engine e with cfg and spec (cfg and cfg->meter are
 * borrowed and must outlive the call; spec is copied). The call is idle
 * until mc_call_connect(). Returns NULL on out of memory, or if cfg->chunk
 * is not in 1..MC_CALL_MAX_CHUNK. Free with mc_call_free().
 */
mc_call_t *mc_call_new(mc_engine_t *e, const mc_call_cfg_t *cfg,
		       const mc_call_spec_t *spec);
/* Closes the socket if open (no close frame, no on_done) and frees c. */
void mc_call_free(mc_call_t *c);

/*
 * Resolves the host and starts connecting. Returns 0, or a negative errno
 * (-ENOENT: the host did not resolve) after which the call is done, with
 * the reason in its stats' error.
 */
int mc_call_connect(mc_call_t *c);

/* Asks the call to end its stream now: `stop` at once if streaming, no
 * frames at all if it has not started yet. */
void mc_call_hangup(mc_call_t *c);

/* Ends the call at once, as when a run is over: plays out what is queued
 * in the recording and closes the socket with 1001. */
void mc_call_end(mc_call_t *c);

/* The call's counters and outcome; owned by c, updated as it runs. */
const mc_call_stats_t *mc_call_stats(const mc_call_t *c);

/* The call's recorder (what it heard), or NULL if cfg->record was not set;
 * owned by c. */
const mc_rec_t *mc_call_recording(const mc_call_t *c);

/* When frame k of the stream was nominally due (CLOCK_MONOTONIC ns, no
 * jitter); 0 if the stream never started. */
uint64_t mc_call_frame_ns(const mc_call_t *c, uint64_t k);

#endif /* CHORUS_MC_CALL_H */
