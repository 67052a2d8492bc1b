/* Userspace GRO for frames bound to the TAP (docs/offloads.md).
 *
 * Decrypted TCP segments of one flow that arrive in one burst, in sequence,
 * with the same headers (addresses, ports, ack, options, IP fields), are
 * chained into one unit written to the TAP as a super-frame: the first
 * packet's headers (IP length, TCP flags, partial checksum rewritten) and the
 * payloads of the others, with a virtio-net header of type TCPV4/TCPV6,
 * gso_size = the first segment's payload and NEEDS_CSUM. The kernel then
 * moves the run through its stack as one skb. The merge rules follow the
 * kernel's tcp_gro_receive: a segment with CWR starts a new run, one with
 * PSH/FIN ends the run it joins, a short segment ends its run, SYN/RST/URG and
 * segments without payload are never merged. With `udp` set (the kernel
 * takes UDP_L4 super-frames from a TAP, Linux >= 6.2, which is when it has
 * USO), UDP datagrams of one flow are merged likewise into a UDP_L4
 * super-frame: equal payloads (a shorter one only last), the same IP fields,
 * IPv4 ids counting up by one, so the kernel's USO gives back the very
 * datagrams. Everything else is a unit of one packet, written as it came
 * (TCP/UDP with DATA_VALID: its checksum was made by the sending gateway and
 * the ESP ICV vouches for every byte since).
 *
 * dp_gro_build only plans: it rewrites headers of the packets that head a
 * run and fills units; the backend writes them (writev of the units'
 * packets, all but the first without their headers).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/gso.h"
#include "dataplane/pkt.h"

#define DP_GRO_SEGS_MAX	 64 /* packets per super-frame */
#define DP_GRO_FLOWS_MAX 8  /* runs open at once within a burst */

struct dp_gro_unit {
	struct virtio_net_hdr vh;
	uint16_t head;	 /* index of the first packet */
	uint16_t count;	 /* packets in the unit, chained through dp_gro.next */
	uint16_t hdrlen; /* header bytes to skip in every packet after the first */
};

struct dp_gro_run {
	uint16_t unit, last;
	uint32_t next_seq;
	uint32_t bytes; /* payload bytes so far */
	uint8_t flags;	/* FIN/PSH seen on merged segments */
	uint32_t age;
	struct dp_l4_info info;
};

struct dp_gro {
	bool udp; /* merge UDP too (the TAP takes UDP_L4 super-frames: Linux >= 6.2) */
	unsigned nunits;
	struct dp_gro_unit units[DP_OUT_MAX];
	uint16_t next[DP_OUT_MAX];
	unsigned nruns;
	struct dp_gro_run runs[DP_GRO_FLOWS_MAX];
};

/* Plans the writes of n (<= DP_OUT_MAX) Ethernet frames. Units come out in
 * the order of their first packets, so every flow keeps its order. */
void dp_gro_build(struct dp_gro *g, struct dp_pkt *const *pkts, unsigned n);
