/* Ethernet/IP/UDP framing (xsk_frame.h). */
#include "dataplane/xsk_frame.h"

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dataplane/csum.h"

#define ETH_HLEN_   14
#define ETH_P_IP_   0x0800
#define ETH_P_IPV6_ 0x86dd

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

bool dp_frame_parse(struct dp_pkt *p)
{
	const uint8_t *f = p->data, *ip = f + ETH_HLEN_, *udp;
	unsigned len = p->len, iplen, ulen;

	memset(&p->peer, 0, sizeof(p->peer));
	if (len < DP_FRAME_HDR4)
		return false;
	uint16_t type = rd16(f + 12);
	if (type == ETH_P_IP_) {
		unsigned ihl = (ip[0] & 15u) * 4;
		iplen = rd16(ip + 2);
		/* MF set or a fragment offset: the XDP program passes those to
		 * the kernel; a frame that claims one anyway is not ours. */
		if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != IPPROTO_UDP ||
		    (rd16(ip + 6) & 0x3fff) || iplen < ihl + 8 || ETH_HLEN_ + iplen > len)
			return false;
		udp = ip + ihl;
		iplen -= ihl;
		p->peer.family = AF_INET;
		memcpy(p->peer.addr, v4_prefix, 12);
		memcpy(p->peer.addr + 12, ip + 12, 4);
	} else if (type == ETH_P_IPV6_) {
		if (len < DP_FRAME_HDR6 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
			return false;
		iplen = rd16(ip + 4);
		if (iplen < 8 || ETH_HLEN_ + 40 + iplen > len)
			return false;
		udp = ip + 40;
		p->peer.family = AF_INET6;
		memcpy(p->peer.addr, ip + 8, 16);
	} else {
		return false;
	}
	ulen = rd16(udp + 4);
	if (ulen < 8 || ulen > iplen)
		return false;
	p->peer.port = rd16(udp);
	p->data = (uint8_t *)udp + 8;
	p->len = (uint16_t)(ulen - 8);
	return true;
}

unsigned dp_frame_build(struct dp_pkt *p, const struct dp_nh *nh, const uint8_t src_mac[6],
			uint16_t sport, uint16_t ip_id)
{
	bool v6 = nh->family == AF_INET6;
	unsigned hl = v6 ? DP_FRAME_HDR6 : DP_FRAME_HDR4;
	unsigned ulen = 8u + p->len;

	if (dp_pkt_headroom(p) < hl || (v6 != (p->peer.family == AF_INET6)) ||
	    (unsigned)p->len + hl > 0xffff)
		return 0;
	uint8_t *f = p->data - hl;
	memcpy(f, nh->dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	wr16(f + 12, v6 ? ETH_P_IPV6_ : ETH_P_IP_);
	uint8_t *ip = f + ETH_HLEN_, *udp;
	if (!v6) {
		ip[0] = 0x45;
		ip[1] = 0;
		wr16(ip + 2, (uint16_t)(20 + ulen));
		wr16(ip + 4, ip_id);
		wr16(ip + 6, 0x4000); /* DF, as the kernel's sockets send */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		wr16(ip + 10, 0);
		memcpy(ip + 12, nh->src + 12, 4);
		memcpy(ip + 16, p->peer.addr + 12, 4);
		uint16_t sum = dp_csum_finish(dp_csum_add(0, ip, 20));
		memcpy(ip + 10, &sum, 2);
		udp = ip + 20;
	} else {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, nh->src, 16);
		memcpy(ip + 24, p->peer.addr, 16);
		udp = ip + 40;
	}
	memcpy(udp, &sport, 2);
	wr16(udp + 2, p->peer.port);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0);
	if (v6) {
		uint16_t sum = dp_csum_finish(
		    dp_csum_add(dp_csum_pseudo(ip, 1, IPPROTO_UDP, ulen), udp, ulen));
		if (sum == 0)
			sum = 0xffff;
		memcpy(udp + 6, &sum, 2);
	}
	p->data = f;
	p->len = (uint16_t)(hl + p->len);
	return hl;
}
