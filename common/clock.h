/*
 * clock.h - the one monotonic clock every Chorus program and test reads.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC as a uint64_t: never set back,
 * unaffected by NTP steps, good for 584 years, and directly comparable
 * between threads of one process. Deadlines are absolute (next += period)
 * and slept to with chorus_sleep_until(), so a loop that does work between
 * sleeps does not drift.
 *
 * Header only: two system calls need no library. Safe from any thread.
 */
#ifndef CHORUS_COMMON_CLOCK_H
#define CHORUS_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CHORUS_NS_PER_S	 1000000000ull
#define CHORUS_NS_PER_MS 1000000ull

/* Now, in nanoseconds of CLOCK_MONOTONIC. */
static inline uint64_t chorus_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CHORUS_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Sleeps until the absolute CLOCK_MONOTONIC time t (returns at once when t
 * has passed). A signal may end the sleep early: callers re-check time. */
static inline void chorus_sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / CHORUS_NS_PER_S),
			      .tv_nsec = (long)(t % CHORUS_NS_PER_S)};

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

#endif /* CHORUS_COMMON_CLOCK_H */
