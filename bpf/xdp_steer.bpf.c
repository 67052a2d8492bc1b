// SPDX-License-Identifier: MIT
/* XDP program of the af_xdp backend (docs/af_xdp.md).
 *
 * Steers the UDP datagrams of this instance -- destination port `cfg.port`
 * and one of its addresses: ESP-in-UDP, the handshakes behind the non-ESP
 * marker, STUN, TURN ChannelData -- into the AF_XDP socket of the queue they
 * arrived on, through the XSK map. Everything else goes to the kernel
 * untouched (XDP_PASS), and so does our own traffic on a queue without a
 * socket. Every verdict is counted in `counters`.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpf/xdp_steer_abi.h"
#include "bpf/xdp_steer_maps.h"
#include "bpf/xdp_steer_parse.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Set by the loader before load (bpf/loader/xdp_prog.c). */
const volatile struct xdp_steer_cfg cfg = {};

static __always_inline int count(__u32 idx, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &idx);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int v4_is_ours(__be32 daddr)
{
	if (cfg.any_addr)
		return 1;
#pragma unroll
	for (__u32 i = 0; i < XDP_STEER_MAX_ADDRS; i++)
		if (i < cfg.n_v4 && cfg.v4[i] == daddr)
			return 1;
	return 0;
}

static __always_inline int v6_is_ours(const struct in6_addr *daddr)
{
	if (cfg.any_addr)
		return 1;
#pragma unroll
	for (__u32 i = 0; i < XDP_STEER_MAX_ADDRS; i++) {
		if (i >= cfg.n_v6)
			break;
		if (cfg.v6[i][0] == daddr->in6_u.u6_addr32[0] &&
		    cfg.v6[i][1] == daddr->in6_u.u6_addr32[1] &&
		    cfg.v6[i][2] == daddr->in6_u.u6_addr32[2] &&
		    cfg.v6[i][3] == daddr->in6_u.u6_addr32[3])
			return 1;
	}
	return 0;
}

SEC("xdp")
int xdp_steer(struct xdp_md *ctx)
{
	struct cursor c = {(void *)(long)ctx->data, (void *)(long)ctx->data_end};
	__u32 why = XDP_STEER_PASS_TRUNCATED;
	struct udphdr *udp;
	__u32 queue;
	int ours;
	int proto = parse_eth(&c);

	if (proto < 0)
		return count(XDP_STEER_PASS_TRUNCATED, XDP_PASS);
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = parse_ipv4(&c, &why);

		if (!ip)
			return count(why, XDP_PASS);
		ours = v4_is_ours(ip->daddr);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = parse_ipv6(&c, &why);

		if (!ip6)
			return count(why, XDP_PASS);
		ours = v6_is_ours(&ip6->daddr);
	} else if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		return count(XDP_STEER_PASS_VLAN, XDP_PASS);
	} else {
		return count(XDP_STEER_PASS_NOT_IP, XDP_PASS);
	}

	udp = parse_udp(&c);
	if (!udp)
		return count(XDP_STEER_PASS_TRUNCATED, XDP_PASS);
	if (cfg.port == 0 || udp->dest != cfg.port)
		return count(XDP_STEER_PASS_OTHER_PORT, XDP_PASS);
	if (!ours)
		return count(XDP_STEER_PASS_OTHER_ADDR, XDP_PASS);

	queue = ctx->rx_queue_index;
	if (queue >= cfg.n_queues)
		return count(XDP_STEER_PASS_QUEUE_RANGE, XDP_PASS);
	/* An empty slot would make the redirect fail (and fall back to
	 * XDP_PASS); looking first tells the two outcomes apart. */
	if (!bpf_map_lookup_elem(&xsks, &queue))
		return count(XDP_STEER_PASS_NO_SOCKET, XDP_PASS);
	count(XDP_STEER_STEERED, 0);
	return bpf_redirect_map(&xsks, queue, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
