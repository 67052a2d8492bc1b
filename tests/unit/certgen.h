/* Certificates made by the tests with OpenSSL (shared by test_cert.c and
 * test_lm_cert.c): Ed25519 CAs, node certificates over an X25519 key with
 * an overlay address (subjectAltName IP) and RFC 3779 subnets, CRLs, PEM
 * files. Every failure is a test failure. */
#pragma once
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct certgen_opts {
	const char *cn;
	bool ca;
	long from_s, to_s;   /* validity relative to now (defaults: -3600, +86400) */
	const char *ip;	     /* subjectAltName IP, NULL: none */
	const char *ipblock; /* sbgp-ipAddrBlock value ("IPv4:10.9.0.0/24"), NULL: none */
	long serial;
};

static EVP_PKEY *certgen_ed25519(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	return k;
}

static EVP_PKEY *certgen_x25519_pub(const uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	assert_non_null(k);
	return k;
}

static void certgen_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* subject_key: the certified key; issuer NULL: self-signed with issuer_key. */
static X509 *certgen_make(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
			  const struct certgen_opts *o)
{
	X509 *x = X509_new();
	char buf[128];
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), o->serial ? o->serial : 1);
	X509_gmtime_adj(X509_getm_notBefore(x), o->from_s ? o->from_s : -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), o->to_s ? o->to_s : 86400);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)o->cn, -1, -1, 0);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	assert_int_equal(X509_set_pubkey(x, subject_key), 1);
	certgen_ext(x, issuer, NID_basic_constraints,
		    o->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (o->ca)
		certgen_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	certgen_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (o->ip) {
		snprintf(buf, sizeof(buf), "IP:%s", o->ip);
		certgen_ext(x, issuer, NID_subject_alt_name, buf);
	}
	if (o->ipblock) {
		snprintf(buf, sizeof(buf), "critical,%s", o->ipblock);
		certgen_ext(x, issuer, NID_sbgp_ipAddrBlock, buf);
	}
	assert_true(X509_sign(x, issuer_key, NULL) > 0);
	return x;
}

static X509_CRL *certgen_crl(X509 *ca, EVP_PKEY *ca_key, const long *serials, unsigned n)
{
	X509_CRL *crl = X509_CRL_new();
	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, -60);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_adj(t, time(NULL), 7, 0);
	X509_CRL_set1_nextUpdate(crl, t);
	for (unsigned i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, serials[i]);
		X509_REVOKED_set_serialNumber(r, s);
		ASN1_TIME_adj(t, time(NULL), 0, -30);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, ca_key, NULL) > 0);
	return crl;
}

static void certgen_write(const char *path, X509 *const *xs, unsigned n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, xs[i]), 1);
	fclose(f);
}

static void certgen_write_crls(const char *path, X509_CRL *const *crls, unsigned n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509_CRL(f, crls[i]), 1);
	fclose(f);
}

/* DER into buf (cap bytes), returns its length. */
static size_t certgen_der(X509 *x, uint8_t *buf, size_t cap)
{
	int n = i2d_X509(x, NULL);
	assert_true(n > 0 && (size_t)n <= cap);
	unsigned char *p = buf;
	assert_int_equal(i2d_X509(x, &p), n);
	return (size_t)n;
}
