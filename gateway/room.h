/*
 * room.h - rooms and admission: the registry of rooms by name, passwords,
 * seats and limits.
 *
 * The registry has one mutex, taken only when a call joins or leaves (and
 * when an empty room's clock stops), never per frame. Each room has its own
 * lock, held by its tick and by control calls on its mixer (add, remove,
 * flags), as mixer.h requires. Rooms are created on first join when
 * auto-creation is on (taking the creator's password, or none, until they
 * empty) or come from the config file (kept when empty).
 *
 * A room's clock (clock.h) must run while the room has participants: the
 * registry tells the call that brings the first one to start it
 * (gw_member_t.start_timer), and the clock asks the registry at each tick
 * whether the room has emptied (gw_registry_clock_idle()), which frees an
 * emptied auto-created room from the clock's thread. No I/O here; nothing
 * logs.
 */
#ifndef CHORUS_GW_ROOM_H
#define CHORUS_GW_ROOM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/names.h"
#include "gateway/proto.h"
#include "mixer/mixer.h"

typedef struct gw_room gw_room_t;
typedef struct gw_member gw_member_t;

/* What the admin API shows of a call in a room: the call's own, set before
 * it joins and constant while it is in the room. */
typedef struct gw_call_info {
	uint64_t id;	 /* unique per connection, names it in commands */
	unsigned worker; /* the worker that serves it */
	char call_sid[GW_SID_MAX + 1];
	char stream_sid[GW_SID_MAX + 1];
	char *params; /* customParameters as JSON, secrets removed; or NULL */
	uint64_t joined_unix_ms;
} gw_call_info_t;

struct gw_room {
	char name[GW_ROOM_NAME_MAX + 1];
	bool admin; /* from the config file or the admin API: kept when empty */
	mix_room_t *mix;
	pthread_mutex_t lock; /* the tick and mixer control calls */
	atomic_uint members;

	/* Under the registry lock. */
	char password[GW_PASSWORD_MAX + 1]; /* "" = none */
	bool locked;			    /* refuses new joins */
	unsigned max_participants;
	unsigned n_seats;    /* seats allocated: >= max_participants */
	gw_member_t **seats; /* seats[i]: who sits in seat i + 1, or NULL */
	bool timer_active;   /* the clock runs (or is about to) */
	bool unlinked;	     /* emptied; its clock frees it */
	gw_room_t *next;     /* registry list */

	gw_tick_t tick; /* its place on a clock: the clock's (clock.h) */
};

typedef struct gw_registry gw_registry_t;

/* A call's place in a room, filled in by gw_registry_join(). */
struct gw_member {
	gw_room_t *room;
	unsigned seat; /* from 1 */
	mix_participant_t *p;
	bool created;	  /* this join created the room */
	bool start_timer; /* the caller must start the room's clock */
	const gw_call_info_t *info;

	/* Set by the admin API under the room's lock (mirrors the mixer's). */
	bool muted, deaf;
	double gain_db;
};

/* Creates the registry and the config file's rooms. NULL on failure. */
gw_registry_t *gw_registry_new(const gw_config_t *c);
/* Frees every room. Call after the workers have stopped. */
void gw_registry_free(gw_registry_t *r);

/* How a call may enter (gw_registry_admit()). */
#define GW_JOIN_MAY_CREATE 0x1u /* create the room if it does not exist */
#define GW_JOIN_TRUSTED	   0x2u /* a valid join token: no password asked */

/*
 * Admits a call as gw_registry_join() does, with flags (GW_JOIN_*) instead
 * of the server's auto-creation setting deciding whether a missing room is
 * created and whether the room's password is asked.
 */
int gw_registry_admit(gw_registry_t *r, const char *name, const char *password,
		      unsigned flags, void *user, const gw_call_info_t *info,
		      gw_member_t *m);

/*
 * Admits a call with user (the mixer's user pointer) to room name, given
 * password (NULL when the call gave none). info (which must stay valid
 * until the call leaves) is what the admin API shows of it. Returns 0 and
 * fills *m, or -EACCES (wrong password), -EPERM (the room is locked),
 * -ENOENT (no such room, auto-creation off), -EUSERS (the room is full),
 * -EMLINK (too many rooms), -ENOMEM.
 */
int gw_registry_join(gw_registry_t *r, const char *name, const char *password,
		     void *user, const gw_call_info_t *info, gw_member_t *m);

/* Takes the call out of its room; its mixer participant plays out what it
 * still has buffered and is then freed by the room's tick; the room,
 * once empty, is forgotten (auto-created) or kept (admin). If final is not
 * NULL it gets the participant's mixer statistics as they stood when it left
 * (all zero if it never had a participant). */
void gw_registry_leave(gw_registry_t *r, gw_member_t *m,
		       mix_participant_stats_t *final);

/*
 * Called from the room's clock when it finds the room empty. Returns true if
 * the clock must stop (the room was freed when it was an emptied
 * auto-created room: do not touch it again), false if a call joined
 * meanwhile and the clock goes on.
 */
bool gw_registry_clock_idle(gw_registry_t *r, gw_room_t *room);

/* Rooms now, and rooms whose clocks run, for stats. */
void gw_registry_counts(gw_registry_t *r, unsigned *rooms, unsigned *active);

/* --- for the admin API (api.h) ------------------------------------------
 * Each runs its callback with the registry's lock and the room's lock held:
 * the room, its fields and its members' seats cannot change meanwhile, and
 * the callback may call the mixer's control functions and change the
 * fields marked "under the registry lock". The callback must not block or
 * call back into the registry. */

typedef void (*gw_room_fn)(gw_room_t *room, void *data);

/* Calls fn for every room. */
void gw_registry_each(gw_registry_t *r, gw_room_fn fn, void *data);
/* Calls fn for room name. Returns 0, or -ENOENT. */
int gw_registry_with(gw_registry_t *r, const char *name, gw_room_fn fn,
		     void *data);

/* Creates the room rc describes, kept when empty like the config file's.
 * Calls fn (if not NULL) on it as gw_registry_with() does. Returns 0, or
 * -EEXIST, -EMLINK (too many rooms), -EINVAL (settings), -ENOMEM. */
int gw_registry_create(gw_registry_t *r, const gw_room_conf_t *rc,
		       gw_room_fn fn, void *data);

/* Sets room's participant limit. Returns 0, or -EBUSY if a seat above max
 * is taken, -ENOMEM. With both locks held (inside a gw_room_fn). */
int gw_room_set_max(gw_room_t *room, unsigned max);

/*
 * Deletes room name: calls fn on it (to end its calls), then forgets it, so
 * that the name is free at once; its calls leave as they close and the
 * room is freed after the last. Returns 0, or -ENOENT.
 */
int gw_registry_delete(gw_registry_t *r, const char *name, gw_room_fn fn,
		       void *data);

#endif /* CHORUS_GW_ROOM_H */
