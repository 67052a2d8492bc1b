/* L3 (GroupVPN) mode: the host sees an Ethernet segment on the TAP, the links
 * carry bare IP packets (see l3.h).
 *
 * Neighbour resolution never leaves the node: ARP requests and neighbour
 * solicitations for addresses routed to a link are answered here with the
 * table's router MAC, so every overlay address looks one hop away and no
 * broadcast crosses the overlay. The parsers below read only bytes they have
 * checked are present; anything malformed is left unanswered for the caller
 * to drop and count.
 */
#include "dataplane/l3.h"

#include <string.h>

#include "dataplane/esp.h"
#include "dataplane/wire.h"

#define ARP_LEN	      28
#define ARP_HTYPE_ETH 1
#define ARP_OP_REQ    1
#define ARP_OP_REPLY  2

#define IP4_HLEN      20
#define IP6_HLEN      40
#define IPPROTO_ICMP6 58
#define ND_NS	      135
#define ND_NA	      136
#define ND_NS_LEN     24 /* type, code, checksum, reserved, target */
#define ND_OPT_SLLA   1
#define ND_OPT_TLLA   2
#define ND_NA_FLAG_S  0x40
#define ND_NA_FLAG_O  0x20
#define ND_NA_LEN     (ND_NS_LEN + 8) /* with the target link-layer address option */
#define ND_HOP_LIMIT  255

static inline uint32_t rd32_raw(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* One's complement sum of big-endian 16-bit words, not yet folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		sum += dp_be16_get(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header and the message
 * as it is in the buffer (checksum field included). 0 means it verifies. */
static uint16_t icmp6_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *msg,
			   uint32_t len)
{
	uint32_t sum = csum_add(0, src, 16);
	sum = csum_add(sum, dst, 16);
	sum += len >> 16;
	sum += len & 0xffff;
	sum += IPPROTO_ICMP6;
	sum = csum_add(sum, msg, len);
	return csum_fold(sum);
}

static inline bool ip6_is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

static inline bool own_vip6(const struct dp_table *t, const uint8_t a[16])
{
	return !ip6_is_unspecified(t->p.vip6) && memcmp(a, t->p.vip6, 16) == 0;
}

bool dp_l3_arp_reply(const struct dp_table *t, struct dp_pkt *pkt)
{
	uint8_t *f = pkt->data;

	if (pkt->len < DP_ETH_HLEN + ARP_LEN || dp_be16_get(f + 12) != DP_ETHERTYPE_ARP)
		return false;
	uint8_t *arp = f + DP_ETH_HLEN;
	if (dp_be16_get(arp) != ARP_HTYPE_ETH || dp_be16_get(arp + 2) != DP_ETHERTYPE_IP4 ||
	    arp[4] != 6 || arp[5] != 4 || dp_be16_get(arp + 6) != ARP_OP_REQ)
		return false;
	/* A sender hardware address that is multicast cannot be answered. */
	if (arp[8] & 1)
		return false;

	uint32_t tpa = rd32_raw(arp + 24);
	if (tpa == t->p.vip4 || dp_table_route4(t, tpa) == DP_LINK_NONE)
		return false;

	uint8_t sha[6], spa[4];
	memcpy(sha, arp + 8, 6);
	memcpy(spa, arp + 14, 4);

	memcpy(f, f + 6, 6); /* back to whoever asked */
	memcpy(f + 6, t->p.router_mac, 6);
	dp_be16_put(arp + 6, ARP_OP_REPLY);
	memcpy(arp + 8, t->p.router_mac, 6);
	memcpy(arp + 14, &tpa, 4);
	memcpy(arp + 18, sha, 6);
	memcpy(arp + 24, spa, 4);
	pkt->len = DP_ETH_HLEN + ARP_LEN; /* drop any Ethernet padding */
	return true;
}

/* RFC 4861 §7.1.1 validity of the solicitation's options: every option has a
 * non-zero length and fits; a DAD probe (unspecified source) carries no
 * source link-layer address. */
static bool ns_options_ok(const uint8_t *opt, size_t len, bool dad)
{
	while (len > 0) {
		if (len < 8 || opt[1] == 0 || (size_t)opt[1] * 8 > len)
			return false;
		if (dad && opt[0] == ND_OPT_SLLA)
			return false;
		len -= (size_t)opt[1] * 8;
		opt += (size_t)opt[1] * 8;
	}
	return true;
}

bool dp_l3_nd_reply(const struct dp_table *t, struct dp_pkt *pkt)
{
	uint8_t *f = pkt->data;

	if (pkt->len < DP_ETH_HLEN + IP6_HLEN + ND_NS_LEN ||
	    dp_be16_get(f + 12) != DP_ETHERTYPE_IP6)
		return false;
	uint8_t *ip6 = f + DP_ETH_HLEN;
	uint8_t *icmp = ip6 + IP6_HLEN;
	uint16_t plen = dp_be16_get(ip6 + 4);
	if ((ip6[0] >> 4) != 6 || ip6[6] != IPPROTO_ICMP6 || ip6[7] != ND_HOP_LIMIT ||
	    plen < ND_NS_LEN || (size_t)DP_ETH_HLEN + IP6_HLEN + plen > pkt->len)
		return false;
	if (icmp[0] != ND_NS || icmp[1] != 0)
		return false;
	if (icmp6_csum(ip6 + 8, ip6 + 24, icmp, plen) != 0)
		return false;

	const uint8_t *target = icmp + 8;
	bool dad = ip6_is_unspecified(ip6 + 8);
	if (target[0] == 0xff || !ns_options_ok(icmp + ND_NS_LEN, plen - ND_NS_LEN, dad))
		return false;
	if (own_vip6(t, target) || dp_table_route6(t, target) == DP_LINK_NONE)
		return false;
	if (dp_pkt_tailroom(pkt) + pkt->len < DP_ETH_HLEN + IP6_HLEN + ND_NA_LEN)
		return false;

	uint8_t tgt[16], dst[16];
	memcpy(tgt, target, 16);
	if (dad) {
		/* RFC 4861 §7.2.4: answer a DAD probe to all-nodes, unsolicited. */
		static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
		static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
		memcpy(dst, all_nodes, 16);
		memcpy(f, all_nodes_mac, 6);
	} else {
		memcpy(dst, ip6 + 8, 16);
		memcpy(f, f + 6, 6);
	}
	memcpy(f + 6, t->p.router_mac, 6);

	ip6[0] = 0x60;
	ip6[1] = ip6[2] = ip6[3] = 0;
	dp_be16_put(ip6 + 4, ND_NA_LEN);
	ip6[6] = IPPROTO_ICMP6;
	ip6[7] = ND_HOP_LIMIT;
	memcpy(ip6 + 8, tgt, 16);
	memcpy(ip6 + 24, dst, 16);

	memset(icmp, 0, ND_NA_LEN);
	icmp[0] = ND_NA;
	icmp[4] = dad ? ND_NA_FLAG_O : ND_NA_FLAG_S | ND_NA_FLAG_O;
	memcpy(icmp + 8, tgt, 16);
	icmp[24] = ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, t->p.router_mac, 6);
	dp_be16_put(icmp + 2, icmp6_csum(ip6 + 8, ip6 + 24, icmp, ND_NA_LEN));

	pkt->len = DP_ETH_HLEN + IP6_HLEN + ND_NA_LEN;
	return true;
}

static uint16_t route_out_fail(struct dp_pkt *pkt, enum dp_drop reason)
{
	pkt->drop = reason;
	return DP_LINK_NONE;
}

uint16_t dp_l3_route_out(const struct dp_table *t, struct dp_pkt *pkt)
{
	if (pkt->len < DP_ETH_HLEN)
		return route_out_fail(pkt, DP_DROP_SHORT);

	const uint8_t *ip = pkt->data + DP_ETH_HLEN;
	size_t avail = pkt->len - DP_ETH_HLEN;
	uint16_t link;
	size_t iplen;

	switch (dp_be16_get(pkt->data + 12)) {
	case DP_ETHERTYPE_IP4: {
		if (avail < IP4_HLEN)
			return route_out_fail(pkt, DP_DROP_SHORT);
		if ((ip[0] >> 4) != 4)
			return route_out_fail(pkt, DP_DROP_NOT_IP);
		iplen = dp_be16_get(ip + 2);
		if ((ip[0] & 0xf) < 5 || iplen < (size_t)(ip[0] & 0xf) * 4 || iplen > avail)
			return route_out_fail(pkt, DP_DROP_SHORT);
		uint32_t dst = rd32_raw(ip + 16);
		/* Broadcast and multicast have no single peer to go to. */
		if ((ip[16] & 0xf0) == 0xe0 || dst == 0xffffffffu)
			return route_out_fail(pkt, DP_DROP_NO_ROUTE);
		link = dp_table_route4(t, dst);
		pkt->next_hdr = DP_ESP_NH_IPV4;
		break;
	}
	case DP_ETHERTYPE_IP6:
		if (avail < IP6_HLEN)
			return route_out_fail(pkt, DP_DROP_SHORT);
		if ((ip[0] >> 4) != 6)
			return route_out_fail(pkt, DP_DROP_NOT_IP);
		iplen = IP6_HLEN + (size_t)dp_be16_get(ip + 4);
		if (iplen > avail)
			return route_out_fail(pkt, DP_DROP_SHORT);
		if (ip[24] == 0xff)
			return route_out_fail(pkt, DP_DROP_NO_ROUTE);
		link = dp_table_route6(t, ip + 24);
		pkt->next_hdr = DP_ESP_NH_IPV6;
		break;
	case DP_ETHERTYPE_ARP:
		/* Requests we could answer were answered before we got here. */
		return route_out_fail(pkt, DP_DROP_NO_ROUTE);
	default:
		return route_out_fail(pkt, DP_DROP_NOT_IP);
	}

	if (link == DP_LINK_NONE || link >= t->nlinks) {
		pkt->next_hdr = 0;
		return route_out_fail(pkt, DP_DROP_NO_ROUTE);
	}
	pkt->data += DP_ETH_HLEN;
	pkt->len = (uint16_t)iplen; /* without Ethernet padding */
	return link;
}

/* RFC 1624 eq. 3: the header checksum after the TTL went down by one. */
static void ip4_ttl_dec(uint8_t *ip)
{
	uint16_t old = dp_be16_get(ip + 8);
	ip[8]--;
	uint32_t sum = (uint16_t)~dp_be16_get(ip + 10);
	sum += (uint16_t)~old;
	sum += dp_be16_get(ip + 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	dp_be16_put(ip + 10, (uint16_t)~sum);
}

/* Everything but the common case (for our address, from the sender's own
 * source): subnets behind us, relayed sources, forwarding. */
static __attribute__((noinline, cold)) enum dp_l3_in in_decide(const struct dp_table *t,
							       struct dp_pkt *pkt, uint16_t *to)
{
	uint8_t *ip = pkt->data;
	uint16_t owner, dst_link = DP_LINK_NONE;
	uint8_t src_len, dst_len = 0;
	bool own_src;

	if (pkt->next_hdr == DP_ESP_NH_IPV4) {
		uint32_t src = rd32_raw(ip + 12), dst = rd32_raw(ip + 16);
		owner = dp_table_route4_len(t, src, &src_len);
		own_src = t->p.vip4 && src == t->p.vip4;
		if (dst != t->p.vip4)
			dst_link = dp_table_route4_len(t, dst, &dst_len);
	} else {
		owner = dp_table_route6_len(t, ip + 8, &src_len);
		own_src = own_vip6(t, ip + 8);
		if (!own_vip6(t, ip + 24))
			dst_link = dp_table_route6_len(t, ip + 24, &dst_len);
	}

	/* Not a member's address (ours, a subnet behind us, or only a default
	 * route would take it): ours to deliver, as always. */
	if (dst_link == DP_LINK_NONE || dst_len == 0) {
		/* The sender's own sources; with multihop also a member's that
		 * a neighbour relayed (never ours, never "anywhere"). */
		if (owner != pkt->link &&
		    !(t->p.multihop && owner != DP_LINK_NONE && src_len && !own_src)) {
			pkt->drop = DP_DROP_SRC_CHECK;
			return DP_L3_IN_DROP;
		}
		return DP_L3_IN_LOCAL;
	}

	/* Another member's: forward it, or not. */
	if (!t->p.multihop) {
		pkt->drop = DP_DROP_FWD_DISABLED;
		return DP_L3_IN_DROP;
	}
	if (owner == DP_LINK_NONE || src_len == 0 || own_src) {
		pkt->drop = DP_DROP_FWD_SRC;
		return DP_L3_IN_DROP;
	}
	if (dst_link == pkt->link) {
		pkt->drop = DP_DROP_FWD_LOOP;
		return DP_L3_IN_DROP;
	}
	if (pkt->next_hdr == DP_ESP_NH_IPV4) {
		if (ip[8] <= 1)
			goto hop_limit;
		ip4_ttl_dec(ip);
	} else {
		if (ip[7] <= 1)
			goto hop_limit;
		ip[7]--;
	}
	*to = dst_link;
	return DP_L3_IN_FORWARD;
hop_limit:
	pkt->drop = DP_DROP_HOP_LIMIT;
	return DP_L3_IN_DROP;
}

enum dp_l3_in dp_l3_in(const struct dp_table *t, struct dp_pkt *pkt, uint16_t *to)
{
	uint8_t *ip = pkt->data;
	size_t iplen;
	bool fast;

	switch (pkt->next_hdr) {
	case DP_ESP_NH_IPV4:
		if (pkt->len < IP4_HLEN)
			goto short_pkt;
		if ((ip[0] >> 4) != 4)
			goto bad_next_header;
		iplen = dp_be16_get(ip + 2);
		if ((ip[0] & 0xf) < 5 || iplen < (size_t)(ip[0] & 0xf) * 4 || iplen > pkt->len)
			goto short_pkt;
		fast = rd32_raw(ip + 16) == t->p.vip4 && t->p.vip4 &&
		       dp_table_route4(t, rd32_raw(ip + 12)) == pkt->link;
		break;
	case DP_ESP_NH_IPV6:
		if (pkt->len < IP6_HLEN)
			goto short_pkt;
		if ((ip[0] >> 4) != 6)
			goto bad_next_header;
		iplen = IP6_HLEN + (size_t)dp_be16_get(ip + 4);
		if (iplen > pkt->len)
			goto short_pkt;
		fast = own_vip6(t, ip + 24) && dp_table_route6(t, ip + 8) == pkt->link;
		break;
	default:
		goto bad_next_header;
	}
	pkt->len = (uint16_t)iplen;
	if (unlikely(!fast)) {
		enum dp_l3_in r = in_decide(t, pkt, to);
		if (r != DP_L3_IN_LOCAL)
			return r;
	}

	if (unlikely(dp_pkt_headroom(pkt) < DP_ETH_HLEN)) {
		/* Never after ESP decapsulation (its header is in front), but the
		 * function must hold for any descriptor it is given. */
		if (dp_pkt_tailroom(pkt) < DP_ETH_HLEN) {
			pkt->drop = DP_DROP_NO_BUFFER;
			return DP_L3_IN_DROP;
		}
		memmove(pkt->data + DP_ETH_HLEN, pkt->data, pkt->len);
		pkt->data += DP_ETH_HLEN;
	}
	pkt->data -= DP_ETH_HLEN;
	pkt->len += DP_ETH_HLEN;
	memcpy(pkt->data, t->p.host_mac, 6);
	memcpy(pkt->data + 6, t->p.router_mac, 6);
	dp_be16_put(pkt->data + 12,
		    pkt->next_hdr == DP_ESP_NH_IPV4 ? DP_ETHERTYPE_IP4 : DP_ETHERTYPE_IP6);
	return DP_L3_IN_LOCAL;

short_pkt:
	pkt->drop = DP_DROP_SHORT;
	return DP_L3_IN_DROP;
bad_next_header:
	pkt->drop = DP_DROP_BAD_NEXT_HEADER;
	return DP_L3_IN_DROP;
}
