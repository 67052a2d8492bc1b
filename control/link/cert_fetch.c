/* Certificate fetch (see cert_fetch.h): ephemeral X25519, HKDF-SHA256 and
 * AES-256-GCM from OpenSSL libcrypto. */
#include "control/link/cert_fetch.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "control/link/noise.h"

#define FETCH_SALT "ipopd cert fetch v1"
#define TAG_LEN	   16

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* k from our private key and their public key; info = e_i || e_r. */
static int derive(const uint8_t priv[32], const uint8_t peer[32], const uint8_t e_i[32],
		  const uint8_t e_r[32], uint8_t key[32])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
	EVP_PKEY_CTX *dc = a ? EVP_PKEY_CTX_new(a, NULL) : NULL, *kc = NULL;
	uint8_t dh[32], info[64], zero[32] = {0};
	size_t n = sizeof(dh);
	int ret = -EBADMSG;

	if (!a || !b || !dc || EVP_PKEY_derive_init(dc) != 1 ||
	    EVP_PKEY_derive_set_peer(dc, b) != 1 || EVP_PKEY_derive(dc, dh, &n) != 1 || n != 32 ||
	    !memcmp(dh, zero, 32))
		goto out; /* a low-order point gives an all-zero secret: refused */
	memcpy(info, e_i, 32);
	memcpy(info + 32, e_r, 32);
	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	n = 32;
	if (!kc || EVP_PKEY_derive_init(kc) != 1 ||
	    EVP_PKEY_CTX_set_hkdf_md(kc, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(kc, (const unsigned char *)FETCH_SALT,
					(int)strlen(FETCH_SALT)) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_key(kc, dh, 32) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(kc, info, sizeof(info)) != 1 ||
	    EVP_PKEY_derive(kc, key, &n) != 1 || n != 32)
		goto out;
	ret = 0;
out:
	explicit_bzero(dh, sizeof(dh));
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return ret;
}

/* AES-256-GCM with nonce 0 (each key seals one message). */
static int aead(bool enc, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t iv[12];
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	size_t plen = enc ? len : len - TAG_LEN;
	int outl = 0, ok;

	if (!x)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
	     EVP_CipherUpdate(x, NULL, &outl, aad, (int)aad_len) == 1 &&
	     EVP_CipherUpdate(x, out, &outl, in, (int)plen) == 1;
	if (ok && !enc)
		ok =
		    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(in + plen)) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(x, out + plen, &outl) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + plen) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok && !enc)
		memset(out, 0, plen);
	return ok ? 0 : -EBADMSG;
}

int cert_fetch_request(struct cert_fetch *f, uint8_t out[HS_CERTREQ_LEN])
{
	uint32_t id = 0;
	int ret = noise_keypair_generate(f->e_priv, f->e_pub);
	if (ret)
		return ret;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		return -EIO;
	f->id = id | 0x80000000u;
	memset(out, 0, HS_CERTREQ_LEN);
	hs_write_header(out, HS_CERT_REQUEST, 0, f->id);
	memcpy(out + HS_HDR_LEN, f->e_pub, 32);
	return 0;
}

int cert_fetch_reply(const uint8_t *req, size_t req_len, const struct cert_chain *chain,
		     uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t e_priv[32], e_r[32], key[32], aad[HS_HDR_LEN + 64], pl[HS_CERTREQ_LEN];
	const uint8_t *e_i = req + HS_HDR_LEN;
	size_t pll = 0;
	int ret;

	if (req_len != HS_CERTREQ_LEN)
		return -EBADMSG;
	if (cap > req_len)
		cap = req_len; /* never larger than the request */
	ret = cert_payload_encode(chain, pl, sizeof(pl), &pll);
	if (ret)
		return ret;
	if (HS_HDR_LEN + 32 + pll + TAG_LEN > cap)
		return -EMSGSIZE;
	ret = noise_keypair_generate(e_priv, e_r);
	if (!ret)
		ret = derive(e_priv, e_i, e_i, e_r, key);
	if (!ret) {
		hs_write_header(out, HS_CERT_REPLY, get_be32(req + 12), 0);
		memcpy(out + HS_HDR_LEN, e_r, 32);
		memcpy(aad, out, HS_HDR_LEN);
		memcpy(aad + HS_HDR_LEN, e_i, 32);
		memcpy(aad + HS_HDR_LEN + 32, e_r, 32);
		ret = aead(true, key, aad, sizeof(aad), pl, pll, out + HS_HDR_LEN + 32);
		*out_len = HS_HDR_LEN + 32 + pll + TAG_LEN;
	}
	explicit_bzero(e_priv, sizeof(e_priv));
	explicit_bzero(key, sizeof(key));
	return ret;
}

int cert_fetch_open(const struct cert_fetch *f, const uint8_t *reply, size_t len, uint8_t *payload,
		    size_t cap, size_t *payload_len)
{
	uint8_t key[32], aad[HS_HDR_LEN + 64];
	const uint8_t *e_r = reply + HS_HDR_LEN;
	int ret;

	if (len < HS_CERTREP_MIN_LEN || len > HS_CERTREQ_LEN || get_be32(reply + 8) != f->id)
		return -EBADMSG;
	size_t ctlen = len - HS_HDR_LEN - 32;
	if (ctlen - TAG_LEN > cap)
		return -EBADMSG;
	ret = derive(f->e_priv, e_r, f->e_pub, e_r, key);
	if (!ret) {
		memcpy(aad, reply, HS_HDR_LEN);
		memcpy(aad + HS_HDR_LEN, f->e_pub, 32);
		memcpy(aad + HS_HDR_LEN + 32, e_r, 32);
		ret = aead(false, key, aad, sizeof(aad), reply + HS_HDR_LEN + 32, ctlen, payload);
	}
	explicit_bzero(key, sizeof(key));
	if (ret)
		return -EBADMSG;
	*payload_len = ctlen - TAG_LEN;
	return 0;
}

void cert_fetch_wipe(struct cert_fetch *f)
{
	explicit_bzero(f, sizeof(*f));
}
