/* The simulated network of topo_simnet.h. */
#include "bench/topo_simnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "control/topology/topo_flood.h"

enum ev_type { EV_REQUEST, EV_RESULT, EV_CLOSED, EV_PING, EV_PONG, EV_PRESENCE_GONE };

struct event {
	uint64_t at, seq;
	uint32_t a, b, gen;
	uint8_t type, kind;
};

struct node {
	struct ctl_topo *t; /* NULL: not started or gone */
	struct ctl_topo_id id;
	uint32_t ip4;
	bool alive, member;
	uint8_t side; /* partition half */
};

/* A link in the network: both ends' view is their managers' business. */
struct slink {
	uint64_t key; /* lo << 32 | hi, 0 = empty (node indices start at 0, so +1) */
	uint32_t gen;
	bool up;
};

struct topo_sim {
	struct topo_sim_params p;
	uint64_t now, next_tick, next_pulse, seq, rng;
	struct ctl_topo_ring ring;
	struct node *nodes;
	unsigned nnodes, nalive;
	unsigned *members; /* alive members, for random picks */
	unsigned nmembers;
	uint32_t *idmap; /* id hash -> node index + 1 */
	size_t idmask;
	struct slink *links;
	size_t lmask;
	struct event *heap;
	size_t nheap, capheap;
	uint32_t gen;
	bool partitioned;
};

void topo_sim_params_default(struct topo_sim_params *p, unsigned max_nodes)
{
	memset(p, 0, sizeof(*p));
	p->max_nodes = max_nodes;
	ctl_topo_params_default(&p->tp);
	p->tp.multihop = true;
	p->signal_ms = 100;
	p->setup_min_ms = 500;
	p->setup_max_ms = 3000;
	p->setup_fail = 0.02;
	p->presence_timeout_ms = 60000;
	p->pulse_ms = 10000;
	p->seed = 1;
}

uint64_t topo_sim_rand(struct topo_sim *s)
{
	/* splitmix64 */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double frand(struct topo_sim *s)
{
	return (double)(topo_sim_rand(s) >> 11) / (double)(1ull << 53);
}

/* ---- events -------------------------------------------------------------- */

static bool ev_before(const struct event *x, const struct event *y)
{
	return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void ev_push(struct topo_sim *s, uint64_t delay, uint8_t type, uint32_t a, uint32_t b,
		    uint32_t gen, uint8_t kind)
{
	size_t i;
	if (s->nheap == s->capheap) {
		size_t cap = s->capheap ? 2 * s->capheap : 1024;
		struct event *h = realloc(s->heap, cap * sizeof(*h));
		if (!h)
			abort();
		s->heap = h;
		s->capheap = cap;
	}
	i = s->nheap++;
	s->heap[i] = (struct event){s->now + delay, s->seq++, a, b, gen, type, kind};
	while (i && ev_before(&s->heap[i], &s->heap[(i - 1) / 2])) {
		struct event tmp = s->heap[i];
		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static struct event ev_pop(struct topo_sim *s)
{
	struct event top = s->heap[0];
	size_t i = 0;
	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nheap && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		struct event tmp = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* ---- node ids and network links ------------------------------------------ */

static size_t id_hash(const struct ctl_topo_id *id)
{
	uint64_t h;
	memcpy(&h, id->b, sizeof(h));
	return (size_t)h;
}

static int node_of(const struct topo_sim *s, const struct ctl_topo_id *id)
{
	for (size_t i = id_hash(id) & s->idmask;; i = (i + 1) & s->idmask) {
		uint32_t v = s->idmap[i];
		if (!v)
			return -1;
		if (ctl_topo_id_eq(&s->nodes[v - 1].id, id))
			return (int)(v - 1);
	}
}

static uint64_t lkey(unsigned a, unsigned b)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	return (lo + 1) << 32 | (hi + 1);
}

static size_t lhash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return (size_t)k;
}

static struct slink *slink_get(const struct topo_sim *s, unsigned a, unsigned b)
{
	uint64_t k = lkey(a, b);
	for (size_t i = lhash(k) & s->lmask;; i = (i + 1) & s->lmask) {
		if (!s->links[i].key)
			return NULL;
		if (s->links[i].key == k)
			return &s->links[i];
	}
}

static struct slink *slink_add(struct topo_sim *s, unsigned a, unsigned b)
{
	uint64_t k = lkey(a, b);
	size_t i = lhash(k) & s->lmask;
	while (s->links[i].key && s->links[i].key != k)
		i = (i + 1) & s->lmask;
	s->links[i].key = k;
	s->links[i].up = false;
	s->links[i].gen = ++s->gen;
	return &s->links[i];
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void slink_del(struct topo_sim *s, struct slink *l)
{
	size_t i = (size_t)(l - s->links), j = i;
	s->links[i].key = 0;
	for (;;) {
		j = (j + 1) & s->lmask;
		if (!s->links[j].key)
			return;
		size_t h = lhash(s->links[j].key) & s->lmask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		s->links[i] = s->links[j];
		s->links[j].key = 0;
		i = j;
	}
}

bool topo_sim_link_up(const struct topo_sim *s, unsigned a, unsigned b)
{
	const struct slink *l = slink_get(s, a, b);
	return l && l->up && s->nodes[a].alive && s->nodes[b].alive;
}

static bool reachable(const struct topo_sim *s, unsigned a, unsigned b)
{
	return s->nodes[a].alive && s->nodes[b].alive &&
	       (!s->partitioned || s->nodes[a].side == s->nodes[b].side);
}

/* ---- the manager's wishes ------------------------------------------------ */

struct sim_arg {
	struct topo_sim *s;
	unsigned node;
};

static struct sim_arg *args; /* one per slot; set up by create */

static void op_open(void *arg, const struct ctl_topo_id *peer, enum ctl_topo_kind kind)
{
	struct sim_arg *x = arg;
	struct topo_sim *s = x->s;
	int b = node_of(s, peer);
	struct slink *l;
	if (b < 0)
		return;
	l = slink_get(s, x->node, (unsigned)b);
	if (l) {
		/* one link per pair: a setup under way answers both, an up one
		 * only needs the other side told */
		if (l->up)
			ev_push(s, s->p.signal_ms, EV_REQUEST, x->node, (uint32_t)b, l->gen,
				(uint8_t)kind);
		return;
	}
	l = slink_add(s, x->node, (unsigned)b);
	ev_push(s, s->p.signal_ms, EV_REQUEST, x->node, (uint32_t)b, l->gen, (uint8_t)kind);
}

static void op_close(void *arg, const struct ctl_topo_id *peer)
{
	struct sim_arg *x = arg;
	struct topo_sim *s = x->s;
	int b = node_of(s, peer);
	struct slink *l;
	if (b < 0)
		return;
	l = slink_get(s, x->node, (unsigned)b);
	if (!l)
		return;
	slink_del(s, l);
	ev_push(s, s->p.signal_ms, EV_CLOSED, x->node, (uint32_t)b, 0, 0);
}

static void op_ping(void *arg, const struct ctl_topo_id *peer)
{
	struct sim_arg *x = arg;
	int b = node_of(x->s, peer);
	if (b >= 0)
		ev_push(x->s, x->s->p.signal_ms, EV_PING, x->node, (uint32_t)b, 0, 0);
}

static const struct ctl_topo_ops sim_ops = {op_open, op_close, op_ping};

static void handle(struct topo_sim *s, const struct event *e)
{
	struct node *a = &s->nodes[e->a], *b = &s->nodes[e->b];
	struct slink *l;
	switch (e->type) {
	case EV_REQUEST:
		l = slink_get(s, e->a, e->b);
		if (!l || l->gen != e->gen || !b->alive)
			return; /* cancelled, or nobody there: ttl_link_initial at a */
		if (ctl_topo_link_request(b->t, &a->id, (enum ctl_topo_kind)e->kind, s->now)) {
			slink_del(s, l);
			if (a->alive)
				ev_push(s, s->p.signal_ms, EV_RESULT, e->a, e->b, 0, 0);
			return;
		}
		if (l->up) {
			if (a->alive)
				ctl_topo_link_up(a->t, &b->id, s->now);
			ctl_topo_link_up(b->t, &a->id, s->now);
			return;
		}
		ev_push(s,
			s->p.setup_min_ms +
			    (uint64_t)(frand(s) * (double)(s->p.setup_max_ms - s->p.setup_min_ms)),
			EV_RESULT, e->a, e->b, e->gen, 1);
		return;
	case EV_RESULT:
		if (!e->kind) {
			/* refused */
			if (a->alive)
				ctl_topo_link_refused(a->t, &b->id, s->now);
			return;
		}
		l = slink_get(s, e->a, e->b);
		if (!l || l->gen != e->gen)
			return;
		if (reachable(s, e->a, e->b) && frand(s) >= s->p.setup_fail) {
			l->up = true;
			ctl_topo_link_up(a->t, &b->id, s->now);
			ctl_topo_link_up(b->t, &a->id, s->now);
			return;
		}
		slink_del(s, l);
		if (a->alive)
			ctl_topo_link_failed(a->t, &b->id, s->now);
		if (b->alive)
			ctl_topo_link_failed(b->t, &a->id, s->now);
		return;
	case EV_CLOSED:
		if (b->alive)
			ctl_topo_link_closed(b->t, &a->id, s->now);
		return;
	case EV_PING:
		if (reachable(s, e->a, e->b))
			ev_push(s, s->p.signal_ms, EV_PONG, e->b, e->a, 0, 0);
		return;
	case EV_PONG:
		if (b->alive)
			ctl_topo_ping_reply(b->t, &a->id, s->now);
		return;
	case EV_PRESENCE_GONE:
		if (!a->member)
			return;
		a->member = false;
		ctl_topo_ring_remove(&s->ring, &a->id);
		for (unsigned i = 0; i < s->nmembers; i++) {
			if (s->members[i] == e->a) {
				s->members[i] = s->members[--s->nmembers];
				break;
			}
		}
		for (unsigned i = 0; i < s->nmembers; i++)
			ctl_topo_member_left(s->nodes[s->members[i]].t, &a->id, s->now);
		return;
	}
}

/* ---- clock --------------------------------------------------------------- */

static void pulse_all(struct topo_sim *s)
{
	for (unsigned k = 0; k < s->nmembers; k++) {
		unsigned i = s->members[k];
		struct ctl_topo *t = s->nodes[i].t;
		for (unsigned j = 0; j < t->nlinks; j++) {
			int b;
			if (!t->links[j].up)
				continue;
			b = node_of(s, &t->links[j].peer);
			if (b >= 0 && topo_sim_link_up(s, i, (unsigned)b) &&
			    reachable(s, i, (unsigned)b))
				ctl_topo_link_pulse(t, &t->links[j].peer, s->now);
		}
	}
}

void topo_sim_run_until(struct topo_sim *s, uint64_t until)
{
	for (;;) {
		uint64_t t_ev = s->nheap ? s->heap[0].at : UINT64_MAX;
		uint64_t t = t_ev < s->next_tick ? t_ev : s->next_tick;
		if (s->next_pulse < t)
			t = s->next_pulse;
		if (t > until)
			break;
		s->now = t;
		if (t == t_ev) {
			struct event e = ev_pop(s);
			handle(s, &e);
		} else if (t == s->next_pulse) {
			pulse_all(s);
			s->next_pulse += s->p.pulse_ms;
		} else {
			for (unsigned i = 0; i < s->nnodes; i++)
				if (s->nodes[i].alive)
					ctl_topo_tick(s->nodes[i].t, s->now);
			s->next_tick += 1000;
		}
	}
	s->now = until;
}

uint64_t topo_sim_now(const struct topo_sim *s)
{
	return s->now;
}

/* ---- membership ---------------------------------------------------------- */

struct topo_sim *topo_sim_create(const struct topo_sim_params *p)
{
	struct topo_sim *s = calloc(1, sizeof(*s));
	size_t idcap = 1, lcap = 1;
	if (!s)
		return NULL;
	s->p = *p;
	s->rng = p->seed;
	s->next_tick = 1000;
	s->next_pulse = p->pulse_ms;
	while (idcap < 2 * (size_t)p->max_nodes)
		idcap <<= 1;
	while (lcap < 64 * (size_t)p->max_nodes)
		lcap <<= 1;
	s->idmask = idcap - 1;
	s->lmask = lcap - 1;
	s->nodes = calloc(p->max_nodes, sizeof(*s->nodes));
	s->members = calloc(p->max_nodes, sizeof(*s->members));
	s->idmap = calloc(idcap, sizeof(*s->idmap));
	s->links = calloc(lcap, sizeof(*s->links));
	args = calloc(p->max_nodes, sizeof(*args));
	if (!s->nodes || !s->members || !s->idmap || !s->links || !args) {
		topo_sim_destroy(s);
		return NULL;
	}
	ctl_topo_ring_init(&s->ring);
	return s;
}

void topo_sim_destroy(struct topo_sim *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->nodes && i < s->nnodes; i++)
		ctl_topo_destroy(s->nodes[i].t);
	ctl_topo_ring_free(&s->ring);
	free(s->nodes);
	free(s->members);
	free(s->idmap);
	free(s->links);
	free(s->heap);
	free(args);
	args = NULL;
	free(s);
}

int topo_sim_join(struct topo_sim *s)
{
	unsigned k = s->nnodes;
	struct node *n;
	if (k >= s->p.max_nodes)
		return -1;
	n = &s->nodes[k];
	n->ip4 = htonl(0x0a000000u + k + 1);
	ipop_node_id(n->ip4, n->id.b);
	for (size_t i = id_hash(&n->id) & s->idmask;; i = (i + 1) & s->idmask) {
		if (!s->idmap[i]) {
			s->idmap[i] = k + 1;
			break;
		}
	}
	args[k] = (struct sim_arg){s, k};
	n->t = ctl_topo_create(&n->id, &s->p.tp, &sim_ops, &args[k], &s->ring, s->now);
	if (!n->t)
		return -1;
	s->nnodes++;
	n->alive = n->member = true;
	n->side = (uint8_t)(topo_sim_rand(s) & 1);
	ctl_topo_ring_add(&s->ring, &n->id, n->ip4);
	s->members[s->nmembers++] = k;
	s->nalive++;
	for (unsigned i = 0; i < s->nmembers; i++)
		ctl_topo_member_joined(s->nodes[s->members[i]].t, &n->id, s->now);
	return (int)k;
}

void topo_sim_leave(struct topo_sim *s, unsigned k, bool crash)
{
	struct node *n = &s->nodes[k];
	struct ctl_topo *t = n->t;
	if (!n->alive)
		return;
	for (unsigned j = 0; j < t->nlinks; j++) {
		int b = node_of(s, &t->links[j].peer);
		struct slink *l = b < 0 ? NULL : slink_get(s, k, (unsigned)b);
		if (!l)
			continue;
		slink_del(s, l);
		if (!crash)
			ev_push(s, s->p.signal_ms, EV_CLOSED, k, (uint32_t)b, 0, 0);
	}
	n->alive = false;
	s->nalive--;
	/* keep the manager until the presence is gone: members loop over it */
	ev_push(s, crash ? s->p.presence_timeout_ms : 0, EV_PRESENCE_GONE, k, k, 0, 0);
	if (!crash)
		topo_sim_run_until(s, s->now);
}

int topo_sim_random_member(struct topo_sim *s)
{
	for (unsigned tries = 0; tries < 1000 && s->nmembers; tries++) {
		unsigned k = s->members[topo_sim_rand(s) % s->nmembers];
		if (s->nodes[k].alive)
			return (int)k;
	}
	return -1;
}

unsigned topo_sim_members(const struct topo_sim *s)
{
	return s->nalive;
}

const struct ctl_topo *topo_sim_manager(const struct topo_sim *s, unsigned node)
{
	return s->nodes[node].alive ? s->nodes[node].t : NULL;
}

void topo_sim_traffic(struct topo_sim *s, unsigned a, unsigned b, uint64_t packets)
{
	if (s->nodes[a].alive)
		ctl_topo_traffic(s->nodes[a].t, &s->nodes[b].id, packets, s->now);
}

void topo_sim_partition(struct topo_sim *s, bool on)
{
	s->partitioned = on;
	if (!on)
		return;
	/* links across the cut die silently: their ends notice by ttl_link_pulse */
	for (size_t i = 0; i <= s->lmask; i++) {
		uint64_t k = s->links[i].key;
		if (k && s->nodes[(k >> 32) - 1].side != s->nodes[(k & 0xffffffffu) - 1].side) {
			slink_del(s, &s->links[i]);
			i--; /* a shifted entry may now sit here */
		}
	}
}

/* ---- measurements -------------------------------------------------------- */

unsigned long topo_sim_violations(const struct topo_sim *s)
{
	unsigned long bad = 0;
	size_t n = s->ring.n;
	for (unsigned k = 0; k < s->nmembers; k++) {
		unsigned x = s->members[k], want = s->p.tp.num_successors, got = 0;
		size_t i;
		if (!s->nodes[x].alive || !n)
			continue;
		i = (size_t)ctl_topo_ring_find(&s->ring, &s->nodes[x].id);
		for (size_t step = 1; step < n && got < want; step++) {
			int y = node_of(s, &s->ring.v[(i + step) % n].id);
			if (y < 0 || !s->nodes[y].alive)
				continue;
			got++;
			if (!topo_sim_link_up(s, x, (unsigned)y))
				bad++;
		}
	}
	return bad;
}

enum topo_sim_route_result topo_sim_route(const struct topo_sim *s, unsigned a, unsigned b,
					  unsigned *hops)
{
	unsigned cur = a, h = 0;
	while (cur != b) {
		const struct ctl_topo_id *nh = ctl_topo_next_hop(s->nodes[cur].t, &s->nodes[b].id);
		int nx;
		if (!nh) {
			*hops = h;
			return TOPO_SIM_NO_ROUTE;
		}
		nx = node_of(s, nh);
		if (nx < 0 || !topo_sim_link_up(s, cur, (unsigned)nx)) {
			*hops = h;
			return TOPO_SIM_DEAD_LINK;
		}
		if (++h > s->nnodes) {
			*hops = h;
			return TOPO_SIM_LOOP;
		}
		cur = (unsigned)nx;
	}
	*hops = h;
	return TOPO_SIM_DELIVERED;
}

struct flood_item {
	unsigned node, depth;
	struct ctl_topo_id end;
};

void topo_sim_flood(const struct topo_sim *s, unsigned src, struct topo_sim_flood *out)
{
	unsigned *seen = calloc(s->nnodes, sizeof(*seen));
	struct flood_item *q = malloc(4 * (size_t)s->nnodes * sizeof(*q) + sizeof(*q));
	struct ctl_topo_flood_hop hops[256];
	size_t head = 0, tail = 0, cap = 4 * (size_t)s->nnodes + 1;
	memset(out, 0, sizeof(*out));
	if (!seen || !q)
		goto out;
	seen[src] = 1;
	out->reached = 1;
	q[tail++] = (struct flood_item){src, 0, s->nodes[src].id};
	while (head < tail) {
		struct flood_item it = q[head++];
		unsigned n = ctl_topo_flood_plan(s->nodes[it.node].t, &it.end, hops, 256);
		if (it.depth > out->depth)
			out->depth = it.depth;
		for (unsigned j = 0; j < n; j++) {
			int b = node_of(s, &hops[j].peer);
			out->sends++;
			if (b < 0 || !topo_sim_link_up(s, it.node, (unsigned)b))
				continue; /* lost on a dead link */
			if (seen[b]++) {
				out->duplicates++;
				continue; /* a duplicate is not forwarded again */
			}
			out->reached++;
			if (tail < cap)
				q[tail++] =
				    (struct flood_item){(unsigned)b, it.depth + 1, hops[j].end};
		}
	}
out:
	free(seen);
	free(q);
}

void topo_sim_link_stats(const struct topo_sim *s, struct topo_sim_links *o)
{
	unsigned long total = 0, nodes = 0;
	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < s->nnodes; i++) {
		const struct ctl_topo *t = s->nodes[i].t;
		unsigned up, pend, v;
		if (!s->nodes[i].alive)
			continue;
		up = ctl_topo_count(t, ~0u, &pend);
		total += up;
		nodes++;
		o->pending += pend;
		if (up > o->max_total)
			o->max_total = up;
		if ((v = ctl_topo_count(t, CTL_TOPO_SUCCESSOR, NULL)) > o->max_succ)
			o->max_succ = v;
		if ((v = ctl_topo_count(t, CTL_TOPO_CHORD, NULL)) > o->max_chord)
			o->max_chord = v;
		if ((v = ctl_topo_count(t, CTL_TOPO_ON_DEMAND, NULL)) > o->max_on_demand)
			o->max_on_demand = v;
		if ((v = ctl_topo_count(t, CTL_TOPO_INBOUND, NULL)) > o->max_inbound)
			o->max_inbound = v;
	}
	o->mean_total = nodes ? (double)total / (double)nodes : 0;
}

void topo_sim_debug_violations(const struct topo_sim *s, FILE *f, unsigned max)
{
	size_t n = s->ring.n;
	for (unsigned k = 0; k < s->nmembers && max; k++) {
		unsigned x = s->members[k], got = 0;
		size_t i;
		if (!s->nodes[x].alive)
			continue;
		i = (size_t)ctl_topo_ring_find(&s->ring, &s->nodes[x].id);
		for (size_t step = 1; step < n && got < s->p.tp.num_successors; step++) {
			int y = node_of(s, &s->ring.v[(i + step) % n].id);
			if (y < 0 || !s->nodes[y].alive)
				continue;
			got++;
			if (topo_sim_link_up(s, x, (unsigned)y))
				continue;
			const struct ctl_topo_link *lx =
			    ctl_topo_link_find(s->nodes[x].t, &s->nodes[y].id);
			const struct ctl_topo_link *ly =
			    ctl_topo_link_find(s->nodes[y].t, &s->nodes[x].id);
			const struct slink *sl = slink_get(s, x, (unsigned)y);
			const struct ctl_topo_fail *fx = NULL;
			for (unsigned j = 0; j < s->nodes[x].t->nfails; j++)
				if (ctl_topo_id_eq(&s->nodes[x].t->fails[j].peer, &s->nodes[y].id))
					fx = &s->nodes[x].t->fails[j];
			fprintf(f,
				"t=%llu %u->%u step %zu: x link %s roles %x up %d since %llu; y "
				"link %s "
				"roles %x; net %s up %d; x fail until %lld fails %u; horizon %d\n",
				(unsigned long long)s->now, x, y, step, lx ? "yes" : "no",
				lx ? lx->roles : 0, lx ? lx->up : 0,
				lx ? (unsigned long long)lx->since_ms : 0, ly ? "yes" : "no",
				ly ? ly->roles : 0, sl ? "yes" : "no", sl ? sl->up : 0,
				fx ? (long long)fx->until_ms : -1, fx ? fx->fails : 0,
				s->nodes[x].t->horizon_valid);
			for (unsigned j = 0; j < s->nodes[x].t->nlinks; j++) {
				const struct ctl_topo_link *dl = &s->nodes[x].t->links[j];
				int d = node_of(s, &dl->peer);
				if (d >= 0 && !s->nodes[d].alive)
					fprintf(
					    f, "   dead %d: roles %x up %d since %llu pulse %llu\n",
					    d, dl->roles, dl->up, (unsigned long long)dl->since_ms,
					    (unsigned long long)dl->last_pulse_ms);
			}
			for (unsigned j = 0; j < s->nodes[x].t->nfails; j++) {
				int d = node_of(s, &s->nodes[x].t->fails[j].peer);
				fprintf(f, "   fail %d alive %d until %llu\n", d,
					d >= 0 && s->nodes[d].alive,
					(unsigned long long)s->nodes[x].t->fails[j].until_ms);
			}
			if (!--max)
				return;
		}
	}
}
