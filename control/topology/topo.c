/* The topology manager (topo.h): successors, chords, on-demand links,
 * inbound cap, expiries, partition pings, greedy next hop.
 *
 * Management recomputes what we want from the member ring and our links'
 * states, then diffs: a wanted peer without a link is opened, an outbound
 * link nothing wants any more is closed. It runs every interval_management
 * and, sooner, at the first tick after something relevant changed (a member
 * near us joined or left, a link failed or went down), so a join or a leave
 * costs a link setup, not a management interval.
 */
#include "control/topology/topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ctl_topo_params_default(struct ctl_topo_params *p)
{
	memset(p, 0, sizeof(*p));
	p->num_successors = 20;
	p->num_chords = 10;
	p->num_on_demand = 20;
	p->num_inbound = 50;
	p->threshold_on_demand = 128;
	p->ttl_link_initial_ms = 60000;
	p->ttl_link_pulse_ms = 30000;
	p->ttl_chord_ms = 180000;
	p->ttl_on_demand_ms = 240000;
	p->interval_management_ms = 15000;
	p->interval_ping_ms = 300000;
	p->num_pings = 5;
	p->multihop = false;
}

const char *ctl_topo_kind_name(enum ctl_topo_kind k)
{
	switch (k) {
	case CTL_TOPO_SUCCESSOR:
		return "successor";
	case CTL_TOPO_CHORD:
		return "chord";
	case CTL_TOPO_ON_DEMAND:
		return "on-demand";
	case CTL_TOPO_INBOUND:
		return "inbound";
	}
	return "?";
}

/* ---- link bookkeeping ---------------------------------------------------- */

static long link_index(const struct ctl_topo *t, const struct ctl_topo_id *peer, unsigned *ins)
{
	unsigned lo = 0, hi = t->nlinks;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = ctl_topo_id_cmp(&t->links[mid].peer, peer);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ins)
		*ins = lo;
	return -1;
}

const struct ctl_topo_link *ctl_topo_link_find(const struct ctl_topo *t,
					       const struct ctl_topo_id *peer)
{
	long i = link_index(t, peer, NULL);
	return i < 0 ? NULL : &t->links[i];
}

static struct ctl_topo_link *link_get(struct ctl_topo *t, const struct ctl_topo_id *peer)
{
	long i = link_index(t, peer, NULL);
	return i < 0 ? NULL : &t->links[i];
}

static struct ctl_topo_link *link_add(struct ctl_topo *t, const struct ctl_topo_id *peer,
				      uint64_t now)
{
	unsigned at = 0;
	struct ctl_topo_link *l;
	if (link_index(t, peer, &at) >= 0)
		return NULL;
	if (t->nlinks == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 32;
		struct ctl_topo_link *v = realloc(t->links, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->links = v;
		t->cap = cap;
	}
	memmove(&t->links[at + 1], &t->links[at], (t->nlinks - at) * sizeof(*t->links));
	t->nlinks++;
	l = &t->links[at];
	memset(l, 0, sizeof(*l));
	l->peer = *peer;
	l->since_ms = l->last_pulse_ms = l->last_traffic_ms = now;
	return l;
}

static void link_remove(struct ctl_topo *t, struct ctl_topo_link *l)
{
	unsigned at = (unsigned)(l - t->links);
	memmove(&t->links[at], &t->links[at + 1], (t->nlinks - at - 1) * sizeof(*t->links));
	t->nlinks--;
}

unsigned ctl_topo_count(const struct ctl_topo *t, unsigned roles, unsigned *pending)
{
	unsigned up = 0, pend = 0;
	for (unsigned i = 0; i < t->nlinks; i++) {
		if (!(t->links[i].roles & roles))
			continue;
		if (t->links[i].up)
			up++;
		else
			pend++;
	}
	if (pending)
		*pending = pend;
	return up;
}

/* ---- failures and backoff ------------------------------------------------ */

static struct ctl_topo_fail *fail_find(struct ctl_topo *t, const struct ctl_topo_id *peer)
{
	for (unsigned i = 0; i < t->nfails; i++)
		if (ctl_topo_id_eq(&t->fails[i].peer, peer))
			return &t->fails[i];
	return NULL;
}

static bool backed_off(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now)
{
	const struct ctl_topo_fail *f = fail_find(t, peer);
	return f && f->until_ms > now;
}

/* Backed off as a successor: not for a refusal (num_inbound applies to
 * chords and on-demand links only). */
static bool succ_backed_off(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now)
{
	const struct ctl_topo_fail *f = fail_find(t, peer);
	return f && !f->refused && f->until_ms > now;
}

/* Not wished again before the next management round (IPOP retried at the
 * next interval_management), doubling per consecutive failure, at most
 * interval_ping (by then a ping may have cleared it anyway). Meanwhile the
 * next member takes its place. */
static struct ctl_topo_fail *fail_mark(struct ctl_topo *t, const struct ctl_topo_id *peer,
				       uint64_t now)
{
	struct ctl_topo_fail *f = fail_find(t, peer);
	uint64_t backoff;
	if (!f) {
		if (t->nfails < CTL_TOPO_FAIL_MAX) {
			f = &t->fails[t->nfails++];
		} else {
			f = &t->fails[0];
			for (unsigned i = 1; i < t->nfails; i++)
				if (t->fails[i].until_ms < f->until_ms)
					f = &t->fails[i];
		}
		f->peer = *peer;
		f->fails = 0;
	}
	f->fails++;
	backoff = t->p.interval_management_ms << (f->fails - 1 < 16 ? f->fails - 1 : 16);
	if (backoff > t->p.interval_ping_ms)
		backoff = t->p.interval_ping_ms;
	f->until_ms = now + backoff;
	f->refused = false;
	return f;
}

static void fail_clear(struct ctl_topo *t, const struct ctl_topo_id *peer)
{
	struct ctl_topo_fail *f = fail_find(t, peer);
	if (f)
		*f = t->fails[--t->nfails];
}

/* ---- create -------------------------------------------------------------- */

struct ctl_topo *ctl_topo_create(const struct ctl_topo_id *self, const struct ctl_topo_params *p,
				 const struct ctl_topo_ops *ops, void *arg,
				 const struct ctl_topo_ring *ring, uint64_t now_ms)
{
	struct ctl_topo *t;
	if (!self || !p || !ops || !ring || p->num_successors < 1 ||
	    p->num_chords > CTL_TOPO_MAX_CHORDS || !p->ttl_link_initial_ms ||
	    !p->ttl_link_pulse_ms || !p->interval_management_ms || !p->interval_ping_ms) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->want_cap = 2 * p->num_successors + p->num_chords;
	t->want = calloc(t->want_cap, sizeof(*t->want));
	if (!t->want) {
		free(t);
		return NULL;
	}
	t->self = *self;
	t->p = *p;
	t->ops = *ops;
	t->arg = arg;
	t->ring = ring;
	t->dirty = true;
	t->next_mgmt_ms = t->last_tick_ms = now_ms;
	/* first pings one interval after start: the ring is young before */
	t->next_ping_ms = now_ms + p->interval_ping_ms;
	for (unsigned i = 0; i < 8; i++)
		t->rng = t->rng << 8 | self->b[i];
	t->rng |= 1;
	return t;
}

void ctl_topo_destroy(struct ctl_topo *t)
{
	if (!t)
		return;
	free(t->links);
	free(t->want);
	free(t);
}

/* ---- inputs -------------------------------------------------------------- */

void ctl_topo_member_joined(struct ctl_topo *t, const struct ctl_topo_id *id, uint64_t now_ms)
{
	(void)now_ms;
	if (ctl_topo_id_eq(id, &t->self))
		return;
	/* a member beyond our last successor changes nothing before the chords'
	 * next re-evaluation */
	if (!t->horizon_valid || ctl_topo_id_in_oc(id, &t->self, &t->horizon))
		t->dirty = true;
}

void ctl_topo_member_left(struct ctl_topo *t, const struct ctl_topo_id *id, uint64_t now_ms)
{
	(void)now_ms;
	if (link_get(t, id))
		t->dirty = true;
	for (unsigned i = 0; i < t->p.num_chords; i++)
		if (t->chords[i].set && ctl_topo_id_eq(&t->chords[i].peer, id))
			t->chords[i].set = false, t->dirty = true;
	if (!t->horizon_valid || ctl_topo_id_in_oc(id, &t->self, &t->horizon))
		t->dirty = true;
}

static void lost(struct ctl_topo *t, struct ctl_topo_link *l, uint64_t now, bool backoff);

/* The newest accepted link nothing but its opener wants, not a successor of
 * the opener's: what a successor request may displace at num_inbound. */
static struct ctl_topo_link *evictable(struct ctl_topo *t)
{
	struct ctl_topo_link *v = NULL;
	for (unsigned i = 0; i < t->nlinks; i++) {
		struct ctl_topo_link *l = &t->links[i];
		if (l->roles != CTL_TOPO_INBOUND || l->in_kind == CTL_TOPO_SUCCESSOR)
			continue;
		if (!v || l->since_ms > v->since_ms)
			v = l;
	}
	return v;
}

int ctl_topo_link_request(struct ctl_topo *t, const struct ctl_topo_id *peer,
			  enum ctl_topo_kind kind, uint64_t now_ms)
{
	struct ctl_topo_link *l;
	unsigned inbound, pending;
	if (ctl_topo_id_eq(peer, &t->self))
		return -EINVAL;
	if (ctl_topo_ring_find(t->ring, peer) < 0)
		return -ENOENT;
	l = link_get(t, peer);
	if (l) {
		/* A link accepted as a successor asked again as a chord or
		 * on-demand one (the peer's successor became something else):
		 * the cap applies now, unless we want the link ourselves. */
		if ((l->roles & CTL_TOPO_INBOUND) && l->in_kind == CTL_TOPO_SUCCESSOR &&
		    kind != CTL_TOPO_SUCCESSOR && l->roles == CTL_TOPO_INBOUND) {
			inbound = ctl_topo_count(t, CTL_TOPO_INBOUND, &pending) + pending;
			if (inbound > t->p.num_inbound) {
				t->counters.inbound_refused++;
				lost(t, l, now_ms, false);
				return -EBUSY;
			}
		}
		/* crossing requests, or the peer re-asks: one link serves both
		 * (until the peer releases it: ctl_topo_link_released) */
		l->roles |= CTL_TOPO_INBOUND;
		l->in_kind = kind;
		return 0;
	}
	inbound = ctl_topo_count(t, CTL_TOPO_INBOUND, &pending);
	inbound += pending;
	if (inbound >= t->p.num_inbound) {
		/* The ring needs every successor link (greedy forwarding reaches a
		 * node only through its predecessors), so a successor request
		 * displaces a chord or on-demand one, as IPOP accepted successors
		 * beyond the cap; the displaced opener picks another node. */
		struct ctl_topo_link *v = kind == CTL_TOPO_SUCCESSOR ? evictable(t) : NULL;
		if (!v && kind != CTL_TOPO_SUCCESSOR) {
			t->counters.inbound_refused++;
			return -EBUSY;
		}
		if (v) {
			struct ctl_topo_id victim = v->peer;
			link_remove(t, v);
			t->counters.inbound_evicted++;
			t->ops.close(t->arg, &victim);
		}
	}
	l = link_add(t, peer, now_ms);
	if (!l)
		return -ENOMEM;
	l->roles = CTL_TOPO_INBOUND;
	l->in_kind = kind;
	t->counters.inbound_accepted++;
	return 0;
}

void ctl_topo_link_up(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	if (ctl_topo_id_eq(peer, &t->self))
		return;
	if (!l) {
		/* came up without a request we saw (the wiring accepted it) */
		l = link_add(t, peer, now_ms);
		if (!l)
			return;
		l->roles = CTL_TOPO_INBOUND;
	}
	if (!l->up) {
		l->up = true;
		l->since_ms = now_ms;
		t->dirty = true; /* a nearer successor up: a farther one may go */
	}
	l->last_pulse_ms = now_ms;
	fail_clear(t, peer);
}

static void lost(struct ctl_topo *t, struct ctl_topo_link *l, uint64_t now, bool backoff)
{
	struct ctl_topo_id peer = l->peer;
	link_remove(t, l);
	if (backoff)
		fail_mark(t, &peer, now);
	for (unsigned i = 0; i < t->p.num_chords; i++)
		if (t->chords[i].set && ctl_topo_id_eq(&t->chords[i].peer, &peer))
			t->chords[i].set = false;
	t->dirty = true;
}

void ctl_topo_link_down(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	if (!l)
		return;
	t->counters.went_down++;
	lost(t, l, now_ms, true);
}

void ctl_topo_link_failed(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	t->counters.failed++;
	if (l)
		lost(t, l, now_ms, true); /* up: the peer refused it a new kind */
	else
		fail_mark(t, peer, now_ms);
}

void ctl_topo_link_refused(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	t->counters.refused_by_peer++;
	if (l)
		lost(t, l, now_ms, false);
	fail_mark(t, peer, now_ms)->refused = true;
	t->dirty = true;
}

void ctl_topo_link_closed(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	if (!l)
		return;
	t->counters.closed_by_peer++;
	lost(t, l, now_ms, false);
}

void ctl_topo_link_released(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	(void)now_ms;
	if (!l || !(l->roles & CTL_TOPO_INBOUND))
		return;
	l->roles &= ~(unsigned)CTL_TOPO_INBOUND;
	t->counters.released_by_peer++;
	t->dirty = true;
}

void ctl_topo_link_pulse(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_link *l = link_get(t, peer);
	if (l && l->up)
		l->last_pulse_ms = now_ms;
}

static void want_on_demand(struct ctl_topo *t, const struct ctl_topo_id *dst, uint64_t now)
{
	struct ctl_topo_link *l;
	unsigned pending, n = ctl_topo_count(t, CTL_TOPO_ON_DEMAND, &pending);
	if (n + pending >= t->p.num_on_demand) {
		t->counters.on_demand_full++;
		return;
	}
	if (backed_off(t, dst, now))
		return;
	l = link_add(t, dst, now);
	if (!l)
		return;
	l->roles = CTL_TOPO_ON_DEMAND;
	l->outbound = true;
	l->out_kind = CTL_TOPO_ON_DEMAND;
	t->counters.on_demand_opened++;
	t->counters.opens++;
	t->ops.open(t->arg, dst, CTL_TOPO_ON_DEMAND);
}

void ctl_topo_traffic(struct ctl_topo *t, const struct ctl_topo_id *dst, uint64_t packets,
		      uint64_t now_ms)
{
	struct ctl_topo_link *l;
	struct ctl_topo_traffic *c = NULL;
	if (!packets || ctl_topo_id_eq(dst, &t->self))
		return;
	l = link_get(t, dst);
	if (l) {
		l->packets += packets;
		l->last_traffic_ms = now_ms;
		return;
	}
	if (ctl_topo_ring_find(t->ring, dst) < 0)
		return;
	if (!t->p.multihop) {
		/* nothing else reaches it: link at once (IPOP's add_on_demand) */
		want_on_demand(t, dst, now_ms);
		return;
	}
	for (unsigned i = 0; i < t->ntraffic; i++)
		if (ctl_topo_id_eq(&t->traffic[i].dst, dst))
			c = &t->traffic[i];
	if (!c) {
		if (t->ntraffic == CTL_TOPO_TRAFFIC_MAX)
			return; /* the busiest already counted; the window resets soon */
		c = &t->traffic[t->ntraffic++];
		c->dst = *dst;
		c->packets = 0;
	}
	c->packets += packets;
	if (c->packets >= t->p.threshold_on_demand) {
		want_on_demand(t, dst, now_ms);
		*c = t->traffic[--t->ntraffic];
	}
}

void ctl_topo_ping_reply(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms)
{
	struct ctl_topo_fail *f = fail_find(t, peer);
	t->counters.ping_replies++;
	if (f && f->until_ms > now_ms) {
		/* reachable again: wish it at once, keep the count for the backoff */
		f->until_ms = now_ms;
		t->dirty = true;
	}
}

/* ---- management ---------------------------------------------------------- */

static unsigned wanted_add(struct ctl_topo_want *w, unsigned n, unsigned max,
			   const struct ctl_topo_id *id, unsigned role)
{
	for (unsigned i = 0; i < n; i++) {
		if (ctl_topo_id_eq(&w[i].id, id)) {
			w[i].roles |= role;
			return n;
		}
	}
	if (n == max)
		return n;
	w[n].id = *id;
	w[n].roles = role;
	return n + 1;
}

/* The first member at or after target that is not backed off; NULL if that
 * is only ourselves. */
static const struct ctl_topo_member *chord_pick(struct ctl_topo *t,
						const struct ctl_topo_id *target, uint64_t now)
{
	const struct ctl_topo_ring *r = t->ring;
	size_t i = ctl_topo_ring_lower_bound(r, target);
	for (size_t k = 0; k < r->n; k++) {
		const struct ctl_topo_member *m = &r->v[(i + k) % r->n];
		if (ctl_topo_id_eq(&m->id, &t->self))
			return NULL;
		if (!backed_off(t, &m->id, now))
			return m;
	}
	return NULL;
}

static unsigned want_successors(struct ctl_topo *t, struct ctl_topo_want *w, unsigned n,
				unsigned max, uint64_t now)
{
	unsigned S = t->p.num_successors, ncand = 0, hopeful = 0, rank = 0, start = 0;
	size_t step = 0;

	/* the S nearest members we may wish, and one more for each of them
	 * that is not up and either failed before or has been pending longer
	 * than a management interval (a crashed member stays in the ring until
	 * its presence times out, and is retried meanwhile) */
	t->horizon_valid = false;
	while (ncand < 2 * S && (ncand < S || hopeful < S)) {
		const struct ctl_topo_member *m = ctl_topo_ring_after(t->ring, &t->self, step++);
		const struct ctl_topo_link *l;
		if (!m)
			break;
		if (succ_backed_off(t, &m->id, now))
			continue;
		n = wanted_add(w, n, max, &m->id, CTL_TOPO_SUCCESSOR);
		ncand++;
		l = ctl_topo_link_find(t, &m->id);
		const struct ctl_topo_fail *f = fail_find(t, &m->id);
		if ((l && l->up) ||
		    ((!f || f->refused) && (!l || now - l->since_ms < t->p.interval_management_ms)))
			hopeful++;
		t->horizon = m->id;
	}
	t->horizon_valid = ncand >= S;

	/* and, until nearer ones are up, the S nearest up successor links
	 * (IPOP's remove_successors counts linked successors only) */
	link_index(t, &t->self, &start);
	for (unsigned k = 0; k < t->nlinks && rank < S; k++) {
		const struct ctl_topo_link *l = &t->links[(start + k) % t->nlinks];
		if (!l->up || !(l->roles & CTL_TOPO_SUCCESSOR))
			continue;
		if (ctl_topo_ring_find(t->ring, &l->peer) < 0 || succ_backed_off(t, &l->peer, now))
			continue;
		n = wanted_add(w, n, max, &l->peer, CTL_TOPO_SUCCESSOR);
		rank++;
	}
	return n;
}

static unsigned want_chords(struct ctl_topo *t, struct ctl_topo_want *w, unsigned n, unsigned max,
			    uint64_t now)
{
	for (unsigned i = 0; i < t->p.num_chords; i++) {
		struct ctl_topo_chord *c = &t->chords[i];
		if (!c->set || c->expires_ms <= now || ctl_topo_ring_find(t->ring, &c->peer) < 0 ||
		    backed_off(t, &c->peer, now)) {
			bool had = c->set;
			struct ctl_topo_id old = c->peer, target;
			const struct ctl_topo_member *m;
			ctl_topo_id_add_pow2(&t->self, CTL_TOPO_ID_BITS - 1 - i, &target);
			m = chord_pick(t, &target, now);
			c->set = m != NULL;
			if (m) {
				c->peer = m->id;
				c->expires_ms = now + t->p.ttl_chord_ms;
			}
			if (had) {
				t->counters.chord_reevaluated++;
				if (!m || !ctl_topo_id_eq(&old, &m->id))
					t->counters.chord_changed++;
			}
		}
		if (c->set)
			n = wanted_add(w, n, max, &c->peer, CTL_TOPO_CHORD);
	}
	return n;
}

static void manage(struct ctl_topo *t, uint64_t now)
{
	unsigned max = t->want_cap, n = 0, od, pending;
	struct ctl_topo_want *w = t->want;

	t->dirty = false;
	t->counters.manage_runs++;
	n = want_successors(t, w, n, max, now);
	n = want_chords(t, w, n, max, now);

	for (unsigned i = 0; i < t->nlinks; i++)
		t->links[i].roles &= ~(unsigned)(CTL_TOPO_SUCCESSOR | CTL_TOPO_CHORD);
	for (unsigned i = 0; i < n; i++) {
		struct ctl_topo_link *l = link_get(t, &w[i].id);
		if (l) {
			l->roles |= w[i].roles;
			continue;
		}
		l = link_add(t, &w[i].id, now);
		if (!l)
			continue;
		l->roles = w[i].roles;
		l->outbound = true;
		l->out_kind = w[i].roles & CTL_TOPO_SUCCESSOR ? CTL_TOPO_SUCCESSOR : CTL_TOPO_CHORD;
		t->counters.opens++;
		t->ops.open(t->arg, &w[i].id, l->out_kind);
	}

	/* what nothing wants any more: ours are closed, a peer's are kept, and
	 * one that still carries traffic to its node stays as an on-demand link */
	od = ctl_topo_count(t, CTL_TOPO_ON_DEMAND, &pending);
	od += pending;
	for (unsigned i = t->nlinks; i-- > 0;) {
		struct ctl_topo_link *l = &t->links[i];
		struct ctl_topo_id peer = l->peer;
		if (l->roles)
			continue;
		if (l->packets && now - l->last_traffic_ms < t->p.ttl_on_demand_ms &&
		    od < t->p.num_on_demand) {
			l->roles = CTL_TOPO_ON_DEMAND;
			od++;
			continue;
		}
		link_remove(t, l);
		t->counters.closes++;
		t->ops.close(t->arg, &peer);
	}

	/* A successor request is never refused, so a link asked for as one
	 * that now serves only as a chord or on-demand link (a join's
	 * transient successor that became our chord, a former successor that
	 * carries traffic) would bypass the peer's num_inbound: ask again with
	 * the kind it serves (found with 12 real gateways: a node right after a
	 * wide gap of ids kept everyone's chord) */
	for (unsigned i = 0; i < t->nlinks; i++) {
		struct ctl_topo_link *l = &t->links[i];
		if (!l->outbound || l->out_kind != CTL_TOPO_SUCCESSOR ||
		    (l->roles & CTL_TOPO_SUCCESSOR) ||
		    !(l->roles & (CTL_TOPO_CHORD | CTL_TOPO_ON_DEMAND)))
			continue;
		l->out_kind = l->roles & CTL_TOPO_CHORD ? CTL_TOPO_CHORD : CTL_TOPO_ON_DEMAND;
		t->counters.rerequests++;
		t->ops.open(t->arg, &l->peer, l->out_kind);
	}
}

static void expire(struct ctl_topo *t, uint64_t now)
{
	for (unsigned i = t->nlinks; i-- > 0;) {
		struct ctl_topo_link *l = &t->links[i];
		struct ctl_topo_id peer = l->peer;
		if (!l->up && now - l->since_ms >= t->p.ttl_link_initial_ms) {
			bool ours = l->outbound;
			t->counters.pending_expired++;
			lost(t, l, now, ours);
			if (ours)
				t->ops.close(t->arg, &peer); /* give up the attempt */
			continue;
		}
		if (l->up && now - l->last_pulse_ms >= t->p.ttl_link_pulse_ms) {
			t->counters.pulse_expired++;
			lost(t, l, now, true);
			t->ops.close(t->arg, &peer);
			continue;
		}
		if ((l->roles & CTL_TOPO_ON_DEMAND) &&
		    now - l->last_traffic_ms >= t->p.ttl_on_demand_ms) {
			l->roles &= ~(unsigned)CTL_TOPO_ON_DEMAND;
			t->counters.on_demand_idle++;
			t->dirty = true;
		}
	}
}

static uint64_t rnd(struct ctl_topo *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

/* Partition healing: a member we back off from may be reachable again (the
 * underlay healed, a NAT mapping came back); ask up to num_pings of them over
 * signalling, and a reply lifts the backoff (ctl_topo_ping_reply). */
static void ping(struct ctl_topo *t, uint64_t now)
{
	unsigned cand[CTL_TOPO_FAIL_MAX], n = 0;
	for (unsigned i = 0; i < t->nfails; i++)
		if (t->fails[i].until_ms > now &&
		    ctl_topo_ring_find(t->ring, &t->fails[i].peer) >= 0)
			cand[n++] = i;
	for (unsigned k = 0; k < t->p.num_pings && n; k++) {
		unsigned j = (unsigned)(rnd(t) % n);
		t->counters.pings_sent++;
		t->ops.ping(t->arg, &t->fails[cand[j]].peer);
		cand[j] = cand[--n];
	}
}

void ctl_topo_tick(struct ctl_topo *t, uint64_t now_ms)
{
	expire(t, now_ms);
	/* a backoff that ended lets its member be wished again at once */
	for (unsigned i = 0; i < t->nfails; i++)
		if (t->fails[i].until_ms > t->last_tick_ms && t->fails[i].until_ms <= now_ms)
			t->dirty = true;
	t->last_tick_ms = now_ms;
	if (now_ms >= t->next_ping_ms) {
		ping(t, now_ms);
		t->next_ping_ms = now_ms + t->p.interval_ping_ms;
	}
	if (now_ms >= t->next_mgmt_ms) {
		t->ntraffic = 0; /* threshold_on_demand counts per interval */
		t->dirty = true;
		t->next_mgmt_ms = now_ms + t->p.interval_management_ms;
	}
	if (t->dirty)
		manage(t, now_ms);
}

/* ---- forwarding ---------------------------------------------------------- */

const struct ctl_topo_id *ctl_topo_next_hop(const struct ctl_topo *t, const struct ctl_topo_id *dst)
{
	return ctl_topo_next_hop_if(t, dst, NULL, NULL);
}

const struct ctl_topo_id *
ctl_topo_next_hop_if(const struct ctl_topo *t, const struct ctl_topo_id *dst,
		     bool (*usable)(void *arg, const struct ctl_topo_id *peer), void *arg)
{
	const struct ctl_topo_link *best = NULL;
	if (ctl_topo_id_eq(dst, &t->self))
		return NULL;
	for (unsigned i = 0; i < t->nlinks; i++) {
		const struct ctl_topo_link *l = &t->links[i];
		if (!l->up || !ctl_topo_id_in_oc(&l->peer, &t->self, dst))
			continue;
		if (usable && !usable(arg, &l->peer))
			continue;
		if (!best || ctl_topo_id_closer(&l->peer, &best->peer, dst))
			best = l;
	}
	return best ? &best->peer : NULL;
}
