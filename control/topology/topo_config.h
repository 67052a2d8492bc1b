/* Topology settings from the loaded configuration (BaseTopologyManager
 * section, parsed by control/config/config.c). Header-only so that the
 * topology library itself needs nothing but util/. */
#pragma once
#include "control/config/config.h"
#include "control/topology/topo.h"

static inline void ctl_topo_params_from_config(const struct ipop_config *c,
					       struct ctl_topo_params *p)
{
	p->num_successors = c->num_successors;
	p->num_chords = c->num_chords;
	p->num_on_demand = c->num_on_demand;
	p->num_inbound = c->num_inbound;
	p->threshold_on_demand = c->threshold_on_demand;
	p->ttl_link_initial_ms = (uint64_t)c->ttl_link_initial * 1000;
	p->ttl_link_pulse_ms = (uint64_t)c->ttl_link_pulse * 1000;
	p->ttl_chord_ms = (uint64_t)c->ttl_chord * 1000;
	p->ttl_on_demand_ms = (uint64_t)c->ttl_on_demand * 1000;
	p->interval_management_ms = (uint64_t)c->interval_management * 1000;
	p->interval_ping_ms = (uint64_t)c->interval_ping * 1000;
	p->num_pings = c->num_pings;
	p->multihop = c->multihop;
}
