/* TURN relay client (RFC 5766) on the data port: the path of last resort
 * when no direct candidate pair works (both sides behind address-and-port-
 * dependent NAT). docs/nat.md has the whole picture.
 *
 * For each server in TincanSender.turn the control core holds one
 * allocation, made from the data port (so the server sees the same NAT
 * mapping as the data path uses), authenticated with the long-term
 * credentials of the config, refreshed at half its lifetime. Its relayed
 * address is advertised as a `relay` candidate. A peer that sends to it
 * reaches us through the server:
 *
 *   - the server only forwards from addresses we gave a permission: every
 *     candidate address a member advertises gets one (CreatePermission,
 *     refreshed every 240 s);
 *   - a handshake arriving from peer address X (Data indication or
 *     ChannelData) binds a channel to X at once (ChannelBind, refreshed every
 *     540 s) and goes to the link manager as coming from X with
 *     net_endpoint.via = allocation index + 1;
 *   - whatever the link manager sends to such an endpoint goes to the
 *     server: ChannelData once the channel is bound, a Send indication
 *     before;
 *   - the forwarding table (ctl_turn_table) lists our servers, so workers
 *     decrypt ESP arriving as ChannelData from them, and gives each relayed
 *     link its server and channel, so workers wrap its ESP as ChannelData.
 *     A relayed link whose channel is not bound yet has no outbound SA in the
 *     table (link_down) rather than sending to X directly, which the peer's
 *     NAT would drop.
 *
 * Every response is matched by transaction id and source (the server we
 * asked); 401/438 challenges are answered at most TURN_AUTH_TRIES times in a
 * row, so a spoofed 438 cannot loop us; responses that should be
 * authenticated and are not are ignored (stun.h, turn_response).
 *
 * All of it runs on the control core.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "control/config/config.h"
#include "control/nat/stun.h"
#include "dataplane/table.h"
#include "util/addr.h"

#define TURN_MAX_ALLOC	     DP_MAX_RELAYS
#define TURN_MAX_PERM	     32
#define TURN_PERM_PER_REQ    8
#define TURN_MAX_CHAN	     32
#define TURN_MAX_REQ	     8
#define TURN_LIFETIME_S	     600
#define TURN_PERM_REFRESH_MS 240000 /* permissions last 300 s */
#define TURN_CHAN_REFRESH_MS 540000 /* channel bindings last 600 s */
#define TURN_RETRY_MS	     10000  /* after a failed or lost allocation */
#define TURN_AUTH_TRIES	     3

enum turn_state {
	TURN_IDLE = 0,	 /* no allocation; next attempt at next_try_ms */
	TURN_ALLOCATING, /* Allocate outstanding */
	TURN_READY,	 /* relayed address valid */
	TURN_FAILED,	 /* wrong credentials or a hard error; retried slowly */
};

struct turn_perm {
	struct net_endpoint ip; /* port 0: permissions are per IP address */
	bool installed;
};

struct turn_chan {
	struct net_endpoint peer; /* via 0 */
	uint16_t num;
	bool bound, pending;
	uint64_t refresh_ms;
};

enum turn_req_kind { TREQ_ALLOCATE = 1, TREQ_REFRESH, TREQ_PERMISSION, TREQ_CHANNEL };

struct turn_req {
	bool active;
	uint8_t kind;	   /* enum turn_req_kind */
	uint8_t tries;	   /* requests in a row answered by 401/438 */
	uint16_t chan;	   /* TREQ_CHANNEL: index into chan[] */
	uint16_t perm_off; /* TREQ_PERMISSION: first perm[] index, and how many */
	uint16_t perm_n;
	uint32_t lifetime; /* TREQ_ALLOCATE/TREQ_REFRESH */
	struct stun_txn txn;
	uint16_t len;
	uint8_t buf[STUN_MSG_MAX];
};

struct turn_alloc {
	struct net_endpoint server;
	struct turn_auth auth;
	enum turn_state state;
	struct turn_allocation a; /* valid in TURN_READY */
	uint64_t ready_ms, refresh_ms, next_try_ms;
	struct turn_req req[TURN_MAX_REQ];
	struct turn_perm perm[TURN_MAX_PERM];
	unsigned nperm;
	bool perm_dirty;	  /* addresses without a permission yet */
	uint64_t perm_refresh_ms; /* all of them again (0: none installed yet) */
	uint64_t perm_guard_ms;	  /* after a failure: not before this */
	struct turn_chan chan[TURN_MAX_CHAN];
	unsigned nchan;
	char last_error[96];
};

struct turn_counters {
	uint64_t requests, retransmits, timeouts, auth_retries, errors;
	uint64_t allocations, refreshes, permissions, channel_binds;
	uint64_t data_indications, channel_data_in, unknown_channel;
	uint64_t sent_channel_data, sent_indications, esp_before_channel, dropped;
};

typedef int (*turn_send_fn)(void *ctx, const struct net_endpoint *to, const void *buf, size_t len);

/* What the client needs from its owner (the control core), called with ctx. */
struct ctl_turn_ops {
	/* A datagram out of the data port. 0 or -errno. */
	turn_send_fn send;
	/* What a peer sent us through the relay, `from` being the peer's
	 * address with via = allocation index + 1: a handshake for the link
	 * manager. */
	void (*input)(void *ctx, const uint8_t *data, size_t len, const struct net_endpoint *from,
		      uint64_t now);
	/* The forwarding table must be rebuilt (a relay or a channel came or
	 * went); candidates: our relayed addresses changed as well. */
	void (*changed)(void *ctx, bool candidates, uint64_t now);
};

struct ctl_turn {
	struct turn_alloc *al;
	unsigned n;
	struct turn_counters cnt;
	const struct ctl_turn_ops *ops;
	void *ctx;
	/* NULL: ops->send. tests/unit/test_turn.c sets it (after
	 * ctl_turn_create) to play the server without a network. */
	turn_send_fn send;
	void *send_ctx;
};

/* From the config's TincanSender.turn (nothing is sent). 0 or -errno. */
int ctl_turn_create(struct ctl_turn *t, const struct ipop_config *cfg,
		    const struct ctl_turn_ops *ops, void *ctx);
/* Releases the allocations (Refresh with lifetime 0, best effort; call while
 * the data port is open), wipes the credentials and frees. */
void ctl_turn_destroy(struct ctl_turn *t, bool release);
/* Timers: first allocation, retransmissions, refreshes, permissions,
 * channel bindings. */
void ctl_turn_tick(struct ctl_turn *t, uint64_t now);
/* A parsed STUN message punted from the data port. Returns false when it is
 * not from one of our TURN servers or answers nothing of ours (the caller
 * then tries the STUN binding client). */
bool ctl_turn_stun_input(struct ctl_turn *t, const struct stun_msg *m,
			 const struct net_endpoint *from, uint64_t now);
/* A ChannelData datagram punted by a worker (its content was not ESP). */
void ctl_turn_channel_input(struct ctl_turn *t, const uint8_t *data, size_t len,
			    const struct net_endpoint *from, uint64_t now);
/* Sends buf to a relayed endpoint (to->via != 0). 0 or -errno. */
int ctl_turn_send(struct ctl_turn *t, const struct net_endpoint *to, const void *buf, size_t len);
/* A peer advertised this address: give it a permission on every allocation
 * (port ignored). */
void ctl_turn_permit(struct ctl_turn *t, const struct net_endpoint *addr);
/* Our relayed addresses (allocations that are ready). */
unsigned ctl_turn_relayed(const struct ctl_turn *t, struct net_endpoint *out, unsigned max);
/* After the peer set built table t: relays accepted, relayed links' server
 * and channel (no outbound SA while the channel is not bound). */
void ctl_turn_table(const struct ctl_turn *t, struct dp_table *tbl);
/* The "turn" object of `ipopctl xmpp`: {"servers": [...], "counters": {...}}
 * (NULL on ENOMEM). */
json_t *ctl_turn_json(const struct ctl_turn *t);
/* "198.18.0.251:3478" for via k, or "" when k is not an allocation. */
const char *ctl_turn_server_name(const struct ctl_turn *t, uint8_t via, char *buf, size_t len);
