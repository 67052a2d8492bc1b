/* "Packet too big" answers to the host in L3 mode (issue #9: no black hole).
 *
 * A packet from the host larger than the overlay MTU cannot cross: instead of
 * a silent drop, the host gets what a router would send it, so path MTU
 * discovery converges. IPv4 with DF: ICMP destination unreachable, fragmentation
 * needed (type 3 code 4) with the overlay MTU as next-hop MTU, quoting the
 * first 548 bytes at most (a 576-byte answer). IPv6: ICMPv6 Packet Too Big
 * (type 2) with the MTU, quoting as much as fits a 1280-byte answer. Sent from
 * the router MAC to the sender's MAC, with the packet's destination as source
 * address: ipopd's virtual router has no address of its own, and one of ours
 * (the TAP's) would be a martian to the host that owns it. Only when the
 * overlay has an address of that family (a configured L3 overlay).
 * IPv4 without DF (the sender allows fragmentation, which ipopd does not do)
 * gets no answer: the packet is dropped and counted like any other too_big.
 */
#pragma once
#include <stdbool.h>

#include "dataplane/pkt.h"
#include "dataplane/table.h"

/* p: an IP packet routed out (data at the IP header, its Ethernet header
 * still in the 14 bytes before it), longer than t->p.mtu. Rewrites p in place
 * into the answer (an Ethernet frame for the host) and returns true; false
 * when no answer is due (IPv4 without DF, no overlay address of that family,
 * not enough room), p untouched. */
bool dp_icmp_too_big(const struct dp_table *t, struct dp_pkt *p);
