/* ICMP/ICMPv6 "packet too big" answers (see icmp.h). */
#include "dataplane/icmp.h"

#include <string.h>
#include <netinet/in.h>

#include "dataplane/csum.h"
#include "dataplane/esp.h"
#include "dataplane/l3.h"
#include "dataplane/wire.h"

#define V4_QUOTE_MAX (576 - 20 - 8)
#define V6_QUOTE_MAX (1280 - 40 - 8)

bool dp_icmp_too_big(const struct dp_table *t, struct dp_pkt *p)
{
	static const uint8_t zero6[16];
	bool v6 = p->next_hdr == DP_ESP_NH_IPV6;
	size_t hdr = v6 ? 40 + 8 : 20 + 8;
	size_t quote = p->len < (v6 ? V6_QUOTE_MAX : V4_QUOTE_MAX)
			   ? p->len
			   : (v6 ? V6_QUOTE_MAX : V4_QUOTE_MAX);
	uint8_t *ip = p->data;
	uint8_t *eth; /* from buf: GCC's bounds analysis distrusts data - 14 */
	uint8_t src_mac[6], src_ip[16], dst_ip[16];

	if (dp_pkt_headroom(p) < DP_ETH_HLEN || p->buf_size < dp_pkt_headroom(p) + hdr + quote)
		return false;
	eth = p->buf + (dp_pkt_headroom(p) - DP_ETH_HLEN);
	if (v6) {
		if (!memcmp(t->p.vip6, zero6, 16) || p->len < 40)
			return false;
		memcpy(src_ip, ip + 8, 16);
		memcpy(dst_ip, ip + 24, 16);
	} else {
		if (!t->p.vip4 || p->len < 20 || !(ip[6] & 0x40))
			return false;
		memcpy(src_ip, ip + 12, 4);
		memcpy(dst_ip, ip + 16, 4);
	}
	memcpy(src_mac, eth + 6, 6);

	/* Quote first (it moves back by hdr bytes), then write the headers. */
	memmove(ip + hdr, ip, quote);
	memcpy(eth, src_mac, 6);
	memcpy(eth + 6, t->p.router_mac, 6);
	dp_be16_put(eth + 12, v6 ? DP_ETHERTYPE_IP6 : DP_ETHERTYPE_IP4);
	uint8_t *icmp = ip + hdr - 8;
	size_t icmp_len = 8 + quote;
	memset(ip, 0, hdr);
	if (v6) {
		ip[0] = 0x60;
		dp_be16_put(ip + 4, (uint16_t)icmp_len);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, dst_ip, 16);
		memcpy(ip + 24, src_ip, 16);
		icmp[0] = 2; /* Packet Too Big */
		icmp[4] = icmp[5] = 0;
		dp_be16_put(icmp + 6, t->p.mtu);
		uint16_t c = dp_csum_finish(dp_csum_add(
		    dp_csum_pseudo(ip, 1, IPPROTO_ICMPV6, (uint32_t)icmp_len), icmp, icmp_len));
		memcpy(icmp + 2, &c, 2);
	} else {
		ip[0] = 0x45;
		dp_be16_put(ip + 2, (uint16_t)(20 + icmp_len));
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, dst_ip, 4);
		memcpy(ip + 16, src_ip, 4);
		uint16_t c = dp_csum_finish(dp_csum_add(0, ip, 20));
		memcpy(ip + 10, &c, 2);
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 4; /* fragmentation needed and DF set */
		dp_be16_put(icmp + 6, t->p.mtu);
		c = dp_csum_finish(dp_csum_add(0, icmp, icmp_len));
		memcpy(icmp + 2, &c, 2);
	}
	p->data = eth;
	p->len = (uint16_t)(DP_ETH_HLEN + hdr + quote);
	p->next_hdr = 0;
	p->sa = NULL;
	p->link = DP_LINK_NONE;
	return true;
}
