/* Unit tests for control/core/peers.c: the reload diff keeps unchanged links
 * and SAs, replaces changed ones, retires removed ones; table contents;
 * sequence number reservations across restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "control/config/config.h"
#include "control/table/fdb.h"
#include "tests/unit/fdb_lookup.h"
#include "control/core/peers.h"
#include "control/table/publish.h"
#include "control/link/seqstore.h"
#include "dataplane/sa.h"

#define KEY_A "1111111111111111111111111111111111111111111111111111111111111111aaaaaaaa"
#define KEY_B "2222222222222222222222222222222222222222222222222222222222222222bbbbbbbb"
#define KEY_C "3333333333333333333333333333333333333333333333333333333333333333cccccccc"

/* Sequence reservations go here, never into /var/lib. */
static char state_dir[] = "/tmp/ipopd-test-peers-XXXXXX";

static char *make_config(const char *peers, int switchmode, const char *extra)
{
	char *s = NULL;
	int n =
	    asprintf(&s,
		     "{\"CFx\": {\"ip4_mask\": 16},"
		     " \"TincanSender\": {\"switchmode\": %d, \"svpn_port\": 5800},"
		     " \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},"
		     " \"ipopd\": {\"workers\": 1, \"tap\": \"ipoptest\", \"state_dir\": \"%s\","
		     " %s \"peers\": [%s]}}",
		     switchmode, state_dir, extra ? extra : "", peers);
	assert_true(n > 0);
	return s;
}

static const char *peer_json(char *buf, size_t len, const char *name, const char *ep,
			     const char *ip4, uint32_t spi_in, const char *key_in, uint32_t spi_out,
			     const char *routes)
{
	snprintf(buf, len,
		 "{\"name\": \"%s\", \"endpoint\": \"%s\", \"ip4\": \"%s\", \"routes\": [%s],"
		 " \"sa_in\": {\"spi\": \"0x%08x\", \"key\": \"%s\"},"
		 " \"sa_out\": {\"spi\": \"0x%08x\", \"key\": \"" KEY_C "\"}}",
		 name, ep, ip4, routes ? routes : "", spi_in, key_in, spi_out);
	return buf;
}

static void load(const char *text, struct ipop_config *cfg)
{
	char err[512] = "";
	int rc = ipop_config_load_string("test.json", text, NULL, cfg, err, sizeof(err));
	if (rc)
		fail_msg("config: %s", err);
}

static void test_diff_keeps_unchanged(void **state)
{
	(void)state;
	IMB_MGR *mgr = dp_crypto_mgr_create();
	assert_non_null(mgr);
	struct ctl_publisher pub;
	assert_int_equal(ctl_publish_init(&pub, 0), 0);
	struct ctl_fdb fdb;
	assert_int_equal(ctl_fdb_init(&fdb, 64, 300), 0);

	char b1[512], b2[512], b3[512], list[1600];
	snprintf(list, sizeof(list), "%s, %s, %s",
		 peer_json(b1, sizeof(b1), "b", "198.18.0.2:5800", "10.254.0.2", 0x80000001, KEY_A,
			   0x80000002, "\"10.99.0.0/16\""),
		 peer_json(b2, sizeof(b2), "c", "198.18.0.3:5800", "10.254.0.3", 0x80000011, KEY_A,
			   0x80000012, NULL),
		 peer_json(b3, sizeof(b3), "d", "198.18.0.4:5800", "10.254.0.4", 0x80000021, KEY_A,
			   0x80000022, NULL));
	char *text = make_config(list, 0, NULL);
	struct ipop_config c1, c2;
	load(text, &c1);
	free(text);

	uint32_t next_id = 1;
	struct ctl_peers p1, p2;
	assert_int_equal(ctl_peers_diff(NULL, &c1, mgr, &next_id, &p1), 0);
	assert_int_equal(p1.n, 3);
	assert_int_equal(next_id, 4);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(p1.v[i].fresh);
		assert_int_equal(p1.v[i].link->id, i + 1);
		assert_int_equal(p1.v[i].sa_in->link_id, i + 1);
		assert_int_equal(p1.v[i].sa_out->link_id, i + 1);
	}
	/* Some traffic state that must survive a reload. */
	atomic_store(&p1.v[0].sa_out->seq, 1234);
	atomic_store(&p1.v[0].link->stats.tx_packets, 99);
	struct dp_link *b_link = p1.v[0].link;
	struct dp_sa *b_in = p1.v[0].sa_in, *b_out = p1.v[0].sa_out;
	uint8_t mac_c[6] = {2, 0, 0, 0, 0, 3}, mac_b[6] = {2, 0, 0, 0, 0, 2};
	ctl_fdb_learn(&fdb, mac_c, p1.v[1].link->id, 0);
	ctl_fdb_learn(&fdb, mac_b, p1.v[0].link->id, 0);

	/* b unchanged, c rekeyed (new key), d removed, e added. */
	snprintf(list, sizeof(list), "%s, %s, %s",
		 peer_json(b1, sizeof(b1), "b", "198.18.0.2:5800", "10.254.0.2", 0x80000001, KEY_A,
			   0x80000002, "\"10.99.0.0/16\""),
		 peer_json(b2, sizeof(b2), "c", "198.18.0.3:5800", "10.254.0.3", 0x80000011, KEY_B,
			   0x80000012, NULL),
		 peer_json(b3, sizeof(b3), "e", "198.18.0.5:5800", "10.254.0.5", 0x80000031, KEY_A,
			   0x80000032, NULL));
	text = make_config(list, 0, NULL);
	load(text, &c2);
	free(text);
	assert_int_equal(ctl_peers_diff(&p1, &c2, mgr, &next_id, &p2), 0);
	assert_int_equal(p2.n, 3);
	assert_ptr_equal(p2.v[0].link, b_link);
	assert_ptr_equal(p2.v[0].sa_in, b_in);
	assert_ptr_equal(p2.v[0].sa_out, b_out);
	assert_false(p2.v[0].fresh);
	assert_ptr_equal(p2.v[0].conf, &c2.peers[0]);
	assert_int_equal(atomic_load(&p2.v[0].sa_out->seq), 1234);
	assert_int_equal(atomic_load(&p2.v[0].link->stats.tx_packets), 99);
	assert_true(p2.v[1].fresh);
	assert_int_equal(p2.v[1].link->id, 4);
	assert_true(p2.v[2].fresh);
	assert_int_equal(p2.v[2].link->id, 5);
	assert_true(p1.v[0].kept);
	assert_false(p1.v[1].kept);
	assert_false(p1.v[2].kept);

	/* Old c and d go to the publisher (3 objects each), their MACs leave
	 * the FDB; b's MAC stays. */
	ctl_peers_retire(&p1, &pub, &fdb);
	assert_int_equal(pub.nretired, 6);
	assert_int_equal(fdb_lookup(&fdb, mac_c), -1);
	assert_int_equal(fdb_lookup(&fdb, mac_b), 1);
	assert_null(p1.v);
	/* No workers: everything is reclaimable at once. */
	assert_int_equal(ctl_publish_reclaim(&pub), 6);

	ctl_peers_free(&p2);
	ipop_config_free(&c1);
	ipop_config_free(&c2);
	ctl_fdb_fini(&fdb);
	ctl_publish_fini(&pub);
	dp_crypto_mgr_destroy(mgr);
}

static void test_diff_abort(void **state)
{
	(void)state;
	IMB_MGR *mgr = dp_crypto_mgr_create();
	char b1[512];
	char *text = make_config(peer_json(b1, sizeof(b1), "b", "198.18.0.2:5800", "10.254.0.2",
					   0x80000001, KEY_A, 0x80000002, NULL),
				 0, NULL);
	struct ipop_config c1, c2;
	load(text, &c1);
	free(text);
	text = make_config(peer_json(b1, sizeof(b1), "b", "198.18.0.9:5800", "10.254.0.2",
				     0x80000001, KEY_A, 0x80000002, NULL),
			   0, NULL);
	load(text, &c2);
	free(text);
	uint32_t next_id = 1;
	struct ctl_peers p1, p2;
	assert_int_equal(ctl_peers_diff(NULL, &c1, mgr, &next_id, &p1), 0);
	/* The endpoint changed: fresh objects, old ones not kept. */
	assert_int_equal(ctl_peers_diff(&p1, &c2, mgr, &next_id, &p2), 0);
	assert_true(p2.v[0].fresh);
	assert_ptr_not_equal(p2.v[0].link, p1.v[0].link);
	ctl_peers_abort(&p2, &p1);
	assert_null(p2.v);
	assert_false(p1.v[0].kept);
	assert_non_null(p1.v[0].link);
	ctl_peers_free(&p1);
	ipop_config_free(&c1);
	ipop_config_free(&c2);
	dp_crypto_mgr_destroy(mgr);
}

static void test_build_table(void **state)
{
	(void)state;
	IMB_MGR *mgr = dp_crypto_mgr_create();
	char b1[512], b2[512], list[1100];
	snprintf(list, sizeof(list), "%s, %s",
		 peer_json(b1, sizeof(b1), "b", "198.18.0.2:5800", "10.254.0.2", 0x80000001, KEY_A,
			   0x80000002, "\"10.99.0.0/16\", \"10.98.1.0/24\""),
		 peer_json(b2, sizeof(b2), "c", "198.18.0.3:5800", "10.254.0.3", 0x80000011, KEY_A,
			   0x80000012, NULL));
	/* The config is L3 (routes are refused in switch mode); the table's
	 * mode comes from params alone. */
	char *text = make_config(list, 0, NULL);
	struct ipop_config cfg;
	load(text, &cfg);
	free(text);
	uint32_t next_id = 10;
	struct ctl_peers p;
	assert_int_equal(ctl_peers_diff(NULL, &cfg, mgr, &next_id, &p), 0);
	struct ctl_fdb fdb;
	assert_int_equal(ctl_fdb_init(&fdb, 64, 300), 0);
	uint8_t m1[6] = {2, 0, 0, 0, 0, 1}, m2[6] = {2, 0, 0, 0, 0, 2}, m3[6] = {2, 0, 0, 0, 0, 3};
	ctl_fdb_learn(&fdb, m1, 10, 0);
	ctl_fdb_learn(&fdb, m2, 11, 0);
	ctl_fdb_learn(&fdb, m3, 77, 0); /* a link that no longer exists */

	struct dp_table_params params = {.mode = DP_MODE_SWITCH, .mtu = 1424};
	struct dp_table *t = ctl_peers_build_table(&p, &params, &fdb);
	assert_non_null(t);
	assert_int_equal(t->nlinks, 2);
	assert_ptr_equal(t->links[0].link, p.v[0].link);
	assert_ptr_equal(t->links[0].sa_out, p.v[0].sa_out);
	assert_int_equal(t->links[1].endpoint.port, 5800);
	const struct dp_spi_entry *e = dp_table_spi_lookup(t, 0x80000011);
	assert_non_null(e);
	assert_ptr_equal(e->sa, p.v[1].sa_in);
	assert_int_equal(e->link, 1);
	assert_null(dp_table_spi_lookup(t, 0x80000012));
	uint32_t a;
	inet_pton(AF_INET, "10.254.0.3", &a);
	assert_int_equal(dp_table_route4(t, a), 1);
	inet_pton(AF_INET, "10.99.200.1", &a);
	assert_int_equal(dp_table_route4(t, a), 0);
	inet_pton(AF_INET, "10.98.1.7", &a);
	assert_int_equal(dp_table_route4(t, a), 0);
	inet_pton(AF_INET, "10.97.0.1", &a);
	assert_int_equal(dp_table_route4(t, a), DP_LINK_NONE);
	assert_int_equal(dp_table_route6(t, cfg.peers[1].ip6), 1);
	assert_int_equal(dp_table_fdb_lookup(t, m1), 0);
	assert_int_equal(dp_table_fdb_lookup(t, m2), 1);
	assert_int_equal(dp_table_fdb_lookup(t, m3), DP_LINK_NONE);
	dp_table_free(t);

	/* L3 mode: no FDB in the table. */
	params.mode = DP_MODE_L3;
	t = ctl_peers_build_table(&p, &params, &fdb);
	assert_non_null(t);
	assert_int_equal(dp_table_fdb_lookup(t, m1), DP_LINK_NONE);
	dp_table_free(t);

	ctl_fdb_fini(&fdb);
	ctl_peers_free(&p);
	ipop_config_free(&cfg);
	dp_crypto_mgr_destroy(mgr);
}

static uint64_t read_mark(uint32_t spi)
{
	uint64_t mark = 0;
	assert_int_equal(ctl_seq_load(state_dir, spi, &mark), 0);
	return mark;
}

/* Manual keys: a restart continues after the stored mark, never below it. */
static void test_seq_persistence(void **state)
{
	(void)state;
	IMB_MGR *mgr = dp_crypto_mgr_create();
	assert_non_null(mgr);
	char b1[512];
	char *text = make_config(peer_json(b1, sizeof(b1), "b", "198.18.0.2:5800", "10.254.0.2",
					   0x80000101, KEY_A, 0x80000102, NULL),
				 0, NULL);
	struct ipop_config cfg;
	load(text, &cfg);
	free(text);
	uint32_t next_id = 1;
	struct ctl_peers p;

	/* First start: nothing stored, a reservation is written before use. */
	assert_int_equal(ctl_peers_diff(NULL, &cfg, mgr, &next_id, &p), 0);
	struct dp_sa *out = p.v[0].sa_out;
	assert_int_equal(atomic_load(&out->seq), 0);
	assert_int_equal(read_mark(0x80000102), CTL_SEQ_RESERVE);
	assert_int_equal(atomic_load(&out->seq_limit), CTL_SEQ_RESERVE);

	/* Traffic approaches the limit: the tick extends it on disk first. */
	atomic_store(&out->seq, CTL_SEQ_RESERVE / 2 + 10);
	ctl_peers_seq_extend(&p, state_dir);
	assert_int_equal(read_mark(0x80000102), CTL_SEQ_RESERVE / 2 + 10 + CTL_SEQ_RESERVE);
	assert_int_equal(atomic_load(&out->seq_limit), CTL_SEQ_RESERVE / 2 + 10 + CTL_SEQ_RESERVE);

	/* Clean shutdown stores the exact counter; the next start continues. */
	atomic_store(&out->seq, 123456);
	ctl_peers_seq_final(&p, state_dir);
	assert_int_equal(read_mark(0x80000102), 123456);
	ctl_peers_free(&p);
	assert_int_equal(ctl_peers_diff(NULL, &cfg, mgr, &next_id, &p), 0);
	assert_int_equal(atomic_load(&p.v[0].sa_out->seq), 123456);
	assert_int_equal(read_mark(0x80000102), 123456 + CTL_SEQ_RESERVE);
	ctl_peers_free(&p);

	/* A crash (no final store) resumes at the reservation: never reused. */
	assert_int_equal(ctl_peers_diff(NULL, &cfg, mgr, &next_id, &p), 0);
	assert_int_equal(atomic_load(&p.v[0].sa_out->seq), 123456 + CTL_SEQ_RESERVE);
	ctl_peers_free(&p);

	/* A corrupt mark: the peer is refused rather than risking nonce reuse. */
	char path[600];
	snprintf(path, sizeof(path), "%s/seq-80000102", state_dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(ctl_peers_diff(NULL, &cfg, mgr, &next_id, &p), -EBADMSG);
	unlink(path);

	ipop_config_free(&cfg);
	dp_crypto_mgr_destroy(mgr);
}

static int remove_state_dir(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	if (!mkdtemp(state_dir)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_persistence),
	    cmocka_unit_test(test_diff_keeps_unchanged),
	    cmocka_unit_test(test_diff_abort),
	    cmocka_unit_test(test_build_table),
	};
	return cmocka_run_group_tests(tests, NULL, remove_state_dir);
}
