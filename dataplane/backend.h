/* The device side of the data plane, behind one interface, so that nothing
 * above dataplane/ knows which backend runs (docs/architecture.md, "Backends").
 *
 * An instance (struct dp_backend) is opened by the control core from the
 * configuration (struct dp_backend_config) with dp_backend_open(), which picks
 * the backend by name from the ones this build has (dp_backend_find). It owns
 * the host side (the TAP, or vhost-user ports), the underlay (UDP sockets, an
 * XDP program and AF_XDP sockets, ethdevs) and one `io` per worker queue:
 * worker i is handed io[i] and calls the per-worker functions below on it,
 * only ever from its own thread.
 *
 * Buffers. Every packet a worker handles is a descriptor (dp_pkt) from the
 * worker's pool. The backend may supply that pool (pool_init): af_xdp
 * registers the pool's buffer area as its UMEM, so the buffers the NIC writes
 * are the ones the pipeline decrypts and the ones handed back to the TX ring
 * are the ones it encrypted — no copy. rx functions fill descriptors (at most
 * max: a backend that receives larger units, such as TAP super-frames or UDP
 * GRO buffers, keeps the rest for its next call and its wait returns at once
 * while it holds any). A packet they return may already carry a drop reason
 * (a truncated datagram, a TAP frame that filled the buffer): the worker
 * counts and removes those before the pipeline sees the burst. tx functions
 * take ownership of every packet they are given: sent or dropped and
 * counted, each descriptor goes back to the pool either at once (a copying
 * send) or when the device reports the transmit complete (AF_XDP completion
 * ring, mbuf free); a backend reaps those completions in its own rx, tx and
 * wait calls, so the worker loop needs no extra step. Receive counters are the
 * worker's; transmit counters and the offload counters are the backend's.
 *
 * Next hop. Packets for net_tx carry only p->peer (the underlay endpoint,
 * pkt.h) and their ESP (or control) payload at p->data, with headroom
 * before it. A socket backend hands them to the kernel; a raw-frame backend
 * prepends Ethernet/IP/UDP in that headroom itself with the
 * next-hop MAC, source MAC and source address from its next-hop cache
 * (dataplane/nexthop.h: filled from the kernel's routes and neighbours by the
 * control core through the backend's event/tick hooks) and sends what it
 * cannot resolve yet (or lacks headroom for) through a kernel socket on the
 * same port, which also makes the kernel resolve the neighbour.
 *
 * Control packets. Handshakes, keepalives, STUN and TURN leave from the data
 * port: the control core queues them on worker 0's inject ring (worker.h) and
 * the worker sends them with its net_tx; send_control is the direct path the
 * control core uses while no worker runs or the ring is full (a backend
 * without one has nothing but the ring). Received ones are punted by the
 * worker as any other (worker.h), whichever backend received them.
 *
 * Control-core hooks. event_fd (optional; a backend that has it has event
 * too) is watched by the control core's loop, which calls event() when it is
 * readable; tick() runs every control tick (CTL_TICK_MS). None is ever
 * called from a worker.
 *
 * Status. status() describes the backend for `ipopctl status`: its name and
 * mode, and per port (TAP, UDP socket, AF_XDP queue, ethdev, vhost-user
 * socket) its kind, queues, mode and counters. `sum` is the workers' counters
 * added up, for backends whose port counters are the workers' own.
 */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/offload.h"
#include "dataplane/pkt.h"

struct dp_backend;

/* What the control core knows about the configuration of a backend. */
struct dp_backend_config {
	const char *backend;	 /* "kernel", "af_xdp", "dpdk" */
	const char *host_if;	 /* TAP name (may hold %d) */
	unsigned nqueues;	 /* worker queues, >= 1 */
	uint16_t port;		 /* UDP port of the data plane; 0 = any */
	struct dp_offloads want; /* TAP and UDP offloads allowed (want[]) */
	/* af_xdp */
	const char *underlay_if; /* the interface the XDP program goes on */
	int xdp_mode;		 /* 0 auto, 1 native, 2 generic (enum xdp_prog_mode) */
	const void *ext;	 /* other backends' own settings (dpdk.h), or NULL */
};

#define DP_BACKEND_PORTS_MAX 8
#define DP_BACKEND_STATS_MAX 24

struct dp_backend_stat {
	char name[24];
	uint64_t value;
};

struct dp_backend_port {
	char name[IFNAMSIZ + 16]; /* "ipop0", "eth1", "eth1/udp" */
	char kind[16];		  /* "tap", "udp", "af_xdp", "ethdev", "vhost" */
	char mode[48];		  /* "native, copy", "generic, copy", "zero-copy", "" */
	unsigned queues;
	unsigned n_stats;
	struct dp_backend_stat stats[DP_BACKEND_STATS_MAX];
};

struct dp_backend_status {
	char mode[64]; /* the backend's summary: "kernel sockets", "XDP native, copy" */
	unsigned n_ports;
	struct dp_backend_port ports[DP_BACKEND_PORTS_MAX];
};

struct dp_backend_ops {
	const char *name;

	/* ---- control core ---- */
	/* Fills b (host_name, nqueues, port, offloads, io[], priv). On error
	 * nothing is left open or attached, and err holds one line saying
	 * what to fix. 0 or -errno. */
	int (*open)(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
		    size_t errlen);
	void (*close)(struct dp_backend *b);
	/* Optional: sends one datagram from the data port on the calling thread. */
	int (*send_control)(struct dp_backend *b, const struct net_endpoint *to, const void *buf,
			    size_t len);
	void (*status)(struct dp_backend *b, const struct dp_counters *sum,
		       struct dp_backend_status *st);
	int (*event_fd)(struct dp_backend *b);		     /* optional; -1: none */
	void (*event)(struct dp_backend *b);		     /* optional */
	void (*tick)(struct dp_backend *b, uint64_t now_ms); /* optional */

	/* ---- worker (io = b->io[i], on worker i's thread) ---- */
	/* Optional: builds the worker's pool on the backend's memory (and
	 * whatever else needs it, such as an AF_XDP socket). Without it the
	 * worker calls dp_pool_init(pool, b->pool_size or its default).
	 * Called from dp_worker_init (control thread, before the worker runs);
	 * pool_fini from dp_worker_fini. */
	int (*pool_init)(void *io, struct dp_pool *pool);
	void (*pool_fini)(void *io, struct dp_pool *pool);
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

struct dp_backend {
	const struct dp_backend_ops *ops;
	char host_name[IFNAMSIZ];    /* the TAP's actual name */
	unsigned nqueues;	     /* io[] entries */
	uint16_t port;		     /* the UDP port actually bound */
	struct dp_offloads offloads; /* TAP/UDP offloads on, and why not */
	/* A backend whose underlay port the kernel does not see (dpdk) owns its
	 * address: that is the data port's only host candidate for discovery.
	 * family 0: the kernel's interfaces are the host candidates. */
	struct net_endpoint own_addr;
	void **io;  /* io[i] for worker i */
	void *priv; /* the backend's own state */
};

/* The backend called `name` if this build has it, else NULL. */
const struct dp_backend_ops *dp_backend_find(const char *name);
/* "kernel, af_xdp" — the backends this build has, for messages. */
const char *dp_backend_names(void);

/* Finds cfg->backend and opens it. A backend this build lacks gives
 * -ENOTSUP and says so in err. 0 or -errno. */
int dp_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
		    size_t errlen);
/* Closes what open opened; a zeroed or closed b is fine. */
void dp_backend_close(struct dp_backend *b);
/* -ENOTSUP when the backend has no direct send. */
int dp_backend_send_control(struct dp_backend *b, const struct net_endpoint *to, const void *buf,
			    size_t len);
void dp_backend_status(struct dp_backend *b, const struct dp_counters *sum,
		       struct dp_backend_status *st);

/* For status(): appends a stat to a port (ignored when full). */
void dp_backend_port_stat(struct dp_backend_port *p, const char *name, uint64_t value);
/* Adds a port and returns it (NULL when full). */
struct dp_backend_port *dp_backend_port_add(struct dp_backend_status *st, const char *name,
					    const char *kind, unsigned queues, const char *mode);
