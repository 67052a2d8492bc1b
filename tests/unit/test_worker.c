/* The worker's rings and loop without a network (dataplane/worker.c), the
 * test thread playing the control core on a fake backend (fake_worker.h):
 * ring sizes and bad configurations, a worker without a table, and punts of
 * control and STUN datagrams to the control core.
 */
#include "tests/unit/fake_worker.h"

static void script_add(struct script_pkt *s, unsigned *n, const void *data, uint16_t len,
		       const char *from)
{
	struct script_pkt *e = &s[(*n)++];
	memset(e, 0, sizeof(*e));
	memcpy(e->data, data, len);
	e->len = len;
	assert_int_equal(net_endpoint_parse(from, &e->peer), 0);
}

static void test_init_rings(void **state)
{
	struct ctl_publisher p;
	struct dp_worker w;
	struct fake_io io;
	(void)state;

	assert_int_equal(ctl_publish_init(&p, 2), 0);
	init_worker(&w, &io, 1, DP_IDLE_ADAPTIVE, p.qsbr, -1);
	assert_int_equal(w.burst, DP_BURST_MAX);
	assert_int_equal(rte_ring_get_capacity(w.table_ring), 63);
	assert_int_equal(rte_ring_get_capacity(w.learn_ring), DP_RING_SIZE - 1);
	assert_int_equal(rte_ring_count(w.punt_free_ring), DP_PUNT_SLOTS);
	assert_int_equal(rte_ring_count(w.punt_ring), 0);
	assert_int_equal(w.pool.avail, 256);
	assert_non_null(w.mgr);
	assert_true(w.wake_fd >= 0);

	/* 16-byte learn events go through and come back intact. */
	struct dp_learn_event ev = {.mac = {2, 0, 0, 0, 0, 9}, .link_id = 77}, back;
	assert_int_equal(rte_ring_sp_enqueue_elem(w.learn_ring, &ev, sizeof(ev)), 0);
	assert_int_equal(rte_ring_sc_dequeue_elem(w.learn_ring, &back, sizeof(back)), 0);
	assert_memory_equal(&ev, &back, sizeof(ev));
	fini_worker(&w, &io);

	/* Bad configurations fail cleanly (ASan checks nothing leaks). */
	struct dp_worker_config bad = {.id = 0, .burst = DP_BURST_MAX + 1, .cpu = -1};
	assert_int_equal(dp_worker_init(&w, &bad, &fake_ops, &io, p.qsbr, -1), -EINVAL);
	struct dp_worker_config out_of_range = {.id = 2, .cpu = -1};
	assert_int_equal(dp_worker_init(&w, &out_of_range, &fake_ops, &io, p.qsbr, -1), -EINVAL);
	dp_worker_fini(&w); /* harmless after a failed init */
	ctl_publish_fini(&p);
}

/* Without a table every received packet is dropped as NO_ROUTE; rx is counted
 * once, and every buffer comes back. */
static void test_no_table(void **state)
{
	static struct script_pkt hs[4], ns[4];
	struct dp_worker w;
	struct fake_io io;
	uint8_t frame[60] = {0};
	(void)state;

	init_worker(&w, &io, 0, DP_IDLE_BUSY, NULL, -1);
	io.host_script = hs;
	io.net_script = ns;
	script_add(hs, &io.host_n, frame, 60, "0.0.0.0:1");
	script_add(hs, &io.host_n, frame, 42, "0.0.0.0:1");
	for (int i = 0; i < 3; i++)
		script_add(ns, &io.net_n, "\0\0\0\0ctl", 7, "198.18.0.2:5800");
	assert_int_equal(dp_worker_poll_once(&w), 5);
	assert_int_equal(w.counters.drops[DP_DROP_NO_ROUTE], 5);
	assert_int_equal(w.counters.host_rx_packets, 2);
	assert_int_equal(w.counters.host_rx_bytes, 102);
	assert_int_equal(w.counters.net_rx_packets, 3);
	assert_int_equal(w.counters.net_rx_bytes, 21);
	assert_int_equal(w.counters.loops, 1);
	assert_int_equal(rte_ring_count(w.punt_ring), 0);
	assert_int_equal(w.pool.avail, w.pool.size);
	assert_int_equal(io.host_tx_calls + io.net_tx_calls, 0);
	assert_int_equal(dp_worker_poll_once(&w), 0);
	fini_worker(&w, &io);
}

/* Control and STUN datagrams reach the control core through punt slots, with
 * one notification per burst; garbage and backend-marked packets are counted. */
static void test_punts(void **state)
{
	static struct script_pkt ns[SCRIPT_MAX];
	struct ctl_publisher p;
	struct dp_worker w, *wp = &w;
	struct fake_io io;
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	uint8_t big[1600] = {0};
	uint64_t v;
	void *slot = NULL;
	(void)state;

	int notify = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(notify >= 0);
	assert_int_equal(ctl_publish_init(&p, 1), 0);
	init_worker(&w, &io, 0, DP_IDLE_BUSY, p.qsbr, notify);
	ctl_publish_attach(&p, &wp, 1);
	io.net_script = ns;
	assert_int_equal(publish(&p, new_table(NULL)), 0);

	script_add(ns, &io.net_n, "\0\0\0\0hello", 9, "198.18.0.2:5800");
	script_add(ns, &io.net_n, stun, sizeof(stun), "[2001:db8::5]:3478");
	script_add(ns, &io.net_n, "\x12\x34\x56\x78junk", 8, "198.18.0.3:1");
	script_add(ns, &io.net_n, "\0\0\0\0cut", 7, "198.18.0.4:1");
	ns[io.net_n - 1].drop = DP_DROP_TOO_BIG; /* as kernel.c marks truncation */
	assert_int_equal(dp_worker_poll_once(&w), 4);

	assert_int_equal(rte_ring_count(w.punt_ring), 2);
	assert_int_equal(read(notify, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1); /* once per burst, not per punt */
	assert_int_equal(w.counters.drops[DP_DROP_GARBAGE], 1);
	assert_int_equal(w.counters.drops[DP_DROP_TOO_BIG], 1);
	assert_int_equal(w.counters.net_rx_packets, 4);

	struct net_endpoint ep;
	assert_int_equal(rte_ring_sc_dequeue(w.punt_ring, &slot), 0);
	struct dp_punt *u = slot;
	assert_int_equal(net_endpoint_parse("198.18.0.2:5800", &ep), 0);
	assert_true(net_endpoint_equal(&u->from, &ep));
	assert_int_equal(u->len, 9);
	assert_memory_equal(u->data, "\0\0\0\0hello", 9);
	assert_int_equal(u->worker, 0);
	assert_int_equal(rte_ring_sp_enqueue(w.punt_free_ring, u), 0);
	assert_int_equal(rte_ring_sc_dequeue(w.punt_ring, &slot), 0);
	u = slot;
	assert_int_equal(net_endpoint_parse("[2001:db8::5]:3478", &ep), 0);
	assert_true(net_endpoint_equal(&u->from, &ep));
	assert_int_equal(u->len, 20);
	assert_memory_equal(u->data, stun, 20);
	assert_int_equal(rte_ring_sp_enqueue(w.punt_free_ring, u), 0);
	assert_int_equal(w.pool.avail, w.pool.size);

	/* Nothing punted: no notification. */
	assert_int_equal(dp_worker_poll_once(&w), 0);
	assert_true(read(notify, &v, sizeof(v)) < 0 && errno == EAGAIN);

	/* All slots taken and not returned: further punts are RING_FULL. */
	for (unsigned i = 0; i < DP_PUNT_SLOTS + 3; i++)
		script_add(ns, &io.net_n, "\0\0\0\0x", 5, "198.18.0.2:5800");
	dp_worker_poll_once(&w);
	dp_worker_poll_once(&w);
	assert_int_equal(rte_ring_count(w.punt_ring), DP_PUNT_SLOTS);
	assert_int_equal(w.counters.drops[DP_DROP_RING_FULL], 3);
	assert_int_equal(rte_ring_sc_dequeue(w.punt_ring, &slot), 0);
	assert_int_equal(rte_ring_sp_enqueue(w.punt_free_ring, slot), 0);
	/* An oversized control datagram never overruns a slot. */
	memset(big, 0, 4);
	script_add(ns, &io.net_n, big, sizeof(big), "198.18.0.2:5800");
	script_add(ns, &io.net_n, "\0\0\0\0y", 5, "198.18.0.2:5800");
	dp_worker_poll_once(&w);
	assert_int_equal(w.counters.drops[DP_DROP_TOO_BIG], 2);
	assert_int_equal(rte_ring_count(w.punt_ring), DP_PUNT_SLOTS);
	assert_int_equal(w.pool.avail, w.pool.size);

	fini_worker(&w, &io);
	ctl_publish_fini(&p);
	close(notify);
	empty_graveyard();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rings),
	    cmocka_unit_test(test_no_table),
	    cmocka_unit_test(test_punts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
