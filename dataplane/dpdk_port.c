/* The `dpdk` backend's setup: EAL, the mempool, the ports (probed from
 * their devargs, one rx/tx queue pair per worker), the per-worker I/O
 * state, and the teardown that leaves nothing behind (a net_tap's interface
 * and a vhost-user socket go with their port).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/dpdk.h"
#include "dataplane/dpdk_io.h"
#include "util/log.h"
#include "util/path.h"

#define IPOP_PATH_DIR_MAX 256

#define RX_DESC	   1024
#define TX_DESC	   1024
#define POOL_CACHE 256
#define MBUF_ROOM  (RTE_PKTMBUF_HEADROOM + 2048)

_Static_assert(RTE_PKTMBUF_HEADROOM == DP_HEADROOM, "an mbuf's data starts where a packet's does");

static const char *kind_name(enum dp_dpdk_kind k)
{
	return k == DP_DPDK_UNDERLAY ? "underlay"
	       : k == DP_DPDK_TAP    ? "host (tap)"
				     : "host (vhost)";
}

static void port_close(struct dp_dpdk_port *pt)
{
	if (!pt->probed)
		return;
	if (pt->started)
		rte_eth_dev_stop(pt->id);
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;
	if (rte_eth_dev_info_get(pt->id, &info) == 0)
		dev = info.device;
	rte_eth_dev_close(pt->id);
	/* The device itself (vdev or PCI): a probed vdev stays on its bus, and
	 * its name could not be probed again otherwise. */
	if (dev)
		rte_dev_remove(dev);
	pt->probed = pt->configured = pt->started = false;
}

static int port_probe(struct dp_dpdk_port *pt, char *err, size_t errlen)
{
	size_t n = strcspn(pt->devargs, ",");
	if (n == 0 || n >= sizeof(pt->name)) {
		snprintf(err, errlen,
			 "dpdk: %s port \"%s\": expected a device name before the first comma",
			 kind_name(pt->kind), pt->devargs);
		return -EINVAL;
	}
	memcpy(pt->name, pt->devargs, n);
	pt->name[n] = 0;
	int ret = rte_dev_probe(pt->devargs);
	if (ret < 0) {
		snprintf(
		    err, errlen,
		    "dpdk: %s port \"%s\" cannot be created (%s): check the device name and its "
		    "arguments (docs/dpdk.md), and the messages above",
		    kind_name(pt->kind), pt->devargs, strerror(-ret));
		return ret;
	}
	if (rte_eth_dev_get_port_by_name(pt->name, &pt->id) != 0) {
		/* Probed, but under another name (some PMDs rename): the device
		 * was created, so remove it before failing. */
		struct rte_dev_iterator it;
		uint16_t id;
		bool found = false;
		RTE_ETH_FOREACH_MATCHING_DEV(id, pt->devargs, &it)
		{
			if (!found) {
				pt->id = id;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen, "dpdk: %s port \"%s\" made no ethdev",
				 kind_name(pt->kind), pt->devargs);
			return -ENODEV;
		}
	}
	pt->probed = true;
	return 0;
}

static int port_setup(struct dp_dpdk *d, struct dp_dpdk_port *pt, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_ether_addr mac;
	const char *step = "info";
	int ret;

	ret = port_probe(pt, err, errlen);
	if (ret < 0)
		return ret;
	ret = rte_eth_dev_info_get(pt->id, &info);
	if (ret < 0)
		goto fail;
	pt->driver = info.driver_name;
	if (info.max_rx_queues < d->nqueues || info.max_tx_queues < d->nqueues) {
		snprintf(err, errlen,
			 "dpdk: %s port %s has %u rx/%u tx queues, %u needed (one per worker; "
			 "net_af_packet: add qpairs=%u to its arguments, or set ipopd.dpdk.queues)",
			 kind_name(pt->kind), pt->name, info.max_rx_queues, info.max_tx_queues,
			 d->nqueues, d->nqueues);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	if (d->nqueues > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_IP)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
	}
	step = "configure";
	ret = rte_eth_dev_configure(pt->id, (uint16_t)d->nqueues, (uint16_t)d->nqueues, &conf);
	if (ret < 0)
		goto fail;
	pt->configured = true;
	uint16_t rxd = RX_DESC, txd = TX_DESC;
	(void)rte_eth_dev_adjust_nb_rx_tx_desc(pt->id, &rxd, &txd);
	int sock = rte_eth_dev_socket_id(pt->id);
	unsigned socket = sock < 0 ? (unsigned)SOCKET_ID_ANY : (unsigned)sock;
	step = "queue setup";
	for (unsigned q = 0; q < d->nqueues; q++) {
		ret = rte_eth_rx_queue_setup(pt->id, (uint16_t)q, rxd, socket, NULL, d->mp);
		if (ret < 0)
			goto fail;
		ret = rte_eth_tx_queue_setup(pt->id, (uint16_t)q, txd, socket, NULL);
		if (ret < 0)
			goto fail;
	}
	if (pt->kind != DP_DPDK_UNDERLAY)
		(void)rte_eth_promiscuous_enable(pt->id); /* a switch port takes every frame */
	step = "start";
	ret = rte_eth_dev_start(pt->id);
	if (ret < 0)
		goto fail;
	pt->started = true;
	if (rte_eth_macaddr_get(pt->id, &mac) == 0)
		memcpy(pt->mac, mac.addr_bytes, 6);
	return 0;

fail:
	snprintf(err, errlen, "dpdk: %s port %s (%s): %s failed: %s; see the messages above",
		 kind_name(pt->kind), pt->name, pt->driver ? pt->driver : "?", step,
		 strerror(ret < 0 ? -ret : EINVAL));
	return ret < 0 ? ret : -EINVAL;
}

/* net_tap's interface name: "iface=NAME" in its devargs. */
static void tap_ifname(const char *devargs, char out[IFNAMSIZ])
{
	const char *s = strstr(devargs, "iface=");
	out[0] = 0;
	if (!s)
		return;
	s += 6;
	size_t n = strcspn(s, ",");
	if (n < IFNAMSIZ) {
		memcpy(out, s, n);
		out[n] = 0;
	}
}

static void io_free(struct dp_dpdk *d)
{
	if (!d->io)
		return;
	for (unsigned i = 0; i < d->nqueues; i++)
		free(d->io[i]);
	free(d->io);
	d->io = NULL;
}

static int io_alloc(struct dp_dpdk *d)
{
	d->io = calloc(d->nqueues, sizeof(*d->io));
	if (!d->io)
		return -ENOMEM;
	for (unsigned i = 0; i < d->nqueues; i++) {
		size_t sz = (sizeof(struct dp_dpdk_io) + 63) & ~(size_t)63;
		d->io[i] = aligned_alloc(64, sz);
		if (!d->io[i])
			return -ENOMEM;
		memset(d->io[i], 0, sz);
		d->io[i]->d = d;
		d->io[i]->q = (uint16_t)i;
	}
	return 0;
}

int dp_dpdk_open(struct dp_dpdk *d, const struct dp_dpdk_params *p, unsigned nworkers,
		 uint16_t udp_port, char *err, size_t errlen)
{
	int ret;

	memset(d, 0, sizeof(*d));
	if (!nworkers || p->n_vhost_ports + 1 > DP_DPDK_HOST_MAX) {
		snprintf(err, errlen, "dpdk: bad parameters");
		return -EINVAL;
	}
	d->nworkers = nworkers;
	d->nqueues = p->queues ? p->queues : nworkers;
	if (d->nqueues != d->nworkers) {
		/* A queue belongs to one worker and a worker polls one queue. */
		snprintf(err, errlen, "dpdk: ipopd.dpdk.queues (%u) must equal ipopd.workers (%u)",
			 d->nqueues, d->nworkers);
		return -EINVAL;
	}
	d->ip4 = p->ip4;
	d->gateway = p->gateway;
	d->mask = p->plen ? htonl(~0u << (32 - p->plen)) : 0;
	d->udp_port = udp_port;
	d->pool_size = p->pool_size ? p->pool_size : 4096;
	if (!d->udp_port) {
		snprintf(err, errlen,
			 "dpdk: TincanSender.svpn_port must be set (the underlay port owns no "
			 "kernel socket to pick one)");
		return -EINVAL;
	}

	ret = dp_dpdk_eal_init(p, err, errlen);
	if (ret < 0)
		return ret;
	d->eal = true;
	d->tsc_hz = rte_get_tsc_hz();

	unsigned ports = 1 + (p->host_port[0] ? 1 : 0) + p->n_vhost_ports;
	unsigned pool = p->pool_size ? p->pool_size : 4096;
	unsigned n = p->mbufs ? p->mbufs : d->nqueues * (pool + ports * (RX_DESC + TX_DESC)) + 2048;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "ipopd_%d", (int)getpid());
	d->mp = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0, MBUF_ROOM, (int)rte_socket_id());
	if (!d->mp) {
		ret = -rte_errno;
		snprintf(
		    err, errlen,
		    "dpdk: cannot create a pool of %u mbufs (%s): give EAL more memory "
		    "(\"-m\" in ipopd.dpdk.eal_args, or more hugepages) or set ipopd.dpdk.mbufs",
		    n, strerror(rte_errno));
		goto fail;
	}
	ret = io_alloc(d);
	if (ret < 0) {
		snprintf(err, errlen, "dpdk: out of memory");
		goto fail;
	}

	d->net.kind = DP_DPDK_UNDERLAY;
	snprintf(d->net.devargs, sizeof(d->net.devargs), "%s", p->underlay_port);
	ret = port_setup(d, &d->net, err, errlen);
	if (ret < 0)
		goto fail;
	if (p->host_port[0]) {
		struct dp_dpdk_port *pt = &d->host[d->nhost++];
		pt->kind = strncmp(p->host_port, "net_tap", 7) ? DP_DPDK_VHOST : DP_DPDK_TAP;
		snprintf(pt->devargs, sizeof(pt->devargs), "%s", p->host_port);
		if (pt->kind == DP_DPDK_TAP) {
			tap_ifname(p->host_port, pt->ifname);
			memcpy(d->tap_name, pt->ifname, IFNAMSIZ);
		}
		ret = port_setup(d, pt, err, errlen);
		if (ret < 0)
			goto fail;
	}
	for (unsigned i = 0; i < p->n_vhost_ports; i++) {
		struct dp_dpdk_port *pt = &d->host[d->nhost++];
		pt->kind = DP_DPDK_VHOST;
		char dir[IPOP_PATH_DIR_MAX];
		snprintf(dir, sizeof(dir), "%s", p->vhost_ports[i]);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			struct stat st;
			ret = path_mkdir_p(dir, 0755);
			if (!ret && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
				ret = -ENOTDIR;
			if (ret < 0) {
				snprintf(err, errlen,
					 "dpdk: vhost-user socket %s: cannot create %s: %s",
					 p->vhost_ports[i], dir, strerror(-ret));
				goto fail;
			}
		}
		/* A socket left by a killed instance would make the bind fail. */
		if (access(p->vhost_ports[i], F_OK) == 0 && unlink(p->vhost_ports[i]) == 0)
			log_warn("dpdk: removed the stale vhost-user socket %s", p->vhost_ports[i]);
		snprintf(pt->devargs, sizeof(pt->devargs), "net_vhost%u,iface=%s,queues=%u", i,
			 p->vhost_ports[i], d->nqueues);
		ret = port_setup(d, pt, err, errlen);
		if (ret < 0)
			goto fail;
	}
	log_info("dpdk: underlay %s (%s) %02x:%02x:%02x:%02x:%02x:%02x, %u host port%s, %u "
		 "queue%s, %u mbufs",
		 d->net.name, d->net.driver, d->net.mac[0], d->net.mac[1], d->net.mac[2],
		 d->net.mac[3], d->net.mac[4], d->net.mac[5], d->nhost, d->nhost == 1 ? "" : "s",
		 d->nqueues, d->nqueues == 1 ? "" : "s", n);
	return 0;

fail:
	dp_dpdk_close(d);
	return ret;
}

void dp_dpdk_close(struct dp_dpdk *d)
{
	for (unsigned i = d->nhost; i-- > 0;)
		port_close(&d->host[i]);
	port_close(&d->net);
	io_free(d);
	if (d->mp)
		rte_mempool_free(d->mp);
	d->mp = NULL;
	if (d->eal)
		dp_dpdk_eal_fini();
	d->eal = false;
	d->nhost = 0;
}

int dp_dpdk_pool_init(void *io_, struct dp_pool *pool)
{
	struct dp_dpdk_io *io = io_;
	struct dp_dpdk *d = io->d;
	uint32_t n = d->pool_size;

	/* Descriptors and the free stack only: the buffers are mbufs. */
	memset(pool, 0, sizeof(*pool));
	size_t total = (size_t)n * (sizeof(struct dp_pkt) + sizeof(struct dp_pkt *));
	pool->mem = aligned_alloc(64, (total + 63) & ~(size_t)63);
	if (!pool->mem)
		return -ENOMEM;
	pool->stack = (struct dp_pkt **)(pool->mem + n);
	pool->size = n;
	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(d->mp);
		if (!m) {
			dp_dpdk_pool_fini(io, pool);
			return -ENOMEM;
		}
		memset(&pool->mem[i], 0, sizeof(pool->mem[i]));
		dp_dpdk_pkt_attach(&pool->mem[i], m);
		dp_pkt_reset(&pool->mem[i]);
		pool->stack[pool->avail++] = &pool->mem[i];
	}
	return 0;
}

void dp_dpdk_pool_fini(void *io_, struct dp_pool *pool)
{
	(void)io_;
	/* Every descriptor is home by now (the worker stopped); their mbufs go
	 * back to the mempool, which the backend frees after the workers. */
	for (uint32_t i = 0; i < pool->avail; i++)
		rte_pktmbuf_free(dp_dpdk_pkt_mbuf(pool->stack[i]));
	free(pool->mem);
	memset(pool, 0, sizeof(*pool));
}

int dp_dpdk_port_counters(const struct dp_dpdk_port *port, struct dp_dpdk_port_counters *out)
{
	struct rte_eth_stats st;
	struct rte_eth_link link;
	memset(out, 0, sizeof(*out));
	if (!port->started)
		return -ENODEV;
	int ret = rte_eth_stats_get(port->id, &st);
	if (ret < 0)
		return ret;
	out->ipackets = st.ipackets;
	out->opackets = st.opackets;
	out->ibytes = st.ibytes;
	out->obytes = st.obytes;
	out->imissed = st.imissed;
	out->errors = st.ierrors + st.oerrors;
	out->rx_nombuf = st.rx_nombuf;
	if (rte_eth_link_get_nowait(port->id, &link) == 0)
		out->link_up = link.link_status == RTE_ETH_LINK_UP;
	return 0;
}
