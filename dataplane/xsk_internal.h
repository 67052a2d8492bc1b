/* What xsk.c (setup, status) and xsk_io.c (the worker's side) share. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <xdp/xsk.h>

#include "bpf/loader/xdp_prog.h"
#include "dataplane/backend.h"
#include "dataplane/kernel.h"
#include "dataplane/nexthop.h"
#include "dataplane/xsk.h"

struct xsk_backend;

/* Counters of one queue, written by its worker (relaxed), read by status. */
struct xsk_io_stats {
	uint64_t rx_frames, rx_bad; /* from the RX ring; of which malformed */
	uint64_t tx_frames;	    /* put on the TX ring */
	uint64_t tx_ring_full;	    /* dropped: TX ring full */
	uint64_t tx_slow, rx_slow;  /* through the kernel socket */
	uint64_t nh_wait;	    /* of tx_slow: next hop not resolved (yet) */
	uint64_t kicks;		    /* sendto/recvfrom wakeups */
};

struct xsk_io {
	struct dp_kernel_io *kio; /* this queue's TAP queue and slow-path socket */
	struct xsk_backend *x;
	unsigned queue;
	struct dp_pool pool; /* built at open; moved into the worker by pool_init */
	uint8_t *area;	     /* the pool's buffers = the UMEM */
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	int fd;
	bool zerocopy;
	unsigned in_fill; /* buffers on the fill ring or in the kernel's hands */
	unsigned in_tx;	  /* frames on the TX ring or not completed yet */
	uint16_t ip_id;
	struct xsk_io_stats st;
	struct dp_pkt *slow[DP_OUT_MAX]; /* net_tx: the burst's kernel-socket part */
	struct dp_pkt *fast[DP_OUT_MAX]; /* net_tx: its AF_XDP part */
} __attribute__((aligned(64)));

struct xsk_backend {
	struct dp_backend kb; /* the kernel backend underneath */
	char ifname[IFNAMSIZ];
	int ifindex;
	uint16_t port; /* network order, for the UDP header */
	struct xdp_prog *prog;
	enum xdp_prog_mode mode;
	struct dp_nh_table nh;
	unsigned nqueues;
	struct xsk_io **io;
};

/* xsk_io.c: the per-worker functions of dp_xsk_ops. */
int xsk_io_pool_init(void *io, struct dp_pool *pool);
/* Puts buffers of the queue's own pool on its fill ring, before the XSK map
 * steers anything to the socket: the first frames must find a buffer (a
 * fill ring still empty when the worker starts drops them). */
void xsk_io_prefill(struct xsk_io *io);
void xsk_io_pool_fini(void *io, struct dp_pool *pool);
unsigned xsk_io_host_rx(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
			unsigned max);
void xsk_io_host_tx(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		    unsigned n);
unsigned xsk_io_net_rx(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned max);
void xsk_io_net_tx(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		   unsigned n);
int xsk_io_wait(void *io, int wake_fd, int timeout_ms);
