/*
 * log.h - the gateway's log: one line per event on stderr, with a UTC
 * timestamp, the level and the worker thread's name.
 *
 * Lines are written with a single write() each so that lines from several
 * workers never interleave. Nothing here is meant for the per-frame path:
 * the gateway logs joins, leaves, refusals and errors, never frames.
 *
 * Logging never blocks the caller once gw_log_start() has run: a line is
 * copied into a bounded buffer that one writer thread drains to stderr, and
 * a line that does not fit is dropped and counted (gw_log_dropped()); when
 * the writer catches up it writes one line saying how many were lost. A
 * stalled stderr reader therefore costs log lines, never calls.
 *
 * Every string a caller chose (Sids, reasons quoting its message, peer
 * addresses, header values) goes through gw_log_esc() before it is logged,
 * so that no caller can start a line of its own or fake a quote.
 */
#ifndef CHORUS_GW_LOG_H
#define CHORUS_GW_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum gw_log_level {
	GW_LOG_ERROR = 0,
	GW_LOG_WARN,
	GW_LOG_INFO,
	GW_LOG_DEBUG,
} gw_log_level_t;

/* Parses "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int gw_log_level_parse(const char *name, gw_log_level_t *out);
const char *gw_log_level_name(gw_log_level_t level);

/* Lines above level are discarded. The default is GW_LOG_INFO. */
void gw_log_set_level(gw_log_level_t level);
int gw_log_enabled(gw_log_level_t level);

/* Names the calling thread in its log lines ("main", "w0", ...). name must
 * stay valid while the thread logs. */
void gw_log_thread_name(const char *name);

void gw_log(gw_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Starts the writer thread with a buffer of buffer_bytes (>= 4096). Until it
 * runs, and if it cannot start, lines are written directly. Returns 0 or a
 * negative errno. */
int gw_log_start(size_t buffer_bytes);
/* Waits up to timeout_ms for the writer to drain the buffer, then stops
 * using it (later lines are written directly). A writer stuck on a stalled
 * stderr is left behind: the process is about to exit. */
void gw_log_stop(unsigned timeout_ms);
/* Lines dropped so far because the buffer was full. Any thread. */
uint64_t gw_log_dropped(void);

/* Room for the escape of a 128-byte string, the longest a caller sends. */
#define GW_LOG_ESC_MAX (4 * 128 + 1)

/*
 * Copies the first len bytes of in into out (cap bytes, NUL-terminated)
 * with every byte that could forge or garble a line escaped: control
 * characters and bytes >= 0x7f as \xNN (\n, \r, \t by name), the quote
 * and backslash as \" and \\. Cut at a whole escape when out is full.
 * Returns out.
 */
char *gw_log_escape(char *out, size_t cap, const char *in, size_t len);

/* A buffer for one escaped value: gw_log_esc(&e, s) escapes the
 * NUL-terminated s into e and returns it, to pass straight to a %s. */
typedef struct gw_esc {
	char s[GW_LOG_ESC_MAX];
} gw_esc_t;
const char *gw_log_esc(gw_esc_t *e, const char *s);

#define gw_err(...)   gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...)  gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...)  gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)

#endif /* CHORUS_GW_LOG_H */
