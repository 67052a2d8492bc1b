/* Switch mode on the structured overlay (docs/topology.md), with real ESP
 * between sites: the overlay header (ESP next header 253) on frames for a
 * member reached over a next hop, forwarded by MAC at the relay and learnt
 * behind the origin at the receiver; every malformed header is dropped and
 * counted; and the bounded ring flood over 12 and 64 sites linked as the
 * topology manager links them (successors and chords): every site gets a
 * broadcast exactly once, in O(log N) hops. */
#define MAXL 48
#include "pipeline_harness.h"

#include "dataplane/flood.h"

static void node_id_of(unsigned i, uint8_t id[DP_NODE_ID_LEN])
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
	for (unsigned k = 0; k < DP_NODE_ID_LEN; k++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 32;
		id[k] = (uint8_t)x;
	}
}

/* One inner packet sealed by `from` on its link `link` towards `to`. */
static void seal(struct site *from, uint16_t link, struct site *to, uint8_t nh, const uint8_t *b,
		 size_t len)
{
	struct dp_pkt *p = pkt_new(from, b, len);
	p->next_hdr = nh;
	p->sa = from->sa_out[link];
	p->link = link;
	ep_of(to->id, &p->peer);
	dp_esp_encrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	from->out.net[from->out.n_net++] = p;
}

/* ---- unicast over a next hop ---- */

struct trio {
	struct site *a, *b, *c;
	uint8_t id[4][DP_NODE_ID_LEN];
	uint8_t mac[4][6];
};

static void trio_init(struct trio *t3)
{
	struct site **s[4] = {NULL, &t3->a, &t3->b, &t3->c};
	for (uint8_t i = 1; i <= 3; i++) {
		*s[i] = site_new(DP_MODE_SWITCH, i, 2, 64);
		node_id_of(i, t3->id[i]);
		mac_of(i, 0x10, t3->mac[i]);
		memcpy((*s[i])->t->p.node_id, t3->id[i], DP_NODE_ID_LEN);
		(*s[i])->t->p.multihop = true;
		site_learn_ring(*s[i], 64);
	}
	site_connect(t3->a, 0, t3->b, 0, false);
	site_connect(t3->b, 1, t3->c, 0, false);
	/* A's slot 1 is C and C's slot 1 is A: no SA, next hop B. */
	dp_table_set_link_via(t3->a->t, 1, 0);
	dp_table_set_link_via(t3->c->t, 1, 0);
	dp_table_set_link_node_id(t3->a->t, 0, t3->id[2]);
	dp_table_set_link_node_id(t3->a->t, 1, t3->id[3]);
	dp_table_set_link_node_id(t3->b->t, 0, t3->id[1]);
	dp_table_set_link_node_id(t3->b->t, 1, t3->id[3]);
	dp_table_set_link_node_id(t3->c->t, 0, t3->id[2]);
	dp_table_set_link_node_id(t3->c->t, 1, t3->id[1]);
	assert_int_equal(dp_table_add_fdb(t3->a->t, t3->mac[3], 1), 0);
	assert_int_equal(dp_table_add_fdb(t3->b->t, t3->mac[3], 1), 0);
	assert_int_equal(dp_table_add_fdb(t3->b->t, t3->mac[1], 0), 0);
	assert_int_equal(dp_table_add_fdb(t3->c->t, t3->mac[1], 1), 0);
}

static void trio_fini(struct trio *t3)
{
	site_free(t3->a);
	site_free(t3->b);
	site_free(t3->c);
}

static unsigned learned(struct site *s, struct dp_learn_event *ev, unsigned max)
{
	return rte_ring_sc_dequeue_burst_elem(s->ring, ev, sizeof(ev[0]), max, NULL);
}

static void test_unicast_via(void **state)
{
	(void)state;
	struct trio t3;
	struct dp_learn_event ev[8];
	uint8_t f[400];

	trio_init(&t3);
	/* Unlearnt at C: A's MAC. A → C: header added, over B. */
	size_t len = eth_frame(t3.mac[3], t3.mac[1], 200, 7, f);
	send_host(t3.a, f, len);
	assert_int_equal(t3.a->out.n_net, 1);
	assert_int_equal(t3.a->out.net[0]->link, 0);
	assert_int_equal(t3.a->links[1].stats.demand_packets, 1);
	assert_int_equal(hop(t3.a, t3.b, 0), 1);
	assert_int_equal(t3.b->out.n_host, 0);
	assert_int_equal(t3.b->out.n_net, 1);
	assert_int_equal(t3.b->c.forwarded, 1);
	assert_int_equal(hop(t3.b, t3.c, 1), 1);
	assert_int_equal(t3.c->out.n_host, 1);
	assert_int_equal(t3.c->out.host[0]->len, len);
	assert_memory_equal(t3.c->out.host[0]->data, f, len);
	site_out_free(t3.c);
	/* C learns nothing: its FDB already has A's MAC behind A's slot. B
	 * does not relearn it either. */
	assert_int_equal(learned(t3.c, ev, 8), 0);
	assert_int_equal(learned(t3.b, ev, 8), 0);

	/* A MAC of A's C does not know yet: learnt behind A's slot (1),
	 * not behind B (0), though B delivered the frame. */
	uint8_t mac_a2[6];
	mac_of(1, 0x20, mac_a2);
	len = eth_frame(t3.mac[3], mac_a2, 60, 8, f);
	send_host(t3.a, f, len);
	hop(t3.a, t3.b, 0);
	hop(t3.b, t3.c, 1);
	assert_int_equal(t3.c->out.n_host, 1);
	site_out_free(t3.c);
	assert_int_equal(learned(t3.c, ev, 8), 1);
	assert_memory_equal(ev[0].mac, mac_a2, 6);
	assert_int_equal(ev[0].link_id, t3.c->links[1].id);
	assert_int_equal(learned(t3.b, ev, 8), 1);
	assert_int_equal(ev[0].link_id, t3.b->links[0].id);

	/* The reply C → A the same way back. */
	len = eth_frame(t3.mac[1], t3.mac[3], 100, 9, f);
	send_host(t3.c, f, len);
	hop(t3.c, t3.b, 0);
	hop(t3.b, t3.a, 0);
	assert_int_equal(t3.a->out.n_host, 1);
	assert_memory_equal(t3.a->out.host[0]->data, f, len);
	site_out_free(t3.a);

	/* B without multihop: not forwarded. */
	t3.b->t->p.multihop = false;
	send_host(t3.a, f, eth_frame(t3.mac[3], t3.mac[1], 60, 10, f));
	hop(t3.a, t3.b, 0);
	assert_int_equal(t3.b->c.drops[DP_DROP_FWD_DISABLED], 1);
	assert_int_equal(t3.b->out.n_net + t3.b->out.n_host, 0);
	assert_int_equal(total_drops(&t3.a->c) + total_drops(&t3.c->c), 0);
	trio_fini(&t3);
}

/* Header built by hand: version, hops, flags, reserved, origin, [end]. */
static size_t ovl(uint8_t *b, uint8_t ver, uint8_t hops, uint8_t flags, uint8_t rsv,
		  const uint8_t *origin, const uint8_t *end, const uint8_t *frame, size_t flen)
{
	size_t n = 0;
	b[n++] = ver, b[n++] = hops, b[n++] = flags, b[n++] = rsv;
	memcpy(b + n, origin, DP_NODE_ID_LEN);
	n += DP_NODE_ID_LEN;
	if (end) {
		memcpy(b + n, end, DP_NODE_ID_LEN);
		n += DP_NODE_ID_LEN;
	}
	memcpy(b + n, frame, flen);
	return n + flen;
}

/* B seals b as next header 253 to C; returns what C dropped it for. */
static enum dp_drop at_c(struct trio *t3, const uint8_t *b, size_t len)
{
	struct dp_counters before = t3->c->c;
	seal(t3->b, 1, t3->c, DP_ESP_NH_OVERLAY, b, len);
	assert_int_equal(hop(t3->b, t3->c, 1), 1);
	site_out_free(t3->c);
	for (int d = 0; d < DP_DROP__MAX; d++)
		if (t3->c->c.drops[d] != before.drops[d])
			return (enum dp_drop)d;
	return DP_DROP_NONE;
}

static void test_malformed_header(void **state)
{
	(void)state;
	struct trio t3;
	uint8_t f[200], b[300];
	const uint8_t zero[DP_NODE_ID_LEN] = {0};

	trio_init(&t3);
	size_t fl = eth_frame(t3.mac[3], t3.mac[1], 40, 1, f);
	const uint8_t *a = t3.id[1];
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 0, 0, a, NULL, f, fl)), DP_DROP_NONE);
	assert_int_equal(at_c(&t3, b, 10), DP_DROP_FLOOD_HDR); /* short */
	assert_int_equal(at_c(&t3, b, ovl(b, 2, 5, 0, 0, a, NULL, f, fl)),
			 DP_DROP_FLOOD_HDR); /* version */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 2, 0, a, NULL, f, fl)),
			 DP_DROP_FLOOD_HDR); /* flags */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 0, 1, a, NULL, f, fl)),
			 DP_DROP_FLOOD_HDR); /* rsv */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 0, 0, zero, NULL, f, fl)), DP_DROP_FLOOD_HDR);
	/* a flood header without its arc end */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 1, 0, a, NULL, f, 10)), DP_DROP_FLOOD_HDR);
	/* C's own id as origin */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 0, 0, t3.id[3], NULL, f, fl)), DP_DROP_FWD_SRC);
	/* a runt frame behind a valid header */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 5, 0, 0, a, NULL, f, 13)), DP_DROP_SHORT);
	/* to forward (A's MAC is behind C's slot 1) with one hop left */
	fl = eth_frame(t3.mac[1], t3.mac[2], 40, 1, f);
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 1, 0, 0, t3.id[2], NULL, f, fl)),
			 DP_DROP_HOP_LIMIT);
	/* ... whose next hop (via B) is where it came from */
	assert_int_equal(at_c(&t3, b, ovl(b, 1, 9, 0, 0, t3.id[2], NULL, f, fl)), DP_DROP_FWD_LOOP);
	trio_fini(&t3);
}

/* ---- ARP answered from what the overlay knows ---- */

static size_t arp_frame(uint8_t *f, const uint8_t dst[6], const uint8_t smac[6], uint16_t op,
			const uint8_t spa[4], const uint8_t tpa[4])
{
	memcpy(f, dst, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08, f[13] = 0x06;
	const uint8_t hdr[6] = {0, 1, 8, 0, 6, 4};
	memcpy(f + 14, hdr, 6);
	f[20] = 0, f[21] = (uint8_t)op;
	memcpy(f + 22, smac, 6);
	memcpy(f + 28, spa, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, tpa, 4);
	memset(f + 42, 0, 18); /* Ethernet padding */
	return 60;
}

static void test_switch_arp(void **state)
{
	(void)state;
	struct trio t3;
	struct dp_learn_event ev[8];
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t ip_a[4] = {10, 1, 0, 1}, ip_c[4] = {10, 1, 0, 3}, ip_x[4] = {10, 1, 0, 9};
	const uint8_t ip_y[4] = {10, 1, 0, 10};
	uint8_t f[64], mac_y[6];
	uint32_t v;

	trio_init(&t3);
	mac_of(7, 0x10, mac_y); /* known address, but its MAC is not behind a link */
	assert_int_equal(dp_table_add_arp(t3.a->t, 1, t3.mac[3]), -ENOSPC); /* not reserved */
	assert_int_equal(dp_table_reserve_arp(t3.a->t, 2), 0);
	assert_int_equal(dp_table_reserve_arp(t3.a->t, 2), -EEXIST);
	memcpy(&v, ip_c, 4);
	assert_int_equal(dp_table_add_arp(t3.a->t, v, t3.mac[3]), 0);
	assert_int_equal(dp_table_add_arp(t3.a->t, v, t3.mac[3]), -EEXIST);
	assert_int_equal(dp_table_add_arp(t3.a->t, 0, t3.mac[3]), -EINVAL);
	assert_int_equal(dp_table_add_arp(t3.a->t, v ^ 0x1, bcast), -EINVAL);
	memcpy(&v, ip_y, 4);
	assert_int_equal(dp_table_add_arp(t3.a->t, v, mac_y), 0);
	assert_int_equal(dp_table_add_arp(t3.a->t, v ^ 0x2000000, t3.mac[2]), -ENOSPC);

	/* A's host asks for C's address: answered from C's MAC, nothing sent. */
	send_host(t3.a, f, arp_frame(f, bcast, t3.mac[1], 1, ip_a, ip_c));
	assert_int_equal(t3.a->c.arp_replies, 1);
	assert_int_equal(t3.a->out.n_net, 0);
	assert_int_equal(t3.a->out.n_host, 1);
	const uint8_t *r = t3.a->out.host[0]->data;
	assert_int_equal(t3.a->out.host[0]->len, 42);
	assert_memory_equal(r, t3.mac[1], 6);
	assert_memory_equal(r + 6, t3.mac[3], 6);
	assert_int_equal(r[21], 2);
	assert_memory_equal(r + 22, t3.mac[3], 6);
	assert_memory_equal(r + 28, ip_c, 4);
	assert_memory_equal(r + 32, t3.mac[1], 6);
	assert_memory_equal(r + 38, ip_a, 4);
	site_out_free(t3.a);

	/* Unknown address, or a MAC not behind a link: flooded as before. */
	send_host(t3.a, f, arp_frame(f, bcast, t3.mac[1], 1, ip_a, ip_x));
	send_host(t3.a, f, arp_frame(f, bcast, t3.mac[1], 1, ip_a, ip_y));
	assert_int_equal(t3.a->c.arp_replies, 1);
	assert_int_equal(t3.a->out.n_net, 2);
	/* At B the request teaches A's MAC with its address. */
	hop(t3.a, t3.b, 0);
	site_out_free(t3.b);
	assert_int_equal(learned(t3.b, ev, 8), 1);
	assert_memory_equal(ev[0].mac, t3.mac[1], 6);
	assert_int_equal(ev[0].link_id, t3.b->links[0].id);
	assert_memory_equal(&ev[0].ip4, ip_a, 4);
	/* A reply is not answered; a sender that is not the frame's source
	 * teaches no address. */
	send_host(t3.a, f, arp_frame(f, bcast, t3.mac[1], 2, ip_a, ip_c));
	assert_int_equal(t3.a->c.arp_replies, 1);
	arp_frame(f, bcast, t3.mac[1], 1, ip_a, ip_x);
	f[22] ^= 0x40;
	send_host(t3.a, f, 60);
	assert_int_equal(t3.a->out.n_net, 2);
	hop(t3.a, t3.b, 0);
	site_out_free(t3.b);
	assert_int_equal(learned(t3.b, ev, 8), 1);
	assert_memory_equal(&ev[0].ip4, ip_a, 4); /* from the reply */
	trio_fini(&t3);
}

/* ---- the ring flood ---- */

struct ring {
	unsigned n;
	struct site *s[64];
	struct dp_overlay *ov[64];
	uint8_t id[64][DP_NODE_ID_LEN];
	unsigned deg[64];
	unsigned nbr[64][MAXL]; /* slot → node */
};

static bool id_less(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, DP_NODE_ID_LEN) < 0;
}

static void link_pair(struct ring *r, unsigned i, unsigned j)
{
	for (unsigned k = 0; k < r->deg[i]; k++)
		if (r->nbr[i][k] == j)
			return;
	assert_true(r->deg[i] < MAXL && r->deg[j] < MAXL);
	r->nbr[i][r->deg[i]++] = j;
	r->nbr[j][r->deg[j]++] = i;
}

/* Node i of n (ring order by id): successors and chords at id + 2^(159-c),
 * as the topology manager picks them; links are bidirectional. */
static void ring_build(struct ring *r, unsigned n, unsigned succ, unsigned chords)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	for (unsigned i = 0; i < n; i++)
		node_id_of(100 + i, r->id[i]);
	for (unsigned i = 1; i < n; i++) /* sort: ring order = index order */
		for (unsigned k = i; k > 0 && id_less(r->id[k], r->id[k - 1]); k--) {
			uint8_t tmp[DP_NODE_ID_LEN];
			memcpy(tmp, r->id[k], DP_NODE_ID_LEN);
			memcpy(r->id[k], r->id[k - 1], DP_NODE_ID_LEN);
			memcpy(r->id[k - 1], tmp, DP_NODE_ID_LEN);
		}
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 1; k <= succ && k < n; k++)
			link_pair(r, i, (i + k) % n);
		for (unsigned c = 0; c < chords; c++) {
			uint8_t target[DP_NODE_ID_LEN], d[DP_NODE_ID_LEN], best[DP_NODE_ID_LEN];
			memcpy(target, r->id[i], DP_NODE_ID_LEN);
			/* + 2^(159-c): bit c from the top */
			unsigned byte = c / 8, carry = 0x80u >> (c % 8);
			for (int k = (int)byte; k >= 0 && carry; k--) {
				unsigned v = target[k] + carry;
				target[k] = (uint8_t)v;
				carry = v >> 8;
			}
			unsigned pick = i;
			for (unsigned j = 0; j < n; j++) {
				if (j == i)
					continue;
				dp_node_id_dist(target, r->id[j], d);
				if (pick == i || memcmp(d, best, DP_NODE_ID_LEN) < 0) {
					memcpy(best, d, DP_NODE_ID_LEN);
					pick = j;
				}
			}
			link_pair(r, i, pick);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		r->s[i] = site_new(DP_MODE_SWITCH, (uint8_t)(i + 1), (uint16_t)r->deg[i], 64);
		r->s[i]->t->p.ring_flood = true;
		memcpy(r->s[i]->t->p.node_id, r->id[i], DP_NODE_ID_LEN);
		r->ov[i] = calloc(1, sizeof(struct dp_overlay));
		assert_non_null(r->ov[i]);
		r->s[i]->ctx.ov = r->ov[i];
		site_learn_ring(r->s[i], 64);
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < r->deg[i]; k++) {
			unsigned j = r->nbr[i][k];
			if (j < i)
				continue;
			unsigned back = 0;
			while (r->nbr[j][back] != i)
				back++;
			site_connect(r->s[i], (uint16_t)k, r->s[j], (uint16_t)back, false);
		}
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < r->deg[i]; k++)
			dp_table_set_link_node_id(r->s[i]->t, (uint16_t)k, r->id[r->nbr[i][k]]);
}

static void ring_free(struct ring *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		site_free(r->s[i]);
		free(r->ov[i]);
	}
}

/* A broadcast from origin's host, carried level by level. Returns the
 * depth; got[i] = how many copies node i's host received. */
static unsigned ring_flood(struct ring *r, unsigned origin, unsigned *got)
{
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t f[200], mac[6];
	bool cur[64] = {false}, next[64];
	unsigned depth = 0;

	mac_of((uint8_t)(origin + 1), 0x10, mac);
	size_t len = eth_frame(bcast, mac, 100, origin, f);
	memset(got, 0, r->n * sizeof(got[0]));
	send_host(r->s[origin], f, len);
	cur[origin] = true;
	for (;;) {
		bool any = false;
		memset(next, 0, sizeof(next));
		for (unsigned i = 0; i < r->n; i++) {
			if (!cur[i])
				continue;
			for (unsigned k = 0; k < r->deg[i]; k++) {
				unsigned j = r->nbr[i][k];
				if (!hop(r->s[i], r->s[j], (uint16_t)k))
					continue;
				got[j] += r->s[j]->out.n_host;
				for (unsigned h = 0; h < r->s[j]->out.n_host; h++) {
					assert_int_equal(r->s[j]->out.host[h]->len, len);
					assert_memory_equal(r->s[j]->out.host[h]->data, f, len);
				}
				put_all(&r->s[j]->pool, r->s[j]->out.host, &r->s[j]->out.n_host);
				if (r->s[j]->out.n_net)
					next[j] = any = true;
			}
			assert_int_equal(r->s[i]->out.n_net, 0);
		}
		depth++;
		if (!any)
			return depth;
		memcpy(cur, next, sizeof(cur));
	}
}

static void ring_check(unsigned n, unsigned succ, unsigned chords, unsigned origins)
{
	struct ring *r = calloc(1, sizeof(*r));
	unsigned got[64], max_depth = 0;
	struct dp_learn_event ev[64];

	assert_non_null(r);
	ring_build(r, n, succ, chords);
	for (unsigned o = 0; o < origins; o++) {
		unsigned origin = o * n / origins;
		unsigned depth = ring_flood(r, origin, got);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(got[i], i == origin ? 0 : 1);
		if (depth > max_depth)
			max_depth = depth;
		/* learn events name the origin's slot, never a relay's */
		for (unsigned i = 0; i < n; i++) {
			unsigned k = learned(r->s[i], ev, 64);
			for (unsigned e = 0; e < k; e++) {
				uint16_t l = dp_table_link_index(r->s[i]->t, ev[e].link_id);
				assert_true(l < r->deg[i]);
				assert_int_equal(r->nbr[i][l], origin);
			}
		}
	}
	unsigned relayed = 0, flooded = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(total_drops(&r->s[i]->c), 0);
		relayed += (unsigned)r->s[i]->c.flood_relayed;
		flooded += (unsigned)r->s[i]->c.flooded;
	}
	/* each flood: n - 1 copies in all, origin's and relays' */
	assert_int_equal(relayed + flooded, origins * (n - 1));
	/* the deepest receives happen max_depth - 1 levels down */
	unsigned log2n = 0;
	while ((1u << log2n) < n)
		log2n++;
	print_message("ring of %u (succ %u, chords %u): depth %u, log2 N %u\n", n, succ, chords,
		      max_depth - 1, log2n);
	assert_true(max_depth - 1 <= log2n + 1);
	ring_free(r);
	free(r);
}

static void test_ring_flood_12(void **state)
{
	(void)state;
	ring_check(12, 2, 1, 12);
}

static void test_ring_flood_64(void **state)
{
	(void)state;
	ring_check(64, 2, 6, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unicast_via),	  cmocka_unit_test(test_malformed_header),
	    cmocka_unit_test(test_switch_arp),	  cmocka_unit_test(test_ring_flood_12),
	    cmocka_unit_test(test_ring_flood_64),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
