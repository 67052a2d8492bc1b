/* The structured overlay in the L3 pipeline (docs/topology.md), with real
 * ESP between sites: a member without SA reached over its next hop (via),
 * multihop forwarding at the middle site (TTL / hop limit, inner source
 * rules, loops), the stage queue (flush in order on a table with the SA,
 * overflow, timeout, a link that loses its mark), and ARP answers for a
 * member whose link is not up. Sites: A(1) — B(2) — C(3), A and C not
 * linked: A's slot 1 and C's slot 1 are each other, without SA. */
#define MAXL 40 /* test_stage_limits: more links than stage slots */
#include "pipeline_harness.h"

struct trio {
	struct site *a, *b, *c;
	struct dp_overlay *ova;
};

static struct trio trio_new(void)
{
	struct trio t3;
	t3.a = site_new(DP_MODE_L3, 1, 2, 128);
	t3.b = site_new(DP_MODE_L3, 2, 2, 128);
	t3.c = site_new(DP_MODE_L3, 3, 2, 128);
	site_connect(t3.a, 0, t3.b, 0, false);
	site_connect(t3.b, 1, t3.c, 0, false);
	route_to(t3.a, 3, 1); /* C through A's slot 1 (no SA) */
	route_to(t3.c, 1, 1); /* A through C's slot 1 */
	dp_table_set_link_via(t3.a->t, 1, 0);
	dp_table_set_link_via(t3.c->t, 1, 0);
	t3.a->t->p.multihop = t3.b->t->p.multihop = t3.c->t->p.multihop = true;
	t3.ova = calloc(1, sizeof(*t3.ova));
	assert_non_null(t3.ova);
	t3.a->ctx.ov = t3.ova;
	return t3;
}

static void trio_free(struct trio *t3)
{
	site_free(t3->a);
	site_free(t3->b);
	site_free(t3->c);
	free(t3->ova);
}

static uint16_t ip4_csum(const uint8_t *ip)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A frame from s's host to 10.9.0.peer with ttl (IPv4 checksum set). */
static size_t frame4(const struct site *s, uint8_t peer, uint8_t ttl, unsigned seed, uint8_t *b)
{
	size_t n = host_frame(s, peer, false, 64, seed, b);
	b[14 + 8] = ttl;
	b[14 + 10] = b[14 + 11] = 0;
	uint16_t c = ip4_csum(b + 14);
	b[14 + 10] = (uint8_t)(c >> 8), b[14 + 11] = (uint8_t)c;
	return n;
}

static void test_via_and_forward(void **state)
{
	(void)state;
	struct trio t3 = trio_new();
	uint8_t f[256];

	/* A → C: over B (A's link 0), demand counted on A's slot for C. */
	size_t len = frame4(t3.a, 3, 64, 1, f);
	send_host(t3.a, f, len);
	assert_int_equal(t3.a->out.n_net, 1);
	assert_int_equal(t3.a->out.net[0]->link, 0);
	assert_int_equal(t3.a->links[1].stats.demand_packets, 1);
	assert_int_equal(t3.a->links[1].stats.tx_packets, 0);
	assert_int_equal(t3.a->links[0].stats.tx_packets, 1);

	/* B decrypts, sees 10.9.0.3 is C's, re-encrypts to C. */
	assert_int_equal(hop(t3.a, t3.b, 0), 1);
	assert_int_equal(t3.b->out.n_host, 0);
	assert_int_equal(t3.b->out.n_net, 1);
	assert_int_equal(t3.b->out.net[0]->link, 1);
	assert_int_equal(t3.b->c.forwarded, 1);
	assert_int_equal(t3.b->links[1].stats.tx_packets, 1);
	assert_int_equal(total_drops(&t3.b->c), 0);

	/* C accepts A's source from B (multihop), TTL one less, checksum ok. */
	assert_int_equal(hop(t3.b, t3.c, 1), 1);
	assert_int_equal(t3.c->out.n_host, 1);
	struct dp_pkt *p = t3.c->out.host[0];
	assert_int_equal(p->len, len);
	assert_int_equal(p->data[14 + 8], 63);
	assert_int_equal(ip4_csum(p->data + 14), 0);
	assert_memory_equal(p->data + 14 + 12, f + 14 + 12, 8); /* addresses */
	assert_memory_equal(p->data + 34, f + 34, len - 34);	/* payload */
	site_out_free(t3.c);

	/* The reply C → A goes the same way back. */
	len = frame4(t3.c, 1, 64, 2, f);
	send_host(t3.c, f, len);
	assert_int_equal(hop(t3.c, t3.b, 0), 1);
	assert_int_equal(hop(t3.b, t3.a, 0), 1);
	assert_int_equal(t3.a->out.n_host, 1);
	site_out_free(t3.a);

	/* IPv6: hop limit 64 → 63. */
	len = host_frame(t3.a, 3, true, 40, 3, f);
	send_host(t3.a, f, len);
	assert_int_equal(hop(t3.a, t3.b, 0), 1);
	assert_int_equal(hop(t3.b, t3.c, 1), 1);
	assert_int_equal(t3.c->out.n_host, 1);
	assert_int_equal(t3.c->out.host[0]->data[14 + 7], 63);
	site_out_free(t3.c);
	assert_int_equal(t3.b->c.forwarded, 3);
	assert_int_equal(total_drops(&t3.a->c) + total_drops(&t3.b->c) + total_drops(&t3.c->c), 0);
	trio_free(&t3);
}

/* Sends one frame from A's host to B and returns what B dropped it for. */
static enum dp_drop at_b(struct trio *t3, const uint8_t *f, size_t len)
{
	struct dp_counters before = t3->b->c;
	send_host(t3->a, f, len);
	assert_int_equal(hop(t3->a, t3->b, 0), 1);
	site_out_free(t3->b);
	for (int d = 0; d < DP_DROP__MAX; d++)
		if (t3->b->c.drops[d] != before.drops[d])
			return (enum dp_drop)d;
	return DP_DROP_NONE;
}

static void test_forward_rules(void **state)
{
	(void)state;
	struct trio t3 = trio_new();
	uint8_t f[256];
	size_t len;

	/* TTL 1 (and 0) cannot be forwarded; IPv6 hop limit 1 neither. */
	len = frame4(t3.a, 3, 1, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_HOP_LIMIT);
	len = frame4(t3.a, 3, 0, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_HOP_LIMIT);
	len = host_frame(t3.a, 3, true, 40, 3, f);
	f[14 + 7] = 1;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_HOP_LIMIT);
	len = frame4(t3.a, 3, 2, 1, f); /* 2 is enough for one hop */
	assert_int_equal(at_b(&t3, f, len), DP_DROP_NONE);

	/* Inner source not a member's (A's host spoofs): FWD_SRC. Sources
	 * are not checked at A (its host is trusted), B checks. */
	len = frame4(t3.a, 3, 64, 1, f);
	f[14 + 12] = 192, f[14 + 13] = 0, f[14 + 14] = 2, f[14 + 15] = 1;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_SRC);
	/* B's own address as the source of a packet B is to forward. */
	f[14 + 12] = 10, f[14 + 13] = 9, f[14 + 14] = 0, f[14 + 15] = 2;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_SRC);
	/* C's address as source is a member's: relayed (one member may
	 * speak for another; never for us and never for "anywhere"). */
	f[14 + 15] = 3;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_NONE);

	/* A default route is not a member: its destinations are ours, and a
	 * source only it covers is not accepted for forwarding. */
	struct net_prefix any = {.len = 0, .family = AF_INET};
	any.addr[10] = any.addr[11] = 0xff;
	assert_int_equal(dp_table_add_route(t3.b->t, &any, 1), 0);
	len = frame4(t3.a, 3, 64, 1, f);
	f[14 + 12] = 192, f[14 + 13] = 0, f[14 + 14] = 2, f[14 + 15] = 1;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_SRC);

	/* Destination routed back to where it came from: FWD_LOOP. */
	struct net_prefix q = {.len = 32, .family = AF_INET};
	q.addr[10] = q.addr[11] = 0xff, q.addr[12] = 10, q.addr[13] = 9, q.addr[15] = 7;
	assert_int_equal(dp_table_add_route(t3.a->t, &q, 0), 0);
	assert_int_equal(dp_table_add_route(t3.b->t, &q, 0), 0);
	len = frame4(t3.a, 7, 64, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_LOOP);
	/* ... or whose next hop (via) is that link. */
	q.addr[15] = 8;
	assert_int_equal(dp_table_add_route(t3.a->t, &q, 0), 0);
	assert_int_equal(dp_table_add_route(t3.b->t, &q, 1), 0);
	dp_table_set_link(t3.b->t, 1, &t3.b->links[1], NULL, NULL);
	dp_table_set_link_via(t3.b->t, 1, 0);
	len = frame4(t3.a, 8, 64, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_LOOP);
	/* No SA and no next hop: nowhere to go. */
	dp_table_set_link_via(t3.b->t, 1, DP_LINK_NONE);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_NO_ROUTE);
	/* Transit is not demand: B must not want a link to C for A's flow. */
	assert_int_equal(t3.b->links[1].stats.demand_packets, 0);

	/* multihop off: not for us is dropped, for us still delivered. */
	t3.b->t->p.multihop = false;
	len = frame4(t3.a, 3, 64, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_FWD_DISABLED);
	len = frame4(t3.a, 2, 64, 1, f);
	assert_int_equal(at_b(&t3, f, len), DP_DROP_NONE);
	/* ... and a relayed source is a source check failure again. */
	f[14 + 15] = 3;
	f[14 + 10] = f[14 + 11] = 0;
	assert_int_equal(at_b(&t3, f, len), DP_DROP_SRC_CHECK);
	trio_free(&t3);
}

/* A's slot for C marked stage (multihop: false): packets wait for the SA. */
static void test_stage(void **state)
{
	(void)state;
	struct trio t3 = trio_new();
	uint8_t f[256];
	struct dp_pkt *rx[DP_OUT_MAX];

	dp_table_set_link_via(t3.a->t, 1, DP_LINK_NONE);
	dp_table_set_link_stage(t3.a->t, 1, true);
	for (unsigned i = 0; i < 3; i++)
		send_host(t3.a, f, frame4(t3.a, 3, 64, 10 + i, f));
	assert_int_equal(t3.a->out.n_net, 0);
	assert_int_equal(t3.a->c.staged, 3);
	assert_int_equal(t3.a->links[1].stats.demand_packets, 3);
	assert_true(dp_pipeline_tick_due(&t3.a->ctx));
	dp_pipeline_tick(&t3.a->ctx, 1000, &t3.a->out); /* same table: nothing yet */
	assert_int_equal(t3.a->out.n_net, 0);

	/* The link comes up (a new table: same pointer, new version). The
	 * routes are there already: connect the SAs only. */
	t3.a->t->p.mode = t3.c->t->p.mode = DP_MODE_SWITCH;
	site_connect(t3.a, 1, t3.c, 1, false);
	t3.a->t->p.mode = t3.c->t->p.mode = DP_MODE_L3;
	t3.a->t->version++;
	dp_pipeline_tick(&t3.a->ctx, 1100, &t3.a->out);
	assert_int_equal(t3.a->out.n_net, 3);
	assert_int_equal(t3.a->c.stage_flushed, 3);
	assert_false(dp_pipeline_tick_due(&t3.a->ctx));
	unsigned n = wire(t3.a, t3.c, 1, rx);
	dp_pipeline_from_net(&t3.c->ctx, rx, n, &t3.c->out);
	assert_int_equal(t3.c->out.n_host, 3); /* in order, nothing replayed */
	for (unsigned i = 0; i < 3; i++) {
		frame4(t3.a, 3, 64, 10 + i, f);
		assert_memory_equal(t3.c->out.host[i]->data + 34, f + 34, 64);
	}
	site_out_free(t3.c);
	assert_int_equal(total_drops(&t3.a->c) + total_drops(&t3.c->c), 0);
	trio_free(&t3);
}

static void test_stage_limits(void **state)
{
	(void)state;
	struct trio t3 = trio_new();
	uint8_t f[256];
	size_t len = frame4(t3.a, 3, 64, 1, f);

	dp_table_set_link_via(t3.a->t, 1, DP_LINK_NONE);
	dp_table_set_link_stage(t3.a->t, 1, true);
	/* Overflow: DP_STAGE_DEPTH held, the rest dropped. */
	for (unsigned i = 0; i < DP_STAGE_DEPTH + 2; i++)
		send_host(t3.a, f, len);
	assert_int_equal(t3.a->c.staged, DP_STAGE_DEPTH);
	assert_int_equal(t3.a->c.drops[DP_DROP_STAGE_FULL], 2);
	assert_int_equal(t3.a->links[1].stats.demand_packets, DP_STAGE_DEPTH + 2);

	/* Timeout: stamped at 1000, default 60 s. */
	dp_pipeline_tick(&t3.a->ctx, 1000, &t3.a->out);
	dp_pipeline_tick(&t3.a->ctx, 60999, &t3.a->out);
	assert_int_equal(t3.a->c.drops[DP_DROP_STAGE_TIMEOUT], 0);
	dp_pipeline_tick(&t3.a->ctx, 61000, &t3.a->out);
	assert_int_equal(t3.a->c.drops[DP_DROP_STAGE_TIMEOUT], DP_STAGE_DEPTH);
	assert_false(dp_pipeline_tick_due(&t3.a->ctx));
	/* The table's own timeout, for a packet stamped later. */
	send_host(t3.a, f, len);
	t3.a->t->p.stage_timeout_ms = 500;
	dp_pipeline_tick(&t3.a->ctx, 61100, &t3.a->out);
	dp_pipeline_tick(&t3.a->ctx, 61599, &t3.a->out);
	assert_true(dp_pipeline_tick_due(&t3.a->ctx));
	dp_pipeline_tick(&t3.a->ctx, 61600, &t3.a->out);
	assert_int_equal(t3.a->c.drops[DP_DROP_STAGE_TIMEOUT], DP_STAGE_DEPTH + 1);
	assert_false(dp_pipeline_tick_due(&t3.a->ctx));

	/* A table that no longer stages the link: what waits is LINK_DOWN. */
	send_host(t3.a, f, len);
	send_host(t3.a, f, len);
	dp_table_set_link_stage(t3.a->t, 1, false);
	t3.a->t->version++;
	dp_pipeline_tick(&t3.a->ctx, 62000, &t3.a->out);
	assert_int_equal(t3.a->c.drops[DP_DROP_LINK_DOWN], 2);
	/* Now unstaged: LINK_DOWN at once, as before #11. */
	send_host(t3.a, f, len);
	assert_int_equal(t3.a->c.drops[DP_DROP_LINK_DOWN], 3);
	/* Without per-worker state (ctx.ov NULL) a stage link is down too. */
	dp_table_set_link_stage(t3.a->t, 1, true);
	t3.a->ctx.ov = NULL;
	send_host(t3.a, f, len);
	assert_int_equal(t3.a->c.drops[DP_DROP_LINK_DOWN], 4);

	/* Every slot in use: the next link's packet is STAGE_FULL. */
	struct site *m = site_new(DP_MODE_L3, 9, DP_STAGE_LINKS + 1, 128);
	struct dp_overlay *ov = calloc(1, sizeof(*ov));
	m->ctx.ov = ov;
	for (uint16_t l = 0; l <= DP_STAGE_LINKS; l++) {
		struct net_prefix r = {.len = 32, .family = AF_INET};
		r.addr[10] = r.addr[11] = 0xff, r.addr[12] = 10, r.addr[13] = 9;
		r.addr[15] = (uint8_t)(20 + l);
		assert_int_equal(dp_table_add_route(m->t, &r, l), 0);
		dp_table_set_link_stage(m->t, l, true);
		send_host(m, f, frame4(m, (uint8_t)(20 + l), 64, l, f));
	}
	assert_int_equal(m->c.staged, DP_STAGE_LINKS);
	assert_int_equal(m->c.drops[DP_DROP_STAGE_FULL], 1);
	/* A table without them (links gone): dropped, buffers back. */
	for (uint16_t l = 0; l <= DP_STAGE_LINKS; l++)
		m->links[l].id += 1000;
	m->t->version++;
	dp_pipeline_tick(&m->ctx, 1, &m->out);
	assert_int_equal(m->c.drops[DP_DROP_LINK_DOWN], DP_STAGE_LINKS);
	site_free(m);
	free(ov);
	trio_free(&t3);
}

/* ARP and ND for a member whose link is not up are answered (the route is
 * what counts, not the SA). */
static void test_arp_without_link(void **state)
{
	(void)state;
	struct trio t3 = trio_new();
	uint8_t f[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	memcpy(f + 6, t3.a->t->p.host_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	const uint8_t arp[8] = {0, 1, 8, 0, 6, 4, 0, 1};
	memcpy(f + 14, arp, 8);
	memcpy(f + 22, t3.a->t->p.host_mac, 6);
	f[28] = 10, f[29] = 9, f[31] = 1;
	f[38] = 10, f[39] = 9, f[41] = 3; /* C: slot 1, no SA */
	assert_null(t3.a->t->links[1].sa_out);
	send_host(t3.a, f, 42);
	assert_int_equal(t3.a->c.arp_replies, 1);
	assert_int_equal(t3.a->out.n_host, 1);
	assert_memory_equal(t3.a->out.host[0]->data + 22, t3.a->t->p.router_mac, 6);
	site_out_free(t3.a);
	trio_free(&t3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_via_and_forward),
	    cmocka_unit_test(test_forward_rules),
	    cmocka_unit_test(test_stage),
	    cmocka_unit_test(test_stage_limits),
	    cmocka_unit_test(test_arp_without_link),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
