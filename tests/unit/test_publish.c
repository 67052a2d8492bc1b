/* Table handoff control → workers and QSBR reclamation, with real worker
 * threads (dp_worker_start) on a fake in-memory backend.
 *
 * Freed objects are never really freed while workers run: the test's free
 * functions poison them (version / link id = POISON) and keep them in a
 * graveyard, so a worker that still dereferences a retired table or link
 * sees the poison deterministically instead of undefined behaviour. The
 * worker-side check lives in the fake backend's rx functions, which the
 * worker loop calls right after adopting tables: the same place the pipeline
 * reads the table.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <cmocka.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/table/publish.h"
#include "dataplane/l2.h"
#include "dataplane/worker.h"

#define POISON	    0xdeaddeaddeaddeadull
#define LINK_LIVE   0x11feu
#define LINK_POISON 0xdeadu
#define MAX_WORKERS 4
#define SCRIPT_MAX  80

struct script_pkt {
	uint8_t data[1600];
	uint16_t len;
	uint8_t drop;
	struct net_endpoint peer;
};

struct fake_io {
	struct dp_worker *w;
	/* worker-side canary checks */
	_Atomic uint64_t last_version;
	_Atomic unsigned violations;
	_Atomic unsigned long checks;
	/* scripted rx (deterministic tests, driven from the test thread) */
	struct script_pkt *host_script, *net_script;
	unsigned host_n, net_n;
	_Atomic unsigned host_tx_calls, net_tx_calls;
	/* gated wait: ignores wake_fd and blocks until gate_fd is poked */
	_Atomic bool gated;
	int gate_fd;
	_Atomic bool sleeping;
	_Atomic unsigned waits;
};

static void check_table(struct fake_io *io)
{
	const struct dp_table *t = io->w->table;
	if (!t)
		return;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t v = __atomic_load_n(&t->version, __ATOMIC_ACQUIRE);
		const struct dp_link *l = t->nlinks ? t->links[0].link : NULL;
		if (v == POISON)
			io->violations++;
		else if (v < io->last_version)
			io->violations++; /* must only ever move to newer tables */
		else
			__atomic_store_n(&io->last_version, v, __ATOMIC_RELEASE);
		if (l && __atomic_load_n(&l->id, __ATOMIC_ACQUIRE) == LINK_POISON)
			io->violations++;
		/* Hold the table a little, as a burst would, then look again. */
		for (volatile int spin = 0; spin < 100; spin++)
			;
	}
	io->checks++;
}

static unsigned script_rx(struct dp_pool *pool, struct script_pkt *s, unsigned *n,
			  struct dp_pkt **pkts, unsigned max)
{
	unsigned k = *n < max ? *n : max;
	for (unsigned i = 0; i < k; i++) {
		struct dp_pkt *p = dp_pool_get(pool);
		assert_non_null(p);
		memcpy(p->data, s[i].data, s[i].len);
		p->len = s[i].len;
		p->drop = s[i].drop;
		p->peer = s[i].peer;
		pkts[i] = p;
	}
	memmove(s, s + k, (*n - k) * sizeof(*s));
	*n -= k;
	return k;
}

static unsigned fake_host_rx(void *io_, struct dp_pool *pool, struct dp_pkt **pkts, unsigned max)
{
	struct fake_io *io = io_;
	check_table(io);
	return io->host_n ? script_rx(pool, io->host_script, &io->host_n, pkts, max) : 0;
}

static unsigned fake_net_rx(void *io_, struct dp_pool *pool, struct dp_pkt **pkts, unsigned max)
{
	struct fake_io *io = io_;
	check_table(io);
	return io->net_n ? script_rx(pool, io->net_script, &io->net_n, pkts, max) : 0;
}

static void fake_host_tx(void *io_, struct dp_pool *pool, struct dp_counters *c,
			 struct dp_pkt **pkts, unsigned n)
{
	struct fake_io *io = io_;
	(void)c;
	io->host_tx_calls++;
	dp_pool_put_bulk(pool, pkts, n);
}

static void fake_net_tx(void *io_, struct dp_pool *pool, struct dp_counters *c,
			struct dp_pkt **pkts, unsigned n)
{
	struct fake_io *io = io_;
	(void)c;
	io->net_tx_calls++;
	dp_pool_put_bulk(pool, pkts, n);
}

static int fake_wait(void *io_, int wake_fd, int timeout_ms)
{
	struct fake_io *io = io_;
	io->waits++;
	if (__atomic_load_n(&io->gated, __ATOMIC_ACQUIRE)) {
		struct pollfd g = {.fd = io->gate_fd, .events = POLLIN};
		uint64_t v;
		__atomic_store_n(&io->sleeping, true, __ATOMIC_RELEASE);
		poll(&g, 1, 10000);
		__atomic_store_n(&io->sleeping, false, __ATOMIC_RELEASE);
		if (read(io->gate_fd, &v, sizeof(v)) < 0) {
			/* timeout */
		}
		return 0;
	}
	struct pollfd p = {.fd = wake_fd, .events = POLLIN};
	poll(&p, 1, timeout_ms);
	return 0;
}

static const struct dp_backend_ops fake_ops = {
    .name = "fake",
    .host_rx = fake_host_rx,
    .host_tx = fake_host_tx,
    .net_rx = fake_net_rx,
    .net_tx = fake_net_tx,
    .wait = fake_wait,
};

/* ---- poisoning free functions and the graveyard ---- */

static struct dp_table *dead_tables[8192];
static struct dp_link *dead_links[8192];
static unsigned ndead_tables, ndead_links;
static _Atomic unsigned tables_freed, links_freed, objs_freed;

static void poison_table(void *obj)
{
	struct dp_table *t = obj;
	__atomic_store_n(&t->version, POISON, __ATOMIC_RELEASE);
	assert_true(ndead_tables < sizeof(dead_tables) / sizeof(dead_tables[0]));
	dead_tables[ndead_tables++] = t;
	tables_freed++;
}

static void poison_link(void *obj)
{
	struct dp_link *l = obj;
	__atomic_store_n(&l->id, LINK_POISON, __ATOMIC_RELEASE);
	assert_true(ndead_links < sizeof(dead_links) / sizeof(dead_links[0]));
	dead_links[ndead_links++] = l;
	links_freed++;
}

static void count_free(void *obj)
{
	objs_freed++;
	free(obj);
}

static void empty_graveyard(void)
{
	for (unsigned i = 0; i < ndead_tables; i++)
		dp_table_free(dead_tables[i]);
	for (unsigned i = 0; i < ndead_links; i++)
		free(dead_links[i]);
	ndead_tables = ndead_links = 0;
}

static struct dp_table *new_table(struct dp_link *link)
{
	struct dp_table_params params = {.mode = DP_MODE_L3, .mtu = 1400};
	struct dp_table *t = dp_table_create(&params, 1, 1, 1, 1);
	assert_non_null(t);
	dp_table_set_link(t, 0, link, NULL, NULL);
	dp_table_seal(t);
	return t;
}

static struct dp_link *new_link(void)
{
	struct dp_link *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	__atomic_store_n(&l->id, LINK_LIVE, __ATOMIC_RELEASE);
	return l;
}

/* Publishes t and routes its predecessor to the poisoning free function. */
static int publish(struct ctl_publisher *p, struct dp_table *t)
{
	struct dp_table *old = p->current;
	unsigned before = p->nretired;
	int ret = ctl_publish_table(p, t);
	if (ret < 0)
		return ret;
	assert_ptr_equal(p->current, t);
	assert_int_equal(t->version, p->version);
	if (old) {
		assert_int_equal(p->nretired, before + 1);
		assert_ptr_equal(p->retired[p->nretired - 1].obj, old);
		p->retired[p->nretired - 1].free_fn = poison_table;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reset_counts(void)
{
	tables_freed = links_freed = objs_freed = 0;
	empty_graveyard();
}

static void init_worker(struct dp_worker *w, struct fake_io *io, unsigned id, enum dp_idle idle,
			struct rte_rcu_qsbr *qsbr, int notify_fd)
{
	struct dp_worker_config cfg = {
	    .id = id, .burst = DP_BURST_MAX, .idle = idle, .cpu = -1, .pool_size = 256};
	memset(io, 0, sizeof(*io));
	io->gate_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(io->gate_fd >= 0);
	assert_int_equal(dp_worker_init(w, &cfg, &fake_ops, io, qsbr, notify_fd), 0);
	io->w = w;
}

static void fini_worker(struct dp_worker *w, struct fake_io *io)
{
	dp_worker_fini(w);
	close(io->gate_fd);
}

/* ---- deterministic protocol tests: the test thread plays the worker ---- */

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

static void script_add(struct script_pkt *s, unsigned *n, const void *data, uint16_t len,
		       const char *from)
{
	struct script_pkt *e = &s[(*n)++];
	memset(e, 0, sizeof(*e));
	memcpy(e->data, data, len);
	e->len = len;
	assert_int_equal(net_endpoint_parse(from, &e->peer), 0);
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
	    cmocka_unit_test(test_init_rings),
	    cmocka_unit_test(test_handoff_order),
	    cmocka_unit_test(test_ring_full),
	    cmocka_unit_test(test_no_table),
	    cmocka_unit_test(test_punts),
	    cmocka_unit_test(test_sleeping_worker),
	    cmocka_unit_test(test_silent_worker_blocks),
	    cmocka_unit_test(test_stress_busy_2),
	    cmocka_unit_test(test_stress_busy_4),
	    cmocka_unit_test(test_stress_adaptive_2),
	    cmocka_unit_test(test_stress_adaptive_4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
