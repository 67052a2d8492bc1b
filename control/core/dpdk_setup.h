/* The `dpdk` backend's settings from the config (dpdk_setup.c). */
#pragma once
#include "control/config/config.h"
#include "dataplane/dpdk.h"

/* Fills p from cfg->dpdk (pointers into cfg: it must outlive the open) and
 * returns it, to be passed as dp_backend_config.ext; NULL for another
 * backend. */
const struct dp_dpdk_params *ctl_dpdk_params(const struct ipop_config *cfg,
					     struct dp_dpdk_params *p);
