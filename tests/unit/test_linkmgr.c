/* Link lifetime (linkmgr.c): a link comes up, survives a reload, a restart,
 * keeps key copies only for export, learns candidates and roams. The
 * harness (two or three nodes in memory) is linkmgr_harness.h. */
#include "linkmgr_harness.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_handshake, per_test_teardown),
	    cmocka_unit_test_teardown(test_candidates, per_test_teardown),
	    cmocka_unit_test_teardown(test_roaming, per_test_teardown),
	    cmocka_unit_test_teardown(test_restart, per_test_teardown),
	    cmocka_unit_test_teardown(test_reload_keeps_link, per_test_teardown),
	    cmocka_unit_test_teardown(test_key_export_copy, per_test_teardown),
	    cmocka_unit_test_teardown(test_publish_failure_no_answer, per_test_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
