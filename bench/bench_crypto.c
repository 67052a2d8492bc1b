/* ESP/AES-256-GCM throughput of dp_esp_encrypt_burst / dp_esp_decrypt_burst
 * against a baseline measured in the same run: the same ESP framing done on
 * the same packet buffers with OpenSSL EVP AES-256-GCM, one packet at a time
 * (what a straightforward userspace VPN does).
 *
 * Cycles are TSC cycles (this VM has no PMU), taken around each burst call so
 * the untimed work that prepares the next burst is excluded; every figure is
 * the median of REPS repetitions. Gbit/s counts inner (plaintext) bytes.
 * Not a test: it always exits 0 once it has printed its table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dataplane/esp.h"
#include "dataplane/sa.h"
#include "bench/bench_tsc.h"

#define REPS	     9
#define PKTS_PER_REP 30000u
#define BURST_MAX    32

static const unsigned sizes[] = {64, 512, 1420};
static const unsigned bursts[] = {1, 8, 32};

static const uint8_t keymat[DP_SA_KEYMAT_LEN] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
    0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0xde, 0xad, 0xbe, 0xef,
};

static double mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double tsc_hz(void)
{
	double t0 = mono_sec();
	uint64_t c0 = tsc_start();
	while (mono_sec() - t0 < 0.2)
		;
	uint64_t c1 = tsc_stop();
	return (double)(c1 - c0) / (mono_sec() - t0);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- OpenSSL baseline: the same wire format, one EVP call chain per packet ---- */
struct ossl_sa {
	EVP_CIPHER_CTX *ctx;
	uint32_t spi;
	uint64_t seq;
};

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = (uint8_t)v;
}

static int ossl_encrypt(struct ossl_sa *sa, struct dp_pkt *p)
{
	unsigned inner = p->len, pad = (4 - ((inner + 2) & 3)) & 3, text = inner + pad + 2;
	uint8_t *tail = p->data + inner, nonce[12];
	int n;

	for (unsigned k = 0; k < pad; k++)
		tail[k] = (uint8_t)(k + 1);
	tail[pad] = (uint8_t)pad;
	tail[pad + 1] = p->next_hdr;
	p->data -= 16;
	uint64_t seq = ++sa->seq;
	be32(p->data, sa->spi);
	be32(p->data + 4, (uint32_t)seq);
	be32(p->data + 8, (uint32_t)(seq >> 32));
	be32(p->data + 12, (uint32_t)seq);
	memcpy(nonce, keymat + DP_SA_KEY_LEN, 4);
	memcpy(nonce + 4, p->data + 8, 8);
	if (EVP_EncryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(sa->ctx, NULL, &n, p->data, 8) != 1 ||
	    EVP_EncryptUpdate(sa->ctx, p->data + 16, &n, p->data + 16, (int)text) != 1 ||
	    EVP_EncryptFinal_ex(sa->ctx, p->data + 16 + text, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_GCM_GET_TAG, 16, p->data + 16 + text) != 1)
		return -1;
	p->len = (uint16_t)(16 + text + 16);
	return 0;
}

static int ossl_decrypt(struct ossl_sa *sa, struct dp_pkt *p)
{
	unsigned text = p->len - 32;
	uint8_t nonce[12];
	int n;

	memcpy(nonce, keymat + DP_SA_KEY_LEN, 4);
	memcpy(nonce + 4, p->data + 8, 8);
	if (EVP_DecryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(sa->ctx, NULL, &n, p->data, 8) != 1 ||
	    EVP_DecryptUpdate(sa->ctx, p->data + 16, &n, p->data + 16, (int)text) != 1 ||
	    EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_GCM_SET_TAG, 16, p->data + 16 + text) != 1 ||
	    EVP_DecryptFinal_ex(sa->ctx, p->data + 16 + text, &n) != 1)
		return -1;
	uint8_t *plain = p->data + 16;
	unsigned pad = plain[text - 2];
	if (pad > text - 2)
		return -1;
	p->next_hdr = plain[text - 1];
	p->data = plain;
	p->len = (uint16_t)(text - 2 - pad);
	return 0;
}

static EVP_CIPHER_CTX *ossl_ctx(int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, keymat, NULL, enc) != 1) {
		fprintf(stderr, "OpenSSL AES-256-GCM unavailable\n");
		exit(0);
	}
	return c;
}

/* ---- one measurement ---- */
struct bench {
	IMB_MGR *mgr;
	struct dp_sa *out, *in;
	struct ossl_sa oout, oin;
	struct dp_pkt *pk[BURST_MAX];
	int errors;
};

static void refill(struct bench *b, unsigned burst, unsigned size, struct dp_sa *sa)
{
	for (unsigned i = 0; i < burst; i++) {
		struct dp_pkt *p = b->pk[i];
		p->data = p->buf + DP_HEADROOM;
		p->len = (uint16_t)size;
		p->drop = DP_DROP_NONE;
		p->next_hdr = DP_ESP_NH_IPV4;
		p->sa = sa;
	}
}

static void check(struct bench *b, unsigned burst, unsigned size)
{
	for (unsigned i = 0; i < burst; i++)
		if (b->pk[i]->drop != DP_DROP_NONE || b->pk[i]->len != size)
			b->errors++;
}

/* Returns cycles per packet of the timed direction. */
static double run_ours(struct bench *b, unsigned size, unsigned burst, int decrypt)
{
	uint64_t cycles = 0;
	unsigned iters = PKTS_PER_REP / burst;

	for (unsigned it = 0; it < iters; it++) {
		uint64_t t0, t1;
		refill(b, burst, size, b->out);
		if (!decrypt) {
			t0 = tsc_start();
			dp_esp_encrypt_burst(b->mgr, b->pk, burst);
			t1 = tsc_stop();
			cycles += t1 - t0;
			for (unsigned i = 0; i < burst; i++)
				if (b->pk[i]->drop != DP_DROP_NONE)
					b->errors++;
			continue;
		}
		dp_esp_encrypt_burst(b->mgr, b->pk, burst);
		for (unsigned i = 0; i < burst; i++)
			b->pk[i]->sa = b->in;
		t0 = tsc_start();
		dp_esp_decrypt_burst(b->mgr, b->pk, burst);
		t1 = tsc_stop();
		cycles += t1 - t0;
		check(b, burst, size);
	}
	return (double)cycles / (iters * burst);
}

static double run_openssl(struct bench *b, unsigned size, unsigned burst, int decrypt)
{
	uint64_t cycles = 0;
	unsigned iters = PKTS_PER_REP / burst;

	for (unsigned it = 0; it < iters; it++) {
		uint64_t t0, t1;
		int rc = 0;
		refill(b, burst, size, NULL);
		if (!decrypt) {
			t0 = tsc_start();
			for (unsigned i = 0; i < burst; i++)
				rc |= ossl_encrypt(&b->oout, b->pk[i]);
			t1 = tsc_stop();
			cycles += t1 - t0;
			b->errors += rc != 0;
			continue;
		}
		for (unsigned i = 0; i < burst; i++)
			rc |= ossl_encrypt(&b->oout, b->pk[i]);
		t0 = tsc_start();
		for (unsigned i = 0; i < burst; i++)
			rc |= ossl_decrypt(&b->oin, b->pk[i]);
		t1 = tsc_stop();
		cycles += t1 - t0;
		b->errors += rc != 0;
		check(b, burst, size);
	}
	return (double)cycles / (iters * burst);
}

int main(void)
{
	struct bench b = {0};
	struct dp_pkt *mem = aligned_alloc(64, BURST_MAX * sizeof(*mem));
	double t_begin = mono_sec();

	b.mgr = dp_crypto_mgr_create();
	if (!mem || !b.mgr) {
		fprintf(stderr, "bench_crypto: no memory or no ipsec-mb manager\n");
		return 0;
	}
	b.out = dp_sa_create(b.mgr, 0x80000001u, keymat, 1);
	b.in = dp_sa_create(b.mgr, 0x80000001u, keymat, 1);
	if (!b.out || !b.in) {
		fprintf(stderr, "bench_crypto: SA creation failed\n");
		return 0;
	}
	b.oout = (struct ossl_sa){.ctx = ossl_ctx(1), .spi = 0x80000002u};
	b.oin = (struct ossl_sa){.ctx = ossl_ctx(0), .spi = 0x80000002u};
	for (unsigned i = 0; i < BURST_MAX; i++) {
		dp_pkt_reset(&mem[i]);
		memset(mem[i].buf, 0xa5, DP_BUF_SIZE);
		b.pk[i] = &mem[i];
	}

	double hz = tsc_hz();
	printf("bench_crypto: ESP AES-256-GCM-16, in place, one core\n");
	printf("TSC %.3f GHz (calibrated against CLOCK_MONOTONIC), ipsec-mb %s (arch %u), %s\n",
	       hz / 1e9, imb_get_version_str(), (unsigned)b.mgr->used_arch,
	       OpenSSL_version(OPENSSL_VERSION));
	printf("median of %d repetitions x %u packets; Gbit/s of inner bytes; "
	       "ratio = our throughput / OpenSSL's\n\n",
	       REPS, PKTS_PER_REP);
	printf("%-7s %5s %5s | %9s %7s %7s | %9s %7s %7s | %6s\n", "dir", "size", "burst",
	       "ours cyc", "Mpps", "Gbit/s", "ossl cyc", "Mpps", "Gbit/s", "ratio");

	for (int dec = 0; dec < 2; dec++) {
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (unsigned k = 0; k < sizeof(bursts) / sizeof(bursts[0]); k++) {
				double ours[REPS], ossl[REPS];
				unsigned size = sizes[s], burst = bursts[k];

				run_ours(&b, size, burst, dec); /* warm-up */
				run_openssl(&b, size, burst, dec);
				for (int r = 0; r < REPS; r++) {
					ours[r] = run_ours(&b, size, burst, dec);
					ossl[r] = run_openssl(&b, size, burst, dec);
				}
				double co = median(ours, REPS), cs = median(ossl, REPS);
				double mo = hz / co / 1e6, ms = hz / cs / 1e6;
				printf("%-7s %5u %5u | %9.1f %7.2f %7.2f | %9.1f %7.2f %7.2f | "
				       "%5.2fx\n",
				       dec ? "decrypt" : "encrypt", size, burst, co, mo,
				       mo * size * 8 / 1e3, cs, ms, ms * size * 8 / 1e3, cs / co);
			}
		}
	}
	printf("\n%s, %.1f s\n", b.errors ? "ERRORS SEEN" : "all packets verified",
	       mono_sec() - t_begin);

	EVP_CIPHER_CTX_free(b.oout.ctx);
	EVP_CIPHER_CTX_free(b.oin.ctx);
	dp_sa_destroy(b.out);
	dp_sa_destroy(b.in);
	dp_crypto_mgr_destroy(b.mgr);
	free(mem);
	return 0;
}
