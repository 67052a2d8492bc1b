/* The `kernel` backend: one multi-queue TAP and one UDP socket per worker.
 *
 * The TAP and UDP sides live in tap.c and udp.c; this file opens them as a
 * set, probes the offloads once, and glues them into the backend's function
 * table. Everything a burst needs (message arrays, big buffers for
 * super-frames and GRO runs) is allocated per queue at open, so rx/tx never
 * allocate. Receive counters are the worker's (worker.c) except the offload
 * ones; transmit counters and drops are counted where the outcome is known.
 *
 * Exclusivity: the first TAP queue is created with IFF_TUN_EXCL and the port
 * is probed with a plain (non-SO_REUSEPORT) bind before the per-worker
 * sockets join one SO_REUSEPORT group. Without both, a second instance
 * configured with the same TAP name or port would silently attach to ours and
 * take half of its traffic; with them it fails with EBUSY / EADDRINUSE.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dataplane/kernel.h"
#include "dataplane/tap.h"
#include "dataplane/udp.h"
#include "util/log.h"

#define SOCK_BUF_BYTES (4 << 20)

const char *const dp_offload_names[DP_OFFLOAD__MAX] = {
    [DP_OFFLOAD_TSO] = "tso",	      [DP_OFFLOAD_USO] = "uso",		[DP_OFFLOAD_GRO] = "gro",
    [DP_OFFLOAD_UDP_GSO] = "udp_gso", [DP_OFFLOAD_UDP_GRO] = "udp_gro",
};

struct dp_kernel_io {
	struct dp_tap_queue tap;
	struct dp_udp_queue udp;
};

static unsigned host_rx(void *io_, struct dp_pool *pool, struct dp_counters *c,
			struct dp_pkt **pkts, unsigned max)
{
	struct dp_kernel_io *io = io_;
	return dp_tap_rx(&io->tap, pool, c, pkts, max);
}

static void host_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		    unsigned n)
{
	struct dp_kernel_io *io = io_;
	dp_tap_tx(&io->tap, pool, c, pkts, n);
}

static unsigned net_rx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned max)
{
	struct dp_kernel_io *io = io_;
	return dp_udp_rx(&io->udp, pool, c, pkts, max);
}

static void net_tx(void *io_, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		   unsigned n)
{
	struct dp_kernel_io *io = io_;
	dp_udp_tx(&io->udp, pool, c, pkts, n);
}

static int kernel_wait(void *io_, int wake_fd, int timeout_ms)
{
	struct dp_kernel_io *io = io_;
	struct pollfd fds[3] = {
	    {.fd = io->tap.fd, .events = POLLIN},
	    {.fd = io->udp.fd, .events = POLLIN},
	    {.fd = wake_fd, .events = POLLIN},
	};

	/* Work left over from the last burst (a super-frame half cut, GRO
	 * buffers half split) is not visible to poll. */
	if (io->tap.sf_next < io->tap.sf_count || io->udp.rx_i < io->udp.rx_n)
		return 0;
	if (poll(fds, 3, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
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

static uint16_t bound_port(int fd)
{
	union dp_sockaddr a;
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
	int fd = dp_udp_socket_open(AF_INET6, *port, false);
	if (fd == -EAFNOSUPPORT) {
		*family = AF_INET;
		fd = dp_udp_socket_open(AF_INET, *port, false);
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
	dp_tap_queue_fini(&io->tap);
	dp_udp_queue_fini(&io->udp);
	free(io);
}

static int io_open(struct dp_kernel *k, unsigned i, char name[IFNAMSIZ], int family)
{
	struct dp_offloads *o = &k->offloads;
	bool vnet = o->want[DP_OFFLOAD_TSO] || o->want[DP_OFFLOAD_GRO];
	int ret;

	struct dp_kernel_io *io = aligned_alloc(64, (sizeof(*io) + 63) & ~(size_t)63);
	if (!io)
		return -ENOMEM;
	io->tap.fd = io->udp.fd = -1;
	io->tap.big = NULL;
	io->udp.gro_buf = NULL;
	k->io[i] = io;
	k->nqueues = i + 1;

	int fd = dp_tap_queue_open(name, i == 0, vnet);
	if (fd == -EINVAL && vnet) { /* a tun without IFF_VNET_HDR: no TAP offloads */
		vnet = false;
		for (int d = DP_OFFLOAD_TSO; d <= DP_OFFLOAD_GRO; d++) {
			o->want[d] = false;
			strcpy(o->why[d], "TAP refused IFF_VNET_HDR");
		}
		fd = dp_tap_queue_open(name, i == 0, false);
	}
	if (fd < 0) {
		log_err("kernel: TAP %s queue %u: %s", name, i, strerror(-fd));
		return fd;
	}
	io->tap.fd = fd;
	if (i == 0 && vnet)
		dp_tap_offload_set(fd, o);
	ret = dp_tap_queue_init(&io->tap, fd, vnet, o->want[DP_OFFLOAD_GRO]);
	if (ret < 0)
		return ret;
	io->tap.gro.udp = io->tap.coalesce && o->on[DP_OFFLOAD_USO]; /* #9: USO => UDP_L4 writes */

	fd = dp_udp_socket_open(family, k->port, true);
	if (fd < 0) {
		log_err("kernel: UDP port %u socket %u: %s", k->port, i, strerror(-fd));
		return fd;
	}
	set_bufs(fd);
	return dp_udp_queue_init(&io->udp, fd, family, o);
}

int dp_kernel_open(struct dp_kernel *k, const char *tap_name, unsigned nqueues, uint16_t port,
		   const struct dp_offloads *want)
{
	char name[IFNAMSIZ];
	int family, ret;

	memset(k, 0, sizeof(*k));
	if (!tap_name || strlen(tap_name) >= IFNAMSIZ || nqueues == 0)
		return -EINVAL;
	memset(name, 0, sizeof(name));
	strcpy(name, tap_name);
	if (want)
		memcpy(k->offloads.want, want->want, sizeof(k->offloads.want));
	else
		dp_offloads_want_all(&k->offloads);

	ret = udp_probe(&port, &family);
	if (ret < 0)
		return ret;

	k->io = calloc(nqueues, sizeof(*k->io));
	if (!k->io)
		return -ENOMEM;
	k->port = port;
	for (unsigned i = 0; i < nqueues; i++) {
		ret = io_open(k, i, name, family);
		if (ret < 0)
			goto fail;
	}
	struct dp_offloads *o = &k->offloads;
	o->on[DP_OFFLOAD_GRO] = k->io[0]->tap.coalesce;
	/* TAP offloads off without a reason yet: the configuration said so
	 * (a refused IFF_VNET_HDR or TUNSETOFFLOAD wrote its own). */
	for (int d = DP_OFFLOAD_TSO; d <= DP_OFFLOAD_GRO; d++)
		if (!o->on[d] && !o->why[d][0])
			snprintf(o->why[d], sizeof(o->why[d]), "disabled by offload_%s",
				 dp_offload_names[d]);
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
	union dp_sockaddr a;

	if (!k->io || k->nqueues == 0)
		return -ENOTCONN;
	struct dp_kernel_io *io = k->io[0];
	socklen_t alen = dp_udp_endpoint_to_sa(io->udp.family, to, &a);
	if (alen == 0)
		return -EAFNOSUPPORT;
	ssize_t r = sendto(io->udp.fd, buf, len, MSG_DONTWAIT, &a.sa, alen);
	if (r < 0)
		return -errno;
	return 0;
}

bool dp_kernel_io_pending(const struct dp_kernel_io *io)
{
	return io->tap.sf_next < io->tap.sf_count || io->udp.rx_i < io->udp.rx_n;
}

int dp_kernel_io_tap_fd(const struct dp_kernel_io *io)
{
	return io->tap.fd;
}

int dp_kernel_io_udp_fd(const struct dp_kernel_io *io)
{
	return io->udp.fd;
}

/* ---- the backend interface (backend.h) ---------------------------------- */

int dp_kernel_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
			   size_t errlen)
{
	struct dp_kernel *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	int ret = dp_kernel_open(k, cfg->host_if, cfg->nqueues, cfg->port, &cfg->want);
	if (ret < 0) {
		snprintf(err, errlen, "cannot open TAP %s and UDP port %u: %s", cfg->host_if,
			 cfg->port, strerror(-ret));
		free(k);
		return ret;
	}
	b->priv = k;
	memcpy(b->host_name, k->tap_name, IFNAMSIZ);
	b->nqueues = k->nqueues;
	b->port = k->port;
	b->offloads = k->offloads;
	b->io = (void **)k->io;
	return 0;
}

void dp_kernel_backend_close(struct dp_backend *b)
{
	if (!b->priv)
		return;
	dp_kernel_close(b->priv);
	free(b->priv);
	b->priv = NULL;
	b->io = NULL;
}

static int kernel_send_control(struct dp_backend *b, const struct net_endpoint *to, const void *buf,
			       size_t len)
{
	return dp_kernel_send_control(b->priv, to, buf, len);
}

void dp_kernel_backend_ports(struct dp_backend *b, const struct dp_counters *sum,
			     struct dp_backend_status *st, bool net)
{
	struct dp_kernel *k = b->priv;
	char name[IFNAMSIZ + 16];

	struct dp_backend_port *p = dp_backend_port_add(
	    st, k->tap_name, "tap", k->nqueues, k->offloads.on[DP_OFFLOAD_TSO] ? "vnet_hdr" : "");
	dp_backend_port_stat(p, "rx_packets", sum->host_rx_packets);
	dp_backend_port_stat(p, "rx_bytes", sum->host_rx_bytes);
	dp_backend_port_stat(p, "tx_packets", sum->host_tx_packets);
	dp_backend_port_stat(p, "tx_bytes", sum->host_tx_bytes);
	dp_backend_port_stat(p, "tx_drops", sum->drops[DP_DROP_HOST_TX]);
	if (!net)
		return;
	snprintf(name, sizeof(name), "udp/%u", k->port);
	p = dp_backend_port_add(st, name, "udp", k->nqueues, "");
	dp_backend_port_stat(p, "rx_packets", sum->net_rx_packets);
	dp_backend_port_stat(p, "rx_bytes", sum->net_rx_bytes);
	dp_backend_port_stat(p, "tx_packets", sum->net_tx_packets);
	dp_backend_port_stat(p, "tx_bytes", sum->net_tx_bytes);
	dp_backend_port_stat(p, "tx_drops", sum->drops[DP_DROP_NET_TX]);
}

static void kernel_status(struct dp_backend *b, const struct dp_counters *sum,
			  struct dp_backend_status *st)
{
	snprintf(st->mode, sizeof(st->mode), "kernel sockets");
	dp_kernel_backend_ports(b, sum, st, true);
}

const struct dp_backend_ops dp_kernel_ops = {
    .name = "kernel",
    .open = dp_kernel_backend_open,
    .close = dp_kernel_backend_close,
    .send_control = kernel_send_control,
    .status = kernel_status,
    .host_rx = host_rx,
    .host_tx = host_tx,
    .net_rx = net_rx,
    .net_tx = net_tx,
    .wait = kernel_wait,
};
