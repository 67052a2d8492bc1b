/* The structured overlay in the pipeline (docs/topology.md): packets for a
 * member without an SA (next hop, stage queue), multihop forwarding of
 * decrypted packets for other members, and switch mode's overlay header and
 * ring flood. None of it runs for a packet whose link is up and that is for
 * us: the common path only tests a flag or a pointer.
 *
 * Forwarded packets are re-encrypted in the same burst as everything else
 * (a struct tx_work grouped by SA), never handed to the host and never
 * touch the control core.
 */
#include <string.h>

#include "dataplane/esp.h"
#include "dataplane/l2.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline_int.h"

/* Headroom a frame needs in front of its overlay header: the ESP header and
 * IV, and a ChannelData header for relayed links. */
#define OVL_ROOM (DP_ESP_HDR_LEN + DP_ESP_IV_LEN + 4)

void pipe_demand_flush(const struct dp_table *t, struct tx_work *w)
{
	if (w->demand_n && w->demand_link < t->nlinks && t->links[w->demand_link].link)
		atomic_fetch_add_explicit(&t->links[w->demand_link].link->stats.demand_packets,
					  w->demand_n, memory_order_relaxed);
	w->demand_n = 0;
}

static inline void demand_add(const struct dp_table *t, struct tx_work *w, uint16_t link)
{
	if (w->demand_link != link) {
		pipe_demand_flush(t, w);
		w->demand_link = link;
	}
	w->demand_n++;
}

/* Puts an overlay header in front of p's data (a switch-mode frame). */
static bool ovl_push(struct dp_pkt *p, uint8_t hops, const uint8_t origin[DP_NODE_ID_LEN],
		     const uint8_t *end)
{
	unsigned hl = end ? DP_OVL_HDR_MAX : DP_OVL_HDR_LEN;

	if (unlikely(dp_pkt_headroom(p) < hl + OVL_ROOM)) {
		size_t shift = hl + OVL_ROOM;
		if (dp_pkt_tailroom(p) < shift + DP_ESP_OVERHEAD_MAX)
			return false;
		memmove(p->data + shift, p->data, p->len);
		p->data += shift;
	}
	p->data -= hl;
	p->len = (uint16_t)(p->len + hl);
	dp_ovl_hdr_write(p->data, hops, origin, end);
	p->next_hdr = DP_ESP_NH_OVERLAY;
	return true;
}

/* Over next hop `via` for member link `link`: a switch frame of our own
 * gets its overlay header first (the receiver forwards it on by MAC). */
static void send_via(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
		     struct dp_pkt *p, uint16_t via)
{
	if (t->p.mode == DP_MODE_SWITCH && p->next_hdr != DP_ESP_NH_OVERLAY &&
	    !ovl_push(p, DP_OVL_HOPS, t->p.node_id, NULL)) {
		drop_now(ctx, p, DP_DROP_NO_BUFFER);
		return;
	}
	tx_add(ctx, t, w, p, via);
}

static inline bool via_usable(const struct dp_table *t, const struct dp_table_link *tl)
{
	return tl->via < t->nlinks && t->links[tl->via].sa_out;
}

void pipe_send_member(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
		      struct dp_pkt *p, uint16_t link, uint16_t in_link)
{
	const struct dp_table_link *tl = &t->links[link];

	if (in_link == DP_LINK_NONE) /* ours, not transit (table.h) */
		demand_add(t, w, link);
	if (via_usable(t, tl)) {
		if (tl->via == in_link) {
			drop_now(ctx, p, DP_DROP_FWD_LOOP);
			return;
		}
		send_via(ctx, t, w, p, tl->via);
		return;
	}
	if (tl->stage && ctx->ov && tl->link) {
		if (dp_stage_put(&ctx->ov->stage, tl->link->id, p) == 0)
			DP_COUNT(ctx->counters, staged, 1);
		else
			drop_now(ctx, p, DP_DROP_STAGE_FULL);
		return;
	}
	/* Ours: the link is down. Someone else's: we have no way on. */
	drop_now(ctx, p, in_link == DP_LINK_NONE ? DP_DROP_LINK_DOWN : DP_DROP_FWD_NO_ROUTE);
}

/* Sends p (a frame without overlay header) along a flood plan: hop j gets
 * the arc up to hop j+1's id, the last one up to `end`. The original goes
 * to the last hop if `consume`, else every hop gets a copy. Skips in_link.
 * Returns copies sent; *used tells whether p was consumed. */
static unsigned flood_plan_send(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
				struct dp_pkt *p, const uint16_t *hops, unsigned k,
				uint8_t hop_limit, const uint8_t origin[DP_NODE_ID_LEN],
				const uint8_t end[DP_NODE_ID_LEN], uint16_t in_link, bool consume,
				bool *used)
{
	unsigned sent = 0;

	*used = false;
	for (unsigned j = 0; j < k; j++) {
		const uint8_t *arc_end = j + 1 < k ? t->links[hops[j + 1]].node_id : end;
		if (hops[j] == in_link)
			continue;
		bool last = consume && j + 1 == k;
		struct dp_pkt *cp = last ? p : (w->n < w->room ? pipe_pkt_copy(ctx, p) : NULL);
		if (unlikely(!cp)) {
			DP_COUNT_DROP(ctx->counters, DP_DROP_NO_BUFFER);
			continue;
		}
		*used |= last;
		if (unlikely(!ovl_push(cp, hop_limit, origin, arc_end))) {
			drop_now(ctx, cp, DP_DROP_NO_BUFFER);
			continue;
		}
		sent += tx_add(ctx, t, w, cp, hops[j]);
	}
	return sent;
}

bool pipe_ring_flood_host(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt *p,
			  struct tx_work *w)
{
	const uint16_t *hops;
	unsigned sent = 0;
	bool used;

	if (!ctx->ov || dp_node_id_is_zero(t->p.node_id))
		return false;
	unsigned k = dp_flood_plan(&ctx->ov->flood, t, NULL, &hops);
	/* Up links without a ring id (static peers) are not on the ring: a
	 * plain copy each, delivered there and not forwarded further. */
	for (uint16_t l = 0; l < t->nlinks; l++) {
		if (!t->links[l].sa_out || !dp_node_id_is_zero(t->links[l].node_id))
			continue;
		sent += tx_add_copy(ctx, t, w, p, l);
	}
	sent += flood_plan_send(ctx, t, w, p, hops, k, DP_OVL_HOPS, t->p.node_id, t->p.node_id,
				DP_LINK_NONE, true, &used);
	if (!used && sent)
		dp_pool_put(ctx->pool, p);
	else if (!used)
		drop_now(ctx, p, DP_DROP_NO_ROUTE);
	DP_COUNT(ctx->counters, flooded, sent);
	return true;
}

/* The link of the member with ring id `origin`, or DP_LINK_NONE. `hint` (the
 * FDB's link for the source MAC) is tried first: the steady state. */
static uint16_t origin_link(const struct dp_table *t, const uint8_t origin[DP_NODE_ID_LEN],
			    uint16_t hint)
{
	if (hint < t->nlinks && memcmp(t->links[hint].node_id, origin, DP_NODE_ID_LEN) == 0)
		return hint;
	for (uint16_t l = 0; l < t->nlinks; l++)
		if (memcmp(t->links[l].node_id, origin, DP_NODE_ID_LEN) == 0)
			return l;
	return DP_LINK_NONE;
}

void pipe_net_overlay(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt *p,
		      struct tx_work *w, struct dp_burst *out, struct dp_learn_event *last)
{
	struct dp_ovl_hdr h;
	uint8_t origin[DP_NODE_ID_LEN], end[DP_NODE_ID_LEN];
	int hl = dp_ovl_hdr_parse(p->data, p->len, &h);

	if (hl < 0) {
		drop_now(ctx, p, DP_DROP_FLOOD_HDR);
		return;
	}
	memcpy(origin, h.origin, DP_NODE_ID_LEN);
	if (h.end)
		memcpy(end, h.end, DP_NODE_ID_LEN);
	/* Our own frame back, or a neighbour speaking in our name. */
	if (memcmp(origin, t->p.node_id, DP_NODE_ID_LEN) == 0) {
		drop_now(ctx, p, DP_DROP_FWD_SRC);
		return;
	}
	p->data += hl;
	p->len = (uint16_t)(p->len - hl);
	if (p->len < DP_ETH_HLEN) {
		drop_now(ctx, p, DP_DROP_SHORT);
		return;
	}

	/* The source MAC lives behind the origin, not behind the neighbour
	 * that relayed the frame. */
	if (ctx->learn_ring) {
		uint16_t ol = origin_link(t, origin, dp_table_fdb_lookup(t, p->data + 6));
		if (ol != DP_LINK_NONE)
			pipe_learn_frame(ctx, t, p->data, p->len, ol, last);
	}

	if (h.flags & DP_OVL_FLAG_FLOOD) {
		const uint16_t *hops;
		unsigned k = 0;
		bool used;
		if (ctx->ov && !dp_node_id_is_zero(t->p.node_id))
			k = dp_flood_plan(&ctx->ov->flood, t, end, &hops);
		if (k && h.hops <= 1) {
			DP_COUNT_DROP(ctx->counters, DP_DROP_HOP_LIMIT);
		} else if (k) {
			unsigned sent =
			    flood_plan_send(ctx, t, w, p, hops, k, (uint8_t)(h.hops - 1), origin,
					    end, p->link, false, &used);
			DP_COUNT(ctx->counters, flood_relayed, sent);
		}
		to_host(ctx, out, p);
		return;
	}

	/* Unicast: ours unless the FDB puts the destination behind another
	 * link, then it goes on (header kept, one hop less). */
	uint16_t to = dp_mac_is_multicast(p->data) ? DP_LINK_NONE : dp_table_fdb_lookup(t, p->data);
	if (to >= t->nlinks || to == p->link) {
		to_host(ctx, out, p);
		return;
	}
	if (!t->p.multihop) {
		drop_now(ctx, p, DP_DROP_FWD_DISABLED);
		return;
	}
	if (h.hops <= 1) {
		drop_now(ctx, p, DP_DROP_HOP_LIMIT);
		return;
	}
	if (!ovl_push(p, (uint8_t)(h.hops - 1), origin, NULL)) {
		drop_now(ctx, p, DP_DROP_NO_BUFFER);
		return;
	}
	DP_COUNT(ctx->counters, forwarded, 1);
	pipe_send(ctx, t, w, p, to, p->link);
}

/* The stage against a new table: send what can go, drop what never will. */
static void stage_on_table(struct dp_ctx *ctx, const struct dp_table *t, struct dp_burst *out)
{
	struct dp_overlay *ov = ctx->ov;
	struct dp_pkt *pkts[DP_STAGE_DEPTH];
	struct tx_work w;

	ov->stage_table = t;
	ov->stage_version = t->version;
	tx_work_init(&w, DP_OUT_MAX - out->n_net);
	for (unsigned k = 0; k < DP_STAGE_LINKS; k++) {
		struct dp_stage_slot *sl = &ov->stage.slot[k];
		if (!sl->n)
			continue;
		uint16_t idx = dp_table_link_index(t, sl->link_id);
		if (idx == DP_LINK_NONE) {
			dp_stage_drop(&ov->stage, k, DP_DROP_LINK_DOWN, ctx->pool, ctx->counters);
			continue;
		}
		const struct dp_table_link *tl = &t->links[idx];
		if (!tl->sa_out && !via_usable(t, tl)) {
			if (!tl->stage)
				dp_stage_drop(&ov->stage, k, DP_DROP_LINK_DOWN, ctx->pool,
					      ctx->counters);
			continue;
		}
		unsigned n = dp_stage_take(&ov->stage, k, pkts);
		for (unsigned i = 0; i < n; i++) {
			if (tl->sa_out)
				tx_add(ctx, t, &w, pkts[i], idx);
			else
				send_via(ctx, t, &w, pkts[i], tl->via);
		}
		DP_COUNT(ctx->counters, stage_flushed, n);
	}
	pipe_tx_finish(ctx, t, &w, out);
}

void dp_pipeline_tick(struct dp_ctx *ctx, uint64_t now_ms, struct dp_burst *out)
{
	struct dp_overlay *ov = ctx->ov;
	const struct dp_table *t = ctx->table;

	if (!ov || !ov->stage.staged || !t)
		return;
	if (now_ms)
		dp_stage_stamp(&ov->stage, now_ms, t->p.stage_timeout_ms);
	if (ov->stage_table != t || ov->stage_version != t->version)
		stage_on_table(ctx, t, out);
	if (now_ms)
		dp_stage_expire(&ov->stage, now_ms, t->p.stage_timeout_ms, ctx->pool,
				ctx->counters);
}
