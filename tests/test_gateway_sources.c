/*
 * Per-source limits without a server: networks, the source behind a
 * trusted proxy, concurrent connections, the handshake rate and the
 * wrong-password budget, on a simulated clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/sources.h"

#define S 1000000000ull

static void cidrs_parse_and_match_v4_and_v6(void **state)
{
	gw_cidr_t n;

	assert_int_equal(gw_cidr_parse("10.0.0.0/8", &n), 0);
	assert_true(gw_cidr_contains(&n, "10.200.3.4"));
	assert_false(gw_cidr_contains(&n, "11.0.0.1"));
	assert_false(gw_cidr_contains(&n, "::1"));
	assert_int_equal(gw_cidr_parse("192.168.1.128/25", &n), 0);
	assert_true(gw_cidr_contains(&n, "192.168.1.200"));
	assert_false(gw_cidr_contains(&n, "192.168.1.127"));
	assert_int_equal(gw_cidr_parse("127.0.0.1", &n), 0);
	assert_true(gw_cidr_contains(&n, "127.0.0.1"));
	assert_false(gw_cidr_contains(&n, "127.0.0.2"));
	assert_int_equal(gw_cidr_parse("2001:db8::/32", &n), 0);
	assert_true(gw_cidr_contains(&n, "2001:db8:1::5"));
	assert_false(gw_cidr_contains(&n, "2001:db9::5"));
	assert_int_equal(gw_cidr_parse("0.0.0.0/0", &n), 0);
	assert_true(gw_cidr_contains(&n, "8.8.8.8"));
	assert_int_equal(gw_cidr_parse("10.0.0.0/33", &n), -EINVAL);
	assert_int_equal(gw_cidr_parse("10.0.0.0/", &n), -EINVAL);
	assert_int_equal(gw_cidr_parse("example.com", &n), -EINVAL);
	assert_int_equal(gw_cidr_parse("", &n), -EINVAL);
}

static void
the_last_forwarded_hop_is_the_source_only_behind_a_trusted_proxy(void **state)
{
	char out[GW_SOURCE_MAX];
	gw_cidr_t none = {0}, lo;

	assert_int_equal(gw_cidr_parse("127.0.0.0/8", &lo), 0);
	assert_int_equal(
	    gw_source_of(out, "127.0.0.1", "1.1.1.1, 203.0.113.7 ", &lo), 1);
	assert_string_equal(out, "203.0.113.7");
	assert_int_equal(gw_source_of(out, "127.0.0.1", "2001:DB8:0::1", &lo),
			 1);
	assert_string_equal(out, "2001:db8::1");
	/* Not trusted, no header, or a hop that is no address: the peer. */
	assert_int_equal(gw_source_of(out, "10.1.1.1", "203.0.113.7", &lo), 0);
	assert_string_equal(out, "10.1.1.1");
	assert_int_equal(gw_source_of(out, "127.0.0.1", "203.0.113.7", &none),
			 0);
	assert_string_equal(out, "127.0.0.1");
	assert_int_equal(gw_source_of(out, "127.0.0.1", NULL, &lo), 0);
	assert_int_equal(
	    gw_source_of(out, "127.0.0.1", "1.1.1.1, evil\r\n", &lo), 0);
	assert_string_equal(out, "127.0.0.1");
}

static void concurrent_connections_are_limited_per_address(void **state)
{
	gw_source_limits_t lim = {.max_conns = 2};
	gw_sources_t *s = gw_sources_new(&lim);

	assert_int_equal(gw_sources_enter(s, "1.2.3.4", 0), 0);
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", 0), 0);
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", 0), -EMFILE);
	assert_int_equal(gw_sources_enter(s, "5.6.7.8", 0), 0);
	gw_sources_leave(s, "1.2.3.4");
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", 0), 0);
	gw_sources_free(s);
}

static void handshakes_are_a_second_s_worth_at_once_then_the_rate(void **state)
{
	gw_source_limits_t lim = {.handshakes_per_s = 4};
	gw_sources_t *s = gw_sources_new(&lim);
	uint64_t t = 100 * S;

	for (int i = 0; i < 4; i++)
		assert_int_equal(gw_sources_enter(s, "1.2.3.4", t), 0);
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", t), -EAGAIN);
	assert_int_equal(gw_sources_enter(s, "9.9.9.9", t), 0);
	/* A quarter second later, one more. */
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", t + S / 4), 0);
	assert_int_equal(gw_sources_enter(s, "1.2.3.4", t + S / 4), -EAGAIN);
	gw_sources_free(s);
}

static void wrong_passwords_block_an_address_after_the_budget(void **state)
{
	gw_source_limits_t lim = {.pw_failures_per_min = 3};
	gw_sources_t *s = gw_sources_new(&lim);
	uint64_t t = 100 * S;

	for (int i = 0; i < 3; i++) {
		assert_false(gw_sources_pw_blocked(s, "1.2.3.4", t));
		gw_sources_pw_failed(s, "1.2.3.4", t);
	}
	assert_true(gw_sources_pw_blocked(s, "1.2.3.4", t));
	assert_false(gw_sources_pw_blocked(s, "5.6.7.8", t));
	/* One attempt back every 20 s. */
	assert_true(gw_sources_pw_blocked(s, "1.2.3.4", t + 19 * S));
	assert_false(gw_sources_pw_blocked(s, "1.2.3.4", t + 20 * S));
	gw_sources_free(s);
}

static void zero_limits_limit_nothing(void **state)
{
	gw_source_limits_t lim = {0};
	gw_sources_t *s = gw_sources_new(&lim);

	for (int i = 0; i < 1000; i++)
		assert_int_equal(gw_sources_enter(s, "1.2.3.4", 0), 0);
	for (int i = 0; i < 100; i++)
		gw_sources_pw_failed(s, "1.2.3.4", 0);
	assert_false(gw_sources_pw_blocked(s, "1.2.3.4", 0));
	gw_sources_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cidrs_parse_and_match_v4_and_v6),
	    cmocka_unit_test(
		the_last_forwarded_hop_is_the_source_only_behind_a_trusted_proxy),
	    cmocka_unit_test(concurrent_connections_are_limited_per_address),
	    cmocka_unit_test(
		handshakes_are_a_second_s_worth_at_once_then_the_rate),
	    cmocka_unit_test(wrong_passwords_block_an_address_after_the_budget),
	    cmocka_unit_test(zero_limits_limit_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
