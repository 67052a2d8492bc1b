/* Unit tests for the lock-free ESP anti-replay window (dataplane/replay.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dataplane/replay.h"

/* check must agree with update, then update decides. */
static bool accept(struct dp_replay *r, uint32_t seq)
{
	bool hint = dp_replay_check(r, seq);
	int rc = dp_replay_update(r, seq);
	if (rc == 0)
		assert_true(hint); /* single thread: the hint is exact */
	return rc == 0;
}

static void test_in_order(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	for (uint32_t s = 1; s <= 10000; s++)
		assert_true(accept(&r, s));
	for (uint32_t s = 10000 - DP_REPLAY_WINDOW + 1; s <= 10000; s++)
		assert_false(dp_replay_check(&r, s));
}

static void test_duplicate(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	assert_true(accept(&r, 5));
	assert_false(dp_replay_check(&r, 5));
	assert_int_equal(dp_replay_update(&r, 5), -1);
	/* out of order inside the window, each once */
	assert_true(accept(&r, 3));
	assert_true(accept(&r, 4));
	assert_false(accept(&r, 3));
	assert_true(accept(&r, 1));
	assert_false(accept(&r, 1));
	assert_true(dp_replay_check(&r, 2));
}

static void test_seq_zero(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	assert_false(dp_replay_check(&r, 0));
	assert_int_equal(dp_replay_update(&r, 0), -1);
	assert_true(accept(&r, 1));
	assert_false(accept(&r, 0));
}

static void test_window_edge(void **state)
{
	(void)state;

	/* Try the edge with top at every offset inside a 32-number block. */
	for (uint32_t top = 5000; top < 5000 + 40; top++) {
		struct dp_replay r;
		dp_replay_init(&r);
		assert_true(accept(&r, top));
		uint32_t edge = top - DP_REPLAY_WINDOW + 1; /* oldest acceptable */
		assert_false(dp_replay_check(&r, edge - 1));
		assert_int_equal(dp_replay_update(&r, edge - 1), -1);
		assert_true(accept(&r, edge));
		assert_false(accept(&r, edge));
		/* everything between edge and top is still fresh */
		for (uint32_t s = edge + 1; s < top; s++)
			assert_true(accept(&r, s));
		assert_false(accept(&r, top));
	}
}

static void test_old(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	assert_true(accept(&r, 100000));
	assert_false(accept(&r, 1));
	assert_false(accept(&r, 100000 - DP_REPLAY_WINDOW));
	assert_false(accept(&r, 100000 - 5000));
	assert_true(accept(&r, 100000 - 7));
}

static void test_far_ahead(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	for (uint32_t s = 1; s <= 64; s++)
		assert_true(accept(&r, s));
	/* jump far past the window: the whole ring is reused */
	uint32_t far = 64 + 10 * DP_REPLAY_WINDOW + 13;
	assert_true(accept(&r, far));
	for (uint32_t s = 1; s <= 64; s++)
		assert_false(accept(&r, s));
	for (uint32_t s = 65; s <= far - DP_REPLAY_WINDOW; s += 17)
		assert_false(accept(&r, s));
	/* never-seen numbers just inside the window are accepted once */
	for (uint32_t s = far - DP_REPLAY_WINDOW + 1; s < far; s += 31) {
		assert_true(accept(&r, s));
		assert_false(accept(&r, s));
	}
	/* a jump of exactly one ring of blocks reuses slots in place */
	uint32_t next = far + DP_REPLAY_SLOTS * 32;
	assert_true(accept(&r, next));
	assert_false(accept(&r, far));
	assert_true(accept(&r, next - 1));
}

static void test_near_wrap(void **state)
{
	struct dp_replay r;
	(void)state;

	dp_replay_init(&r);
	assert_true(accept(&r, 0xfffffff0u));
	assert_true(accept(&r, 0xffffffffu));
	assert_false(accept(&r, 0xffffffffu));
	assert_true(accept(&r, 0xfffffffeu));
	/* nothing wraps: small numbers are far left of the window */
	assert_false(accept(&r, 1));
	assert_false(accept(&r, 0));
	assert_false(accept(&r, 31));
	assert_false(accept(&r, 0xffffffffu - DP_REPLAY_WINDOW));
	assert_true(accept(&r, 0xffffffffu - DP_REPLAY_WINDOW + 1));
	assert_false(accept(&r, 0xffffffffu));
}

/* Several workers receive the same stream (duplicated and locally reordered,
 * like retransmissions through different paths). Every number must be
 * accepted exactly once across all threads. Each thread walks the numbers in
 * chunks of CHUNK (< window) shuffled inside the chunk, so the first thread to
 * offer a number always finds it inside the window. */
#define CONC_THREADS 4
#define CONC_N	     200000u
#define CHUNK	     256u

struct conc_arg {
	struct dp_replay *r;
	_Atomic uint8_t *hits;
	_Atomic unsigned *go;
	unsigned id;
	uint64_t accepted;
};

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void *conc_worker(void *p)
{
	struct conc_arg *a = p;
	uint32_t rng = 0x9e3779b9u * (a->id + 1);
	uint32_t order[CHUNK];

	while (!atomic_load(a->go))
		;
	for (uint32_t base = 1; base <= CONC_N; base += CHUNK) {
		for (uint32_t k = 0; k < CHUNK; k++)
			order[k] = base + k;
		for (uint32_t k = CHUNK - 1; k > 0; k--) {
			uint32_t j = xorshift(&rng) % (k + 1);
			uint32_t t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		for (uint32_t k = 0; k < CHUNK; k++) {
			uint32_t s = order[k];
			if (s > CONC_N)
				continue;
			/* offer some numbers twice in a row, as a duplicated packet */
			unsigned tries = (xorshift(&rng) & 3) == 0 ? 2 : 1;
			while (tries--) {
				if (dp_replay_check(a->r, s) && dp_replay_update(a->r, s) == 0) {
					atomic_fetch_add(&a->hits[s], 1);
					a->accepted++;
				}
			}
		}
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct dp_replay r;
	_Atomic uint8_t *hits = calloc(CONC_N + 1, sizeof(*hits));
	_Atomic unsigned go = 0;
	pthread_t th[CONC_THREADS];
	struct conc_arg args[CONC_THREADS];
	uint64_t total = 0;
	(void)state;

	assert_non_null(hits);
	dp_replay_init(&r);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		args[i] = (struct conc_arg){.r = &r, .hits = hits, .go = &go, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
	}
	atomic_store(&go, 1);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		total += args[i].accepted;
	}
	for (uint32_t s = 1; s <= CONC_N; s++) {
		if (atomic_load(&hits[s]) != 1)
			fail_msg("seq %u accepted %u times", s, (unsigned)atomic_load(&hits[s]));
	}
	assert_int_equal(total, CONC_N);
	assert_int_equal(atomic_load(&r.top), CONC_N);
	free(hits);
}

/* Threads race on the very same numbers at the same moment. */
static void *dup_worker(void *p)
{
	struct conc_arg *a = p;

	while (!atomic_load(a->go))
		;
	for (uint32_t s = 1; s <= CONC_N; s++) {
		if (dp_replay_update(a->r, s) == 0) {
			atomic_fetch_add(&a->hits[s], 1);
			a->accepted++;
		}
	}
	return NULL;
}

static void test_concurrent_same_order(void **state)
{
	struct dp_replay r;
	_Atomic uint8_t *hits = calloc(CONC_N + 1, sizeof(*hits));
	_Atomic unsigned go = 0;
	pthread_t th[CONC_THREADS];
	struct conc_arg args[CONC_THREADS];
	uint64_t total = 0;
	(void)state;

	assert_non_null(hits);
	dp_replay_init(&r);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		args[i] = (struct conc_arg){.r = &r, .hits = hits, .go = &go, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, dup_worker, &args[i]), 0);
	}
	atomic_store(&go, 1);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		total += args[i].accepted;
	}
	for (uint32_t s = 1; s <= CONC_N; s++) {
		if (atomic_load(&hits[s]) != 1)
			fail_msg("seq %u accepted %u times", s, (unsigned)atomic_load(&hits[s]));
	}
	assert_int_equal(total, CONC_N);
	free(hits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_seq_zero),
	    cmocka_unit_test(test_window_edge),
	    cmocka_unit_test(test_old),
	    cmocka_unit_test(test_far_ahead),
	    cmocka_unit_test(test_near_wrap),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_concurrent_same_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
