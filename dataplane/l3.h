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

#define DP_ETH_HLEN      14
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

/* Link → host: checks the inner source belongs to pkt->link (SRC_CHECK),
 * validates the IP header length (SHORT, BAD_NEXT_HEADER), prepends the
 * Ethernet header (router MAC → host MAC). Returns true if deliverable, else
 * sets pkt->drop. */
bool dp_l3_deliver_in(const struct dp_table *t, struct dp_pkt *pkt);
