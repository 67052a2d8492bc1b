/* The raw ipsec-mb limit for bench/poll.sh: AES-256-GCM encryption with the
 * direct API on a precomputed key, one buffer after another on one core, as
 * fast as the library goes. poll.sh divides the gateway's Gbit/s at the same
 * packet size by this figure (measured in the same run).
 *
 *   bench_poll SIZE [SECONDS]   prints "SIZE Mpps Gbit/s cycles/packet"
 *
 * Rates are per second of CPU time (the machine is shared); cycles are TSC
 * cycles over wall time (no PMU on these VMs). Not a test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include <intel-ipsec-mb.h>

/* CPU time of this process (one thread): per core, whatever else runs. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned size = argc > 1 ? (unsigned)atoi(argv[1]) : 1400;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	static uint8_t buf[16384] __attribute__((aligned(64)));
	uint8_t key[32] = {1, 2, 3}, iv[12] = {4, 5, 6}, aad[8] = {7}, tag[16];
	struct gcm_key_data kd __attribute__((aligned(64)));
	struct gcm_context_data ctx __attribute__((aligned(64)));

	if (size < 16 || size > sizeof(buf)) {
		fprintf(stderr, "usage: bench_poll SIZE(16..16384) [SECONDS]\n");
		return 2;
	}
	IMB_MGR *mgr = alloc_mb_mgr(0);
	if (!mgr)
		return 1;
	IMB_ARCH arch;
	init_mb_mgr_auto(mgr, &arch);
	IMB_AES256_GCM_PRE(mgr, key, &kd);
	memset(buf, 0xa5, sizeof(buf));

	uint64_t n = 0;
	double t0 = now_s(), t1;
	uint64_t c0 = __rdtsc();
	do {
		for (int i = 0; i < 1024; i++) {
			iv[0] = (uint8_t)n;
			IMB_AES256_GCM_ENC(mgr, &kd, &ctx, buf, buf, size, iv, aad, sizeof(aad),
					   tag, sizeof(tag));
			n++;
		}
		t1 = now_s();
	} while (t1 - t0 < secs);
	uint64_t cycles = __rdtsc() - c0;
	printf("%u %.3f %.2f %.0f\n", size, (double)n / (t1 - t0) / 1e6,
	       (double)n * size * 8 / (t1 - t0) / 1e9, (double)cycles / (double)n);
	free_mb_mgr(mgr);
	return 0;
}
