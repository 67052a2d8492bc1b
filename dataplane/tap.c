/* TAP queues with virtio-net header, software GSO on read and GRO on write
 * (see tap.h). */
#include "dataplane/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "dataplane/esp.h"

/* Debian 12's kernel headers predate USO (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Room for a frame read into a packet, and for a segment cut into one: the
 * ESP trailer, ICV and a ChannelData header must still fit behind it. */
#define RX_CAP	(DP_BUF_SIZE - DP_HEADROOM)
#define SEG_CAP (DP_BUF_SIZE - DP_HEADROOM - DP_ESP_OVERHEAD_MAX - 4)
#define BIG_LEN (DP_GSO_FRAME_MAX + 64)

int dp_tap_queue_open(char name[IFNAMSIZ], bool first, bool vnet)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | (first ? IFF_TUN_EXCL : 0) |
			(vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = 0;
	return fd;
}

void dp_tap_offload_set(int fd, struct dp_offloads *o)
{
	unsigned flags = 0;

	if (o->want[DP_OFFLOAD_TSO])
		flags |= TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (o->want[DP_OFFLOAD_USO] && o->want[DP_OFFLOAD_TSO])
		flags |= TUN_F_USO4 | TUN_F_USO6;
	int err = 0;
	if (flags && ioctl(fd, TUNSETOFFLOAD, flags) < 0) {
		err = errno;
		/* USO needs Linux 6.2: try without it before giving up. */
		flags &= ~(unsigned)(TUN_F_USO4 | TUN_F_USO6);
		if (ioctl(fd, TUNSETOFFLOAD, flags) < 0)
			flags = 0;
	}
	o->on[DP_OFFLOAD_TSO] = flags & TUN_F_TSO4;
	o->on[DP_OFFLOAD_USO] = flags & TUN_F_USO4;
	if (!o->want[DP_OFFLOAD_TSO])
		strcpy(o->why[DP_OFFLOAD_TSO], "disabled by offload_tso");
	else if (!o->on[DP_OFFLOAD_TSO])
		snprintf(o->why[DP_OFFLOAD_TSO], sizeof(o->why[0]), "TUNSETOFFLOAD refused: %s",
			 strerror(err));
	if (!o->want[DP_OFFLOAD_USO])
		strcpy(o->why[DP_OFFLOAD_USO], "disabled by offload_uso");
	else if (!o->want[DP_OFFLOAD_TSO])
		strcpy(o->why[DP_OFFLOAD_USO], "needs offload_tso");
	else if (!o->on[DP_OFFLOAD_USO])
		snprintf(o->why[DP_OFFLOAD_USO], sizeof(o->why[0]),
			 "kernel lacks TUN_F_USO4/6 (%s)", strerror(err));
}

int dp_tap_queue_init(struct dp_tap_queue *q, int fd, bool vnet, bool gro)
{
	memset(q, 0, offsetof(struct dp_tap_queue, gro));
	q->fd = fd;
	q->vnet = vnet;
	q->coalesce = vnet && gro;
	q->gro.udp = false;
	if (vnet) {
		q->big = malloc(BIG_LEN);
		if (!q->big)
			return -ENOMEM;
	}
	return 0;
}

void dp_tap_queue_fini(struct dp_tap_queue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->big);
	q->fd = -1;
	q->big = NULL;
}

static unsigned rx_plain(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_pkt **pkts,
			 unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		ssize_t r = read(q->fd, p->data, RX_CAP);
		if (r <= 0) { /* EAGAIN: queue empty; EIO: TAP down */
			dp_pool_put(pool, p);
			break;
		}
		/* tun truncates to the buffer silently. The TAP MTU is at most
		 * DP_MTU_MAX, so only a hand-raised MTU gets here. */
		if (unlikely(r >= RX_CAP)) {
			r = RX_CAP;
			p->drop = DP_DROP_TOO_BIG;
		}
		p->len = (uint16_t)r;
		pkts[n++] = p;
	}
	return n;
}

/* Cuts the pending super-frame's next segments into packets. */
static unsigned emit_segments(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_counters *c,
			      struct dp_pkt **pkts, unsigned n, unsigned max)
{
	unsigned first = n;

	while (n < max && q->sf_next < q->sf_count) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		p->len =
		    (uint16_t)dp_gso_segment(&q->sf_info, q->big, q->sf_len, q->sf_next++, p->data);
		pkts[n++] = p;
	}
	DP_COUNT(c, tap_segments_in, n - first);
	return n;
}

unsigned dp_tap_rx(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_counters *c,
		   struct dp_pkt **pkts, unsigned max)
{
	unsigned n = 0;

	if (!q->vnet)
		return rx_plain(q, pool, pkts, max);

	n = emit_segments(q, pool, c, pkts, 0, max);
	while (n < max) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		/* Most frames fit the packet; a super-frame spills into big. */
		struct iovec iov[3] = {
		    {.iov_base = &q->vh, .iov_len = DP_VNET_HDR_LEN},
		    {.iov_base = p->data, .iov_len = RX_CAP},
		    {.iov_base = q->big + RX_CAP, .iov_len = BIG_LEN - RX_CAP},
		};
		ssize_t r = readv(q->fd, iov, 3);
		if (r <= 0) {
			dp_pool_put(pool, p);
			break;
		}
		if (unlikely(r < (ssize_t)DP_VNET_HDR_LEN + 14)) {
			DP_COUNT_DROP(c, DP_DROP_SHORT);
			dp_pool_put(pool, p);
			continue;
		}
		size_t len = (size_t)r - DP_VNET_HDR_LEN;
		struct dp_l4_info info;
		int err;
		if (q->vh.gso_type == VIRTIO_NET_HDR_GSO_NONE && len <= RX_CAP) {
			p->len = (uint16_t)len;
			err = dp_gso_parse(&q->vh, p->data, len, SEG_CAP, &info);
			if (unlikely(err < 0))
				p->drop = DP_DROP_BAD_VNET_HDR;
			else if (info.csum)
				dp_gso_csum_finish(&info, p->data, len);
			pkts[n++] = p;
			continue;
		}
		/* Make the frame contiguous in big and cut it there. */
		memcpy(q->big, p->data, len < RX_CAP ? len : RX_CAP);
		dp_pool_put(pool, p);
		err = dp_gso_parse(&q->vh, q->big, len, SEG_CAP, &info);
		if (unlikely(err < 0 || !info.mss)) {
			/* !mss: a plain frame larger than any MTU we set */
			DP_COUNT_DROP(c, err == -EINVAL ? DP_DROP_BAD_VNET_HDR : DP_DROP_TOO_BIG);
			continue;
		}
		q->sf_info = info;
		q->sf_len = (uint32_t)len;
		q->sf_next = 0;
		q->sf_count = dp_gso_count(&info, len);
		DP_COUNT(c, tap_superframes_in, 1);
		n = emit_segments(q, pool, c, pkts, n, max);
	}
	return n;
}

static void tx_plain(struct dp_tap_queue *q, struct dp_counters *c, struct dp_pkt **pkts,
		     unsigned n, uint64_t *sent, uint64_t *bytes)
{
	static const struct virtio_net_hdr none;

	for (unsigned i = 0; i < n; i++) {
		ssize_t r, want = pkts[i]->len;
		if (q->vnet) {
			struct iovec iov[2] = {
			    {.iov_base = (void *)&none, .iov_len = DP_VNET_HDR_LEN},
			    {.iov_base = pkts[i]->data, .iov_len = pkts[i]->len},
			};
			want += DP_VNET_HDR_LEN;
			r = writev(q->fd, iov, 2);
		} else {
			r = write(q->fd, pkts[i]->data, pkts[i]->len);
		}
		if (likely(r == want)) {
			(*sent)++;
			*bytes += pkts[i]->len;
		} else {
			DP_COUNT_DROP(c, DP_DROP_HOST_TX);
		}
	}
}

static void tx_gro(struct dp_tap_queue *q, struct dp_counters *c, struct dp_pkt **pkts, unsigned n,
		   uint64_t *sent, uint64_t *bytes)
{
	struct dp_gro *g = &q->gro;
	uint64_t superframes = 0, coalesced = 0;

	dp_gro_build(g, pkts, n);
	for (unsigned u = 0; u < g->nunits; u++) {
		struct dp_gro_unit *unit = &g->units[u];
		unsigned k = unit->head, niov = 2;
		size_t want = DP_VNET_HDR_LEN + pkts[k]->len, frame_bytes = pkts[k]->len;

		q->iov[0] = (struct iovec){.iov_base = &unit->vh, .iov_len = DP_VNET_HDR_LEN};
		q->iov[1] = (struct iovec){.iov_base = pkts[k]->data, .iov_len = pkts[k]->len};
		for (k = g->next[k]; k != UINT16_MAX; k = g->next[k]) {
			size_t l = pkts[k]->len - unit->hdrlen;
			q->iov[niov++] =
			    (struct iovec){.iov_base = pkts[k]->data + unit->hdrlen, .iov_len = l};
			want += l;
			frame_bytes += pkts[k]->len;
		}
		ssize_t r = writev(q->fd, q->iov, (int)niov);
		if (likely(r == (ssize_t)want)) {
			*sent += unit->count;
			*bytes += frame_bytes;
			if (unit->count > 1) {
				superframes++;
				coalesced += unit->count;
			}
		} else {
			/* A kernel that refuses UDP_L4 super-frames: no more of them
			 * (this burst's are lost, the next ones go as they came). */
			if (r < 0 && errno == EINVAL &&
			    unit->vh.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4)
				g->udp = false;
			for (unsigned i = 0; i < unit->count; i++)
				DP_COUNT_DROP(c, DP_DROP_HOST_TX);
		}
	}
	DP_COUNT(c, tap_superframes_out, superframes);
	DP_COUNT(c, tap_coalesced, coalesced);
}

void dp_tap_tx(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_counters *c,
	       struct dp_pkt **pkts, unsigned n)
{
	uint64_t sent = 0, bytes = 0;

	if (q->coalesce && n > 1)
		tx_gro(q, c, pkts, n, &sent, &bytes);
	else
		tx_plain(q, c, pkts, n, &sent, &bytes);
	DP_COUNT(c, host_tx_packets, sent);
	DP_COUNT(c, host_tx_bytes, bytes);
	dp_pool_put_bulk(pool, pkts, n);
}
