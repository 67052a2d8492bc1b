/* The `kernel` backend: one multi-queue TAP and one UDP socket per worker.
 *
 * Everything a burst needs (mmsghdr, iovec and address arrays) is allocated
 * once per queue at open, so rx/tx never allocate. TAP without a vnet header
 * moves one frame per read()/write(); the UDP side is batched with
 * recvmmsg/sendmmsg. Receive counters are the worker's (worker.c); transmit
 * counters and drops are counted here, where the outcome is known.
 *
 * Exclusivity: the first TAP queue is created with IFF_TUN_EXCL and the port
 * is probed with a plain (non-SO_REUSEPORT) bind before the per-worker
 * sockets join one SO_REUSEPORT group. Without both, a second instance
 * configured with the same TAP name or port would silently attach to ours and
 * take half of its traffic; with them it fails with EBUSY / EADDRINUSE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "dataplane/kernel.h"
#include "util/log.h"

#define SOCK_BUF_BYTES (4 << 20)
#define RX_MAX_LEN     (DP_BUF_SIZE - DP_HEADROOM)

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

struct dp_kernel_io {
	int tap_fd;
	int udp_fd;
	int family; /* of udp_fd: AF_INET6 (dual-stack) or AF_INET (IPv6 off) */
	struct mmsghdr msgs[DP_OUT_MAX];
	struct iovec iov[DP_OUT_MAX];
	union sockaddr_any addrs[DP_OUT_MAX];
};

static void endpoint_from_sa(const union sockaddr_any *a, struct net_endpoint *ep)
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

/* Returns the sockaddr length, or 0 when the socket's family cannot reach ep. */
static socklen_t endpoint_to_sa(int family, const struct net_endpoint *ep, union sockaddr_any *a)
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

static unsigned host_rx(void *io_, struct dp_pool *pool, struct dp_pkt **pkts, unsigned max)
{
	struct dp_kernel_io *io = io_;
	unsigned n = 0;

	while (n < max) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		ssize_t r = read(io->tap_fd, p->data, RX_MAX_LEN);
		if (r <= 0) { /* EAGAIN: queue empty; EIO: TAP down */
			dp_pool_put(pool, p);
			break;
		}
		/* tun truncates to the buffer silently (some kernels return the
		 * full length instead). A frame that fills the buffer leaves no
		 * tailroom for ESP anyway: treat it as too big either way. */
		if (unlikely(r >= RX_MAX_LEN)) {
			r = RX_MAX_LEN;
			p->drop = DP_DROP_TOO_BIG;
		}
		p->len = (uint16_t)r;
		pkts[n++] = p;
	}
	return n;
}

static void host_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		    unsigned n)
{
	struct dp_kernel_io *io = io_;
	uint64_t sent = 0, bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		ssize_t r = write(io->tap_fd, pkts[i]->data, pkts[i]->len);
		if (likely(r == (ssize_t)pkts[i]->len)) {
			sent++;
			bytes += pkts[i]->len;
		} else {
			DP_COUNT_DROP(c, DP_DROP_HOST_TX);
		}
	}
	DP_COUNT(c, host_tx_packets, sent);
	DP_COUNT(c, host_tx_bytes, bytes);
	dp_pool_put_bulk(pool, pkts, n);
}

static unsigned net_rx(void *io_, struct dp_pool *pool, struct dp_pkt **pkts, unsigned max)
{
	struct dp_kernel_io *io = io_;
	unsigned n = 0;

	if (max > DP_OUT_MAX)
		max = DP_OUT_MAX;
	for (; n < max; n++) {
		struct dp_pkt *p = dp_pool_get(pool);
		if (unlikely(!p))
			break;
		pkts[n] = p;
		io->iov[n] = (struct iovec){.iov_base = p->data, .iov_len = RX_MAX_LEN};
		io->msgs[n].msg_hdr = (struct msghdr){
		    .msg_name = &io->addrs[n],
		    .msg_namelen = sizeof(io->addrs[n]),
		    .msg_iov = &io->iov[n],
		    .msg_iovlen = 1,
		};
	}
	if (n == 0)
		return 0;

	int r = recvmmsg(io->udp_fd, io->msgs, n, MSG_DONTWAIT, NULL);
	unsigned got = r > 0 ? (unsigned)r : 0;
	for (unsigned i = 0; i < got; i++) {
		struct dp_pkt *p = pkts[i];
		p->len = (uint16_t)io->msgs[i].msg_len;
		endpoint_from_sa(&io->addrs[i], &p->peer);
		/* Larger than any datagram we send: never hand on a prefix. */
		if (unlikely(io->msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
			p->drop = DP_DROP_TOO_BIG;
	}
	dp_pool_put_bulk(pool, pkts + got, n - got);
	return got;
}

static void net_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		   unsigned n)
{
	struct dp_kernel_io *io = io_;
	unsigned m = 0, off = 0;
	uint64_t sent = 0, bytes = 0;

	if (unlikely(n > DP_OUT_MAX)) { /* the pipeline never produces more */
		for (unsigned i = DP_OUT_MAX; i < n; i++)
			DP_COUNT_DROP(c, DP_DROP_NET_TX);
		dp_pool_put_bulk(pool, pkts + DP_OUT_MAX, n - DP_OUT_MAX);
		n = DP_OUT_MAX;
	}
	for (unsigned i = 0; i < n; i++) {
		socklen_t alen = endpoint_to_sa(io->family, &pkts[i]->peer, &io->addrs[m]);
		if (unlikely(alen == 0)) { /* IPv6 peer on an IPv4-only socket */
			DP_COUNT_DROP(c, DP_DROP_NET_TX);
			continue;
		}
		io->iov[m] = (struct iovec){.iov_base = pkts[i]->data, .iov_len = pkts[i]->len};
		io->msgs[m].msg_hdr = (struct msghdr){
		    .msg_name = &io->addrs[m],
		    .msg_namelen = alen,
		    .msg_iov = &io->iov[m],
		    .msg_iovlen = 1,
		};
		m++;
	}

	while (off < m) {
		int r = sendmmsg(io->udp_fd, io->msgs + off, m - off, MSG_DONTWAIT);
		if (r > 0) {
			for (unsigned i = off; i < off + (unsigned)r; i++)
				bytes += io->msgs[i].msg_len;
			sent += (unsigned)r;
			off += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* Socket buffer full: the rest would fail the same way. */
			for (; off < m; off++)
				DP_COUNT_DROP(c, DP_DROP_NET_TX);
			break;
		}
		/* This message's own error (unreachable, too big...): skip it. */
		DP_COUNT_DROP(c, DP_DROP_NET_TX);
		off++;
	}
	DP_COUNT(c, net_tx_packets, sent);
	DP_COUNT(c, net_tx_bytes, bytes);
	dp_pool_put_bulk(pool, pkts, n);
}

static int kernel_wait(void *io_, int wake_fd, int timeout_ms)
{
	struct dp_kernel_io *io = io_;
	struct pollfd fds[3] = {
	    {.fd = io->tap_fd, .events = POLLIN},
	    {.fd = io->udp_fd, .events = POLLIN},
	    {.fd = wake_fd, .events = POLLIN},
	};

	if (poll(fds, 3, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

const struct dp_backend_ops dp_kernel_ops = {
    .name = "kernel",
    .host_rx = host_rx,
    .host_tx = host_tx,
    .net_rx = net_rx,
    .net_tx = net_tx,
    .wait = kernel_wait,
};

/* Opens one TAP queue; the first one creates the device (exclusively) and
 * learns its final name (tap_name may be a "%d" template). */
static int tap_queue_open(char name[IFNAMSIZ], bool first)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | (first ? IFF_TUN_EXCL : 0);
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

static void set_bufs(int fd)
{
	int sz = SOCK_BUF_BYTES;
	/* FORCE passes net.core.[rw]mem_max with CAP_NET_ADMIN; otherwise the
	 * plain option gets what the sysctl allows. Neither is fatal. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* A UDP socket bound to the wildcard address of family on port. reuseport:
 * join the group; without it the bind fails if anyone holds the port. */
static int udp_open(int family, uint16_t port, bool reuseport)
{
	union sockaddr_any a;
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

static uint16_t bound_port(int fd)
{
	union sockaddr_any a;
	socklen_t alen = sizeof(a);
	if (getsockname(fd, &a.sa, &alen) < 0)
		return 0;
	return ntohs(a.sa.sa_family == AF_INET6 ? a.sin6.sin6_port : a.sin.sin_port);
}

/* Finds the family and (for port 0) the port, and makes sure nobody else,
 * not even another ipopd of ours, holds it. */
static int udp_probe(uint16_t *port, int *family)
{
	*family = AF_INET6;
	int fd = udp_open(AF_INET6, *port, false);
	if (fd == -EAFNOSUPPORT) {
		*family = AF_INET;
		fd = udp_open(AF_INET, *port, false);
	}
	if (fd < 0)
		return fd;
	if (*port == 0)
		*port = bound_port(fd);
	close(fd);
	return *port ? 0 : -EADDRNOTAVAIL;
}

static void io_close(struct dp_kernel_io *io)
{
	if (!io)
		return;
	if (io->tap_fd >= 0)
		close(io->tap_fd);
	if (io->udp_fd >= 0)
		close(io->udp_fd);
	free(io);
}

int dp_kernel_open(struct dp_kernel *k, const char *tap_name, unsigned nqueues, uint16_t port)
{
	char name[IFNAMSIZ];
	int family, ret;

	memset(k, 0, sizeof(*k));
	if (!tap_name || strlen(tap_name) >= IFNAMSIZ || nqueues == 0)
		return -EINVAL;
	memset(name, 0, sizeof(name));
	strcpy(name, tap_name);

	ret = udp_probe(&port, &family);
	if (ret < 0)
		return ret;

	k->io = calloc(nqueues, sizeof(*k->io));
	if (!k->io)
		return -ENOMEM;
	k->port = port;
	for (unsigned i = 0; i < nqueues; i++) {
		struct dp_kernel_io *io = aligned_alloc(64, (sizeof(*io) + 63) & ~(size_t)63);
		if (!io) {
			ret = -ENOMEM;
			goto fail;
		}
		memset(io, 0, sizeof(*io));
		io->udp_fd = -1;
		io->family = family;
		k->io[i] = io;
		k->nqueues = i + 1;

		io->tap_fd = tap_queue_open(name, i == 0);
		if (io->tap_fd < 0) {
			ret = io->tap_fd;
			log_err("kernel: TAP %s queue %u: %s", name, i, strerror(-ret));
			goto fail;
		}
		io->udp_fd = udp_open(family, port, true);
		if (io->udp_fd < 0) {
			ret = io->udp_fd;
			log_err("kernel: UDP port %u socket %u: %s", port, i, strerror(-ret));
			goto fail;
		}
		set_bufs(io->udp_fd);
	}
	memcpy(k->tap_name, name, IFNAMSIZ);
	return 0;

fail:
	dp_kernel_close(k);
	return ret;
}

void dp_kernel_close(struct dp_kernel *k)
{
	if (k->io) {
		for (unsigned i = 0; i < k->nqueues; i++)
			io_close(k->io[i]);
		free(k->io);
	}
	memset(k, 0, sizeof(*k));
}

int dp_kernel_send_control(struct dp_kernel *k, const struct net_endpoint *to, const void *buf,
			   size_t len)
{
	union sockaddr_any a;

	if (!k->io || k->nqueues == 0)
		return -ENOTCONN;
	struct dp_kernel_io *io = k->io[0];
	socklen_t alen = endpoint_to_sa(io->family, to, &a);
	if (alen == 0)
		return -EAFNOSUPPORT;
	ssize_t r = sendto(io->udp_fd, buf, len, MSG_DONTWAIT, &a.sa, alen);
	if (r < 0)
		return -errno;
	return 0;
}
