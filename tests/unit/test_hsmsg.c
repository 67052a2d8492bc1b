/* Unit tests for the handshake framing (control/link/hsmsg.c): header and
 * payload codecs against every malformation, mac1/mac2, cookie replies and
 * their rotation, TAI64N. The per-source rate limiter is in
 * test_hsmsg_ratelimit.c, a full IKpsk2 handshake through the framing in
 * test_hsmsg_handshake.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "control/link/hsmsg.h"
#include "control/link/noise.h"

_Static_assert(HS_INIT_LEN == 164, "wire size");
_Static_assert(HS_RESP_LEN == 104, "wire size");
_Static_assert(HS_COOKIE_MSG_LEN == 48, "wire size");
_Static_assert(HS_INIT_NOISE_LEN == NOISE_MSG1_LEN(HS_INIT_PAYLOAD_LEN), "noise msg1 size");
_Static_assert(HS_RESP_NOISE_LEN == NOISE_MSG2_LEN(HS_RESP_PAYLOAD_LEN), "noise msg2 size");

static IMB_MGR *mgr;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t type_len(int type)
{
	switch (type) {
	case HS_INITIATION:
		return HS_INIT_LEN;
	case HS_RESPONSE:
		return HS_RESP_LEN;
	case HS_COOKIE_REPLY:
		return HS_COOKIE_MSG_LEN;
	case HS_CERT_REQUEST:
		return HS_CERTREQ_LEN;
	default:
		return 0;
	}
}

/* Whether len is a valid length for type (exact for types 1-4, a range for
 * the certificate reply and the initiation/response with certificate). */
static bool len_valid(int type, size_t len)
{
	switch (type) {
	case HS_CERT_REPLY:
		return len >= HS_CERTREP_MIN_LEN && len <= HS_CERTREQ_LEN;
	case HS_INITIATION_CERT:
		return len >= HS_INIT_LEN + HS_CERT_PAYLOAD_MIN && len <= HS_MSG_MAX;
	case HS_RESPONSE_CERT:
		return len >= HS_RESP_LEN + HS_CERT_PAYLOAD_MIN && len <= HS_MSG_MAX;
	default:
		return type_len(type) && len == type_len(type);
	}
}

/* A header that is valid for its type (SPIs obeying the rules), random tail. */
static void valid_header(uint8_t *msg, size_t cap, int type)
{
	for (size_t i = 0; i < cap; i++)
		msg[i] = (uint8_t)rand();
	switch (type) {
	case HS_INITIATION:
	case HS_INITIATION_CERT:
	case HS_CERT_REQUEST:
		hs_write_header(msg, (enum hs_type)type, 0, 0x80000001);
		break;
	case HS_RESPONSE:
	case HS_RESPONSE_CERT:
		hs_write_header(msg, (enum hs_type)type, 0x80000001, 0x80000002);
		break;
	default:
		hs_write_header(msg, (enum hs_type)type, 0x80000001, 0);
		break;
	}
}

static void ep4(struct net_endpoint *ep, const char *s)
{
	assert_int_equal(net_endpoint_parse(s, ep), 0);
}

/* ---- header ---- */

static void test_header_lengths(void **state)
{
	static const int types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 0x7f, 0x80, 0xff};
	static uint8_t msg[HS_MSG_MAX + 64];
	struct hs_header h;
	(void)state;

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (size_t len = 0; len <= HS_MSG_MAX + 64; len++) {
			valid_header(msg, sizeof(msg), types[t]);
			msg[4] = (uint8_t)types[t]; /* unknown types too */
			int ret = hs_parse_header(msg, len, &h);
			if (len_valid(types[t], len)) {
				assert_int_equal(ret, 0);
				assert_int_equal(h.type, types[t]);
			} else {
				assert_int_equal(ret, -EBADMSG);
			}
		}
	}
	assert_int_equal(hs_parse_header(NULL, 0, &h), -EBADMSG);
}

static void test_header_fields(void **state)
{
	uint8_t msg[HS_INIT_LEN];
	struct hs_header h;
	(void)state;

	hs_write_header(msg, HS_INITIATION, 0, 0x89abcdef);
	assert_memory_equal(msg, "\0\0\0\0\x01\0\0\0\0\0\0\0\x89\xab\xcd\xef", 16);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), 0);
	assert_int_equal(h.type, HS_INITIATION);
	assert_int_equal(h.receiver_spi, 0);
	assert_int_equal(h.sender_spi, 0x89abcdef);
	assert_ptr_equal(h.noise, msg + HS_HDR_LEN);
	assert_int_equal(h.noise_len, HS_INIT_NOISE_LEN);

	hs_write_header(msg, HS_RESPONSE, 0x89abcdef, 0xf0000001);
	assert_int_equal(hs_parse_header(msg, HS_RESP_LEN, &h), 0);
	assert_int_equal(h.type, HS_RESPONSE);
	assert_int_equal(h.receiver_spi, 0x89abcdef);
	assert_int_equal(h.sender_spi, 0xf0000001);
	assert_ptr_equal(h.noise, msg + HS_HDR_LEN);
	assert_int_equal(h.noise_len, HS_RESP_NOISE_LEN);

	hs_write_header(msg, HS_COOKIE_REPLY, 0x80000000, 0);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), 0);
	assert_int_equal(h.type, HS_COOKIE_REPLY);
	assert_int_equal(h.receiver_spi, 0x80000000);
	assert_null(h.noise);
	assert_int_equal(h.noise_len, 0);
}

static void test_header_malformed(void **state)
{
	uint8_t msg[HS_INIT_LEN];
	struct hs_header h;
	(void)state;

	for (int type = 1; type <= 3; type++) {
		size_t len = type_len(type);
		/* every bit of the marker and the reserved bytes */
		for (int i = 0; i < 8; i++) {
			if (i == 4)
				continue;
			for (int bit = 0; bit < 8; bit++) {
				valid_header(msg, sizeof(msg), type);
				assert_int_equal(hs_parse_header(msg, len, &h), 0);
				msg[i] ^= (uint8_t)(1u << bit);
				assert_int_equal(hs_parse_header(msg, len, &h), -EBADMSG);
			}
		}
	}
	/* SPI rules */
	hs_write_header(msg, HS_INITIATION, 0x80000001, 0x80000001);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_INITIATION, 1, 0x80000001);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_INITIATION, 0, 0x7fffffff);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_INITIATION, 0, 0);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_INITIATION, 0, 0x80000000);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), 0);

	hs_write_header(msg, HS_RESPONSE, 0x7fffffff, 0x80000001);
	assert_int_equal(hs_parse_header(msg, HS_RESP_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_RESPONSE, 0, 0x80000001);
	assert_int_equal(hs_parse_header(msg, HS_RESP_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_RESPONSE, 0x80000001, 0x7fffffff);
	assert_int_equal(hs_parse_header(msg, HS_RESP_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_RESPONSE, 0x80000001, 0);
	assert_int_equal(hs_parse_header(msg, HS_RESP_LEN, &h), -EBADMSG);

	hs_write_header(msg, HS_COOKIE_REPLY, 0, 0);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_COOKIE_REPLY, 0x12345678, 0);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_COOKIE_REPLY, 0x80000001, 0x80000001);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), -EBADMSG);
	hs_write_header(msg, HS_COOKIE_REPLY, 0x80000001, 1);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), -EBADMSG);

	/* a valid header of one type at another type's length */
	hs_write_header(msg, HS_RESPONSE, 0x80000001, 0x80000002);
	assert_int_equal(hs_parse_header(msg, HS_INIT_LEN, &h), -EBADMSG);
	assert_int_equal(hs_parse_header(msg, HS_COOKIE_MSG_LEN, &h), -EBADMSG);
}

/* The certificate types (docs/protocol.md section 14): SPI rules like their
 * plain counterparts, where the Noise (or fetch) part starts and ends. */
static void test_header_cert_types(void **state)
{
	static uint8_t m[HS_MSG_MAX];
	static const struct {
		enum hs_type type;
		uint32_t rx, tx;
		size_t len, noise_len; /* noise_len 0: must be refused */
	} cases[] = {
	    {HS_INITIATION_CERT, 0, 0x80000001, 600, 600 - HS_HDR_LEN - 2 * HS_MAC_LEN},
	    {HS_INITIATION_CERT, 1, 0x80000001, 600, 0},
	    {HS_INITIATION_CERT, 0, 0x7fffffff, 600, 0},
	    {HS_RESPONSE_CERT, 0x80000001, 0x80000002, 500, 500 - HS_HDR_LEN - 2 * HS_MAC_LEN},
	    {HS_RESPONSE_CERT, 0x7fffffff, 0x80000002, 500, 0},
	    {HS_RESPONSE_CERT, 0x80000001, 0, 500, 0},
	    {HS_CERT_REQUEST, 0, 0x80000009, HS_CERTREQ_LEN, HS_CERTREQ_LEN - HS_HDR_LEN},
	    {HS_CERT_REQUEST, 0, 0, HS_CERTREQ_LEN, 0},
	    {HS_CERT_REQUEST, 0x80000001, 0x80000009, HS_CERTREQ_LEN, 0},
	    {HS_CERT_REPLY, 0x80000009, 0, 400, 400 - HS_HDR_LEN},
	    {HS_CERT_REPLY, 0x80000009, 1, 400, 0},
	    {HS_CERT_REPLY, 9, 0, 400, 0},
	};
	struct hs_header h;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hs_write_header(m, cases[i].type, cases[i].rx, cases[i].tx);
		int ret = hs_parse_header(m, cases[i].len, &h);
		if (!cases[i].noise_len) {
			assert_int_equal(ret, -EBADMSG);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(h.type, cases[i].type);
		assert_int_equal(h.receiver_spi, cases[i].rx);
		assert_int_equal(h.sender_spi, cases[i].tx);
		assert_ptr_equal(h.noise, m + HS_HDR_LEN);
		assert_int_equal(h.noise_len, cases[i].noise_len);
	}
	/* mac1/mac2 work on the longer messages */
	struct hs_mac_keys k;
	uint8_t pub[32] = {7}, cookie[HS_COOKIE_LEN] = {1};
	hs_mac_keys_derive(pub, &k);
	hs_macs_write(m, HS_MSG_MAX, &k, cookie);
	assert_true(hs_mac1_ok(m, HS_MSG_MAX, &k));
	assert_true(hs_mac2_ok(m, HS_MSG_MAX, cookie));
	m[100] ^= 1;
	assert_false(hs_mac1_ok(m, HS_MSG_MAX, &k));
	assert_false(hs_mac1_ok(m, HS_MSG_MAX + 1, &k));
}

/* ---- payloads ---- */

static void test_payloads(void **state)
{
	struct hs_init_payload ip = {.version = HS_VERSION,
				     .flags = 0xa5,
				     .sender_spi = 0x81020304},
			       ip2;
	struct hs_resp_payload rp = {.version = HS_VERSION, .flags = 3, .sender_spi = 0xfedcba98},
			       rp2;
	uint8_t buf[64];
	(void)state;

	for (int i = 0; i < 12; i++)
		ip.tai64n[i] = (uint8_t)(0x40 + i);
	memset(buf, 0xee, sizeof(buf));
	hs_init_payload_encode(&ip, buf);
	assert_memory_equal(buf,
			    "\x01\xa5\0\0\x81\x02\x03\x04\x40\x41\x42\x43\x44\x45\x46\x47"
			    "\x48\x49\x4a\x4b",
			    HS_INIT_PAYLOAD_LEN);
	assert_int_equal(buf[HS_INIT_PAYLOAD_LEN], 0xee); /* wrote exactly 20 bytes */
	memset(&ip2, 0, sizeof(ip2));
	assert_int_equal(hs_init_payload_decode(buf, HS_INIT_PAYLOAD_LEN, &ip2), 0);
	assert_int_equal(ip2.version, HS_VERSION);
	assert_int_equal(ip2.flags, 0xa5);
	assert_int_equal(ip2.sender_spi, 0x81020304);
	assert_memory_equal(ip2.tai64n, ip.tai64n, 12);

	memset(buf, 0xee, sizeof(buf));
	hs_resp_payload_encode(&rp, buf);
	assert_memory_equal(buf, "\x01\x03\0\0\xfe\xdc\xba\x98", HS_RESP_PAYLOAD_LEN);
	assert_int_equal(buf[HS_RESP_PAYLOAD_LEN], 0xee);
	memset(&rp2, 0, sizeof(rp2));
	assert_int_equal(hs_resp_payload_decode(buf, HS_RESP_PAYLOAD_LEN, &rp2), 0);
	assert_int_equal(rp2.version, HS_VERSION);
	assert_int_equal(rp2.flags, 3);
	assert_int_equal(rp2.sender_spi, 0xfedcba98);

	/* reserved bytes are ignored, like the flags */
	hs_resp_payload_encode(&rp, buf);
	buf[2] = buf[3] = 0xff;
	assert_int_equal(hs_resp_payload_decode(buf, HS_RESP_PAYLOAD_LEN, &rp2), 0);
	assert_int_equal(rp2.sender_spi, 0xfedcba98);
}

static void test_payloads_malformed(void **state)
{
	struct hs_init_payload ip = {.version = HS_VERSION, .sender_spi = 0x80000001}, ip2;
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = 0x80000001}, rp2;
	uint8_t ib[64], rb[64];
	(void)state;

	memset(ib, 0, sizeof(ib));
	memset(rb, 0, sizeof(rb));
	hs_init_payload_encode(&ip, ib);
	hs_resp_payload_encode(&rp, rb);
	for (size_t len = 0; len < sizeof(ib); len++) {
		assert_int_equal(hs_init_payload_decode(ib, len, &ip2),
				 len == HS_INIT_PAYLOAD_LEN ? 0 : -EBADMSG);
		assert_int_equal(hs_resp_payload_decode(rb, len, &rp2),
				 len == HS_RESP_PAYLOAD_LEN ? 0 : -EBADMSG);
	}
	for (int v = 0; v < 256; v++) {
		if (v == HS_VERSION)
			continue;
		ib[0] = rb[0] = (uint8_t)v;
		assert_int_equal(hs_init_payload_decode(ib, HS_INIT_PAYLOAD_LEN, &ip2), -EBADMSG);
		assert_int_equal(hs_resp_payload_decode(rb, HS_RESP_PAYLOAD_LEN, &rp2), -EBADMSG);
	}
	assert_int_equal(hs_init_payload_decode(NULL, HS_INIT_PAYLOAD_LEN, &ip2), -EBADMSG);
	assert_int_equal(hs_resp_payload_decode(NULL, HS_RESP_PAYLOAD_LEN, &rp2), -EBADMSG);
}

/* ---- TAI64N ---- */

static uint64_t tai_sec(const uint8_t t[12])
{
	return ((uint64_t)be32(t) << 32 | be32(t + 4)) - (1ull << 62);
}

static void test_tai64n(void **state)
{
	uint8_t prev[12], cur[12];
	time_t now = time(NULL);
	(void)state;

	hs_tai64n_now(prev);
	assert_int_equal(prev[0], 0x40);
	assert_true(tai_sec(prev) + 2 >= (uint64_t)now && tai_sec(prev) <= (uint64_t)now + 2);
	assert_true(be32(prev + 8) < 1000000000u);
	for (int i = 0; i < 10000; i++) {
		hs_tai64n_now(cur);
		assert_true(memcmp(prev, cur, 12) <= 0);
		memcpy(prev, cur, 12);
	}
	/* Across a second boundary the nanoseconds fall back, yet memcmp still
	 * orders. Compare the last reading before the boundary with the first
	 * after it (waiting at most a second for it: why this test takes
	 * 0.1-1 s). Comparing with a reading taken anywhere in the second
	 * instead failed whenever that reading was early in its second and the
	 * thread was descheduled across the boundary for longer than that: the
	 * nanoseconds then do not fall back. Even this pair does not show the
	 * fallback if the thread lost the CPU for about a second right at the
	 * boundary: then look at the next boundary (a few at most). */
	bool fell_back = false;
	for (int tries = 0; tries < 5 && !fell_back; tries++) {
		hs_tai64n_now(cur);
		do {
			memcpy(prev, cur, 12);
			hs_tai64n_now(cur);
		} while (tai_sec(cur) == tai_sec(prev));
		assert_true(memcmp(prev, cur, 12) < 0);
		assert_true(tai_sec(cur) > tai_sec(prev));
		fell_back = tai_sec(cur) == tai_sec(prev) + 1 && be32(cur + 8) < be32(prev + 8);
	}
	assert_true(fell_back);
}

/* ---- mac1 / mac2 ---- */

static void random_pub(uint8_t pub[32])
{
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)rand();
}

static void test_mac_keys(void **state)
{
	uint8_t a[32], b[32];
	struct hs_mac_keys ka, ka2, kb;
	(void)state;

	random_pub(a);
	memcpy(b, a, 32);
	b[31] ^= 1;
	hs_mac_keys_derive(a, &ka);
	hs_mac_keys_derive(a, &ka2);
	hs_mac_keys_derive(b, &kb);
	assert_memory_equal(&ka, &ka2, sizeof(ka));
	assert_memory_not_equal(ka.mac1, kb.mac1, 32);
	assert_memory_not_equal(ka.cookie, kb.cookie, 32);
	assert_memory_not_equal(ka.mac1, ka.cookie, 32); /* labels separate the two */
}

static void test_mac1(void **state)
{
	uint8_t pa[32], pb[32], msg[HS_INIT_LEN];
	struct hs_mac_keys ka, kb;
	(void)state;

	random_pub(pa);
	random_pub(pb);
	hs_mac_keys_derive(pa, &ka);
	hs_mac_keys_derive(pb, &kb);
	for (int type = 1; type <= 2; type++) {
		size_t len = type_len(type);

		valid_header(msg, sizeof(msg), type);
		hs_macs_write(msg, len, &ka, NULL);
		assert_true(hs_mac1_ok(msg, len, &ka));
		assert_false(hs_mac1_ok(msg, len, &kb));
		/* no cookie: mac2 is zero */
		for (size_t i = len - HS_MAC_LEN; i < len; i++)
			assert_int_equal(msg[i], 0);
		/* any bit before mac2 (header, Noise, mac1 itself) breaks mac1 */
		for (size_t i = 0; i < len - HS_MAC_LEN; i++) {
			for (int bit = 0; bit < 8; bit++) {
				msg[i] ^= (uint8_t)(1u << bit);
				assert_false(hs_mac1_ok(msg, len, &ka));
				msg[i] ^= (uint8_t)(1u << bit);
			}
		}
		/* mac2 is not covered by mac1 (it is added after) */
		msg[len - 1] ^= 0x80;
		assert_true(hs_mac1_ok(msg, len, &ka));
		msg[len - 1] ^= 0x80;
		/* truncated or extended: never reads past len, never accepts */
		for (size_t l = 0; l < len; l++)
			assert_false(hs_mac1_ok(msg, l, &ka));
		assert_true(hs_mac1_ok(msg, len, &ka));
	}
	assert_false(hs_mac1_ok(NULL, HS_INIT_LEN, &ka));

	/* too short to hold the MACs: nothing is written */
	memset(msg, 0x33, sizeof(msg));
	hs_macs_write(msg, 2 * HS_MAC_LEN + HS_HDR_LEN - 1, &ka, NULL);
	for (size_t i = 0; i < sizeof(msg); i++)
		assert_int_equal(msg[i], 0x33);
}

static void test_mac2(void **state)
{
	uint8_t pa[32], msg[HS_INIT_LEN], c1[HS_COOKIE_LEN], c2[HS_COOKIE_LEN];
	static const uint8_t zero[HS_COOKIE_LEN];
	struct hs_mac_keys ka;
	(void)state;

	random_pub(pa);
	hs_mac_keys_derive(pa, &ka);
	memset(c1, 0x11, sizeof(c1));
	memset(c2, 0x22, sizeof(c2));
	for (int type = 1; type <= 2; type++) {
		size_t len = type_len(type);

		valid_header(msg, sizeof(msg), type);
		hs_macs_write(msg, len, &ka, NULL);
		assert_false(hs_mac2_ok(msg, len, c1));
		assert_false(hs_mac2_ok(msg, len, zero));

		hs_macs_write(msg, len, &ka, c1);
		assert_true(hs_mac1_ok(msg, len, &ka)); /* mac1 unaffected by the cookie */
		assert_true(hs_mac2_ok(msg, len, c1));
		assert_false(hs_mac2_ok(msg, len, c2));
		assert_false(hs_mac2_ok(msg, len, NULL));
		for (size_t i = 0; i < len; i++) {
			for (int bit = 0; bit < 8; bit++) {
				msg[i] ^= (uint8_t)(1u << bit);
				assert_false(hs_mac2_ok(msg, len, c1));
				msg[i] ^= (uint8_t)(1u << bit);
			}
		}
		for (size_t l = 0; l < len; l++)
			assert_false(hs_mac2_ok(msg, l, c1));
		assert_true(hs_mac2_ok(msg, len, c1));
	}
}

/* ---- cookies ---- */

static void test_cookie_rotation(void **state)
{
	struct hs_cookie_gen g;
	struct net_endpoint a, a_port, b, v6, v6b;
	uint8_t c0[16], c1[16], c2[16], c3[16], cx[16];
	const uint64_t t0 = 5000;
	(void)state;

	ep4(&a, "198.18.0.1:5800");
	ep4(&a_port, "198.18.0.1:5801");
	ep4(&b, "198.18.0.2:5800");
	ep4(&v6, "[2001:db8::1]:5800");
	ep4(&v6b, "[2001:db8::2]:5800");

	hs_cookie_gen_init(&g, t0);
	hs_cookie_make(&g, &a, t0, c0);
	hs_cookie_make(&g, &a, t0 + 1, c1);
	assert_memory_equal(c0, c1, 16);
	hs_cookie_make(&g, &a, t0 + 119999, c1);
	assert_memory_equal(c0, c1, 16);

	/* different port, address, family: different cookies */
	hs_cookie_make(&g, &a_port, t0 + 10, cx);
	assert_memory_not_equal(c0, cx, 16);
	hs_cookie_make(&g, &b, t0 + 10, cx);
	assert_memory_not_equal(c0, cx, 16);
	hs_cookie_make(&g, &v6, t0 + 10, c2);
	assert_memory_not_equal(c0, c2, 16);
	hs_cookie_make(&g, &v6b, t0 + 10, cx);
	assert_memory_not_equal(c2, cx, 16);

	/* 120 s after the secret's birth it rotates; stable again afterwards */
	hs_cookie_make(&g, &a, t0 + 120000, c2);
	assert_memory_not_equal(c0, c2, 16);
	hs_cookie_make(&g, &a, t0 + 120000 + 119999, c3);
	assert_memory_equal(c2, c3, 16);
	hs_cookie_make(&g, &a, t0 + 240000, c3);
	assert_memory_not_equal(c2, c3, 16);

	/* two generators do not agree (random secrets) */
	struct hs_cookie_gen g2;
	hs_cookie_gen_init(&g2, t0);
	hs_cookie_make(&g2, &a, t0, cx);
	hs_cookie_make(&g, &a, t0 + 240000, c3);
	assert_memory_not_equal(c3, cx, 16);

	/* a clock going backwards rotates instead of extending a secret's life */
	hs_cookie_make(&g, &a, t0, cx);
	assert_memory_not_equal(c3, cx, 16);
}

/* An initiation-shaped message with valid mac1 for `keys`. */
static void fake_init(uint8_t init[HS_INIT_LEN], uint32_t spi, const struct hs_mac_keys *keys)
{
	valid_header(init, HS_INIT_LEN, HS_INITIATION);
	hs_write_header(init, HS_INITIATION, 0, spi);
	hs_macs_write(init, HS_INIT_LEN, keys, NULL);
}

static void test_cookie_reply(void **state)
{
	uint8_t resp_pub[32], other_pub[32], init[HS_INIT_LEN], init2[HS_INIT_LEN];
	uint8_t reply[HS_COOKIE_MSG_LEN + 8], cookie[16], got[16];
	struct hs_mac_keys rk, ok;
	struct hs_header h;
	(void)state;

	random_pub(resp_pub);
	random_pub(other_pub);
	hs_mac_keys_derive(resp_pub, &rk);
	hs_mac_keys_derive(other_pub, &ok);
	fake_init(init, 0x8000abcd, &rk);
	memset(cookie, 0x5c, sizeof(cookie));

	memset(reply, 0xee, sizeof(reply));
	hs_cookie_reply_build(reply, init, &rk, cookie);
	assert_int_equal(reply[HS_COOKIE_MSG_LEN], 0xee);
	assert_int_equal(hs_parse_header(reply, HS_COOKIE_MSG_LEN, &h), 0);
	assert_int_equal(h.type, HS_COOKIE_REPLY);
	assert_int_equal(h.receiver_spi, 0x8000abcd);
	assert_int_equal(h.sender_spi, 0);
	assert_memory_equal(reply + HS_HDR_LEN, cookie, 16);

	memset(got, 0, sizeof(got));
	assert_int_equal(hs_cookie_reply_open(reply, HS_COOKIE_MSG_LEN, init, &rk, got), 0);
	assert_memory_equal(got, cookie, 16);

	/* wrong responder key */
	memset(got, 0, sizeof(got));
	assert_int_equal(hs_cookie_reply_open(reply, HS_COOKIE_MSG_LEN, init, &ok, got), -EBADMSG);
	assert_memory_not_equal(got, cookie, 16); /* nothing copied out on failure */

	/* a different initiation: same SPI, different mac1 */
	fake_init(init2, 0x8000abcd, &rk);
	assert_memory_not_equal(init + HS_INIT_LEN - 32, init2 + HS_INIT_LEN - 32, 16);
	assert_int_equal(hs_cookie_reply_open(reply, HS_COOKIE_MSG_LEN, init2, &rk, got), -EBADMSG);
	/* ... or a different SPI */
	memcpy(init2, init, HS_INIT_LEN);
	init2[15] ^= 1;
	assert_int_equal(hs_cookie_reply_open(reply, HS_COOKIE_MSG_LEN, init2, &rk, got), -EBADMSG);

	/* any bit of the reply */
	for (size_t i = 0; i < HS_COOKIE_MSG_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			reply[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(
			    hs_cookie_reply_open(reply, HS_COOKIE_MSG_LEN, init, &rk, got),
			    -EBADMSG);
			reply[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* wrong lengths */
	for (size_t len = 0; len < sizeof(reply); len++)
		assert_int_equal(hs_cookie_reply_open(reply, len, init, &rk, got),
				 len == HS_COOKIE_MSG_LEN ? 0 : -EBADMSG);
}

/* ---- known answers (from Python's hmac/hashlib, an independent
 * implementation of the constructions in hsmsg.h and docs/protocol.md) ---- */

#define KAT_MAC1_KEY   "3721efee577154b072164dae99ad972993605f2a58e819507a19bb8014821b58"
#define KAT_COOKIE_KEY "76c3844ba82eba9b1846ce99e6e612aeeaa325f56660ee492a19ca4f10b55b40"
#define KAT_MAC1       "894d390c7722a2c76d447121556b9872"
#define KAT_MAC2       "03d76197c29e8a42940d3b29b9bfd54c"
#define KAT_COOKIE     "76859356011a4877e9130acc01255ed8"
#define KAT_TAG	       "aa99c895a8d7fd6a9956738a1e62d25b"

static void assert_hex(const uint8_t *got, const char *hex)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		assert_int_equal(got[i], v);
	}
}

static void test_known_answers(void **state)
{
	uint8_t pub[32], msg[HS_INIT_LEN], cookie[16], reply[HS_COOKIE_MSG_LEN];
	struct hs_mac_keys k;
	struct hs_cookie_gen g;
	struct net_endpoint src;
	(void)state;

	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)i;
	hs_mac_keys_derive(pub, &k);
	assert_hex(k.mac1, KAT_MAC1_KEY);
	assert_hex(k.cookie, KAT_COOKIE_KEY);

	hs_write_header(msg, HS_INITIATION, 0, 0x80000001);
	for (int i = 16; i < HS_INIT_LEN; i++)
		msg[i] = (uint8_t)(i * 7);
	for (int i = 0; i < 16; i++)
		cookie[i] = (uint8_t)(0xa0 + i);
	hs_macs_write(msg, HS_INIT_LEN, &k, cookie);
	assert_hex(msg + 132, KAT_MAC1);
	assert_hex(msg + 148, KAT_MAC2);

	for (int i = 0; i < 32; i++)
		g.secret[i] = (uint8_t)(0x10 + i);
	g.secret_birth_ms = 0;
	ep4(&src, "198.18.0.1:5800");
	hs_cookie_make(&g, &src, 1, cookie);
	assert_hex(cookie, KAT_COOKIE);

	hs_cookie_reply_build(reply, msg, &k, cookie);
	assert_hex(reply, "00000000030000008000000100000000");
	assert_hex(reply + 16, KAT_COOKIE);
	assert_hex(reply + 32, KAT_TAG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_lengths),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_header_malformed),
	    cmocka_unit_test(test_header_cert_types),
	    cmocka_unit_test(test_payloads),
	    cmocka_unit_test(test_payloads_malformed),
	    cmocka_unit_test(test_tai64n),
	    cmocka_unit_test(test_mac_keys),
	    cmocka_unit_test(test_mac1),
	    cmocka_unit_test(test_mac2),
	    cmocka_unit_test(test_cookie_rotation),
	    cmocka_unit_test(test_cookie_reply),
	    cmocka_unit_test(test_known_answers),
	};
	int ret;

	srand(12345);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	if (mgr)
		free_mb_mgr(mgr);
	return ret;
}
