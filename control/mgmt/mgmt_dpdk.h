/* The `dpdk` backend's part of `ipopctl status` (mgmt_dpdk.c). */
#pragma once
#include <jansson.h>

struct ctl;

/* An object with the ports, queues, neighbours and counters, or JSON null
 * when another backend runs. */
json_t *ctl_mgmt_dpdk_json(struct ctl *c);
