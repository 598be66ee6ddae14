/*
 * webhook.c - the events POSTed to --webhook on their own thread
 * (webhook.h).
 */
#include "gateway/webhook.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "gateway/log.h"

/* A batch: "[" + events joined by "," + "]". */
#define BODY_CAP (GW_WEBHOOK_BATCH * (GW_EVENT_MAX + 1) + 3)

struct gw_webhook {
	gw_events_t *events;
	const char *url, *secret;
	pthread_t th;
	bool started;
	atomic_bool stop;
	CURLM *multi;

	/* The thread's own. */
	uint64_t next_seq; /* the next event to batch */
	char *body;
	size_t body_len;
	unsigned in_body; /* events in body; 0 = no batch pending */
	unsigned attempts;
	uint64_t retry_at_ns;

	atomic_ullong delivered, failed, dropped;
};

void gw_webhook_sign(const char *secret, const char *body, size_t len,
		     char out[72])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)body, len, mac, &n);
	strcpy(out, "sha256=");
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

gw_webhook_t *gw_webhook_new(gw_events_t *e, const char *url,
			     const char *secret)
{
	gw_webhook_t *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->events = e;
	w->url = url;
	w->secret = secret;
	/* From the first event on, even one emitted before the thread runs. */
	w->next_seq = gw_events_head(e);
	w->body = malloc(BODY_CAP);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		w->multi = curl_multi_init();
	if (!w->body || !w->multi) {
		gw_webhook_free(w);
		return NULL;
	}
	return w;
}

/* Fills the body with the events since the last batch. */
static void gather(gw_webhook_t *w)
{
	char text[GW_EVENT_MAX + 1];
	uint64_t head = gw_events_head(w->events);

	if (head > w->next_seq + GW_EVENTS_SLOTS) {
		/* Lapped while the receiver was away: those are gone. */
		uint64_t skip = head - GW_EVENTS_SLOTS - w->next_seq;

		atomic_fetch_add(&w->dropped, skip);
		w->next_seq += skip;
	}
	w->body_len = 0;
	w->body[w->body_len++] = '[';
	while (w->in_body < GW_WEBHOOK_BATCH) {
		int n = gw_events_read(w->events, w->next_seq, text);

		if (n == -EAGAIN)
			break;
		w->next_seq++;
		if (n < 0) {
			atomic_fetch_add(&w->dropped, 1);
			continue;
		}
		if (w->in_body)
			w->body[w->body_len++] = ',';
		memcpy(w->body + w->body_len, text, (size_t)n);
		w->body_len += (size_t)n;
		w->in_body++;
	}
	w->body[w->body_len++] = ']';
	w->body[w->body_len] = '\0';
}

static size_t discard(char *p, size_t size, size_t n, void *data)
{
	(void)p;
	(void)data;
	return size * n;
}

/* POSTs the pending batch and waits for it (or the stop). Returns true if
 * the receiver took it. */
static bool post(gw_webhook_t *w)
{
	char sig[100] = "X-Chorus-Signature: ";
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	long status = 0;
	int running = 1;
	CURLcode res = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int left;

	if (!c)
		return false;
	h = curl_slist_append(h, "Content-Type: application/json");
	if (w->secret[0]) {
		gw_webhook_sign(w->secret, w->body, w->body_len,
				sig + strlen(sig));
		h = curl_slist_append(h, sig);
	}
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)w->body_len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)GW_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_multi_add_handle(w->multi, c);
	while (running && !atomic_load(&w->stop)) {
		curl_multi_perform(w->multi, &running);
		if (running)
			curl_multi_poll(w->multi, NULL, 0, 100, NULL);
	}
	while ((msg = curl_multi_info_read(w->multi, &left))) {
		if (msg->msg == CURLMSG_DONE)
			res = msg->data.result;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(w->multi, c);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (res == CURLE_OK && status >= 200 && status < 300)
		return true;
	if (!atomic_load(&w->stop))
		gw_warn("webhook: POST of %u events failed: %s (HTTP %ld)",
			w->in_body, curl_easy_strerror(res), status);
	return false;
}

/* After a failure: back off, or give up on the batch. */
static void failed(gw_webhook_t *w)
{
	uint64_t backoff = GW_WEBHOOK_BACKOFF_MS;

	atomic_fetch_add(&w->failed, 1);
	if (++w->attempts >= GW_WEBHOOK_ATTEMPTS) {
		atomic_fetch_add(&w->dropped, w->in_body);
		w->in_body = 0;
		w->attempts = 0;
		return;
	}
	for (unsigned i = 1; i < w->attempts; i++)
		backoff = backoff * 2 > GW_WEBHOOK_BACKOFF_MAX_MS
			      ? GW_WEBHOOK_BACKOFF_MAX_MS
			      : backoff * 2;
	w->retry_at_ns = chorus_now_ns() + backoff * CHORUS_NS_PER_MS;
}

static void *run(void *arg)
{
	gw_webhook_t *w = arg;

	gw_log_thread_name("webhook");
	while (!atomic_load(&w->stop)) {
		if (!w->in_body)
			gather(w);
		if (w->in_body && chorus_now_ns() >= w->retry_at_ns) {
			if (post(w)) {
				atomic_fetch_add(&w->delivered, w->in_body);
				w->in_body = 0;
				w->attempts = 0;
				continue; /* more may be waiting */
			}
			if (!atomic_load(&w->stop))
				failed(w);
		}
		/* Waits for the next poll, or for curl_multi_wakeup(). */
		curl_multi_poll(w->multi, NULL, 0, GW_WEBHOOK_POLL_MS, NULL);
	}
	return NULL;
}

int gw_webhook_start(gw_webhook_t *w)
{
	if (pthread_create(&w->th, NULL, run, w))
		return -EAGAIN;
	w->started = true;
	/* (not the URL: it may carry credentials) */
	gw_info("webhook: posting events%s",
		w->secret[0] ? ", signed" : " unsigned: no --webhook-secret");
	return 0;
}

void gw_webhook_stop(gw_webhook_t *w)
{
	if (!w || !w->started)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->th, NULL);
	w->started = false;
}

void gw_webhook_free(gw_webhook_t *w)
{
	if (!w)
		return;
	gw_webhook_stop(w);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	free(w->body);
	free(w);
}

void gw_webhook_stats(const gw_webhook_t *w, gw_webhook_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!w)
		return;
	out->delivered = atomic_load(&w->delivered);
	out->failed = atomic_load(&w->failed);
	out->dropped = atomic_load(&w->dropped);
}
