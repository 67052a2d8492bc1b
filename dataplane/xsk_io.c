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
#include <linux/if_ether.h>
#include <sys/socket.h>

#include "dataplane/csum.h"
#include "dataplane/xsk_internal.h"

#define RESERVE	   256 /* pool buffers never put on the fill ring */
#define FILL_BATCH 32
#define HDR4	   (ETH_HLEN + 20 + 8)
#define HDR6	   (ETH_HLEN + 40 + 8)

#define ST(io, f, n) __atomic_store_n(&(io)->st.f, (io)->st.f + (n), __ATOMIC_RELAXED)

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

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

/* Ethernet/IP/UDP off the front; the UDP source becomes p->peer. The XDP
 * program only steers unfragmented UDP to our port, but a frame is checked
 * whole anyway: lengths are the IP and UDP headers', never beyond the frame
 * (short frames carry Ethernet padding). */
static bool frame_parse(struct dp_pkt *p)
{
	const uint8_t *f = p->data, *ip = f + ETH_HLEN, *udp;
	unsigned len = p->len, iplen, ulen;

	memset(&p->peer, 0, sizeof(p->peer));
	if (len < HDR4)
		return false;
	uint16_t type = rd16(f + 12);
	if (type == ETH_P_IP) {
		unsigned ihl = (ip[0] & 15u) * 4;
		iplen = rd16(ip + 2);
		if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != IPPROTO_UDP || iplen < ihl + 8 ||
		    ETH_HLEN + iplen > len)
			return false;
		udp = ip + ihl;
		iplen -= ihl;
		p->peer.family = AF_INET;
		memcpy(p->peer.addr, v4_prefix, 12);
		memcpy(p->peer.addr + 12, ip + 12, 4);
	} else if (type == ETH_P_IPV6) {
		if (len < HDR6 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
			return false;
		iplen = rd16(ip + 4);
		if (iplen < 8 || ETH_HLEN + 40 + iplen > len)
			return false;
		udp = ip + 40;
		p->peer.family = AF_INET6;
		memcpy(p->peer.addr, ip + 8, 16);
	} else {
		return false;
	}
	ulen = rd16(udp + 4);
	if (ulen < 8 || ulen > iplen)
		return false;
	p->peer.port = rd16(udp);
	p->data = (uint8_t *)udp + 8;
	p->len = (uint16_t)(ulen - 8);
	return true;
}

unsigned xsk_io_net_rx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned max)
{
	struct xsk_io *io = io_;
	uint32_t idx;
	unsigned bad = 0;

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
		if (unlikely(!frame_parse(p))) {
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

/* Ethernet + IP + UDP in front of p->data; returns the frame or NULL when
 * the headroom is short or the frame would cross a page (zero-copy cannot
 * take it; the kernel socket can). */
static uint8_t *frame_build(struct xsk_io *io, struct dp_pkt *p, const struct dp_nh *nh,
			    unsigned *flen)
{
	bool v6 = nh->family == AF_INET6;
	unsigned hl = v6 ? HDR6 : HDR4;
	unsigned ulen = 8u + p->len;

	if (dp_pkt_headroom(p) < hl)
		return NULL;
	uint8_t *f = p->data - hl;
	size_t off = (size_t)(f - io->area);
	if (off / 4096 != (off + hl + p->len - 1) / 4096)
		return NULL;
	memcpy(f, nh->dst_mac, 6);
	memcpy(f + 6, io->x->nh.mac, 6);
	wr16(f + 12, v6 ? ETH_P_IPV6 : ETH_P_IP);
	uint8_t *ip = f + ETH_HLEN, *udp;
	if (!v6) {
		ip[0] = 0x45;
		ip[1] = 0;
		wr16(ip + 2, (uint16_t)(20 + ulen));
		wr16(ip + 4, io->ip_id++);
		wr16(ip + 6, 0x4000); /* DF, as the kernel's sockets send */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		wr16(ip + 10, 0);
		memcpy(ip + 12, nh->src + 12, 4);
		memcpy(ip + 16, p->peer.addr + 12, 4);
		uint16_t sum = dp_csum_finish(dp_csum_add(0, ip, 20));
		memcpy(ip + 10, &sum, 2);
		udp = ip + 20;
	} else {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, nh->src, 16);
		memcpy(ip + 24, p->peer.addr, 16);
		udp = ip + 40;
	}
	memcpy(udp, &io->x->port, 2);
	wr16(udp + 2, p->peer.port);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0); /* IPv4: no checksum (RFC 768); the ESP ICV covers the payload */
	if (v6) {	  /* IPv6 requires one (RFC 8200 §8.1) */
		uint16_t sum = dp_csum_finish(
		    dp_csum_add(dp_csum_pseudo(ip, 1, IPPROTO_UDP, ulen), udp, ulen));
		if (sum == 0)
			sum = 0xffff;
		memcpy(udp + 6, &sum, 2);
	}
	*flen = hl + p->len;
	return f;
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
		unsigned flen;
		uint8_t *f = frame_build(io, p, &nh, &flen);
		if (unlikely(!f)) {
			io->slow[ns++] = p;
			continue;
		}
		/* the descriptor's address and length for the ring */
		p->data = f;
		p->len = (uint16_t)flen;
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
		if (xsk_ring_prod__needs_wakeup(&io->tx)) {
			ST(io, kicks, 1);
			(void)sendto(io->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
		}
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
