/* The packet pipeline in switch mode, with no device: Ethernet frames
 * carried as ESP between sites, flooding and its limits, MAC learning, and
 * an L2 peer's frames reaching an L3 table. */
#include "pipeline_harness.h"

static void test_switch_round_trip_and_flood(void **state)
{
	(void)state;
	/* A has links to B (0) and C (1) and a down link (2). */
	struct site *a = site_new(DP_MODE_SWITCH, 1, 3, 64);
	struct site *b = site_new(DP_MODE_SWITCH, 2, 1, 64);
	struct site *c = site_new(DP_MODE_SWITCH, 3, 1, 64);
	struct dp_pkt *in[8], *rx[8];
	uint8_t f[1600], mac_a[6], mac_b[6], mac_c[6], mac_x[6];
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	mac_of(1, 0x10, mac_a);
	mac_of(2, 0x10, mac_b);
	mac_of(3, 0x10, mac_c);
	mac_of(9, 0x10, mac_x);
	site_connect(a, 0, b, 0, false);
	site_connect(a, 1, c, 0, false);
	dp_table_set_link(a->t, 2, &a->links[2], NULL, NULL);
	assert_int_equal(dp_table_add_fdb(a->t, mac_b, 0), 0);
	assert_int_equal(dp_table_add_fdb(a->t, mac_c, 1), 0);
	assert_int_equal(dp_table_add_fdb(a->t, mac_x, 2), 0);
	dp_table_seal(a->t);

	/* Broadcast: one copy to B and one to C, nothing to the down link. */
	size_t len = eth_frame(bcast, mac_a, 300, 1, f);
	in[0] = pkt_new(a, f, len);
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	assert_int_equal(a->out.n_net, 2);
	assert_int_equal(a->c.flooded, 2);
	assert_int_equal(a->links[0].stats.tx_packets, 1);
	assert_int_equal(a->links[1].stats.tx_packets, 1);
	assert_int_equal(a->links[2].stats.tx_packets, 0);
	assert_int_equal(a->pool.avail, a->pool.size - 2); /* one buffer was copied */
	unsigned nb = wire(a, b, 0, rx);
	unsigned nc = wire(a, c, 1, rx + nb);
	assert_int_equal(nb, 1);
	assert_int_equal(nc, 1);
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	dp_pipeline_from_net(&c->ctx, rx + 1, 1, &c->out);
	assert_int_equal(b->out.n_host, 1);
	assert_int_equal(c->out.n_host, 1);
	assert_int_equal(b->out.host[0]->len, len);
	assert_memory_equal(b->out.host[0]->data, f, len); /* identical frame */
	assert_memory_equal(c->out.host[0]->data, f, len);
	site_out_free(b);
	site_out_free(c);

	/* Unicast to a MAC the FDB puts behind C: only C gets it. */
	len = eth_frame(mac_c, mac_a, 64, 2, f);
	in[0] = pkt_new(a, f, len);
	/* Unknown unicast floods; unicast behind the down link is LINK_DOWN. */
	const uint8_t unknown[6] = {0x02, 0x99, 0, 0, 0, 1};
	in[1] = pkt_new(a, f, eth_frame(unknown, mac_a, 64, 3, f));
	in[2] = pkt_new(a, f, eth_frame(mac_x, mac_a, 64, 4, f));
	in[3] = pkt_new(a, f, 13);				    /* runt */
	in[4] = pkt_new(a, f, eth_frame(mac_b, mac_a, 1401, 5, f)); /* MTU 1400 + 14 < 1415 */
	in[5] = pkt_new(a, f, eth_frame(mac_b, mac_a, 1400, 5, f)); /* fits */
	dp_pipeline_from_host(&a->ctx, in, 6, &a->out);
	assert_int_equal(a->c.drops[DP_DROP_LINK_DOWN], 1);
	assert_int_equal(a->c.drops[DP_DROP_SHORT], 1);
	assert_int_equal(a->c.drops[DP_DROP_TOO_BIG], 1);
	assert_int_equal(a->c.flooded, 4);
	assert_int_equal(a->out.n_net, 4); /* 1 to C, 2 flooded, 1 to B */
	unsigned to_b = 0, to_c = 0;
	for (unsigned i = 0; i < a->out.n_net; i++) {
		assert_int_equal(a->out.net[i]->next_hdr, DP_ESP_NH_ETHERNET);
		to_b += a->out.net[i]->link == 0;
		to_c += a->out.net[i]->link == 1;
	}
	assert_int_equal(to_b, 2);
	assert_int_equal(to_c, 2);
	nc = wire(a, c, 1, rx);
	dp_pipeline_from_net(&c->ctx, rx, nc, &c->out);
	assert_int_equal(c->out.n_host, 2);
	len = eth_frame(mac_c, mac_a, 64, 2, f);
	assert_memory_equal(c->out.host[0]->data, f, len); /* per-SA order kept */
	site_out_free(a);
	site_out_free(c);

	/* An L3 peer's packet (next header 4) is not a switch frame. */
	struct dp_pkt *p = dp_pool_get(&a->pool);
	memcpy(p->data, f, 60);
	p->len = 60;
	p->next_hdr = DP_ESP_NH_IPV4;
	p->sa = a->sa_out[0];
	dp_esp_encrypt_burst(mgr, &p, 1);
	rx[0] = pkt_new(b, p->data, p->len);
	dp_pool_put(&a->pool, p);
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	assert_int_equal(b->c.drops[DP_DROP_BAD_NEXT_HEADER], 1);
	/* Nor is a switch frame shorter than an Ethernet header. */
	p = dp_pool_get(&a->pool);
	memset(p->data, 0x5a, 10);
	p->len = 10;
	p->next_hdr = DP_ESP_NH_ETHERNET;
	p->sa = a->sa_out[0];
	dp_esp_encrypt_burst(mgr, &p, 1);
	rx[0] = pkt_new(b, p->data, p->len);
	dp_pool_put(&a->pool, p);
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	assert_int_equal(b->c.drops[DP_DROP_SHORT], 1);
	assert_int_equal(b->out.n_host, 0);

	site_free(a);
	site_free(b);
	site_free(c);
}

static void test_switch_flood_limits(void **state)
{
	(void)state;
	/* Ten up links; a pool too small for every copy. */
	struct site *a = site_new(DP_MODE_SWITCH, 1, 10, 70);
	struct site *peers[10];
	struct dp_pkt *in[DP_BURST_MAX];
	uint8_t f[128], mac_a[6];
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	mac_of(1, 0x10, mac_a);
	for (uint8_t i = 0; i < 10; i++) {
		peers[i] = site_new(DP_MODE_SWITCH, (uint8_t)(10 + i), 1, 4);
		site_connect(a, i, peers[i], 0, false);
	}
	size_t len = eth_frame(bcast, mac_a, 50, 0, f);
	for (unsigned i = 0; i < 8; i++)
		in[i] = pkt_new(a, f, len);
	/* 8 originals + 62 free buffers: 8 frames x 10 links = 80 wanted. */
	dp_pipeline_from_host(&a->ctx, in, 8, &a->out);
	assert_int_equal(a->out.n_net, 70);
	assert_int_equal(a->c.flooded, 70);
	assert_int_equal(a->c.drops[DP_DROP_NO_BUFFER], 10);
	site_out_free(a);

	/* DP_OUT_MAX bounds a burst: 64 frames x 10 links cannot all go. */
	dp_pool_fini(&a->pool);
	assert_int_equal(dp_pool_init(&a->pool, 1024), 0);
	for (unsigned i = 0; i < DP_BURST_MAX; i++)
		in[i] = pkt_new(a, f, len);
	memset(&a->c, 0, sizeof(a->c));
	dp_pipeline_from_host(&a->ctx, in, DP_BURST_MAX, &a->out);
	assert_int_equal(a->out.n_net, DP_OUT_MAX);
	assert_int_equal(a->c.drops[DP_DROP_NO_BUFFER], DP_BURST_MAX * 10 - DP_OUT_MAX);
	assert_int_equal(a->pool.avail, a->pool.size - DP_OUT_MAX);
	site_out_free(a);

	/* Every link down: nothing to flood to. */
	for (uint16_t l = 0; l < 10; l++)
		dp_table_set_link(a->t, l, &a->links[l], NULL, NULL);
	in[0] = pkt_new(a, f, len);
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	assert_int_equal(a->c.drops[DP_DROP_NO_ROUTE], 1);
	assert_int_equal(a->out.n_net, 0);
	site_free(a);
	for (int i = 0; i < 10; i++)
		site_free(peers[i]);
}

static void test_switch_learning(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_SWITCH, 1, 1, 64);
	struct site *b = site_new(DP_MODE_SWITCH, 2, 2, 64);
	struct dp_pkt *in[8], *rx[8];
	struct dp_learn_event ev;
	uint8_t f[128], mac1[6], mac2[6], mac_known[6], mac_b[6];
	mac_of(1, 0x11, mac1);
	mac_of(1, 0x12, mac2);
	mac_of(1, 0x13, mac_known);
	mac_of(2, 0x10, mac_b);
	site_connect(a, 0, b, 1, false); /* B's link 1 leads to A */
	assert_int_equal(dp_table_add_fdb(b->t, mac_known, 1), 0);
	site_learn_ring(b, 4); /* holds 3 events */

	in[0] = pkt_new(a, f, eth_frame(mac_b, mac1, 40, 0, f));
	in[1] = pkt_new(a, f, eth_frame(mac_b, mac1, 40, 1, f)); /* same MAC again */
	in[2] = pkt_new(a, f, eth_frame(mac_b, mac2, 40, 2, f));
	in[3] = pkt_new(a, f, eth_frame(mac_b, mac_known, 40, 3, f)); /* already known */
	dp_pipeline_from_host(&a->ctx, in, 4, &a->out);
	unsigned n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 4);
	assert_int_equal(b->c.learn_events, 2);
	assert_int_equal(rte_ring_count(b->ring), 2);
	assert_int_equal(rte_ring_sc_dequeue_elem(b->ring, &ev, sizeof(ev)), 0);
	assert_memory_equal(ev.mac, mac1, 6);
	assert_int_equal(ev.link_id, b->links[1].id);
	assert_int_equal(rte_ring_sc_dequeue_elem(b->ring, &ev, sizeof(ev)), 0);
	assert_memory_equal(ev.mac, mac2, 6);
	assert_int_equal(ev.link_id, b->links[1].id);
	site_out_free(b);

	/* Ring full: the frames are delivered anyway, the lost events counted. */
	for (unsigned i = 0; i < 5; i++)
		in[i] = pkt_new(
		    a, f, eth_frame(mac_b, (uint8_t[6]){0x02, 7, 7, 7, 7, (uint8_t)i}, 40, i, f));
	dp_pipeline_from_host(&a->ctx, in, 5, &a->out);
	n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 5);
	assert_int_equal(b->c.learn_events, 2 + 3);
	assert_int_equal(b->c.drops[DP_DROP_RING_FULL], 2);
	site_out_free(b);

	/* Learning off: no ring, no events, frames still delivered. */
	b->ctx.learn_ring = NULL;
	in[0] = pkt_new(a, f, eth_frame(mac_b, (uint8_t[6]){0x02, 8, 8, 8, 8, 8}, 40, 0, f));
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 1);
	assert_int_equal(b->c.learn_events, 5);
	site_out_free(b);
	site_free(a);
	site_free(b);
}

/* An L2 peer's frames reaching an L3 table: wrong next header. */
static void test_mode_mismatch(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_SWITCH, 1, 1, 16);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 16);
	struct dp_pkt *in[1], *rx[1];
	uint8_t f[128];
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	site_connect(a, 0, b, 0, false);
	dp_table_seal(b->t);
	in[0] = pkt_new(a, f, eth_frame(bcast, (uint8_t[6]){2, 1, 1, 1, 1, 1}, 60, 0, f));
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	unsigned n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->c.drops[DP_DROP_BAD_NEXT_HEADER], 1);
	assert_int_equal(b->out.n_host, 0);
	site_free(a);
	site_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_switch_round_trip_and_flood),
	    cmocka_unit_test(test_switch_flood_limits),
	    cmocka_unit_test(test_switch_learning),
	    cmocka_unit_test(test_mode_mismatch),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
