/* The forwarding snapshot (struct dp_table): everything a worker needs to move
 * a packet, built by the control core, published to workers through their
 * rings and never modified afterwards (DESIGN.md "Control → workers").
 *
 * Links (struct dp_link) and SAs (struct dp_sa) are long-lived objects owned
 * by the control core; a table only points to them, so a new table that keeps a
 * link keeps its counters, sequence numbers and replay windows.
 *
 * Lookups are for the hot path: open-addressing hashes for SPIs, host routes
 * (/32, /128) and MACs; a short array sorted by decreasing prefix length for
 * routed subnets.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/pkt.h"
#include "util/addr.h"

enum dp_mode {
	DP_MODE_L3 = 0,	    /* GroupVPN: IP packets routed by virtual address */
	DP_MODE_SWITCH = 1, /* switch mode: Ethernet frames, MAC learning, flooding */
};

/* Per-link counters, updated by workers with relaxed atomic adds (once per run
 * of packets, not per packet). */
struct dp_link_stats {
	_Atomic uint64_t tx_packets, tx_bytes;
	_Atomic uint64_t rx_packets, rx_bytes;
	_Atomic uint64_t auth_fail, replay, src_check;
	/* Packets from our own host for this member that did not leave over
	 * its own SA: sent over the next-hop link (via), held in the stage
	 * queue, or dropped because neither was possible. Transit packets
	 * (forwarded for other members) are not demand: they must not open
	 * on-demand links at relays. The topology manager's per-destination
	 * traffic is tx_packets + demand_packets (tx_packets of a direct link
	 * includes what we relay over it). */
	_Atomic uint64_t demand_packets;
};

struct dp_link {
	uint32_t id; /* stable for the link's lifetime, unique in the process */
	char name[32];
	struct dp_link_stats stats;
	/* Set by the worker that reports a roam (dp_roam_event), cleared by
	 * the control core on its tick: at most one report per link per tick
	 * however many packets arrive from the new address meanwhile. */
	_Atomic uint32_t roam_reported;
};

struct dp_table_link {
	struct dp_link *link;
	struct dp_sa *sa_out; /* NULL: link down, packets to it are dropped (LINK_DOWN) */
	struct net_endpoint endpoint;
	/* Relayed link (endpoint.via != 0): ESP goes to `relay` (our TURN
	 * server) as ChannelData on channel relay_chan. 0: direct. */
	uint16_t relay_chan;
	struct net_endpoint relay;
	/* Roaming (keyed links): authenticated packets from another address
	 * are reported to the control core, which moves the endpoint. */
	bool roam;
	/* Structured overlay (#11). A member without an up direct link
	 * (sa_out == NULL) keeps its slot and its routes; its packets go:
	 * - via != DP_LINK_NONE: over link `via` (an up link, the greedy next
	 *   hop towards the member), re-encrypted with via's SA;
	 * - else stage: held in the worker's bounded per-link stage queue until
	 *   a table gives this link an SA (multihop: false);
	 * - else dropped (LINK_DOWN), as before.
	 * Either way the packet is counted in link->stats.demand_packets. */
	uint16_t via;
	bool stage;
	/* The member's 160-bit ring id (SHA-1 of its virtual IPv4), for the
	 * switch-mode bounded flood; all zero when unknown (static peers). */
	uint8_t node_id[20];
};

#define DP_MAX_RELAYS 4

struct dp_spi_entry {
	uint32_t spi; /* 0 = empty slot (valid SPIs have the top bit set) */
	uint16_t link;
	struct dp_sa *sa;
};

struct dp_route {
	struct net_prefix prefix;
	uint16_t link;
};

struct dp_fdb_entry {
	uint8_t mac[6];
	uint16_t link; /* DP_LINK_NONE = empty slot */
};

/* Switch mode: a host behind another member, by IPv4 address (ARP answers). */
struct dp_arp_entry {
	uint32_t ip4; /* network byte order; 0 = empty slot */
	uint8_t mac[6];
	uint16_t reserved;
};

struct dp_table_params {
	enum dp_mode mode;
	uint16_t mtu;	       /* largest inner packet (L3) / frame payload (switch) accepted */
	uint8_t host_mac[6];   /* MAC of the TAP: destination of frames we deliver in L3 mode */
	uint8_t router_mac[6]; /* MAC we answer ARP/ND with for overlay addresses (L3) */
	uint32_t vip4;	       /* our virtual IPv4, network byte order (0 = none) */
	uint8_t vip6[16];      /* our ULA (all zero = none) */
	/* Structured overlay (#11): forward decrypted packets that are not for
	 * us (not our addresses, not a subnet behind us) to their route's link,
	 * inner source checked against the group, hop limit decremented. */
	bool multihop;
	/* Switch mode: flood over the ring (each up link gets a disjoint arc of
	 * the id space) instead of to every up link. Needs node_id below and
	 * the links' node_id. */
	bool ring_flood;
	uint8_t node_id[20]; /* our ring id */
	/* How long a worker holds a staged packet (links marked stage) before
	 * dropping it (STAGE_TIMEOUT); 0: 60 s. The control core sets it to
	 * ttl_link_initial: a link not up by then is given up anyway. */
	uint32_t stage_timeout_ms;
};

struct dp_table {
	uint64_t version;
	struct dp_table_params p;

	uint16_t nlinks;
	struct dp_table_link *links;

	uint32_t spi_mask; /* slots - 1; slots is a power of two */
	struct dp_spi_entry *spi;

	uint32_t host_mask; /* host routes: /32 and /128, exact match hash */
	struct dp_route *host;
	uint16_t nnets; /* other prefixes, sorted by decreasing length */
	struct dp_route *nets;

	uint32_t fdb_mask;
	struct dp_fdb_entry *fdb;
	/* TURN servers whose ChannelData we accept (ESP inside is decrypted
	 * like any other; other contents are punted). */
	uint8_t nrelays;
	struct net_endpoint relays[DP_MAX_RELAYS];

	/* Switch mode: IPv4 → MAC of hosts behind other members
	 * (dp_table_reserve_arp, dp_table_add_arp); NULL: none. */
	uint32_t arp_mask, cap_arp, n_arp;
	struct dp_arp_entry *arp;

	/* Capacities given to dp_table_create, and counts filled. */
	uint32_t cap_spi, cap_routes, cap_fdb, n_spi, n_routes, n_fdb;
};

/* Capacities are upper bounds of what will be added. NULL + errno. */
struct dp_table *dp_table_create(const struct dp_table_params *p, uint16_t nlinks, uint32_t nspi,
				 uint32_t nroutes, uint32_t nfdb);
void dp_table_free(struct dp_table *t);

void dp_table_set_link(struct dp_table *t, uint16_t idx, struct dp_link *link, struct dp_sa *sa_out,
		       const struct net_endpoint *endpoint);
/* Lets link idx roam: authenticated packets from an address other than its
 * endpoint are reported (pipeline.h, dp_roam_event). */
void dp_table_set_link_roam(struct dp_table *t, uint16_t idx, bool roam);
/* Structured overlay: next hop for a member link without SA (DP_LINK_NONE:
 * none), whether to stage its packets, its ring id. dp_table_set_link resets
 * via to DP_LINK_NONE, stage to false and the id to zero. */
void dp_table_set_link_via(struct dp_table *t, uint16_t idx, uint16_t via);
void dp_table_set_link_stage(struct dp_table *t, uint16_t idx, bool stage);
void dp_table_set_link_node_id(struct dp_table *t, uint16_t idx, const uint8_t id[20]);
/* Sends link idx's packets as ChannelData on chan through relay. */
void dp_table_set_link_relay(struct dp_table *t, uint16_t idx, const struct net_endpoint *relay,
			     uint16_t chan);
/* Accepts ChannelData from relay. 0 or -ENOSPC (DP_MAX_RELAYS). */
int dp_table_add_relay(struct dp_table *t, const struct net_endpoint *relay);
/* Whether ep is one of the table's relays (hot path: a handful of compares). */
bool dp_table_is_relay(const struct dp_table *t, const struct net_endpoint *ep);
/* 0, -EEXIST (SPI already present), -ENOSPC, -EINVAL (SPI without top bit). */
int dp_table_add_spi(struct dp_table *t, struct dp_sa *sa, uint16_t link);
/* 0, -EEXIST (same prefix already present), -ENOSPC. */
int dp_table_add_route(struct dp_table *t, const struct net_prefix *prefix, uint16_t link);
/* 0, -EEXIST, -ENOSPC. */
int dp_table_add_fdb(struct dp_table *t, const uint8_t mac[6], uint16_t link);
/* Switch mode (#11): the addresses the overlay knows, answered locally when a
 * host on our side asks for them (ARP request), instead of flooding the
 * request over the ring. Reserve room for n entries once (0, -ENOMEM,
 * -EEXIST if already reserved), then add: 0, -EEXIST (address present),
 * -ENOSPC, -EINVAL (address 0, multicast or all-zero MAC). Only entries whose
 * MAC the FDB puts behind a link are answered (dataplane/l2.h). */
int dp_table_reserve_arp(struct dp_table *t, uint32_t n);
int dp_table_add_arp(struct dp_table *t, uint32_t ip4_be, const uint8_t mac[6]);
/* The MAC for ip4_be, or NULL. */
const uint8_t *dp_table_arp_lookup(const struct dp_table *t, uint32_t ip4_be);
/* Sorts the subnet routes; call once after the last add, before publishing. */
void dp_table_seal(struct dp_table *t);

/* Hot-path lookups. */
const struct dp_spi_entry *dp_table_spi_lookup(const struct dp_table *t, uint32_t spi);
/* Longest-prefix match; returns the link index or DP_LINK_NONE. */
uint16_t dp_table_route4(const struct dp_table *t, uint32_t dst_be);
uint16_t dp_table_route6(const struct dp_table *t, const uint8_t dst[16]);
/* The same, also giving the matched prefix's length (0 when none matched, or
 * a default route): multihop tells a member's address from "anywhere". */
uint16_t dp_table_route4_len(const struct dp_table *t, uint32_t dst_be, uint8_t *plen);
uint16_t dp_table_route6_len(const struct dp_table *t, const uint8_t dst[16], uint8_t *plen);
uint16_t dp_table_fdb_lookup(const struct dp_table *t, const uint8_t mac[6]);
/* Finds the index of the link with this stable id, or DP_LINK_NONE. */
uint16_t dp_table_link_index(const struct dp_table *t, uint32_t link_id);
