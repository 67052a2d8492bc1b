/* Worker cores: the poll loop, table adoption and the rings to and from the
 * control core.
 *
 * A worker owns everything it touches on the packet path: its rings (on its
 * own cache-aligned memory, no EAL), its buffer pool, its punt slots, its
 * crypto manager and its counters. The only shared state it reads is the
 * current table, which it takes from table_ring at the top of a loop right
 * after reporting a quiescent state (see worker.h for why that order matters).
 *
 * Receive counters (host_rx_*, net_rx_*) are counted here, once, so every
 * backend gets them for free; transmit counters are counted by the backend's
 * tx functions, which know what was really sent. A backend's rx may hand back
 * packets already marked with a drop reason (for instance a truncated
 * datagram): they are counted and dropped here before the pipeline runs.
 */
#include <stdatomic.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dataplane/l2.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"
#include "dataplane/worker.h"
#include "util/log.h"

#define TABLE_RING_SIZE	  64
#define PUNT_RING_SIZE	  (DP_PUNT_SLOTS * 2)
#define DEFAULT_BURST	  32
#define DEFAULT_POOL_SIZE 4096

#define IDLE_WAIT_MS 100

_Static_assert(sizeof(struct dp_learn_event) == 16, "learn ring element is 16 bytes");
_Static_assert(sizeof(struct dp_inject) % 4 == 0, "rte_ring elements are multiples of 4 bytes");
_Static_assert(sizeof(struct dp_roam_event) % 4 == 0, "rte_ring elements are multiples of 4 bytes");
/* An inject is dequeued in place: header in the headroom, data at p->data. */
#define INJECT_HDR_LEN offsetof(struct dp_inject, data)
_Static_assert(INJECT_HDR_LEN <= DP_HEADROOM && INJECT_HDR_LEN % 4 == 0,
	       "inject header fits the headroom, 4-byte aligned");
_Static_assert(DP_INJECT_DATA_MAX <= DP_BUF_SIZE - DP_HEADROOM, "an inject fits one buffer");
_Static_assert(DP_INJECT_PER_LOOP <= DP_OUT_MAX, "injects fit an output burst");

static struct rte_ring *ring_alloc(const char *name, unsigned esize, unsigned count, unsigned flags)
{
	ssize_t sz = rte_ring_get_memsize_elem(esize, count);
	if (sz < 0) {
		errno = -sz;
		return NULL;
	}
	size_t len = ((size_t)sz + 63) & ~(size_t)63;
	struct rte_ring *r = aligned_alloc(64, len);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	/* The ring header does not record the element size (every elem call
	 * passes it), so plain init on memory sized for esize is all that
	 * rte_ring_create_elem() does too. */
	int ret = rte_ring_init(r, name, count, flags);
	if (ret < 0) {
		free(r);
		errno = -ret;
		return NULL;
	}
	return r;
}

static void worker_free(struct dp_worker *w)
{
	if (w->qsbr)
		rte_rcu_qsbr_thread_unregister(w->qsbr, w->id);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->mgr)
		dp_crypto_mgr_destroy(w->mgr);
	if (w->pool.mem) {
		if (w->ops && w->ops->pool_fini)
			w->ops->pool_fini(w->io, &w->pool);
		else
			dp_pool_fini(&w->pool);
	}
	free(w->punts);
	free(w->inject_ring);
	free(w->punt_free_ring);
	free(w->punt_ring);
	free(w->learn_ring);
	free(w->roam_ring);
	free(w->table_ring);
	w->qsbr = NULL;
	w->wake_fd = -1;
	w->mgr = NULL;
	w->punts = NULL;
	w->inject_ring = w->punt_free_ring = w->punt_ring = w->learn_ring = w->table_ring = NULL;
	w->roam_ring = NULL;
}

int dp_worker_init(struct dp_worker *w, const struct dp_worker_config *cfg,
		   const struct dp_backend_ops *ops, void *io, struct rte_rcu_qsbr *qsbr,
		   int notify_fd)
{
	char name[32];
	int ret;

	memset(w, 0, sizeof(*w));
	w->wake_fd = -1;
	w->notify_fd = notify_fd;
	if (!cfg || !ops || cfg->burst > DP_BURST_MAX)
		return -EINVAL;
	w->id = cfg->id;
	w->burst = cfg->burst ? cfg->burst : DEFAULT_BURST;
	w->idle = cfg->idle;
	w->spin_ns = (uint64_t)(cfg->spin_us ? cfg->spin_us : DP_IDLE_SPIN_US_DEFAULT) * 1000u;
	w->cpu = cfg->cpu;
	w->ops = ops;
	w->io = io;

	snprintf(name, sizeof(name), "w%u_table", w->id);
	w->table_ring =
	    ring_alloc(name, sizeof(void *), TABLE_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_learn", w->id);
	w->learn_ring = ring_alloc(name, sizeof(struct dp_learn_event), DP_RING_SIZE,
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_roam", w->id);
	w->roam_ring = ring_alloc(name, sizeof(struct dp_roam_event), DP_ROAM_RING_SIZE,
				  RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_punt", w->id);
	w->punt_ring =
	    ring_alloc(name, sizeof(void *), PUNT_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_puntfree", w->id);
	/* Multi-producer: the control core returns slots, and the worker puts a
	 * slot back itself if its punt ring ever refuses one. Punts are rare. */
	w->punt_free_ring = ring_alloc(name, sizeof(void *), PUNT_RING_SIZE, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_inject", w->id);
	w->inject_ring = ring_alloc(name, sizeof(struct dp_inject), DP_INJECT_SLOTS,
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!w->table_ring || !w->learn_ring || !w->roam_ring || !w->punt_ring ||
	    !w->punt_free_ring || !w->inject_ring) {
		ret = -errno;
		goto err;
	}

	w->punts = aligned_alloc(64, sizeof(struct dp_punt) * DP_PUNT_SLOTS);
	if (!w->punts) {
		ret = -ENOMEM;
		goto err;
	}
	for (unsigned i = 0; i < DP_PUNT_SLOTS; i++) {
		w->punts[i].worker = (uint16_t)w->id;
		rte_ring_mp_enqueue(w->punt_free_ring, &w->punts[i]);
	}

	if (ops->pool_init) /* the backend's memory (backend.h) */
		ret = ops->pool_init(io, &w->pool);
	else
		ret = dp_pool_init(&w->pool, cfg->pool_size ? cfg->pool_size : DEFAULT_POOL_SIZE);
	if (ret < 0)
		goto err;

	w->mgr = dp_crypto_mgr_create();
	if (!w->mgr) {
		ret = errno ? -errno : -ENOMEM;
		goto err;
	}

	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		ret = -errno;
		goto err;
	}

	if (qsbr) {
		/* 0, or 1 with rte_errno set (thread id out of range). */
		if (rte_rcu_qsbr_thread_register(qsbr, w->id) != 0) {
			ret = -EINVAL;
			goto err;
		}
		w->qsbr = qsbr;
	}
	return 0;

err:
	worker_free(w);
	return ret;
}

static void poke(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the reader will wake. */
	}
}

static void drop_all(struct dp_worker *w, struct dp_pkt **pkts, unsigned n, enum dp_drop reason)
{
	for (unsigned i = 0; i < n; i++)
		DP_COUNT_DROP(&w->counters, reason);
	dp_pool_put_bulk(&w->pool, pkts, n);
}

/* Counts a received burst; removes packets the backend already marked. */
static unsigned count_rx(struct dp_worker *w, struct dp_pkt **pkts, unsigned n, bool host)
{
	uint64_t bytes = 0;
	bool marked = false;

	for (unsigned i = 0; i < n; i++) {
		bytes += pkts[i]->len;
		marked |= pkts[i]->drop != DP_DROP_NONE;
	}
	if (host) {
		DP_COUNT(&w->counters, host_rx_packets, n);
		DP_COUNT(&w->counters, host_rx_bytes, bytes);
	} else {
		DP_COUNT(&w->counters, net_rx_packets, n);
		DP_COUNT(&w->counters, net_rx_bytes, bytes);
	}
	if (unlikely(marked))
		n = dp_burst_compact(pkts, n, &w->pool, &w->counters);
	return n;
}

/* Hands punted datagrams to the control core. Returns how many were queued. */
static unsigned punt_out(struct dp_worker *w, struct dp_pkt **pkts, unsigned n)
{
	unsigned queued = 0;

	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		void *slot;

		if (unlikely(p->len > DP_PUNT_DATA_MAX)) {
			DP_COUNT_DROP(&w->counters, DP_DROP_TOO_BIG);
			continue;
		}
		if (unlikely(rte_ring_sc_dequeue(w->punt_free_ring, &slot) != 0)) {
			DP_COUNT_DROP(&w->counters, DP_DROP_RING_FULL);
			continue;
		}
		struct dp_punt *u = slot;
		u->from = p->peer;
		u->len = p->len;
		u->worker = (uint16_t)w->id;
		memcpy(u->data, p->data, p->len);
		/* Cannot fail while the ring holds more than DP_PUNT_SLOTS, but
		 * never lose a slot if it does. */
		if (unlikely(rte_ring_sp_enqueue(w->punt_ring, u) != 0)) {
			rte_ring_mp_enqueue(w->punt_free_ring, u);
			DP_COUNT_DROP(&w->counters, DP_DROP_RING_FULL);
			continue;
		}
		queued++;
	}
	/* `punted` is the pipeline's count (it decided to punt); a punt lost
	 * here is additionally counted as a drop. */
	dp_pool_put_bulk(&w->pool, pkts, n);
	return queued;
}

/* Sends what the pipeline produced. Returns the number of punts queued. */
static unsigned flush(struct dp_worker *w, struct dp_burst *out)
{
	unsigned punted = 0;

	if (out->n_net)
		w->ops->net_tx(w->io, &w->pool, &w->counters, out->net, out->n_net);
	if (out->n_host)
		w->ops->host_tx(w->io, &w->pool, &w->counters, out->host, out->n_host);
	if (out->n_punt)
		punted = punt_out(w, out->punt, out->n_punt);
	dp_burst_clear(out);
	return punted;
}

/* Moves queued injects into pool buffers and onto out->net, where the host
 * burst's output joins them and one net_tx sends all. Returns how many. */
static unsigned inject_drain(struct dp_worker *w, struct dp_burst *out)
{
	unsigned n = rte_ring_count(w->inject_ring);
	unsigned got = 0;

	if (likely(n == 0))
		return 0;
	if (n > DP_INJECT_PER_LOOP)
		n = DP_INJECT_PER_LOOP;
	for (; got < n; got++) {
		/* Pool empty: leave the rest queued for a later loop. */
		struct dp_pkt *p = dp_pool_get(&w->pool);
		if (unlikely(!p))
			break;
		struct dp_inject *e = (struct dp_inject *)(p->data - INJECT_HDR_LEN);
		if (unlikely(rte_ring_sc_dequeue_elem(w->inject_ring, e, sizeof(*e)) != 0)) {
			dp_pool_put(&w->pool, p);
			break;
		}
		/* e overlaps p's headroom: read it before anything reuses it. */
		p->peer = e->to;
		p->len = e->len;
		out->net[out->n_net++] = p;
	}
	DP_COUNT(&w->counters, injected, got);
	return got;
}

static void adopt_tables(struct dp_worker *w)
{
	void *t[TABLE_RING_SIZE];
	unsigned n = rte_ring_sc_dequeue_burst(w->table_ring, t, TABLE_RING_SIZE, NULL);

	if (n) {
		w->table = t[n - 1];
		DP_COUNT(&w->counters, tables, 1);
	}
}

static uint64_t now_ns(void);

unsigned dp_worker_poll_once(struct dp_worker *w)
{
	struct dp_pkt *pkts[DP_BURST_MAX];
	struct dp_burst out;
	uint64_t events = w->counters.learn_events + w->counters.roam_events;
	unsigned punted = 0, total = 0, n;
	uint64_t tsc = rte_rdtsc();

	/* Quiescent first, then adopt: whatever the control core retired before
	 * the token we just acknowledged was replaced in the ring before that
	 * token was taken, so after adopt_tables() we hold none of it. */
	if (likely(w->qsbr != NULL))
		rte_rcu_qsbr_quiescent(w->qsbr, w->id);
	adopt_tables(w);

	const struct dp_table *table = w->table;
	struct dp_ctx ctx = {
	    .table = table,
	    .mgr = w->mgr,
	    .pool = &w->pool,
	    .counters = &w->counters,
	    .learn_ring = w->learn_ring,
	    .roam_ring = w->roam_ring,
	    .ov = &w->ov,
	};
	dp_burst_clear(&out);
	/* Injects need no table: they are sent even before the first one. */
	total += inject_drain(w, &out);
	if (table && dp_pipeline_tick_due(&ctx)) /* staged packets (#11) */
		dp_pipeline_tick(&ctx, now_ns() / 1000000u, &out);

	n = w->ops->host_rx(w->io, &w->pool, &w->counters, pkts, w->burst);
	if (n) {
		total += n;
		n = count_rx(w, pkts, n, true);
		if (unlikely(!table)) {
			drop_all(w, pkts, n, DP_DROP_NO_ROUTE);
		} else if (n) {
			dp_pipeline_from_host(&ctx, pkts, n, &out);
		}
	}
	/* Injects alone, or with the host burst's output: one net_tx. */
	if (out.n_net || out.n_host || out.n_punt)
		punted += flush(w, &out);

	n = w->ops->net_rx(w->io, &w->pool, &w->counters, pkts, w->burst);
	if (n) {
		total += n;
		n = count_rx(w, pkts, n, false);
		if (unlikely(!table)) {
			drop_all(w, pkts, n, DP_DROP_NO_ROUTE);
		} else if (n) {
			dp_pipeline_from_net(&ctx, pkts, n, &out);
			punted += flush(w, &out);
		}
	}

	if (punted || w->counters.learn_events + w->counters.roam_events != events)
		poke(w->notify_fd);
	DP_COUNT(&w->counters, loops, 1);
	if (total)
		DP_COUNT(&w->counters, busy_cycles, rte_rdtsc() - tsc);
	return total;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	/* vDSO: no kernel crossing, and only read while the worker is idle. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void idle_sleep(struct dp_worker *w)
{
	uint64_t v;

	/* Offline: a sleeping worker must not hold up reclamation. Its table
	 * pointer may be freed meanwhile; the next loop reports quiescent and
	 * drains table_ring before touching any table. */
	if (w->qsbr)
		rte_rcu_qsbr_thread_offline(w->qsbr, w->id);
	/* Dekker with dp_worker_inject(): we store `sleeping` then load the
	 * ring, it stores the ring then loads `sleeping`, each with a full
	 * fence between. Either we see its element here, or it sees the flag
	 * and pokes wake_fd (which stays readable until we read it below). */
	atomic_store_explicit(&w->sleeping, true, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (rte_ring_count(w->inject_ring) == 0) {
		int ret = w->ops->wait(w->io, w->wake_fd, IDLE_WAIT_MS);
		if (unlikely(ret < 0 && ret != -EINTR))
			log_ratelimited(LOG_WARN, "worker %u: backend wait failed: %s", w->id,
					strerror(-ret));
	}
	atomic_store_explicit(&w->sleeping, false, memory_order_relaxed);
	if (read(w->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: woken by traffic or the timeout, not by a poke */
	}
	if (w->qsbr)
		rte_rcu_qsbr_thread_online(w->qsbr, w->id);
	DP_COUNT(&w->counters, idle_sleeps, 1);
}

static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	unsigned empty = 0;
	uint64_t idle_since = 0;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		int ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (ret)
			log_warn("worker %u: cannot pin to CPU %d: %s", w->id, w->cpu,
				 strerror(ret));
	}

	if (w->qsbr)
		rte_rcu_qsbr_thread_online(w->qsbr, w->id);
	while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
		if (dp_worker_poll_once(w)) {
			empty = 0;
			continue;
		}
		/* Busy: never sleep, but let whatever else is runnable on this
		 * CPU (often the application the packets are for) go first (#9). */
		if (w->idle == DP_IDLE_BUSY) {
			sched_yield();
			continue;
		}
		if (empty++ == 0) {
			idle_since = now_ns();
			sched_yield();
			continue;
		}
		if (now_ns() - idle_since < w->spin_ns) {
			sched_yield();
			continue;
		}
		idle_sleep(w);
		empty = 0;
	}
	if (w->qsbr)
		rte_rcu_qsbr_thread_offline(w->qsbr, w->id);
	return NULL;
}

int dp_worker_start(struct dp_worker *w)
{
	char name[16];
	int ret;

	if (w->started)
		return -EALREADY;
	atomic_store_explicit(&w->stop, false, memory_order_relaxed);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret)
		return -ret;
	w->started = true;
	snprintf(name, sizeof(name), "ipopd-w%u", w->id);
	pthread_setname_np(w->thread, name);
	return 0;
}

void dp_worker_stop(struct dp_worker *w)
{
	if (!w->started)
		return;
	atomic_store_explicit(&w->stop, true, memory_order_release);
	poke(w->wake_fd);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void dp_worker_fini(struct dp_worker *w)
{
	dp_worker_stop(w);
	worker_free(w);
	w->table = NULL;
}

int dp_worker_push_table(struct dp_worker *w, const struct dp_table *t)
{
	if (rte_ring_sp_enqueue(w->table_ring, (void *)t) != 0)
		return -ENOBUFS;
	poke(w->wake_fd);
	return 0;
}

int dp_worker_inject(struct dp_worker *w, const struct net_endpoint *to, const void *buf,
		     size_t len)
{
	struct dp_inject e;

	if (len == 0 || len > DP_INJECT_DATA_MAX)
		return -EMSGSIZE;
	e.to = *to;
	e.len = (uint16_t)len;
	e.reserved = 0;
	memcpy(e.data, buf, len);
	/* The ring copies the whole element, tail bytes past len included
	 * (never sent): 1.5 KB of memcpy is cheap next to a syscall, and one
	 * fixed size keeps the ring trivial. */
	if (rte_ring_sp_enqueue_elem(w->inject_ring, &e, sizeof(e)) != 0) {
		atomic_fetch_add_explicit(&w->inject_full, 1, memory_order_relaxed);
		return -ENOBUFS;
	}
	atomic_thread_fence(memory_order_seq_cst); /* see idle_sleep() */
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed))
		poke(w->wake_fd);
	return 0;
}
