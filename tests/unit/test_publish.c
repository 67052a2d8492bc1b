/* Table handoff control → workers and QSBR reclamation
 * (control/table/publish.c), with real worker threads (dp_worker_start) on
 * a fake in-memory backend (fake_worker.h).
 *
 * Freed objects are never really freed while workers run: the test's free
 * functions poison them (version / link id = POISON) and keep them in a
 * graveyard, so a worker that still dereferences a retired table or link
 * sees the poison deterministically instead of undefined behaviour. The
 * worker-side check lives in the fake backend's rx functions, which the
 * worker loop calls right after adopting tables: the same place the pipeline
 * reads the table.
 */
#include "tests/unit/fake_worker.h"

/* ---- deterministic protocol tests: the test thread plays the worker ---- */

static void test_handoff_order(void **state)
{
	struct ctl_publisher p;
	struct dp_worker w, *wp = &w;
	struct fake_io io;
	struct dp_table *t[6];
	(void)state;

	reset_counts();
	assert_int_equal(ctl_publish_init(&p, 1), 0);
	init_worker(&w, &io, 0, DP_IDLE_BUSY, p.qsbr, -1);
	ctl_publish_attach(&p, &wp, 1);
	rte_rcu_qsbr_thread_online(p.qsbr, 0);

	for (int i = 0; i < 6; i++)
		t[i] = new_table(NULL);

	assert_int_equal(publish(&p, t[0]), 0);
	assert_int_equal(t[0]->version, 1);
	assert_int_equal(ctl_publish_reclaim(&p), 0);
	assert_null(w.table);
	dp_worker_poll_once(&w);
	assert_ptr_equal(w.table, t[0]);
	assert_int_equal(w.counters.tables, 1);

	/* Retired, but the worker has not reported since: not freed. */
	assert_int_equal(publish(&p, t[1]), 0);
	assert_int_equal(ctl_publish_reclaim(&p), 0);
	assert_int_equal(tables_freed, 0);
	assert_ptr_equal(w.table, t[0]);
	dp_worker_poll_once(&w);
	assert_ptr_equal(w.table, t[1]);
	assert_int_equal(ctl_publish_reclaim(&p), 1);
	assert_int_equal(tables_freed, 1);

	/* Two publishes between polls: the newest wins, both old ones go. */
	assert_int_equal(publish(&p, t[2]), 0);
	assert_int_equal(publish(&p, t[3]), 0);
	assert_int_equal(ctl_publish_reclaim(&p), 0);
	dp_worker_poll_once(&w);
	assert_ptr_equal(w.table, t[3]);
	assert_int_equal(w.counters.tables, 3);
	assert_int_equal(ctl_publish_reclaim(&p), 2);
	assert_int_equal(tables_freed, 3);

	/* Other objects wait for the same grace period, in order. */
	void *a = malloc(16), *b = malloc(16);
	assert_int_equal(ctl_publish_defer_free(&p, a, count_free), 0);
	assert_int_equal(ctl_publish_defer_free(&p, b, count_free), 0);
	assert_int_equal(ctl_publish_defer_free(&p, NULL, count_free), 0);
	assert_int_equal(p.nretired, 2);
	assert_int_equal(ctl_publish_reclaim(&p), 0);
	dp_worker_poll_once(&w);
	assert_int_equal(ctl_publish_reclaim(&p), 2);
	assert_int_equal(objs_freed, 2);

	/* An offline worker does not hold anything up, and when it comes
	 * back it adopts the new table before looking at any. */
	rte_rcu_qsbr_thread_offline(p.qsbr, 0);
	assert_int_equal(publish(&p, t[4]), 0);
	assert_int_equal(ctl_publish_reclaim(&p), 1);
	assert_int_equal(t[3]->version, POISON); /* w.table still points there */
	rte_rcu_qsbr_thread_online(p.qsbr, 0);
	dp_worker_poll_once(&w);
	assert_ptr_equal(w.table, t[4]);
	assert_int_equal(io.violations, 0);
	assert_true(io.checks > 0);

	/* Whatever is still retired at fini is freed there. */
	void *c = malloc(16);
	assert_int_equal(publish(&p, t[5]), 0);
	assert_int_equal(ctl_publish_defer_free(&p, c, count_free), 0);
	rte_rcu_qsbr_thread_offline(p.qsbr, 0);
	fini_worker(&w, &io);
	ctl_publish_fini(&p);
	assert_int_equal(tables_freed, 5);
	assert_int_equal(objs_freed, 3);
	empty_graveyard();
}

/* A full table ring refuses the publish as a whole: no worker gets it, the
 * version is not used, the table is freed (ASan: no leak). */
static void test_ring_full(void **state)
{
	struct ctl_publisher p;
	struct dp_worker w[2], *wp[2] = {&w[0], &w[1]};
	struct fake_io io[2];
	(void)state;

	reset_counts();
	assert_int_equal(ctl_publish_init(&p, 2), 0);
	init_worker(&w[0], &io[0], 0, DP_IDLE_BUSY, p.qsbr, -1);
	init_worker(&w[1], &io[1], 1, DP_IDLE_BUSY, p.qsbr, -1);
	ctl_publish_attach(&p, wp, 2);

	/* Fill worker 1's ring only: worker 0 drains as we go. */
	for (unsigned i = 0; i < 63; i++) {
		assert_int_equal(publish(&p, new_table(NULL)), 0);
		dp_worker_poll_once(&w[0]);
	}
	struct dp_table *cur = p.current;
	assert_int_equal(ctl_publish_table(&p, new_table(NULL)), -ENOBUFS);
	assert_ptr_equal(p.current, cur);
	assert_int_equal(p.version, 63);
	assert_int_equal(rte_ring_count(w[0].table_ring), 0);
	assert_int_equal(dp_worker_push_table(&w[1], cur), -ENOBUFS);

	dp_worker_poll_once(&w[1]);
	assert_int_equal(publish(&p, new_table(NULL)), 0);
	assert_int_equal(p.version, 64);
	dp_worker_poll_once(&w[0]);
	dp_worker_poll_once(&w[1]);
	assert_int_equal(w[0].table->version, 64);
	assert_int_equal(w[1].table->version, 64);
	assert_int_equal(w[1].counters.tables, 2); /* adopted only the newest of 63 */

	fini_worker(&w[0], &io[0]);
	fini_worker(&w[1], &io[1]);
	ctl_publish_fini(&p);
	empty_graveyard();
}

/* ---- real threads ---- */

static void wait_until(_Atomic bool *flag, bool want)
{
	uint64_t deadline = now_ms() + 20000;
	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != want && now_ms() < deadline)
		usleep(200);
	assert_true(__atomic_load_n(flag, __ATOMIC_ACQUIRE) == want);
}

static void wait_version(struct fake_io *io, uint64_t v)
{
	uint64_t deadline = now_ms() + 20000;
	while (__atomic_load_n(&io->last_version, __ATOMIC_ACQUIRE) < v && now_ms() < deadline)
		usleep(200);
	assert_int_equal(__atomic_load_n(&io->last_version, __ATOMIC_ACQUIRE), v);
}

/* A worker asleep in its backend's wait is offline: reclamation proceeds
 * without it, and when it wakes it never touches the freed table. */
static void test_sleeping_worker(void **state)
{
	struct ctl_publisher p;
	struct dp_worker w, *wp = &w;
	struct fake_io io;
	uint64_t one = 1;
	(void)state;

	reset_counts();
	assert_int_equal(ctl_publish_init(&p, 1), 0);
	init_worker(&w, &io, 0, DP_IDLE_ADAPTIVE, p.qsbr, -1);
	ctl_publish_attach(&p, &wp, 1);
	assert_int_equal(dp_worker_start(&w), 0);
	assert_int_equal(dp_worker_start(&w), -EALREADY);

	assert_int_equal(publish(&p, new_table(NULL)), 0);
	wait_version(&io, 1);
	__atomic_store_n(&io.gated, true, __ATOMIC_RELEASE);
	wait_until(&io.sleeping, true);

	/* The push pokes wake_fd, which the gated wait ignores: the worker
	 * stays asleep holding a pointer to table 1. */
	assert_int_equal(publish(&p, new_table(NULL)), 0);
	usleep(20000);
	assert_true(__atomic_load_n(&io.sleeping, __ATOMIC_ACQUIRE));
	assert_int_equal(ctl_publish_reclaim(&p), 1);
	assert_int_equal(tables_freed, 1);

	assert_int_equal(write(io.gate_fd, &one, sizeof(one)), sizeof(one));
	wait_version(&io, 2);
	assert_int_equal(io.violations, 0);

	__atomic_store_n(&io.gated, false, __ATOMIC_RELEASE);
	assert_int_equal(write(io.gate_fd, &one, sizeof(one)), sizeof(one));
	dp_worker_stop(&w);
	assert_true(w.counters.idle_sleeps > 0);
	fini_worker(&w, &io);
	ctl_publish_fini(&p);
	empty_graveyard();
}

/* An online worker that does not report (stuck inside a burst) is the one
 * thing that must hold reclamation back. */
static void test_silent_worker_blocks(void **state)
{
	struct ctl_publisher p;
	struct dp_worker w, *wp = &w;
	struct fake_io io;
	(void)state;

	reset_counts();
	assert_int_equal(ctl_publish_init(&p, 1), 0);
	init_worker(&w, &io, 0, DP_IDLE_BUSY, p.qsbr, -1);
	ctl_publish_attach(&p, &wp, 1);
	rte_rcu_qsbr_thread_online(p.qsbr, 0);
	assert_int_equal(publish(&p, new_table(NULL)), 0);
	assert_int_equal(publish(&p, new_table(NULL)), 0);
	usleep(10000);
	assert_int_equal(ctl_publish_reclaim(&p), 0);
	rte_rcu_qsbr_thread_offline(p.qsbr, 0);
	assert_int_equal(ctl_publish_reclaim(&p), 1);

	/* A busy worker thread polls without ever sleeping. */
	assert_int_equal(dp_worker_start(&w), 0);
	wait_version(&io, 2);
	dp_worker_stop(&w);
	dp_worker_stop(&w); /* idempotent */
	assert_int_equal(w.counters.idle_sleeps, 0);
	assert_true(w.counters.loops > 0);
	assert_int_equal(io.violations, 0);
	fini_worker(&w, &io);
	ctl_publish_fini(&p);
	empty_graveyard();
}

static void stress(enum dp_idle idle, unsigned nw, unsigned ntables)
{
	struct ctl_publisher p;
	struct dp_worker w[MAX_WORKERS], *wp[MAX_WORKERS];
	struct fake_io io[MAX_WORKERS];
	struct dp_link *cur_link = NULL;
	unsigned reclaimed_live = 0, refused = 0;

	reset_counts();
	assert_int_equal(ctl_publish_init(&p, nw), 0);
	for (unsigned i = 0; i < nw; i++) {
		init_worker(&w[i], &io[i], i, idle, p.qsbr, -1);
		wp[i] = &w[i];
	}
	ctl_publish_attach(&p, wp, nw);
	for (unsigned i = 0; i < nw; i++)
		assert_int_equal(dp_worker_start(&w[i]), 0);

	uint64_t deadline = now_ms() + 60000;
	for (unsigned v = 1; v <= ntables; v++) {
		struct dp_link *link = new_link();
		int ret;
		while ((ret = publish(&p, new_table(link))) == -ENOBUFS) {
			refused++;
			reclaimed_live += ctl_publish_reclaim(&p);
			sched_yield();
			assert_true(now_ms() < deadline);
		}
		assert_int_equal(ret, 0);
		assert_int_equal(p.version, v);
		/* The old link is no longer reachable from the new table. */
		if (cur_link)
			assert_int_equal(ctl_publish_defer_free(&p, cur_link, poison_link), 0);
		cur_link = link;
		reclaimed_live += ctl_publish_reclaim(&p);
		if (v % 64 == 0)
			sched_yield();
	}

	/* Every worker ends on the last table, and everything else goes. */
	for (unsigned i = 0; i < nw; i++)
		wait_version(&io[i], ntables);
	deadline = now_ms() + 10000;
	while ((tables_freed < ntables - 1 || links_freed < ntables - 1) && now_ms() < deadline) {
		reclaimed_live += ctl_publish_reclaim(&p);
		usleep(500);
	}
	assert_int_equal(tables_freed, ntables - 1);
	assert_int_equal(links_freed, ntables - 1);
	assert_int_equal(p.nretired, 0);
	assert_true(reclaimed_live == 2 * (ntables - 1));

	for (unsigned i = 0; i < nw; i++)
		dp_worker_stop(&w[i]);
	for (unsigned i = 0; i < nw; i++) {
		assert_int_equal(io[i].violations, 0);
		assert_true(io[i].checks > 0);
		assert_true(w[i].counters.tables >= 1);
		if (idle == DP_IDLE_BUSY)
			assert_int_equal(w[i].counters.idle_sleeps, 0);
		assert_int_equal(io[i].host_tx_calls + io[i].net_tx_calls, 0);
		fini_worker(&w[i], &io[i]);
	}
	print_message("%u workers, %s: %u tables, %u refused (ring full), %lu checks on w0\n", nw,
		      idle == DP_IDLE_BUSY ? "busy" : "adaptive", ntables, refused,
		      (unsigned long)io[0].checks);
	ctl_publish_fini(&p);
	free(cur_link);
	empty_graveyard();
}

static void test_stress_busy_2(void **state)
{
	(void)state;
	stress(DP_IDLE_BUSY, 2, 3000);
}

static void test_stress_busy_4(void **state)
{
	(void)state;
	stress(DP_IDLE_BUSY, 4, 3000);
}

static void test_stress_adaptive_2(void **state)
{
	(void)state;
	stress(DP_IDLE_ADAPTIVE, 2, 3000);
}

static void test_stress_adaptive_4(void **state)
{
	(void)state;
	stress(DP_IDLE_ADAPTIVE, 4, 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handoff_order),     cmocka_unit_test(test_ring_full),
	    cmocka_unit_test(test_sleeping_worker),   cmocka_unit_test(test_silent_worker_blocks),
	    cmocka_unit_test(test_stress_busy_2),     cmocka_unit_test(test_stress_busy_4),
	    cmocka_unit_test(test_stress_adaptive_2), cmocka_unit_test(test_stress_adaptive_4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
