/* What the XDP steering program and its userspace loader share: the layout of
 * the settings in .rodata, the counter indices and the limits.
 *
 * Included by bpf/xdp_steer.bpf.c (clang -target bpf) and by
 * bpf/loader/xdp_prog.c, so only fixed-width kernel types (linux/types.h).
 */
#pragma once
#include <linux/types.h>

/* Addresses per family the program compares the destination with. */
#define XDP_STEER_MAX_ADDRS 4
/* Upper bound of the XSK map (one slot per receive queue). */
#define XDP_STEER_MAX_QUEUES 64

/* The settings, one `const volatile` object in .rodata written by the loader
 * before load, so the verifier sees constants and prunes the unused branches.
 * Addresses and the port are in network byte order, as on the wire. */
struct xdp_steer_cfg {
	__be32 v4[XDP_STEER_MAX_ADDRS];
	__be32 v6[XDP_STEER_MAX_ADDRS][4];
	__u32 n_v4;	/* used entries of v4 */
	__u32 n_v6;	/* used entries of v6 */
	__u32 n_queues; /* queues with a socket slot; higher queues pass */
	__be16 port;	/* the instance's UDP port; 0 steers nothing */
	__u8 any_addr;	/* 1: any destination address (socket bound to ::/0.0.0.0) */
	__u8 pad;
};

/* Counter indices of the per-CPU counter array. */
enum xdp_steer_counter {
	XDP_STEER_STEERED = 0,	    /* redirected into an AF_XDP socket */
	XDP_STEER_PASS_NOT_IP,	    /* ARP, LLDP, anything not IPv4/IPv6 */
	XDP_STEER_PASS_VLAN,	    /* 802.1Q / 802.1ad tagged */
	XDP_STEER_PASS_TRUNCATED,   /* a header ends beyond the frame */
	XDP_STEER_PASS_BAD_IP,	    /* IPv4 IHL < 5 or a version mismatch */
	XDP_STEER_PASS_FRAGMENT,    /* IPv4 or IPv6 fragment: the kernel reassembles */
	XDP_STEER_PASS_IPV6_EXT,    /* IPv6 extension headers (not parsed here) */
	XDP_STEER_PASS_NOT_UDP,	    /* TCP, ICMP, ... */
	XDP_STEER_PASS_OTHER_PORT,  /* UDP to another port */
	XDP_STEER_PASS_OTHER_ADDR,  /* our port, another destination address */
	XDP_STEER_PASS_QUEUE_RANGE, /* received on a queue >= n_queues */
	XDP_STEER_PASS_NO_SOCKET,   /* our traffic, but no socket on this queue */
	XDP_STEER_COUNTERS
};
