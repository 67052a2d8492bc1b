/* Underlay UDP sockets with GSO/GRO (see udp.h). */
#include "dataplane/udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/udp.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define RX_CAP	      (DP_BUF_SIZE - DP_HEADROOM)
#define GSO_BYTES_MAX (65535 - 40 - 8) /* one IPv6 packet's worth of payload */

void dp_udp_endpoint_from_sa(const union dp_sockaddr *a, struct net_endpoint *ep)
{
	if (a->sa.sa_family == AF_INET6) {
		net_endpoint_from_sin6(&a->sin6, ep);
		return;
	}
	memset(ep->addr, 0, 10);
	ep->addr[10] = ep->addr[11] = 0xff;
	memcpy(ep->addr + 12, &a->sin.sin_addr, 4);
	ep->port = ntohs(a->sin.sin_port);
	ep->family = AF_INET;
	ep->via = 0;
}

socklen_t dp_udp_endpoint_to_sa(int family, const struct net_endpoint *ep, union dp_sockaddr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (family == AF_INET6) {
		net_endpoint_to_sin6(ep, &a->sin6);
		return sizeof(a->sin6);
	}
	if (memcmp(ep->addr, v4mapped, 12) != 0)
		return 0;
	memset(&a->sin, 0, sizeof(a->sin));
	a->sin.sin_family = AF_INET;
	a->sin.sin_port = htons(ep->port);
	memcpy(&a->sin.sin_addr, ep->addr + 12, 4);
	return sizeof(a->sin);
}

int dp_udp_socket_open(int family, uint16_t port, bool reuseport)
{
	union dp_sockaddr a;
	socklen_t alen;
	int one = 1, zero = 0, ret;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
			goto fail;
		a.sin6.sin6_family = AF_INET6;
		a.sin6.sin6_addr = in6addr_any;
		a.sin6.sin6_port = htons(port);
		alen = sizeof(a.sin6);
	} else {
		a.sin.sin_family = AF_INET;
		a.sin.sin_addr.s_addr = htonl(INADDR_ANY);
		a.sin.sin_port = htons(port);
		alen = sizeof(a.sin);
	}
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, &a.sa, alen) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int dp_udp_queue_init(struct dp_udp_queue *q, int fd, int family, struct dp_offloads *o)
{
	int one = 1, seg = 0;
	socklen_t slen = sizeof(seg);

	memset(q, 0, offsetof(struct dp_udp_queue, msgs));
	q->gro_buf = NULL;
	q->rx_n = q->rx_i = q->rx_off = 0;
	q->fd = fd;
	q->family = family;

	if (!o->want[DP_OFFLOAD_UDP_GSO]) {
		strcpy(o->why[DP_OFFLOAD_UDP_GSO], "disabled by offload_udp_gso");
	} else if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &slen) < 0) {
		snprintf(o->why[DP_OFFLOAD_UDP_GSO], sizeof(o->why[0]),
			 "kernel lacks UDP_SEGMENT: %s", strerror(errno));
	} else {
		q->gso = true;
	}
	if (!o->want[DP_OFFLOAD_UDP_GRO]) {
		strcpy(o->why[DP_OFFLOAD_UDP_GRO], "disabled by offload_udp_gro");
	} else if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		snprintf(o->why[DP_OFFLOAD_UDP_GRO], sizeof(o->why[0]), "kernel lacks UDP_GRO: %s",
			 strerror(errno));
	} else {
		q->gro_buf = malloc((size_t)DP_UDP_GRO_BUFS * DP_UDP_GRO_LEN);
		if (!q->gro_buf)
			return -ENOMEM;
		q->gro = true;
	}
	o->on[DP_OFFLOAD_UDP_GSO] = q->gso;
	o->on[DP_OFFLOAD_UDP_GRO] = q->gro;
	return 0;
}

void dp_udp_queue_fini(struct dp_udp_queue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->gro_buf);
	q->fd = -1;
	q->gro_buf = NULL;
}

static unsigned rx_plain(struct dp_udp_queue *q, struct dp_pool *pool, struct dp_pkt **pkts,
			 unsigned max)
{
	unsigned n = 0;

	if (max > DP_OUT_MAX)
		max = DP_OUT_MAX;
	for (; n < max; n++) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		pkts[n] = p;
		q->iov[n] = (struct iovec){.iov_base = p->data, .iov_len = RX_CAP};
		q->msgs[n].msg_hdr = (struct msghdr){
		    .msg_name = &q->addrs[n],
		    .msg_namelen = sizeof(q->addrs[n]),
		    .msg_iov = &q->iov[n],
		    .msg_iovlen = 1,
		};
	}
	if (n == 0)
		return 0;

	int r = recvmmsg(q->fd, q->msgs, n, MSG_DONTWAIT, NULL);
	unsigned got = r > 0 ? (unsigned)r : 0;
	for (unsigned i = 0; i < got; i++) {
		struct dp_pkt *p = pkts[i];
		p->len = (uint16_t)q->msgs[i].msg_len;
		dp_udp_endpoint_from_sa(&q->addrs[i], &p->peer);
		/* Larger than any datagram we send: never hand on a prefix. */
		if (unlikely(q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
			p->drop = DP_DROP_TOO_BIG;
	}
	dp_pool_put_bulk(pool, pkts + got, n - got);
	return got;
}

static unsigned gro_fill(struct dp_udp_queue *q)
{
	for (unsigned i = 0; i < DP_UDP_GRO_BUFS; i++) {
		q->riov[i] = (struct iovec){.iov_base = q->gro_buf + (size_t)i * DP_UDP_GRO_LEN,
					    .iov_len = DP_UDP_GRO_LEN};
		q->rmsgs[i].msg_hdr = (struct msghdr){
		    .msg_name = &q->raddrs[i],
		    .msg_namelen = sizeof(q->raddrs[i]),
		    .msg_iov = &q->riov[i],
		    .msg_iovlen = 1,
		    .msg_control = q->rctl[i].buf,
		    .msg_controllen = sizeof(q->rctl[i].buf),
		};
	}
	int r = recvmmsg(q->fd, q->rmsgs, DP_UDP_GRO_BUFS, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return 0;
	for (int i = 0; i < r; i++) {
		struct msghdr *m = &q->rmsgs[i].msg_hdr;
		q->rx_seg[i] = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
			if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
				int seg;
				memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
				if (seg > 0 && seg < 65536)
					q->rx_seg[i] = (uint16_t)seg;
			}
		}
	}
	q->rx_n = (unsigned)r;
	q->rx_i = 0;
	q->rx_off = 0;
	return (unsigned)r;
}

unsigned dp_udp_rx(struct dp_udp_queue *q, struct dp_pool *pool, struct dp_counters *c,
		   struct dp_pkt **pkts, unsigned max)
{
	unsigned n = 0;
	bool drained = false;

	if (!q->gro)
		return rx_plain(q, pool, pkts, max);
	while (n < max) {
		if (q->rx_i == q->rx_n) {
			/* A short recvmmsg emptied the socket: asking again
			 * now would only cost a syscall to hear EAGAIN. */
			if (drained || gro_fill(q) == 0)
				break;
			drained = q->rx_n < DP_UDP_GRO_BUFS;
		}
		struct mmsghdr *m = &q->rmsgs[q->rx_i];
		const uint8_t *buf = q->riov[q->rx_i].iov_base;
		uint32_t total = m->msg_len;
		uint32_t seg = q->rx_seg[q->rx_i] ? q->rx_seg[q->rx_i] : total;
		struct net_endpoint from;

		dp_udp_endpoint_from_sa(&q->raddrs[q->rx_i], &from);
		while (n < max && q->rx_off < total) {
			struct dp_pkt *p = dp_pool_get(pool);
			if (unlikely(!p))
				return n;
			uint32_t l = total - q->rx_off < seg ? total - q->rx_off : seg;
			if (unlikely(l > RX_CAP)) {
				p->drop = DP_DROP_TOO_BIG;
				l = 0;
			}
			memcpy(p->data, buf + q->rx_off, l);
			p->len = (uint16_t)l;
			p->peer = from;
			pkts[n++] = p;
			q->rx_off += seg;
		}
		if (q->rx_off >= total) {
			if (seg < total) {
				DP_COUNT(c, udp_gro_reads, 1);
				DP_COUNT(c, udp_gro_segments, (total + seg - 1) / seg);
			}
			q->rx_i++;
			q->rx_off = 0;
		}
	}
	return n;
}

/* Builds message m from pkts[first..first+count) sent as one UDP_SEGMENT run. */
static void tx_msg(struct dp_udp_queue *q, unsigned m, unsigned first, unsigned count,
		   socklen_t alen, uint16_t seg)
{
	struct msghdr *h = &q->msgs[m].msg_hdr;
	*h = (struct msghdr){
	    .msg_name = &q->addrs[first],
	    .msg_namelen = alen,
	    .msg_iov = &q->iov[first],
	    .msg_iovlen = count,
	};
	q->msg_count[m] = count;
	if (count > 1) {
		h->msg_control = q->ctl[m].buf;
		h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
		struct cmsghdr *cm = CMSG_FIRSTHDR(h);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
}

void dp_udp_tx(struct dp_udp_queue *q, struct dp_pool *pool, struct dp_counters *c,
	       struct dp_pkt **pkts, unsigned n)
{
	unsigned m = 0, off = 0;
	uint64_t sent = 0, bytes = 0, gso_sends = 0, gso_segs = 0;

	if (unlikely(n > DP_OUT_MAX)) { /* the pipeline never produces more */
		for (unsigned i = DP_OUT_MAX; i < n; i++)
			DP_COUNT_DROP(c, DP_DROP_NET_TX);
		dp_pool_put_bulk(pool, pkts + DP_OUT_MAX, n - DP_OUT_MAX);
		n = DP_OUT_MAX;
	}
	/* Runs: same endpoint, same length but for a shorter last one. */
	unsigned first = 0, count = 0;
	uint32_t run_bytes = 0;
	socklen_t run_alen = 0;
	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		bool joins = count > 0 && q->gso && count < DP_UDP_GSO_SEGS &&
			     p->len <= pkts[first]->len && pkts[i - 1]->len == pkts[first]->len &&
			     run_bytes + p->len <= GSO_BYTES_MAX &&
			     net_endpoint_equal(&p->peer, &pkts[first]->peer);
		if (!joins && count > 0) {
			tx_msg(q, m++, first, count, run_alen, pkts[first]->len);
			count = 0;
		}
		q->iov[i] = (struct iovec){.iov_base = p->data, .iov_len = p->len};
		if (count == 0) {
			run_alen = dp_udp_endpoint_to_sa(q->family, &p->peer, &q->addrs[i]);
			if (unlikely(run_alen == 0)) { /* IPv6 peer on an IPv4-only socket */
				DP_COUNT_DROP(c, DP_DROP_NET_TX);
				continue;
			}
			first = i;
			run_bytes = 0;
		}
		count++;
		run_bytes += p->len;
	}
	if (count > 0)
		tx_msg(q, m++, first, count, run_alen, pkts[first]->len);

	while (off < m) {
		int r = sendmmsg(q->fd, q->msgs + off, m - off, MSG_DONTWAIT);
		if (r > 0) {
			for (unsigned i = off; i < off + (unsigned)r; i++) {
				bytes += q->msgs[i].msg_len;
				sent += q->msg_count[i];
				if (q->msg_count[i] > 1) {
					gso_sends++;
					gso_segs += q->msg_count[i];
				}
			}
			off += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* Socket buffer full: the rest would fail the same way. */
			for (; off < m; off++)
				for (unsigned k = 0; k < q->msg_count[off]; k++)
					DP_COUNT_DROP(c, DP_DROP_NET_TX);
			break;
		}
		/* This message's own error (unreachable, too big...). EIO on a
		 * segmented send: the route's device cannot do UDP GSO (no
		 * checksum offload); stop using it on this queue. */
		if (r < 0 && errno == EIO && q->msg_count[off] > 1)
			q->gso = false;
		for (unsigned k = 0; k < q->msg_count[off]; k++)
			DP_COUNT_DROP(c, DP_DROP_NET_TX);
		off++;
	}
	DP_COUNT(c, net_tx_packets, sent);
	DP_COUNT(c, net_tx_bytes, bytes);
	DP_COUNT(c, udp_gso_sends, gso_sends);
	DP_COUNT(c, udp_gso_segments, gso_segs);
	dp_pool_put_bulk(pool, pkts, n);
}
