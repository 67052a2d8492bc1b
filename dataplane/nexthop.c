/* Next hops from the kernel's routes and neighbours (nexthop.h). */
#include "dataplane/nexthop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "util/log.h"

#define WANT_RING_SIZE 1024
#define NUD_USABLE     (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_v4(const uint8_t a[16])
{
	return memcmp(a, v4_prefix, 12) == 0;
}

static unsigned slot_of(const uint8_t a[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h & (DP_NH_SLOTS - 1);
}

/* ---- worker side --------------------------------------------------------- */

int dp_nh_lookup(const struct dp_nh_table *t, const uint8_t addr[16], struct dp_nh *out)
{
	unsigned h = slot_of(addr);

	for (unsigned i = 0; i < DP_NH_PROBE; i++) {
		const struct dp_nh_entry *e = &t->e[(h + i) & (DP_NH_SLOTS - 1)];
		uint8_t st = atomic_load_explicit(&e->state, memory_order_acquire);
		if (st == DP_NH_FREE)
			return -ENOENT;
		if (memcmp(e->addr, addr, 16) != 0)
			continue;
		uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		if ((s1 & 1) || atomic_load_explicit(&e->state, memory_order_relaxed) != DP_NH_OK)
			return -EAGAIN;
		out->family = e->family;
		memcpy(out->dst_mac, e->dst_mac, 6);
		memcpy(out->src, e->src, 16);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1)
			return -EAGAIN;
		return 0;
	}
	return -ENOENT;
}

void dp_nh_want(struct dp_nh_table *t, const uint8_t addr[16])
{
	if (rte_ring_mp_enqueue_elem(t->want, (void *)addr, 16) == 0)
		atomic_fetch_add_explicit(&t->wants, 1, memory_order_relaxed);
}

static int mac_get(int ifindex, uint8_t mac[6]);

/* ---- control side: the table ---------------------------------------------- */

static struct dp_nh_entry *entry_get(struct dp_nh_table *t, const uint8_t addr[16], bool create)
{
	unsigned h = slot_of(addr);

	for (unsigned i = 0; i < DP_NH_PROBE; i++) {
		struct dp_nh_entry *e = &t->e[(h + i) & (DP_NH_SLOTS - 1)];
		if (atomic_load_explicit(&e->state, memory_order_relaxed) == DP_NH_FREE) {
			if (!create)
				return NULL;
			memcpy(e->addr, addr, 16);
			e->family = is_v4(addr) ? AF_INET : AF_INET6;
			e->checked_ms = 0;
			atomic_store_explicit(&e->state, DP_NH_UNRESOLVED, memory_order_release);
			return e;
		}
		if (memcmp(e->addr, addr, 16) == 0)
			return e;
	}
	return NULL;
}

static void entry_write(struct dp_nh_entry *e, int state, const uint8_t src[16],
			const uint8_t mac[6], const uint8_t gw[16])
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	if (src)
		memcpy(e->src, src, 16);
	if (mac)
		memcpy(e->dst_mac, mac, 6);
	if (gw)
		memcpy(e->gw, gw, 16);
	atomic_store_explicit(&e->state, (uint8_t)state, memory_order_relaxed);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* ---- control side: rtnetlink ------------------------------------------------ */

struct route_res {
	int family;
	uint32_t oif;
	bool local;
	bool has_gw, has_src;
	uint8_t gw[16], src[16];
};

struct neigh_res {
	bool found;
	uint16_t state;
	bool has_mac;
	uint8_t mac[6];
};

/* A raw address attribute into the 16-byte form. */
static bool attr_addr(const struct nlattr *a, int family, uint8_t out[16])
{
	size_t len = mnl_attr_get_payload_len(a);
	if (family == AF_INET && len == 4) {
		memcpy(out, v4_prefix, 12);
		memcpy(out + 12, mnl_attr_get_payload(a), 4);
		return true;
	}
	if (family == AF_INET6 && len == 16) {
		memcpy(out, mnl_attr_get_payload(a), 16);
		return true;
	}
	return false;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_res *r = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	r->local = rtm->rtm_type == RTN_LOCAL;
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
	{
		switch (mnl_attr_get_type(a)) {
		case RTA_OIF:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				r->oif = mnl_attr_get_u32(a);
			break;
		case RTA_GATEWAY:
			r->has_gw = attr_addr(a, r->family, r->gw);
			break;
		case RTA_PREFSRC:
			r->has_src = attr_addr(a, r->family, r->src);
			break;
		}
	}
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_res *n = data;
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return MNL_CB_OK;
	n->found = true;
	n->state = ndm->ndm_state;
	mnl_attr_for_each(a, nlh, sizeof(*ndm))
	{
		if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
			memcpy(n->mac, mnl_attr_get_payload(a), 6);
			n->has_mac = true;
		}
	}
	return MNL_CB_OK;
}

/* Sends a request and runs cb on the answer. 0 or -errno (the kernel's). */
static int nl_query(struct dp_nh_table *t, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[8192];
	unsigned portid = mnl_socket_get_portid(t->req);

	nlh->nlmsg_seq = ++t->seq;
	if (mnl_socket_sendto(t->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(t->req, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		int ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP || ret == MNL_CB_OK)
			return 0;
	}
}

static int route_get(struct dp_nh_table *t, const uint8_t addr[16], struct route_res *r)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int fam = is_v4(addr) ? AF_INET : AF_INET6;

	memset(r, 0, sizeof(*r));
	r->family = fam;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)fam;
	rtm->rtm_dst_len = fam == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, fam == AF_INET ? 4 : 16, fam == AF_INET ? addr + 12 : addr);
	return nl_query(t, nlh, route_cb, r);
}

static int neigh_get(struct dp_nh_table *t, const uint8_t addr[16], uint32_t ifindex,
		     struct neigh_res *n)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int fam = is_v4(addr) ? AF_INET : AF_INET6;

	memset(n, 0, sizeof(*n));
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)fam;
	ndm->ndm_ifindex = (int)ifindex;
	mnl_attr_put(nlh, NDA_DST, fam == AF_INET ? 4 : 16, fam == AF_INET ? addr + 12 : addr);
	int ret = nl_query(t, nlh, neigh_cb, n);
	return ret == -ENOENT ? 0 : ret;
}

static int resolve_entry(struct dp_nh_table *t, struct dp_nh_entry *e, uint64_t now_ms)
{
	struct route_res r;
	struct neigh_res n;
	char a[INET6_ADDRSTRLEN];
	int old = atomic_load_explicit(&e->state, memory_order_relaxed);
	int state = DP_NH_UNRESOLVED;

	e->checked_ms = now_ms ? now_ms : 1;
	t->resolutions++;
	inet_ntop(e->family, e->family == AF_INET ? e->addr + 12 : e->addr, a, sizeof(a));
	int ret = route_get(t, e->addr, &r);
	if (ret < 0) {
		if (old != DP_NH_UNRESOLVED)
			log_info("af_xdp: no route to %s (%s): through the kernel until there is",
				 a, strerror(-ret));
		entry_write(e, DP_NH_UNRESOLVED, NULL, NULL, NULL);
		return DP_NH_UNRESOLVED;
	}
	if (r.local || r.oif != (uint32_t)t->ifindex || !r.has_src) {
		if (old != DP_NH_KERNEL)
			log_info("af_xdp: %s is %s: through the kernel", a,
				 r.local ? "local" : "routed out of another interface");
		entry_write(e, DP_NH_KERNEL, NULL, NULL, NULL);
		return DP_NH_KERNEL;
	}
	const uint8_t *gw = r.has_gw ? r.gw : e->addr;
	ret = neigh_get(t, gw, r.oif, &n);
	if (ret == 0 && n.found && n.has_mac && (n.state & NUD_USABLE))
		state = DP_NH_OK;
	if (state != old)
		log_debug("af_xdp: next hop of %s: %s", a, dp_nh_state_name(state));
	entry_write(e, state, r.src, state == DP_NH_OK ? n.mac : NULL, gw);
	return state;
}

int dp_nh_resolve(struct dp_nh_table *t, const uint8_t addr[16], uint64_t now_ms)
{
	struct dp_nh_entry *e = entry_get(t, addr, true);
	if (!e) {
		t->full++;
		return -ENOSPC;
	}
	return resolve_entry(t, e, now_ms);
}

void dp_nh_tick(struct dp_nh_table *t, uint64_t now_ms, uint64_t retry_ms)
{
	uint8_t addr[16];

	while (rte_ring_sc_dequeue_elem(t->want, addr, 16) == 0) {
		if (!entry_get(t, addr, true))
			t->full++;
	}
	bool all = t->dirty;
	t->dirty = false;
	if (all) {
		/* Our own MAC may have changed (a link event). Workers copy it
		 * unlocked: a frame built during the change may carry half of
		 * each, which the switch forwards all the same. */
		uint8_t mac[6];
		if (mac_get(t->ifindex, mac) == 0 && memcmp(mac, t->mac, 6))
			memcpy(t->mac, mac, 6);
	}
	for (unsigned i = 0; i < DP_NH_SLOTS; i++) {
		struct dp_nh_entry *e = &t->e[i];
		int st = atomic_load_explicit(&e->state, memory_order_relaxed);
		if (st == DP_NH_FREE)
			continue;
		if (all || e->checked_ms == 0 ||
		    (st == DP_NH_UNRESOLVED && now_ms - e->checked_ms >= retry_ms))
			resolve_entry(t, e, now_ms);
	}
}

int dp_nh_event_fd(const struct dp_nh_table *t)
{
	return t->ev ? mnl_socket_get_fd(t->ev) : -1;
}

void dp_nh_event(struct dp_nh_table *t)
{
	char buf[8192];

	/* Which event does not matter: any neighbour, route or address change
	 * re-resolves every entry at the next tick (there are few). ENOBUFS
	 * (events lost) means the same. */
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(t->ev), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ENOBUFS)
			break;
		t->events++;
		t->dirty = true;
	}
}

void dp_nh_count(const struct dp_nh_table *t, unsigned n[4])
{
	memset(n, 0, 4 * sizeof(n[0]));
	for (unsigned i = 0; i < DP_NH_SLOTS; i++)
		n[atomic_load_explicit(&t->e[i].state, memory_order_relaxed) & 3]++;
}

const char *dp_nh_state_name(int state)
{
	static const char *const names[] = {"free", "unresolved", "kernel", "ok"};
	return state >= 0 && state < 4 ? names[state] : "?";
}

/* ---- setup ------------------------------------------------------------------ */

static int mac_get(int ifindex, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname((unsigned)ifindex, ifr.ifr_name) ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int dp_nh_init(struct dp_nh_table *t, int ifindex, char *err, size_t errlen)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->ifindex = ifindex;
	ssize_t sz = rte_ring_get_memsize_elem(16, WANT_RING_SIZE);
	t->want = sz > 0 ? aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63) : NULL;
	if (!t->want || rte_ring_init(t->want, "nh_want", WANT_RING_SIZE, RING_F_SC_DEQ) < 0) {
		ret = -ENOMEM;
		snprintf(err, errlen, "af_xdp: next-hop ring: %s", strerror(-ret));
		goto fail;
	}
	ret = mac_get(ifindex, t->mac);
	if (ret < 0) {
		snprintf(err, errlen, "af_xdp: MAC address of interface %d: %s", ifindex,
			 strerror(-ret));
		goto fail;
	}
	t->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	t->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!t->req || !t->ev || mnl_socket_bind(t->req, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(t->ev,
			    RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
				RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		snprintf(err, errlen, "af_xdp: rtnetlink: %s", strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	dp_nh_fini(t);
	return ret;
}

void dp_nh_fini(struct dp_nh_table *t)
{
	if (t->req)
		mnl_socket_close(t->req);
	if (t->ev)
		mnl_socket_close(t->ev);
	free(t->want);
	t->req = t->ev = NULL;
	t->want = NULL;
}
