/* Fixtures for the packet pipeline tests with no device: two (or three)
 * sites with mirrored SAs, frames from one site's host carried as ESP to
 * another site's host. */
#pragma once
/* Shared by test_pipeline.c, test_pipeline_switch.c and
 * test_pipeline_relay.c (each uses a part of it). */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

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

#ifndef MAXL
#define MAXL 16
#endif

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

/* Host frames of `from` through the pipeline, carried to `to`'s pipeline. */
static unsigned hop(struct site *from, struct site *to, uint16_t link)
{
	struct dp_pkt *rx[DP_OUT_MAX];
	unsigned n = wire(from, to, link, rx);
	if (n)
		dp_pipeline_from_net(&to->ctx, rx, n, &to->out);
	return n;
}

/* One host frame into `s`'s pipeline. */
static void send_host(struct site *s, const uint8_t *f, size_t len)
{
	struct dp_pkt *p = pkt_new(s, f, len);
	dp_pipeline_from_host(&s->ctx, &p, 1, &s->out);
}

/* An IPv4 Ethernet frame dst <- src with `payload` bytes of a pattern. */
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
