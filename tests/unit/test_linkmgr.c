/* The link manager end to end in memory: two (or three) nodes, each with its
 * own config, peer set, link manager and publisher (no workers), wired
 * together by a datagram queue instead of sockets. Control datagrams go to
 * the receiver's ctl_linkmgr_input; ESP datagrams (keepalives) go through the
 * real pipeline against the receiver's published table, so a responder sees
 * the initiator's first packet on the new inbound SA exactly as the daemon
 * does. Time is simulated. */
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
#include "control/core/publish.h"
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
	static uint8_t pkt_buf[DP_BUF_SIZE];
	struct dp_pkt *p = &pkt;
	dp_pkt_attach(p, pkt_buf, DP_BUF_SIZE);
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

/* ---- tests ------------------------------------------------------------- */

static void test_handshake(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);
	assert_null(a->pub.current->links[0].sa_out);

	tick(a); /* start-up: initiate at once */
	assert_int_equal(qlen, 1);
	assert_int_equal(queue[0].len, HS_INIT_LEN);
	deliver(); /* b answers (after publishing its inbound SA), a completes + keepalive */
	assert_int_equal(lk_of(a)->state, LM_UP);
	assert_int_equal(lk_of(b)->state, LM_CONNECTING); /* waiting for a's first packet */
	assert_non_null(lk_of(b)->next.sa_in);
	assert_int_equal(b->counters.keepalives, 1);
	tick(b); /* the keepalive confirmed the session */
	assert_linked(a, b);
	assert_null(lk_of(b)->next.sa_in);

	assert_int_equal(a->lm.hs.initiations_sent, 1);
	assert_int_equal(a->lm.hs.responses_received, 1);
	assert_int_equal(a->lm.hs.completed, 1);
	assert_int_equal(b->lm.hs.initiations_received, 1);
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(b->lm.hs.completed, 1);
	assert_int_equal(a->lm.hs.rekeys + b->lm.hs.rekeys, 0);
	assert_int_equal(lk_of(a)->handshakes, 1);
	/* receiver-chosen SPIs with the top bit */
	assert_true(lk_of(a)->cur.sa_in->spi & 0x80000000u);
	assert_true(lk_of(b)->cur.sa_in->spi & 0x80000000u);
	/* no key copies unless key_export */
	assert_false(lk_of(a)->cur.has_keymat);
	teardown_all();
}

static void test_simultaneous(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	struct node *lo = lower(a, b) ? a : b, *hi = lo == a ? b : a;
	tick(a);
	tick(b); /* both initiate before either hears the other */
	assert_int_equal(qlen, 2);
	struct dgram hi_init = net_endpoint_equal(&queue[0].from, &hi->ep) ? queue[0] : queue[1];
	deliver();
	/* one session: lo kept its initiation, hi abandoned its own and answered */
	assert_int_equal(lo->lm.hs.collisions, 1);
	assert_int_equal(lo->lm.hs.responses_sent, 0);
	assert_int_equal(hi->lm.hs.responses_sent, 1);
	assert_int_equal(lk_of(lo)->state, LM_UP);
	assert_false(lk_of(a)->pend.active);
	assert_false(lk_of(b)->pend.active);
	assert_int_equal(lo->pub.current->n_spi, 1);
	assert_int_equal(hi->pub.current->n_spi, 1);
	assert_true(lk_of(hi)->owe_init);
	assert_false(lk_of(lo)->owe_init);

	/* hi confirms, then owes lo a newer initiation than the one it
	 * abandoned (lo never processed that one): one more handshake */
	tick(hi);
	assert_int_equal(lk_of(hi)->state, LM_UP);
	assert_int_equal(lk_of(hi)->handshakes, 1);
	assert_int_equal(qlen, 1);
	settle();
	assert_linked(a, b);
	assert_false(lk_of(hi)->owe_init);
	assert_int_equal(lo->lm.hs.responses_sent, 1);
	assert_int_equal(hi->lm.hs.responses_sent, 1);
	assert_int_equal(lk_of(lo)->handshakes, 2);
	assert_int_equal(lk_of(hi)->handshakes, 2);
	/* a handshake, not a scheduled rotation */
	assert_int_equal(lo->lm.hs.rekeys + hi->lm.hs.rekeys, 0);
	assert_null(lk_of(a)->next.sa_in);
	assert_null(lk_of(b)->next.sa_in);
	/* so the abandoned initiation, replayed to lo, is stale */
	uint64_t pubs = lo->publishes;
	queue[qlen++] = hi_init;
	deliver();
	assert_int_equal(lo->lm.hs.stale_timestamp, 1);
	assert_int_equal(lo->lm.hs.responses_sent, 1);
	assert_int_equal(lo->publishes, pubs);
	teardown_all();
}

/* The lower side's initiation was lost (the peer was away, e.g. restarting)
 * just before the peer's own arrives: the lower side ignores the peer's but
 * resends its own within LM_COLLISION_RETX_MS instead of a full backoff. */
static void test_collision_after_loss(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	struct node *lo = lower(a, b) ? a : b, *hi = lo == a ? b : a;
	uint64_t t0 = now;
	tick(lo);
	qlen = 0; /* lost */
	now += 50;
	tick(hi);
	deliver();
	assert_int_equal(lo->lm.hs.collisions, 1);
	assert_int_equal(qlen, 0);
	while (lk_of(lo)->state != LM_UP && now - t0 < 1000) {
		now += 100;
		tick_all();
		deliver();
	}
	tick_all();
	assert_true(now - t0 <= 300);
	assert_linked(a, b);
	teardown_all();
}

/* Something on the path drops every initiation of the lower side (not its
 * other packets): the higher side's initiation must still bring the link up
 * once the lower side's pending initiation is past the collision window. */
static const struct node *filtered;
static struct dgram withheld;

static bool drop_initiations_of_filtered(const struct dgram *d)
{
	bool drop = net_endpoint_equal(&d->from, &filtered->ep) && d->len == HS_INIT_LEN &&
		    d->data[4] == HS_INITIATION;
	if (drop)
		withheld = *d;
	return drop;
}

static void test_initiations_filtered_one_way(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	struct node *lo = lower(a, b) ? a : b, *hi = lo == a ? b : a;
	filtered = lo;
	path_drops = drop_initiations_of_filtered;
	uint64_t t0 = now;
	for (int i = 0; i < 100 && lk_of(lo)->state != LM_UP; i++) {
		tick_all();
		deliver();
		now += 100;
	}
	tick_all();
	assert_linked(a, b);
	assert_true(lo->lm.hs.collisions >= 1);
	assert_true(now - t0 <= 4000); /* hi retransmits at ~1 s and ~3 s */
	assert_int_equal(lo->lm.hs.responses_sent, 1);
	assert_int_equal(hi->lm.hs.responses_sent, 0);

	/* The attacker replays a withheld initiation of lo to hi: hi has no
	 * timestamp of lo yet, so it answers — but the session it makes is never
	 * confirmed, and hi neither roams nor counts a handshake. */
	path_drops = NULL;
	qlen = 0;
	struct dgram replay = withheld;
	replay.from.addr[15] = 99;
	replay.to = hi->ep;
	uint32_t spi_out = lk_of(hi)->cur.sa_out->spi;
	queue[qlen++] = replay;
	deliver();
	assert_int_equal(hi->lm.hs.responses_sent, 1);
	assert_non_null(lk_of(hi)->next.sa_in);
	assert_true(net_endpoint_equal(&lk_of(hi)->endpoint, &lo->ep));
	assert_int_equal(lk_of(hi)->handshakes, 1);
	assert_int_equal(lk_of(hi)->cur.sa_out->spi, spi_out);
	assert_linked(a, b);

	/* lo abandoned initiations, so it owes hi a newer one; once that gets
	 * through, every withheld one is stale */
	assert_true(lk_of(lo)->owe_init);
	for (int i = 0; i < 40 && lk_of(lo)->owe_init; i++) {
		now += 100;
		tick_all();
		deliver();
	}
	settle();
	assert_false(lk_of(lo)->owe_init);
	assert_linked(a, b);
	uint64_t stale = hi->lm.hs.stale_timestamp, resp = hi->lm.hs.responses_sent;
	queue[qlen++] = replay;
	deliver();
	assert_int_equal(hi->lm.hs.stale_timestamp, stale + 1);
	assert_int_equal(hi->lm.hs.responses_sent, resp);
	assert_true(net_endpoint_equal(&lk_of(hi)->endpoint, &lo->ep));
	teardown_all();
}

static void test_rekey_overlap(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	for (int i = 0; i < 2; i++) {
		struct node *n = i ? b : a;
		n->cfg.rekey_interval_ms = 20000;
		n->cfg.keepalive_ms = 60000;
		n->cfg.link_timeout_ms = 120000;
	}
	handshake(a, b);
	assert_linked(a, b);
	struct node *lo = lower(a, b) ? a : b, *hi = lo == a ? b : a;
	struct dp_sa *lo_out_old = lk_of(lo)->cur.sa_out, *hi_out_old = lk_of(hi)->cur.sa_out;
	uint32_t lo_in_old = lk_of(lo)->cur.sa_in->spi, hi_in_old = lk_of(hi)->cur.sa_in->spi;

	/* Time rekey: the lower key initiates first. */
	now += 20000;
	tick(hi);
	assert_int_equal(qlen, 0);
	tick(lo);
	assert_int_equal(qlen, 1);
	deliver(); /* hi answers, lo switches at once and sends a keepalive */
	assert_int_equal(lk_of(lo)->cur.sa_in->spi != lo_in_old, true);
	/* hi has not switched yet: its old outbound SA still reaches lo */
	assert_ptr_equal(lk_of(hi)->cur.sa_out, hi_out_old);
	assert_int_equal(esp_via_table(hi_out_old, lo), 0);
	tick(hi); /* confirmed by the keepalive */
	assert_linked(a, b);
	/* overlap: both old inbound SAs are still accepted, next to the new ones */
	assert_int_equal(lk_of(lo)->prev.sa_in->spi, lo_in_old);
	assert_int_equal(lk_of(hi)->prev.sa_in->spi, hi_in_old);
	assert_int_equal(esp_via_table(hi_out_old, lo), 0);
	assert_int_equal(esp_via_table(lo_out_old, hi), 0);
	assert_int_equal(lo->pub.current->n_spi, 2);
	assert_int_equal(hi->pub.current->n_spi, 2);
	assert_int_equal(lo->lm.hs.rekeys, 1);
	assert_int_equal(hi->lm.hs.rekeys, 1);
	assert_int_equal(lk_of(lo)->rekeys, 1);

	/* After the overlap the old inbound SAs are gone from the tables. */
	now += LM_OVERLAP_MIN_MS - 1000;
	tick_all();
	assert_int_equal(qlen, 0);
	assert_non_null(dp_table_spi_lookup(lo->pub.current, lo_in_old));
	now += 1100;
	tick_all();
	assert_null(dp_table_spi_lookup(lo->pub.current, lo_in_old));
	assert_null(dp_table_spi_lookup(hi->pub.current, hi_in_old));
	assert_null(lk_of(lo)->prev.sa_in);
	assert_int_equal(lo->pub.current->n_spi, 1);
	/* ... and the rekeys go on (the links stayed up throughout) */
	now += 20000;
	tick_all();
	settle();
	assert_true(lo->lm.hs.rekeys >= 2);
	assert_linked(a, b);
	assert_int_equal(a->lm.hs.links_down + b->lm.hs.links_down, 0);
	teardown_all();
}

static void test_volume_rekey(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	handshake(a, b);
	a->cfg.rekey_packets = 1000;
	b->cfg.rekey_packets = 1000;
	now += 100; /* far from the time rekey */
	tick_all();
	assert_int_equal(qlen, 0);
	/* whichever side: the higher one too, simultaneous rules sort it out */
	struct node *hi = lower(a, b) ? b : a;
	atomic_store(&lk_of(hi)->cur.sa_out->seq, 1000);
	tick(hi);
	assert_int_equal(qlen, 1);
	settle();
	assert_linked(a, b);
	assert_int_equal(hi->lm.hs.rekeys, 1);
	assert_true(atomic_load(&lk_of(hi)->cur.sa_out->seq) < 1000);
	teardown_all();
}

/* Our timestamps keep increasing when the wall clock steps back. */
static void test_clock_step_back(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	uint8_t ts[12];
	hs_tai64n_now(ts);
	ts[6]++; /* 256 s ahead: as if the clock was stepped back since */
	memcpy(a->lm.last_ts_sent, ts, sizeof(ts));
	handshake(a, b);
	assert_linked(a, b);
	assert_true(memcmp(lk_of(b)->last_ts, ts, sizeof(ts)) > 0);
	atomic_store(&lk_of(a)->cur.sa_out->seq, a->cfg.rekey_packets);
	tick(a);
	settle();
	assert_linked(a, b);
	assert_int_equal(b->lm.hs.stale_timestamp, 0);
	assert_int_equal(a->lm.hs.rekeys, 1);
	teardown_all();
}

static void test_replayed_initiation(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	tick(a);
	struct dgram init = queue[0];
	settle();
	assert_linked(a, b);
	uint32_t in = lk_of(b)->cur.sa_in->spi, out = lk_of(b)->cur.sa_out->spi;
	unsigned pubs = b->publishes;

	now += 1000;
	queue[qlen++] = init; /* captured and replayed later */
	deliver();
	assert_int_equal(b->lm.hs.stale_timestamp, 1);
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(lk_of(b)->cur.sa_in->spi, in);
	assert_int_equal(lk_of(b)->cur.sa_out->spi, out);
	assert_null(lk_of(b)->next.sa_in);
	assert_int_equal(b->publishes, pubs);
	assert_int_equal(qlen, 0);
	/* even from another address: no roaming on a replay */
	init.from.addr[15] = 99;
	queue[qlen++] = init;
	deliver();
	assert_int_equal(b->lm.hs.stale_timestamp, 2);
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->ep));
	assert_linked(a, b);
	teardown_all();
}

static void test_unknown_and_disallowed_key(void **state)
{
	(void)state;
	struct node *a = node_new(1, "a"), *b = node_new(2, "b"), *c = node_new(3, "c");
	node_peer(a, b, 2);
	node_peer(b, a, 1);
	node_peer(c, b, 2); /* c knows b, b does not know c */
	node_start(a);
	node_start(b);
	node_start(c);
	tick(c);
	deliver();
	assert_int_equal(b->lm.hs.unknown_key, 1);
	assert_int_equal(b->lm.hs.responses_sent, 0);
	assert_int_equal(qlen, 0);
	assert_int_equal(lk_of(c)->state, LM_CONNECTING);

	/* a is configured but not in b's (non-empty) allowed_keys */
	uint8_t allowed[1][32];
	memcpy(allowed[0], c->id.pub, 32);
	b->cfg.allowed_keys = allowed;
	b->cfg.n_allowed_keys = 1;
	tick(a);
	deliver();
	assert_int_equal(b->lm.hs.unknown_key, 2);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);
	/* and b does not initiate to it either */
	tick(b);
	assert_int_equal(qlen, 0);
	b->cfg.allowed_keys = NULL;
	b->cfg.n_allowed_keys = 0;
	teardown_all();
}

static void test_wrong_psk(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	a->cfg.has_psk = b->cfg.has_psk = true;
	memset(a->cfg.psk, 0x11, 32);
	memset(b->cfg.psk, 0x22, 32);
	tick(a);
	deliver();
	/* b cannot tell (psk2 is mixed in msg2): it answers and waits */
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(a->lm.hs.decrypt_fail, 1);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);
	tick(b);
	assert_int_equal(lk_of(b)->state, LM_CONNECTING);
	assert_null(b->pub.current->links[0].sa_out);
	assert_null(a->pub.current->links[0].sa_out);
	/* nothing confirms b's session: it expires */
	for (int i = 0; i < 12; i++) {
		now += 1000;
		tick_all();
		deliver();
	}
	assert_true(a->lm.hs.decrypt_fail + b->lm.hs.decrypt_fail >= 2);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);
	assert_int_equal(lk_of(b)->state, LM_CONNECTING);
	assert_null(lk_of(b)->cur.sa_in);
	assert_null(lk_of(a)->cur.sa_in);
	/* same PSK: it links */
	memset(b->cfg.psk, 0x11, 32);
	for (int i = 0; i < 40 && lk_of(a)->state != LM_UP; i++) {
		now += 1000;
		tick_all();
		deliver();
		tick_all();
	}
	settle();
	assert_linked(a, b);
	teardown_all();
}

static void test_garbage_and_mac1(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	uint8_t buf[HS_INIT_LEN];
	/* garbage after the marker, wrong lengths, truncation */
	memset(buf, 0xa5, sizeof(buf));
	memset(buf, 0, 4);
	for (size_t len = 0; len <= sizeof(buf); len += 7)
		ctl_linkmgr_input(&b->lm, buf, len, &a->ep, now);
	assert_true(b->lm.hs.malformed >= 24);
	assert_int_equal(b->lm.hs.initiations_received, 0);

	/* a real initiation with one bit flipped anywhere before mac2 */
	tick(a);
	struct dgram init = queue[0];
	qlen = 0;
	uint64_t before = b->lm.hs.mac1_fail;
	for (size_t off = 16; off < HS_INIT_LEN - 16; off += 13) {
		struct dgram d = init;
		d.data[off] ^= 0x40;
		ctl_linkmgr_input(&b->lm, d.data, d.len, &d.from, now);
	}
	assert_int_equal(b->lm.hs.mac1_fail - before, (HS_INIT_LEN - 32 + 12) / 13);
	/* a flipped mac2 does not matter when not under load */
	init.data[HS_INIT_LEN - 1] ^= 1;
	ctl_linkmgr_input(&b->lm, init.data, init.len, &init.from, now);
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(qlen, 1);
	/* a corrupted response: mac1 */
	struct dgram resp = queue[0];
	qlen = 0;
	resp.data[20] ^= 1;
	ctl_linkmgr_input(&a->lm, resp.data, resp.len, &resp.from, now);
	assert_int_equal(a->lm.hs.mac1_fail, 1);
	/* a response with a valid mac1 for an SPI nobody waits on */
	resp.data[20] ^= 1;
	resp.data[8] ^= 1;
	hs_macs_write(resp.data, resp.len, &a->lm.own_keys, NULL);
	ctl_linkmgr_input(&a->lm, resp.data, resp.len, &resp.from, now);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);
	/* a cookie reply for nothing we sent */
	uint8_t cr[HS_COOKIE_MSG_LEN] = {0};
	cr[4] = HS_COOKIE_REPLY;
	cr[8] = 0x80;
	uint64_t mal = a->lm.hs.malformed;
	ctl_linkmgr_input(&a->lm, cr, sizeof(cr), &b->ep, now);
	assert_int_equal(a->lm.hs.malformed, mal + 1);
	/* the genuine response still completes the handshake */
	resp.data[8] ^= 1;
	hs_macs_write(resp.data, resp.len, &a->lm.own_keys, NULL);
	ctl_linkmgr_input(&a->lm, resp.data, resp.len, &resp.from, now);
	assert_int_equal(lk_of(a)->state, LM_UP);
	settle();
	assert_linked(a, b);
	teardown_all();
}

static void test_cookie_under_load(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	b->lm.load_threshold = 0; /* every initiation counts as "under load" */
	tick(a);
	assert_int_equal(qlen, 1);
	/* a forged cookie reply (right SPI, wrong tag) is ignored */
	uint8_t cr[HS_COOKIE_MSG_LEN];
	memset(cr, 0x5a, sizeof(cr));
	hs_write_header(cr, HS_COOKIE_REPLY, be32(queue[0].data + 12), 0);
	ctl_linkmgr_input(&a->lm, cr, sizeof(cr), &b->ep, now);
	assert_int_equal(a->lm.hs.malformed, 1);
	assert_int_equal(a->lm.hs.cookie_replies_received, 0);
	assert_int_equal(qlen, 1);
	now += 30; /* a round trip */
	deliver();
	assert_int_equal(b->lm.hs.cookie_replies_sent, 1);
	assert_int_equal(a->lm.hs.cookie_replies_received, 1);
	assert_int_equal(b->lm.hs.responses_sent, 0);
	/* a resends with mac2 as soon as the guard allows (not at the next
	 * 1 s backoff step), and b accepts it although still under load */
	now += LM_COLLISION_RETX_MS - 30;
	tick(a);
	assert_int_equal(qlen, 1);
	assert_int_equal(a->lm.hs.retransmits, 1);
	deliver();
	assert_int_equal(b->lm.hs.cookie_replies_sent, 1);
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(lk_of(a)->state, LM_UP);
	tick(b);
	assert_linked(a, b);
	assert_int_equal(b->lm.hs.mac1_fail, 0);
	teardown_all();
}

static void test_ratelimit(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	tick(a);
	struct dgram init = queue[0];
	qlen = 0;
	/* a flood of (replayed) initiations from one source */
	for (int i = 0; i < 100; i++)
		ctl_linkmgr_input(&b->lm, init.data, init.len, &init.from, now);
	assert_true(b->lm.hs.ratelimited >= 100 - LM_RL_BURST);
	assert_int_equal(b->lm.hs.responses_sent, 1);
	assert_int_equal(b->lm.hs.stale_timestamp, LM_RL_BURST - 1);
	teardown_all();
}

static void test_link_down_and_recovery(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	handshake(a, b);
	assert_linked(a, b);
	/* idle but connected: keepalives keep both sides up */
	for (int i = 0; i < 100; i++) {
		now += 500;
		tick_all();
		deliver();
	}
	assert_int_equal(lk_of(a)->state, LM_UP);
	assert_int_equal(lk_of(b)->state, LM_UP);
	assert_true(a->lm.hs.keepalives_sent + b->lm.hs.keepalives_sent >= 4);
	assert_int_equal(a->lm.hs.links_down + b->lm.hs.links_down, 0);

	/* the network goes away */
	for (int i = 0; i < 62; i++) {
		now += 500;
		tick_all();
		qlen = 0;
	}
	assert_int_equal(lk_of(a)->state, LM_DOWN);
	assert_int_equal(lk_of(b)->state, LM_DOWN);
	assert_int_equal(a->lm.hs.links_down, 1);
	assert_null(a->pub.current->links[0].sa_out);
	assert_null(b->pub.current->links[0].sa_out);
	assert_true(a->lm.hs.retransmits > 0);

	/* it comes back: retransmissions (at most 30 s apart) relink */
	for (int i = 0; i < 80 && (lk_of(a)->state != LM_UP || lk_of(b)->state != LM_UP); i++) {
		now += 500;
		tick_all();
		deliver();
	}
	settle();
	assert_linked(a, b);
	teardown_all();
}

static void test_backoff(void **state)
{
	(void)state;
	struct node *a = node_new(1, "a"), *b = node_new(2, "b");
	node_peer(a, b, 2);
	node_start(a); /* b never answers */
	uint64_t start = now, last = now;
	uint64_t gaps[8];
	unsigned n = 0;
	for (int i = 0; i < 2000 && n < 8; i++) {
		tick(a);
		if (qlen) {
			if (now != start)
				gaps[n++] = now - last;
			last = now;
			qlen = 0;
		}
		now += 100;
	}
	assert_int_equal(n, 8);
	uint64_t want[8] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
	for (unsigned i = 0; i < 8; i++) {
		assert_true(gaps[i] >= want[i] * 80 / 100);
		assert_true(gaps[i] <= want[i] * 120 / 100 + 100);
	}
	assert_int_equal(a->lm.hs.retransmits, 8);
	(void)b;
	teardown_all();
}

static void test_restart(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	handshake(a, b);
	assert_linked(a, b);
	uint32_t old_in = lk_of(a)->cur.sa_in->spi;

	/* b restarts with the same identity: a still has the old session */
	struct ipop_identity id = b->id;
	node_stop(b);
	nodes[1] = b;
	memset(&b->peers, 0, sizeof(b->peers));
	now += 3000;
	assert_int_equal(ctl_linkmgr_init(&b->lm, &b->cfg, &id, now), 0);
	ctl_linkmgr_set_io(&b->lm, cb_send, cb_publish, b);
	assert_int_equal(ctl_publish_init(&b->pub, 0), 0);
	assert_int_equal(dp_pool_init(&b->pool, 64), 0);
	b->next_link_id = 1;
	node_start(b);
	tick(b); /* start-up initiation, timestamp newer than the last a saw */
	deliver();
	tick(a);
	assert_linked(a, b);
	assert_int_not_equal(lk_of(a)->cur.sa_in->spi, old_in);
	assert_int_equal(lk_of(a)->handshakes, 2);
	assert_int_equal(lk_of(a)->rekeys, 0); /* a restart is not a rotation */
	teardown_all();
}

static void test_reload_keeps_link(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	handshake(a, b);
	struct lm_link *lk = lk_of(a);
	struct dp_sa *out = lk->cur.sa_out;

	/* same config: the link and its sessions carry over */
	struct ctl_peers np;
	assert_int_equal(ctl_peers_diff(&a->peers, &a->cfg, mgr, &a->next_link_id, &np), 0);
	assert_int_equal(ctl_linkmgr_attach(&a->lm, &np, now), 0);
	assert_ptr_equal(np.v[0].lk, lk);
	assert_false(np.v[0].fresh);
	ctl_peers_retire(&a->peers, &a->pub, NULL);
	a->peers = np;
	assert_int_equal(cb_publish(a), 0);
	assert_ptr_equal(a->pub.current->links[0].sa_out, out);
	assert_linked(a, b);

	/* a different key for the same name: a new link, the old one retired */
	static struct ipop_peer_conf pc2[1];
	pc2[0] = a->pc[0];
	pc2[0].public_key[0] ^= 1;
	struct ipop_config cfg2 = a->cfg;
	cfg2.peers = pc2;
	assert_int_equal(ctl_peers_diff(&a->peers, &cfg2, mgr, &a->next_link_id, &np), 0);
	assert_int_equal(ctl_linkmgr_attach(&a->lm, &np, now), 0);
	assert_true(np.v[0].lk != lk);
	assert_true(np.v[0].fresh);
	/* abort path: the fresh link is destroyed, the old one untouched */
	ctl_peers_abort(&np, &a->peers);
	assert_ptr_equal(lk_of(a), lk);
	assert_linked(a, b);
	teardown_all();
}

static void test_key_export_copy(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	a->cfg.key_export = true;
	handshake(a, b);
	struct lm_link *la = lk_of(a);
	assert_true(la->cur.has_keymat);
	/* the exported keymat is the one b's inbound SA was made with */
	struct dp_sa *check = dp_sa_create(mgr, la->cur.sa_out->spi, la->cur.keymat_out, 99);
	assert_non_null(check);
	atomic_store(&check->seq, 1000); /* past what b's replay window has seen */
	assert_int_equal(esp_via_table(check, b), 0);
	dp_sa_destroy(check);
	assert_false(lk_of(b)->cur.has_keymat);
	/* switched off (reload): the copies go on the next tick */
	a->cfg.key_export = false;
	tick(a);
	assert_false(la->cur.has_keymat);
	static const uint8_t zero[DP_SA_KEYMAT_LEN];
	assert_memory_equal(la->cur.keymat_out, zero, sizeof(zero));
	teardown_all();
}

static void test_publish_failure_no_answer(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	b->fail_publish = true;
	tick(a);
	deliver();
	/* b could not get its inbound SA out: it must not answer */
	assert_int_equal(b->lm.hs.responses_sent, 0);
	assert_null(lk_of(b)->next.sa_in);
	assert_int_equal(qlen, 0);
	b->fail_publish = false;
	cb_publish(b);
	now += 1300;
	tick(a); /* retransmit: a fresh initiation, so not stale */
	deliver();
	tick(b);
	assert_linked(a, b);
	assert_int_equal(b->lm.hs.stale_timestamp, 0);
	teardown_all();
}

/* Also after a failed assertion, so one failure does not cascade. */
/* Discovery: peers without an endpoint stay silent until candidates arrive;
 * then initiations go to all candidates at once, the one that answers
 * becomes the endpoint, and the link says which candidate and why. */
static void test_candidates(void **state)
{
	(void)state;
	struct node *a = node_new(1, "a"), *b = node_new(2, "b");
	node_peer(a, b, 2);
	node_peer(b, a, 1);
	memset(&a->pc[0].endpoint, 0, sizeof(a->pc[0].endpoint));
	memset(&b->pc[0].endpoint, 0, sizeof(b->pc[0].endpoint));
	node_start(a);
	node_start(b);
	for (int i = 0; i < 5; i++) {
		now += 1000;
		tick_all();
	}
	assert_int_equal(qlen, 0);
	assert_int_equal(lk_of(a)->state, LM_CONNECTING);

	struct lm_cand ca[2] = {{.type = 0 /* host */}, {.type = 2 /* srflx */}};
	ep_of(9, &ca[0].ep); /* nobody there */
	ca[1].ep = b->ep;
	struct lm_cand cb[1] = {{.ep = a->ep, .type = 2}};
	ctl_linkmgr_set_candidates(&a->lm, lk_of(a), ca, 2, now);
	assert_int_equal(qlen, 2); /* one initiation, to both candidates */
	assert_int_equal(a->lm.hs.initiations_sent, 1);
	ctl_linkmgr_set_candidates(&b->lm, lk_of(b), cb, 1, now);
	settle();
	now += LM_COLLISION_RETX_MS;
	settle();
	assert_linked(a, b);
	assert_true(net_endpoint_equal(&lk_of(a)->endpoint, &b->ep));
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->ep));
	assert_int_equal(lk_of(a)->ep_cand, 1);
	assert_int_equal(lk_of(b)->ep_cand, 0);
	assert_non_null(strstr(lk_of(a)->why, "srflx candidate"));
	assert_non_null(strstr(lk_of(b)->why, "srflx candidate"));

	/* Up: new candidates are stored, nothing is sent for them. */
	qlen = 0;
	ctl_linkmgr_set_candidates(&a->lm, lk_of(a), ca, 1, now);
	assert_int_equal(qlen, 0);
	assert_int_equal(lk_of(a)->ncand, 1);
	assert_int_equal(lk_of(a)->ep_cand, -1);
}

/* a's NAT maps it to a new port under a live link: b's packets to the old
 * mapping are lost, but a's next authenticated packet (here its keepalive)
 * moves b's endpoint at once, with no handshake and no link timeout. */
static void test_roaming(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	/* no rekey meanwhile: its handshake would move the endpoint too */
	a->cfg.rekey_interval_ms = b->cfg.rekey_interval_ms = 3600000;
	/* keepalives well inside link_timeout (30 s): nothing times out */
	a->cfg.keepalive_ms = b->cfg.keepalive_ms = 5000;
	handshake(a, b);
	assert_linked(a, b);
	uint64_t hs_a = lk_of(a)->handshakes, hs_b = lk_of(b)->handshakes;
	struct net_endpoint old = a->ep;
	a->ep.port = 40000;
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &old));

	/* Once a has sent nothing for a keepalive interval it sends one
	 * (the first interval after the handshake may still count the
	 * handshake's own keepalive). b's packets to the old mapping are lost. */
	for (int i = 0; i < 3 && !b->lm.hs.roams; i++) {
		now += a->cfg.keepalive_ms;
		tick_all();
		deliver();
	}
	assert_int_equal(b->lm.hs.roams, 1);
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->ep));
	assert_true(net_endpoint_equal(&b->pub.current->links[0].endpoint, &a->ep));
	assert_non_null(strstr(lk_of(b)->why, "authenticated data"));
	/* b's packets reach a again, on the same session. */
	uint64_t rx_a = atomic_load(&a->peers.v[0].link->stats.rx_packets);
	now += b->cfg.keepalive_ms;
	tick_all();
	deliver();
	assert_true(atomic_load(&a->peers.v[0].link->stats.rx_packets) > rx_a);
	assert_int_equal(lk_of(a)->handshakes, hs_a);
	assert_int_equal(lk_of(b)->handshakes, hs_b);
	assert_int_equal(lk_of(a)->state, LM_UP);
	assert_int_equal(lk_of(b)->state, LM_UP);

	/* Reports the link manager must ignore: the endpoint it already has
	 * (a stale table), a link it does not know, no address. */
	struct net_endpoint none = {0};
	assert_false(ctl_linkmgr_roam(&b->lm, b->peers.v[0].link->id, &a->ep));
	assert_false(ctl_linkmgr_roam(&b->lm, 9999, &old));
	assert_false(ctl_linkmgr_roam(&b->lm, b->peers.v[0].link->id, &none));
	assert_int_equal(b->lm.hs.roams, 1);
	/* The tick re-arms the link's report. */
	atomic_store(&b->peers.v[0].link->roam_reported, 1);
	tick(b);
	assert_int_equal(atomic_load(&b->peers.v[0].link->roam_reported), 0);
}

/* ---- relayed links look for a direct pair -------------------------------- */

/* Something on the path (a firewall, a NAT mapping not open yet) drops every
 * datagram between the nodes' own addresses; the relay still works. */
static unsigned direct_inits_dropped;

static bool drop_direct(const struct dgram *d)
{
	if (d->to.via || !node_at(&d->to))
		return false; /* through the relay */
	if (d->len == HS_INIT_LEN && d->data[4] == HS_INITIATION)
		direct_inits_dropped++;
	return true;
}

/* One data packet from n's host side to its peer the way a worker sends it:
 * the published table's outbound SA and endpoint. */
static unsigned data_sent[MAXN];

static void send_data(struct node *n)
{
	const struct dp_table_link *tl = &n->pub.current->links[0];
	assert_non_null(tl->sa_out); /* up throughout: never link_down */
	static struct dp_pkt pkt __attribute__((aligned(64)));
	static uint8_t pkt_buf[DP_BUF_SIZE];
	struct dp_pkt *p = &pkt;
	dp_pkt_attach(p, pkt_buf, DP_BUF_SIZE);
	uint8_t *ip = p->data;
	memset(ip, 0, 20);
	ip[0] = 0x45, ip[3] = 20, ip[8] = 64, ip[9] = 253;
	memcpy(ip + 12, &n->cfg.ip4, 4);
	memcpy(ip + 16, &n->pc[0].ip4, 4);
	p->len = 20;
	p->sa = tl->sa_out;
	p->next_hdr = DP_ESP_NH_IPV4;
	dp_esp_encrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	assert_int_equal(cb_send(n, &tl->endpoint, p->data, p->len), 0);
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i] == n)
			data_sent[i]++;
}

/* Time passes by ms; both sides send a data packet; the network delivers. */
static void step_data(struct node *a, struct node *b, unsigned ms)
{
	now += ms;
	tick_all();
	send_data(a);
	send_data(b);
	deliver();
}

/* Every data packet arrived, none was dropped for want of an SA. */
static void assert_no_loss(struct node *a, struct node *b)
{
	assert_int_equal(a->host_rx, data_sent[1]);
	assert_int_equal(b->host_rx, data_sent[0]);
	for (int i = 0; i < 2; i++) {
		const struct dp_counters *k = i ? &b->counters : &a->counters;
		assert_int_equal(k->drops[DP_DROP_UNKNOWN_SPI], 0);
		assert_int_equal(k->drops[DP_DROP_AUTH], 0);
		assert_int_equal(k->drops[DP_DROP_REPLAY], 0);
		assert_int_equal(k->drops[DP_DROP_SRC_CHECK], 0);
	}
}

static bool direct(const struct node *n, const struct node *peer)
{
	return net_endpoint_equal(&n->peers.v[0].lk->endpoint, &peer->ep);
}

/* a's and b's link as it comes up while the direct path drops everything:
 * a has a TURN allocation (b's candidates of a include a's relayed
 * address), b only its host address. b's initiation to a's relayed address
 * wins: a reaches b through its allocation (via 1), b sends to a's relayed
 * address. Returns once nothing is pending on either side. */
static void relayed_pair(struct node **pa, struct node **pb, uint64_t rekey_ms)
{
	struct node *a = node_new(1, "a"), *b = node_new(2, "b");
	node_peer(a, b, 2);
	node_peer(b, a, 1);
	memset(&a->pc[0].endpoint, 0, sizeof(a->pc[0].endpoint));
	memset(&b->pc[0].endpoint, 0, sizeof(b->pc[0].endpoint));
	a->cfg.rekey_interval_ms = b->cfg.rekey_interval_ms = rekey_ms;
	node_start(a);
	node_start(b);
	memset(data_sent, 0, sizeof(data_sent));
	direct_inits_dropped = 0;
	path_drops = drop_direct;
	struct lm_cand ca[1] = {{.ep = b->ep, .type = CAND_HOST}};
	struct lm_cand cb[2] = {{.ep = a->ep, .type = CAND_HOST},
				{.ep = a->relayed, .type = CAND_RELAY}};
	ctl_linkmgr_set_candidates(&a->lm, lk_of(a), ca, 1, now);
	ctl_linkmgr_set_candidates(&b->lm, lk_of(b), cb, 2, now);
	deliver();
	for (int i = 0; i < 50 && (lk_of(a)->state != LM_UP || lk_of(b)->state != LM_UP); i++) {
		now += 100;
		tick_all();
		deliver();
	}
	/* settle what the connect left (a owes b an initiation) */
	for (int i = 0; i < 5; i++) {
		now += 100;
		tick_all();
		deliver();
	}
	assert_linked(a, b);
	struct net_endpoint b_via = b->ep;
	b_via.via = 1;
	assert_true(net_endpoint_equal(&lk_of(a)->endpoint, &b_via));
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->relayed));
	assert_non_null(strstr(lk_of(a)->why, "through our TURN relay"));
	assert_non_null(strstr(lk_of(b)->why, "relay candidate"));
	for (int i = 0; i < 2; i++) {
		struct lm_link *lk = lk_of(i ? b : a);
		assert_false(lk->pend.active);
		assert_false(lk->owe_init);
		assert_null(lk->next.sa_in);
		assert_int_equal((i ? b : a)->lm.hs.probes, 0); /* not before LM_PROBE_FIRST_MS */
	}
	direct_inits_dropped = 0;
	*pa = a;
	*pb = b;
}

/* The direct path opens under a relayed link: the next probe finds it and
 * the link moves to it, with no data lost on the way. */
static void test_upgrade_to_direct(void **state)
{
	(void)state;
	struct node *a, *b;
	relayed_pair(&a, &b, 120000);
	uint64_t up = now;

	/* 20 s with the direct path closed: probes go out, to the direct
	 * candidates only, nothing answers, nothing changes. */
	while (now - up < 20000)
		step_data(a, b, 100);
	/* (a probe that times out owes the peer an initiation, which goes over
	 * the relay and may cut the peer's probe short: not every probe runs
	 * to its timeout) */
	assert_true(a->lm.hs.probes_unanswered + b->lm.hs.probes_unanswered >= 1);
	for (int i = 0; i < 2; i++) {
		struct node *n = i ? b : a;
		assert_true(n->lm.hs.probes >= 2); /* at ~3 s, then ~6 s after the first ended */
		assert_int_equal(n->lm.hs.upgrades, 0);
		assert_int_equal(n->lm.hs.links_down, 0);
		assert_int_equal(lk_of(n)->state, LM_UP);
	}
	assert_true(lk_of(a)->endpoint.via == 1);
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->relayed));
	assert_true(direct_inits_dropped > 0);
	assert_true(direct_inits_dropped <= (a->lm.hs.probes + b->lm.hs.probes) * LM_PROBE_TRIES);
	assert_no_loss(a, b);

	/* The path opens. */
	path_drops = NULL;
	uint64_t t_open = now;
	uint64_t iv = lk_of(a)->probe_iv_ms > lk_of(b)->probe_iv_ms ? lk_of(a)->probe_iv_ms
								    : lk_of(b)->probe_iv_ms;
	while (!(direct(a, b) && direct(b, a)) && now - t_open < 70000)
		step_data(a, b, 100);
	uint64_t took = now - t_open;
	print_message("relayed -> direct %.1f s after the path opened (probe interval %.0f s)\n",
		      (double)took / 1000, (double)iv / 1000);
	assert_true(direct(a, b) && direct(b, a));
	/* the next try of a probe under way, or the next probe: at most the
	 * interval after the scheduled end of the last one */
	assert_true(took <= iv + LM_PROBE_TRIES * LM_PROBE_RETX_MS * 12 / 10 + 500);
	assert_no_loss(a, b);
	assert_int_equal(a->lm.hs.upgrades, 1);
	assert_int_equal(b->lm.hs.upgrades, 1);
	assert_non_null(strstr(lk_of(a)->why, "upgraded: "));
	assert_non_null(strstr(lk_of(b)->why, "upgraded: "));
	assert_non_null(strstr(lk_of(a)->why, "host candidate"));
	assert_non_null(strstr(lk_of(b)->why, "host candidate"));
	assert_int_equal(lk_of(a)->ep_cand, 0);
	assert_int_equal(lk_of(b)->ep_cand, 0);

	/* A direct link does not go back to the relay on data alone: the
	 * peer's relayed packets from before its switch must not move it. */
	struct net_endpoint b_via = b->ep;
	b_via.via = 1;
	assert_false(ctl_linkmgr_roam(&a->lm, a->peers.v[0].link->id, &b_via));
	assert_false(ctl_linkmgr_roam(&b->lm, b->peers.v[0].link->id, &a->relayed));
	assert_true(direct(a, b) && direct(b, a));

	/* Settled: one session each way, the relayed one gone after the
	 * overlap, and no more probes while direct. */
	while (now - t_open < took + LM_OVERLAP_MIN_MS + 2000)
		step_data(a, b, 100);
	assert_linked(a, b);
	assert_int_equal(a->pub.current->n_spi, 1);
	assert_int_equal(b->pub.current->n_spi, 1);
	uint64_t pa = a->lm.hs.probes, pb = b->lm.hs.probes;
	for (int i = 0; i < 100; i++)
		step_data(a, b, 1000);
	assert_int_equal(a->lm.hs.probes, pa);
	assert_int_equal(b->lm.hs.probes, pb);
	assert_true(direct(a, b) && direct(b, a));
	assert_linked(a, b);
	assert_no_loss(a, b);
	assert_int_equal(a->lm.hs.links_down + b->lm.hs.links_down, 0);
	teardown_all();
}

/* Steps until neither side has a handshake under way, holds their rekeys
 * off for a while, and makes n's next probe due now; returns once it went
 * out. */
static void probe_now(struct node *a, struct node *b, struct node *n)
{
	for (int i = 0; i < 100; i++) {
		struct lm_link *x = lk_of(a), *y = lk_of(b);
		if (!x->pend.active && !x->next.sa_in && !x->owe_init && !y->pend.active &&
		    !y->next.sa_in && !y->owe_init)
			break;
		step_data(a, b, 100);
	}
	lk_of(a)->rekey_at_ms = lk_of(b)->rekey_at_ms = now + 10000;
	lk_of(n)->probe_at_ms = now + 100;
	uint64_t probes = n->lm.hs.probes;
	step_data(a, b, 100);
	assert_int_equal(n->lm.hs.probes, probes + 1);
	assert_true(lk_of(n)->pend.active && lk_of(n)->pend.probe);
}

/* The direct path never opens: probes back off to one per LM_PROBE_MAX_MS,
 * the link stays up and relayed, rekeys keep their schedule, nothing is
 * counted as trouble. */
static void test_probe_bounded_when_closed(void **state)
{
	(void)state;
	struct node *a, *b;
	relayed_pair(&a, &b, 20000);
	uint64_t up = now;
	uint64_t retx = a->lm.hs.retransmits + b->lm.hs.retransmits;
	uint64_t rekeys = a->lm.hs.rekeys + b->lm.hs.rekeys;
	while (now - up < 600000) {
		step_data(a, b, 500);
		assert_int_equal(lk_of(a)->state, LM_UP);
		assert_int_equal(lk_of(b)->state, LM_UP);
		assert_true(lk_of(a)->probe_iv_ms <= LM_PROBE_MAX_MS);
	}
	for (int i = 0; i < 2; i++) {
		struct node *n = i ? b : a;
		/* 3, 6, 12, 24, 48, then 60 s apart (±20 %), each up to 3 s:
		 * about 12 in 10 minutes */
		print_message("%s: %llu probes, %llu unanswered in 600 s\n", n->name,
			      (unsigned long long)n->lm.hs.probes,
			      (unsigned long long)n->lm.hs.probes_unanswered);
		assert_true(n->lm.hs.probes >= 8);
		assert_true(n->lm.hs.probes <= 15);
		assert_true(n->lm.hs.probes_unanswered <= n->lm.hs.probes);
		assert_int_equal(n->lm.hs.upgrades, 0);
		assert_int_equal(n->lm.hs.links_down, 0);
		assert_int_equal(lk_of(n)->probe_iv_ms, LM_PROBE_MAX_MS);
	}
	assert_true(direct_inits_dropped <= (a->lm.hs.probes + b->lm.hs.probes) * LM_PROBE_TRIES);
	/* probes are not retransmissions; handshakes over the relay went on */
	assert_int_equal(a->lm.hs.retransmits + b->lm.hs.retransmits, retx);
	assert_true(a->lm.hs.rekeys + b->lm.hs.rekeys >= rekeys + 20);
	assert_true(lk_of(a)->endpoint.via == 1);
	assert_true(net_endpoint_equal(&lk_of(b)->endpoint, &a->relayed));
	assert_no_loss(a, b);

	/* A rekey that comes due while a probe is under way goes first. */
	struct node *lo = lower(a, b) ? a : b;
	probe_now(a, b, lo);
	uint64_t lo_rekeys = lo->lm.hs.rekeys;
	lk_of(lo)->rekey_at_ms = now + 300;
	for (int i = 0; i < 10 && lo->lm.hs.rekeys == lo_rekeys; i++)
		step_data(a, b, 100);
	assert_int_equal(lo->lm.hs.rekeys, lo_rekeys + 1);
	assert_false(lk_of(lo)->pend.probe);
	assert_false(lk_of(lo)->owe_init); /* the rekey paid it */
	for (int i = 0; i < 20; i++)
		step_data(a, b, 100);
	assert_linked(a, b);
	assert_true(lk_of(a)->endpoint.via == 1);
	assert_no_loss(a, b);

	/* The peer's initiation over the relay while our probe is under way:
	 * the probe gives way at once, even on the lower side. */
	probe_now(a, b, lo);
	struct node *hi = lo == a ? b : a;
	uint64_t coll = lo->lm.hs.collisions, hs = lk_of(hi)->handshakes;
	lk_of(hi)->rekey_at_ms = now;
	step_data(a, b, 100);
	assert_int_equal(lo->lm.hs.collisions, coll);
	assert_false(lk_of(lo)->pend.probe);
	for (int i = 0; i < 20; i++)
		step_data(a, b, 100);
	assert_true(lk_of(hi)->handshakes > hs);
	assert_linked(a, b);
	assert_false(lk_of(lo)->owe_init);
	assert_no_loss(a, b);
	teardown_all();
}

/* Both sides probe at the same moment once the path is open: the
 * simultaneous-initiation rule keeps one, and both end on one direct
 * session. */
static void test_probe_both_sides(void **state)
{
	(void)state;
	struct node *a, *b;
	relayed_pair(&a, &b, 120000);
	path_drops = NULL;
	step_data(a, b, 100);
	lk_of(a)->probe_at_ms = lk_of(b)->probe_at_ms = now + 100;
	step_data(a, b, 100); /* both send their probe in this tick */
	struct node *lo = lower(a, b) ? a : b;
	assert_int_equal(a->lm.hs.probes, 1);
	assert_int_equal(b->lm.hs.probes, 1);
	assert_int_equal(lo->lm.hs.collisions, 1);
	for (int i = 0; i < 20 && !(direct(a, b) && direct(b, a)); i++)
		step_data(a, b, 100);
	assert_true(direct(a, b) && direct(b, a));
	/* the overlap, and the initiation the higher side owes for its
	 * abandoned probe, made over the direct path */
	for (int i = 0; i < 80; i++)
		step_data(a, b, 100);
	assert_linked(a, b);
	assert_true(direct(a, b) && direct(b, a));
	for (int i = 0; i < 2; i++) {
		struct lm_link *lk = lk_of(i ? b : a);
		assert_false(lk->pend.active);
		assert_false(lk->owe_init);
		assert_null(lk->next.sa_in);
		assert_null(lk->prev.sa_in);
		assert_non_null(strstr(lk->why, "upgraded: "));
	}
	assert_int_equal(a->pub.current->n_spi, 1);
	assert_int_equal(b->pub.current->n_spi, 1);
	assert_int_equal(a->lm.hs.upgrades, 1);
	assert_int_equal(b->lm.hs.upgrades, 1);
	assert_int_equal(a->lm.hs.probes_unanswered + b->lm.hs.probes_unanswered, 0);
	assert_no_loss(a, b);
	teardown_all();
}

/* Both nodes behind stateful firewalls (home routers): a datagram between
 * their own addresses gets in only if the receiver sent one to the sender
 * in the last 30 s (the mapping its own datagram opened, whether or not
 * that one arrived). Closed: nothing passes at all. */
static bool nat_closed;
static uint64_t opened_at[MAXN][MAXN];

static int node_idx(const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (nodes[i] && net_endpoint_equal(&nodes[i]->ep, ep))
			return (int)i;
	return -1;
}

static bool drop_unsolicited(const struct dgram *d)
{
	int from = node_idx(&d->from), to = node_idx(&d->to);
	if (d->to.via || to < 0 || from < 0)
		return false; /* through the relay */
	if (nat_closed) {
		if (d->len == HS_INIT_LEN && d->data[4] == HS_INITIATION)
			direct_inits_dropped++;
		return true;
	}
	opened_at[from][to] = now;
	return !opened_at[to][from] || now - opened_at[to][from] > 30000;
}

/* Two NATs: neither side's probe alone gets in (the other router has no
 * mapping for it), but both ends probe at the same moments, so each one's
 * tries open the mapping the other's come in through. */
static void test_upgrade_two_nats(void **state)
{
	(void)state;
	struct node *a, *b;
	relayed_pair(&a, &b, 120000);
	memset(opened_at, 0, sizeof(opened_at));
	nat_closed = true;
	path_drops = drop_unsolicited;
	/* long enough for the interval to reach LM_PROBE_MAX_MS (random
	 * jitter would have drifted the two ends apart by now) */
	uint64_t up = now;
	while (now - up < 300000)
		step_data(a, b, 100);
	assert_int_equal(lk_of(a)->probe_iv_ms, LM_PROBE_MAX_MS);
	assert_int_equal(a->lm.hs.upgrades + b->lm.hs.upgrades, 0);
	/* on the same schedule: the same number of probes so far */
	assert_int_equal(a->lm.hs.probes, b->lm.hs.probes);
	nat_closed = false; /* the filter goes; the routers' firewalls stay */
	uint64_t t_open = now;
	uint64_t iv = lk_of(a)->probe_iv_ms > lk_of(b)->probe_iv_ms ? lk_of(a)->probe_iv_ms
								    : lk_of(b)->probe_iv_ms;
	while (!(direct(a, b) && direct(b, a)) && now - t_open < 70000)
		step_data(a, b, 100);
	uint64_t took = now - t_open;
	print_message("two NATs: relayed -> direct %.1f s after the path opened\n",
		      (double)took / 1000);
	assert_true(direct(a, b) && direct(b, a));
	assert_true(took <= iv + LM_PROBE_TRIES * LM_PROBE_RETX_MS * 12 / 10 + 500);
	for (int i = 0; i < 80; i++)
		step_data(a, b, 100);
	assert_linked(a, b);
	assert_true(direct(a, b) && direct(b, a));
	assert_int_equal(a->lm.hs.upgrades, 1);
	assert_int_equal(b->lm.hs.upgrades, 1);
	assert_int_equal(a->pub.current->n_spi, 1);
	assert_int_equal(b->pub.current->n_spi, 1);
	assert_no_loss(a, b);
	teardown_all();
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_handshake, per_test_teardown),
	    cmocka_unit_test_teardown(test_candidates, per_test_teardown),
	    cmocka_unit_test_teardown(test_roaming, per_test_teardown),
	    cmocka_unit_test_teardown(test_simultaneous, per_test_teardown),
	    cmocka_unit_test_teardown(test_collision_after_loss, per_test_teardown),
	    cmocka_unit_test_teardown(test_initiations_filtered_one_way, per_test_teardown),
	    cmocka_unit_test_teardown(test_rekey_overlap, per_test_teardown),
	    cmocka_unit_test_teardown(test_volume_rekey, per_test_teardown),
	    cmocka_unit_test_teardown(test_clock_step_back, per_test_teardown),
	    cmocka_unit_test_teardown(test_replayed_initiation, per_test_teardown),
	    cmocka_unit_test_teardown(test_unknown_and_disallowed_key, per_test_teardown),
	    cmocka_unit_test_teardown(test_wrong_psk, per_test_teardown),
	    cmocka_unit_test_teardown(test_garbage_and_mac1, per_test_teardown),
	    cmocka_unit_test_teardown(test_cookie_under_load, per_test_teardown),
	    cmocka_unit_test_teardown(test_ratelimit, per_test_teardown),
	    cmocka_unit_test_teardown(test_link_down_and_recovery, per_test_teardown),
	    cmocka_unit_test_teardown(test_backoff, per_test_teardown),
	    cmocka_unit_test_teardown(test_restart, per_test_teardown),
	    cmocka_unit_test_teardown(test_reload_keeps_link, per_test_teardown),
	    cmocka_unit_test_teardown(test_key_export_copy, per_test_teardown),
	    cmocka_unit_test_teardown(test_publish_failure_no_answer, per_test_teardown),
	    cmocka_unit_test_teardown(test_upgrade_to_direct, per_test_teardown),
	    cmocka_unit_test_teardown(test_probe_bounded_when_closed, per_test_teardown),
	    cmocka_unit_test_teardown(test_probe_both_sides, per_test_teardown),
	    cmocka_unit_test_teardown(test_upgrade_two_nats, per_test_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
