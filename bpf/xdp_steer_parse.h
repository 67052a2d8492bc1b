/* Header parsing for the steering program: each step checks the bounds of
 * what it reads against data_end first, so the verifier accepts every access
 * and a truncated frame ends as "truncated", never as a read past its end. */
#pragma once
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The frame being parsed and how far we got. */
struct cursor {
	void *pos;
	void *end;
};

#define IP_MF	  0x2000
#define IP_OFFSET 0x1fff

/* Returns the Ethernet type in network order, or -1 when truncated. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	return eth->h_proto;
}

/* IPv4 header with its options (IHL). Returns the header or NULL with
 * *why set to the counter that explains the pass. */
static __always_inline struct iphdr *parse_ipv4(struct cursor *c, __u32 *why)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;

	if ((void *)(ip + 1) > c->end) {
		*why = XDP_STEER_PASS_TRUNCATED;
		return NULL;
	}
	hlen = ip->ihl * 4;
	if (ip->version != 4 || hlen < sizeof(*ip)) {
		*why = XDP_STEER_PASS_BAD_IP;
		return NULL;
	}
	if (c->pos + hlen > c->end) {
		*why = XDP_STEER_PASS_TRUNCATED;
		return NULL;
	}
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		*why = XDP_STEER_PASS_FRAGMENT;
		return NULL;
	}
	if (ip->protocol != IPPROTO_UDP) {
		*why = XDP_STEER_PASS_NOT_UDP;
		return NULL;
	}
	c->pos += hlen;
	return ip;
}

/* Fixed IPv6 header; any extension header (fragment included) passes: the
 * kernel reassembles and walks them, and the kernel socket of the port gets
 * the datagram (the backend keeps one bound as its slow path). */
static __always_inline struct ipv6hdr *parse_ipv6(struct cursor *c, __u32 *why)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > c->end) {
		*why = XDP_STEER_PASS_TRUNCATED;
		return NULL;
	}
	if (ip6->version != 6) {
		*why = XDP_STEER_PASS_BAD_IP;
		return NULL;
	}
	switch (ip6->nexthdr) {
	case IPPROTO_UDP:
		break;
	case IPPROTO_FRAGMENT:
		*why = XDP_STEER_PASS_FRAGMENT;
		return NULL;
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* Shim6 */
		*why = XDP_STEER_PASS_IPV6_EXT;
		return NULL;
	default:
		*why = XDP_STEER_PASS_NOT_UDP;
		return NULL;
	}
	c->pos = ip6 + 1;
	return ip6;
}

static __always_inline struct udphdr *parse_udp(struct cursor *c)
{
	struct udphdr *udp = c->pos;

	if ((void *)(udp + 1) > c->end)
		return NULL;
	c->pos = udp + 1;
	return udp;
}
