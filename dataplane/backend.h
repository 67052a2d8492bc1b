/* The device side of a worker, as a const function table. A backend owns the
 * per-worker I/O state (`io`): for `kernel`, one TAP queue and one UDP socket.
 * rx functions fill descriptors from the worker's pool and return a count (at
 * most max: a backend that receives larger units, such as TAP super-frames or
 * UDP GRO buffers, keeps the rest for its next call and its wait returns at
 * once while it holds any); the counters are for what only the backend sees
 * (offload units, frames it had to drop whole). A
 * packet they return may already carry a drop reason (a truncated datagram, a
 * TAP frame that filled the buffer): the worker counts and removes those before
 * the pipeline sees the burst. tx functions consume every packet they are given
 * (sent or dropped and counted) and return them to the pool. */
#pragma once
#include "dataplane/pkt.h"

struct dp_backend_ops {
	const char *name;
	unsigned (*host_rx)(void *io, struct dp_pool *pool, struct dp_counters *c,
			    struct dp_pkt **pkts, unsigned max);
	void (*host_tx)(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
			unsigned n);
	unsigned (*net_rx)(void *io, struct dp_pool *pool, struct dp_counters *c,
			   struct dp_pkt **pkts, unsigned max);
	void (*net_tx)(void *io, struct dp_pool *pool, struct dp_counters *c, struct dp_pkt **pkts,
		       unsigned n);
	/* Blocks until the host side, the underlay or wake_fd is readable, or
	 * timeout_ms passes. Returns 0 or -errno. */
	int (*wait)(void *io, int wake_fd, int timeout_ms);
};
