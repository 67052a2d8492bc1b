/* Known-answer tests for ESP/AES-256-GCM (dataplane/esp.c): GCM test cases
 * through the burst API, and ESP packets generated independently. */
#include "esp_fixture.h"

/* ---- AES-256-GCM known answers: McGrew & Viega, "The Galois/Counter Mode of
 * Operation", test cases 13-18 (256-bit key). Checked with python
 * cryptography's AESGCM before embedding. */
struct gcm_kat {
	int id;
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

#define K1 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define P64                                                                                        \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define P60                                                                                        \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define A20 "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define C15                                                                                        \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"                         \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

static const struct gcm_kat kats[] = {
    {13, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, K1, "cafebabefacedbaddecaf888", P64, "", C15, "b094dac5d93471bdec1a502270e3cc6c"},
    {16, K1, "cafebabefacedbaddecaf888", P60, A20,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {17, K1, "cafebabefacedbad", P60, A20,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {18, K1,
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
     "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
     P60, A20,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* One GCM job through the burst API, as esp.c drives it. */
static void gcm_job(const struct gcm_key_data *key, IMB_CIPHER_DIRECTION dir, const uint8_t *iv,
		    size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *in,
		    uint8_t *out, size_t len, uint8_t *tag)
{
	IMB_JOB *jobs[1];

	assert_int_equal(IMB_GET_NEXT_BURST(mgr, 1, jobs), 1);
	IMB_JOB *j = jobs[0];
	j->cipher_mode = IMB_CIPHER_GCM;
	j->hash_alg = IMB_AUTH_AES_GMAC;
	j->cipher_direction = dir;
	j->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	j->enc_keys = j->dec_keys = key;
	j->key_len_in_bytes = IMB_KEY_256_BYTES;
	j->src = in;
	j->dst = out;
	j->cipher_start_src_offset_in_bytes = 0;
	j->msg_len_to_cipher_in_bytes = len;
	j->hash_start_src_offset_in_bytes = 0;
	j->msg_len_to_hash_in_bytes = len;
	j->iv = iv;
	j->iv_len_in_bytes = iv_len;
	j->u.GCM.aad = aad;
	j->u.GCM.aad_len_in_bytes = aad_len;
	j->auth_tag_output = tag;
	j->auth_tag_output_len_in_bytes = 16;
	unsigned done = IMB_SUBMIT_BURST(mgr, 1, jobs);
	if (done == 0)
		done = IMB_FLUSH_BURST(mgr, 1, jobs);
	assert_int_equal(done, 1);
	assert_int_equal(jobs[0]->status, IMB_STATUS_COMPLETED);
}

static void test_gcm_kat(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(kats) / sizeof(kats[0]); k++) {
		const struct gcm_kat *v = &kats[k];
		uint8_t key[32], iv[64], pt[64], aad[32], ct[64], tag[16], out[64], got[16];
		struct gcm_key_data kd __attribute__((aligned(64)));
		size_t iv_len = unhex(v->iv, iv), pt_len = unhex(v->pt, pt);
		size_t aad_len = unhex(v->aad, aad);

		unhex(v->key, key);
		assert_int_equal(unhex(v->ct, ct), pt_len);
		unhex(v->tag, tag);
		IMB_AES256_GCM_PRE(mgr, key, &kd);

		print_message("GCM test case %d\n", v->id);
		gcm_job(&kd, IMB_DIR_ENCRYPT, iv, iv_len, aad, aad_len, pt, out, pt_len, got);
		assert_memory_equal(got, tag, 16);
		if (pt_len)
			assert_memory_equal(out, ct, pt_len);
		gcm_job(&kd, IMB_DIR_DECRYPT, iv, iv_len, aad, aad_len, ct, out, pt_len, got);
		assert_memory_equal(got, tag, 16);
		if (pt_len)
			assert_memory_equal(out, pt, pt_len);
	}
}

/* ---- ESP vectors, generated independently with /usr/bin/python3:
 *
 *   import struct
 *   from cryptography.hazmat.primitives.ciphers.aead import AESGCM
 *   key = bytes(range(0x40, 0x60)); salt = bytes.fromhex("cafebabe"); spi = 0x80001234
 *   def esp(seq, inner, nh):
 *       pad = (4 - (len(inner) + 2) % 4) % 4
 *       pt = inner + bytes(range(1, pad + 1)) + bytes([pad, nh])
 *       hdr = struct.pack(">IIQ", spi, seq, seq)
 *       return hdr + AESGCM(key).encrypt(salt + hdr[8:], pt, hdr[:8])
 *   esp(1, esp_vec1_inner, 4); esp(0x12345678, bytes(range(42)), 143)
 *   esp(0xffffffff, b"\xaa\xbb\xcc", 41)
 */
static const uint8_t esp_vec1_inner[29] = {
    0x45, 0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0xf7, 0x7c, 0xc0, 0xa8, 0x00,
    0x01, 0xc0, 0xa8, 0x00, 0x02, 0x08, 0x00, 0xf7, 0xfe, 0x00, 0x00, 0x00, 0x01, 0x00,
};
static const uint8_t esp_vec1[64] = {
    0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x7b, 0xa4, 0x1e, 0xe5, 0xb7, 0xa5, 0x4c, 0x44, 0x1e, 0xbc, 0x78, 0x0a, 0x1f, 0x73, 0x03, 0x03,
    0x1e, 0x58, 0x48, 0x0f, 0x35, 0xa6, 0x45, 0x72, 0x5e, 0xc4, 0xa2, 0xc1, 0x75, 0x78, 0x06, 0x24,
    0x55, 0x3c, 0x04, 0xd9, 0x09, 0xd9, 0x46, 0x51, 0x2e, 0x74, 0xf9, 0xeb, 0x01, 0x3a, 0x6d, 0x5b,
};
static const uint8_t esp_vec2[76] = {
    0x80, 0x00, 0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78,
    0xcf, 0xcb, 0xcc, 0xf4, 0x51, 0x21, 0xb1, 0x4f, 0xe3, 0x97, 0x61, 0xfd, 0xec, 0x47, 0x08, 0x4d,
    0x60, 0x4b, 0xfd, 0xf6, 0xec, 0x43, 0x57, 0xd3, 0xb0, 0x03, 0xdd, 0xa6, 0x7a, 0xf7, 0xe9, 0xe2,
    0x28, 0x4f, 0x6e, 0xf0, 0xe8, 0x64, 0xd8, 0x38, 0xa9, 0x9c, 0xcb, 0xf8, 0x4b, 0x30, 0x45, 0x33,
    0x31, 0xe2, 0xeb, 0x46, 0xcc, 0x73, 0x5d, 0xff, 0x67, 0xae, 0xf8, 0xb8,
};
static const uint8_t esp_vec3[40] = {
    0x80, 0x00, 0x12, 0x34, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    0xff, 0xff, 0xd0, 0xde, 0xa3, 0x96, 0x43, 0x29, 0xd5, 0xa7, 0x96, 0xff, 0xe4, 0xad,
    0x6f, 0x74, 0x59, 0x69, 0x98, 0xe3, 0x48, 0x0b, 0xe5, 0xc6, 0xc7, 0x70,
};

static void check_vector(uint64_t seq_before, const uint8_t *inner, unsigned inner_len, uint8_t nh,
			 const uint8_t *expect, unsigned expect_len)
{
	struct dp_sa *out = sa_new(SPI_A, keymat_a), *in = sa_new(SPI_A, keymat_a);
	struct dp_pkt *p = pkts_alloc(1);

	out->seq = seq_before;
	pkt_set(p, out, inner, inner_len, nh);
	dp_esp_encrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	assert_int_equal(p->len, expect_len);
	assert_memory_equal(p->data, expect, expect_len);
	assert_ptr_equal(p->data, p->buf + DP_HEADROOM - 16);
	assert_int_equal(out->packets, 1);
	assert_int_equal(out->bytes, inner_len);

	pkt_set(p, in, expect, expect_len, 0);
	dp_esp_decrypt_burst(mgr, &p, 1);
	assert_int_equal(p->drop, DP_DROP_NONE);
	assert_int_equal(p->next_hdr, nh);
	assert_int_equal(p->len, inner_len);
	if (inner_len)
		assert_memory_equal(p->data, inner, inner_len);
	assert_int_equal(in->packets, 1);
	assert_int_equal(in->bytes, inner_len);
	free(p);
	dp_sa_destroy(out);
	dp_sa_destroy(in);
}

static void test_esp_vectors(void **state)
{
	uint8_t inner2[42];
	(void)state;
	for (unsigned i = 0; i < sizeof(inner2); i++)
		inner2[i] = (uint8_t)i;
	check_vector(0, esp_vec1_inner, sizeof(esp_vec1_inner), DP_ESP_NH_IPV4, esp_vec1,
		     sizeof(esp_vec1));
	check_vector(0x12345677, inner2, sizeof(inner2), DP_ESP_NH_ETHERNET, esp_vec2,
		     sizeof(esp_vec2));
	check_vector(0xfffffffe, (const uint8_t *)"\xaa\xbb\xcc", 3, DP_ESP_NH_IPV6, esp_vec3,
		     sizeof(esp_vec3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gcm_kat),
	    cmocka_unit_test(test_esp_vectors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
