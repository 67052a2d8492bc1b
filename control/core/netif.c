/* TAP configuration through ioctls, routes through rtnetlink (see netif.h).
 * Everything here runs on the control core, in the network namespace ipopd
 * was started in: setup once at start, route changes after peer-set
 * rebuilds. */
#include "control/core/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* ---- MTU ---- */

static unsigned tap_mtu(unsigned under, unsigned outer, enum ipop_mode mode)
{
	if (under < outer + CTL_NETIF_ESP_OVERHEAD + 14 + 68)
		return 68;
	unsigned inner = under - outer - CTL_NETIF_ESP_OVERHEAD;
	/* ESP pads (payload + 2-byte trailer) to 4 bytes: a packet of this
	 * size then needs no padding and the outer packet is exactly the
	 * underlay MTU. */
	inner -= (inner + 2) % 4;
	if (mode == IPOP_MODE_SWITCH)
		inner -= 14; /* the inner Ethernet header travels too */
	return inner;
}

static int fam_idx(uint8_t family)
{
	return family == AF_INET6 ? 1 : family == AF_INET ? 0 : -1;
}

unsigned ctl_netif_mtu_from(const struct ipop_config *cfg, const struct ctl_netif_underlay *u,
			    struct ctl_netif_mtu_why *why)
{
	struct ctl_netif_mtu_why w = {0};
	if (cfg->mtu) {
		snprintf(w.source, sizeof(w.source), "mtu, configured");
		if (why)
			*why = w;
		return cfg->mtu;
	}
	bool configured[2] = {false, false}, in_use[2];
	for (unsigned i = 0; i < cfg->npeers; i++) {
		int f = fam_idx(cfg->peers[i].endpoint.family);
		if (f >= 0)
			configured[f] = true;
	}
	for (unsigned i = 0; i < cfg->nturn; i++) {
		int f = fam_idx(cfg->turn[i].server.family);
		if (f >= 0)
			configured[f] = true;
	}
	/* Discovered peers may be reached from any host candidate, so every
	 * family we advertise can carry the overlay. */
	bool use_ifs = cfg->xmpp_host[0] || !(configured[0] || configured[1]);
	for (int f = 0; f < 2; f++)
		in_use[f] = configured[f] || (use_ifs && u && u->if_mtu[f]);
	if (!in_use[0] && !in_use[1])
		in_use[0] = true;

	unsigned best = UINT_MAX;
	for (int f = 0; f < 2; f++) {
		if (!in_use[f])
			continue;
		struct ctl_netif_mtu_why c = {.family = f ? AF_INET6 : AF_INET};
		c.outer = (f ? 40 : 20) + (cfg->nturn ? 4 : 0); /* TURN: ChannelData */
		if (cfg->underlay_mtu) {
			c.underlay = cfg->underlay_mtu;
			snprintf(c.source, sizeof(c.source), "(underlay_mtu, configured)");
		} else {
			if (u && configured[f] && u->path_mtu[f]) {
				c.underlay = u->path_mtu[f];
				snprintf(c.source, sizeof(c.source), "on the path to %s",
					 u->path_to[f]);
			}
			bool ifs = use_ifs || (configured[f] && !c.underlay);
			if (u && ifs && u->if_mtu[f] &&
			    (!c.underlay || u->if_mtu[f] < c.underlay)) {
				c.underlay = u->if_mtu[f];
				snprintf(c.source, sizeof(c.source), "of interface %.*s", IFNAMSIZ,
					 u->if_name[f]);
			}
			if (!c.underlay) {
				c.underlay = 1500;
				snprintf(c.source, sizeof(c.source),
					 "assumed (no underlay interface found)");
			}
		}
		unsigned m = tap_mtu(c.underlay, c.outer, cfg->mode);
		if (m < best) {
			best = m;
			w = c;
		}
	}
	if (why)
		*why = w;
	return best;
}

unsigned ctl_netif_mtu(const struct ipop_config *cfg)
{
	return ctl_netif_mtu_from(cfg, NULL, NULL);
}

void ctl_netif_underlay_from_cands(const struct candidate *c, unsigned n,
				   unsigned (*mtu_of)(const char *ifname, void *arg), void *arg,
				   struct ctl_netif_underlay *u)
{
	memset(u, 0, sizeof(*u));
	for (unsigned i = 0; i < n; i++) {
		int f = fam_idx(c[i].ep.family);
		if (c[i].type != CAND_HOST || !c[i].ifname[0] || f < 0)
			continue;
		unsigned m = mtu_of(c[i].ifname, arg);
		if (m && (!u->if_mtu[f] || m < u->if_mtu[f])) {
			u->if_mtu[f] = m;
			memcpy(u->if_name[f], c[i].ifname, IFNAMSIZ);
		}
	}
}

static unsigned ifname_mtu(const char *ifname, void *arg)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(*(int *)arg, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0)
		return 0;
	return (unsigned)ifr.ifr_mtu;
}

/* The kernel's MTU towards ep (route or path MTU cache) from a connected UDP
 * socket, which sends nothing; local gets the source address it would use.
 * 0 when there is no route. */
static unsigned path_mtu(const struct net_endpoint *ep, struct net_endpoint *local)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} a = {0};
	bool v6 = ep->family == AF_INET6;
	socklen_t alen = v6 ? sizeof(a.sin6) : sizeof(a.sin);
	if (v6) {
		a.sin6.sin6_family = AF_INET6;
		memcpy(&a.sin6.sin6_addr, ep->addr, 16);
		a.sin6.sin6_port = htons(ep->port);
	} else {
		a.sin.sin_family = AF_INET;
		memcpy(&a.sin.sin_addr, ep->addr + 12, 4);
		a.sin.sin_port = htons(ep->port);
	}
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int mtu = 0;
	socklen_t len = sizeof(mtu);
	if (connect(fd, &a.sa, alen) < 0 ||
	    getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &len) < 0)
		mtu = 0;
	memset(local, 0, sizeof(*local));
	if (mtu > 0 && getsockname(fd, &a.sa, &alen) == 0) {
		local->family = ep->family;
		if (v6) {
			memcpy(local->addr, &a.sin6.sin6_addr, 16);
		} else {
			net_addr_set_v4(local->addr, &a.sin.sin_addr);
		}
	}
	close(fd);
	return mtu > 0 ? (unsigned)mtu : 0;
}

static void probe_path(struct ctl_netif_underlay *u, const struct net_endpoint *ep,
		       const struct candidate *c, unsigned n)
{
	int f = fam_idx(ep->family);
	struct net_endpoint local;
	if (f < 0)
		return;
	unsigned m = path_mtu(ep, &local);
	if (!m || (u->path_mtu[f] && m >= u->path_mtu[f]))
		return;
	u->path_mtu[f] = m;
	/* Name the interface when the source address is a host candidate's. */
	const char *ifname = NULL;
	for (unsigned i = 0; i < n && !ifname; i++)
		if (!memcmp(c[i].ep.addr, local.addr, 16))
			ifname = c[i].ifname;
	char e[NET_ENDPOINT_STRLEN];
	net_endpoint_format(ep, e, sizeof(e));
	if (ifname)
		snprintf(u->path_to[f], sizeof(u->path_to[f]), "%s (%.*s)", e, IFNAMSIZ, ifname);
	else
		snprintf(u->path_to[f], sizeof(u->path_to[f]), "%s", e);
}

int ctl_netif_underlay_probe(const struct ipop_config *cfg, const char *own_tap,
			     struct ctl_netif_underlay *u)
{
	/* More room than CAND_MAX: every interface counts here, not only the
	 * addresses we advertise. */
	struct candidate c[64];
	memset(u, 0, sizeof(*u));
	int n = cand_gather_host(cfg->port, (const char(*)[IFNAMSIZ])cfg->network_ignore_list,
				 cfg->n_ignore, own_tap, c, sizeof(c) / sizeof(c[0]));
	if (n < 0)
		return n;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ctl_netif_underlay_from_cands(c, (unsigned)n, ifname_mtu, &fd, u);
	close(fd);
	for (unsigned i = 0; i < cfg->npeers; i++)
		probe_path(u, &cfg->peers[i].endpoint, c, (unsigned)n);
	for (unsigned i = 0; i < cfg->nturn; i++)
		probe_path(u, &cfg->turn[i].server, c, (unsigned)n);
	return 0;
}

/* ---- TAP setup ---- */

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

	struct ctl_netif_underlay u;
	struct ctl_netif_mtu_why why;
	err = ctl_netif_underlay_probe(cfg, tap, &u);
	if (err)
		log_warn(
		    "%s: cannot look at the underlay interfaces (%s): MTU from the config alone",
		    tap, strerror(-err));
	n->mtu = ctl_netif_mtu_from(cfg, err ? NULL : &u, &why);
	if (why.underlay)
		log_info("%s: MTU %u: underlay MTU %u %s, %s outer header%s", tap, n->mtu,
			 why.underlay, why.source, why.family == AF_INET6 ? "IPv6" : "IPv4",
			 cfg->nturn ? " + TURN ChannelData" : "");
	else
		log_info("%s: MTU %u (%s)", tap, n->mtu, why.source);
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

static bool wanted(const struct net_prefix *p, const struct net_prefix *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (net_prefix_equal(p, &v[i]))
			return true;
	return false;
}

static int installed_idx(const struct ctl_netif *n, const struct net_prefix *p)
{
	for (unsigned i = 0; i < n->nroutes; i++)
		if (net_prefix_equal(p, &n->routes[i].p))
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
