/* libFuzzer target for the certificate payload a handshake carries
 * (control/link/cert.c, docs/protocol.md "Certificates"): the chain codec,
 * the X.509 checks of every certificate it holds (OpenSSL's DER parser,
 * path building, extensions: SAN, RFC 3779 blocks) against a CA made at
 * start-up, and the decryption of a certificate reply (cert_fetch.c). A
 * payload that decodes re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "control/link/cert.h"
#include "control/link/cert_fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct cert_trust *trust;
static struct cert_fetch fetch;

/* A self-signed Ed25519 CA in a temporary file, loaded as the trust store. */
static void init(void)
{
	char path[] = "/tmp/fuzz_cert.XXXXXX";
	int fd = mkstemp(path);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();
	if (fd < 0 || !k || !x)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz CA", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509_EXTENSION *e =
	    X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (X509_sign(x, k, NULL) <= 0)
		abort();
	FILE *f = fdopen(fd, "w");
	if (!f || PEM_write_X509(f, x) != 1)
		abort();
	fclose(f);
	if (cert_trust_load(&trust, path, NULL, NULL, 0))
		abort();
	unlink(path);
	X509_free(x);
	EVP_PKEY_free(k);
	uint8_t req[HS_CERTREQ_LEN];
	if (cert_fetch_request(&fetch, req))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t out[HS_CERTREQ_LEN + 4 * CERT_DER_MAX];
	struct cert_chain c;
	struct cert_info ci;
	size_t len = 0;
	uint8_t pub[32] = {0};

	if (!trust)
		init();
	if (cert_payload_decode(d, n, &c) == 0) {
		if (cert_payload_encode(&c, out, sizeof(out), &len) || len != n ||
		    memcmp(out, d, n))
			abort();
		enum cert_verdict v = cert_verify(trust, &c, NULL, time(NULL), &ci);
		if (v >= CERT_VERDICT_COUNT)
			abort();
		if (v == CERT_OK) {
			if (cert_verify(trust, &c, ci.pub, time(NULL), NULL) != CERT_OK)
				abort();
			(void)cert_info_covers(&ci, ci.ip4, 32);
		}
		(void)cert_verify(trust, &c, pub, time(NULL), NULL);
	}
	/* the same bytes as a certificate reply to our request */
	if (n >= HS_HDR_LEN && n <= HS_CERTREQ_LEN) {
		uint8_t msg[HS_CERTREQ_LEN];
		memcpy(msg, d, n);
		hs_write_header(msg, HS_CERT_REPLY, fetch.id, 0);
		if (cert_fetch_open(&fetch, msg, n, out, sizeof(out), &len) == 0 && len > n)
			abort();
	}
	return 0;
}
