/* Bounded flood for switch mode (docs/topology.md): broadcasts and unknown
 * unicast cross the ring once per node.
 *
 * A flooded frame carries the end of the arc its receiver is responsible for.
 * The receiver delivers it locally and hands each of its up links inside the
 * arc (self, end) a disjoint sub-arc: the link to p_j gets (p_j, p_j+1), the
 * last one (p_k, end). Arcs never overlap, so no node receives a frame twice,
 * and every node is inside exactly one arc as long as every node's successor
 * link is up; with chords at id + 2^(159-i) each arc roughly halves per hop,
 * so the depth is O(log N). The origin uses end = its own id (the whole ring).
 */
#pragma once
#include "control/topology/topo.h"

struct ctl_topo_flood_hop {
	struct ctl_topo_id peer; /* send the frame over the link to this node */
	struct ctl_topo_id end;	 /* with this end: it covers (peer, end) */
};

/* Fills out with the hops for a frame received with `end` (NULL or our own
 * id: we originate it). Returns how many, at most max; with fewer slots than
 * links the last hop covers the rest (deeper, still once). */
unsigned ctl_topo_flood_plan(const struct ctl_topo *t, const struct ctl_topo_id *end,
			     struct ctl_topo_flood_hop *out, unsigned max);
