/* Unit tests for the relaying part of the TURN client (control/nat/turn.c),
 * on the fixture of test_turn.c: permissions for every advertised IP in
 * batches and their refresh (and the retry of a failed refresh), the
 * permission limit, channels bound on first contact, Send indications before
 * and ChannelData after, ChannelData and Data indications that must be
 * dropped, the forwarding table, and a refused ChannelBind.
 */
#include "tests/unit/turn_fixture.h"

/* Collects the XOR-PEER-ADDRESSes of a CreatePermission. */
static unsigned perm_ips(const struct stun_msg *m, struct net_endpoint *out, unsigned max)
{
	unsigned n = 0;
	uint16_t len;
	const uint8_t *v;
	while (n < max && (v = attr_nth(m, STUN_ATTR_XOR_PEER_ADDRESS, n, &len)))
		out[n++] = xor_addr(m, v, len);
	assert_null(attr_nth(m, STUN_ATTR_XOR_PEER_ADDRESS, n, &len));
	return n;
}

static const char *const advertised[] = {
    "198.51.100.1:5800", "198.51.100.2:5800", "198.51.100.3:1",	    "10.0.0.4:5800",
    "172.16.0.5:5800",	 "192.168.1.6:5800",  "[2001:db8::7]:5800", "[2001:db8::8]:5801",
    "203.0.113.9:5800",	 "203.0.113.10:5800",
};
#define NADV (sizeof(advertised) / sizeof(advertised[0]))

/* Every address a member advertises gets a permission (per IP, port
 * ignored), in batches of TURN_PERM_PER_REQ, once the allocation is ready;
 * all of them are refreshed every TURN_PERM_REFRESH_MS. */
static void test_permissions(void **state)
{
	struct fx *f = *state;
	struct net_endpoint got[TURN_PERM_PER_REQ + 1];

	for (unsigned i = 0; i < NADV; i++) {
		struct net_endpoint a = ep(advertised[i]);
		ctl_turn_permit(&f->c->turn, &a);
		a.port = 9999; /* the same IP with another port: nothing new */
		ctl_turn_permit(&f->c->turn, &a);
	}
	assert_int_equal(al0(f)->nperm, NADV);
	allocate(f, 600); /* asserts nothing else went out */

	/* The first tick while ready sends them: 8 + 2. */
	tick(f, 0);
	struct stun_msg p1 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	struct stun_msg p2 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	expect_nothing(f);
	assert_int_equal(perm_ips(&p1, got, TURN_PERM_PER_REQ + 1), TURN_PERM_PER_REQ);
	bool seen[NADV] = {0};
	for (int pass = 0; pass < 2; pass++) {
		unsigned k = perm_ips(pass ? &p2 : &p1, got, TURN_PERM_PER_REQ + 1);
		for (unsigned i = 0; i < k; i++) {
			assert_int_equal(got[i].port, 0);
			bool found = false;
			for (unsigned j = 0; j < NADV; j++) {
				struct net_endpoint a = ep(advertised[j]);
				if (same_ip(&a, &got[i])) {
					assert_false(seen[j]);
					seen[j] = found = true;
					assert_int_equal(got[i].family, a.family);
				}
			}
			assert_true(found);
		}
	}
	for (unsigned j = 0; j < NADV; j++)
		assert_true(seen[j]);
	tick(f, 0); /* nothing more while they are outstanding */
	expect_nothing(f);
	ok(f, &p1, 0);
	ok(f, &p2, 0);
	assert_int_equal(cnt(f)->permissions, 2);
	for (unsigned i = 0; i < NADV; i++)
		assert_true(al0(f)->perm[i].installed);
	tick(f, 1000);
	expect_nothing(f);

	/* A new address: only the batch it falls in. */
	struct net_endpoint late = ep("198.51.100.77:6000");
	ctl_turn_permit(&f->c->turn, &late);
	tick(f, 0);
	struct stun_msg p3 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	expect_nothing(f);
	unsigned k = perm_ips(&p3, got, TURN_PERM_PER_REQ + 1);
	assert_int_equal(k, NADV + 1 - TURN_PERM_PER_REQ);
	assert_true(same_ip(&got[k - 1], &late));
	ok(f, &p3, 0);

	json_t *o = ctl_turn_json(&f->c->turn);
	json_t *perms =
	    json_object_get(json_array_get(json_object_get(o, "servers"), 0), "permissions");
	assert_int_equal(json_array_size(perms), NADV + 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(perms, 0), "address")),
			    "198.51.100.1");
	assert_true(json_is_true(json_object_get(json_array_get(perms, NADV), "installed")));
	json_decref(o);

	/* Refresh: all of them, TURN_PERM_REFRESH_MS after the last batch. */
	tick(f, TURN_PERM_REFRESH_MS - 1);
	/* (the allocation's own refresh at 300 s is not due yet) */
	expect_nothing(f);
	tick(f, 1);
	p1 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	p2 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	expect_nothing(f);
	assert_int_equal(perm_ips(&p1, got, TURN_PERM_PER_REQ + 1) +
			     perm_ips(&p2, got, TURN_PERM_PER_REQ + 1),
			 NADV + 1);
	ok(f, &p1, 0);

	/* The server refuses the second batch's refresh: retried after
	 * TURN_RETRY_MS, long before those permissions run out (300 s). */
	error(f, &p2, STUN_ERR_FORBIDDEN);
	assert_int_equal(cnt(f)->errors, 1);
	tick(f, TURN_RETRY_MS - 1);
	expect_nothing(f);
	tick(f, 1);
	struct stun_msg p4 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	assert_int_equal(perm_ips(&p4, got, TURN_PERM_PER_REQ + 1), NADV + 1 - TURN_PERM_PER_REQ);
	expect_nothing(f);
	ok(f, &p4, 0);
	for (unsigned i = 0; i <= NADV; i++)
		assert_true(al0(f)->perm[i].installed);

	/* A new allocation installs all of them again. */
	tick(f, 300000 - TURN_RETRY_MS - TURN_PERM_REFRESH_MS); /* allocation refresh due */
	struct stun_msg r = take_req(f, 0, TURN_REFRESH, true);
	error(f, &r, STUN_ERR_ALLOCATION_MISMATCH);
	assert_false(al0(f)->perm[0].installed);
	tick(f, 0);
	r = take_req(f, 0, TURN_ALLOCATE, true);
	ok(f, &r, 600);
	tick(f, 0);
	p1 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	p2 = take_req(f, 0, TURN_CREATE_PERMISSION, true);
	expect_nothing(f);
	ok(f, &p1, 0);
	ok(f, &p2, 0);
	for (unsigned i = 0; i <= NADV; i++)
		assert_true(al0(f)->perm[i].installed);
}

/* More addresses than TURN_MAX_PERM: the rest are refused, not overrun. */
static void test_permission_limit(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < TURN_MAX_PERM + 5; i++) {
		char s[64];
		snprintf(s, sizeof(s), "198.51.%u.%u:5800", i / 200, 1 + i % 200);
		struct net_endpoint a = ep(s);
		ctl_turn_permit(&f->c->turn, &a);
	}
	assert_int_equal(al0(f)->nperm, TURN_MAX_PERM);
	allocate(f, 600);
	tick(f, 0);
	for (unsigned i = 0; i < TURN_MAX_PERM / TURN_PERM_PER_REQ; i++) {
		struct stun_msg p = take_req(f, 0, TURN_CREATE_PERMISSION, true);
		struct net_endpoint got[TURN_PERM_PER_REQ];
		assert_int_equal(perm_ips(&p, got, TURN_PERM_PER_REQ), TURN_PERM_PER_REQ);
		ok(f, &p, 0);
	}
	expect_nothing(f);
}

/* Permitted peers, the channel bound on first contact, what goes out
 * before and after, and what comes in that must be dropped. */
static void test_channels(void **state)
{
	struct fx *f = *state;
	uint8_t buf[STUN_MSG_MAX];
	size_t n;
	struct net_endpoint p = ep("198.51.100.1:41000"); /* NAT mapping of an advertised IP */
	struct net_endpoint q = ep("[2001:db8::7]:5800");
	struct net_endpoint p_adv = ep("198.51.100.1:5800"), q_adv = ep("[2001:db8::7]:5800");

	ctl_turn_permit(&f->c->turn, &p_adv);
	ctl_turn_permit(&f->c->turn, &q_adv);
	allocate(f, 600);
	tick(f, 0);
	ok(f, (struct stun_msg[]){take_req(f, 0, TURN_CREATE_PERMISSION, true)}, 0);
	expect_nothing(f);

	/* A handshake from p in a Data indication: to the link manager (this
	 * one is malformed: lm counts it, proof it got there), and a
	 * ChannelBind to p at once. */
	uint8_t hs[40] = {0, 0, 0, 0, 1};
	n = build_data_ind(&p, hs, sizeof(hs), buf);
	deliver(f, buf, n);
	assert_int_equal(cnt(f)->data_indications, 1);
	assert_int_equal(f->c->lm.hs.malformed, 1);
	struct stun_msg cb = take_req(f, 0, TURN_CHANNEL_BIND, true);
	expect_nothing(f);
	assert_true(cb.attrs & STUN_HAS_CHANNEL);
	assert_int_equal(cb.channel, TURN_CHANNEL_MIN);
	assert_true(cb.attrs & STUN_HAS_PEER);
	assert_true(net_endpoint_equal(&cb.peer, &p)); /* with its port: channels are per address */

	/* Again before the binding is answered: no second ChannelBind. */
	deliver(f, buf, n);
	assert_int_equal(f->c->lm.hs.malformed, 2);
	expect_nothing(f);

	/* What the link manager sends to p meanwhile: a Send indication. */
	struct net_endpoint to_p = p;
	to_p.via = 1;
	static const uint8_t payload[] = "\0\0\0\0handshake answer";
	assert_int_equal(ctl_turn_send(&f->c->turn, &to_p, payload, sizeof(payload)), 0);
	assert_true(pending(f) == 1);
	struct sent *s = &f->q[f->head++];
	assert_true(net_endpoint_equal(&s->to, &f->server));
	struct stun_msg si;
	assert_int_equal(stun_parse(s->buf, s->len, &si), 0);
	assert_int_equal(si.method, TURN_SEND);
	assert_int_equal(si.cls, STUN_INDICATION);
	assert_true(net_endpoint_equal(&si.peer, &p));
	assert_int_equal(si.data.len, sizeof(payload));
	assert_memory_equal(si.data.p, payload, sizeof(payload));
	assert_int_equal(cnt(f)->sent_indications, 1);
	expect_nothing(f); /* the ChannelBind is already on its way */

	/* The forwarding table: the server is a relay; a link to p through it
	 * has no outbound SA until the channel is bound. */
	struct dp_table_params tp = {.mode = DP_MODE_SWITCH, .mtu = 1400};
	static struct dp_link links[3];
	static struct dp_sa sa;
	struct dp_table *t = dp_table_create(&tp, 3, 4, 4, 4);
	assert_non_null(t);
	struct net_endpoint direct = ep("198.51.100.50:5800"), to_q = q;
	to_q.via = 1;
	dp_table_set_link(t, 0, &links[0], &sa, &to_p);
	dp_table_set_link(t, 1, &links[1], &sa, &direct);
	dp_table_set_link(t, 2, &links[2], &sa, &to_q);
	ctl_turn_table(&f->c->turn, t);
	assert_true(dp_table_is_relay(t, &f->server));
	assert_null(t->links[0].sa_out);
	assert_ptr_equal(t->links[1].sa_out, &sa);
	assert_int_equal(t->links[1].relay_chan, 0);
	assert_null(t->links[2].sa_out);
	dp_table_free(t);

	/* Bound. */
	f->c->table_dirty = false;
	ok(f, &cb, 0);
	assert_int_equal(cnt(f)->channel_binds, 1);
	assert_true(al0(f)->chan[0].bound);
	assert_true(f->c->table_dirty);
	t = dp_table_create(&tp, 3, 4, 4, 4);
	assert_non_null(t);
	dp_table_set_link(t, 0, &links[0], &sa, &to_p);
	dp_table_set_link(t, 1, &links[1], &sa, &direct);
	dp_table_set_link(t, 2, &links[2], &sa, &to_q);
	ctl_turn_table(&f->c->turn, t);
	assert_ptr_equal(t->links[0].sa_out, &sa);
	assert_int_equal(t->links[0].relay_chan, TURN_CHANNEL_MIN);
	assert_true(net_endpoint_equal(&t->links[0].relay, &f->server));
	assert_int_equal(t->links[1].relay_chan, 0);
	assert_null(t->links[2].sa_out);
	dp_table_free(t);

	/* Now ChannelData, unpadded. */
	assert_int_equal(ctl_turn_send(&f->c->turn, &to_p, payload, sizeof(payload)), 0);
	s = &f->q[f->head++];
	assert_int_equal(s->len, TURN_CHANNEL_HDR_LEN + sizeof(payload));
	assert_int_equal(be16(s->buf), TURN_CHANNEL_MIN);
	assert_int_equal(be16(s->buf + 2), sizeof(payload));
	assert_memory_equal(s->buf + 4, payload, sizeof(payload));
	assert_int_equal(cnt(f)->sent_channel_data, 1);
	expect_nothing(f);
	/* Not a relayed endpoint, or not ours. */
	struct net_endpoint bad = p;
	bad.via = 0;
	assert_int_equal(ctl_turn_send(&f->c->turn, &bad, payload, sizeof(payload)), -EINVAL);
	bad.via = 2;
	assert_int_equal(ctl_turn_send(&f->c->turn, &bad, payload, sizeof(payload)), -EINVAL);
	expect_nothing(f);

	/* ChannelData in from the server on the bound channel, padded or not:
	 * to the link manager as coming from p. */
	for (int pad = 0; pad < 2; pad++) {
		int k = turn_channel_data_encode(TURN_CHANNEL_MIN, hs, 37, pad, buf, sizeof(buf));
		assert_true(k > 0);
		ctl_turn_channel_input(&f->c->turn, buf, (size_t)k, &f->server, f->now);
	}
	assert_int_equal(cnt(f)->channel_data_in, 2);
	assert_int_equal(f->c->lm.hs.malformed, 4);
	expect_nothing(f);

	/* ChannelData that must be dropped: a channel nobody bound, from an
	 * address that is not the server, with a bad length, too short. */
	uint64_t dropped = cnt(f)->dropped;
	n = (size_t)turn_channel_data_encode(TURN_CHANNEL_MIN + 1, hs, 8, false, buf, sizeof(buf));
	ctl_turn_channel_input(&f->c->turn, buf, n, &f->server, f->now);
	n = (size_t)turn_channel_data_encode(TURN_CHANNEL_MAX, hs, 8, false, buf, sizeof(buf));
	ctl_turn_channel_input(&f->c->turn, buf, n, &f->server, f->now);
	assert_int_equal(cnt(f)->unknown_channel, 2);
	n = (size_t)turn_channel_data_encode(TURN_CHANNEL_MIN, hs, 8, false, buf, sizeof(buf));
	ctl_turn_channel_input(&f->c->turn, buf, n, &p, f->now);
	ctl_turn_channel_input(&f->c->turn, buf, n, &f->server2, f->now);
	ctl_turn_channel_input(&f->c->turn, buf, n - 1, &f->server, f->now);
	ctl_turn_channel_input(&f->c->turn, buf, n + 5, &f->server, f->now);
	for (size_t k = 0; k < TURN_CHANNEL_HDR_LEN; k++)
		ctl_turn_channel_input(&f->c->turn, buf, k, &f->server, f->now);
	assert_int_equal(cnt(f)->dropped, dropped + 4 + TURN_CHANNEL_HDR_LEN);
	assert_int_equal(cnt(f)->channel_data_in, 2);
	assert_int_equal(f->c->lm.hs.malformed, 4);

	/* A Data indication from a peer whose IP has no permission: the server
	 * would not have forwarded it (RFC 5766 §10.4: discard it). No channel
	 * for it, nothing to the link manager. */
	struct net_endpoint stranger = ep("203.0.113.66:5800");
	n = build_data_ind(&stranger, hs, sizeof(hs), buf);
	deliver(f, buf, n);
	assert_int_equal(cnt(f)->dropped, dropped + 5 + TURN_CHANNEL_HDR_LEN);
	assert_int_equal(cnt(f)->data_indications, 2);
	assert_int_equal(f->c->lm.hs.malformed, 4);
	assert_int_equal(al0(f)->nchan, 1);
	expect_nothing(f);

	/* The same from the wrong source. */
	n = build_data_ind(&q, hs, sizeof(hs), buf);
	deliver_from(f, &q, buf, n);
	assert_int_equal(cnt(f)->data_indications, 2);
	/* A Data indication without DATA. */
	struct stun_builder b;
	uint8_t txid[STUN_TXID_LEN] = {1};
	stun_build_start(&b, buf, sizeof(buf), TURN_DATA, STUN_INDICATION, txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &q);
	deliver(f, buf, resp_end(f, &b, 0));
	assert_int_equal(cnt(f)->dropped, dropped + 6 + TURN_CHANNEL_HDR_LEN);

	/* ESP from q before a channel: lost (workers only decrypt ChannelData),
	 * but it binds one; anything else is dropped. */
	uint8_t esp[64] = {0x80, 0, 0, 1, 0, 0, 0, 1};
	n = build_data_ind(&q, esp, sizeof(esp), buf);
	deliver(f, buf, n);
	assert_int_equal(cnt(f)->esp_before_channel, 1);
	struct stun_msg cb2 = take_req(f, 0, TURN_CHANNEL_BIND, true);
	assert_int_equal(cb2.channel, TURN_CHANNEL_MIN + 1);
	assert_true(net_endpoint_equal(&cb2.peer, &q));
	uint8_t junk[16] = {0x7f, 1, 2, 3};
	n = build_data_ind(&q, junk, sizeof(junk), buf);
	deliver(f, buf, n);
	assert_int_equal(cnt(f)->dropped, dropped + 7 + TURN_CHANNEL_HDR_LEN);
	expect_nothing(f);
	/* The server refuses that binding: retried after TURN_RETRY_MS. */
	error(f, &cb2, STUN_ERR_FORBIDDEN);
	assert_false(al0(f)->chan[1].bound);
	tick(f, TURN_RETRY_MS - 1);
	expect_nothing(f);
	tick(f, 1);
	cb2 = take_req(f, 0, TURN_CHANNEL_BIND, true);
	assert_int_equal(cb2.channel, TURN_CHANNEL_MIN + 1);
	ok(f, &cb2, 0);
	assert_true(al0(f)->chan[1].bound);

	{
		json_t *o = ctl_turn_json(&f->c->turn);
		json_t *ch =
		    json_object_get(json_array_get(json_object_get(o, "servers"), 0), "channels");
		assert_int_equal(json_array_size(ch), 2);
		assert_int_equal(
		    json_integer_value(json_object_get(json_array_get(ch, 0), "channel")),
		    TURN_CHANNEL_MIN);
		assert_true(json_is_true(json_object_get(json_array_get(ch, 1), "bound")));
		json_decref(o);
	}

	/* Channel refresh: TURN_CHAN_REFRESH_MS after the binding, same number.
	 * (Answer the allocation and permission refreshes on the way.) */
	uint64_t bound_at = f->now - TURN_RETRY_MS; /* channel 0 was bound then */
	uint64_t end = bound_at + TURN_CHAN_REFRESH_MS;
	bool rebound = false;
	while (f->now < end + 1000) {
		tick(f, 1000);
		while (pending(f)) {
			struct stun_msg m;
			struct sent *x = &f->q[f->head];
			assert_int_equal(stun_parse(x->buf, x->len, &m), 0);
			m = take_req(f, 0, m.method, true);
			if (m.method == TURN_CHANNEL_BIND && m.channel == TURN_CHANNEL_MIN) {
				assert_true(f->now >= end);
				assert_true(net_endpoint_equal(&m.peer, &p));
				rebound = true;
			}
			ok(f, &m, 600);
		}
	}
	assert_true(rebound);
	assert_int_equal(al0(f)->state, TURN_READY);
}

/* 401 to an authenticated ChannelBind (the server no longer takes our
 * credentials for it): the channel is not left pending forever. */
static void test_channel_refused(void **state)
{
	struct fx *f = *state;
	uint8_t buf[STUN_MSG_MAX];
	struct net_endpoint p = ep("198.51.100.1:41000");
	ctl_turn_permit(&f->c->turn, &p);
	allocate(f, 600);
	tick(f, 0);
	ok(f, (struct stun_msg[]){take_req(f, 0, TURN_CREATE_PERMISSION, true)}, 0);
	uint8_t hs[8] = {0};
	deliver(f, buf, build_data_ind(&p, hs, sizeof(hs), buf));
	struct stun_msg cb = take_req(f, 0, TURN_CHANNEL_BIND, true);
	refuse(f, &cb);
	assert_int_equal(cnt(f)->errors, 1);
	assert_false(al0(f)->chan[0].pending);
	assert_int_equal(al0(f)->state, TURN_READY); /* the allocation itself is fine */
	expect_nothing(f);
	tick(f, TURN_RETRY_MS);
	cb = take_req(f, 0, TURN_CHANNEL_BIND, true);
	ok(f, &cb, 0);
	assert_true(al0(f)->chan[0].bound);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_permissions, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_permission_limit, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_channels, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_refused, setup1, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
