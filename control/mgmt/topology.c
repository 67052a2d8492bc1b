/* The "topology" answer of the management socket (see topology.h): this
 * node's place on the ring, its links with their roles, the manager's
 * counters, and the member ring for drawings (`ipopctl topology --svg`). */
#include "control/mgmt/topology.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "control/core/ctl.h"
#include "control/link/linkmgr.h"
#include "control/topology/topo.h"
#include "util/json_counters.h"

#define MEMBERS_MAX 4096 /* members listed for drawings; counts are always whole */

static json_t *ip4_json(uint32_t be)
{
	char buf[INET_ADDRSTRLEN];
	if (!be)
		return json_null();
	return json_string(inet_ntop(AF_INET, &be, buf, sizeof(buf)));
}

static json_t *id_json(const struct ctl_topo_id *id)
{
	char hex[2 * CTL_TOPO_ID_LEN + 1];
	for (unsigned i = 0; i < CTL_TOPO_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", id->b[i]);
	return json_string(hex);
}

static json_t *member_json(const struct ctl_topo_member *m)
{
	if (!m)
		return json_null();
	return json_pack("{s:o,s:o}", "node_id", id_json(&m->id), "ip4", ip4_json(m->ip4));
}

static json_t *kinds_json(unsigned roles, bool is_static)
{
	static const enum ctl_topo_kind order[] = {CTL_TOPO_SUCCESSOR, CTL_TOPO_CHORD,
						   CTL_TOPO_ON_DEMAND, CTL_TOPO_INBOUND};
	json_t *a = json_array();
	if (is_static)
		json_array_append_new(a, json_string("static"));
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (roles & order[i])
			json_array_append_new(a, json_string(ctl_topo_kind_name(order[i])));
	return a;
}

/* The peer set's entry for a ring id (linear: views are rare). */
static const struct ctl_peer *peer_of(const struct ctl *c, const struct ctl_topo_id *id,
				      unsigned *index)
{
	for (unsigned i = 0; i < c->peers.n; i++) {
		const struct ctl_topo_wire_slot *s = ctl_topo_wire_slot(&c->topo, &c->peers, i);
		if (s && s->member && ctl_topo_id_eq(&s->id, id)) {
			*index = i;
			return &c->peers.v[i];
		}
	}
	return NULL;
}

static json_t *link_json(const struct ctl *c, const struct ctl_topo_link *l, uint64_t now)
{
	unsigned idx = 0;
	const struct ctl_peer *p = peer_of(c, &l->peer, &idx);
	long r = ctl_topo_ring_find(&c->topo.ring, &l->peer);
	uint32_t ip4 = r >= 0 ? c->topo.ring.v[r].ip4 : (p ? p->conf->ip4 : 0);
	const char *state = l->up ? "up" : "pending";
	uint64_t rx = 0, tx = 0;
	if (p) {
		rx = atomic_load_explicit(&p->link->stats.rx_packets, memory_order_relaxed);
		tx = atomic_load_explicit(&p->link->stats.tx_packets, memory_order_relaxed);
		if (l->up && !(p->lk && p->lk->state == LM_UP))
			state = "down"; /* data path lost; the manager waits for ttl_link_pulse */
	}
	json_t *o = json_pack(
	    "{s:s?,s:o,s:o,s:o,s:b,s:s,s:I,s:I,s:I,s:I}", "peer", p ? p->conf->name : NULL,
	    "node_id", id_json(&l->peer), "ip4", ip4_json(ip4), "kinds",
	    kinds_json(l->roles, false), "outbound", l->outbound, "state", state, "age_s",
	    (json_int_t)((now - l->since_ms) / 1000), "packets", (json_int_t)l->packets,
	    "rx_packets", (json_int_t)rx, "tx_packets", (json_int_t)tx);
	if (o && (l->roles & CTL_TOPO_INBOUND))
		json_object_set_new(o, "requested_as",
				    json_string(l->in_kind ? ctl_topo_kind_name(l->in_kind) : "?"));
	return o;
}

/* Configured peers are not the manager's: listed as kind static. */
static void static_links(const struct ctl *c, json_t *arr, uint64_t now)
{
	for (unsigned i = 0; i < c->peers.n; i++) {
		const struct ctl_peer *p = &c->peers.v[i];
		const struct ctl_topo_wire_slot *s = ctl_topo_wire_slot(&c->topo, &c->peers, i);
		if (s && s->member)
			continue;
		bool up = p->lk ? p->lk->state == LM_UP : true;
		uint64_t since =
		    p->lk && p->lk->last_handshake_ms ? p->lk->last_handshake_ms : c->start_ms;
		json_array_append_new(
		    arr,
		    json_pack("{s:s,s:n,s:o,s:o,s:b,s:s,s:I,s:I,s:I,s:I}", "peer", p->conf->name,
			      "node_id", "ip4", ip4_json(p->conf->ip4), "kinds",
			      kinds_json(0, true), "outbound", true, "state", up ? "up" : "down",
			      "age_s", (json_int_t)((now - since) / 1000), "packets", (json_int_t)0,
			      "rx_packets", (json_int_t)atomic_load(&p->link->stats.rx_packets),
			      "tx_packets", (json_int_t)atomic_load(&p->link->stats.tx_packets)));
	}
}

static json_t *counts_json(const struct ctl_topo *t)
{
	unsigned ps, pc, po, pi;
	unsigned s = ctl_topo_count(t, CTL_TOPO_SUCCESSOR, &ps);
	unsigned ch = ctl_topo_count(t, CTL_TOPO_CHORD, &pc);
	unsigned od = ctl_topo_count(t, CTL_TOPO_ON_DEMAND, &po);
	unsigned in = ctl_topo_count(t, CTL_TOPO_INBOUND, &pi);
	unsigned pall, all = ctl_topo_count(t, ~0u, &pall);
	return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "successor", s,
			 "successor_pending", ps, "chord", ch, "chord_pending", pc, "on_demand", od,
			 "on_demand_pending", po, "inbound", in, "inbound_pending", pi, "up", all,
			 "pending", pall);
}

static json_t *caps_json(const struct ctl_topo_params *p)
{
	return json_pack("{s:i,s:i,s:i,s:i,s:I,s:b}", "num_successors", p->num_successors,
			 "num_chords", p->num_chords, "num_on_demand", p->num_on_demand,
			 "num_inbound", p->num_inbound, "threshold_on_demand",
			 (json_int_t)p->threshold_on_demand, "multihop", p->multihop);
}

static const struct json_counter topo_counters[] = {
    JSON_COUNTER(struct ctl_topo_counters, opens),
    JSON_COUNTER(struct ctl_topo_counters, closes),
    JSON_COUNTER(struct ctl_topo_counters, manage_runs),
    JSON_COUNTER(struct ctl_topo_counters, inbound_accepted),
    JSON_COUNTER(struct ctl_topo_counters, inbound_refused),
    JSON_COUNTER(struct ctl_topo_counters, inbound_evicted),
    JSON_COUNTER(struct ctl_topo_counters, failed),
    JSON_COUNTER(struct ctl_topo_counters, refused_by_peer),
    JSON_COUNTER(struct ctl_topo_counters, went_down),
    JSON_COUNTER(struct ctl_topo_counters, closed_by_peer),
    JSON_COUNTER(struct ctl_topo_counters, released_by_peer),
    JSON_COUNTER(struct ctl_topo_counters, pending_expired),
    JSON_COUNTER(struct ctl_topo_counters, pulse_expired),
    JSON_COUNTER(struct ctl_topo_counters, chord_reevaluated),
    JSON_COUNTER(struct ctl_topo_counters, chord_changed),
    JSON_COUNTER(struct ctl_topo_counters, on_demand_opened),
    JSON_COUNTER(struct ctl_topo_counters, on_demand_full),
    JSON_COUNTER(struct ctl_topo_counters, on_demand_idle),
    JSON_COUNTER(struct ctl_topo_counters, rerequests),
    JSON_COUNTER(struct ctl_topo_counters, pings_sent),
    JSON_COUNTER(struct ctl_topo_counters, ping_replies),
};

static const struct json_counter wire_counters[] = {
    JSON_COUNTER(struct ctl_topo_wire_counters, joins),
    JSON_COUNTER(struct ctl_topo_wire_counters, leaves),
    JSON_COUNTER(struct ctl_topo_wire_counters, requests),
    JSON_COUNTER(struct ctl_topo_wire_counters, refused),
    JSON_COUNTER(struct ctl_topo_wire_counters, ups),
    JSON_COUNTER(struct ctl_topo_wire_counters, pulses),
    JSON_COUNTER(struct ctl_topo_wire_counters, traffic_reports),
    JSON_COUNTER(struct ctl_topo_wire_counters, closes_reconciled),
    JSON_COUNTER(struct ctl_topo_wire_counters, tables),
};

json_t *ctl_mgmt_topology_json(struct ctl *c)
{
	const struct ctl_topo_wire *w = &c->topo;
	const struct ctl_topo *t = w->t;
	if (!t)
		return json_pack("{s:{s:b}}", "topology", "enabled", 0);
	uint64_t now = clock_now_ms();
	const struct ctl_topo_ring *r = &w->ring;
	json_t *links = json_array(), *members = json_array();
	for (unsigned i = 0; links && i < t->nlinks; i++)
		json_array_append_new(links, link_json(c, &t->links[i], now));
	static_links(c, links, now);
	for (size_t i = 0; members && i < r->n && i < MEMBERS_MAX; i++)
		json_array_append_new(members, member_json(&r->v[i]));
	/* predecessor: the member before us, i.e. n-1 steps after us */
	const struct ctl_topo_member *succ = ctl_topo_ring_after(r, &w->self, 0);
	long self_at = ctl_topo_ring_find(r, &w->self);
	size_t others = r->n - (self_at >= 0 ? 1 : 0);
	const struct ctl_topo_member *pred =
	    others ? ctl_topo_ring_after(r, &w->self, others - 1) : NULL;
	return json_pack(
	    "{s:{s:b,s:o,s:o,s:b,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "topology", "enabled", 1,
	    "node_id", id_json(&w->self), "ip4", ip4_json(c->cfg.ip4), "multihop", w->p.multihop,
	    "members_n", (json_int_t)others, "predecessor", member_json(pred), "successor",
	    member_json(succ), "caps", caps_json(&w->p), "counts", counts_json(t), "links", links,
	    "members", members, "counters",
	    json_counters(&t->counters, topo_counters, JSON_COUNTERS_N(topo_counters)), "wiring",
	    json_counters(&w->cnt, wire_counters, JSON_COUNTERS_N(wire_counters)));
}
