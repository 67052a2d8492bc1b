/* The packet pipeline end to end, with no device: two (or three) sites with
 * mirrored SAs, frames from one site's host carried as ESP to another site's
 * host, in L3 and switch mode, plus every drop path the pipeline owns and the
 * small pieces of pkt.c it relies on. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_ring.h>

#include "dataplane/esp.h"
#include "dataplane/l2.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"

#define MAXL 16

static IMB_MGR *mgr;

struct site {
	struct dp_counters c;
	uint8_t id;
	struct dp_table *t;
	struct dp_pool pool;
	struct dp_ctx ctx;
	struct dp_link links[MAXL];
	struct dp_sa *sa_out[MAXL], *sa_in[MAXL];
	struct rte_ring *ring;
	struct dp_burst out;
};

static void mac_of(uint8_t id, uint8_t last, uint8_t mac[6])
{
	const uint8_t m[6] = {0x02, 0, 0, 0, id, last};
	memcpy(mac, m, 6);
}

static struct site *site_new(enum dp_mode mode, uint8_t id, uint16_t nlinks, uint32_t pool_n)
{
	struct site *s = aligned_alloc(64, sizeof(*s));
	struct dp_table_params p = {.mode = mode, .mtu = 1400};

	assert_non_null(s);
	memset(s, 0, sizeof(*s));
	s->id = id;
	mac_of(id, 0x01, p.host_mac);
	mac_of(id, 0xfe, p.router_mac);
	p.vip4 = htonl(0x0a090000u | id);
	p.vip6[0] = 0xfd, p.vip6[1] = 0x50, p.vip6[15] = id;
	s->t = dp_table_create(&p, nlinks, nlinks, 64, 64);
	assert_non_null(s->t);
	for (uint16_t l = 0; l < nlinks; l++) {
		s->links[l].id = id * 100u + l;
		snprintf(s->links[l].name, sizeof(s->links[l].name), "s%u-l%u", id, l);
		dp_table_set_link(s->t, l, &s->links[l], NULL, NULL);
	}
	assert_int_equal(dp_pool_init(&s->pool, pool_n), 0);
	s->ctx = (struct dp_ctx){.table = s->t, .mgr = mgr, .pool = &s->pool, .counters = &s->c};
	dp_burst_clear(&s->out);
	return s;
}

static void ep_of(uint8_t id, struct net_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr[10] = ep->addr[11] = 0xff;
	ep->addr[12] = 198, ep->addr[13] = 18, ep->addr[15] = id;
	ep->port = 5800;
	ep->family = AF_INET;
}

static void route_to(struct site *s, uint8_t peer, uint16_t link)
{
	struct net_prefix p = {.len = 32, .family = AF_INET};
	p.addr[10] = p.addr[11] = 0xff;
	p.addr[12] = 10, p.addr[13] = 9, p.addr[15] = peer;
	assert_int_equal(dp_table_add_route(s->t, &p, link), 0);
	struct net_prefix q = {.len = 128, .family = AF_INET6};
	q.addr[0] = 0xfd, q.addr[1] = 0x50, q.addr[15] = peer;
	assert_int_equal(dp_table_add_route(s->t, &q, link), 0);
}

/* Links a's link la with b's link lb: a's outbound SA and b's inbound SA share
 * a key (and the SPI b chose), and the other way round. bad_key gives b a
 * different key for what a sends. */
static void site_connect(struct site *a, uint16_t la, struct site *b, uint16_t lb, bool bad_key)
{
	uint8_t k1[DP_SA_KEYMAT_LEN], k2[DP_SA_KEYMAT_LEN];
	uint32_t spi_ab = 0x80000000u | (uint32_t)b->id << 16 | (uint32_t)a->id << 8 | lb;
	uint32_t spi_ba = 0x80000000u | (uint32_t)a->id << 16 | (uint32_t)b->id << 8 | la;
	struct net_endpoint ep;

	for (unsigned i = 0; i < sizeof(k1); i++) {
		k1[i] = (uint8_t)(spi_ab * 7 + i * 13);
		k2[i] = (uint8_t)(spi_ba * 11 + i * 5);
	}
	a->sa_out[la] = dp_sa_create(mgr, spi_ab, k1, a->links[la].id);
	if (bad_key)
		k1[3] ^= 0x10;
	b->sa_in[lb] = dp_sa_create(mgr, spi_ab, k1, b->links[lb].id);
	b->sa_out[lb] = dp_sa_create(mgr, spi_ba, k2, b->links[lb].id);
	a->sa_in[la] = dp_sa_create(mgr, spi_ba, k2, a->links[la].id);
	assert_non_null(a->sa_out[la]);
	assert_non_null(b->sa_in[lb]);
	assert_non_null(b->sa_out[lb]);
	assert_non_null(a->sa_in[la]);
	assert_int_equal(dp_table_add_spi(b->t, b->sa_in[lb], lb), 0);
	assert_int_equal(dp_table_add_spi(a->t, a->sa_in[la], la), 0);
	ep_of(b->id, &ep);
	dp_table_set_link(a->t, la, &a->links[la], a->sa_out[la], &ep);
	ep_of(a->id, &ep);
	dp_table_set_link(b->t, lb, &b->links[lb], b->sa_out[lb], &ep);
	if (a->t->p.mode == DP_MODE_L3)
		route_to(a, b->id, la);
	if (b->t->p.mode == DP_MODE_L3)
		route_to(b, a->id, lb);
}

static void site_free(struct site *s)
{
	/* Every buffer handed out must have come back. */
	assert_int_equal(s->out.n_net + s->out.n_host + s->out.n_punt, 0);
	assert_int_equal(s->pool.avail, s->pool.size);
	for (unsigned l = 0; l < MAXL; l++) {
		dp_sa_destroy(s->sa_out[l]);
		dp_sa_destroy(s->sa_in[l]);
	}
	free(s->ring);
	dp_pool_fini(&s->pool);
	dp_table_free(s->t);
	free(s);
}

static void site_learn_ring(struct site *s, unsigned count)
{
	ssize_t sz = rte_ring_get_memsize_elem(sizeof(struct dp_learn_event), count);
	assert_true(sz > 0);
	s->ring = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
	assert_non_null(s->ring);
	assert_int_equal(rte_ring_init(s->ring, "learn", count, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	s->ctx.learn_ring = s->ring;
}

static void put_all(struct dp_pool *pool, struct dp_pkt **v, unsigned *n)
{
	dp_pool_put_bulk(pool, v, *n);
	*n = 0;
}

static void site_out_free(struct site *s)
{
	put_all(&s->pool, s->out.net, &s->out.n_net);
	put_all(&s->pool, s->out.host, &s->out.n_host);
	put_all(&s->pool, s->out.punt, &s->out.n_punt);
}

static uint64_t total_drops(const struct dp_counters *c)
{
	uint64_t n = 0;
	for (int i = 0; i < DP_DROP__MAX; i++)
		n += c->drops[i];
	return n;
}

static struct dp_pkt *pkt_new(struct site *s, const uint8_t *bytes, size_t len)
{
	struct dp_pkt *p = dp_pool_get(&s->pool);
	assert_non_null(p);
	memcpy(p->data, bytes, len);
	p->len = (uint16_t)len;
	return p;
}

/* An Ethernet frame from s's host: IPv4 or IPv6 to peer's virtual address,
 * with a payload derived from seed. Returns the length. */
static size_t host_frame(const struct site *s, uint8_t peer, bool v6, size_t payload, unsigned seed,
			 uint8_t *b)
{
	memcpy(b, s->t->p.router_mac, 6);
	memcpy(b + 6, s->t->p.host_mac, 6);
	uint8_t *ip = b + 14;
	size_t iplen;
	if (!v6) {
		b[12] = 0x08, b[13] = 0x00;
		iplen = 20 + payload;
		memset(ip, 0, 20);
		ip[0] = 0x45, ip[2] = (uint8_t)(iplen >> 8), ip[3] = (uint8_t)iplen;
		ip[8] = 64, ip[9] = 17;
		memcpy(ip + 12, &s->t->p.vip4, 4);
		ip[16] = 10, ip[17] = 9, ip[18] = 0, ip[19] = peer;
		ip += 20;
	} else {
		b[12] = 0x86, b[13] = 0xdd;
		iplen = 40 + payload;
		memset(ip, 0, 40);
		ip[0] = 0x60, ip[4] = (uint8_t)(payload >> 8), ip[5] = (uint8_t)payload;
		ip[6] = 17, ip[7] = 64;
		memcpy(ip + 8, s->t->p.vip6, 16);
		ip[24] = 0xfd, ip[25] = 0x50, ip[39] = peer;
		ip += 40;
	}
	for (size_t i = 0; i < payload; i++)
		ip[i] = (uint8_t)(seed * 31 + i * 7);
	return 14 + iplen;
}

/* Carries everything `from` sent into fresh buffers of `to` (the wire), as if
 * received from `from`'s underlay address. Returns how many. */
static unsigned wire(struct site *from, struct site *to, uint16_t only_link, struct dp_pkt **rx)
{
	unsigned n = 0, keep = 0;
	struct net_endpoint ep;
	ep_of(to->id, &ep);
	for (unsigned i = 0; i < from->out.n_net; i++) {
		struct dp_pkt *p = from->out.net[i];
		if (only_link != DP_LINK_NONE && p->link != only_link) {
			from->out.net[keep++] = p;
			continue;
		}
		assert_true(net_endpoint_equal(&p->peer, &ep));
		struct dp_pkt *q = pkt_new(to, p->data, p->len);
		ep_of(from->id, &q->peer);
		rx[n++] = q;
		dp_pool_put(&from->pool, p);
	}
	from->out.n_net = keep;
	return n;
}

static int group_setup(void **state)
{
	(void)state;
	mgr = dp_crypto_mgr_create();
	return mgr ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	dp_crypto_mgr_destroy(mgr);
	return 0;
}

/* ---- pkt.c ---- */

static void test_drop_names(void **state)
{
	(void)state;
	static const char *const expect[DP_DROP__MAX] = {
	    "none",	 "garbage",	  "short",	     "unknown_spi", "replay",
	    "auth",	 "bad_trailer",	  "bad_next_header", "src_check",   "no_route",
	    "link_down", "seq_exhausted", "too_big",	     "not_ip",	    "no_buffer",
	    "ring_full", "host_tx",	  "net_tx",	     "not_relay",   "channel_len",
	    "bad_vnet_hdr",
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

/* ---- switch mode ---- */

static size_t eth_frame(const uint8_t dst[6], const uint8_t src[6], size_t payload, unsigned seed,
			uint8_t *b)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x08, b[13] = 0x00;
	for (size_t i = 0; i < payload; i++)
		b[14 + i] = (uint8_t)(seed + i * 3);
	return 14 + payload;
}

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
	    cmocka_unit_test(test_drop_names),
	    cmocka_unit_test(test_pool_and_compact),
	    cmocka_unit_test(test_counters_add),
	    cmocka_unit_test(test_l3_round_trip),
	    cmocka_unit_test(test_l3_wrong_key_replay_garbage),
	    cmocka_unit_test(test_l3_host_side_drops),
	    cmocka_unit_test(test_l3_source_check),
	    cmocka_unit_test(test_group_by_sa),
	    cmocka_unit_test(test_switch_round_trip_and_flood),
	    cmocka_unit_test(test_switch_flood_limits),
	    cmocka_unit_test(test_switch_learning),
	    cmocka_unit_test(test_mode_mismatch),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_relay_channel_data),
	    cmocka_unit_test(test_roam_reports),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
