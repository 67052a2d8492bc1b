/* The structured overlay's view for the management socket ("topology":
 * `ipopctl topology`, /metrics): our ring id and place on the ring
 * (predecessor, successor), every link the topology manager holds with its
 * roles (successor, chord, on-demand, inbound), state, age and traffic,
 * configured peers as kind static, the caps, the counts per role, the
 * manager's and the wiring's counters, and the member ring (for drawings). */
#pragma once
#include <jansson.h>

struct ctl;

/* {"topology": {...}}; {"topology": {"enabled": false}} without a manager.
 * A new reference, NULL on ENOMEM. */
json_t *ctl_mgmt_topology_json(struct ctl *c);
