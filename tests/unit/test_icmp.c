/* "Packet too big" answers (dataplane/icmp.c): ICMPv4 type 3 code 4 for DF
 * packets, ICMPv6 type 2, with the overlay MTU, our addresses, the sender's
 * MAC, the quote and checksums checked against an independent computation;
 * no answer for IPv4 without DF; and the pipeline hands the answer to the
 * host instead of dropping the packet silently. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dataplane/esp.h"
#include "dataplane/icmp.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"
#include "offload_frames.h"

static const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 1}, router_mac[6] = {2, 0, 0, 0, 0, 0xfe};
static struct dp_table *table;
static struct dp_pool pool;
static struct tf_frame tf, orig;

static int setup(void **state)
{
	(void)state;
	struct dp_table_params prm = {.mode = DP_MODE_L3, .mtu = 1400};
	memcpy(prm.host_mac, host_mac, 6);
	memcpy(prm.router_mac, router_mac, 6);
	prm.vip4 = htonl(0x0afe0001);
	prm.vip6[0] = 0xfd, prm.vip6[1] = 0x50, prm.vip6[15] = 1;
	table = dp_table_create(&prm, 1, 1, 1, 0);
	if (!table)
		return -1;
	dp_table_seal(table);
	return dp_pool_init(&pool, 16);
}

static int teardown(void **state)
{
	(void)state;
	dp_table_free(table);
	dp_pool_fini(&pool);
	return 0;
}

/* A routed-out packet: data at the IP header, Ethernet in front. */
static struct dp_pkt *routed(bool v6, size_t payload, bool df)
{
	struct tf_spec s = {.v6 = v6, .udp = true, .payload = payload, .tag = 4};
	tf_build(&tf, &s);
	memcpy(tf.f + 6, "\x02\xaa\xbb\xcc\xdd\xee", 6); /* the sender's MAC */
	if (!v6 && !df) {
		tf.f[14 + 6] = 0;
		tf_wr16(tf.f + 14 + 10, 0);
		tf_wr16(tf.f + 14 + 10, (uint16_t)~tf_fold(tf_sum(tf.f + 14, 20, 0)));
	}
	orig = tf;
	struct dp_pkt *p = dp_pool_get(&pool);
	memcpy(p->data, tf.f, tf.len);
	p->data += 14;
	p->len = (uint16_t)(tf.len - 14);
	p->next_hdr = v6 ? DP_ESP_NH_IPV6 : DP_ESP_NH_IPV4;
	return p;
}

static void test_v4(void **state)
{
	(void)state;
	struct dp_pkt *p = routed(false, 1500, true);
	assert_true(dp_icmp_too_big(table, p));
	const uint8_t *f = p->data, *ip = f + 14, *icmp = ip + 20;
	assert_int_equal(p->len, 14 + 576);
	assert_memory_equal(f, orig.f + 6, 6); /* back to the sender's MAC */
	assert_memory_equal(f + 6, router_mac, 6);
	assert_int_equal(tf_rd16(f + 12), 0x0800);
	assert_int_equal(tf_rd16(ip + 2), 576);
	assert_int_equal(ip[9], 1);
	assert_memory_equal(ip + 12, orig.f + 14 + 16, 4); /* from the destination */
	assert_memory_equal(ip + 16, orig.f + 14 + 12, 4);
	assert_int_equal(tf_fold(tf_sum(ip, 20, 0)), 0xffff);
	assert_int_equal(icmp[0], 3);
	assert_int_equal(icmp[1], 4);
	assert_int_equal(tf_rd16(icmp + 6), 1400);
	assert_int_equal(tf_fold(tf_sum(icmp, 576 - 20, 0)), 0xffff);
	assert_memory_equal(icmp + 8, orig.f + 14, 548); /* the quote */
	dp_pool_put(&pool, p);

	/* without DF: no answer, the packet untouched */
	p = routed(false, 1500, false);
	assert_false(dp_icmp_too_big(table, p));
	assert_memory_equal(p->data, orig.f + 14, p->len);
	dp_pool_put(&pool, p);
}

static void test_v6(void **state)
{
	(void)state;
	struct dp_pkt *p = routed(true, 3000, true);
	assert_true(dp_icmp_too_big(table, p));
	const uint8_t *ip = p->data + 14, *icmp = ip + 40;
	assert_int_equal(p->len, 14 + 1280);
	assert_int_equal(tf_rd16(p->data + 12), 0x86dd);
	assert_int_equal(tf_rd16(ip + 4), 1240);
	assert_int_equal(ip[6], 58);
	assert_memory_equal(ip + 8, orig.f + 14 + 24, 16);
	assert_memory_equal(ip + 24, orig.f + 14 + 8, 16);
	assert_int_equal(icmp[0], 2);
	assert_int_equal(tf_rd16(icmp + 6), 1400);
	assert_int_equal(tf_l4_verify(ip, true, 58, icmp, 1240), 0xffff);
	assert_memory_equal(icmp + 8, orig.f + 14, 1232);
	dp_pool_put(&pool, p);

	/* a short packet is quoted whole */
	p = routed(true, 1000, true);
	size_t len = p->len;
	assert_true(dp_icmp_too_big(table, p));
	assert_int_equal(p->len, 14 + 48 + len);
	dp_pool_put(&pool, p);
}

/* Through the pipeline: the answer goes to the host, counted. */
static void test_pipeline(void **state)
{
	(void)state;
	static struct dp_burst out;
	struct dp_counters c;
	IMB_MGR *mgr = dp_crypto_mgr_create();
	uint8_t k[DP_SA_KEYMAT_LEN] = {1};
	struct dp_sa *sa = dp_sa_create(mgr, 0x80000001u, k, 1);
	struct dp_link link = {.id = 1};
	struct net_endpoint ep = {
	    .addr = {[10] = 0xff, 0xff, 198, 18, 0, 2}, .port = 5800, .family = AF_INET};
	struct dp_table_params prm = table->p;
	struct dp_table *t = dp_table_create(&prm, 1, 1, 1, 0);
	dp_table_set_link(t, 0, &link, sa, &ep);
	struct net_prefix r = {.family = AF_INET, .len = 24};
	r.addr[10] = r.addr[11] = 0xff, r.addr[12] = 10, r.addr[13] = 254;
	dp_table_add_route(t, &r, 0);
	dp_table_seal(t);

	memset(&c, 0, sizeof(c));
	struct dp_ctx ctx = {.table = t, .mgr = mgr, .pool = &pool, .counters = &c};
	struct dp_pkt *p = routed(false, 1500, true);
	p->data -= 14; /* as read from the TAP */
	p->len += 14;
	p->next_hdr = 0;
	dp_burst_clear(&out);
	dp_pipeline_from_host(&ctx, &p, 1, &out);
	assert_int_equal(out.n_net, 0);
	assert_int_equal(out.n_host, 1);
	assert_int_equal(out.host[0]->data[14 + 20], 3);
	assert_int_equal(c.icmp_too_big, 1);
	assert_int_equal(c.drops[DP_DROP_TOO_BIG], 1);
	dp_pool_put_bulk(&pool, out.host, out.n_host);
	assert_int_equal(pool.avail, 16);
	dp_table_free(t);
	dp_sa_destroy(sa);
	dp_crypto_mgr_destroy(mgr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v4),
	    cmocka_unit_test(test_v6),
	    cmocka_unit_test(test_pipeline),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
