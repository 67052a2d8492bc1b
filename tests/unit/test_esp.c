/* Unit tests for ESP/AES-256-GCM (dataplane/esp.c, dataplane/sa.c): round
 * trips, sequence numbers and every failure path. The known answers are in
 * test_esp_vectors.c. */
#include "esp_fixture.h"

/* ---- round trips ---- */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void fill_inner(uint8_t *d, unsigned len, uint32_t tag)
{
	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(tag * 31 + i * 7);
}

static void test_roundtrip_lengths(void **state)
{
	struct dp_sa *out = sa_new(SPI_B, keymat_a), *in = sa_new(SPI_B, keymat_a);
	struct dp_pkt *p = pkts_alloc(1);
	uint8_t inner[1500];
	(void)state;

	for (unsigned len = 0; len <= 1500; len++) {
		fill_inner(inner, len, len);
		pkt_set(p, out, inner, len, DP_ESP_NH_IPV4);
		dp_esp_encrypt_burst(mgr, &p, 1);
		assert_int_equal(p->drop, DP_DROP_NONE);
		assert_int_equal(p->len, 16 + ((len + 2 + 3) & ~3u) + 16);
		assert_int_equal(dp_esp_spi(p->data), SPI_B);
		assert_int_equal(dp_esp_seq(p->data), len + 1);
		/* the ciphertext must not be the plaintext */
		if (len >= 16)
			assert_memory_not_equal(p->data + 16, inner, 16);
		p->sa = in;
		p->next_hdr = 0;
		dp_esp_decrypt_burst(mgr, &p, 1);
		assert_int_equal(p->drop, DP_DROP_NONE);
		assert_int_equal(p->len, len);
		assert_int_equal(p->next_hdr, DP_ESP_NH_IPV4);
		assert_ptr_equal(p->data, p->buf + DP_HEADROOM);
		if (len)
			assert_memory_equal(p->data, inner, len);
	}
	assert_int_equal(in->packets, 1501);
	assert_int_equal(in->bytes, 1500 * 1501 / 2);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
}

/* Mixed SAs, runs of random length, burst sizes 1..64 and beyond the batch. */
static void test_roundtrip_bursts(void **state)
{
	enum { NSA = 3, MAXB = 200 };
	static const uint32_t spis[NSA] = {SPI_A, SPI_B, SPI_C};
	uint8_t km[NSA][DP_SA_KEYMAT_LEN];
	struct dp_sa *out[NSA], *in[NSA];
	struct dp_pkt *mem = pkts_alloc(MAXB), *pk[MAXB];
	unsigned which[MAXB], lens[MAXB];
	uint64_t sent[NSA] = {0};
	(void)state;

	for (unsigned s = 0; s < NSA; s++) {
		for (unsigned k = 0; k < DP_SA_KEYMAT_LEN; k++)
			km[s][k] = (uint8_t)(s * 50 + k);
		out[s] = sa_new(spis[s], km[s]);
		in[s] = sa_new(spis[s], km[s]);
	}
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned n = 1; n <= MAXB; n = n < 64 ? n + 1 : n + 68) {
			unsigned s = rnd() % NSA;
			for (unsigned i = 0; i < n; i++) {
				uint8_t buf[1500];
				if (rnd() % 4 == 0)
					s = rnd() % NSA; /* new run */
				which[i] = s;
				lens[i] = rnd() % 1501;
				fill_inner(buf, lens[i], i + n);
				pk[i] = &mem[i];
				pkt_set(pk[i], out[s], buf, lens[i], (uint8_t)(s + 1));
			}
			uint64_t seq0[NSA];
			for (unsigned k = 0; k < NSA; k++)
				seq0[k] = out[k]->seq;
			dp_esp_encrypt_burst(mgr, pk, n);
			for (unsigned i = 0; i < n; i++) {
				assert_int_equal(pk[i]->drop, DP_DROP_NONE);
				/* per SA, sequence numbers follow burst order */
				assert_int_equal(dp_esp_seq(pk[i]->data), ++seq0[which[i]]);
				assert_int_equal(dp_esp_spi(pk[i]->data), spis[which[i]]);
				pk[i]->sa = in[which[i]];
				sent[which[i]]++;
			}
			dp_esp_decrypt_burst(mgr, pk, n);
			for (unsigned i = 0; i < n; i++) {
				uint8_t buf[1500];
				assert_int_equal(pk[i]->drop, DP_DROP_NONE);
				assert_int_equal(pk[i]->len, lens[i]);
				assert_int_equal(pk[i]->next_hdr, which[i] + 1);
				fill_inner(buf, lens[i], i + n);
				if (lens[i])
					assert_memory_equal(pk[i]->data, buf, lens[i]);
			}
		}
	}
	for (unsigned s = 0; s < NSA; s++) {
		assert_int_equal(out[s]->packets, sent[s]);
		assert_int_equal(in[s]->packets, sent[s]);
		assert_int_equal(out[s]->bytes, in[s]->bytes);
		assert_int_equal(in[s]->auth_fail + in[s]->replays, 0);
		dp_sa_destroy(out[s]);
		dp_sa_destroy(in[s]);
	}
	free(mem);
}

/* Two workers encrypt on one SA: each run takes one contiguous block of
 * sequence numbers and no number is handed out twice. Small packets and short
 * bursts make the allocations frequent enough to race. */
#define MT_THREADS 2
#define MT_BURSTS  40000
#define MT_BURST   16
#define MT_TOTAL   (MT_BURSTS / MT_BURST * (MT_BURST * (MT_BURST + 1) / 2))

static unsigned mt_size(unsigned b)
{
	return 1 + b % MT_BURST;
}

struct mt_arg {
	struct dp_sa *sa;
	_Atomic unsigned *go;
	uint32_t first[MT_BURSTS];
	int bad;
};

static void *mt_encrypt(void *a_)
{
	struct mt_arg *a = a_;
	IMB_MGR *m = dp_crypto_mgr_create();
	struct dp_pkt *mem = aligned_alloc(64, MT_BURST * (sizeof(*mem) + DP_BUF_SIZE)),
		      *pk[MT_BURST];
	uint8_t inner[8] = {0};

	for (unsigned i = 0; mem && i < MT_BURST; i++)
		dp_pkt_attach(&mem[i], (uint8_t *)(mem + MT_BURST) + (size_t)i * DP_BUF_SIZE,
			      DP_BUF_SIZE);

	if (!m || !mem) {
		a->bad = 1;
		goto out;
	}
	while (!atomic_load(a->go))
		;
	for (unsigned b = 0; b < MT_BURSTS; b++) {
		unsigned n = mt_size(b);
		for (unsigned i = 0; i < n; i++) {
			pk[i] = &mem[i];
			pkt_set(pk[i], a->sa, inner, (i * 3) % sizeof(inner), 4);
		}
		dp_esp_encrypt_burst(m, pk, n);
		a->first[b] = dp_esp_seq(pk[0]->data);
		for (unsigned i = 0; i < n; i++)
			if (pk[i]->drop || dp_esp_seq(pk[i]->data) != a->first[b] + i)
				a->bad = 1;
	}
out:
	free(mem);
	dp_crypto_mgr_destroy(m);
	return NULL;
}

static void test_seq_concurrent(void **state)
{
	struct dp_sa *sa = sa_new(SPI_A, keymat_a);
	static struct mt_arg args[MT_THREADS];
	pthread_t th[MT_THREADS];
	_Atomic unsigned go = 0;
	uint8_t *seen = calloc(MT_THREADS * MT_TOTAL + 1, 1);
	(void)state;

	assert_non_null(seen);
	for (unsigned t = 0; t < MT_THREADS; t++) {
		args[t].sa = sa;
		args[t].go = &go;
		args[t].bad = 0;
		assert_int_equal(pthread_create(&th[t], NULL, mt_encrypt, &args[t]), 0);
	}
	atomic_store(&go, 1);
	for (unsigned t = 0; t < MT_THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (unsigned t = 0; t < MT_THREADS; t++) {
		assert_int_equal(args[t].bad, 0);
		for (unsigned b = 0; b < MT_BURSTS; b++)
			for (unsigned i = 0; i < mt_size(b); i++) {
				uint32_t s = args[t].first[b] + i;
				assert_true(s >= 1 && s <= MT_THREADS * MT_TOTAL);
				if (seen[s]++)
					fail_msg("sequence number %u handed out twice", s);
			}
	}
	assert_int_equal(sa->seq, MT_THREADS * MT_TOTAL);
	assert_int_equal(sa->packets, MT_THREADS * MT_TOTAL);
	free(seen);
	dp_sa_destroy(sa);
}

/* ---- failures ---- */
static void encrypt_one(struct dp_pkt *p, struct dp_sa *sa, unsigned len)
{
	uint8_t inner[1500];
	fill_inner(inner, len, 99);
	pkt_set(p, sa, inner, len, DP_ESP_NH_IPV6);
	dp_esp_encrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
}

static void test_tamper(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a), *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(2);
	uint64_t fails = 0;
	(void)state;

	out->seq = 0x01020304; /* no single flip turns the sequence number into 0 */
	encrypt_one(&p[0], out, 100);
	for (unsigned pos = 0; pos < p[0].len; pos++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			struct dp_pkt *q = &p[1];
			pkt_set(q, in, p[0].data, p[0].len, 0);
			q->data[pos] ^= (uint8_t)(1u << bit);
			dp_esp_decrypt_burst(mgr, &q, 1);
			if (q->drop != DP_DROP_AUTH)
				fail_msg("flip at byte %u bit %u: drop %u", pos, bit, q->drop);
			fails++;
		}
	}
	assert_int_equal(in->auth_fail, fails);
	assert_int_equal(in->packets, 0);
	/* failed packets did not move the window: the original still passes */
	struct dp_pkt *q = &p[1];
	pkt_set(q, in, p[0].data, p[0].len, 0);
	dp_esp_decrypt_burst(mgr, &q, 1);
	assert_int_equal(q->drop, DP_DROP_NONE);
	assert_int_equal(q->len, 100);

	/* wrong key entirely */
	uint8_t km[DP_SA_KEYMAT_LEN];
	memcpy(km, keymat_a, sizeof(km));
	km[35] ^= 1; /* only the salt differs */
	struct dp_sa *other = sa_new(SPI_A, km);
	pkt_set(q, other, p[0].data, p[0].len, 0);
	dp_esp_decrypt_burst(mgr, &q, 1);
	assert_int_equal(q->drop, DP_DROP_AUTH);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
	dp_sa_destroy(other);
}

static void test_short(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a), *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(2);
	(void)state;

	encrypt_one(&p[0], out, 64);
	for (unsigned len = 0; len < p[0].len; len++) {
		struct dp_pkt *q = &p[1];
		pkt_set(q, in, p[0].data, len, 0);
		dp_esp_decrypt_burst(mgr, &q, 1);
		unsigned ct = len >= 32 ? len - 32 : 0;
		if (len < DP_ESP_MIN_LEN || ct % 4)
			assert_int_equal(q->drop, DP_DROP_SHORT);
		else
			assert_int_equal(q->drop, DP_DROP_AUTH); /* well-formed but cut */
	}
	/* one byte too many is no better */
	struct dp_pkt *q = &p[1];
	pkt_set(q, in, p[0].data, p[0].len + 1, 0);
	dp_esp_decrypt_burst(mgr, &q, 1);
	assert_int_equal(q->drop, DP_DROP_SHORT);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
}

static void test_replay(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a), *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(4), *pk[3];
	(void)state;

	encrypt_one(&p[0], out, 200);
	/* duplicate inside one burst: the pre-check passes both, the window
	 * update after authentication stops the second */
	for (unsigned i = 0; i < 2; i++) {
		pk[i] = &p[1 + i];
		pkt_set(pk[i], in, p[0].data, p[0].len, 0);
	}
	dp_esp_decrypt_burst(mgr, pk, 2);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_int_equal(pk[1]->drop, DP_DROP_REPLAY);
	assert_int_equal(in->replays, 1);
	/* and in a later burst, caught before any crypto */
	pkt_set(pk[0], in, p[0].data, p[0].len, 0);
	dp_esp_decrypt_burst(mgr, pk, 1);
	assert_int_equal(pk[0]->drop, DP_DROP_REPLAY);
	assert_int_equal(in->replays, 2);
	assert_int_equal(in->packets, 1);
	assert_int_equal(in->bytes, 200);
	assert_int_equal(in->auth_fail, 0);

	/* sequence number 0 is never valid */
	out->seq = 0;
	encrypt_one(&p[0], out, 10); /* seq 1 */
	p[0].data[7] = 0;
	pkt_set(pk[0], in, p[0].data, p[0].len, 0);
	dp_esp_decrypt_burst(mgr, pk, 1);
	assert_int_equal(pk[0]->drop, DP_DROP_REPLAY);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
}

/* Builds an ESP packet around an arbitrary plaintext with a valid ICV, using
 * ipsec-mb's direct GCM call (a different path from the one under test). */
static void craft(struct dp_pkt *p, struct dp_sa *sa, uint32_t seq, const uint8_t *pt, unsigned len)
{
	uint8_t nonce[12];
	struct gcm_context_data ctx;

	dp_pkt_reset(p);
	uint8_t *d = p->data;
	d[0] = sa->spi >> 24, d[1] = sa->spi >> 16, d[2] = sa->spi >> 8, d[3] = (uint8_t)sa->spi;
	d[4] = seq >> 24, d[5] = seq >> 16, d[6] = seq >> 8, d[7] = (uint8_t)seq;
	memset(d + 8, 0, 4);
	memcpy(d + 12, d + 4, 4);
	memcpy(nonce, sa->salt, 4);
	memcpy(nonce + 4, d + 8, 8);
	IMB_AES256_GCM_ENC(mgr, &sa->key, &ctx, d + 16, pt, len, nonce, d, 8, d + 16 + len, 16);
	p->len = (uint16_t)(16 + len + 16);
	p->sa = sa;
}

static void test_bad_trailer(void **state)
{
	struct dp_sa *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(1);
	(void)state;

	/* pad bytes 1,3 instead of 1,2 */
	static const uint8_t bad_pad[8] = {9, 9, 9, 9, 1, 3, 2, 4};
	craft(p, in, 1, bad_pad, sizeof(bad_pad));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_BAD_TRAILER);

	/* pad length beyond the plaintext */
	static const uint8_t bad_len[4] = {1, 2, 3, 4};
	craft(p, in, 2, bad_len, sizeof(bad_len));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_BAD_TRAILER);
	static const uint8_t huge_len[8] = {1, 2, 3, 4, 5, 6, 255, 4};
	craft(p, in, 3, huge_len, sizeof(huge_len));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_BAD_TRAILER);

	/* pad bytes all zero (not the RFC 4303 monotonic pattern) */
	static const uint8_t zero_pad[8] = {9, 9, 9, 0, 0, 0, 3, 4};
	craft(p, in, 4, zero_pad, sizeof(zero_pad));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_BAD_TRAILER);

	/* longer-than-needed padding from another implementation is fine,
	 * and so is padding that uses up every byte */
	static const uint8_t long_pad[12] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 6, 41};
	craft(p, in, 5, long_pad, sizeof(long_pad));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	assert_int_equal(p->len, 4);
	assert_int_equal(p->next_hdr, 41);
	assert_memory_equal(p->data, long_pad, 4);
	static const uint8_t all_pad[4] = {1, 2, 2, 4};
	craft(p, in, 6, all_pad, sizeof(all_pad));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	assert_int_equal(p->len, 0);

	/* authenticated bad trailers still consumed their sequence number */
	craft(p, in, 1, long_pad, sizeof(long_pad));
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_REPLAY);
	assert_int_equal(in->packets, 2);
	assert_int_equal(in->auth_fail, 0);
	free(p);
	dp_sa_destroy(in);
}

static void test_seq_exhausted(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(3), *pk[3];
	uint8_t inner[50];
	(void)state;

	fill_inner(inner, sizeof(inner), 1);
	out->seq = DP_SA_SEQ_LIMIT - 1;
	for (unsigned i = 0; i < 3; i++) {
		pk[i] = &p[i];
		pkt_set(pk[i], out, inner, sizeof(inner), 4);
	}
	dp_esp_encrypt_burst(mgr, pk, 3);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_int_equal(dp_esp_seq(pk[0]->data), 0xffffffffu);
	for (unsigned i = 1; i < 3; i++) {
		assert_int_equal(pk[i]->drop, DP_DROP_SEQ_EXHAUSTED);
		/* left untouched */
		assert_ptr_equal(pk[i]->data, pk[i]->buf + DP_HEADROOM);
		assert_int_equal(pk[i]->len, sizeof(inner));
		assert_memory_equal(pk[i]->data, inner, sizeof(inner));
	}
	assert_int_equal(out->packets, 1);
	pkt_set(pk[0], out, inner, sizeof(inner), 4);
	dp_esp_encrypt_burst(mgr, pk, 1);
	assert_int_equal(pk[0]->drop, DP_DROP_SEQ_EXHAUSTED);
	free(p);
	dp_sa_destroy(out);
}

/* A reservation limit below DP_SA_SEQ_LIMIT (manual keys: what is on disk)
 * is never passed, and numbers skipped while it held are never used later. */
static void test_seq_limit(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(4), *pk[4];
	uint8_t inner[40];
	(void)state;

	fill_inner(inner, sizeof(inner), 7);
	out->seq = 3;
	out->seq_limit = 5;
	for (unsigned i = 0; i < 4; i++) {
		pk[i] = &p[i];
		pkt_set(pk[i], out, inner, sizeof(inner), 4);
	}
	dp_esp_encrypt_burst(mgr, pk, 4);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_int_equal(dp_esp_seq(pk[0]->data), 4);
	assert_int_equal(pk[1]->drop, DP_DROP_NONE);
	assert_int_equal(dp_esp_seq(pk[1]->data), 5);
	assert_int_equal(pk[2]->drop, DP_DROP_SEQ_EXHAUSTED);
	assert_int_equal(pk[3]->drop, DP_DROP_SEQ_EXHAUSTED);
	out->seq_limit = 100;
	pkt_set(pk[0], out, inner, sizeof(inner), 4);
	dp_esp_encrypt_burst(mgr, pk, 1);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_true(dp_esp_seq(pk[0]->data) > 5);
	free(p);
	dp_sa_destroy(out);
}

static void test_room_and_skips(void **state)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a), *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(6), *pk[6];
	uint8_t inner[64] = {1, 2, 3};
	(void)state;

	for (unsigned i = 0; i < 6; i++) {
		pk[i] = &p[i];
		pkt_set(pk[i], out, inner, sizeof(inner), 4);
	}
	pk[1]->data = pk[1]->buf + 8;			  /* only 8 bytes of headroom */
	pk[2]->data = pk[2]->buf + DP_BUF_SIZE - 64 - 19; /* 2 pad + 2 + 16 = 20 needed */
	pk[2]->len = 64;
	pk[3]->drop = DP_DROP_NO_ROUTE; /* dropped earlier: not ours to touch */
	pk[4]->sa = NULL;
	dp_esp_encrypt_burst(mgr, pk, 6);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_int_equal(pk[1]->drop, DP_DROP_TOO_BIG);
	assert_ptr_equal(pk[1]->data, pk[1]->buf + 8);
	assert_int_equal(pk[2]->drop, DP_DROP_TOO_BIG);
	assert_int_equal(pk[2]->len, 64);
	assert_int_equal(pk[3]->drop, DP_DROP_NO_ROUTE);
	assert_ptr_equal(pk[3]->data, pk[3]->buf + DP_HEADROOM);
	assert_int_equal(pk[4]->drop, DP_DROP_LINK_DOWN);
	assert_int_equal(pk[5]->drop, DP_DROP_NONE);
	/* refused packets took no sequence numbers */
	assert_int_equal(dp_esp_seq(pk[0]->data), 1);
	assert_int_equal(dp_esp_seq(pk[5]->data), 2);
	assert_int_equal(out->packets, 2);

	/* exactly enough tailroom */
	pkt_set(pk[2], out, inner, sizeof(inner), 4);
	pk[2]->data = pk[2]->buf + DP_BUF_SIZE - 64 - 20;
	memcpy(pk[2]->data, inner, 64);
	dp_esp_encrypt_burst(mgr, &pk[2], 1);
	assert_int_equal(pk[2]->drop, DP_DROP_NONE);
	assert_ptr_equal(pk[2]->data + pk[2]->len, pk[2]->buf + DP_BUF_SIZE);

	/* decrypt skips dropped packets and rejects a missing SA */
	pk[0]->sa = in;
	pk[5]->sa = in;
	pk[5]->drop = DP_DROP_NET_TX;
	pk[2]->sa = NULL;
	uint8_t before[128];
	memcpy(before, pk[5]->data, pk[5]->len);
	struct dp_pkt *dec[3] = {pk[0], pk[5], pk[2]};
	dp_esp_decrypt_burst(mgr, dec, 3);
	assert_int_equal(pk[0]->drop, DP_DROP_NONE);
	assert_memory_equal(pk[0]->data, inner, 64);
	assert_int_equal(pk[5]->drop, DP_DROP_NET_TX);
	assert_memory_equal(pk[5]->data, before, pk[5]->len);
	assert_int_equal(pk[2]->drop, DP_DROP_UNKNOWN_SPI);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
}

static void test_sa_create(void **state)
{
	(void)state;
	errno = 0;
	assert_null(dp_sa_create(mgr, 0x7fffffffu, keymat_a, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(dp_sa_create(mgr, 0, keymat_a, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(dp_sa_create(NULL, SPI_A, keymat_a, 1));
	assert_int_equal(errno, EINVAL);

	struct dp_sa *sa = dp_sa_create(mgr, 0x80000000u, keymat_a, 42);
	assert_non_null(sa);
	assert_int_equal((uintptr_t)sa % 64, 0);
	assert_int_equal(sa->spi, 0x80000000u);
	assert_int_equal(sa->link_id, 42);
	assert_memory_equal(sa->salt, keymat_a + 32, 4);
	assert_int_equal(sa->seq, 0);
	dp_sa_destroy(sa);
	dp_sa_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_lengths),
	    cmocka_unit_test(test_roundtrip_bursts),
	    cmocka_unit_test(test_seq_concurrent),
	    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_short),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_bad_trailer),
	    cmocka_unit_test(test_seq_exhausted),
	    cmocka_unit_test(test_seq_limit),
	    cmocka_unit_test(test_room_and_skips),
	    cmocka_unit_test(test_sa_create),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
