/*
 * room.c - the room registry, admission and room names (room.h).
 */
#include "gateway/room.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gw_registry {
	pthread_mutex_t lock;
	gw_room_t *rooms;     /* linked: findable by name */
	gw_room_t *graveyard; /* emptied, waiting for their clock to free
				 them (or for shutdown) */
	unsigned n_rooms;
	unsigned n_active; /* clocks running */
	unsigned max_rooms;
	unsigned max_per_room;
	bool auto_create;
	mix_settings_t mix;
};

static gw_room_t *room_new(const char *name, const char *password, unsigned max,
			   const mix_settings_t *mix, bool admin)
{
	gw_room_t *room = calloc(1, sizeof(*room));

	if (!room)
		return NULL;
	strcpy(room->name, name);
	strcpy(room->password, password ? password : "");
	room->admin = admin;
	room->max_participants = max;
	room->n_seats = max;
	room->seats = calloc(max, sizeof(*room->seats));
	room->mix = mix_room_new(mix);
	if (room->mix) {
		room->tick.mix = room->mix;
		room->tick.lock = &room->lock;
		room->tick.period_ns =
		    (uint64_t)mix_room_settings(room->mix)->frame_ms * 1000000;
	}
	if (!room->seats || !room->mix ||
	    pthread_mutex_init(&room->lock, NULL)) {
		if (room->mix)
			mix_room_free(room->mix);
		free(room->seats);
		free(room);
		return NULL;
	}
	return room;
}

static void room_free(gw_room_t *room)
{
	mix_room_free(room->mix);
	pthread_mutex_destroy(&room->lock);
	free(room->seats);
	free(room);
}

gw_registry_t *gw_registry_new(const gw_config_t *c)
{
	gw_registry_t *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL)) {
		free(r);
		return NULL;
	}
	r->max_rooms = c->max_rooms;
	r->max_per_room = c->max_per_room;
	r->auto_create = c->auto_create;
	r->mix = c->mix;
	for (unsigned i = 0; i < c->n_rooms; i++) {
		const gw_room_conf_t *rc = &c->rooms[i];
		gw_room_t *room =
		    room_new(rc->name, rc->password,
			     rc->max_participants ? rc->max_participants
						  : c->max_per_room,
			     &rc->mix, true);

		if (!room) {
			gw_registry_free(r);
			return NULL;
		}
		room->next = r->rooms;
		r->rooms = room;
		r->n_rooms++;
	}
	return r;
}

void gw_registry_free(gw_registry_t *r)
{
	gw_room_t *lists[2], *room, *next;

	if (!r)
		return;
	lists[0] = r->rooms;
	lists[1] = r->graveyard;
	for (int i = 0; i < 2; i++) {
		for (room = lists[i]; room; room = next) {
			next = room->next;
			room_free(room);
		}
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static gw_room_t *find(gw_registry_t *r, const char *name)
{
	for (gw_room_t *room = r->rooms; room; room = room->next) {
		if (!strcmp(room->name, name))
			return room;
	}
	return NULL;
}

/* Registry lock held. */
static int admit(gw_registry_t *r, const char *name, const char *password,
		 unsigned flags, const gw_call_info_t *info, gw_member_t *m)
{
	gw_room_t *room = find(r, name);
	unsigned seat;

	if (!room) {
		if (!(flags & GW_JOIN_MAY_CREATE))
			return -ENOENT;
		if (r->n_rooms >= r->max_rooms)
			return -EMLINK;
		room =
		    room_new(name, password, r->max_per_room, &r->mix, false);
		if (!room)
			return -ENOMEM;
		room->next = r->rooms;
		r->rooms = room;
		r->n_rooms++;
		m->created = true;
	} else if (room->password[0] && !(flags & GW_JOIN_TRUSTED) &&
		   !gw_password_equal(room->password,
				      password ? password : "")) {
		return -EACCES;
	} else if (room->locked) {
		return -EPERM;
	}
	for (seat = 0; seat < room->max_participants; seat++) {
		if (!room->seats[seat])
			break;
	}
	if (seat == room->max_participants)
		return -EUSERS; /* (never for a room just created: max >= 1) */
	room->seats[seat] = m;
	m->room = room;
	m->seat = seat + 1;
	m->info = info;
	atomic_fetch_add(&room->members, 1);
	if (!room->timer_active) {
		room->timer_active = true;
		r->n_active++;
		m->start_timer = true;
	}
	return 0;
}

int gw_registry_join(gw_registry_t *r, const char *name, const char *password,
		     void *user, const gw_call_info_t *info, gw_member_t *m)
{
	return gw_registry_admit(r, name, password,
				 r->auto_create ? GW_JOIN_MAY_CREATE : 0, user,
				 info, m);
}

int gw_registry_admit(gw_registry_t *r, const char *name, const char *password,
		      unsigned flags, void *user, const gw_call_info_t *info,
		      gw_member_t *m)
{
	int ret;

	memset(m, 0, sizeof(*m));
	pthread_mutex_lock(&r->lock);
	ret = admit(r, name, password, flags, info, m);
	if (ret == 0) {
		/* Mixer control calls never overlap the room's tick. */
		pthread_mutex_lock(&m->room->lock);
		m->p = mix_participant_new(m->room->mix, user);
		ret = m->p ? mix_room_add(m->room->mix, m->p) : -ENOMEM;
		pthread_mutex_unlock(&m->room->lock);
		if (ret < 0) {
			/* Undo the seat; the clock, if it was started for
			 * this call, finds the room empty and stops. */
			mix_participant_free(m->p);
			m->p = NULL;
			pthread_mutex_unlock(&r->lock);
			gw_registry_leave(r, m, NULL);
			memset(m, 0, sizeof(*m));
			return -ENOMEM;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void gw_registry_leave(gw_registry_t *r, gw_member_t *m,
		       mix_participant_stats_t *final)
{
	gw_room_t *room = m->room;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!room)
		return;
	pthread_mutex_lock(&r->lock);
	if (m->p) {
		/* The room plays out what the call still had buffered (the
		 * jitter target's worth), then frees the participant itself:
		 * a caller who hangs up mid-word is heard to the end. */
		pthread_mutex_lock(&room->lock);
		if (final)
			mix_participant_stats(m->p, final);
		if (mix_room_retire(room->mix, m->p) < 0) {
			mix_room_remove(room->mix, m->p);
			mix_participant_free(m->p);
		}
		pthread_mutex_unlock(&room->lock);
	}
	room->seats[m->seat - 1] = NULL;
	if (atomic_fetch_sub(&room->members, 1) == 1 && !room->admin &&
	    !room->unlinked) {
		gw_room_t **pp = &r->rooms;

		while (*pp != room)
			pp = &(*pp)->next;
		*pp = room->next;
		r->n_rooms--;
		room->unlinked = true;
		room->next = r->graveyard;
		r->graveyard = room;
	}
	pthread_mutex_unlock(&r->lock);
	m->room = NULL;
	m->p = NULL;
}

bool gw_registry_clock_idle(gw_registry_t *r, gw_room_t *room)
{
	bool stop = false;

	pthread_mutex_lock(&r->lock);
	if (atomic_load(&room->members) == 0) {
		stop = true;
		room->timer_active = false;
		r->n_active--;
		if (room->unlinked) {
			gw_room_t **pp = &r->graveyard;

			while (*pp != room)
				pp = &(*pp)->next;
			*pp = room->next;
			room_free(room);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return stop;
}

void gw_registry_counts(gw_registry_t *r, unsigned *rooms, unsigned *active)
{
	pthread_mutex_lock(&r->lock);
	*rooms = r->n_rooms;
	*active = r->n_active;
	pthread_mutex_unlock(&r->lock);
}

void gw_registry_each(gw_registry_t *r, gw_room_fn fn, void *data)
{
	pthread_mutex_lock(&r->lock);
	for (gw_room_t *room = r->rooms; room; room = room->next) {
		pthread_mutex_lock(&room->lock);
		fn(room, data);
		pthread_mutex_unlock(&room->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

int gw_registry_with(gw_registry_t *r, const char *name, gw_room_fn fn,
		     void *data)
{
	gw_room_t *room;

	pthread_mutex_lock(&r->lock);
	room = find(r, name);
	if (room) {
		pthread_mutex_lock(&room->lock);
		fn(room, data);
		pthread_mutex_unlock(&room->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return room ? 0 : -ENOENT;
}

int gw_registry_create(gw_registry_t *r, const gw_room_conf_t *rc,
		       gw_room_fn fn, void *data)
{
	gw_room_t *room = NULL;
	int ret = 0;

	if (mix_settings_validate(&rc->mix) < 0)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (find(r, rc->name))
		ret = -EEXIST;
	else if (r->n_rooms >= r->max_rooms)
		ret = -EMLINK;
	else if (!(room = room_new(rc->name, rc->password,
				   rc->max_participants ? rc->max_participants
							: r->max_per_room,
				   &rc->mix, true)))
		ret = -ENOMEM;
	if (!ret) {
		room->next = r->rooms;
		r->rooms = room;
		r->n_rooms++;
		if (fn) {
			pthread_mutex_lock(&room->lock);
			fn(room, data);
			pthread_mutex_unlock(&room->lock);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int gw_room_set_max(gw_room_t *room, unsigned max)
{
	for (unsigned i = max; i < room->n_seats; i++) {
		if (room->seats[i])
			return -EBUSY;
	}
	if (max > room->n_seats) {
		gw_member_t **seats =
		    realloc(room->seats, max * sizeof(*room->seats));

		if (!seats)
			return -ENOMEM;
		memset(seats + room->n_seats, 0,
		       (max - room->n_seats) * sizeof(*seats));
		room->seats = seats;
		room->n_seats = max;
	}
	room->max_participants = max;
	return 0;
}

int gw_registry_delete(gw_registry_t *r, const char *name, gw_room_fn fn,
		       void *data)
{
	gw_room_t *room, **pp = &r->rooms;
	bool free_now;

	pthread_mutex_lock(&r->lock);
	room = find(r, name);
	if (!room) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	pthread_mutex_lock(&room->lock);
	fn(room, data);
	pthread_mutex_unlock(&room->lock);
	while (*pp != room)
		pp = &(*pp)->next;
	*pp = room->next;
	r->n_rooms--;
	room->admin = false;
	room->locked = true;
	/* A room whose clock runs, or will once its calls leave, is freed by
	 * the clock (gw_registry_clock_idle()); an idle one now. */
	free_now = !room->timer_active;
	if (!free_now) {
		room->unlinked = true;
		room->next = r->graveyard;
		r->graveyard = room;
	}
	pthread_mutex_unlock(&r->lock);
	if (free_now)
		room_free(room);
	return 0;
}
