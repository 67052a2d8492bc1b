/* The member directory the topology manager plans over: every current member
 * of the overlay's group, sorted by node id (docs/topology.md).
 *
 * Discovery owns the one ring of a process and keeps it equal to the group's
 * member table (add on presence, remove on unavailable or revocation), then
 * tells the manager (ctl_topo_member_joined/left). The simulator shares one
 * ring between all its managers: that is what XMPP presence gives every node.
 * Not thread-safe; control core only.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "control/topology/topo_id.h"

struct ctl_topo_member {
	struct ctl_topo_id id;
	uint32_t ip4; /* virtual IPv4, network order (0 = none) */
};

struct ctl_topo_ring {
	struct ctl_topo_member *v; /* sorted by id, no duplicates */
	size_t n, cap;
};

void ctl_topo_ring_init(struct ctl_topo_ring *r);
void ctl_topo_ring_free(struct ctl_topo_ring *r);
/* 0, -EEXIST (same id present: its ip4 is updated), -ENOMEM. */
int ctl_topo_ring_add(struct ctl_topo_ring *r, const struct ctl_topo_id *id, uint32_t ip4);
/* 0 or -ENOENT. */
int ctl_topo_ring_remove(struct ctl_topo_ring *r, const struct ctl_topo_id *id);
/* Index of id, or -1. */
long ctl_topo_ring_find(const struct ctl_topo_ring *r, const struct ctl_topo_id *id);
/* Index of the first member at or clockwise after x (wraps to 0); 0 when empty. */
size_t ctl_topo_ring_lower_bound(const struct ctl_topo_ring *r, const struct ctl_topo_id *x);
/* The member `steps` places clockwise of x, not counting x itself if it is a
 * member: steps = 0 is the first member strictly after x. NULL when the ring
 * has no member other than x. Wraps at most once around. */
const struct ctl_topo_member *ctl_topo_ring_after(const struct ctl_topo_ring *r,
						  const struct ctl_topo_id *x, size_t steps);
