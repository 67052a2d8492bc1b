/* A worker core: a poll-mode loop that owns one host-side queue and one
 * underlay socket (through its backend), processes bursts end to end, and
 * adopts new forwarding tables at the top of its loop.
 *
 * Handoff (DESIGN.md): the control core enqueues a `const struct dp_table *`
 * on table_ring and pokes wake_fd. The worker, at the top of each loop, first
 * reports a quiescent state to the QSBR variable and only then drains the ring
 * and adopts the newest table, so a quiescent report made after the control
 * core's rte_rcu_qsbr_start() proves the worker no longer holds the old table.
 * Before sleeping (adaptive idle) it goes offline in QSBR, so a sleeping worker
 * never delays reclamation.
 *
 * Punts: datagrams classified as control/STUN are copied into one of the
 * worker's preallocated dp_punt slots and passed through punt_ring; the
 * control core returns the slot through punt_free_ring. Learn events go
 * through learn_ring. After queuing either, the worker writes notify_fd once
 * per burst.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "dataplane/backend.h"
#include "dataplane/pkt.h"
#include "dataplane/table.h"

struct rte_ring;
struct rte_rcu_qsbr;

enum dp_idle {
	DP_IDLE_ADAPTIVE = 0, /* poll, then sleep on the backend's wait after an idle spell */
	DP_IDLE_BUSY = 1,     /* pure poll */
};

#define DP_PUNT_SLOTS    64
#define DP_PUNT_DATA_MAX 1500
#define DP_RING_SIZE     1024 /* learn ring; table and punt rings are smaller */

struct dp_punt {
	struct net_endpoint from;
	uint16_t len;
	uint16_t worker;
	uint8_t data[DP_PUNT_DATA_MAX];
};

struct dp_worker_config {
	unsigned id;
	unsigned burst; /* 1..DP_BURST_MAX, default 32 */
	enum dp_idle idle;
	int cpu;        /* CPU to pin to, or -1 */
	uint32_t pool_size;
};

struct dp_worker {
	unsigned id;
	unsigned burst;
	enum dp_idle idle;
	int cpu;
	pthread_t thread;
	bool started;
	const struct dp_backend_ops *ops;
	void *io;

	struct rte_ring *table_ring;     /* control → worker: const struct dp_table * */
	struct rte_ring *learn_ring;     /* worker → control: struct dp_learn_event */
	struct rte_ring *punt_ring;      /* worker → control: struct dp_punt * */
	struct rte_ring *punt_free_ring; /* control → worker: struct dp_punt * */
	struct dp_punt *punts;
	struct rte_rcu_qsbr *qsbr;
	int wake_fd;   /* eventfd owned by the worker: control pokes it */
	int notify_fd; /* eventfd owned by the control core: worker pokes it */
	_Atomic bool stop;

	const struct dp_table *table; /* current; NULL until the first table arrives */
	IMB_MGR *mgr;
	struct dp_pool pool;
	struct dp_counters counters;
};

/* Allocates the worker's rings, pool, punt slots, crypto manager and wake_fd,
 * and registers it with qsbr (thread id = cfg->id). 0 or -errno. */
int dp_worker_init(struct dp_worker *w, const struct dp_worker_config *cfg,
		   const struct dp_backend_ops *ops, void *io, struct rte_rcu_qsbr *qsbr,
		   int notify_fd);
int dp_worker_start(struct dp_worker *w);
/* Sets stop, pokes wake_fd, joins. Safe to call on a worker never started. */
void dp_worker_stop(struct dp_worker *w);
/* Frees everything dp_worker_init allocated. The worker must be stopped. */
void dp_worker_fini(struct dp_worker *w);

/* Control side: hands a table to the worker (enqueue + poke). 0 or -ENOBUFS. */
int dp_worker_push_table(struct dp_worker *w, const struct dp_table *t);

/* The loop body, exposed for tests: one iteration (quiescent report, table
 * adoption, one host burst and one net burst). Returns packets processed. */
unsigned dp_worker_poll_once(struct dp_worker *w);
