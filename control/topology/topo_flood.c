/* Bounded flood planning (topo_flood.h). */
#include "control/topology/topo_flood.h"

unsigned ctl_topo_flood_plan(const struct ctl_topo *t, const struct ctl_topo_id *end,
			     struct ctl_topo_flood_hop *out, unsigned max)
{
	const struct ctl_topo_id *e = end ? end : &t->self;
	unsigned n = 0, start = 0;

	if (!max || !t->nlinks)
		return 0;
	/* links are sorted by id: the first one after us starts the clockwise walk */
	while (start < t->nlinks && ctl_topo_id_cmp(&t->links[start].peer, &t->self) < 0)
		start++;
	for (unsigned k = 0; k < t->nlinks && n < max; k++) {
		const struct ctl_topo_link *l = &t->links[(start + k) % t->nlinks];
		if (!l->up || !ctl_topo_id_in_oo(&l->peer, &t->self, e))
			continue;
		if (n)
			out[n - 1].end = l->peer;
		out[n].peer = l->peer;
		n++;
	}
	if (n)
		out[n - 1].end = *e;
	return n;
}
