/* The backend-agnostic packet pipeline (DESIGN.md "Data-plane pipeline").
 *
 * Works on arrays of packet descriptors and never touches a device: the worker
 * (or a unit test) hands it a received burst and gets back the packets to send
 * to each side. Dropped packets are counted and returned to the pool inside.
 *
 *   from host: classify by mode → (L3) ARP/ND answers, route lookup →
 *              (switch) FDB lookup or flood copies → group by SA → encrypt
 *   from net:  demux (ESP/STUN/control) → SA by SPI → replay precheck →
 *              batched decrypt → next header / inner source check → learn →
 *              deliver to host
 */
#pragma once
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "dataplane/flood.h"
#include "dataplane/pkt.h"
#include "dataplane/stage.h"
#include "dataplane/table.h"

struct rte_ring;

/* What the pipeline keeps between calls for the structured overlay (one per
 * worker, owned by struct dp_worker): the stage queue (packets for links
 * marked `stage` that have no SA yet) and the ring-flood plan cache. */
struct dp_overlay {
	struct dp_stage stage;
	const struct dp_table *stage_table; /* the table the stage was last checked against */
	uint64_t stage_version;
	struct dp_flood_cache flood;
};

struct dp_ctx {
	const struct dp_table *table;
	IMB_MGR *mgr;
	struct dp_pool *pool;
	struct dp_counters *counters;
	struct rte_ring *learn_ring; /* struct dp_learn_event elems; NULL: learning off */
	struct rte_ring *roam_ring;  /* struct dp_roam_event elems; NULL: no reports */
	/* NULL: nothing is staged (stage links count as LINK_DOWN) and floods
	 * go to every up link even with ring_flood. */
	struct dp_overlay *ov;
};

/* Roaming (WireGuard style): an authenticated, fresh (replay-checked) packet
 * on a link marked `roam` in the table whose outer source is not the link's
 * endpoint is reported once per control tick (dp_link.roam_reported); the
 * control core moves the endpoint. Packets that came through one of our TURN
 * relays are not reported: their outer source is the relay. */
struct dp_roam_event {
	uint32_t link_id; /* stable id: the table may change before the event is read */
	struct net_endpoint from;
};

struct dp_burst {
	unsigned n_net, n_host, n_punt;
	struct dp_pkt *net[DP_OUT_MAX];	   /* to the underlay: ESP packets, ->peer set */
	struct dp_pkt *host[DP_OUT_MAX];   /* to the host side: Ethernet frames */
	struct dp_pkt *punt[DP_BURST_MAX]; /* control/STUN datagrams for the control core */
};

static inline void dp_burst_clear(struct dp_burst *b)
{
	b->n_net = b->n_host = b->n_punt = 0;
}

/* n <= DP_BURST_MAX. Appends to out. ctx->table is never NULL: the worker
 * drops (and counts as no_route) what arrives before its first table. */
void dp_pipeline_from_host(struct dp_ctx *ctx, struct dp_pkt **pkts, unsigned n,
			   struct dp_burst *out);
void dp_pipeline_from_net(struct dp_ctx *ctx, struct dp_pkt **pkts, unsigned n,
			  struct dp_burst *out);

/* Whether the worker must call dp_pipeline_tick this loop (something is
 * staged); the only per-loop cost of the stage queue when it is empty. */
static inline bool dp_pipeline_tick_due(const struct dp_ctx *ctx)
{
	return ctx->ov && unlikely(ctx->ov->stage.staged != 0);
}
/* Stamps newly staged packets with now_ms, sends the staged packets of links
 * the current table gives an SA (or a next hop), drops those of links that
 * lost their slot or stage mark (LINK_DOWN) or waited longer than the
 * table's stage_timeout_ms (STAGE_TIMEOUT). Appends to out->net. */
void dp_pipeline_tick(struct dp_ctx *ctx, uint64_t now_ms, struct dp_burst *out);
