/* The `kernel` backend: a multi-queue TAP (IFF_TAP | IFF_NO_PI |
 * IFF_MULTI_QUEUE, one queue per worker; tap.h) and one dual-stack UDP socket
 * per worker bound to the same port with SO_REUSEPORT (udp.h), with the TAP
 * and UDP offloads the kernel and the configuration allow (offload.h). */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/backend.h"
#include "dataplane/offload.h"

struct dp_kernel_io; /* per worker, private to kernel.c */

struct dp_kernel {
	char tap_name[IFNAMSIZ]; /* actual name after creation */
	unsigned nqueues;
	uint16_t port;
	struct dp_offloads offloads; /* what is on, and why not */
	struct dp_kernel_io **io;    /* nqueues entries: hand io[i] to worker i */
};

/* Creates the TAP with nqueues queues and nqueues UDP sockets on [::]:port
 * (IPv4 through v4-mapped addresses; falls back to 0.0.0.0 if IPv6 is off).
 * want: the offloads allowed (its want[] is read; NULL = all). 0 or -errno; on
 * error nothing is left open. */
int dp_kernel_open(struct dp_kernel *k, const char *tap_name, unsigned nqueues, uint16_t port,
		   const struct dp_offloads *want);
/* Closes every fd: the TAP disappears with its last queue. */
void dp_kernel_close(struct dp_kernel *k);

/* Sends one datagram from the data port (worker 0's socket) on the calling
 * thread: the control core's fallback when worker 0's inject ring cannot take
 * a datagram (control/underlay.h says when). 0 or -errno. */
int dp_kernel_send_control(struct dp_kernel *k, const struct net_endpoint *to, const void *buf,
			   size_t len);

extern const struct dp_backend_ops dp_kernel_ops;

/* For backends built on this one (af_xdp keeps the TAP and a UDP socket per
 * queue as its host side and slow path): the pieces of dp_kernel_ops. */
int dp_kernel_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
			   size_t errlen);
void dp_kernel_backend_close(struct dp_backend *b);
/* Adds the TAP port (and, with net, the UDP port) to a status. */
void dp_kernel_backend_ports(struct dp_backend *b, const struct dp_counters *sum,
			     struct dp_backend_status *st, bool net);
/* Work held from the last burst that poll cannot see. */
bool dp_kernel_io_pending(const struct dp_kernel_io *io);
int dp_kernel_io_tap_fd(const struct dp_kernel_io *io);
int dp_kernel_io_udp_fd(const struct dp_kernel_io *io);
