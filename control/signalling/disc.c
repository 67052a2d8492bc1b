/* Discovery (see disc.h): XMPP members → keyed peers, candidate exchange,
 * STUN from the data port.
 *
 * A member's peer is made (or refreshed) when its presence arrives and the
 * peer set is rebuilt at once, so its lm_link exists before its con_req or
 * con_resp can arrive. Candidates received are kept on the disc_peer as well
 * and handed to the link manager whenever its link exists, so a rebuild that
 * has to wait for the next tick loses nothing.
 */
#include "control/signalling/disc.h"
#include "control/signalling/disc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/link/linkmgr.h"
#include "control/nat/candidates.h"
#include "control/nat/turn.h"
#include "control/signalling/sigmsg.h"
#include "control/signalling/xmpp.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- candidate kinds ------------------------------------------------------ */

static enum sig_cand_kind kind_of(uint8_t type)
{
	switch (type) {
	case CAND_STATIC:
		return SIG_CAND_STATIC;
	case CAND_SRFLX:
		return SIG_CAND_SRFLX;
	case CAND_RELAY:
		return SIG_CAND_RELAY;
	default:
		return SIG_CAND_HOST;
	}
}

static uint8_t type_of(enum sig_cand_kind k)
{
	switch (k) {
	case SIG_CAND_STATIC:
		return CAND_STATIC;
	case SIG_CAND_SRFLX:
		return CAND_SRFLX;
	case SIG_CAND_RELAY:
		return CAND_RELAY;
	default:
		return CAND_HOST;
	}
}

/* Ours: host addresses (minus network_ignore_list and our TAP), configured
 * ones, and what STUN servers saw. */
static unsigned our_candidates(struct ctl_disc *d, struct sig_candidate *out, unsigned max)
{
	const struct ipop_config *cfg = d->env.cfg;
	struct candidate host[CAND_MAX], all[CAND_MAX];
	struct net_endpoint srflx[8], relay[TURN_MAX_ALLOC];
	unsigned nsrflx = 0, nrelay = ctl_turn_relayed(d->env.turn, relay, TURN_MAX_ALLOC);
	int nh;
	if (d->env.own_addr && d->env.own_addr->family) {
		memset(&host[0], 0, sizeof(host[0]));
		host[0].ep = *d->env.own_addr;
		host[0].type = CAND_HOST;
		host[0].priority = cand_priority(CAND_HOST, 65535, 1);
		nh = 1;
	} else {
		nh = cand_gather_host(cfg->port, (const char(*)[IFNAMSIZ])cfg->network_ignore_list,
				      cfg->n_ignore, d->env.tap_name, host, CAND_MAX);
	}
	if (nh < 0) {
		log_ratelimited(LOG_WARN, "discovery: cannot list interfaces: %s", strerror(-nh));
		nh = 0;
	}
	for (unsigned i = 0; i < d->nstun && nsrflx < 8; i++)
		if (d->stun[i].have_mapped)
			srflx[nsrflx++] = d->stun[i].mapped;
	struct cand_sources src = {
	    .host = host,
	    .nhost = (unsigned)nh,
	    .statics = cfg->static_candidates,
	    .nstatic = cfg->nstatic_candidates,
	    .srflx = srflx,
	    .nsrflx = nsrflx,
	    .relay = relay,
	    .nrelay = nrelay,
	};
	unsigned n = cand_merge(&src, all, max < CAND_MAX ? max : CAND_MAX);
	for (unsigned i = 0; i < n; i++) {
		out[i].kind = kind_of(all[i].type);
		out[i].addr = all[i].ep;
		out[i].prio = all[i].priority;
	}
	return n;
}

/* ---- discovered peers ------------------------------------------------------ */

static const struct ctl_peer *peer_of(const struct ctl_disc *d, const struct disc_peer *dp)
{
	for (unsigned i = 0; i < d->env.peers->n; i++)
		if (d->env.peers->v[i].conf == &dp->conf)
			return &d->env.peers->v[i];
	return NULL;
}

struct lm_link *disc_link_of(const struct ctl_disc *d, const struct disc_peer *dp)
{
	const struct ctl_peer *p = peer_of(d, dp);
	return p ? p->lk : NULL;
}

static struct disc_peer *find_jid(struct ctl_disc *d, const char *jid)
{
	for (unsigned i = 0; i < d->ndyn; i++)
		if (d->dyn[i]->jid && strcmp(d->dyn[i]->jid, jid) == 0)
			return d->dyn[i];
	return NULL;
}

static void dead_push(struct ctl_disc *d, struct disc_peer *dp)
{
	if (d->ndead == d->cap_dead) {
		unsigned cap = d->cap_dead ? d->cap_dead * 2 : 8;
		struct disc_peer **v = realloc(d->dead, cap * sizeof(*v));
		if (!v) {
			/* The running set may still point to its conf. */
			log_err("discovery: out of memory, leaking a removed peer");
			return;
		}
		d->dead = v;
		d->cap_dead = cap;
	}
	d->dead[d->ndead++] = dp;
}

static void peer_remove(struct ctl_disc *d, unsigned i, const char *why)
{
	struct disc_peer *dp = d->dyn[i];
	log_info("discovery: peer %s removed (%s)", dp->conf.name, why);
	if (d->topo)
		d->topo->member_left(d->topo_arg, dp->node_id);
	d->dyn[i] = d->dyn[d->ndyn - 1];
	d->confs[i] = d->confs[d->ndyn - 1];
	d->ndyn--;
	d->rebuild = true;
	d->cnt.peers_removed++;
	dead_push(d, dp);
}

static struct disc_peer *peer_add(struct ctl_disc *d, const char *jid, const struct sig_presence *p)
{
	if (d->ndyn == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 8;
		struct disc_peer **v = realloc(d->dyn, cap * sizeof(*v));
		if (!v)
			return NULL;
		d->dyn = v;
		const struct ipop_peer_conf **cv = realloc(d->confs, cap * sizeof(*cv));
		if (!cv)
			return NULL;
		d->confs = cv;
		d->cap = cap;
	}
	struct disc_peer_ext *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	struct disc_peer *dp = &e->p;
	dp->jid = strdup(jid);
	if (!dp->jid) {
		free(e);
		return NULL;
	}
	char a[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = p->ip4};
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(dp->conf.name, sizeof(dp->conf.name), "xmpp-%s", a);
	dp->conf.keyed = true;
	memcpy(dp->conf.public_key, p->public_key, sizeof(dp->conf.public_key));
	dp->conf.ip4 = p->ip4;
	memcpy(dp->conf.ip6, p->ip6, sizeof(dp->conf.ip6));
	memcpy(dp->node_id, p->node_id, sizeof(dp->node_id));
	dp->present = true;
	d->dyn[d->ndyn] = dp;
	d->confs[d->ndyn] = &dp->conf;
	d->ndyn++;
	d->rebuild = true;
	d->cnt.peers_added++;
	return dp;
}

static void peer_free(struct disc_peer *dp)
{
	free(dp->jid);
	free(dp->conf.routes);
	explicit_bzero(ext(dp), sizeof(*ext(dp)));
	free(ext(dp));
}

/* The member's routed subnets on its peer (L3 mode; switch mode bridges
 * whole segments and ignores them). The running set points to dp->conf but
 * only a table build reads the routes, on this core: replacing them and
 * rebuilding is enough, and the diff keeps the link (the conf it compares
 * is this very one). True when they changed. */
static bool take_routes(struct disc_peer *dp, const struct sig_presence *p, bool l3)
{
	unsigned n = l3 ? p->nroutes : 0;
	struct net_prefix *v = NULL;
	if (n == dp->conf.nroutes &&
	    (n == 0 || !memcmp(dp->conf.routes, p->routes, n * sizeof(*v))))
		return false;
	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v) {
			log_err("discovery: peer %s: out of memory for its routes", dp->conf.name);
			return false;
		}
		memcpy(v, p->routes, n * sizeof(*v));
	}
	free(dp->conf.routes);
	dp->conf.routes = v;
	dp->conf.nroutes = n;
	return true;
}

/* L3 mode: the kernel routes every discovered peer's subnets into the TAP
 * (the table sends them on to the peer). Configured peers' routes are the
 * admin's business. */
static void sync_kernel_routes(struct ctl_disc *d)
{
	unsigned total = 0, k = 0;
	if (d->env.cfg->mode != IPOP_MODE_L3)
		return;
	for (unsigned i = 0; i < d->ndyn; i++)
		total += d->dyn[i]->conf.nroutes;
	struct net_prefix *v = total ? calloc(total, sizeof(*v)) : NULL;
	if (total && !v) {
		log_err("discovery: out of memory: kernel routes not updated");
		return;
	}
	for (unsigned i = 0; i < d->ndyn; i++)
		for (unsigned r = 0; r < d->dyn[i]->conf.nroutes; r++)
			v[k++] = d->dyn[i]->conf.routes[r];
	d->env.ops->sync_routes(d->env.ctx, v, total);
	free(v);
}

static void apply_candidates(struct ctl_disc *d, struct disc_peer *dp, uint64_t now)
{
	struct disc_peer_ext *e = ext(dp);
	struct lm_link *lk;
	if (!e->cand_pending || !(lk = disc_link_of(d, dp)))
		return;
	ctl_linkmgr_set_candidates(d->env.lm, lk, e->cand.v, e->cand.n, now);
	e->cand_pending = false;
}

int ctl_disc_rebuild(struct ctl_disc *d)
{
	int rc = d->env.ops->commit(d->env.ctx);
	if (rc) {
		log_warn("discovery: peer set not rebuilt: %s (retrying)", strerror(-rc));
		d->rebuild = true;
		return rc;
	}
	d->rebuild = false;
	sync_kernel_routes(d);
	uint64_t now = clock_now_ms();
	for (unsigned i = 0; i < d->ndyn; i++) {
		struct disc_peer *dp = d->dyn[i];
		struct lm_link *lk = disc_link_of(d, dp);
		/* a topology manager answers only the links it asked for or accepted */
		if (d->topo && lk && !dp->wanted && !dp->engaged)
			lk->passive = true;
		apply_candidates(d, dp, now);
	}
	return 0;
}

void ctl_disc_swapped(struct ctl_disc *d)
{
	for (unsigned i = 0; i < d->ndead; i++)
		peer_free(d->dead[i]);
	d->ndead = 0;
}

/* ---- signalling ----------------------------------------------------------- */

void disc_send_con(struct ctl_disc *d, struct disc_peer *dp, enum sig_msg_type type, bool accept,
		   const char *reason, uint64_t now)
{
	if (!d->x)
		return; /* no XMPP session (tests drive discovery without one) */
	const struct sig_member *mem = sig_members_find(ctl_xmpp_members(d->x), dp->jid);
	if (!mem)
		return;
	struct sig_message m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	memcpy(m.from_id, d->env.cfg->node_id, SIG_NODE_ID_LEN);
	memcpy(m.to_id, mem->p.node_id, SIG_NODE_ID_LEN);
	/* Without a topology manager every member is linked (full mesh). */
	m.link_kind = dp->kind ? dp->kind : SIG_LINK_ON_DEMAND;
	m.seq = ++d->seq;
	m.accept = accept;
	if (reason)
		snprintf(m.reason, sizeof(m.reason), "%s", reason);
	if (accept)
		m.ncand = our_candidates(d, m.cand, SIG_MAX_CANDIDATES);
	int rc = ctl_xmpp_send(d->x, dp->jid, &m);
	if (rc) {
		d->cnt.send_failures++;
		log_debug("discovery: %s to %s not sent: %s", sig_msg_type_name(type), dp->jid,
			  strerror(-rc));
		return;
	}
	if (type == SIG_MSG_CON_REQ) {
		d->cnt.con_req_sent++;
		dp->con_req_ms = now;
	} else if (type == SIG_MSG_CON_RESP) {
		d->cnt.con_resp_sent++;
	}
	log_debug("discovery: %s to %s with %u candidates", sig_msg_type_name(type), dp->jid,
		  m.ncand);
}

static bool key_listed(const struct ipop_config *cfg, const uint8_t key[32])
{
	if (!cfg->n_allowed_keys)
		return true;
	for (unsigned i = 0; i < cfg->n_allowed_keys; i++)
		if (memcmp(cfg->allowed_keys[i], key, 32) == 0)
			return true;
	return false;
}

/* A member route over a configured peer's subnet or address. */
static bool routes_clash(const struct ipop_peer_conf *pc, const struct sig_presence *p)
{
	for (unsigned r = 0; r < p->nroutes; r++) {
		if ((pc->ip4 && net_prefix_has_ip4(&p->routes[r], pc->ip4)) ||
		    (pc->ip4 && net_prefix_has_ip6(&p->routes[r], pc->ip6)))
			return true;
		for (unsigned k = 0; k < pc->nroutes; k++)
			if (net_prefix_overlap(&p->routes[r], &pc->routes[k]))
				return true;
	}
	return false;
}

/* A configured peer with the same key or address, or a subnet the member
 * advertises too, wins over the member. */
static const struct ipop_peer_conf *configured_clash(const struct ipop_config *cfg,
						     const struct sig_presence *p)
{
	for (unsigned i = 0; i < cfg->npeers; i++) {
		const struct ipop_peer_conf *pc = &cfg->peers[i];
		if ((pc->keyed && memcmp(pc->public_key, p->public_key, 32) == 0) ||
		    (pc->ip4 && pc->ip4 == p->ip4) ||
		    (cfg->mode == IPOP_MODE_L3 && routes_clash(pc, p)))
			return pc;
	}
	return NULL;
}

static void on_member_available(void *arg, const char *jid, const struct sig_presence *p)
{
	struct ctl_disc *d = arg;
	uint64_t now = clock_now_ms();
	bool l3 = d->env.cfg->mode == IPOP_MODE_L3;
	const struct ipop_peer_conf *clash = configured_clash(d->env.cfg, p);
	if (clash) {
		d->cnt.members_refused++;
		log_info("discovery: member %s: key, address or routes of configured peer %s, "
			 "using the configured one",
			 jid, clash->name);
		return;
	}
	if (!key_listed(d->env.cfg, p->public_key)) {
		d->cnt.members_refused++;
		log_warn("discovery: member %s: key not in allowed_keys, no link", jid);
		return;
	}
	/* The same node (key and addresses) keeps its peer and link; anything
	 * holding this JID, key or address otherwise is replaced. */
	struct disc_peer *dp = NULL;
	for (unsigned i = d->ndyn; i-- > 0;) {
		struct disc_peer *o = d->dyn[i];
		bool same_key = memcmp(o->conf.public_key, p->public_key, 32) == 0;
		bool same = same_key && o->conf.ip4 == p->ip4;
		if (same) {
			dp = o;
			continue;
		}
		if (same_key || o->conf.ip4 == p->ip4 || (o->jid && strcmp(o->jid, jid) == 0))
			peer_remove(d, i, "replaced by a member's new presence");
	}
	if (dp) {
		if (strcmp(dp->jid, jid) != 0) {
			char *j = strdup(jid);
			if (j) {
				free(dp->jid);
				dp->jid = j;
			}
		}
		dp->present = true;
		if (take_routes(dp, p, l3)) {
			d->rebuild = true;
			log_info("discovery: peer %s now routes %u subnet%s", dp->conf.name,
				 dp->conf.nroutes, dp->conf.nroutes == 1 ? "" : "s");
		}
	} else {
		dp = peer_add(d, jid, p);
		if (!dp) {
			log_err("discovery: member %s: out of memory", jid);
			return;
		}
		take_routes(dp, p, l3);
		log_info("discovery: member %s is peer %s (%u routed subnet%s)", jid, dp->conf.name,
			 dp->conf.nroutes, dp->conf.nroutes == 1 ? "" : "s");
	}
	if (d->rebuild)
		ctl_disc_rebuild(d);
	if (d->topo) {
		/* the manager decides (ctl_disc_link_open), maybe right now */
		d->topo->member_joined(d->topo_arg, dp->node_id, dp->conf.ip4);
		return;
	}
	struct lm_link *lk = disc_link_of(d, dp);
	if (!lk || lk->state != LM_UP)
		disc_send_con(d, dp, SIG_MSG_CON_REQ, true, NULL, now);
}

static void on_member_unavailable(void *arg, const char *jid)
{
	struct ctl_disc *d = arg;
	struct disc_peer *dp = find_jid(d, jid);
	if (!dp)
		return;
	/* Its link stays while it is up: the data plane does not need XMPP.
	 * So it stays on the topology manager's ring too, until the tick
	 * removes the peer (peer_remove tells the manager). */
	dp->present = false;
	log_info("discovery: member %s (peer %s) left the group", jid, dp->conf.name);
}

static void on_member_revoked(void *arg, const char *jid)
{
	struct ctl_disc *d = arg;
	for (unsigned i = 0; i < d->ndyn; i++) {
		if (!d->dyn[i]->jid || strcmp(d->dyn[i]->jid, jid) != 0)
			continue;
		/* An admin took it out of the group: its key is trusted no
		 * longer, so its link and sessions go with the peer. */
		log_warn("discovery: member %s (peer %s) removed from the group: link torn down",
			 jid, d->dyn[i]->conf.name);
		peer_remove(d, i, "removed from the group");
		return;
	}
}

static void take_candidates(struct ctl_disc *d, struct disc_peer *dp, const struct sig_message *m,
			    uint64_t now)
{
	struct disc_peer_ext *e = ext(dp);
	struct sig_candidate own[SIG_MAX_CANDIDATES];
	unsigned nown = our_candidates(d, own, SIG_MAX_CANDIDATES);
	e->cand.n = 0;
	for (unsigned i = 0; i < m->ncand && e->cand.n < LM_MAX_CAND; i++) {
		/* The same private address on both sites (192.168.1.2 behind
		 * two home routers) would only reach ourselves. */
		bool mine = false;
		for (unsigned k = 0; k < nown && !mine; k++)
			mine = net_endpoint_equal(&own[k].addr, &m->cand[i].addr);
		if (mine)
			continue;
		e->cand.v[e->cand.n].ep = m->cand[i].addr;
		e->cand.v[e->cand.n].ep.via = 0;
		e->cand.v[e->cand.n].type = type_of(m->cand[i].kind);
		e->cand.n++;
		/* The peer may come to our relay from any of them (from its
		 * NAT's address: srflx); the server lets only those in. */
		ctl_turn_permit(d->env.turn, &m->cand[i].addr);
	}
	e->cand_pending = true;
	dp->engaged = true;
	dp->con_in_ms = now;
	apply_candidates(d, dp, now);
}

static void on_message(void *arg, const char *jid, const struct sig_message *m)
{
	struct ctl_disc *d = arg;
	uint64_t now = clock_now_ms();
	struct disc_peer *dp = find_jid(d, jid);
	if (m->type == SIG_MSG_PONG && dp && d->topo)
		d->topo->pong(d->topo_arg, dp->node_id);
	if (m->type == SIG_MSG_PING || m->type == SIG_MSG_PONG) {
		if (m->type == SIG_MSG_PING) {
			struct sig_message r = *m;
			d->cnt.pings_received++;
			r.type = SIG_MSG_PONG;
			memcpy(r.from_id, m->to_id, SIG_NODE_ID_LEN);
			memcpy(r.to_id, m->from_id, SIG_NODE_ID_LEN);
			if (ctl_xmpp_send(d->x, jid, &r))
				d->cnt.send_failures++;
		}
		return;
	}
	if (!dp) {
		/* refused (allowed_keys, configured peer) or not yet a member */
		log_debug("discovery: %s from %s ignored: no peer for it",
			  sig_msg_type_name(m->type), jid);
		return;
	}
	if (m->type == SIG_MSG_CON_REQ) {
		d->cnt.con_req_received++;
		if (!dp->wanted)
			dp->kind = m->link_kind;
		if (d->topo && d->topo->link_request(d->topo_arg, dp->node_id, m->link_kind)) {
			d->cnt.con_refused++;
			log_debug("discovery: %s link from %s refused: num_inbound reached",
				  sig_link_kind_name(m->link_kind), dp->conf.name);
			disc_send_con(d, dp, SIG_MSG_CON_RESP, false, "num_inbound", now);
			return;
		}
		take_candidates(d, dp, m, now);
		disc_send_con(d, dp, SIG_MSG_CON_RESP, true, NULL, now);
	} else if (m->type == SIG_MSG_CON_RESP) {
		d->cnt.con_resp_received++;
		if (!m->accept) {
			log_info("discovery: %s declined a link: %s", jid,
				 m->reason[0] ? m->reason : "(no reason)");
			if (!d->topo)
				return;
			if (strcmp(m->reason, "released") == 0) {
				/* it keeps the link for us only: ours to close if unwanted */
				d->cnt.released_by_peer++;
				d->topo->link_released(d->topo_arg, dp->node_id);
				return;
			}
			bool closed = strcmp(m->reason, "closed") == 0;
			bool was = dp->wanted || dp->engaged;
			ctl_disc_link_close(d, dp->node_id, false, now);
			if (closed && was) {
				d->cnt.closed_by_peer++;
				d->topo->link_closed(d->topo_arg, dp->node_id);
			} else if (!closed) {
				d->topo->link_refused(d->topo_arg, dp->node_id, m->reason);
			}
			return;
		}
		if (d->topo && !dp->wanted && !dp->engaged) {
			/* an answer to a request we gave up meanwhile */
			disc_send_con(d, dp, SIG_MSG_CON_RESP, false, "closed", now);
			return;
		}
		take_candidates(d, dp, m, now);
	}
}

static void on_state(void *arg, enum ctl_xmpp_state s)
{
	struct ctl_disc *d = arg;
	log_info("xmpp: %s%s%s", ctl_xmpp_state_name(s), s == CTL_XMPP_ONLINE ? " as " : "",
		 s == CTL_XMPP_ONLINE ? ctl_xmpp_bound_jid(d->x) : "");
}

/* ---- XMPP socket ------------------------------------------------------------ */

static void xmpp_watch(struct ctl_disc *d)
{
	uint64_t gen;
	int fd = ctl_xmpp_fd(d->x, &gen);
	if (d->xmpp_gen_valid && gen == d->xmpp_gen)
		return;
	d->xmpp_gen = gen;
	d->xmpp_gen_valid = true;
	if (fd < 0)
		return;
	int rc = d->env.ops->watch(d->env.ctx, fd);
	if (rc)
		log_warn("xmpp: cannot watch socket %d: %s (polled every tick)", fd, strerror(-rc));
}

void ctl_disc_xmpp_event(struct ctl_disc *d)
{
	if (!d->x)
		return;
	ctl_xmpp_poll(d->x, clock_now_ms());
	xmpp_watch(d);
}

/* ---- candidates ------------------------------------------------------------ */

void ctl_disc_candidates_changed(struct ctl_disc *d, uint64_t now)
{
	for (unsigned i = 0; d->x && i < d->ndyn; i++) {
		struct disc_peer *dp = d->dyn[i];
		struct lm_link *lk = disc_link_of(d, dp);
		if (d->topo && !dp->wanted)
			continue; /* the opener re-sends; a link nobody wants gets nothing */
		if (dp->present && (!lk || lk->state != LM_UP))
			disc_send_con(d, dp, SIG_MSG_CON_REQ, true, NULL, now);
	}
}

/* ---- tick, setup ------------------------------------------------------------- */

void ctl_disc_tick(struct ctl_disc *d, uint64_t now)
{
	if (d->x) {
		ctl_xmpp_poll(d->x, now);
		xmpp_watch(d);
	}
	disc_stun_tick(d, now);
	bool restun = false;
	for (unsigned i = d->ndyn; i-- > 0;) {
		struct disc_peer *dp = d->dyn[i];
		struct lm_link *lk = disc_link_of(d, dp);
		bool up = lk && lk->state == LM_UP;
		if (ext(dp)->was_up && !up && dp->present) {
			/* A link that went down often means a NAT mapping
			 * changed (ours or the peer's): learn ours again now
			 * rather than at the next refresh, and give the peer
			 * our candidates, so both ends open the new path at
			 * once (a changed mapping re-sends them again). */
			log_info("discovery: link to %s went down: re-learning our address, "
				 "new con_req",
				 dp->conf.name);
			restun = true;
			if (!d->topo || dp->wanted)
				disc_send_con(d, dp, SIG_MSG_CON_REQ, true, NULL, now);
		}
		ext(dp)->was_up = up;
		if (!dp->present && !up)
			peer_remove(d, i, "left the group and its link is not up");
		else if (dp->present && !up && now - dp->con_req_ms >= DISC_CON_RETRY_MS &&
			 (!d->topo || dp->wanted))
			disc_send_con(d, dp, SIG_MSG_CON_REQ, true, NULL, now);
	}
	if (restun)
		ctl_turn_refresh_soon(d->env.turn); /* the relay may have lost our allocation */
	for (unsigned i = 0; restun && i < d->nstun; i++)
		if (!d->stun[i].active)
			d->stun[i].next_ms = now;
	if (d->rebuild)
		ctl_disc_rebuild(d);
}

int ctl_disc_create(struct ctl_disc *d, const struct ctl_disc_env *env, char *errbuf, size_t errlen)
{
	const struct ipop_config *cfg = env->cfg;
	memset(d, 0, sizeof(*d));
	d->env = *env;
	if (cfg->nstun) {
		d->stun = calloc(cfg->nstun, sizeof(*d->stun));
		if (!d->stun) {
			snprintf(errbuf, errlen, "discovery: out of memory");
			return -ENOMEM;
		}
		d->nstun = cfg->nstun;
		for (unsigned i = 0; i < cfg->nstun; i++)
			d->stun[i].server = cfg->stun[i];
	}
	if (!cfg->xmpp_host[0])
		return 0;
	struct ctl_xmpp_config xc = {
	    .jid = cfg->xmpp_username,
	    .password = cfg->xmpp_password,
	    .host = cfg->xmpp_host,
	    .port = cfg->xmpp_port,
	    .ca_file = cfg->xmpp_ca_file[0] ? cfg->xmpp_ca_file : NULL,
	    .allow_plaintext = cfg->xmpp_allow_plaintext,
	    .group = cfg->group == IPOP_GROUP_ROSTER ? CTL_XMPP_GROUP_ROSTER : CTL_XMPP_GROUP_MUC,
	    .room = cfg->group == IPOP_GROUP_MUC ? cfg->muc_room : NULL,
	    .backoff_max_ms = 30000,
	    .ping_interval_ms = cfg->xmpp_keepalive_ms,
	    .ping_timeout_ms = cfg->xmpp_keepalive_ms < 20000 ? cfg->xmpp_keepalive_ms : 20000,
	};
	static const struct ctl_xmpp_callbacks cb = {
	    .member_available = on_member_available,
	    .member_unavailable = on_member_unavailable,
	    .member_revoked = on_member_revoked,
	    .message = on_message,
	    .state_changed = on_state,
	};
	d->x = ctl_xmpp_create(&xc, &cb, d);
	if (!d->x) {
		int err = errno ? -errno : -ENOMEM;
		snprintf(errbuf, errlen, "xmpp: %s", strerror(-err));
		free(d->stun);
		d->stun = NULL;
		return err;
	}
	return 0;
}

int ctl_disc_start(struct ctl_disc *d)
{
	const struct ipop_config *cfg = d->env.cfg;
	uint64_t now = clock_now_ms();
	for (unsigned i = 0; i < d->nstun; i++)
		disc_stun_send(d, &d->stun[i], now);
	if (!d->x)
		return 0;
	if (!d->env.lm->have_id) {
		log_err("xmpp: no node identity, discovery disabled");
		return -ENOKEY;
	}
	struct sig_presence p;
	sig_presence_init(&p, cfg->ip4, d->env.mac, d->env.lm->id.pub, cfg->port);
	_Static_assert(IPOP_ADVERTISE_ROUTES_MAX == SIG_MAX_ROUTES, "advertise_routes fit");
	p.nroutes = cfg->n_advertise_routes;
	memcpy(p.routes, cfg->advertise_routes, p.nroutes * sizeof(p.routes[0]));
	int rc = ctl_xmpp_set_presence(d->x, &p);
	if (!rc)
		rc = ctl_xmpp_start(d->x, now);
	if (rc) {
		log_err("xmpp: cannot start: %s", strerror(-rc));
		return rc;
	}
	log_info("xmpp: connecting to %s:%u as %s (%s)", cfg->xmpp_host, cfg->xmpp_port,
		 cfg->xmpp_username, cfg->group == IPOP_GROUP_MUC ? cfg->muc_room : "roster group");
	ctl_xmpp_poll(d->x, now);
	xmpp_watch(d);
	return 0;
}

void ctl_disc_destroy(struct ctl_disc *d)
{
	ctl_xmpp_destroy(d->x);
	for (unsigned i = 0; i < d->ndyn; i++)
		peer_free(d->dyn[i]);
	ctl_disc_swapped(d);
	free(d->dyn);
	free(d->confs);
	free(d->dead);
	free(d->stun);
	memset(d, 0, sizeof(*d));
}
