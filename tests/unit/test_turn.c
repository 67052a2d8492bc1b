/* Unit tests for control/nat/turn.c, the TURN relay client, without a network:
 * the client's datagrams are caught by the ctl_turn.send hook, and a TURN
 * server is played by the test with stun.c's builder (responses carry
 * MESSAGE-INTEGRITY with the long-term key, as a real server's do). Answers
 * go in through ctl_disc_stun_input (parse, then the TURN client, then the
 * STUN binding client: the daemon's path for punted STUN) and
 * ctl_turn_channel_input; time is a virtual clock handed to ctl_turn_tick.
 *
 * Covered: Allocate → 401 → authenticated Allocate → relayed address, the
 * refresh at half the lifetime, retransmissions and the timeout, 438 Stale
 * Nonce retries and their bound, 437 on Allocate and on Refresh, wrong
 * credentials, responses that must be ignored (integrity missing or wrong,
 * another transaction, another method, another source, truncated, corrupted),
 * and Refresh 0 on shutdown. Permissions, channels and relaying are
 * test_turn_relay.c.
 * tests/netns/test_turn.sh runs the same client against coturn.
 */
#include "tests/unit/turn_fixture.h"

/* ---- tests ------------------------------------------------------------------ */

static void test_allocate(void **state)
{
	struct fx *f = *state;
	struct net_endpoint out[TURN_MAX_ALLOC];

	assert_int_equal(al0(f)->state, TURN_IDLE);
	expect_nothing(f); /* creating sends nothing */

	/* First tick: an unauthenticated Allocate for UDP, lifetime 600. */
	tick(f, 0);
	struct stun_msg a1 = take_req(f, 0, TURN_ALLOCATE, false);
	uint16_t len;
	const uint8_t *v = attr_nth(&a1, STUN_ATTR_REQUESTED_TRANSPORT, 0, &len);
	assert_non_null(v);
	assert_int_equal(len, 4);
	assert_int_equal(v[0], TURN_TRANSPORT_UDP);
	assert_true(a1.attrs & STUN_HAS_LIFETIME);
	assert_int_equal(a1.lifetime, TURN_LIFETIME_S);
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	assert_int_equal(ctl_turn_relayed(&f->c->turn, out, TURN_MAX_ALLOC), 0);
	expect_nothing(f);
	tick(f, 0); /* no second Allocate while one is outstanding */
	expect_nothing(f);

	/* 401: the same request again with credentials, a new transaction. */
	uint8_t old401[STUN_MSG_MAX];
	size_t n401 = build_challenge(f, &a1, STUN_ERR_UNAUTHORIZED, old401);
	deliver(f, old401, n401);
	struct stun_msg a2 = take_req(f, 0, TURN_ALLOCATE, true);
	assert_memory_not_equal(a1.txid, a2.txid, STUN_TXID_LEN);
	assert_int_equal(a2.lifetime, TURN_LIFETIME_S);
	assert_non_null(attr_nth(&a2, STUN_ATTR_REQUESTED_TRANSPORT, 0, &len));
	assert_int_equal(cnt(f)->auth_retries, 1);
	assert_int_equal(cnt(f)->requests, 2);

	/* A copy of the 401 (the first transaction is over): not ours any
	 * more, left to the STUN client, which counts it unmatched. */
	deliver(f, old401, n401);
	expect_nothing(f);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, 1);
	assert_int_equal(cnt(f)->auth_retries, 1);

	/* Success: relayed and mapped addresses, lifetime 300. */
	f->c->table_dirty = false;
	ok(f, &a2, 300);
	assert_int_equal(al0(f)->state, TURN_READY);
	assert_int_equal(cnt(f)->allocations, 1);
	assert_true(f->c->table_dirty); /* workers must accept ChannelData from it */
	assert_int_equal(ctl_turn_relayed(&f->c->turn, out, TURN_MAX_ALLOC), 1);
	assert_true(net_endpoint_equal(&out[0], &f->relayed));
	assert_true(al0(f)->a.has_mapped);
	assert_true(net_endpoint_equal(&al0(f)->a.mapped, &f->mapped));
	assert_int_equal(al0(f)->a.lifetime_s, 300);
	assert_int_equal(al0(f)->last_error[0], 0);
	expect_nothing(f);

	/* The management view shows it. */
	json_t *o = ctl_turn_json(&f->c->turn);
	assert_non_null(o);
	json_t *s0 = json_array_get(json_object_get(o, "servers"), 0);
	assert_string_equal(json_string_value(json_object_get(s0, "state")), "ready");
	assert_string_equal(json_string_value(json_object_get(s0, "relayed")),
			    "198.18.0.251:49152");
	assert_string_equal(json_string_value(json_object_get(s0, "mapped")), "198.18.0.7:5800");
	assert_int_equal(json_integer_value(json_object_get(s0, "lifetime")), 300);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o, "counters"), "allocations")), 1);
	json_decref(o);
	char name[NET_ENDPOINT_STRLEN];
	assert_string_equal(ctl_turn_server_name(&f->c->turn, 1, name, sizeof(name)),
			    "198.18.0.251:3478");
	assert_string_equal(ctl_turn_server_name(&f->c->turn, 2, name, sizeof(name)), "");
	assert_string_equal(ctl_turn_server_name(&f->c->turn, 0, name, sizeof(name)), "");

	/* Refresh at half the lifetime (150 s), not a millisecond before. */
	tick(f, 150000 - 1);
	expect_nothing(f);
	tick(f, 1);
	struct stun_msg r1 = take_req(f, 0, TURN_REFRESH, true);
	assert_true(r1.attrs & STUN_HAS_LIFETIME);
	assert_int_equal(r1.lifetime, TURN_LIFETIME_S);
	expect_nothing(f);
	/* Unanswered: retransmitted on the RFC 5389 schedule. */
	tick(f, STUN_RTO_MS);
	assert_int_equal(pending(f), 1);
	assert_int_equal(f->q[f->head].len, f->q[f->head - 1].len);
	assert_memory_equal(f->q[f->head].buf, f->q[f->head - 1].buf, f->q[f->head].len);
	f->head++;
	assert_int_equal(cnt(f)->retransmits, 1);
	/* The server grants 600 s: the next refresh is 300 s after the answer. */
	ok(f, &r1, 600);
	assert_int_equal(cnt(f)->refreshes, 1);
	assert_int_equal(al0(f)->state, TURN_READY);
	tick(f, 300000 - 1);
	expect_nothing(f);
	tick(f, 1);
	struct stun_msg r2 = take_req(f, 0, TURN_REFRESH, true);
	/* No LIFETIME in the answer: the client assumes its own 600 s. */
	struct stun_builder b;
	uint8_t buf[STUN_MSG_MAX];
	resp_start(&b, buf, &r2, STUN_SUCCESS);
	size_t n = resp_end(f, &b, 1);
	deliver(f, buf, n);
	assert_int_equal(cnt(f)->refreshes, 2);
	tick(f, 300000 - 1);
	expect_nothing(f);
	tick(f, 1);
	take_req(f, 0, TURN_REFRESH, true);
	assert_int_equal(cnt(f)->errors, 0);
	assert_int_equal(cnt(f)->dropped, 0);
}

/* An Allocate nobody answers: 7 transmissions, failure at 39.5 s, the next
 * attempt TURN_RETRY_MS later. */
static void test_allocate_timeout(void **state)
{
	struct fx *f = *state;
	static const uint32_t at[] = {500, 1500, 3500, 7500, 15500, 31500};
	uint64_t t0 = f->now;

	tick(f, 0);
	struct stun_msg a = take_req(f, 0, TURN_ALLOCATE, false);
	uint8_t first[STUN_MSG_MAX];
	memcpy(first, a.raw, a.len);
	for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		f->now = t0 + at[i] - 1;
		tick(f, 0);
		expect_nothing(f);
		tick(f, 1);
		assert_int_equal(pending(f), 1);
		assert_memory_equal(f->q[f->head].buf, first, a.len); /* same bytes, same id */
		f->head++;
	}
	assert_int_equal(cnt(f)->retransmits, 6);
	f->now = t0 + 39500 - 1;
	tick(f, 0);
	expect_nothing(f);
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	tick(f, 1);
	expect_nothing(f);
	assert_int_equal(cnt(f)->timeouts, 1);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "no answer from the server");

	tick(f, TURN_RETRY_MS - 1);
	expect_nothing(f);
	tick(f, 1);
	struct stun_msg again = take_req(f, 0, TURN_ALLOCATE, false);
	assert_memory_not_equal(again.txid, first + 8, STUN_TXID_LEN);
}

/* 438 Stale Nonce: the request again with the new nonce; an endless stream
 * of them is answered TURN_AUTH_TRIES times, then the request fails. */
static void test_stale_nonce(void **state)
{
	struct fx *f = *state;

	/* Allocate: 401, then 438 (the nonce went stale in between). */
	tick(f, 0);
	struct stun_msg m = take_req(f, 0, TURN_ALLOCATE, false);
	challenge(f, &m, STUN_ERR_UNAUTHORIZED);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	challenge(f, &m, STUN_ERR_STALE_NONCE);
	m = take_req(f, 0, TURN_ALLOCATE, true); /* checks the new nonce */
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);
	assert_int_equal(cnt(f)->auth_retries, 2);

	/* Refresh: 438 → again with the new nonce → success. */
	tick(f, 300000);
	m = take_req(f, 0, TURN_REFRESH, true);
	challenge(f, &m, STUN_ERR_STALE_NONCE);
	struct stun_msg m2 = take_req(f, 0, TURN_REFRESH, true);
	assert_memory_not_equal(m.txid, m2.txid, STUN_TXID_LEN);
	assert_int_equal(m2.lifetime, TURN_LIFETIME_S);
	ok(f, &m2, 600);
	assert_int_equal(cnt(f)->refreshes, 1);
	assert_int_equal(al0(f)->state, TURN_READY);

	/* A nonce that is stale every time: the refresh is sent 1 +
	 * TURN_AUTH_TRIES times, then the allocation is given up (a refresh
	 * that cannot get through means it will expire) and made again after
	 * TURN_RETRY_MS. */
	uint64_t retries = cnt(f)->auth_retries;
	tick(f, 300000);
	unsigned sent = 0;
	while (pending(f)) {
		m = take_req(f, 0, TURN_REFRESH, true);
		sent++;
		assert_true(sent <= 10);
		challenge(f, &m, STUN_ERR_STALE_NONCE);
	}
	assert_int_equal(sent, 1 + TURN_AUTH_TRIES);
	assert_int_equal(cnt(f)->auth_retries, retries + TURN_AUTH_TRIES);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "too many authentication challenges");
	assert_int_equal(ctl_turn_relayed(&f->c->turn, (struct net_endpoint[1]){0}, 1), 0);

	/* The Allocate that follows meets the same stream: 1 + TURN_AUTH_TRIES
	 * requests, then a pause of TURN_RETRY_MS. Bounded: one round every
	 * 10 s, whatever the attacker sends. */
	tick(f, TURN_RETRY_MS - 1);
	expect_nothing(f);
	for (int round = 0; round < 3; round++) {
		tick(f, round ? TURN_RETRY_MS : 1);
		sent = 0;
		while (pending(f)) {
			m = take_req(f, 0, TURN_ALLOCATE, true);
			sent++;
			assert_true(sent <= 10);
			challenge(f, &m, STUN_ERR_STALE_NONCE);
		}
		assert_int_equal(sent, 1 + TURN_AUTH_TRIES);
		assert_int_equal(al0(f)->state, TURN_IDLE);
		tick(f, TURN_RETRY_MS - 1);
		expect_nothing(f);
		f->now -= TURN_RETRY_MS - 1;
	}
	/* A 438 without a NONCE cannot be acted on: ignored, still waiting. */
	tick(f, TURN_RETRY_MS);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	struct stun_builder b;
	uint8_t buf[STUN_MSG_MAX];
	resp_start(&b, buf, &m, STUN_ERROR);
	add_error(&b, STUN_ERR_STALE_NONCE);
	add_str(&b, STUN_ATTR_REALM, REALM);
	uint64_t dropped = cnt(f)->dropped;
	deliver(f, buf, resp_end(f, &b, 0));
	assert_int_equal(cnt(f)->dropped, dropped + 1);
	expect_nothing(f);
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);
}

/* 437 to an Allocate: an allocation of a previous run holds our 5-tuple.
 * The client releases it (Refresh 0) and allocates again a second later. */
static void test_allocation_mismatch(void **state)
{
	struct fx *f = *state;

	struct stun_msg m = allocate_challenged(f);
	error(f, &m, STUN_ERR_ALLOCATION_MISMATCH);
	assert_int_equal(cnt(f)->errors, 1);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	struct stun_msg rel = take_req(f, 0, TURN_REFRESH, true);
	assert_true(rel.attrs & STUN_HAS_LIFETIME);
	assert_int_equal(rel.lifetime, 0);
	expect_nothing(f);

	/* The release is a transaction of its own: a stale nonce is answered
	 * (new nonce, new id), and its answer is matched rather than left to
	 * the STUN client as unmatched. */
	challenge(f, &rel, STUN_ERR_STALE_NONCE);
	struct stun_msg rel2 = take_req(f, 0, TURN_REFRESH, true);
	assert_int_equal(rel2.lifetime, 0);
	ok(f, &rel2, 0);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, 0);
	assert_int_equal(cnt(f)->refreshes, 0); /* a release is not a refresh */
	assert_int_equal(al0(f)->state, TURN_IDLE);

	/* Allocate again one second after the 437. */
	tick(f, 999);
	expect_nothing(f);
	tick(f, 1);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);
	assert_int_equal(cnt(f)->allocations, 1);

	/* 437 to a Refresh: the allocation is gone (expired on the server):
	 * allocate again at once, no 10 s pause. */
	tick(f, 300000);
	m = take_req(f, 0, TURN_REFRESH, true);
	error(f, &m, STUN_ERR_ALLOCATION_MISMATCH);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "allocation gone");
	assert_int_equal(ctl_turn_relayed(&f->c->turn, (struct net_endpoint[1]){0}, 1), 0);
	tick(f, 0);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	ok(f, &m, 600);
	assert_int_equal(cnt(f)->allocations, 2);
}

/* The release after a 437 that gets no answer is retransmitted; once the new
 * Allocate is out it is abandoned, so that a late copy of it cannot free
 * the new allocation. */
static void test_allocation_mismatch_lost(void **state)
{
	struct fx *f = *state;

	struct stun_msg m = allocate_challenged(f);
	error(f, &m, STUN_ERR_ALLOCATION_MISMATCH);
	struct stun_msg rel = take_req(f, 0, TURN_REFRESH, true);
	assert_int_equal(rel.lifetime, 0);
	tick(f, STUN_RTO_MS);
	struct stun_msg again = take_req(f, 0, TURN_REFRESH, true);
	assert_memory_equal(again.txid, rel.txid, STUN_TXID_LEN);
	tick(f, 1000 - STUN_RTO_MS);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	expect_nothing(f);
	/* 1.5 s: the release's next retransmission would be due; only the
	 * Allocate's own goes out. */
	tick(f, STUN_RTO_MS);
	struct stun_msg a2 = take_req(f, 0, TURN_ALLOCATE, true);
	assert_memory_equal(a2.txid, m.txid, STUN_TXID_LEN);
	expect_nothing(f);
	/* A late answer to the release is no longer ours. */
	ok(f, &rel, 0);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, 1);
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);
	for (int i = 0; i < 10; i++)
		tick(f, 10000);
	expect_nothing(f);
}

/* 401 to an authenticated Allocate: the credentials are wrong. */
static void test_wrong_credentials(void **state)
{
	struct fx *f = *state;

	struct stun_msg m = allocate_challenged(f);
	refuse(f, &m);
	expect_nothing(f);
	assert_int_equal(al0(f)->state, TURN_FAILED);
	assert_int_equal(cnt(f)->errors, 1);
	assert_string_equal(al0(f)->last_error, "wrong TURN user or password");
	/* Retried slowly. */
	tick(f, 6 * TURN_RETRY_MS - 1);
	expect_nothing(f);
	tick(f, 1);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);

	/* Other errors to a Refresh or an Allocate: a pause of TURN_RETRY_MS. */
	tick(f, 300000);
	m = take_req(f, 0, TURN_REFRESH, true);
	error(f, &m, STUN_ERR_ALLOCATION_QUOTA);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "Refresh error 486");
	tick(f, TURN_RETRY_MS);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	error(f, &m, STUN_ERR_INSUFFICIENT_CAPACITY);
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "Allocate error 508");
	/* A success without a relayed address is no allocation. */
	tick(f, TURN_RETRY_MS);
	m = take_req(f, 0, TURN_ALLOCATE, true);
	struct stun_builder b;
	uint8_t buf[STUN_MSG_MAX];
	resp_start(&b, buf, &m, STUN_SUCCESS);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, 600);
	deliver(f, buf, resp_end(f, &b, 1));
	assert_int_equal(al0(f)->state, TURN_IDLE);
	assert_string_equal(al0(f)->last_error, "Allocate success without a relayed address");
}

/* Everything that must not move the client: answers without or with a wrong
 * MESSAGE-INTEGRITY, to another transaction or method, from another source,
 * truncated, corrupted, indications and requests from the server. Two
 * servers, so that one server's answer to the other's request is tried too. */
static void test_ignored(void **state)
{
	struct fx *f = *state;
	uint8_t buf[STUN_MSG_MAX], copy[STUN_MSG_MAX];
	struct stun_builder b;
	size_t n;

	tick(f, 0);
	struct stun_msg m0 = take_req(f, 0, TURN_ALLOCATE, false);
	struct stun_msg m1 = take_req(f, 1, TURN_ALLOCATE, false);
	/* Server 1's 401 arriving from server 0: not server 0's transaction. */
	n = build_challenge(f, &m1, STUN_ERR_UNAUTHORIZED, buf);
	deliver_from(f, &f->server, buf, n);
	expect_nothing(f);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, 1);
	deliver_from(f, &f->server2, buf, n);
	take_req(f, 1, TURN_ALLOCATE, true);
	challenge(f, &m0, STUN_ERR_UNAUTHORIZED);
	struct stun_msg m = take_req(f, 0, TURN_ALLOCATE, true);
	expect_nothing(f);
	const struct turn_counters before = *cnt(f);
	uint64_t unmatched = f->c->disc.cnt.stun_unmatched;

	/* Success without MESSAGE-INTEGRITY, and with a wrong one: discarded
	 * as if never received (RFC 5389 §10.2.3), counted as dropped. */
	n = build_ok(f, &m, 600, 0, buf);
	deliver(f, buf, n);
	n = build_ok(f, &m, 600, 2, buf);
	deliver(f, buf, n);
	/* Errors to an authenticated request need it too (not 401/438/400/420). */
	n = build_error(f, &m, STUN_ERR_ALLOCATION_MISMATCH, 0, buf);
	deliver(f, buf, n);
	n = build_error(f, &m, STUN_ERR_FORBIDDEN, 2, buf);
	deliver(f, buf, n);
	/* An error response without ERROR-CODE. */
	resp_start(&b, buf, &m, STUN_ERROR);
	deliver(f, buf, resp_end(f, &b, 1));
	/* A 401/438 without the NONCE a retry needs. */
	resp_start(&b, buf, &m, STUN_ERROR);
	add_error(&b, STUN_ERR_STALE_NONCE);
	deliver(f, buf, resp_end(f, &b, 0));
	assert_int_equal(cnt(f)->dropped, before.dropped + 6);
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	expect_nothing(f);

	/* Another transaction id, another method, another source (a stranger,
	 * the server's address with another port, our other server): not for
	 * this request; the STUN client counts them unmatched. */
	struct stun_msg other = m;
	other.txid[11] ^= 0x80;
	n = build_ok(f, &other, 600, 1, buf);
	deliver(f, buf, n);
	other = m;
	other.method = TURN_REFRESH;
	n = build_ok(f, &other, 600, 1, buf);
	deliver(f, buf, n);
	other.method = STUN_BINDING;
	n = build_ok(f, &other, 600, 1, buf);
	deliver(f, buf, n);
	n = build_ok(f, &m, 600, 1, buf);
	struct net_endpoint stranger = ep("203.0.113.9:3478");
	struct net_endpoint port = ep("198.18.0.251:3479");
	struct net_endpoint v6 = ep("[2001:db8::1]:3478");
	deliver_from(f, &stranger, buf, n);
	deliver_from(f, &port, buf, n);
	deliver_from(f, &f->server2, buf, n);
	deliver_from(f, &v6, buf, n);
	struct net_endpoint relayed_via = f->server;
	relayed_via.via = 1; /* a relayed source is not the server either */
	deliver_from(f, &relayed_via, buf, n);
	/* A request or an indication other than Data from the server. */
	stun_build_start(&b, copy, sizeof(copy), TURN_ALLOCATE, STUN_REQUEST, m.txid);
	deliver(f, copy, resp_end(f, &b, 1));
	stun_build_start(&b, copy, sizeof(copy), TURN_SEND, STUN_INDICATION, m.txid);
	deliver(f, copy, resp_end(f, &b, 0));
	assert_int_equal(f->c->disc.cnt.stun_unmatched, unmatched + 10);
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	assert_int_equal(cnt(f)->dropped, before.dropped + 6);
	expect_nothing(f);

	/* Every truncation of the good answer: the parser refuses them. */
	uint64_t errors = f->c->disc.cnt.stun_errors;
	for (size_t k = 0; k < n; k++) {
		memcpy(copy, buf, k);
		deliver(f, copy, k);
	}
	assert_int_equal(f->c->disc.cnt.stun_errors, errors + n);
	/* Truncated with the header length fixed up to match: attributes cut
	 * (refused by the parser) or missing (then no integrity: dropped).
	 * Cut right after MESSAGE-INTEGRITY (24 bytes before the 8 of
	 * FINGERPRINT) it would be a valid answer: stop before. */
	for (size_t k = STUN_HDR_LEN; k + 8 + 24 < n; k += 4) {
		memcpy(copy, buf, k);
		copy[2] = (uint8_t)((k - STUN_HDR_LEN) >> 8);
		copy[3] = (uint8_t)(k - STUN_HDR_LEN);
		deliver(f, copy, k);
	}
	/* Every byte changed (one bit), except in the FINGERPRINT attribute:
	 * refused, by the parser (the fingerprint, mostly) or by the client. */
	errors = f->c->disc.cnt.stun_errors;
	unmatched = f->c->disc.cnt.stun_unmatched;
	uint64_t dropped = cnt(f)->dropped;
	for (size_t k = 0; k + 8 < n; k++) {
		memcpy(copy, buf, n);
		copy[k] ^= (uint8_t)(1u << (k % 8));
		deliver(f, copy, n);
	}
	assert_int_equal(f->c->disc.cnt.stun_errors - errors + f->c->disc.cnt.stun_unmatched -
			     unmatched + cnt(f)->dropped - dropped,
			 n - 8);
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	/* Random bytes behind a valid-looking header: no crash. */
	srand(7);
	for (int k = 0; k < 2000; k++) {
		size_t len = STUN_HDR_LEN + 4 * (size_t)(rand() % 40);
		memcpy(copy, buf, STUN_HDR_LEN);
		copy[2] = (uint8_t)((len - STUN_HDR_LEN) >> 8);
		copy[3] = (uint8_t)(len - STUN_HDR_LEN);
		for (size_t i = STUN_HDR_LEN; i < len; i++)
			copy[i] = (uint8_t)rand();
		if (k % 2) { /* plausible attribute headers */
			for (size_t i = STUN_HDR_LEN; i + 4 <= len; i += 8) {
				copy[i] = 0;
				copy[i + 1] = (uint8_t)(rand() % 0x30);
				copy[i + 2] = 0;
				copy[i + 3] = (uint8_t)(4 * (rand() % 3));
			}
		}
		deliver(f, copy, len);
	}
	assert_int_equal(al0(f)->state, TURN_ALLOCATING);
	expect_nothing(f);

	/* Data indications and ChannelData before there is an allocation. */
	dropped = cnt(f)->dropped;
	struct net_endpoint peer = ep("198.51.100.20:5800");
	static const uint8_t hs[8];
	n = build_data_ind(&peer, hs, sizeof(hs), buf);
	deliver(f, buf, n);
	n = (size_t)turn_channel_data_encode(TURN_CHANNEL_MIN, hs, sizeof(hs), false, buf,
					     sizeof(buf));
	ctl_turn_channel_input(&f->c->turn, buf, n, &f->server, f->now);
	assert_int_equal(cnt(f)->dropped, dropped + 2);
	assert_int_equal(cnt(f)->data_indications, 0);
	assert_int_equal(f->c->lm.hs.malformed, 0);
	expect_nothing(f);

	/* After all that, the real answer still works. */
	ok(f, &m, 600);
	assert_int_equal(al0(f)->state, TURN_READY);
	assert_int_equal(cnt(f)->allocations, 1);
	/* And a second copy of it is not an answer to anything any more. */
	unmatched = f->c->disc.cnt.stun_unmatched;
	ok(f, &m, 600);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, unmatched + 1);
	assert_int_equal(cnt(f)->allocations, 1);
}

/* Shutdown: Refresh with LIFETIME 0, authenticated, one try. */
static void test_release(void **state)
{
	struct fx *f = *state;

	/* Not allocated: nothing to release. */
	ctl_turn_destroy(&f->c->turn, true);
	expect_nothing(f);
	assert_null(f->c->turn.al);

	free(f->c);
	fx_init(f, 1);
	allocate(f, 600);
	ctl_turn_destroy(&f->c->turn, false); /* without release: silent */
	expect_nothing(f);

	free(f->c);
	fx_init(f, 1);
	allocate(f, 600);
	ctl_turn_destroy(&f->c->turn, true);
	struct stun_msg r = take_req(f, 0, TURN_REFRESH, true);
	assert_true(r.attrs & STUN_HAS_LIFETIME);
	assert_int_equal(r.lifetime, 0);
	expect_nothing(f);
	assert_null(f->c->turn.al);
	assert_int_equal(f->c->turn.n, 0);
	/* Answers after that are for nobody. */
	ok(f, &r, 0);
	assert_int_equal(f->c->disc.cnt.stun_unmatched, 1);
	ctl_turn_tick(&f->c->turn, f->now + 1000000);
	expect_nothing(f);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_allocate, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_allocate_timeout, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_nonce, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_allocation_mismatch, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_allocation_mismatch_lost, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_credentials, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_ignored, setup2, teardown),
	    cmocka_unit_test_setup_teardown(test_release, setup1, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
