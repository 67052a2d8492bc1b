/* The `dpdk` backend from the core's side: its parameters from the config
 * (ipopd.dpdk, docs/dpdk.md), handed to dp_backend_open() as `ext`. */
#include <stdio.h>
#include <string.h>

#include "control/core/dpdk_setup.h"

const struct dp_dpdk_params *ctl_dpdk_params(const struct ipop_config *cfg,
					     struct dp_dpdk_params *p)
{
	const struct ipop_dpdk_conf *dc = &cfg->dpdk;

	if (strcmp(cfg->backend, "dpdk"))
		return NULL;
	memset(p, 0, sizeof(*p));
	_Static_assert(IPOP_DPDK_ARGS_MAX <= DP_DPDK_ARG_MAX, "EAL arguments fit");
	_Static_assert(IPOP_DPDK_VHOST_MAX < DP_DPDK_HOST_MAX, "vhost-user ports fit");
	for (unsigned i = 0; i < dc->n_eal_args; i++)
		p->eal_args[i] = dc->eal_args[i];
	p->n_eal_args = dc->n_eal_args;
	/* Two instances on one host must not share EAL's runtime directory. */
	snprintf(p->file_prefix, sizeof(p->file_prefix), "ipopd-%s", cfg->tap);
	p->underlay_port = dc->underlay_port;
	p->ip4 = dc->underlay_ip;
	p->gateway = dc->underlay_gateway;
	p->plen = dc->underlay_plen;
	p->host_port = dc->host_port;
	for (unsigned i = 0; i < dc->n_vhost_ports; i++)
		p->vhost_ports[i] = dc->vhost_ports[i];
	p->n_vhost_ports = dc->n_vhost_ports;
	p->queues = dc->queues;
	p->mbufs = dc->mbufs;
	return p;
}
