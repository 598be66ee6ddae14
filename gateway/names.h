/*
 * names.h - the rules for what callers name: room names, the room in a
 * request path, and password comparison (docs/protocol.md).
 *
 * Pure functions on strings: no state, no I/O, safe from any thread.
 */
#ifndef CHORUS_GW_NAMES_H
#define CHORUS_GW_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define GW_ROOM_NAME_MAX 64
#define GW_PASSWORD_MAX	 128

/* 1-64 characters of [A-Za-z0-9._-]. */
bool gw_room_name_valid(const char *s, size_t len);

/* Compares passwords in time that depends only on their lengths' maximum,
 * not on where they differ. */
bool gw_password_equal(const char *a, const char *b);

/*
 * Finds the room in a request path: "/rooms/<name>" or any path under it
 * ("/rooms/<name>/..."; the name URL-decoded) copies the name into out
 * (GW_ROOM_NAME_MAX + 1 bytes) and returns 1; "/" returns 0 (the room comes
 * from customParameters); anything else, or an invalid name, returns
 * -EINVAL.
 */
int gw_room_from_path(const char *path, char *out);

/*
 * What a WebSocket upgrade on path asks for: a call on "/" (returns 0) or
 * on a room's path (returns 1, the name in out as gw_room_from_path());
 * -EINVAL for a room path with an invalid name (HTTP 400), -ENOENT for any
 * other path (HTTP 404). The one place that says which paths upgrade: a
 * new kind of WebSocket (say, an event stream) is one more case here.
 */
int gw_upgrade_path(const char *path, char *out);

#endif /* CHORUS_GW_NAMES_H */
