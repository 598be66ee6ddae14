/*
 * http.c - /healthz, /metrics and the lws side of the admin API (http.h).
 */
#include "gateway/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/access.h"

/* The exposition of every metric, with 256 workers' series, fits. */
#define BODY_MAX 65536
/* Status line and headers. */
#define HEAD_MAX 512

#define CT_TEXT	   "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON	   "application/json"

/* Writes the whole response. Returns what the callback returns; close
 * forces the connection closed (a body was left unread). */
static int reply(struct lws *wsi, unsigned status, const char *type,
		 const char *body, size_t n, bool close)
{
	unsigned char stack[LWS_PRE + HEAD_MAX + BODY_MAX];
	unsigned char *buf = stack, *start, *p, *end;
	size_t cap = sizeof(stack);
	int ret = -1;

	if (n > BODY_MAX) {
		cap = LWS_PRE + HEAD_MAX + n;
		buf = malloc(cap);
		if (!buf)
			return -1;
	}
	start = p = buf + LWS_PRE;
	end = buf + cap - 1;
	if (lws_add_http_common_headers(wsi, status, type, n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		goto out;
	if (n) {
		memcpy(start, body, n);
		if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) != (int)n)
			goto out;
	}
	ret = close || lws_http_transaction_completed(wsi) ? -1 : 0;
out:
	if (buf != stack)
		free(buf);
	return ret;
}

static gw_http_method_t method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		gw_http_method_t m;
	} map[] = {
	    {WSI_TOKEN_GET_URI, GW_HTTP_GET},
	    {WSI_TOKEN_POST_URI, GW_HTTP_POST},
	    {WSI_TOKEN_PATCH_URI, GW_HTTP_PATCH},
	    {WSI_TOKEN_PUT_URI, GW_HTTP_PUT},
	    {WSI_TOKEN_DELETE_URI, GW_HTTP_DELETE},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (lws_hdr_total_length(wsi, map[i].tok) > 0)
			return map[i].m;
	}
	return GW_HTTP_OTHER;
}

static void req_reset(gw_http_req_t *rq)
{
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

static int api_error(struct lws *wsi, gw_http_req_t *rq, unsigned status,
		     const char *error, const char *detail, bool close)
{
	gw_api_resp_t resp;
	int ret;

	gw__api_error(&resp, status, error, detail);
	ret = reply(wsi, resp.status, CT_JSON, resp.body, resp.len, close);
	free(resp.body);
	req_reset(rq);
	return ret;
}

static int api_dispatch(struct lws *wsi, gw_http_req_t *rq, const gw_http_t *h)
{
	gw_api_req_t req = {
	    .method = rq->method,
	    .path = rq->path_too_long ? "/api/?" : rq->path,
	    .access = rq->access,
	    .has_auth = rq->has_auth,
	    .body = rq->body,
	    .body_len = rq->body_len,
	};
	gw_api_resp_t resp;
	int ret;

	gw__api_handle(h->api, &req, &resp);
	ret = reply(wsi, resp.status, CT_JSON, resp.body ? resp.body : "",
		    resp.len, false);
	free(resp.body);
	req_reset(rq);
	return ret;
}

/* The request line and headers of an /api/ request: answer now, or wait
 * for the body. */
static int api_begin(struct lws *wsi, gw_http_req_t *rq, const char *uri,
		     const gw_http_t *h)
{
	char num[32];
	long long clen = 0;

	rq->method = method_of(wsi);
	rq->path_too_long = strlen(uri) >= sizeof(rq->path);
	snprintf(rq->path, sizeof(rq->path), "%s", uri);
	/* The headers are at hand only now: the access rule (access.h),
	 * the same as /metrics and /api/events, is decided here. */
	rq->access = gw_access_admin(wsi, h->cfg, false);
	rq->has_auth =
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0;
	if (lws_hdr_copy(wsi, num, sizeof(num), WSI_TOKEN_HTTP_CONTENT_LENGTH) >
	    0)
		clen = atoll(num);
	if (clen > GW_API_BODY_MAX)
		return api_error(wsi, rq, 413, "too_large",
				 "request body over 16384 bytes", true);
	if (clen > 0 &&
	    (rq->method == GW_HTTP_POST || rq->method == GW_HTTP_PATCH ||
	     rq->method == GW_HTTP_PUT)) {
		rq->waiting_body = true;
		return 0;
	}
	return api_dispatch(wsi, rq, h);
}

static int api_body(struct lws *wsi, gw_http_req_t *rq, const void *in,
		    size_t len)
{
	char *p;

	if (!rq->waiting_body)
		return 0;
	if (rq->body_len + len > GW_API_BODY_MAX)
		return api_error(wsi, rq, 413, "too_large",
				 "request body over 16384 bytes", true);
	p = realloc(rq->body, rq->body_len + len + 1);
	if (!p)
		return -1;
	memcpy(p + rq->body_len, in, len);
	rq->body = p;
	rq->body_len += len;
	rq->body[rq->body_len] = '\0';
	return 0;
}

static int serve(struct lws *wsi, gw_http_req_t *rq, const char *uri,
		 const gw_http_t *h)
{
	static const char ok[] = "ok\n", missing[] = "not found\n";
	static const char unauth[] = "admin token required\n",
			  forbidden[] = "loopback only: no admin token is "
					"configured\n";
	char body[BODY_MAX];
	gw_metrics_t m;

	req_reset(rq);
	if (!strcmp(uri, "/healthz"))
		return reply(wsi, HTTP_STATUS_OK, CT_TEXT, ok, sizeof(ok) - 1,
			     false);
	if (!strcmp(uri, "/metrics")) {
		int r = h->cfg->metrics_public
			    ? 0
			    : gw_access_admin(wsi, h->cfg, false);

		if (r == -EACCES)
			return reply(wsi, HTTP_STATUS_UNAUTHORIZED, CT_TEXT,
				     unauth, sizeof(unauth) - 1, false);
		if (r < 0)
			return reply(wsi, HTTP_STATUS_FORBIDDEN, CT_TEXT,
				     forbidden, sizeof(forbidden) - 1, false);
		memset(&m, 0, sizeof(m));
		h->metrics(h->data, &m);
		return reply(wsi, HTTP_STATUS_OK, CT_METRICS, body,
			     gw__metrics_text(&m, body, sizeof(body)), false);
	}
	if (!strncmp(uri, "/api/", 5) || !strcmp(uri, "/api"))
		return api_begin(wsi, rq, uri, h);
	return reply(wsi, HTTP_STATUS_NOT_FOUND, CT_TEXT, missing,
		     sizeof(missing) - 1, false);
}

int gw__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      gw_http_req_t *rq, void *in, size_t len,
		      const gw_http_t *h)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return serve(wsi, rq, in ? (const char *)in : "/", h);
	case LWS_CALLBACK_HTTP_BODY:
		return api_body(wsi, rq, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!rq->waiting_body)
			return 0;
		return api_dispatch(wsi, rq, h);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		req_reset(rq);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, rq, in, len);
	}
}
