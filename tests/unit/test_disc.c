/* Unit tests for discovery (control/signalling/disc.c) through its ops table,
 * without XMPP: the STUN client that learns our server-reflexive address from
 * the data port (requests, retransmissions, timeouts, answers matched by
 * transaction and source, error answers, garbage and strays counted), the
 * "xmpp" management view, and the rebuild path that hands the peer set to
 * the owner's commit and retries from the tick when it fails. The test plays
 * both the owner (ops) and the STUN servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "control/link/linkmgr.h"
#include "control/nat/stun.h"
#include "control/nat/turn.h"
#include "control/signalling/disc.h"
#include "util/log.h"

#define MAX_SENT 64

struct sent {
	struct net_endpoint to;
	size_t len;
	uint8_t buf[STUN_MSG_MAX];
};

/* The owner: what discovery sent and asked for. */
struct fx {
	struct ctl_disc d;
	struct ipop_config cfg;
	struct ctl_peers peers;
	struct ctl_linkmgr lm;
	struct ctl_turn turn;
	struct net_endpoint stun[2];
	struct sent q[MAX_SENT];
	unsigned nq;
	int send_rc;
	unsigned commits, syncs, watches;
	int commit_rc;
	unsigned synced_n;
};

static int fx_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len)
{
	struct fx *f = ctx;
	assert_true(f->nq < MAX_SENT);
	assert_true(len <= sizeof(f->q[0].buf));
	f->q[f->nq].to = *to;
	f->q[f->nq].len = len;
	memcpy(f->q[f->nq].buf, buf, len);
	f->nq++;
	return f->send_rc;
}

static int fx_commit(void *ctx)
{
	struct fx *f = ctx;
	f->commits++;
	if (!f->commit_rc)
		ctl_disc_swapped(&f->d); /* as ctl_peers_commit does */
	return f->commit_rc;
}

static void fx_sync_routes(void *ctx, const struct net_prefix *v, unsigned n)
{
	struct fx *f = ctx;
	(void)v;
	f->syncs++;
	f->synced_n = n;
}

static int fx_watch(void *ctx, int fd)
{
	struct fx *f = ctx;
	(void)fd;
	f->watches++;
	return 0;
}

static const struct ctl_disc_ops fx_ops = {
    .send = fx_send,
    .commit = fx_commit,
    .sync_routes = fx_sync_routes,
    .watch = fx_watch,
};

static const uint8_t fx_mac[6] = {0x02, 0, 0, 0, 0, 1};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(net_endpoint_parse("198.18.0.250:3478", &f->stun[0]), 0);
	assert_int_equal(net_endpoint_parse("[2001:db8::250]:3478", &f->stun[1]), 0);
	f->cfg.stun = f->stun;
	f->cfg.nstun = 2;
	f->cfg.port = 5800;
	f->cfg.mode = IPOP_MODE_L3;
	struct ctl_disc_env env = {
	    .ops = &fx_ops,
	    .ctx = f,
	    .cfg = &f->cfg,
	    .peers = &f->peers,
	    .lm = &f->lm,
	    .turn = &f->turn,
	    .tap_name = "ipoptest",
	    .mac = fx_mac,
	};
	char err[256] = "";
	assert_int_equal(ctl_disc_create(&f->d, &env, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	ctl_disc_destroy(&f->d);
	free(f);
	return 0;
}

/* The request sent as q[i], parsed. */
static struct stun_msg sent_msg(struct fx *f, unsigned i)
{
	struct stun_msg m;
	assert_true(i < f->nq);
	assert_int_equal(stun_parse(f->q[i].buf, f->q[i].len, &m), 0);
	return m;
}

/* A Binding success answering req, with our address as the server saw it. */
static size_t binding_success(const struct stun_msg *req, const char *mapped, uint8_t *buf)
{
	struct stun_builder b;
	struct net_endpoint ep;
	assert_int_equal(net_endpoint_parse(mapped, &ep), 0);
	stun_build_start(&b, buf, STUN_MSG_MAX, STUN_BINDING, STUN_SUCCESS, req->txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep);
	stun_build_fingerprint(&b);
	int n = stun_build_end(&b);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t binding_error(const struct stun_msg *req, unsigned code, uint8_t *buf)
{
	struct stun_builder b;
	uint8_t v[4 + 8] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100)};
	memcpy(v + 4, "Bad Req.", 8);
	stun_build_start(&b, buf, STUN_MSG_MAX, STUN_BINDING, STUN_ERROR, req->txid);
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, v, sizeof(v));
	int n = stun_build_end(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/* No XMPP host: discovery is off, but every STUN server gets a Binding
 * request from the data port at start, through the owner's send. */
static void test_start_sends_bindings(void **state)
{
	struct fx *f = *state;
	assert_null(f->d.x);
	assert_int_equal(f->d.nstun, 2);
	assert_int_equal(ctl_disc_start(&f->d), 0);
	assert_int_equal(f->nq, 2);
	assert_true(net_endpoint_equal(&f->q[0].to, &f->stun[0]));
	assert_true(net_endpoint_equal(&f->q[1].to, &f->stun[1]));
	for (unsigned i = 0; i < 2; i++) {
		struct stun_msg m = sent_msg(f, i);
		assert_int_equal(m.method, STUN_BINDING);
		assert_int_equal(m.cls, STUN_REQUEST);
		assert_true(f->d.stun[i].active);
	}
	assert_int_equal(f->d.cnt.stun_requests, 2);
	assert_int_equal(f->watches, 0); /* no XMPP socket to watch */
}

/* An answer from the right server with the right transaction sets our
 * server-reflexive candidate; the refresh comes DISC_STUN_REFRESH_MS later. */
static void test_mapped_learned(void **state)
{
	struct fx *f = *state;
	uint8_t buf[STUN_MSG_MAX];
	char a[NET_ENDPOINT_STRLEN];
	ctl_disc_start(&f->d);
	struct stun_msg req = sent_msg(f, 0);
	size_t n = binding_success(&req, "203.0.113.7:41000", buf);
	ctl_disc_stun_input(&f->d, buf, n, &f->stun[0], 1000);
	assert_int_equal(f->d.cnt.stun_responses, 1);
	assert_true(f->d.stun[0].have_mapped);
	assert_false(f->d.stun[0].active);
	assert_string_equal(net_endpoint_format(&f->d.stun[0].mapped, a, sizeof(a)),
			    "203.0.113.7:41000");
	assert_int_equal(f->d.stun[0].next_ms, 1000 + DISC_STUN_REFRESH_MS);
	assert_int_equal(f->d.stun[0].last_ok_ms, 1000);
	/* The same answer again matches nothing outstanding. */
	ctl_disc_stun_input(&f->d, buf, n, &f->stun[0], 1001);
	assert_int_equal(f->d.cnt.stun_responses, 1);
	assert_int_equal(f->d.cnt.stun_unmatched, 1);

	/* The management view lists both servers, the first with its mapping. */
	json_t *o = ctl_disc_json(&f->d);
	assert_non_null(o);
	json_t *stun = json_object_get(o, "stun");
	assert_true(json_is_array(stun));
	assert_int_equal(json_array_size(stun), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(stun, 0), "mapped")),
			    "203.0.113.7:41000");
	assert_true(json_is_null(json_object_get(json_array_get(stun, 1), "mapped")));
	assert_false(json_is_true(json_object_get(o, "enabled")));
	json_decref(o);
}

/* Garbage is a STUN error; a well-formed answer to a transaction we never
 * started, or to ours but from elsewhere-shaped ids, is unmatched; an error
 * answer ends the transaction and retries after DISC_STUN_RETRY_MS. */
static void test_bad_answers(void **state)
{
	struct fx *f = *state;
	uint8_t buf[STUN_MSG_MAX];
	ctl_disc_start(&f->d);
	static const uint8_t junk[] = "not a STUN message at all";
	ctl_disc_stun_input(&f->d, junk, sizeof(junk), &f->stun[0], 10);
	assert_int_equal(f->d.cnt.stun_errors, 1);

	struct stun_msg req = sent_msg(f, 0), other = req;
	other.txid[0] ^= 0xff;
	size_t n = binding_success(&other, "203.0.113.7:41000", buf);
	ctl_disc_stun_input(&f->d, buf, n, &f->stun[0], 20);
	assert_int_equal(f->d.cnt.stun_unmatched, 1);
	assert_false(f->d.stun[0].have_mapped);

	n = binding_error(&req, 400, buf);
	ctl_disc_stun_input(&f->d, buf, n, &f->stun[0], 30);
	assert_int_equal(f->d.cnt.stun_errors, 2);
	assert_false(f->d.stun[0].active);
	assert_false(f->d.stun[0].have_mapped);
	assert_int_equal(f->d.stun[0].next_ms, 30 + DISC_STUN_RETRY_MS);

	/* Truncations of a good answer never crash and never count as one. */
	struct stun_msg req1 = sent_msg(f, 1);
	n = binding_success(&req1, "[2001:db8::7]:41000", buf);
	for (size_t k = 0; k < n; k++)
		ctl_disc_stun_input(&f->d, buf, k, &f->stun[1], 40);
	assert_int_equal(f->d.cnt.stun_responses, 0);
	ctl_disc_stun_input(&f->d, buf, n, &f->stun[1], 41);
	assert_int_equal(f->d.cnt.stun_responses, 1);
	assert_true(f->d.stun[1].have_mapped);
}

/* Nobody answers: the tick retransmits the same bytes on the RFC 5389
 * schedule, then gives up (counted) and asks again DISC_STUN_RETRY_MS later. */
static void test_retransmit_and_timeout(void **state)
{
	struct fx *f = *state;
	f->cfg.nstun = 1; /* only the first server from here on */
	ctl_disc_destroy(&f->d);
	struct ctl_disc_env env = {.ops = &fx_ops,
				   .ctx = f,
				   .cfg = &f->cfg,
				   .peers = &f->peers,
				   .lm = &f->lm,
				   .turn = &f->turn,
				   .tap_name = "ipoptest",
				   .mac = fx_mac};
	char err[128];
	assert_int_equal(ctl_disc_create(&f->d, &env, err, sizeof(err)), 0);
	assert_int_equal(ctl_disc_start(&f->d), 0);
	assert_int_equal(f->nq, 1);
	uint64_t t0 = f->d.stun[0].txn.first_ms;
	uint64_t end = t0 + stun_rtx_offset_ms(STUN_RC, STUN_RTO_MS);
	for (uint64_t now = t0; now < end; now += 50)
		ctl_disc_tick(&f->d, now);
	assert_int_equal(f->d.cnt.stun_retransmits, STUN_RC - 1);
	assert_int_equal(f->nq, STUN_RC);
	for (unsigned i = 1; i < f->nq; i++) {
		assert_int_equal(f->q[i].len, f->q[0].len);
		assert_memory_equal(f->q[i].buf, f->q[0].buf, f->q[0].len);
	}
	assert_int_equal(f->d.cnt.stun_timeouts, 0);
	ctl_disc_tick(&f->d, end);
	assert_int_equal(f->d.cnt.stun_timeouts, 1);
	assert_false(f->d.stun[0].active);
	assert_int_equal(f->d.stun[0].next_ms, end + DISC_STUN_RETRY_MS);
	/* The retry is a new transaction. */
	ctl_disc_tick(&f->d, end + DISC_STUN_RETRY_MS);
	assert_int_equal(f->nq, STUN_RC + 1);
	assert_int_equal(f->d.cnt.stun_requests, 2);
	struct stun_msg first = sent_msg(f, 0), again = sent_msg(f, STUN_RC);
	assert_memory_not_equal(first.txid, again.txid, STUN_TXID_LEN);
	/* A failing send is not a crash and the transaction still runs. */
	f->send_rc = -ENETUNREACH;
	ctl_disc_tick(&f->d, end + DISC_STUN_RETRY_MS + STUN_RTO_MS);
	assert_true(f->d.stun[0].active);
}

/* The peer set is the owner's: a rebuild asks it to commit; on failure the
 * request stays and the tick asks again; on success the kernel routes of the
 * discovered peers are synced (L3 mode) and the flag clears. */
static void test_rebuild_through_owner(void **state)
{
	struct fx *f = *state;
	f->commit_rc = -ENOMEM;
	assert_int_equal(ctl_disc_rebuild(&f->d), -ENOMEM);
	assert_int_equal(f->commits, 1);
	assert_true(f->d.rebuild);
	assert_int_equal(f->syncs, 0);
	f->commit_rc = 0;
	ctl_disc_tick(&f->d, 100);
	assert_int_equal(f->commits, 2);
	assert_false(f->d.rebuild);
	assert_int_equal(f->syncs, 1);
	assert_int_equal(f->synced_n, 0); /* no discovered peers, no routes */
	ctl_disc_tick(&f->d, 200);
	assert_int_equal(f->commits, 2); /* nothing pending */
	/* Switch mode: the kernel routes are not discovery's business. */
	f->cfg.mode = IPOP_MODE_SWITCH;
	assert_int_equal(ctl_disc_rebuild(&f->d), 0);
	assert_int_equal(f->commits, 3);
	assert_int_equal(f->syncs, 1);
}

/* Candidates changed while discovery is off: nothing to tell anyone. */
static void test_candidates_changed_offline(void **state)
{
	struct fx *f = *state;
	ctl_disc_candidates_changed(&f->d, 5);
	assert_int_equal(f->nq, 0);
	ctl_disc_xmpp_event(&f->d); /* no session: a no-op */
	assert_int_equal(f->watches, 0);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_start_sends_bindings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mapped_learned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retransmit_and_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebuild_through_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_candidates_changed_offline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
