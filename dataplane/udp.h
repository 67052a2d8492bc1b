/* The underlay side of the kernel backend: one UDP socket per worker on the
 * instance's port (SO_REUSEPORT group), batched with recvmmsg/sendmmsg, with
 * UDP GSO and GRO when the kernel has them (docs/offloads.md).
 *
 * Send: consecutive packets of a burst to the same endpoint with the same
 * length (the last of a run may be shorter) go out as one message with a
 * UDP_SEGMENT control message, several such messages per sendmmsg. Receive:
 * with UDP_GRO the kernel may hand over several datagrams of one flow in one
 * buffer with their size in a control message; they are split into pool
 * packets here, before anything else looks at them. Without UDP_GRO,
 * datagrams are received straight into pool packets.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dataplane/offload.h"
#include "dataplane/pkt.h"

union dp_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

#define DP_UDP_GRO_BUFS 32	  /* buffers one recvmmsg fills with UDP_GRO */
#define DP_UDP_GRO_LEN	(1 << 16) /* each holds up to 64 KiB of coalesced datagrams */
#define DP_UDP_GSO_SEGS 64	  /* datagrams per UDP_SEGMENT message */

struct dp_udp_queue {
	int fd;
	int family; /* AF_INET6 (dual-stack) or AF_INET (IPv6 off) */
	bool gso, gro;
	struct mmsghdr msgs[DP_OUT_MAX];
	struct iovec iov[DP_OUT_MAX];
	union dp_sockaddr addrs[DP_OUT_MAX];
	unsigned msg_count[DP_OUT_MAX]; /* tx: packets in each message */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[DP_OUT_MAX];
	/* UDP_GRO receive: rx_n buffers filled by the last recvmmsg, split up
	 * to buffer rx_i, offset rx_off */
	uint8_t *gro_buf;
	struct mmsghdr rmsgs[DP_UDP_GRO_BUFS];
	struct iovec riov[DP_UDP_GRO_BUFS];
	union dp_sockaddr raddrs[DP_UDP_GRO_BUFS];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rctl[DP_UDP_GRO_BUFS];
	unsigned rx_n, rx_i;
	uint32_t rx_off;
	uint16_t rx_seg[DP_UDP_GRO_BUFS];
};

void dp_udp_endpoint_from_sa(const union dp_sockaddr *a, struct net_endpoint *ep);
/* The sockaddr length, or 0 when the socket's family cannot reach ep. */
socklen_t dp_udp_endpoint_to_sa(int family, const struct net_endpoint *ep, union dp_sockaddr *a);

/* A UDP socket bound to the wildcard address of family on port; reuseport:
 * join the group (without it the bind fails if anyone holds the port).
 * Returns the fd or -errno. */
int dp_udp_socket_open(int family, uint16_t port, bool reuseport);

/* Takes fd and enables the offloads o->want allows and the kernel has;
 * fills o->on/why for UDP_GSO and UDP_GRO (the first queue's result is the
 * instance's). 0 or -ENOMEM. */
int dp_udp_queue_init(struct dp_udp_queue *q, int fd, int family, struct dp_offloads *o);
void dp_udp_queue_fini(struct dp_udp_queue *q);

unsigned dp_udp_rx(struct dp_udp_queue *q, struct dp_pool *pool, struct dp_counters *c,
		   struct dp_pkt **pkts, unsigned max);
void dp_udp_tx(struct dp_udp_queue *q, struct dp_pool *pool, struct dp_counters *c,
	       struct dp_pkt **pkts, unsigned n);
