/*
 * End-to-end: who may join and create, against the real chorus-gateway.
 * Twilio signatures are computed independently with the openssl CLI, join
 * tokens with libcrypto's HMAC (not the gateway's code), and each refusal
 * is checked by its HTTP status or close code and its log line, with the
 * secrets absent from the log.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/gwtest.h"
#include "tests/support/tsupport.h"

#define T 5000 /* ms: generous, the machine may be loaded */

#define AUTH_TOKEN  "twilio-auth-t0ken"
#define JOIN_SECRET "join-s3cret-value"

static gwt_proc_t gw;

static void start_gw(const char *const *args)
{
	assert_int_equal(gwt_start(&gw, args), 0);
}

/* Stops the gateway after checking that no secret reached its log. */
static void stop_gw(void)
{
	assert_int_equal(gwt_log_count(&gw, AUTH_TOKEN), 0);
	assert_int_equal(gwt_log_count(&gw, JOIN_SECRET), 0);
	assert_int_equal(gwt_stop(&gw, SIGTERM, 5000), 0);
}

/* base64(HMAC-SHA1(key, url)) by the openssl CLI, as the issue asks. */
static void openssl_signature(const char *key, const char *url, char *out,
			      size_t cap)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "printf %%s '%s' | openssl dgst -sha1 -hmac '%s' -binary | "
		 "base64",
		 url, key);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)cap, p));
	pclose(p);
	out[strcspn(out, "\r\n")] = '\0';
	assert_int_equal(strlen(out), 28);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	char *w = out;

	for (int i = 0; i < len; i++) {
		char ch = out[i];

		if (ch == '=')
			break;
		*w++ = ch == '+' ? '-' : ch == '/' ? '_' : ch;
	}
	*w = '\0';
}

/* A JWT HS256 over claims (JSON), made here with libcrypto. */
static void make_jwt(const char *secret, const char *claims, char *out)
{
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[32];
	unsigned int mlen = 0;
	char h[128], c[512], s[64];

	b64url((const unsigned char *)header, strlen(header), h);
	b64url((const unsigned char *)claims, strlen(claims), c);
	sprintf(out, "%s.%s", h, c);
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)out, strlen(out), mac, &mlen);
	b64url(mac, mlen, s);
	strcat(out, ".");
	strcat(out, s);
}

static void token_for(const char *room, long exp_from_now, char *out)
{
	char claims[256];

	snprintf(claims, sizeof(claims),
		 "{\"room\":\"%s\",\"role\":\"participant\",\"sub\":\"tester\","
		 "\"exp\":%lld}",
		 room, (long long)time(NULL) + exp_from_now);
	make_jwt(JOIN_SECRET, claims, out);
}

/* Opens path with extra headers and sends connected + start with room
 * and token (either may be NULL). */
static int call_with(ws_client_t *c, const char *path, const char *headers,
		     const char *sid, const char *room, const char *token)
{
	char params[2048];
	int r = ws_connect_hdr(c, gw.port, path, headers, T);

	if (r < 0)
		return r;
	snprintf(params, sizeof(params), "%s%s%s%s%s%s%s",
		 room ? "\"room\":\"" : "", room ? room : "", room ? "\"" : "",
		 room && token ? "," : "", token ? "\"token\":\"" : "",
		 token ? token : "", token ? "\"" : "");
	return gwt_start_call(c, sid, params);
}

/* Admission is proven by the first media frame. */
static void joins(ws_client_t *c, const char *path, const char *headers,
		  const char *sid, const char *room, const char *token)
{
	int16_t pcm[960];

	assert_int_equal(call_with(c, path, headers, sid, room, token), 0);
	assert_int_equal(gwt_recv_media(c, sid, pcm, 960, T), 160);
}

static void closed_with(const char *path, const char *headers, const char *room,
			const char *token, int code)
{
	ws_client_t c;

	assert_int_equal(call_with(&c, path, headers, "MZref", room, token), 0);
	assert_int_equal(ws_wait_close(&c, T), code);
	ws_free(&c);
}

static void http_refused(const char *path, const char *headers, int status)
{
	ws_client_t c;

	assert_int_equal(ws_connect_hdr(&c, gw.port, path, headers, T),
			 -EPROTO);
	assert_int_equal(c.http_status, status);
	ws_free(&c);
}

static void sig_header(const char *url, char *hdr, size_t cap)
{
	char sig[64];

	openssl_signature(AUTH_TOKEN, url, sig, sizeof(sig));
	snprintf(hdr, cap, "X-Twilio-Signature: %s\r\n", sig);
}

/* --- Twilio signatures ------------------------------------------------- */

static void signed_upgrade_joins_and_unsigned_or_wrong_gets_403(void **state)
{
	const char *args[] = {"--twilio-auth-token", AUTH_TOKEN, NULL};
	char url[128], hdr[128], other[128];
	ws_client_t c;

	start_gw(args);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/rooms/signed", gw.port);
	sig_header(url, hdr, sizeof(hdr));
	joins(&c, "/rooms/signed", hdr, "MZsigned", NULL, NULL);
	assert_int_equal(gwt_log_count2(&gw, "join room=signed", "created"), 1);
	/* The same signature on another path is wrong. */
	http_refused("/rooms/other", hdr, 403);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/rooms/signed", gw.port);
	sig_header(url, other, sizeof(other));
	http_refused("/rooms/signed", other, 403);
	http_refused("/rooms/signed", "X-Twilio-Signature: AAAA\r\n", 403);
	assert_int_equal(gwt_log_count2(&gw, "refuse http=403",
					"invalid X-Twilio-Signature"),
			 3);
	http_refused("/rooms/signed", NULL, 403);
	assert_int_equal(gwt_log_count2(&gw, "refuse http=403",
					"missing X-Twilio-Signature"),
			 1);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

static void public_url_gives_the_signed_scheme_and_host(void **state)
{
	const char *args[] = {"--twilio-auth-token", AUTH_TOKEN, "--public-url",
			      "wss://chorus.example.com", NULL};
	char url[128], hdr[128];
	ws_client_t c;

	start_gw(args);
	sig_header("wss://chorus.example.com/rooms/proxied", hdr, sizeof(hdr));
	joins(&c, "/rooms/proxied", hdr, "MZproxied", NULL, NULL);
	/* What the gateway itself sees is not what the platform signed. */
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/rooms/proxied", gw.port);
	sig_header(url, hdr, sizeof(hdr));
	http_refused("/rooms/proxied", hdr, 403);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

/* --- join tokens ------------------------------------------------------- */

static void valid_token_joins_and_expired_or_wrong_room_gets_4001(void **state)
{
	const char *args[] = {"--join-secret", JOIN_SECRET, NULL};
	char tok[1024];
	ws_client_t c;

	start_gw(args);
	token_for("tokroom", 60, tok);
	joins(&c, "/rooms/tokroom", NULL, "MZtok", NULL, tok);
	assert_int_equal(gwt_log_count2(&gw, "token accepted room=tokroom",
					"identity=tester"),
			 1);
	token_for("tokroom", -5, tok);
	closed_with("/rooms/tokroom", NULL, NULL, tok, 4001);
	assert_int_equal(gwt_log_count2(&gw, "code=4001", "token: expired"), 1);
	token_for("elsewhere", 60, tok);
	closed_with("/rooms/tokroom", NULL, NULL, tok, 4001);
	assert_int_equal(
	    gwt_log_count2(&gw, "code=4001", "token: for another room"), 1);
	/* Signed with another key. */
	make_jwt("not-the-secret",
		 "{\"room\":\"tokroom\",\"role\":\"participant\","
		 "\"exp\":4102444800}",
		 tok);
	closed_with("/rooms/tokroom", NULL, NULL, tok, 4001);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

static void token_skips_the_room_password(void **state)
{
	char cfgpath[] = "/tmp/chorus-auth-cfg-XXXXXX", tok[1024];
	const char *args[] = {"--join-secret", JOIN_SECRET, "--config", cfgpath,
			      NULL};
	int fd = mkstemp(cfgpath);
	ws_client_t c;

	assert_true(fd >= 0);
	assert_true(dprintf(fd, "{\"rooms\":[{\"name\":\"locked\","
				"\"password\":\"pw\"}]}") > 0);
	close(fd);
	start_gw(args);
	closed_with("/rooms/locked", NULL, NULL, NULL, 4001);
	token_for("locked", 60, tok);
	joins(&c, "/rooms/locked", NULL, "MZpw", NULL, tok);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
	unlink(cfgpath);
}

static void unsigned_stream_needs_a_token_when_both_are_set(void **state)
{
	const char *args[] = {"--twilio-auth-token", AUTH_TOKEN,
			      "--join-secret", JOIN_SECRET, NULL};
	char tok[1024];
	ws_client_t c;

	start_gw(args);
	/* No signature: the upgrade passes, start must bring a token. */
	closed_with("/rooms/mixed", NULL, NULL, NULL, 4001);
	assert_int_equal(gwt_log_count(&gw, "a join token is required"), 1);
	http_refused("/rooms/mixed", "X-Twilio-Signature: AAAA\r\n", 403);
	token_for("mixed", 60, tok);
	joins(&c, "/rooms/mixed", NULL, "MZmixed", NULL, tok);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

/* Runs chorus-client for a 1 s call to room with token; returns its exit
 * status (0: the call ran and the server ended it normally). */
static int client_with_token(const char *room, const char *token)
{
	const char *bin = getenv("CHORUS_CLIENT");
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "timeout 30 %s --quiet --duration 1 --token '%s' "
		 "ws://127.0.0.1:%u/rooms/%s >/dev/null 2>&1",
		 bin ? bin : "build/chorus-client", token, gw.port, room);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void chorus_client_sends_its_token(void **state)
{
	const char *args[] = {"--join-secret", JOIN_SECRET, NULL};
	char tok[1024];

	start_gw(args);
	token_for("cli", 60, tok);
	assert_int_equal(client_with_token("cli", tok), 0);
	assert_int_equal(gwt_log_count2(&gw, "join room=cli", "created"), 1);
	token_for("cli", -1, tok);
	assert_int_not_equal(client_with_token("cli", tok), 0);
	assert_int_equal(gwt_log_count2(&gw, "code=4001", "token: expired"), 1);
	stop_gw();
}

/* --- room creation policy ---------------------------------------------- */

static void open_policy_by_default_lets_anyone_create_and_warns(void **state)
{
	ws_client_t c;

	start_gw(NULL);
	assert_int_equal(gwt_log_count(&gw, "room policy open"), 1);
	joins(&c, "/rooms/anyone", NULL, "MZopen", NULL, NULL);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

static void authenticated_policy_lets_only_tokens_create(void **state)
{
	const char *args[] = {"--join-secret", JOIN_SECRET, NULL};
	char tok[1024];
	ws_client_t a, b;

	start_gw(args); /* authenticated by default with a secret */
	assert_int_equal(gwt_log_count(&gw, "room policy open"), 0);
	closed_with("/rooms/auth", NULL, NULL, NULL, 4004);
	token_for("auth", 60, tok);
	joins(&a, "/rooms/auth", NULL, "MZauth1", NULL, tok);
	/* Once it exists, a caller without a token may join it. */
	joins(&b, "/", NULL, "MZauth2", "auth", NULL);
	ws_close(&a, 1000);
	ws_close(&b, 1000);
	ws_free(&a);
	ws_free(&b);
	stop_gw();
}

static void signed_stream_creates_under_authenticated(void **state)
{
	const char *args[] = {"--twilio-auth-token", AUTH_TOKEN,
			      "--room-policy", "authenticated", NULL};
	char url[128], hdr[128];
	ws_client_t c;

	start_gw(args);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/rooms/fresh", gw.port);
	sig_header(url, hdr, sizeof(hdr));
	joins(&c, "/rooms/fresh", hdr, "MZfresh", NULL, NULL);
	assert_int_equal(gwt_log_count2(&gw, "join room=fresh", "created"), 1);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

static void closed_policy_creates_nothing_even_with_a_token(void **state)
{
	char cfgpath[] = "/tmp/chorus-auth-cfg-XXXXXX", tok[1024];
	const char *args[] = {
	    "--join-secret", JOIN_SECRET, "--room-policy", "closed", "--config",
	    cfgpath,	     NULL};
	int fd = mkstemp(cfgpath);
	ws_client_t c;

	assert_true(fd >= 0);
	assert_true(dprintf(fd, "{\"rooms\":[{\"name\":\"fixed\"}]}") > 0);
	close(fd);
	start_gw(args);
	token_for("adhoc", 60, tok);
	closed_with("/rooms/adhoc", NULL, NULL, tok, 4004);
	closed_with("/rooms/adhoc2", NULL, NULL, NULL, 4004);
	joins(&c, "/rooms/fixed", NULL, "MZfixed", NULL, NULL);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
	unlink(cfgpath);
}

static void explicit_open_policy_overrides_the_secret_default(void **state)
{
	const char *args[] = {"--join-secret", JOIN_SECRET, "--room-policy",
			      "open", NULL};
	ws_client_t c;

	start_gw(args);
	joins(&c, "/rooms/free", NULL, "MZfree", NULL, NULL);
	ws_close(&c, 1000);
	ws_free(&c);
	stop_gw();
}

/* --- TLS ----------------------------------------------------------------- */

/* Runs cmd and returns its output (cap bytes, NUL-terminated) and exit
 * status. */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void call_and_healthz_over_tls(void **state)
{
	char dir[] = "/tmp/chorus-tls-XXXXXX", cert[64], key[64];
	char cmd[1024], out[4096];
	const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
	const char *bin = getenv("CHORUS_CLIENT");

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
		 "-subj /CN=127.0.0.1 -keyout %s -out %s 2>&1",
		 key, cert);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	start_gw(args);
	assert_int_equal(gwt_log_count(&gw, "TLS (wss:// and https://)"), 1);
	/* https:// */
	snprintf(cmd, sizeof(cmd),
		 "printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n"
		 "Connection: close\\r\\n\\r\\n' | timeout 20 openssl "
		 "s_client -quiet -connect 127.0.0.1:%u 2>/dev/null",
		 gw.port);
	run(cmd, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200"));
	/* Plain HTTP on the TLS port gets no answer. */
	assert_int_not_equal(ws_http_get(gw.port, "/healthz", NULL, 0, 2000),
			     200);
	/* A whole call over wss:// with the mock client. */
	snprintf(cmd, sizeof(cmd),
		 "timeout 30 %s --tone 440 --duration 1 "
		 "wss://127.0.0.1:%u/rooms/tls 2>&1",
		 bin ? bin : "build/chorus-client", gw.port);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "sent 50 frames"));
	assert_null(strstr(out, "received 0,"));
	assert_non_null(strstr(out, "closed by server: 1000"));
	assert_int_equal(gwt_log_count2(&gw, "join room=tls", "created"), 1);
	stop_gw();
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		signed_upgrade_joins_and_unsigned_or_wrong_gets_403),
	    cmocka_unit_test(public_url_gives_the_signed_scheme_and_host),
	    cmocka_unit_test(
		valid_token_joins_and_expired_or_wrong_room_gets_4001),
	    cmocka_unit_test(token_skips_the_room_password),
	    cmocka_unit_test(unsigned_stream_needs_a_token_when_both_are_set),
	    cmocka_unit_test(chorus_client_sends_its_token),
	    cmocka_unit_test(
		open_policy_by_default_lets_anyone_create_and_warns),
	    cmocka_unit_test(authenticated_policy_lets_only_tokens_create),
	    cmocka_unit_test(signed_stream_creates_under_authenticated),
	    cmocka_unit_test(closed_policy_creates_nothing_even_with_a_token),
	    cmocka_unit_test(explicit_open_policy_overrides_the_secret_default),
	    cmocka_unit_test(call_and_healthz_over_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
