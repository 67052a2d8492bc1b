/* The per-worker stage queue: packets for a member whose link has no SA yet
 * but is marked `stage` in the table (multihop: false, an on-demand link
 * being set up), held until a table gives the link an SA — as WireGuard
 * stages packets during a handshake (docs/topology.md, wiring step 7).
 *
 * Fixed memory, no allocation: DP_STAGE_LINKS slots keyed by the link's
 * stable id (table indexes change between tables), DP_STAGE_DEPTH packets
 * each, in arrival order. Overflow drops the new packet (STAGE_FULL); a
 * packet older than the table's stage_timeout_ms is dropped (STAGE_TIMEOUT).
 * Times are stamped by dp_stage_stamp (the worker reads its clock only while
 * something is staged), so putting a packet needs no clock.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/pkt.h"

#define DP_STAGE_LINKS	    32
#define DP_STAGE_DEPTH	    16
#define DP_STAGE_TIMEOUT_MS 60000 /* when the table says 0 */

struct dp_stage_slot {
	uint32_t link_id;
	uint16_t n; /* 0: slot free */
	struct dp_pkt *pkt[DP_STAGE_DEPTH];
	uint64_t since_ms[DP_STAGE_DEPTH]; /* 0: not stamped yet */
};

struct dp_stage {
	unsigned staged;    /* packets held, all slots */
	unsigned unstamped; /* of which not stamped yet */
	uint64_t next_expiry_ms;
	struct dp_stage_slot slot[DP_STAGE_LINKS];
};

/* Holds p for link_id. 0, or -ENOSPC (the link's queue or every slot is full:
 * the caller drops p as STAGE_FULL). */
int dp_stage_put(struct dp_stage *s, uint32_t link_id, struct dp_pkt *p);
/* Gives the packets put since the last call the time now_ms. */
void dp_stage_stamp(struct dp_stage *s, uint64_t now_ms, uint32_t timeout_ms);
/* Drops (STAGE_TIMEOUT, counted, back to pool) packets older than
 * timeout_ms. Cheap when nothing is due. */
void dp_stage_expire(struct dp_stage *s, uint64_t now_ms, uint32_t timeout_ms, struct dp_pool *pool,
		     struct dp_counters *c);
/* Empties slot k into pkts (arrival order); returns how many. */
unsigned dp_stage_take(struct dp_stage *s, unsigned k, struct dp_pkt **pkts);
/* Drops every packet of slot k with reason (counted, back to pool). */
void dp_stage_drop(struct dp_stage *s, unsigned k, enum dp_drop reason, struct dp_pool *pool,
		   struct dp_counters *c);
