/* Unit tests for control/turn.c, the TURN relay client, without a network:
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
 * permissions for every advertised IP in batches and their refresh (and the
 * retry of a failed refresh), channels bound on first contact, Send
 * indications before and ChannelData after, ChannelData and Data indications
 * that must be dropped, the forwarding table, and Refresh 0 on shutdown.
 * tests/netns/test_turn.sh runs the same client against coturn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <cmocka.h>

#include "control/core/ctl.h"
#include "control/signalling/disc.h"
#include "control/nat/stun.h"
#include "control/nat/turn.h"
#include "dataplane/table.h"

#define USER  "ipop-gw"
#define PASS  "relay-pass-1"
#define REALM "relay.test"

#define MAX_SENT 512
#define NSERVERS 2

struct sent {
	struct net_endpoint to;
	size_t len;
	uint8_t buf[STUN_MSG_MAX + 64];
};

struct fx {
	struct ctl *c;
	struct ipop_turn_conf conf[NSERVERS];
	struct sent q[MAX_SENT];
	unsigned nq, head; /* sent so far, taken by the test so far */
	uint64_t now;
	struct net_endpoint server, server2, relayed, mapped;
	uint8_t key[STUN_LT_KEY_LEN];
	char nonce[64];
	unsigned nonce_gen;
};

/* ---- the hook: what the client sends ------------------------------------- */

static int catch_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len)
{
	struct fx *f = ctx;
	assert_true(f->nq < MAX_SENT);
	assert_true(len <= sizeof(f->q[0].buf));
	struct sent *s = &f->q[f->nq++];
	s->to = *to;
	s->len = len;
	memcpy(s->buf, buf, len);
	return 0;
}

static struct net_endpoint ep(const char *s)
{
	struct net_endpoint e;
	assert_int_equal(net_endpoint_parse(s, &e), 0);
	return e;
}

static void fx_init(struct fx *f, unsigned nservers)
{
	memset(f, 0, sizeof(*f));
	f->c = calloc(1, sizeof(*f->c));
	assert_non_null(f->c);
	f->server = ep("198.18.0.251:3478");
	f->server2 = ep("198.18.0.252:3478");
	f->relayed = ep("198.18.0.251:49152");
	f->mapped = ep("198.18.0.7:5800");
	for (unsigned i = 0; i < nservers; i++) {
		f->conf[i].server = i ? f->server2 : f->server;
		snprintf(f->conf[i].user, sizeof(f->conf[i].user), "%s", USER);
		snprintf(f->conf[i].pass, sizeof(f->conf[i].pass), "%s", PASS);
	}
	f->c->cfg.turn = f->conf;
	f->c->cfg.nturn = nservers;
	struct ctl_disc_env env;
	ctl_core_disc_env(f->c, &env);
	f->c->disc.env = env;
	assert_int_equal(ctl_turn_create(&f->c->turn, &f->c->cfg, &ctl_core_turn_ops, f->c), 0);
	assert_int_equal(f->c->turn.n, nservers);
	f->c->turn.send = catch_send;
	f->c->turn.send_ctx = f;
	assert_int_equal(stun_long_term_key(USER, REALM, PASS, f->key), 0);
	/* The client also reads the real clock in two places (ctl_turn_send,
	 * log lines): start the virtual one there. */
	f->now = clock_now_ms();
}

static int setup1(void **state)
{
	struct fx *f = malloc(sizeof(*f));
	assert_non_null(f);
	fx_init(f, 1);
	*state = f;
	return 0;
}

static int setup2(void **state)
{
	struct fx *f = malloc(sizeof(*f));
	assert_non_null(f);
	fx_init(f, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	ctl_turn_destroy(&f->c->turn, false);
	free(f->c);
	free(f);
	return 0;
}

static struct turn_alloc *al0(struct fx *f)
{
	return &f->c->turn.al[0];
}

static const struct turn_counters *cnt(struct fx *f)
{
	return &f->c->turn.cnt;
}

static void tick(struct fx *f, uint64_t advance_ms)
{
	f->now += advance_ms;
	ctl_turn_tick(&f->c->turn, f->now);
}

/* ---- reading what was sent ------------------------------------------------ */

static unsigned pending(struct fx *f)
{
	return f->nq - f->head;
}

static void expect_nothing(struct fx *f)
{
	assert_int_equal(pending(f), 0);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The nth attribute of a type (the parser keeps only the first). */
static const uint8_t *attr_nth(const struct stun_msg *m, uint16_t type, unsigned nth, uint16_t *len)
{
	size_t off = STUN_HDR_LEN;
	while (off + 4 <= m->len) {
		uint16_t t = be16(m->raw + off), l = be16(m->raw + off + 2);
		if (off + 4 + l > m->len)
			break;
		if (t == type && nth-- == 0) {
			*len = l;
			return m->raw + off + 4;
		}
		off += 4 + ((l + 3u) & ~3u);
	}
	return NULL;
}

/* Decodes an XOR-*-ADDRESS value the way a server would. */
static struct net_endpoint xor_addr(const struct stun_msg *m, const uint8_t *v, uint16_t len)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	struct net_endpoint e;
	memset(&e, 0, sizeof(e));
	e.port = be16(v + 2) ^ 0x2112;
	if (v[1] == 1) {
		assert_int_equal(len, 8);
		e.family = AF_INET;
		e.addr[10] = e.addr[11] = 0xff;
		for (int i = 0; i < 4; i++)
			e.addr[12 + i] = v[4 + i] ^ cookie[i];
	} else {
		assert_int_equal(v[1], 2);
		assert_int_equal(len, 20);
		e.family = AF_INET6;
		for (int i = 0; i < 16; i++)
			e.addr[i] = v[4 + i] ^ (i < 4 ? cookie[i] : m->txid[i - 4]);
	}
	return e;
}

static bool same_ip(const struct net_endpoint *a, const struct net_endpoint *b)
{
	return memcmp(a->addr, b->addr, 16) == 0;
}

static void assert_text(struct stun_bytes b, const char *s)
{
	assert_int_equal(b.len, strlen(s));
	assert_memory_equal(b.p, s, b.len);
}

/* Takes the next datagram the client sent, which must be a request of this
 * method to server k, authenticated with the current nonce or not. m
 * borrows the fixture's copy. */
static struct stun_msg take_req(struct fx *f, unsigned k, uint16_t method, bool auth)
{
	struct stun_msg m;
	assert_true(pending(f) > 0);
	struct sent *s = &f->q[f->head++];
	assert_true(net_endpoint_equal(&s->to, k ? &f->server2 : &f->server));
	assert_int_equal(stun_parse(s->buf, s->len, &m), 0);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_int_equal(m.method, method);
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);
	if (auth) {
		assert_true(m.attrs & STUN_HAS_USERNAME);
		assert_text(m.username, USER);
		assert_text(m.realm, REALM);
		assert_text(m.nonce, f->nonce);
		assert_int_equal(stun_check_integrity(&m, f->key, sizeof(f->key)), 0);
	} else {
		assert_false(m.attrs & (STUN_HAS_USERNAME | STUN_HAS_INTEGRITY | STUN_HAS_NONCE));
	}
	return m;
}

/* ---- playing the server --------------------------------------------------- */

static void resp_start(struct stun_builder *b, uint8_t *buf, const struct stun_msg *req,
		       enum stun_class cls)
{
	stun_build_start(b, buf, STUN_MSG_MAX, req->method, cls, req->txid);
}

static void add_str(struct stun_builder *b, uint16_t type, const char *s)
{
	stun_build_attr(b, type, s, strlen(s));
}

static void add_error(struct stun_builder *b, unsigned code)
{
	uint8_t v[4 + 8] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100)};
	memcpy(v + 4, "whatever", 8);
	stun_build_attr(b, STUN_ATTR_ERROR_CODE, v, sizeof(v));
}

/* mi: 0 none, 1 with the right key, 2 with a wrong key. */
static size_t resp_end(struct fx *f, struct stun_builder *b, int mi)
{
	uint8_t bad[STUN_LT_KEY_LEN];
	if (mi == 1) {
		stun_build_integrity(b, f->key, sizeof(f->key));
	} else if (mi == 2) {
		memcpy(bad, f->key, sizeof(bad));
		bad[0] ^= 1;
		stun_build_integrity(b, bad, sizeof(bad));
	}
	stun_build_fingerprint(b);
	int n = stun_build_end(b);
	assert_true(n > 0);
	return (size_t)n;
}

static void deliver_from(struct fx *f, const struct net_endpoint *from, const uint8_t *buf,
			 size_t len)
{
	ctl_disc_stun_input(&f->c->disc, buf, len, from, f->now);
}

static void deliver(struct fx *f, const uint8_t *buf, size_t len)
{
	deliver_from(f, &f->server, buf, len);
}

/* A new nonce, as a server hands out. */
static void next_nonce(struct fx *f)
{
	f->nonce_gen++;
	snprintf(f->nonce, sizeof(f->nonce), "nonce-%u-%08x", f->nonce_gen,
		 0x9e3779b9u * f->nonce_gen);
}

/* 401 (with realm) or 438 (realm too, as coturn sends it); challenges
 * carry no MESSAGE-INTEGRITY. */
static size_t build_challenge_nonce(struct fx *f, const struct stun_msg *req, unsigned code,
				    const char *nonce, uint8_t *buf)
{
	struct stun_builder b;
	resp_start(&b, buf, req, STUN_ERROR);
	add_error(&b, code);
	add_str(&b, STUN_ATTR_REALM, REALM);
	add_str(&b, STUN_ATTR_NONCE, nonce);
	return resp_end(f, &b, 0);
}

/* A challenge with a new nonce, which the client must take. */
static size_t build_challenge(struct fx *f, const struct stun_msg *req, unsigned code, uint8_t *buf)
{
	next_nonce(f);
	return build_challenge_nonce(f, req, code, f->nonce, buf);
}

/* A 401 to an authenticated request: refused credentials; the client keeps
 * its nonce. */
static void refuse(struct fx *f, const struct stun_msg *req)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_challenge_nonce(f, req, STUN_ERR_UNAUTHORIZED, "refused-nonce", buf);
	deliver(f, buf, n);
}

static void challenge(struct fx *f, const struct stun_msg *req, unsigned code)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_challenge(f, req, code, buf);
	deliver(f, buf, n);
}

/* Success: Allocate with relayed/mapped/lifetime, Refresh with lifetime,
 * the others bare. */
static size_t build_ok(struct fx *f, const struct stun_msg *req, uint32_t lifetime, int mi,
		       uint8_t *buf)
{
	struct stun_builder b;
	resp_start(&b, buf, req, STUN_SUCCESS);
	if (req->method == TURN_ALLOCATE) {
		stun_build_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &f->relayed);
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &f->mapped);
	}
	if (req->method == TURN_ALLOCATE || req->method == TURN_REFRESH)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime);
	add_str(&b, STUN_ATTR_SOFTWARE, "scripted server");
	return resp_end(f, &b, mi);
}

static void ok(struct fx *f, const struct stun_msg *req, uint32_t lifetime)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_ok(f, req, lifetime, 1, buf);
	deliver(f, buf, n);
}

static size_t build_error(struct fx *f, const struct stun_msg *req, unsigned code, int mi,
			  uint8_t *buf)
{
	struct stun_builder b;
	resp_start(&b, buf, req, STUN_ERROR);
	add_error(&b, code);
	return resp_end(f, &b, mi);
}

static void error(struct fx *f, const struct stun_msg *req, unsigned code)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_error(f, req, code, 1, buf);
	deliver(f, buf, n);
}

static size_t build_data_ind(const struct net_endpoint *peer, const void *data, size_t len,
			     uint8_t *buf)
{
	struct stun_builder b;
	uint8_t txid[STUN_TXID_LEN] = {7, 7, 7};
	stun_build_start(&b, buf, STUN_MSG_MAX, TURN_DATA, STUN_INDICATION, txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_build_attr(&b, STUN_ATTR_DATA, data, len);
	stun_build_fingerprint(&b);
	int n = stun_build_end(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/* Tick → Allocate → 401 → authenticated Allocate, left unanswered. */
static struct stun_msg allocate_challenged(struct fx *f)
{
	tick(f, 0);
	struct stun_msg m = take_req(f, 0, TURN_ALLOCATE, false);
	challenge(f, &m, STUN_ERR_UNAUTHORIZED);
	return take_req(f, 0, TURN_ALLOCATE, true);
}

/* The whole exchange up to a ready allocation with this lifetime. */
static void allocate(struct fx *f, uint32_t lifetime)
{
	struct stun_msg m = allocate_challenged(f);
	ok(f, &m, lifetime);
	assert_int_equal(al0(f)->state, TURN_READY);
	expect_nothing(f);
}

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
	    cmocka_unit_test_setup_teardown(test_permissions, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_permission_limit, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_channels, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_refused, setup1, teardown),
	    cmocka_unit_test_setup_teardown(test_release, setup1, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
