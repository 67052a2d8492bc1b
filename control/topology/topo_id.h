/* Node ids and ring arithmetic for the structured overlay (docs/topology.md).
 *
 * A node id is 160 bits, the SHA-1 of the node's virtual IPv4 in dotted-quad
 * form (ipop_node_id in control/config/config.h computes it; IPOP GroupVPN
 * compatible; sig_node_id_hex/parse in control/signalling/sigmsg.h spell it).
 * Ids are big-endian numbers on a ring modulo 2^160; "clockwise" is
 * increasing id. Everything here is pure arithmetic on 20-byte arrays.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CTL_TOPO_ID_LEN	 20
#define CTL_TOPO_ID_BITS 160

struct ctl_topo_id {
	uint8_t b[CTL_TOPO_ID_LEN]; /* big-endian */
};

/* memcmp order: <0, 0, >0. Inline: every ring walk and link lookup compares. */
static inline int ctl_topo_id_cmp(const struct ctl_topo_id *a, const struct ctl_topo_id *b)
{
	return memcmp(a->b, b->b, CTL_TOPO_ID_LEN);
}

static inline bool ctl_topo_id_eq(const struct ctl_topo_id *a, const struct ctl_topo_id *b)
{
	return memcmp(a->b, b->b, CTL_TOPO_ID_LEN) == 0;
}
/* out = (to - from) mod 2^160: how far clockwise `to` lies from `from`. */
void ctl_topo_id_dist(const struct ctl_topo_id *from, const struct ctl_topo_id *to,
		      struct ctl_topo_id *out);
/* out = (a + 2^bit) mod 2^160, bit < 160. out may be a. */
void ctl_topo_id_add_pow2(const struct ctl_topo_id *a, unsigned bit, struct ctl_topo_id *out);
/* x in the clockwise half-open arc (from, to]. from == to is the whole ring. */
bool ctl_topo_id_in_oc(const struct ctl_topo_id *x, const struct ctl_topo_id *from,
		       const struct ctl_topo_id *to);
/* x in the clockwise open arc (from, to). from == to: every id but from. */
bool ctl_topo_id_in_oo(const struct ctl_topo_id *x, const struct ctl_topo_id *from,
		       const struct ctl_topo_id *to);
/* Whether a is strictly closer to dst than b, measured clockwise towards dst
 * (the distance greedy forwarding reduces). */
bool ctl_topo_id_closer(const struct ctl_topo_id *a, const struct ctl_topo_id *b,
			const struct ctl_topo_id *dst);
/* floor(log2(distance)) for a non-zero distance, -1 for zero: which power-of-two
 * band of the ring an arc falls in. */
int ctl_topo_id_log2(const struct ctl_topo_id *d);
