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
 * through learn_ring, roam reports (pipeline.h) through roam_ring. After
 * queuing any of these, the worker writes notify_fd once per burst.
 *
 * Injects: the control core's own datagrams (handshakes, cookie replies, ESP
 * keepalives, STUN and TURN requests) leave through the worker too, so they
 * go out of the data port on whatever backend the worker runs and punch the
 * same NAT mappings the data uses. dp_worker_inject() copies the datagram
 * into a fixed-size element of inject_ring (SPSC, control produces); the
 * worker, right after adopting tables, takes up to DP_INJECT_PER_LOOP of them
 * into its own pool buffers and sends them through net_tx together with the
 * host burst's output. Nothing is allocated and no slot travels back.
 *
 * Waking: a worker about to sleep sets `sleeping`, then looks at inject_ring
 * once more; the producer enqueues, then reads `sleeping` and pokes wake_fd
 * only if it is set (both sides fence in between), so a busy worker costs
 * the control core no syscall and a sleeping one cannot miss a datagram.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "dataplane/backend.h"
#include "dataplane/pipeline.h"
#include "dataplane/pkt.h"
#include "dataplane/table.h"

struct rte_ring;
struct rte_rcu_qsbr;

enum dp_idle {
	DP_IDLE_ADAPTIVE = 0, /* poll, then sleep on the backend's wait after an idle spell */
	DP_IDLE_BUSY = 1,     /* pure poll */
};

/* Adaptive: how long a worker keeps polling (yielding the CPU between polls
 * to whatever else is runnable on it) after its last packet before it
 * sleeps. Long enough to catch a request's answer without a wake-up on most
 * paths, short enough to cost little CPU when a link goes quiet (#9). */
#define DP_IDLE_SPIN_US_DEFAULT 30

#define DP_PUNT_SLOTS	  64
#define DP_PUNT_DATA_MAX  1500
#define DP_RING_SIZE	  1024 /* learn ring; table and punt rings are smaller */
#define DP_ROAM_RING_SIZE 64   /* at most one report per link per control tick */

/* The largest datagram the control core sends: STUN_MSG_MAX (the largest,
 * TURN requests included), handshakes are at most 164 bytes, keepalives ~40. */
#define DP_INJECT_DATA_MAX 1500
#define DP_INJECT_SLOTS	   128 /* inject ring entries per worker (~190 KiB) */
#define DP_INJECT_PER_LOOP 32  /* injects sent per loop iteration at most */

struct dp_punt {
	struct net_endpoint from;
	uint16_t len;
	uint16_t worker;
	uint8_t data[DP_PUNT_DATA_MAX];
};

/* One inject ring element, copied by value (its size is a multiple of 4, as
 * rte_ring's element API requires). The worker dequeues it straight into a
 * pool buffer so that `data` lands at the buffer's data offset. */
struct dp_inject {
	struct net_endpoint to;
	uint16_t len;
	uint16_t reserved;
	uint8_t data[DP_INJECT_DATA_MAX];
};

struct dp_worker_config {
	unsigned id;
	unsigned burst; /* 1..DP_BURST_MAX, default 32 */
	enum dp_idle idle;
	unsigned spin_us; /* adaptive: poll this long after the last packet; 0 = default */
	int cpu;	  /* CPU to pin to, or -1 */
	uint32_t pool_size;
};

struct dp_worker {
	unsigned id;
	unsigned burst;
	enum dp_idle idle;
	uint64_t spin_ns;
	int cpu;
	pthread_t thread;
	bool started;
	const struct dp_backend_ops *ops;
	void *io;

	struct rte_ring *table_ring;	 /* control → worker: const struct dp_table * */
	struct rte_ring *learn_ring;	 /* worker → control: struct dp_learn_event */
	struct rte_ring *roam_ring;	 /* worker → control: struct dp_roam_event */
	struct rte_ring *punt_ring;	 /* worker → control: struct dp_punt * */
	struct rte_ring *punt_free_ring; /* control → worker: struct dp_punt * */
	struct rte_ring *inject_ring;	 /* control → worker: struct dp_inject (by value) */
	struct dp_punt *punts;
	struct rte_rcu_qsbr *qsbr;
	int wake_fd;   /* eventfd owned by the worker: control pokes it */
	int notify_fd; /* eventfd owned by the control core: worker pokes it */
	_Atomic bool stop;
	_Atomic bool sleeping;	      /* set while in (or about to enter) the idle wait */
	_Atomic uint64_t inject_full; /* written by the control core: injects refused, ring full */

	const struct dp_table *table; /* current; NULL until the first table arrives */
	IMB_MGR *mgr;
	struct dp_pool pool;
	struct dp_counters counters;
	struct dp_overlay ov; /* the pipeline's stage queue and flood plan cache */
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

/* Control side (the single producer): queues one datagram for the worker to
 * send from the data port, and wakes the worker if it sleeps. 0, -EMSGSIZE
 * (len 0 or > DP_INJECT_DATA_MAX), or -ENOBUFS (ring full; counted in
 * inject_full). The worker counts what it sends in counters.injected. Works
 * before the worker thread starts (the first loop sends what was queued). */
int dp_worker_inject(struct dp_worker *w, const struct net_endpoint *to, const void *buf,
		     size_t len);

/* The loop body, exposed for tests: one iteration (quiescent report, table
 * adoption, queued injects, one host burst and one net burst). Returns
 * packets processed (injects included). */
unsigned dp_worker_poll_once(struct dp_worker *w);
