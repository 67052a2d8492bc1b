/* Endpoint candidates a node advertises over XMPP (DESIGN.md "Signalling"):
 * host addresses of its interfaces, server-reflexive addresses learned with
 * STUN, relayed addresses allocated on a TURN server, and statically
 * configured ones, each with the data port and an RFC 8445 §5.1.2 priority.
 *
 * Host gathering reads getifaddrs() and nothing else; merging is pure.
 */
#pragma once
#include <ifaddrs.h>
#include <net/if.h>
#include <stdint.h>

#include "util/addr.h"

#define CAND_MAX 16 /* candidates advertised per node */

/* Type preferences (RFC 8445 §5.1.2.2: host 126, srflx 100, relay 0). A
 * static candidate is one the operator configured (a port forward, a public
 * address): trusted more than a STUN mapping, less than a host address. */
enum cand_type {
	CAND_HOST = 0,
	CAND_STATIC = 1,
	CAND_SRFLX = 2,
	CAND_RELAY = 3,
};
#define CAND_PREF_HOST	 126
#define CAND_PREF_STATIC 110
#define CAND_PREF_SRFLX	 100
#define CAND_PREF_RELAY	 0

struct candidate {
	struct net_endpoint ep;
	uint32_t priority;
	uint8_t type;	       /* enum cand_type */
	char ifname[IFNAMSIZ]; /* host candidates: the interface; "" otherwise */
};

/* priority = 2^24 * type preference + 2^8 * local_pref + (256 - component). */
uint32_t cand_priority(enum cand_type type, uint16_t local_pref, unsigned component);
const char *cand_type_name(enum cand_type type); /* "host", "static", "srflx", "relay" */

/* Host candidates from an interface list: every IPv4 address and every IPv6
 * address that is not link-local (fe80::/10), site-local (fec0::/10),
 * loopback, unspecified, multicast, or IPv4-mapped/-compatible, on interfaces
 * that are UP, not LOOPBACK, not own_tap (the overlay's own TAP: its addresses
 * are virtual, never underlay; may be NULL) and whose name is not in
 * ignore[0..n_ignore) (exact names, like IPOP's network_ignore_list). Each gets
 * the data port. IPv6 ranks above IPv4, then interface order. Returns the
 * number written (at most max, the rest dropped). */
int cand_host_from_ifaddrs(const struct ifaddrs *list, uint16_t port,
			   const char (*ignore)[IFNAMSIZ], unsigned n_ignore, const char *own_tap,
			   struct candidate *out, unsigned max);
/* The same on getifaddrs(): count or -errno. */
int cand_gather_host(uint16_t port, const char (*ignore)[IFNAMSIZ], unsigned n_ignore,
		     const char *own_tap, struct candidate *out, unsigned max);

/* Everything a node knows about itself. Host candidates keep their priority;
 * the others get one from their type and their position in their array (the
 * first is preferred). */
struct cand_sources {
	const struct candidate *host;
	unsigned nhost;
	const struct net_endpoint *statics; /* configured */
	unsigned nstatic;
	const struct net_endpoint *srflx; /* STUN XOR-MAPPED-ADDRESS, per server */
	unsigned nsrflx;
	const struct net_endpoint *relay; /* TURN XOR-RELAYED-ADDRESS */
	unsigned nrelay;
};

/* One list, sorted by priority (highest first), without duplicate endpoints
 * (a duplicate keeps its highest-priority type: a node that is not behind NAT
 * learns srflx == host and advertises it once, as host), at most max (<=
 * CAND_MAX is the protocol limit). When there are more candidates than room,
 * the best of each type present is kept first, so a relay or srflx candidate
 * is never crowded out by many host addresses. Endpoints with port 0 or an
 * unspecified address are skipped. Returns the count. */
unsigned cand_merge(const struct cand_sources *src, struct candidate *out, unsigned max);
