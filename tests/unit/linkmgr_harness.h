/* The link manager end to end in memory: two (or three) nodes, each with its
 * own config, peer set, link manager and publisher (no workers), wired
 * together by a datagram queue instead of sockets. Control datagrams go to
 * the receiver's ctl_linkmgr_input; ESP datagrams (keepalives) go through the
 * real pipeline against the receiver's published table, so a responder sees
 * the initiator's first packet on the new inbound SA exactly as the daemon
 * does. Time is simulated. */
#pragma once
/* Shared by test_linkmgr.c, test_lm_handshake.c and test_lm_timers.c (each
 * uses a part of it). */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_ring.h>

#include "control/nat/candidates.h"
#include "control/link/linkmgr.h"
#include "control/link/noise.h"
#include "control/core/peers.h"
#include "control/table/publish.h"
#include "dataplane/classify.h"
#include "dataplane/esp.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"

#define MAXN 3

static IMB_MGR *mgr;
static uint64_t now = 1000000;

struct node {
	struct dp_counters counters; /* first: 64-byte aligned */
	char name[8];
	struct ipop_config cfg;
	struct ipop_peer_conf pc[MAXN];
	struct ipop_identity id;
	struct net_endpoint ep;
	struct ctl_peers peers;
	struct ctl_linkmgr lm;
	struct ctl_publisher pub;
	struct dp_table_params params;
	struct dp_pool pool;
	uint32_t next_link_id;
	bool fail_publish;
	unsigned publishes;
	struct rte_ring *roam;	     /* the worker's roam reports (pipeline.h) */
	struct net_endpoint relayed; /* the relayed address of its TURN allocation */
	unsigned host_rx;	     /* inner packets its pipeline delivered to the host */
};

struct dgram {
	struct net_endpoint from, to;
	size_t len;
	uint8_t data[256];
};

#define QMAX 256
static struct dgram queue[QMAX];
static unsigned qlen;
static struct node *nodes[MAXN];
static unsigned nnodes;
/* Something on the path: datagrams it returns true for are lost. */
static bool (*path_drops)(const struct dgram *d);

static void ep_of(uint8_t id, struct net_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr[10] = ep->addr[11] = 0xff;
	ep->addr[12] = 198, ep->addr[13] = 18, ep->addr[15] = id;
	ep->port = 5800;
	ep->family = AF_INET;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int cb_publish(void *ctx)
{
	struct node *n = ctx;
	if (n->fail_publish)
		return -ENOBUFS;
	struct dp_table *t = ctl_peers_build_table(&n->peers, &n->params, NULL);
	assert_non_null(t);
	assert_int_equal(ctl_publish_table(&n->pub, t), 0);
	ctl_linkmgr_published(&n->lm, &n->pub);
	ctl_publish_reclaim(&n->pub);
	n->publishes++;
	return 0;
}

static int cb_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len)
{
	struct node *n = ctx;
	const uint8_t *b = buf;
	assert_true(len <= sizeof(queue[0].data));
	assert_true(qlen < QMAX);
	/* The rule that makes a handshake hitless: a responder's inbound SA is in
	 * its published table before the response leaves. */
	if (len == HS_RESP_LEN && b[4] == HS_RESPONSE) {
		assert_non_null(n->pub.current);
		assert_non_null(dp_table_spi_lookup(n->pub.current, be32(b + 12)));
	}
	struct dgram *d = &queue[qlen++];
	d->from = n->ep;
	d->to = *to;
	d->len = len;
	memcpy(d->data, buf, len);
	return 0;
}

static struct node *node_new(uint8_t id, const char *name)
{
	struct node *n = aligned_alloc(64, sizeof(*n));
	assert_non_null(n);
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	assert_int_equal(noise_keypair_generate(n->id.priv, n->id.pub), 0);
	ep_of(id, &n->ep);
	ep_of(250, &n->relayed);
	n->relayed.port = (uint16_t)(50000 + id);
	n->cfg.mode = IPOP_MODE_L3;
	n->cfg.rekey_interval_ms = 2000;
	n->cfg.rekey_packets = 1ull << 31;
	n->cfg.keepalive_ms = 10000;
	n->cfg.link_timeout_ms = 30000;
	n->cfg.peers = n->pc;
	n->cfg.ip4 = htonl(0x0afe0000u | id);
	n->params.mode = DP_MODE_L3;
	n->params.mtu = 1400;
	n->params.vip4 = n->cfg.ip4;
	n->next_link_id = 1;
	assert_int_equal(ctl_publish_init(&n->pub, 0), 0);
	ctl_publish_attach(&n->pub, NULL, 0);
	assert_int_equal(dp_pool_init(&n->pool, 64), 0);
	ssize_t sz = rte_ring_get_memsize_elem(sizeof(struct dp_roam_event), 16);
	n->roam = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
	assert_non_null(n->roam);
	assert_int_equal(rte_ring_init(n->roam, "roam", 16, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	assert_int_equal(ctl_linkmgr_init(&n->lm, &n->cfg, &n->id, now), 0);
	ctl_linkmgr_set_io(&n->lm, cb_send, cb_publish, n);
	assert_true(nnodes < MAXN);
	nodes[nnodes++] = n;
	return n;
}

/* Configures b as a keyed peer of a (call before node_start). */
static void node_peer(struct node *a, const struct node *b, uint8_t b_id)
{
	struct ipop_peer_conf *pc = &a->pc[a->cfg.npeers++];
	memset(pc, 0, sizeof(*pc));
	snprintf(pc->name, sizeof(pc->name), "%s", b->name);
	pc->keyed = true;
	memcpy(pc->public_key, b->id.pub, 32);
	pc->endpoint = b->ep;
	pc->ip4 = htonl(0x0afe0000u | b_id);
}

static void node_start(struct node *n)
{
	assert_int_equal(ctl_peers_diff(NULL, &n->cfg, mgr, &n->next_link_id, &n->peers), 0);
	assert_int_equal(ctl_linkmgr_attach(&n->lm, &n->peers, now), 0);
	ctl_linkmgr_use(&n->lm, &n->peers);
	assert_int_equal(cb_publish(n), 0);
}

static void node_stop(struct node *n)
{
	ctl_peers_free(&n->peers);
	ctl_publish_fini(&n->pub);
	ctl_linkmgr_fini(&n->lm);
	dp_pool_fini(&n->pool);
	free(n->roam);
	n->roam = NULL;
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i] == n)
			nodes[i] = NULL;
}

static void node_free(struct node *n)
{
	node_stop(n);
	free(n);
}

static void teardown_all(void)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i])
			node_free(nodes[i]);
	nnodes = 0;
	qlen = 0;
	path_drops = NULL;
}

static void tick(struct node *n)
{
	ctl_linkmgr_tick(&n->lm, now);
	if (n->lm.dirty)
		cb_publish(n);
}

static void tick_all(void)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i])
			tick(nodes[i]);
}

static struct node *node_at(const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i] && net_endpoint_equal(&nodes[i]->ep, ep))
			return nodes[i];
	return NULL;
}

/* ESP through the receiver's real pipeline (keepalives end there). */
static void deliver_esp(struct node *n, const struct dgram *d)
{
	struct dp_pkt *p = dp_pool_get(&n->pool);
	assert_non_null(p);
	memcpy(p->data, d->data, d->len);
	p->len = (uint16_t)d->len;
	p->peer = d->from;
	struct dp_ctx ctx = {.table = n->pub.current,
			     .mgr = mgr,
			     .pool = &n->pool,
			     .counters = &n->counters,
			     .roam_ring = n->roam};
	static struct dp_burst out;
	dp_burst_clear(&out);
	dp_pipeline_from_net(&ctx, &p, 1, &out);
	n->host_rx += out.n_host;
	dp_pool_put_bulk(&n->pool, out.host, out.n_host);
	dp_pool_put_bulk(&n->pool, out.punt, out.n_punt);
	/* the control core's side, as ctl.c drains it */
	struct dp_roam_event ev;
	bool moved = false;
	while (rte_ring_sc_dequeue_elem(n->roam, &ev, sizeof(ev)) == 0)
		moved |= ctl_linkmgr_roam(&n->lm, ev.link_id, &ev.from);
	if (moved)
		assert_int_equal(cb_publish(n), 0);
}

/* The TURN relay of the tests. A datagram to n->relayed reaches n, which
 * sees it come from the sender's address through its allocation (via 1);
 * what n sends to such an address (via 1) reaches the node there, which
 * sees it come from n->relayed. Everything else goes straight to the node
 * at its address. Rewrites d->from to what the receiver sees. */
static struct node *route(struct dgram *d)
{
	struct node *src = node_at(&d->from);
	if (d->to.via) {
		struct net_endpoint to = d->to;
		to.via = 0;
		struct node *n = node_at(&to);
		if (!n || !src)
			return NULL;
		d->from = src->relayed;
		return n;
	}
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i] && net_endpoint_equal(&nodes[i]->relayed, &d->to)) {
			d->from.via = 1;
			return nodes[i];
		}
	return node_at(&d->to);
}

/* Delivers everything queued, including what the deliveries queue. */
static unsigned deliver(void)
{
	unsigned done = 0;
	while (qlen) {
		struct dgram d = queue[0];
		memmove(queue, queue + 1, (qlen - 1) * sizeof(queue[0]));
		qlen--;
		done++;
		if (path_drops && path_drops(&d))
			continue;
		struct node *n = route(&d);
		if (!n)
			continue;
		if (dp_classify(d.data, d.len) == DP_CLASS_CONTROL)
			ctl_linkmgr_input(&n->lm, d.data, d.len, &d.from, now);
		else
			deliver_esp(n, &d);
	}
	return done;
}

static void settle(void)
{
	for (int i = 0; i < 4; i++) {
		deliver();
		tick_all();
	}
	deliver();
}

static struct lm_link *lk_of(struct node *n)
{
	return n->peers.v[0].lk;
}

/* Encrypts a packet with out and decrypts it with in: 0 on success, else
 * the drop reason. */
static int esp_roundtrip(struct dp_sa *out, struct dp_sa *in)
{
	static struct dp_pkt pkt __attribute__((aligned(64)));
	struct dp_pkt *p = &pkt;
	dp_pkt_reset(p);
	const char msg[] = "over the overlay";
	memcpy(p->data, msg, sizeof(msg));
	p->len = sizeof(msg);
	p->sa = out;
	p->next_hdr = DP_ESP_NH_IPV4;
	dp_esp_encrypt_burst(mgr, &p, 1);
	if (p->drop)
		return p->drop;
	p->sa = in;
	dp_esp_decrypt_burst(mgr, &p, 1);
	if (p->drop)
		return p->drop;
	assert_int_equal(p->len, sizeof(msg));
	assert_memory_equal(p->data, msg, sizeof(msg));
	return 0;
}

/* Through the receiver's published table, like a worker would. */
static int esp_via_table(struct dp_sa *out, struct node *rx)
{
	const struct dp_spi_entry *e = dp_table_spi_lookup(rx->pub.current, out->spi);
	if (!e)
		return DP_DROP_UNKNOWN_SPI;
	return esp_roundtrip(out, e->sa);
}

static void pair(struct node **a, struct node **b)
{
	*a = node_new(1, "a");
	*b = node_new(2, "b");
	node_peer(*a, *b, 2);
	node_peer(*b, *a, 1);
	node_start(*a);
	node_start(*b);
}

static bool lower(const struct node *a, const struct node *b)
{
	return memcmp(a->id.pub, b->id.pub, 32) < 0;
}

static void assert_linked(struct node *a, struct node *b)
{
	struct lm_link *la = lk_of(a), *lb = lk_of(b);
	assert_int_equal(la->state, LM_UP);
	assert_int_equal(lb->state, LM_UP);
	assert_non_null(la->cur.sa_out);
	assert_non_null(lb->cur.sa_out);
	assert_int_equal(la->cur.sa_out->spi, lb->cur.sa_in->spi);
	assert_int_equal(lb->cur.sa_out->spi, la->cur.sa_in->spi);
	assert_int_equal(esp_via_table(la->cur.sa_out, b), 0);
	assert_int_equal(esp_via_table(lb->cur.sa_out, a), 0);
	/* the tables carry the current outbound SA */
	assert_ptr_equal(a->pub.current->links[0].sa_out, la->cur.sa_out);
	assert_ptr_equal(b->pub.current->links[0].sa_out, lb->cur.sa_out);
}

/* a initiates alone, b answers: the basic handshake. */
static void handshake(struct node *a, struct node *b)
{
	tick(a);
	assert_int_equal(qlen, 1);
	deliver();
	tick(b);
	deliver();
	tick_all();
}

static int per_test_teardown(void **state)
{
	(void)state;
	teardown_all();
	return 0;
}

static int setup(void **state)
{
	(void)state;
	mgr = dp_crypto_mgr_create();
	return mgr ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dp_crypto_mgr_destroy(mgr);
	return 0;
}
