/* The stage queue through a worker's loop (dataplane/worker.c calling
 * dp_pipeline_tick) on the fake backend: a packet for a member whose link is
 * marked `stage` is held, sent as soon as the worker adopts a table that
 * gives the link an SA, and dropped after the table's stage_timeout_ms when
 * none comes (the worker's own clock). */
#include "tests/unit/fake_worker.h"

#include <arpa/inet.h>

#include "dataplane/sa.h"

static void script_ip4(struct script_pkt *s, unsigned *n, uint8_t dst_last)
{
	struct script_pkt *e = &s[(*n)++];
	uint8_t *f = e->data, *ip = f + 14;

	memset(e, 0, sizeof(*e));
	f[12] = 0x08, f[13] = 0x00;
	ip[0] = 0x45, ip[3] = 48, ip[8] = 64, ip[9] = 17;
	ip[12] = 10, ip[13] = 9, ip[15] = 1;
	ip[16] = 10, ip[17] = 9, ip[19] = dst_last;
	e->len = 14 + 48;
}

/* One link (the member 10.9.0.2) with or without SA, marked stage. */
static struct dp_table *stage_table(struct dp_link *link, struct dp_sa *sa, uint64_t version,
				    uint32_t timeout_ms)
{
	struct dp_table_params params = {.mode = DP_MODE_L3, .mtu = 1400};
	struct net_endpoint ep;
	struct net_prefix r = {.len = 32, .family = AF_INET};

	params.vip4 = htonl(0x0a090001);
	params.stage_timeout_ms = timeout_ms;
	struct dp_table *t = dp_table_create(&params, 1, 1, 2, 1);
	assert_non_null(t);
	t->version = version;
	assert_int_equal(net_endpoint_parse("198.18.0.2:5800", &ep), 0);
	dp_table_set_link(t, 0, link, sa, &ep);
	dp_table_set_link_stage(t, 0, true);
	r.addr[10] = r.addr[11] = 0xff, r.addr[12] = 10, r.addr[13] = 9, r.addr[15] = 2;
	assert_int_equal(dp_table_add_route(t, &r, 0), 0);
	dp_table_seal(t);
	return t;
}

static void test_stage_flush_on_table(void **state)
{
	static struct script_pkt hs[8];
	struct dp_worker w;
	struct fake_io io;
	struct dp_link link = {.id = 7};
	uint8_t key[DP_SA_KEYMAT_LEN] = {1, 2, 3};
	(void)state;

	init_worker(&w, &io, 0, DP_IDLE_BUSY, NULL, -1);
	io.host_script = hs;
	struct dp_sa *sa = dp_sa_create(w.mgr, 0x80000007u, key, link.id);
	assert_non_null(sa);
	struct dp_table *t1 = stage_table(&link, NULL, 1, 0), *t2 = stage_table(&link, sa, 2, 0);

	assert_int_equal(dp_worker_push_table(&w, t1), 0);
	script_ip4(hs, &io.host_n, 2);
	script_ip4(hs, &io.host_n, 2);
	assert_int_equal(dp_worker_poll_once(&w), 2);
	assert_int_equal(w.counters.staged, 2);
	assert_int_equal(io.net_tx_calls, 0);
	assert_int_equal(link.stats.demand_packets, 2);
	assert_int_equal(dp_worker_poll_once(&w), 0); /* nothing new */
	assert_int_equal(io.net_tx_calls, 0);

	/* The table with the SA: both go out in the loop that adopts it. */
	assert_int_equal(dp_worker_push_table(&w, t2), 0);
	dp_worker_poll_once(&w);
	assert_int_equal(io.net_tx_calls, 1);
	assert_int_equal(w.counters.stage_flushed, 2);
	assert_int_equal(link.stats.tx_packets, 2);
	assert_int_equal(w.pool.avail, w.pool.size);
	assert_int_equal(w.counters.drops[DP_DROP_STAGE_TIMEOUT], 0);

	fini_worker(&w, &io);
	dp_table_free(t1);
	dp_table_free(t2);
	dp_sa_destroy(sa);
}

static void test_stage_timeout_worker_clock(void **state)
{
	static struct script_pkt hs[8];
	struct dp_worker w;
	struct fake_io io;
	struct dp_link link = {.id = 9};
	(void)state;

	init_worker(&w, &io, 0, DP_IDLE_BUSY, NULL, -1);
	io.host_script = hs;
	struct dp_table *t = stage_table(&link, NULL, 1, 20); /* 20 ms */
	assert_int_equal(dp_worker_push_table(&w, t), 0);
	script_ip4(hs, &io.host_n, 2);
	dp_worker_poll_once(&w); /* staged */
	dp_worker_poll_once(&w); /* stamped with the worker's clock */
	assert_int_equal(w.counters.staged, 1);
	uint64_t start = now_ms();
	while (w.counters.drops[DP_DROP_STAGE_TIMEOUT] == 0 && now_ms() - start < 5000)
		dp_worker_poll_once(&w);
	assert_int_equal(w.counters.drops[DP_DROP_STAGE_TIMEOUT], 1);
	assert_true(now_ms() - start >= 15); /* not before its time (ms clock) */
	assert_int_equal(w.pool.avail, w.pool.size);
	assert_int_equal(io.net_tx_calls, 0);
	fini_worker(&w, &io);
	dp_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stage_flush_on_table),
	    cmocka_unit_test(test_stage_timeout_worker_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
