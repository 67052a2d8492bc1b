/* Unit tests for the per-source handshake rate limiter (control/link/hsmsg.c):
 * burst and refill, and eviction when the table is full. The rest of the
 * handshake framing is tested in test_hsmsg.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control/link/hsmsg.h"

static void ep4(struct net_endpoint *ep, const char *s)
{
	assert_int_equal(net_endpoint_parse(s, ep), 0);
}

static void test_ratelimit_burst_refill(void **state)
{
	struct hs_ratelimit *rl = hs_ratelimit_create(64, 10, 5);
	struct net_endpoint a, a2, b;
	uint64_t t = 1000000;
	(void)state;

	assert_non_null(rl);
	ep4(&a, "198.18.0.1:5800");
	ep4(&a2, "198.18.0.1:40000");
	ep4(&b, "[2001:db8::1]:5800");

	for (int i = 0; i < 5; i++)
		assert_true(hs_ratelimit_allow(rl, &a, t));
	assert_false(hs_ratelimit_allow(rl, &a, t));
	assert_false(hs_ratelimit_allow(rl, &a2, t)); /* the port does not matter */
	/* an independent source has its own bucket */
	for (int i = 0; i < 5; i++)
		assert_true(hs_ratelimit_allow(rl, &b, t));
	assert_false(hs_ratelimit_allow(rl, &b, t));

	/* 10/s: one token per 100 ms */
	assert_false(hs_ratelimit_allow(rl, &a, t + 99));
	assert_true(hs_ratelimit_allow(rl, &a, t + 100));
	assert_false(hs_ratelimit_allow(rl, &a, t + 100));
	assert_false(hs_ratelimit_allow(rl, &a, t + 150));
	assert_true(hs_ratelimit_allow(rl, &a, t + 200)); /* partial tokens carry over */
	/* a steady 10/s is sustained indefinitely, 20/s gets half through */
	unsigned ok = 0;
	for (uint64_t ms = 250; ms < 10250; ms += 50)
		ok += hs_ratelimit_allow(rl, &a, t + ms);
	assert_in_range(ok, 99, 101);

	/* a long silence refills to the burst, not beyond */
	t += 3600 * 1000;
	for (int i = 0; i < 5; i++)
		assert_true(hs_ratelimit_allow(rl, &a, t));
	assert_false(hs_ratelimit_allow(rl, &a, t));
	/* time going backwards does not refill */
	assert_false(hs_ratelimit_allow(rl, &a, t - 100000));
	assert_false(hs_ratelimit_allow(rl, &a, t));
	/* an absurd jump does not overflow */
	for (int i = 0; i < 5; i++)
		assert_true(hs_ratelimit_allow(rl, &a, UINT64_MAX - 1));
	assert_false(hs_ratelimit_allow(rl, &a, UINT64_MAX - 1));
	hs_ratelimit_destroy(rl);

	/* a fast rate, to check the refill arithmetic at scale */
	rl = hs_ratelimit_create(8, 1000000, 1);
	assert_non_null(rl);
	assert_true(hs_ratelimit_allow(rl, &a, 10));
	assert_false(hs_ratelimit_allow(rl, &a, 10));
	assert_true(hs_ratelimit_allow(rl, &a, 11));
	hs_ratelimit_destroy(rl);

	/* and a slow one: 999/1000 of a token is not a token */
	rl = hs_ratelimit_create(8, 1, 1);
	assert_non_null(rl);
	assert_true(hs_ratelimit_allow(rl, &a, 5000));
	assert_false(hs_ratelimit_allow(rl, &a, 5999));
	assert_true(hs_ratelimit_allow(rl, &a, 6000));
	assert_false(hs_ratelimit_allow(rl, &a, 6000));
	hs_ratelimit_destroy(rl);
}

static void test_ratelimit_eviction(void **state)
{
	/* 4 slots, no refill: whatever a source gets back must come from eviction */
	struct hs_ratelimit *rl = hs_ratelimit_create(4, 0, 2);
	struct net_endpoint src[5];
	char s[32];
	(void)state;

	assert_non_null(rl);
	for (int i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "198.18.1.%d:5800", i + 1);
		ep4(&src[i], s);
	}
	/* fill the table: sources 0..3 at t = 1..4, each exhausted */
	for (int i = 0; i < 4; i++) {
		assert_true(hs_ratelimit_allow(rl, &src[i], 1 + i));
		assert_true(hs_ratelimit_allow(rl, &src[i], 1 + i));
		assert_false(hs_ratelimit_allow(rl, &src[i], 1 + i));
	}
	/* a fifth source takes the stalest bucket (source 0, last seen at 1) */
	assert_true(hs_ratelimit_allow(rl, &src[4], 5));
	/* the others are still tracked and still empty */
	for (int i = 1; i < 4; i++)
		assert_false(hs_ratelimit_allow(rl, &src[i], 6));
	/* source 0 was forgotten: it returns with a full bucket (evicting src 4) */
	assert_true(hs_ratelimit_allow(rl, &src[0], 7));
	assert_true(hs_ratelimit_allow(rl, &src[0], 7));
	assert_false(hs_ratelimit_allow(rl, &src[0], 7));
	for (int i = 1; i < 4; i++)
		assert_false(hs_ratelimit_allow(rl, &src[i], 8));
	hs_ratelimit_destroy(rl);

	/* a flood of distinct sources in a larger table never crashes and each
	 * new source gets exactly its burst */
	rl = hs_ratelimit_create(1024, 1, 3);
	assert_non_null(rl);
	for (unsigned i = 0; i < 20000; i++) {
		struct net_endpoint ep = {.family = AF_INET6, .port = 1};
		memcpy(ep.addr, &i, sizeof(i));
		ep.addr[15] = 0x42;
		assert_true(hs_ratelimit_allow(rl, &ep, i));
		assert_true(hs_ratelimit_allow(rl, &ep, i));
		assert_true(hs_ratelimit_allow(rl, &ep, i));
		assert_false(hs_ratelimit_allow(rl, &ep, i));
	}
	hs_ratelimit_destroy(rl);

	errno = 0;
	assert_null(hs_ratelimit_create(0, 10, 5));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(hs_ratelimit_create(16, 10, 0));
	assert_int_equal(errno, EINVAL);
	hs_ratelimit_destroy(NULL);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit_burst_refill),
	    cmocka_unit_test(test_ratelimit_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
