/* Internals shared by pipeline.c (the paths every packet takes) and
 * pipeline_ovl.c (the structured overlay: next hops, stage queue, multihop
 * forwarding, ring flood). Not for other modules. */
#pragma once
#include <stdatomic.h>

#include "dataplane/pipeline.h"

static inline void drop_now(struct dp_ctx *ctx, struct dp_pkt *p, enum dp_drop reason)
{
	DP_COUNT_DROP(ctx->counters, reason);
	dp_pool_put(ctx->pool, p);
}

static inline void to_host(struct dp_ctx *ctx, struct dp_burst *out, struct dp_pkt *p)
{
	if (unlikely(out->n_host >= DP_OUT_MAX)) {
		drop_now(ctx, p, DP_DROP_NO_BUFFER);
		return;
	}
	out->host[out->n_host++] = p;
}

/* Packets bound for the underlay, collected before encryption, and the run
 * of demand (packets for a member without SA) not yet added to its link. */
struct tx_work {
	unsigned n, room;
	uint16_t demand_link;
	uint32_t demand_n;
	struct dp_pkt *pkt[DP_OUT_MAX];
};

static inline void tx_work_init(struct tx_work *w, unsigned room)
{
	w->n = 0;
	w->room = room;
	w->demand_link = DP_LINK_NONE;
	w->demand_n = 0;
}

static inline bool tx_add(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
			  struct dp_pkt *p, uint16_t link)
{
	const struct dp_table_link *l = &t->links[link];

	if (unlikely(w->n >= w->room)) {
		drop_now(ctx, p, DP_DROP_NO_BUFFER);
		return false;
	}
	p->link = link;
	p->sa = l->sa_out;
	if (likely(!l->endpoint.via)) {
		p->peer = l->endpoint;
	} else if (l->relay_chan) {
		p->peer = l->relay; /* ChannelData header added after encryption */
	} else {
		/* reached through a relay whose channel is not bound yet */
		drop_now(ctx, p, DP_DROP_LINK_DOWN);
		return false;
	}
	w->pkt[w->n++] = p;
	return true;
}

/* Encrypts the collected packets, counts, and appends the survivors to out. */
void pipe_tx_finish(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
		    struct dp_burst *out);

/* A copy of p (data, length, next header) in a new buffer at the same
 * offset, or NULL (pool empty). */
struct dp_pkt *pipe_pkt_copy(struct dp_ctx *ctx, const struct dp_pkt *p);

/* Sends a copy of p to link; false (counted) if the pool or the burst is full. */
static inline bool tx_add_copy(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
			       const struct dp_pkt *p, uint16_t link)
{
	struct dp_pkt *cp = w->n < w->room ? pipe_pkt_copy(ctx, p) : NULL;
	if (unlikely(!cp)) {
		DP_COUNT_DROP(ctx->counters, DP_DROP_NO_BUFFER);
		return false;
	}
	return tx_add(ctx, t, w, cp, link);
}

/* pipeline_ovl.c */

/* Sends p (an inner packet: L3 with next header 4/41, or a switch-mode frame
 * with 143, or 253 with its overlay header already in front) to member link
 * `link` whose sa_out is NULL: over its next hop (via), into the stage queue,
 * or dropped (LINK_DOWN); our host's packets are counted as demand on the
 * member's link (not transit ones). in_link:
 * where a forwarded packet came from (FWD_LOOP if the next hop is that link),
 * DP_LINK_NONE for our host's packets. */
__attribute__((cold)) void pipe_send_member(struct dp_ctx *ctx, const struct dp_table *t,
					    struct tx_work *w, struct dp_pkt *p, uint16_t link,
					    uint16_t in_link);

/* The same for any link: direct when it has an SA (forwarded switch frames
 * keep their overlay header), else pipe_send_member. */
static inline void pipe_send(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
			     struct dp_pkt *p, uint16_t link, uint16_t in_link)
{
	if (likely(t->links[link].sa_out != NULL)) {
		if (unlikely(link == in_link)) {
			drop_now(ctx, p, DP_DROP_FWD_LOOP);
			return;
		}
		tx_add(ctx, t, w, p, link);
		return;
	}
	pipe_send_member(ctx, t, w, p, link, in_link);
}

/* Switch mode, host side: floods p over the ring (table ring_flood, our id
 * set, ctx->ov present): each up link with a ring id gets one copy with an
 * overlay header and its arc, links without an id a plain copy. Returns
 * false (nothing done) when the ring flood does not apply. */
__attribute__((cold)) bool pipe_ring_flood_host(struct dp_ctx *ctx, const struct dp_table *t,
						struct dp_pkt *p, struct tx_work *w);

/* Switch mode, net side: a decrypted frame with next header 253 from p->link.
 * Delivers, learns (origin), relays floods, forwards unicast. */
__attribute__((cold)) void pipe_net_overlay(struct dp_ctx *ctx, const struct dp_table *t,
					    struct dp_pkt *p, struct tx_work *w,
					    struct dp_burst *out, struct dp_learn_event *last);

/* Switch mode: the learn event frame f (len bytes, from link, source MAC
 * behind `link`) calls for, if any: a MAC the FDB does not put there, or an
 * ARP sender address the table does not map to that MAC. */
void pipe_learn_frame(struct dp_ctx *ctx, const struct dp_table *t, const uint8_t *f, size_t len,
		      uint16_t link, struct dp_learn_event *last);

/* Flushes the demand run into its link's counter. */
__attribute__((cold)) void pipe_demand_flush(const struct dp_table *t, struct tx_work *w);
