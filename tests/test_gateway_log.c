/*
 * The gateway's log without a server: escaping what callers chose, and the
 * writer thread that keeps a stalled stderr from blocking whoever logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "gateway/log.h"

static void escape_leaves_plain_text_alone(void **state)
{
	gw_esc_t e;

	assert_string_equal(gw_log_esc(&e, "MZ0123abc room=x y"),
			    "MZ0123abc room=x y");
	assert_string_equal(gw_log_esc(&e, ""), "");
}

static void escape_turns_line_breaks_escapes_and_quotes_into_text(void **state)
{
	gw_esc_t e;

	assert_string_equal(gw_log_esc(&e, "a\r\nb\tc"), "a\\r\\nb\\tc");
	assert_string_equal(gw_log_esc(&e, "\x1b[31mred"), "\\x1b[31mred");
	assert_string_equal(gw_log_esc(&e, "say \"hi\" \\o/"),
			    "say \\\"hi\\\" \\\\o/");
	assert_string_equal(gw_log_esc(&e, "\x7f\xc3\xa9\x01"),
			    "\\x7f\\xc3\\xa9\\x01");
}

static void escape_of_the_longest_caller_string_fits(void **state)
{
	char in[129];
	gw_esc_t e;

	memset(in, '\n', 128);
	in[128] = '\0';
	gw_log_esc(&e, in);
	assert_int_equal(strlen(e.s), 2 * 128);
	memset(in, 0x1b, 128);
	gw_log_esc(&e, in);
	assert_int_equal(strlen(e.s), 4 * 128);
}

static void escape_cuts_only_at_a_whole_escape(void **state)
{
	char out[6];

	/* "ab" then \n needs 2 more: "ab\n" = 4 chars + NUL fits 6, the
	 * next \x1b (4 chars) does not. */
	gw_log_escape(out, sizeof(out), "ab\n\x1b", 4);
	assert_string_equal(out, "ab\\n");
	gw_log_escape(out, 1, "abc", 3);
	assert_string_equal(out, "");
}

/* Logging with stderr on a pipe nobody reads returns at once, counts what
 * it could not keep, and says so once the pipe is read again. */
static void a_stalled_stderr_drops_lines_instead_of_blocking(void **state)
{
	int p[2], saved = dup(STDERR_FILENO);
	uint64_t t0, before = gw_log_dropped();
	char buf[65536];
	char *all = calloc(1, 1 << 22);
	size_t got = 0;

	assert_non_null(all);
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	dup2(p[1], STDERR_FILENO);
	assert_int_equal(gw_log_start(4096), 0);
	t0 = chorus_now_ns();
	for (int i = 0; i < 2000; i++)
		gw_info("line %d of a log nobody reads yet", i);
	/* 2000 lines into a 4 KiB pipe and a 4 KiB ring: were any write
	 * blocking, this would never return. */
	assert_true(chorus_now_ns() - t0 < 2000 * CHORUS_NS_PER_MS);
	assert_true(gw_log_dropped() > before + 1000);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (uint64_t dl = chorus_now_ns() + 5000 * CHORUS_NS_PER_MS;
	     chorus_now_ns() < dl && !strstr(all, "lines dropped");) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n > 0 && got + (size_t)n < (1 << 22) - 1) {
			memcpy(all + got, buf, (size_t)n);
			got += (size_t)n;
		} else {
			usleep(1000);
		}
	}
	assert_non_null(strstr(all, "lines dropped"));
	assert_non_null(strstr(all, "line 0 of a log"));
	gw_log_stop(2000);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[0]);
	close(p[1]);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape_leaves_plain_text_alone),
	    cmocka_unit_test(
		escape_turns_line_breaks_escapes_and_quotes_into_text),
	    cmocka_unit_test(escape_of_the_longest_caller_string_fits),
	    cmocka_unit_test(escape_cuts_only_at_a_whole_escape),
	    cmocka_unit_test(a_stalled_stderr_drops_lines_instead_of_blocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
