/*
 * http.c - /healthz and /metrics (http.h).
 */
#include "gateway/http.h"

#include <errno.h>
#include <string.h>

#include "gateway/access.h"

/* The exposition of every metric, with 256 workers' series, fits. */
#define BODY_MAX 65536

#define CT_TEXT	   "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

static int reply(struct lws *wsi, unsigned status, const char *type,
		 const char *body, size_t n)
{
	unsigned char buf[LWS_PRE + 512 + BODY_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;

	if (lws_add_http_common_headers(wsi, status, type, n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	memcpy(start, body, n);
	if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) != (int)n)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int gw__http_serve(struct lws *wsi, const char *uri, const gw_http_t *h)
{
	static const char ok[] = "ok\n", missing[] = "not found\n";
	static const char unauth[] = "admin token required\n",
			  forbidden[] = "loopback only: no admin token is "
					"configured\n";
	char body[BODY_MAX];
	gw_metrics_t m;

	if (!strcmp(uri, "/healthz"))
		return reply(wsi, HTTP_STATUS_OK, CT_TEXT, ok, sizeof(ok) - 1);
	if (!strcmp(uri, "/metrics")) {
		int r = h->cfg->metrics_public
			    ? 0
			    : gw_access_admin(wsi, h->cfg, false);

		if (r == -EACCES)
			return reply(wsi, HTTP_STATUS_UNAUTHORIZED, CT_TEXT,
				     unauth, sizeof(unauth) - 1);
		if (r < 0)
			return reply(wsi, HTTP_STATUS_FORBIDDEN, CT_TEXT,
				     forbidden, sizeof(forbidden) - 1);
		memset(&m, 0, sizeof(m));
		h->metrics(h->data, &m);
		return reply(wsi, HTTP_STATUS_OK, CT_METRICS, body,
			     gw__metrics_text(&m, body, sizeof(body)));
	}
	return reply(wsi, HTTP_STATUS_NOT_FOUND, CT_TEXT, missing,
		     sizeof(missing) - 1);
}
