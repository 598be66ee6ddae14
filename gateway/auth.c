/*
 * auth.c - Twilio request signatures and join tokens (auth.h): HMAC-SHA1
 * with libcrypto, JWT HS256 with libjwt.
 */
#include "gateway/auth.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_twilio_url(char *out, size_t cap, const char *public_url,
		  const char *host, const char *path)
{
	int n;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (public_url && public_url[0]) {
		size_t len = strlen(public_url);

		/* "wss://host/" + "/rooms/x" must not give "//rooms/x". */
		if (public_url[len - 1] == '/')
			len--;
		n = snprintf(out, cap, "%.*s%s", (int)len, public_url, path);
	} else {
		if (!host || !host[0])
			return -EINVAL;
		n = snprintf(out, cap, "wss://%s%s", host, path);
	}
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int gw_twilio_signature(const char *auth_token, const char *url, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!auth_token || !auth_token[0] || !url)
		return -EINVAL;
	if (!HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token),
		  (const unsigned char *)url, strlen(url), mac, &len) ||
	    len != 20)
		return -EINVAL;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)len);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

bool gw_twilio_signature_valid(const char *auth_token, const char *url,
			       const char *sig)
{
	char want[GW_SIGNATURE_SIZE];
	bool ok;

	if (!sig || gw_twilio_signature(auth_token, url, want) < 0)
		return false;
	/* The length is no secret: every valid signature has 28 bytes. */
	ok = strlen(sig) == GW_SIGNATURE_SIZE - 1 &&
	     CRYPTO_memcmp(want, sig, GW_SIGNATURE_SIZE - 1) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* --- join tokens ------------------------------------------------------- */

static bool role_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > GW_TOKEN_ROLE_MAX)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	}
	return true;
}

int gw_token_mint(const char *secret, const char *room, const char *role,
		  unsigned ttl_s, const char *identity, char *out, size_t cap,
		  time_t *expires_at)
{
	time_t now = time(NULL), exp = now + (time_t)ttl_s;
	jwt_t *jwt = NULL;
	char *s = NULL;
	int r = -ENOMEM;

	if (!role)
		role = GW_TOKEN_ROLE_DEFAULT;
	if (!secret || !secret[0] || !room ||
	    !gw_room_name_valid(room, strlen(room)) || !role_valid(role) ||
	    (identity && strlen(identity) > GW_TOKEN_IDENTITY_MAX) || !ttl_s)
		return -EINVAL;
	if (jwt_new(&jwt))
		return -ENOMEM;
	if (jwt_add_grant(jwt, "room", room) ||
	    jwt_add_grant(jwt, "role", role) ||
	    (identity && identity[0] && jwt_add_grant(jwt, "sub", identity)) ||
	    jwt_add_grant_int(jwt, "iat", (long)now) ||
	    jwt_add_grant_int(jwt, "exp", (long)exp) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret,
			(int)strlen(secret)))
		goto out;
	s = jwt_encode_str(jwt);
	if (!s)
		goto out;
	r = strlen(s) < cap && strlen(s) <= GW_TOKEN_MAX ? 0 : -ENOSPC;
	if (!r) {
		strcpy(out, s);
		if (expires_at)
			*expires_at = exp;
	}
out:
	free(s);
	jwt_free(jwt); /* also cleanses its copy of the key */
	return r;
}

/* Copies claim name (a string of 1..cap-1 bytes) into dst; false if it is
 * missing, not a string, or too long. */
static bool claim(jwt_t *jwt, const char *name, char *dst, size_t cap)
{
	const char *v = jwt_get_grant(jwt, name);

	if (!v || !v[0] || strlen(v) >= cap)
		return false;
	strcpy(dst, v);
	return true;
}

#define REFUSE(...)                                                            \
	do {                                                                   \
		snprintf(why, why_len, __VA_ARGS__);                           \
		r = -EACCES;                                                   \
		goto out;                                                      \
	} while (0)

int gw_token_verify(const char *secret, const char *token, const char *room,
		    time_t now, gw_token_claims_t *claims, char *why,
		    size_t why_len)
{
	jwt_t *jwt = NULL;
	long exp;
	int r = 0;

	memset(claims, 0, sizeof(*claims));
	if (!secret || !secret[0] || !token || strlen(token) > GW_TOKEN_MAX)
		REFUSE("malformed or badly signed");
	/* With a key, libjwt checks the signature; the algorithm is checked
	 * here so that no other (or "none") is ever taken. */
	if (jwt_decode(&jwt, token, (const unsigned char *)secret,
		       (int)strlen(secret)) ||
	    jwt_get_alg(jwt) != JWT_ALG_HS256)
		REFUSE("malformed or badly signed");
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= 0)
		REFUSE("no expiry");
	if ((time_t)exp <= now)
		REFUSE("expired");
	if (!claim(jwt, "room", claims->room, sizeof(claims->room)))
		REFUSE("no room");
	if (strcmp(claims->room, room))
		REFUSE("for another room");
	if (!claim(jwt, "role", claims->role, sizeof(claims->role)) ||
	    !role_valid(claims->role))
		REFUSE("no valid role");
	if (jwt_get_grant(jwt, "sub") &&
	    !claim(jwt, "sub", claims->identity, sizeof(claims->identity)))
		REFUSE("identity too long");
	claims->expires_at = (time_t)exp;
out:
	if (r)
		memset(claims, 0, sizeof(*claims));
	jwt_free(jwt);
	return r;
}
