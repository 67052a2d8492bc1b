/* Unit tests for the TURN messages of control/nat/stun.c (RFC 5766):
 * Allocate with the long-term credential challenge, Refresh,
 * CreatePermission, ChannelBind, Send/Data indications and ChannelData
 * framing, against answers built as a server would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/nat/stun.h"
#include "tests/unit/stun_fixture.h"

/* ---- TURN messages ---- */

/* What a TURN server would answer: a response to `req` with optional
 * attributes, integrity with `key` (NULL: none) and a fingerprint. */
struct srv_resp {
	int cls;
	int error;
	const char *realm, *nonce;
	const struct net_endpoint *relayed, *mapped;
	uint32_t lifetime;
	const uint8_t *key;
};

static int server_answer(const struct stun_msg *req, const struct srv_resp *r, uint8_t *out,
			 size_t cap)
{
	struct stun_builder b;
	stun_build_start(&b, out, cap, req->method, (enum stun_class)r->cls, req->txid);
	if (r->error) {
		uint8_t ec[4] = {0, 0, (uint8_t)(r->error / 100), (uint8_t)(r->error % 100)};
		stun_build_attr(&b, STUN_ATTR_ERROR_CODE, ec, 4);
	}
	if (r->realm)
		stun_build_attr(&b, STUN_ATTR_REALM, r->realm, strlen(r->realm));
	if (r->nonce)
		stun_build_attr(&b, STUN_ATTR_NONCE, r->nonce, strlen(r->nonce));
	if (r->relayed)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, r->relayed);
	if (r->mapped)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, r->mapped);
	if (r->lifetime)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, r->lifetime);
	if (r->key)
		stun_build_integrity(&b, r->key, 16);
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

static void test_turn_allocate_flow(void **state)
{
	(void)state;
	struct turn_auth a;
	struct stun_txn t;
	struct stun_msg req, resp;
	uint8_t buf[STUN_MSG_MAX], out[STUN_MSG_MAX], key[16];
	struct net_endpoint relayed, mapped;
	ep_v4(&relayed, "198.18.0.100", 49200);
	ep_v6(&mapped, "2001:db8::77", 61000);

	assert_int_equal(turn_auth_init(&a, "ipop", "secret"), 0);
	assert_false(a.challenged);

	/* unauthenticated Allocate */
	int n = turn_allocate_request(&t, &a, 0, buf, sizeof(buf));
	assert_true(n > 0);
	assert_false(t.authenticated);
	assert_int_equal(stun_parse(buf, (size_t)n, &req), 0);
	assert_int_equal(req.method, TURN_ALLOCATE);
	assert_int_equal(req.cls, STUN_REQUEST);
	assert_false(req.attrs & (STUN_HAS_INTEGRITY | STUN_HAS_USERNAME | STUN_HAS_LIFETIME));
	assert_true(req.attrs & STUN_HAS_FINGERPRINT);
	/* REQUESTED-TRANSPORT = UDP, right after the header */
	assert_int_equal(rd16(buf + 20), STUN_ATTR_REQUESTED_TRANSPORT);
	assert_int_equal(buf[24], 17);

	/* 401 challenge: realm and nonce taken, key derived */
	struct srv_resp r401 = {
	    .cls = STUN_ERROR, .error = 401, .realm = "test.invalid", .nonce = "nonce-1"};
	n = server_answer(&req, &r401, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), 1);
	assert_true(a.challenged);
	assert_string_equal(a.realm, "test.invalid");
	assert_string_equal(a.nonce, "nonce-1");
	assert_int_equal(stun_long_term_key("ipop", "test.invalid", "secret", key), 0);
	assert_memory_equal(a.key, key, 16);
	/* a 401 without NONCE or REALM is discarded */
	struct srv_resp r401bad = {.cls = STUN_ERROR, .error = 401, .realm = "test.invalid"};
	n = server_answer(&req, &r401bad, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	struct turn_auth a2 = a;
	assert_int_equal(turn_response(&t, &a2, &resp), -EBADMSG);

	/* authenticated Allocate */
	n = turn_allocate_request(&t, &a, 600, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(t.authenticated);
	assert_int_equal(stun_parse(buf, (size_t)n, &req), 0);
	assert_true(bytes_eq(req.username, "ipop"));
	assert_true(bytes_eq(req.realm, "test.invalid"));
	assert_true(bytes_eq(req.nonce, "nonce-1"));
	assert_int_equal(req.lifetime, 600);
	assert_int_equal(stun_check_integrity(&req, key, 16), 0);
	assert_true(req.attrs & STUN_HAS_FINGERPRINT);

	/* success with a valid MESSAGE-INTEGRITY */
	struct srv_resp ok = {.cls = STUN_SUCCESS,
			      .relayed = &relayed,
			      .mapped = &mapped,
			      .lifetime = 600,
			      .key = key};
	n = server_answer(&req, &ok, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), 0);
	struct turn_allocation al;
	assert_int_equal(turn_allocate_result(&resp, &al), 0);
	assert_true(net_endpoint_equal(&al.relayed, &relayed));
	assert_true(al.has_mapped);
	assert_true(net_endpoint_equal(&al.mapped, &mapped));
	assert_int_equal(al.mapped.family, AF_INET6);
	assert_int_equal(al.lifetime_s, 600);

	/* success without integrity, or with another key: discarded */
	ok.key = NULL;
	n = server_answer(&req, &ok, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EBADMSG);
	uint8_t wrong[16] = {1};
	ok.key = wrong;
	n = server_answer(&req, &ok, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EBADMSG);
	/* no relayed address */
	ok.key = key;
	ok.relayed = NULL;
	n = server_answer(&req, &ok, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), 0);
	assert_int_equal(turn_allocate_result(&resp, &al), -EBADMSG);

	/* 401 to an authenticated request: wrong credentials */
	n = server_answer(&req, &r401, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EACCES);

	/* 438: retry with the new nonce, realm kept */
	struct srv_resp r438 = {.cls = STUN_ERROR, .error = 438, .nonce = "nonce-2"};
	n = server_answer(&req, &r438, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), 1);
	assert_string_equal(a.nonce, "nonce-2");
	assert_string_equal(a.realm, "test.invalid");
	assert_memory_equal(a.key, key, 16);
	n = turn_refresh_request(&t, &a, 0, buf, sizeof(buf));
	assert_int_equal(stun_parse(buf, (size_t)n, &req), 0);
	assert_true(bytes_eq(req.nonce, "nonce-2"));
	assert_true(req.attrs & STUN_HAS_LIFETIME);
	assert_int_equal(req.lifetime, 0);
	assert_int_equal(req.method, TURN_REFRESH);

	/* other errors: with integrity -> -EPROTO and the code; without -> discarded */
	struct srv_resp r403 = {.cls = STUN_ERROR, .error = 403, .key = key};
	n = server_answer(&req, &r403, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EPROTO);
	assert_int_equal(resp.error_code, 403);
	r403.key = NULL;
	n = server_answer(&req, &r403, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EBADMSG);
	struct srv_resp r400 = {.cls = STUN_ERROR, .error = 400};
	n = server_answer(&req, &r400, out, sizeof(out));
	assert_int_equal(stun_parse(out, (size_t)n, &resp), 0);
	assert_int_equal(turn_response(&t, &a, &resp), -EPROTO);

	/* a response to some other transaction */
	struct stun_txn other = t;
	other.txid[0] ^= 0xff;
	assert_int_equal(turn_response(&other, &a, &resp), -ESRCH);

	/* too long credentials */
	char lng[600];
	memset(lng, 'u', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = 0;
	assert_int_equal(turn_auth_init(&a2, lng, "x"), -EINVAL);
	assert_int_equal(turn_auth_init(&a2, "x", lng), -EINVAL);
}

static void test_turn_permission_channel(void **state)
{
	(void)state;
	struct turn_auth a;
	struct stun_txn t;
	struct stun_msg m;
	uint8_t buf[STUN_MSG_MAX];
	struct net_endpoint peers[2];
	ep_v6(&peers[0], "2001:db8:ffff::1", 7000);
	ep_v4(&peers[1], "198.18.5.5", 7001);

	assert_int_equal(turn_auth_init(&a, "u", "p"), 0);
	strcpy(a.realm, "r");
	strcpy(a.nonce, "n");
	assert_int_equal(stun_long_term_key("u", "r", "p", a.key), 0);
	a.challenged = true;

	int n = turn_create_permission_request(&t, &a, peers, 2, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, TURN_CREATE_PERMISSION);
	assert_true(net_endpoint_equal(&m.peer, &peers[0])); /* IPv6 XOR uses the txid */
	assert_int_equal(stun_check_integrity(&m, a.key, 16), 0);
	assert_int_equal(turn_create_permission_request(&t, &a, peers, 0, buf, sizeof(buf)),
			 -EINVAL);

	n = turn_channel_bind_request(&t, &a, 0x4abc, &peers[1], buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, TURN_CHANNEL_BIND);
	assert_int_equal(m.channel, 0x4abc);
	assert_true(net_endpoint_equal(&m.peer, &peers[1]));
	assert_int_equal(m.peer.family, AF_INET);
	assert_int_equal(stun_check_integrity(&m, a.key, 16), 0);
	assert_int_equal(turn_channel_bind_request(&t, &a, 0x3fff, &peers[1], buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(turn_channel_bind_request(&t, &a, 0x8000, &peers[1], buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(turn_channel_bind_request(&t, &a, 0x7fff, &peers[1], buf, 60), -ENOBUFS);

	/* Send indication out, Data indication in */
	n = turn_send_indication(&peers[0], "payload", 7, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, TURN_SEND);
	assert_int_equal(m.cls, STUN_INDICATION);
	assert_true(net_endpoint_equal(&m.peer, &peers[0]));
	assert_true(bytes_eq(m.data, "payload"));
	assert_false(m.attrs & STUN_HAS_INTEGRITY);
	struct net_endpoint from;
	const uint8_t *d;
	size_t dl;
	assert_int_equal(turn_data_indication(&m, &from, &d, &dl), -EINVAL); /* Send, not Data */

	struct stun_builder b;
	stun_build_start(&b, buf, sizeof(buf), TURN_DATA, STUN_INDICATION, t.txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peers[1]);
	stun_build_attr(&b, STUN_ATTR_DATA, "back", 4);
	n = stun_build_end(&b);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(turn_data_indication(&m, &from, &d, &dl), 0);
	assert_true(net_endpoint_equal(&from, &peers[1]));
	assert_int_equal(dl, 4);
	assert_memory_equal(d, "back", 4);
	stun_build_start(&b, buf, sizeof(buf), TURN_DATA, STUN_INDICATION, t.txid);
	stun_build_attr(&b, STUN_ATTR_DATA, "back", 4);
	n = stun_build_end(&b);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(turn_data_indication(&m, &from, &d, &dl), -EBADMSG);

	/* an empty DATA and one too large for a message */
	n = turn_send_indication(&peers[1], "", 0, buf, sizeof(buf));
	assert_true(n > 0);
	static uint8_t big[70000], bigout[70100];
	assert_int_equal(turn_send_indication(&peers[1], big, 65536, bigout, sizeof(bigout)),
			 -EINVAL);
	assert_int_equal(turn_send_indication(&peers[1], "x", 1, buf, 40), -ENOBUFS);
}

static void test_channel_data(void **state)
{
	(void)state;
	uint8_t buf[64];
	uint16_t ch;
	const uint8_t *d;
	size_t dl;

	int n = turn_channel_data_encode(0x4000, "hello", 5, false, buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "\x40\x00\x00\x05hello", 9);
	assert_true(turn_is_channel_data(buf, 9));
	assert_false(stun_is_stun(buf, 9));
	assert_int_equal(turn_channel_data_decode(buf, 9, &ch, &d, &dl), 0);
	assert_int_equal(ch, 0x4000);
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "hello", 5);

	n = turn_channel_data_encode(0x7fff, "hello", 5, true, buf, sizeof(buf));
	assert_int_equal(n, 12);
	assert_memory_equal(buf, "\x7f\xff\x00\x05hello\0\0\0", 12);
	assert_int_equal(turn_channel_data_decode(buf, 12, &ch, &d, &dl), 0);
	assert_int_equal(ch, 0x7fff);
	assert_int_equal(dl, 5);
	/* neither unpadded nor padded: partial padding, truncation, excess */
	for (size_t len = 0; len < 16; len++) {
		int want = (len == 9 || len == 12) ? 0 : -EBADMSG;
		assert_int_equal(turn_channel_data_decode(buf, len, &ch, &d, &dl), want);
	}
	/* an aligned payload has one valid length */
	n = turn_channel_data_encode(0x4001, "abcd", 4, true, buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_int_equal(turn_channel_data_decode(buf, 8, &ch, &d, &dl), 0);
	/* empty payload */
	n = turn_channel_data_encode(0x4001, NULL, 0, true, buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_int_equal(turn_channel_data_decode(buf, 4, &ch, &d, &dl), 0);
	assert_int_equal(dl, 0);
	/* channel numbers outside 0x4000..0x7FFF */
	assert_int_equal(turn_channel_data_encode(0x3fff, "x", 1, false, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(turn_channel_data_encode(0x8000, "x", 1, false, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(turn_channel_data_encode(0x4000, "hello", 5, true, buf, 11), -ENOBUFS);
	assert_int_equal(turn_channel_data_encode(0x4000, "hello", 5, false, buf, 9), 9);
	const uint16_t bad_ch[] = {0x0000, 0x3fff, 0x8000, 0xbfff, 0xc000, 0xffff};
	for (size_t i = 0; i < 6; i++) {
		buf[0] = (uint8_t)(bad_ch[i] >> 8);
		buf[1] = (uint8_t)bad_ch[i];
		buf[2] = 0, buf[3] = 0;
		assert_int_equal(turn_channel_data_decode(buf, 4, &ch, &d, &dl), -EBADMSG);
	}
	/* length field larger than the datagram */
	memcpy(buf, "\x40\x00\xff\xffxxxx", 8);
	assert_int_equal(turn_channel_data_decode(buf, 8, &ch, &d, &dl), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_turn_allocate_flow),
	    cmocka_unit_test(test_turn_permission_channel),
	    cmocka_unit_test(test_channel_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
