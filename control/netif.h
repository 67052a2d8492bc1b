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

#include "control/config.h"

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
 * packet: outer IP + UDP + ESP header + IV + ICV + pad length/next header. */
#define CTL_NETIF_ESP_OVERHEAD (8 + 8 + 8 + 16 + 2)

/* The TAP MTU for cfg: cfg->mtu if set, else computed from underlay_mtu and
 * the ESP-in-UDP overhead (40-byte outer header if any peer endpoint is IPv6;
 * 4 more bytes when a TURN server is configured: ChannelData),
 * rounded down so the ESP payload is 4-byte aligned without padding, minus the
 * inner Ethernet header in switch mode. */
unsigned ctl_netif_mtu(const struct ipop_config *cfg);

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
