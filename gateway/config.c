/*
 * config.c - the gateway's settings (config.h): one table of rows drives the
 * defaults, the CHORUS_* environment, the flags, their bounds and --help;
 * the config file (JSON) defines rooms with their own settings.
 */
#include "gateway/config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/names.h"
#include "gateway/sources.h"

typedef enum opt_type {
	OPT_UINT,
	OPT_DOUBLE,
	OPT_STR,
	OPT_BOOL,
	OPT_LEVEL,
	OPT_NORM,
	OPT_POLICY,
} opt_type_t;

/* One setting: its flag, its environment variable, where it lives. */
typedef struct opt {
	const char *flag;
	const char *env;
	opt_type_t type;
	size_t off;
	size_t size; /* OPT_STR: buffer size */
	double min, max;
	const char *arg;
	const char *help;
} opt_t;

#define OFF(f) offsetof(gw_config_t, f)

static const opt_t opts[] = {
    {"port", "CHORUS_PORT", OPT_UINT, OFF(port), 0, 1, 65535, "N",
     "TCP port to listen on"},
    {"bind", "CHORUS_BIND", OPT_STR, OFF(bind), 64, 0, 0, "ADDR",
     "IPv4 address to listen on"},
    {"workers", "CHORUS_WORKERS", OPT_UINT, OFF(workers), 0, 0, 256, "N",
     "worker threads, each with its own lws context (0 = one per core)"},
    {"max-connections", "CHORUS_MAX_CONNECTIONS", OPT_UINT,
     OFF(max_connections), 0, 1, 1000000, "N", "maximum WebSocket connections"},
    {"max-rooms", "CHORUS_MAX_ROOMS", OPT_UINT, OFF(max_rooms), 0, 1, 1000000,
     "N", "maximum rooms"},
    /* The mixer sums talkers in int32: 65,536 full-scale ones fit; a
     * room is far smaller long before that. */
    {"max-per-room", "CHORUS_MAX_PER_ROOM", OPT_UINT, OFF(max_per_room), 0, 1,
     10000, "N", "maximum participants per room"},
    {"auto-create", "CHORUS_AUTO_CREATE", OPT_BOOL, OFF(auto_create), 0, 0, 0,
     NULL,
     "create rooms on first join (--no-auto-create: the same as "
     "--room-policy closed)"},
    {"room-policy", "CHORUS_ROOM_POLICY", OPT_POLICY, OFF(room_policy), 0, 0, 0,
     "P",
     "who may create a room by joining: open, authenticated or closed "
     "(default: authenticated with a Twilio auth token or join secret, "
     "else open)"},
    {"twilio-auth-token", "TWILIO_AUTH_TOKEN", OPT_STR, OFF(twilio_auth_token),
     128, 0, 0, "TOKEN",
     "every WebSocket upgrade must carry a valid X-Twilio-Signature made "
     "with this token (else HTTP 403)"},
    {"public-url", "CHORUS_PUBLIC_URL", OPT_STR, OFF(public_url), 256, 0, 0,
     "URL",
     "scheme and host the platform uses, e.g. wss://chorus.example.com, "
     "for signatures behind a proxy (default: wss:// + Host header)"},
    {"join-secret", "CHORUS_JOIN_SECRET", OPT_STR, OFF(join_secret), 256, 0, 0,
     "SECRET", "HS256 key of join tokens (customParameters.token)"},
    {"tls-cert", "CHORUS_TLS_CERT", OPT_STR, OFF(tls_cert), 512, 0, 0, "FILE",
     "PEM certificate (chain): serve wss:// and https:// (with --tls-key)"},
    {"tls-key", "CHORUS_TLS_KEY", OPT_STR, OFF(tls_key), 512, 0, 0, "FILE",
     "PEM private key of --tls-cert"},
    {"config", "CHORUS_CONFIG", OPT_STR, OFF(config_file), 512, 0, 0, "FILE",
     "JSON file that predefines rooms"},
    {"log-level", "CHORUS_LOG_LEVEL", OPT_LEVEL, OFF(log_level), 0, 0, 0, "L",
     "error, warn, info or debug"},
    {"log-buffer", "CHORUS_LOG_BUFFER", OPT_UINT, OFF(log_buffer), 0, 4096,
     67108864, "BYTES",
     "log lines waiting for stderr; beyond it lines are dropped "
     "(counted), never waited for"},
    {"start-timeout-ms", "CHORUS_START_TIMEOUT_MS", OPT_UINT,
     OFF(start_timeout_ms), 0, 1, 3600000, "MS",
     "close with 4008 when no start arrives in time"},
    {"idle-timeout-ms", "CHORUS_IDLE_TIMEOUT_MS", OPT_UINT,
     OFF(idle_timeout_ms), 0, 0, 86400000, "MS",
     "close a joined call with 4008 when it sends nothing this long (0 = "
     "never)"},
    {"in-msg-rate", "CHORUS_IN_MSG_RATE", OPT_UINT, OFF(in_msg_rate), 0, 1,
     1000000, "N",
     "messages per second a call may send (the platform sends 50); the "
     "excess is dropped, then the call closed 4029"},
    {"in-byte-rate", "CHORUS_IN_BYTE_RATE", OPT_UINT, OFF(in_byte_rate), 0,
     1024, 1073741824, "BYTES", "bytes per second a call may send"},
    {"in-burst-ms", "CHORUS_IN_BURST_MS", OPT_UINT, OFF(in_burst_ms), 0, 1,
     600000, "MS",
     "a burst may carry this many ms of either rate at once (a platform "
     "catching up after a stall)"},
    {"max-per-source", "CHORUS_MAX_PER_SOURCE", OPT_UINT, OFF(max_per_source),
     0, 0, 1000000, "N",
     "connections open at once from one address, else 4029 (0 = no "
     "limit; a provider calls from a pool of addresses)"},
    {"handshakes-per-source", "CHORUS_HANDSHAKES_PER_SOURCE", OPT_UINT,
     OFF(handshakes_per_source), 0, 0, 1000000, "N",
     "WebSocket handshakes a second from one address (a second's worth "
     "at once), else 4029 (0 = no limit)"},
    {"max-password-failures", "CHORUS_MAX_PASSWORD_FAILURES", OPT_UINT,
     OFF(max_password_failures), 0, 0, 1000000, "N",
     "wrong room passwords a minute from one address; past them its "
     "calls are refused with 4029 (0 = no limit)"},
    {"trusted-proxy", "CHORUS_TRUSTED_PROXY", OPT_STR, OFF(trusted_proxy), 64,
     0, 0, "CIDR",
     "a peer in this network is a proxy: the last X-Forwarded-For hop is "
     "the source"},
    /* A call may keep a buffer of this size, and one for its decoded
     * payload, for its life: 1 MiB (over 40 s of audio) bounds that. */
    {"max-frame", "CHORUS_MAX_FRAME", OPT_UINT, OFF(max_frame), 0, 1024,
     1048576, "BYTES", "largest WebSocket message, else 1009"},
    {"bad-frames", "CHORUS_BAD_FRAMES", OPT_UINT, OFF(bad_frames_max), 0, 1,
     1000000, "N", "bad media frames in a row that end a call"},
    {"out-queue", "CHORUS_OUT_QUEUE", OPT_UINT, OFF(out_queue), 0, 1, 7, "N",
     "frames queued per listener before the oldest is dropped"},
    {"sndbuf", "CHORUS_SNDBUF", OPT_UINT, OFF(sndbuf), 0, 0, 67108864, "BYTES",
     "socket send buffer per call, bounding audio queued in the "
     "kernel for a slow reader (0 = kernel default)"},
    {"batch-us", "CHORUS_BATCH_US", OPT_UINT, OFF(batch_us), 0, 0, 5000, "US",
     "a worker gathers events this long between polls, at most, so one "
     "wake-up serves many calls (0 = wake for each)"},
    {"admin-token", "CHORUS_ADMIN_TOKEN", OPT_STR, OFF(admin_token), 256, 0, 0,
     "TOKEN",
     "bearer token for /api/ and /metrics (none: loopback clients only); "
     "prefer the environment variable, which ps does not show"},
    {"metrics-public", "CHORUS_METRICS_PUBLIC", OPT_BOOL, OFF(metrics_public),
     0, 0, 0, NULL, "serve /metrics to anyone, without the admin token"},
    {"webhook", "CHORUS_WEBHOOK", OPT_STR, OFF(webhook), 512, 0, 0, "URL",
     "POST every live event, batched as JSON arrays, to this URL"},
    {"webhook-secret", "CHORUS_WEBHOOK_SECRET", OPT_STR, OFF(webhook_secret),
     128, 0, 0, "KEY",
     "sign webhook requests: X-Chorus-Signature: sha256=<HMAC-SHA256 of "
     "the body>"},
    {"window-ms", "CHORUS_WINDOW_MS", OPT_UINT, OFF(mix.window_ms), 0, 0, 10000,
     "MS", "mixer alignment window"},
    {"jitter-target-ms", "CHORUS_JITTER_TARGET_MS", OPT_UINT,
     OFF(mix.jitter_target_ms), 0, 0, 10000, "MS",
     "jitter buffer target delay"},
    {"jitter-cap-ms", "CHORUS_JITTER_CAP_MS", OPT_UINT, OFF(mix.jitter_cap_ms),
     0, 0, 60000, "MS", "jitter buffer hard cap"},
    {"gate-threshold-dbfs", "CHORUS_GATE_THRESHOLD_DBFS", OPT_DOUBLE,
     OFF(mix.gate_threshold_dbfs), 0, -120, 0, "DB",
     "silence gate threshold, frame RMS in dBFS"},
    {"gate-attack-frames", "CHORUS_GATE_ATTACK_FRAMES", OPT_UINT,
     OFF(mix.gate_attack_frames), 0, 0, 1000, "N",
     "loud frames before a participant counts as talking"},
    {"gate-hangover-ms", "CHORUS_GATE_HANGOVER_MS", OPT_UINT,
     OFF(mix.gate_hangover_ms), 0, 0, 60000, "MS",
     "quiet time before a talker stops talking"},
    {"norm", "CHORUS_NORM", OPT_NORM, OFF(mix.norm), 0, 0, 0, "MODE",
     "normalization: limiter, average or clip"},
    {"echo", "CHORUS_ECHO", OPT_BOOL, OFF(mix.echo), 0, 0, 0, NULL,
     "a participant alone in a room hears itself"},
};

#define N_OPTS (sizeof(opts) / sizeof(*opts))

/* A setting whose value never goes into a message. */
static bool secret(const opt_t *o)
{
	return o->off == OFF(twilio_auth_token) || o->off == OFF(join_secret);
}

void gw_config_default(gw_config_t *c)
{
	memset(c, 0, sizeof(*c));
	c->port = 8080;
	strcpy(c->bind, "0.0.0.0");
	c->workers = 0;
	c->max_connections = 1000;
	c->max_rooms = 200;
	c->max_per_room = 16;
	c->auto_create = true;
	c->log_level = GW_LOG_INFO;
	c->start_timeout_ms = 5000;
	c->idle_timeout_ms = 10000;
	c->in_msg_rate = 250;
	c->in_byte_rate = 131072;
	c->in_burst_ms = 10000;
	c->max_per_source = 200;
	c->handshakes_per_source = 100;
	c->max_password_failures = 5;
	c->max_frame = 65536;
	c->bad_frames_max = 50;
	c->out_queue = 4;
	c->sndbuf = 65536;
	c->batch_us = 1000;
	c->log_buffer = 262144;
	mix_settings_default(&c->mix);
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on") ||
	    !strcasecmp(s, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcasecmp(s, "false") ||
	    !strcasecmp(s, "off") || !strcasecmp(s, "no")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static const char *const policy_names[] = {"default", "open", "authenticated",
					   "closed"};

static int policy_parse(const char *s, gw_room_policy_t *out)
{
	for (int p = GW_POLICY_OPEN; p <= GW_POLICY_CLOSED; p++) {
		if (!strcmp(s, policy_names[p])) {
			*out = (gw_room_policy_t)p;
			return 0;
		}
	}
	return -EINVAL;
}

const char *gw_room_policy_name(gw_room_policy_t p)
{
	return p <= GW_POLICY_CLOSED ? policy_names[p] : "?";
}

gw_room_policy_t gw_config_policy(const gw_config_t *c)
{
	if (!c->auto_create)
		return GW_POLICY_CLOSED;
	if (c->room_policy != GW_POLICY_DEFAULT)
		return c->room_policy;
	return c->twilio_auth_token[0] || c->join_secret[0]
		   ? GW_POLICY_AUTHENTICATED
		   : GW_POLICY_OPEN;
}

/* Sets one option from text. Returns 0 or -EINVAL. */
static int set_opt(gw_config_t *c, const opt_t *o, const char *val)
{
	char *base = (char *)c + o->off;
	char *end;

	switch (o->type) {
	case OPT_UINT: {
		unsigned long v;

		errno = 0;
		v = strtoul(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-' ||
		    v < o->min || v > o->max)
			return -EINVAL;
		*(unsigned *)(void *)base = (unsigned)v;
		return 0;
	}
	case OPT_DOUBLE: {
		double v;

		errno = 0;
		v = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(v) || v < o->min ||
		    v > o->max)
			return -EINVAL;
		*(double *)(void *)base = v;
		return 0;
	}
	case OPT_STR:
		if (strlen(val) >= o->size)
			return -EINVAL;
		strcpy(base, val);
		return 0;
	case OPT_BOOL:
		return parse_bool(val, (bool *)(void *)base);
	case OPT_LEVEL:
		return gw_log_level_parse(val, (gw_log_level_t *)(void *)base);
	case OPT_NORM:
		return mix_norm_parse(val, (mix_norm_t *)(void *)base);
	case OPT_POLICY:
		return policy_parse(val, (gw_room_policy_t *)(void *)base);
	}
	return -EINVAL;
}

int gw_config_from_env(gw_config_t *c, char *err)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const char *v = getenv(opts[i].env);

		if (!v)
			continue;
		if (set_opt(c, &opts[i], v) < 0) {
			snprintf(err, GW_ERR_LEN, "bad value for %s: '%s'",
				 opts[i].env,
				 secret(&opts[i]) ? "(hidden)" : v);
			return -EINVAL;
		}
	}
	return 0;
}

/* Writes o's value in c as text. */
static void opt_value(const gw_config_t *c, const opt_t *o, char *buf,
		      size_t cap)
{
	const char *base = (const char *)c + o->off;

	switch (o->type) {
	case OPT_UINT:
		snprintf(buf, cap, "%u", *(const unsigned *)(const void *)base);
		break;
	case OPT_DOUBLE:
		snprintf(buf, cap, "%g", *(const double *)(const void *)base);
		break;
	case OPT_STR:
		snprintf(buf, cap, "%s", *base ? base : "none");
		break;
	case OPT_BOOL:
		snprintf(buf, cap, "%s",
			 *(const bool *)(const void *)base ? "on" : "off");
		break;
	case OPT_LEVEL:
		snprintf(buf, cap, "%s",
			 gw_log_level_name(
			     *(const gw_log_level_t *)(const void *)base));
		break;
	case OPT_NORM:
		snprintf(
		    buf, cap, "%s",
		    mix_norm_name(*(const mix_norm_t *)(const void *)base));
		break;
	case OPT_POLICY:
		snprintf(buf, cap, "%s",
			 gw_room_policy_name(
			     *(const gw_room_policy_t *)(const void *)base));
		break;
	}
}

void gw_config_usage(FILE *f)
{
	gw_config_t d;

	gw_config_default(&d);
	fprintf(f, "usage: chorus-gateway [options]\n\n"
		   "Chorus conference gateway: Twilio Media Streams over "
		   "WebSocket on ws://BIND:PORT/rooms/<room>.\n"
		   "Each option can also be set by the environment variable "
		   "shown; flags win.\n\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		char left[64], def[64];

		if (opts[i].type == OPT_BOOL)
			snprintf(left, sizeof(left), "--[no-]%s", opts[i].flag);
		else
			snprintf(left, sizeof(left), "--%s %s", opts[i].flag,
				 opts[i].arg);
		opt_value(&d, &opts[i], def, sizeof(def));
		fprintf(f, "  %-26s %s\n  %-26s   %s, default %s\n", left,
			opts[i].help, "", opts[i].env, def);
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "this text");
}

int gw_config_from_args(gw_config_t *c, int argc, char **argv, char *err)
{
	/* Each option, and a --no- twin for booleans; val is the index. */
	struct option lo[2 * N_OPTS + 2];
	char noname[N_OPTS][48];
	size_t n = 0;
	int ch;

	for (size_t i = 0; i < N_OPTS; i++) {
		lo[n++] = (struct option){
		    opts[i].flag,
		    opts[i].type == OPT_BOOL ? no_argument : required_argument,
		    NULL, (int)(1000 + i)};
		if (opts[i].type == OPT_BOOL) {
			snprintf(noname[i], sizeof(noname[i]), "no-%s",
				 opts[i].flag);
			lo[n++] = (struct option){noname[i], no_argument, NULL,
						  (int)(2000 + i)};
		}
	}
	lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n] = (struct option){0};

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (ch == 'h') {
			gw_config_usage(stdout);
			return 1;
		}
		if (ch >= 2000 && ch < 2000 + (int)N_OPTS) {
			*(bool *)(void *)((char *)c + opts[ch - 2000].off) =
			    false;
			continue;
		}
		if (ch >= 1000 && ch < 1000 + (int)N_OPTS) {
			const opt_t *o = &opts[ch - 1000];

			if (o->type == OPT_BOOL) {
				*(bool *)(void *)((char *)c + o->off) = true;
				continue;
			}
			if (set_opt(c, o, optarg) < 0) {
				snprintf(err, GW_ERR_LEN,
					 "bad value for --%s: '%s'", o->flag,
					 secret(o) ? "(hidden)" : optarg);
				return -EINVAL;
			}
			continue;
		}
		snprintf(err, GW_ERR_LEN, "unknown or incomplete option '%s'",
			 argv[optind - 1]);
		return -EINVAL;
	}
	if (optind < argc) {
		snprintf(err, GW_ERR_LEN, "unexpected argument '%s'",
			 argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Reads a room's "mixer" object over the server's settings. */
int gw_config_mixer_json(json_t *jm, mix_settings_t *m, const char *room,
			 char *err)
{
	static const struct {
		const char *key;
		size_t off;
	} uints[] = {
	    {"window_ms", offsetof(mix_settings_t, window_ms)},
	    {"jitter_target_ms", offsetof(mix_settings_t, jitter_target_ms)},
	    {"jitter_cap_ms", offsetof(mix_settings_t, jitter_cap_ms)},
	    {"gate_attack_frames",
	     offsetof(mix_settings_t, gate_attack_frames)},
	    {"gate_hangover_ms", offsetof(mix_settings_t, gate_hangover_ms)},
	};
	const char *key;
	json_t *v;

	if (!json_is_object(jm)) {
		snprintf(err, GW_ERR_LEN,
			 "room %s: \"mixer\" must be an "
			 "object",
			 room);
		return -EINVAL;
	}
	json_object_foreach(jm, key, v)
	{
		size_t i;

		for (i = 0; i < sizeof(uints) / sizeof(*uints); i++) {
			if (strcmp(key, uints[i].key))
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 60000)
				goto bad;
			*(unsigned *)(void *)((char *)m + uints[i].off) =
			    (unsigned)json_integer_value(v);
			break;
		}
		if (i < sizeof(uints) / sizeof(*uints))
			continue;
		if (!strcmp(key, "gate_threshold_dbfs")) {
			if (!json_is_number(v))
				goto bad;
			m->gate_threshold_dbfs = json_number_value(v);
		} else if (!strcmp(key, "norm")) {
			if (!json_is_string(v) ||
			    mix_norm_parse(json_string_value(v), &m->norm) < 0)
				goto bad;
		} else if (!strcmp(key, "echo")) {
			if (!json_is_boolean(v))
				goto bad;
			m->echo = json_is_true(v);
		} else {
			snprintf(err, GW_ERR_LEN,
				 "room %s: unknown mixer "
				 "setting \"%s\"",
				 room, key);
			return -EINVAL;
		}
	}
	if (mix_settings_validate(m) < 0) {
		snprintf(err, GW_ERR_LEN, "room %s: invalid mixer settings",
			 room);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, GW_ERR_LEN, "room %s: bad value for mixer \"%s\"", room,
		 key);
	return -EINVAL;
}

int gw_config_room_json(const gw_config_t *c, json_t *jr, gw_room_conf_t *r,
			char *err)
{
	json_t *name = json_object_get(jr, "name");
	json_t *pw = json_object_get(jr, "password");
	json_t *max = json_object_get(jr, "max_participants");
	json_t *mixer = json_object_get(jr, "mixer");
	const char *key;
	json_t *v;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(jr) || !json_is_string(name) ||
	    !gw_room_name_valid(json_string_value(name),
				json_string_length(name))) {
		snprintf(err, GW_ERR_LEN,
			 "each room needs a \"name\" of 1-64 "
			 "characters [A-Za-z0-9._-]");
		return -EINVAL;
	}
	strcpy(r->name, json_string_value(name));
	json_object_foreach(jr, key, v)
	{
		if (strcmp(key, "name") && strcmp(key, "password") &&
		    strcmp(key, "max_participants") && strcmp(key, "mixer")) {
			snprintf(err, GW_ERR_LEN, "room %s: unknown key \"%s\"",
				 r->name, key);
			return -EINVAL;
		}
	}
	if (pw) {
		if (!json_is_string(pw) ||
		    json_string_length(pw) > GW_PASSWORD_MAX) {
			snprintf(err, GW_ERR_LEN,
				 "room %s: \"password\" must "
				 "be a string of at most %d bytes",
				 r->name, GW_PASSWORD_MAX);
			return -EINVAL;
		}
		strcpy(r->password, json_string_value(pw));
	}
	if (max) {
		if (!json_is_integer(max) || json_integer_value(max) < 1 ||
		    json_integer_value(max) > 100000) {
			snprintf(err, GW_ERR_LEN,
				 "room %s: \"max_participants"
				 "\" must be a positive integer",
				 r->name);
			return -EINVAL;
		}
		r->max_participants = (unsigned)json_integer_value(max);
	}
	r->mix = c->mix;
	if (mixer)
		return gw_config_mixer_json(mixer, &r->mix, r->name, err);
	return 0;
}

int gw_config_load_file(gw_config_t *c, const char *path, char *err)
{
	json_error_t je;
	json_t *root, *rooms;
	size_t n;
	int ret = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, GW_ERR_LEN, "%s:%d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	rooms = json_object_get(root, "rooms");
	if (!json_is_object(root) || (rooms && !json_is_array(rooms)) ||
	    json_object_size(root) != (rooms ? 1u : 0u)) {
		snprintf(err, GW_ERR_LEN, "%s: expected {\"rooms\": [...]}",
			 path);
		json_decref(root);
		return -EINVAL;
	}
	n = json_array_size(rooms);
	free(c->rooms);
	c->rooms = n ? calloc(n, sizeof(*c->rooms)) : NULL;
	c->n_rooms = 0;
	if (n && !c->rooms) {
		json_decref(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		gw_room_conf_t *r = &c->rooms[i];

		ret = gw_config_room_json(c, json_array_get(rooms, i), r, err);
		for (size_t j = 0; j < i && !ret; j++) {
			if (!strcmp(c->rooms[j].name, r->name)) {
				snprintf(err, GW_ERR_LEN,
					 "room %s defined "
					 "twice",
					 r->name);
				ret = -EINVAL;
			}
		}
		if (!ret)
			c->n_rooms++;
	}
	json_decref(root);
	return ret;
}

int gw_config_validate(const gw_config_t *c, char *err)
{
	gw_cidr_t net;

	if (mix_settings_validate(&c->mix) < 0) {
		snprintf(err, GW_ERR_LEN,
			 "invalid mixer settings (is the "
			 "jitter cap below the target?)");
		return -EINVAL;
	}
	if (c->trusted_proxy[0] && gw_cidr_parse(c->trusted_proxy, &net) < 0) {
		snprintf(err, GW_ERR_LEN,
			 "--trusted-proxy '%s' is not an address or a CIDR "
			 "network",
			 c->trusted_proxy);
		return -EINVAL;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		snprintf(err, GW_ERR_LEN,
			 "--tls-cert and --tls-key go together");
		return -EINVAL;
	}
	if (c->public_url[0] && strncmp(c->public_url, "wss://", 6) &&
	    strncmp(c->public_url, "ws://", 5)) {
		snprintf(err, GW_ERR_LEN,
			 "--public-url must start with wss:// (or ws://)");
		return -EINVAL;
	}
	if (c->n_rooms > c->max_rooms) {
		snprintf(err, GW_ERR_LEN,
			 "the config file defines %u rooms, "
			 "more than --max-rooms %u",
			 c->n_rooms, c->max_rooms);
		return -EINVAL;
	}
	return 0;
}

void gw_config_free(gw_config_t *c)
{
	free(c->rooms);
	c->rooms = NULL;
	c->n_rooms = 0;
}
