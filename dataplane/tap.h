/* The TAP side of a worker: one queue of a multi-queue TAP, with the
 * virtio-net header when an offload needs it (docs/offloads.md).
 *
 * Reads: with TSO/USO on, one read() may return a 64 KiB super-frame; it
 * lands in the queue's own big buffer and is cut (gso.h) into pool packets,
 * as many per call as the caller has room for; the rest stays pending for
 * the next call, so a burst never holds more than it asked for. A plain frame
 * is read straight into a pool packet. Writes: with GRO on, each burst is
 * planned by gro.h and written as super-frames with writev (no copy).
 *
 * Shared by every backend whose host side is a TAP (kernel today, af_xdp
 * later): nothing here knows about the underlay.
 */
#pragma once
#include <stdbool.h>
#include <net/if.h>
#include <sys/uio.h>

#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "dataplane/offload.h"
#include "dataplane/pkt.h"

struct dp_tap_queue {
	int fd;
	bool vnet;     /* IFF_VNET_HDR: every read and write carries a virtio_net_hdr */
	bool coalesce; /* GRO: coalesce on write */
	/* a super-frame being cut: big[0..sf_len), segment sf_next of sf_count */
	struct dp_l4_info sf_info;
	uint32_t sf_len;
	unsigned sf_next, sf_count;
	uint8_t *big;
	struct virtio_net_hdr vh;
	struct iovec iov[DP_GRO_SEGS_MAX + 2];
	struct dp_gro gro;
};

/* Opens one queue; the first creates the device exclusively and learns its
 * final name (name may be a "%d" template). vnet: with IFF_VNET_HDR. Returns
 * the fd or -errno. */
int dp_tap_queue_open(char name[IFNAMSIZ], bool first, bool vnet);

/* Sets the device's offloads (TUNSETOFFLOAD on any queue) from o->want[TSO,
 * USO], probing what the kernel accepts; fills o->on/why for TSO and USO. */
void dp_tap_offload_set(int fd, struct dp_offloads *o);

/* Allocates q's buffers around an open fd. 0 or -ENOMEM. */
int dp_tap_queue_init(struct dp_tap_queue *q, int fd, bool vnet, bool gro);
void dp_tap_queue_fini(struct dp_tap_queue *q);

unsigned dp_tap_rx(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_counters *c,
		   struct dp_pkt **pkts, unsigned max);
/* Writes and returns every packet to the pool; counts host_tx_* and drops. */
void dp_tap_tx(struct dp_tap_queue *q, struct dp_pool *pool, struct dp_counters *c,
	       struct dp_pkt **pkts, unsigned n);
