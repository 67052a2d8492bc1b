/* The `dpdk` backend behind the backend interface (backend.h): open and
 * close around dpdk_port.c, and the status `ipopctl status` shows (ports
 * with their role, queues, copy mode and counters). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dpdk.h"
#include "dataplane/dpdk_io.h"

int dp_dpdk_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
			 size_t errlen)
{
	const struct dp_dpdk_params *p = cfg->ext;
	if (!p) {
		snprintf(err, errlen, "dpdk: no ipopd.dpdk settings");
		return -EINVAL;
	}
	/* Large (neighbour and MAC tables): on the heap, cache-aligned. */
	size_t sz = (sizeof(struct dp_dpdk) + 63) & ~(size_t)63;
	struct dp_dpdk *d = aligned_alloc(64, sz);
	if (!d) {
		snprintf(err, errlen, "dpdk: out of memory");
		return -ENOMEM;
	}
	int ret = dp_dpdk_open(d, p, cfg->nqueues, cfg->port, err, errlen);
	if (ret < 0) {
		free(d);
		return ret;
	}
	b->priv = d;
	b->io = (void **)d->io;
	b->nqueues = d->nqueues;
	b->port = d->udp_port;
	memset(&b->own_addr, 0, sizeof(b->own_addr));
	b->own_addr.family = AF_INET;
	b->own_addr.port = d->udp_port;
	net_addr_set_v4(b->own_addr.addr, &(struct in_addr){.s_addr = d->ip4});
	/* The TAP the core configures (MTU, addresses, bridge): the net_tap's
	 * interface, "" with vhost-user ports only. */
	memcpy(b->host_name, d->tap_name, IFNAMSIZ);
	memset(&b->offloads, 0, sizeof(b->offloads));
	for (int i = 0; i < DP_OFFLOAD__MAX; i++)
		snprintf(b->offloads.why[i], sizeof(b->offloads.why[i]),
			 "not with the dpdk backend");
	return 0;
}

void dp_dpdk_backend_close(struct dp_backend *b)
{
	struct dp_dpdk *d = b->priv;
	if (!d)
		return;
	dp_dpdk_close(d);
	free(d);
	b->priv = NULL;
	b->io = NULL;
}

static void ethdev_stats(struct dp_backend_port *bp, const struct dp_dpdk_port *pt)
{
	struct dp_dpdk_port_counters pc;
	if (dp_dpdk_port_counters(pt, &pc) < 0)
		return;
	dp_backend_port_stat(bp, "link_up", pc.link_up);
	dp_backend_port_stat(bp, "rx_packets", pc.ipackets);
	dp_backend_port_stat(bp, "tx_packets", pc.opackets);
	dp_backend_port_stat(bp, "rx_bytes", pc.ibytes);
	dp_backend_port_stat(bp, "tx_bytes", pc.obytes);
	dp_backend_port_stat(bp, "rx_missed", pc.imissed);
	dp_backend_port_stat(bp, "errors", pc.errors);
	dp_backend_port_stat(bp, "rx_nombuf", pc.rx_nombuf);
}

void dp_dpdk_backend_status(struct dp_backend *b, const struct dp_counters *sum,
			    struct dp_backend_status *st)
{
	const struct dp_dpdk *d = b->priv;
	struct dp_dpdk_stats s;
	struct dp_backend_port *bp;
	char mode[48], a[INET_ADDRSTRLEN];
	if (!d)
		return;
	dp_dpdk_stats_read(d, &s);
	snprintf(st->mode, sizeof(st->mode), "dpdk, %u queue%s per port, mbufs zero-copy",
		 d->nqueues, d->nqueues == 1 ? "" : "s");

	inet_ntop(AF_INET, &d->ip4, a, sizeof(a));
	snprintf(mode, sizeof(mode), "%s/%d, %s, zero-copy", a, __builtin_popcount(d->mask),
		 d->net.driver ? d->net.driver : "?");
	bp = dp_backend_port_add(st, d->net.name, "ethdev", d->nqueues, mode);
	ethdev_stats(bp, &d->net);
	dp_backend_port_stat(bp, "arp_requests_in", s.arp_requests_in);
	dp_backend_port_stat(bp, "arp_replies_out", s.arp_replies_out);
	dp_backend_port_stat(bp, "arp_requests_out", s.arp_requests_out);
	dp_backend_port_stat(bp, "arp_replies_in", s.arp_replies_in);
	dp_backend_port_stat(bp, "neigh_miss", s.neigh_miss);
	dp_backend_port_stat(bp, "not_ours", s.not_ours);
	dp_backend_port_stat(bp, "fragments", s.fragments);
	dp_backend_port_stat(bp, "icmp_echo", s.icmp_echo);

	for (unsigned i = 0; i < d->nhost; i++) {
		const struct dp_dpdk_port *pt = &d->host[i];
		bool tap = pt->kind == DP_DPDK_TAP;
		snprintf(mode, sizeof(mode), "%s, %s", tap ? "host TAP" : "host vhost-user",
			 /* vhost copies to and from guest memory by design */
			 tap ? "copy (kernel)" : "copy (guest memory)");
		bp = dp_backend_port_add(st, tap && pt->ifname[0] ? pt->ifname : pt->name,
					 tap ? "tap" : "vhost", d->nqueues, mode);
		ethdev_stats(bp, pt);
		if (i == 0) { /* the host ports' switch, counted once */
			dp_backend_port_stat(bp, "local_switched", s.local_switched);
			dp_backend_port_stat(bp, "host_copies", s.host_copies);
			dp_backend_port_stat(bp, "tx_full", s.tx_full);
			dp_backend_port_stat(bp, "multiseg", s.multiseg);
		}
	}
	/* Where the workers' cycles go (per-burst TSC around each device call). */
	bp = dp_backend_port_add(st, "cycles", "stages", d->nqueues, "TSC cycles in device calls");
	dp_backend_port_stat(bp, "host_rx", s.cycles_host_rx);
	dp_backend_port_stat(bp, "host_tx", s.cycles_host_tx);
	dp_backend_port_stat(bp, "net_rx", s.cycles_net_rx);
	dp_backend_port_stat(bp, "net_tx", s.cycles_net_tx);
	dp_backend_port_stat(bp, "worker_busy", sum ? sum->busy_cycles : 0);
}
