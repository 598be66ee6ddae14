/*
 * log.h - the gateway's log: one line per event on stderr, with a UTC
 * timestamp, the level and the worker thread's name.
 *
 * Lines are written with a single write() each so that lines from several
 * workers never interleave. Nothing here is meant for the per-frame path:
 * the gateway logs joins, leaves, refusals and errors, never frames.
 */
#ifndef CHORUS_GW_LOG_H
#define CHORUS_GW_LOG_H

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

#define gw_err(...)   gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...)  gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...)  gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)

#endif /* CHORUS_GW_LOG_H */
