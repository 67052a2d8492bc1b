/* Security association objects and the crypto manager (dataplane/sa.[ch]):
 * argument checks, the expanded key against a published AES-256-GCM vector
 * (so the schedule and GHASH tables sa.c precomputes are the right ones), the
 * salt split of the RFC 4106 key material, and the initial state of every
 * mutable field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/sa.h"

static IMB_MGR *mgr;

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* McGrew & Viega GCM test case 16 (AES-256, 96-bit IV, AAD). */
static const char *K16 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char *IV16 = "cafebabefacedbaddecaf888";
static const char *P16 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
			 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char *A16 = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char *C16 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
			 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
static const char *T16 = "76fc6ece0f4e1768cddf8853bb2d551b";

static void test_key_schedule_kat(void **state)
{
	(void)state;
	uint8_t keymat[DP_SA_KEYMAT_LEN], iv[12], pt[60], aad[20], ct[60], tag[16], out[60], t[16];
	unhex(K16, keymat);
	unhex(IV16, iv);
	memcpy(keymat + 32, iv, 4); /* RFC 4106: the salt is the nonce's first 4 bytes */
	unhex(P16, pt);
	unhex(A16, aad);
	unhex(C16, ct);
	unhex(T16, tag);

	struct dp_sa *sa = dp_sa_create(mgr, 0x80000001u, keymat, 3);
	assert_non_null(sa);
	assert_memory_equal(sa->salt, iv, 4);
	struct gcm_context_data ctx;
	uint8_t nonce[12];
	memcpy(nonce, sa->salt, 4);
	memcpy(nonce + 4, iv + 4, 8);
	IMB_AES256_GCM_ENC(mgr, &sa->key, &ctx, out, pt, sizeof(pt), nonce, aad, sizeof(aad), t,
			   sizeof(t));
	assert_memory_equal(out, ct, sizeof(ct));
	assert_memory_equal(t, tag, sizeof(t));
	IMB_AES256_GCM_DEC(mgr, &sa->key, &ctx, out, ct, sizeof(ct), nonce, aad, sizeof(aad), t,
			   sizeof(t));
	assert_memory_equal(out, pt, sizeof(pt));
	assert_memory_equal(t, tag, sizeof(t));
	dp_sa_destroy(sa);

	/* a different key gives a different tag: the schedule is the SA's own */
	keymat[0] ^= 1;
	sa = dp_sa_create(mgr, 0x80000001u, keymat, 3);
	IMB_AES256_GCM_ENC(mgr, &sa->key, &ctx, out, pt, sizeof(pt), nonce, aad, sizeof(aad), t,
			   sizeof(t));
	assert_memory_not_equal(t, tag, sizeof(t));
	dp_sa_destroy(sa);
}

static void test_arguments_and_state(void **state)
{
	(void)state;
	uint8_t keymat[DP_SA_KEYMAT_LEN] = {1, 2, 3};
	errno = 0;
	assert_null(dp_sa_create(mgr, 0x7fffffffu, keymat, 1)); /* SPI without the top bit */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(dp_sa_create(NULL, 0x80000000u, keymat, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(dp_sa_create(mgr, 0x80000000u, NULL, 1));
	assert_int_equal(errno, EINVAL);

	struct dp_sa *sa = dp_sa_create(mgr, 0xffffffffu, keymat, 77);
	assert_non_null(sa);
	assert_int_equal((uintptr_t)sa % 64, 0);
	assert_int_equal(sa->spi, 0xffffffffu);
	assert_int_equal(sa->link_id, 77);
	assert_int_equal(sa->seq, 0);
	assert_int_equal(sa->seq_limit, DP_SA_SEQ_LIMIT);
	assert_int_equal(sa->packets + sa->bytes + sa->auth_fail + sa->replays, 0);
	/* a fresh window accepts the first sequence numbers, once */
	assert_true(dp_replay_check(&sa->replay, 1));
	assert_int_equal(dp_replay_update(&sa->replay, 1), 0);
	assert_false(dp_replay_check(&sa->replay, 1));
	dp_sa_destroy(sa);
	dp_sa_destroy(NULL);
}

static void test_managers(void **state)
{
	(void)state;
	/* one per worker thread: several coexist */
	IMB_MGR *a = dp_crypto_mgr_create(), *b = dp_crypto_mgr_create();
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	dp_crypto_mgr_destroy(a);
	dp_crypto_mgr_destroy(b);
	dp_crypto_mgr_destroy(NULL);
}

static int setup(void **state)
{
	(void)state;
	mgr = dp_crypto_mgr_create();
	return mgr ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dp_crypto_mgr_destroy(mgr);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_schedule_kat),
	    cmocka_unit_test(test_arguments_and_state),
	    cmocka_unit_test(test_managers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
