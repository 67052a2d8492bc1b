/* The topology manager wired into ipopd (see topo_wire.h).
 *
 * Two directions of reconciliation keep discovery and the manager agreeing
 * without a message for every corner case: a member link discovery holds
 * (asked for or accepted) that the manager no longer has is torn down and
 * the peer told, and a manager link whose member discovery no longer holds
 * counts as closed. Everything else is one call each way.
 */
#include "control/topology/topo_wire.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "control/link/linkmgr.h"
#include "control/topology/topo_config.h"
#include "util/clock.h"
#include "util/log.h"

#define WIRE_TICK_MS 1000 /* the manager's timer_interval */

static const struct ctl_topo_id *as_id(const uint8_t b[CTL_TOPO_ID_LEN])
{
	_Static_assert(sizeof(struct ctl_topo_id) == CTL_TOPO_ID_LEN, "a ring id is its bytes");
	_Static_assert(CTL_TOPO_ID_LEN == SIG_NODE_ID_LEN, "ring ids are node ids");
	return (const struct ctl_topo_id *)b;
}

static enum sig_link_kind sig_kind(enum ctl_topo_kind k)
{
	switch (k) {
	case CTL_TOPO_SUCCESSOR:
		return SIG_LINK_SUCCESSOR;
	case CTL_TOPO_CHORD:
		return SIG_LINK_CHORD;
	default:
		return SIG_LINK_ON_DEMAND;
	}
}

static enum ctl_topo_kind topo_kind(enum sig_link_kind k)
{
	switch (k) {
	case SIG_LINK_SUCCESSOR:
		return CTL_TOPO_SUCCESSOR;
	case SIG_LINK_CHORD:
		return CTL_TOPO_CHORD;
	default:
		return CTL_TOPO_ON_DEMAND;
	}
}

/* ---- the manager's wishes --------------------------------------------------- */

static void op_open(void *arg, const struct ctl_topo_id *peer, enum ctl_topo_kind kind)
{
	struct ctl_topo_wire *w = arg;
	w->cnt.opens++;
	int rc = ctl_disc_link_open(w->d, peer->b, sig_kind(kind), w->now);
	if (rc)
		log_debug("topology: cannot ask for a %s link: %s", ctl_topo_kind_name(kind),
			  strerror(-rc));
}

static void op_close(void *arg, const struct ctl_topo_id *peer)
{
	struct ctl_topo_wire *w = arg;
	w->cnt.closes++;
	w->table_dirty = true;
	ctl_disc_link_close(w->d, peer->b, true, w->now);
}

static void op_ping(void *arg, const struct ctl_topo_id *peer)
{
	struct ctl_topo_wire *w = arg;
	w->cnt.pings++;
	ctl_disc_ping(w->d, peer->b);
}

static const struct ctl_topo_ops wire_ops = {
    .open = op_open,
    .close = op_close,
    .ping = op_ping,
};

/* ---- discovery's hooks ------------------------------------------------------- */

static void h_joined(void *arg, const uint8_t id[SIG_NODE_ID_LEN], uint32_t ip4)
{
	struct ctl_topo_wire *w = arg;
	int rc = ctl_topo_ring_add(&w->ring, as_id(id), ip4);
	if (rc && rc != -EEXIST) {
		log_err("topology: member not added to the ring: %s", strerror(-rc));
		return;
	}
	if (rc == 0)
		w->cnt.joins++;
	w->now = w->clock();
	ctl_topo_member_joined(w->t, as_id(id), w->now);
	/* a member near us costs a link setup, not a tick */
	ctl_topo_tick(w->t, w->now);
	w->table_dirty = true;
}

static void h_left(void *arg, const uint8_t id[SIG_NODE_ID_LEN])
{
	struct ctl_topo_wire *w = arg;
	if (ctl_topo_ring_remove(&w->ring, as_id(id)))
		return;
	w->cnt.leaves++;
	w->now = w->clock();
	ctl_topo_member_left(w->t, as_id(id), w->now);
	w->table_dirty = true;
}

static int h_request(void *arg, const uint8_t id[SIG_NODE_ID_LEN], enum sig_link_kind kind)
{
	struct ctl_topo_wire *w = arg;
	w->cnt.requests++;
	w->now = w->clock();
	int rc = ctl_topo_link_request(w->t, as_id(id), topo_kind(kind), w->now);
	if (rc)
		w->cnt.refused++;
	return rc;
}

static void h_refused(void *arg, const uint8_t id[SIG_NODE_ID_LEN], const char *reason)
{
	struct ctl_topo_wire *w = arg;
	log_debug("topology: link refused: %s", reason[0] ? reason : "(no reason)");
	w->now = w->clock();
	if (strcmp(reason, "num_inbound") == 0)
		ctl_topo_link_refused(w->t, as_id(id), w->now);
	else
		ctl_topo_link_failed(w->t, as_id(id), w->now);
}

static void h_closed(void *arg, const uint8_t id[SIG_NODE_ID_LEN])
{
	struct ctl_topo_wire *w = arg;
	w->now = w->clock();
	ctl_topo_link_closed(w->t, as_id(id), w->now);
	w->table_dirty = true;
}

static void h_released(void *arg, const uint8_t id[SIG_NODE_ID_LEN])
{
	struct ctl_topo_wire *w = arg;
	w->now = w->clock();
	ctl_topo_link_released(w->t, as_id(id), w->now);
}

static void h_pong(void *arg, const uint8_t id[SIG_NODE_ID_LEN])
{
	struct ctl_topo_wire *w = arg;
	w->now = w->clock();
	ctl_topo_ping_reply(w->t, as_id(id), w->now);
}

static const struct ctl_disc_topo_hooks wire_hooks = {
    .member_joined = h_joined,
    .member_left = h_left,
    .link_request = h_request,
    .link_refused = h_refused,
    .link_closed = h_closed,
    .link_released = h_released,
    .pong = h_pong,
};

/* ---- setup ------------------------------------------------------------------- */

int ctl_topo_wire_init(struct ctl_topo_wire *w, const struct ipop_config *cfg, struct ctl_disc *d,
		       uint64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	ctl_topo_ring_init(&w->ring);
	w->d = d;
	w->clock = clock_now_ms;
	w->start_ms = now_ms;
	if (!cfg->xmpp_host[0])
		return 0;
	ctl_topo_params_from_config(cfg, &w->p);
	memcpy(w->self.b, cfg->node_id, CTL_TOPO_ID_LEN);
	w->t = ctl_topo_create(&w->self, &w->p, &wire_ops, w, &w->ring, now_ms);
	if (!w->t)
		return errno ? -errno : -ENOMEM;
	w->next_tick_ms = now_ms;
	ctl_disc_set_topo(d, &wire_hooks, w);
	return 0;
}

void ctl_topo_wire_fini(struct ctl_topo_wire *w)
{
	if (w->d && w->t)
		ctl_disc_set_topo(w->d, NULL, NULL);
	ctl_topo_destroy(w->t);
	ctl_topo_ring_free(&w->ring);
	free(w->slot);
	memset(w, 0, sizeof(*w));
}

bool ctl_topo_wire_active(const struct ctl_topo_wire *w)
{
	return w->t != NULL;
}

/* ---- the scan ---------------------------------------------------------------- */

static bool peer_up(const struct ctl_peer *p)
{
	return p->lk && p->lk->state == LM_UP && ctl_linkmgr_link_sa_out(p->lk);
}

/* A discovered member's ring id from its peer: the SHA-1 of its IPv4. */
static bool member_id(const struct ctl_topo_wire *w, const struct ctl_peer *p,
		      struct ctl_topo_id *id)
{
	if (!p->conf->keyed || !p->conf->ip4)
		return false;
	ipop_node_id(p->conf->ip4, id->b);
	return ctl_disc_find_id(w->d, id->b) != NULL;
}

static void slot_init(struct ctl_topo_wire *w, struct ctl_topo_wire_slot *s,
		      const struct ctl_peer *p, uint64_t now)
{
	const struct dp_link_stats *st = &p->link->stats;
	memset(s, 0, sizeof(*s));
	s->link = p->link;
	s->member = member_id(w, p, &s->id);
	s->rx = atomic_load_explicit(&st->rx_packets, memory_order_relaxed);
	s->tx = atomic_load_explicit(&st->tx_packets, memory_order_relaxed);
	s->demand = atomic_load_explicit(&st->demand_packets, memory_order_relaxed);
	s->keepalives = p->lk ? p->lk->keepalives : 0;
	s->seen_ms = now;
}

static int slots_fit(struct ctl_topo_wire *w, unsigned n)
{
	if (n <= w->cap_slot)
		return 0;
	unsigned cap = w->cap_slot ? w->cap_slot : 16;
	while (cap < n)
		cap *= 2;
	struct ctl_topo_wire_slot *v = realloc(w->slot, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + w->cap_slot, 0, (cap - w->cap_slot) * sizeof(*v));
	w->slot = v;
	w->cap_slot = cap;
	return 0;
}

static void scan_peer(struct ctl_topo_wire *w, struct ctl_topo_wire_slot *s,
		      const struct ctl_peer *p, uint64_t now)
{
	const struct dp_link_stats *st = &p->link->stats;
	uint64_t rx = atomic_load_explicit(&st->rx_packets, memory_order_relaxed);
	uint64_t tx = atomic_load_explicit(&st->tx_packets, memory_order_relaxed);
	uint64_t dem = atomic_load_explicit(&st->demand_packets, memory_order_relaxed);
	uint64_t ka = p->lk ? p->lk->keepalives : s->keepalives;
	bool up = peer_up(p);
	if (up && !s->up) {
		w->cnt.ups++;
		ctl_topo_link_up(w->t, &s->id, now);
		w->table_dirty = true;
	} else if (!up && s->up) {
		w->table_dirty = true; /* next hops must avoid it (the manager waits for pulses) */
	}
	s->up = up;
	if (rx != s->rx && up) {
		w->cnt.pulses++;
		ctl_topo_link_pulse(w->t, &s->id, now);
	}
	/* keepalives are not traffic: an idle on-demand link must be able to expire */
	uint64_t dtx = tx - s->tx, dka = ka - s->keepalives;
	uint64_t traffic = (dtx > dka ? dtx - dka : 0) + (dem - s->demand);
	if (traffic) {
		w->cnt.traffic_reports++;
		ctl_topo_traffic(w->t, &s->id, traffic, now);
	}
	s->rx = rx, s->tx = tx, s->demand = dem, s->keepalives = ka;
}

/* Discovery holds links the manager does not have (it gave them up without
 * a close: a refusal, an expiry): tear them down; manager links whose member
 * discovery dropped are closed; links we hold only for a peer whose request
 * crossed ours are released to it. */
static void reconcile(struct ctl_topo_wire *w, uint64_t now)
{
	struct ctl_disc *d = w->d;
	for (unsigned i = 0; i < d->ndyn; i++) {
		struct disc_peer *dp = d->dyn[i];
		if ((dp->wanted || dp->engaged) && !ctl_topo_link_find(w->t, as_id(dp->node_id))) {
			w->cnt.closes_reconciled++;
			w->table_dirty = true;
			ctl_disc_link_close(d, dp->node_id, true, now);
		}
	}
	for (unsigned i = w->t->nlinks; i-- > 0;) {
		const struct ctl_topo_link *l = &w->t->links[i];
		struct ctl_topo_id id = l->peer;
		struct disc_peer *dp = ctl_disc_find_id(d, id.b);
		if (!dp) {
			ctl_topo_link_closed(w->t, &id, now);
			w->table_dirty = true;
			continue;
		}
		/* We asked for it, then stopped wanting it, but the peer's
		 * crossing request holds it: let the peer know, or each end
		 * would keep it for the other forever. */
		if (l->outbound && l->roles == CTL_TOPO_INBOUND)
			ctl_disc_link_release(d, id.b, now);
		else if (l->roles & ~(unsigned)CTL_TOPO_INBOUND)
			dp->released = false;
	}
}

void ctl_topo_wire_tick(struct ctl_topo_wire *w, const struct ctl_peers *set, uint64_t now)
{
	if (!w->t)
		return;
	w->now = now;
	if (slots_fit(w, set->n) == 0) {
		for (unsigned i = 0; i < set->n; i++) {
			struct ctl_topo_wire_slot *s = &w->slot[i];
			const struct ctl_peer *p = &set->v[i];
			if (s->link != p->link || (!s->member && now - s->seen_ms >= WIRE_TICK_MS))
				slot_init(w, s, p, now); /* new link; or a member seen late */
			if (s->member)
				scan_peer(w, s, p, now);
		}
		w->nslot = set->n;
	}
	if (now < w->next_tick_ms)
		return;
	w->next_tick_ms = now + WIRE_TICK_MS;
	ctl_topo_tick(w->t, now);
	reconcile(w, now);
}

const struct ctl_topo_wire_slot *ctl_topo_wire_slot(const struct ctl_topo_wire *w,
						    const struct ctl_peers *set, unsigned i)
{
	if (i >= w->nslot || i >= set->n || w->slot[i].link != set->v[i].link)
		return NULL;
	return &w->slot[i];
}

/* ---- the table ----------------------------------------------------------------- */

struct wire_index {
	struct ctl_topo_id id;
	uint16_t idx;
	bool up;
};

static int index_cmp(const void *a, const void *b)
{
	return ctl_topo_id_cmp(&((const struct wire_index *)a)->id,
			       &((const struct wire_index *)b)->id);
}

struct wire_lookup {
	const struct wire_index *v;
	size_t n;
};

static const struct wire_index *index_find(const struct wire_lookup *l,
					   const struct ctl_topo_id *id)
{
	struct wire_index key = {.id = *id};
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), index_cmp) : NULL;
}

static bool usable(void *arg, const struct ctl_topo_id *peer)
{
	const struct wire_index *e = index_find(arg, peer);
	return e && e->up;
}

void ctl_topo_wire_table(struct ctl_topo_wire *w, const struct ctl_peers *set, struct dp_table *t)
{
	if (!w->t || !set->n)
		return;
	struct wire_index *v = calloc(set->n, sizeof(*v));
	struct wire_lookup l = {.v = v};
	if (!v) {
		log_err("topology: out of memory: table without next hops");
		return;
	}
	w->cnt.tables++;
	for (unsigned i = 0; i < set->n; i++) {
		const struct ctl_peer *p = &set->v[i];
		const struct ctl_topo_wire_slot *s = ctl_topo_wire_slot(w, set, i);
		struct ctl_topo_id id;
		if (s && s->member)
			id = s->id;
		else if (!member_id(w, p, &id))
			continue;
		v[l.n].id = id;
		v[l.n].idx = (uint16_t)i;
		v[l.n].up = peer_up(p);
		l.n++;
	}
	qsort(v, l.n, sizeof(*v), index_cmp);
	for (size_t k = 0; k < l.n; k++) {
		const struct wire_index *e = &v[k];
		dp_table_set_link_node_id(t, e->idx, e->id.b);
		if (e->up)
			continue;
		const struct ctl_topo_id *nh =
		    w->p.multihop ? ctl_topo_next_hop_if(w->t, &e->id, usable, &l) : NULL;
		const struct wire_index *via = nh ? index_find(&l, nh) : NULL;
		if (via)
			dp_table_set_link_via(t, e->idx, via->idx);
		else
			dp_table_set_link_stage(t, e->idx, true);
	}
	free(v);
}
