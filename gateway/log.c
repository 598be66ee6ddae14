/*
 * log.c - one log line per event on stderr (log.h), each written with a
 * single write() so that workers' lines never interleave.
 */
#include "gateway/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static volatile int cur_level = GW_LOG_INFO;
static __thread const char *thread_name = "main";

int gw_log_level_parse(const char *name, gw_log_level_t *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(*level_names);
	     i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (gw_log_level_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *gw_log_level_name(gw_log_level_t level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(*level_names))
		return "?";
	return level_names[level];
}

void gw_log_set_level(gw_log_level_t level)
{
	cur_level = level;
}

int gw_log_enabled(gw_log_level_t level)
{
	return (int)level <= cur_level;
}

void gw_log_thread_name(const char *name)
{
	thread_name = name;
}

void gw_log(gw_log_level_t level, const char *fmt, ...)
{
	char line[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t n;
	int r;

	if (!gw_log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s [%s] ",
		     (long)tv.tv_usec / 1000, gw_log_level_name(level),
		     thread_name);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line: lines from different workers never mix. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}
