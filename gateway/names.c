/*
 * names.c - room names, paths and passwords (names.h).
 */
#include "gateway/names.h"

#include <errno.h>
#include <string.h>

bool gw_room_name_valid(const char *s, size_t len)
{
	if (len < 1 || len > GW_ROOM_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

bool gw_password_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t n = la > lb ? la : lb;
	unsigned diff = la != lb;

	/* Reads every byte of both up to the longer length (past a shorter
	 * one's end it compares against its NUL), so the time does not say
	 * where the first difference is. */
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = i < la ? (unsigned char)a[i] : 0;
		unsigned char cb = i < lb ? (unsigned char)b[i] : 0;

		diff |= ca ^ cb;
	}
	return diff == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gw_upgrade_path(const char *path, char *out)
{
	int r = gw_room_from_path(path, out);

	if (r >= 0 || !strncmp(path, "/rooms/", 7))
		return r;
	return -ENOENT;
}

int gw_room_from_path(const char *path, char *out)
{
	static const char prefix[] = "/rooms/";
	size_t n = 0;
	const char *s;

	if (!strcmp(path, "/") || !path[0])
		return 0;
	if (strncmp(path, prefix, sizeof(prefix) - 1))
		return -EINVAL;
	for (s = path + sizeof(prefix) - 1; *s; s++) {
		char ch = *s;

		if (ch == '/')
			break; /* what follows the room is the caller's */
		if (ch == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (lo < 0)
				return -EINVAL;
			ch = (char)(hi * 16 + lo);
			s += 2;
		}
		if (n >= GW_ROOM_NAME_MAX)
			return -EINVAL;
		out[n++] = ch;
	}
	out[n] = '\0';
	return gw_room_name_valid(out, n) ? 1 : -EINVAL;
}
