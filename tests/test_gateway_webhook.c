/*
 * End-to-end: --webhook against a small HTTP receiver in this process,
 * which checks each request's X-Chorus-Signature on its own (OpenSSL
 * HMAC-SHA256 of the body): signed batches in seq order, retries after a
 * failure, and a dead webhook that does not touch the calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T      5000 /* ms */
#define SECRET "k3y-s3cret"

static gwt_proc_t gw;

/* The receiver: answers fail_first requests with 500, then 200. */
typedef struct receiver {
	int fd;
	uint16_t port;
	pthread_t th;
	volatile bool stop;
	pthread_mutex_t lock;
	int fail_first;
	int requests, good_sigs, bad_sigs;
	json_t *events; /* from the requests answered 200 */
} receiver_t;

static receiver_t rx;

static bool signature_ok(const char *sig, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 8] = "sha256=";

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	     (const unsigned char *)body, len, mac, &n);
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 7 + 2 * i, "%02x", mac[i]);
	return sig && !strcmp(sig, hex);
}

/* Reads until the buffer holds want bytes; false at EOF or error. */
static bool read_more(int fd, char *buf, size_t *have, size_t cap)
{
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t n;

	if (*have >= cap || poll(&p, 1, T) <= 0)
		return false;
	n = read(fd, buf + *have, cap - *have);
	if (n <= 0)
		return false;
	*have += (size_t)n;
	return true;
}

static void header(const char *head, const char *name, char *out, size_t cap)
{
	const char *p = strcasestr(head, name);

	out[0] = '\0';
	if (p) {
		p += strlen(name);
		while (*p == ' ')
			p++;
		snprintf(out, cap, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
}

/* Serves one connection's requests (curl keeps it alive). */
static void serve(int fd)
{
	static char buf[1 << 20];
	size_t have = 0;

	for (;;) {
		char *end, sig[128], clen[32];
		size_t hl, bl;
		bool fail, ok;
		json_t *arr;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4)))
			if (!read_more(fd, buf, &have, sizeof(buf) - 1))
				return;
		*end = '\0';
		hl = (size_t)(end - buf) + 4;
		header(buf, "\nX-Chorus-Signature:", sig, sizeof(sig));
		header(buf, "\nContent-Length:", clen, sizeof(clen));
		bl = strtoul(clen, NULL, 10);
		while (have < hl + bl)
			if (!read_more(fd, buf, &have, sizeof(buf) - 1))
				return;
		ok = signature_ok(sig, buf + hl, bl);
		pthread_mutex_lock(&rx.lock);
		rx.requests++;
		ok ? rx.good_sigs++ : rx.bad_sigs++;
		fail = rx.requests <= rx.fail_first;
		arr = json_loadb(buf + hl, bl, 0, NULL);
		if (!fail && json_is_array(arr))
			json_array_extend(rx.events, arr);
		json_decref(arr);
		pthread_mutex_unlock(&rx.lock);
		dprintf(fd, "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n",
			fail ? "500 Internal Server Error" : "200 OK");
		memmove(buf, buf + hl + bl, have - hl - bl);
		have -= hl + bl;
	}
}

static void *receive(void *arg)
{
	while (!rx.stop) {
		struct pollfd p = {rx.fd, POLLIN, 0};
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(rx.fd, NULL, NULL);
		if (c >= 0) {
			serve(c);
			close(c);
		}
	}
	return NULL;
}

static void receiver_start(int fail_first)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(&rx, 0, sizeof(rx));
	pthread_mutex_init(&rx.lock, NULL);
	rx.fail_first = fail_first;
	rx.events = json_array();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(rx.fd >= 0);
	assert_int_equal(bind(rx.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(rx.fd, 8), 0);
	getsockname(rx.fd, (struct sockaddr *)&a, &len);
	rx.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&rx.th, NULL, receive, NULL), 0);
}

static void receiver_stop(void)
{
	rx.stop = true;
	pthread_join(rx.th, NULL);
	close(rx.fd);
	json_decref(rx.events);
	pthread_mutex_destroy(&rx.lock);
}

/* Waits until the receiver has taken an event of type. */
static bool received(const char *type)
{
	for (int i = 0; i < 2 * T / 20; i++) {
		bool found = false;
		size_t k;
		json_t *ev;

		pthread_mutex_lock(&rx.lock);
		json_array_foreach(rx.events, k, ev)
		{
			if (!strcmp(
				json_string_value(json_object_get(ev, "type")),
				type))
				found = true;
		}
		pthread_mutex_unlock(&rx.lock);
		if (found)
			return true;
		usleep(20000);
	}
	return false;
}

static void start_gw_to(uint16_t port)
{
	char url[64];
	const char *args[] = {"--webhook", url, "--webhook-secret", SECRET,
			      NULL};

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", port);
	assert_int_equal(gwt_start(&gw, args), 0);
}

/* A call that joins room and hangs up with stop. */
static void call_and_leave(const char *room)
{
	ws_client_t c;
	char path[64];

	snprintf(path, sizeof(path), "/rooms/%s", room);
	assert_int_equal(gwt_call(&c, gw.port, path, "MZwh", NULL, NULL), 0);
	assert_int_equal(
	    ws_send_text(&c, "{\"event\":\"stop\",\"streamSid\":\"MZwh\"}"), 0);
	assert_int_equal(ws_wait_close(&c, T), 1000);
	ws_free(&c);
}

static void webhook_posts_signed_batches_in_seq_order(void **state)
{
	long long last = 0;
	size_t k;
	json_t *ev;

	receiver_start(0);
	start_gw_to(rx.port);
	call_and_leave("hooked");
	assert_true(received("room.closed"));
	pthread_mutex_lock(&rx.lock);
	assert_true(rx.good_sigs >= 1);
	assert_int_equal(rx.bad_sigs, 0);
	json_array_foreach(rx.events, k, ev)
	{
		long long seq = json_integer_value(json_object_get(ev, "seq"));

		if (last)
			assert_int_equal(seq, last + 1);
		last = seq;
	}
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(rx.events, 0), "type")),
			    "room.created");
	pthread_mutex_unlock(&rx.lock);
	assert_true(gwt_metric(gw.port, "chorus_webhook_delivered_total") >= 4);
	assert_int_equal(gwt_log_count(&gw, SECRET), 0);
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
	receiver_stop();
}

static void a_failed_post_is_retried_and_delivered_once(void **state)
{
	receiver_start(2); /* two 500s, then 200 */
	start_gw_to(rx.port);
	call_and_leave("retried");
	assert_true(received("participant.left"));
	pthread_mutex_lock(&rx.lock);
	assert_true(rx.requests >= 3);
	/* Each event once, in order: the failed batches were sent again
	 * whole. */
	for (size_t k = 0; k < json_array_size(rx.events); k++) {
		json_t *ev = json_array_get(rx.events, k);

		fprintf(stderr, "  got seq %lld %s after %d requests\n",
			json_integer_value(json_object_get(ev, "seq")),
			json_string_value(json_object_get(ev, "type")),
			rx.requests);
		assert_int_equal(json_integer_value(json_object_get(ev, "seq")),
				 (long long)k + 1);
	}
	pthread_mutex_unlock(&rx.lock);
	assert_int_equal(gwt_metric(gw.port, "chorus_webhook_failed_total"), 2);
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
	receiver_stop();
}

static void a_dead_webhook_does_not_touch_the_calls(void **state)
{
	ws_client_t a, b;
	int16_t pcm[960];

	start_gw_to(ws_free_port()); /* nothing listens there */
	assert_int_equal(
	    gwt_call(&a, gw.port, "/rooms/dead", "MZd1", NULL, NULL), 0);
	assert_int_equal(
	    gwt_call(&b, gw.port, "/rooms/dead", "MZd2", NULL, NULL), 0);
	/* Both hear their mix every frame while the webhook fails. */
	for (int i = 0; i < 25; i++) {
		assert_int_equal(gwt_recv_media(&a, "MZd1", pcm, 960, T), 160);
		assert_int_equal(gwt_recv_media(&b, "MZd2", pcm, 960, T), 160);
	}
	for (int i = 0; i < T / 20 &&
			gwt_metric(gw.port, "chorus_webhook_failed_total") < 1;
	     i++)
		usleep(20000);
	assert_true(gwt_metric(gw.port, "chorus_webhook_failed_total") >= 1);
	ws_free(&a);
	ws_free(&b);
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(webhook_posts_signed_batches_in_seq_order),
	    cmocka_unit_test(a_failed_post_is_retried_and_delivered_once),
	    cmocka_unit_test(a_dead_webhook_does_not_touch_the_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
