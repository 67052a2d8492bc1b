/* See peerset.h. */
#include "control/table/peerset.h"

const struct ctl_peer *ctl_peers_find_link(const struct ctl_peers *set, uint32_t link_id)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->v[i].link->id == link_id)
			return &set->v[i];
	return NULL;
}
