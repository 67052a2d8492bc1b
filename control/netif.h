/* Host-side interface configuration: MTU, link state, overlay addresses and
 * bridge membership of the TAP, through ioctls (no `ip` subprocesses).
 *
 * L3 mode: the TAP gets the virtual IPv4 (ip4/ip4_mask) and the node's ULA
 * /64, with IPv6 duplicate address detection off so the address is usable at
 * once. Switch mode: the TAP carries no address; it is enslaved to the
 * configured bridge (IPOP's `brctl addif lxcbr0 ipop`).
 */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"

struct ctl_netif {
	char name[IFNAMSIZ];
	int ifindex;
	unsigned mtu;
	uint8_t mac[6];
	bool enslaved;
};

/* Per-packet overhead on the underlay in front of and behind the inner
 * packet: outer IP + UDP + ESP header + IV + ICV + pad length/next header. */
#define CTL_NETIF_ESP_OVERHEAD (8 + 8 + 8 + 16 + 2)

/* The TAP MTU for cfg: cfg->mtu if set, else computed from underlay_mtu and
 * the ESP-in-UDP overhead (40-byte outer header if any peer endpoint is IPv6),
 * rounded down so the ESP payload is 4-byte aligned without padding, minus the
 * inner Ethernet header in switch mode. */
unsigned ctl_netif_mtu(const struct ipop_config *cfg);

/* Configures the TAP named `tap` (already created) as cfg says. 0 or -errno
 * (logged); the TAP is left as it is on error (it vanishes with its fds). */
int ctl_netif_setup(struct ctl_netif *n, const struct ipop_config *cfg, const char *tap);
/* Undoes what setup did that would outlive the TAP (nothing today: the
 * kernel drops addresses and bridge membership with the interface). */
void ctl_netif_teardown(struct ctl_netif *n);
/* Reads the interface's MAC address. 0 or -errno. */
int ctl_netif_get_mac(const char *ifname, uint8_t mac[6]);
