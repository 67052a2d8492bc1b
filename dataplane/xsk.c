/* The af_xdp backend's setup, teardown, status and control-core hooks
 * (xsk.h); the worker's side is xsk_io.c. */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "dataplane/xsk_internal.h"
#include "util/log.h"

#define NH_RETRY_MS 200 /* an unresolved next hop is asked about again this often */

static const char *const mode_names[] = {"auto", "native", "generic"};

/* Receive queues of ifname (its /sys/class/net/IF/queues/rx-N). */
static int rx_queues(const char *ifname)
{
	char path[64];
	int n = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));)
		n += strncmp(e->d_name, "rx-", 3) == 0;
	closedir(d);
	return n;
}

static int if_mtu(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int ret = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return ret;
}

/* The XDP object: $IPOPD_XDP_OBJECT, else the installed one, else the one
 * next to the executable in a build tree (build/ipopd → build/bpf/). */
static const char *obj_path(char *buf, size_t len)
{
	const char *env = getenv("IPOPD_XDP_OBJECT");
	if (env && env[0])
		return env;
	if (access(XDP_PROG_DEFAULT_PATH, R_OK) == 0)
		return XDP_PROG_DEFAULT_PATH;
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n > 0) {
		buf[n] = 0;
		char *slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + sizeof("/bpf/xdp_steer.bpf.o") <= len) {
			strcpy(slash, "/bpf/xdp_steer.bpf.o");
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	return XDP_PROG_DEFAULT_PATH; /* the error names the installed path */
}

static void io_close(struct xsk_backend *x, struct xsk_io *io)
{
	if (!io)
		return;
	if (io->xsk) {
		xdp_prog_xsk_clear(x->prog, io->queue);
		xsk_socket__delete(io->xsk);
	}
	if (io->umem)
		xsk_umem__delete(io->umem);
	if (io->pool.mem)
		dp_pool_fini(&io->pool);
	free(io);
}

static int io_open(struct xsk_backend *x, unsigned q, char *err, size_t errlen)
{
	struct xsk_io *io = aligned_alloc(64, (sizeof(*io) + 63) & ~(size_t)63);
	if (!io)
		return -ENOMEM;
	memset(io, 0, sizeof(*io));
	io->x = x;
	io->queue = q;
	io->fd = -1;
	io->kio = x->kb.io[q];
	x->io[q] = io;

	int ret = dp_pool_init_stride(&io->pool, DP_XSK_POOL, DP_XSK_STRIDE);
	if (ret < 0) {
		snprintf(err, errlen, "af_xdp: queue %u: buffers: %s", q, strerror(-ret));
		return ret;
	}
	io->area = io->pool.bufs;
	struct xsk_umem_config uc = {
	    .fill_size = DP_XSK_RING,
	    .comp_size = DP_XSK_RING,
	    .frame_size = DP_XSK_CHUNK,
	    .frame_headroom = 0,
	    .flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG,
	};
	ret = xsk_umem__create(&io->umem, io->area, (uint64_t)DP_XSK_POOL * DP_XSK_STRIDE,
			       &io->fill, &io->comp, &uc);
	if (ret < 0) {
		io->umem = NULL;
		snprintf(err, errlen, "af_xdp: queue %u: UMEM registration: %s", q, strerror(-ret));
		return ret;
	}
	struct xsk_socket_config sc = {
	    .rx_size = DP_XSK_RING,
	    .tx_size = DP_XSK_RING,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .bind_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY,
	};
	ret = xsk_socket__create(&io->xsk, x->ifname, q, io->umem, &io->rx, &io->tx, &sc);
	if (ret < 0) {
		sc.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
		ret = xsk_socket__create(&io->xsk, x->ifname, q, io->umem, &io->rx, &io->tx, &sc);
	} else {
		io->zerocopy = true;
	}
	if (ret < 0) {
		io->xsk = NULL;
		snprintf(err, errlen, "af_xdp: %s queue %u: AF_XDP socket: %s", x->ifname, q,
			 strerror(-ret));
		return ret;
	}
	io->fd = xsk_socket__fd(io->xsk);
	xsk_io_prefill(io);
	ret = xdp_prog_xsk_set(x->prog, q, io->fd);
	if (ret < 0) {
		snprintf(err, errlen, "af_xdp: %s queue %u: XSK map: %s", x->ifname, q,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

static void xsk_close(struct dp_backend *b)
{
	struct xsk_backend *x = b->priv;
	if (!x)
		return;
	if (x->io)
		for (unsigned i = 0; i < x->nqueues; i++)
			io_close(x, x->io[i]);
	free(x->io);
	xdp_prog_close(x->prog); /* detaches: nothing stays on the interface */
	dp_nh_fini(&x->nh);
	dp_kernel_backend_close(&x->kb);
	free(x);
	b->priv = NULL;
	b->io = NULL;
}

static int check_interface(const struct dp_backend_config *cfg, char *err, size_t errlen)
{
	const char *ifn = cfg->underlay_if;
	if (!ifn || !ifn[0]) {
		snprintf(err, errlen, "af_xdp: no underlay_interface configured");
		return -EINVAL;
	}
	if (!if_nametoindex(ifn)) {
		snprintf(err, errlen,
			 "af_xdp: underlay interface %s does not exist (ipopd.underlay_interface)",
			 ifn);
		return -ENODEV;
	}
	int nq = rx_queues(ifn);
	if (nq >= 0 && (unsigned)nq < cfg->nqueues) {
		snprintf(err, errlen,
			 "af_xdp: %s has %d receive queue%s but ipopd.workers is %u: one queue per "
			 "worker (set workers to at most %d, or add queues: ethtool -L %s combined "
			 "%u)",
			 ifn, nq, nq == 1 ? "" : "s", cfg->nqueues, nq, ifn, cfg->nqueues);
		return -EINVAL;
	}
	int mtu = if_mtu(ifn);
	if (mtu > DP_XSK_CHUNK - 256 - 14) {
		snprintf(err, errlen,
			 "af_xdp: %s has MTU %d; frames must fit a %d-byte UMEM chunk (MTU at most "
			 "%d)",
			 ifn, mtu, DP_XSK_CHUNK, DP_XSK_CHUNK - 256 - 14);
		return -EINVAL;
	}
	return 0;
}

static int xsk_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
		    size_t errlen)
{
	int ret = check_interface(cfg, err, errlen);
	if (ret < 0)
		return ret;
	struct xsk_backend *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	b->priv = x;
	snprintf(x->ifname, sizeof(x->ifname), "%s", cfg->underlay_if);
	x->ifindex = (int)if_nametoindex(x->ifname);

	ret = dp_kernel_backend_open(&x->kb, cfg, err, errlen);
	if (ret < 0)
		goto fail;
	x->port = htons(x->kb.port);
	ret = dp_nh_init(&x->nh, x->ifindex, err, errlen);
	if (ret < 0)
		goto fail;

	char objbuf[4096];
	struct xdp_prog_cfg pc = {.obj_path = obj_path(objbuf, sizeof(objbuf)),
				  .port = x->kb.port,
				  .any_addr = true,
				  .n_queues = cfg->nqueues};
	x->prog = xdp_prog_load(&pc, err, errlen);
	if (!x->prog) {
		ret = -errno;
		goto fail;
	}
	ret = xdp_prog_attach(x->prog, x->ifname, (enum xdp_prog_mode)cfg->xdp_mode, err, errlen);
	if (ret < 0)
		goto fail;
	x->mode = xdp_prog_mode_get(x->prog);

	x->io = calloc(cfg->nqueues, sizeof(*x->io));
	if (!x->io) {
		ret = -ENOMEM;
		goto fail;
	}
	x->nqueues = cfg->nqueues;
	for (unsigned q = 0; q < cfg->nqueues; q++) {
		ret = io_open(x, q, err, errlen);
		if (ret < 0)
			goto fail;
	}
	memcpy(b->host_name, x->kb.host_name, IFNAMSIZ);
	b->nqueues = x->nqueues;
	b->port = x->kb.port;
	b->offloads = x->kb.offloads;
	b->io = (void **)x->io;
	log_info("af_xdp: %s, XDP %s mode, %u queue%s, %s", x->ifname,
		 mode_names[x->mode < 3 ? x->mode : 0], x->nqueues, x->nqueues == 1 ? "" : "s",
		 x->io[0]->zerocopy ? "zero-copy" : "copy");
	return 0;

fail:
	xsk_close(b);
	return ret < 0 ? ret : -EINVAL;
}

static int xsk_send_control(struct dp_backend *b, const struct net_endpoint *to, const void *buf,
			    size_t len)
{
	struct xsk_backend *x = b->priv;
	return dp_kernel_ops.send_control(&x->kb, to, buf, len);
}

static void xsk_status(struct dp_backend *b, const struct dp_counters *sum,
		       struct dp_backend_status *st)
{
	struct xsk_backend *x = b->priv;
	struct xsk_io_stats t = {0};
	struct xdp_statistics xs, xt = {0};
	uint64_t prog[XDP_STEER_COUNTERS] = {0};
	unsigned zc = 0, nh[4];
	char mode[48], name[IFNAMSIZ + 16];

	for (unsigned i = 0; i < x->nqueues; i++) {
		const struct xsk_io_stats *s = &x->io[i]->st;
		t.rx_frames += __atomic_load_n(&s->rx_frames, __ATOMIC_RELAXED);
		t.rx_bad += __atomic_load_n(&s->rx_bad, __ATOMIC_RELAXED);
		t.tx_frames += __atomic_load_n(&s->tx_frames, __ATOMIC_RELAXED);
		t.tx_ring_full += __atomic_load_n(&s->tx_ring_full, __ATOMIC_RELAXED);
		t.tx_slow += __atomic_load_n(&s->tx_slow, __ATOMIC_RELAXED);
		t.rx_slow += __atomic_load_n(&s->rx_slow, __ATOMIC_RELAXED);
		t.nh_wait += __atomic_load_n(&s->nh_wait, __ATOMIC_RELAXED);
		t.kicks += __atomic_load_n(&s->kicks, __ATOMIC_RELAXED);
		socklen_t l = sizeof(xs);
		if (getsockopt(x->io[i]->fd, SOL_XDP, XDP_STATISTICS, &xs, &l) == 0) {
			xt.rx_dropped += xs.rx_dropped;
			xt.rx_invalid_descs += xs.rx_invalid_descs;
			xt.tx_invalid_descs += xs.tx_invalid_descs;
			xt.rx_ring_full += xs.rx_ring_full;
			xt.rx_fill_ring_empty_descs += xs.rx_fill_ring_empty_descs;
		}
		zc += x->io[i]->zerocopy;
	}
	xdp_prog_counters_read(x->prog, prog);
	dp_nh_count(&x->nh, nh);
	snprintf(mode, sizeof(mode), "XDP %s, %s", mode_names[x->mode < 3 ? x->mode : 0],
		 zc == x->nqueues ? "zero-copy"
		 : zc		  ? "partly zero-copy"
				  : "copy");
	snprintf(st->mode, sizeof(st->mode), "%s", mode);

	dp_kernel_backend_ports(&x->kb, sum, st, false);
	struct dp_backend_port *p = dp_backend_port_add(st, x->ifname, "af_xdp", x->nqueues, mode);
	dp_backend_port_stat(p, "rx_frames", t.rx_frames);
	dp_backend_port_stat(p, "rx_bad", t.rx_bad);
	dp_backend_port_stat(p, "tx_frames", t.tx_frames);
	dp_backend_port_stat(p, "tx_ring_full", t.tx_ring_full);
	dp_backend_port_stat(p, "xdp_steered", prog[XDP_STEER_STEERED]);
	dp_backend_port_stat(p, "xdp_no_socket", prog[XDP_STEER_PASS_NO_SOCKET]);
	dp_backend_port_stat(p, "xdp_other_queue", prog[XDP_STEER_PASS_QUEUE_RANGE]);
	dp_backend_port_stat(p, "rx_dropped", xt.rx_dropped);
	dp_backend_port_stat(p, "rx_ring_full", xt.rx_ring_full);
	dp_backend_port_stat(p, "fill_ring_empty", xt.rx_fill_ring_empty_descs);
	dp_backend_port_stat(p, "tx_invalid", xt.tx_invalid_descs);
	dp_backend_port_stat(p, "wakeups", t.kicks);
	dp_backend_port_stat(p, "nexthops_ok", nh[DP_NH_OK]);
	dp_backend_port_stat(p, "nexthops_unresolved", nh[DP_NH_UNRESOLVED]);
	dp_backend_port_stat(p, "nexthops_kernel", nh[DP_NH_KERNEL]);
	snprintf(name, sizeof(name), "udp/%u", x->kb.port);
	p = dp_backend_port_add(st, name, "udp", x->nqueues, "slow path");
	dp_backend_port_stat(p, "rx_packets", t.rx_slow);
	dp_backend_port_stat(p, "tx_packets", t.tx_slow);
	dp_backend_port_stat(p, "tx_nexthop_wait", t.nh_wait);
	dp_backend_port_stat(p, "tx_drops", sum->drops[DP_DROP_NET_TX]);
}

static int xsk_event_fd(struct dp_backend *b)
{
	return dp_nh_event_fd(&((struct xsk_backend *)b->priv)->nh);
}

static void xsk_event(struct dp_backend *b)
{
	dp_nh_event(&((struct xsk_backend *)b->priv)->nh);
}

static void xsk_tick(struct dp_backend *b, uint64_t now_ms)
{
	dp_nh_tick(&((struct xsk_backend *)b->priv)->nh, now_ms, NH_RETRY_MS);
}

const struct dp_backend_ops dp_xsk_ops = {
    .name = "af_xdp",
    .open = xsk_open,
    .close = xsk_close,
    .send_control = xsk_send_control,
    .status = xsk_status,
    .event_fd = xsk_event_fd,
    .event = xsk_event,
    .tick = xsk_tick,
    .pool_init = xsk_io_pool_init,
    .pool_fini = xsk_io_pool_fini,
    .host_rx = xsk_io_host_rx,
    .host_tx = xsk_io_host_tx,
    .net_rx = xsk_io_net_rx,
    .net_tx = xsk_io_net_tx,
    .wait = xsk_io_wait,
};
