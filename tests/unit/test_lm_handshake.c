/* The handshakes of the link manager (lm_handshake.c): simultaneous
 * initiations, collisions, replays, timestamps, keys, PSK, mac1, cookies
 * under load, the rate limit. Harness: linkmgr_harness.h. */
#include "linkmgr_harness.h"

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

/* The round-trip time: from the send of the initiation that was answered
 * (a retransmission's, not the first's) to its authenticated response;
 * forged or replayed responses change nothing. */
static void test_rtt(void **state)
{
	(void)state;
	struct node *a, *b;
	pair(&a, &b);
	struct lm_link *la = lk_of(a);
	tick(a);
	assert_int_equal(qlen, 1);
	qlen = 0; /* the first initiation is lost */
	uint64_t first = now;
	now = la->pend.next_ms;
	tick(a);
	assert_int_equal(qlen, 1);
	assert_int_equal(a->lm.hs.retransmits, 1);
	assert_true(now - first >= 500);
	struct dgram init = queue[0];
	qlen = 0;
	now += 20; /* there */
	ctl_linkmgr_input(&b->lm, init.data, init.len, &init.from, now);
	assert_int_equal(qlen, 1);
	struct dgram resp = queue[0];
	qlen = 0;
	now += 17; /* and back */
	/* forged: a valid mac1 (anyone can compute it) over a changed Noise
	 * part does not authenticate, and measures nothing */
	struct dgram forged = resp;
	forged.data[HS_HDR_LEN + 40] ^= 1;
	hs_macs_write(forged.data, forged.len, &a->lm.own_keys, NULL);
	ctl_linkmgr_input(&a->lm, forged.data, forged.len, &forged.from, now);
	assert_int_equal(a->lm.hs.decrypt_fail, 1);
	assert_false(la->has_rtt);
	assert_int_equal(la->state, LM_CONNECTING);
	now += 3;
	ctl_linkmgr_input(&a->lm, resp.data, resp.len, &resp.from, now);
	assert_int_equal(la->state, LM_UP);
	assert_true(la->has_rtt);
	assert_int_equal(la->rtt_ms, 40); /* from the retransmission, not from `first` */
	assert_int_equal(la->srtt8, 40 * 8);
	assert_false(lk_of(b)->has_rtt); /* b only answered */
	settle();
	assert_linked(a, b);
	/* the response again, later (a replay): no pending initiation it
	 * answers, so no sample */
	now += 500;
	ctl_linkmgr_input(&a->lm, resp.data, resp.len, &resp.from, now);
	assert_int_equal(la->rtt_ms, 40);

	/* a rekey answered after 120 ms: the last sample, and SRTT moves by 1/8 */
	la->rekey_at_ms = now;
	qlen = 0;
	tick(a);
	assert_int_equal(qlen, 1);
	init = queue[0];
	qlen = 0;
	now += 60;
	ctl_linkmgr_input(&b->lm, init.data, init.len, &init.from, now);
	assert_int_equal(qlen, 1);
	now += 60;
	deliver();
	assert_int_equal(la->rekeys, 1);
	assert_int_equal(la->rtt_ms, 120);
	assert_int_equal(la->srtt8, 40 * 8 - 40 + 120); /* 50 ms */
	teardown_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_simultaneous, per_test_teardown),
	    cmocka_unit_test_teardown(test_collision_after_loss, per_test_teardown),
	    cmocka_unit_test_teardown(test_initiations_filtered_one_way, per_test_teardown),
	    cmocka_unit_test_teardown(test_clock_step_back, per_test_teardown),
	    cmocka_unit_test_teardown(test_replayed_initiation, per_test_teardown),
	    cmocka_unit_test_teardown(test_unknown_and_disallowed_key, per_test_teardown),
	    cmocka_unit_test_teardown(test_wrong_psk, per_test_teardown),
	    cmocka_unit_test_teardown(test_garbage_and_mac1, per_test_teardown),
	    cmocka_unit_test_teardown(test_cookie_under_load, per_test_teardown),
	    cmocka_unit_test_teardown(test_ratelimit, per_test_teardown),
	    cmocka_unit_test_teardown(test_rtt, per_test_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
