/* Switch-mode overlay forwarding: the overlay header (ESP next header 253)
 * and the bounded ring flood (docs/topology.md, "Bounded flood").
 *
 * Frames a gateway forwards for another member, or floods over the ring,
 * carry a small header in front of the Ethernet frame, inside the ESP
 * payload:
 *
 *   version (1) | hop limit | flags | reserved (0) | origin id (20)
 *   [| arc end (20), flood frames only] | Ethernet frame
 *
 * The origin id (the member whose host sent the frame) lets every receiver
 * learn the source MAC behind the origin, not behind the neighbour that
 * relayed it; the hop limit (DP_OVL_HOPS at the origin, decremented at each
 * relay) bounds what inconsistent tables could do; the arc end tells a flood
 * receiver which part of the ring it is responsible for. Frames with next
 * header 143 (plain Ethernet) are never forwarded.
 *
 * Ring ids are 160-bit big-endian numbers modulo 2^160 (the table's
 * node_id). A flood plan hands each up link inside the arc (self, end),
 * sorted clockwise, the sub-arc up to the next one; the last gets the rest
 * up to end. end == self is the whole ring (the origin). The same rule as
 * ctl_topo_flood_plan, on the table's links, without allocation.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/table.h"

#define DP_ESP_NH_OVERLAY  253 /* RFC 3692 experimental: overlay header + Ethernet */
#define DP_NODE_ID_LEN	   20
#define DP_OVL_VERSION	   1
#define DP_OVL_HOPS	   32 /* hop limit a frame starts with */
#define DP_OVL_FLAG_FLOOD  0x01
#define DP_OVL_HDR_LEN	   (4 + DP_NODE_ID_LEN)
#define DP_OVL_HDR_MAX	   (DP_OVL_HDR_LEN + DP_NODE_ID_LEN) /* with the arc end */
#define DP_FLOOD_LINKS_MAX 1024 /* up links with a ring id a flood plan considers */

struct dp_ovl_hdr {
	uint8_t hops;
	uint8_t flags;
	const uint8_t *origin; /* DP_NODE_ID_LEN bytes, in the packet */
	const uint8_t *end;    /* flood arc end, NULL for unicast */
};

/* Parses the header at p (len bytes available). Returns its length, or -1 if
 * malformed (short, unknown version or flags, reserved byte set, zero origin). */
int dp_ovl_hdr_parse(const uint8_t *p, size_t len, struct dp_ovl_hdr *h);

/* Writes a header in front of the packet data at `data` (the caller made room:
 * DP_OVL_HDR_LEN, or DP_OVL_HDR_MAX with end). Returns its length. */
unsigned dp_ovl_hdr_write(uint8_t *dst, uint8_t hops, const uint8_t origin[DP_NODE_ID_LEN],
			  const uint8_t *end);

static inline bool dp_node_id_is_zero(const uint8_t id[DP_NODE_ID_LEN])
{
	static const uint8_t zero[DP_NODE_ID_LEN];
	return memcmp(id, zero, DP_NODE_ID_LEN) == 0;
}

/* out = (to - from) mod 2^160: how far clockwise `to` lies from `from`. */
void dp_node_id_dist(const uint8_t from[DP_NODE_ID_LEN], const uint8_t to[DP_NODE_ID_LEN],
		     uint8_t out[DP_NODE_ID_LEN]);

/* Per-worker flood plan cache: the table's up links that have a ring id,
 * sorted by clockwise distance from our id. Rebuilt when the table changes. */
struct dp_flood_cache {
	const struct dp_table *t;
	uint64_t version;
	uint16_t n;
	uint16_t idx[DP_FLOOD_LINKS_MAX];
	uint8_t dist[DP_FLOOD_LINKS_MAX][DP_NODE_ID_LEN];
};

/* The flood plan for arc (self, end) (end NULL or our id: the whole ring).
 * Fills links[] with table link indexes in clockwise order; the arc end of
 * hop j is the ring id of hop j+1, the last one's is `end` (or our id).
 * Returns the number of hops. Rebuilds the cache first if t changed. */
unsigned dp_flood_plan(struct dp_flood_cache *c, const struct dp_table *t, const uint8_t *end,
		       const uint16_t **links);
