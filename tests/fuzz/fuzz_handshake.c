/* libFuzzer target for the handshake framing (control/hsmsg.c) and the
 * responder pipeline in front of Noise.
 *
 * Each input is used these ways, with fixed keys so runs are reproducible:
 *   1. raw, to hs_parse_header, both payload decoders, hs_mac1_ok,
 *      hs_mac2_ok and hs_cookie_reply_open (against a genuine initiation);
 *   2. raw, as an initiation datagram to the responder pipeline
 *      (rate limit -> parse -> mac1 -> Noise read -> payload checks): without
 *      the responder's mac1 key nothing may get past mac1;
 *   3. XORed over a genuine initiation with mac1 recomputed (what a sender who
 *      knows the responder's public key can produce), which reaches the Noise
 *      read and, for an all-zero input, the whole handshake: it must then
 *      succeed and both sides must derive matching keymats;
 *   4. XORed over a genuine response to the initiator that sent the genuine
 *      initiation, mac1 recomputed likewise;
 *   5. as a cookie reply body XORed over a genuine one.
 * Every acceptance of a modified message is a bug (abort).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_handshake.c control/hsmsg.c control/noise.c util/addr.c \
 *     -lcrypto -lIPSec_MB -o fuzz_handshake
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/link/hsmsg.h"
#include "control/link/noise.h"

static IMB_MGR *mgr;
static const uint8_t init_s[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t resp_s[32] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const uint8_t init_e[32] = {21, 22, 23, 24, 25};
static const uint8_t resp_e[32] = {31, 32, 33, 34, 35};
static const uint8_t psk[32] = {0x70, 0x73, 0x6b};
/* the link manager's prologue (LM_PROLOGUE), without its NUL */
static const char prologue[] = "ipopd handshake v1";
static uint8_t init_pub[32], resp_pub[32];
static struct hs_mac_keys init_keys, resp_keys;
static struct noise_hs ini_waiting; /* initiator after writing the genuine initiation */
static uint8_t genuine_init[HS_INIT_LEN], genuine_resp[HS_RESP_LEN],
    genuine_cookie[HS_COOKIE_MSG_LEN];
static struct hs_ratelimit *rl;
static uint64_t clock_ms;

#define INIT_SPI 0x80000011u
#define RESP_SPI 0x80000022u

static void check(int cond)
{
	if (!cond)
		abort();
}

static void responder_init(struct noise_hs *hs)
{
	check(noise_hs_init(hs, NOISE_RESPONDER, mgr, resp_s, NULL, psk, prologue,
			    strlen(prologue)) == 0);
	check(noise_hs_set_ephemeral_for_testing(hs, resp_e) == 0);
}

/* The responder's side of an initiation: what the link manager does. Returns
 * 0 with the response written and rsp DONE, or a negative errno. */
static int responder(struct noise_hs *rsp, const uint8_t *msg, size_t len, uint8_t out[HS_RESP_LEN])
{
	struct hs_header h;
	struct hs_init_payload ip;
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = RESP_SPI};
	struct net_endpoint src = {.family = AF_INET, .port = 5800};
	uint8_t pl[HS_INIT_PAYLOAD_LEN + 64], rpl[HS_RESP_PAYLOAD_LEN], peer[32];
	size_t plen, n;
	int ret;

	if (!hs_ratelimit_allow(rl, &src, clock_ms++))
		return -EBUSY;
	if (hs_parse_header(msg, len, &h) || h.type != HS_INITIATION)
		return -EBADMSG;
	check(h.noise == msg + HS_HDR_LEN && h.noise_len == HS_INIT_NOISE_LEN);
	if (!hs_mac1_ok(msg, len, &resp_keys))
		return -EBADMSG;
	responder_init(rsp);
	ret = noise_read_message(rsp, h.noise, h.noise_len, pl, sizeof(pl), &plen);
	if (ret) {
		check(ret == -EBADMSG);
		return ret;
	}
	check(plen == HS_INIT_PAYLOAD_LEN);
	if (hs_init_payload_decode(pl, plen, &ip) || ip.sender_spi != h.sender_spi)
		return -EBADMSG;
	check(noise_hs_remote_static(rsp, peer) == 0);
	if (memcmp(peer, init_pub, 32) != 0)
		return -EACCES;
	hs_resp_payload_encode(&rp, rpl);
	hs_write_header(out, HS_RESPONSE, h.sender_spi, RESP_SPI);
	check(noise_write_message(rsp, rpl, sizeof(rpl), out + HS_HDR_LEN, HS_RESP_NOISE_LEN, &n) ==
	      0);
	hs_macs_write(out, HS_RESP_LEN, &init_keys, NULL);
	return 0;
}

static int initiator_complete(struct noise_hs *ini, const uint8_t *msg, size_t len)
{
	struct hs_header h;
	struct hs_resp_payload rp;
	uint8_t pl[HS_RESP_PAYLOAD_LEN + 64];
	size_t plen;
	int ret;

	if (hs_parse_header(msg, len, &h) || h.type != HS_RESPONSE || h.receiver_spi != INIT_SPI ||
	    !hs_mac1_ok(msg, len, &init_keys))
		return -EBADMSG;
	ret = noise_read_message(ini, h.noise, h.noise_len, pl, sizeof(pl), &plen);
	if (ret) {
		check(ret == -EBADMSG);
		return ret;
	}
	if (hs_resp_payload_decode(pl, plen, &rp) || rp.sender_spi != h.sender_spi)
		return -EBADMSG;
	return 0;
}

static void keymats(struct noise_hs *hs, uint8_t out[NOISE_ESP_KEYMAT_LEN],
		    uint8_t in[NOISE_ESP_KEYMAT_LEN])
{
	uint8_t send[32], recv[32], hash[32];

	check(noise_split(hs, send, recv, hash) == 0);
	check(noise_esp_keymat(send, hash, out) == 0);
	check(noise_esp_keymat(recv, hash, in) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hs_init_payload ip = {.version = HS_VERSION, .sender_spi = INIT_SPI};
	struct noise_hs rsp;
	uint8_t pl[HS_INIT_PAYLOAD_LEN], cookie[HS_COOKIE_LEN] = {0xc0, 0x0c};
	size_t n;

	(void)argc;
	(void)argv;
	mgr = alloc_mb_mgr(0);
	check(mgr != NULL);
	init_mb_mgr_auto(mgr, NULL);
	rl = hs_ratelimit_create(64, 1000000, 1000000);
	check(rl != NULL);
	check(noise_pubkey_from_private(init_pub, init_s) == 0);
	check(noise_pubkey_from_private(resp_pub, resp_s) == 0);
	hs_mac_keys_derive(init_pub, &init_keys);
	hs_mac_keys_derive(resp_pub, &resp_keys);

	/* the genuine initiation, with a fixed timestamp */
	memset(ip.tai64n, 0x40, 1);
	hs_init_payload_encode(&ip, pl);
	check(noise_hs_init(&ini_waiting, NOISE_INITIATOR, mgr, init_s, resp_pub, psk, prologue,
			    strlen(prologue)) == 0);
	check(noise_hs_set_ephemeral_for_testing(&ini_waiting, init_e) == 0);
	hs_write_header(genuine_init, HS_INITIATION, 0, INIT_SPI);
	check(noise_write_message(&ini_waiting, pl, sizeof(pl), genuine_init + HS_HDR_LEN,
				  HS_INIT_NOISE_LEN, &n) == 0);
	hs_macs_write(genuine_init, HS_INIT_LEN, &resp_keys, NULL);
	check(responder(&rsp, genuine_init, HS_INIT_LEN, genuine_resp) == 0);
	noise_hs_wipe(&rsp);
	hs_cookie_reply_build(genuine_cookie, genuine_init, &resp_keys, cookie);
	return 0;
}

static void xor_over(uint8_t *dst, const uint8_t *base, size_t len, const uint8_t *d, size_t n)
{
	memcpy(dst, base, len);
	for (size_t i = 0; i < len && i < n; i++)
		dst[i] ^= d[i];
}

static int all_zero(const uint8_t *d, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= d[i];
	return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct hs_header h;
	struct hs_init_payload ip;
	struct hs_resp_payload rp;
	struct noise_hs rsp, ini;
	uint8_t m[HS_INIT_LEN], out[HS_RESP_LEN], cookie[HS_COOKIE_LEN];
	uint8_t ko_i[NOISE_ESP_KEYMAT_LEN], ki_i[NOISE_ESP_KEYMAT_LEN];
	uint8_t ko_r[NOISE_ESP_KEYMAT_LEN], ki_r[NOISE_ESP_KEYMAT_LEN];
	int ret;

	/* 1. every parser on the raw bytes */
	if (hs_parse_header(d, n, &h) == 0) {
		if (h.type <= HS_COOKIE_REPLY)
			check(n == HS_INIT_LEN || n == HS_RESP_LEN || n == HS_COOKIE_MSG_LEN);
		else /* the certificate types (docs/protocol.md section 14) */
			check(n >= HS_CERTREP_MIN_LEN && n <= HS_MSG_MAX &&
			      (h.type != HS_CERT_REQUEST || n == HS_CERTREQ_LEN));
		check(h.type == d[4]);
		if (h.noise)
			check(h.noise == d + HS_HDR_LEN && h.noise + h.noise_len <= d + n);
	}
	(void)hs_init_payload_decode(d, n, &ip);
	(void)hs_resp_payload_decode(d, n, &rp);
	(void)hs_mac2_ok(d, n, genuine_cookie + HS_HDR_LEN);
	if (hs_mac1_ok(d, n, &resp_keys))
		check(n == HS_INIT_LEN && memcmp(d, genuine_init, HS_INIT_LEN - HS_MAC_LEN) == 0);
	if (hs_cookie_reply_open(d, n, genuine_init, &resp_keys, cookie) == 0)
		check(n == HS_COOKIE_MSG_LEN && memcmp(d, genuine_cookie, n) == 0);

	/* 2. raw as an initiation: stops at mac1 unless it is the genuine one */
	ret = responder(&rsp, d, n, out);
	if (ret == 0)
		check(n == HS_INIT_LEN && memcmp(d, genuine_init, HS_INIT_LEN - HS_MAC_LEN) == 0);
	noise_hs_wipe(&rsp);

	/* 3. over a genuine initiation, mac1 fixed up */
	xor_over(m, genuine_init, HS_INIT_LEN, d, n);
	hs_macs_write(m, HS_INIT_LEN, &resp_keys, NULL);
	ret = responder(&rsp, m, HS_INIT_LEN, out);
	if (ret == 0) {
		/* only the genuine Noise message authenticates (mac2 is not an input) */
		check(memcmp(m, genuine_init, HS_INIT_LEN - 2 * HS_MAC_LEN) == 0);
		check(memcmp(out, genuine_resp, HS_RESP_LEN) == 0);
		ini = ini_waiting;
		check(initiator_complete(&ini, out, HS_RESP_LEN) == 0);
		keymats(&ini, ko_i, ki_i);
		keymats(&rsp, ko_r, ki_r);
		check(memcmp(ko_i, ki_r, sizeof(ko_i)) == 0 &&
		      memcmp(ki_i, ko_r, sizeof(ki_i)) == 0);
		noise_hs_wipe(&ini);
	} else {
		check(!all_zero(
		    d, n < HS_INIT_LEN - 2 * HS_MAC_LEN ? n : HS_INIT_LEN - 2 * HS_MAC_LEN));
	}
	noise_hs_wipe(&rsp);

	/* 4. over the genuine response, to the initiator waiting for it */
	xor_over(out, genuine_resp, HS_RESP_LEN, d, n);
	hs_macs_write(out, HS_RESP_LEN, &init_keys, NULL);
	ini = ini_waiting;
	if (initiator_complete(&ini, out, HS_RESP_LEN) == 0)
		check(memcmp(out, genuine_resp, HS_RESP_LEN - 2 * HS_MAC_LEN) == 0);
	noise_hs_wipe(&ini);

	/* 5. over the genuine cookie reply */
	xor_over(m, genuine_cookie, HS_COOKIE_MSG_LEN, d, n);
	if (hs_cookie_reply_open(m, HS_COOKIE_MSG_LEN, genuine_init, &resp_keys, cookie) == 0) {
		check(memcmp(m, genuine_cookie, HS_COOKIE_MSG_LEN) == 0);
		check(memcmp(cookie, genuine_cookie + HS_HDR_LEN, HS_COOKIE_LEN) == 0);
	}
	return 0;
}
