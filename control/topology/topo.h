/* The topology manager: which links this node wants in the structured
 * overlay, and where it forwards what it has no link for (docs/topology.md).
 *
 * IPOP BaseTopologyManager semantics, done as a pure state machine with an
 * injected clock: every input carries `now` (milliseconds, any epoch), and the
 * only outputs are wishes through struct ctl_topo_ops (open a link of a kind to
 * node X, close the link to Y, ping Z over signalling) and the answers of
 * ctl_topo_next_hop / ctl_topo_flood_plan. No I/O, no clock reads, no
 * allocation outside create and link bookkeeping; the simulator (bench/) runs
 * this same code with a simulated clock and network.
 *
 * Links are bidirectional. The node that asked for a link (outbound) owns its
 * lifetime and closes it when no role wants it any more; the node that
 * accepted it (inbound) keeps it until the opener closes it or it dies. A
 * link may serve several roles at once (a successor that is also a chord).
 * Control core only; not thread-safe.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control/topology/topo_id.h"
#include "control/topology/topo_ring.h"

#define CTL_TOPO_MAX_CHORDS  CTL_TOPO_ID_BITS
#define CTL_TOPO_FAIL_MAX    64 /* peers remembered as failed (backoff) */
#define CTL_TOPO_TRAFFIC_MAX 64 /* unlinked destinations counted per window */

/* Roles of a link (bits); the kind a link is opened for is one of the first three. */
enum ctl_topo_kind {
	CTL_TOPO_SUCCESSOR = 1u << 0, /* one of the num_successors nodes after us */
	CTL_TOPO_CHORD = 1u << 1,     /* the node at or after id + 2^(159-i) */
	CTL_TOPO_ON_DEMAND = 1u << 2, /* traffic to it crossed threshold_on_demand */
	CTL_TOPO_INBOUND = 1u << 3,   /* the peer opened it and we accepted */
};

/* BaseTopologyManager settings (config keys in docs/topology.md), times in ms. */
struct ctl_topo_params {
	unsigned num_successors; /* >= 1 */
	unsigned num_chords;	 /* <= CTL_TOPO_MAX_CHORDS */
	unsigned num_on_demand;
	unsigned num_inbound; /* chord/on-demand requests refused beyond this many accepted links */
	uint64_t threshold_on_demand; /* packets to one unlinked node per interval_management */
	uint64_t ttl_link_initial_ms; /* a link not up by then has failed */
	uint64_t ttl_link_pulse_ms;   /* an up link silent this long is down */
	uint64_t ttl_chord_ms;	      /* a chord is re-evaluated this often */
	uint64_t ttl_on_demand_ms;    /* an on-demand link idle this long is closed */
	uint64_t interval_management_ms;
	uint64_t interval_ping_ms;
	unsigned num_pings;
	bool multihop; /* false: any traffic to an unlinked node wants an on-demand link */
};

/* The seeds' values (IPOP's defaults). */
void ctl_topo_params_default(struct ctl_topo_params *p);

/* Wishes. The manager records a wished link as pending before calling open;
 * the result comes back through ctl_topo_link_up/failed. */
struct ctl_topo_ops {
	void (*open)(void *arg, const struct ctl_topo_id *peer, enum ctl_topo_kind kind);
	void (*close)(void *arg, const struct ctl_topo_id *peer);
	/* Ask peer over signalling whether it is there; answer: ctl_topo_ping_reply. */
	void (*ping)(void *arg, const struct ctl_topo_id *peer);
};

struct ctl_topo_link {
	struct ctl_topo_id peer;
	unsigned roles;		     /* enum ctl_topo_kind bits */
	bool outbound;		     /* we asked for it: we close it */
	enum ctl_topo_kind in_kind;  /* INBOUND: what the peer asked it for */
	enum ctl_topo_kind out_kind; /* outbound: what we asked the peer for */
	bool up;
	uint64_t since_ms;	  /* asked/accepted, then: came up */
	uint64_t last_pulse_ms;	  /* last sign of life (ctl_topo_link_pulse) */
	uint64_t last_traffic_ms; /* last traffic reported to it (on-demand idleness) */
	uint64_t packets;	  /* traffic reported to it */
};

struct ctl_topo_counters {
	uint64_t opens, closes, pings_sent, ping_replies, manage_runs;
	uint64_t inbound_accepted, inbound_refused; /* refused: num_inbound reached */
	uint64_t inbound_evicted; /* an accepted chord/on-demand link made room for a successor */
	uint64_t failed, refused_by_peer, went_down, closed_by_peer, released_by_peer;
	uint64_t pending_expired, pulse_expired; /* ttl_link_initial, ttl_link_pulse */
	uint64_t chord_reevaluated, chord_changed;
	uint64_t on_demand_opened, on_demand_full, on_demand_idle;
	/* our link asked for as a successor now serves as chord/on-demand only:
	 * asked again with that kind, so the peer's num_inbound applies */
	uint64_t rerequests;
};

struct ctl_topo_chord {
	bool set;
	struct ctl_topo_id peer;
	uint64_t expires_ms;
};

struct ctl_topo_fail {
	struct ctl_topo_id peer;
	uint64_t until_ms; /* not wished again before this */
	unsigned fails;	   /* consecutive; the backoff doubles */
	/* the last mark was a num_inbound refusal: the member may still be a
	 * successor (successor requests are never refused) */
	bool refused;
};

struct ctl_topo_traffic {
	struct ctl_topo_id dst;
	uint64_t packets; /* in the current window */
};

struct ctl_topo_want {
	struct ctl_topo_id id;
	unsigned roles;
};

/* Read-only outside topo*.c; see the functions below. */
struct ctl_topo {
	struct ctl_topo_id self;
	struct ctl_topo_params p;
	struct ctl_topo_ops ops;
	void *arg;
	const struct ctl_topo_ring *ring; /* not owned */
	struct ctl_topo_link *links;	  /* sorted by peer id */
	unsigned nlinks, cap;
	struct ctl_topo_chord chords[CTL_TOPO_MAX_CHORDS];
	struct ctl_topo_fail fails[CTL_TOPO_FAIL_MAX];
	unsigned nfails;
	struct ctl_topo_traffic traffic[CTL_TOPO_TRAFFIC_MAX];
	unsigned ntraffic;
	/* The last wanted successor: a joining member beyond it changes nothing. */
	struct ctl_topo_id horizon;
	bool horizon_valid;
	struct ctl_topo_want *want; /* management's scratch: 2 * num_successors + num_chords */
	unsigned want_cap;
	bool dirty; /* manage at the next tick */
	uint64_t next_mgmt_ms, next_ping_ms, last_tick_ms;
	uint64_t rng;
	struct ctl_topo_counters counters;
};

/* NULL + errno (EINVAL for bad params, ENOMEM). ring must outlive the manager
 * and contain every member the manager is told about. */
struct ctl_topo *ctl_topo_create(const struct ctl_topo_id *self, const struct ctl_topo_params *p,
				 const struct ctl_topo_ops *ops, void *arg,
				 const struct ctl_topo_ring *ring, uint64_t now_ms);
void ctl_topo_destroy(struct ctl_topo *t);

/* Inputs. Membership: call after the ring was changed. */
void ctl_topo_member_joined(struct ctl_topo *t, const struct ctl_topo_id *id, uint64_t now_ms);
void ctl_topo_member_left(struct ctl_topo *t, const struct ctl_topo_id *id, uint64_t now_ms);
/* A member asks us for a link of `kind`: 0 accepted, -EBUSY num_inbound
 * reached (chord and on-demand requests), -ENOENT not a member, -EINVAL
 * ourselves. A successor request is never refused, because the ring must
 * stay whole (IPOP accepted successors regardless of the cap): at the cap it
 * displaces the newest accepted chord/on-demand link (closed through
 * ops->close), and only if every accepted link is a successor link does it
 * go beyond the cap. */
int ctl_topo_link_request(struct ctl_topo *t, const struct ctl_topo_id *peer,
			  enum ctl_topo_kind kind, uint64_t now_ms);
void ctl_topo_link_up(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* An up link died (timeout, error): replaced, the peer backed off. */
void ctl_topo_link_down(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* A link we asked for did not come up (refused, punching failed), or the
 * peer refused an up link the kind we asked for again (num_inbound). */
void ctl_topo_link_failed(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* The peer refused a chord or on-demand request (num_inbound), for a new
 * link or one asked for again: the link goes and the member is backed off
 * for chord and on-demand links only. */
void ctl_topo_link_refused(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* The peer closed the link on purpose (no backoff). */
void ctl_topo_link_closed(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* The peer no longer needs a link it asked for (it keeps it only because we
 * asked too: crossing requests). The inbound role goes; a link nothing else
 * wants is closed at the next tick. Without this, two ends whose requests
 * crossed would each hold the link for the other forever. */
void ctl_topo_link_released(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* The link showed life (any authenticated packet or keepalive). */
void ctl_topo_link_pulse(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* packets sent towards member dst since the last report (per-destination
 * counters of the workers), whether over a link to it or forwarded. */
void ctl_topo_traffic(struct ctl_topo *t, const struct ctl_topo_id *dst, uint64_t packets,
		      uint64_t now_ms);
void ctl_topo_ping_reply(struct ctl_topo *t, const struct ctl_topo_id *peer, uint64_t now_ms);
/* Call every timer_interval (1 s); expiries, pings and management run here. */
void ctl_topo_tick(struct ctl_topo *t, uint64_t now_ms);

/* Outputs. The up link greedy forwarding uses towards dst: the linked node
 * closest to dst without passing it, always strictly closer than we are.
 * NULL: dst is us, or no up link makes progress. */
const struct ctl_topo_id *ctl_topo_next_hop(const struct ctl_topo *t,
					    const struct ctl_topo_id *dst);
/* The same, over the up links for which usable(arg, peer) is true (the
 * wiring skips links whose data path is down right now). */
const struct ctl_topo_id *
ctl_topo_next_hop_if(const struct ctl_topo *t, const struct ctl_topo_id *dst,
		     bool (*usable)(void *arg, const struct ctl_topo_id *peer), void *arg);
const struct ctl_topo_link *ctl_topo_link_find(const struct ctl_topo *t,
					       const struct ctl_topo_id *peer);
/* Links by role: how many up (and pending, if pending != NULL) carry any of `roles`. */
unsigned ctl_topo_count(const struct ctl_topo *t, unsigned roles, unsigned *pending);
const char *ctl_topo_kind_name(enum ctl_topo_kind k);
