/* The `dpdk` backend: DPDK ethdev ports polled by the workers.
 *
 * One underlay port (any PMD: a PCI NIC, net_af_packet, net_af_xdp, net_tap)
 * carries raw Ethernet/IPv4/UDP frames: ipopd owns its underlay address on
 * it, answers ARP for it and resolves next hops by ARP itself (the kernel
 * does not see the port). The host side is a net_tap (to the kernel's bridge
 * or routing) and/or net_vhost ports, vhost-user sockets a VM's virtio-net
 * attaches to; several host ports form a small learning switch of their own.
 *
 * Zero copy: every descriptor of a worker's pool (pkt.h) always carries one
 * mbuf of the backend's mempool (dp_dpdk_attach_pool points them there).
 * Receiving swaps the descriptor's spare mbuf for the received one; sending
 * hands the mbuf to the PMD, which frees it whenever its completion comes,
 * and gives the descriptor a fresh one. Data is never copied but by the
 * crypto, flood copies and vhost (which copies to and from guest memory by
 * design).
 *
 * Threads: EAL is initialised once, on the control core; workers stay our
 * own pthreads and register with EAL on their first burst (an lcore id, so
 * the mempool's per-lcore cache works). Queue q of every port belongs to
 * worker q alone.
 */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/backend.h"
#include "dataplane/pkt.h"

#define DP_DPDK_HOST_MAX  9 /* one net_tap + up to 8 vhost-user ports */
#define DP_DPDK_ARG_MAX	  48
#define DP_DPDK_NEIGH_MAX 256
#define DP_DPDK_LFDB_MAX  1024
#define DP_DPDK_HDR_LEN	  42 /* outer Ethernet + IPv4 + UDP */

/* The dpdk backend's own settings (the config's ipopd.dpdk, docs/dpdk.md),
 * handed to dp_backend_open() as dp_backend_config.ext; the worker count,
 * UDP port and TAP name come from dp_backend_config itself. Strings are
 * copied at open. */
struct dp_dpdk_params {
	const char *eal_args[DP_DPDK_ARG_MAX]; /* argv[1..] as configured */
	unsigned n_eal_args;
	char file_prefix[32]; /* default --file-prefix (unless the args say otherwise) */
	const char *underlay_port;
	uint32_t ip4, gateway; /* network order; gateway 0 = none */
	unsigned plen;
	const char *host_port; /* devargs or "" */
	const char *vhost_ports[DP_DPDK_HOST_MAX];
	unsigned n_vhost_ports;
	unsigned queues;    /* 0 = one per worker */
	unsigned mbufs;	    /* 0 = computed */
	unsigned pool_size; /* descriptors per worker pool; 0 = 4096 */
};

enum dp_dpdk_kind { DP_DPDK_UNDERLAY, DP_DPDK_TAP, DP_DPDK_VHOST };

struct dp_dpdk_port {
	uint16_t id;
	enum dp_dpdk_kind kind;
	bool probed, configured, started;
	char devargs[288];
	char name[64];	       /* the ethdev name (devargs up to the first comma) */
	char ifname[IFNAMSIZ]; /* net_tap: the kernel interface */
	uint8_t mac[6];
	const char *driver;
};

/* Shared by the workers: written with atomics, never locked. */
struct dp_dpdk_neigh {
	_Atomic uint32_t ip;	    /* network order; 0 = free slot */
	_Atomic uint64_t mac;	    /* bit 63: resolved; low 48 bits the MAC */
	_Atomic uint64_t asked_tsc; /* last ARP request sent for it */
};
struct dp_dpdk_lfdb {
	_Atomic uint64_t key; /* bit 63 | MAC; 0 = free */
	_Atomic uint8_t port; /* index into host[] */
};

struct dp_dpdk_io; /* per worker, private to dpdk.c */

struct dp_dpdk_stats {
	uint64_t arp_requests_in, arp_replies_out, arp_requests_out, arp_replies_in;
	uint64_t neigh_miss;	 /* frames dropped while the next hop was resolved */
	uint64_t not_ours;	 /* underlay frames for another address, port or protocol */
	uint64_t fragments;	 /* IPv4 fragments to our port: dropped */
	uint64_t icmp_echo;	 /* pings to our underlay address, answered */
	uint64_t local_switched; /* frames between host ports, not through the overlay */
	uint64_t host_copies;	 /* flood copies to host ports */
	uint64_t multiseg;	 /* chained mbufs (larger than one buffer): dropped */
	uint64_t tx_full;	 /* frames a PMD would not take */
	/* TSC cycles inside the backend's burst calls that moved packets (per
	 * burst, not per packet): the rest of the worker's busy_cycles is the
	 * pipeline (classify, lookup, crypto) and the loop. */
	uint64_t cycles_host_rx, cycles_host_tx, cycles_net_rx, cycles_net_tx;
};

struct dp_dpdk {
	bool eal;
	struct rte_mempool *mp;
	unsigned nqueues, nworkers;
	struct dp_dpdk_port net;
	struct dp_dpdk_port host[DP_DPDK_HOST_MAX];
	unsigned nhost;
	char tap_name[IFNAMSIZ]; /* the net_tap host port's interface, "" without one */
	uint32_t ip4, gateway, mask;
	uint16_t udp_port;
	unsigned pool_size;
	uint64_t tsc_hz;
	struct dp_dpdk_neigh neigh[DP_DPDK_NEIGH_MAX];
	struct dp_dpdk_lfdb lfdb[DP_DPDK_LFDB_MAX];
	struct dp_dpdk_io **io; /* nqueues entries: hand io[i] to worker i */
};

/* The backend (backend.h): open takes dp_backend_config.ext as a struct
 * dp_dpdk_params. On error nothing is left behind (ports closed, TAP and
 * vhost-user sockets gone, EAL cleaned up) and err says what to fix. */
extern const struct dp_backend_ops dp_dpdk_ops;

/* ---- dpdk_backend.c: the ops of the control core ---- */

int dp_dpdk_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
			 size_t errlen);
void dp_dpdk_backend_close(struct dp_backend *b);
void dp_dpdk_backend_status(struct dp_backend *b, const struct dp_counters *sum,
			    struct dp_backend_status *st);

/* ---- dpdk_port.c: setup, teardown, port counters ---- */

int dp_dpdk_open(struct dp_dpdk *d, const struct dp_dpdk_params *p, unsigned nworkers,
		 uint16_t udp_port, char *err, size_t errlen);
void dp_dpdk_close(struct dp_dpdk *d);
/* The worker's pool: descriptors only, each with an mbuf of the backend. */
int dp_dpdk_pool_init(void *io, struct dp_pool *pool);
void dp_dpdk_pool_fini(void *io, struct dp_pool *pool);
struct dp_dpdk_port_counters {
	uint64_t ipackets, opackets, ibytes, obytes, imissed, errors, rx_nombuf;
	bool link_up;
};
int dp_dpdk_port_counters(const struct dp_dpdk_port *port, struct dp_dpdk_port_counters *out);
/* Sum of the workers' backend counters (relaxed loads). */
void dp_dpdk_stats_read(const struct dp_dpdk *d, struct dp_dpdk_stats *out);

/* ---- dpdk_eal.c ---- */

/* rte_eal_init with the configured arguments plus defaults ipopd needs
 * (--file-prefix unless --in-memory/--file-prefix given, an lcore list of
 * the calling thread's first CPU unless given, log level notice). The
 * calling thread's CPU affinity is restored afterwards, so workers are not
 * all pinned to the main lcore. 0 or -errno with a one-line hint in err. */
int dp_dpdk_eal_init(const struct dp_dpdk_params *p, char *err, size_t errlen);
void dp_dpdk_eal_fini(void);

/* ---- dpdk_eth.c: the underlay's raw frames ---- */

/* The pure part (no mbuf, no EAL: unit tests and fuzzing use it). */
enum dp_dpdk_verdict {
	DP_DPDK_FRAME_DROP,  /* counted (not ours, fragment, malformed) or consumed (ARP learned) */
	DP_DPDK_FRAME_DATA,  /* UDP to our address and port: off/len/from */
	DP_DPDK_FRAME_REPLY, /* rewritten in place into an ARP or echo reply of len bytes */
};
struct dp_dpdk_frame {
	uint16_t off, len;
	struct net_endpoint from;
};
/* One received frame of avail bytes at f (writable). */
enum dp_dpdk_verdict dp_dpdk_frame_input(struct dp_dpdk *d, struct dp_dpdk_stats *s, uint8_t *f,
					 unsigned avail, struct dp_dpdk_frame *out);
/* The next hop's MAC for `to`: 0, or -EAFNOSUPPORT/-ENETUNREACH (no route)
 * /-ENOSPC (table full) /-EAGAIN (not resolved; *ask = the address to send
 * an ARP request for now, 0 = one was sent less than 100 ms ago). */
int dp_dpdk_next_hop(struct dp_dpdk *d, struct dp_dpdk_stats *s, const struct net_endpoint *to,
		     uint8_t mac[6], uint32_t *ask);
/* Writes Ethernet/IPv4/UDP (DP_DPDK_HDR_LEN bytes) before data; returns the
 * frame start. */
uint8_t *dp_dpdk_frame_encap(const struct dp_dpdk *d, uint8_t *data, uint16_t len,
			     const struct net_endpoint *to, const uint8_t mac[6], uint16_t ip_id);
/* A broadcast ARP request for tip into buf (42 bytes); returns its length. */
unsigned dp_dpdk_arp_request_build(const struct dp_dpdk *d, uint8_t *buf, uint32_t tip);

struct rte_mbuf;
/* Classifies one received underlay frame. Returns the UDP payload offset
 * when the frame is UDP to our address and port (*len = payload length,
 * *from = outer source), 0 when the frame was consumed (ARP/ICMP handled;
 * it may have been turned into a reply, queued in reply[]/nreply) or is not
 * ours (counted). */
unsigned dp_dpdk_eth_input(struct dp_dpdk *d, struct dp_dpdk_stats *s, struct rte_mbuf *m,
			   uint16_t *len, struct net_endpoint *from, struct rte_mbuf **reply,
			   unsigned *nreply);
/* Prepends Ethernet/IPv4/UDP before data (len bytes of UDP payload, in m's
 * buffer) towards to. Returns the frame start, or NULL (no route, next hop
 * unresolved: an ARP request is queued in reply[] at most every 100 ms). */
uint8_t *dp_dpdk_eth_output(struct dp_dpdk *d, struct dp_dpdk_stats *s, uint8_t *data, uint16_t len,
			    const struct net_endpoint *to, uint16_t *ip_id, struct rte_mbuf **reply,
			    unsigned *nreply);
/* Switch among host ports: learn src of a frame from host port i; the host
 * port index for a destination MAC, or -1 (unknown, multicast). */
void dp_dpdk_lfdb_learn(struct dp_dpdk *d, const uint8_t mac[6], unsigned port);
int dp_dpdk_lfdb_lookup(const struct dp_dpdk *d, const uint8_t mac[6]);
