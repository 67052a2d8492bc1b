/* Unit tests for control/stun.c and control/candidates.c: the RFC 5769 test
 * vectors (bit-exact parse, integrity, fingerprint and rebuild), every
 * malformation of the parser, the RFC 5389 retransmission schedule, TURN
 * message round trips and ChannelData framing, candidate gathering in a
 * network namespace of our own, and a real coturn started by the test:
 * Binding, Allocate with the 401 challenge, CreatePermission, Send/Data
 * indications, ChannelBind, ChannelData both ways through the relay, a 438
 * Stale Nonce retry, and the release with Refresh lifetime 0.
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

#include "tests/unit/fake_ifaddrs.h"

#include "control/nat/candidates.h"
#include "control/nat/stun.h"

/* ---- RFC 5769 vectors (checked with Python's hmac/zlib before use) ---- */

/* §2.1 sample request, §2.2 IPv4 response, §2.3 IPv6 response, §2.4 request
 * with long-term authentication */
static const char rfc_req_hex[] =
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014"
    "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
static const char rfc_v4_hex[] =
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008"
    "0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
static const char rfc_v6_hex[] =
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200014"
    "0002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275"
    "bfe3ed4180280004c8fb0b4c";
static const char rfc_lt_hex[] =
    "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe3"
    "82b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b"
    "6578616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666";

static const char rfc_password[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* §2.4: "マトリックス", password after SASLprep "TheMatrIX" */
static const char lt_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3"
			      "\x82\xb9";

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = hex; *p; p++) {
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			continue; /* spaces are for reading */
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void ep_v4(struct net_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr[10] = ep->addr[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, ip, ep->addr + 12), 1);
	ep->port = port;
	ep->family = AF_INET;
}

static void ep_v6(struct net_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	assert_int_equal(inet_pton(AF_INET6, ip, ep->addr), 1);
	ep->port = port;
	ep->family = AF_INET6;
}

static bool bytes_eq(struct stun_bytes b, const char *s)
{
	return b.len == strlen(s) && memcmp(b.p, s, b.len) == 0;
}

static void test_rfc5769_request(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct stun_msg m;
	size_t n = unhex(rfc_req_hex, buf, sizeof(buf));
	assert_int_equal(n, 108);

	assert_true(stun_is_stun(buf, n));
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_memory_equal(m.txid, buf + 8, 12);
	assert_true(bytes_eq(m.software, "STUN test client"));
	assert_true(bytes_eq(m.username, "evtj:h6vY"));
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);
	assert_true(m.attrs & STUN_HAS_INTEGRITY);
	/* short-term credential: the key is the password itself */
	assert_int_equal(
	    stun_check_integrity(&m, (const uint8_t *)rfc_password, strlen(rfc_password)), 0);
	assert_int_equal(stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22),
			 -EBADMSG);
	/* the FINGERPRINT value itself */
	assert_int_equal(stun_crc32(buf, n - 8) ^ STUN_FP_XOR, 0xe57a3bcfu);
}

static void check_response(const char *hex, size_t want_len, const struct net_endpoint *want)
{
	uint8_t buf[256];
	struct stun_msg m;
	size_t n = unhex(hex, buf, sizeof(buf));
	assert_int_equal(n, want_len);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_true(bytes_eq(m.software, "test vector"));
	assert_true(m.attrs & STUN_HAS_XOR_MAPPED);
	assert_true(net_endpoint_equal(&m.mapped, want));
	assert_int_equal(m.mapped.family, want->family);
	assert_int_equal(
	    stun_check_integrity(&m, (const uint8_t *)rfc_password, strlen(rfc_password)), 0);
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);

	/* Our builder reproduces the vector bit for bit (the vector pads
	 * SOFTWARE with a space; padding content is the sender's choice). */
	uint8_t out[256];
	struct stun_builder b;
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, buf + 8);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "test vector", 11);
	out[b.len - 1] = 0x20;
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, want);
	stun_build_integrity(&b, (const uint8_t *)rfc_password, strlen(rfc_password));
	stun_build_fingerprint(&b);
	assert_int_equal(stun_build_end(&b), (int)n);
	assert_memory_equal(out, buf, n);

	/* and a transaction with that id matches it */
	struct stun_txn t = {.method = STUN_BINDING};
	memcpy(t.txid, buf + 8, 12);
	struct net_endpoint got;
	assert_int_equal(stun_binding_response(&t, &m, &got), 0);
	assert_true(net_endpoint_equal(&got, want));
	t.txid[11] ^= 1;
	assert_int_equal(stun_binding_response(&t, &m, &got), -ESRCH);
}

static void test_rfc5769_ipv4_response(void **state)
{
	(void)state;
	struct net_endpoint want;
	ep_v4(&want, "192.0.2.1", 32853);
	check_response(rfc_v4_hex, 80, &want);
}

static void test_rfc5769_ipv6_response(void **state)
{
	(void)state;
	struct net_endpoint want;
	ep_v6(&want, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	check_response(rfc_v6_hex, 92, &want);
}

static void test_rfc5769_long_term(void **state)
{
	(void)state;
	uint8_t buf[256], key[16], want_key[16];
	struct stun_msg m;
	size_t n = unhex(rfc_lt_hex, buf, sizeof(buf));
	assert_int_equal(n, 116);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_true(bytes_eq(m.username, lt_user));
	assert_true(bytes_eq(m.realm, "example.org"));
	assert_true(bytes_eq(m.nonce, "f//499k954d6OL34oL9FSTvy64sA"));
	assert_false(m.attrs & STUN_HAS_FINGERPRINT);

	assert_int_equal(stun_long_term_key(lt_user, "example.org", "TheMatrIX", key), 0);
	unhex("e8ca7ad59d5eb0518e312911d2dab2a9", want_key, sizeof(want_key));
	assert_memory_equal(key, want_key, 16);
	assert_int_equal(stun_check_integrity(&m, key, 16), 0);
	key[0] ^= 1;
	assert_int_equal(stun_check_integrity(&m, key, 16), -EBADMSG);
	key[0] ^= 1;

	/* rebuilt bit for bit (zero padding in this vector) */
	uint8_t out[256];
	struct stun_builder b;
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_REQUEST, buf + 8);
	stun_build_attr(&b, STUN_ATTR_USERNAME, lt_user, strlen(lt_user));
	stun_build_attr(&b, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
	stun_build_attr(&b, STUN_ATTR_REALM, "example.org", 11);
	stun_build_integrity(&b, key, 16);
	assert_int_equal(stun_build_end(&b), (int)n);
	assert_memory_equal(out, buf, n);

	/* a changed body byte: still parses, integrity fails */
	buf[40] ^= 0x20;
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(stun_check_integrity(&m, key, 16), -EBADMSG);
}

/* ---- malformed input ---- */

static void set_len(uint8_t *buf, size_t total)
{
	buf[2] = (uint8_t)((total - 20) >> 8);
	buf[3] = (uint8_t)(total - 20);
}

static void test_truncations(void **state)
{
	(void)state;
	const char *vecs[] = {rfc_req_hex, rfc_v4_hex, rfc_v6_hex, rfc_lt_hex};
	for (size_t v = 0; v < 4; v++) {
		uint8_t full[256], buf[256];
		size_t n = unhex(vecs[v], full, sizeof(full));
		struct stun_msg m;

		/* attribute boundaries of the vector */
		bool boundary[256] = {false};
		for (size_t off = 20; off <= n;) {
			boundary[off] = true;
			if (off == n)
				break;
			off += 4 + ((rd16(full + off + 2) + 3u) & ~3u);
		}

		for (size_t k = 0; k < n; k++) {
			/* header untouched: the length no longer matches */
			memcpy(buf, full, k);
			assert_int_equal(stun_parse(buf, k, &m), -EBADMSG);
			if (k < 20 || (k & 3))
				continue;
			/* header adjusted: only cuts at attribute boundaries are
			 * messages (without their FINGERPRINT/MI); every other cut
			 * leaves an attribute running past the end */
			set_len(buf, k);
			int rc = stun_parse(buf, k, &m);
			if (boundary[k]) {
				assert_int_equal(rc, 0);
			} else {
				assert_int_equal(rc, -EBADMSG);
				assert_string_equal(m.why, "attribute runs past the end");
			}
		}
		assert_int_equal(stun_parse(full, n, &m), 0);
	}
}

static void test_bad_header(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct stun_msg m;
	size_t n = unhex(rfc_v4_hex, buf, sizeof(buf));

	for (int bits = 1; bits < 4; bits++) {
		buf[0] = (uint8_t)(bits << 6 | 0x01);
		assert_false(stun_is_stun(buf, n));
		assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	}
	buf[0] = 0x01;
	buf[5] ^= 1; /* cookie */
	assert_false(stun_is_stun(buf, n));
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	assert_string_equal(m.why, "no magic cookie");
	buf[5] ^= 1;

	/* length field: one more, one less, a multiple of 4 too big / small */
	const int deltas[] = {1, -1, 4, -4, 2, 0x7ffc};
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		uint8_t c[256];
		memcpy(c, buf, n);
		unsigned l = (unsigned)(n - 20) + (unsigned)deltas[i];
		c[2] = (uint8_t)(l >> 8);
		c[3] = (uint8_t)l;
		assert_int_equal(stun_parse(c, n, &m), -EBADMSG);
	}
	/* a datagram that is not a multiple of 4 even with a matching header */
	uint8_t c[256];
	memcpy(c, buf, n);
	c[n] = 0;
	set_len(c, n + 1);
	assert_int_equal(stun_parse(c, n + 1, &m), -EBADMSG);
	assert_string_equal(m.why, "length not a multiple of 4");
	assert_int_equal(stun_parse(buf, 0, &m), -EBADMSG);
	assert_int_equal(stun_parse(buf, 19, &m), -EBADMSG);
}

/* A message with one raw attribute, for crafting malformed ones. */
static size_t craft(uint8_t *buf, uint16_t type, const void *val, size_t alen, size_t padded)
{
	static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	memset(buf, 0, 20 + 4 + padded);
	buf[0] = 0x01;
	buf[1] = 0x01; /* Binding success */
	buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
	memcpy(buf + 8, txid, 12);
	buf[20] = (uint8_t)(type >> 8), buf[21] = (uint8_t)type;
	buf[22] = (uint8_t)(alen >> 8), buf[23] = (uint8_t)alen;
	memcpy(buf + 24, val, alen < padded ? alen : padded);
	set_len(buf, 20 + 4 + padded);
	return 20 + 4 + padded;
}

static void test_bad_attributes(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct stun_msg m;
	const uint8_t v4[8] = {0, 1, 0x11, 0x22, 1, 2, 3, 4};
	const uint8_t v6[20] = {0, 2, 0x11, 0x22, 1, 2, 3, 4};
	uint8_t bad[20];
	size_t n;

	/* well-formed baseline */
	n = craft(buf, STUN_ATTR_XOR_MAPPED_ADDRESS, v4, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	n = craft(buf, STUN_ATTR_XOR_MAPPED_ADDRESS, v6, 20, 20);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.mapped.family, AF_INET6);

	/* bad address family, and families with the other's length */
	memcpy(bad, v4, 8);
	for (int fam = 0; fam < 256; fam++) {
		if (fam == 1)
			continue;
		bad[1] = (uint8_t)fam;
		n = craft(buf, STUN_ATTR_XOR_MAPPED_ADDRESS, bad, 8, 8);
		assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
		n = craft(buf, STUN_ATTR_MAPPED_ADDRESS, bad, 8, 8);
		assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	}
	n = craft(buf, STUN_ATTR_XOR_MAPPED_ADDRESS, v6, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	const uint8_t v4long[20] = {0, 1, 0x11, 0x22, 1, 2, 3, 4};
	n = craft(buf, STUN_ATTR_XOR_RELAYED_ADDRESS, v4long, 20, 20);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	n = craft(buf, STUN_ATTR_XOR_PEER_ADDRESS, v4, 3, 4);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);

	/* an attribute without its padding: header length not a multiple of 4 */
	n = craft(buf, STUN_ATTR_SOFTWARE, "abcde", 5, 8);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	set_len(buf, n - 3);
	assert_int_equal(stun_parse(buf, n - 3, &m), -EBADMSG);
	/* an attribute length running past the end */
	n = craft(buf, STUN_ATTR_SOFTWARE, "abcde", 5, 8);
	buf[23] = 9;
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	assert_string_equal(m.why, "attribute runs past the end");
	buf[22] = 0xff;
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);

	/* fixed-size attributes with the wrong size */
	const uint16_t fixed[] = {STUN_ATTR_LIFETIME,	       STUN_ATTR_CHANNEL_NUMBER,
				  STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_REQUESTED_TRANSPORT,
				  STUN_ATTR_FINGERPRINT,       STUN_ATTR_ICE_CONTROLLED};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		memset(bad, 0x40, sizeof(bad));
		n = craft(buf, fixed[i], bad, 12, 12);
		assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	}

	/* ERROR-CODE: class 3..6, number 0..99 */
	uint8_t ec[8] = {0, 0, 4, 1, 'n', 'o', 'p', 'e'};
	n = craft(buf, STUN_ATTR_ERROR_CODE, ec, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.error_code, 401);
	assert_true(bytes_eq(m.reason, "nope"));
	ec[2] = 7;
	n = craft(buf, STUN_ATTR_ERROR_CODE, ec, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	ec[2] = 2;
	n = craft(buf, STUN_ATTR_ERROR_CODE, ec, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	ec[2] = 4, ec[3] = 100;
	n = craft(buf, STUN_ATTR_ERROR_CODE, ec, 8, 8);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	n = craft(buf, STUN_ATTR_ERROR_CODE, ec, 3, 4);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);

	/* CHANNEL-NUMBER outside 0x4000..0x7FFF */
	const uint8_t ch_lo[4] = {0x3f, 0xff, 0, 0}, ch_hi[4] = {0x80, 0, 0, 0};
	n = craft(buf, STUN_ATTR_CHANNEL_NUMBER, ch_lo, 4, 4);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);
	n = craft(buf, STUN_ATTR_CHANNEL_NUMBER, ch_hi, 4, 4);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);

	/* UNKNOWN-ATTRIBUTES: an odd length is malformed, the list is kept */
	const uint8_t ua[6] = {0x00, 0x30, 0x00, 0x31, 0x00, 0x32};
	n = craft(buf, STUN_ATTR_UNKNOWN_ATTRIBUTES, ua, 6, 8);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	assert_int_equal(m.n_unknown, 3);
	assert_int_equal(m.unknown[2], 0x0032);
	n = craft(buf, STUN_ATTR_UNKNOWN_ATTRIBUTES, ua, 5, 8);
	assert_int_equal(stun_parse(buf, n, &m), -EBADMSG);

	/* oversized text */
	static uint8_t big[1024];
	memset(big, 'a', sizeof(big));
	uint8_t *huge = malloc(20 + 4 + 1024);
	assert_non_null(huge);
	n = craft(huge, STUN_ATTR_REALM, big, 764, 764);
	assert_int_equal(stun_parse(huge, n, &m), -EBADMSG);
	n = craft(huge, STUN_ATTR_REALM, big, 763, 764);
	assert_int_equal(stun_parse(huge, n, &m), 0);
	n = craft(huge, STUN_ATTR_USERNAME, big, 513, 516);
	assert_int_equal(stun_parse(huge, n, &m), -EBADMSG);
	/* a second, oversized USERNAME after a good one: still rejected */
	n = craft(huge, STUN_ATTR_USERNAME, "ab", 2, 4);
	huge[28] = 0x00, huge[29] = 0x06, huge[30] = 0x02, huge[31] = 0x01; /* 513 bytes */
	memset(huge + 32, 'a', 516);
	set_len(huge, 32 + 516);
	assert_int_equal(stun_parse(huge, 32 + 516, &m), -EBADMSG);
	huge[31] = 0x00; /* 512 bytes: fine, and the first one counts */
	set_len(huge, 32 + 512);
	assert_int_equal(stun_parse(huge, 32 + 512, &m), 0);
	assert_true(bytes_eq(m.username, "ab"));
	free(huge);

	/* comprehension-required unknown: error naming it; optional: ignored */
	n = craft(buf, 0x0030, "x", 1, 4);
	assert_int_equal(stun_parse(buf, n, &m), -EPROTO);
	assert_int_equal(m.bad_attr, 0x0030);
	n = craft(buf, 0x7fff, "", 0, 0);
	assert_int_equal(stun_parse(buf, n, &m), -EPROTO);
	n = craft(buf, 0x8030, "x", 1, 4);
	assert_int_equal(stun_parse(buf, n, &m), 0);
	n = craft(buf, 0xffff, "", 0, 0);
	assert_int_equal(stun_parse(buf, n, &m), 0);
}

static void test_fingerprint_and_order(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct stun_msg m;
	size_t n = unhex(rfc_v6_hex, buf, sizeof(buf));

	/* no single-bit flip after the length field leaves a message that
	 * passes with a FINGERPRINT: the CRC, or the structure checks, catch it
	 * (a flip can turn the FINGERPRINT into another attribute, which then
	 * parses as a message without one) */
	for (size_t i = 4; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1 << bit);
			int rc = stun_parse(buf, n, &m);
			assert_true(rc != 0 || !(m.attrs & STUN_HAS_FINGERPRINT));
			if (i < n - 8 || i >= n - 4) /* not the FINGERPRINT header */
				assert_int_not_equal(rc, 0);
			buf[i] ^= (uint8_t)(1 << bit);
		}
	}
	assert_int_equal(stun_parse(buf, n, &m), 0);

	/* an attribute after FINGERPRINT */
	struct stun_builder b;
	uint8_t out[256];
	const uint8_t txid[12] = {9};
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	stun_build_fingerprint(&b);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "late", 4);
	int len = stun_build_end(&b);
	assert_true(len > 0);
	assert_int_equal(stun_parse(out, (size_t)len, &m), -EBADMSG);

	/* attributes after MESSAGE-INTEGRITY are ignored, even unknown
	 * comprehension-required ones; FINGERPRINT after them still counts */
	const uint8_t key[4] = "key";
	struct net_endpoint ep, other;
	ep_v4(&ep, "198.18.0.1", 5800);
	ep_v4(&other, "198.18.9.9", 1);
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep);
	stun_build_integrity(&b, key, 3);
	stun_build_attr(&b, 0x0030, "zz", 2);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &other);
	stun_build_fingerprint(&b);
	len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_true(net_endpoint_equal(&m.mapped, &ep));
	assert_int_equal(stun_check_integrity(&m, key, 3), 0);
	assert_int_equal(stun_check_integrity(&m, key, 2), -EBADMSG);

	/* no MESSAGE-INTEGRITY */
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_int_equal(stun_check_integrity(&m, key, 3), -ENOENT);
}

static void test_mapped_fallback(void **state)
{
	(void)state;
	uint8_t out[256];
	struct stun_builder b;
	struct stun_msg m;
	const uint8_t txid[12] = {7, 7};
	struct net_endpoint xa, pa;
	ep_v4(&xa, "198.18.0.7", 4444);
	ep_v4(&pa, "198.18.0.8", 5555);
	uint8_t plain[8] = {0, 1, 5555 >> 8, 5555 & 0xff, 198, 18, 0, 8};

	/* MAPPED-ADDRESS alone (RFC 3489 server) */
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	stun_build_attr(&b, STUN_ATTR_MAPPED_ADDRESS, plain, 8);
	int len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_true(m.attrs & STUN_HAS_MAPPED);
	assert_false(m.attrs & STUN_HAS_XOR_MAPPED);
	assert_true(net_endpoint_equal(&m.mapped, &pa));

	/* XOR-MAPPED-ADDRESS wins in either order */
	for (int order = 0; order < 2; order++) {
		stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
		if (order == 0)
			stun_build_attr(&b, STUN_ATTR_MAPPED_ADDRESS, plain, 8);
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &xa);
		if (order == 1)
			stun_build_attr(&b, STUN_ATTR_MAPPED_ADDRESS, plain, 8);
		len = stun_build_end(&b);
		assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
		assert_true(net_endpoint_equal(&m.mapped, &xa));
	}

	/* duplicate XOR-MAPPED-ADDRESS: the first counts */
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &xa);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &pa);
	len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_true(net_endpoint_equal(&m.mapped, &xa));

	/* a response without any address */
	struct stun_txn t = {.method = STUN_BINDING};
	memcpy(t.txid, txid, 12);
	struct net_endpoint got;
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, txid);
	len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_int_equal(stun_binding_response(&t, &m, &got), -EBADMSG);
	/* an error response */
	const uint8_t ec[4] = {0, 0, 4, 20};
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_ERROR, txid);
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, ec, 4);
	len = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)len, &m), 0);
	assert_int_equal(stun_binding_response(&t, &m, &got), -EPROTO);
	assert_int_equal(m.error_code, 420);
}

/* ---- builder, transactions, retransmission ---- */

static void test_binding_request(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct stun_txn t1, t2;
	struct stun_msg m;

	int n = stun_binding_request(&t1, true, buf, sizeof(buf));
	assert_int_equal(n, 28);
	assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);
	assert_memory_equal(m.txid, t1.txid, 12);
	assert_false(stun_txn_match(&t1, &m)); /* a request is not a response */
	assert_int_equal(stun_binding_request(&t2, false, buf, sizeof(buf)), 20);
	assert_memory_not_equal(t1.txid, t2.txid, 12);
	assert_int_equal(stun_binding_request(&t2, false, buf, 19), -ENOBUFS);
	assert_int_equal(stun_binding_request(&t2, true, buf, 27), -ENOBUFS);

	/* matching: id, method and response class */
	struct stun_builder b;
	uint8_t out[64];
	const int classes[] = {STUN_SUCCESS, STUN_ERROR, STUN_INDICATION, STUN_REQUEST};
	for (int i = 0; i < 4; i++) {
		stun_build_start(&b, out, sizeof(out), STUN_BINDING, classes[i], t1.txid);
		n = stun_build_end(&b);
		assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
		assert_int_equal(m.cls, classes[i]);
		assert_int_equal(stun_txn_match(&t1, &m), i < 2);
		assert_false(stun_txn_match(&t2, &m));
	}
	stun_build_start(&b, out, sizeof(out), TURN_ALLOCATE, STUN_SUCCESS, t1.txid);
	n = stun_build_end(&b);
	assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
	assert_false(stun_txn_match(&t1, &m));

	/* message type encoding of every method/class pair round trips */
	for (unsigned meth = 0; meth < 0x1000; meth += 0x55) {
		for (int c = 0; c < 4; c++) {
			stun_build_start(&b, out, sizeof(out), (uint16_t)meth, (enum stun_class)c,
					 t1.txid);
			n = stun_build_end(&b);
			assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
			assert_int_equal(m.method, meth);
			assert_int_equal(m.cls, c);
		}
	}
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, t1.txid);
	assert_int_equal(rd16(out), 0x0101);
	stun_build_start(&b, out, sizeof(out), STUN_BINDING, STUN_ERROR, t1.txid);
	assert_int_equal(rd16(out), 0x0111);
	stun_build_start(&b, out, sizeof(out), TURN_DATA, STUN_INDICATION, t1.txid);
	assert_int_equal(rd16(out), 0x0017);
	stun_build_start(&b, out, sizeof(out), 0x1000, STUN_REQUEST, t1.txid);
	assert_int_equal(stun_build_end(&b), -EINVAL);
}

static void test_retransmission(void **state)
{
	(void)state;
	const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500, 39500};
	for (unsigned i = 0; i <= STUN_RC; i++)
		assert_int_equal(stun_rtx_offset_ms(i, STUN_RTO_MS), want[i]);
	assert_int_equal(stun_rtx_offset_ms(STUN_RC + 5, STUN_RTO_MS), 39500);

	/* on time: exactly 7 transmissions, failure at 39.5 s */
	struct stun_txn t;
	assert_int_equal(stun_txn_init(&t, STUN_BINDING), 0);
	const uint64_t t0 = 1000000;
	stun_txn_start(&t, t0, 0);
	unsigned sent = 1;
	for (unsigned i = 1; i < STUN_RC; i++) {
		assert_int_equal(stun_txn_deadline(&t), t0 + want[i]);
		assert_int_equal(stun_txn_poll(&t, t0 + want[i] - 1), 0);
		assert_int_equal(stun_txn_poll(&t, t0 + want[i]), 1);
		sent++;
	}
	assert_int_equal(sent, STUN_RC);
	assert_int_equal(stun_txn_deadline(&t), t0 + 39500);
	assert_int_equal(stun_txn_poll(&t, t0 + 39499), 0);
	assert_int_equal(stun_txn_poll(&t, t0 + 39500), -ETIMEDOUT);
	assert_int_equal(stun_txn_poll(&t, t0 + 99999), -ETIMEDOUT);

	/* after a stall: one retransmission per call, never more than Rc */
	stun_txn_start(&t, t0, 100);
	int n = 0, rc;
	while ((rc = stun_txn_poll(&t, t0 + 1000000)) == 1)
		n++;
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(n, STUN_RC - 1);

	/* a custom RTO scales the schedule */
	stun_txn_start(&t, 0, 100);
	assert_int_equal(stun_txn_deadline(&t), 100);
	assert_int_equal(stun_rtx_offset_ms(STUN_RC, 100), 7900);
}

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

/* ---- candidates: pure parts ---- */

static void test_cand_priority(void **state)
{
	(void)state;
	assert_int_equal(cand_priority(CAND_HOST, 65535, 1), 126u << 24 | 65535u << 8 | 255);
	assert_int_equal(cand_priority(CAND_SRFLX, 0, 1), 100u << 24 | 255);
	assert_int_equal(cand_priority(CAND_RELAY, 1, 1), 1u << 8 | 255);
	assert_int_equal(cand_priority(CAND_STATIC, 0, 2), 110u << 24 | 254);
	assert_true(cand_priority(CAND_HOST, 0, 1) > cand_priority(CAND_STATIC, 65535, 1));
	assert_true(cand_priority(CAND_STATIC, 0, 1) > cand_priority(CAND_SRFLX, 65535, 1));
	assert_true(cand_priority(CAND_SRFLX, 0, 1) > cand_priority(CAND_RELAY, 65535, 1));
	assert_string_equal(cand_type_name(CAND_SRFLX), "srflx");
	assert_string_equal(cand_type_name(CAND_RELAY), "relay");
}

static void test_cand_rules(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned flags;
		const char *addr;
		bool want;
	} cases[] = {
	    {"eth0", IFF_UP, "198.18.0.1", true},
	    {"eth0", IFF_UP, "2001:db8::1", true},
	    {"eth0", IFF_UP, "fd00::1", true},
	    {"eth0", IFF_UP, "fe80::1", false},
	    {"eth0", IFF_UP, "febf::1", false},
	    {"eth0", IFF_UP, "fec0::1", false},
	    {"eth0", IFF_UP, "ff02::1", false},
	    {"eth0", IFF_UP, "::ffff:198.18.0.9", false},
	    {"eth0", IFF_UP, "::198.18.0.9", false},
	    {"eth0", IFF_UP, "::1", false},
	    {"eth0", IFF_UP, "127.0.0.2", false},
	    {"eth0", IFF_UP, "0.0.0.0", false},
	    {"eth0", IFF_UP, "224.0.0.1", false},
	    {"eth0", IFF_UP, "198.18.0.1", false}, /* duplicate */
	    {"eth1", 0, "198.18.1.1", false},	   /* down */
	    {"lo", IFF_UP | IFF_LOOPBACK, "198.18.2.1", false},
	    {"lxcbr0", IFF_UP, "10.0.3.1", false}, /* ignored */
	    {"ipop", IFF_UP, "10.254.0.1", false}, /* own TAP */
	    {"lxcbr", IFF_UP, "10.0.4.1", true},   /* ignore names are exact */
	    {"lxcbr00", IFF_UP, "10.0.5.1", true},
	    {"tunnel-tap", IFF_UP, "10.254.1.1", true},
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct fake_if f[N];
	for (int i = N - 1; i >= 0; i--)
		fake(&f[i], i + 1 < N ? &f[i + 1] : NULL, cases[i].name, cases[i].flags,
		     cases[i].addr);
	const char ignore[2][IFNAMSIZ] = {"lxcbr0", "eth9"};
	struct candidate c[CAND_MAX];
	int n = cand_host_from_ifaddrs(&f[0].ifa, 5800, ignore, 2, "ipop", c, CAND_MAX);

	int want = 0;
	for (int i = 0; i < N; i++)
		want += cases[i].want;
	assert_int_equal(n, want);
	/* IPv6 first, priorities strictly decreasing, all host with the port */
	assert_int_equal(c[0].ep.family, AF_INET6);
	assert_int_equal(c[1].ep.family, AF_INET6);
	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].type, CAND_HOST);
		assert_int_equal(c[i].ep.port, 5800);
		if (i)
			assert_true(c[i - 1].priority > c[i].priority);
	}
	for (int i = 0; i < N; i++) {
		struct net_endpoint ep;
		if (strchr(cases[i].addr, ':'))
			ep_v6(&ep, cases[i].addr, 5800);
		else
			ep_v4(&ep, cases[i].addr, 5800);
		bool found = false;
		for (int j = 0; j < n; j++)
			found |= net_endpoint_equal(&c[j].ep, &ep) &&
				 strcmp(c[j].ifname, cases[i].name) == 0;
		if (i != 13) /* the duplicate's address is there from eth0 */
			assert_int_equal(found, cases[i].want);
	}
	/* max truncates */
	assert_int_equal(cand_host_from_ifaddrs(&f[0].ifa, 5800, ignore, 2, "ipop", c, 2), 2);
	assert_int_equal(cand_host_from_ifaddrs(NULL, 5800, NULL, 0, NULL, c, CAND_MAX), 0);
}

static void test_cand_merge(void **state)
{
	(void)state;
	struct candidate host[3];
	memset(host, 0, sizeof(host));
	ep_v6(&host[0].ep, "2001:db8::1", 5800);
	ep_v4(&host[1].ep, "198.18.0.1", 5800);
	ep_v4(&host[2].ep, "198.18.7.1", 5800);
	for (int i = 0; i < 3; i++) {
		host[i].type = CAND_HOST;
		host[i].priority = cand_priority(CAND_HOST, (uint16_t)(60000 - i), 1);
	}
	struct net_endpoint srflx[3], relay[1], statics[1];
	ep_v4(&srflx[0], "198.18.0.1", 5800); /* not NATed: equals a host candidate */
	ep_v4(&srflx[1], "203.0.113.9", 40000);
	memset(&srflx[2], 0, sizeof(srflx[2])); /* unusable */
	ep_v4(&relay[0], "198.18.9.9", 49152);
	ep_v4(&statics[0], "203.0.113.50", 5800);

	struct cand_sources src = {.host = host,
				   .nhost = 3,
				   .statics = statics,
				   .nstatic = 1,
				   .srflx = srflx,
				   .nsrflx = 3,
				   .relay = relay,
				   .nrelay = 1};
	struct candidate out[CAND_MAX];
	unsigned n = cand_merge(&src, out, CAND_MAX);
	assert_int_equal(n, 6);
	const int want_type[] = {CAND_HOST,   CAND_HOST,  CAND_HOST,
				 CAND_STATIC, CAND_SRFLX, CAND_RELAY};
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(out[i].type, want_type[i]);
		if (i)
			assert_true(out[i - 1].priority > out[i].priority);
	}
	assert_true(net_endpoint_equal(&out[1].ep, &host[1].ep));
	assert_true(net_endpoint_equal(&out[4].ep, &srflx[1]));

	/* short of room: every type keeps its best, then priority order */
	n = cand_merge(&src, out, 5);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].type, CAND_HOST);
	assert_int_equal(out[1].type, CAND_HOST);
	assert_int_equal(out[2].type, CAND_STATIC);
	assert_int_equal(out[3].type, CAND_SRFLX);
	assert_int_equal(out[4].type, CAND_RELAY);
	n = cand_merge(&src, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].type, CAND_HOST);
	assert_int_equal(out[1].type, CAND_STATIC);

	/* many host addresses never crowd out srflx and relay */
	struct candidate many[CAND_MAX];
	for (int i = 0; i < CAND_MAX; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		char ip[32];
		snprintf(ip, sizeof(ip), "198.18.1.%d", i + 1);
		ep_v4(&many[i].ep, ip, 5800);
		many[i].type = CAND_HOST;
		many[i].priority = cand_priority(CAND_HOST, (uint16_t)(1000 - i), 1);
	}
	struct cand_sources s2 = {.host = many,
				  .nhost = CAND_MAX,
				  .srflx = srflx + 1,
				  .nsrflx = 1,
				  .relay = relay,
				  .nrelay = 1};
	n = cand_merge(&s2, out, CAND_MAX);
	assert_int_equal(n, CAND_MAX);
	assert_int_equal(out[CAND_MAX - 2].type, CAND_SRFLX);
	assert_int_equal(out[CAND_MAX - 1].type, CAND_RELAY);
	assert_true(net_endpoint_equal(&out[CAND_MAX - 3].ep, &many[CAND_MAX - 3].ep));

	struct cand_sources empty = {0};
	assert_int_equal(cand_merge(&empty, out, CAND_MAX), 0);
}

/* ---- candidates in a namespace of our own ---- */

#define NS_CHECK(c)                                                                                \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "netns child: %s:%d: %s\n", __FILE__, __LINE__, #c);       \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int sh(const char *cmd)
{
	char full[512];
	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "netns child: '%s' failed (%d)\n", cmd, rc);
	return rc;
}

static bool has_addr(const struct candidate *c, int n, const char *ip, const char *ifname)
{
	struct net_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	if (strchr(ip, ':')) {
		inet_pton(AF_INET6, ip, ep.addr);
	} else {
		ep.addr[10] = ep.addr[11] = 0xff;
		inet_pton(AF_INET, ip, ep.addr + 12);
	}
	ep.port = 5805;
	for (int i = 0; i < n; i++)
		if (net_endpoint_equal(&c[i].ep, &ep) && strcmp(c[i].ifname, ifname) == 0)
			return true;
	return false;
}

static int netns_child(void)
{
	static const char *setup[] = {
	    "ip link set lo up",
	    "ip link add va type veth peer name vb",
	    "ip link add vc type veth peer name vd",
	    "ip link add ipoptap type veth peer name ipoppeer",
	    "ip addr add 198.18.0.1/24 dev va",
	    "ip -6 addr add 2001:db8:1::1/64 dev va nodad",
	    "ip -6 addr add fe80::1:1/64 dev va nodad",
	    "ip addr add 198.18.1.1/24 dev vb",
	    "ip -6 addr add 2001:db8:2::1/64 dev vb nodad",
	    "ip addr add 198.18.2.1/24 dev vc",
	    "ip addr add 198.18.3.1/24 dev ipoptap",
	    "ip addr add 198.18.4.1/24 dev ipoppeer",
	    "ip link set va up",
	    "ip link set vb up",
	    "ip link set ipoptap up",
	    "ip link set ipoppeer up",
	    /* vc and vd stay down */
	};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (sh(setup[i]) != 0)
			return 1;

	struct candidate c[CAND_MAX];
	const char ignore[2][IFNAMSIZ] = {"vb", "ipop"};
	int n = cand_gather_host(5805, ignore, 2, "ipoptap", c, CAND_MAX);
	for (int i = 0; i < n; i++) {
		char s[NET_ENDPOINT_STRLEN];
		fprintf(stderr, "  candidate %s %s prio %u\n", c[i].ifname,
			net_endpoint_format(&c[i].ep, s, sizeof(s)), c[i].priority);
	}
	NS_CHECK(n == 3);
	NS_CHECK(c[0].ep.family == AF_INET6 && has_addr(c, 1, "2001:db8:1::1", "va"));
	NS_CHECK(has_addr(c, n, "198.18.0.1", "va"));
	NS_CHECK(has_addr(c, n, "198.18.4.1", "ipoppeer")); /* "ipop" is not "ipoppeer" */
	for (int i = 1; i < n; i++)
		NS_CHECK(c[i - 1].priority > c[i].priority);

	/* without the ignore list and own TAP: vb and ipoptap appear; still no
	 * loopback, no link-local (explicit or automatic), nothing from vc */
	n = cand_gather_host(5805, NULL, 0, NULL, c, CAND_MAX);
	NS_CHECK(n == 6);
	NS_CHECK(has_addr(c, n, "2001:db8:2::1", "vb"));
	NS_CHECK(has_addr(c, n, "198.18.1.1", "vb"));
	NS_CHECK(has_addr(c, n, "198.18.3.1", "ipoptap"));
	for (int i = 0; i < n; i++) {
		NS_CHECK(strcmp(c[i].ifname, "lo") != 0);
		NS_CHECK(strcmp(c[i].ifname, "vc") != 0);
		NS_CHECK(!(c[i].ep.addr[0] == 0xfe && (c[i].ep.addr[1] & 0xc0) == 0x80));
	}
	NS_CHECK(cand_gather_host(5805, NULL, 0, NULL, c, 1) == 1);
	return 0;
}

static void test_candidates_netns(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the namespace dies with this child, interfaces included */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(errno == EPERM ? 77 : 2);
		_exit(netns_child());
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- a real coturn ---- */

static pid_t coturn_pid;
static char coturn_dir[64];

static void coturn_stop(void)
{
	if (coturn_pid > 0) {
		kill(coturn_pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(coturn_pid, NULL, WNOHANG) == coturn_pid)
				goto reaped;
			usleep(20000);
		}
		kill(coturn_pid, SIGKILL);
		waitpid(coturn_pid, NULL, 0);
	reaped:
		coturn_pid = 0;
	}
	if (coturn_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", coturn_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", coturn_dir);
		coturn_dir[0] = 0;
	}
}

static void on_signal(int sig)
{
	if (coturn_pid > 0)
		kill(coturn_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(*bound);
	assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &sl), 0);
	return fd;
}

static void sin_to_ep(const struct sockaddr_in *sa, struct net_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr[10] = ep->addr[11] = 0xff;
	memcpy(ep->addr + 12, &sa->sin_addr, 4);
	ep->port = ntohs(sa->sin_port);
	ep->family = AF_INET;
}

/* A port free for UDP and TCP on 127.0.0.1 (coturn listens on both). */
static uint16_t free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa;
		int u = udp_socket(&sa);
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok = t >= 0 && bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(u);
		if (t >= 0)
			close(t);
		if (ok && ntohs(sa.sin_port) < 49152) /* stay off coturn's relay range */
			return ntohs(sa.sin_port);
	}
	return 0;
}

#define STALE_NONCE_S 2

static void coturn_start(uint16_t port)
{
	strcpy(coturn_dir, "/tmp/ipopd-stun-XXXXXX");
	assert_non_null(mkdtemp(coturn_dir));
	char cfg[128], log[128];
	snprintf(cfg, sizeof(cfg), "%s/turnserver.conf", coturn_dir);
	snprintf(log, sizeof(log), "%s/turnserver.log", coturn_dir);
	FILE *f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f,
		"listening-ip=127.0.0.1\nlistening-port=%u\nrelay-ip=127.0.0.1\n"
		"realm=test.invalid\nlt-cred-mech\nuser=ipop:s3cret\nfingerprint\n"
		"no-tls\nno-dtls\nno-cli\nno-multicast-peers\nallow-loopback-peers\n"
		"stale-nonce=%d\npidfile=%s/turnserver.pid\ndb=%s/turndb\nlog-file=stdout\n"
		"simple-log\n",
		port, STALE_NONCE_S, coturn_dir, coturn_dir);
	fclose(f);

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("turnserver", "turnserver", "-c", cfg, (char *)NULL);
		_exit(127);
	}
	coturn_pid = pid;
}

struct client {
	int fd;
	struct sockaddr_in srv;
	struct turn_auth auth;
	uint8_t rx[2048];
	size_t rx_len;
	int saw_438;
};

/* Sends the request and waits for its response on the real RFC 5389
 * schedule; other datagrams (ChannelData, indications) are skipped. */
static int transact(struct client *c, struct stun_txn *t, const uint8_t *req, size_t len,
		    struct stun_msg *m, uint32_t rto_ms)
{
	assert_int_equal(sendto(c->fd, req, len, 0, (struct sockaddr *)&c->srv, sizeof(c->srv)),
			 (ssize_t)len);
	stun_txn_start(t, now_ms(), rto_ms);
	for (;;) {
		uint64_t now = now_ms(), dl = stun_txn_deadline(t);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int wait = dl > now ? (int)(dl - now) : 0;
		if (poll(&p, 1, wait) > 0) {
			ssize_t n = recv(c->fd, c->rx, sizeof(c->rx), 0);
			assert_true(n > 0);
			c->rx_len = (size_t)n;
			if (stun_parse(c->rx, c->rx_len, m) == 0 && stun_txn_match(t, m))
				return 0;
			continue;
		}
		int rc = stun_txn_poll(t, now_ms());
		if (rc < 0)
			return rc;
		if (rc == 1)
			assert_int_equal(
			    sendto(c->fd, req, len, 0, (struct sockaddr *)&c->srv, sizeof(c->srv)),
			    (ssize_t)len);
	}
}

enum turn_op { OP_ALLOCATE, OP_REFRESH, OP_PERMISSION, OP_CHANNEL_BIND };

/* One TURN operation, retried on 401 challenges and 438 Stale Nonce. */
static int turn_do(struct client *c, enum turn_op op, uint32_t arg, const struct net_endpoint *peer,
		   struct stun_msg *m)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uint8_t req[STUN_MSG_MAX];
		struct stun_txn t;
		int n;
		switch (op) {
		case OP_ALLOCATE:
			n = turn_allocate_request(&t, &c->auth, arg, req, sizeof(req));
			break;
		case OP_REFRESH:
			n = turn_refresh_request(&t, &c->auth, arg, req, sizeof(req));
			break;
		case OP_PERMISSION:
			n = turn_create_permission_request(&t, &c->auth, peer, 1, req, sizeof(req));
			break;
		default:
			n = turn_channel_bind_request(&t, &c->auth, (uint16_t)arg, peer, req,
						      sizeof(req));
			break;
		}
		assert_true(n > 0);
		assert_int_equal(transact(c, &t, req, (size_t)n, m, 0), 0);
		int rc = turn_response(&t, &c->auth, m);
		if (rc != 1)
			return rc;
		if (m->error_code == STUN_ERR_STALE_NONCE)
			c->saw_438++;
	}
	return -ELOOP;
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -1;
	socklen_t sl = sizeof(*from);
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &sl);
}

static void test_coturn(void **state)
{
	(void)state;
	if (system("command -v turnserver >/dev/null 2>&1") != 0)
		skip();

	uint16_t port = free_port();
	assert_true(port != 0);
	coturn_start(port);

	struct client c = {0};
	struct sockaddr_in me, peer_sa, from;
	c.fd = udp_socket(&me);
	c.srv.sin_family = AF_INET;
	c.srv.sin_port = htons(port);
	c.srv.sin_addr.s_addr = htonl(0x7f000001);
	struct net_endpoint me_ep, peer_ep, got;
	sin_to_ep(&me, &me_ep);
	assert_int_equal(turn_auth_init(&c.auth, "ipop", "s3cret"), 0);

	/* Binding: wait for the server to come up (fast retransmissions), then
	 * XOR-MAPPED-ADDRESS is our own socket's address on loopback */
	uint8_t req[STUN_MSG_MAX];
	struct stun_msg m;
	struct stun_txn t;
	int rc = -ETIMEDOUT;
	for (int i = 0; i < 10 && rc != 0; i++) {
		int n = stun_binding_request(&t, true, req, sizeof(req));
		assert_true(n > 0);
		rc = transact(&c, &t, req, (size_t)n, &m, 20);
		assert_true(waitpid(coturn_pid, NULL, WNOHANG) == 0); /* still running */
	}
	assert_int_equal(rc, 0);
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);
	assert_int_equal(stun_binding_response(&t, &m, &got), 0);
	assert_true(net_endpoint_equal(&got, &me_ep));

	/* Allocate: 401 with realm and nonce, then authenticated */
	int n = turn_allocate_request(&t, &c.auth, 0, req, sizeof(req));
	assert_int_equal(transact(&c, &t, req, (size_t)n, &m, 0), 0);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(m.error_code, 401);
	assert_true(bytes_eq(m.realm, "test.invalid"));
	assert_int_equal(turn_response(&t, &c.auth, &m), 1);
	assert_true(c.auth.challenged);
	assert_int_equal(turn_do(&c, OP_ALLOCATE, 600, NULL, &m), 0);
	struct turn_allocation al;
	assert_int_equal(turn_allocate_result(&m, &al), 0);
	assert_true(al.has_mapped);
	assert_true(net_endpoint_equal(&al.mapped, &me_ep));
	assert_int_equal(al.relayed.family, AF_INET);
	assert_memory_equal(al.relayed.addr + 12, "\x7f\x00\x00\x01", 4);
	assert_true(al.lifetime_s > 0 && al.lifetime_s <= 600);
	struct sockaddr_in relay_sa = {.sin_family = AF_INET,
				       .sin_port = htons(al.relayed.port),
				       .sin_addr.s_addr = htonl(0x7f000001)};

	/* wrong password: 401 to an authenticated request */
	struct client bad = c;
	bad.fd = udp_socket(&from);
	strcpy(bad.auth.password, "wrong");
	assert_int_equal(stun_long_term_key("ipop", bad.auth.realm, "wrong", bad.auth.key), 0);
	assert_int_equal(turn_do(&bad, OP_ALLOCATE, 600, NULL, &m), -EACCES);
	close(bad.fd);

	/* the peer: permission, then Send indication out / Data indication in */
	int pfd = udp_socket(&peer_sa);
	sin_to_ep(&peer_sa, &peer_ep);
	assert_int_equal(turn_do(&c, OP_PERMISSION, 0, &peer_ep, &m), 0);
	n = turn_send_indication(&peer_ep, "via-send", 8, req, sizeof(req));
	assert_true(n > 0);
	assert_int_equal(sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)),
			 n);
	uint8_t pbuf[256];
	ssize_t pn = recv_wait(pfd, pbuf, sizeof(pbuf), &from, 10000);
	assert_int_equal(pn, 8);
	assert_memory_equal(pbuf, "via-send", 8);
	assert_int_equal(from.sin_port, relay_sa.sin_port);
	assert_int_equal(
	    sendto(pfd, "via-data", 8, 0, (struct sockaddr *)&relay_sa, sizeof(relay_sa)), 8);
	pn = recv_wait(c.fd, c.rx, sizeof(c.rx), &from, 10000);
	assert_true(pn > 0);
	assert_int_equal(stun_parse(c.rx, (size_t)pn, &m), 0);
	const uint8_t *d;
	size_t dl;
	assert_int_equal(turn_data_indication(&m, &got, &d, &dl), 0);
	assert_true(net_endpoint_equal(&got, &peer_ep));
	assert_int_equal(dl, 8);
	assert_memory_equal(d, "via-data", 8);

	/* ChannelBind, then ChannelData both ways (unpadded and padded out) */
	assert_int_equal(turn_do(&c, OP_CHANNEL_BIND, 0x4000, &peer_ep, &m), 0);
	for (int pad = 0; pad < 2; pad++) {
		n = turn_channel_data_encode(0x4000, "hello", 5, pad, req, sizeof(req));
		assert_int_equal(
		    sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)), n);
		pn = recv_wait(pfd, pbuf, sizeof(pbuf), &from, 10000);
		assert_int_equal(pn, 5);
		assert_memory_equal(pbuf, "hello", 5);
		assert_int_equal(from.sin_port, relay_sa.sin_port);
	}
	assert_int_equal(sendto(pfd, "world", 5, 0, (struct sockaddr *)&relay_sa, sizeof(relay_sa)),
			 5);
	pn = recv_wait(c.fd, c.rx, sizeof(c.rx), &from, 10000);
	assert_true(pn > 0);
	assert_true(turn_is_channel_data(c.rx, (size_t)pn));
	uint16_t ch;
	assert_int_equal(turn_channel_data_decode(c.rx, (size_t)pn, &ch, &d, &dl), 0);
	assert_int_equal(ch, 0x4000);
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "world", 5);

	/* the nonce goes stale: 438, retried with the new nonce */
	sleep(STALE_NONCE_S + 1);
	c.saw_438 = 0;
	assert_int_equal(turn_do(&c, OP_REFRESH, 600, NULL, &m), 0);
	assert_true(c.saw_438 >= 1);
	assert_true(m.attrs & STUN_HAS_LIFETIME);

	/* Refresh with lifetime 0 releases: the relay stops, a second release
	 * finds no allocation (437). coturn drops the allocation on its next
	 * timer tick (about a second later), not at once, and a release before
	 * that succeeds again and puts the drop off: probe until the relay goes
	 * quiet, then release again. A ChannelData not relayed within 250 ms
	 * may also be a slow coturn (a loaded machine): when the release then
	 * still succeeds, probe again. */
	assert_int_equal(turn_do(&c, OP_REFRESH, 0, NULL, &m), 0);
	assert_int_equal(m.lifetime, 0);
	n = turn_channel_data_encode(0x4000, "gone", 4, false, req, sizeof(req));
	rc = 0;
	for (uint64_t end = now_ms() + 20000; rc == 0 && now_ms() < end;) {
		assert_int_equal(
		    sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)), n);
		if (recv_wait(pfd, pbuf, sizeof(pbuf), &from, 250) >= 0) {
			usleep(250000); /* still relaying */
			continue;
		}
		rc = turn_do(&c, OP_REFRESH, 0, NULL, &m);
	}
	assert_int_equal(rc, -EPROTO); /* with a valid MESSAGE-INTEGRITY */
	assert_int_equal(m.error_code, STUN_ERR_ALLOCATION_MISMATCH);

	close(pfd);
	close(c.fd);
}

static int coturn_teardown(void **state)
{
	(void)state;
	coturn_stop();
	return 0;
}

int main(void)
{
	atexit(coturn_stop);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5769_request),
	    cmocka_unit_test(test_rfc5769_ipv4_response),
	    cmocka_unit_test(test_rfc5769_ipv6_response),
	    cmocka_unit_test(test_rfc5769_long_term),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_bad_attributes),
	    cmocka_unit_test(test_fingerprint_and_order),
	    cmocka_unit_test(test_mapped_fallback),
	    cmocka_unit_test(test_binding_request),
	    cmocka_unit_test(test_retransmission),
	    cmocka_unit_test(test_turn_allocate_flow),
	    cmocka_unit_test(test_turn_permission_channel),
	    cmocka_unit_test(test_channel_data),
	    cmocka_unit_test(test_cand_priority),
	    cmocka_unit_test(test_cand_rules),
	    cmocka_unit_test(test_cand_merge),
	    cmocka_unit_test(test_candidates_netns),
	    cmocka_unit_test_teardown(test_coturn, coturn_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
