/* The timers of the link manager (lm_timers.c): rekeys on time and
 * volume, link timeout and recovery, retransmission backoff, and relayed
 * links probing for a direct pair. Harness: linkmgr_harness.h. */
#include "linkmgr_harness.h"

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
	struct dp_pkt *p = &pkt;
	dp_pkt_reset(p);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_rekey_overlap, per_test_teardown),
	    cmocka_unit_test_teardown(test_volume_rekey, per_test_teardown),
	    cmocka_unit_test_teardown(test_link_down_and_recovery, per_test_teardown),
	    cmocka_unit_test_teardown(test_backoff, per_test_teardown),
	    cmocka_unit_test_teardown(test_upgrade_to_direct, per_test_teardown),
	    cmocka_unit_test_teardown(test_probe_bounded_when_closed, per_test_teardown),
	    cmocka_unit_test_teardown(test_probe_both_sides, per_test_teardown),
	    cmocka_unit_test_teardown(test_upgrade_two_nats, per_test_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
