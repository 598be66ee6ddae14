/*
 * engine.h - simulated calls on one epoll event loop, one thread.
 *
 * The engine owns the epoll set, the calls, and one timer. Each call
 * (mc_call_t) is a Media Streams stream seen from the platform's side: it
 * connects, sends `connected` and `start`, then one `media` frame per period on
 * absolute deadlines (mc_pace_t), then `stop`; it answers `mark` and `clear` as
 * a platform would (mc_rec_t), records what it hears if asked, and, in load
 * mode, stamps its frames with latency markers (marker.h) and measures the
 * frames it receives.
 *
 * Each call's WebSocket is an mc_ws_t (ws.h: why not libwebsockets).
 *
 * Pacing does not use a timer per call: the loop wakes every millisecond,
 * scans the compact array of due times, and sends every frame that is due
 * (a call that fell behind catches up at once, without skipping any), so
 * a frame leaves at most about a millisecond after its deadline.
 *
 * Everything here runs on the engine's thread. Nothing is logged.
 */
#ifndef CHORUS_MC_ENGINE_H
#define CHORUS_MC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock-client/marker.h"
#include "mock-client/pace.h"
#include "mock-client/proto.h"
#include "mock-client/recorder.h"
#include "mock-client/stats.h"
#include "mock-client/ws.h"

#define MC_MAX_PARAMS 16
#define MC_SENT_RING  512   /* send times remembered per marked talker */
#define MC_RX_MAX     65536 /* largest server message accepted */

typedef struct mc_engine mc_engine_t;

/* What a call does; shared by many calls in load mode. */
typedef struct mc_call_cfg {
	const char *host;
	int port;
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
} mc_call_cfg_t;

typedef enum mc_call_state {
	MC_CALL_IDLE = 0,
	MC_CALL_CONNECTING,
	MC_CALL_STREAMING,
	MC_CALL_STOPPING, /* stop sent, waiting for the server to close */
	MC_CALL_DONE,
} mc_call_state_t;

typedef struct mc_call {
	mc_engine_t *eng;
	const mc_call_cfg_t *cfg;
	unsigned index;
	char path[256];
	mc_ws_t ws;
	bool ws_ready;	/* ws initialized (buffers allocated) */
	bool watch_out; /* registered for EPOLLOUT */
	mc_call_state_t state;
	mc_ids_t ids;

	/* outbound */
	bool need_connected, need_start, need_stop, want_close;
	uint64_t seq; /* next sequenceNumber */
	mc_pace_t pace;
	size_t src_pos;
	bool src_done;
	uint64_t end_frame; /* frames to send; UINT64_MAX for no limit */
	uint64_t stop_ns;   /* when stop was sent */
	int marker_id;	    /* >= 0: stamp frames with (marker_id, seq) */
	struct mc_sent {
		uint64_t ns;
		uint16_t seq;
	} * sent; /* MC_SENT_RING entries, marked talkers only */

	/* inbound */
	mc_marker_det_t det;
	int last_src; /* marker source seen last, -1 for none */
	uint16_t last_seq;
	uint64_t last_seq64;  /* last_seq, unwrapped */
	uint64_t first_seq64; /* first marked frame seen */
	int expect_src;	      /* marked talker this call should hear, or -1 */
	uint64_t last_rx_ns;
	mc_rec_t rec;
	bool has_rec;

	/* results */
	char mark_name[MC_MARK_NAME]; /* load calls: a mark to echo */
	bool mark_pending;
	uint64_t frames_out, frames_in, bad_in, marks_echoed, clears;
	uint64_t marked_in, missing, late;
	int close_code; /* from the server's close frame; 0 if none */
	char close_reason[128];
	char error[160]; /* connection error, if any */
	uint64_t start_ns, end_ns;
} mc_call_t;

/* Measurements shared by every call of an engine (load mode). */
typedef struct mc_engine_stats {
	mc_hist_t *latency;  /* marked frames: send to receive */
	mc_hist_t *jitter;   /* |inter-arrival - frame duration| */
	mc_hist_t *send_lag; /* how late the generator itself sent */
	uint64_t late_us;    /* a marked frame later than this is late */
} mc_engine_stats_t;

typedef struct mc_engine_opts {
	unsigned connects_per_ms; /* connection ramp */
	double hard_stop_s;	  /* give up after this long; 0 for never */
	bool measure;		  /* fill mc_engine_stats_t */
	uint64_t late_us;
	bool progress; /* print a progress line (caller mode) */
} mc_engine_opts_t;

/*
 * Creates an engine for ncalls calls (all IDLE; set them up with
 * mc_call_setup()). Returns NULL on failure (message on stderr).
 */
mc_engine_t *mc_engine_new(const mc_engine_opts_t *opts, size_t ncalls);
void mc_engine_free(mc_engine_t *e);

/* The i-th call. */
mc_call_t *mc_engine_call(mc_engine_t *e, size_t i);
size_t mc_engine_ncalls(const mc_engine_t *e);
mc_engine_stats_t *mc_engine_stats(mc_engine_t *e);

/*
 * Prepares call c to connect to path with cfg (borrowed: it must outlive the
 * engine's run). marker_id >= 0 makes it a marked talker. Returns 0 or
 * -ENOMEM.
 */
int mc_call_setup(mc_call_t *c, const mc_call_cfg_t *cfg, const char *path,
		  int marker_id);

/*
 * Connects every call (ramped), runs until all are done, the hard stop
 * passes, or mc_engine_interrupt(). Returns 0, or a negative errno if the
 * event loop could not be created.
 */
int mc_engine_run(mc_engine_t *e);

/* Asks every call to stop (async-signal-safe: sets a flag). */
void mc_engine_interrupt(mc_engine_t *e);

#endif /* CHORUS_MC_ENGINE_H */
