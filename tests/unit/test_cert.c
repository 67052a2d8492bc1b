/* Unit tests for the certificate checks (control/link/cert.c) with
 * certificates the tests make with OpenSSL (certgen.h): one test per
 * refusal (other CA, expired, not yet valid, revoked and CRL reload, other
 * key, address not covered), a chain through an intermediate CA, RFC 3779
 * scoping, the payload codec against malformed input, our own chain.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "certgen.h"
#include "control/link/cert.h"
#include "control/link/cert_fetch.h"

static char dir[] = "/tmp/test_cert.XXXXXX";
static char ca_path[64], ca2_path[64], crl_path[64], own_path[64];
static EVP_PKEY *ca_key, *ca2_key, *inter_key;
static X509 *ca, *ca2, *inter;

struct node {
	uint8_t pub[32];
	EVP_PKEY *pk;
	X509 *cert;
	uint8_t der[CERT_DER_MAX];
	size_t len;
};

static void node_make(struct node *n, X509 *issuer, EVP_PKEY *ik, struct certgen_opts o)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t l = 32;
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, n->pub, &l), 1);
	EVP_PKEY_free(k);
	n->pk = certgen_x25519_pub(n->pub);
	if (!o.cn)
		o.cn = "node";
	n->cert = certgen_make(n->pk, issuer, ik, &o);
	n->len = certgen_der(n->cert, n->der, sizeof(n->der));
}

static void node_free(struct node *n)
{
	X509_free(n->cert);
	EVP_PKEY_free(n->pk);
}

static enum cert_verdict check1(const struct cert_trust *t, const struct node *n,
				struct cert_info *ci)
{
	struct cert_chain c = {.der = {n->der}, .len = {n->len}, .n = 1};
	return cert_verify(t, &c, n->pub, time(NULL), ci);
}

static struct cert_trust *trust(const char *crl)
{
	struct cert_trust *t = NULL;
	char err[256] = "";
	int ret = cert_trust_load(&t, ca_path, crl, err, sizeof(err));
	if (ret)
		fail_msg("cert_trust_load: %s", err);
	return t;
}

static void test_accepted_and_info(void **state)
{
	struct node n;
	struct cert_info ci;
	(void)state;
	node_make(&n, ca, ca_key,
		  (struct certgen_opts){.cn = "alice",
					.ip = "10.8.0.1",
					.ipblock = "IPv4:10.9.0.0/24,IPv4:172.16.5.0/28",
					.serial = 77});
	struct cert_trust *t = trust(NULL);
	assert_int_equal(check1(t, &n, &ci), CERT_OK);
	assert_memory_equal(ci.pub, n.pub, 32);
	assert_int_equal(ci.ip4, inet_addr("10.8.0.1"));
	assert_string_equal(ci.name, "alice");
	assert_string_equal(ci.subject, "CN=alice");
	assert_string_equal(ci.serial, "4D");
	assert_true(ci.not_after > time(NULL) + 86000 && ci.not_after <= time(NULL) + 86400);
	assert_int_equal(ci.nsubnets, 2);
	/* covered: the address, prefixes inside its subnets */
	assert_true(cert_info_covers(&ci, inet_addr("10.8.0.1"), 32));
	assert_true(cert_info_covers(&ci, inet_addr("10.9.0.0"), 24));
	assert_true(cert_info_covers(&ci, inet_addr("10.9.0.128"), 25));
	assert_true(cert_info_covers(&ci, inet_addr("10.9.0.77"), 32));
	assert_true(cert_info_covers(&ci, inet_addr("172.16.5.8"), 29));
	node_free(&n);
	cert_trust_free(t);
}

static void test_refused_address_not_covered(void **state)
{
	struct node n;
	struct cert_info ci;
	(void)state;
	node_make(&n, ca, ca_key,
		  (struct certgen_opts){.ip = "10.8.0.1", .ipblock = "IPv4:10.9.0.0/24"});
	struct cert_trust *t = trust(NULL);
	assert_int_equal(check1(t, &n, &ci), CERT_OK);
	assert_false(cert_info_covers(&ci, inet_addr("10.8.0.2"), 32)); /* another node's */
	assert_false(cert_info_covers(&ci, inet_addr("10.8.0.0"), 24)); /* more than itself */
	assert_false(cert_info_covers(&ci, inet_addr("10.9.0.0"), 23)); /* more than the subnet */
	assert_false(cert_info_covers(&ci, inet_addr("10.9.1.0"), 24)); /* next to it */
	assert_false(cert_info_covers(&ci, inet_addr("0.0.0.0"), 0));	/* default route */
	assert_false(cert_info_covers(&ci, inet_addr("10.9.0.0"), 33)); /* nonsense */
	assert_string_equal(cert_verdict_name(CERT_ADDR_NOT_COVERED), "address not covered");
	node_free(&n);
	cert_trust_free(t);
}

static void test_refused_other_ca(void **state)
{
	struct node n;
	(void)state;
	node_make(&n, ca2, ca2_key, (struct certgen_opts){.ip = "10.8.0.1"});
	struct cert_trust *t = trust(NULL);
	assert_int_equal(check1(t, &n, NULL), CERT_OTHER_CA);
	/* self-signed node certificates are no better */
	EVP_PKEY *self = certgen_ed25519();
	X509 *x =
	    certgen_make(self, NULL, self, &(struct certgen_opts){.cn = "self", .ip = "10.8.0.1"});
	uint8_t der[CERT_DER_MAX];
	struct cert_chain c = {.der = {der}, .len = {certgen_der(x, der, sizeof(der))}, .n = 1};
	assert_int_equal(cert_verify(t, &c, n.pub, time(NULL), NULL), CERT_OTHER_CA);
	/* the other CA trusted too: accepted */
	struct cert_trust *t2 = NULL;
	char path[80];
	snprintf(path, sizeof(path), "%s/both.pem", dir);
	certgen_write(path, (X509 *[]){ca, ca2}, 2);
	assert_int_equal(cert_trust_load(&t2, path, NULL, NULL, 0), 0);
	assert_int_equal(check1(t2, &n, NULL), CERT_OK);
	X509_free(x);
	EVP_PKEY_free(self);
	node_free(&n);
	cert_trust_free(t);
	cert_trust_free(t2);
}

static void test_refused_expired_and_not_yet_valid(void **state)
{
	struct node old, young;
	(void)state;
	node_make(&old, ca, ca_key,
		  (struct certgen_opts){.ip = "10.8.0.1", .from_s = -7200, .to_s = -60});
	node_make(&young, ca, ca_key,
		  (struct certgen_opts){.ip = "10.8.0.1", .from_s = 3600, .to_s = 7200});
	struct cert_trust *t = trust(NULL);
	assert_int_equal(check1(t, &old, NULL), CERT_EXPIRED);
	assert_int_equal(check1(t, &young, NULL), CERT_NOT_YET_VALID);
	/* time is the caller's: two hours from now the young one is fine */
	struct cert_chain c = {.der = {young.der}, .len = {young.len}, .n = 1};
	assert_int_equal(cert_verify(t, &c, young.pub, time(NULL) + 5400, NULL), CERT_OK);
	node_free(&old);
	node_free(&young);
	cert_trust_free(t);
}

static void test_refused_revoked_and_crl_reload(void **state)
{
	struct node a, b;
	(void)state;
	node_make(&a, ca, ca_key, (struct certgen_opts){.ip = "10.8.0.1", .serial = 1001});
	node_make(&b, ca, ca_key, (struct certgen_opts){.ip = "10.8.0.2", .serial = 1002});
	X509_CRL *none = certgen_crl(ca, ca_key, NULL, 0);
	X509_CRL *rev = certgen_crl(ca, ca_key, (long[]){1002}, 1);
	certgen_write_crls(crl_path, &none, 1);
	struct cert_trust *t = trust(crl_path);
	assert_int_equal(check1(t, &a, NULL), CERT_OK);
	assert_int_equal(check1(t, &b, NULL), CERT_OK);
	/* b revoked: the reload (SIGHUP) makes it count */
	certgen_write_crls(crl_path, &rev, 1);
	assert_int_equal(check1(t, &b, NULL), CERT_OK);
	assert_int_equal(cert_trust_reload_crl(t, NULL, 0), 0);
	assert_int_equal(check1(t, &b, NULL), CERT_REVOKED);
	assert_int_equal(check1(t, &a, NULL), CERT_OK);
	/* a broken CRL file on reload: refused, the old CRL stays */
	FILE *f = fopen(crl_path, "w");
	fputs("garbage\n", f);
	fclose(f);
	char err[256] = "";
	assert_int_equal(cert_trust_reload_crl(t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no PEM CRL"));
	assert_int_equal(check1(t, &b, NULL), CERT_REVOKED);
	/* a CRL signed by another CA does not count for ours */
	X509_CRL *foreign = certgen_crl(ca2, ca2_key, (long[]){1001}, 1);
	certgen_write_crls(crl_path, (X509_CRL *[]){rev, foreign}, 2);
	assert_int_equal(cert_trust_reload_crl(t, NULL, 0), 0);
	assert_int_equal(check1(t, &a, NULL), CERT_OK);
	X509_CRL_free(none);
	X509_CRL_free(rev);
	X509_CRL_free(foreign);
	node_free(&a);
	node_free(&b);
	cert_trust_free(t);
}

static void test_refused_other_key(void **state)
{
	struct node n, m;
	(void)state;
	node_make(&n, ca, ca_key, (struct certgen_opts){.ip = "10.8.0.1"});
	node_make(&m, ca, ca_key, (struct certgen_opts){.ip = "10.8.0.2"});
	struct cert_trust *t = trust(NULL);
	struct cert_chain c = {.der = {n.der}, .len = {n.len}, .n = 1};
	/* n's valid certificate presented by the holder of m's key */
	assert_int_equal(cert_verify(t, &c, m.pub, time(NULL), NULL), CERT_OTHER_KEY);
	/* an Ed25519 (not X25519) subject key is another key too */
	EVP_PKEY *ed = certgen_ed25519();
	X509 *x =
	    certgen_make(ed, ca, ca_key, &(struct certgen_opts){.cn = "ed", .ip = "10.8.0.3"});
	uint8_t der[CERT_DER_MAX];
	c.der[0] = der;
	c.len[0] = certgen_der(x, der, sizeof(der));
	assert_int_equal(cert_verify(t, &c, n.pub, time(NULL), NULL), CERT_OTHER_KEY);
	X509_free(x);
	EVP_PKEY_free(ed);
	node_free(&n);
	node_free(&m);
	cert_trust_free(t);
}

static void test_intermediate_chain(void **state)
{
	struct node n, e;
	(void)state;
	node_make(&n, inter, inter_key,
		  (struct certgen_opts){.ip = "10.8.0.5", .ipblock = "IPv4:10.20.1.0/24"});
	uint8_t ider[CERT_DER_MAX];
	size_t ilen = certgen_der(inter, ider, sizeof(ider));
	struct cert_trust *t = trust(NULL);
	struct cert_info ci;
	struct cert_chain c = {.der = {n.der, ider}, .len = {n.len, ilen}, .n = 2};
	assert_int_equal(cert_verify(t, &c, n.pub, time(NULL), &ci), CERT_OK);
	assert_true(cert_info_covers(&ci, inet_addr("10.20.1.0"), 24));
	/* without the intermediate it does not chain */
	assert_int_equal(check1(t, &n, NULL), CERT_OTHER_CA);
	/* the intermediate revoked by the root: its nodes go with it */
	X509_CRL *root_crl = certgen_crl(ca, ca_key, (long[]){500}, 1);
	X509_CRL *inter_crl = certgen_crl(inter, inter_key, NULL, 0);
	certgen_write_crls(crl_path, (X509_CRL *[]){root_crl, inter_crl}, 2);
	struct cert_trust *tc = trust(crl_path);
	assert_int_equal(cert_verify(tc, &c, n.pub, time(NULL), NULL), CERT_REVOKED);
	/* RFC 3779: the intermediate holds 10.20.0.0/16 only; a node claiming
	 * a subnet outside it is refused by the chain check */
	node_make(&e, inter, inter_key,
		  (struct certgen_opts){.ip = "10.8.0.6", .ipblock = "IPv4:192.168.1.0/24"});
	c.der[0] = e.der;
	c.len[0] = e.len;
	assert_int_equal(cert_verify(t, &c, e.pub, time(NULL), NULL), CERT_INVALID);
	X509_CRL_free(root_crl);
	X509_CRL_free(inter_crl);
	node_free(&n);
	node_free(&e);
	cert_trust_free(t);
	cert_trust_free(tc);
}

static void test_refused_invalid_and_malformed(void **state)
{
	struct node noip;
	(void)state;
	struct cert_trust *t = trust(NULL);
	/* no overlay address */
	node_make(&noip, ca, ca_key, (struct certgen_opts){.cn = "noip"});
	assert_int_equal(check1(t, &noip, NULL), CERT_INVALID);
	/* the intermediate CA itself as a node certificate */
	uint8_t ider[CERT_DER_MAX];
	struct cert_chain c = {
	    .der = {ider}, .len = {certgen_der(inter, ider, sizeof(ider))}, .n = 1};
	assert_int_equal(cert_verify(t, &c, noip.pub, time(NULL), NULL), CERT_INVALID);
	/* broken DER: truncated, trailing byte, garbage */
	uint8_t buf[CERT_DER_MAX + 1];
	memcpy(buf, noip.der, noip.len);
	c.der[0] = buf;
	c.len[0] = noip.len - 1;
	assert_int_equal(cert_verify(t, &c, noip.pub, time(NULL), NULL), CERT_MALFORMED);
	buf[noip.len] = 0;
	c.len[0] = noip.len + 1;
	assert_int_equal(cert_verify(t, &c, noip.pub, time(NULL), NULL), CERT_MALFORMED);
	memset(buf, 0x30, sizeof(buf));
	c.len[0] = 100;
	assert_int_equal(cert_verify(t, &c, noip.pub, time(NULL), NULL), CERT_MALFORMED);
	c.n = 0;
	assert_int_equal(cert_verify(t, &c, noip.pub, time(NULL), NULL), CERT_MALFORMED);
	node_free(&noip);
	cert_trust_free(t);
}

static void test_payload_codec(void **state)
{
	uint8_t a[300], b[5], out[400];
	size_t len;
	struct cert_chain c = {.der = {a, b}, .len = {sizeof(a), sizeof(b)}, .n = 2}, d;
	(void)state;
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	assert_int_equal(cert_payload_len(&c), 1 + 2 + 300 + 2 + 5);
	assert_int_equal(cert_payload_encode(&c, out, sizeof(out), &len), 0);
	assert_int_equal(len, 310);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1] << 8 | out[2], 300);
	assert_int_equal(cert_payload_decode(out, len, &d), 0);
	assert_int_equal(d.n, 2);
	assert_ptr_equal(d.der[0], out + 3);
	assert_int_equal(d.len[1], 5);
	assert_memory_equal(d.der[1], b, 5);
	/* encode: too small, bad chains */
	assert_int_equal(cert_payload_encode(&c, out, 309, &len), -EMSGSIZE);
	c.n = 0;
	assert_int_equal(cert_payload_encode(&c, out, sizeof(out), &len), -EINVAL);
	c.n = CERT_CHAIN_MAX + 1;
	assert_int_equal(cert_payload_encode(&c, out, sizeof(out), &len), -EINVAL);
	c.n = 1;
	c.len[0] = 0;
	assert_int_equal(cert_payload_encode(&c, out, sizeof(out), &len), -EINVAL);
	/* decode: every truncation, trailing bytes, counts, zero lengths */
	for (size_t l = 0; l < 310; l++)
		assert_int_equal(cert_payload_decode(out, l, &d), -EBADMSG);
	assert_int_equal(cert_payload_decode(out, 311, &d), -EBADMSG);
	out[0] = 0;
	assert_int_equal(cert_payload_decode(out, 310, &d), -EBADMSG);
	out[0] = CERT_CHAIN_MAX + 1;
	assert_int_equal(cert_payload_decode(out, 310, &d), -EBADMSG);
	out[0] = 1;
	assert_int_equal(cert_payload_decode(out, 310, &d), -EBADMSG); /* 7 bytes left over */
	assert_int_equal(cert_payload_decode(out, 303, &d), 0);
	out[1] = out[2] = 0;
	assert_int_equal(cert_payload_decode(out, 3, &d), -EBADMSG);
	uint8_t big[3 + CERT_DER_MAX + 1] = {1, (CERT_DER_MAX + 1) >> 8, (CERT_DER_MAX + 1) & 0xff};
	assert_int_equal(cert_payload_decode(big, sizeof(big), &d), -EBADMSG);
}

static void test_own_chain(void **state)
{
	struct node n;
	struct cert_own o;
	char err[256];
	uint8_t other[32] = {1};
	(void)state;
	node_make(&n, inter, inter_key, (struct certgen_opts){.cn = "me", .ip = "10.8.0.9"});
	certgen_write(own_path, (X509 *[]){n.cert, inter}, 2);
	assert_int_equal(cert_own_load(&o, own_path, n.pub, err, sizeof(err)), 0);
	assert_int_equal(o.chain.n, 2);
	assert_int_equal(o.chain.len[0], n.len);
	assert_memory_equal(o.chain.der[0], n.der, n.len);
	assert_string_equal(o.info.name, "me");
	struct cert_trust *t = trust(NULL);
	assert_int_equal(cert_verify(t, &o.chain, n.pub, time(NULL), NULL), CERT_OK);
	cert_own_free(&o);
	/* errors name the file and what is wrong */
	assert_int_equal(cert_own_load(&o, own_path, other, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "another key"));
	assert_non_null(strstr(err, own_path));
	assert_int_equal(cert_own_load(&o, "/nonexistent/x.pem", n.pub, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cert_file /nonexistent/x.pem"));
	certgen_write(own_path, (X509 *[]){inter}, 1);
	assert_int_equal(cert_own_load(&o, own_path, n.pub, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "X25519"));
	/* trust store errors */
	struct cert_trust *bad = NULL;
	assert_int_equal(cert_trust_load(&bad, "/nonexistent/ca.pem", NULL, err, sizeof(err)),
			 -ENOENT);
	certgen_write(own_path, (X509 *[]){n.cert}, 1);
	assert_int_equal(cert_trust_load(&bad, own_path, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a CA"));
	assert_int_equal(cert_trust_load(&bad, ca_path, "/nonexistent/crl.pem", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "crl_file"));
	node_free(&n);
	cert_trust_free(t);
}

/* The certificate fetch (types 4/5): request, reply, decryption; tampering,
 * another request's reply, a chain too large for a reply. */
static void test_fetch(void **state)
{
	struct cert_fetch f, g;
	uint8_t req[HS_CERTREQ_LEN], rep[HS_CERTREQ_LEN + 64], pl[HS_CERTREQ_LEN];
	size_t rlen = 0, pll = 0;
	struct hs_header h;
	struct node n;
	(void)state;
	node_make(&n, ca, ca_key, (struct certgen_opts){.ip = "10.8.0.1"});
	struct cert_chain c = {.der = {n.der}, .len = {n.len}, .n = 1};
	assert_int_equal(cert_fetch_request(&f, req), 0);
	assert_int_equal(hs_parse_header(req, sizeof(req), &h), 0);
	assert_int_equal(h.type, HS_CERT_REQUEST);
	assert_int_equal(h.sender_spi, f.id);
	assert_true(f.id & 0x80000000u);
	assert_memory_equal(req + HS_HDR_LEN, f.e_pub, 32);
	assert_int_equal(cert_fetch_reply(req, sizeof(req), &c, rep, sizeof(rep), &rlen), 0);
	assert_true(rlen <= sizeof(req)); /* never larger than the request */
	assert_int_equal(hs_parse_header(rep, rlen, &h), 0);
	assert_int_equal(h.type, HS_CERT_REPLY);
	assert_int_equal(h.receiver_spi, f.id);
	assert_int_equal(cert_fetch_open(&f, rep, rlen, pl, sizeof(pl), &pll), 0);
	struct cert_chain d;
	assert_int_equal(cert_payload_decode(pl, pll, &d), 0);
	assert_int_equal(d.len[0], n.len);
	assert_memory_equal(d.der[0], n.der, n.len);
	/* no certificate bytes in clear in the reply */
	for (size_t i = 0; i + 16 <= rlen; i++)
		assert_memory_not_equal(rep + i, n.der + n.len - 16, 16);
	/* every byte after the header matters */
	for (size_t i = HS_HDR_LEN; i < rlen; i += 7) {
		rep[i] ^= 1;
		assert_int_equal(cert_fetch_open(&f, rep, rlen, pl, sizeof(pl), &pll), -EBADMSG);
		rep[i] ^= 1;
	}
	/* the header is authenticated too (AAD): another id, or another request's state */
	assert_int_equal(cert_fetch_request(&g, req), 0);
	assert_int_equal(cert_fetch_open(&g, rep, rlen, pl, sizeof(pl), &pll), -EBADMSG);
	g.id = f.id;
	assert_int_equal(cert_fetch_open(&g, rep, rlen, pl, sizeof(pl), &pll), -EBADMSG);
	assert_int_equal(cert_fetch_open(&f, rep, rlen - 1, pl, sizeof(pl), &pll), -EBADMSG);
	assert_int_equal(cert_fetch_open(&f, rep, 20, pl, sizeof(pl), &pll), -EBADMSG);
	/* a chain that does not fit in a reply no larger than the request */
	uint8_t big[CERT_DER_MAX];
	memset(big, 0x30, sizeof(big));
	struct cert_chain b = {.der = {big, big}, .len = {sizeof(big), sizeof(big)}, .n = 2};
	assert_int_equal(cert_fetch_reply(req, sizeof(req), &b, rep, sizeof(rep), &rlen),
			 -EMSGSIZE);
	assert_int_equal(cert_fetch_reply(req, sizeof(req) - 1, &c, rep, sizeof(rep), &rlen),
			 -EBADMSG);
	/* a low-order ephemeral key (all zero) is refused */
	memset(req + HS_HDR_LEN, 0, 32);
	assert_int_not_equal(cert_fetch_reply(req, sizeof(req), &c, rep, sizeof(rep), &rlen), 0);
	cert_fetch_wipe(&f);
	node_free(&n);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(ca2_path, sizeof(ca2_path), "%s/ca2.pem", dir);
	snprintf(crl_path, sizeof(crl_path), "%s/crl.pem", dir);
	snprintf(own_path, sizeof(own_path), "%s/own.pem", dir);
	ca_key = certgen_ed25519();
	ca2_key = certgen_ed25519();
	inter_key = certgen_ed25519();
	ca = certgen_make(ca_key, NULL, ca_key,
			  &(struct certgen_opts){.cn = "overlay CA",
						 .ca = true,
						 .to_s = 864000,
						 .ipblock = "IPv4:10.0.0.0/8,IPv4:172.16.0.0/12"});
	ca2 = certgen_make(ca2_key, NULL, ca2_key,
			   &(struct certgen_opts){.cn = "other CA", .ca = true});
	inter = certgen_make(
	    inter_key, ca, ca_key,
	    &(struct certgen_opts){
		.cn = "site CA", .ca = true, .serial = 500, .ipblock = "IPv4:10.20.0.0/16"});
	certgen_write(ca_path, &ca, 1);
	certgen_write(ca2_path, &ca2, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	X509_free(ca2);
	X509_free(inter);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(inter_key);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted_and_info),
	    cmocka_unit_test(test_refused_address_not_covered),
	    cmocka_unit_test(test_refused_other_ca),
	    cmocka_unit_test(test_refused_expired_and_not_yet_valid),
	    cmocka_unit_test(test_refused_revoked_and_crl_reload),
	    cmocka_unit_test(test_refused_other_key),
	    cmocka_unit_test(test_intermediate_chain),
	    cmocka_unit_test(test_refused_invalid_and_malformed),
	    cmocka_unit_test(test_payload_codec),
	    cmocka_unit_test(test_own_chain),
	    cmocka_unit_test(test_fetch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
