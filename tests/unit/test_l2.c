/* Switch mode: when a received source MAC is worth a learn event. The
 * flooding and learning paths through the pipeline are in test_pipeline.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/l2.h"

static const struct dp_table_params params = {.mode = DP_MODE_SWITCH, .mtu = 1500};

static void test_needs_learn(void **state)
{
	(void)state;
	struct dp_table *t = dp_table_create(&params, 3, 0, 0, 8);
	const uint8_t known[6] = {0x02, 0, 0, 0, 0, 0x10};
	const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x11};
	assert_non_null(t);
	assert_int_equal(dp_table_add_fdb(t, known, 1), 0);

	assert_false(dp_l2_needs_learn(t, known, 1)); /* already where it is */
	assert_true(dp_l2_needs_learn(t, known, 0));  /* moved to another link */
	assert_true(dp_l2_needs_learn(t, known, 2));
	assert_true(dp_l2_needs_learn(t, other, 1));  /* never seen */
	assert_false(dp_l2_needs_learn(t, other, 3)); /* no such link */
	assert_false(dp_l2_needs_learn(t, other, DP_LINK_NONE));

	/* Group and zero addresses are never learned. */
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
	const uint8_t v6mc[6] = {0x33, 0x33, 0, 0, 0, 1};
	const uint8_t zero[6] = {0};
	assert_false(dp_l2_needs_learn(t, bcast, 0));
	assert_false(dp_l2_needs_learn(t, mcast, 0));
	assert_false(dp_l2_needs_learn(t, v6mc, 0));
	assert_false(dp_l2_needs_learn(t, zero, 0));
	dp_table_free(t);
}

static void test_multicast_bit(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		uint8_t mac[6] = {(uint8_t)b, 1, 2, 3, 4, 5};
		assert_int_equal(dp_mac_is_multicast(mac), b & 1);
	}
}

/* Every unicast MAC the FDB holds is known on exactly its own link. */
static void test_fdb_agrees(void **state)
{
	(void)state;
	enum { N = 200, LINKS = 5 };
	struct dp_table *t = dp_table_create(&params, LINKS, 0, 0, N);
	assert_non_null(t);
	for (unsigned i = 0; i < N; i++) {
		uint8_t mac[6] = {0x52, 0x54, 0, (uint8_t)(i * 13), (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(dp_table_add_fdb(t, mac, (uint16_t)(i % LINKS)), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		uint8_t mac[6] = {0x52, 0x54, 0, (uint8_t)(i * 13), (uint8_t)(i >> 8), (uint8_t)i};
		for (uint16_t l = 0; l < LINKS; l++)
			assert_int_equal(dp_l2_needs_learn(t, mac, l), l != i % LINKS);
	}
	dp_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_needs_learn),
	    cmocka_unit_test(test_multicast_bit),
	    cmocka_unit_test(test_fdb_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
