/* Discovery: peers found through the XMPP group instead of the config, their
 * endpoint candidates exchanged over XMPP, and our server-reflexive address
 * learned with STUN from the data port.
 *
 * Owns the XMPP session (xmpp.h), the STUN client transactions, and the
 * discovered peers: one keyed peer per group member (its public key and
 * virtual addresses from the member's validated presence), added to the
 * running peer set next to the configured peers. The link manager does the
 * rest: with the candidates a con_req/con_resp brought it sends initiations
 * to all of them in parallel from both ends (simultaneous open punches the
 * NAT) and keeps the first path a handshake completes on.
 *
 * Trust: a member's key is accepted because it arrived over our
 * authenticated, TLS-verified XMPP session from a member of the group (and,
 * when allowed_keys is set, only if listed). A member that leaves keeps its
 * link while the link carries traffic (the data plane never depends on
 * XMPP); the peer goes when the link is no longer up.
 *
 * Everything runs on the control core; see ctl.h for where it is called.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "control/config/config.h"
#include "control/nat/stun.h"
#include "control/signalling/sigmsg.h"
#include "control/table/peerset.h"
#include "util/addr.h"

struct ctl_xmpp;
struct ctl_linkmgr;
struct ctl_turn;
struct lm_link;

#define DISC_CON_RETRY_MS    30000 /* a member whose link is not up gets a new con_req */
#define DISC_STUN_REFRESH_MS 60000
#define DISC_STUN_RETRY_MS   10000 /* after a transaction timed out */

/* A discovered peer. conf is what the peer set is built from: it must stay
 * where it is (the set points to it) until a set without it is out. */
struct disc_peer {
	struct ipop_peer_conf conf; /* name "xmpp-<ip4>", keyed, public key, ip4, ULA */
	char *jid;		    /* the member's JID (MUC occupant or full JID) */
	bool present;		    /* a current member of the group */
	uint64_t con_req_ms;	    /* last con_req sent (0: never) */
	uint64_t con_in_ms;	    /* last con_req/con_resp received */
	/* Structured overlay (with a topology manager, ctl_disc_set_topo): */
	uint8_t node_id[SIG_NODE_ID_LEN]; /* the member's ring id (from its presence) */
	bool wanted;			  /* we asked for the link (ctl_disc_link_open): retried */
	bool engaged;		 /* its link was given candidates (requested or accepted) */
	enum sig_link_kind kind; /* what we asked it for, or what it asked us for */
	bool released;		 /* we told it we no longer need the link (ctl_disc_link_release) */
};

struct disc_stun {
	struct net_endpoint server;
	struct stun_txn txn;
	bool active; /* a transaction is outstanding */
	uint8_t req[64];
	int reqlen;
	uint64_t next_ms; /* next binding request */
	bool have_mapped;
	struct net_endpoint mapped; /* our server-reflexive candidate */
	uint64_t last_ok_ms;
};

struct disc_counters {
	uint64_t con_req_sent, con_req_received, con_resp_sent, con_resp_received;
	uint64_t pings_received, send_failures;
	uint64_t members_refused; /* key not allowed, or a configured peer's key/address */
	uint64_t peers_added, peers_removed;
	uint64_t stun_requests, stun_retransmits, stun_responses, stun_timeouts, stun_errors;
	uint64_t stun_unmatched; /* STUN datagrams that answer nothing we asked */
	/* structured overlay: requests refused (num_inbound), links closed by
	 * us and by peers, pings sent */
	uint64_t con_refused, links_closed, closed_by_peer, topo_pings_sent;
	uint64_t links_released, released_by_peer;
};

/* The topology manager's view of discovery (control/topology/topo_wire.c
 * fills it in; without it every member is linked with every other, as
 * before #11). ids are the members' 20-byte ring ids. With hooks set,
 * discovery initiates only the links the manager asks for
 * (ctl_disc_link_open), answers a member's con_req as link_request says,
 * and tears a link down on ctl_disc_link_close or the peer's "closed". */
struct ctl_disc_topo_hooks {
	/* a member's presence arrived (again) / it left or was replaced */
	void (*member_joined)(void *arg, const uint8_t id[SIG_NODE_ID_LEN], uint32_t ip4);
	void (*member_left)(void *arg, const uint8_t id[SIG_NODE_ID_LEN]);
	/* a member asks for a link: 0 accept, -EBUSY refuse (reason "num_inbound") */
	int (*link_request)(void *arg, const uint8_t id[SIG_NODE_ID_LEN], enum sig_link_kind kind);
	/* our request was refused (reason from the con_resp) */
	void (*link_refused)(void *arg, const uint8_t id[SIG_NODE_ID_LEN], const char *reason);
	/* the member closed the link (con_resp reason "closed"); already torn down */
	void (*link_closed)(void *arg, const uint8_t id[SIG_NODE_ID_LEN]);
	/* the member no longer needs the link it asked for (reason "released") */
	void (*link_released)(void *arg, const uint8_t id[SIG_NODE_ID_LEN]);
	void (*pong)(void *arg, const uint8_t id[SIG_NODE_ID_LEN]);
};

/* What discovery needs from its owner (the control core), called with ctx. */
struct ctl_disc_ops {
	/* A datagram out of the data port (STUN). 0 or -errno. */
	int (*send)(void *ctx, const struct net_endpoint *to, const void *buf, size_t len);
	/* The discovered peers changed: build, publish and swap in a peer set
	 * from the config's peers plus d->confs (calls ctl_disc_swapped). 0 or
	 * -errno (the running set stays). */
	int (*commit)(void *ctx);
	/* L3 mode: the subnets the kernel routes into the TAP. */
	void (*sync_routes)(void *ctx, const struct net_prefix *v, unsigned n);
	/* Watch fd (the XMPP socket) for input: the owner calls
	 * ctl_disc_xmpp_event when it is readable. 0 or -errno. */
	int (*watch)(void *ctx, int fd);
};

/* Discovery's view of the rest, given at ctl_disc_create. The pointers are
 * read at each use, so they must stay where they are (the owner replaces
 * what they point to in place: a reloaded config, a new peer set). */
struct ctl_disc_env {
	const struct ctl_disc_ops *ops;
	void *ctx;
	const struct ipop_config *cfg; /* the running config */
	const struct ctl_peers *peers; /* the running peer set */
	struct ctl_linkmgr *lm;	       /* candidates, link state, our identity */
	struct ctl_turn *turn;	       /* relayed candidates, permissions */
	const char *tap_name;	       /* excluded from host candidates */
	/* family != 0: the backend owns this underlay address (dpdk), the only
	 * host candidate; else host candidates come from the kernel's interfaces */
	const struct net_endpoint *own_addr;
	const uint8_t *mac; /* our TAP MAC, for the presence */
};

struct ctl_disc {
	struct ctl_disc_env env;
	struct ctl_xmpp *x; /* NULL: no xmpp_host, discovery off */
	uint64_t xmpp_gen;
	bool xmpp_gen_valid;
	struct disc_peer **dyn;
	const struct ipop_peer_conf **confs; /* &dyn[i]->conf, for ctl_peers_diff_ext */
	unsigned ndyn, cap;
	struct disc_peer **dead; /* removed; freed once a set without them is out */
	unsigned ndead, cap_dead;
	bool rebuild; /* the peer set must be rebuilt from the tick */
	struct disc_stun *stun;
	unsigned nstun;
	uint64_t seq;
	struct disc_counters cnt;
	const struct ctl_disc_topo_hooks *topo; /* NULL: full mesh */
	void *topo_arg;
};

/* Hands discovery to a topology manager (before ctl_disc_start). */
void ctl_disc_set_topo(struct ctl_disc *d, const struct ctl_disc_topo_hooks *h, void *arg);
/* The manager's wishes. open: a con_req of kind to the member (retried every
 * DISC_CON_RETRY_MS while not up). close: the link is torn down at once
 * (sessions retired, candidates forgotten: ctl_linkmgr_link_reset) and, with
 * notify, the member is told with a con_resp accept false, reason "closed".
 * ping: a signalling ping (the pong comes back through hooks->pong).
 * 0, -ENOENT (no such member), -errno from sending. */
int ctl_disc_link_open(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN],
		       enum sig_link_kind kind, uint64_t now_ms);
int ctl_disc_link_close(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN], bool notify,
			uint64_t now_ms);
int ctl_disc_ping(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN]);
/* Tells the member we no longer need the link we asked for (we keep it only
 * because it asked too): con_resp accept false, reason "released"; the link
 * stays. Once per wish (dp->released). 0, -ENOENT. */
int ctl_disc_link_release(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN], uint64_t now_ms);
/* The discovered peer with ring id id, or NULL. */
struct disc_peer *ctl_disc_find_id(const struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN]);
/* Its link in the running peer set (NULL while the set has none). */
struct lm_link *ctl_disc_peer_link(const struct ctl_disc *d, const struct disc_peer *dp);

/* Our candidates changed (a new srflx or relayed address): members still
 * waiting for a link hear it now. */
void ctl_disc_candidates_changed(struct ctl_disc *d, uint64_t now);

/* Early in ctl_init (few fds open: libstrophe watches its socket with
 * select()): creates the XMPP session object when xmpp_host is set. 0 or
 * -errno (errbuf says why). */
int ctl_disc_create(struct ctl_disc *d, const struct ctl_disc_env *env, char *errbuf,
		    size_t errlen);
/* Once everything else runs: our presence, XMPP connect, first STUN requests. */
int ctl_disc_start(struct ctl_disc *d);
/* Leaves the group and frees everything (the peer set is freed separately). */
void ctl_disc_destroy(struct ctl_disc *d);

/* From the 100 ms tick: XMPP timers and socket registration, STUN
 * retransmissions and refreshes, con_req retries, departed peers whose link
 * is no longer up. */
void ctl_disc_tick(struct ctl_disc *d, uint64_t now_ms);
/* The XMPP socket is readable. */
void ctl_disc_xmpp_event(struct ctl_disc *d);
/* A STUN datagram punted from the data port. */
void ctl_disc_stun_input(struct ctl_disc *d, const uint8_t *data, size_t len,
			 const struct net_endpoint *from, uint64_t now_ms);

/* Management views (disc_json.c): the "xmpp" answer, and a keyed link's
 * candidates and chosen pair for "links". New references, NULL on ENOMEM. */
json_t *ctl_disc_json(const struct ctl_disc *d);
json_t *ctl_disc_link_json(const struct ctl_disc *d, const struct lm_link *lk);

/* Has the owner commit a peer set from the config's peers plus the
 * discovered ones (ops->commit), then syncs kernel routes and hands pending
 * candidates to the new links. 0 or -errno (the running set stays, retried
 * from the tick). */
int ctl_disc_rebuild(struct ctl_disc *d);
/* After a set built with the current discovered peers was published and the
 * old one retired: frees the confs of removed peers. */
void ctl_disc_swapped(struct ctl_disc *d);
