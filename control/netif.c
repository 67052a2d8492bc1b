/* TAP configuration through ioctls (see netif.h). Everything here runs once at
 * start on the control core, in the network namespace ipopd was started in. */
#include "control/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

/* struct in6_ifreq of <linux/ipv6.h>, which clashes with <netinet/in.h>. */
struct ctl_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

unsigned ctl_netif_mtu(const struct ipop_config *cfg)
{
	if (cfg->mtu)
		return cfg->mtu;
	unsigned outer = 20;
	for (unsigned i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].endpoint.family == AF_INET6)
			outer = 40;
	unsigned under = cfg->underlay_mtu ? cfg->underlay_mtu : 1500;
	if (under < outer + CTL_NETIF_ESP_OVERHEAD + 14 + 68)
		return 68;
	unsigned inner = under - outer - CTL_NETIF_ESP_OVERHEAD;
	/* ESP pads (payload + 2-byte trailer) to 4 bytes: a packet of this
	 * size then needs no padding and the outer packet is exactly the
	 * underlay MTU. */
	inner -= (inner + 2) % 4;
	if (cfg->mode == IPOP_MODE_SWITCH)
		inner -= 14; /* the inner Ethernet header travels too */
	return inner;
}

static int ifreq_ioctl(int fd, unsigned long req, struct ifreq *ifr, const char *what,
		       const char *name)
{
	if (ioctl(fd, req, ifr) < 0) {
		int err = errno;
		log_err("%s: %s: %s", name, what, strerror(err));
		return -err;
	}
	return 0;
}

int ctl_netif_get_mac(const char *ifname, uint8_t mac[6])
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int err = ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 ? -errno : 0;
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* Best effort: without DAD the ULA is usable the moment it is added instead
 * of a second later; a kernel with IPv6 off simply has no such file. */
static void disable_dad(const char *ifname)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", ifname);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_debug("%s: cannot open %s: %s", ifname, path, strerror(errno));
		return;
	}
	if (write(fd, "0", 1) != 1)
		log_debug("%s: cannot write %s: %s", ifname, path, strerror(errno));
	close(fd);
}

static int set_ip4(int fd, const char *ifname, uint32_t addr_be, unsigned masklen)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = addr_be;
	int err = ifreq_ioctl(fd, SIOCSIFADDR, &ifr, "set IPv4 address", ifname);
	if (err)
		return err;
	memset(&ifr.ifr_netmask, 0, sizeof(ifr.ifr_netmask));
	sin = (struct sockaddr_in *)&ifr.ifr_netmask;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = net_ip4_mask(masklen);
	return ifreq_ioctl(fd, SIOCSIFNETMASK, &ifr, "set IPv4 netmask", ifname);
}

static int set_ip6(const char *ifname, int ifindex, const uint8_t addr[16], unsigned plen)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("%s: IPv6 is not available (%s): no ULA", ifname, strerror(errno));
		return 0;
	}
	struct ctl_in6_ifreq r = {.prefixlen = plen, .ifindex = ifindex};
	memcpy(&r.addr, addr, 16);
	int err = 0;
	if (ioctl(fd, SIOCSIFADDR, &r) < 0 && errno != EEXIST) {
		err = -errno;
		log_err("%s: set IPv6 address: %s", ifname, strerror(errno));
	}
	close(fd);
	return err;
}

static int enslave(int fd, const char *bridge, int ifindex, const char *ifname)
{
	if (if_nametoindex(bridge) == 0) {
		log_err("%s: bridge %s does not exist", ifname, bridge);
		return -ENODEV;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", bridge);
	ifr.ifr_ifindex = ifindex;
	if (ioctl(fd, SIOCBRADDIF, &ifr) < 0) {
		int err = errno;
		log_err("%s: cannot add to bridge %s: %s%s", ifname, bridge, strerror(err),
			err == EOPNOTSUPP ? " (not a bridge?)" : "");
		return -err;
	}
	return 0;
}

int ctl_netif_setup(struct ctl_netif *n, const struct ipop_config *cfg, const char *tap)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", tap);
	n->ifindex = (int)if_nametoindex(tap);
	if (n->ifindex == 0) {
		log_err("%s: no such interface", tap);
		return -ENODEV;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);

	n->mtu = ctl_netif_mtu(cfg);
	if (n->mtu < 1280 && cfg->mode == IPOP_MODE_L3)
		log_warn("%s: MTU %u is below 1280: the kernel will not keep IPv6 on it", tap,
			 n->mtu);
	ifr.ifr_mtu = (int)n->mtu;
	err = ifreq_ioctl(fd, SIOCSIFMTU, &ifr, "set MTU", tap);
	if (err)
		goto out;

	if (cfg->mode == IPOP_MODE_L3)
		disable_dad(tap);

	err = ifreq_ioctl(fd, SIOCGIFFLAGS, &ifr, "get flags", tap);
	if (err)
		goto out;
	ifr.ifr_flags |= IFF_UP;
	err = ifreq_ioctl(fd, SIOCSIFFLAGS, &ifr, "bring up", tap);
	if (err)
		goto out;

	if (cfg->mode == IPOP_MODE_L3) {
		if (cfg->ip4) {
			err = set_ip4(fd, tap, cfg->ip4, cfg->ip4_mask);
			if (err)
				goto out;
		}
		static const uint8_t zero[16];
		if (memcmp(cfg->ip6, zero, 16) != 0) {
			err = set_ip6(tap, n->ifindex, cfg->ip6, 64);
			if (err)
				goto out;
		}
	} else if (cfg->bridge[0]) {
		err = enslave(fd, cfg->bridge, n->ifindex, tap);
		if (err)
			goto out;
		n->enslaved = true;
	}

	err = ctl_netif_get_mac(tap, n->mac);
	if (err)
		log_err("%s: cannot read MAC address: %s", tap, strerror(-err));
	else
		log_info("%s: up, MTU %u, MAC %02x:%02x:%02x:%02x:%02x:%02x%s%s", tap, n->mtu,
			 n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			 n->enslaved ? ", in bridge " : "", n->enslaved ? cfg->bridge : "");
out:
	close(fd);
	return err;
}

void ctl_netif_teardown(struct ctl_netif *n)
{
	/* The kernel takes the TAP out of its bridge when the TAP goes away
	 * with its last queue fd; nothing else to undo. */
	n->enslaved = false;
}
