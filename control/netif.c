/* TAP configuration through ioctls, routes through rtnetlink (see netif.h).
 * Everything here runs on the control core, in the network namespace ipopd
 * was started in: setup once at start, route changes after peer-set
 * rebuilds. */
#include "control/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* A link through a TURN relay carries a 4-byte ChannelData header. */
	if (cfg->nturn)
		outer += 4;
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

/* ---- routes (rtnetlink) ---- */

static int nl_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Appends an attribute to the message in msg (room checked by the caller:
 * the request buffer has space for the two it carries). */
static void nl_attr(char *msg, unsigned short type, const void *data, size_t len)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)msg;
	char *at = msg + NLMSG_ALIGN(nh->nlmsg_len);
	struct rtattr a = {.rta_type = type, .rta_len = (unsigned short)RTA_LENGTH(len)};
	memcpy(at, &a, sizeof(a));
	memcpy(at + RTA_LENGTH(0), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(a.rta_len);
}

/* One RTM_NEWROUTE (exclusive: an existing route is EEXIST, never replaced)
 * or RTM_DELROUTE (only a route with our protocol) for "PREFIX dev TAP",
 * answered synchronously by the kernel. 0 or -errno. */
static int route_request(int fd, int ifindex, int type, const struct net_prefix *p, uint32_t seq)
{
	union {
		struct {
			struct nlmsghdr nh;
			struct rtmsg rt;
		};
		char msg[NLMSG_SPACE(sizeof(struct rtmsg)) + 2 * RTA_SPACE(16)];
	} req;
	uint32_t buf[256]; /* netlink messages are 4-byte aligned */
	bool v4 = p->family == AF_INET;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = (unsigned short)type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (type == RTM_NEWROUTE)
		req.nh.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	req.nh.nlmsg_seq = seq;
	req.rt.rtm_family = v4 ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = p->len;
	req.rt.rtm_table = RT_TABLE_MAIN;
	req.rt.rtm_protocol = CTL_NETIF_RTPROT;
	req.rt.rtm_scope = type == RTM_NEWROUTE ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE;
	req.rt.rtm_type = RTN_UNICAST;
	nl_attr(req.msg, RTA_DST, v4 ? p->addr + 12 : p->addr, v4 ? 4 : 16);
	nl_attr(req.msg, RTA_OIF, &ifindex, sizeof(ifindex));

	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	/* The kernel handles the request inside sendto: the ack is queued. */
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		size_t len = (size_t)r;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EPROTO;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

static bool prefix_eq(const struct net_prefix *a, const struct net_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

static bool wanted(const struct net_prefix *p, const struct net_prefix *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (prefix_eq(p, &v[i]))
			return true;
	return false;
}

static int installed_idx(const struct ctl_netif *n, const struct net_prefix *p)
{
	for (unsigned i = 0; i < n->nroutes; i++)
		if (prefix_eq(p, &n->routes[i].p))
			return (int)i;
	return -1;
}

int ctl_netif_sync_routes(struct ctl_netif *n, const struct net_prefix *prefixes, unsigned count)
{
	char a[INET6_ADDRSTRLEN + 4];
	unsigned todo = 0;
	int fd = -1, first = 0;
	static uint32_t seq;

	for (unsigned i = 0; i < n->nroutes; i++)
		todo += !wanted(&n->routes[i].p, prefixes, count);
	for (unsigned i = 0; i < count; i++)
		todo += installed_idx(n, &prefixes[i]) < 0;
	if (!todo)
		return 0;
	fd = nl_open();
	if (fd < 0) {
		log_err("%s: cannot open rtnetlink: %s", n->name, strerror(-fd));
		return fd;
	}
	/* Deletes first: a prefix moving between two peers stays one route. */
	for (unsigned i = 0; i < n->nroutes;) {
		struct ctl_netif_route *r = &n->routes[i];
		if (wanted(&r->p, prefixes, count)) {
			i++;
			continue;
		}
		net_prefix_format(&r->p, a, sizeof(a));
		int err = r->owned ? route_request(fd, n->ifindex, RTM_DELROUTE, &r->p, ++seq) : 0;
		if (err && err != -ESRCH) {
			/* Kept on the list: deleted again at the next sync. */
			n->route_errors++;
			log_warn("%s: cannot delete route %s: %s", n->name, a, strerror(-err));
			first = first ? first : err;
			i++;
			continue;
		}
		log_info("%s: route %s %s", n->name, a, r->owned ? "deleted" : "left to its owner");
		n->routes[i] = n->routes[--n->nroutes];
	}
	for (unsigned i = 0; i < count; i++) {
		const struct net_prefix *p = &prefixes[i];
		if (installed_idx(n, p) >= 0)
			continue;
		if (n->nroutes == n->cap_routes) {
			unsigned cap = n->cap_routes ? 2 * n->cap_routes : 16;
			struct ctl_netif_route *v = realloc(n->routes, cap * sizeof(*v));
			if (!v) {
				first = first ? first : -ENOMEM;
				break;
			}
			n->routes = v;
			n->cap_routes = cap;
		}
		net_prefix_format(p, a, sizeof(a));
		int err = route_request(fd, n->ifindex, RTM_NEWROUTE, p, ++seq);
		if (err && err != -EEXIST) {
			n->route_errors++;
			log_warn("%s: cannot add route %s: %s", n->name, a, strerror(-err));
			first = first ? first : err;
			continue;
		}
		n->routes[n->nroutes++] = (struct ctl_netif_route){.p = *p, .owned = !err};
		if (err)
			log_info("%s: route %s already exists: left as it is", n->name, a);
		else
			log_info("%s: route %s added", n->name, a);
	}
	close(fd);
	return first;
}

void ctl_netif_teardown(struct ctl_netif *n)
{
	/* The kernel takes the TAP out of its bridge and drops its routes when
	 * the TAP goes away with its last queue fd; ours go now anyway (the
	 * TAP may outlive us if someone else holds it open). */
	if (n->nroutes)
		ctl_netif_sync_routes(n, NULL, 0);
	free(n->routes);
	n->routes = NULL;
	n->nroutes = n->cap_routes = 0;
	n->enslaved = false;
}
