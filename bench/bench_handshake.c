/* What an initiation costs a responder, one core, with the framing of
 * control/hsmsg.h around the Noise core:
 *
 *   (a)  forged initiation: hs_parse_header + hs_mac1_ok failing — all a
 *        flood without the responder's public key can make it do;
 *   (a2) initiation with a valid mac1 but no cookie while under load:
 *        parse + mac1 + mac2 check + hs_cookie_make + hs_cookie_reply_build;
 *   (r)  one hs_ratelimit_allow lookup (64k buckets, many sources);
 *   (b)  accepted initiation: parse + mac1 + Noise responder (init, read
 *        msg1, payload decode, write msg2, macs, split, two ESP keymats);
 *   (c)  a complete handshake, both sides, framed as on the wire.
 *
 * (b) is the baseline the others are compared with in the same run: (a)/(b)
 * is the fraction of a real handshake's cost that a forged datagram costs,
 * which is what the mac1/cookie design buys. TSC cycles (no PMU here); every
 * figure is the median of REPS repetitions. Not a test: exits 0 once printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "control/link/hsmsg.h"
#include "control/link/noise.h"

#define REPS 7

/* the link manager's prologue (LM_PROLOGUE), without its NUL */
static const char prologue[] = "ipopd handshake v1";
static IMB_MGR *mgr;
static uint8_t ini_s[32], ini_p[32], rsp_s[32], rsp_p[32], psk[32];
static struct hs_mac_keys ini_keys, rsp_keys;
static struct hs_cookie_gen gen;
static struct hs_ratelimit *rl;
static uint8_t forged[HS_INIT_LEN], genuine[HS_INIT_LEN];
static volatile unsigned sink;

static void die(const char *what)
{
	fprintf(stderr, "bench_handshake: %s failed\n", what);
	exit(1);
}

static double mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void build_init(struct noise_hs *ini, uint8_t msg[HS_INIT_LEN])
{
	struct hs_init_payload p = {.version = HS_VERSION, .sender_spi = 0x80000001};
	uint8_t pl[HS_INIT_PAYLOAD_LEN];
	size_t n;

	hs_tai64n_now(p.tai64n);
	hs_init_payload_encode(&p, pl);
	if (noise_hs_init(ini, NOISE_INITIATOR, mgr, ini_s, rsp_p, psk, prologue, strlen(prologue)))
		die("initiator init");
	hs_write_header(msg, HS_INITIATION, 0, p.sender_spi);
	if (noise_write_message(ini, pl, sizeof(pl), msg + HS_HDR_LEN, HS_INIT_NOISE_LEN, &n))
		die("msg1");
	hs_macs_write(msg, HS_INIT_LEN, &rsp_keys, NULL);
}

static void keymats(struct noise_hs *hs)
{
	uint8_t send[32], recv[32], hash[32], km[NOISE_ESP_KEYMAT_LEN];

	if (noise_split(hs, send, recv, hash) || noise_esp_keymat(send, hash, km) ||
	    noise_esp_keymat(recv, hash, km))
		die("split/keymat");
	sink += km[0];
}

/* Responder: everything from the datagram to the response and both keymats. */
static void respond(const uint8_t *msg, uint8_t out[HS_RESP_LEN])
{
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = 0x80000002};
	struct hs_init_payload ip;
	struct hs_header h;
	struct noise_hs rsp;
	uint8_t pl[HS_INIT_PAYLOAD_LEN], rpl[HS_RESP_PAYLOAD_LEN];
	size_t plen, n;

	if (hs_parse_header(msg, HS_INIT_LEN, &h) || !hs_mac1_ok(msg, HS_INIT_LEN, &rsp_keys))
		die("genuine initiation refused");
	if (noise_hs_init(&rsp, NOISE_RESPONDER, mgr, rsp_s, NULL, psk, prologue,
			  strlen(prologue)) ||
	    noise_read_message(&rsp, h.noise, h.noise_len, pl, sizeof(pl), &plen) ||
	    hs_init_payload_decode(pl, plen, &ip) || ip.sender_spi != h.sender_spi)
		die("responder read");
	hs_resp_payload_encode(&rp, rpl);
	hs_write_header(out, HS_RESPONSE, h.sender_spi, rp.sender_spi);
	if (noise_write_message(&rsp, rpl, sizeof(rpl), out + HS_HDR_LEN, HS_RESP_NOISE_LEN, &n))
		die("msg2");
	hs_macs_write(out, HS_RESP_LEN, &ini_keys, NULL);
	keymats(&rsp);
}

static void op_forged(unsigned i)
{
	struct hs_header h;

	forged[HS_INIT_LEN - 2 * HS_MAC_LEN] = (uint8_t)i; /* a fresh forged mac1 each time */
	if (hs_parse_header(forged, HS_INIT_LEN, &h) || hs_mac1_ok(forged, HS_INIT_LEN, &rsp_keys))
		die("forged initiation");
}

static void op_cookie(unsigned i)
{
	struct net_endpoint src = {.family = AF_INET, .port = (uint16_t)i};
	uint8_t cookie[HS_COOKIE_LEN], reply[HS_COOKIE_MSG_LEN];
	struct hs_header h;

	src.addr[10] = src.addr[11] = 0xff;
	memcpy(src.addr + 12, &i, 4);
	if (hs_parse_header(genuine, HS_INIT_LEN, &h) ||
	    !hs_mac1_ok(genuine, HS_INIT_LEN, &rsp_keys))
		die("genuine initiation");
	hs_cookie_make(&gen, &src, 1000, cookie);
	if (hs_mac2_ok(genuine, HS_INIT_LEN, cookie))
		die("mac2");
	hs_cookie_reply_build(reply, genuine, &rsp_keys, cookie);
	sink += reply[47];
}

static void op_ratelimit(unsigned i)
{
	struct net_endpoint src = {.family = AF_INET6};
	uint32_t a = i * 2654435761u;

	memcpy(src.addr, &a, 4);
	sink += hs_ratelimit_allow(rl, &src, i);
}

static void op_responder(unsigned i)
{
	uint8_t out[HS_RESP_LEN];

	(void)i;
	respond(genuine, out);
	sink += out[HS_RESP_LEN - 1];
}

static void op_both(unsigned i)
{
	struct noise_hs ini;
	struct hs_resp_payload rp;
	struct hs_header h;
	uint8_t m1[HS_INIT_LEN], m2[HS_RESP_LEN], pl[HS_RESP_PAYLOAD_LEN];
	size_t plen;

	(void)i;
	build_init(&ini, m1);
	respond(m1, m2);
	if (hs_parse_header(m2, HS_RESP_LEN, &h) || !hs_mac1_ok(m2, HS_RESP_LEN, &ini_keys) ||
	    noise_read_message(&ini, h.noise, h.noise_len, pl, sizeof(pl), &plen) ||
	    hs_resp_payload_decode(pl, plen, &rp) || rp.sender_spi != h.sender_spi)
		die("initiator read");
	keymats(&ini);
}

struct result {
	double cyc, rate;
};

static struct result measure(void (*op)(unsigned), unsigned per_rep)
{
	double cyc[REPS], rate[REPS];

	for (unsigned i = 0; i < per_rep / 10 + 1; i++) /* warm up */
		op(i);
	for (int r = 0; r < REPS; r++) {
		double t0 = mono_sec();
		uint64_t c0 = __rdtsc();

		for (unsigned i = 0; i < per_rep; i++)
			op(i);
		cyc[r] = (double)(__rdtsc() - c0) / per_rep;
		rate[r] = per_rep / (mono_sec() - t0);
	}
	qsort(cyc, REPS, sizeof(double), cmp_double);
	qsort(rate, REPS, sizeof(double), cmp_double);
	return (struct result){cyc[REPS / 2], rate[REPS / 2]};
}

int main(void)
{
	struct noise_hs ini;
	struct result a, a2, r, b, c;

	mgr = alloc_mb_mgr(0);
	if (!mgr)
		die("alloc_mb_mgr");
	init_mb_mgr_auto(mgr, NULL);
	if (noise_keypair_generate(ini_s, ini_p) || noise_keypair_generate(rsp_s, rsp_p))
		die("keypair");
	memset(psk, 0x5a, sizeof(psk));
	hs_mac_keys_derive(ini_p, &ini_keys);
	hs_mac_keys_derive(rsp_p, &rsp_keys);
	hs_cookie_gen_init(&gen, 1000);
	rl = hs_ratelimit_create(65536, 10, 20);
	if (!rl)
		die("ratelimit");
	build_init(&ini, genuine);
	noise_hs_wipe(&ini);
	memcpy(forged, genuine, HS_INIT_LEN);
	forged[40] ^= 1; /* a flooder's own bytes: well-formed header, wrong mac1 */

	a = measure(op_forged, 20000);
	a2 = measure(op_cookie, 10000);
	r = measure(op_ratelimit, 200000);
	b = measure(op_responder, 400);
	c = measure(op_both, 300);

	printf("%-58s %12s %12s %9s\n", "operation (one core, median of 7)", "per second",
	       "TSC cycles", "x (b)");
	printf("%-58s %12.0f %12.0f %9.4f\n", "(a)  forged initiation: parse + mac1 check", a.rate,
	       a.cyc, a.cyc / b.cyc);
	printf("%-58s %12.0f %12.0f %9.4f\n", "(a2) under load, no cookie: + mac2 + cookie reply",
	       a2.rate, a2.cyc, a2.cyc / b.cyc);
	printf("%-58s %12.0f %12.0f %9.4f\n", "(r)  rate limiter lookup", r.rate, r.cyc,
	       r.cyc / b.cyc);
	printf("%-58s %12.0f %12.0f %9.4f\n", "(b)  responder: mac1 + Noise + msg2 + 2 keymats",
	       b.rate, b.cyc, 1.0);
	printf("%-58s %12.0f %12.0f %9.4f\n", "(c)  complete handshake, both sides, framed", c.rate,
	       c.cyc, c.cyc / b.cyc);
	printf("forged initiation / accepted initiation (a)/(b) = %.4f: a flood without the\n"
	       "responder's public key costs 1/%.0f of a handshake per datagram\n",
	       a.cyc / b.cyc, b.cyc / a.cyc);

	hs_ratelimit_destroy(rl);
	free_mb_mgr(mgr);
	return sink == 0xdeadbeef;
}
