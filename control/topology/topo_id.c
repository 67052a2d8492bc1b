/* Ring arithmetic on 160-bit big-endian ids (topo_id.h). */
#include "control/topology/topo_id.h"

#include <string.h>

void ctl_topo_id_dist(const struct ctl_topo_id *from, const struct ctl_topo_id *to,
		      struct ctl_topo_id *out)
{
	int borrow = 0;
	for (int i = CTL_TOPO_ID_LEN - 1; i >= 0; i--) {
		int v = (int)to->b[i] - (int)from->b[i] - borrow;
		borrow = v < 0;
		out->b[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
	/* a final borrow is the wrap modulo 2^160 */
}

void ctl_topo_id_add_pow2(const struct ctl_topo_id *a, unsigned bit, struct ctl_topo_id *out)
{
	int i = CTL_TOPO_ID_LEN - 1 - (int)(bit / 8);
	unsigned carry = 1u << (bit % 8);
	if (out != a)
		*out = *a;
	for (; i >= 0 && carry; i--) {
		unsigned v = out->b[i] + carry;
		out->b[i] = (uint8_t)v;
		carry = v >> 8;
	}
}

bool ctl_topo_id_in_oc(const struct ctl_topo_id *x, const struct ctl_topo_id *from,
		       const struct ctl_topo_id *to)
{
	struct ctl_topo_id dx, dt;
	if (ctl_topo_id_eq(from, to))
		return true;
	ctl_topo_id_dist(from, x, &dx);
	ctl_topo_id_dist(from, to, &dt);
	/* dx == 0 is x == from: excluded */
	return ctl_topo_id_cmp(&dx, &dt) <= 0 && !ctl_topo_id_eq(x, from);
}

bool ctl_topo_id_in_oo(const struct ctl_topo_id *x, const struct ctl_topo_id *from,
		       const struct ctl_topo_id *to)
{
	if (ctl_topo_id_eq(x, from))
		return false;
	if (ctl_topo_id_eq(from, to))
		return true;
	return ctl_topo_id_in_oc(x, from, to) && !ctl_topo_id_eq(x, to);
}

bool ctl_topo_id_closer(const struct ctl_topo_id *a, const struct ctl_topo_id *b,
			const struct ctl_topo_id *dst)
{
	struct ctl_topo_id da, db;
	ctl_topo_id_dist(a, dst, &da);
	ctl_topo_id_dist(b, dst, &db);
	return ctl_topo_id_cmp(&da, &db) < 0;
}

int ctl_topo_id_log2(const struct ctl_topo_id *d)
{
	for (unsigned i = 0; i < CTL_TOPO_ID_LEN; i++) {
		if (d->b[i]) {
			int top = 7;
			while (!(d->b[i] >> top))
				top--;
			return (int)((CTL_TOPO_ID_LEN - 1 - i) * 8) + top;
		}
	}
	return -1;
}
