/*
 * gwtest.h - helpers for the gateway's end-to-end tests and benchmark:
 * start the real chorus-gateway ($CHORUS_GATEWAY) on a free port and stop
 * it, play a Media Streams call over wsclient.h, and measure what comes
 * back (Goertzel power of a tone).
 */
#ifndef CHORUS_TS_GWTEST_H
#define CHORUS_TS_GWTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wsclient.h"

typedef struct gwt_proc {
	pid_t pid;
	uint16_t port;
	char log[256]; /* its stderr, kept in a temporary file */
} gwt_proc_t;

/*
 * Starts the gateway on a free port with --bind 127.0.0.1 and the given
 * extra arguments (NULL-terminated; may be NULL), and waits until /healthz
 * answers. Returns 0 or a negative errno.
 */
int gwt_start(gwt_proc_t *g, const char *const *args);
/* Sends sig (SIGTERM to stop it) and waits up to timeout_ms for it to exit
 * (then SIGKILL). Returns its exit status (0-255), 128+signal if a signal
 * ended it, or -ETIMEDOUT if it had to be killed. Removes the log. */
int gwt_stop(gwt_proc_t *g, int sig, int timeout_ms);
/* true if the process is still running. */
bool gwt_alive(gwt_proc_t *g);
/* Counts lines of its log containing needle. */
int gwt_log_count(gwt_proc_t *g, const char *needle);
/* Counts lines of its log containing both a and b. */
int gwt_log_count2(gwt_proc_t *g, const char *a, const char *b);
/* Finds the first log line containing needle and returns the unsigned number
 * after key (e.g. "dropped=") in it, or -1. */
long gwt_log_value(gwt_proc_t *g, const char *needle, const char *key);

/* Reads counter name (e.g. "chorus_frames_in_total", or one series,
 * "chorus_refused_total{code=\"4001\"}") from GET /metrics on port; a name
 * without labels whose family has labels gives the sum of its series. Returns
 * its value, or a negative errno: -ENOENT if there is no such counter, -EPROTO
 * if /metrics did not answer 200, or ws_http_get()'s. */
long gwt_metric(uint16_t port, const char *name);

/* Connects to path and sends "connected" and "start" for a call with the
 * given room (NULL: none in customParameters) and password (NULL: none).
 * Returns 0 or a negative errno. */
/* On a connected c: sends "connected" and "start" for stream_sid (callSid
 * "CA" + stream_sid) with params, the members of customParameters as JSON
 * text (e.g. "\"room\":\"a\""; "" for none). Returns 0 or a negative
 * errno. */
int gwt_start_call(ws_client_t *c, const char *stream_sid, const char *params);

int gwt_call(ws_client_t *c, uint16_t port, const char *path,
	     const char *stream_sid, const char *room, const char *password);

/* Sends one media frame of n µ-law bytes with the stream timestamp ts_ms. */
int gwt_send_media(ws_client_t *c, const char *stream_sid, uint32_t seq,
		   uint32_t ts_ms, const uint8_t *ulaw, size_t n);

/*
 * Reads the next message, which must be an outbound media frame for
 * stream_sid in exactly the shape of docs/protocol.md; decodes its payload
 * to linear samples in pcm (cap samples). Returns the number of samples, or
 * -EBADMSG for any other message, or ws_recv()'s negative errno.
 */
int gwt_recv_media(ws_client_t *c, const char *stream_sid, int16_t *pcm,
		   size_t cap, int timeout_ms);

/* n samples (8 kHz) of a sine at freq Hz and amplitude amp, continuing
 * at sample index start (so consecutive frames join up), as µ-law. */
void gwt_tone(uint8_t *ulaw, size_t n, double freq, double amp, uint64_t start);
/* Goertzel power of freq in pcm, normalised so a full-scale sine ~ 0.25. */
double gwt_goertzel(const int16_t *pcm, size_t n, double freq);
/* Mean square of pcm normalised to full scale. */
double gwt_power(const int16_t *pcm, size_t n);

#endif /* CHORUS_TS_GWTEST_H */
