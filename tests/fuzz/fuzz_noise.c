/* libFuzzer target for the Noise handshake parser (control/noise.c).
 *
 * Each input is used four ways, with fixed static and ephemeral keys so runs
 * are reproducible:
 *   1. as message 1 to a fresh responder,
 *   2. as message 2 to an initiator that has sent its message 1,
 *   3. XORed over a genuine message 1 / message 2 (same length as the input,
 *      padded or cut), which reaches the later tokens of each message,
 *   4. split into two payloads for a complete handshake, which must succeed,
 *      return both payloads intact and agree on keys and hash.
 * Anything a read accepts in 1-3 must be the genuine message.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_noise.c control/noise.c -lcrypto -lIPSec_MB -o fuzz_noise
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/link/noise.h"

static IMB_MGR *mgr;
static const uint8_t init_s[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t resp_s[32] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const uint8_t init_e[32] = {21, 22, 23, 24, 25};
static const uint8_t resp_e[32] = {31, 32, 33, 34, 35};
static const uint8_t psk[32] = {0x70, 0x73, 0x6b};
static uint8_t resp_pub[32];
static struct noise_hs rsp0, ini1; /* ready for msg1 / waiting for msg2 (copied per run) */
static uint8_t genuine1[NOISE_MSG1_MIN_LEN], genuine2[NOISE_MSG2_MIN_LEN];
static uint8_t msg[NOISE_MAX_MSG_LEN], pl[NOISE_MAX_MSG_LEN], pl2[NOISE_MAX_MSG_LEN];

static void check(int cond)
{
	if (!cond)
		abort();
}

static int read_ok(int ret)
{
	/* every refusal must be one of the documented ones */
	check(ret == 0 || ret == -EBADMSG || ret == -EMSGSIZE || ret == -E2BIG || ret == -ENOBUFS);
	return ret == 0;
}

static void initiator(struct noise_hs *hs, uint8_t *m1, size_t *len)
{
	check(noise_hs_init(hs, NOISE_INITIATOR, mgr, init_s, resp_pub, psk, "fz", 2) == 0);
	check(noise_hs_set_ephemeral_for_testing(hs, init_e) == 0);
	check(noise_write_message(hs, NULL, 0, m1, NOISE_MSG1_MIN_LEN, len) == 0);
}

static void responder(struct noise_hs *hs)
{
	check(noise_hs_init(hs, NOISE_RESPONDER, mgr, resp_s, NULL, psk, "fz", 2) == 0);
	check(noise_hs_set_ephemeral_for_testing(hs, resp_e) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct noise_hs ini, rsp;
	size_t len, plen;

	(void)argc;
	(void)argv;
	mgr = alloc_mb_mgr(0);
	check(mgr != NULL);
	init_mb_mgr_auto(mgr, NULL);
	check(noise_pubkey_from_private(resp_pub, resp_s) == 0);
	initiator(&ini, genuine1, &len);
	ini1 = ini;
	responder(&rsp);
	rsp0 = rsp;
	check(noise_read_message(&rsp, genuine1, len, NULL, 0, &plen) == 0);
	check(noise_write_message(&rsp, NULL, 0, genuine2, sizeof(genuine2), &len) == 0);
	return 0;
}

static void as_msg1(const uint8_t *m, size_t size)
{
	struct noise_hs rsp = rsp0;
	size_t plen;

	if (read_ok(noise_read_message(&rsp, m, size, pl, sizeof(pl), &plen)))
		check(size == sizeof(genuine1) && !memcmp(m, genuine1, size));
	noise_hs_wipe(&rsp);
}

static void as_msg2(const uint8_t *m, size_t size)
{
	struct noise_hs ini = ini1;
	size_t plen;

	if (read_ok(noise_read_message(&ini, m, size, pl, sizeof(pl), &plen)))
		check(size == sizeof(genuine2) && !memcmp(m, genuine2, size));
	noise_hs_wipe(&ini);
}

static void xored(const uint8_t *data, size_t size, const uint8_t *genuine, size_t glen,
		  void (*feed)(const uint8_t *, size_t))
{
	size_t n = size < sizeof(msg) ? size : sizeof(msg);

	for (size_t i = 0; i < n; i++)
		msg[i] = data[i] ^ (i < glen ? genuine[i] : 0);
	feed(msg, n);
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct noise_hs ini, rsp;
	uint8_t ik1[32], ik2[32], rk1[32], rk2[32], hi[32], hr[32];
	size_t cut = size ? data[0] % (size + 1) : 0, len, plen;
	const uint8_t *p1 = data, *p2 = data + cut;
	size_t l1 = cut, l2 = size - cut;

	if (l1 > NOISE_MAX_MSG_LEN - NOISE_MSG1_MIN_LEN || l2 > NOISE_MAX_PAYLOAD_LEN)
		return;
	check(noise_hs_init(&ini, NOISE_INITIATOR, mgr, init_s, resp_pub, psk, data, l1) == 0);
	check(noise_hs_init(&rsp, NOISE_RESPONDER, mgr, resp_s, NULL, psk, data, l1) == 0);
	check(noise_hs_set_ephemeral_for_testing(&ini, init_e) == 0);
	check(noise_hs_set_ephemeral_for_testing(&rsp, resp_e) == 0);
	check(noise_write_message(&ini, p1, l1, msg, sizeof(msg), &len) == 0);
	check(len == NOISE_MSG1_LEN(l1));
	check(noise_read_message(&rsp, msg, len, pl, sizeof(pl), &plen) == 0);
	check(plen == l1 && (!l1 || !memcmp(pl, p1, l1)));
	check(noise_write_message(&rsp, p2, l2, msg, sizeof(msg), &len) == 0);
	check(len == NOISE_MSG2_LEN(l2));
	check(noise_read_message(&ini, msg, len, pl2, sizeof(pl2), &plen) == 0);
	check(plen == l2 && (!l2 || !memcmp(pl2, p2, l2)));
	check(noise_split(&ini, ik1, ik2, hi) == 0 && noise_split(&rsp, rk1, rk2, hr) == 0);
	check(!memcmp(ik1, rk2, 32) && !memcmp(ik2, rk1, 32) && !memcmp(hi, hr, 32));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_msg1(data, size);
	as_msg2(data, size);
	xored(data, size, genuine1, sizeof(genuine1), as_msg1);
	xored(data, size, genuine2, sizeof(genuine2), as_msg2);
	round_trip(data, size);
	return 0;
}
