/* Candidate gathering and merging (see candidates.h).
 *
 * Which host addresses are worth advertising follows RFC 8445 §5.1.1.1: no
 * loopback, no IPv6 link-local (it needs a scope id the peer cannot know), no
 * deprecated site-local or IPv4-compatible/-mapped IPv6. The overlay's own TAP
 * is left out because its addresses only exist inside the overlay; an outer
 * overlay's TAP is fine (the recursive setup runs an inner overlay over it).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "control/nat/candidates.h"

uint32_t cand_priority(enum cand_type type, uint16_t local_pref, unsigned component)
{
	unsigned pref;
	switch (type) {
	case CAND_HOST:
		pref = CAND_PREF_HOST;
		break;
	case CAND_STATIC:
		pref = CAND_PREF_STATIC;
		break;
	case CAND_SRFLX:
		pref = CAND_PREF_SRFLX;
		break;
	default:
		pref = CAND_PREF_RELAY;
		break;
	}
	if (component < 1)
		component = 1;
	if (component > 256)
		component = 256;
	return (uint32_t)pref << 24 | (uint32_t)local_pref << 8 | (256 - component);
}

const char *cand_type_name(enum cand_type type)
{
	switch (type) {
	case CAND_HOST:
		return "host";
	case CAND_STATIC:
		return "static";
	case CAND_SRFLX:
		return "srflx";
	case CAND_RELAY:
		return "relay";
	}
	return "?";
}

static bool ignored(const char *name, const char (*ignore)[IFNAMSIZ], unsigned n_ignore,
		    const char *own_tap)
{
	if (own_tap && own_tap[0] && strcmp(name, own_tap) == 0)
		return true;
	for (unsigned i = 0; i < n_ignore; i++)
		if (strncmp(name, ignore[i], IFNAMSIZ) == 0)
			return true;
	return false;
}

static bool usable_v4(const uint8_t *a)
{
	/* 0/8 "this network", 127/8 loopback, 224/4 multicast and 240/4 reserved */
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

static bool usable_v6(const uint8_t *a)
{
	static const uint8_t zero12[12];
	if (a[0] == 0xff)
		return false; /* multicast */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return false; /* link-local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return false; /* site-local, deprecated */
	if (memcmp(a, zero12, 12) == 0 || net_addr_is_v4mapped(a))
		return false; /* ::, ::1, IPv4-compatible, IPv4-mapped */
	return true;
}

static bool have_ep(const struct candidate *c, unsigned n, const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < n; i++)
		if (net_endpoint_equal(&c[i].ep, ep))
			return true;
	return false;
}

int cand_host_from_ifaddrs(const struct ifaddrs *list, uint16_t port,
			   const char (*ignore)[IFNAMSIZ], unsigned n_ignore, const char *own_tap,
			   struct candidate *out, unsigned max)
{
	unsigned n = 0;

	/* Two passes so IPv6 comes first; local preference counts down within a
	 * family so every candidate's priority is unique (RFC 8445 §5.1.2.1). */
	for (int pass = 0; pass < 2; pass++) {
		int family = pass == 0 ? AF_INET6 : AF_INET;
		uint16_t local_pref = pass == 0 ? 65535 : 32767;

		for (const struct ifaddrs *ifa = list; ifa && n < max; ifa = ifa->ifa_next) {
			if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != family || !ifa->ifa_name)
				continue;
			if (!(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
				continue;
			if (ignored(ifa->ifa_name, ignore, n_ignore, own_tap))
				continue;

			struct net_endpoint ep = {.port = port, .family = (uint8_t)family};
			if (family == AF_INET6) {
				const struct sockaddr_in6 *s6 =
				    (const struct sockaddr_in6 *)ifa->ifa_addr;
				memcpy(ep.addr, &s6->sin6_addr, 16);
				if (!usable_v6(ep.addr))
					continue;
			} else {
				const struct sockaddr_in *s4 =
				    (const struct sockaddr_in *)ifa->ifa_addr;
				net_addr_set_v4(ep.addr, &s4->sin_addr);
				if (!usable_v4(ep.addr + 12))
					continue;
			}
			if (have_ep(out, n, &ep))
				continue;

			struct candidate *c = &out[n++];
			memset(c, 0, sizeof(*c));
			c->ep = ep;
			c->type = CAND_HOST;
			c->priority = cand_priority(CAND_HOST, local_pref, 1);
			if (local_pref > 0)
				local_pref--;
			strncpy(c->ifname, ifa->ifa_name, IFNAMSIZ - 1);
		}
	}
	return (int)n;
}

int cand_gather_host(uint16_t port, const char (*ignore)[IFNAMSIZ], unsigned n_ignore,
		     const char *own_tap, struct candidate *out, unsigned max)
{
	struct ifaddrs *list;
	if (getifaddrs(&list) < 0)
		return -errno;
	int n = cand_host_from_ifaddrs(list, port, ignore, n_ignore, own_tap, out, max);
	freeifaddrs(list);
	return n;
}

static bool ep_usable(const struct net_endpoint *ep)
{
	static const uint8_t zero[16];
	/* :: and ::ffff:0.0.0.0 */
	return ep->port != 0 && memcmp(ep->addr, zero, 16) != 0 &&
	       !(net_addr_is_v4mapped(ep->addr) && memcmp(ep->addr + 12, zero, 4) == 0);
}

static void add_list(struct candidate *tmp, unsigned *n, enum cand_type type,
		     const struct net_endpoint *eps, unsigned count)
{
	uint16_t local_pref = 65535;
	for (unsigned i = 0; i < count && i < CAND_MAX; i++) {
		if (!ep_usable(&eps[i]))
			continue;
		struct candidate *c = &tmp[(*n)++];
		memset(c, 0, sizeof(*c));
		c->ep = eps[i];
		c->type = (uint8_t)type;
		c->priority = cand_priority(type, local_pref--, 1);
	}
}

unsigned cand_merge(const struct cand_sources *src, struct candidate *out, unsigned max)
{
	struct candidate tmp[4 * CAND_MAX];
	bool keep[4 * CAND_MAX] = {false};
	unsigned n = 0, kept = 0, w = 0;

	for (unsigned i = 0; i < src->nhost && i < CAND_MAX; i++)
		if (ep_usable(&src->host[i].ep))
			tmp[n++] = src->host[i];
	add_list(tmp, &n, CAND_STATIC, src->statics, src->nstatic);
	add_list(tmp, &n, CAND_SRFLX, src->srflx, src->nsrflx);
	add_list(tmp, &n, CAND_RELAY, src->relay, src->nrelay);

	/* insertion sort, highest priority first; stable for equal priorities */
	for (unsigned i = 1; i < n; i++) {
		struct candidate c = tmp[i];
		unsigned j = i;
		for (; j > 0 && tmp[j - 1].priority < c.priority; j--)
			tmp[j] = tmp[j - 1];
		tmp[j] = c;
	}

	/* drop duplicate endpoints: the first (highest priority) one stays */
	unsigned u = 0;
	for (unsigned i = 0; i < n; i++)
		if (!have_ep(tmp, u, &tmp[i].ep))
			tmp[u++] = tmp[i];
	n = u;

	/* the best of each type first, then the rest by priority */
	bool seen_type[4] = {false};
	for (unsigned i = 0; i < n && kept < max; i++) {
		if (tmp[i].type < 4 && !seen_type[tmp[i].type]) {
			seen_type[tmp[i].type] = true;
			keep[i] = true;
			kept++;
		}
	}
	for (unsigned i = 0; i < n && kept < max; i++) {
		if (!keep[i]) {
			keep[i] = true;
			kept++;
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (keep[i])
			out[w++] = tmp[i];
	return w;
}
