/*
 * access.c - the admin endpoints' access rule (access.h).
 */
#include "gateway/access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/names.h"
#include "gateway/sources.h"

/* Long enough for any configured token and a header's framing. */
#define HDR_MAX 512

bool gw_access_secret_equal(const char *want, const char *got)
{
	return gw_password_equal(want, got);
}

static bool loopback_text(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

bool gw_access_on_loopback(struct lws *wsi, const gw_config_t *c)
{
	char peer[GW_SOURCE_MAX], xff[256], src[GW_SOURCE_MAX];
	gw_cidr_t trusted = {0};
	bool has_xff = false;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	/* Behind a trusted proxy on this host, every request comes from
	 * loopback: the client is the address the proxy forwards. */
	if (c->trusted_proxy[0] &&
	    gw_cidr_parse(c->trusted_proxy, &trusted) == 0)
		has_xff = lws_hdr_copy(wsi, xff, sizeof(xff),
				       WSI_TOKEN_X_FORWARDED_FOR) > 0;
	gw_source_of(src, peer, has_xff ? xff : NULL, &trusted);
	return loopback_text(src);
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
		return gw_access_on_loopback(wsi, c) ? 0 : -EPERM;
	if (bearer(wsi, got, sizeof(got)) &&
	    gw_access_secret_equal(c->admin_token, got))
		return 0;
	if (from_protocol && from_subprotocol(wsi, got, sizeof(got)) &&
	    gw_access_secret_equal(c->admin_token, got))
		return 0;
	return -EACCES;
}
