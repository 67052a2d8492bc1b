/* The packet pipeline end to end in L3 mode, with no device: two (or three)
 * sites with mirrored SAs, frames from one site's host carried as ESP to
 * another site's host, plus every drop path the pipeline owns and the small
 * pieces of pkt.c it relies on. Switch mode is in test_pipeline_switch.c,
 * TURN relay and roaming in test_pipeline_relay.c. */
#include "pipeline_harness.h"

/* ---- pkt.c ---- */

static void test_drop_names(void **state)
{
	(void)state;
	static const char *const expect[DP_DROP__MAX] = {
	    "none",	    "garbage",	     "short",		"unknown_spi",	"replay",
	    "auth",	    "bad_trailer",   "bad_next_header", "src_check",	"no_route",
	    "link_down",    "seq_exhausted", "too_big",		"not_ip",	"no_buffer",
	    "ring_full",    "host_tx",	     "net_tx",		"not_relay",	"channel_len",
	    "bad_vnet_hdr", "hop_limit",     "fwd_src",		"fwd_no_route", "fwd_disabled",
	    "flood_hdr",    "stage_full",    "stage_timeout",	"fwd_loop",
	};
	for (int i = 0; i < DP_DROP__MAX; i++) {
		assert_non_null(dp_drop_names[i]);
		assert_string_equal(dp_drop_names[i], expect[i]);
	}
	assert_string_equal(dp_drop_names[DP_DROP_REPLAY], "replay");
	assert_string_equal(dp_drop_names[DP_DROP_NET_TX], "net_tx");
}

static void test_pool_and_compact(void **state)
{
	(void)state;
	struct dp_pool pool;
	struct dp_counters c;
	struct dp_pkt *v[8];

	memset(&c, 0, sizeof(c));
	assert_int_equal(dp_pool_init(&pool, 0), -ENOMEM);
	assert_int_equal(dp_pool_init(&pool, 8), 0);
	assert_int_equal(pool.avail, 8);
	for (int i = 0; i < 8; i++)
		v[i] = dp_pool_get(&pool);
	for (int i = 0; i < 8; i++) {
		assert_non_null(v[i]);
		assert_int_equal(v[i]->buf_size, DP_BUF_SIZE);
		assert_int_equal((uintptr_t)v[i]->buf % 64, 0);
		assert_ptr_equal(v[i]->data, v[i]->buf + DP_HEADROOM);
		assert_int_equal(v[i]->link, DP_LINK_NONE);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(v[i], v[j]);
	}
	assert_null(dp_pool_get(&pool));

	struct dp_pkt *keep[4] = {v[0], v[3], v[5], v[7]};
	v[1]->drop = DP_DROP_AUTH;
	v[2]->drop = DP_DROP_AUTH;
	v[4]->drop = DP_DROP_REPLAY;
	v[6]->drop = DP_DROP_GARBAGE;
	unsigned n = dp_burst_compact(v, 8, &pool, &c);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(v[i], keep[i]); /* order kept */
	assert_int_equal(c.drops[DP_DROP_AUTH], 2);
	assert_int_equal(c.drops[DP_DROP_REPLAY], 1);
	assert_int_equal(c.drops[DP_DROP_GARBAGE], 1);
	assert_int_equal(pool.avail, 4);
	assert_int_equal(dp_burst_compact(v, 0, &pool, &c), 0);
	dp_pool_put_bulk(&pool, v, n);
	assert_int_equal(pool.avail, 8);
	dp_pool_fini(&pool);

	/* A large pool takes the huge-page-aligned path. */
	assert_int_equal(dp_pool_init(&pool, 4096), 0);
	assert_int_equal((uintptr_t)pool.bufs % (2u << 20), 0);
	dp_pool_fini(&pool);
}

static void test_counters_add(void **state)
{
	(void)state;
	struct dp_counters a, b, sum;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&sum, 0, sizeof(sum));
	DP_COUNT(&a, host_rx_packets, 3);
	DP_COUNT(&a, idle_sleeps, 5);
	DP_COUNT_DROP(&a, DP_DROP_NET_TX);
	DP_COUNT(&b, host_rx_packets, 4);
	DP_COUNT(&b, tables, 1);
	DP_COUNT_DROP(&b, DP_DROP_NET_TX);
	DP_COUNT_DROP(&b, DP_DROP_GARBAGE);
	dp_counters_add_into(&sum, &a);
	dp_counters_add_into(&sum, &b);
	assert_int_equal(sum.host_rx_packets, 7);
	assert_int_equal(sum.idle_sleeps, 5);
	assert_int_equal(sum.tables, 1);
	assert_int_equal(sum.drops[DP_DROP_NET_TX], 2);
	assert_int_equal(sum.drops[DP_DROP_GARBAGE], 1);
	assert_int_equal(sum.net_tx_bytes, 0);
}

/* ---- L3 ---- */

static void test_l3_round_trip(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 1, 256);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 256);
	site_connect(a, 0, b, 0, false);
	dp_table_seal(a->t);
	dp_table_seal(b->t);

	enum { N = DP_BURST_MAX };
	static uint8_t frames[N][1500];
	size_t lens[N];
	struct dp_pkt *in[N], *rx[DP_OUT_MAX];
	for (unsigned i = 0; i < N; i++) {
		/* Sizes from empty payloads to the MTU. */
		size_t payload = (i * 97) % (1400 - 40 + 1);
		lens[i] = host_frame(a, 2, i % 3 == 0, payload, i, frames[i]);
		in[i] = pkt_new(a, frames[i], lens[i]);
	}
	dp_pipeline_from_host(&a->ctx, in, N, &a->out);
	assert_int_equal(a->out.n_net, N);
	assert_int_equal(total_drops(&a->c), 0);
	uint64_t esp_bytes = 0;
	for (unsigned i = 0; i < N; i++) {
		struct dp_pkt *p = a->out.net[i];
		assert_int_equal(p->link, 0);
		assert_int_equal(dp_esp_spi(p->data), a->sa_out[0]->spi);
		assert_int_equal(dp_esp_seq(p->data), i + 1); /* one SA: order kept */
		/* The inner packet is not visible on the wire. */
		assert_true(memmem(p->data, p->len, frames[i] + 14 + 20, 16) == NULL ||
			    lens[i] < 14 + 20 + 16);
		esp_bytes += p->len;
	}
	assert_int_equal(a->links[0].stats.tx_packets, N);
	assert_int_equal(a->links[0].stats.tx_bytes, esp_bytes);

	unsigned n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(total_drops(&b->c), 0);
	assert_int_equal(b->out.n_host, N);
	for (unsigned i = 0; i < N; i++) {
		struct dp_pkt *p = b->out.host[i];
		assert_int_equal(p->len, lens[i]);
		assert_memory_equal(p->data, b->t->p.host_mac, 6);
		assert_memory_equal(p->data + 6, b->t->p.router_mac, 6);
		assert_memory_equal(p->data + 12, frames[i] + 12, lens[i] - 12);
	}
	assert_int_equal(b->links[0].stats.rx_packets, N);
	assert_int_equal(b->links[0].stats.rx_bytes, esp_bytes);
	site_out_free(b);

	/* And back from B to A over the mirrored SA. */
	size_t len = host_frame(b, 1, true, 100, 9, frames[0]);
	in[0] = pkt_new(b, frames[0], len);
	dp_pipeline_from_host(&b->ctx, in, 1, &b->out);
	n = wire(b, a, DP_LINK_NONE, rx);
	assert_int_equal(n, 1);
	dp_pipeline_from_net(&a->ctx, rx, n, &a->out);
	assert_int_equal(a->out.n_host, 1);
	assert_memory_equal(a->out.host[0]->data + 12, frames[0] + 12, len - 12);
	site_out_free(a);
	site_free(a);
	site_free(b);
}

static void test_l3_wrong_key_replay_garbage(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 1, 64);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 64);
	struct dp_pkt *in[8], *rx[8];
	uint8_t f[256];
	site_connect(a, 0, b, 0, true);
	dp_table_seal(a->t);
	dp_table_seal(b->t);

	for (int i = 0; i < 5; i++)
		in[i] = pkt_new(a, f, host_frame(a, 2, false, 50, (unsigned)i, f));
	dp_pipeline_from_host(&a->ctx, in, 5, &a->out);
	unsigned n = wire(a, b, DP_LINK_NONE, rx);
	assert_int_equal(n, 5);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 0);
	assert_int_equal(b->c.drops[DP_DROP_AUTH], 5);
	assert_int_equal(b->links[0].stats.auth_fail, 5);
	assert_int_equal(b->links[0].stats.rx_packets, 0);
	assert_int_equal(b->sa_in[0]->auth_fail, 5);

	/* Right key (the other direction) but the same bytes twice: replay. */
	in[0] = pkt_new(b, f, host_frame(b, 1, false, 50, 1, f));
	dp_pipeline_from_host(&b->ctx, in, 1, &b->out);
	assert_int_equal(b->out.n_net, 1);
	struct dp_pkt *esp = b->out.net[0];
	rx[0] = pkt_new(a, esp->data, esp->len);
	rx[1] = pkt_new(a, esp->data, esp->len);
	rx[2] = pkt_new(a, esp->data, esp->len);
	site_out_free(b);
	dp_pipeline_from_net(&a->ctx, rx, 2, &a->out); /* duplicate inside one burst */
	assert_int_equal(a->out.n_host, 1);
	assert_int_equal(a->c.drops[DP_DROP_REPLAY], 1);
	site_out_free(a);
	dp_pipeline_from_net(&a->ctx, rx + 2, 1, &a->out); /* and in a later burst */
	assert_int_equal(a->out.n_host, 0);
	assert_int_equal(a->c.drops[DP_DROP_REPLAY], 2);
	assert_int_equal(a->links[0].stats.replay, 2);

	/* Garbage, unknown SPI, truncated ESP, STUN and control punts. */
	const uint8_t junk[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
	const uint8_t unknown[32] = {0x80, 0x00, 0xde, 0xad, 0, 0, 0, 1};
	uint8_t trunc[12] = {0};
	uint32_t spi = htonl(a->sa_in[0]->spi);
	memcpy(trunc, &spi, 4);
	trunc[7] = 9;
	const uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3};
	const uint8_t ctl[8] = {0, 0, 0, 0, 1, 2, 3, 4};
	rx[0] = pkt_new(a, junk, sizeof(junk));
	rx[1] = pkt_new(a, unknown, sizeof(unknown));
	rx[2] = pkt_new(a, trunc, sizeof(trunc));
	rx[3] = pkt_new(a, stun, sizeof(stun));
	rx[4] = pkt_new(a, ctl, sizeof(ctl));
	rx[5] = pkt_new(a, junk, 0);
	dp_pipeline_from_net(&a->ctx, rx, 6, &a->out);
	assert_int_equal(a->c.drops[DP_DROP_GARBAGE], 2);
	assert_int_equal(a->c.drops[DP_DROP_UNKNOWN_SPI], 1);
	assert_int_equal(a->c.drops[DP_DROP_SHORT], 1);
	assert_int_equal(a->out.n_punt, 2);
	assert_int_equal(a->c.punted, 2);
	assert_memory_equal(a->out.punt[0]->data, stun, sizeof(stun));
	assert_memory_equal(a->out.punt[1]->data, ctl, sizeof(ctl));
	site_out_free(a);
	site_free(a);
	site_free(b);
}

static void test_l3_host_side_drops(void **state)
{
	(void)state;
	/* Link 0 to B is up; link 1 exists with a route but no outbound SA. */
	struct site *a = site_new(DP_MODE_L3, 1, 2, 64);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 64);
	struct dp_pkt *in[8];
	uint8_t f[1600];
	site_connect(a, 0, b, 0, false);
	route_to(a, 3, 1);
	dp_table_seal(a->t);

	in[0] = pkt_new(a, f, host_frame(a, 3, false, 10, 0, f));   /* link down */
	in[1] = pkt_new(a, f, host_frame(a, 2, false, 1381, 0, f)); /* 1401 > MTU */
	in[2] = pkt_new(a, f, host_frame(a, 2, true, 1360, 0, f));  /* exactly the MTU */
	in[3] = pkt_new(a, f, host_frame(a, 7, false, 10, 0, f));   /* no route */
	f[12] = 0x88, f[13] = 0x8e;				    /* EAPOL */
	in[4] = pkt_new(a, f, 60);
	in[5] = pkt_new(a, f, 9);
	dp_pipeline_from_host(&a->ctx, in, 6, &a->out);
	assert_int_equal(a->c.drops[DP_DROP_LINK_DOWN], 1);
	assert_int_equal(a->c.drops[DP_DROP_TOO_BIG], 1);
	assert_int_equal(a->c.drops[DP_DROP_NO_ROUTE], 1);
	assert_int_equal(a->c.drops[DP_DROP_NOT_IP], 1);
	assert_int_equal(a->c.drops[DP_DROP_SHORT], 1);
	assert_int_equal(a->out.n_net, 1);
	assert_int_equal(a->links[1].stats.tx_packets, 0);
	site_out_free(a);

	/* ARP and NS from the host are answered on the host side. */
	const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 1,
				 1,    0x08, 0x06, 0,	 1,    0x08, 0,	   6, 4, 0, 1,
				 0x02, 0,    0,	   0,	 1,    1,    10,   9, 0, 1, 0,
				 0,    0,    0,	   0,	 0,    10,   9,	   0, 2};
	in[0] = pkt_new(a, arp, sizeof(arp));
	in[1] = pkt_new(a, f, host_frame(a, 2, false, 10, 0, f));
	dp_pipeline_from_host(&a->ctx, in, 2, &a->out);
	assert_int_equal(a->c.arp_replies, 1);
	assert_int_equal(a->out.n_host, 1);
	assert_int_equal(a->out.n_net, 1);
	assert_int_equal(a->out.host[0]->data[21], 2);
	site_out_free(a);

	site_free(a);
	site_free(b);
}

/* Inner source check: B must not accept from A a packet claiming C's address. */
static void test_l3_source_check(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 2, 64);
	struct site *b = site_new(DP_MODE_L3, 2, 2, 64);
	struct site *c = site_new(DP_MODE_L3, 3, 1, 64);
	struct dp_pkt *in[2], *rx[2];
	uint8_t f[256];
	site_connect(a, 0, b, 0, false);
	site_connect(c, 0, b, 1, false);
	route_to(a, 3, 0); /* A sends traffic for C's address through B */
	dp_table_seal(a->t);
	dp_table_seal(b->t);

	/* A spoofs C's source address towards B. */
	size_t len = host_frame(a, 2, false, 20, 0, f);
	f[14 + 15] = 3;
	in[0] = pkt_new(a, f, len);
	dp_pipeline_from_host(&a->ctx, in, 1, &a->out);
	unsigned n = wire(a, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 0);
	assert_int_equal(b->c.drops[DP_DROP_SRC_CHECK], 1);
	assert_int_equal(b->links[0].stats.src_check, 1);
	/* The same from C itself is fine. */
	len = host_frame(c, 2, false, 20, 0, f);
	in[0] = pkt_new(c, f, len);
	dp_pipeline_from_host(&c->ctx, in, 1, &c->out);
	n = wire(c, b, DP_LINK_NONE, rx);
	dp_pipeline_from_net(&b->ctx, rx, n, &b->out);
	assert_int_equal(b->out.n_host, 1);
	site_out_free(b);
	site_free(a);
	site_free(b);
	site_free(c);
}

/* Packets to two links interleaved: grouped per SA, order inside each kept. */
static void test_group_by_sa(void **state)
{
	(void)state;
	struct site *a = site_new(DP_MODE_L3, 1, 2, 128);
	struct site *b = site_new(DP_MODE_L3, 2, 1, 128);
	struct site *c = site_new(DP_MODE_L3, 3, 1, 128);
	struct dp_pkt *in[40], *rx[40];
	uint8_t f[256];
	site_connect(a, 0, b, 0, false);
	site_connect(a, 1, c, 0, false);
	dp_table_seal(a->t);

	for (unsigned i = 0; i < 40; i++) {
		unsigned peer = (i * 7) % 5 < 2 ? 2 : 3;
		in[i] = pkt_new(a, f, host_frame(a, (uint8_t)peer, false, 8, i, f));
	}
	dp_pipeline_from_host(&a->ctx, in, 40, &a->out);
	assert_int_equal(a->out.n_net, 40);
	unsigned runs = 1;
	for (unsigned i = 1; i < 40; i++)
		runs += a->out.net[i]->sa != a->out.net[i - 1]->sa;
	assert_int_equal(runs, 2);
	uint32_t last[2] = {0, 0};
	for (unsigned i = 0; i < 40; i++) {
		struct dp_pkt *p = a->out.net[i];
		uint32_t seq = dp_esp_seq(p->data);
		assert_int_equal(seq, last[p->link] + 1);
		last[p->link] = seq;
	}
	unsigned nb = wire(a, b, 0, rx);
	unsigned nc = wire(a, c, 1, rx + nb);
	assert_int_equal(nb + nc, 40);
	dp_pipeline_from_net(&b->ctx, rx, nb, &b->out);
	dp_pipeline_from_net(&c->ctx, rx + nb, nc, &c->out);
	assert_int_equal(b->out.n_host, nb);
	assert_int_equal(c->out.n_host, nc);
	/* Payload seeds (first payload byte = seed * 31, invertible mod 256)
	 * arrive at each peer in increasing order, and only that peer's. */
	for (int side = 0; side < 2; side++) {
		struct site *s = side ? c : b;
		int prev = -1;
		for (unsigned i = 0; i < s->out.n_host; i++) {
			int seed = -1;
			for (int k = 0; k < 40; k++)
				if ((uint8_t)(k * 31) == s->out.host[i]->data[14 + 20])
					seed = k;
			assert_true(seed > prev);
			assert_int_equal((seed * 7) % 5 < 2 ? 2 : 3, s->id);
			prev = seed;
		}
	}
	site_out_free(b);
	site_out_free(c);
	site_free(a);
	site_free(b);
	site_free(c);
}

/* Keepalives: an ESP dummy packet (next header 59, empty payload), as the
 * control core builds them, counts as traffic received on its link and is
 * discarded — in both modes, mixed into a burst of real packets — while a
 * forged or replayed one is dropped like any other ESP. */
static void test_keepalive(void **state)
{
	(void)state;
	for (int mode = DP_MODE_L3; mode <= DP_MODE_SWITCH; mode++) {
		struct site *a = site_new((enum dp_mode)mode, 1, 1, 64);
		struct site *b = site_new((enum dp_mode)mode, 2, 1, 64);
		site_connect(a, 0, b, 0, false);
		dp_table_seal(a->t);
		dp_table_seal(b->t);

		/* keepalive, data, keepalive */
		struct dp_pkt *ka[3];
		uint8_t frame[1500];
		size_t len = host_frame(a, 2, false, 64, 1, frame);
		for (unsigned i = 0; i < 3; i++) {
			ka[i] = dp_pool_get(&a->pool);
			assert_non_null(ka[i]);
			ka[i]->sa = a->sa_out[0];
			ka[i]->next_hdr = 59;
			if (i == 1) {
				memcpy(ka[i]->data, mode == DP_MODE_SWITCH ? frame : frame + 14,
				       mode == DP_MODE_SWITCH ? len : len - 14);
				ka[i]->len = (uint16_t)(mode == DP_MODE_SWITCH ? len : len - 14);
				ka[i]->next_hdr =
				    mode == DP_MODE_SWITCH ? DP_ESP_NH_ETHERNET : DP_ESP_NH_IPV4;
			}
		}
		dp_esp_encrypt_burst(mgr, ka, 3);
		assert_int_equal(ka[0]->len, 8 + 8 + 4 + 16); /* header, IV, 2 pad + trailer, ICV */
		struct dp_pkt *rx[4];
		for (unsigned i = 0; i < 3; i++) {
			rx[i] = pkt_new(b, ka[i]->data, ka[i]->len);
			ep_of(a->id, &rx[i]->peer);
		}
		rx[3] = pkt_new(b, ka[0]->data, ka[0]->len); /* replayed keepalive */
		ep_of(a->id, &rx[3]->peer);
		dp_pool_put_bulk(&a->pool, ka, 3);

		dp_pipeline_from_net(&b->ctx, rx, 4, &b->out);
		assert_int_equal(b->c.keepalives, 2);
		assert_int_equal(b->out.n_host, 1); /* only the data packet */
		assert_int_equal(b->c.drops[DP_DROP_REPLAY], 1);
		assert_int_equal(b->c.drops[DP_DROP_BAD_NEXT_HEADER], 0);
		assert_int_equal(b->links[0].stats.rx_packets, 3);
		assert_int_equal(b->links[0].stats.replay, 1);
		site_out_free(b);
		site_free(a);
		site_free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drop_names),
	    cmocka_unit_test(test_pool_and_compact),
	    cmocka_unit_test(test_counters_add),
	    cmocka_unit_test(test_l3_round_trip),
	    cmocka_unit_test(test_l3_wrong_key_replay_garbage),
	    cmocka_unit_test(test_l3_host_side_drops),
	    cmocka_unit_test(test_l3_source_check),
	    cmocka_unit_test(test_group_by_sa),
	    cmocka_unit_test(test_keepalive),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
