/* The `dpdk` backend's bursts: the backend function table over ethdev
 * queues (see dpdk.h for the mbuf ↔ descriptor scheme).
 *
 * host_rx polls the host ports round robin; with several host ports it is
 * also their switch: it learns source MACs per port, sends a frame for a MAC
 * behind another host port straight there (never through the overlay), and
 * gives floods a copy for each other host port. net_rx keeps UDP to our
 * address and port and answers ARP and ping (dpdk_eth.c). The tx functions
 * put the headers in the headroom, hand the mbufs to the PMD and give each
 * descriptor a fresh mbuf from the pool.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dataplane/dpdk.h"
#include "dataplane/dpdk_io.h"

#define COPIES_MAX 64 /* flood copies per host port per burst */
#define WAIT_MS	   1  /* adaptive idle: DPDK ports have no fd to sleep on */

#define ADD(s, f, n) __atomic_store_n(&(s)->f, (s)->f + (n), __ATOMIC_RELAXED)

static inline void thread_register(struct dp_dpdk_io *io)
{
	if (unlikely(!io->registered)) {
		/* An lcore id for this thread: the mempool's per-lcore cache. */
		(void)rte_thread_register();
		io->registered = true;
	}
}

/* A received mbuf becomes a descriptor's: the descriptor's spare mbuf goes
 * to spare[] (freed in bulk by the caller). NULL when the pool is empty. */
static inline struct dp_pkt *take(struct dp_pool *pool, struct dp_counters *c, struct rte_mbuf *m,
				  struct rte_mbuf **spare, unsigned *nspare)
{
	struct dp_pkt *p = dp_pool_get(pool);
	if (unlikely(!p)) {
		DP_COUNT_DROP(c, DP_DROP_NO_BUFFER);
		rte_pktmbuf_free(m);
		return NULL;
	}
	spare[(*nspare)++] = dp_dpdk_pkt_mbuf(p);
	dp_dpdk_pkt_attach(p, m);
	p->data = rte_pktmbuf_mtod(m, uint8_t *);
	p->len = m->data_len;
	return p;
}

static void tx_mbufs(struct dp_dpdk_io *io, uint16_t port, struct rte_mbuf **mb, unsigned n)
{
	if (!n)
		return;
	unsigned sent = rte_eth_tx_burst(port, io->q, mb, (uint16_t)n);
	if (unlikely(sent < n)) {
		ADD(&io->s, tx_full, n - sent);
		rte_pktmbuf_free_bulk(mb + sent, n - sent);
	}
}

/* Sends descriptors' mbufs (mb[i] belongs to pd[i]); every descriptor goes
 * back to the pool with an mbuf: a fresh one if its own left. Returns how
 * many were sent; the rest are counted as `reason`. */
static unsigned tx_descs(struct dp_dpdk_io *io, struct dp_pool *pool, struct dp_counters *c,
			 uint16_t port, struct dp_pkt **pd, struct rte_mbuf **mb, unsigned n,
			 enum dp_drop reason)
{
	struct rte_mbuf *fresh[DP_OUT_MAX];
	unsigned sent = 0;

	if (!n)
		return 0;
	if (unlikely(rte_pktmbuf_alloc_bulk(io->d->mp, fresh, n) != 0)) {
		for (unsigned i = 0; i < n; i++)
			DP_COUNT_DROP(c, DP_DROP_NO_BUFFER);
		dp_pool_put_bulk(pool, pd, n);
		return 0;
	}
	/* One retry: a busy peer (a VM's virtio ring, the kernel's TAP) may
	 * have freed room meanwhile. */
	for (int tries = 0; tries < 2 && sent < n; tries++)
		sent += rte_eth_tx_burst(port, io->q, mb + sent, (uint16_t)(n - sent));
	for (unsigned i = 0; i < sent; i++)
		dp_dpdk_pkt_attach(pd[i], fresh[i]);
	if (unlikely(sent < n)) {
		ADD(&io->s, tx_full, n - sent);
		for (unsigned i = sent; i < n; i++)
			DP_COUNT_DROP(c, reason);
		rte_pktmbuf_free_bulk(fresh + sent, n - sent);
	}
	dp_pool_put_bulk(pool, pd, n);
	return sent;
}

/* ---- host side --------------------------------------------------------- */

/* The host ports' own switch for a frame from port `from`: false when the
 * frame went straight to another host port (or nowhere). */
static bool host_switch(struct dp_dpdk_io *io, unsigned from, struct rte_mbuf *m)
{
	struct dp_dpdk *d = io->d;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

	dp_dpdk_lfdb_learn(d, f + 6, from);
	int to = dp_dpdk_lfdb_lookup(d, f);
	if (to == (int)from) {
		rte_pktmbuf_free(m);
		return false;
	}
	if (to >= 0) {
		ADD(&io->s, local_switched, 1);
		tx_mbufs(io, d->host[to].id, &m, 1);
		return false;
	}
	/* Broadcast, multicast, unknown: every other host port too. */
	for (unsigned j = 0; j < d->nhost; j++) {
		if (j == from)
			continue;
		struct rte_mbuf *cp = rte_pktmbuf_copy(m, d->mp, 0, UINT32_MAX);
		if (!cp)
			break;
		ADD(&io->s, host_copies, 1);
		tx_mbufs(io, d->host[j].id, &cp, 1);
	}
	return true;
}

static unsigned host_rx(void *io_, struct dp_pool *pool, struct dp_counters *c,
			struct dp_pkt **pkts, unsigned max)
{
	struct dp_dpdk_io *io = io_;
	struct dp_dpdk *d = io->d;
	struct rte_mbuf *mb[DP_BURST_MAX], *spare[DP_BURST_MAX];
	unsigned got = 0, nspare = 0;

	thread_register(io);
	uint64_t t0 = rte_rdtsc();
	for (unsigned k = 0; k < d->nhost && got < max; k++) {
		unsigned port = (io->host_next + k) % d->nhost;
		unsigned n = rte_eth_rx_burst(d->host[port].id, io->q, mb, (uint16_t)(max - got));
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = mb[i];
			if (unlikely(m->nb_segs > 1 || m->data_len < 14)) {
				ADD(&io->s, multiseg, 1);
				rte_pktmbuf_free(m);
				continue;
			}
			if (d->nhost > 1 && !host_switch(io, port, m))
				continue;
			struct dp_pkt *p = take(pool, c, m, spare, &nspare);
			if (p)
				pkts[got++] = p;
		}
	}
	if (d->nhost)
		io->host_next = (io->host_next + 1) % d->nhost;
	if (nspare)
		rte_pktmbuf_free_bulk(spare, nspare);
	if (got)
		ADD(&io->s, cycles_host_rx, rte_rdtsc() - t0);
	return got;
}

static void host_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		    unsigned n)
{
	struct dp_dpdk_io *io = io_;
	struct dp_dpdk *d = io->d;
	struct rte_mbuf *mb[DP_OUT_MAX];
	struct dp_pkt *pd[DP_OUT_MAX];
	struct rte_mbuf *copies[DP_DPDK_HOST_MAX][COPIES_MAX];
	unsigned ncopies[DP_DPDK_HOST_MAX] = {0};
	int8_t dst[DP_OUT_MAX];
	uint64_t bytes = 0, t0 = rte_rdtsc();
	unsigned sent = 0;

	if (unlikely(!d->nhost)) {
		for (unsigned i = 0; i < n; i++)
			DP_COUNT_DROP(c, DP_DROP_HOST_TX);
		dp_pool_put_bulk(pool, pkts, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		struct rte_mbuf *m = dp_dpdk_pkt_to_mbuf(p, p->data, p->len);
		int to = d->nhost > 1 ? dp_dpdk_lfdb_lookup(d, p->data) : 0;
		dst[i] = (int8_t)to;
		if (to >= 0)
			continue;
		/* The descriptor's own mbuf goes to port 0; copies (made now,
		 * before any send hands the original over) to the others. */
		dst[i] = 0;
		for (unsigned j = 1; j < d->nhost; j++) {
			if (ncopies[j] == COPIES_MAX)
				continue;
			struct rte_mbuf *cp = rte_pktmbuf_copy(m, d->mp, 0, UINT32_MAX);
			if (cp) {
				copies[j][ncopies[j]++] = cp;
				ADD(&io->s, host_copies, 1);
			}
		}
	}
	for (unsigned j = 0; j < d->nhost; j++) {
		unsigned k = 0;
		uint64_t b = 0;
		for (unsigned i = 0; i < n; i++) {
			if (dst[i] != (int8_t)j)
				continue;
			pd[k] = pkts[i];
			mb[k++] = dp_dpdk_pkt_mbuf(pkts[i]);
			b += pkts[i]->len;
		}
		unsigned s = tx_descs(io, pool, c, d->host[j].id, pd, mb, k, DP_DROP_HOST_TX);
		sent += s;
		bytes += s == k ? b : 0;
		tx_mbufs(io, d->host[j].id, copies[j], ncopies[j]);
	}
	DP_COUNT(c, host_tx_packets, sent);
	DP_COUNT(c, host_tx_bytes, bytes);
	ADD(&io->s, cycles_host_tx, rte_rdtsc() - t0);
}

/* ---- underlay ---------------------------------------------------------- */

static unsigned net_rx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned max)
{
	struct dp_dpdk_io *io = io_;
	struct dp_dpdk *d = io->d;
	struct rte_mbuf *mb[DP_BURST_MAX], *spare[DP_BURST_MAX], *reply[DP_BURST_MAX];
	unsigned got = 0, nspare = 0, nreply = 0;
	struct net_endpoint from;
	uint16_t len;
	uint64_t t0 = rte_rdtsc();

	unsigned n = rte_eth_rx_burst(d->net.id, io->q, mb, (uint16_t)max);
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		if (unlikely(m->nb_segs > 1)) {
			ADD(&io->s, multiseg, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		unsigned off = dp_dpdk_eth_input(d, &io->s, m, &len, &from, reply, &nreply);
		if (!off)
			continue;
		struct dp_pkt *p = take(pool, c, m, spare, &nspare);
		if (!p)
			continue;
		p->data += off;
		p->len = len;
		p->peer = from;
		pkts[got++] = p;
	}
	if (nspare)
		rte_pktmbuf_free_bulk(spare, nspare);
	tx_mbufs(io, d->net.id, reply, nreply);
	ADD(&io->s, cycles_net_rx, rte_rdtsc() - t0);
	return got;
}

static void net_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		   unsigned n)
{
	struct dp_dpdk_io *io = io_;
	struct dp_dpdk *d = io->d;
	struct rte_mbuf *mb[DP_OUT_MAX], *reply[DP_OUT_MAX];
	struct dp_pkt *pd[DP_OUT_MAX];
	unsigned k = 0, nreply = 0;
	uint64_t bytes = 0, t0 = rte_rdtsc();

	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		uint8_t *f = NULL;
		if (likely(dp_pkt_headroom(p) >= DP_DPDK_HDR_LEN))
			f = dp_dpdk_eth_output(d, &io->s, p->data, p->len, &p->peer, &io->ip_id,
					       reply, &nreply);
		if (unlikely(!f)) {
			DP_COUNT_DROP(c, DP_DROP_NET_TX);
			dp_pool_put(pool, p);
			continue;
		}
		bytes += p->len;
		mb[k] = dp_dpdk_pkt_to_mbuf(p, f, (uint16_t)(p->len + DP_DPDK_HDR_LEN));
		pd[k++] = p;
	}
	unsigned sent = tx_descs(io, pool, c, d->net.id, pd, mb, k, DP_DROP_NET_TX);
	DP_COUNT(c, net_tx_packets, sent);
	DP_COUNT(c, net_tx_bytes, sent == k ? bytes : 0);
	tx_mbufs(io, d->net.id, reply, nreply);
	ADD(&io->s, cycles_net_tx, rte_rdtsc() - t0);
}

static int dpdk_wait(void *io_, int wake_fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
	(void)io_;
	if (poll(&pfd, 1, timeout_ms < WAIT_MS ? timeout_ms : WAIT_MS) < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

const struct dp_backend_ops dp_dpdk_ops = {
    .name = "dpdk",
    .open = dp_dpdk_backend_open,
    .close = dp_dpdk_backend_close,
    .status = dp_dpdk_backend_status,
    .pool_init = dp_dpdk_pool_init,
    .pool_fini = dp_dpdk_pool_fini,
    .host_rx = host_rx,
    .host_tx = host_tx,
    .net_rx = net_rx,
    .net_tx = net_tx,
    .wait = dpdk_wait,
};

void dp_dpdk_stats_read(const struct dp_dpdk *d, struct dp_dpdk_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!d->io)
		return;
	for (unsigned q = 0; q < d->nqueues; q++) {
		const uint64_t *src = (const uint64_t *)&d->io[q]->s;
		uint64_t *dst = (uint64_t *)out;
		for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}
