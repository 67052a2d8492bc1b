/* A fake in-memory backend for worker threads, and free functions that
 * poison retired tables and links into a graveyard (test_publish.c,
 * test_worker.c). */
#pragma once
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

static __attribute__((unused)) void check_table(struct fake_io *io)
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

static __attribute__((unused)) unsigned script_rx(struct dp_pool *pool, struct script_pkt *s,
						  unsigned *n, struct dp_pkt **pkts, unsigned max)
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

static __attribute__((unused)) unsigned fake_host_rx(void *io_, struct dp_pool *pool,
						     struct dp_pkt **pkts, unsigned max)
{
	struct fake_io *io = io_;
	check_table(io);
	return io->host_n ? script_rx(pool, io->host_script, &io->host_n, pkts, max) : 0;
}

static __attribute__((unused)) unsigned fake_net_rx(void *io_, struct dp_pool *pool,
						    struct dp_pkt **pkts, unsigned max)
{
	struct fake_io *io = io_;
	check_table(io);
	return io->net_n ? script_rx(pool, io->net_script, &io->net_n, pkts, max) : 0;
}

static __attribute__((unused)) void fake_host_tx(void *io_, struct dp_pool *pool,
						 struct dp_counters *c, struct dp_pkt **pkts,
						 unsigned n)
{
	struct fake_io *io = io_;
	(void)c;
	io->host_tx_calls++;
	dp_pool_put_bulk(pool, pkts, n);
}

static __attribute__((unused)) void fake_net_tx(void *io_, struct dp_pool *pool,
						struct dp_counters *c, struct dp_pkt **pkts,
						unsigned n)
{
	struct fake_io *io = io_;
	(void)c;
	io->net_tx_calls++;
	dp_pool_put_bulk(pool, pkts, n);
}

static __attribute__((unused)) int fake_wait(void *io_, int wake_fd, int timeout_ms)
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

static __attribute__((unused)) void poison_table(void *obj)
{
	struct dp_table *t = obj;
	__atomic_store_n(&t->version, POISON, __ATOMIC_RELEASE);
	assert_true(ndead_tables < sizeof(dead_tables) / sizeof(dead_tables[0]));
	dead_tables[ndead_tables++] = t;
	tables_freed++;
}

static __attribute__((unused)) void poison_link(void *obj)
{
	struct dp_link *l = obj;
	__atomic_store_n(&l->id, LINK_POISON, __ATOMIC_RELEASE);
	assert_true(ndead_links < sizeof(dead_links) / sizeof(dead_links[0]));
	dead_links[ndead_links++] = l;
	links_freed++;
}

static __attribute__((unused)) void count_free(void *obj)
{
	objs_freed++;
	free(obj);
}

static __attribute__((unused)) void empty_graveyard(void)
{
	for (unsigned i = 0; i < ndead_tables; i++)
		dp_table_free(dead_tables[i]);
	for (unsigned i = 0; i < ndead_links; i++)
		free(dead_links[i]);
	ndead_tables = ndead_links = 0;
}

static __attribute__((unused)) struct dp_table *new_table(struct dp_link *link)
{
	struct dp_table_params params = {.mode = DP_MODE_L3, .mtu = 1400};
	struct dp_table *t = dp_table_create(&params, 1, 1, 1, 1);
	assert_non_null(t);
	dp_table_set_link(t, 0, link, NULL, NULL);
	dp_table_seal(t);
	return t;
}

static __attribute__((unused)) struct dp_link *new_link(void)
{
	struct dp_link *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	__atomic_store_n(&l->id, LINK_LIVE, __ATOMIC_RELEASE);
	return l;
}

/* Publishes t and routes its predecessor to the poisoning free function. */
static __attribute__((unused)) int publish(struct ctl_publisher *p, struct dp_table *t)
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

static __attribute__((unused)) uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static __attribute__((unused)) void reset_counts(void)
{
	tables_freed = links_freed = objs_freed = 0;
	empty_graveyard();
}

static __attribute__((unused)) void init_worker(struct dp_worker *w, struct fake_io *io,
						unsigned id, enum dp_idle idle,
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

static __attribute__((unused)) void fini_worker(struct dp_worker *w, struct fake_io *io)
{
	dp_worker_fini(w);
	close(io->gate_fd);
}
