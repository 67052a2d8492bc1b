/* Unit tests for the Noise_IKpsk2_25519_AESGCM_SHA256 handshake (control/noise.c).
 *
 * Known answers: the cacophony vector for exactly this protocol (copied from
 * mcginty/snow tests/vectors/cacophony.txt, also stored in
 * tests/data/noise-vectors/), every handshake and transport message byte for
 * byte. The final handshake hash, the split keys and the ESP keymat come from
 * the independent Python implementation next to the vector
 * (tests/data/noise-vectors/noise_ikpsk2.py, `cryptography` module).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "control/link/noise.h"
#include "dataplane/sa.h"

_Static_assert(NOISE_ESP_KEYMAT_LEN == DP_SA_KEYMAT_LEN, "keymat feeds dp_sa_create");

static IMB_MGR *mgr;

/* ---- the published vector ---- */

#define V_PROLOGUE  "4a6f686e2047616c74"
#define V_PSK	    "54686973206973206d7920417573747269616e20706572737065637469766521"
#define V_INIT_S    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define V_INIT_E    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define V_INIT_RS   "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define V_RESP_S    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define V_RESP_E    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define V_PUBL_HASH "17afd463b8668b4c1fff7b6e08058c8f111505dc344cd4a7ecf296aaf542229d"

static const struct {
	const char *payload, *ciphertext;
} v_msgs[6] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79445a1baf339186d7867062b0dd"
     "31f5de322d370165d217939b2b7ed9e2bae7840458ea65c2ce1554e0e8077fe7334c4bd514c658fd04d97b86"
     "d216f58f59714a7e24144155045c8f36bed85a2cb0fd9af7"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088432fe8d675e949799d2a968211"
     "a66cc7ba2b0f4cad8eda3c2bd37eae737bbf88"},
    {"462e20412e20486179656b", "38cbf3835c78b7802df0dd0d9640ff8575debd0cb61cfb52590da1"},
    {"4361726c204d656e676572", "ffc365ff6955fc66c5d809b31ac995f812c5770bd29f0df12f0ffd"},
    {"4a65616e2d426170746973746520536179",
     "a7f2828174c4ead2491ffeb77c41c890fd1229ee36f23ccb9066a795daff1cad6b"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "3b86963d5c0e6e3b4153d77153836606393eefc4e5e6dae97796552d1265839ee3825cb80c"},
};

/* From noise_ikpsk2.py (independent implementation). */
#define PY_FINAL_HASH "48c3f1eb397c797af6b139032c6074cb41282ff033ee25d5aee4a4badd3a2c3f"
#define PY_K1	      "e1072fe21ba85fdd0869fc3d78cbf5ac171619cf3cb12bd04e7a32d6982c601e"
#define PY_K2	      "0d720f4a483e2c51eac1aef4dddbd01fddcb0401cbe6f16a93236c025199d4b4"
#define PY_KEYMAT1    "b73935d031e03bed977d65216a5d4866aa86647a6a5d7a1b641e985383a20340c259bf31"
#define PY_KEYMAT2    "c30524e1d4986e127bc6cb9f601b33f509abcb2b6ede867026b5dfc46347ebe0c787c0f5"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
	uint8_t buf[256];
	size_t n = unhex(want, buf, sizeof(buf));

	assert_int_equal(len, n);
	assert_memory_equal(got, buf, n);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* ---- fixtures ---- */

/* Noise transport messages (the spec's CipherState after Split), here only
 * to check the vector's transport messages, and so the split keys, byte for
 * byte: ipopd itself carries traffic in ESP SAs (noise_esp_keymat). AESGCM
 * with nonce = 4 zero bytes || 64-bit big-endian counter (OpenSSL EVP, an
 * implementation independent of the ipsec-mb one under test). */
struct tcipher {
	uint8_t key[32];
	uint64_t n;
	bool valid;
};

static int tcipher_init(struct tcipher *c, const uint8_t key[32])
{
	if (!c || !key)
		return -EINVAL;
	memcpy(c->key, key, 32);
	c->n = 0;
	c->valid = true;
	return 0;
}

static void tcipher_wipe(struct tcipher *c)
{
	explicit_bzero(c, sizeof(*c));
}

static int tcipher_run(struct tcipher *c, bool enc, const void *ad, size_t ad_len,
		       const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t iv[12] = {0};
	int ok, outl = 0;

	if (!c->valid)
		return -EINVAL;
	if (!enc && len < NOISE_TAG_LEN)
		return -EMSGSIZE;
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(c->n >> (56 - 8 * i));
	size_t plen = enc ? len : len - NOISE_TAG_LEN;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	assert_non_null(x);
	ok = EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, c->key, iv, enc ? 1 : 0) == 1;
	if (ok && ad_len)
		ok = EVP_CipherUpdate(x, NULL, &outl, ad, (int)ad_len) == 1;
	if (ok && plen)
		ok = EVP_CipherUpdate(x, out, &outl, in, (int)plen) == 1;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, NOISE_TAG_LEN,
					 (void *)(in + plen)) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(x, out + plen, &outl) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, NOISE_TAG_LEN, out + plen) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok) {
		if (plen)
			memset(out, 0, plen);
		return -EBADMSG;
	}
	c->n++;
	return 0;
}

static int tcipher_encrypt(struct tcipher *c, const void *ad, size_t ad_len, const void *in,
			   size_t len, uint8_t *out)
{
	return tcipher_run(c, true, ad, ad_len, in, len, out);
}

static int tcipher_decrypt(struct tcipher *c, const void *ad, size_t ad_len, const uint8_t *in,
			   size_t len, uint8_t *out)
{
	return tcipher_run(c, false, ad, ad_len, in, len, out);
}

struct pair {
	struct noise_hs ini, rsp;
	uint8_t is[32], ip[32], rsk[32], rp[32], psk[32];
	uint8_t m1[256], m2[256];
	size_t m1_len, m2_len;
};

static const char prologue[] = "ipopd test overlay";

/* Fresh random keys, both sides initialised with the same PSK. */
static void pair_init(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(noise_keypair_generate(p->is, p->ip), 0);
	assert_int_equal(noise_keypair_generate(p->rsk, p->rp), 0);
	memset(p->psk, 0x5a, sizeof(p->psk));
	assert_int_equal(noise_hs_init(&p->ini, NOISE_INITIATOR, mgr, p->is, p->rp, p->psk,
				       prologue, sizeof(prologue)),
			 0);
	assert_int_equal(noise_hs_init(&p->rsp, NOISE_RESPONDER, mgr, p->rsk, NULL, p->psk,
				       prologue, sizeof(prologue)),
			 0);
}

static void pair_msg1(struct pair *p, const char *payload)
{
	assert_int_equal(noise_write_message(&p->ini, payload, strlen(payload), p->m1,
					     sizeof(p->m1), &p->m1_len),
			 0);
	assert_int_equal(p->m1_len, NOISE_MSG1_LEN(strlen(payload)));
}

static void pair_msg2(struct pair *p, const char *payload)
{
	assert_int_equal(noise_write_message(&p->rsp, payload, strlen(payload), p->m2,
					     sizeof(p->m2), &p->m2_len),
			 0);
	assert_int_equal(p->m2_len, NOISE_MSG2_LEN(strlen(payload)));
}

static int read1(struct noise_hs *hs, const uint8_t *m, size_t len)
{
	uint8_t pl[256];
	size_t pl_len = 0;

	return noise_read_message(hs, m, len, pl, sizeof(pl), &pl_len);
}

/* ---- known answers ---- */

static void test_cacophony_vector(void **state)
{
	struct noise_hs ini, rsp;
	uint8_t pro[16], psk[32], is[32], ie[32], irs[32], rs[32], re[32], pub[32], buf[256],
	    pl[256], h1[32], hq[32], hi[32], hr[32];
	uint8_t ik1[32], ik2[32], rk1[32], rk2[32], keymat[NOISE_ESP_KEYMAT_LEN];
	struct tcipher ini_tx, ini_rx, rsp_tx, rsp_rx;
	size_t pro_len, len, pl_len, want_len;
	(void)state;

	pro_len = unhex(V_PROLOGUE, pro, sizeof(pro));
	unhex(V_PSK, psk, 32);
	unhex(V_INIT_S, is, 32);
	unhex(V_INIT_E, ie, 32);
	unhex(V_INIT_RS, irs, 32);
	unhex(V_RESP_S, rs, 32);
	unhex(V_RESP_E, re, 32);

	/* init_remote_static is the responder's public key */
	assert_int_equal(noise_pubkey_from_private(pub, rs), 0);
	assert_memory_equal(pub, irs, 32);

	assert_int_equal(noise_hs_init(&ini, NOISE_INITIATOR, mgr, is, irs, psk, pro, pro_len), 0);
	assert_int_equal(noise_hs_init(&rsp, NOISE_RESPONDER, mgr, rs, NULL, psk, pro, pro_len), 0);
	assert_int_equal(noise_hs_set_ephemeral_for_testing(&ini, ie), 0);
	assert_int_equal(noise_hs_set_ephemeral_for_testing(&rsp, re), 0);

	/* message 1 */
	len = unhex(v_msgs[0].payload, pl, sizeof(pl));
	assert_int_equal(noise_write_message(&ini, pl, len, buf, sizeof(buf), &len), 0);
	assert_hex(buf, len, v_msgs[0].ciphertext);
	memcpy(h1, ini.h, 32); /* internal: for the published-hash check below */
	assert_int_equal(noise_read_message(&rsp, buf, len, pl, sizeof(pl), &pl_len), 0);
	assert_hex(pl, pl_len, v_msgs[0].payload);
	assert_int_equal(noise_hs_remote_static(&rsp, pub), 0);
	assert_int_equal(noise_pubkey_from_private(buf, is), 0);
	assert_memory_equal(pub, buf, 32);

	/* message 2 */
	len = unhex(v_msgs[1].payload, pl, sizeof(pl));
	assert_int_equal(noise_write_message(&rsp, pl, len, buf, sizeof(buf), &len), 0);
	assert_hex(buf, len, v_msgs[1].ciphertext);
	/* cacophony's "handshake_hash" is not the spec's final h but the h three
	 * MixHash calls before the end (the same offset in its NN and NXpsk2
	 * entries): here h after msg2's e token = SHA-256(h after msg1 || re). */
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		assert_non_null(md);
		assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
		assert_int_equal(EVP_DigestUpdate(md, h1, 32), 1);
		assert_int_equal(EVP_DigestUpdate(md, buf, 32), 1);
		assert_int_equal(EVP_DigestFinal_ex(md, hq, NULL), 1);
		EVP_MD_CTX_free(md);
		assert_hex(hq, 32, V_PUBL_HASH);
	}
	assert_int_equal(noise_read_message(&ini, buf, len, pl, sizeof(pl), &pl_len), 0);
	assert_hex(pl, pl_len, v_msgs[1].payload);

	/* handshake hash (final h) and split */
	assert_int_equal(noise_hs_hash(&ini, hi), 0);
	assert_int_equal(noise_hs_hash(&rsp, hr), 0);
	assert_memory_equal(hi, hr, 32);
	assert_hex(hi, 32, PY_FINAL_HASH);
	assert_int_equal(noise_split(&ini, ik1, ik2, hi), 0);
	assert_int_equal(noise_split(&rsp, rk1, rk2, hr), 0);
	assert_hex(ik1, 32, PY_K1);
	assert_hex(ik2, 32, PY_K2);
	assert_memory_equal(ik1, rk2, 32); /* initiator sends what the responder receives */
	assert_memory_equal(ik2, rk1, 32);
	assert_hex(hr, 32, PY_FINAL_HASH);

	/* ESP keymat per direction */
	assert_int_equal(noise_esp_keymat(ik1, hi, keymat), 0);
	assert_hex(keymat, sizeof(keymat), PY_KEYMAT1);
	assert_int_equal(noise_esp_keymat(rk1, hr, keymat), 0);
	assert_hex(keymat, sizeof(keymat), PY_KEYMAT2);

	/* transport messages alternate, initiator first */
	assert_int_equal(tcipher_init(&ini_tx, ik1), 0);
	assert_int_equal(tcipher_init(&ini_rx, ik2), 0);
	assert_int_equal(tcipher_init(&rsp_tx, rk1), 0);
	assert_int_equal(tcipher_init(&rsp_rx, rk2), 0);
	for (int i = 2; i < 6; i++) {
		struct tcipher *tx = i % 2 ? &rsp_tx : &ini_tx;
		struct tcipher *rx = i % 2 ? &ini_rx : &rsp_rx;
		uint8_t ct[64], back[64];

		len = unhex(v_msgs[i].payload, pl, sizeof(pl));
		assert_int_equal(tcipher_encrypt(tx, NULL, 0, pl, len, ct), 0);
		assert_hex(ct, len + NOISE_TAG_LEN, v_msgs[i].ciphertext);
		want_len = len;
		assert_int_equal(tcipher_decrypt(rx, NULL, 0, ct, want_len + NOISE_TAG_LEN, back),
				 0);
		assert_memory_equal(back, pl, want_len);
	}
	tcipher_wipe(&ini_tx);
	tcipher_wipe(&ini_rx);
	tcipher_wipe(&rsp_tx);
	tcipher_wipe(&rsp_rx);
	assert_true(all_zero(&ini_tx, sizeof(ini_tx)));
}

static void test_x25519_rfc7748(void **state)
{
	uint8_t priv[32], pub[32], priv2[32], pub2[32];
	(void)state;

	/* RFC 7748 section 6.1, Alice */
	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv, 32);
	assert_int_equal(noise_pubkey_from_private(pub, priv), 0);
	assert_hex(pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");

	assert_int_equal(noise_keypair_generate(priv, pub), 0);
	assert_int_equal(noise_keypair_generate(priv2, pub2), 0);
	assert_memory_not_equal(priv, priv2, 32);
	assert_int_equal(noise_pubkey_from_private(pub2, priv), 0);
	assert_memory_equal(pub, pub2, 32);
	assert_int_equal(noise_keypair_generate(NULL, pub), -EINVAL);
	assert_int_equal(noise_pubkey_from_private(pub, NULL), -EINVAL);
}

/* ---- round trips ---- */

static void full_handshake(struct pair *p, uint8_t ik[2][32], uint8_t rk[2][32])
{
	uint8_t pl[256], hi[32], hr[32];
	size_t pl_len;

	pair_msg1(p, "hello responder");
	assert_int_equal(noise_read_message(&p->rsp, p->m1, p->m1_len, pl, sizeof(pl), &pl_len), 0);
	assert_int_equal(pl_len, 15);
	assert_memory_equal(pl, "hello responder", 15);
	pair_msg2(p, "");
	assert_int_equal(noise_read_message(&p->ini, p->m2, p->m2_len, NULL, 0, &pl_len), 0);
	assert_int_equal(pl_len, 0);
	assert_int_equal(noise_split(&p->ini, ik[0], ik[1], hi), 0);
	assert_int_equal(noise_split(&p->rsp, rk[0], rk[1], hr), 0);
	assert_memory_equal(hi, hr, 32);
	assert_memory_equal(ik[0], rk[1], 32);
	assert_memory_equal(ik[1], rk[0], 32);
	assert_memory_not_equal(ik[0], ik[1], 32);
}

static void test_roundtrip_transport(void **state)
{
	struct pair p;
	uint8_t ik[2][32], rk[2][32], rs[32];
	struct tcipher itx, irx, rtx, rrx;
	uint8_t msg[1500], ct[1500 + 16], back[1500];
	(void)state;

	pair_init(&p);
	full_handshake(&p, ik, rk);
	/* both sides know each other's static key, even after split */
	assert_int_equal(noise_hs_remote_static(&p.ini, rs), 0);
	assert_memory_equal(rs, p.rp, 32);
	assert_int_equal(noise_hs_remote_static(&p.rsp, rs), 0);
	assert_memory_equal(rs, p.ip, 32);

	assert_int_equal(tcipher_init(&itx, ik[0]), 0);
	assert_int_equal(tcipher_init(&irx, ik[1]), 0);
	assert_int_equal(tcipher_init(&rtx, rk[0]), 0);
	assert_int_equal(tcipher_init(&rrx, rk[1]), 0);
	for (size_t len = 0; len <= sizeof(msg); len += 97) {
		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 7 + len);
		/* initiator -> responder */
		assert_int_equal(tcipher_encrypt(&itx, "ad", 2, msg, len, ct), 0);
		assert_int_equal(tcipher_decrypt(&rrx, "ad", 2, ct, len + 16, back), 0);
		assert_memory_equal(back, msg, len);
		/* responder -> initiator */
		assert_int_equal(tcipher_encrypt(&rtx, NULL, 0, msg, len, ct), 0);
		assert_int_equal(tcipher_decrypt(&irx, NULL, 0, ct, len + 16, back), 0);
		assert_memory_equal(back, msg, len);
	}
	/* wrong direction key, tampering, wrong AD: rejected, nonce not advanced */
	assert_int_equal(tcipher_encrypt(&itx, NULL, 0, "abc", 3, ct), 0);
	assert_int_equal(tcipher_decrypt(&irx, NULL, 0, ct, 19, back), -EBADMSG);
	ct[0] ^= 1;
	memset(back, 0xee, 3);
	assert_int_equal(tcipher_decrypt(&rrx, NULL, 0, ct, 19, back), -EBADMSG);
	assert_true(all_zero(back, 3));
	ct[0] ^= 1;
	assert_int_equal(tcipher_decrypt(&rrx, "x", 1, ct, 19, back), -EBADMSG);
	assert_int_equal(tcipher_decrypt(&rrx, NULL, 0, ct, 15, back), -EMSGSIZE);
	assert_int_equal(tcipher_decrypt(&rrx, NULL, 0, ct, 19, back), 0);
	assert_memory_equal(back, "abc", 3);
	/* replayed transport message: nonce moved on */
	assert_int_equal(tcipher_decrypt(&rrx, NULL, 0, ct, 19, back), -EBADMSG);
	/* nonce exhaustion */
	itx.n = UINT64_MAX;
	assert_int_equal(tcipher_encrypt(&itx, NULL, 0, "a", 1, ct), -EOVERFLOW);
	tcipher_wipe(&itx);
	assert_int_equal(tcipher_encrypt(&itx, NULL, 0, "a", 1, ct), -EINVAL);
	tcipher_wipe(&irx);
	tcipher_wipe(&rtx);
	tcipher_wipe(&rrx);
}

static void test_zero_psk_and_late_psk(void **state)
{
	struct pair p;
	uint8_t ik[2][32], rk[2][32], psk2[32];
	(void)state;

	/* NULL PSK on both sides = all-zero PSK */
	pair_init(&p);
	assert_int_equal(noise_hs_init(&p.ini, NOISE_INITIATOR, mgr, p.is, p.rp, NULL, NULL, 0), 0);
	assert_int_equal(noise_hs_init(&p.rsp, NOISE_RESPONDER, mgr, p.rsk, NULL, NULL, NULL, 0),
			 0);
	full_handshake(&p, ik, rk);

	/* explicit zero PSK interoperates with NULL */
	pair_init(&p);
	memset(psk2, 0, sizeof(psk2));
	assert_int_equal(noise_hs_init(&p.ini, NOISE_INITIATOR, mgr, p.is, p.rp, psk2, NULL, 0), 0);
	assert_int_equal(noise_hs_init(&p.rsp, NOISE_RESPONDER, mgr, p.rsk, NULL, NULL, NULL, 0),
			 0);
	full_handshake(&p, ik, rk);

	/* responder picks the PSK after learning who the initiator is */
	pair_init(&p);
	assert_int_equal(noise_hs_set_psk(&p.rsp, NULL), 0);
	pair_msg1(&p, "who");
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);
	assert_int_equal(noise_hs_set_psk(&p.rsp, p.psk), 0);
	pair_msg2(&p, "ok");
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), 0);
	assert_int_equal(noise_hs_set_psk(&p.ini, p.psk), -EPROTO);
	assert_int_equal(noise_hs_set_psk(&p.rsp, p.psk), -EPROTO);
}

/* ---- rejections ---- */

static void test_wrong_responder_static(void **state)
{
	struct pair p, q;
	(void)state;

	pair_init(&p);
	pair_init(&q);
	/* p's initiator talks to q's responder: q cannot decrypt s */
	pair_msg1(&p, "hi");
	assert_int_equal(read1(&q.rsp, p.m1, p.m1_len), -EBADMSG);
	/* q's responder is untouched and completes with its own initiator */
	pair_msg1(&q, "hi");
	assert_int_equal(read1(&q.rsp, q.m1, q.m1_len), 0);
	pair_msg2(&q, "");
	assert_int_equal(read1(&q.ini, q.m2, q.m2_len), 0);
}

static void test_wrong_psk(void **state)
{
	struct pair p;
	struct noise_hs good;
	uint8_t other[32], m2[128];
	size_t m2_len;
	(void)state;

	pair_init(&p);
	good = p.rsp;
	memset(other, 0xa5, sizeof(other));
	assert_int_equal(noise_hs_set_psk(&p.rsp, other), 0);
	pair_msg1(&p, "hi");
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);
	assert_int_equal(read1(&good, p.m1, p.m1_len), 0);
	pair_msg2(&p, "");
	/* msg1 does not depend on the PSK; msg2 does */
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), -EBADMSG);
	/* the failed (forged) msg2 left the initiator able to take the genuine one */
	assert_int_equal(noise_write_message(&good, NULL, 0, m2, sizeof(m2), &m2_len), 0);
	assert_int_equal(read1(&p.ini, m2, m2_len), 0);
	noise_hs_wipe(&good);
	/* zero PSK on one side only also fails */
	pair_init(&p);
	assert_int_equal(noise_hs_set_psk(&p.ini, NULL), 0);
	pair_msg1(&p, "");
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);
	pair_msg2(&p, "");
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), -EBADMSG);
}

static void test_sizes(void **state)
{
	struct pair p;
	static uint8_t big[NOISE_MAX_MSG_LEN + 2], pl[NOISE_MAX_MSG_LEN];
	size_t len, pl_len;
	(void)state;

	pair_init(&p);
	pair_msg1(&p, "payload!");
	for (len = 0; len < NOISE_MSG1_MIN_LEN; len++)
		assert_int_equal(read1(&p.rsp, p.m1, len), -EMSGSIZE);
	/* truncated but above the minimum: the payload tag no longer matches */
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len - 1), -EBADMSG);
	/* extended by a byte: same */
	memcpy(big, p.m1, p.m1_len);
	big[p.m1_len] = 0;
	assert_int_equal(read1(&p.rsp, big, p.m1_len + 1), -EBADMSG);
	assert_int_equal(read1(&p.rsp, big, NOISE_MAX_MSG_LEN + 1), -E2BIG);
	/* payload does not fit the caller's buffer */
	assert_int_equal(noise_read_message(&p.rsp, p.m1, p.m1_len, pl, 7, &pl_len), -ENOBUFS);
	assert_int_equal(noise_read_message(&p.rsp, p.m1, p.m1_len, NULL, 0, &pl_len), -ENOBUFS);
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);

	/* msg2 */
	pair_msg2(&p, "resp");
	for (len = 0; len < NOISE_MSG2_MIN_LEN; len++)
		assert_int_equal(read1(&p.ini, p.m2, len), -EMSGSIZE);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len - 1), -EBADMSG);
	memcpy(big, p.m2, p.m2_len);
	big[p.m2_len] = 0;
	assert_int_equal(read1(&p.ini, big, p.m2_len + 1), -EBADMSG);
	assert_int_equal(read1(&p.ini, big, NOISE_MAX_MSG_LEN + 1), -E2BIG);
	assert_int_equal(noise_read_message(&p.ini, p.m2, p.m2_len, pl, 3, &pl_len), -ENOBUFS);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), 0);

	/* writes: output buffer and payload limits */
	pair_init(&p);
	assert_int_equal(noise_write_message(&p.ini, "x", 1, big, NOISE_MSG1_LEN(1) - 1, &len),
			 -ENOBUFS);
	assert_int_equal(noise_write_message(&p.ini, pl, NOISE_MAX_MSG_LEN - NOISE_MSG1_MIN_LEN + 1,
					     big, sizeof(big), &len),
			 -E2BIG);
	/* the largest legal messages go through */
	memset(pl, 0x42, sizeof(pl));
	assert_int_equal(noise_write_message(&p.ini, pl, NOISE_MAX_MSG_LEN - NOISE_MSG1_MIN_LEN,
					     big, sizeof(big), &len),
			 0);
	assert_int_equal(len, NOISE_MAX_MSG_LEN);
	memset(pl, 0, sizeof(pl));
	assert_int_equal(noise_read_message(&p.rsp, big, len, pl, sizeof(pl), &pl_len), 0);
	assert_int_equal(pl_len, NOISE_MAX_MSG_LEN - NOISE_MSG1_MIN_LEN);
	assert_int_equal(pl[0], 0x42);
	assert_int_equal(pl[pl_len - 1], 0x42);
	assert_int_equal(
	    noise_write_message(&p.rsp, pl, NOISE_MAX_PAYLOAD_LEN + 1, big, sizeof(big), &len),
	    -E2BIG);
	assert_int_equal(
	    noise_write_message(&p.rsp, pl, NOISE_MAX_PAYLOAD_LEN, big, sizeof(big), &len), 0);
	assert_int_equal(len, NOISE_MAX_MSG_LEN);
	assert_int_equal(noise_read_message(&p.ini, big, len, pl, sizeof(pl), &pl_len), 0);
	assert_int_equal(pl_len, NOISE_MAX_PAYLOAD_LEN);
}

/* Every bit of every region (e, encrypted s, its tag, payload, payload tag)
 * flipped once; the receiver must refuse each and stay usable. */
static void test_bit_flips(void **state)
{
	struct pair p;
	uint8_t m[256];
	(void)state;

	pair_init(&p);
	pair_msg1(&p, "some payload");
	for (size_t bit = 0; bit < p.m1_len * 8; bit++) {
		memcpy(m, p.m1, p.m1_len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(read1(&p.rsp, m, p.m1_len), -EBADMSG);
	}
	assert_int_equal(p.rsp.state, NOISE_HS_READ_MSG1);
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);

	pair_msg2(&p, "reply");
	for (size_t bit = 0; bit < p.m2_len * 8; bit++) {
		memcpy(m, p.m2, p.m2_len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(read1(&p.ini, m, p.m2_len), -EBADMSG);
	}
	assert_int_equal(p.ini.state, NOISE_HS_READ_MSG2);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), 0);
}

static void test_low_order_points(void **state)
{
	struct pair p;
	struct noise_hs hs;
	uint8_t zero[32] = {0}, one[32] = {1}, m[256];
	size_t len;
	(void)state;

	/* a configured remote static key of order 1/4: refused at the first DH */
	pair_init(&p);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, mgr, p.is, zero, NULL, NULL, 0), 0);
	assert_int_equal(noise_write_message(&hs, NULL, 0, m, sizeof(m), &len), -EINVAL);
	assert_int_equal(hs.state, NOISE_HS_WRITE_MSG1);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, mgr, p.is, one, NULL, NULL, 0), 0);
	assert_int_equal(noise_write_message(&hs, NULL, 0, m, sizeof(m), &len), -EINVAL);
	noise_hs_wipe(&hs);

	/* low-order ephemeral keys on the wire */
	pair_msg1(&p, "x");
	memcpy(m, p.m1, p.m1_len);
	memcpy(m, zero, 32);
	assert_int_equal(read1(&p.rsp, m, p.m1_len), -EBADMSG);
	memcpy(m, one, 32);
	assert_int_equal(read1(&p.rsp, m, p.m1_len), -EBADMSG);
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);
	pair_msg2(&p, "");
	memcpy(m, p.m2, p.m2_len);
	memcpy(m, zero, 32);
	assert_int_equal(read1(&p.ini, m, p.m2_len), -EBADMSG);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), 0);
}

static void test_replay_and_order(void **state)
{
	struct pair p;
	struct noise_hs fresh;
	uint8_t k1[32], k2[32], h[32], m[256];
	size_t len;
	(void)state;

	pair_init(&p);
	/* out of order before anything happened */
	assert_int_equal(read1(&p.ini, p.m1, NOISE_MSG1_MIN_LEN), -EPROTO);
	assert_int_equal(noise_write_message(&p.rsp, NULL, 0, m, sizeof(m), &len), -EPROTO);
	assert_int_equal(noise_split(&p.ini, k1, k2, h), -EPROTO);
	assert_int_equal(noise_hs_hash(&p.ini, h), -EPROTO);
	assert_int_equal(noise_hs_remote_static(&p.rsp, k1), -EPROTO);

	pair_msg1(&p, "a");
	assert_int_equal(noise_write_message(&p.ini, NULL, 0, m, sizeof(m), &len), -EPROTO);
	assert_int_equal(noise_split(&p.ini, k1, k2, h), -EPROTO);
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), 0);
	/* msg1 replayed to the same responder */
	assert_int_equal(read1(&p.rsp, p.m1, p.m1_len), -EPROTO);
	assert_int_equal(noise_hs_set_ephemeral_for_testing(&p.ini, k1), -EPROTO);
	pair_msg2(&p, "b");
	assert_int_equal(noise_write_message(&p.rsp, NULL, 0, m, sizeof(m), &len), -EPROTO);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), 0);
	/* msg2 replayed to the finished handshake, before and after split */
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), -EPROTO);
	assert_int_equal(noise_write_message(&p.ini, NULL, 0, m, sizeof(m), &len), -EPROTO);
	assert_int_equal(noise_split(&p.ini, k1, k2, NULL), 0);
	assert_int_equal(read1(&p.ini, p.m2, p.m2_len), -EPROTO);
	assert_int_equal(noise_split(&p.ini, k1, k2, NULL), -EPROTO);
	assert_int_equal(noise_hs_hash(&p.ini, h), 0);

	/* msg2 replayed to an initiator that started over: new ephemeral, refused */
	assert_int_equal(noise_hs_init(&fresh, NOISE_INITIATOR, mgr, p.is, p.rp, p.psk, prologue,
				       sizeof(prologue)),
			 0);
	assert_int_equal(noise_write_message(&fresh, NULL, 0, m, sizeof(m), &len), 0);
	assert_int_equal(read1(&fresh, p.m2, p.m2_len), -EBADMSG);

	/* IK's msg1 carries no freshness: a new responder accepts a replayed msg1
	 * (the link manager must put a timestamp in the payload, as WireGuard
	 * does), but cannot make anything of the initiator's keys from it. */
	assert_int_equal(noise_hs_init(&fresh, NOISE_RESPONDER, mgr, p.rsk, NULL, p.psk, prologue,
				       sizeof(prologue)),
			 0);
	assert_int_equal(read1(&fresh, p.m1, p.m1_len), 0);
	noise_hs_wipe(&fresh);

	/* a zeroed or wiped handshake refuses everything */
	memset(&fresh, 0, sizeof(fresh));
	assert_int_equal(read1(&fresh, p.m1, p.m1_len), -EPROTO);
	assert_int_equal(noise_write_message(&fresh, NULL, 0, m, sizeof(m), &len), -EPROTO);
	assert_int_equal(noise_hs_set_psk(&fresh, NULL), -EPROTO);
}

static void test_bad_args(void **state)
{
	struct pair p;
	struct noise_hs hs;
	uint8_t m[256];
	size_t len;
	(void)state;

	pair_init(&p);
	assert_int_equal(noise_hs_init(NULL, NOISE_INITIATOR, mgr, p.is, p.rp, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, NULL, p.is, p.rp, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, mgr, NULL, p.rp, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, mgr, p.is, NULL, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, NOISE_RESPONDER, mgr, p.rsk, p.ip, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, (enum noise_role)7, mgr, p.is, p.rp, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, mgr, p.is, p.rp, NULL, NULL, 3),
			 -EINVAL);
	assert_int_equal(hs.state, NOISE_HS_NONE);
	assert_int_equal(noise_write_message(&p.ini, NULL, 3, m, sizeof(m), &len), -EINVAL);
	assert_int_equal(noise_write_message(&p.ini, NULL, 0, NULL, sizeof(m), &len), -EINVAL);
	assert_int_equal(noise_write_message(&p.ini, NULL, 0, m, sizeof(m), NULL), -EINVAL);
	assert_int_equal(noise_read_message(&p.rsp, NULL, 100, m, sizeof(m), &len), -EINVAL);
	assert_int_equal(noise_read_message(&p.rsp, m, 100, NULL, 5, &len), -EINVAL);
	assert_int_equal(noise_read_message(&p.rsp, m, 100, m, sizeof(m), NULL), -EINVAL);
	assert_int_equal(noise_esp_keymat(NULL, m, m), -EINVAL);
}

/* Secrets are gone once they are not needed. */
static void test_wiping(void **state)
{
	struct pair p;
	uint8_t pl[64], k1[32], k2[32], h[32];
	size_t pl_len;
	(void)state;

	pair_init(&p);
	pair_msg1(&p, "x");
	assert_false(all_zero(p.ini.e_priv, 32));
	assert_int_equal(noise_read_message(&p.rsp, p.m1, p.m1_len, pl, sizeof(pl), &pl_len), 0);
	pair_msg2(&p, "y");
	/* the responder is DONE: only ck and h remain */
	assert_true(all_zero(p.rsp.e_priv, 32));
	assert_true(all_zero(p.rsp.s_priv, 32));
	assert_true(all_zero(p.rsp.k, 32));
	assert_true(all_zero(p.rsp.psk, 32));
	assert_int_equal(noise_read_message(&p.ini, p.m2, p.m2_len, pl, sizeof(pl), &pl_len), 0);
	assert_true(all_zero(p.ini.e_priv, 32));
	assert_true(all_zero(p.ini.s_priv, 32));
	assert_true(all_zero(p.ini.psk, 32));
	assert_false(all_zero(p.ini.ck, 32));
	assert_int_equal(noise_split(&p.ini, k1, k2, h), 0);
	assert_true(all_zero(p.ini.ck, 32));
	assert_false(all_zero(p.ini.rs, 32)); /* public, kept */
	noise_hs_wipe(&p.ini);
	assert_true(all_zero(&p.ini, sizeof(p.ini)));
	noise_hs_wipe(&p.rsp);
	noise_hs_wipe(NULL);
}

static int setup(void **state)
{
	(void)state;
	mgr = alloc_mb_mgr(0);
	if (!mgr)
		return -1;
	init_mb_mgr_auto(mgr, NULL);
	return imb_get_errno(mgr) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	free_mb_mgr(mgr);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cacophony_vector),
	    cmocka_unit_test(test_x25519_rfc7748),
	    cmocka_unit_test(test_roundtrip_transport),
	    cmocka_unit_test(test_zero_psk_and_late_psk),
	    cmocka_unit_test(test_wrong_responder_static),
	    cmocka_unit_test(test_wrong_psk),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_low_order_points),
	    cmocka_unit_test(test_replay_and_order),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_wiping),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
