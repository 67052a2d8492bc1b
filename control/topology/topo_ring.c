/* The sorted member directory (topo_ring.h). */
#include "control/topology/topo_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ctl_topo_ring_init(struct ctl_topo_ring *r)
{
	memset(r, 0, sizeof(*r));
}

void ctl_topo_ring_free(struct ctl_topo_ring *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

size_t ctl_topo_ring_lower_bound(const struct ctl_topo_ring *r, const struct ctl_topo_id *x)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctl_topo_id_cmp(&r->v[mid].id, x) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->n ? 0 : lo;
}

long ctl_topo_ring_find(const struct ctl_topo_ring *r, const struct ctl_topo_id *id)
{
	size_t i;
	if (!r->n)
		return -1;
	i = ctl_topo_ring_lower_bound(r, id);
	return ctl_topo_id_eq(&r->v[i].id, id) ? (long)i : -1;
}

int ctl_topo_ring_add(struct ctl_topo_ring *r, const struct ctl_topo_id *id, uint32_t ip4)
{
	size_t i = 0;
	if (r->n) {
		i = ctl_topo_ring_lower_bound(r, id);
		if (ctl_topo_id_eq(&r->v[i].id, id)) {
			r->v[i].ip4 = ip4;
			return -EEXIST;
		}
		/* lower_bound wrapped: id is beyond the largest member */
		if (i == 0 && ctl_topo_id_cmp(&r->v[0].id, id) < 0)
			i = r->n;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct ctl_topo_member *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(*r->v));
	r->v[i].id = *id;
	r->v[i].ip4 = ip4;
	r->n++;
	return 0;
}

int ctl_topo_ring_remove(struct ctl_topo_ring *r, const struct ctl_topo_id *id)
{
	long i = ctl_topo_ring_find(r, id);
	if (i < 0)
		return -ENOENT;
	memmove(&r->v[i], &r->v[i + 1], (r->n - (size_t)i - 1) * sizeof(*r->v));
	r->n--;
	return 0;
}

const struct ctl_topo_member *ctl_topo_ring_after(const struct ctl_topo_ring *r,
						  const struct ctl_topo_id *x, size_t steps)
{
	size_t i, others;
	if (!r->n)
		return NULL;
	i = ctl_topo_ring_lower_bound(r, x);
	others = r->n;
	if (ctl_topo_id_eq(&r->v[i].id, x)) {
		i = (i + 1) % r->n;
		others--;
	}
	if (steps >= others)
		return NULL;
	return &r->v[(i + steps) % r->n];
}
