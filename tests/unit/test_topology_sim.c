/* The topology manager at 64 nodes, in bench/'s simulator (the same code as
 * the 1,000/10,000-node runs of bench/topo_sim.sh, small enough for CI):
 * bootstrap, caps, greedy delivery between every pair with hops <= log2 N,
 * floods that reach every node exactly once, joins/leaves/crashes, an
 * on-demand shortcut, a healed partition; and the netns settings
 * (2 successors, 1 chord, 2 on-demand): not fully linked, yet every pair
 * delivers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/topo_simnet.h"

#define N 64

static struct topo_sim *boot(const struct topo_sim_params *p, unsigned n)
{
	struct topo_sim *s = topo_sim_create(p);
	assert_non_null(s);
	for (unsigned i = 0; i < n; i++) {
		topo_sim_run_until(s, topo_sim_now(s) + topo_sim_rand(s) % 2000);
		assert_true(topo_sim_join(s) >= 0);
	}
	return s;
}

/* Runs until no successor link is missing; the seconds it took. */
static unsigned converge(struct topo_sim *s, unsigned limit_s)
{
	for (unsigned i = 0; i <= limit_s; i++) {
		if (!topo_sim_violations(s))
			return i;
		topo_sim_run_until(s, topo_sim_now(s) + 1000);
	}
	fail_msg("%lu successor links still missing after %u s", topo_sim_violations(s), limit_s);
	return 0;
}

/* Every ordered pair of alive nodes: delivered, and the hop counts. */
static void all_pairs(struct topo_sim *s, unsigned nodes, unsigned *median, unsigned *p99)
{
	unsigned hist[65] = {0}, total = 0, acc = 0;
	*median = *p99 = 0;
	for (unsigned a = 0; a < nodes; a++) {
		if (!topo_sim_manager(s, a))
			continue;
		for (unsigned b = 0; b < nodes; b++) {
			unsigned h;
			if (a == b || !topo_sim_manager(s, b))
				continue;
			if (topo_sim_route(s, a, b, &h) != TOPO_SIM_DELIVERED)
				fail_msg("%u -> %u not delivered (after %u hops)", a, b, h);
			hist[h > 64 ? 64 : h]++;
			total++;
		}
	}
	for (unsigned h = 0; h <= 64; h++) {
		acc += hist[h];
		if (!*median && acc * 2 >= total)
			*median = h;
		if (!*p99 && acc * 100 >= total * 99)
			*p99 = h;
	}
}

static void floods_exactly_once(struct topo_sim *s, unsigned nodes)
{
	for (unsigned a = 0; a < nodes; a++) {
		struct topo_sim_flood f;
		if (!topo_sim_manager(s, a))
			continue;
		topo_sim_flood(s, a, &f);
		assert_int_equal(f.reached, topo_sim_members(s));
		assert_int_equal(f.duplicates, 0);
		assert_true(f.depth <= (unsigned)ceil(log2(topo_sim_members(s))));
	}
}

static void check_caps(struct topo_sim *s, const struct ctl_topo_params *tp)
{
	struct topo_sim_links l;
	topo_sim_link_stats(s, &l);
	assert_true(l.max_chord <= tp->num_chords);
	assert_true(l.max_on_demand <= tp->num_on_demand);
	assert_true(l.max_inbound <= tp->num_inbound + tp->num_successors);
	assert_true(l.max_total <=
		    tp->num_successors + tp->num_chords + tp->num_on_demand + tp->num_inbound);
}

static void test_seed_defaults(void **state)
{
	struct topo_sim_params p;
	struct topo_sim *s;
	unsigned median, p99, nodes;
	(void)state;
	topo_sim_params_default(&p, 2 * N);
	s = boot(&p, N);
	converge(s, 300);
	topo_sim_run_until(s, topo_sim_now(s) + 30000);
	check_caps(s, &p.tp);
	all_pairs(s, N, &median, &p99);
	assert_true(p99 <= 6); /* log2 64 */
	floods_exactly_once(s, N);

	/* joins, graceful leaves, crashes: the ring heals, all pairs deliver */
	for (unsigned i = 0; i < 3; i++) {
		assert_true(topo_sim_join(s) >= 0);
		topo_sim_leave(s, (unsigned)topo_sim_random_member(s), false);
		topo_sim_leave(s, (unsigned)topo_sim_random_member(s), true);
		topo_sim_run_until(s, topo_sim_now(s) + 5000);
	}
	converge(s, 300);
	nodes = N + 3;
	all_pairs(s, nodes, &median, &p99);
	assert_true(p99 <= 6);
	floods_exactly_once(s, nodes);
	check_caps(s, &p.tp);

	/* a partition of the underlay for two minutes heals within interval_ping */
	topo_sim_partition(s, true);
	topo_sim_run_until(s, topo_sim_now(s) + 120000);
	assert_true(topo_sim_violations(s) > 0);
	topo_sim_partition(s, false);
	assert_true(converge(s, (unsigned)(p.tp.interval_ping_ms / 1000) + 60) > 0);
	all_pairs(s, nodes, &median, &p99);
	topo_sim_destroy(s);
}

/* The netns settings: few links, not a full mesh, every pair still
 * delivers; a sustained flow gets an on-demand link and it goes when idle. */
static void test_small_caps_and_on_demand(void **state)
{
	struct topo_sim_params p;
	struct topo_sim *s;
	unsigned median, p99, a, b, h, unlinked = 0;
	(void)state;
	topo_sim_params_default(&p, N);
	p.tp.num_successors = 2;
	p.tp.num_chords = 1;
	p.tp.num_on_demand = 2;
	p.tp.num_inbound = 8;
	p.setup_fail = 0; /* the on-demand timing below without a retry */
	s = boot(&p, N);
	converge(s, 300);
	topo_sim_run_until(s, topo_sim_now(s) + 30000);
	check_caps(s, &p.tp);
	for (a = 0; a < N; a++)
		for (b = a + 1; b < N; b++)
			unlinked += !topo_sim_link_up(s, a, b);
	assert_true(unlinked > 0);
	all_pairs(s, N, &median, &p99);

	/* a pair several hops apart */
	for (a = 0;; a = (a + 1) % N) {
		b = (a * 7 + 13) % N;
		if (a != b && topo_sim_route(s, a, b, &h) == TOPO_SIM_DELIVERED && h >= 3)
			break;
	}
	uint64_t t0 = topo_sim_now(s);
	for (unsigned sec = 0; sec < 30 && !topo_sim_link_up(s, a, b); sec++) {
		topo_sim_traffic(s, a, b, 20); /* 20 packets/s: 300 per interval */
		topo_sim_run_until(s, topo_sim_now(s) + 1000);
	}
	assert_true(topo_sim_link_up(s, a, b));
	assert_int_equal(topo_sim_route(s, a, b, &h), TOPO_SIM_DELIVERED);
	assert_int_equal(h, 1);
	assert_true(topo_sim_now(s) - t0 <= p.tp.interval_management_ms + p.setup_max_ms + 2000);
	/* idle for ttl_on_demand: the role goes, and with it the link */
	topo_sim_run_until(s, topo_sim_now(s) + p.tp.ttl_on_demand_ms + 20000);
	const struct ctl_topo_link *l =
	    ctl_topo_link_find(topo_sim_manager(s, a), &topo_sim_manager(s, b)->self);
	assert_true(!l || !(l->roles & CTL_TOPO_ON_DEMAND));
	assert_true(topo_sim_manager(s, a)->counters.on_demand_idle >= 1);
	check_caps(s, &p.tp);
	topo_sim_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_defaults),
	    cmocka_unit_test(test_small_caps_and_on_demand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
