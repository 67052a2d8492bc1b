/* control/topology: ring arithmetic, the member ring, the topology manager's
 * rules one by one (successors, chords, ttl_* expiries, inbound cap,
 * on-demand links, pings, greedy next hop) and bounded-flood planning, on
 * hand-made ids so every expected wish can be written down. The whole
 * manager at 64 nodes is test_topology_sim.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "control/config/config.h"
#include "control/signalling/sigmsg.h"
#include "control/topology/topo.h"
#include "control/topology/topo_config.h"
#include "control/topology/topo_flood.h"

/* An id whose first byte is k: ring order is numeric order of k. */
static struct ctl_topo_id idk(uint8_t k)
{
	struct ctl_topo_id id = {{0}};
	id.b[0] = k;
	return id;
}

/* ---- ids ------------------------------------------------------------------ */

static void test_id_arithmetic(void **state)
{
	struct ctl_topo_id a, b, d, ones;
	(void)state;
	memset(ones.b, 0xff, sizeof(ones.b));
	a = idk(0);
	a.b[19] = 1;
	ctl_topo_id_dist(&ones, &a, &d); /* wraps: 2^160 - 1 -> 1 is 2 */
	assert_int_equal(d.b[19], 2);
	for (int i = 0; i < 19; i++)
		assert_int_equal(d.b[i], 0);
	ctl_topo_id_dist(&a, &ones, &d);
	assert_int_equal(d.b[19], 0xfe);
	assert_int_equal(d.b[0], 0xff);

	ctl_topo_id_add_pow2(&ones, 0, &b); /* carries through all 20 bytes, wraps to 0 */
	assert_true(ctl_topo_id_eq(&b, &(struct ctl_topo_id){{0}}));
	b = idk(0);
	ctl_topo_id_add_pow2(&b, 159, &b);
	assert_int_equal(b.b[0], 0x80);
	ctl_topo_id_add_pow2(&b, 159, &b);
	assert_true(ctl_topo_id_eq(&b, &(struct ctl_topo_id){{0}}));
	b = idk(0);
	ctl_topo_id_add_pow2(&b, 9, &b);
	assert_int_equal(b.b[18], 2);

	assert_int_equal(ctl_topo_id_log2(&(struct ctl_topo_id){{0}}), -1);
	assert_int_equal(ctl_topo_id_log2(&ones), 159);
	a = idk(0);
	a.b[19] = 1;
	assert_int_equal(ctl_topo_id_log2(&a), 0);
}

static void test_id_arcs(void **state)
{
	struct ctl_topo_id x10 = idk(0x10), x20 = idk(0x20), x30 = idk(0x30), xf0 = idk(0xf0);
	(void)state;
	assert_true(ctl_topo_id_in_oc(&x20, &x10, &x30));
	assert_true(ctl_topo_id_in_oc(&x30, &x10, &x30));
	assert_false(ctl_topo_id_in_oc(&x10, &x10, &x30));
	assert_false(ctl_topo_id_in_oc(&xf0, &x10, &x30));
	assert_true(ctl_topo_id_in_oc(&x10, &xf0, &x20)); /* across zero */
	assert_true(ctl_topo_id_in_oc(&x30, &x10, &x10)); /* from == to: the whole ring */
	assert_true(ctl_topo_id_in_oo(&x20, &x10, &x30));
	assert_false(ctl_topo_id_in_oo(&x30, &x10, &x30));
	assert_false(ctl_topo_id_in_oo(&x10, &x10, &x10));
	assert_true(ctl_topo_id_in_oo(&x20, &x10, &x10));
	/* closer towards 0x30: 0x20 beats 0x10; towards 0x05, 0xf0 beats 0x30 */
	assert_true(ctl_topo_id_closer(&x20, &x10, &x30));
	assert_false(ctl_topo_id_closer(&x10, &x20, &x30));
	struct ctl_topo_id x05 = idk(0x05);
	assert_true(ctl_topo_id_closer(&xf0, &x30, &x05));
}

/* The ids are IPOP's: SHA-1 of the dotted quad (the one ipop_node_id), spelt
 * as signalling spells them. */
static void test_node_id_is_ipops(void **state)
{
	struct ctl_topo_id id, want;
	(void)state;
	ipop_node_id(inet_addr("192.168.1.100"), id.b);
	assert_int_equal(sig_node_id_parse("25c90651c297fef3cf787a191b93cce4c475c6b7", want.b), 0);
	assert_true(ctl_topo_id_eq(&id, &want));
	ipop_node_id(inet_addr("10.0.3.100"), id.b);
	assert_int_equal(sig_node_id_parse("f46d6281ae45f92ed5dd0b85aae702ddfb38ec23", want.b), 0);
	assert_true(ctl_topo_id_eq(&id, &want));
}

/* ---- ring ----------------------------------------------------------------- */

static void test_ring(void **state)
{
	struct ctl_topo_ring r;
	struct ctl_topo_id k;
	(void)state;
	ctl_topo_ring_init(&r);
	assert_null(ctl_topo_ring_after(&r, &(struct ctl_topo_id){{0}}, 0));
	for (uint8_t v = 0x90; v >= 0x30; v -= 0x30) {
		k = idk(v);
		assert_int_equal(ctl_topo_ring_add(&r, &k, v), 0);
	}
	k = idk(0x60);
	assert_int_equal(ctl_topo_ring_add(&r, &k, 7), -EEXIST);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.v[0].id.b[0], 0x30);
	assert_int_equal(r.v[1].ip4, 7);
	assert_int_equal(r.v[2].id.b[0], 0x90);
	k = idk(0xa0);
	assert_int_equal(ctl_topo_ring_lower_bound(&r, &k), 0); /* wraps */
	k = idk(0x61);
	assert_int_equal(ctl_topo_ring_lower_bound(&r, &k), 2);
	/* after a member: the next ones, itself excluded, wrapping once */
	k = idk(0x60);
	assert_int_equal(ctl_topo_ring_after(&r, &k, 0)->id.b[0], 0x90);
	assert_int_equal(ctl_topo_ring_after(&r, &k, 1)->id.b[0], 0x30);
	assert_null(ctl_topo_ring_after(&r, &k, 2));
	/* after a non-member: all three */
	k = idk(0x70);
	assert_int_equal(ctl_topo_ring_after(&r, &k, 2)->id.b[0], 0x60);
	assert_null(ctl_topo_ring_after(&r, &k, 3));
	k = idk(0x60);
	assert_int_equal(ctl_topo_ring_remove(&r, &k), 0);
	assert_int_equal(ctl_topo_ring_remove(&r, &k), -ENOENT);
	assert_int_equal(ctl_topo_ring_find(&r, &k), -1);
	assert_int_equal(r.n, 2);
	ctl_topo_ring_free(&r);
}

/* ---- the manager ---------------------------------------------------------- */

struct rec {
	unsigned nopen, nclose, nping;
	struct ctl_topo_id open[64], close[64], ping[64];
	enum ctl_topo_kind kind[64];
};

static void rec_open(void *arg, const struct ctl_topo_id *peer, enum ctl_topo_kind kind)
{
	struct rec *r = arg;
	r->kind[r->nopen] = kind;
	r->open[r->nopen++ % 64] = *peer;
}

static void rec_close(void *arg, const struct ctl_topo_id *peer)
{
	struct rec *r = arg;
	r->close[r->nclose++ % 64] = *peer;
}

static void rec_ping(void *arg, const struct ctl_topo_id *peer)
{
	struct rec *r = arg;
	r->ping[r->nping++ % 64] = *peer;
}

static const struct ctl_topo_ops rec_ops = {rec_open, rec_close, rec_ping};

static bool opened(const struct rec *r, uint8_t k, enum ctl_topo_kind kind)
{
	for (unsigned i = 0; i < r->nopen; i++)
		if (r->open[i].b[0] == k && (!kind || r->kind[i] == kind))
			return true;
	return false;
}

static bool closed(const struct rec *r, uint8_t k)
{
	for (unsigned i = 0; i < r->nclose; i++)
		if (r->close[i].b[0] == k)
			return true;
	return false;
}

struct fix {
	struct ctl_topo_ring ring;
	struct ctl_topo_params p;
	struct rec rec;
	struct ctl_topo *t;
};

/* The ring of members; seed defaults but for the successor and chord counts. */
static void fix_init(struct fix *f, const uint8_t *members, unsigned n, unsigned successors,
		     unsigned chords)
{
	memset(f, 0, sizeof(*f));
	ctl_topo_ring_init(&f->ring);
	for (unsigned i = 0; i < n; i++) {
		struct ctl_topo_id k = idk(members[i]);
		ctl_topo_ring_add(&f->ring, &k, 0);
	}
	ctl_topo_params_default(&f->p);
	f->p.multihop = true;
	f->p.num_successors = successors;
	f->p.num_chords = chords;
}

static void fix_start(struct fix *f, uint8_t self)
{
	struct ctl_topo_id s = idk(self);
	f->t = ctl_topo_create(&s, &f->p, &rec_ops, &f->rec, &f->ring, 0);
	assert_non_null(f->t);
}

static void fix_free(struct fix *f)
{
	ctl_topo_destroy(f->t);
	ctl_topo_ring_free(&f->ring);
}

static void up(struct fix *f, uint8_t k, uint64_t now)
{
	struct ctl_topo_id id = idk(k);
	ctl_topo_link_up(f->t, &id, now);
}

static void test_successors(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60};
	struct fix f;
	struct ctl_topo_id k;
	(void)state;
	fix_init(&f, m, 6, 2, 0);
	fix_start(&f, 0x20);
	ctl_topo_tick(f.t, 1000);
	assert_int_equal(f.rec.nopen, 2);
	assert_true(opened(&f.rec, 0x30, CTL_TOPO_SUCCESSOR));
	assert_true(opened(&f.rec, 0x40, CTL_TOPO_SUCCESSOR));
	up(&f, 0x30, 1500);
	up(&f, 0x40, 1500);
	ctl_topo_tick(f.t, 2000);
	assert_int_equal(f.rec.nopen, 2); /* nothing new */

	/* a member joins between us and our successors: wished at once, and the
	 * old second successor stays until the new one is up */
	k = idk(0x25);
	ctl_topo_ring_add(&f.ring, &k, 0);
	ctl_topo_member_joined(f.t, &k, 2100);
	ctl_topo_tick(f.t, 3000);
	assert_true(opened(&f.rec, 0x25, CTL_TOPO_SUCCESSOR));
	assert_int_equal(f.rec.nclose, 0);
	up(&f, 0x25, 3500);
	ctl_topo_tick(f.t, 4000);
	ctl_topo_tick(f.t, 5000);
	assert_true(closed(&f.rec, 0x40));
	assert_int_equal(ctl_topo_count(f.t, CTL_TOPO_SUCCESSOR, NULL), 2);

	/* a member far away joins: nothing to do before the next interval */
	unsigned runs = (unsigned)f.t->counters.manage_runs;
	k = idk(0x58);
	ctl_topo_ring_add(&f.ring, &k, 0);
	ctl_topo_member_joined(f.t, &k, 5100);
	ctl_topo_tick(f.t, 6000);
	assert_int_equal(f.t->counters.manage_runs, runs);

	/* a successor that traffic goes to stays, as an on-demand link, when a
	 * nearer member takes its place */
	k = idk(0x22);
	ctl_topo_traffic(f.t, &(struct ctl_topo_id){{0x30}}, 5, 6000);
	ctl_topo_ring_add(&f.ring, &k, 0);
	ctl_topo_member_joined(f.t, &k, 6000);
	ctl_topo_tick(f.t, 6100);
	up(&f, 0x22, 6200);
	ctl_topo_tick(f.t, 6300);
	assert_false(closed(&f.rec, 0x30));
	assert_int_equal(ctl_topo_link_find(f.t, &(struct ctl_topo_id){{0x30}})->roles,
			 CTL_TOPO_ON_DEMAND);
	ctl_topo_ring_remove(&f.ring, &k);
	ctl_topo_member_left(f.t, &k, 6400);
	ctl_topo_link_closed(f.t, &k, 6400);

	/* our successor leaves: the next member replaces it */
	k = idk(0x25);
	ctl_topo_ring_remove(&f.ring, &k);
	ctl_topo_member_left(f.t, &k, 6500);
	ctl_topo_link_closed(f.t, &k, 6500);
	ctl_topo_tick(f.t, 7000);
	assert_int_equal(f.rec.open[f.rec.nopen - 1].b[0], 0x40);
	fix_free(&f);
}

static void test_small_group_fully_linked(void **state)
{
	static const uint8_t m[] = {0x10, 0x50, 0x90, 0xd0, 0xe0};
	struct fix f;
	(void)state;
	fix_init(&f, m, 5, 20, 10);
	fix_start(&f, 0x50); /* seed defaults: 20 successors, 10 chords */
	ctl_topo_tick(f.t, 1000);
	assert_int_equal(f.rec.nopen, 4);
	for (unsigned i = 0; i < 5; i++)
		if (m[i] != 0x50)
			assert_true(opened(&f.rec, m[i], 0));
	fix_free(&f);
}

static void test_chords(void **state)
{
	/* self 0x00: chords at 0x80.., 0x40.., 0x20.. (the first member at or
	 * after each); one successor, 0x08 */
	static const uint8_t m[] = {0x00, 0x08, 0x21, 0x44, 0x90, 0xc0};
	struct fix f;
	struct ctl_topo_id k;
	(void)state;
	fix_init(&f, m, 6, 1, 3);
	fix_start(&f, 0x00);
	ctl_topo_tick(f.t, 1000);
	assert_int_equal(f.rec.nopen, 4);
	assert_true(opened(&f.rec, 0x08, CTL_TOPO_SUCCESSOR));
	assert_true(opened(&f.rec, 0x90, CTL_TOPO_CHORD));
	assert_true(opened(&f.rec, 0x44, CTL_TOPO_CHORD));
	assert_true(opened(&f.rec, 0x21, CTL_TOPO_CHORD));
	for (unsigned i = 0; i < f.rec.nopen; i++)
		up(&f, f.rec.open[i].b[0], 1500);

	/* a better chord for 0x80.. joins: kept as is until ttl_chord ... */
	k = idk(0x85);
	ctl_topo_ring_add(&f.ring, &k, 0);
	ctl_topo_member_joined(f.t, &k, 2000);
	for (uint64_t now = 2000; now < f.p.ttl_chord_ms; now += 1000) {
		ctl_topo_link_pulse(f.t, &(struct ctl_topo_id){{0x08}}, now);
		for (unsigned i = 1; i < 4; i++)
			ctl_topo_link_pulse(f.t, &f.rec.open[i], now);
		ctl_topo_tick(f.t, now);
	}
	assert_int_equal(f.rec.nopen, 4);
	/* ... then re-evaluated: the new one opened, the old one closed */
	ctl_topo_tick(f.t, f.p.ttl_chord_ms + 1000);
	assert_true(opened(&f.rec, 0x85, CTL_TOPO_CHORD));
	assert_true(closed(&f.rec, 0x90));
	assert_true(f.t->counters.chord_changed >= 1);
	fix_free(&f);
}

/* ttl_link_initial: a wished link that never comes up is given up and the
 * next member wished instead; the failed one is backed off. */
static void test_link_initial_expiry(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x40};
	struct fix f;
	(void)state;
	fix_init(&f, m, 4, 1, 0);
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, 1000);
	assert_true(opened(&f.rec, 0x20, CTL_TOPO_SUCCESSOR));
	ctl_topo_tick(f.t, f.p.ttl_link_initial_ms); /* 1000 + ttl - 1000: not yet */
	assert_int_equal(f.rec.nclose, 0);
	ctl_topo_tick(f.t, f.p.ttl_link_initial_ms + 1000);
	assert_true(closed(&f.rec, 0x20));
	assert_int_equal(f.t->counters.pending_expired, 1);
	assert_true(opened(&f.rec, 0x30, CTL_TOPO_SUCCESSOR));
	fix_free(&f);
}

/* ttl_link_pulse: an up link without a sign of life is closed and replaced;
 * one with pulses stays. */
static void test_link_pulse_expiry(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x40};
	struct fix f;
	struct ctl_topo_id x20 = idk(0x20), x30 = idk(0x30);
	(void)state;
	fix_init(&f, m, 4, 2, 0);
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, 1000);
	up(&f, 0x20, 2000);
	up(&f, 0x30, 2000);
	for (uint64_t now = 3000; now <= 2000 + f.p.ttl_link_pulse_ms + 1000; now += 1000) {
		ctl_topo_link_pulse(f.t, &x20, now);
		ctl_topo_tick(f.t, now);
	}
	assert_true(closed(&f.rec, 0x30));
	assert_false(closed(&f.rec, 0x20));
	assert_int_equal(f.t->counters.pulse_expired, 1);
	assert_true(opened(&f.rec, 0x40, CTL_TOPO_SUCCESSOR));
	assert_null(ctl_topo_link_find(f.t, &x30));
	fix_free(&f);
}

/* A link asked for as a successor that now serves as a chord only is asked
 * for again as a chord (so the peer's num_inbound applies); the peer
 * refuses it beyond the cap, and the requester backs off. */
static void test_successor_becomes_chord(void **state)
{
	static const uint8_t m[] = {0x10, 0x90};
	struct fix f;
	struct ctl_topo_id k = idk(0x20), c = idk(0x90);
	(void)state;
	fix_init(&f, m, 2, 1, 1);
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, 1000);
	assert_true(opened(&f.rec, 0x90, CTL_TOPO_SUCCESSOR)); /* successor and chord */
	up(&f, 0x90, 1200);
	ctl_topo_ring_add(&f.ring, &k, 0);
	ctl_topo_member_joined(f.t, &k, 2000);
	ctl_topo_tick(f.t, 2000);
	assert_true(opened(&f.rec, 0x20, CTL_TOPO_SUCCESSOR));
	assert_int_equal(f.t->counters.rerequests, 0);
	up(&f, 0x20, 2500);
	ctl_topo_tick(f.t, 3000);
	assert_true(opened(&f.rec, 0x90, CTL_TOPO_CHORD));
	assert_int_equal(f.t->counters.rerequests, 1);
	assert_int_equal(ctl_topo_link_find(f.t, &c)->out_kind, CTL_TOPO_CHORD);
	/* refused: the link goes, 0x90 is backed off as a chord only */
	ctl_topo_link_refused(f.t, &c, 3100);
	assert_null(ctl_topo_link_find(f.t, &c));
	assert_int_equal(f.t->counters.refused_by_peer, 1);
	ctl_topo_tick(f.t, 3200);
	assert_null(ctl_topo_link_find(f.t, &c)); /* the chord is not wished again yet */
	fix_free(&f);
}

static void test_reasked_beyond_cap(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x70};
	struct fix f;
	struct ctl_topo_id a = idk(0x20), b = idk(0x30);
	(void)state;
	fix_init(&f, m, 4, 1, 0);
	f.p.num_inbound = 1;
	fix_start(&f, 0x70);
	assert_int_equal(ctl_topo_link_request(f.t, &a, CTL_TOPO_SUCCESSOR, 100), 0);
	assert_int_equal(ctl_topo_link_request(f.t, &b, CTL_TOPO_SUCCESSOR, 200), 0); /* beyond */
	/* b's successor link becomes its chord: beyond the cap, refused */
	assert_int_equal(ctl_topo_link_request(f.t, &b, CTL_TOPO_CHORD, 300), -EBUSY);
	assert_null(ctl_topo_link_find(f.t, &b));
	/* a's too, but within the cap now */
	assert_int_equal(ctl_topo_link_request(f.t, &a, CTL_TOPO_CHORD, 400), 0);
	assert_int_equal(ctl_topo_link_find(f.t, &a)->in_kind, CTL_TOPO_CHORD);
	fix_free(&f);
}

static void test_inbound_cap(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70};
	struct fix f;
	struct ctl_topo_id k;
	(void)state;
	fix_init(&f, m, 7, 1, 0);
	f.p.num_inbound = 2;
	fix_start(&f, 0x70);
	k = idk(0x20);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_CHORD, 100), 0);
	k = idk(0x30);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_ON_DEMAND, 200), 0);
	k = idk(0x40);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_CHORD, 300), -EBUSY);
	assert_int_equal(f.t->counters.inbound_refused, 1);
	/* a successor request displaces the newest chord/on-demand one */
	k = idk(0x60);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_SUCCESSOR, 400), 0);
	assert_true(closed(&f.rec, 0x30));
	assert_int_equal(f.t->counters.inbound_evicted, 1);
	/* the peer already linked asks again: one link, accepted */
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_CHORD, 500), 0);
	/* not a member, ourselves */
	k = idk(0x99);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_CHORD, 600), -ENOENT);
	k = idk(0x70);
	assert_int_equal(ctl_topo_link_request(f.t, &k, CTL_TOPO_SUCCESSOR, 600), -EINVAL);
	/* accepted links are kept: the opener owns their lifetime */
	up(&f, 0x20, 700);
	ctl_topo_tick(f.t, 1000);
	assert_false(closed(&f.rec, 0x20));
	assert_non_null(ctl_topo_link_find(f.t, &(struct ctl_topo_id){{0x20}}));
	fix_free(&f);
}

static void test_on_demand(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30, 0x80, 0x90, 0xa0};
	struct fix f;
	struct ctl_topo_id x80 = idk(0x80), x90 = idk(0x90), xa0 = idk(0xa0);
	uint64_t now = 1000;
	(void)state;
	fix_init(&f, m, 6, 1, 0);
	f.p.num_on_demand = 1;
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, now);
	up(&f, 0x20, now);
	/* below threshold_on_demand within one interval: nothing */
	ctl_topo_traffic(f.t, &x80, f.p.threshold_on_demand - 1, now);
	assert_false(opened(&f.rec, 0x80, 0));
	/* the window resets every interval_management */
	now += f.p.interval_management_ms;
	ctl_topo_tick(f.t, now);
	ctl_topo_traffic(f.t, &x80, 1, now);
	assert_false(opened(&f.rec, 0x80, 0));
	ctl_topo_traffic(f.t, &x80, f.p.threshold_on_demand, now);
	assert_true(opened(&f.rec, 0x80, CTL_TOPO_ON_DEMAND));
	up(&f, 0x80, now + 500);
	/* num_on_demand = 1: a second busy destination gets none */
	ctl_topo_traffic(f.t, &x90, 10 * f.p.threshold_on_demand, now);
	assert_false(opened(&f.rec, 0x90, 0));
	assert_int_equal(f.t->counters.on_demand_full, 1);
	/* traffic keeps it; ttl_on_demand of idleness closes it */
	uint64_t last = now;
	for (; now < last + 2 * f.p.ttl_on_demand_ms; now += 1000) {
		ctl_topo_link_pulse(f.t, &x80, now);
		ctl_topo_link_pulse(f.t, &(struct ctl_topo_id){{0x20}}, now);
		if (now < last + f.p.ttl_on_demand_ms)
			ctl_topo_traffic(f.t, &x80, 1, now);
		ctl_topo_tick(f.t, now);
		if (closed(&f.rec, 0x80))
			break;
	}
	assert_true(closed(&f.rec, 0x80));
	assert_true(now >= last + 2 * f.p.ttl_on_demand_ms - 2000);
	assert_int_equal(f.t->counters.on_demand_idle, 1);
	/* traffic to a non-member is ignored */
	struct ctl_topo_id stranger = idk(0x77);
	ctl_topo_traffic(f.t, &stranger, 1000000, now);
	assert_false(opened(&f.rec, 0x77, 0));
	(void)xa0;
	fix_free(&f);
}

/* multihop false (the seeds): the first packet to an unlinked node wants a
 * direct link, whatever the threshold. */
static void test_on_demand_without_multihop(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x80};
	struct fix f;
	struct ctl_topo_id x80 = idk(0x80);
	(void)state;
	fix_init(&f, m, 3, 1, 0);
	f.p.multihop = false;
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, 1000);
	ctl_topo_traffic(f.t, &x80, 1, 1100);
	assert_true(opened(&f.rec, 0x80, CTL_TOPO_ON_DEMAND));
	/* asked once: more traffic while pending asks nothing more */
	ctl_topo_traffic(f.t, &x80, 1, 1200);
	assert_int_equal(f.rec.nopen, 2);
	fix_free(&f);
}

static void test_ping_lifts_backoff(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x30};
	struct fix f;
	struct ctl_topo_id x20 = idk(0x20);
	(void)state;
	fix_init(&f, m, 3, 1, 0);
	f.p.interval_management_ms = 100000; /* backoff longer than the ping interval */
	f.p.interval_ping_ms = 60000;
	fix_start(&f, 0x10);
	ctl_topo_tick(f.t, 1000);
	ctl_topo_link_failed(f.t, &x20, 2000);
	ctl_topo_tick(f.t, 3000);
	assert_true(opened(&f.rec, 0x30, CTL_TOPO_SUCCESSOR)); /* the replacement */
	ctl_topo_tick(f.t, 61000);
	assert_int_equal(f.rec.nping, 1);
	assert_int_equal(f.rec.ping[0].b[0], 0x20);
	unsigned before = f.rec.nopen;
	ctl_topo_ping_reply(f.t, &x20, 61500);
	ctl_topo_tick(f.t, 62000);
	assert_int_equal(f.rec.nopen, before + 1);
	assert_int_equal(f.rec.open[before].b[0], 0x20);
	fix_free(&f);
}

static void test_next_hop(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x50, 0x90, 0xa0};
	struct fix f;
	struct ctl_topo_id d;
	const struct ctl_topo_id *nh;
	(void)state;
	fix_init(&f, m, 5, 20, 10);
	fix_start(&f, 0x10);
	up(&f, 0x20, 0);
	up(&f, 0x50, 0);
	up(&f, 0x90, 0);
	d = idk(0xa0);
	ctl_topo_link_request(f.t, &d, CTL_TOPO_SUCCESSOR, 0); /* pending: not used */
	d = idk(0x60);
	assert_int_equal(ctl_topo_next_hop(f.t, &d)->b[0], 0x50);
	d = idk(0x50);
	assert_int_equal(ctl_topo_next_hop(f.t, &d)->b[0], 0x50);
	d = idk(0x4f);
	assert_int_equal(ctl_topo_next_hop(f.t, &d)->b[0], 0x20);
	d = idk(0xb0);
	assert_int_equal(ctl_topo_next_hop(f.t, &d)->b[0], 0x90);
	d = idk(0x05); /* across zero: the farthest that does not pass it */
	assert_int_equal(ctl_topo_next_hop(f.t, &d)->b[0], 0x90);
	d = idk(0x15); /* nothing between us and it */
	assert_null(ctl_topo_next_hop(f.t, &d));
	d = idk(0x10);
	assert_null(ctl_topo_next_hop(f.t, &d));
	/* always strictly closer: the property that makes loops impossible */
	for (unsigned v = 0; v < 256; v++) {
		struct ctl_topo_id self = idk(0x10), dd, a, b;
		d = idk((uint8_t)v);
		d.b[7] = 0x5a;
		nh = ctl_topo_next_hop(f.t, &d);
		if (!nh)
			continue;
		ctl_topo_id_dist(nh, &d, &a);
		ctl_topo_id_dist(&self, &d, &b);
		assert_true(ctl_topo_id_cmp(&a, &b) < 0);
		(void)dd;
	}
	fix_free(&f);
}

static void test_flood_plan(void **state)
{
	static const uint8_t m[] = {0x10, 0x20, 0x50, 0x90, 0xa0};
	struct fix f;
	struct ctl_topo_flood_hop h[8];
	struct ctl_topo_id e;
	(void)state;
	fix_init(&f, m, 5, 20, 10);
	fix_start(&f, 0x50);
	up(&f, 0x10, 0);
	up(&f, 0x20, 0);
	up(&f, 0x90, 0);
	e = idk(0xa0);
	ctl_topo_link_request(f.t, &e, CTL_TOPO_SUCCESSOR, 0); /* pending: no share */
	/* originating: the whole ring, clockwise from us, disjoint arcs */
	assert_int_equal(ctl_topo_flood_plan(f.t, NULL, h, 8), 3);
	assert_int_equal(h[0].peer.b[0], 0x90);
	assert_int_equal(h[0].end.b[0], 0x10);
	assert_int_equal(h[1].peer.b[0], 0x10);
	assert_int_equal(h[1].end.b[0], 0x20);
	assert_int_equal(h[2].peer.b[0], 0x20);
	assert_int_equal(h[2].end.b[0], 0x50); /* back to us: excluded */
	/* a received arc: only the links inside it */
	e = idk(0x15);
	assert_int_equal(ctl_topo_flood_plan(f.t, &e, h, 8), 2);
	assert_int_equal(h[0].peer.b[0], 0x90);
	assert_int_equal(h[1].peer.b[0], 0x10);
	assert_int_equal(h[1].end.b[0], 0x15);
	e = idk(0x90); /* the end itself is someone else's */
	assert_int_equal(ctl_topo_flood_plan(f.t, &e, h, 8), 0);
	/* fewer slots than links: the last one takes the rest of the arc */
	assert_int_equal(ctl_topo_flood_plan(f.t, NULL, h, 1), 1);
	assert_int_equal(h[0].peer.b[0], 0x90);
	assert_int_equal(h[0].end.b[0], 0x50);
	fix_free(&f);
}

static void test_create_bad_params(void **state)
{
	struct ctl_topo_ring r;
	struct ctl_topo_params p;
	struct ctl_topo_id s = idk(1);
	struct rec rec = {0};
	(void)state;
	ctl_topo_ring_init(&r);
	ctl_topo_params_default(&p);
	p.num_successors = 0;
	errno = 0;
	assert_null(ctl_topo_create(&s, &p, &rec_ops, &rec, &r, 0));
	assert_int_equal(errno, EINVAL);
	ctl_topo_params_default(&p);
	p.num_chords = CTL_TOPO_MAX_CHORDS + 1;
	assert_null(ctl_topo_create(&s, &p, &rec_ops, &rec, &r, 0));
	ctl_topo_params_default(&p);
	p.interval_management_ms = 0;
	assert_null(ctl_topo_create(&s, &p, &rec_ops, &rec, &r, 0));
}

/* The BaseTopologyManager keys as config.c parsed them (seconds) become the
 * manager's parameters (ms). */
static void test_params_from_config(void **state)
{
	struct ipop_config c;
	struct ctl_topo_params p, d;
	(void)state;
	memset(&c, 0, sizeof(c));
	c.num_successors = 2, c.num_chords = 1, c.num_on_demand = 2, c.num_inbound = 8;
	c.ttl_link_initial = 60, c.ttl_link_pulse = 30, c.ttl_chord = 180, c.ttl_on_demand = 240;
	c.threshold_on_demand = 128, c.interval_management = 15, c.num_pings = 5;
	c.interval_ping = 300, c.multihop = true;
	ctl_topo_params_from_config(&c, &p);
	assert_int_equal(p.num_successors, 2);
	assert_int_equal(p.num_inbound, 8);
	assert_true(p.multihop);
	ctl_topo_params_default(&d);
	assert_int_equal(p.ttl_link_initial_ms, d.ttl_link_initial_ms);
	assert_int_equal(p.ttl_link_pulse_ms, d.ttl_link_pulse_ms);
	assert_int_equal(p.ttl_chord_ms, d.ttl_chord_ms);
	assert_int_equal(p.ttl_on_demand_ms, d.ttl_on_demand_ms);
	assert_int_equal(p.interval_management_ms, d.interval_management_ms);
	assert_int_equal(p.interval_ping_ms, d.interval_ping_ms);
	assert_int_equal(p.threshold_on_demand, d.threshold_on_demand);
	assert_int_equal(p.num_pings, d.num_pings);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_arithmetic),
	    cmocka_unit_test(test_id_arcs),
	    cmocka_unit_test(test_node_id_is_ipops),
	    cmocka_unit_test(test_ring),
	    cmocka_unit_test(test_successors),
	    cmocka_unit_test(test_small_group_fully_linked),
	    cmocka_unit_test(test_chords),
	    cmocka_unit_test(test_link_initial_expiry),
	    cmocka_unit_test(test_link_pulse_expiry),
	    cmocka_unit_test(test_inbound_cap),
	    cmocka_unit_test(test_successor_becomes_chord),
	    cmocka_unit_test(test_reasked_beyond_cap),
	    cmocka_unit_test(test_on_demand),
	    cmocka_unit_test(test_on_demand_without_multihop),
	    cmocka_unit_test(test_ping_lifts_backoff),
	    cmocka_unit_test(test_next_hop),
	    cmocka_unit_test(test_flood_plan),
	    cmocka_unit_test(test_create_bad_params),
	    cmocka_unit_test(test_params_from_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
