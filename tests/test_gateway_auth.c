/*
 * Who may join, without a server: the URL Twilio signs, its signature
 * (against vectors made with `openssl dgst -sha1 -hmac`), and join tokens
 * (mint/verify round trip, expiry, wrong room, tampering, other
 * algorithms; the HS256 vector was signed with `openssl dgst -sha256`).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gateway/auth.h"
#include "gateway/config.h"

/* --- Twilio signatures ------------------------------------------------- */

static void signed_url_comes_from_public_url_else_host(void **state)
{
	char url[256];

	assert_int_equal(
	    gw_twilio_url(url, sizeof(url), NULL, "127.0.0.1:8080", "/rooms/a"),
	    0);
	assert_string_equal(url, "wss://127.0.0.1:8080/rooms/a");
	assert_int_equal(gw_twilio_url(url, sizeof(url),
				       "wss://chorus.example.com/",
				       "10.0.0.5:8080", "/rooms/a"),
			 0);
	assert_string_equal(url, "wss://chorus.example.com/rooms/a");
	assert_int_equal(
	    gw_twilio_url(url, sizeof(url), "wss://h.example/pre", NULL, "/"),
	    0);
	assert_string_equal(url, "wss://h.example/pre/");
	assert_int_equal(gw_twilio_url(url, sizeof(url), "", NULL, "/"),
			 -EINVAL);
	assert_int_equal(gw_twilio_url(url, sizeof(url), NULL, "h", "rooms"),
			 -EINVAL);
	assert_int_equal(gw_twilio_url(url, 10, NULL, "h.example", "/rooms/a"),
			 -ENOSPC);
}

static void signature_matches_openssl(void **state)
{
	/* printf %s wss://chorus.example.com/rooms/standup |
	 *   openssl dgst -sha1 -hmac tok3n -binary | base64 */
	const char *url = "wss://chorus.example.com/rooms/standup";
	const char *want = "GvtEIlh7FHwXb3XK7Tjxtw1v0CA=";
	char sig[GW_SIGNATURE_SIZE];

	assert_int_equal(gw_twilio_signature("tok3n", url, sig), 0);
	assert_string_equal(sig, want);
	assert_true(gw_twilio_signature_valid("tok3n", url, want));
	assert_int_equal(gw_twilio_signature("", url, sig), -EINVAL);
}

static void wrong_missing_or_truncated_signatures_fail(void **state)
{
	const char *url = "wss://chorus.example.com/rooms/standup";

	assert_false(gw_twilio_signature_valid("tok3n", url, NULL));
	assert_false(gw_twilio_signature_valid("tok3n", url, ""));
	assert_false(gw_twilio_signature_valid("tok3n", url,
					       "GvtEIlh7FHwXb3XK7Tjxtw1v0CA"));
	assert_false(gw_twilio_signature_valid(
	    "tok3n", url, "GvtEIlh7FHwXb3XK7Tjxtw1v0CA=x"));
	assert_false(gw_twilio_signature_valid("tok3n", url,
					       "HvtEIlh7FHwXb3XK7Tjxtw1v0CA="));
	assert_false(gw_twilio_signature_valid("other", url,
					       "GvtEIlh7FHwXb3XK7Tjxtw1v0CA="));
	assert_false(gw_twilio_signature_valid(
	    "tok3n", "wss://chorus.example.com/rooms/standuq",
	    "GvtEIlh7FHwXb3XK7Tjxtw1v0CA="));
}

/* --- join tokens ------------------------------------------------------- */

static void minted_token_verifies_with_its_claims(void **state)
{
	char tok[GW_TOKEN_MAX + 1], why[64];
	gw_token_claims_t cl;
	time_t exp = 0, now = time(NULL);

	assert_int_equal(gw_token_mint("s3cret", "standup", "listener", 60,
				       "agent-7", tok, sizeof(tok), &exp),
			 0);
	assert_true(exp >= now + 60 && exp <= now + 62);
	assert_int_equal(gw_token_verify("s3cret", tok, "standup", now, &cl,
					 why, sizeof(why)),
			 0);
	assert_string_equal(cl.room, "standup");
	assert_string_equal(cl.role, "listener");
	assert_string_equal(cl.identity, "agent-7");
	assert_true(cl.expires_at == exp);
	/* Defaults: the participant role, no identity. */
	assert_int_equal(gw_token_mint("s3cret", "standup", NULL, 60, NULL, tok,
				       sizeof(tok), NULL),
			 0);
	assert_int_equal(gw_token_verify("s3cret", tok, "standup", now, &cl,
					 why, sizeof(why)),
			 0);
	assert_string_equal(cl.role, GW_TOKEN_ROLE_DEFAULT);
	assert_string_equal(cl.identity, "");
}

static void expired_token_is_refused(void **state)
{
	char tok[GW_TOKEN_MAX + 1], why[64];
	gw_token_claims_t cl;
	time_t exp;

	assert_int_equal(gw_token_mint("s3cret", "standup", NULL, 5, NULL, tok,
				       sizeof(tok), &exp),
			 0);
	assert_int_equal(gw_token_verify("s3cret", tok, "standup", exp - 1, &cl,
					 why, sizeof(why)),
			 0);
	assert_int_equal(gw_token_verify("s3cret", tok, "standup", exp, &cl,
					 why, sizeof(why)),
			 -EACCES);
	assert_string_equal(why, "expired");
}

static void token_for_another_room_is_refused(void **state)
{
	char tok[GW_TOKEN_MAX + 1], why[64];
	gw_token_claims_t cl;

	assert_int_equal(gw_token_mint("s3cret", "standup", NULL, 60, NULL, tok,
				       sizeof(tok), NULL),
			 0);
	assert_int_equal(gw_token_verify("s3cret", tok, "standup2", time(NULL),
					 &cl, why, sizeof(why)),
			 -EACCES);
	assert_string_equal(why, "for another room");
	assert_string_equal(cl.room, "");
}

static void tampered_or_foreign_tokens_are_refused(void **state)
{
	char tok[GW_TOKEN_MAX + 1], why[64];
	gw_token_claims_t cl;
	time_t now = time(NULL);
	char *dot;

	assert_int_equal(gw_token_mint("s3cret", "standup", NULL, 60, NULL, tok,
				       sizeof(tok), NULL),
			 0);
	/* Another secret. */
	assert_int_equal(gw_token_verify("other", tok, "standup", now, &cl, why,
					 sizeof(why)),
			 -EACCES);
	assert_string_equal(why, "malformed or badly signed");
	/* One character of the claims changed. */
	dot = strchr(tok, '.');
	assert_non_null(dot);
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	assert_int_equal(gw_token_verify("s3cret", tok, "standup", now, &cl,
					 why, sizeof(why)),
			 -EACCES);
	assert_int_equal(gw_token_verify("s3cret", "", "standup", now, &cl, why,
					 sizeof(why)),
			 -EACCES);
	assert_int_equal(gw_token_verify("s3cret", "a.b.c", "standup", now, &cl,
					 why, sizeof(why)),
			 -EACCES);
}

static void
independently_signed_token_verifies_and_alg_none_does_not(void **state)
{
	/* {"alg":"HS256","typ":"JWT"}.{"room":"standup","role":"participant",
	 * "exp":4102444800}, signed with openssl dgst -sha256 -hmac s3cret. */
	const char *hs256 =
	    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	    "eyJyb29tIjoic3RhbmR1cCIsInJvbGUiOiJwYXJ0aWNpcGFudCIsImV4cCI6NDEwMj"
	    "Q0NDgwMH0.05rKwVY5jvLLtIHgtvKAoMlfpyh35gY5WTadIT2c7ns";
	/* The same claims with {"alg":"none"} and no signature. */
	const char *none =
	    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	    "eyJyb29tIjoic3RhbmR1cCIsInJvbGUiOiJwYXJ0aWNpcGFudCIsImV4cCI6NDEwMj"
	    "Q0NDgwMH0.";
	char why[64];
	gw_token_claims_t cl;

	assert_int_equal(gw_token_verify("s3cret", hs256, "standup", time(NULL),
					 &cl, why, sizeof(why)),
			 0);
	assert_int_equal(cl.expires_at, 4102444800);
	assert_int_equal(gw_token_verify("s3cret", none, "standup", time(NULL),
					 &cl, why, sizeof(why)),
			 -EACCES);
}

static void mint_refuses_bad_arguments(void **state)
{
	char tok[GW_TOKEN_MAX + 1];

	assert_int_equal(gw_token_mint("", "standup", NULL, 60, NULL, tok,
				       sizeof(tok), NULL),
			 -EINVAL);
	assert_int_equal(gw_token_mint("k", "bad room", NULL, 60, NULL, tok,
				       sizeof(tok), NULL),
			 -EINVAL);
	assert_int_equal(gw_token_mint("k", "standup", "Admin!", 60, NULL, tok,
				       sizeof(tok), NULL),
			 -EINVAL);
	assert_int_equal(gw_token_mint("k", "standup", NULL, 0, NULL, tok,
				       sizeof(tok), NULL),
			 -EINVAL);
	assert_int_equal(
	    gw_token_mint("k", "standup", NULL, 60, NULL, tok, 20, NULL),
	    -ENOSPC);
}

/* --- room policy -------------------------------------------------------- */

static void
room_policy_defaults_to_authenticated_only_with_a_secret(void **state)
{
	char *open_args[] = {"gw", "--room-policy", "open", NULL};
	char *bad_args[] = {"gw", "--room-policy", "anyone", NULL};
	char *no_auto[] = {"gw", "--no-auto-create", NULL};
	char err[GW_ERR_LEN];
	gw_config_t c;

	gw_config_default(&c);
	assert_int_equal(gw_config_policy(&c), GW_POLICY_OPEN);
	strcpy(c.join_secret, "k");
	assert_int_equal(gw_config_policy(&c), GW_POLICY_AUTHENTICATED);
	gw_config_default(&c);
	strcpy(c.twilio_auth_token, "k");
	assert_int_equal(gw_config_policy(&c), GW_POLICY_AUTHENTICATED);
	assert_int_equal(gw_config_from_args(&c, 3, open_args, err), 0);
	assert_int_equal(gw_config_policy(&c), GW_POLICY_OPEN);
	assert_int_equal(gw_config_from_args(&c, 3, bad_args, err), -EINVAL);
	/* --no-auto-create is --room-policy closed, whatever else is set. */
	assert_int_equal(gw_config_from_args(&c, 2, no_auto, err), 0);
	assert_int_equal(gw_config_policy(&c), GW_POLICY_CLOSED);
	assert_string_equal(gw_room_policy_name(GW_POLICY_CLOSED), "closed");
}

static void tls_needs_both_files_and_public_url_a_ws_scheme(void **state)
{
	char err[GW_ERR_LEN];
	gw_config_t c;

	gw_config_default(&c);
	strcpy(c.tls_cert, "/x.pem");
	assert_int_equal(gw_config_validate(&c, err), -EINVAL);
	strcpy(c.tls_key, "/x.key");
	assert_int_equal(gw_config_validate(&c, err), 0);
	strcpy(c.public_url, "https://chorus.example.com");
	assert_int_equal(gw_config_validate(&c, err), -EINVAL);
	strcpy(c.public_url, "wss://chorus.example.com");
	assert_int_equal(gw_config_validate(&c, err), 0);
}

static void secret_too_long_is_refused_without_echoing_it(void **state)
{
	char big[300], err[GW_ERR_LEN];
	char *args[] = {"gw", "--join-secret", big, NULL};
	gw_config_t c;

	memset(big, 'Q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gw_config_default(&c);
	assert_int_equal(gw_config_from_args(&c, 3, args, err), -EINVAL);
	assert_non_null(strstr(err, "--join-secret"));
	assert_null(strstr(err, "QQQQ"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(signed_url_comes_from_public_url_else_host),
	    cmocka_unit_test(signature_matches_openssl),
	    cmocka_unit_test(wrong_missing_or_truncated_signatures_fail),
	    cmocka_unit_test(minted_token_verifies_with_its_claims),
	    cmocka_unit_test(expired_token_is_refused),
	    cmocka_unit_test(token_for_another_room_is_refused),
	    cmocka_unit_test(tampered_or_foreign_tokens_are_refused),
	    cmocka_unit_test(
		independently_signed_token_verifies_and_alg_none_does_not),
	    cmocka_unit_test(mint_refuses_bad_arguments),
	    cmocka_unit_test(
		room_policy_defaults_to_authenticated_only_with_a_secret),
	    cmocka_unit_test(tls_needs_both_files_and_public_url_a_ws_scheme),
	    cmocka_unit_test(secret_too_long_is_refused_without_echoing_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
