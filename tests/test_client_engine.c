/*
 * test_client_engine.c - the mock client's event loop (mock-client/engine.h):
 * timers fire once, in slot order, after the tick callback; descriptors
 * call back with their own data and events; stop ends the run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "mock-client/engine.h"

/* What the callbacks saw, in order. */
struct log {
	char ev[32];
	size_t n;
	uint64_t now[32];
	unsigned events;
	int fd;
	int stop_after; /* stop the engine after this many entries */
};

static void note(mc_engine_t *e, struct log *l, char what, uint64_t now)
{
	if (l->n < sizeof(l->ev)) {
		l->now[l->n] = now;
		l->ev[l->n++] = what;
	}
	if (l->stop_after && (int)l->n >= l->stop_after)
		mc_engine_stop(e);
}

static void on_a(mc_engine_t *e, void *data, uint64_t now)
{
	note(e, data, 'a', now);
}

static void on_b(mc_engine_t *e, void *data, uint64_t now)
{
	note(e, data, 'b', now);
}

static void on_tick(mc_engine_t *e, void *data, uint64_t now)
{
	struct log *l = data;

	/* Only the first tick is noted: later ones would fill the log. */
	if (!l->n)
		note(e, l, 't', now);
}

static void stop_timer(mc_engine_t *e, void *data, uint64_t now)
{
	mc_engine_stop(e);
}

static void a_timer_fires_once_at_or_after_its_deadline(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {0};
	uint64_t due = chorus_now_ns() + 5 * CHORUS_NS_PER_MS;
	int a, stop;

	(void)state;
	assert_non_null(e);
	a = mc_engine_timer_new(e, on_a, &l);
	stop = mc_engine_timer_new(e, stop_timer, NULL);
	assert_true(a >= 0 && stop >= 0 && a != stop);
	mc_engine_timer_arm(e, a, due);
	mc_engine_timer_arm(e, stop, due + 20 * CHORUS_NS_PER_MS);
	assert_int_equal(mc_engine_run(e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ev[0], 'a');
	assert_true(l.now[0] >= due);
	mc_engine_free(e);
}

static void due_timers_run_in_slot_order_after_the_tick_callback(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {.stop_after = 3};
	int a, b;

	(void)state;
	a = mc_engine_timer_new(e, on_a, &l);
	b = mc_engine_timer_new(e, on_b, &l);
	mc_engine_on_tick(e, on_tick, &l);
	/* b is due first, but both are due at the first tick. */
	mc_engine_timer_arm(e, b, 1);
	mc_engine_timer_arm(e, a, 2);
	mc_engine_run(e);
	assert_int_equal(l.n, 3);
	assert_memory_equal(l.ev, "tab", 3);
	assert_true(a < b);
	mc_engine_free(e);
}

static void a_disarmed_or_deleted_timer_never_fires(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {0};
	uint64_t now = chorus_now_ns();
	int a, b, stop;

	(void)state;
	a = mc_engine_timer_new(e, on_a, &l);
	b = mc_engine_timer_new(e, on_b, &l);
	stop = mc_engine_timer_new(e, stop_timer, NULL);
	mc_engine_timer_arm(e, a, now);
	mc_engine_timer_arm(e, a, MC_ENGINE_NEVER);
	mc_engine_timer_arm(e, b, now);
	mc_engine_timer_del(e, b);
	mc_engine_timer_arm(e, stop, now + 5 * CHORUS_NS_PER_MS);
	mc_engine_run(e);
	assert_int_equal(l.n, 0);
	/* The deleted slot is the next one handed out. */
	assert_int_equal(mc_engine_timer_new(e, on_b, &l), b);
	mc_engine_free(e);
}

static void on_io(mc_engine_t *e, int fd, void *data, unsigned events)
{
	struct log *l = data;
	char buf[16];

	l->fd = fd;
	l->events |= events;
	if (events & MC_READABLE)
		(void)!read(fd, buf, sizeof(buf));
	note(e, l, 'r', chorus_now_ns());
}

static void a_readable_descriptor_calls_back_with_its_data(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {.stop_after = 1};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(mc_engine_watch(e, sv[0], MC_READABLE, on_io, &l), 0);
	/* The same mask again costs nothing and changes nothing. */
	assert_int_equal(mc_engine_watch(e, sv[0], MC_READABLE, on_io, &l), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	mc_engine_run(e);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.fd, sv[0]);
	assert_int_equal(l.events, MC_READABLE);
	mc_engine_unwatch(e, sv[0]);
	close(sv[0]);
	close(sv[1]);
	mc_engine_free(e);
}

static void a_hang_up_wakes_the_reader_and_the_writer(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {.stop_after = 1};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(mc_engine_watch(e, sv[0], MC_READABLE, on_io, &l), 0);
	shutdown(sv[0], SHUT_RDWR);
	mc_engine_run(e);
	assert_int_equal(l.events, MC_READABLE | MC_WRITABLE);
	mc_engine_unwatch(e, sv[0]);
	close(sv[0]);
	close(sv[1]);
	mc_engine_free(e);
}

static void an_unwatched_descriptor_is_quiet(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {0};
	int sv[2], stop;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(
	    mc_engine_watch(e, sv[0], MC_READABLE | MC_WRITABLE, on_io, &l), 0);
	mc_engine_unwatch(e, sv[0]);
	mc_engine_unwatch(e, sv[0]); /* twice is harmless */
	assert_int_equal(write(sv[1], "x", 1), 1);
	stop = mc_engine_timer_new(e, stop_timer, NULL);
	mc_engine_timer_arm(e, stop, chorus_now_ns() + 5 * CHORUS_NS_PER_MS);
	mc_engine_run(e);
	assert_int_equal(l.n, 0);
	close(sv[0]);
	close(sv[1]);
	mc_engine_free(e);
}

static void bad_watches_are_refused(void **state)
{
	mc_engine_t *e = mc_engine_new();
	struct log l = {0};

	(void)state;
	assert_int_equal(mc_engine_watch(e, -1, MC_READABLE, on_io, &l),
			 -EINVAL);
	assert_int_equal(mc_engine_watch(e, 0, 0, on_io, &l), -EINVAL);
	assert_int_equal(mc_engine_watch(e, 0, MC_READABLE, NULL, &l), -EINVAL);
	/* A descriptor that is not open: epoll's own error comes back. */
	assert_int_equal(mc_engine_watch(e, 4000, MC_READABLE, on_io, &l),
			 -EBADF);
	assert_int_equal(mc_engine_timer_new(e, NULL, NULL), -EINVAL);
	mc_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_timer_fires_once_at_or_after_its_deadline),
	    cmocka_unit_test(
		due_timers_run_in_slot_order_after_the_tick_callback),
	    cmocka_unit_test(a_disarmed_or_deleted_timer_never_fires),
	    cmocka_unit_test(a_readable_descriptor_calls_back_with_its_data),
	    cmocka_unit_test(a_hang_up_wakes_the_reader_and_the_writer),
	    cmocka_unit_test(an_unwatched_descriptor_is_quiet),
	    cmocka_unit_test(bad_watches_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
