/* The af_xdp backend's per-worker side (xsk.h): AF_XDP rings, frame parsing
 * and building, and the kernel socket as the slow path.
 *
 * Buffers. The worker's pool is the UMEM: buffer i lives at i *
 * DP_XSK_STRIDE in it, so a ring address maps back to its descriptor by a
 * division. A descriptor on the fill ring, or on the TX ring until its
 * completion comes back, is out of the pool exactly as if a packet held it.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "dataplane/xsk_frame.h"
#include "dataplane/xsk_internal.h"

#define RESERVE	   256 /* pool buffers never put on the fill ring */
#define FILL_BATCH 32

#define ST(io, f, n) __atomic_store_n(&(io)->st.f, (io)->st.f + (n), __ATOMIC_RELAXED)

static inline struct dp_pkt *desc_of(struct dp_pool *pool, uint64_t addr)
{
	return &pool->mem[addr / DP_XSK_STRIDE];
}

/* Completed transmits back to the pool. */
static void reclaim(struct xsk_io *io, struct dp_pool *pool)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(&io->comp, DP_XSK_RING, &idx);

	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		dp_pool_put(pool, desc_of(pool, *xsk_ring_cons__comp_addr(&io->comp, idx + i)));
	xsk_ring_cons__release(&io->comp, n);
	io->in_tx -= n;
}

/* Has the kernel send what the TX ring holds. In copy mode one sendto
 * sends at most 32 frames (the kernel's TX_BATCH_SIZE), so it is repeated
 * while frames remain; a driver in zero-copy mode takes the whole ring. */
static void tx_kick(struct xsk_io *io)
{
	for (int i = 0; i < 64; i++) {
		uint32_t pending =
		    io->tx.cached_prod - __atomic_load_n(io->tx.consumer, __ATOMIC_ACQUIRE);
		if (!pending || !xsk_ring_prod__needs_wakeup(&io->tx))
			return;
		ST(io, kicks, 1);
		if (sendto(io->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != EBUSY && errno != ENOBUFS)
			return;
		if (io->zerocopy)
			return;
	}
}

static void refill(struct xsk_io *io, struct dp_pool *pool)
{
	uint32_t idx;
	unsigned want = DP_XSK_FILL_TARGET - io->in_fill;

	if (want < FILL_BATCH || pool->avail <= RESERVE)
		return;
	if (want > pool->avail - RESERVE)
		want = pool->avail - RESERVE;
	if (xsk_ring_prod__reserve(&io->fill, want, &idx) != want)
		return;
	for (unsigned i = 0; i < want; i++) {
		struct dp_pkt *p = dp_pool_get(pool);
		*xsk_ring_prod__fill_addr(&io->fill, idx + i) = (uint64_t)(p->buf - io->area);
	}
	xsk_ring_prod__submit(&io->fill, want);
	io->in_fill += want;
	if (xsk_ring_prod__needs_wakeup(&io->fill)) {
		ST(io, kicks, 1);
		(void)recvfrom(io->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
}

unsigned xsk_io_net_rx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned max)
{
	struct xsk_io *io = io_;
	uint32_t idx;
	unsigned bad = 0;

	if (unlikely(io->in_tx))
		tx_kick(io); /* what an earlier burst left on the TX ring */
	reclaim(io, pool);
	refill(io, pool);
	unsigned n = xsk_ring_cons__peek(&io->rx, max, &idx);
	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&io->rx, idx + i);
		uint64_t base = xsk_umem__extract_addr(d->addr);
		struct dp_pkt *p = desc_of(pool, base);
		dp_pkt_reset(p);
		p->data = io->area + xsk_umem__add_offset_to_addr(d->addr);
		p->len = (uint16_t)d->len;
		if (unlikely(!dp_frame_parse(p))) {
			p->drop = DP_DROP_SHORT;
			bad++;
		}
		pkts[i] = p;
	}
	if (n) {
		xsk_ring_cons__release(&io->rx, n);
		io->in_fill -= n;
		ST(io, rx_frames, n);
		if (unlikely(bad))
			ST(io, rx_bad, bad);
	}
	if (n < max) {
		unsigned k = dp_kernel_ops.net_rx(io->kio, pool, c, pkts + n, max - n);
		if (k)
			ST(io, rx_slow, k);
		n += k;
	}
	return n;
}

/* The frame for p, or 0 when it must go through the kernel socket: short
 * headroom, or a frame that would cross a page (zero-copy cannot take it). */
static bool frame_put(struct xsk_io *io, struct dp_pkt *p, const struct dp_nh *nh)
{
	unsigned hl = nh->family == AF_INET6 ? DP_FRAME_HDR6 : DP_FRAME_HDR4;
	if (dp_pkt_headroom(p) < hl)
		return false;
	size_t off = (size_t)(p->data - hl - io->area);
	if (off / 4096 != (off + hl + p->len - 1) / 4096)
		return false;
	return dp_frame_build(p, nh, io->x->nh.mac, io->x->port, io->ip_id++) != 0;
}

void xsk_io_net_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		   unsigned n)
{
	struct xsk_io *io = io_;
	unsigned nf = 0, ns = 0, waiting = 0;
	uint64_t bytes = 0;
	uint32_t idx;

	reclaim(io, pool);
	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		struct dp_nh nh;
		int r = dp_nh_lookup(&io->x->nh, p->peer.addr, &nh);
		if (unlikely(r < 0)) {
			if (r == -ENOENT)
				dp_nh_want(&io->x->nh, p->peer.addr);
			waiting++;
			io->slow[ns++] = p;
			continue;
		}
		/* p->data/len become the frame: the descriptor's address and length */
		if (unlikely(!frame_put(io, p, &nh))) {
			io->slow[ns++] = p;
			continue;
		}
		io->fast[nf++] = p;
	}
	if (nf) {
		unsigned room = xsk_prod_nb_free(&io->tx, nf);
		if (room > nf)
			room = nf;
		if (room && xsk_ring_prod__reserve(&io->tx, room, &idx) == room) {
			for (unsigned i = 0; i < room; i++) {
				struct xdp_desc *d = xsk_ring_prod__tx_desc(&io->tx, idx + i);
				d->addr = (uint64_t)(io->fast[i]->data - io->area);
				d->len = io->fast[i]->len;
				d->options = 0;
				bytes += io->fast[i]->len;
			}
			xsk_ring_prod__submit(&io->tx, room);
			io->in_tx += room;
		} else {
			room = 0;
		}
		if (room < nf) { /* ring full: dropped, not reordered through the kernel */
			for (unsigned i = room; i < nf; i++)
				DP_COUNT_DROP(c, DP_DROP_NET_TX);
			dp_pool_put_bulk(pool, io->fast + room, nf - room);
			ST(io, tx_ring_full, nf - room);
		}
		if (room) {
			DP_COUNT(c, net_tx_packets, room);
			DP_COUNT(c, net_tx_bytes, bytes);
			ST(io, tx_frames, room);
		}
		tx_kick(io);
	}
	if (ns) {
		ST(io, tx_slow, ns);
		if (waiting)
			ST(io, nh_wait, waiting);
		dp_kernel_ops.net_tx(io->kio, pool, c, io->slow, ns);
	}
	reclaim(io, pool);
}

unsigned xsk_io_host_rx(void *io_, struct dp_pool *pool, struct dp_counters *c,
			struct dp_pkt **pkts, unsigned max)
{
	struct xsk_io *io = io_;
	return dp_kernel_ops.host_rx(io->kio, pool, c, pkts, max);
}

void xsk_io_host_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		    unsigned n)
{
	struct xsk_io *io = io_;
	dp_kernel_ops.host_tx(io->kio, pool, c, pkts, n);
}

int xsk_io_wait(void *io_, int wake_fd, int timeout_ms)
{
	struct xsk_io *io = io_;
	struct pollfd fds[4] = {
	    {.fd = dp_kernel_io_tap_fd(io->kio), .events = POLLIN},
	    {.fd = dp_kernel_io_udp_fd(io->kio), .events = POLLIN},
	    {.fd = io->fd, .events = POLLIN},
	    {.fd = wake_fd, .events = POLLIN},
	};

	if (dp_kernel_io_pending(io->kio) || xsk_cons_nb_avail(&io->rx, 1))
		return 0;
	/* Transmits in flight complete without waking anyone: come back soon
	 * to give their buffers back. */
	if (io->in_tx && timeout_ms > 1)
		timeout_ms = 1;
	if (poll(fds, 4, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

void xsk_io_prefill(struct xsk_io *io)
{
	refill(io, &io->pool);
}

int xsk_io_pool_init(void *io_, struct dp_pool *pool)
{
	struct xsk_io *io = io_;
	if (!io->pool.mem)
		return -EBUSY; /* one worker per queue */
	*pool = io->pool;
	memset(&io->pool, 0, sizeof(io->pool));
	io->pool.mem = NULL;
	return 0;
}

void xsk_io_pool_fini(void *io_, struct dp_pool *pool)
{
	/* The UMEM outlives the worker: the socket may still hold buffers.
	 * xsk.c frees both when the backend closes. */
	struct xsk_io *io = io_;
	io->pool = *pool;
	memset(pool, 0, sizeof(*pool));
}
