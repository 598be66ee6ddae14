/*
 * chorus-client - a mock telephony platform for Chorus.
 *
 * As a caller it plays a WAV file into a room the way Twilio's Media
 * Streams would, and records what it hears; as a load generator (--load) it
 * runs many such calls on one event loop and reports loss and latency.
 * See README.md ("Mock client") for the options.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "codec/g711.h"
#include "mock-client/audio.h"
#include "mock-client/call.h"
#include "mock-client/fleet.h"
#include "mock-client/load.h"
#include "mock-client/marker.h"

#define EXIT_LOCAL   1 /* bad usage, unreadable file */
#define EXIT_REFUSED 2 /* the server refused or the call failed */

static mc_fleet_t *running;

static void on_signal(int sig)
{
	static volatile sig_atomic_t count;

	if (++count > 1 || !running)
		_exit(128 + sig);
	mc_fleet_interrupt(running);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: chorus-client [options] ws[s]://host:port/rooms/<room>\n"
	    "       chorus-client --load [options] ws://host:port/\n"
	    "caller:\n"
	    "  --play FILE        audio to send (any libsndfile format); "
	    "default silence\n"
	    "  --tone HZ          send a sine tone instead of a file\n"
	    "  --record FILE      write what is heard to a 16-bit 8 kHz WAV\n"
	    "  --password P       start.customParameters.password\n"
	    "  --token T          start.customParameters.token (a join "
	    "token)\n"
	    "  --param K=V        another custom parameter (repeatable)\n"
	    "  --duration S       stream S seconds (default: the file's "
	    "length, or until ^C)\n"
	    "  --loop             replay the file until the duration ends\n"
	    "  --chunk N          µ-law bytes per media frame (default 160 = "
	    "20 ms)\n"
	    "  --jitter MS        hold each frame back 0..MS ms at random\n"
	    "  --seed N           seed for ids and jitter\n"
	    "  --playout-ms MS    recorder start-up buffer (default 60)\n"
	    "  --quiet            no progress line\n"
	    "load (--load):\n"
	    "  --participants N   calls (default 200)\n"
	    "  --rooms M          rooms (default participants / 4)\n"
	    "  --talkers K        talkers per room (default 1)\n"
	    "  --room-prefix S    rooms are /rooms/<S><n> (default load-)\n"
	    "  --expect mix|echo  who hears a talker: the room, or itself\n"
	    "  --late-ms MS       a frame later than this is late (default "
	    "150)\n"
	    "  --connect-rate N   connections opened per ms (default 10)\n"
	    "  --json FILE        also write the JSON summary to FILE\n");
}

struct url {
	char host[256];
	int port;
	bool tls; /* wss:// */
	char path[256];
};

/* ws://host[:port][/path] or wss://host[:port][/path]. Returns 0 or
 * -EINVAL. */
static int parse_url(const char *s, struct url *u)
{
	const char *h, *end, *colon;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (!strncmp(s, "ws://", 5)) {
		h = s + 5;
		u->port = 80;
	} else if (!strncmp(s, "wss://", 6)) {
		h = s + 6;
		u->port = 443;
		u->tls = true;
	} else {
		return -EINVAL;
	}
	end = h + strcspn(h, "/");
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon ? colon : end) - h);
	if (!hl || hl >= sizeof(u->host))
		return -EINVAL;
	memcpy(u->host, h, hl);
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);

		if (e != end || p < 1 || p > 65535)
			return -EINVAL;
		u->port = (int)p;
	}
	snprintf(u->path, sizeof(u->path), "%s", *end ? end : "/");
	return 0;
}

struct opts {
	const char *play, *record, *password, *token, *json, *prefix;
	double tone, duration;
	int loop, load, quiet, expect_echo;
	unsigned chunk, jitter, playout, participants, rooms, talkers;
	unsigned late_ms, connect_rate;
	uint64_t seed;
	char *params[MC_MAX_PARAMS];
	size_t nparams;
};

enum {
	O_PLAY = 256,
	O_TONE,
	O_RECORD,
	O_PASSWORD,
	O_TOKEN,
	O_PARAM,
	O_DURATION,
	O_LOOP,
	O_CHUNK,
	O_JITTER,
	O_SEED,
	O_PLAYOUT,
	O_QUIET,
	O_LOAD,
	O_PARTS,
	O_ROOMS,
	O_TALKERS,
	O_PREFIX,
	O_EXPECT,
	O_LATE,
	O_RATE,
	O_JSON,
	O_HELP
};

static const struct option longopts[] = {
    {"play", 1, 0, O_PLAY},	     {"tone", 1, 0, O_TONE},
    {"record", 1, 0, O_RECORD},	     {"password", 1, 0, O_PASSWORD},
    {"token", 1, 0, O_TOKEN},	     {"param", 1, 0, O_PARAM},
    {"duration", 1, 0, O_DURATION},  {"loop", 0, 0, O_LOOP},
    {"chunk", 1, 0, O_CHUNK},	     {"jitter", 1, 0, O_JITTER},
    {"seed", 1, 0, O_SEED},	     {"playout-ms", 1, 0, O_PLAYOUT},
    {"quiet", 0, 0, O_QUIET},	     {"load", 0, 0, O_LOAD},
    {"participants", 1, 0, O_PARTS}, {"rooms", 1, 0, O_ROOMS},
    {"talkers", 1, 0, O_TALKERS},    {"room-prefix", 1, 0, O_PREFIX},
    {"expect", 1, 0, O_EXPECT},	     {"late-ms", 1, 0, O_LATE},
    {"connect-rate", 1, 0, O_RATE},  {"json", 1, 0, O_JSON},
    {"help", 0, 0, O_HELP},	     {0, 0, 0, 0},
};

static int number(const char *s, double lo, double hi, double *out)
{
	char *e;
	double v = strtod(s, &e);

	if (e == s || *e || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Returns 0, 1 for --help, or -EINVAL with a message printed. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	double v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case O_PLAY:
			o->play = optarg;
			break;
		case O_TONE:
			bad = number(optarg, 1, 3999, &o->tone);
			break;
		case O_RECORD:
			o->record = optarg;
			break;
		case O_PASSWORD:
			o->password = optarg;
			break;
		case O_TOKEN:
			o->token = optarg;
			break;
		case O_PARAM:
			/* Two slots stay for --password and --token. */
			if (o->nparams == MC_MAX_PARAMS - 2 ||
			    !strchr(optarg, '=') || optarg[0] == '=')
				bad = 1;
			else
				o->params[o->nparams++] = optarg;
			break;
		case O_DURATION:
			bad = number(optarg, 0.02, 86400, &o->duration);
			break;
		case O_LOOP:
			o->loop = 1;
			break;
		case O_CHUNK:
			bad = number(optarg, MC_MARKER_LEN, MC_CALL_MAX_CHUNK,
				     &v);
			o->chunk = (unsigned)v;
			break;
		case O_JITTER:
			bad = number(optarg, 0, 1000, &v);
			o->jitter = (unsigned)v;
			break;
		case O_SEED:
			bad = number(optarg, 0, 1e18, &v);
			o->seed = (uint64_t)v;
			break;
		case O_PLAYOUT:
			bad = number(optarg, 0, 10000, &v);
			o->playout = (unsigned)v;
			break;
		case O_QUIET:
			o->quiet = 1;
			break;
		case O_LOAD:
			o->load = 1;
			break;
		case O_PARTS:
			bad = number(optarg, 1, 65535, &v);
			o->participants = (unsigned)v;
			break;
		case O_ROOMS:
			bad = number(optarg, 1, 65535, &v);
			o->rooms = (unsigned)v;
			break;
		case O_TALKERS:
			bad = number(optarg, 0, 1000, &v);
			o->talkers = (unsigned)v;
			break;
		case O_PREFIX:
			o->prefix = optarg;
			break;
		case O_EXPECT:
			if (!strcmp(optarg, "echo"))
				o->expect_echo = 1;
			else if (strcmp(optarg, "mix"))
				bad = 1;
			break;
		case O_LATE:
			bad = number(optarg, 1, 60000, &v);
			o->late_ms = (unsigned)v;
			break;
		case O_RATE:
			bad = number(optarg, 1, 10000, &v);
			o->connect_rate = (unsigned)v;
			break;
		case O_JSON:
			o->json = optarg;
			break;
		case 'h':
		case O_HELP:
			return 1;
		default:
			return -EINVAL;
		}
		if (bad) {
			fprintf(stderr,
				"chorus-client: bad value for --%s: %s\n",
				longopts[c - O_PLAY].name, optarg);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "chorus-client: expected one URL\n");
		return -EINVAL;
	}
	return 0;
}

static void fill_cfg(const struct opts *o, const struct url *u,
		     mc_call_cfg_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = u->host;
	cfg->port = u->port;
	cfg->tls = u->tls;
	cfg->duration_s = o->duration;
	cfg->loop = o->loop;
	cfg->chunk = o->chunk;
	cfg->jitter_ms = o->jitter;
	cfg->seed = o->seed;
	cfg->playout_ms = o->playout;
	for (size_t i = 0; i < o->nparams; i++) {
		char *eq = strchr(o->params[i], '=');

		*eq = '\0';
		cfg->params[cfg->nparams].key = o->params[i];
		cfg->params[cfg->nparams++].value = eq + 1;
	}
	if (o->password) {
		cfg->params[cfg->nparams].key = "password";
		cfg->params[cfg->nparams++].value = o->password;
	}
	if (o->token) {
		cfg->params[cfg->nparams].key = "token";
		cfg->params[cfg->nparams++].value = o->token;
	}
}

static int run_load(const struct opts *o, const struct url *u,
		    const mc_audio_t *play)
{
	mc_fleet_opts_t fo = {0};
	mc_load_opts_t lo = {0};
	mc_load_result_t res;
	mc_call_cfg_t cfg;
	int rc;

	fill_cfg(o, u, &cfg);
	if (cfg.duration_s <= 0)
		cfg.duration_s = 10;
	fo.connects_per_ms = o->connect_rate;
	fo.hard_stop_s = cfg.duration_s + 30;
	lo.participants = o->participants;
	lo.rooms = o->rooms ? o->rooms : (o->participants + 3) / 4;
	lo.talkers = o->talkers;
	lo.room_prefix = o->prefix;
	lo.expect_echo = o->expect_echo;
	lo.play = play;
	lo.late_ms = o->late_ms;
	lo.json_path = o->json;
	rc = mc_load_run(&lo, &cfg, &fo, &res);
	if (rc) {
		fprintf(stderr, "chorus-client: load run failed: %s\n",
			strerror(-rc));
		return EXIT_LOCAL;
	}
	mc_load_report(&res, stdout, o->json);
	return res.connected == res.participants && !res.refused ? 0
								 : EXIT_REFUSED;
}

/* The one-line summary of a call; returns the exit status. */
static int call_summary(const mc_call_t *call)
{
	const mc_call_stats_t *c = mc_call_stats(call);
	const mc_rec_t *rec = mc_call_recording(call);
	int bad = c->error[0] || (c->close_code && c->close_code != 1000 &&
				  c->close_code != 1005);

	printf("sent %llu frames, received %llu, gaps %llu (%.0f ms), "
	       "marks %llu",
	       (unsigned long long)c->frames_out,
	       (unsigned long long)c->frames_in,
	       (unsigned long long)(rec ? rec->gaps : 0),
	       rec ? rec->gap_samples / 8.0 : 0.0,
	       (unsigned long long)c->marks_echoed);
	if (c->close_code)
		printf(", closed by server: %d %s", c->close_code,
		       c->close_reason);
	if (c->error[0])
		printf(", error: %s", c->error);
	printf("\n");
	return bad ? EXIT_REFUSED : 0;
}

static int run_call(const struct opts *o, const struct url *u,
		    const mc_audio_t *play)
{
	char err[MC_AUDIO_ERR_LEN];
	mc_fleet_opts_t fo = {0};
	mc_call_cfg_t cfg;
	mc_fleet_t *f;
	mc_call_t *c;
	int status;

	fill_cfg(o, u, &cfg);
	cfg.record = true; /* marks need the playback model anyway */
	if (play) {
		cfg.audio = play->samples;
		cfg.audio_n = play->n;
	}
	fo.connects_per_ms = 1;
	fo.progress = !o->quiet && isatty(STDOUT_FILENO);
	f = mc_fleet_new(&fo, 1);
	if (!f) {
		fprintf(stderr,
			"chorus-client: cannot create the event "
			"loop: %s\n",
			strerror(errno));
		return EXIT_LOCAL;
	}
	c = mc_fleet_add(f, &cfg, u->path, -1, -1);
	if (!c) {
		fprintf(stderr, "chorus-client: out of memory\n");
		mc_fleet_free(f);
		return EXIT_LOCAL;
	}
	running = f;
	mc_fleet_run(f);
	running = NULL;
	if (fo.progress)
		printf("\n");
	status = call_summary(c);
	if (o->record) {
		size_t n;
		const int16_t *pcm = mc_rec_samples(mc_call_recording(c), &n);

		if (mc_audio_write_wav(o->record, pcm, n, G711_RATE, err)) {
			fprintf(stderr, "chorus-client: %s\n", err);
			status = status ? status : EXIT_LOCAL;
		}
	}
	mc_fleet_free(f);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {.chunk = 160,
			 .playout = 60,
			 .participants = 200,
			 .talkers = 1,
			 .late_ms = 150,
			 .connect_rate = 10,
			 .prefix = "load-"};
	char err[MC_AUDIO_ERR_LEN];
	mc_audio_t audio = {0};
	struct url u;
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : EXIT_LOCAL;
	}
	if (parse_url(argv[optind], &u)) {
		fprintf(stderr,
			"chorus-client: not a ws:// or wss://host:port/path "
			"URL: %s\n",
			argv[optind]);
		return EXIT_LOCAL;
	}
	if (!o.seed)
		o.seed = (uint64_t)getpid() * 2654435761u ^ chorus_now_ns();
	if (o.play && mc_audio_load(&audio, o.play, G711_RATE, err)) {
		fprintf(stderr, "chorus-client: %s\n", err);
		return EXIT_LOCAL;
	}
	if (!o.play && o.tone > 0 &&
	    mc_audio_tone(&audio, G711_RATE, o.tone, 8000, 1.0) == 0)
		o.loop = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o.load)
		rc = run_load(&o, &u, audio.samples ? &audio : NULL);
	else
		rc = run_call(&o, &u, audio.samples ? &audio : NULL);
	mc_audio_free(&audio);
	return rc;
}
