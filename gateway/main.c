/*
 * chorus-gateway: the Chorus conference server. Reads the settings
 * (defaults, CHORUS_* environment, flags, config file), starts the workers,
 * and waits for SIGINT or SIGTERM to close every call with 1001 and exit 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/server.h"

static int load_config(gw_config_t *c, int argc, char **argv)
{
	char err[GW_ERR_LEN];
	int r;

	gw_config_default(c);
	if (gw_config_from_env(c, err) < 0)
		goto bad;
	r = gw_config_from_args(c, argc, argv, err);
	if (r == 1)
		return 1;
	if (r < 0) {
		fprintf(stderr, "chorus-gateway: %s (see --help)\n", err);
		return -1;
	}
	if (c->config_file[0] &&
	    gw_config_load_file(c, c->config_file, err) < 0)
		goto bad;
	if (gw_config_validate(c, err) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "chorus-gateway: %s\n", err);
	return -1;
}

int main(int argc, char **argv)
{
	gw_config_t cfg;
	gw_server_t *srv;
	sigset_t set;
	int sig = 0, r;

	r = load_config(&cfg, argc, argv);
	if (r) {
		gw_config_free(&cfg);
		return r > 0 ? 0 : 2;
	}
	gw_log_set_level(cfg.log_level);
	if (gw_log_start(cfg.log_buffer) < 0)
		gw_warn("cannot start the log writer: logging directly");
	/* A peer that vanished must not kill the server on write. */
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT/SIGTERM are blocked in every thread (the workers inherit the
	 * mask) and taken here with sigwait(), outside any event loop. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	srv = gw_server_new(&cfg);
	if (!srv || gw_server_start(srv) < 0) {
		if (srv && gw_server_stop(srv, 1000) == 0)
			gw_server_free(srv);
		gw_config_free(&cfg);
		gw_log_stop(1000);
		return 1;
	}
	gw_info("room policy: %s%s%s",
		gw_room_policy_name(gw_config_policy(&cfg)),
		cfg.twilio_auth_token[0] ? ", Twilio signatures checked" : "",
		cfg.join_secret[0] ? ", join tokens accepted" : "");
	if (gw_config_policy(&cfg) == GW_POLICY_OPEN)
		gw_warn("%s", GW_POLICY_OPEN_WARNING);
	for (unsigned i = 0; i < cfg.n_rooms; i++)
		gw_info("room %s defined by the config file (%u seats%s)",
			cfg.rooms[i].name,
			cfg.rooms[i].max_participants
			    ? cfg.rooms[i].max_participants
			    : cfg.max_per_room,
			cfg.rooms[i].password[0] ? ", password" : "");
	while (sigwait(&set, &sig) != 0)
		;
	gw_info("signal %d: closing every call with 1001", sig);
	if (gw_server_stop(srv, 900) < 0) {
		gw_warn("workers did not stop in time; exiting anyway");
		gw_log_stop(500);
		_exit(0);
	}
	gw_server_free(srv);
	gw_config_free(&cfg);
	gw_info("stopped");
	gw_log_stop(1000);
	return 0;
}
