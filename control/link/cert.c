/* Trust by certificate (see cert.h): the payload codec, the trust store
 * (CA + CRL) and the checks of a peer's chain, on OpenSSL's X509_STORE so
 * path building, signatures, validity, CRLs and RFC 3779 are OpenSSL's.
 */
#include "control/link/cert.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct cert_trust {
	X509_STORE *store;
	char ca_file[PATH_MAX], crl_file[PATH_MAX];
};

const char *cert_verdict_name(enum cert_verdict v)
{
	static const char *const names[CERT_VERDICT_COUNT] = {
	    [CERT_OK] = "ok",
	    [CERT_OTHER_CA] = "other CA",
	    [CERT_EXPIRED] = "expired",
	    [CERT_NOT_YET_VALID] = "not yet valid",
	    [CERT_REVOKED] = "revoked",
	    [CERT_OTHER_KEY] = "other key",
	    [CERT_ADDR_NOT_COVERED] = "address not covered",
	    [CERT_INVALID] = "invalid",
	    [CERT_MALFORMED] = "malformed",
	};
	return (unsigned)v < CERT_VERDICT_COUNT ? names[v] : "?";
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- payload ------------------------------------------------------------ */

size_t cert_payload_len(const struct cert_chain *c)
{
	size_t n = 1;
	for (unsigned i = 0; i < c->n; i++)
		n += 2 + c->len[i];
	return n;
}

int cert_payload_encode(const struct cert_chain *c, uint8_t *out, size_t cap, size_t *len)
{
	if (!c->n || c->n > CERT_CHAIN_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < c->n; i++)
		if (!c->len[i] || c->len[i] > CERT_DER_MAX)
			return -EINVAL;
	size_t need = cert_payload_len(c), off = 0;
	if (need > cap)
		return -EMSGSIZE;
	out[off++] = (uint8_t)c->n;
	for (unsigned i = 0; i < c->n; i++) {
		out[off++] = (uint8_t)(c->len[i] >> 8);
		out[off++] = (uint8_t)c->len[i];
		memcpy(out + off, c->der[i], c->len[i]);
		off += c->len[i];
	}
	*len = off;
	return 0;
}

int cert_payload_decode(const uint8_t *in, size_t len, struct cert_chain *c)
{
	size_t off = 1;
	memset(c, 0, sizeof(*c));
	if (len < 1 || in[0] < 1 || in[0] > CERT_CHAIN_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < in[0]; i++) {
		if (len - off < 2)
			return -EBADMSG;
		size_t l = (size_t)in[off] << 8 | in[off + 1];
		off += 2;
		if (!l || l > CERT_DER_MAX || len - off < l)
			return -EBADMSG;
		c->der[i] = in + off;
		c->len[i] = l;
		off += l;
	}
	if (off != len)
		return -EBADMSG;
	c->n = in[0];
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

/* Exactly one DER certificate, nothing after it. */
static X509 *der_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	if (!len || len > CERT_DER_MAX)
		return NULL;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int x25519_pub(X509 *x, uint8_t pub[32])
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	size_t n = 32;
	if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_X25519 ||
	    EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != 32)
		return -1;
	return 0;
}

static void subnets_fill(X509 *x, struct cert_info *ci)
{
	IPAddrBlocks *blocks = X509_get_ext_d2i(x, NID_sbgp_ipAddrBlock, NULL, NULL);
	for (int i = 0; blocks && i < sk_IPAddressFamily_num(blocks); i++) {
		IPAddressFamily *f = sk_IPAddressFamily_value(blocks, i);
		if (X509v3_addr_get_afi(f) != IANA_AFI_IPV4 ||
		    f->ipAddressChoice->type != IPAddressChoice_addressesOrRanges)
			continue; /* IPv6, or "inherit": nothing of its own */
		IPAddressOrRanges *aors = f->ipAddressChoice->u.addressesOrRanges;
		for (int j = 0; j < sk_IPAddressOrRange_num(aors); j++) {
			unsigned char lo[4], hi[4];
			if (ci->nsubnets == CERT_SUBNETS_MAX ||
			    X509v3_addr_get_range(sk_IPAddressOrRange_value(aors, j), IANA_AFI_IPV4,
						  lo, hi, 4) != 4)
				continue;
			ci->subnet[ci->nsubnets].lo =
			    (uint32_t)lo[0] << 24 | (uint32_t)lo[1] << 16 | lo[2] << 8 | lo[3];
			ci->subnet[ci->nsubnets].hi =
			    (uint32_t)hi[0] << 24 | (uint32_t)hi[1] << 16 | hi[2] << 8 | hi[3];
			ci->nsubnets++;
		}
	}
	sk_IPAddressFamily_pop_free(blocks, IPAddressFamily_free);
}

/* Overlay address, name, subject, serial, expiry, subnets. -1 when the
 * certificate has no overlay IPv4 address. */
static int info_fill(X509 *x, struct cert_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	if (x25519_pub(x, ci->pub))
		return -1;
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4 && !ci->ip4)
			memcpy(&ci->ip4, ASN1_STRING_get0_data(g->d.iPAddress), 4);
		else if (g->type == GEN_DNS && !ci->name[0])
			snprintf(ci->name, sizeof(ci->name), "%.*s",
				 ASN1_STRING_length(g->d.dNSName),
				 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (!ci->name[0])
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, ci->name,
					  sizeof(ci->name));
	BIO *b = BIO_new(BIO_s_mem());
	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(b, ci->subject, sizeof(ci->subject) - 1);
		ci->subject[n > 0 ? n : 0] = 0;
	}
	BIO_free(b);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		snprintf(ci->serial, sizeof(ci->serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		ci->not_after = (int64_t)timegm(&tm);
	subnets_fill(x, ci);
	return ci->ip4 ? 0 : -1;
}

bool cert_info_covers(const struct cert_info *ci, uint32_t addr_be, unsigned len)
{
	if (len > 32)
		return false;
	if (len == 32 && addr_be == ci->ip4)
		return true;
	uint32_t a = ntohl(addr_be);
	uint32_t mask = len ? ~0u << (32 - len) : 0;
	uint32_t lo = a & mask, hi = lo | ~mask;
	for (unsigned i = 0; i < ci->nsubnets; i++)
		if (lo >= ci->subnet[i].lo && hi <= ci->subnet[i].hi)
			return true;
	return false;
}

/* ---- trust store -------------------------------------------------------- */

static int crl_load(X509_STORE *st, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		fail(err, errlen, "crl_file %s: %s", path, strerror(e));
		return -e;
	}
	unsigned n = 0;
	X509_CRL *crl;
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
		if (X509_STORE_add_crl(st, crl) != 1) {
			X509_CRL_free(crl);
			fclose(f);
			fail(err, errlen, "crl_file %s: cannot use CRL %u", path, n + 1);
			return -EINVAL;
		}
		X509_CRL_free(crl);
		n++;
	}
	ERR_clear_error();
	fclose(f);
	if (!n) {
		fail(err, errlen, "crl_file %s: no PEM CRL in it", path);
		return -EINVAL;
	}
	return 0;
}

/* A store with the CA certificates of t and the CRLs of crl_file. */
static int store_build(const struct cert_trust *t, X509_STORE **out, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	FILE *f = NULL;
	int ret = -ENOMEM;
	unsigned n = 0;
	X509 *x;

	if (!st)
		goto fail;
	f = fopen(t->ca_file, "r");
	if (!f) {
		ret = -errno;
		fail(err, errlen, "ca_file %s: %s", t->ca_file, strerror(-ret));
		goto fail;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		bool ca = X509_check_ca(x) != 0;
		if (ca)
			X509_STORE_add_cert(st, x);
		X509_free(x);
		if (!ca) {
			ret = -EINVAL;
			fail(err, errlen, "ca_file %s: certificate %u is not a CA", t->ca_file,
			     n + 1);
			goto fail;
		}
		n++;
	}
	ERR_clear_error();
	if (!n) {
		ret = -EINVAL;
		fail(err, errlen, "ca_file %s: no PEM certificate in it", t->ca_file);
		goto fail;
	}
	if (t->crl_file[0]) {
		ret = crl_load(st, t->crl_file, err, errlen);
		if (ret)
			goto fail;
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	fclose(f);
	*out = st;
	return 0;
fail:
	if (f)
		fclose(f);
	X509_STORE_free(st);
	return ret;
}

int cert_trust_load(struct cert_trust **out, const char *ca_file, const char *crl_file, char *err,
		    size_t errlen)
{
	struct cert_trust *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->ca_file, sizeof(t->ca_file), "%s", ca_file);
	snprintf(t->crl_file, sizeof(t->crl_file), "%s", crl_file ? crl_file : "");
	int ret = store_build(t, &t->store, err, errlen);
	if (ret) {
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

int cert_trust_reload_crl(struct cert_trust *t, char *err, size_t errlen)
{
	X509_STORE *st;
	int ret = store_build(t, &st, err, errlen);
	if (ret)
		return ret;
	X509_STORE_free(t->store);
	t->store = st;
	return 0;
}

void cert_trust_free(struct cert_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	free(t);
}

/* ---- verification ------------------------------------------------------- */

static enum cert_verdict verdict_of(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return CERT_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return CERT_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return CERT_OTHER_CA;
	default:
		return CERT_INVALID;
	}
}

enum cert_verdict cert_verify(const struct cert_trust *t, const struct cert_chain *chain,
			      const uint8_t pub[32], time_t now, struct cert_info *info)
{
	enum cert_verdict v = CERT_MALFORMED;
	STACK_OF(X509) *inter = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	struct cert_info ci;

	if (!t || !chain->n || chain->n > CERT_CHAIN_MAX)
		return CERT_MALFORMED;
	leaf = der_parse(chain->der[0], chain->len[0]);
	inter = sk_X509_new_null();
	if (!leaf || !inter)
		goto out;
	for (unsigned i = 1; i < chain->n; i++) {
		X509 *x = der_parse(chain->der[i], chain->len[i]);
		if (!x || !sk_X509_push(inter, x)) {
			X509_free(x);
			goto out;
		}
	}
	ctx = X509_STORE_CTX_new();
	v = CERT_INVALID;
	if (!ctx || X509_STORE_CTX_init(ctx, t->store, leaf, inter) != 1)
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		v = verdict_of(X509_STORE_CTX_get_error(ctx));
		goto out;
	}
	if (X509_check_ca(leaf) != 0) /* a CA is no node */
		goto out;
	uint8_t k[32];
	if (x25519_pub(leaf, k) || (pub && memcmp(k, pub, 32) != 0)) {
		v = CERT_OTHER_KEY;
		goto out;
	}
	if (info_fill(leaf, &ci))
		goto out; /* no overlay address */
	if (info)
		*info = ci;
	v = CERT_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(inter, X509_free);
	X509_free(leaf);
	return v;
}

/* ---- our own chain ------------------------------------------------------ */

int cert_own_load(struct cert_own *o, const char *cert_file, const uint8_t pub[32], char *err,
		  size_t errlen)
{
	uint8_t *der[CERT_CHAIN_MAX] = {0};
	int len[CERT_CHAIN_MAX] = {0}, ret = -EINVAL;
	unsigned n = 0;
	size_t total = 0;
	X509 *x, *leaf = NULL;

	memset(o, 0, sizeof(*o));
	FILE *f = fopen(cert_file, "r");
	if (!f) {
		ret = -errno;
		fail(err, errlen, "cert_file %s: %s", cert_file, strerror(-ret));
		return ret;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (n == CERT_CHAIN_MAX) {
			X509_free(x);
			fail(err, errlen, "cert_file %s: more than %d certificates", cert_file,
			     CERT_CHAIN_MAX);
			goto out;
		}
		len[n] = i2d_X509(x, &der[n]);
		if (len[n] <= 0 || len[n] > CERT_DER_MAX) {
			X509_free(x);
			fail(err, errlen, "cert_file %s: certificate %u larger than %d bytes",
			     cert_file, n + 1, CERT_DER_MAX);
			goto out;
		}
		total += (size_t)len[n];
		if (!n)
			leaf = x;
		else
			X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (!n) {
		fail(err, errlen, "cert_file %s: no PEM certificate in it", cert_file);
		goto out;
	}
	if (info_fill(leaf, &o->info)) {
		fail(err, errlen,
		     "cert_file %s: the first certificate needs an X25519 key and an overlay "
		     "IPv4 address (subjectAltName IP)",
		     cert_file);
		goto out;
	}
	if (memcmp(o->info.pub, pub, 32) != 0) {
		fail(err, errlen,
		     "cert_file %s: certifies another key than this node's (node.key); sign "
		     "the key `ipopd --show-pubkey` prints",
		     cert_file);
		goto out;
	}
	o->buf = malloc(total);
	if (!o->buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0, off = 0; i < n; off += (unsigned)len[i], i++) {
		memcpy(o->buf + off, der[i], (size_t)len[i]);
		o->chain.der[i] = o->buf + off;
		o->chain.len[i] = (size_t)len[i];
	}
	o->chain.n = n;
	ret = 0;
out:
	for (unsigned i = 0; i < CERT_CHAIN_MAX; i++)
		OPENSSL_free(der[i]);
	X509_free(leaf);
	fclose(f);
	return ret;
}

void cert_own_free(struct cert_own *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}
