/* Packet descriptors, the per-worker buffer pool, drop reasons and counters.
 *
 * A packet is a descriptor (one cache line) pointing at a buffer of `buf_size`
 * bytes; data starts DP_HEADROOM bytes in so ESP (and, for raw-frame backends
 * later, outer Ethernet/IP/UDP) headers are prepended in place. Buffers are
 * large enough for a jumbo frame (DP_MTU_MAX, the largest MTU ipopd sets or
 * accepts) plus its ESP and Ethernet overhead, so one packet is always one
 * buffer: no chains. Larger units (TAP super-frames, UDP GRO runs) never live
 * in a packet; the backend keeps a few big per-worker buffers for them and
 * cuts them into packets (docs/offloads.md).
 *
 * The descriptor does not own its buffer's memory: a pool hands out
 * descriptors whose `buf` points into memory it was given (dp_pool_init
 * allocates it; a zero-copy backend can point descriptors at UMEM chunks or
 * mbufs instead), which is what issue #10's backends need. Pools are per worker
 * and single-threaded: a buffer is only ever returned to the pool it came
 * from, by the thread that owns that pool.
 */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "util/addr.h"

#define DP_BURST_MAX 64 /* largest rx burst a worker asks for */
/* Largest inner MTU (L3 packet, or switch-mode frame payload) anywhere in
 * ipopd: the `mtu` key's upper bound and the cap of the computed TAP MTU. */
#define DP_MTU_MAX  9000
#define DP_HEADROOM 128
/* Headroom + a DP_MTU_MAX packet + Ethernet and VLAN headers + ESP growth +
 * TURN ChannelData, rounded up to a cache line. */
#define DP_BUF_SIZE  9344
#define DP_LINK_NONE 0xffff
#define DP_OUT_MAX   512 /* a burst may multiply when flooding */

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Every reason a packet can be dropped; each is a counter. Keep names in
 * dp_drop_names (pkt.c) in the same order. */
enum dp_drop {
	DP_DROP_NONE = 0,
	DP_DROP_GARBAGE,	 /* underlay datagram that is not ESP, STUN or control */
	DP_DROP_SHORT,		 /* truncated ESP packet or inner frame */
	DP_DROP_UNKNOWN_SPI,	 /* ESP with an SPI we have no inbound SA for */
	DP_DROP_REPLAY,		 /* sequence number seen before or left of the window */
	DP_DROP_AUTH,		 /* ICV check failed */
	DP_DROP_BAD_TRAILER,	 /* pad length or pad bytes invalid after decryption */
	DP_DROP_BAD_NEXT_HEADER, /* inner protocol does not match the forwarding mode */
	DP_DROP_SRC_CHECK,	 /* inner source address not owned by the sending peer */
	DP_DROP_NO_ROUTE,	 /* no link for the destination (L3) / nothing to flood to */
	DP_DROP_LINK_DOWN,	 /* link has no outbound SA */
	DP_DROP_SEQ_EXHAUSTED,	 /* outbound SA ran out of sequence numbers (needs rekey) */
	DP_DROP_TOO_BIG,	 /* inner frame larger than the overlay MTU allows */
	DP_DROP_NOT_IP,		 /* L3 mode: frame from the host that is not IPv4/IPv6/ARP */
	DP_DROP_NO_BUFFER,	 /* pool empty or output burst full */
	DP_DROP_RING_FULL,	 /* punt/learn ring to the control core full */
	DP_DROP_HOST_TX,	 /* write to the host side failed */
	DP_DROP_NET_TX,		 /* send on the underlay failed */
	DP_DROP_NOT_RELAY,	 /* TURN ChannelData from an address that is not our TURN server */
	DP_DROP_CHANNEL_LEN,	 /* ChannelData whose length field does not match the datagram */
	DP_DROP_BAD_VNET_HDR,	 /* TAP frame whose virtio-net header cannot be honoured */
	/* Structured overlay (#11, docs/topology.md) */
	DP_DROP_HOP_LIMIT,     /* forwarded packet's TTL / hop limit / overlay hop count ran out */
	DP_DROP_FWD_SRC,       /* packet to forward whose inner source is not a group member's */
	DP_DROP_FWD_NO_ROUTE,  /* packet to forward whose destination's link is down, no next hop */
	DP_DROP_FWD_DISABLED,  /* packet for another node while multihop is off */
	DP_DROP_FLOOD_HDR,     /* malformed overlay header (ESP next header 253) */
	DP_DROP_STAGE_FULL,    /* stage queue of a pending link (or all slots) full */
	DP_DROP_STAGE_TIMEOUT, /* staged packet whose link did not come up in time */
	DP_DROP_FWD_LOOP,      /* packet to forward whose next hop is the link it came from */
	DP_DROP__MAX
};
extern const char *const dp_drop_names[DP_DROP__MAX];

struct dp_sa;

struct dp_pkt {
	uint8_t *data;
	uint16_t len;
	uint8_t drop;	   /* enum dp_drop; DP_DROP_NONE while the packet lives */
	uint8_t next_hdr;  /* ESP next header of the inner packet (4, 41, 143) */
	uint16_t link;	   /* index into the current table's links: rx source or tx destination */
	uint16_t buf_size; /* bytes at buf */
	struct dp_sa *sa;  /* SA used for this packet (set by lookup/encap) */
	uint8_t *buf;	   /* start of the buffer (headroom included) */
	struct net_endpoint peer; /* rx: underlay source; tx: underlay destination */
} __attribute__((aligned(64)));

struct dp_pool {
	struct dp_pkt *mem;
	struct dp_pkt **stack;
	uint8_t *bufs;
	uint32_t size;
	uint32_t avail;
};

/* Allocates n descriptors and n DP_BUF_SIZE buffers (hugepage-friendly; the
 * buffers' pages are only touched when used). 0 or -ENOMEM. */
int dp_pool_init(struct dp_pool *pool, uint32_t n);
/* The same with buffer i at bufs + i * stride (stride >= DP_BUF_SIZE): the
 * af_xdp backend puts each buffer on its own 4 KiB pages so that the pool can
 * be its UMEM (xsk.h). 0, -ENOMEM or -EINVAL. */
int dp_pool_init_stride(struct dp_pool *pool, uint32_t n, uint32_t stride);
void dp_pool_fini(struct dp_pool *pool);

static inline void dp_pkt_reset(struct dp_pkt *p)
{
	p->data = p->buf + DP_HEADROOM;
	p->len = 0;
	p->drop = DP_DROP_NONE;
	p->next_hdr = 0;
	p->link = DP_LINK_NONE;
	p->sa = NULL;
}

/* Points a descriptor that no pool owns at size bytes of buffer (tests,
 * tools; a backend with its own buffer memory does the same). */
static inline void dp_pkt_attach(struct dp_pkt *p, uint8_t *buf, uint16_t size)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->buf_size = size;
	dp_pkt_reset(p);
}

static inline struct dp_pkt *dp_pool_get(struct dp_pool *pool)
{
	if (unlikely(pool->avail == 0))
		return NULL;
	struct dp_pkt *p = pool->stack[--pool->avail];
	dp_pkt_reset(p);
	return p;
}

static inline void dp_pool_put(struct dp_pool *pool, struct dp_pkt *p)
{
	pool->stack[pool->avail++] = p;
}

static inline void dp_pool_put_bulk(struct dp_pool *pool, struct dp_pkt **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pool->stack[pool->avail++] = pkts[i];
}

static inline size_t dp_pkt_headroom(const struct dp_pkt *p)
{
	return (size_t)(p->data - p->buf);
}

static inline size_t dp_pkt_tailroom(const struct dp_pkt *p)
{
	return p->buf_size - dp_pkt_headroom(p) - p->len;
}

/* Per-worker counters. Written only by the owning worker (DP_COUNT), read by
 * the control core with relaxed atomic loads (dp_counters_add_into). */
struct dp_counters {
	uint64_t host_rx_packets, host_rx_bytes;
	uint64_t host_tx_packets, host_tx_bytes;
	uint64_t net_rx_packets, net_rx_bytes;
	uint64_t net_tx_packets, net_tx_bytes;
	uint64_t punted;       /* control/STUN datagrams handed to the control core */
	uint64_t arp_replies;  /* ARP requests answered locally (L3; switch: known hosts) */
	uint64_t nd_replies;   /* L3: neighbour solicitations answered locally */
	uint64_t icmp_too_big; /* L3: packets over the MTU answered with ICMP(v6) too big */
	uint64_t flooded;      /* L2: copies sent because of broadcast/unknown unicast */
	uint64_t learn_events; /* L2: MAC learn events queued to the control core */
	uint64_t tables;       /* forwarding tables adopted */
	uint64_t loops, idle_sleeps;
	uint64_t keepalives;  /* ESP dummy packets (next header 59) received and discarded */
	uint64_t injected;    /* control core's datagrams sent from the inject ring */
	uint64_t roam_events; /* authenticated packets from a new address, reported */
	/* Offloads (docs/offloads.md) */
	uint64_t tap_superframes_in;  /* TAP reads that carried a GSO super-frame */
	uint64_t tap_segments_in;     /* packets cut from those super-frames */
	uint64_t tap_superframes_out; /* super-frames written to the TAP (userspace GRO) */
	uint64_t tap_coalesced;	      /* packets merged into those super-frames */
	uint64_t udp_gso_sends;	      /* sendmsg calls carrying a UDP_SEGMENT run */
	uint64_t udp_gso_segments;    /* datagrams in those runs */
	uint64_t udp_gro_reads;	      /* received buffers holding several datagrams (UDP_GRO) */
	uint64_t udp_gro_segments;    /* datagrams split out of them */
	/* TSC cycles spent in loop iterations that handled packets (worker.c):
	 * busy_cycles / (host_rx + net_rx + injected) is cycles per packet. */
	uint64_t busy_cycles;
	/* Structured overlay (docs/topology.md) */
	uint64_t forwarded;	/* packets from a peer re-encrypted to another peer */
	uint64_t flood_relayed; /* switch mode: ring-flood copies relayed for another origin */
	uint64_t staged;	/* packets held for a link without SA (stage queue) */
	uint64_t stage_flushed; /* staged packets sent once their link had an SA */
	uint64_t drops[DP_DROP__MAX];
} __attribute__((aligned(64)));

#define DP_COUNT(c, field, n) __atomic_store_n(&(c)->field, (c)->field + (n), __ATOMIC_RELAXED)
#define DP_COUNT_DROP(c, reason)                                                                   \
	__atomic_store_n(&(c)->drops[reason], (c)->drops[reason] + 1, __ATOMIC_RELAXED)

/* sum += snapshot of c (relaxed loads: safe while the worker runs). */
void dp_counters_add_into(struct dp_counters *sum, const struct dp_counters *c);

/* Removes the packets marked with a drop reason from pkts (order kept),
 * counts each reason and returns them to the pool. Returns the new count. */
unsigned dp_burst_compact(struct dp_pkt **pkts, unsigned n, struct dp_pool *pool,
			  struct dp_counters *c);
