/* Packet descriptors, pools, drop names and counters (dataplane/pkt.[ch]). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/pkt.h"

static void test_pool_limits(void **state)
{
	(void)state;
	struct dp_pool pool;
	assert_int_equal(dp_pool_init(&pool, 0), -ENOMEM);
	assert_int_equal(dp_pool_init(&pool, (1u << 24) + 1), -ENOMEM);
	assert_int_equal(dp_pool_init(&pool, 1), 0);
	struct dp_pkt *p = dp_pool_get(&pool);
	assert_non_null(p);
	assert_null(dp_pool_get(&pool));
	dp_pool_put(&pool, p);
	assert_ptr_equal(dp_pool_get(&pool), p);
	dp_pool_put(&pool, p);
	dp_pool_fini(&pool);
	assert_null(pool.mem);
	assert_null(pool.bufs);
}

/* Every buffer is its own DP_BUF_SIZE bytes: writing one end to end never
 * touches another, and a jumbo frame plus ESP fits behind the headroom. */
static void test_buffers_disjoint(void **state)
{
	(void)state;
	enum { N = 64 };
	struct dp_pool pool;
	struct dp_pkt *v[N];
	assert_int_equal(dp_pool_init(&pool, N), 0);
	for (unsigned i = 0; i < N; i++) {
		v[i] = dp_pool_get(&pool);
		assert_int_equal(v[i]->buf_size, DP_BUF_SIZE);
		assert_int_equal((uintptr_t)v[i] % 64, 0);
		assert_int_equal((uintptr_t)v[i]->buf % 64, 0);
		assert_ptr_equal(v[i]->data, v[i]->buf + DP_HEADROOM);
		assert_int_equal(dp_pkt_headroom(v[i]), DP_HEADROOM);
		assert_int_equal(dp_pkt_tailroom(v[i]), DP_BUF_SIZE - DP_HEADROOM);
		memset(v[i]->buf, (int)i, DP_BUF_SIZE);
	}
	for (unsigned i = 0; i < N; i++)
		for (unsigned k = 0; k < DP_BUF_SIZE; k += 97)
			assert_int_equal(v[i]->buf[k], i);
	/* the largest frame ipopd accepts, VLAN-tagged, plus ESP growth */
	assert_true(DP_HEADROOM + DP_MTU_MAX + 14 + 4 + 35 + 4 <= DP_BUF_SIZE);
	v[0]->len = DP_MTU_MAX + 18;
	assert_int_equal(dp_pkt_tailroom(v[0]), DP_BUF_SIZE - DP_HEADROOM - DP_MTU_MAX - 18);
	v[0]->data -= 16;
	assert_int_equal(dp_pkt_headroom(v[0]), DP_HEADROOM - 16);
	/* reset restores the layout, not the descriptor's buffer */
	uint8_t *buf = v[0]->buf;
	v[0]->drop = DP_DROP_AUTH;
	v[0]->sa = (void *)1;
	dp_pkt_reset(v[0]);
	assert_ptr_equal(v[0]->buf, buf);
	assert_ptr_equal(v[0]->data, buf + DP_HEADROOM);
	assert_int_equal(v[0]->len, 0);
	assert_int_equal(v[0]->drop, DP_DROP_NONE);
	assert_null(v[0]->sa);
	assert_int_equal(v[0]->link, DP_LINK_NONE);
	dp_pool_put_bulk(&pool, v, N);
	assert_int_equal(pool.avail, N);
	dp_pool_fini(&pool);
}

static void test_attach(void **state)
{
	(void)state;
	static uint8_t mem[300];
	struct dp_pkt p;
	memset(&p, 0xee, sizeof(p));
	dp_pkt_attach(&p, mem, sizeof(mem));
	assert_ptr_equal(p.buf, mem);
	assert_int_equal(p.buf_size, sizeof(mem));
	assert_ptr_equal(p.data, mem + DP_HEADROOM);
	assert_int_equal(dp_pkt_tailroom(&p), sizeof(mem) - DP_HEADROOM);
	assert_int_equal(p.drop, DP_DROP_NONE);
	assert_null(p.sa);
}

static void test_compact(void **state)
{
	(void)state;
	struct dp_pool pool;
	struct dp_counters c;
	struct dp_pkt *v[6];
	memset(&c, 0, sizeof(c));
	assert_int_equal(dp_pool_init(&pool, 6), 0);
	for (int i = 0; i < 6; i++)
		v[i] = dp_pool_get(&pool);
	struct dp_pkt *keep[2] = {v[1], v[4]};
	v[0]->drop = DP_DROP_SHORT;
	v[2]->drop = DP_DROP_BAD_VNET_HDR;
	v[3]->drop = DP_DROP_SHORT;
	v[5]->drop = 200; /* out of range: counted as garbage, never out of bounds */
	assert_int_equal(dp_burst_compact(v, 6, &pool, &c), 2);
	assert_ptr_equal(v[0], keep[0]);
	assert_ptr_equal(v[1], keep[1]);
	assert_int_equal(c.drops[DP_DROP_SHORT], 2);
	assert_int_equal(c.drops[DP_DROP_BAD_VNET_HDR], 1);
	assert_int_equal(c.drops[DP_DROP_GARBAGE], 1);
	assert_int_equal(pool.avail, 4);
	dp_pool_put_bulk(&pool, v, 2);
	dp_pool_fini(&pool);
}

static void test_names_and_counters(void **state)
{
	(void)state;
	for (int i = 0; i < DP_DROP__MAX; i++) {
		assert_non_null(dp_drop_names[i]);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(dp_drop_names[i], dp_drop_names[k]);
	}
	assert_string_equal(dp_drop_names[DP_DROP_BAD_VNET_HDR], "bad_vnet_hdr");

	/* every field, offload counters and drops included, is summed */
	static struct dp_counters a, sum;
	uint64_t *f = (uint64_t *)&a;
	size_t n = offsetof(struct dp_counters, drops) / 8 + DP_DROP__MAX;
	for (size_t i = 0; i < n; i++)
		f[i] = i + 1;
	memset(&sum, 0, sizeof(sum));
	dp_counters_add_into(&sum, &a);
	dp_counters_add_into(&sum, &a);
	uint64_t *s = (uint64_t *)&sum;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s[i], 2 * (i + 1));
	assert_int_equal(sum.udp_gro_segments, 2 * a.udp_gro_segments);
	assert_int_equal(sum.tap_coalesced, 2 * a.tap_coalesced);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_limits),
	    cmocka_unit_test(test_buffers_disjoint),
	    cmocka_unit_test(test_attach),
	    cmocka_unit_test(test_compact),
	    cmocka_unit_test(test_names_and_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
