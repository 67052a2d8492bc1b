/* Noise_IKpsk2_25519_AESGCM_SHA256: the spec's SymmetricState operations
 * (MixHash, MixKey, MixKeyAndHash, EncryptAndHash, DecryptAndHash, Split)
 * over libcrypto (X25519, SHA-256, HMAC) and ipsec-mb (AES-256-GCM), and the
 * two messages of IK with the psk2 modifier. See noise.h for the contract.
 *
 * Each public step works on a stack copy of the handshake and commits it only
 * on success; the copy, the DH outputs and the expanded AES keys are wiped on
 * every path.
 */
#include "control/link/noise.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* The name is exactly HASHLEN bytes, so InitializeSymmetric sets h = name
 * without hashing it. */
_Static_assert(sizeof(NOISE_PROTOCOL_NAME) - 1 == NOISE_HASH_LEN, "protocol name length");
_Static_assert(NOISE_ESP_KEYMAT_LEN <= 2 * NOISE_HASH_LEN, "keymat fits two HKDF blocks");

#define AEAD_NONCE_LEN 12
/* intel-ipsec-mb.h aligns gcm_key_data only when LINUX is defined (its own
 * build flag), and its AVX code uses aligned stores: align by hand. */
#define IMB_KEY_ALIGN __attribute__((aligned(64)))
#define HMAC_MSG_MAX  64 /* longest HMAC input here: T1 || info || counter */

/* ---- primitives ---- */

static int hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
		       const uint8_t *b, size_t b_len, uint8_t out[NOISE_HASH_LEN])
{
	uint8_t msg[HMAC_MSG_MAX];
	unsigned int out_len = 0;
	int ret = 0;

	if (a_len + b_len > sizeof(msg))
		return -EINVAL;
	if (a_len)
		memcpy(msg, a, a_len);
	if (b_len)
		memcpy(msg + a_len, b, b_len);
	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, a_len + b_len, out, &out_len) ||
	    out_len != NOISE_HASH_LEN) {
		ERR_clear_error();
		ret = -EIO;
	}
	explicit_bzero(msg, sizeof(msg));
	return ret;
}

/* The spec's HKDF(chaining_key, input_key_material, 2 or 3): RFC 5869 with
 * salt = ck and empty info. o1 may alias ck. */
static int hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
		uint8_t o1[NOISE_HASH_LEN], uint8_t o2[NOISE_HASH_LEN], uint8_t *o3)
{
	static const uint8_t one = 1, two = 2, three = 3;
	uint8_t tk[NOISE_HASH_LEN];
	int ret;

	ret = hmac_sha256(ck, NOISE_HASH_LEN, ikm, ikm_len, NULL, 0, tk);
	if (ret)
		goto out;
	ret = hmac_sha256(tk, sizeof(tk), &one, 1, NULL, 0, o1);
	if (ret)
		goto out;
	ret = hmac_sha256(tk, sizeof(tk), o1, NOISE_HASH_LEN, &two, 1, o2);
	if (ret || !o3)
		goto out;
	ret = hmac_sha256(tk, sizeof(tk), o2, NOISE_HASH_LEN, &three, 1, o3);
out:
	explicit_bzero(tk, sizeof(tk));
	return ret;
}

static int sha256_2(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
		    uint8_t out[NOISE_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, a, a_len) &&
	     (!b_len || EVP_DigestUpdate(ctx, b, b_len)) && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

/* An X25519 EVP_PKEY from a private key whose public half is already known:
 * EVP_PKEY_new_raw_private_key would recompute it, which costs more than the
 * DH itself (~100 us against ~65 us here). */
static EVP_PKEY *pkey_from_keypair(const uint8_t priv[NOISE_KEY_LEN],
				   const uint8_t pub[NOISE_KEY_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, NOISE_KEY_LEN),
	    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, NOISE_KEY_LEN),
	    OSSL_PARAM_END,
	};

	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* X25519(priv, remote) with priv's public half my_pub. -EBADMSG when the
 * result is all zero (remote is a low-order point: OpenSSL refuses to derive
 * it, and we check again), -EIO on library failure. */
static int x25519(uint8_t out[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN],
		  const uint8_t my_pub[NOISE_KEY_LEN], const uint8_t remote[NOISE_KEY_LEN])
{
	EVP_PKEY *sk = NULL, *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = NOISE_KEY_LEN;
	uint8_t acc = 0;
	int ret = -EIO;

	sk = pkey_from_keypair(priv, my_pub);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, remote, NOISE_KEY_LEN);
	if (!sk || !pk)
		goto out;
	ctx = EVP_PKEY_CTX_new(sk, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer_ex(ctx, pk, 0) <= 0)
		goto out;
	if (EVP_PKEY_derive(ctx, out, &len) <= 0 || len != NOISE_KEY_LEN) {
		ret = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < NOISE_KEY_LEN; i++)
		acc |= out[i];
	ret = acc ? 0 : -EBADMSG;
out:
	if (ret) {
		explicit_bzero(out, NOISE_KEY_LEN);
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(sk); /* OpenSSL cleanses the private key on free */
	return ret;
}

static void nonce_encode(uint8_t iv[AEAD_NONCE_LEN], uint64_t n)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* AES-256-GCM with an expanded key: out = ciphertext || tag. */
static void seal(IMB_MGR *mgr, const struct gcm_key_data *kd, uint64_t n, const void *ad,
		 size_t ad_len, const void *in, size_t len, uint8_t *out)
{
	struct gcm_context_data ctx IMB_KEY_ALIGN;
	uint8_t iv[AEAD_NONCE_LEN], dummy = 0;

	nonce_encode(iv, n);
	IMB_AES256_GCM_ENC(mgr, kd, &ctx, len ? out : &dummy, len ? in : &dummy, len, iv,
			   ad_len ? ad : &dummy, ad_len, out + len, NOISE_TAG_LEN);
	explicit_bzero(&ctx, sizeof(ctx));
}

/* in = ciphertext || tag (len counts both). out receives len - TAG bytes, or
 * zeros when the tag does not match. */
static int open_(IMB_MGR *mgr, const struct gcm_key_data *kd, uint64_t n, const void *ad,
		 size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	struct gcm_context_data ctx IMB_KEY_ALIGN;
	uint8_t iv[AEAD_NONCE_LEN], tag[NOISE_TAG_LEN], dummy = 0;
	size_t clen = len - NOISE_TAG_LEN;
	int ret = 0;

	nonce_encode(iv, n);
	IMB_AES256_GCM_DEC(mgr, kd, &ctx, clen ? out : &dummy, clen ? in : &dummy, clen, iv,
			   ad_len ? ad : &dummy, ad_len, tag, sizeof(tag));
	if (CRYPTO_memcmp(tag, in + clen, NOISE_TAG_LEN) != 0) {
		if (clen)
			explicit_bzero(out, clen);
		ret = -EBADMSG;
	}
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(tag, sizeof(tag));
	return ret;
}

/* ---- SymmetricState ---- */

static int mix_hash(struct noise_hs *hs, const void *data, size_t len)
{
	return sha256_2(hs->h, NOISE_HASH_LEN, data, len, hs->h);
}

static int mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	int ret = hkdf(hs->ck, ikm, len, hs->ck, hs->k, NULL);

	hs->n = 0;
	hs->has_k = ret == 0;
	return ret;
}

static int mix_key_and_hash(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t th[NOISE_HASH_LEN];
	int ret;

	ret = hkdf(hs->ck, ikm, len, hs->ck, th, hs->k);
	if (!ret)
		ret = mix_hash(hs, th, sizeof(th));
	hs->n = 0;
	hs->has_k = ret == 0;
	explicit_bzero(th, sizeof(th));
	return ret;
}

/* out receives len + TAG bytes (every EncryptAndHash in IK runs with a key). */
static int encrypt_and_hash(struct noise_hs *hs, const void *in, size_t len, uint8_t *out)
{
	struct gcm_key_data kd IMB_KEY_ALIGN;

	if (!hs->has_k)
		return -EPROTO;
	IMB_AES256_GCM_PRE(hs->mgr, hs->k, &kd);
	seal(hs->mgr, &kd, hs->n, hs->h, NOISE_HASH_LEN, in, len, out);
	explicit_bzero(&kd, sizeof(kd));
	hs->n++;
	return mix_hash(hs, out, len + NOISE_TAG_LEN);
}

/* in holds len bytes including the tag; out receives len - TAG bytes. */
static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out)
{
	struct gcm_key_data kd IMB_KEY_ALIGN;
	int ret;

	if (!hs->has_k)
		return -EPROTO;
	IMB_AES256_GCM_PRE(hs->mgr, hs->k, &kd);
	ret = open_(hs->mgr, &kd, hs->n, hs->h, NOISE_HASH_LEN, in, len, out);
	explicit_bzero(&kd, sizeof(kd));
	if (ret)
		return ret;
	hs->n++;
	return mix_hash(hs, in, len);
}

/* The "e" token with a psk modifier: MixHash(e) then MixKey(e). */
static int mix_ephemeral(struct noise_hs *hs, const uint8_t e[NOISE_KEY_LEN])
{
	int ret = mix_hash(hs, e, NOISE_KEY_LEN);

	return ret ? ret : mix_key(hs, e, NOISE_KEY_LEN);
}

static int mix_dh(struct noise_hs *hs, const uint8_t priv[NOISE_KEY_LEN],
		  const uint8_t my_pub[NOISE_KEY_LEN], const uint8_t remote[NOISE_KEY_LEN])
{
	uint8_t dh[NOISE_KEY_LEN];
	int ret = x25519(dh, priv, my_pub, remote);

	if (!ret)
		ret = mix_key(hs, dh, sizeof(dh));
	explicit_bzero(dh, sizeof(dh));
	return ret;
}

static int make_ephemeral(struct noise_hs *hs)
{
	if (hs->fixed_e)
		return 0;
	return noise_keypair_generate(hs->e_priv, hs->e_pub);
}

/* Only ck, h and the remote static key are needed past the last message. */
static void finish(struct noise_hs *hs)
{
	explicit_bzero(hs->k, sizeof(hs->k));
	explicit_bzero(hs->s_priv, sizeof(hs->s_priv));
	explicit_bzero(hs->e_priv, sizeof(hs->e_priv));
	explicit_bzero(hs->psk, sizeof(hs->psk));
	hs->has_k = false;
	hs->n = 0;
	hs->state = NOISE_HS_DONE;
}

/* ---- the two messages ---- */

/* -> e, es, s, ss */
static int write_msg1(struct noise_hs *hs, const void *payload, size_t plen, uint8_t *out)
{
	int ret;

	ret = make_ephemeral(hs);
	if (ret)
		return ret;
	memcpy(out, hs->e_pub, NOISE_KEY_LEN);
	ret = mix_ephemeral(hs, hs->e_pub);
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->e_priv, hs->e_pub, hs->rs);
	if (ret)
		return ret == -EBADMSG ? -EINVAL : ret; /* configured key is low-order */
	ret = encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_LEN, out + NOISE_KEY_LEN);
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->s_priv, hs->s_pub, hs->rs);
	if (ret)
		return ret == -EBADMSG ? -EINVAL : ret;
	ret = encrypt_and_hash(hs, payload, plen, out + NOISE_MSG1_MIN_LEN - NOISE_TAG_LEN);
	if (ret)
		return ret;
	hs->state = NOISE_HS_READ_MSG2;
	return 0;
}

static int read_msg1(struct noise_hs *hs, const uint8_t *msg, size_t plen, uint8_t *payload)
{
	const uint8_t *p = msg;
	int ret;

	memcpy(hs->re, p, NOISE_KEY_LEN);
	p += NOISE_KEY_LEN;
	ret = mix_ephemeral(hs, hs->re);
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->s_priv, hs->s_pub, hs->re); /* es */
	if (ret)
		return ret;
	ret = decrypt_and_hash(hs, p, NOISE_KEY_LEN + NOISE_TAG_LEN, hs->rs);
	if (ret)
		return ret;
	p += NOISE_KEY_LEN + NOISE_TAG_LEN;
	ret = mix_dh(hs, hs->s_priv, hs->s_pub, hs->rs); /* ss */
	if (ret)
		return ret;
	ret = decrypt_and_hash(hs, p, plen + NOISE_TAG_LEN, payload);
	if (ret)
		return ret;
	hs->state = NOISE_HS_WRITE_MSG2;
	return 0;
}

/* <- e, ee, se, psk */
static int write_msg2(struct noise_hs *hs, const void *payload, size_t plen, uint8_t *out)
{
	int ret;

	ret = make_ephemeral(hs);
	if (ret)
		return ret;
	memcpy(out, hs->e_pub, NOISE_KEY_LEN);
	ret = mix_ephemeral(hs, hs->e_pub);
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->e_priv, hs->e_pub, hs->re); /* ee */
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->e_priv, hs->e_pub, hs->rs); /* se */
	if (ret)
		return ret;
	ret = mix_key_and_hash(hs, hs->psk, NOISE_KEY_LEN);
	if (ret)
		return ret;
	ret = encrypt_and_hash(hs, payload, plen, out + NOISE_KEY_LEN);
	if (ret)
		return ret;
	finish(hs);
	return 0;
}

static int read_msg2(struct noise_hs *hs, const uint8_t *msg, size_t plen, uint8_t *payload)
{
	int ret;

	memcpy(hs->re, msg, NOISE_KEY_LEN);
	ret = mix_ephemeral(hs, hs->re);
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->e_priv, hs->e_pub, hs->re); /* ee */
	if (ret)
		return ret;
	ret = mix_dh(hs, hs->s_priv, hs->s_pub, hs->re); /* se */
	if (ret)
		return ret;
	ret = mix_key_and_hash(hs, hs->psk, NOISE_KEY_LEN);
	if (ret)
		return ret;
	ret = decrypt_and_hash(hs, msg + NOISE_KEY_LEN, plen + NOISE_TAG_LEN, payload);
	if (ret)
		return ret;
	finish(hs);
	return 0;
}

/* ---- public API ---- */

int noise_keypair_generate(uint8_t priv[NOISE_KEY_LEN], uint8_t pub[NOISE_KEY_LEN])
{
	int ret;

	if (!priv || !pub)
		return -EINVAL;
	if (RAND_priv_bytes(priv, NOISE_KEY_LEN) != 1) {
		ERR_clear_error();
		explicit_bzero(priv, NOISE_KEY_LEN);
		return -EIO;
	}
	ret = noise_pubkey_from_private(pub, priv);
	if (ret)
		explicit_bzero(priv, NOISE_KEY_LEN);
	return ret;
}

int noise_pubkey_from_private(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN])
{
	EVP_PKEY *sk;
	size_t len = NOISE_KEY_LEN;
	int ok;

	if (!pub || !priv)
		return -EINVAL;
	sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, NOISE_KEY_LEN);
	ok = sk && EVP_PKEY_get_raw_public_key(sk, pub, &len) == 1 && len == NOISE_KEY_LEN;
	EVP_PKEY_free(sk);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int noise_hs_init(struct noise_hs *hs, enum noise_role role, IMB_MGR *mgr,
		  const uint8_t local_priv[NOISE_KEY_LEN], const uint8_t remote_pub[NOISE_KEY_LEN],
		  const uint8_t psk[NOISE_KEY_LEN], const void *prologue, size_t prologue_len)
{
	int ret;

	if (!hs)
		return -EINVAL;
	noise_hs_wipe(hs);
	if (!mgr || !local_priv || (prologue_len && !prologue))
		return -EINVAL;
	if (role == NOISE_INITIATOR ? !remote_pub : role != NOISE_RESPONDER || remote_pub)
		return -EINVAL;

	hs->role = role;
	hs->mgr = mgr;
	memcpy(hs->s_priv, local_priv, NOISE_KEY_LEN);
	ret = noise_pubkey_from_private(hs->s_pub, hs->s_priv);
	if (ret)
		goto fail;
	if (psk)
		memcpy(hs->psk, psk, NOISE_KEY_LEN);
	memcpy(hs->h, NOISE_PROTOCOL_NAME, NOISE_HASH_LEN);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	ret = mix_hash(hs, prologue, prologue_len);
	if (ret)
		goto fail;
	if (role == NOISE_INITIATOR) {
		memcpy(hs->rs, remote_pub, NOISE_KEY_LEN);
		ret = mix_hash(hs, hs->rs, NOISE_KEY_LEN);
	} else {
		ret = mix_hash(hs, hs->s_pub, NOISE_KEY_LEN);
	}
	if (ret)
		goto fail;
	hs->state = role == NOISE_INITIATOR ? NOISE_HS_WRITE_MSG1 : NOISE_HS_READ_MSG1;
	return 0;
fail:
	noise_hs_wipe(hs);
	return ret;
}

int noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[NOISE_KEY_LEN])
{
	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_WRITE_MSG1 && hs->state != NOISE_HS_READ_MSG1 &&
	    hs->state != NOISE_HS_READ_MSG2 && hs->state != NOISE_HS_WRITE_MSG2)
		return -EPROTO;
	if (psk)
		memcpy(hs->psk, psk, NOISE_KEY_LEN);
	else
		explicit_bzero(hs->psk, NOISE_KEY_LEN);
	return 0;
}

int noise_hs_set_ephemeral_for_testing(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN])
{
	int ret;

	if (!hs || !e_priv)
		return -EINVAL;
	if (hs->state != NOISE_HS_WRITE_MSG1 && hs->state != NOISE_HS_READ_MSG1 &&
	    hs->state != NOISE_HS_WRITE_MSG2)
		return -EPROTO;
	memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
	ret = noise_pubkey_from_private(hs->e_pub, hs->e_priv);
	if (ret) {
		explicit_bzero(hs->e_priv, NOISE_KEY_LEN);
		return ret;
	}
	hs->fixed_e = true;
	return 0;
}

int noise_write_message(struct noise_hs *hs, const void *payload, size_t payload_len, uint8_t *out,
			size_t out_cap, size_t *out_len)
{
	struct noise_hs t;
	size_t overhead, need;
	int ret;

	if (!hs || !out || !out_len || (payload_len && !payload))
		return -EINVAL;
	if (hs->state == NOISE_HS_WRITE_MSG1)
		overhead = NOISE_MSG1_MIN_LEN;
	else if (hs->state == NOISE_HS_WRITE_MSG2)
		overhead = NOISE_MSG2_MIN_LEN;
	else
		return -EPROTO;
	if (payload_len > NOISE_MAX_MSG_LEN - overhead)
		return -E2BIG;
	need = overhead + payload_len;
	if (out_cap < need)
		return -ENOBUFS;

	t = *hs;
	if (hs->state == NOISE_HS_WRITE_MSG1)
		ret = write_msg1(&t, payload, payload_len, out);
	else
		ret = write_msg2(&t, payload, payload_len, out);
	if (ret) {
		explicit_bzero(out, need);
	} else {
		*hs = t;
		*out_len = need;
	}
	explicit_bzero(&t, sizeof(t));
	return ret;
}

int noise_read_message(struct noise_hs *hs, const uint8_t *msg, size_t msg_len, void *payload,
		       size_t payload_cap, size_t *payload_len)
{
	struct noise_hs t;
	size_t overhead, plen;
	int ret;

	if (!hs || !msg || !payload_len || (payload_cap && !payload))
		return -EINVAL;
	if (hs->state == NOISE_HS_READ_MSG1)
		overhead = NOISE_MSG1_MIN_LEN;
	else if (hs->state == NOISE_HS_READ_MSG2)
		overhead = NOISE_MSG2_MIN_LEN;
	else
		return -EPROTO;
	if (msg_len > NOISE_MAX_MSG_LEN)
		return -E2BIG;
	if (msg_len < overhead)
		return -EMSGSIZE;
	plen = msg_len - overhead;
	if (plen > payload_cap)
		return -ENOBUFS;

	t = *hs;
	if (hs->state == NOISE_HS_READ_MSG1)
		ret = read_msg1(&t, msg, plen, payload);
	else
		ret = read_msg2(&t, msg, plen, payload);
	if (!ret) {
		*hs = t;
		*payload_len = plen;
	}
	explicit_bzero(&t, sizeof(t));
	return ret;
}

int noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_KEY_LEN])
{
	if (!hs || !out)
		return -EINVAL;
	switch (hs->state) {
	case NOISE_HS_WRITE_MSG1:
	case NOISE_HS_READ_MSG2:
	case NOISE_HS_WRITE_MSG2:
	case NOISE_HS_DONE:
	case NOISE_HS_SPLIT:
		memcpy(out, hs->rs, NOISE_KEY_LEN);
		return 0;
	default:
		return -EPROTO;
	}
}

int noise_hs_hash(const struct noise_hs *hs, uint8_t out[NOISE_HASH_LEN])
{
	if (!hs || !out)
		return -EINVAL;
	if (hs->state != NOISE_HS_DONE && hs->state != NOISE_HS_SPLIT)
		return -EPROTO;
	memcpy(out, hs->h, NOISE_HASH_LEN);
	return 0;
}

int noise_split(struct noise_hs *hs, uint8_t send_key[NOISE_KEY_LEN],
		uint8_t recv_key[NOISE_KEY_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	uint8_t k1[NOISE_KEY_LEN], k2[NOISE_KEY_LEN], rs[NOISE_KEY_LEN], h[NOISE_HASH_LEN];
	enum noise_role role;
	int ret;

	if (!hs || !send_key || !recv_key)
		return -EINVAL;
	if (hs->state != NOISE_HS_DONE)
		return -EPROTO;
	ret = hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	if (ret)
		goto out;
	memcpy(send_key, hs->role == NOISE_INITIATOR ? k1 : k2, NOISE_KEY_LEN);
	memcpy(recv_key, hs->role == NOISE_INITIATOR ? k2 : k1, NOISE_KEY_LEN);
	if (hash)
		memcpy(hash, hs->h, NOISE_HASH_LEN);

	/* Keep only the public results. */
	role = hs->role;
	memcpy(rs, hs->rs, sizeof(rs));
	memcpy(h, hs->h, sizeof(h));
	noise_hs_wipe(hs);
	hs->role = role;
	memcpy(hs->rs, rs, sizeof(rs));
	memcpy(hs->h, h, sizeof(h));
	hs->state = NOISE_HS_SPLIT;
out:
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	return ret;
}

void noise_hs_wipe(struct noise_hs *hs)
{
	if (hs)
		explicit_bzero(hs, sizeof(*hs));
}

int noise_esp_keymat(const uint8_t split_key[NOISE_KEY_LEN], const uint8_t hash[NOISE_HASH_LEN],
		     uint8_t keymat[NOISE_ESP_KEYMAT_LEN])
{
	static const uint8_t info[] = NOISE_ESP_KEYMAT_INFO;
	const size_t info_len = sizeof(info) - 1;
	uint8_t prk[NOISE_HASH_LEN], t1[NOISE_HASH_LEN], t2[NOISE_HASH_LEN], buf[HMAC_MSG_MAX];
	int ret;

	if (!split_key || !hash || !keymat)
		return -EINVAL;
	/* RFC 5869 Extract, then Expand over two blocks. */
	ret = hmac_sha256(hash, NOISE_HASH_LEN, split_key, NOISE_KEY_LEN, NULL, 0, prk);
	if (ret)
		goto out;
	memcpy(buf, info, info_len);
	buf[info_len] = 1;
	ret = hmac_sha256(prk, sizeof(prk), buf, info_len + 1, NULL, 0, t1);
	if (ret)
		goto out;
	memcpy(buf, t1, sizeof(t1));
	memcpy(buf + sizeof(t1), info, info_len);
	buf[sizeof(t1) + info_len] = 2;
	ret = hmac_sha256(prk, sizeof(prk), buf, sizeof(t1) + info_len + 1, NULL, 0, t2);
	if (ret)
		goto out;
	memcpy(keymat, t1, sizeof(t1));
	memcpy(keymat + sizeof(t1), t2, NOISE_ESP_KEYMAT_LEN - sizeof(t1));
out:
	explicit_bzero(prk, sizeof(prk));
	explicit_bzero(t1, sizeof(t1));
	explicit_bzero(t2, sizeof(t2));
	explicit_bzero(buf, sizeof(buf));
	return ret;
}
