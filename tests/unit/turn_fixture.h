/* The TURN client tests' fixture (test_turn.c, test_turn_relay.c): a
 * struct ctl wired like the daemon's (ctl_core_turn_ops), the client's
 * datagrams caught by the ctl_turn.send hook, and a TURN server played with
 * stun.c's builder on a virtual clock. */
#pragma once
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

static __attribute__((unused)) int catch_send(void *ctx, const struct net_endpoint *to,
					      const void *buf, size_t len)
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

static __attribute__((unused)) struct net_endpoint ep(const char *s)
{
	struct net_endpoint e;
	assert_int_equal(net_endpoint_parse(s, &e), 0);
	return e;
}

static __attribute__((unused)) void fx_init(struct fx *f, unsigned nservers)
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

static __attribute__((unused)) int setup1(void **state)
{
	struct fx *f = malloc(sizeof(*f));
	assert_non_null(f);
	fx_init(f, 1);
	*state = f;
	return 0;
}

static __attribute__((unused)) int setup2(void **state)
{
	struct fx *f = malloc(sizeof(*f));
	assert_non_null(f);
	fx_init(f, 2);
	*state = f;
	return 0;
}

static __attribute__((unused)) int teardown(void **state)
{
	struct fx *f = *state;
	ctl_turn_destroy(&f->c->turn, false);
	free(f->c);
	free(f);
	return 0;
}

static __attribute__((unused)) struct turn_alloc *al0(struct fx *f)
{
	return &f->c->turn.al[0];
}

static const struct turn_counters *cnt(struct fx *f)
{
	return &f->c->turn.cnt;
}

static __attribute__((unused)) void tick(struct fx *f, uint64_t advance_ms)
{
	f->now += advance_ms;
	ctl_turn_tick(&f->c->turn, f->now);
}

/* ---- reading what was sent ------------------------------------------------ */

static __attribute__((unused)) unsigned pending(struct fx *f)
{
	return f->nq - f->head;
}

static __attribute__((unused)) void expect_nothing(struct fx *f)
{
	assert_int_equal(pending(f), 0);
}

static __attribute__((unused)) uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The nth attribute of a type (the parser keeps only the first). */
static __attribute__((unused)) const uint8_t *attr_nth(const struct stun_msg *m, uint16_t type,
						       unsigned nth, uint16_t *len)
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
static __attribute__((unused)) struct net_endpoint xor_addr(const struct stun_msg *m,
							    const uint8_t *v, uint16_t len)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	struct net_endpoint e;
	memset(&e, 0, sizeof(e));
	e.port = be16(v + 2) ^ 0x2112;
	if (v[1] == 1) {
		assert_int_equal(len, 8);
		e.family = AF_INET;
		memcpy(e.addr, net_v4mapped, sizeof(net_v4mapped));
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

static __attribute__((unused)) bool same_ip(const struct net_endpoint *a,
					    const struct net_endpoint *b)
{
	return memcmp(a->addr, b->addr, 16) == 0;
}

static __attribute__((unused)) void assert_text(struct stun_bytes b, const char *s)
{
	assert_int_equal(b.len, strlen(s));
	assert_memory_equal(b.p, s, b.len);
}

/* Takes the next datagram the client sent, which must be a request of this
 * method to server k, authenticated with the current nonce or not. m
 * borrows the fixture's copy. */
static __attribute__((unused)) struct stun_msg take_req(struct fx *f, unsigned k, uint16_t method,
							bool auth)
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

static __attribute__((unused)) void resp_start(struct stun_builder *b, uint8_t *buf,
					       const struct stun_msg *req, enum stun_class cls)
{
	stun_build_start(b, buf, STUN_MSG_MAX, req->method, cls, req->txid);
}

static __attribute__((unused)) void add_str(struct stun_builder *b, uint16_t type, const char *s)
{
	stun_build_attr(b, type, s, strlen(s));
}

static __attribute__((unused)) void add_error(struct stun_builder *b, unsigned code)
{
	uint8_t v[4 + 8] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100)};
	memcpy(v + 4, "whatever", 8);
	stun_build_attr(b, STUN_ATTR_ERROR_CODE, v, sizeof(v));
}

/* mi: 0 none, 1 with the right key, 2 with a wrong key. */
static __attribute__((unused)) size_t resp_end(struct fx *f, struct stun_builder *b, int mi)
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

static __attribute__((unused)) void deliver_from(struct fx *f, const struct net_endpoint *from,
						 const uint8_t *buf, size_t len)
{
	ctl_disc_stun_input(&f->c->disc, buf, len, from, f->now);
}

static __attribute__((unused)) void deliver(struct fx *f, const uint8_t *buf, size_t len)
{
	deliver_from(f, &f->server, buf, len);
}

/* A new nonce, as a server hands out. */
static __attribute__((unused)) void next_nonce(struct fx *f)
{
	f->nonce_gen++;
	snprintf(f->nonce, sizeof(f->nonce), "nonce-%u-%08x", f->nonce_gen,
		 0x9e3779b9u * f->nonce_gen);
}

/* 401 (with realm) or 438 (realm too, as coturn sends it); challenges
 * carry no MESSAGE-INTEGRITY. */
static __attribute__((unused)) size_t build_challenge_nonce(struct fx *f,
							    const struct stun_msg *req,
							    unsigned code, const char *nonce,
							    uint8_t *buf)
{
	struct stun_builder b;
	resp_start(&b, buf, req, STUN_ERROR);
	add_error(&b, code);
	add_str(&b, STUN_ATTR_REALM, REALM);
	add_str(&b, STUN_ATTR_NONCE, nonce);
	return resp_end(f, &b, 0);
}

/* A challenge with a new nonce, which the client must take. */
static __attribute__((unused)) size_t build_challenge(struct fx *f, const struct stun_msg *req,
						      unsigned code, uint8_t *buf)
{
	next_nonce(f);
	return build_challenge_nonce(f, req, code, f->nonce, buf);
}

/* A 401 to an authenticated request: refused credentials; the client keeps
 * its nonce. */
static __attribute__((unused)) void refuse(struct fx *f, const struct stun_msg *req)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_challenge_nonce(f, req, STUN_ERR_UNAUTHORIZED, "refused-nonce", buf);
	deliver(f, buf, n);
}

static __attribute__((unused)) void challenge(struct fx *f, const struct stun_msg *req,
					      unsigned code)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_challenge(f, req, code, buf);
	deliver(f, buf, n);
}

/* Success: Allocate with relayed/mapped/lifetime, Refresh with lifetime,
 * the others bare. */
static __attribute__((unused)) size_t build_ok(struct fx *f, const struct stun_msg *req,
					       uint32_t lifetime, int mi, uint8_t *buf)
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

static __attribute__((unused)) void ok(struct fx *f, const struct stun_msg *req, uint32_t lifetime)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_ok(f, req, lifetime, 1, buf);
	deliver(f, buf, n);
}

static __attribute__((unused)) size_t build_error(struct fx *f, const struct stun_msg *req,
						  unsigned code, int mi, uint8_t *buf)
{
	struct stun_builder b;
	resp_start(&b, buf, req, STUN_ERROR);
	add_error(&b, code);
	return resp_end(f, &b, mi);
}

static __attribute__((unused)) void error(struct fx *f, const struct stun_msg *req, unsigned code)
{
	uint8_t buf[STUN_MSG_MAX];
	size_t n = build_error(f, req, code, 1, buf);
	deliver(f, buf, n);
}

static __attribute__((unused)) size_t build_data_ind(const struct net_endpoint *peer,
						     const void *data, size_t len, uint8_t *buf)
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
static __attribute__((unused)) struct stun_msg allocate_challenged(struct fx *f)
{
	tick(f, 0);
	struct stun_msg m = take_req(f, 0, TURN_ALLOCATE, false);
	challenge(f, &m, STUN_ERR_UNAUTHORIZED);
	return take_req(f, 0, TURN_ALLOCATE, true);
}

/* The whole exchange up to a ready allocation with this lifetime. */
static __attribute__((unused)) void allocate(struct fx *f, uint32_t lifetime)
{
	struct stun_msg m = allocate_challenged(f);
	ok(f, &m, lifetime);
	assert_int_equal(al0(f)->state, TURN_READY);
	expect_nothing(f);
}
