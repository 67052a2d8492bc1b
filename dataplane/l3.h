/* L3 (GroupVPN) mode helpers: the TAP carries Ethernet frames, the links carry
 * bare IPv4/IPv6 packets (ESP next header 4 / 41).
 *
 * ARP requests and IPv6 neighbour solicitations for overlay addresses the table
 * knows are answered locally with the table's router MAC, so the host never
 * waits on a peer to resolve a neighbour; anything else multicast is not
 * carried. Inbound packets must come from an address the sending link owns
 * (reverse lookup in the same routes: the peer's virtual address and routed
 * subnets), like WireGuard's allowed IPs.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/pkt.h"
#include "dataplane/table.h"

#define DP_ETH_HLEN	 14
#define DP_ETHERTYPE_IP4 0x0800
#define DP_ETHERTYPE_ARP 0x0806
#define DP_ETHERTYPE_IP6 0x86dd

/* If pkt (an Ethernet frame from the host) is an ARP request for an IPv4
 * address routed to a link (not our own), rewrite it in place into the reply
 * and return true. */
bool dp_l3_arp_reply(const struct dp_table *t, struct dp_pkt *pkt);
/* Same for an ICMPv6 neighbour solicitation: rewritten into a neighbour
 * advertisement (checksum computed). */
bool dp_l3_nd_reply(const struct dp_table *t, struct dp_pkt *pkt);

/* Host → link: strips the Ethernet header, finds the destination link.
 * Returns the link index and sets pkt->next_hdr (4 or 41), or DP_LINK_NONE with
 * pkt->drop set (NOT_IP, NO_ROUTE, SHORT). */
uint16_t dp_l3_route_out(const struct dp_table *t, struct dp_pkt *pkt);

enum dp_l3_in {
	DP_L3_IN_DROP = 0, /* pkt->drop set */
	DP_L3_IN_LOCAL,	   /* for us: Ethernet header (router MAC → host MAC) prepended */
	DP_L3_IN_FORWARD,  /* for another member (multihop): *to set, hop limit decremented */
};

/* Link → host or onward, for a decrypted packet from pkt->link. Validates the
 * IP header (SHORT, BAD_NEXT_HEADER) and trims padding. A destination that is
 * a member's address (a route of length > 0 to a link) is forwarded when the
 * table says multihop — inner source a member's (not ours, not only a default
 * route: FWD_SRC), next hop not the sender (FWD_LOOP), TTL / hop limit left
 * (HOP_LIMIT, decremented, IPv4 checksum updated) — else dropped
 * (FWD_DISABLED). Anything else is ours: its source must belong to pkt->link
 * (SRC_CHECK), or with multihop to any member (a relayed packet). */
enum dp_l3_in dp_l3_in(const struct dp_table *t, struct dp_pkt *pkt, uint16_t *to);
