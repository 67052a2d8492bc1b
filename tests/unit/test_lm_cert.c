/* Trust by certificate in the link manager (lm_cert.c, lm_handshake.c),
 * two nodes in memory (linkmgr_harness.h) with certificates made by the
 * test (certgen.h): a link by certificates with configured keys, a link
 * from endpoints alone (certificate fetch, then IK), each refusal leaving
 * no link and counted, a handshake without a certificate, an intermediate
 * CA in the chain, revocation by a CRL reload taking a live link down, and
 * the "both" policy refusing keys nobody configured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

/* OpenSSL's headers before ipsec-mb's, which defines SHA1 as a macro */
#include "certgen.h"
#include "linkmgr_harness.h"

static char dir[] = "/tmp/test_lm_cert.XXXXXX";
static char ca_path[80], crl_path[80];
static EVP_PKEY *ca_key, *ca2_key, *inter_key;
static X509 *ca, *ca2, *inter;

/* What the certificate of node n says and who signs it. */
struct cert_spec {
	const char *ip; /* default 10.254.0.<id> */
	X509 *issuer;	/* default ca */
	EVP_PKEY *issuer_key;
	long from_s, to_s;
	long serial;
	bool other_key; /* certify a key the node does not hold */
	bool with_inter;
	const char *ipblock; /* routed subnets (RFC 3779) */
};

/* Writes n's certificate file and restarts its link manager with trust. */
static void node_trust(struct node *n, uint8_t id, enum ipop_trust trust, const struct cert_spec *s)
{
	char path[96], ip[20];
	snprintf(ip, sizeof(ip), "10.254.0.%u", id);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, n->name);
	uint8_t pub[32];
	memcpy(pub, n->id.pub, 32);
	if (s->other_key)
		pub[0] ^= 0x40;
	EVP_PKEY *pk = certgen_x25519_pub(pub);
	X509 *x =
	    certgen_make(pk, s->issuer ? s->issuer : ca, s->issuer_key ? s->issuer_key : ca_key,
			 &(struct certgen_opts){.cn = n->name,
						.ip = s->ip ? s->ip : ip,
						.from_s = s->from_s,
						.to_s = s->to_s,
						.serial = s->serial ? s->serial : 100 + id,
						.ipblock = s->ipblock});
	certgen_write(path, (X509 *[]){x, inter}, s->with_inter ? 2 : 1);
	X509_free(x);
	EVP_PKEY_free(pk);
	n->cfg.trust = trust;
	snprintf(n->cfg.ca_file, sizeof(n->cfg.ca_file), "%s", ca_path);
	snprintf(n->cfg.cert_file, sizeof(n->cfg.cert_file), "%s", path);
	snprintf(n->cfg.crl_file, sizeof(n->cfg.crl_file), "%s",
		 access(crl_path, F_OK) ? "" : crl_path);
	ctl_linkmgr_fini(&n->lm);
	/* our own certificate must pass our own checks: one that does not is
	 * a start-up error, so the refusal cases start with a good one and
	 * swap the bad one in afterwards */
	int err = ctl_linkmgr_init(&n->lm, &n->cfg, &n->id, now);
	if (err) {
		struct ipop_config c = n->cfg;
		c.trust = IPOP_TRUST_XMPP;
		assert_int_equal(ctl_linkmgr_init(&n->lm, &c, &n->id, now), 0);
		n->lm.cfg = &n->cfg;
		n->lm.trust = trust;
		assert_int_equal(cert_trust_load(&n->lm.ca, ca_path, n->cfg.crl_file, NULL, 0), 0);
		struct cert_own o;
		/* the bad certificate as it is (for the key it certifies) */
		assert_int_equal(cert_own_load(&o, path, pub, NULL, 0), 0);
		n->lm.own = o;
	}
	ctl_linkmgr_set_io(&n->lm, cb_send, cb_publish, n);
}

static void node_peer_by_endpoint(struct node *a, const struct node *b, uint8_t b_id)
{
	node_peer(a, b, b_id);
	struct ipop_peer_conf *pc = &a->pc[a->cfg.npeers - 1];
	memset(pc->public_key, 0, 32);
	pc->cert_key = true;
}

static void cert_pair(struct node **a, struct node **b, enum ipop_trust trust,
		      const struct cert_spec *sa, bool by_endpoint)
{
	*a = node_new(1, "a");
	*b = node_new(2, "b");
	node_trust(*a, 1, trust, sa);
	node_trust(*b, 2, trust, &(struct cert_spec){0});
	if (by_endpoint) {
		node_peer_by_endpoint(*a, *b, 2);
		node_peer_by_endpoint(*b, *a, 1);
	} else {
		node_peer(*a, *b, 2);
		node_peer(*b, *a, 1);
	}
	node_start(*a);
	node_start(*b);
}

static void run(unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++) {
		tick_all();
		deliver();
		now += 500;
	}
}

static void test_cert_link_configured_keys(void **state)
{
	struct node *a, *b;
	(void)state;
	cert_pair(&a, &b, IPOP_TRUST_CERT, &(struct cert_spec){0}, false);
	tick(a);
	assert_int_equal(qlen, 1);
	assert_int_equal(queue[0].data[4], HS_INITIATION_CERT);
	assert_true(queue[0].len > HS_INIT_LEN);
	handshake(a, b);
	assert_linked(a, b);
	assert_true(lk_of(a)->has_cert);
	assert_string_equal(lk_of(a)->cert.subject, "CN=b");
	assert_string_equal(lk_of(b)->cert.subject, "CN=a");
	assert_string_equal(lk_of(b)->cert.serial, "65"); /* 101 */
	assert_int_equal(a->lm.hs.cert_other_ca + b->lm.hs.cert_other_ca, 0);
}

static void test_cert_link_from_endpoints(void **state)
{
	struct node *a, *b;
	(void)state;
	cert_pair(&a, &b, IPOP_TRUST_CERT, &(struct cert_spec){0}, true);
	assert_false(lk_of(a)->key_known);
	tick(a);
	/* the key is not known: a certificate request, padded */
	assert_int_equal(qlen, 1);
	assert_int_equal(queue[0].data[4], HS_CERT_REQUEST);
	assert_int_equal(queue[0].len, HS_CERTREQ_LEN);
	deliver(); /* request → reply (no larger) → initiation → response → keepalive */
	assert_int_equal(b->lm.hs.cert_replies_sent, 1);
	assert_int_equal(a->lm.hs.cert_replies_received, 1);
	tick_all();
	deliver();
	tick_all();
	assert_linked(a, b);
	assert_memory_equal(lk_of(a)->pub, b->id.pub, 32);
	assert_memory_equal(lk_of(b)->pub, a->id.pub, 32); /* bound by its certificate */
	assert_true(lk_of(b)->key_known);
	/* both ends fetching at once end in one link as well */
	teardown_all();
	cert_pair(&a, &b, IPOP_TRUST_CERT, &(struct cert_spec){0}, true);
	run(8);
	assert_linked(a, b);
}

/* a presents the certificate s; b must refuse it, count it under *counter
 * and no link may come up, whoever initiates. */
static void refused(const struct cert_spec *s, size_t counter_off, bool by_endpoint)
{
	struct node *a, *b;
	cert_pair(&a, &b, IPOP_TRUST_CERT, s, by_endpoint);
	run(10);
	assert_int_not_equal(lk_of(a)->state, LM_UP);
	assert_int_not_equal(lk_of(b)->state, LM_UP);
	assert_null(ctl_linkmgr_link_sa_out(lk_of(b)));
	uint64_t n = *(uint64_t *)((char *)&b->lm.hs + counter_off);
	assert_true(n > 0);
	teardown_all();
}

#define OFF(f) offsetof(struct lm_counters, f)

static void test_cert_refusals(void **state)
{
	(void)state;
	refused(&(struct cert_spec){.issuer = ca2, .issuer_key = ca2_key}, OFF(cert_other_ca),
		false);
	refused(&(struct cert_spec){.from_s = -7200, .to_s = -60}, OFF(cert_expired), false);
	refused(&(struct cert_spec){.from_s = 3600, .to_s = 7200}, OFF(cert_not_yet_valid), false);
	refused(&(struct cert_spec){.other_key = true}, OFF(cert_other_key), false);
	/* b knows a as 10.254.0.1: a certificate for another address */
	refused(&(struct cert_spec){.ip = "10.254.0.9"}, OFF(cert_addr_not_covered), false);
	/* by endpoint: the fetched certificate of b is fine, a's is not */
	refused(&(struct cert_spec){.issuer = ca2, .issuer_key = ca2_key}, OFF(cert_other_ca),
		true);
	refused(&(struct cert_spec){.ip = "10.254.0.9"}, OFF(cert_addr_not_covered), true);
}

static void test_cert_revoked(void **state)
{
	(void)state;
	X509_CRL *crl = certgen_crl(ca, ca_key, (long[]){101}, 1);
	certgen_write_crls(crl_path, &crl, 1);
	refused(&(struct cert_spec){0}, OFF(cert_revoked), false);
	X509_CRL_free(crl);
	unlink(crl_path);
}

static void test_cert_missing(void **state)
{
	struct node *a, *b;
	(void)state;
	a = node_new(1, "a");
	b = node_new(2, "b");
	node_trust(b, 2, IPOP_TRUST_CERT, &(struct cert_spec){0});
	node_peer(a, b, 2); /* a: today's trust, no certificate */
	node_peer(b, a, 1);
	node_start(a);
	node_start(b);
	run(6);
	assert_int_not_equal(lk_of(b)->state, LM_UP);
	assert_true(b->lm.hs.cert_missing > 0);
	assert_true(a->lm.hs.initiations_sent > 0);
}

static void test_cert_intermediate(void **state)
{
	struct node *a, *b;
	(void)state;
	cert_pair(&a, &b, IPOP_TRUST_CERT,
		  &(struct cert_spec){.issuer = inter, .issuer_key = inter_key, .with_inter = true},
		  false);
	handshake(a, b);
	assert_linked(a, b);
	assert_string_equal(lk_of(b)->cert.subject, "CN=a");
	/* the same leaf without its intermediate does not chain */
	teardown_all();
	refused(&(struct cert_spec){.issuer = inter, .issuer_key = inter_key}, OFF(cert_other_ca),
		false);
}

static void test_cert_revocation_takes_link_down(void **state)
{
	struct node *a, *b;
	(void)state;
	X509_CRL *none = certgen_crl(ca, ca_key, NULL, 0);
	certgen_write_crls(crl_path, &none, 1);
	cert_pair(&a, &b, IPOP_TRUST_CERT, &(struct cert_spec){0}, false);
	handshake(a, b);
	assert_linked(a, b);
	/* a is revoked; b reloads its CRL (SIGHUP) */
	X509_CRL *rev = certgen_crl(ca, ca_key, (long[]){101}, 1);
	certgen_write_crls(crl_path, &rev, 1);
	assert_int_equal(ctl_linkmgr_trust_reload(&b->lm), 0);
	assert_int_equal(b->lm.hs.cert_links_dropped, 1);
	assert_int_equal(b->lm.hs.cert_revoked, 1);
	assert_int_equal(lk_of(b)->state, LM_DOWN);
	assert_null(ctl_linkmgr_link_sa_out(lk_of(b)));
	assert_null(lk_of(b)->cur.sa_in);
	/* and it stays down: a's handshakes are refused from now on */
	run(10);
	assert_int_not_equal(lk_of(b)->state, LM_UP);
	assert_true(b->lm.hs.cert_revoked > 1);
	/* b's CRL file broken: the reload fails, the old CRL stays */
	FILE *f = fopen(crl_path, "w");
	fputs("not a crl\n", f);
	fclose(f);
	assert_int_equal(ctl_linkmgr_trust_reload(&b->lm), -EINVAL);
	X509_CRL_free(none);
	X509_CRL_free(rev);
	unlink(crl_path);
}

static void test_cert_both_needs_a_known_key(void **state)
{
	struct node *a, *b;
	(void)state;
	cert_pair(&a, &b, IPOP_TRUST_BOTH, &(struct cert_spec){0}, false);
	handshake(a, b);
	assert_linked(a, b);
	teardown_all();
	/* b does not know a's key: a valid certificate is not enough */
	a = node_new(1, "a");
	b = node_new(2, "b");
	node_trust(a, 1, IPOP_TRUST_BOTH, &(struct cert_spec){0});
	node_trust(b, 2, IPOP_TRUST_BOTH, &(struct cert_spec){0});
	node_peer(a, b, 2);
	node_start(a);
	node_start(b);
	run(4);
	assert_true(b->lm.hs.unknown_key > 0);
	assert_int_not_equal(lk_of(a)->state, LM_UP);
}

/* b routes 10.20.1.0/24 to a: a's certificate must carry that subnet. */
static void routed(const char *ipblock, bool want_up)
{
	static struct net_prefix r;
	struct node *a = node_new(1, "a"), *b = node_new(2, "b");
	node_trust(a, 1, IPOP_TRUST_CERT, &(struct cert_spec){.ipblock = ipblock});
	node_trust(b, 2, IPOP_TRUST_CERT, &(struct cert_spec){0});
	node_peer(a, b, 2);
	node_peer(b, a, 1);
	assert_int_equal(net_prefix_parse("10.20.1.0/24", false, &r), 0);
	b->pc[0].routes = &r;
	b->pc[0].nroutes = 1;
	node_start(a);
	node_start(b);
	run(8);
	if (want_up) {
		assert_linked(a, b);
	} else {
		assert_int_not_equal(lk_of(b)->state, LM_UP);
		assert_true(b->lm.hs.cert_addr_not_covered > 0);
	}
	teardown_all();
}

static void test_cert_routes_covered(void **state)
{
	(void)state;
	routed("IPv4:10.20.1.0/24", true);
	routed("IPv4:10.20.0.0/16", true);
	routed(NULL, false);
	routed("IPv4:10.20.1.0/25", false);
}

static int cert_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(crl_path, sizeof(crl_path), "%s/crl.pem", dir);
	ca_key = certgen_ed25519();
	ca2_key = certgen_ed25519();
	inter_key = certgen_ed25519();
	ca = certgen_make(
	    ca_key, NULL, ca_key,
	    &(struct certgen_opts){
		.cn = "overlay CA", .ca = true, .to_s = 864000, .ipblock = "IPv4:10.0.0.0/8"});
	ca2 =
	    certgen_make(ca2_key, NULL, ca2_key, &(struct certgen_opts){.cn = "other", .ca = true});
	inter = certgen_make(inter_key, ca, ca_key,
			     &(struct certgen_opts){.cn = "site CA", .ca = true, .serial = 50});
	certgen_write(ca_path, &ca, 1);
	return setup(state);
}

static int cert_teardown(void **state)
{
	char cmd[64];
	X509_free(ca);
	X509_free(ca2);
	X509_free(inter);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(inter_key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	return teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_cert_link_configured_keys, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_link_from_endpoints, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_refusals, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_revoked, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_missing, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_intermediate, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_revocation_takes_link_down, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_both_needs_a_known_key, per_test_teardown),
	    cmocka_unit_test_teardown(test_cert_routes_covered, per_test_teardown),
	};
	return cmocka_run_group_tests(tests, cert_setup, cert_teardown);
}
