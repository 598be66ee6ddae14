/*
 * sources.h - limits per source address: concurrent connections, the
 * handshake rate and wrong-password attempts (--max-per-source,
 * --handshakes-per-source, --max-password-failures), and which address a
 * connection comes from (its peer, or behind a --trusted-proxy the last
 * X-Forwarded-For hop).
 *
 * One table for the whole server, behind one mutex: it is touched when a
 * connection opens or closes and when a call sends start, never per frame.
 * An address is forgotten once it has no connection and both its rates
 * have recovered, so the table holds the addresses seen in the last few
 * seconds, not every address ever seen. Nothing here logs.
 */
#ifndef CHORUS_GW_SOURCES_H
#define CHORUS_GW_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest address text (IPv6 with its NUL). */
#define GW_SOURCE_MAX 46

typedef struct gw_sources gw_sources_t;

/* An IPv4 or IPv6 network. */
typedef struct gw_cidr {
	int family; /* 0: none configured */
	uint8_t addr[16];
	unsigned bits;
} gw_cidr_t;

/* Parses "10.0.0.0/8", "::1/128" or a bare address (all its bits).
 * Returns 0 or -EINVAL. */
int gw_cidr_parse(const char *s, gw_cidr_t *out);
/* true if the address text addr is inside net. */
bool gw_cidr_contains(const gw_cidr_t *net, const char *addr);

/*
 * Writes the source of a connection into out (GW_SOURCE_MAX bytes): the
 * last hop of xff (the address the proxy saw), canonical, when the peer is
 * inside trusted and that hop is an IP address; else the peer. xff may be
 * NULL. Returns 1 when xff was used, else 0.
 */
int gw_source_of(char *out, const char *peer, const char *xff,
		 const gw_cidr_t *trusted);

/* Limits: 0 turns each off. */
typedef struct gw_source_limits {
	unsigned max_conns;	   /* concurrent connections */
	unsigned handshakes_per_s; /* burst: one second's worth */
	unsigned pw_failures_per_min;
} gw_source_limits_t;

gw_sources_t *gw_sources_new(const gw_source_limits_t *lim);
void gw_sources_free(gw_sources_t *s);

/*
 * A connection from src opens at now (ns). Returns 0 (it is counted: call
 * gw_sources_leave() when it closes), -EAGAIN over the handshake rate,
 * -EMFILE over the concurrent limit, or -ENOMEM (the table is full of
 * recent addresses).
 */
int gw_sources_enter(gw_sources_t *s, const char *src, uint64_t now);
void gw_sources_leave(gw_sources_t *s, const char *src);

/* true if src has used up its wrong-password attempts for now. */
bool gw_sources_pw_blocked(gw_sources_t *s, const char *src, uint64_t now);
/* Records a wrong password from src. */
void gw_sources_pw_failed(gw_sources_t *s, const char *src, uint64_t now);

#endif /* CHORUS_GW_SOURCES_H */
