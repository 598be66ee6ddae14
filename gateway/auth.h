/*
 * auth.h - who may join: Twilio request signatures and join tokens.
 *
 * Twilio signs each WebSocket upgrade it makes with X-Twilio-Signature:
 * base64(HMAC-SHA1(auth token, full URL)), the URL being the wss:// URL the
 * platform opened. gw_twilio_url() rebuilds that URL from what the gateway
 * sees, gw_twilio_signature_valid() checks a header against it in constant
 * time.
 *
 * Join tokens let clients that are not the platform (the mock client,
 * browsers, agents) in: a JWT (RFC 7519) signed with HS256 and the server's
 * join secret, carrying the room ("room"), a role ("role"), an optional
 * identity ("sub"), and its expiry ("exp", seconds since the epoch). The
 * client passes it as start.customParameters.token.
 *
 * Pure functions: no state, no I/O, no logging; safe from any thread.
 * Nothing here keeps a secret after it returns.
 */
#ifndef CHORUS_GW_AUTH_H
#define CHORUS_GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "gateway/names.h"

/* base64 of a 20-byte HMAC-SHA1, and its NUL. */
#define GW_SIGNATURE_SIZE 29
/* The longest token accepted in customParameters.token, and minted. */
#define GW_TOKEN_MAX	      1024
#define GW_TOKEN_ROLE_MAX     32
#define GW_TOKEN_IDENTITY_MAX 128
/* The role a token carries when the minter names none. */
#define GW_TOKEN_ROLE_DEFAULT "participant"

/*
 * Writes the URL the platform signed into out (cap bytes): public_url
 * (e.g. "wss://chorus.example.com", a trailing '/' dropped; it may carry a
 * path prefix) followed by path, or, when public_url is NULL or "",
 * "wss://" + host + path. The scheme is wss because Twilio opens only
 * wss:// streams: behind a TLS proxy the gateway cannot see it. Returns 0,
 * -EINVAL (no host, or a path not starting with '/'), or -ENOSPC.
 */
int gw_twilio_url(char *out, size_t cap, const char *public_url,
		  const char *host, const char *path);

/*
 * Computes the signature of url with auth_token into out
 * (GW_SIGNATURE_SIZE bytes, NUL-terminated). Returns 0 or -EINVAL.
 */
int gw_twilio_signature(const char *auth_token, const char *url, char *out);

/* true if sig is url's signature with auth_token; compared in constant
 * time. A NULL or empty sig is not valid. */
bool gw_twilio_signature_valid(const char *auth_token, const char *url,
			       const char *sig);

/* What a valid token says. */
typedef struct gw_token_claims {
	char room[GW_ROOM_NAME_MAX + 1];
	char role[GW_TOKEN_ROLE_MAX + 1];
	char identity[GW_TOKEN_IDENTITY_MAX + 1]; /* "" if none */
	time_t expires_at;
} gw_token_claims_t;

/*
 * Mints a token for room with role (NULL: GW_TOKEN_ROLE_DEFAULT), valid
 * for ttl_s seconds from now, with an optional identity (NULL or "": none),
 * signed with secret. Writes it NUL-terminated into out (cap bytes) and its
 * expiry into *expires_at (if not NULL). Returns 0, -EINVAL (no secret, an
 * invalid room name, a role not of 1-32 [a-z0-9_-], an identity over
 * GW_TOKEN_IDENTITY_MAX bytes, ttl_s 0), -ENOSPC, or -ENOMEM.
 */
int gw_token_mint(const char *secret, const char *room, const char *role,
		  unsigned ttl_s, const char *identity, char *out, size_t cap,
		  time_t *expires_at);

/*
 * Verifies token (NUL-terminated) with secret for room at time now: an HS256
 * signature by secret, an "exp" after now, and a "room" equal to room.
 * Returns 0 with *claims filled, or -EACCES with a short reason in why
 * (why_len bytes; no part of the token or the secret in it): "malformed or
 * badly signed", "expired", "for another room", ...
 */
int gw_token_verify(const char *secret, const char *token, const char *room,
		    time_t now, gw_token_claims_t *claims, char *why,
		    size_t why_len);

#endif /* CHORUS_GW_AUTH_H */
