/* Unit tests for the topology wiring (control/topology/topo_wire.c) with the
 * real manager and discovery without XMPP: members join through discovery's
 * hooks, the manager's wishes land on the discovered peers (wanted, torn
 * down), link states, pulses and traffic come from hand-set counters of a
 * hand-built peer set, and the table gets node ids, next hops and staging.
 * The clock is the test's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "control/link/linkmgr.h"
#include "control/signalling/disc_internal.h"
#include "control/topology/topo_wire.h"
#include "util/log.h"

#define NM 6 /* members besides us */

static uint64_t now_ms;
static uint64_t fake_clock(void)
{
	return now_ms;
}

struct fx {
	struct ipop_config cfg;
	struct ctl_linkmgr lm;
	struct ctl_peers peers;
	struct ctl_disc d;
	struct ctl_topo_wire w;
	struct ctl_peer pv[NM];
	struct dp_link links[NM];
	struct lm_link lks[NM];
	struct dp_sa fake_sa; /* never dereferenced: only "an SA is there" */
	uint8_t ids[NM][20];
};

static uint32_t ip_of(unsigned i)
{
	return htonl(0x0afe0000u + 2 + i); /* 10.254.0.2 + i */
}

/* The seeds' BaseTopologyManager values (IPOP's defaults). */
static void topo_defaults(struct ipop_config *c)
{
	memset(c, 0, sizeof(*c));
	c->num_successors = 20;
	c->num_chords = 10;
	c->num_on_demand = 20;
	c->num_inbound = 50;
	c->threshold_on_demand = 128;
	c->ttl_link_initial = 60;
	c->ttl_link_pulse = 30;
	c->ttl_chord = 180;
	c->ttl_on_demand = 240;
	c->interval_management = 15;
	c->interval_ping = 300;
	c->num_pings = 5;
}

static int setup(void **state, bool multihop, unsigned num_successors)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	topo_defaults(&f->cfg);
	snprintf(f->cfg.xmpp_host, sizeof(f->cfg.xmpp_host), "xmpp.test");
	f->cfg.ip4 = htonl(0x0afe0001u);
	ipop_node_id(f->cfg.ip4, f->cfg.node_id);
	f->cfg.num_successors = num_successors;
	f->cfg.num_chords = 0;
	f->cfg.num_on_demand = 2;
	f->cfg.num_inbound = 2;
	f->cfg.multihop = multihop;
	f->d.env.cfg = &f->cfg;
	f->d.env.lm = &f->lm;
	f->d.env.peers = &f->peers;
	f->peers.v = f->pv;
	f->peers.n = NM;
	f->d.dyn = calloc(NM, sizeof(*f->d.dyn));
	f->d.confs = calloc(NM, sizeof(*f->d.confs));
	assert_non_null(f->d.dyn);
	for (unsigned i = 0; i < NM; i++) {
		struct disc_peer_ext *e = calloc(1, sizeof(*e));
		assert_non_null(e);
		struct disc_peer *dp = &e->p;
		dp->conf.keyed = true;
		dp->conf.ip4 = ip_of(i);
		snprintf(dp->conf.name, sizeof(dp->conf.name), "xmpp-%u", i);
		ipop_node_id(dp->conf.ip4, dp->node_id);
		memcpy(f->ids[i], dp->node_id, 20);
		dp->present = true;
		f->d.dyn[i] = dp;
		f->d.confs[i] = &dp->conf;
		f->links[i].id = i + 1;
		f->lks[i].link = &f->links[i];
		f->lks[i].state = LM_CONNECTING;
		f->pv[i].conf = &dp->conf;
		f->pv[i].link = &f->links[i];
		f->pv[i].lk = &f->lks[i];
	}
	f->d.ndyn = NM;
	now_ms = 1000;
	assert_int_equal(ctl_topo_wire_init(&f->w, &f->cfg, &f->d, now_ms), 0);
	f->w.clock = fake_clock;
	assert_non_null(f->w.t);
	assert_ptr_equal(f->d.topo_arg, &f->w);
	*state = f;
	return 0;
}

static int setup_multihop(void **state)
{
	return setup(state, true, 1);
}

static int setup_direct(void **state)
{
	return setup(state, false, 1);
}

static int setup_small(void **state)
{
	return setup(state, true, 8);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	ctl_topo_wire_fini(&f->w);
	for (unsigned i = 0; i < NM; i++)
		free(ext(f->d.dyn[i]));
	free(f->d.dyn);
	free(f->d.confs);
	free(f->lm.dead);
	ipop_config_free(&f->cfg);
	free(f);
	return 0;
}

static void join_all(struct fx *f)
{
	for (unsigned i = 0; i < NM; i++)
		f->d.topo->member_joined(f->d.topo_arg, f->ids[i], ip_of(i));
}

static void tick(struct fx *f, uint64_t ms)
{
	now_ms += ms;
	ctl_topo_wire_tick(&f->w, &f->peers, now_ms);
}

static void set_up(struct fx *f, unsigned i, bool up)
{
	f->lks[i].state = up ? LM_UP : LM_DOWN;
	f->lks[i].cur.sa_out = up ? &f->fake_sa : NULL;
}

/* The member index of our successor: the first id after ours. */
static unsigned successor(const struct fx *f)
{
	const struct ctl_topo_member *m = ctl_topo_ring_after(&f->w.ring, &f->w.self, 0);
	for (unsigned i = 0; i < NM; i++)
		if (!memcmp(m->id.b, f->ids[i], 20))
			return i;
	fail();
	return 0;
}

static unsigned count_wanted(const struct fx *f)
{
	unsigned n = 0;
	for (unsigned i = 0; i < NM; i++)
		n += f->d.dyn[i]->wanted;
	return n;
}

/* Only the successor is asked for; the others stay passive. */
static void test_join_wishes_successor(void **state)
{
	struct fx *f = *state;
	join_all(f);
	assert_int_equal(f->w.ring.n, NM);
	unsigned s = successor(f);
	assert_true(f->d.dyn[s]->wanted);
	assert_int_equal(f->d.dyn[s]->kind, SIG_LINK_SUCCESSOR);
	assert_int_equal(count_wanted(f), 1);
	assert_int_equal(f->w.cnt.joins, NM);
	/* a second presence of the same member is no new join */
	f->d.topo->member_joined(f->d.topo_arg, f->ids[0], ip_of(0));
	assert_int_equal(f->w.cnt.joins, NM);
}

/* Small groups (<= num_successors + 1) end fully linked. */
static void test_small_group_full(void **state)
{
	struct fx *f = *state;
	join_all(f);
	assert_int_equal(count_wanted(f), NM);
}

/* Up transitions reach the manager, rx growth is a pulse, a link up
 * changes the table; the table gives the down members a next hop. */
static void test_up_pulse_and_next_hop(void **state)
{
	struct fx *f = *state;
	join_all(f);
	unsigned s = successor(f);
	tick(f, 100);
	f->w.table_dirty = false;
	set_up(f, s, true);
	tick(f, 100);
	const struct ctl_topo_link *l = ctl_topo_link_find(f->w.t, (const void *)f->ids[s]);
	assert_non_null(l);
	assert_true(l->up);
	assert_true(f->w.table_dirty);
	uint64_t pulses = f->w.cnt.pulses;
	f->links[s].stats.rx_packets = 5;
	tick(f, 100);
	assert_int_equal(f->w.cnt.pulses, pulses + 1);

	struct dp_table_params p = {.mode = DP_MODE_L3, .multihop = true};
	struct dp_table *t = dp_table_create(&p, NM, 0, 0, 0);
	assert_non_null(t);
	for (unsigned i = 0; i < NM; i++)
		dp_table_set_link(t, (uint16_t)i, &f->links[i], NULL, NULL);
	ctl_topo_wire_table(&f->w, &f->peers, t);
	for (unsigned i = 0; i < NM; i++) {
		assert_memory_equal(t->links[i].node_id, f->ids[i], 20);
		if (i == s) {
			assert_int_equal(t->links[i].via, DP_LINK_NONE); /* up: its own SA */
			continue;
		}
		/* every other member is reached through the successor (the only up link) */
		assert_int_equal(t->links[i].via, s);
		assert_false(t->links[i].stage);
	}
	/* its data path dies: nobody is routed over it, packets are staged */
	set_up(f, s, false);
	tick(f, 100);
	dp_table_free(t);
	t = dp_table_create(&p, NM, 0, 0, 0);
	for (unsigned i = 0; i < NM; i++)
		dp_table_set_link(t, (uint16_t)i, &f->links[i], NULL, NULL);
	ctl_topo_wire_table(&f->w, &f->peers, t);
	for (unsigned i = 0; i < NM; i++) {
		assert_int_equal(t->links[i].via, DP_LINK_NONE);
		assert_true(t->links[i].stage);
	}
	dp_table_free(t);
}

/* multihop false: staged, and the first demand opens an on-demand link. */
static void test_demand_opens_on_demand(void **state)
{
	struct fx *f = *state;
	join_all(f);
	unsigned s = successor(f), o = (s + 2) % NM;
	tick(f, 100);
	assert_false(f->d.dyn[o]->wanted);
	struct dp_table_params p = {.mode = DP_MODE_L3};
	struct dp_table *t = dp_table_create(&p, NM, 0, 0, 0);
	for (unsigned i = 0; i < NM; i++)
		dp_table_set_link(t, (uint16_t)i, &f->links[i], NULL, NULL);
	ctl_topo_wire_table(&f->w, &f->peers, t);
	assert_true(t->links[o].stage);
	assert_int_equal(t->links[o].via, DP_LINK_NONE);
	dp_table_free(t);
	f->links[o].stats.demand_packets = 1;
	tick(f, 100);
	assert_true(f->d.dyn[o]->wanted);
	assert_int_equal(f->d.dyn[o]->kind, SIG_LINK_ON_DEMAND);
	assert_int_equal(f->w.t->counters.on_demand_opened, 1);
}

/* Keepalives are not traffic: an on-demand link idles out and is torn
 * down (the peer told, the link reset and passive). */
static void test_on_demand_idles_out(void **state)
{
	struct fx *f = *state;
	join_all(f);
	unsigned s = successor(f), o = (s + 2) % NM;
	tick(f, 100);
	f->links[o].stats.demand_packets = 3;
	tick(f, 100);
	assert_true(f->d.dyn[o]->wanted);
	set_up(f, o, true);
	f->d.dyn[o]->engaged = true;
	tick(f, 100);
	assert_true(ctl_topo_link_find(f->w.t, (const void *)f->ids[o])->up);
	/* only keepalives from now on, and the peer's keepalives as pulses */
	for (unsigned k = 0; k < 300; k++) {
		f->links[o].stats.tx_packets++;
		f->lks[o].keepalives++;
		f->links[o].stats.rx_packets++;
		tick(f, 1000);
		if (!f->d.dyn[o]->wanted)
			break;
	}
	assert_false(f->d.dyn[o]->wanted);
	assert_false(f->d.dyn[o]->engaged);
	assert_null(ctl_topo_link_find(f->w.t, (const void *)f->ids[o]));
	assert_true(f->lks[o].passive);
	assert_int_equal(f->lks[o].state, LM_CONNECTING);
	assert_int_equal(f->w.t->counters.on_demand_idle, 1);
	/* ttl_on_demand (240 s default) passed, not much more */
	assert_true(now_ms - 1000 < 260000);
}

/* Requests: chords beyond num_inbound are refused; refusals and closes of
 * the peer reach the manager; a link discovery holds that the manager does
 * not have is torn down. */
static void test_requests_and_reconcile(void **state)
{
	struct fx *f = *state;
	join_all(f);
	unsigned s = successor(f);
	unsigned a = (s + 1) % NM, b = (s + 2) % NM, c = (s + 3) % NM;
	assert_int_equal(f->d.topo->link_request(f->d.topo_arg, f->ids[a], SIG_LINK_CHORD), 0);
	assert_int_equal(f->d.topo->link_request(f->d.topo_arg, f->ids[b], SIG_LINK_CHORD), 0);
	assert_int_equal(f->d.topo->link_request(f->d.topo_arg, f->ids[c], SIG_LINK_CHORD), -EBUSY);
	assert_int_equal(f->w.cnt.refused, 1);
	/* the peer closes a: gone from the manager, nothing wished */
	f->d.topo->link_closed(f->d.topo_arg, f->ids[a]);
	assert_null(ctl_topo_link_find(f->w.t, (const void *)f->ids[a]));
	/* our successor refuses (not for num_inbound: that is for chords and
	 * on-demand links): failed, backed off, another member wished */
	uint64_t failed = f->w.t->counters.failed;
	ctl_disc_link_close(&f->d, f->ids[s], false, now_ms);
	f->d.topo->link_refused(f->d.topo_arg, f->ids[s], "not now");
	assert_int_equal(f->w.t->counters.failed, failed + 1);
	tick(f, 1000);
	assert_false(f->d.dyn[s]->wanted);
	assert_int_equal(count_wanted(f), 1);
	/* discovery holds a member (engaged) the manager has no link with: torn down */
	for (c = 0; c < NM; c++)
		if (!f->d.dyn[c]->wanted && !ctl_topo_link_find(f->w.t, (const void *)f->ids[c]))
			break;
	assert_true(c < NM);
	f->d.dyn[c]->engaged = true;
	tick(f, 1000);
	assert_false(f->d.dyn[c]->engaged);
	assert_true(f->lks[c].passive);
	assert_true(f->w.cnt.closes_reconciled >= 1);
	/* a member leaves: out of the ring */
	f->d.topo->member_left(f->d.topo_arg, f->ids[b]);
	assert_int_equal(f->w.ring.n, NM - 1);
}

/* Crossing requests: we asked j for a link while the ring was small, j
 * asked us too; once j is no longer our successor we hold the link only for
 * j, so we release it to j (once); j's release lets us close it. */
static void test_crossing_released(void **state)
{
	struct fx *f = *state;
	struct ctl_topo_ring all;
	ctl_topo_ring_init(&all);
	for (unsigned i = 0; i < NM; i++)
		ctl_topo_ring_add(&all, (const void *)f->ids[i], ip_of(i));
	const struct ctl_topo_member *m = ctl_topo_ring_after(&all, &f->w.self, 0);
	unsigned s = 0, j;
	while (memcmp(m->id.b, f->ids[s], 20))
		s++;
	ctl_topo_ring_free(&all);
	j = (s + 1) % NM;
	f->d.topo->member_joined(f->d.topo_arg, f->ids[j], ip_of(j));
	assert_true(f->d.dyn[j]->wanted);
	assert_int_equal(f->d.topo->link_request(f->d.topo_arg, f->ids[j], SIG_LINK_SUCCESSOR), 0);
	set_up(f, j, true);
	tick(f, 100);
	join_all(f); /* s, nearer than j, arrives */
	set_up(f, s, true);
	for (unsigned k = 0; k < 3; k++)
		tick(f, 1000);
	const struct ctl_topo_link *l = ctl_topo_link_find(f->w.t, (const void *)f->ids[j]);
	assert_non_null(l);
	assert_int_equal(l->roles, CTL_TOPO_INBOUND); /* held only for j */
	assert_true(f->d.dyn[j]->released);
	assert_int_equal(f->d.cnt.links_released, 1);
	/* j releases it too: nothing wants it, closed and torn down */
	f->d.topo->link_released(f->d.topo_arg, f->ids[j]);
	tick(f, 1000);
	assert_null(ctl_topo_link_find(f->w.t, (const void *)f->ids[j]));
	assert_false(f->d.dyn[j]->wanted);
	assert_true(f->lks[j].passive);
	assert_int_equal(f->w.t->counters.released_by_peer, 1);
}

/* Without xmpp_host there is no manager and nothing happens. */
static void test_no_manager(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ctl_disc d;
	struct ctl_topo_wire w;
	struct ctl_peers set = {0};
	memset(&d, 0, sizeof(d));
	topo_defaults(&cfg);
	assert_int_equal(ctl_topo_wire_init(&w, &cfg, &d, 0), 0);
	assert_false(ctl_topo_wire_active(&w));
	assert_null(d.topo);
	ctl_topo_wire_tick(&w, &set, 1000);
	ctl_topo_wire_table(&w, &set, NULL);
	ctl_topo_wire_fini(&w);
	ipop_config_free(&cfg);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_join_wishes_successor, setup_multihop, teardown),
	    cmocka_unit_test_setup_teardown(test_small_group_full, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_up_pulse_and_next_hop, setup_multihop, teardown),
	    cmocka_unit_test_setup_teardown(test_demand_opens_on_demand, setup_direct, teardown),
	    cmocka_unit_test_setup_teardown(test_on_demand_idles_out, setup_direct, teardown),
	    cmocka_unit_test_setup_teardown(test_requests_and_reconcile, setup_multihop, teardown),
	    cmocka_unit_test_setup_teardown(test_crossing_released, setup_multihop, teardown),
	    cmocka_unit_test(test_no_manager),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
