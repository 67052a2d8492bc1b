/* libFuzzer target for the packet pipeline: whatever arrives on the underlay
 * port or from the host must be dropped and counted or forwarded, never crash,
 * never leak a buffer.
 *
 * Each input is fed, against an L3 table and a switch table, as
 *   1. an underlay datagram (dp_pipeline_from_net),
 *   2. a host frame (dp_pipeline_from_host),
 *   3. the inner packet of a valid ESP packet (input[0] = next header) built
 *      with the peer's key, so the code after authentication (inner header
 *      checks, source check, learning) sees arbitrary bytes too; random bytes
 *      alone would never get past the ICV,
 *   4. a burst of the raw datagram, the ESP packet and the ESP packet again
 *      (a replay inside one burst).
 * Both tables forward (multihop) and carry ring ids; the switch table floods
 * over the ring and stages packets for its down link, so sealed inputs with
 * next header 253 reach the overlay header parser, relays and learning.
 * Link 0 roams and the datagrams come from another address, so every
 * authenticated packet may report a roam; a report for anything but link 0
 * is a bug.
 *
 * The fuzz build (-Dfuzz=true) instruments the libraries too, so the whole
 * pipeline carries coverage and sanitizer checks.
 */
#include "dataplane/classify.h"
#include "dataplane/esp.h"
#include "dataplane/l2.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"
#include "dataplane/table.h"
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define SPI_IN	  0x80000001u /* what the peer sends us */
#define SPI_OUT	  0x80000002u /* what we send the peer */
#define POOL_N	  64
#define RING_N	  16
#define INNER_MAX 1500

struct fuzz_state {
	IMB_MGR *mgr;
	struct dp_table *tables[2]; /* L3, switch */
	struct dp_link links[3];
	struct dp_sa *sa_in, *sa_out, *peer_out;
	struct dp_pool pool;
	struct dp_counters counters;
	struct rte_ring *ring, *roam;
	struct dp_burst out;
	struct dp_overlay ov;
};

static struct fuzz_state *st;

/* Our TURN server: ChannelData from it is parsed, from anyone else dropped. */
static const struct net_endpoint relay = {
    .addr = {[10] = 0xff, 0xff, 198, 18, 0, 251}, .port = 3478, .family = AF_INET};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_net_rx: %s\n", what);
	abort();
}

static struct dp_table *build_table(enum dp_mode mode)
{
	struct dp_table_params p = {.mode = mode, .mtu = 1400};
	const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 1}, router_mac[6] = {2, 0, 0, 0, 0, 0xfe};
	const uint8_t mac_peer[6] = {2, 0, 0, 0, 2, 1}, mac_down[6] = {2, 0, 0, 0, 3, 1};
	struct net_endpoint ep = {
	    .addr = {[10] = 0xff, 0xff, 198, 18, 0, 2}, .port = 5800, .family = AF_INET};
	struct net_prefix r;

	/* Structured overlay: we forward (multihop), switch mode floods over
	 * the ring; ring ids 0x10.., links 0x50.., 0x90.., 0xd0.. */
	p.multihop = true;
	p.ring_flood = mode == DP_MODE_SWITCH;
	p.node_id[0] = 0x10;
	memcpy(p.host_mac, host_mac, 6);
	memcpy(p.router_mac, router_mac, 6);
	p.vip4 = htonl(0x0a090001);
	p.vip6[0] = 0xfd, p.vip6[1] = 0x50, p.vip6[15] = 1;

	struct dp_table *t = dp_table_create(&p, 3, 2, 8, 4);
	if (!t)
		die("table");
	dp_table_set_link(t, 0, &st->links[0], st->sa_out, &ep);
	dp_table_set_link_roam(t, 0, true);
	dp_table_set_link(t, 1, &st->links[1], NULL, NULL); /* down */
	/* Link 2 is reached through the relay: what goes to it is wrapped. */
	struct net_endpoint via = ep;
	via.via = 1;
	dp_table_set_link(t, 2, &st->links[2], st->sa_out, &via);
	dp_table_set_link_relay(t, 2, &relay, 0x4000);
	for (uint16_t l = 0; l < 3; l++) {
		uint8_t id[20] = {(uint8_t)(0x50 + 0x40 * l)};
		dp_table_set_link_node_id(t, l, id);
	}
	/* The down link: over the relayed link (L3), staged (switch). */
	if (mode == DP_MODE_L3)
		dp_table_set_link_via(t, 1, 2);
	else
		dp_table_set_link_stage(t, 1, true);
	if (dp_table_add_relay(t, &relay))
		die("relay");
	if (dp_table_add_spi(t, st->sa_in, 0))
		die("spi");

	memset(&r, 0, sizeof(r));
	r.family = AF_INET, r.addr[10] = r.addr[11] = 0xff, r.addr[12] = 10, r.addr[13] = 9;
	r.addr[15] = 2, r.len = 32;
	dp_table_add_route(t, &r, 0);
	r.addr[14] = 1, r.addr[15] = 0, r.len = 24;
	dp_table_add_route(t, &r, 0);
	r.addr[14] = 2, r.len = 24;
	dp_table_add_route(t, &r, 1);
	memset(&r, 0, sizeof(r));
	r.family = AF_INET6, r.addr[0] = 0xfd, r.addr[1] = 0x50, r.addr[15] = 2, r.len = 128;
	dp_table_add_route(t, &r, 0);
	r.addr[15] = 0, r.addr[3] = 1, r.len = 64;
	dp_table_add_route(t, &r, 2);
	dp_table_add_fdb(t, mac_peer, 0);
	if (mode == DP_MODE_SWITCH) { /* ARP for 10.9.0.2 answered locally */
		uint32_t peer4 = htonl(0x0a090002);
		if (dp_table_reserve_arp(t, 2) || dp_table_add_arp(t, peer4, mac_peer))
			die("arp");
	}
	dp_table_add_fdb(t, mac_down, 1);
	dp_table_seal(t);
	return t;
}

static void init_once(void)
{
	uint8_t k_in[DP_SA_KEYMAT_LEN], k_out[DP_SA_KEYMAT_LEN];

	st = calloc(1, sizeof(*st));
	if (!st)
		die("calloc");
	st->mgr = dp_crypto_mgr_create();
	if (!st->mgr)
		die("ipsec-mb manager");
	for (unsigned i = 0; i < sizeof(k_in); i++) {
		k_in[i] = (uint8_t)(i * 3 + 1);
		k_out[i] = (uint8_t)(i * 5 + 2);
	}
	for (unsigned i = 0; i < 3; i++)
		st->links[i].id = 10 + i;
	st->sa_in = dp_sa_create(st->mgr, SPI_IN, k_in, 10);
	st->peer_out = dp_sa_create(st->mgr, SPI_IN, k_in, 99);
	st->sa_out = dp_sa_create(st->mgr, SPI_OUT, k_out, 10);
	if (!st->sa_in || !st->peer_out || !st->sa_out)
		die("sa");
	st->tables[0] = build_table(DP_MODE_L3);
	st->tables[1] = build_table(DP_MODE_SWITCH);
	if (dp_pool_init(&st->pool, POOL_N))
		die("pool");

	ssize_t sz = rte_ring_get_memsize_elem(sizeof(struct dp_learn_event), RING_N);
	if (sz < 0)
		die("ring size");
	st->ring = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
	if (!st->ring ||
	    rte_ring_init(st->ring, "fuzz_learn", RING_N, RING_F_SP_ENQ | RING_F_SC_DEQ))
		die("ring");
	sz = rte_ring_get_memsize_elem(sizeof(struct dp_roam_event), RING_N);
	st->roam = sz > 0 ? aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63) : NULL;
	if (!st->roam ||
	    rte_ring_init(st->roam, "fuzz_roam", RING_N, RING_F_SP_ENQ | RING_F_SC_DEQ))
		die("roam ring");
}

/* Returns everything the pipeline handed out and checks nothing leaked. */
static void settle(void)
{
	struct dp_learn_event ev[RING_N];

	dp_pool_put_bulk(&st->pool, st->out.net, st->out.n_net);
	dp_pool_put_bulk(&st->pool, st->out.host, st->out.n_host);
	dp_pool_put_bulk(&st->pool, st->out.punt, st->out.n_punt);
	dp_burst_clear(&st->out);
	for (unsigned k = 0; k < DP_STAGE_LINKS; k++)
		dp_stage_drop(&st->ov.stage, k, DP_DROP_LINK_DOWN, &st->pool, &st->counters);
	while (rte_ring_sc_dequeue_burst_elem(st->ring, ev, sizeof(ev[0]), RING_N, NULL) > 0)
		;
	struct dp_roam_event rev;
	while (rte_ring_sc_dequeue_elem(st->roam, &rev, sizeof(rev)) == 0)
		if (rev.link_id != st->links[0].id)
			die("roam report for a link that does not roam");
	atomic_store(&st->links[0].roam_reported, 0); /* the control tick's part */
	if (st->pool.avail != st->pool.size)
		die("buffer leaked");
}

static struct dp_pkt *raw(const uint8_t *data, size_t len)
{
	struct dp_pkt *p = dp_pool_get(&st->pool);
	if (!p)
		die("pool empty");
	if (len > DP_BUF_SIZE - DP_HEADROOM)
		len = DP_BUF_SIZE - DP_HEADROOM;
	memcpy(p->data, data, len);
	p->len = (uint16_t)len;
	memset(&p->peer, 0, sizeof(p->peer)); /* not the relay unless the caller says so */
	return p;
}

/* A valid ESP packet from the peer around data[1..] with next header data[0],
 * or NULL when the input is empty. */
static struct dp_pkt *sealed(const uint8_t *data, size_t size)
{
	if (size == 0)
		return NULL;
	size_t len = size - 1 > INNER_MAX ? INNER_MAX : size - 1;
	struct dp_pkt *p = raw(data + 1, len);
	p->next_hdr = data[0];
	p->sa = st->peer_out;
	dp_esp_encrypt_burst(st->mgr, &p, 1);
	if (p->drop != DP_DROP_NONE)
		die("encrypt");
	p->sa = NULL;
	p->link = DP_LINK_NONE;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt *v[4];

	if (!st)
		init_once();

	for (int mode = 0; mode < 2; mode++) {
		struct dp_ctx ctx = {
		    .table = st->tables[mode],
		    .mgr = st->mgr,
		    .pool = &st->pool,
		    .counters = &st->counters,
		    .learn_ring = size % 2 ? st->ring : NULL,
		    .roam_ring = size % 3 ? st->roam : NULL,
		    .ov = &st->ov,
		};

		v[0] = raw(data, size);
		dp_pipeline_from_net(&ctx, v, 1, &st->out);
		settle();

		/* The same bytes from the relay (ChannelData rules apply). */
		v[0] = raw(data, size);
		v[0]->peer = relay;
		dp_pipeline_from_net(&ctx, v, 1, &st->out);
		settle();

		v[0] = raw(data, size);
		dp_pipeline_from_host(&ctx, v, 1, &st->out);
		dp_pipeline_tick(&ctx, 1 + size, &st->out); /* stage: stamp, nothing due */
		settle();

		/* The sealed packet alone (it authenticates and is delivered or
		 * dropped on its inner contents), then twice more in a burst
		 * behind the raw bytes (replays). */
		static uint8_t esp_copy[DP_BUF_SIZE];
		uint16_t esp_len = 0;
		unsigned n = 0;
		struct dp_pkt *esp = sealed(data, size);
		if (esp) {
			esp_len = esp->len;
			memcpy(esp_copy, esp->data, esp_len);
			dp_pipeline_from_net(&ctx, &esp, 1, &st->out);
			settle();
		}
		v[n++] = raw(data, size);
		if (esp_len) {
			v[n++] = raw(esp_copy, esp_len);
			v[n++] = raw(esp_copy, esp_len);
		}
		dp_pipeline_from_net(&ctx, v, n, &st->out);
		settle();

		/* The sealed packet as ChannelData from the relay, padded as
		 * the input's first byte says (replayed by now: the decrypt
		 * path up to the replay check). */
		if (esp_len) {
			static uint8_t cd[DP_BUF_SIZE];
			size_t pad = data[0] & 3, cdlen = 4 + (size_t)esp_len + pad;
			if (cdlen <= DP_BUF_SIZE - DP_HEADROOM) {
				cd[0] = 0x40, cd[1] = 0x00;
				cd[2] = (uint8_t)(esp_len >> 8), cd[3] = (uint8_t)esp_len;
				memcpy(cd + 4, esp_copy, esp_len);
				memset(cd + 4 + esp_len, 0, pad);
				v[0] = raw(cd, cdlen);
				v[0]->peer = relay;
				dp_pipeline_from_net(&ctx, v, 1, &st->out);
				settle();
			}
		}
	}
	return 0;
}
