/* The `dpdk` backend from the core's side: its parameters from the config
 * (ipopd.dpdk, docs/dpdk.md), opened in place of the kernel backend. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/core/ctl.h"

int ctl_dpdk_open(struct ctl *c, unsigned nworkers, char *errbuf, size_t errlen)
{
	const struct ipop_config *cfg = &c->cfg;
	const struct ipop_dpdk_conf *dc = &cfg->dpdk;
	const char *args[IPOP_DPDK_ARGS_MAX], *vhost[IPOP_DPDK_VHOST_MAX];
	char prefix[IFNAMSIZ + 8];

	for (unsigned i = 0; i < dc->n_eal_args; i++)
		args[i] = dc->eal_args[i];
	for (unsigned i = 0; i < dc->n_vhost_ports; i++)
		vhost[i] = dc->vhost_ports[i];
	/* Two instances on one host must not share EAL's runtime directory. */
	snprintf(prefix, sizeof(prefix), "ipopd-%s", cfg->tap);
	struct dp_dpdk_params p = {
	    .eal_args = args,
	    .n_eal_args = dc->n_eal_args,
	    .file_prefix = prefix,
	    .underlay_port = dc->underlay_port,
	    .ip4 = dc->underlay_ip,
	    .gateway = dc->underlay_gateway,
	    .plen = dc->underlay_plen,
	    .udp_port = cfg->port,
	    .host_port = dc->host_port,
	    .vhost_ports = vhost,
	    .n_vhost_ports = dc->n_vhost_ports,
	    .nworkers = nworkers,
	    .queues = dc->queues,
	    .mbufs = dc->mbufs,
	    .pool_size = 0,
	};
	int err = dp_dpdk_open(&c->dpdk, &p, errbuf, errlen);
	if (err)
		return err;
	c->dpdk_open = true;
	/* The rest of the core names the host interface through the kernel
	 * backend's field: the net_tap's interface ("" with vhost-user only). */
	memcpy(c->kernel.tap_name, c->dpdk.tap_name, IFNAMSIZ);
	return 0;
}
