/* Unit tests for control/table/fdb.c: learning, moves, ageing, eviction order,
 * link removal and the dirty flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/table/fdb.h"
#include "tests/unit/fdb_lookup.h"

static void mac_of(unsigned i, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0;
	mac[2] = (uint8_t)(i >> 24);
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

static void test_learn_lookup_move(void **state)
{
	(void)state;
	struct ctl_fdb f;
	uint8_t m[6];
	assert_int_equal(ctl_fdb_init(&f, 16, 10), 0);
	mac_of(1, m);
	assert_int_equal(fdb_lookup(&f, m), -1);
	assert_false(f.dirty);
	ctl_fdb_learn(&f, m, 7, 1000);
	assert_true(f.dirty);
	assert_int_equal(fdb_lookup(&f, m), 7);
	assert_int_equal(ctl_fdb_count(&f), 1);

	/* Same link again: refresh only, no table rebuild needed. */
	f.dirty = false;
	ctl_fdb_learn(&f, m, 7, 2000);
	assert_false(f.dirty);
	/* A move is a change. */
	ctl_fdb_learn(&f, m, 8, 2100);
	assert_true(f.dirty);
	assert_int_equal(fdb_lookup(&f, m), 8);
	assert_int_equal(f.moved, 1);
	assert_int_equal(ctl_fdb_count(&f), 1);

	/* Multicast and broadcast sources are never learned. */
	uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t mc[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	ctl_fdb_learn(&f, bc, 1, 3000);
	ctl_fdb_learn(&f, mc, 1, 3000);
	assert_int_equal(ctl_fdb_count(&f), 1);
	ctl_fdb_fini(&f);
}

static void test_ageing(void **state)
{
	(void)state;
	struct ctl_fdb f;
	uint8_t a[6], b[6];
	assert_int_equal(ctl_fdb_init(&f, 16, 5), 0);
	mac_of(1, a);
	mac_of(2, b);
	ctl_fdb_learn(&f, a, 1, 0);
	ctl_fdb_learn(&f, b, 1, 3000);
	f.dirty = false;
	assert_int_equal(ctl_fdb_age(&f, 4999), 0);
	assert_false(f.dirty);
	assert_int_equal(ctl_fdb_age(&f, 5000), 1);
	assert_true(f.dirty);
	assert_int_equal(fdb_lookup(&f, a), -1);
	assert_int_equal(fdb_lookup(&f, b), 1);
	/* A refresh moves b to the young end. */
	ctl_fdb_learn(&f, b, 1, 7000);
	assert_int_equal(ctl_fdb_age(&f, 9000), 0);
	assert_int_equal(ctl_fdb_age(&f, 12000), 1);
	assert_int_equal(ctl_fdb_count(&f), 0);
	/* max_age 0: never. */
	ctl_fdb_set_max_age(&f, 0);
	ctl_fdb_learn(&f, a, 1, 0);
	assert_int_equal(ctl_fdb_age(&f, 1000000000), 0);
	ctl_fdb_fini(&f);
}

static void test_eviction_oldest(void **state)
{
	(void)state;
	struct ctl_fdb f;
	uint8_t m[6];
	assert_int_equal(ctl_fdb_init(&f, 8, 0), 0);
	for (unsigned i = 0; i < 8; i++) {
		mac_of(i, m);
		ctl_fdb_learn(&f, m, i, 100 + i);
	}
	/* Refresh MAC 0: MAC 1 becomes the oldest. */
	mac_of(0, m);
	ctl_fdb_learn(&f, m, 0, 200);
	mac_of(100, m);
	ctl_fdb_learn(&f, m, 100, 300);
	assert_int_equal(ctl_fdb_count(&f), 8);
	assert_int_equal(f.evicted, 1);
	mac_of(1, m);
	assert_int_equal(fdb_lookup(&f, m), -1);
	mac_of(0, m);
	assert_int_equal(fdb_lookup(&f, m), 0);
	mac_of(100, m);
	assert_int_equal(fdb_lookup(&f, m), 100);
	/* Many more than the capacity: always bounded, newest kept. */
	for (unsigned i = 1000; i < 5000; i++) {
		mac_of(i, m);
		ctl_fdb_learn(&f, m, 1, i);
	}
	assert_int_equal(ctl_fdb_count(&f), 8);
	for (unsigned i = 4992; i < 5000; i++) {
		mac_of(i, m);
		assert_int_equal(fdb_lookup(&f, m), 1);
	}
	ctl_fdb_fini(&f);
}

static void test_remove_link(void **state)
{
	(void)state;
	struct ctl_fdb f;
	uint8_t m[6];
	assert_int_equal(ctl_fdb_init(&f, 0, 300), 0);
	assert_int_equal(f.cap, CTL_FDB_DEFAULT_CAP);
	for (unsigned i = 0; i < 300; i++) {
		mac_of(i, m);
		ctl_fdb_learn(&f, m, i % 3, i);
	}
	f.dirty = false;
	assert_int_equal(ctl_fdb_remove_link(&f, 1), 100);
	assert_true(f.dirty);
	assert_int_equal(ctl_fdb_count(&f), 200);
	for (unsigned i = 0; i < 300; i++) {
		mac_of(i, m);
		assert_int_equal(fdb_lookup(&f, m), i % 3 == 1 ? -1 : (int64_t)(i % 3));
	}
	assert_int_equal(ctl_fdb_remove_link(&f, 42), 0);
	/* Freed slots are reused. */
	for (unsigned i = 1000; i < 1100; i++) {
		mac_of(i, m);
		ctl_fdb_learn(&f, m, 9, 5000);
	}
	assert_int_equal(ctl_fdb_count(&f), 300);
	ctl_fdb_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learn_lookup_move),
	    cmocka_unit_test(test_ageing),
	    cmocka_unit_test(test_eviction_oldest),
	    cmocka_unit_test(test_remove_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
