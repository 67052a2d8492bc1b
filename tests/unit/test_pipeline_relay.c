/* The packet pipeline on the underlay side, with no device: links through a
 * TURN relay (ChannelData) and roaming links reporting a new address. */
#include "pipeline_harness.h"

/* A link through a TURN relay: a's ESP leaves as ChannelData to the relay;
 * b decrypts ChannelData from a relay it uses (unpadded or padded), drops it
 * from anyone else or with a wrong length, and punts non-ESP content whole.
 * A relayed link without a bound channel sends nothing. */
static void test_relay_channel_data(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 1, 64);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 64);
	site_connect(a, 0, b, 0, false);
	struct net_endpoint relay, peer_x;
	ep_of(251, &relay);
	relay.port = 3478;
	ep_of(2, &peer_x);
	peer_x.port = 40000;
	peer_x.via = 1;
	dp_table_set_link(a->t, 0, &a->links[0], a->sa_out[0], &peer_x);
	dp_table_set_link_relay(a->t, 0, &relay, 0x4001);
	assert_int_equal(dp_table_add_relay(b->t, &relay), 0);
	assert_int_equal(dp_table_add_relay(b->t, &relay), 0); /* once */
	assert_int_equal(b->t->nrelays, 1);
	dp_table_seal(a->t);
	dp_table_seal(b->t);

	uint8_t frame[1500], raw[DP_BUF_SIZE];
	struct dp_pkt *in[1], *rx[4];
	size_t flen = host_frame(a, 2, false, 200, 3, frame);
	in[0] = pkt_new(a, frame, flen);
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	assert_int_equal(a->out.n_net, 1);
	struct dp_pkt *p = a->out.net[0];
	assert_true(net_endpoint_equal(&p->peer, &relay)); /* to the server, not to X */
	assert_int_equal(p->data[0] << 8 | p->data[1], 0x4001);
	assert_int_equal(p->data[2] << 8 | p->data[3], p->len - 4);
	assert_int_equal(dp_esp_spi(p->data + 4), a->sa_out[0]->spi);
	size_t rawlen = p->len;
	memcpy(raw, p->data, rawlen);
	dp_pool_put(&a->pool, p);
	a->out.n_net = 0;

	/* From the relay: decrypted and delivered; padded to 4 bytes too. */
	for (unsigned pad = 0; pad < 2; pad++) {
		size_t len = rawlen;
		if (pad) {
			/* a second packet: the first one's sequence is taken */
			in[0] = pkt_new(a, frame, flen);
			dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
			memcpy(raw, a->out.net[0]->data, a->out.net[0]->len);
			len = a->out.net[0]->len;
			site_out_free(a);
			while (len % 4)
				raw[len++] = 0;
		}
		rx[0] = pkt_new(b, raw, len);
		rx[0]->peer = relay;
		dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
		assert_int_equal(total_drops(&b->c), 0);
		assert_int_equal(b->out.n_host, 1);
		assert_int_equal(b->out.host[0]->len, flen);
		assert_memory_equal(b->out.host[0]->data + 12, frame + 12, flen - 12);
		site_out_free(b);
	}

	/* Not from our relay: dropped before any lookup. */
	rx[0] = pkt_new(b, raw, rawlen);
	ep_of(9, &rx[0]->peer);
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	assert_int_equal(b->c.drops[DP_DROP_NOT_RELAY], 1);
	/* Length field off by one either way, or padding beyond 4 bytes. */
	const int deltas[] = {1, -1};
	for (unsigned i = 0; i < 2; i++) {
		uint16_t l = (uint16_t)((raw[2] << 8 | raw[3]) + deltas[i]);
		rx[0] = pkt_new(b, raw, rawlen);
		rx[0]->data[2] = (uint8_t)(l >> 8), rx[0]->data[3] = (uint8_t)l;
		rx[0]->peer = relay;
		dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	}
	memset(raw + rawlen, 0, 8);
	rx[0] = pkt_new(b, raw, ((rawlen + 3) & ~(size_t)3) + 4);
	rx[0]->peer = relay;
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	assert_int_equal(b->c.drops[DP_DROP_CHANNEL_LEN], rawlen % 4 ? 3 : 2);
	assert_int_equal(b->out.n_host + b->out.n_punt, 0);

	/* A control message inside: punted with its header (the control core
	 * knows which peer the channel is bound to). */
	uint8_t ctl_msg[4 + 4 + 16] = {0x40, 0x01, 0, 20};
	memset(ctl_msg + 4, 0, 4);
	memset(ctl_msg + 8, 0xab, 16);
	rx[0] = pkt_new(b, ctl_msg, sizeof(ctl_msg));
	rx[0]->peer = relay;
	dp_pipeline_from_net(&b->ctx, rx, 1, &b->out);
	assert_int_equal(b->out.n_punt, 1);
	assert_int_equal(b->out.punt[0]->len, sizeof(ctl_msg));
	assert_memory_equal(b->out.punt[0]->data, ctl_msg, sizeof(ctl_msg));
	site_out_free(b);

	/* Relayed link whose channel is not bound: nothing goes to X directly. */
	dp_table_set_link(a->t, 0, &a->links[0], a->sa_out[0], &peer_x);
	in[0] = pkt_new(a, frame, flen);
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	assert_int_equal(a->out.n_net, 0);
	assert_int_equal(a->c.drops[DP_DROP_LINK_DOWN], 1);
	site_free(a);
	site_free(b);
}

/* n packets from a's host to b, encrypted by a, handed to b as if they came
 * from `from` (NULL: a's usual endpoint). */
static unsigned sealed_from(struct site *a, struct site *b, unsigned n,
			    const struct net_endpoint *from, struct dp_pkt **rx)
{
	uint8_t frame[256];
	struct dp_pkt *in[8];
	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		in[i] = pkt_new(a, frame, host_frame(a, b->id, false, 64, i, frame));
	dp_pipeline_from_host(&a->ctx, in, n, &a->out);
	assert_int_equal(a->out.n_net, n);
	unsigned m = wire(a, b, DP_LINK_NONE, rx);
	for (unsigned i = 0; from && i < m; i++)
		rx[i]->peer = *from;
	return m;
}

static struct dp_roam_event roam_pop(struct site *s)
{
	struct dp_roam_event ev;
	assert_int_equal(rte_ring_sc_dequeue_elem(s->ring, &ev, sizeof(ev)), 0);
	return ev;
}

/* Roaming: authenticated packets of a roaming link from a new address are
 * reported once until the control core re-arms the link; forged, replayed
 * and relayed packets, and links not marked to roam, never are. */
static void test_roam_reports(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 1, 64);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 64);
	site_connect(a, 0, b, 0, false);
	dp_table_set_link_roam(b->t, 0, true);
	struct net_endpoint moved, relay, forger;
	ep_of(1, &moved);
	moved.port = 61000; /* the NAT gave a a new port */
	ep_of(250, &relay);
	ep_of(66, &forger);
	assert_int_equal(dp_table_add_relay(b->t, &relay), 0);
	dp_table_seal(a->t);
	dp_table_seal(b->t);
	ssize_t sz = rte_ring_get_memsize_elem(sizeof(struct dp_roam_event), 4);
	b->ring = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
	assert_non_null(b->ring);
	assert_int_equal(rte_ring_init(b->ring, "roam", 4, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	b->ctx.roam_ring = b->ring;
	struct dp_pkt *rx[8];
	unsigned n;

	/* From the endpoint in the table: nothing to report. */
	n = sealed_from(a, b, 2, NULL, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 2);
	assert_int_equal(b->c.roam_events, 0);
	site_out_free(b);

	/* A burst from the new address: delivered, one report. */
	n = sealed_from(a, b, 3, &moved, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 3);
	assert_int_equal(b->c.roam_events, 1);
	assert_int_equal(rte_ring_count(b->ring), 1);
	struct dp_roam_event ev = roam_pop(b);
	assert_int_equal(ev.link_id, b->links[0].id);
	assert_true(net_endpoint_equal(&ev.from, &moved));
	site_out_free(b);

	/* Until re-armed, more packets from there report nothing... */
	n = sealed_from(a, b, 2, &moved, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->c.roam_events, 1);
	site_out_free(b);
	/* ...after it, the next one does. */
	atomic_store(&b->links[0].roam_reported, 0);
	n = sealed_from(a, b, 1, &moved, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->c.roam_events, 2);
	(void)roam_pop(b);
	site_out_free(b);
	atomic_store(&b->links[0].roam_reported, 0);

	/* Forged (bad ICV) from another address: dropped, not reported. */
	n = sealed_from(a, b, 1, &forger, rx);
	rx[0]->data[rx[0]->len - 1] ^= 1;
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 0);
	assert_int_equal(b->c.drops[DP_DROP_AUTH], 1);
	/* A genuine packet replayed from another address: the same. */
	n = sealed_from(a, b, 1, NULL, rx);
	struct dp_pkt *copy = pkt_new(b, rx[0]->data, rx[0]->len);
	copy->peer = forger;
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 1);
	dp_pipeline_from_net(&b->ctx, &copy, 1, &b->out);
	assert_int_equal(b->out.n_host, 1);
	assert_int_equal(b->c.drops[DP_DROP_REPLAY], 1);
	/* Through our TURN relay (the outer source is the relay): not a move. */
	n = sealed_from(a, b, 1, &relay, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 2);
	assert_int_equal(b->c.roam_events, 2);
	assert_int_equal(rte_ring_count(b->ring), 0);
	site_out_free(b);

	/* A full ring loses nothing for good: the link stays unreported. */
	struct dp_roam_event filler = {.link_id = 999};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rte_ring_sp_enqueue_elem(b->ring, &filler, sizeof(filler)), 0);
	n = sealed_from(a, b, 1, &forger, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->c.roam_events, 2);
	assert_int_equal(atomic_load(&b->links[0].roam_reported), 0);
	for (unsigned i = 0; i < 3; i++)
		(void)roam_pop(b);
	n = sealed_from(a, b, 1, &forger, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->c.roam_events, 3);
	ev = roam_pop(b);
	assert_true(net_endpoint_equal(&ev.from, &forger));
	site_out_free(b);
	atomic_store(&b->links[0].roam_reported, 0);

	/* A link not marked to roam (manual keys), or no ring: never. */
	dp_table_set_link_roam(b->t, 0, false);
	n = sealed_from(a, b, 1, &moved, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	dp_table_set_link_roam(b->t, 0, true);
	b->ctx.roam_ring = NULL;
	n = sealed_from(a, b, 1, &moved, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 2);
	assert_int_equal(b->c.roam_events, 3);
	site_out_free(b);
	site_free(a);
	site_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_relay_channel_data),
	    cmocka_unit_test(test_roam_reports),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
