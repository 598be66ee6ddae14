/*
 * access.c - the admin endpoints' access rule (access.h).
 */
#include "gateway/access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Long enough for any configured token and a header's framing. */
#define HDR_MAX 512

bool gw_access_secret_equal(const char *want, const char *got)
{
	size_t n = strlen(want), m = strlen(got);
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)want[i] ^
			(unsigned char)(i < m ? got[i] : 0);
	return diff == 0;
}

static bool on_loopback(struct lws *wsi)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = lws_get_socket_fd(wsi);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
						   0, 0, 0, 0, 0xff, 0xff};

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (!memcmp(a, mapped, 12) && a[12] == 127);
	}
	return false;
}

/* The token after "Bearer " in Authorization, into out. */
static bool bearer(struct lws *wsi, char *out, size_t cap)
{
	char h[HDR_MAX];

	if (lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION) <=
		0 ||
	    strncasecmp(h, "Bearer ", 7))
		return false;
	snprintf(out, cap, "%s", h + 7);
	return true;
}

/* The token of a "chorus-token.<token>" item in Sec-WebSocket-Protocol. */
static bool from_subprotocol(struct lws *wsi, char *out, size_t cap)
{
	char h[HDR_MAX], *save = NULL;

	if (lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_PROTOCOL) <= 0)
		return false;
	for (char *t = strtok_r(h, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		if (!strncmp(t, GW_ACCESS_TOKEN_PROTOCOL,
			     strlen(GW_ACCESS_TOKEN_PROTOCOL))) {
			snprintf(out, cap, "%s",
				 t + strlen(GW_ACCESS_TOKEN_PROTOCOL));
			return true;
		}
	}
	return false;
}

int gw_access_admin(struct lws *wsi, const gw_config_t *c, bool from_protocol)
{
	char got[HDR_MAX];

	if (!c->admin_token[0])
		return on_loopback(wsi) ? 0 : -EPERM;
	if (bearer(wsi, got, sizeof(got)) &&
	    gw_access_secret_equal(c->admin_token, got))
		return 0;
	if (from_protocol && from_subprotocol(wsi, got, sizeof(got)) &&
	    gw_access_secret_equal(c->admin_token, got))
		return 0;
	return -EACCES;
}
