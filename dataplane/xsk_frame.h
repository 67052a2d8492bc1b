/* Ethernet/IP/UDP framing of a raw-frame backend (af_xdp; docs/af_xdp.md):
 * taking the headers off a received frame and putting them on a datagram to
 * send. Plain functions on a packet, without AF_XDP, so that the unit tests
 * and fuzz_frame exercise exactly what the worker runs.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/nexthop.h"
#include "dataplane/pkt.h"

#define DP_FRAME_HDR4 (14 + 20 + 8) /* Ethernet + IPv4 + UDP */
#define DP_FRAME_HDR6 (14 + 40 + 8) /* Ethernet + IPv6 + UDP */

/* Takes Ethernet (untagged), IPv4 (options skipped) or IPv6 (no extension
 * headers) and UDP off p: p->data/len become the UDP payload, p->peer the
 * source address and port. Lengths come from the IP and UDP headers (never
 * past the frame: short frames carry Ethernet padding). Returns false, p
 * unchanged but for p->peer, for anything else: not IP, not UDP, a fragment,
 * a header or a length that does not fit. */
bool dp_frame_parse(struct dp_pkt *p);

/* Puts Ethernet + IP + UDP in front of p's payload towards p->peer, from
 * src_mac and nh->src port sport (network order), to nh->dst_mac. IPv4 gets
 * DF, TTL 64, id ip_id, a header checksum and no UDP checksum (RFC 768;
 * the ESP ICV covers the payload); IPv6 a UDP checksum (RFC 8200 §8.1).
 * Moves p->data back to the Ethernet header and returns the header length,
 * or 0 (p unchanged) when the headroom is short or nh's family is not
 * p->peer's. */
unsigned dp_frame_build(struct dp_pkt *p, const struct dp_nh *nh, const uint8_t src_mac[6],
			uint16_t sport, uint16_t ip_id);
