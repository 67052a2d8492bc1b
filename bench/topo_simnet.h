/* A simulated network for the topology manager (control/topology/): the same
 * manager code, one instance per simulated gateway, driven by a simulated
 * clock. Used by bench/topo_sim.c (1,000 and 10,000 nodes) and by the unit
 * test tests/unit/test_topology_sim.c (64 nodes).
 *
 * What is modelled: a shared member ring (XMPP presence: a join is seen by
 * every node at once, a crash only after presence_timeout), signalling
 * latency for link requests, close notices and pings, link setup latency
 * (hole punching) with a failure probability, keepalive pulses on up links,
 * crashes (links go silent, neighbours notice through ttl_link_pulse) and
 * graceful leaves (links closed, presence gone at once), and an underlay
 * partition in two halves. Node k has the virtual IPv4 10.0.0.0 + k + 1 and
 * the IPOP node id of that address (ipop_node_id).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/topology/topo.h"

struct topo_sim_params {
	unsigned max_nodes; /* slots: initial nodes + every join */
	struct ctl_topo_params tp;
	uint64_t signal_ms;		     /* one-way signalling latency (XMPP) */
	uint64_t setup_min_ms, setup_max_ms; /* link setup after the request arrives */
	double setup_fail;		     /* probability a setup fails */
	uint64_t presence_timeout_ms;	     /* a crashed node's presence goes after this */
	uint64_t pulse_ms;		     /* keepalive period on up links */
	uint64_t seed;
};

void topo_sim_params_default(struct topo_sim_params *p, unsigned max_nodes);

struct topo_sim;

struct topo_sim *topo_sim_create(const struct topo_sim_params *p);
void topo_sim_destroy(struct topo_sim *s);
uint64_t topo_sim_now(const struct topo_sim *s);
/* Processes events and 1 s ticks up to and including t. */
void topo_sim_run_until(struct topo_sim *s, uint64_t t_ms);

/* A new node joins now; returns its index or -1 (no slot left). */
int topo_sim_join(struct topo_sim *s);
void topo_sim_leave(struct topo_sim *s, unsigned node, bool crash);
/* A random alive member, or -1. */
int topo_sim_random_member(struct topo_sim *s);
/* Alive members (a crashed node's presence lingers, but it counts no more). */
unsigned topo_sim_members(const struct topo_sim *s);
uint64_t topo_sim_rand(struct topo_sim *s);
const struct ctl_topo *topo_sim_manager(const struct topo_sim *s, unsigned node);
bool topo_sim_link_up(const struct topo_sim *s, unsigned a, unsigned b);

/* Ring health: (member, successor) pairs among each member's first
 * min(num_successors, members - 1) successors that have no up link. */
unsigned long topo_sim_violations(const struct topo_sim *s);

enum topo_sim_route_result {
	TOPO_SIM_DELIVERED = 0,
	TOPO_SIM_NO_ROUTE,  /* next_hop NULL before the destination */
	TOPO_SIM_DEAD_LINK, /* next hop over a link that is not up in the network */
	TOPO_SIM_LOOP,	    /* more hops than members (cannot happen: strictly closer) */
};
/* Greedy routing from a to b with every node's own ctl_topo_next_hop. */
enum topo_sim_route_result topo_sim_route(const struct topo_sim *s, unsigned a, unsigned b,
					  unsigned *hops);

struct topo_sim_flood {
	unsigned reached;    /* members that got the frame (the origin included) */
	unsigned duplicates; /* receptions beyond the first */
	unsigned depth;	     /* longest chain of hops */
	unsigned sends;
};
/* A bounded flood from node src with every node's ctl_topo_flood_plan. */
void topo_sim_flood(const struct topo_sim *s, unsigned src, struct topo_sim_flood *out);

/* Traffic from a towards b's node id (as the workers' counters report it). */
void topo_sim_traffic(struct topo_sim *s, unsigned a, unsigned b, uint64_t packets);

/* Splits the underlay in two random halves (links across die silently, no
 * setup or ping crosses) or heals it. */
void topo_sim_partition(struct topo_sim *s, bool on);

struct topo_sim_links {
	unsigned max_total, max_succ, max_chord, max_on_demand, max_inbound;
	double mean_total;
	unsigned long pending; /* links not up yet, all nodes */
};
void topo_sim_link_stats(const struct topo_sim *s, struct topo_sim_links *out);

/* Debugging: up to max missing successor links, with both ends' view
 * (topo_sim prints them every 20 s of a convergence wait with TOPO_SIM_DEBUG=1). */
void topo_sim_debug_violations(const struct topo_sim *s, FILE *f, unsigned max);
