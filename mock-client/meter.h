/*
 * meter.h - what the load generator measures across calls: latency of
 * stamped frames, inter-arrival jitter, the generator's own send lag, and
 * the send times a listener needs to tell a frame's latency.
 *
 * A marked talker records when it sent each stamped frame
 * (mc_meter_stamp_sent); a listener that reads the stamp back
 * (marker.h) asks when it was sent (mc_meter_stamp_time). The meter keeps
 * the last MC_METER_RING send times of each registered talker, so the calls
 * never look into one another. Histograms are stats.h's: fixed memory,
 * nothing allocated after mc_meter_add_talker().
 *
 * Not thread-safe: one meter belongs to the engine thread that runs its
 * calls. No I/O, no clock reads: times are passed in.
 */
#ifndef CHORUS_MC_METER_H
#define CHORUS_MC_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock-client/stats.h"

/* Send times remembered per marked talker: 10 s of 20 ms frames, far more
 * than any latency the generator reports as anything but loss. */
#define MC_METER_RING 512

typedef struct mc_meter mc_meter_t;

/*
 * Creates a meter for talker ids 0..ntalkers-1 (none registered yet); a
 * frame later than late_us counts as late. Returns NULL on out of memory.
 * Free with mc_meter_free().
 */
mc_meter_t *mc_meter_new(size_t ntalkers, uint64_t late_us);
void mc_meter_free(mc_meter_t *m);

/* Registers talker id as one that stamps its frames (allocates its ring).
 * Returns 0, -EINVAL if id is out of range, or -ENOMEM. */
int mc_meter_add_talker(mc_meter_t *m, unsigned id);

/* Talker id sent the frame stamped seq at sent_ns. Ignored for a talker
 * that was not registered. */
void mc_meter_stamp_sent(mc_meter_t *m, unsigned id, uint16_t seq,
			 uint64_t sent_ns);

/* When talker id sent the frame stamped seq, into *sent_ns. Returns true,
 * or false if that send is unknown (not a registered talker, or older than
 * the ring remembers). */
bool mc_meter_stamp_time(const mc_meter_t *m, unsigned id, uint16_t seq,
			 uint64_t *sent_ns);

/* Records the latency of a stamped frame; returns true if it was late. */
bool mc_meter_latency(mc_meter_t *m, uint64_t us);
/* Records |inter-arrival - frame duration| of a received frame. */
void mc_meter_jitter(mc_meter_t *m, uint64_t us);
/* Records how late the generator itself sent a frame. */
void mc_meter_send_lag(mc_meter_t *m, uint64_t us);

/* The histograms, owned by m. */
const mc_hist_t *mc_meter_latency_hist(const mc_meter_t *m);
const mc_hist_t *mc_meter_jitter_hist(const mc_meter_t *m);
const mc_hist_t *mc_meter_send_lag_hist(const mc_meter_t *m);

#endif /* CHORUS_MC_METER_H */
