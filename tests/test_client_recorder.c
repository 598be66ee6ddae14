/*
 * test_client_recorder.c - the platform's playback model
 * (mock-client/recorder.h): audio lands on a real-time timeline after the
 * start-up buffer, a late frame leaves a gap of silence exactly where a
 * listener would hear it, marks come back after their audio has played,
 * and clear drops the queue and returns pending marks at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mock-client/recorder.h"

#define MS    1000000ull
#define T0    (1000 * MS)
#define FRAME 160

static void frame_of(int16_t *f, int16_t v)
{
	for (int i = 0; i < FRAME; i++)
		f[i] = v;
}

static void steady_frames_play_back_to_back_without_gaps(void **state)
{
	mc_rec_t r;
	int16_t f[FRAME];
	const int16_t *s;
	size_t n;

	(void)state;
	assert_int_equal(mc_rec_init(&r, 8000, 60), 0);
	for (int k = 0; k < 50; k++) {
		frame_of(f, (int16_t)(k + 1));
		mc_rec_push(&r, T0 + (uint64_t)k * 20 * MS, f, FRAME);
	}
	mc_rec_advance(&r, T0 + 49 * 20 * MS + 60 * MS + 20 * MS);
	s = mc_rec_samples(&r, &n);
	assert_int_equal(n, 50 * FRAME);
	assert_int_equal(r.gaps, 0);
	for (int k = 0; k < 50; k++)
		assert_int_equal(s[k * FRAME], k + 1);
	mc_rec_free(&r);
}

static void late_frame_leaves_silence_where_it_was_missed(void **state)
{
	mc_rec_t r;
	int16_t f[FRAME];
	const int16_t *s;
	size_t n;

	(void)state;
	mc_rec_init(&r, 8000, 20);
	frame_of(f, 100);
	mc_rec_push(&r, T0, f, FRAME); /* plays 20..40 ms */
	frame_of(f, 200);
	mc_rec_push(&r, T0 + 70 * MS, f, FRAME); /* should have come by 40 */
	mc_rec_advance(&r, T0 + 90 * MS); /* the second frame has played */
	mc_rec_finish(&r);
	s = mc_rec_samples(&r, &n);
	assert_int_equal(r.gaps, 1);
	assert_int_equal(r.gap_samples, 30 * 8); /* 40..70 ms */
	assert_int_equal(n, FRAME + 240 + FRAME);
	assert_int_equal(s[FRAME - 1], 100);
	assert_int_equal(s[FRAME], 0);
	assert_int_equal(s[FRAME + 239], 0);
	assert_int_equal(s[FRAME + 240], 200);
	mc_rec_free(&r);
}

static void mark_returns_after_its_audio_has_played(void **state)
{
	mc_rec_t r;
	int16_t f[FRAME];
	char name[MC_REC_MARK_NAME];

	(void)state;
	mc_rec_init(&r, 8000, 0);
	frame_of(f, 1);
	mc_rec_push(&r, T0, f, FRAME);
	mc_rec_push(&r, T0, f, FRAME); /* 40 ms queued */
	mc_rec_mark(&r, T0, "greeting");
	mc_rec_advance(&r, T0 + 39 * MS);
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 0);
	mc_rec_advance(&r, T0 + 40 * MS);
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 1);
	assert_string_equal(name, "greeting");
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 0);
	mc_rec_free(&r);
}

static void mark_with_nothing_buffered_returns_at_once(void **state)
{
	mc_rec_t r;
	char name[MC_REC_MARK_NAME];

	(void)state;
	mc_rec_init(&r, 8000, 60);
	mc_rec_mark(&r, T0, "now");
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 1);
	assert_string_equal(name, "now");
	mc_rec_free(&r);
}

static void clear_drops_queued_audio_and_returns_pending_marks(void **state)
{
	mc_rec_t r;
	int16_t f[FRAME];
	char name[MC_REC_MARK_NAME];
	size_t n;

	(void)state;
	mc_rec_init(&r, 8000, 0);
	frame_of(f, 7);
	for (int k = 0; k < 10; k++)
		mc_rec_push(&r, T0, f, FRAME);
	mc_rec_mark(&r, T0, "a");
	mc_rec_mark(&r, T0, "b");
	mc_rec_advance(&r, T0 + 50 * MS);
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 0);
	assert_int_equal(mc_rec_clear(&r, T0 + 50 * MS), 10 * FRAME - 400);
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 1);
	assert_string_equal(name, "a");
	assert_int_equal(mc_rec_next_mark(&r, name, sizeof(name)), 1);
	assert_string_equal(name, "b");
	/* Nothing left to play: the recording holds only what was heard. */
	mc_rec_finish(&r);
	mc_rec_samples(&r, &n);
	assert_int_equal(n, 400);
	mc_rec_free(&r);
}

static void marks_beyond_capacity_are_refused(void **state)
{
	mc_rec_t r;
	int16_t f[FRAME] = {0};

	(void)state;
	mc_rec_init(&r, 8000, 0);
	mc_rec_push(&r, T0, f, FRAME);
	for (int i = 0; i < MC_REC_MAX_MARKS; i++)
		assert_int_equal(mc_rec_mark(&r, T0, "m"), 0);
	assert_int_equal(mc_rec_mark(&r, T0, "m"), -ENOBUFS);
	mc_rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(steady_frames_play_back_to_back_without_gaps),
	    cmocka_unit_test(late_frame_leaves_silence_where_it_was_missed),
	    cmocka_unit_test(mark_returns_after_its_audio_has_played),
	    cmocka_unit_test(mark_with_nothing_buffered_returns_at_once),
	    cmocka_unit_test(
		clear_drops_queued_audio_and_returns_pending_marks),
	    cmocka_unit_test(marks_beyond_capacity_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
