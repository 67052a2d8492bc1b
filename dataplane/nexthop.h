/* Next hops of a raw-frame backend: for each underlay destination a worker
 * sends to, the source address, our MAC and the next hop's MAC, taken from
 * the kernel's routes and neighbours over rtnetlink (libmnl) and kept current
 * on RTM_NEWNEIGH/DELNEIGH, RTM_NEWROUTE/DELROUTE, address and link changes
 * (our own MAC is re-read then).
 *
 * Threads. The control core owns the netlink sockets and is the only writer
 * (dp_nh_want_drain, dp_nh_refresh, on its loop through the backend's
 * event/tick hooks). Workers only read (dp_nh_lookup), through a per-entry
 * sequence lock, and ask for destinations they found no entry for through
 * an MP/SC ring (dp_nh_want). An entry's address never changes once set, so
 * lookups need no lock on the hash probe.
 *
 * Resolution. RTM_GETROUTE for the destination gives the output interface,
 * the gateway and the preferred source; RTM_GETNEIGH for the gateway (or the
 * destination on a link route) gives the MAC. A destination routed out of
 * another interface (or local) is marked `kernel`: the backend sends it
 * through its kernel socket. A next hop without a usable neighbour entry is
 * `unresolved`: the backend sends through the kernel socket meanwhile, which
 * makes the kernel resolve it (ARP/ND); the RTM_NEWNEIGH that follows moves
 * the entry to `ok` at the next refresh. Nothing is dropped for want of a
 * MAC, and nothing is given up on.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_NH_SLOTS 256 /* destinations (peers' underlay addresses, TURN servers) */
#define DP_NH_PROBE 8	/* linear probe length */

enum dp_nh_state {
	DP_NH_FREE = 0,	      /* slot unused */
	DP_NH_UNRESOLVED = 1, /* route or neighbour not known (yet): kernel socket */
	DP_NH_KERNEL = 2,     /* routed out of another interface, or local: kernel socket */
	DP_NH_OK = 3,	      /* frames can be built */
};

struct dp_nh_entry {
	_Atomic uint32_t seq;  /* odd while the control core rewrites the entry */
	_Atomic uint8_t state; /* enum dp_nh_state */
	uint8_t family;	       /* AF_INET or AF_INET6 */
	uint8_t dst_mac[6];
	uint8_t addr[16];    /* destination (IPv4 v4-mapped, as net_endpoint) */
	uint8_t src[16];     /* source address (same form) */
	uint8_t gw[16];	     /* the neighbour asked for (the gateway or addr itself) */
	uint64_t checked_ms; /* control core: last resolution */
} __attribute__((aligned(64)));

/* What a worker copies out of an OK entry. */
struct dp_nh {
	uint8_t family;
	uint8_t dst_mac[6];
	uint8_t src[16];
};

struct rte_ring;
struct mnl_socket;

struct dp_nh_table {
	struct dp_nh_entry e[DP_NH_SLOTS];
	struct rte_ring *want; /* workers → control: uint8_t[16] addresses (as 4 uint32) */
	int ifindex;
	uint8_t mac[6];		/* our MAC on ifindex */
	struct mnl_socket *ev;	/* subscribed to neighbour, route, address events */
	struct mnl_socket *req; /* queries */
	uint32_t seq;
	bool dirty;		/* an event arrived: refresh every entry at the next tick */
	_Atomic uint64_t wants; /* workers' requests queued */
	uint64_t resolutions, events, full;
};

/* Opens the netlink sockets for interface ifindex (our MAC read from it).
 * 0 or -errno with err filled. */
int dp_nh_init(struct dp_nh_table *t, int ifindex, char *err, size_t errlen);
void dp_nh_fini(struct dp_nh_table *t);

/* Worker: 0 and *out filled when the entry for addr is OK; -ENOENT when
 * there is none (the caller may dp_nh_want it); -EAGAIN when it exists but
 * cannot be used now (unresolved, kernel, being rewritten). */
int dp_nh_lookup(const struct dp_nh_table *t, const uint8_t addr[16], struct dp_nh *out);
/* Worker: asks the control core to resolve addr (ring full: dropped; the next
 * packet asks again). */
void dp_nh_want(struct dp_nh_table *t, const uint8_t addr[16]);

/* Control core: the fd to watch for events, and what to do when readable. */
int dp_nh_event_fd(const struct dp_nh_table *t);
void dp_nh_event(struct dp_nh_table *t);
/* Control core, every tick: adds the workers' wanted destinations, then
 * resolves new ones, every entry after an event, and unresolved ones again
 * after retry_ms. */
void dp_nh_tick(struct dp_nh_table *t, uint64_t now_ms, uint64_t retry_ms);

/* Control core: resolves (or re-resolves) one destination now. Returns its
 * state, or -errno when the table is full. For tests and the first packet. */
int dp_nh_resolve(struct dp_nh_table *t, const uint8_t addr[16], uint64_t now_ms);

/* Counts entries by state (status). */
void dp_nh_count(const struct dp_nh_table *t, unsigned n[4]);

const char *dp_nh_state_name(int state);
