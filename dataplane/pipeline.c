/* The backend-agnostic packet pipeline (see pipeline.h).
 *
 * Each direction is split the DPDK way: a per-packet pass that classifies and
 * looks up (cheap, branchy), then the expensive batched step (crypto) on the
 * survivors grouped by SA, then a per-packet pass that finishes them. Drops
 * found in the first pass go straight back to the pool; drops set by the
 * crypto are compacted out afterwards. Per-link counters are added once per
 * run of packets to the same link, so a burst costs a handful of atomics.
 *
 * Device counters (host_rx/host_tx/net_rx/net_tx) belong to the worker and
 * the backends, which see every packet that crosses a device; the pipeline
 * counts what only it knows: punts, ARP/ND answers, floods, learn events and
 * every drop reason.
 */
#include "dataplane/pipeline.h"

#include <stdatomic.h>
#include <string.h>
#include <rte_ring.h>

#include "dataplane/classify.h"
#include "dataplane/esp.h"
#include "dataplane/icmp.h"
#include "dataplane/l2.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline_int.h"
#include "dataplane/sa.h"

#define NH_DUMMY 59 /* ESP next header of a dummy packet (RFC 4303 2.6): keepalives */

/* ChannelData header (RFC 5766 §11.4) in front of an encrypted packet of a
 * relayed link: channel number and length. No padding: it is optional over
 * UDP and would only cost bytes. */
static inline void relay_wrap(const struct dp_table *t, struct dp_pkt *p)
{
	const struct dp_table_link *l = &t->links[p->link];
	uint16_t len = p->len;

	p->data -= 4;
	p->len += 4;
	p->data[0] = (uint8_t)(l->relay_chan >> 8);
	p->data[1] = (uint8_t)l->relay_chan;
	p->data[2] = (uint8_t)(len >> 8);
	p->data[3] = (uint8_t)len;
}

/* Stable grouping by SA (a counting sort keyed through a small open-addressing
 * map): keeps each SA's packets in order, which is all the peer's replay
 * window and the flows inside care about, and gives the crypto long runs. */
static struct dp_pkt **group_by_sa(struct dp_pkt **in, unsigned n, struct dp_pkt **tmp)
{
	struct {
		const struct dp_sa *sa;
		uint16_t group;
	} slot[2 * DP_OUT_MAX];
	uint16_t gid[DP_OUT_MAX];
	uint16_t off[DP_OUT_MAX];
	unsigned size = 2, groups = 0;

	if (n < 2)
		return in;
	while (size < 2 * n)
		size <<= 1;
	memset(slot, 0, size * sizeof(slot[0]));

	for (unsigned i = 0; i < n; i++) {
		const struct dp_sa *sa = in[i]->sa;
		uint32_t h = (uint32_t)(((uintptr_t)sa >> 6) * 0x9e3779b1u) & (size - 1);
		while (slot[h].sa && slot[h].sa != sa)
			h = (h + 1) & (size - 1);
		if (!slot[h].sa) {
			slot[h].sa = sa;
			slot[h].group = (uint16_t)groups;
			off[groups++] = 0;
		}
		gid[i] = slot[h].group;
		off[gid[i]]++;
	}
	if (groups == 1)
		return in;

	unsigned sum = 0;
	for (unsigned g = 0; g < groups; g++) {
		unsigned c = off[g];
		off[g] = (uint16_t)sum;
		sum += c;
	}
	for (unsigned i = 0; i < n; i++)
		tmp[off[gid[i]]++] = in[i];
	return tmp;
}

/* Per-link counters, accumulated over a run of packets to the same link. */
struct link_tally {
	const struct dp_table *t;
	uint16_t link;
	uint64_t packets, bytes, auth_fail, replay;
	bool rx;
};

static void tally_flush(struct link_tally *a)
{
	if (a->link < a->t->nlinks && a->t->links[a->link].link) {
		struct dp_link_stats *s = &a->t->links[a->link].link->stats;
		if (a->packets) {
			atomic_fetch_add_explicit(a->rx ? &s->rx_packets : &s->tx_packets,
						  a->packets, memory_order_relaxed);
			atomic_fetch_add_explicit(a->rx ? &s->rx_bytes : &s->tx_bytes, a->bytes,
						  memory_order_relaxed);
		}
		if (a->auth_fail)
			atomic_fetch_add_explicit(&s->auth_fail, a->auth_fail,
						  memory_order_relaxed);
		if (a->replay)
			atomic_fetch_add_explicit(&s->replay, a->replay, memory_order_relaxed);
	}
	a->packets = a->bytes = a->auth_fail = a->replay = 0;
}

/* Adds one packet's outcome; bytes are the ESP (UDP payload) length. */
static inline void tally_add(struct link_tally *a, const struct dp_pkt *p, uint16_t esp_len)
{
	if (p->link != a->link) {
		tally_flush(a);
		a->link = p->link;
	}
	switch (p->drop) {
	case DP_DROP_NONE:
		a->packets++;
		a->bytes += esp_len;
		break;
	case DP_DROP_AUTH:
		a->auth_fail++;
		break;
	case DP_DROP_REPLAY:
		a->replay++;
		break;
	default:
		break;
	}
}

void pipe_tx_finish(struct dp_ctx *ctx, const struct dp_table *t, struct tx_work *w,
		    struct dp_burst *out)
{
	struct dp_pkt *tmp[DP_OUT_MAX];
	struct dp_pkt **v;
	unsigned n = w->n;

	if (unlikely(w->demand_n))
		pipe_demand_flush(t, w);
	if (n == 0)
		return;
	v = group_by_sa(w->pkt, n, tmp);
	dp_esp_encrypt_burst(ctx->mgr, v, n);

	struct link_tally a = {.t = t, .link = DP_LINK_NONE, .rx = false};
	for (unsigned i = 0; i < n; i++)
		tally_add(&a, v[i], v[i]->len);
	tally_flush(&a);

	n = dp_burst_compact(v, n, ctx->pool, ctx->counters);
	for (unsigned i = 0; i < n; i++)
		if (unlikely(t->links[v[i]->link].relay_chan))
			relay_wrap(t, v[i]);
	memcpy(&out->net[out->n_net], v, n * sizeof(v[0]));
	out->n_net += n;
}

static void host_l3(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt **pkts, unsigned n,
		    struct tx_work *w, struct dp_burst *out)
{
	struct dp_counters *c = ctx->counters;

	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];

		if (unlikely(dp_l3_arp_reply(t, p))) {
			if (out->n_host < DP_OUT_MAX)
				DP_COUNT(c, arp_replies, 1);
			to_host(ctx, out, p);
			continue;
		}
		if (unlikely(dp_l3_nd_reply(t, p))) {
			if (out->n_host < DP_OUT_MAX)
				DP_COUNT(c, nd_replies, 1);
			to_host(ctx, out, p);
			continue;
		}
		uint16_t link = dp_l3_route_out(t, p);
		if (link == DP_LINK_NONE) {
			drop_now(ctx, p, p->drop);
			continue;
		}
		if (unlikely(t->p.mtu && p->len > t->p.mtu)) {
			/* Path MTU discovery, not a black hole: answer, and
			 * count the packet as too_big either way. */
			DP_COUNT_DROP(c, DP_DROP_TOO_BIG);
			if (dp_icmp_too_big(t, p) && out->n_host < DP_OUT_MAX) {
				DP_COUNT(c, icmp_too_big, 1);
				out->host[out->n_host++] = p;
			} else {
				dp_pool_put(ctx->pool, p);
			}
			continue;
		}
		if (unlikely(!t->links[link].sa_out)) {
			pipe_send_member(ctx, t, w, p, link, DP_LINK_NONE);
			continue;
		}
		tx_add(ctx, t, w, p, link);
	}
}

struct dp_pkt *pipe_pkt_copy(struct dp_ctx *ctx, const struct dp_pkt *p)
{
	struct dp_pkt *cp = dp_pool_get(ctx->pool);
	if (unlikely(!cp))
		return NULL;
	cp->data = cp->buf + dp_pkt_headroom(p);
	memcpy(cp->data, p->data, p->len);
	cp->len = p->len;
	cp->next_hdr = p->next_hdr;
	return cp;
}

/* One copy of p per link that is up; the original goes to the last one. */
static void flood(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt *p, struct tx_work *w)
{
	uint16_t last = DP_LINK_NONE;
	unsigned sent = 0;

	for (uint16_t l = 0; l < t->nlinks; l++)
		if (t->links[l].sa_out)
			last = l;
	if (last == DP_LINK_NONE) {
		drop_now(ctx, p, DP_DROP_NO_ROUTE);
		return;
	}

	for (uint16_t l = 0; l < last; l++) {
		if (!t->links[l].sa_out)
			continue;
		sent += tx_add_copy(ctx, t, w, p, l);
	}
	sent += tx_add(ctx, t, w, p, last);
	DP_COUNT(ctx->counters, flooded, sent);
}

static void host_switch(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt **pkts,
			unsigned n, struct tx_work *w, struct dp_burst *out)
{
	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];

		/* An ARP request for a host the overlay knows: answered here,
		 * not flooded over the ring. */
		if (unlikely(t->n_arp) && p->len >= DP_ETH_HLEN && dp_mac_is_multicast(p->data) &&
		    dp_l2_arp_reply(t, p)) {
			if (out->n_host < DP_OUT_MAX)
				DP_COUNT(ctx->counters, arp_replies, 1);
			to_host(ctx, out, p);
			continue;
		}

		if (unlikely(p->len < DP_ETH_HLEN)) {
			drop_now(ctx, p, DP_DROP_SHORT);
			continue;
		}
		if (unlikely(t->p.mtu && p->len > (unsigned)t->p.mtu + DP_ETH_HLEN)) {
			drop_now(ctx, p, DP_DROP_TOO_BIG);
			continue;
		}
		p->next_hdr = DP_ESP_NH_ETHERNET;
		if (!dp_mac_is_multicast(p->data)) {
			uint16_t link = dp_table_fdb_lookup(t, p->data);
			if (link < t->nlinks) {
				if (unlikely(!t->links[link].sa_out))
					pipe_send_member(ctx, t, w, p, link, DP_LINK_NONE);
				else
					tx_add(ctx, t, w, p, link);
				continue;
			}
		}
		if (unlikely(t->p.ring_flood) && pipe_ring_flood_host(ctx, t, p, w))
			continue;
		flood(ctx, t, p, w);
	}
}

void dp_pipeline_from_host(struct dp_ctx *ctx, struct dp_pkt **pkts, unsigned n,
			   struct dp_burst *out)
{
	const struct dp_table *t = ctx->table;
	struct tx_work w;

	/* A table that gives a staged link its SA: the staged packets go
	 * first, whenever the worker's tick comes. */
	if (unlikely(dp_pipeline_tick_due(ctx)) &&
	    (ctx->ov->stage_table != t || ctx->ov->stage_version != t->version))
		dp_pipeline_tick(ctx, 0, out);
	tx_work_init(&w, DP_OUT_MAX - out->n_net);
	if (t->p.mode == DP_MODE_SWITCH)
		host_switch(ctx, t, pkts, n, &w, out);
	else
		host_l3(ctx, t, pkts, n, &w, out);
	pipe_tx_finish(ctx, t, &w, out);
}

static void learn_event(struct dp_ctx *ctx, const struct dp_link *l, const uint8_t mac[6],
			uint32_t ip4, struct dp_learn_event *last)
{
	if (last->link_id == l->id && last->ip4 == ip4 && memcmp(last->mac, mac, 6) == 0)
		return;
	struct dp_learn_event ev = {.link_id = l->id, .ip4 = ip4};
	memcpy(ev.mac, mac, 6);
	if (rte_ring_sp_enqueue_elem(ctx->learn_ring, &ev, sizeof(ev)) == 0) {
		DP_COUNT(ctx->counters, learn_events, 1);
		*last = ev; /* one event per MAC per burst is enough */
	} else {
		DP_COUNT_DROP(ctx->counters, DP_DROP_RING_FULL);
	}
}

void pipe_learn_frame(struct dp_ctx *ctx, const struct dp_table *t, const uint8_t *f, size_t len,
		      uint16_t link, struct dp_learn_event *last)
{
	const struct dp_link *l = t->links[link].link;
	const uint8_t *src = f + 6;
	bool mac = dp_l2_needs_learn(t, src, link);
	uint32_t ip4 = 0;

	if (!ctx->learn_ring || !l)
		return;
	if (unlikely(f[12] == 0x08 && f[13] == 0x06)) {
		ip4 = dp_l2_arp_sender(f, len);
		const uint8_t *known = dp_table_arp_lookup(t, ip4);
		if (ip4 && (!known || memcmp(known, src, 6) != 0) && !dp_mac_is_multicast(src))
			mac = true;
	}
	if (mac)
		learn_event(ctx, l, src, ip4, last);
}

/* Switch mode delivery: the frame goes to the host whatever its destination
 * (the TAP sits in a bridge); a source MAC the FDB does not place on this link
 * yet becomes a learn event. Frames with the overlay header (forwarded or
 * ring-flooded) are pipeline_ovl.c's. */
static void net_switch(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt *p,
		       struct tx_work *w, struct dp_burst *out, struct dp_learn_event *last)
{
	if (unlikely(p->next_hdr == DP_ESP_NH_OVERLAY)) {
		pipe_net_overlay(ctx, t, p, w, out, last);
		return;
	}
	if (p->next_hdr != DP_ESP_NH_ETHERNET) {
		drop_now(ctx, p, DP_DROP_BAD_NEXT_HEADER);
		return;
	}
	if (p->len < DP_ETH_HLEN) {
		drop_now(ctx, p, DP_DROP_SHORT);
		return;
	}
	if (ctx->learn_ring)
		pipe_learn_frame(ctx, t, p->data, p->len, p->link, last);
	to_host(ctx, out, p);
}

static void net_l3(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt *p,
		   struct tx_work *w, struct dp_burst *out)
{
	uint16_t to;

	switch (dp_l3_in(t, p, &to)) {
	case DP_L3_IN_LOCAL:
		to_host(ctx, out, p);
		return;
	case DP_L3_IN_FORWARD:
		DP_COUNT(ctx->counters, forwarded, 1);
		pipe_send(ctx, t, w, p, to, p->link);
		return;
	case DP_L3_IN_DROP:
	default:
		break;
	}
	if (p->drop == DP_DROP_SRC_CHECK && t->links[p->link].link)
		atomic_fetch_add_explicit(&t->links[p->link].link->stats.src_check, 1,
					  memory_order_relaxed);
	drop_now(ctx, p, p->drop);
}

/* An authenticated packet of a roaming link came from another address (see
 * struct dp_roam_event). Keepalives count: a peer with nothing to say still
 * sends one per keepalive interval, so an idle link roams too. */
static void report_roam(struct dp_ctx *ctx, const struct dp_table *t,
			const struct dp_table_link *tl, const struct dp_pkt *p)
{
	if (!ctx->roam_ring || !tl->link || dp_table_is_relay(t, &p->peer))
		return;
	if (atomic_exchange_explicit(&tl->link->roam_reported, 1, memory_order_relaxed))
		return;
	struct dp_roam_event ev = {.link_id = tl->link->id, .from = p->peer};
	if (rte_ring_sp_enqueue_elem(ctx->roam_ring, &ev, sizeof(ev)) == 0)
		DP_COUNT(ctx->counters, roam_events, 1);
	else /* full: let the next packet try again */
		atomic_store_explicit(&tl->link->roam_reported, 0, memory_order_relaxed);
}

static void from_net_chunk(struct dp_ctx *ctx, const struct dp_table *t, struct dp_pkt **pkts,
			   unsigned n, struct dp_burst *out, struct tx_work *fwd)
{
	struct dp_pkt *work[DP_BURST_MAX], *tmp[DP_OUT_MAX];
	uint16_t esp_len[DP_BURST_MAX];
	unsigned m = 0;

	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];

		switch (dp_classify(p->data, p->len)) {
		case DP_CLASS_ESP: {
			const struct dp_spi_entry *e = dp_table_spi_lookup(t, dp_esp_spi(p->data));
			if (unlikely(!e || e->link >= t->nlinks)) {
				drop_now(ctx, p, DP_DROP_UNKNOWN_SPI);
				break;
			}
			p->sa = e->sa;
			p->link = e->link;
			work[m++] = p;
			break;
		}
		case DP_CLASS_CHANNEL: {
			/* TURN ChannelData: only from a relay we use. ESP inside
			 * is ours to decrypt (the SPI finds the link, as for
			 * direct packets); anything else is the control core's,
			 * header and all (it knows which peer the channel is). */
			uint16_t dlen = (uint16_t)(p->data[2] << 8 | p->data[3]);
			if (unlikely(!dp_table_is_relay(t, &p->peer))) {
				drop_now(ctx, p, DP_DROP_NOT_RELAY);
				break;
			}
			/* unpadded, or padded to 4 bytes (RFC 5766 §11.5) */
			unsigned want = 4u + dlen;
			if (unlikely(p->len != want && p->len != ((want + 3u) & ~3u))) {
				drop_now(ctx, p, DP_DROP_CHANNEL_LEN);
				break;
			}
			if (dp_classify(p->data + 4, dlen) == DP_CLASS_ESP) {
				const struct dp_spi_entry *e =
				    dp_table_spi_lookup(t, dp_esp_spi(p->data + 4));
				if (unlikely(!e || e->link >= t->nlinks)) {
					drop_now(ctx, p, DP_DROP_UNKNOWN_SPI);
					break;
				}
				p->data += 4;
				p->len = dlen;
				p->sa = e->sa;
				p->link = e->link;
				work[m++] = p;
				break;
			}
		}
			__attribute__((fallthrough));
		case DP_CLASS_CONTROL:
		case DP_CLASS_STUN:
			if (unlikely(out->n_punt >= DP_BURST_MAX)) {
				drop_now(ctx, p, DP_DROP_NO_BUFFER);
				break;
			}
			out->punt[out->n_punt++] = p;
			DP_COUNT(ctx->counters, punted, 1);
			break;
		case DP_CLASS_GARBAGE:
		default:
			drop_now(ctx, p, DP_DROP_GARBAGE);
			break;
		}
	}
	if (m == 0)
		return;

	struct dp_pkt **v = group_by_sa(work, m, tmp);
	for (unsigned i = 0; i < m; i++)
		esp_len[i] = v[i]->len;
	dp_esp_decrypt_burst(ctx->mgr, v, m);

	struct link_tally a = {.t = t, .link = DP_LINK_NONE, .rx = true};
	for (unsigned i = 0; i < m; i++)
		tally_add(&a, v[i], esp_len[i]);
	tally_flush(&a);

	m = dp_burst_compact(v, m, ctx->pool, ctx->counters);

	struct dp_learn_event last = {.link_id = UINT32_MAX};
	struct tx_work *w = fwd; /* packets forwarded to other members (multihop) */
	tx_work_init(w, DP_OUT_MAX - out->n_net);
	for (unsigned i = 0; i < m; i++) {
		const struct dp_table_link *tl = &t->links[v[i]->link];
		if (unlikely(tl->roam && !net_endpoint_equal(&v[i]->peer, &tl->endpoint)))
			report_roam(ctx, t, tl, v[i]);
		/* RFC 4303 dummy packet: the control core's keepalive. It counted
		 * as received on its link above, which is all it is for. */
		if (unlikely(v[i]->next_hdr == NH_DUMMY)) {
			DP_COUNT(ctx->counters, keepalives, 1);
			dp_pool_put(ctx->pool, v[i]);
			continue;
		}
		if (t->p.mode == DP_MODE_SWITCH)
			net_switch(ctx, t, v[i], w, out, &last);
		else
			net_l3(ctx, t, v[i], w, out);
	}
	if (unlikely(w->n || w->demand_n))
		pipe_tx_finish(ctx, t, w, out);
}

void dp_pipeline_from_net(struct dp_ctx *ctx, struct dp_pkt **pkts, unsigned n,
			  struct dp_burst *out)
{
	const struct dp_table *t = ctx->table;
	struct tx_work fwd;

	/* The contract is n <= DP_BURST_MAX; chunking keeps the stack arrays
	 * safe if a caller ever passes more. */
	while (n > 0) {
		unsigned k = n < DP_BURST_MAX ? n : DP_BURST_MAX;
		from_net_chunk(ctx, t, pkts, k, out, &fwd);
		pkts += k;
		n -= k;
	}
}
