/* Software GSO for TAP super-frames (see gso.h). */
#include "dataplane/gso.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "dataplane/csum.h"
#include "dataplane/wire.h"

#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd

int dp_l4_parse(const uint8_t *f, size_t len, struct dp_l4_info *info)
{
	size_t off = 12;
	uint8_t proto;

	memset(info, 0, sizeof(*info));
	if (len < 14)
		return -EINVAL;
	uint16_t type = dp_be16_get(f + off);
	for (int tags = 0; (type == ETH_VLAN || type == ETH_QINQ) && tags < 2; tags++) {
		off += 4;
		if (len < off + 2)
			return -EINVAL;
		type = dp_be16_get(f + off);
	}
	off += 2;
	info->l3off = (uint16_t)off;

	if (type == ETH_IPV4) {
		if (len < off + 20 || f[off] >> 4 != 4)
			return -EINVAL;
		size_t ihl = (size_t)(f[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return -EINVAL;
		if (dp_be16_get(f + off + 6) & 0x3fff) /* MF or a fragment offset */
			return -EINVAL;
		proto = f[off + 9];
		off += ihl;
	} else if (type == ETH_IPV6) {
		if (len < off + 40 || f[off] >> 4 != 6)
			return -EINVAL;
		info->v6 = 1;
		proto = f[off + 6];
		off += 40;
		/* Hop-by-hop and destination options only: a routing header
		 * would change the pseudo-header's destination, a fragment
		 * header makes segmenting meaningless. */
		while (proto == 0 || proto == 60) {
			if (len < off + 8)
				return -EINVAL;
			proto = f[off];
			off += ((size_t)f[off + 1] + 1) * 8;
		}
	} else {
		return -EINVAL;
	}
	if (off > 0xffff)
		return -EINVAL;
	info->l4off = (uint16_t)off;
	info->proto = proto;
	if (proto == IPPROTO_TCP) {
		if (len < off + 20)
			return -EINVAL;
		size_t doff = (size_t)(f[off + 12] >> 4) * 4;
		if (doff < 20 || len < off + doff || off + doff > 0xffff)
			return -EINVAL;
		info->hdrlen = (uint16_t)(off + doff);
		info->csum_off = 16;
	} else if (proto == IPPROTO_UDP) {
		if (len < off + 8 || off + 8 > 0xffff)
			return -EINVAL;
		info->hdrlen = (uint16_t)(off + 8);
		info->csum_off = 6;
	} else {
		return -EINVAL;
	}
	return 0;
}

int dp_gso_parse(const struct virtio_net_hdr *vh, const uint8_t *f, size_t len, size_t max_seg,
		 struct dp_l4_info *info)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool needs_csum = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;

	memset(info, 0, sizeof(*info));
	if (vh->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		if (!needs_csum)
			return 0;
		/* Any protocol may ask for a checksum (the kernel only does for
		 * TCP/UDP, but the header is all we know): bounds only. */
		if ((size_t)vh->csum_start + vh->csum_offset + 2 > len || vh->csum_offset & 1 ||
		    vh->csum_start & 1)
			return -EINVAL;
		info->csum = 1;
		info->l4off = vh->csum_start;
		info->csum_off = (uint8_t)vh->csum_offset;
		if (vh->csum_offset > 0xff)
			return -EINVAL;
		return 0;
	}
	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EINVAL;
	if (!needs_csum || vh->gso_size == 0 || vh->gso_size >= len)
		return -EINVAL;
	if (dp_l4_parse(f, len, info) < 0)
		return -EINVAL;
	bool tcp = type != VIRTIO_NET_HDR_GSO_UDP_L4;
	if (info->proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV4 && info->v6) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && !info->v6))
		return -EINVAL;
	if (vh->csum_start != info->l4off || vh->csum_offset != info->csum_off)
		return -EINVAL;
	if (len <= info->hdrlen)
		return -EINVAL;
	if ((size_t)info->hdrlen + vh->gso_size > max_seg)
		return -EMSGSIZE;
	info->mss = vh->gso_size;
	info->csum = 1;
	return 0;
}

unsigned dp_gso_count(const struct dp_l4_info *info, size_t len)
{
	if (!info->mss)
		return 1;
	size_t payload = len - info->hdrlen;
	return (unsigned)((payload + info->mss - 1) / info->mss);
}

size_t dp_gso_segment(const struct dp_l4_info *info, const uint8_t *f, size_t len, unsigned k,
		      uint8_t *out)
{
	size_t payload = len - info->hdrlen;
	size_t start = (size_t)k * info->mss;
	size_t seg = payload - start < info->mss ? payload - start : info->mss;
	bool last = start + seg == payload;
	uint8_t *ip = out + info->l3off, *l4 = out + info->l4off;
	size_t l4len = info->hdrlen - info->l4off + seg;

	memcpy(out, f, info->hdrlen);
	memcpy(out + info->hdrlen, f + info->hdrlen + start, seg);

	if (info->v6) {
		dp_be16_put(ip + 4, (uint16_t)(info->hdrlen - info->l3off - 40 + seg));
	} else {
		size_t ihl = (size_t)(ip[0] & 0xf) * 4;
		dp_be16_put(ip + 2, (uint16_t)(info->hdrlen - info->l3off + seg));
		dp_be16_put(ip + 4, (uint16_t)(dp_be16_get(f + info->l3off + 4) + k));
		ip[10] = ip[11] = 0;
		uint16_t c = dp_csum_finish(dp_csum_add(0, ip, ihl));
		memcpy(ip + 10, &c, 2);
	}
	if (info->proto == IPPROTO_TCP) {
		dp_be32_put(l4 + 4, dp_be32_get(f + info->l4off + 4) + (uint32_t)start);
		if (k > 0)
			l4[13] &= (uint8_t)~DP_TCP_CWR;
		if (!last)
			l4[13] &= (uint8_t) ~(DP_TCP_FIN | DP_TCP_PSH);
	} else {
		dp_be16_put(l4 + 4, (uint16_t)l4len);
	}
	l4[info->csum_off] = l4[info->csum_off + 1] = 0;
	uint64_t sum = dp_csum_pseudo(ip, info->v6, info->proto, (uint32_t)l4len);
	uint16_t c = dp_csum_finish(dp_csum_add(sum, l4, l4len));
	if (c == 0 && info->proto == IPPROTO_UDP)
		c = 0xffff;
	memcpy(l4 + info->csum_off, &c, 2);
	return info->hdrlen + seg;
}

void dp_gso_csum_finish(const struct dp_l4_info *info, uint8_t *f, size_t len)
{
	/* The field holds the pseudo-header sum: summing over it finishes. */
	uint16_t c = dp_csum_finish(dp_csum_add(0, f + info->l4off, len - info->l4off));
	if (c == 0)
		c = 0xffff; /* as skb_checksum_help: 0 means "none" to UDP */
	memcpy(f + info->l4off + info->csum_off, &c, 2);
}
