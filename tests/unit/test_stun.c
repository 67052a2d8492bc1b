/* Unit tests for the STUN codec and client transactions
 * (control/nat/stun.c): the RFC 5769 test vectors (bit-exact parse,
 * integrity, fingerprint and rebuild), every malformation of the parser and
 * the RFC 5389 retransmission schedule. Its TURN messages are
 * test_stun_turn.c, a real coturn test_stun_coturn.c.
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

int main(void)
{
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
