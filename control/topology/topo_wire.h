/* The topology manager wired into a running ipopd (docs/topology.md): the
 * glue between discovery (control/signalling/disc.h), the link manager's
 * links, the forwarding table and struct ctl_topo.
 *
 * Owns the member ring and the manager. Discovery reports members, link
 * requests, refusals, closes and pongs through struct ctl_disc_topo_hooks;
 * the manager's wishes (open a link of a kind, close one, ping) go back as
 * ctl_disc_link_open/close/ping. From the peer set it reads, every control
 * tick (100 ms), each member link's state (up transitions), its rx packets
 * (pulses) and its tx + demand packets minus keepalives (per-destination
 * traffic); the manager itself ticks every second. Down is the manager's
 * ttl_link_pulse: a link whose data path died gets that long to come back
 * through the link manager's own retries before it is closed and replaced.
 *
 * Without xmpp_host (static peers only) there is no manager: init leaves
 * w->t NULL and every function does nothing. Control core only.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control/config/config.h"
#include "control/signalling/disc.h"
#include "control/table/peerset.h"
#include "control/topology/topo.h"
#include "dataplane/table.h"

/* What the wiring saw of one link of the peer set at the last scan. */
struct ctl_topo_wire_slot {
	const struct dp_link *link; /* the slot is valid while the set holds this link */
	struct ctl_topo_id id;
	bool member; /* a discovered member (static peers: false) */
	bool up;
	uint64_t rx, tx, keepalives, demand;
	uint64_t seen_ms; /* when the slot was (re)initialised */
};

struct ctl_topo_wire_counters {
	uint64_t joins, leaves, opens, closes, pings, requests, refused;
	uint64_t ups, pulses, traffic_reports, closes_reconciled, tables;
};

struct ctl_topo_wire {
	struct ctl_topo_ring ring;
	struct ctl_topo *t; /* NULL: no manager */
	struct ctl_topo_params p;
	struct ctl_disc *d;
	struct ctl_topo_id self;
	struct ctl_topo_wire_slot *slot; /* parallel to the peer set at the last scan */
	unsigned nslot, cap_slot;
	bool table_dirty;	 /* the manager's up links changed: rebuild the table */
	uint64_t now;		 /* the time of the input being handled */
	uint64_t (*clock)(void); /* for discovery's hooks: clock_now_ms (tests replace it) */
	uint64_t next_tick_ms;	 /* the manager's next tick (every second) */
	uint64_t start_ms;
	struct ctl_topo_wire_counters cnt;
};

/* With xmpp_host: creates the manager from cfg's BaseTopologyManager keys and
 * our node id and hands discovery the hooks. 0 or -errno. */
int ctl_topo_wire_init(struct ctl_topo_wire *w, const struct ipop_config *cfg, struct ctl_disc *d,
		       uint64_t now_ms);
void ctl_topo_wire_fini(struct ctl_topo_wire *w);
/* From the control tick, after discovery's: link states, pulses, traffic;
 * the manager's tick when due; links discovery holds that the manager no
 * longer has are torn down. */
void ctl_topo_wire_tick(struct ctl_topo_wire *w, const struct ctl_peers *set, uint64_t now_ms);
/* Into a table built from set: every member's ring id, and for members
 * without an up link the next hop (multihop: the link to the greedy next hop,
 * if up) or staging (multihop off, or no next hop). */
void ctl_topo_wire_table(struct ctl_topo_wire *w, const struct ctl_peers *set, struct dp_table *t);
/* A manager runs (xmpp_host was set). */
bool ctl_topo_wire_active(const struct ctl_topo_wire *w);

/* For views: the slot of peer set index i if it is current, else NULL. */
const struct ctl_topo_wire_slot *ctl_topo_wire_slot(const struct ctl_topo_wire *w,
						    const struct ctl_peers *set, unsigned i);
