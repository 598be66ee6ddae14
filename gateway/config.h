/*
 * config.h - the gateway's settings: defaults, CHORUS_* environment
 * variables, command-line flags, and the JSON config file that predefines
 * rooms.
 *
 * Precedence, lowest first: built-in defaults, environment, flags; the config
 * file (named by --config or CHORUS_CONFIG) only adds rooms, each starting
 * from the server-wide mixer settings. This module parses and validates; it
 * does not log (errors come back as text in a caller's buffer) and starts
 * nothing.
 */
#ifndef CHORUS_GW_CONFIG_H
#define CHORUS_GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gateway/log.h"
#include "gateway/names.h"
#include "mixer/mixer.h"

#define GW_ERR_LEN 256

struct json_t; /* jansson's */

/* A room an administrator defined in the config file. */
typedef struct gw_room_conf {
	char name[GW_ROOM_NAME_MAX + 1];
	char password[GW_PASSWORD_MAX + 1]; /* "" = none */
	unsigned max_participants;	    /* 0 = the server's limit */
	mix_settings_t mix;
} gw_room_conf_t;

/* Who may create a room by joining it (--room-policy). */
typedef enum gw_room_policy {
	GW_POLICY_DEFAULT = 0, /* authenticated if a secret is set, else open */
	GW_POLICY_OPEN,	       /* anyone */
	GW_POLICY_AUTHENTICATED, /* a signed stream or a valid join token */
	GW_POLICY_CLOSED,	 /* only the config file (or the API) */
} gw_room_policy_t;

typedef struct gw_config {
	unsigned port;		   /* 8080 */
	char bind[64];		   /* "0.0.0.0" */
	unsigned workers;	   /* 0 = one per online core */
	unsigned max_connections;  /* 1000 */
	unsigned max_rooms;	   /* 200 */
	unsigned max_per_room;	   /* 16 */
	bool auto_create;	   /* true */
	char config_file[512];	   /* "" = none */
	gw_log_level_t log_level;  /* info */
	unsigned start_timeout_ms; /* 5000 */
	unsigned idle_timeout_ms;  /* 10000; 0 = never */
	unsigned in_msg_rate;	   /* 250 messages/s per call (5x real time) */
	unsigned in_byte_rate;	   /* 131072 bytes/s per call (8x) */
	unsigned in_burst_ms;	   /* 10000: a burst may carry this much */
	unsigned max_per_source;   /* 200 connections from one address */
	unsigned handshakes_per_source; /* 100 a second from one address */
	unsigned max_password_failures; /* 5 a minute from one address */
	char trusted_proxy[64];		/* CIDR, "" = none */
	unsigned max_frame;		/* 65536 bytes */
	unsigned bad_frames_max;	/* 50 bad media frames in a row */
	unsigned out_queue;		/* 4 frames queued per listener */
	unsigned sndbuf;       /* SO_SNDBUF of calls; 65536, 0 = kernel's */
	unsigned batch_us;     /* 1000: a busy worker's pause between polls */
	unsigned log_buffer;   /* 262144 bytes of lines waiting for stderr */
	char admin_token[256]; /* "" = the admin API answers loopback only */
	bool metrics_public;   /* /metrics needs no token */
	char webhook[512];     /* "" = no webhook */
	char webhook_secret[128];     /* "" = requests are not signed */
	char twilio_auth_token[128];  /* "" = stream signatures not checked */
	char public_url[256];	      /* "" = wss:// + the Host header */
	char join_secret[256];	      /* "" = join tokens not accepted */
	gw_room_policy_t room_policy; /* as set; see gw_config_policy() */
	char tls_cert[512];	      /* "" = plain ws:// and http:// */
	char tls_key[512];
	mix_settings_t mix;    /* the mixer's defaults */
	gw_room_conf_t *rooms; /* from the config file; owned */
	unsigned n_rooms;
} gw_config_t;

/* Fills in every default. */
void gw_config_default(gw_config_t *c);

/*
 * Applies the CHORUS_* variables that are set. Returns 0, or -EINVAL with a
 * message in err (GW_ERR_LEN bytes) naming the variable.
 */
int gw_config_from_env(gw_config_t *c, char *err);

/*
 * Applies command-line flags. Returns 0, 1 when --help was given (usage
 * printed to stdout; the caller exits 0), or -EINVAL with a message in err.
 */
int gw_config_from_args(gw_config_t *c, int argc, char **argv, char *err);

/*
 * Loads rooms from the JSON file at path (format in README.md). Returns 0,
 * or -EINVAL / -ENOENT with a message in err. The rooms are owned by c.
 */
int gw_config_load_file(gw_config_t *c, const char *path, char *err);

/*
 * Reads one room as the config file describes it ({"name", "password"?,
 * "max_participants"?, "mixer"?}; jr is a jansson json_t *) over c's mixer
 * settings into *r. Returns 0, or -EINVAL with a message in err. The admin
 * API's POST /api/rooms uses it too.
 */
int gw_config_room_json(const gw_config_t *c, struct json_t *jr,
			gw_room_conf_t *r, char *err);

/* Reads a room's "mixer" object (jm, a json_t *) over the settings in *m,
 * for room (named in messages). Returns 0, or -EINVAL with err. */
int gw_config_mixer_json(struct json_t *jm, mix_settings_t *m, const char *room,
			 char *err);

/* Checks the combination of settings. Returns 0 or -EINVAL with err. */
int gw_config_validate(const gw_config_t *c, char *err);

/*
 * The room policy in force: closed with --no-auto-create, else the one set,
 * else authenticated when a Twilio auth token or a join secret is set, else
 * open.
 */
gw_room_policy_t gw_config_policy(const gw_config_t *c);
const char *gw_room_policy_name(gw_room_policy_t p);

/* What the start-up log and GET /api/server say of the open policy. */
#define GW_POLICY_OPEN_WARNING                                                 \
	"room policy open: anyone who reaches the port may create a room "     \
	"and set its password (set --twilio-auth-token or --join-secret, or "  \
	"--room-policy)"

void gw_config_usage(FILE *f);
/* Frees what c owns (the rooms); c itself is the caller's. */
void gw_config_free(gw_config_t *c);

#endif /* CHORUS_GW_CONFIG_H */
