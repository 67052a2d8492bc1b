/* Memoised X25519 for the Noise fuzz targets (fuzz_noise, fuzz_handshake).
 *
 * Their keys are fixed, so most of the ~15 scalar multiplications each input
 * costs (every handshake of the round trip, and every mutated message whose
 * ephemeral key bytes were left alone) repeat one of a few dozen (private,
 * remote) pairs. The targets link with
 *   -Wl,--wrap=EVP_PKEY_derive,--wrap=EVP_PKEY_new_raw_private_key
 * so control/link/noise.c calls these instead of libcrypto's; a miss calls
 * the real function and remembers its result (failures included), a hit
 * returns the same bytes libcrypto would. Nothing in noise.c changes and the
 * fuzzed code paths are the same: only the time per input drops.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdint.h>
#include <string.h>

#define SLOTS 1024 /* direct-mapped; collisions just recompute */

int __real_EVP_PKEY_derive(EVP_PKEY_CTX *ctx, unsigned char *key, size_t *keylen);
int __wrap_EVP_PKEY_derive(EVP_PKEY_CTX *ctx, unsigned char *key, size_t *keylen);
EVP_PKEY *__real_EVP_PKEY_new_raw_private_key(int type, ENGINE *e, const unsigned char *priv,
					      size_t len);
EVP_PKEY *__wrap_EVP_PKEY_new_raw_private_key(int type, ENGINE *e, const unsigned char *priv,
					      size_t len);

struct dh_slot {
	uint8_t used, ok;
	uint8_t priv[32], remote[32], out[32];
};

struct pub_slot {
	uint8_t used;
	uint8_t priv[32], pub[32];
};

static struct dh_slot dh[SLOTS];
static struct pub_slot pubs[64];

static unsigned slot_of(const uint8_t *a, const uint8_t *b, unsigned n)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 32; i++)
		h = (h ^ a[i]) * 16777619u;
	if (b)
		for (int i = 0; i < 32; i++)
			h = (h ^ b[i]) * 16777619u;
	return h % n;
}

int __wrap_EVP_PKEY_derive(EVP_PKEY_CTX *ctx, unsigned char *key, size_t *keylen)
{
	EVP_PKEY *sk = EVP_PKEY_CTX_get0_pkey(ctx), *pk = EVP_PKEY_CTX_get0_peerkey(ctx);
	uint8_t priv[32], remote[32];
	size_t l1 = 32, l2 = 32;

	if (!key || !keylen || *keylen < 32 || !sk || !pk || !EVP_PKEY_is_a(sk, "X25519") ||
	    EVP_PKEY_get_raw_private_key(sk, priv, &l1) != 1 ||
	    EVP_PKEY_get_raw_public_key(pk, remote, &l2) != 1 || l1 != 32 || l2 != 32)
		return __real_EVP_PKEY_derive(ctx, key, keylen);
	struct dh_slot *s = &dh[slot_of(priv, remote, SLOTS)];
	if (!s->used || memcmp(s->priv, priv, 32) || memcmp(s->remote, remote, 32)) {
		size_t len = 32;
		s->ok = __real_EVP_PKEY_derive(ctx, s->out, &len) > 0 && len == 32;
		memcpy(s->priv, priv, 32);
		memcpy(s->remote, remote, 32);
		s->used = 1;
	}
	if (!s->ok)
		return 0;
	memcpy(key, s->out, 32);
	*keylen = 32;
	return 1;
}

/* noise_pubkey_from_private: a keypair from the remembered public half costs
 * no scalar multiplication. */
EVP_PKEY *__wrap_EVP_PKEY_new_raw_private_key(int type, ENGINE *e, const unsigned char *priv,
					      size_t len)
{
	if (type != EVP_PKEY_X25519 || e || len != 32)
		return __real_EVP_PKEY_new_raw_private_key(type, e, priv, len);
	struct pub_slot *s = &pubs[slot_of(priv, NULL, 64)];
	if (!s->used || memcmp(s->priv, priv, 32)) {
		EVP_PKEY *k = __real_EVP_PKEY_new_raw_private_key(type, e, priv, len);
		size_t pl = 32;
		if (!k || EVP_PKEY_get_raw_public_key(k, s->pub, &pl) != 1 || pl != 32) {
			s->used = 0;
			return k;
		}
		memcpy(s->priv, priv, 32);
		s->used = 1;
		return k;
	}
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, 32),
	    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, s->pub, 32),
	    OSSL_PARAM_END,
	};
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* libcrypto's own allocations bypass ASan's allocator: OpenSSL 3 builds and
 * frees a dozen objects per X25519 or HMAC, and ASan's malloc (stack depot,
 * quarantine) was half of the Noise targets' time. Our code's allocations,
 * and everything they touch, stay under ASan. */
void *__libc_malloc(size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static void *crypto_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return __libc_malloc(n);
}

static void *crypto_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return __libc_realloc(p, n);
}

static void crypto_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	__libc_free(p);
}

__attribute__((constructor)) static void crypto_alloc_init(void)
{
	CRYPTO_set_mem_functions(crypto_malloc, crypto_realloc, crypto_free);
}
