/* The management views of discovery (mgmt.c's "xmpp" answer and the
 * candidate part of "links"). Read-only over the control core's state. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/link/linkmgr.h"
#include "control/nat/candidates.h"
#include "control/nat/turn.h"
#include "control/signalling/disc.h"
#include "control/signalling/xmpp.h"
#include "util/clock.h"
#include "util/json_counters.h"
#include "util/key64.h"

static json_t *ep_json(const struct net_endpoint *ep)
{
	char buf[NET_ENDPOINT_STRLEN];
	return ep && ep->port ? json_string(net_endpoint_format(ep, buf, sizeof(buf)))
			      : json_null();
}

static json_t *addr4_json(uint32_t be)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = be};
	return be ? json_string(inet_ntop(AF_INET, &in, a, sizeof(a))) : json_null();
}

/* The address our kernel would send from towards `to` (what the handshake
 * used: the data socket is bound to the wildcard address). */
static int local_for(const struct net_endpoint *to, uint16_t port, struct net_endpoint *out)
{
	struct sockaddr_in6 sa, me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	net_endpoint_to_sin6(to, &sa);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			 getsockname(fd, (struct sockaddr *)&me, &len) < 0
		     ? -errno
		     : 0;
	close(fd);
	if (rc)
		return rc;
	net_endpoint_from_sin6(&me, out);
	out->port = port;
	return 0;
}

static const struct net_endpoint *our_srflx(const struct ctl_disc *d)
{
	for (unsigned i = 0; i < d->nstun; i++)
		if (d->stun[i].have_mapped)
			return &d->stun[i].mapped;
	return NULL;
}

json_t *ctl_disc_link_json(const struct ctl_disc *d, const struct lm_link *lk)
{
	json_t *cands = json_array();
	for (unsigned i = 0; cands && i < lk->ncand; i++)
		json_array_append_new(cands,
				      json_pack("{s:o, s:s}", "addr", ep_json(&lk->cand[i].ep),
						"type", cand_type_name(lk->cand[i].type)));
	struct net_endpoint local;
	bool have_local =
	    lk->endpoint.port && local_for(&lk->endpoint, d->env.cfg->port, &local) == 0;
	const char *rtype = lk->endpoint.via ? "relayed"
			    : lk->ep_cand >= 0 && (unsigned)lk->ep_cand < lk->ncand
				? cand_type_name(lk->cand[lk->ep_cand].type)
			    : lk->ncand ? "peer-reflexive"
					: "configured";
	json_t *o = json_pack(
	    "{s:o, s:{s:o, s:o, s:o, s:s, s:s}}", "candidates", cands ? cands : json_null(), "pair",
	    "local", have_local ? ep_json(&local) : json_null(), "local_mapped",
	    ep_json(our_srflx(d)), "remote", ep_json(&lk->endpoint), "remote_type", rtype, "why",
	    lk->why[0]	? lk->why
	    : lk->ncand ? "no handshake completed yet"
			: "endpoint from the config");
	if (o && lk->endpoint.via) {
		/* The peer reaches us at our relayed address; we reach it
		 * through the TURN server. */
		char srv[NET_ENDPOINT_STRLEN];
		struct net_endpoint relayed[TURN_MAX_ALLOC];
		unsigned n = ctl_turn_relayed(d->env.turn, relayed, TURN_MAX_ALLOC);
		json_t *pair = json_object_get(o, "pair");
		json_object_set_new(pair, "relay",
				    json_string(ctl_turn_server_name(d->env.turn, lk->endpoint.via,
								     srv, sizeof(srv))));
		if (lk->endpoint.via <= n)
			json_object_set_new(pair, "local", ep_json(&relayed[lk->endpoint.via - 1]));
	}
	return o;
}

static const char *peer_state(const struct ctl_disc *d, const uint8_t key[32], const char **name)
{
	*name = NULL;
	for (unsigned i = 0; i < d->env.peers->n; i++) {
		const struct ctl_peer *p = &d->env.peers->v[i];
		if (p->lk && memcmp(p->lk->pub, key, 32) == 0) {
			*name = p->conf->name;
			return ctl_linkmgr_state_name(p->lk->state);
		}
	}
	return "none";
}

static const struct json_counter disc_fields[] = {
    JSON_COUNTER(struct disc_counters, con_req_sent),
    JSON_COUNTER(struct disc_counters, con_req_received),
    JSON_COUNTER(struct disc_counters, con_resp_sent),
    JSON_COUNTER(struct disc_counters, con_resp_received),
    JSON_COUNTER(struct disc_counters, pings_received),
    JSON_COUNTER(struct disc_counters, send_failures),
    JSON_COUNTER(struct disc_counters, members_refused),
    JSON_COUNTER(struct disc_counters, peers_added),
    JSON_COUNTER(struct disc_counters, peers_removed),
    JSON_COUNTER(struct disc_counters, con_refused),
    JSON_COUNTER(struct disc_counters, links_closed),
    JSON_COUNTER(struct disc_counters, closed_by_peer),
    JSON_COUNTER(struct disc_counters, links_released),
    JSON_COUNTER(struct disc_counters, released_by_peer),
    JSON_COUNTER(struct disc_counters, topo_pings_sent),
    JSON_COUNTER(struct disc_counters, stun_requests),
    JSON_COUNTER(struct disc_counters, stun_retransmits),
    JSON_COUNTER(struct disc_counters, stun_responses),
    JSON_COUNTER(struct disc_counters, stun_timeouts),
    JSON_COUNTER(struct disc_counters, stun_errors),
    JSON_COUNTER(struct disc_counters, stun_unmatched),
};

static const struct json_counter xmpp_fields[] = {
    JSON_COUNTER(struct ctl_xmpp_counters, connects),
    JSON_COUNTER(struct ctl_xmpp_counters, connect_failures),
    JSON_COUNTER(struct ctl_xmpp_counters, disconnects),
    JSON_COUNTER(struct ctl_xmpp_counters, stanzas_in),
    JSON_COUNTER(struct ctl_xmpp_counters, stanzas_out),
    JSON_COUNTER(struct ctl_xmpp_counters, presences_accepted),
    JSON_COUNTER(struct ctl_xmpp_counters, messages_accepted),
    JSON_COUNTER(struct ctl_xmpp_counters, rejected_payloads),
    JSON_COUNTER(struct ctl_xmpp_counters, member_conflicts),
    JSON_COUNTER(struct ctl_xmpp_counters, pings_sent),
    JSON_COUNTER(struct ctl_xmpp_counters, ping_timeouts),
};

json_t *ctl_disc_json(const struct ctl_disc *d)
{
	const struct ipop_config *cfg = d->env.cfg;
	json_t *stun = json_array();
	uint64_t now = clock_now_ms();
	for (unsigned i = 0; stun && i < d->nstun; i++) {
		const struct disc_stun *s = &d->stun[i];
		json_array_append_new(
		    stun, json_pack("{s:o, s:o, s:o}", "server", ep_json(&s->server), "mapped",
				    s->have_mapped ? ep_json(&s->mapped) : json_null(), "last_ok_s",
				    s->last_ok_ms
					? json_integer((json_int_t)((now - s->last_ok_ms) / 1000))
					: json_null()));
	}
	const struct disc_counters *k = &d->cnt;
	json_t *disc = json_counters(k, disc_fields, JSON_COUNTERS_N(disc_fields));
	json_t *turn = ctl_turn_json(d->env.turn);
	if (!d->x)
		return json_pack("{s:b, s:o, s:o, s:o}", "enabled", 0, "stun",
				 stun ? stun : json_null(), "discovery", disc ? disc : json_null(),
				 "turn", turn ? turn : json_null());

	struct ctl_xmpp_counters xc;
	ctl_xmpp_get_counters(d->x, &xc);
	json_t *xcj = json_counters(&xc, xmpp_fields, JSON_COUNTERS_N(xmpp_fields));

	json_t *members = json_array();
	const struct sig_members *mt = ctl_xmpp_members(d->x);
	for (unsigned i = 0; members && mt && i < sig_members_count(mt); i++) {
		const struct sig_member *m = sig_members_at(mt, i);
		char id[SIG_NODE_ID_HEXLEN + 1], b64[IPOP_KEY_B64_LEN + 1], a6[INET6_ADDRSTRLEN];
		const char *name;
		const char *st = peer_state(d, m->p.public_key, &name);
		sig_node_id_hex(m->p.node_id, id);
		ipop_key_to_base64(m->p.public_key, b64);
		inet_ntop(AF_INET6, m->p.ip6, a6, sizeof(a6));
		json_t *routes = json_array();
		for (unsigned r = 0; routes && r < m->p.nroutes; r++) {
			char pfx[INET6_ADDRSTRLEN + 4];
			json_array_append_new(routes, json_string(net_prefix_format(
							  &m->p.routes[r], pfx, sizeof(pfx))));
		}
		json_array_append_new(
		    members,
		    json_pack("{s:s, s:s, s:o, s:s, s:s, s:i, s:b, s:o, s:s, s:o}", "jid", m->jid,
			      "node_id", id, "ip4", addr4_json(m->p.ip4), "ip6", a6, "public_key",
			      b64, "port", (int)m->p.port, "stale", (int)m->stale, "peer",
			      name ? json_string(name) : json_null(), "link", st, "routes",
			      routes ? routes : json_null()));
	}
	uint64_t retry = 0;
	enum ctl_xmpp_state st = ctl_xmpp_state(d->x, &retry);
	const char *server;
	uint16_t port;
	ctl_xmpp_server(d->x, &server, &port); /* the one in use, from xmpp_host's list */
	json_t *o = json_pack(
	    "{s:b, s:s, s:s, s:i, s:s, s:s, s:b, s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
	    "enabled", 1, "state", ctl_xmpp_state_name(st), "server", server, "port", (int)port,
	    "account", cfg->xmpp_username, "bound_jid", ctl_xmpp_bound_jid(d->x), "secured",
	    (int)ctl_xmpp_secured(d->x), "in_group", (int)ctl_xmpp_in_group(d->x), "sasl",
	    ctl_xmpp_sasl_mechanism(d->x), "group", cfg->group == IPOP_GROUP_MUC ? "muc" : "roster",
	    "room", cfg->group == IPOP_GROUP_MUC ? json_string(cfg->muc_room) : json_null(),
	    "next_retry_s",
	    st == CTL_XMPP_BACKOFF && retry > now ? json_integer((json_int_t)((retry - now) / 1000))
						  : json_null(),
	    "members", members ? members : json_null(), "counters", xcj ? xcj : json_null(),
	    "discovery", disc ? disc : json_null());
	if (o) {
		json_object_set_new(o, "stun", stun ? stun : json_null());
		json_object_set_new(o, "turn", turn ? turn : json_null());
	} else {
		json_decref(stun);
		json_decref(turn);
	}
	return o;
}
