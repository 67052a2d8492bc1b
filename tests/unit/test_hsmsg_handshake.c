/* A full IKpsk2 handshake through the handshake framing (control/link/hsmsg.c
 * with control/link/noise.c): the reference sequence for the link manager,
 * its failures and the cookie exchange under load.
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

static IMB_MGR *mgr;

static void ep4(struct net_endpoint *ep, const char *s)
{
	assert_int_equal(net_endpoint_parse(s, ep), 0);
}

/* ---- a full handshake through the framing ----
 *
 * The sequence the link manager follows. Initiator I knows responder R's
 * static public key; R learns I's from message 1 and decides whether to trust
 * it. Each side's new inbound SPI travels as the header's sender SPI (and
 * again inside the encrypted payload, where it is authenticated).
 */

/* the link manager's prologue (LM_PROLOGUE), without its NUL */
static const char prologue[] = "ipopd handshake v1";

struct side {
	uint8_t priv[32], pub[32];
	struct hs_mac_keys own; /* checks mac1 on what we receive, builds cookie replies */
	struct noise_hs hs;
	uint32_t spi_in;
	uint8_t keymat_in[NOISE_ESP_KEYMAT_LEN], keymat_out[NOISE_ESP_KEYMAT_LEN];
	uint32_t spi_out;
};

static void side_init(struct side *s, uint32_t spi_in)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(noise_keypair_generate(s->priv, s->pub), 0);
	hs_mac_keys_derive(s->pub, &s->own);
	s->spi_in = spi_in;
}

static void split_keymats(struct side *s)
{
	uint8_t send[32], recv[32], hash[32];

	assert_int_equal(noise_split(&s->hs, send, recv, hash), 0);
	assert_int_equal(noise_esp_keymat(send, hash, s->keymat_out), 0);
	assert_int_equal(noise_esp_keymat(recv, hash, s->keymat_in), 0);
	explicit_bzero(send, sizeof(send));
	explicit_bzero(recv, sizeof(recv));
}

/* I: build the initiation (mac2 from `cookie` when one is held). */
static void build_initiation(struct side *ini, const uint8_t resp_pub[32], const uint8_t *psk,
			     const uint8_t *cookie, uint8_t msg[HS_INIT_LEN])
{
	struct hs_init_payload p = {.version = HS_VERSION, .sender_spi = ini->spi_in};
	struct hs_mac_keys rk;
	uint8_t pl[HS_INIT_PAYLOAD_LEN];
	size_t n;

	hs_tai64n_now(p.tai64n);
	hs_init_payload_encode(&p, pl);
	assert_int_equal(noise_hs_init(&ini->hs, NOISE_INITIATOR, mgr, ini->priv, resp_pub, psk,
				       prologue, strlen(prologue)),
			 0);
	hs_write_header(msg, HS_INITIATION, 0, ini->spi_in);
	assert_int_equal(
	    noise_write_message(&ini->hs, pl, sizeof(pl), msg + HS_HDR_LEN, HS_INIT_NOISE_LEN, &n),
	    0);
	assert_int_equal(n, HS_INIT_NOISE_LEN);
	hs_mac_keys_derive(resp_pub, &rk);
	hs_macs_write(msg, HS_INIT_LEN, &rk, cookie);
}

/* R: parse, mac1, Noise, payload checks, then the response. Returns the
 * initiator's timestamp through tai (the caller keeps the newest per key). */
static int respond(struct side *rsp, const uint8_t *msg, size_t len, const uint8_t *psk,
		   const uint8_t want_peer[32], uint8_t resp[HS_RESP_LEN], uint8_t tai[12])
{
	struct hs_header h;
	struct hs_init_payload ip;
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = rsp->spi_in};
	struct hs_mac_keys peer_keys;
	uint8_t pl[HS_INIT_PAYLOAD_LEN], rpl[HS_RESP_PAYLOAD_LEN], peer[32];
	size_t plen, n;
	int ret;

	if (hs_parse_header(msg, len, &h) || h.type != HS_INITIATION)
		return -EBADMSG;
	if (!hs_mac1_ok(msg, len, &rsp->own)) /* before any Noise work */
		return -EBADMSG;
	assert_int_equal(noise_hs_init(&rsp->hs, NOISE_RESPONDER, mgr, rsp->priv, NULL, NULL,
				       prologue, strlen(prologue)),
			 0);
	ret = noise_read_message(&rsp->hs, h.noise, h.noise_len, pl, sizeof(pl), &plen);
	if (ret)
		return ret;
	if (hs_init_payload_decode(pl, plen, &ip) || ip.sender_spi != h.sender_spi)
		return -EBADMSG;
	assert_int_equal(noise_hs_remote_static(&rsp->hs, peer), 0);
	if (memcmp(peer, want_peer, 32) != 0) /* trust decision */
		return -EACCES;
	/* the PSK of the group that key belongs to */
	assert_int_equal(noise_hs_set_psk(&rsp->hs, psk), 0);
	memcpy(tai, ip.tai64n, 12);
	rsp->spi_out = h.sender_spi;

	hs_resp_payload_encode(&rp, rpl);
	hs_write_header(resp, HS_RESPONSE, h.sender_spi, rsp->spi_in);
	assert_int_equal(noise_write_message(&rsp->hs, rpl, sizeof(rpl), resp + HS_HDR_LEN,
					     HS_RESP_NOISE_LEN, &n),
			 0);
	assert_int_equal(n, HS_RESP_NOISE_LEN);
	hs_mac_keys_derive(peer, &peer_keys);
	hs_macs_write(resp, HS_RESP_LEN, &peer_keys, NULL);
	split_keymats(rsp);
	return 0;
}

/* I: accept the response. */
static int complete(struct side *ini, const uint8_t *msg, size_t len)
{
	struct hs_header h;
	struct hs_resp_payload rp;
	uint8_t pl[HS_RESP_PAYLOAD_LEN];
	size_t plen;
	int ret;

	if (hs_parse_header(msg, len, &h) || h.type != HS_RESPONSE ||
	    h.receiver_spi != ini->spi_in || !hs_mac1_ok(msg, len, &ini->own))
		return -EBADMSG;
	ret = noise_read_message(&ini->hs, h.noise, h.noise_len, pl, sizeof(pl), &plen);
	if (ret)
		return ret;
	if (hs_resp_payload_decode(pl, plen, &rp) || rp.sender_spi != h.sender_spi)
		return -EBADMSG;
	ini->spi_out = h.sender_spi;
	split_keymats(ini);
	return 0;
}

static void setup_mgr(void)
{
	if (!mgr) {
		mgr = alloc_mb_mgr(0);
		assert_non_null(mgr);
		init_mb_mgr_auto(mgr, NULL);
	}
}

static void test_full_handshake(void **state)
{
	struct side ini, rsp;
	uint8_t psk[32], m1[HS_INIT_LEN], m2[HS_RESP_LEN], tai[12], tai2[12];
	(void)state;

	setup_mgr();
	memset(psk, 0x77, sizeof(psk));
	side_init(&ini, 0x80001111);
	side_init(&rsp, 0x80002222);

	build_initiation(&ini, rsp.pub, psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), 0);
	assert_int_equal(complete(&ini, m2, sizeof(m2)), 0);

	/* the SPIs crossed and the keymats pair up */
	assert_int_equal(ini.spi_out, 0x80002222);
	assert_int_equal(rsp.spi_out, 0x80001111);
	assert_memory_equal(ini.keymat_out, rsp.keymat_in, NOISE_ESP_KEYMAT_LEN);
	assert_memory_equal(ini.keymat_in, rsp.keymat_out, NOISE_ESP_KEYMAT_LEN);
	assert_memory_not_equal(ini.keymat_in, ini.keymat_out, NOISE_ESP_KEYMAT_LEN);

	/* the response cannot be completed twice */
	assert_int_not_equal(complete(&ini, m2, sizeof(m2)), 0);

	/* a second initiation carries a newer timestamp: a replay of m1 would
	 * carry the old one and be refused by the link manager */
	side_init(&rsp, 0x80003333);
	build_initiation(&ini, rsp.pub, psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai2), 0);
	assert_true(memcmp(tai, tai2, 12) < 0);

	noise_hs_wipe(&ini.hs);
	noise_hs_wipe(&rsp.hs);
}

static void test_full_handshake_failures(void **state)
{
	struct side ini, rsp, other;
	uint8_t psk[32], bad_psk[32], m1[HS_INIT_LEN], m2[HS_RESP_LEN], tai[12];
	(void)state;

	setup_mgr();
	memset(psk, 0x77, sizeof(psk));
	memset(bad_psk, 0x78, sizeof(bad_psk));
	side_init(&ini, 0x80001111);
	side_init(&rsp, 0x80002222);
	side_init(&other, 0x80004444);

	/* initiation for someone else: mac1 stops it before Noise */
	build_initiation(&ini, other.pub, psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), -EBADMSG);
	assert_int_equal(rsp.hs.state, NOISE_HS_NONE);

	/* an untrusted initiator */
	build_initiation(&other, rsp.pub, psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), -EACCES);

	/* a wrong PSK is only noticed by the initiator reading the response */
	build_initiation(&ini, rsp.pub, bad_psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), 0);
	assert_int_equal(complete(&ini, m2, sizeof(m2)), -EBADMSG);

	/* a payload SPI that differs from the header's is refused: the header is
	 * only covered by mac1, which anyone who knows R's key can recompute */
	build_initiation(&ini, rsp.pub, psk, NULL, m1);
	m1[15] ^= 1;
	hs_macs_write(m1, sizeof(m1), &rsp.own, NULL);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), -EBADMSG);

	/* a response for another SPI is refused */
	build_initiation(&ini, rsp.pub, psk, NULL, m1);
	assert_int_equal(respond(&rsp, m1, sizeof(m1), psk, ini.pub, m2, tai), 0);
	m2[11] ^= 1;
	hs_macs_write(m2, sizeof(m2), &ini.own, NULL);
	assert_int_equal(complete(&ini, m2, sizeof(m2)), -EBADMSG);
	m2[11] ^= 1;
	hs_macs_write(m2, sizeof(m2), &ini.own, NULL);
	assert_int_equal(complete(&ini, m2, sizeof(m2)), 0);

	noise_hs_wipe(&ini.hs);
	noise_hs_wipe(&rsp.hs);
	noise_hs_wipe(&other.hs);
}

/* Under load R answers an initiation without a valid mac2 with a cookie
 * reply; I opens it and sends the initiation again with mac2. */
static void test_full_handshake_cookie(void **state)
{
	struct side ini, rsp;
	struct hs_cookie_gen gen;
	struct net_endpoint src;
	uint8_t m1[HS_INIT_LEN], m2[HS_RESP_LEN], reply[HS_COOKIE_MSG_LEN], tai[12];
	uint8_t cookie_r[16], cookie_i[16];
	struct hs_mac_keys rk;
	uint64_t now = 42000;
	(void)state;

	setup_mgr();
	side_init(&ini, 0x80001111);
	side_init(&rsp, 0x80002222);
	ep4(&src, "198.18.0.1:5800");
	hs_cookie_gen_init(&gen, now);

	/* R under load: mac1 fine, mac2 missing -> cookie reply, no Noise */
	build_initiation(&ini, rsp.pub, NULL, NULL, m1);
	assert_true(hs_mac1_ok(m1, sizeof(m1), &rsp.own));
	hs_cookie_make(&gen, &src, now, cookie_r);
	assert_false(hs_mac2_ok(m1, sizeof(m1), cookie_r));
	hs_cookie_reply_build(reply, m1, &rsp.own, cookie_r);

	/* I: open with R's keys against the initiation it sent */
	hs_mac_keys_derive(rsp.pub, &rk);
	assert_int_equal(hs_cookie_reply_open(reply, sizeof(reply), m1, &rk, cookie_i), 0);
	assert_memory_equal(cookie_i, cookie_r, 16);

	/* I retries with mac2; R (a little later, same source) accepts it */
	build_initiation(&ini, rsp.pub, NULL, cookie_i, m1);
	hs_cookie_make(&gen, &src, now + 500, cookie_r);
	assert_true(hs_mac2_ok(m1, sizeof(m1), cookie_r));
	/* from another port the cookie is worthless */
	struct net_endpoint spoof = src;
	spoof.port++;
	hs_cookie_make(&gen, &spoof, now + 500, cookie_r);
	assert_false(hs_mac2_ok(m1, sizeof(m1), cookie_r));

	assert_int_equal(respond(&rsp, m1, sizeof(m1), NULL, ini.pub, m2, tai), 0);
	assert_int_equal(complete(&ini, m2, sizeof(m2)), 0);
	assert_memory_equal(ini.keymat_out, rsp.keymat_in, NOISE_ESP_KEYMAT_LEN);
	assert_memory_equal(ini.keymat_in, rsp.keymat_out, NOISE_ESP_KEYMAT_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_handshake),
	    cmocka_unit_test(test_full_handshake_failures),
	    cmocka_unit_test(test_full_handshake_cookie),
	};
	int ret;

	srand(12345);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	if (mgr)
		free_mb_mgr(mgr);
	return ret;
}
