/* Host-side interface configuration: MTU, link state, overlay addresses and
 * bridge membership of the TAP, through ioctls, and kernel routes into the
 * TAP through rtnetlink (no `ip` subprocesses).
 *
 * L3 mode: the TAP gets the virtual IPv4 (ip4/ip4_mask) and the node's ULA
 * /64, with IPv6 duplicate address detection off so the address is usable at
 * once; the subnets discovered gateways advertise are routed into it
 * (ctl_netif_sync_routes). Switch mode: the TAP carries no address; it is
 * enslaved to the configured bridge (IPOP's `brctl addif lxcbr0 ipop`).
 */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/config/config.h"
#include "control/nat/candidates.h"
#include "dataplane/esp.h"

/* A kernel route "PREFIX dev TAP" we want. owned: we added it (and delete
 * it); else it already existed (the admin's) and is left alone. */
struct ctl_netif_route {
	struct net_prefix p;
	bool owned;
};

/* Protocol number our routes carry ("proto 73" in `ip route`): deletes match
 * only routes with it, never an admin's route to the same prefix. */
#define CTL_NETIF_RTPROT 73

struct ctl_netif {
	char name[IFNAMSIZ];
	int ifindex;
	unsigned mtu;
	uint8_t mac[6];
	bool enslaved;
	struct ctl_netif_route *routes; /* in the kernel (or the admin's), for the TAP */
	unsigned nroutes, cap_routes;
	uint64_t route_errors; /* adds and deletes the kernel refused */
};

/* Per-packet overhead on the underlay in front of and behind the inner
 * packet, besides the outer IP header: UDP + ESP header + IV + pad
 * length/next header + ICV (esp.h). */
#define CTL_NETIF_UDP_HDR_LEN  8
#define CTL_NETIF_ESP_OVERHEAD (CTL_NETIF_UDP_HDR_LEN + DP_ESP_MIN_LEN)

/* The underlay as this host sees it, per address family ([0] IPv4, [1]
 * IPv6; 0 = nothing found): the smallest MTU among the interfaces that give
 * host candidates (cand_gather_host's rules: up, not loopback, not our own
 * TAP, not in network_ignore_list, with a usable address of that family),
 * and the smallest path MTU the kernel reports towards the configured
 * endpoints (static peers, TURN servers) of that family. */
struct ctl_netif_underlay {
	unsigned if_mtu[2];
	char if_name[2][IFNAMSIZ];
	unsigned path_mtu[2];
	char path_to[2][NET_ENDPOINT_STRLEN + IFNAMSIZ + 4]; /* "198.18.0.2:5800 (eth0)" */
};

/* Why the TAP got its MTU: what the start log says. */
struct ctl_netif_mtu_why {
	unsigned underlay; /* the underlay MTU used; 0 when `mtu` is configured */
	unsigned outer;	   /* outer IP header (+ 4 for ChannelData) assumed */
	int family;	   /* of that outer header: AF_INET or AF_INET6 */
	char source[NET_ENDPOINT_STRLEN + 2 * IFNAMSIZ + 32];
};

/* The TAP MTU for cfg: cfg->mtu if set. Else, for every underlay family in
 * use - those of the static peers' and TURN servers' endpoints, plus, with
 * discovery on (or nothing configured), those u has host interfaces for;
 * IPv4 if none - the underlay MTU (cfg->underlay_mtu if set; else the path
 * MTU to that family's configured endpoints and, with discovery or when no
 * path was found, the smallest host-interface MTU; 1500 if u knows nothing)
 * minus the ESP-in-UDP overhead (outer header 20 or 40 bytes, 4 more with a
 * TURN server: ChannelData), rounded down so the ESP payload is 4-byte
 * aligned without padding, minus the inner Ethernet header in switch mode;
 * the smallest over the families. u may be NULL (nothing known), why too.
 * Pure. */
unsigned ctl_netif_mtu_from(const struct ipop_config *cfg, const struct ctl_netif_underlay *u,
			    struct ctl_netif_mtu_why *why);
/* ctl_netif_mtu_from(cfg, NULL, NULL). */
unsigned ctl_netif_mtu(const struct ipop_config *cfg);

/* Fills u's interface half from host candidates (cand_host_from_ifaddrs):
 * per family the smallest mtu_of(ifname) over the interfaces that gave one
 * (mtu_of returns 0 for unknown: skipped). The path half is zeroed. Pure
 * but for mtu_of. */
void ctl_netif_underlay_from_cands(const struct candidate *c, unsigned n,
				   unsigned (*mtu_of)(const char *ifname, void *arg), void *arg,
				   struct ctl_netif_underlay *u);
/* Gathers u on this host: host candidates with cfg's ignore list and
 * without own_tap, their interfaces' MTUs, and the path MTU towards each
 * static peer's and TURN server's endpoint (a connected UDP socket's IP_MTU /
 * IPV6_MTU; endpoints without a route are skipped). 0 or -errno. */
int ctl_netif_underlay_probe(const struct ipop_config *cfg, const char *own_tap,
			     struct ctl_netif_underlay *u);

/* Configures the TAP named `tap` (already created) as cfg says. 0 or -errno
 * (logged); the TAP is left as it is on error (it vanishes with its fds). */
int ctl_netif_setup(struct ctl_netif *n, const struct ipop_config *cfg, const char *tap);
/* Undoes what setup did that would outlive the TAP (the kernel drops
 * addresses and bridge membership with the interface) and deletes the routes
 * ctl_netif_sync_routes added. */
void ctl_netif_teardown(struct ctl_netif *n);
/* Makes the set of routes "PREFIX dev TAP" (main table) equal `prefixes`
 * (duplicates ignored): adds the missing ones and deletes those we added that
 * are no longer wanted. A prefix the kernel already routes (EEXIST: the
 * admin's) counts as present and is never deleted. No syscall when nothing
 * changed. Returns 0 or the first -errno (logged); a prefix that failed is
 * tried again at the next call. */
int ctl_netif_sync_routes(struct ctl_netif *n, const struct net_prefix *prefixes, unsigned count);
/* Reads the interface's MAC address. 0 or -errno. */
int ctl_netif_get_mac(const char *ifname, uint8_t mac[6]);
