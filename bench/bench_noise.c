/* Noise_IKpsk2 handshake rate on one core, against a baseline measured in the
 * same run: one bare X25519 (EVP_PKEY_derive on pre-built keys), the
 * operation that dominates a handshake.
 *
 * A "handshake" is everything both sides do: noise_hs_init on each side,
 * msg1 write + read, msg2 write + read, noise_split on each side and the two
 * ESP keymats per side. Cycles are TSC cycles (no PMU here); every figure is
 * the median of REPS repetitions. Not a test: exits 0 once it has printed.
 *
 *   gcc -O2 -D_GNU_SOURCE -I. bench/bench_noise.c control/noise.c \
 *       -lcrypto -lIPSec_MB -o /tmp/bench_noise
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include <openssl/evp.h>

#include "control/link/noise.h"

#define REPS	   7
#define HS_PER_REP 400u
#define DH_PER_REP 4000u

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

static void die(const char *what)
{
	fprintf(stderr, "bench_noise: %s failed\n", what);
	exit(1);
}

static void one_handshake(IMB_MGR *mgr, const uint8_t is[32], const uint8_t ip[32],
			  const uint8_t rsk[32], const uint8_t rp[32], const uint8_t psk[32])
{
	struct noise_hs ini, rsp;
	uint8_t m1[256], m2[256], pl[64], k[4][32], h[2][32], km[NOISE_ESP_KEYMAT_LEN];
	size_t l1, l2, plen;
	static const char pro[] = "ipopd/1 overlay", hello[] = "timestamp+spi...";

	(void)ip;
	if (noise_hs_init(&ini, NOISE_INITIATOR, mgr, is, rp, psk, pro, sizeof(pro)) ||
	    noise_hs_init(&rsp, NOISE_RESPONDER, mgr, rsk, NULL, psk, pro, sizeof(pro)))
		die("init");
	if (noise_write_message(&ini, hello, 16, m1, sizeof(m1), &l1) ||
	    noise_read_message(&rsp, m1, l1, pl, sizeof(pl), &plen) ||
	    noise_write_message(&rsp, hello, 16, m2, sizeof(m2), &l2) ||
	    noise_read_message(&ini, m2, l2, pl, sizeof(pl), &plen))
		die("handshake");
	if (noise_split(&ini, k[0], k[1], h[0]) || noise_split(&rsp, k[2], k[3], h[1]))
		die("split");
	for (int i = 0; i < 4; i++)
		if (noise_esp_keymat(k[i], h[i / 2], km))
			die("keymat");
}

int main(void)
{
	uint8_t is[32], ip[32], rsk[32], rp[32], psk[32] = {0};
	double hs_rate[REPS], hs_cyc[REPS], dh_rate[REPS], dh_cyc[REPS];
	IMB_MGR *mgr = alloc_mb_mgr(0);
	EVP_PKEY *a = NULL, *b = NULL;
	EVP_PKEY_CTX *ctx;

	if (!mgr)
		die("alloc_mb_mgr");
	init_mb_mgr_auto(mgr, NULL);
	if (noise_keypair_generate(is, ip) || noise_keypair_generate(rsk, rp))
		die("keypair");
	a = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	b = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	ctx = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer(ctx, b) <= 0)
		die("X25519 baseline setup");

	for (int r = 0; r < REPS; r++) {
		double t0 = mono_sec();
		uint64_t c0 = __rdtsc();
		for (unsigned i = 0; i < DH_PER_REP; i++) {
			uint8_t out[32];
			size_t len = sizeof(out);
			if (EVP_PKEY_derive(ctx, out, &len) <= 0)
				die("derive");
		}
		dh_cyc[r] = (double)(__rdtsc() - c0) / DH_PER_REP;
		dh_rate[r] = DH_PER_REP / (mono_sec() - t0);

		t0 = mono_sec();
		c0 = __rdtsc();
		for (unsigned i = 0; i < HS_PER_REP; i++)
			one_handshake(mgr, is, ip, rsk, rp, psk);
		hs_cyc[r] = (double)(__rdtsc() - c0) / HS_PER_REP;
		hs_rate[r] = HS_PER_REP / (mono_sec() - t0);
	}
	qsort(hs_rate, REPS, sizeof(double), cmp_double);
	qsort(hs_cyc, REPS, sizeof(double), cmp_double);
	qsort(dh_rate, REPS, sizeof(double), cmp_double);
	qsort(dh_cyc, REPS, sizeof(double), cmp_double);

	printf("%-44s %12s %14s %10s\n", "operation (one core, median of 7)", "per second",
	       "TSC cycles", "x X25519");
	printf("%-44s %12.0f %14.0f %10.2f\n", "X25519 derive (baseline)", dh_rate[REPS / 2],
	       dh_cyc[REPS / 2], 1.0);
	printf("%-44s %12.0f %14.0f %10.2f\n", "full IKpsk2 handshake, both sides + keymat",
	       hs_rate[REPS / 2], hs_cyc[REPS / 2], hs_cyc[REPS / 2] / dh_cyc[REPS / 2]);
	printf("(a handshake needs 10 X25519 operations at the least: 2 keygens and\n"
	       " es, ss, ee, se on each side)\n");

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	free_mb_mgr(mgr);
	return 0;
}
