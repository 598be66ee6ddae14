/*
 * sources.c - per-source limits and the source of a connection (sources.h).
 *
 * A chained hash of addresses; each entry holds its open connections and
 * two GCRA arrival times (handshakes, wrong passwords). Entries that hold
 * nothing are removed from a chain whenever it is walked.
 */
#include "gateway/sources.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
/* Addresses remembered at once; a flood of new ones past it is refused
 * (-ENOMEM) rather than grown without bound. */
#define ENTRIES_MAX 65536
#define NS_PER_S    1000000000ull

typedef struct entry {
	struct entry *next;
	char addr[GW_SOURCE_MAX];
	unsigned conns;
	uint64_t tat_hs, tat_pw; /* GCRA theoretical arrival times */
} entry_t;

struct gw_sources {
	pthread_mutex_t lock;
	gw_source_limits_t lim;
	entry_t *bucket[BUCKETS];
	unsigned n;
};

int gw_cidr_parse(const char *s, gw_cidr_t *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	char *end;

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->bits = max;
	if (slash) {
		unsigned long b = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || b > max) {
			out->family = 0;
			return -EINVAL;
		}
		out->bits = (unsigned)b;
	}
	return 0;
}

bool gw_cidr_contains(const gw_cidr_t *net, const char *addr)
{
	uint8_t a[16];
	unsigned full, rest;

	if (!net->family || inet_pton(net->family, addr, a) != 1)
		return false;
	full = net->bits / 8;
	rest = net->bits % 8;
	if (memcmp(a, net->addr, full))
		return false;
	return !rest ||
	       !((a[full] ^ net->addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/* Canonical text of an address, or -EINVAL. */
static int canonical(char *out, const char *s, size_t len)
{
	char buf[64];
	uint8_t a[16];

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return inet_ntop(AF_INET, a, out, GW_SOURCE_MAX) ? 0 : -EINVAL;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return inet_ntop(AF_INET6, a, out, GW_SOURCE_MAX) ? 0 : -EINVAL;
	return -EINVAL;
}

int gw_source_of(char *out, const char *peer, const char *xff,
		 const gw_cidr_t *trusted)
{
	if (xff && gw_cidr_contains(trusted, peer)) {
		const char *hop = strrchr(xff, ',');

		hop = hop ? hop + 1 : xff;
		if (!canonical(out, hop, strlen(hop)))
			return 1;
	}
	snprintf(out, GW_SOURCE_MAX, "%s", peer);
	return 0;
}

gw_sources_t *gw_sources_new(const gw_source_limits_t *lim)
{
	gw_sources_t *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->lim = *lim;
	return s;
}

void gw_sources_free(gw_sources_t *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < BUCKETS; i++) {
		while (s->bucket[i]) {
			entry_t *e = s->bucket[i];

			s->bucket[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static unsigned hash(const char *a)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *a; a++)
		h = (h ^ (uint8_t)*a) * 16777619u;
	return h % BUCKETS;
}

/* Finds src's entry, removing spent ones on the way; creates it if create.
 * Under the lock. */
static entry_t *find(gw_sources_t *s, const char *src, uint64_t now,
		     bool create)
{
	entry_t **pp = &s->bucket[hash(src)], *found = NULL;

	while (*pp) {
		entry_t *e = *pp;

		if (!strcmp(e->addr, src)) {
			found = e;
		} else if (!e->conns && e->tat_hs <= now && e->tat_pw <= now) {
			*pp = e->next;
			free(e);
			s->n--;
			continue;
		}
		pp = &e->next;
	}
	if (found || !create || s->n >= ENTRIES_MAX)
		return found;
	found = calloc(1, sizeof(*found));
	if (!found)
		return NULL;
	snprintf(found->addr, sizeof(found->addr), "%s", src);
	found->next = s->bucket[hash(src)];
	s->bucket[hash(src)] = found;
	s->n++;
	return found;
}

/* One GCRA step: cost ns per event, burst ns of them at once. */
static bool take(uint64_t *tat, uint64_t now, uint64_t cost, uint64_t burst)
{
	uint64_t t = *tat > now ? *tat : now;

	if (t + cost - now > burst)
		return false;
	*tat = t + cost;
	return true;
}

int gw_sources_enter(gw_sources_t *s, const char *src, uint64_t now)
{
	unsigned rate = s->lim.handshakes_per_s;
	int r = 0;
	entry_t *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, src, now, true);
	if (!e)
		r = -ENOMEM;
	else if (rate && !take(&e->tat_hs, now, NS_PER_S / rate, NS_PER_S))
		r = -EAGAIN;
	else if (s->lim.max_conns && e->conns >= s->lim.max_conns)
		r = -EMFILE;
	else
		e->conns++;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void gw_sources_leave(gw_sources_t *s, const char *src)
{
	entry_t *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, src, 0, false);
	if (e && e->conns)
		e->conns--;
	pthread_mutex_unlock(&s->lock);
}

/* Wrong passwords: pw_failures_per_min at once, then one more per
 * 60 s / pw_failures_per_min. */
static uint64_t pw_cost(const gw_sources_t *s)
{
	return 60 * NS_PER_S / s->lim.pw_failures_per_min;
}

bool gw_sources_pw_blocked(gw_sources_t *s, const char *src, uint64_t now)
{
	bool blocked = false;
	entry_t *e;

	if (!s->lim.pw_failures_per_min)
		return false;
	pthread_mutex_lock(&s->lock);
	e = find(s, src, now, false);
	/* Blocked when one more failure would not fit. */
	if (e) {
		uint64_t t = e->tat_pw > now ? e->tat_pw : now;

		blocked = t + pw_cost(s) - now > 60 * NS_PER_S;
	}
	pthread_mutex_unlock(&s->lock);
	return blocked;
}

void gw_sources_pw_failed(gw_sources_t *s, const char *src, uint64_t now)
{
	entry_t *e;

	if (!s->lim.pw_failures_per_min)
		return;
	pthread_mutex_lock(&s->lock);
	e = find(s, src, now, true);
	if (e)
		take(&e->tat_pw, now, pw_cost(s), 60 * NS_PER_S);
	pthread_mutex_unlock(&s->lock);
}
