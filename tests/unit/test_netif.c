/* The TAP MTU (control/core/netif.c): the pure computation from a configuration
 * and what the host's underlay looks like, the reduction of host candidates
 * to per-family interface MTUs (with cand_host_from_ifaddrs' rules: ignore
 * list, own TAP, loopback, down, link-local), and the real probe in a
 * private network namespace (interface MTUs and IP_MTU towards static
 * peers through routes with their own MTU). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fake_ifaddrs.h"

#include "control/nat/candidates.h"
#include "control/core/netif.h"

static void ep(struct net_endpoint *e, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->port = port;
	if (strchr(ip, ':')) {
		e->family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, e->addr), 1);
	} else {
		e->family = AF_INET;
		memcpy(e->addr, net_v4mapped, sizeof(net_v4mapped));
		assert_int_equal(inet_pton(AF_INET, ip, e->addr + 12), 1);
	}
}

/* A discovery-only config (no static peer): the seeds' inner overlay. */
static void disc_cfg(struct ipop_config *cfg, enum ipop_mode mode)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = mode;
	snprintf(cfg->xmpp_host, sizeof(cfg->xmpp_host), "198.18.0.250");
}

static void set_if(struct ctl_netif_underlay *u, int f, unsigned mtu, const char *name)
{
	u->if_mtu[f] = mtu;
	snprintf(u->if_name[f], sizeof(u->if_name[f]), "%s", name);
}

static void set_path(struct ctl_netif_underlay *u, int f, unsigned mtu, const char *to)
{
	u->path_mtu[f] = mtu;
	snprintf(u->path_to[f], sizeof(u->path_to[f]), "%s", to);
}

/* Every result must let a full-size packet leave as exactly one underlay
 * packet: inner + Ethernet (switch) + overhead <= underlay, ESP payload
 * 4-byte aligned. */
static void check_fits(unsigned mtu, const struct ctl_netif_mtu_why *w, enum ipop_mode mode)
{
	unsigned l2 = mode == IPOP_MODE_SWITCH ? 14 : 0;
	assert_true(mtu + l2 + CTL_NETIF_ESP_OVERHEAD + w->outer <= w->underlay);
	assert_int_equal((mtu + l2 + 2) % 4, 0);
	assert_true(mtu + l2 + CTL_NETIF_ESP_OVERHEAD + w->outer + 4 > w->underlay);
}

/* The recursive setup: discovery over tunnel-tap (1438), which carries an
 * IPv4 address and the outer ULA. Either family may be chosen for the inner
 * pair, so the IPv6 header decides. */
static void test_discovery_families(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ctl_netif_underlay u = {0};
	struct ctl_netif_mtu_why w;

	disc_cfg(&cfg, IPOP_MODE_SWITCH);
	set_if(&u, 0, 1438, "tunnel-tap");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1360); /* IPv4 only */
	assert_int_equal(w.underlay, 1438);
	assert_int_equal(w.outer, 20);
	assert_int_equal(w.family, AF_INET);
	assert_string_equal(w.source, "of interface tunnel-tap");
	check_fits(1360, &w, cfg.mode);

	set_if(&u, 1, 1438, "tunnel-tap");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1340);
	assert_int_equal(w.outer, 40);
	assert_int_equal(w.family, AF_INET6);
	check_fits(1340, &w, cfg.mode);

	cfg.mode = IPOP_MODE_L3;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1354);
	check_fits(1354, &w, cfg.mode);

	/* The smaller family wins even with the shorter header: IPv4 on a
	 * 1300-byte interface, IPv6 on 1500. */
	set_if(&u, 0, 1300, "wg0");
	set_if(&u, 1, 1500, "eth0");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1238);
	assert_string_equal(w.source, "of interface wg0");
	assert_int_equal(w.family, AF_INET);

	/* IPv6 only */
	u.if_mtu[0] = 0;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1418);
	assert_int_equal(w.family, AF_INET6);
}

/* Nothing found: 1500 and IPv4, as before this existed. */
static void test_nothing_found(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ctl_netif_underlay u = {0};
	struct ctl_netif_mtu_why w;

	disc_cfg(&cfg, IPOP_MODE_L3);
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1438);
	assert_int_equal(w.underlay, 1500);
	assert_int_equal(w.family, AF_INET);
	assert_string_equal(w.source, "assumed (no underlay interface found)");
	assert_int_equal(ctl_netif_mtu_from(&cfg, NULL, &w), 1438);
	assert_int_equal(ctl_netif_mtu_from(&cfg, NULL, NULL), 1438);
	assert_int_equal(ctl_netif_mtu(&cfg), 1438);
	cfg.mode = IPOP_MODE_SWITCH;
	assert_int_equal(ctl_netif_mtu(&cfg), 1424);
	/* no discovery, no peers: the interfaces still say what there is */
	cfg.xmpp_host[0] = 0;
	set_if(&u, 0, 1400, "eth0");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1324);
	assert_string_equal(w.source, "of interface eth0");
}

/* An explicit mtu or underlay_mtu wins over anything found. */
static void test_explicit_wins(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ctl_netif_underlay u = {0};
	struct ctl_netif_mtu_why w;

	disc_cfg(&cfg, IPOP_MODE_SWITCH);
	set_if(&u, 0, 1300, "tunnel-tap");
	set_path(&u, 0, 1280, "198.18.0.2:5800");
	cfg.underlay_mtu = 9000;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 8924);
	assert_int_equal(w.underlay, 9000);
	assert_string_equal(w.source, "(underlay_mtu, configured)");
	check_fits(8924, &w, cfg.mode);
	cfg.underlay_mtu = 1500;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1424);

	cfg.mtu = 1400;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1400);
	assert_int_equal(w.underlay, 0);
	assert_string_equal(w.source, "mtu, configured");
	assert_int_equal(ctl_netif_mtu_from(&cfg, NULL, NULL), 1400);
	cfg.underlay_mtu = 0;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1400);
}

/* Static peers: the path MTU towards their endpoints is preferred over the
 * interfaces (a peer reached through eth0 does not care about a small wg0),
 * unless discovery may use any interface too; no path found: the family's
 * interfaces. */
static void test_static_peers(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ipop_peer_conf peers[2];
	struct ctl_netif_underlay u = {0};
	struct ctl_netif_mtu_why w;

	memset(&cfg, 0, sizeof(cfg));
	memset(peers, 0, sizeof(peers));
	cfg.mode = IPOP_MODE_L3;
	cfg.peers = peers;
	cfg.npeers = 1;
	ep(&peers[0].endpoint, "198.18.0.2", 5800);
	set_if(&u, 0, 1400, "wg0");
	set_if(&u, 1, 1280, "he-ipv6"); /* IPv6 is not used by any peer */
	set_path(&u, 0, 1500, "198.18.0.2:5800 (eth0)");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1438);
	assert_string_equal(w.source, "on the path to 198.18.0.2:5800 (eth0)");

	/* with discovery, any interface may carry a link */
	snprintf(cfg.xmpp_host, sizeof(cfg.xmpp_host), "xmpp.test");
	u.if_mtu[1] = 0;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1338);
	assert_string_equal(w.source, "of interface wg0");
	/* ... and a smaller path beats the interfaces */
	u.path_mtu[0] = 1300;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1238);
	assert_int_equal(w.underlay, 1300);
	cfg.xmpp_host[0] = 0;

	/* no route found: that family's interfaces */
	u.path_mtu[0] = 0;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1338);

	/* an IPv6 peer: 40-byte header on its own path */
	cfg.npeers = 2;
	ep(&peers[1].endpoint, "2001:db8::2", 5800);
	set_path(&u, 0, 1500, "198.18.0.2:5800 (eth0)");
	set_path(&u, 1, 1500, "[2001:db8::2]:5800 (eth0)");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1418);
	assert_int_equal(w.family, AF_INET6);
	/* as ctl_netif_mtu always did with a configured underlay_mtu */
	cfg.underlay_mtu = 1500;
	assert_int_equal(ctl_netif_mtu(&cfg), 1418);
	cfg.npeers = 1;
	assert_int_equal(ctl_netif_mtu(&cfg), 1438);
	/* a peer without an endpoint (discovered later) says nothing */
	cfg.underlay_mtu = 0;
	memset(&peers[0].endpoint, 0, sizeof(peers[0].endpoint));
	u.if_mtu[1] = 0;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1338);
}

/* TURN: 4 bytes of ChannelData, and the server's family is in use. */
static void test_turn(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ipop_turn_conf turn;
	struct ctl_netif_underlay u = {0};
	struct ctl_netif_mtu_why w;

	disc_cfg(&cfg, IPOP_MODE_L3);
	memset(&turn, 0, sizeof(turn));
	ep(&turn.server, "198.18.0.251", 3478);
	cfg.turn = &turn;
	cfg.nturn = 1;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1434);
	assert_int_equal(w.outer, 24);
	check_fits(1434, &w, cfg.mode);
	cfg.mode = IPOP_MODE_SWITCH;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1420);

	/* the path to the server counts like a static peer's */
	set_if(&u, 0, 1500, "eth0");
	set_path(&u, 0, 1400, "198.18.0.251:3478 (eth0)");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1320);
	assert_string_equal(w.source, "on the path to 198.18.0.251:3478 (eth0)");

	/* an IPv6 server: 44 bytes */
	memset(&u, 0, sizeof(u));
	ep(&turn.server, "2001:db8::251", 3478);
	cfg.mode = IPOP_MODE_L3;
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1414);
	assert_int_equal(w.outer, 44);
	check_fits(1414, &w, cfg.mode);
}

/* Tiny underlays give the IPv4 minimum, never an underflow. */
static void test_tiny(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ctl_netif_underlay u = {0};

	disc_cfg(&cfg, IPOP_MODE_SWITCH);
	set_if(&u, 0, 100, "x");
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, NULL), 68);
	for (unsigned m = 576; m <= 9000; m++) {
		struct ctl_netif_mtu_why w;
		set_if(&u, 0, m, "x");
		set_if(&u, 1, m, "x");
		unsigned r = ctl_netif_mtu_from(&cfg, &u, &w);
		assert_int_equal(w.underlay, m);
		check_fits(r, &w, cfg.mode);
	}
}

/* ---- host candidates -> interface MTUs ---- */

static const struct {
	const char *name;
	unsigned mtu;
} fake_mtus[] = {
    {"eth0", 1280},			/* ignored: would be the smallest */
    {"lxcbr0", 1100},			/* ignored */
    {"ipop", 576},			/* our own TAP */
    {"lo", 65536},			/* loopback */
    {"eth1", 1200},			/* down */
    {"v-c1", 1000},			/* only a link-local address */
    {"tunnel-tap", 1438},		/* the underlay */
    {"eth2", 1500},	  {"nomtu", 0}, /* the MTU cannot be read: skipped */
};

static unsigned fake_mtu_of(const char *ifname, void *arg)
{
	(*(unsigned *)arg)++;
	for (size_t i = 0; i < sizeof(fake_mtus) / sizeof(fake_mtus[0]); i++)
		if (!strcmp(fake_mtus[i].name, ifname))
			return fake_mtus[i].mtu;
	fail_msg("MTU asked for an unknown interface %s", ifname);
	return 0;
}

static void test_from_cands(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned flags;
		const char *addr;
	} ifs[] = {
	    {"eth0", IFF_UP, "198.18.0.1"},
	    {"eth0", IFF_UP, "2001:db8::1"},
	    {"lxcbr0", IFF_UP, "10.0.3.1"},
	    {"ipop", IFF_UP, "10.254.0.1"},
	    {"ipop", IFF_UP, "fd50:dbc:41f2:4a3c::1"},
	    {"lo", IFF_UP | IFF_LOOPBACK, "127.0.0.1"},
	    {"eth1", 0, "198.18.1.1"},
	    {"v-c1", IFF_UP, "fe80::1"},
	    {"tunnel-tap", IFF_UP, "192.168.1.100"},
	    {"tunnel-tap", IFF_UP, "fd50:dbc:41f2:4a3c::64"},
	    {"eth2", IFF_UP, "198.18.2.1"},
	    {"nomtu", IFF_UP, "fd00::9"},
	};
	enum { N = sizeof(ifs) / sizeof(ifs[0]) };
	struct fake_if f[N];
	for (int i = N - 1; i >= 0; i--)
		fake(&f[i], i + 1 < N ? &f[i + 1] : NULL, ifs[i].name, ifs[i].flags, ifs[i].addr);
	const char ignore[2][IFNAMSIZ] = {"eth0", "lxcbr0"}; /* the seed's inner list */
	struct candidate c[CAND_MAX];
	int n = cand_host_from_ifaddrs(&f[0].ifa, 5805, ignore, 2, "ipop", c, CAND_MAX);
	assert_int_equal(n, 4);

	struct ctl_netif_underlay u;
	unsigned calls = 0;
	memset(&u, 0xa5, sizeof(u));
	ctl_netif_underlay_from_cands(c, (unsigned)n, fake_mtu_of, &calls, &u);
	assert_int_equal(calls, 4);
	assert_int_equal(u.if_mtu[0], 1438);
	assert_string_equal(u.if_name[0], "tunnel-tap");
	assert_int_equal(u.if_mtu[1], 1438);
	assert_string_equal(u.if_name[1], "tunnel-tap");
	assert_int_equal(u.path_mtu[0], 0);
	assert_int_equal(u.path_mtu[1], 0);

	struct ipop_config cfg;
	struct ctl_netif_mtu_why w;
	disc_cfg(&cfg, IPOP_MODE_SWITCH);
	assert_int_equal(ctl_netif_mtu_from(&cfg, &u, &w), 1340);
	assert_string_equal(w.source, "of interface tunnel-tap");

	/* without the ignore list lxcbr0 (1100) and eth0 (1280) set them */
	n = cand_host_from_ifaddrs(&f[0].ifa, 5805, NULL, 0, "ipop", c, CAND_MAX);
	ctl_netif_underlay_from_cands(c, (unsigned)n, fake_mtu_of, &calls, &u);
	assert_int_equal(u.if_mtu[0], 1100);
	assert_string_equal(u.if_name[0], "lxcbr0");
	assert_int_equal(u.if_mtu[1], 1280);
	assert_string_equal(u.if_name[1], "eth0");
	/* without excluding our TAP it would set it (576) */
	n = cand_host_from_ifaddrs(&f[0].ifa, 5805, ignore, 2, NULL, c, CAND_MAX);
	ctl_netif_underlay_from_cands(c, (unsigned)n, fake_mtu_of, &calls, &u);
	assert_int_equal(u.if_mtu[0], 576);
	assert_string_equal(u.if_name[1], "ipop");

	/* non-host candidates and empty lists are ignored */
	c[0].type = CAND_SRFLX;
	ctl_netif_underlay_from_cands(c, 1, fake_mtu_of, &calls, &u);
	assert_int_equal(u.if_mtu[0] + u.if_mtu[1], 0);
	ctl_netif_underlay_from_cands(NULL, 0, fake_mtu_of, &calls, &u);
	assert_int_equal(u.if_mtu[0] + u.if_mtu[1], 0);
}

/* ---- the real probe, in a private network namespace ---- */

#define NS_CHECK(c)                                                                                \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "netns child: %s:%d: %s\n", __FILE__, __LINE__, #c);       \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int sh(const char *cmd)
{
	char full[512];
	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "netns child: '%s' failed (%d)\n", cmd, rc);
	return rc;
}

static int probe_child(void)
{
	static const char *setup[] = {
	    "ip link set lo up",
	    "ip link add va type veth peer name va-peer",
	    "ip link add vb type veth peer name vb-peer",
	    "ip link add ipoptap type veth peer name ipoptap-peer",
	    "ip link set va mtu 1400",
	    "ip link set vb mtu 1300",
	    "ip link set ipoptap mtu 1280",
	    "ip addr add 198.18.5.1/24 dev va",
	    "ip -6 addr add 2001:db8:5::1/64 dev va nodad",
	    "ip addr add 198.18.6.1/24 dev vb",
	    "ip addr add 198.18.8.1/24 dev ipoptap",
	    "ip link set va up",
	    "ip link set va-peer up",
	    "ip link set vb up",
	    "ip link set ipoptap up",
	    /* a route with its own MTU to the static peer's network */
	    "ip route add 198.18.7.0/24 via 198.18.5.2 dev va mtu 1300",
	};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (sh(setup[i]) != 0)
			return 1;

	struct ipop_config cfg;
	struct ipop_peer_conf peers[3];
	char ignore[1][IFNAMSIZ] = {"vb"};
	memset(&cfg, 0, sizeof(cfg));
	memset(peers, 0, sizeof(peers));
	cfg.mode = IPOP_MODE_L3;
	cfg.port = 5800;
	cfg.network_ignore_list = ignore;
	cfg.n_ignore = 1;
	cfg.peers = peers;

	/* discovery only: the interfaces (vb ignored, ipoptap is ours) */
	struct ctl_netif_underlay u;
	struct ctl_netif_mtu_why w;
	snprintf(cfg.xmpp_host, sizeof(cfg.xmpp_host), "xmpp.test");
	NS_CHECK(ctl_netif_underlay_probe(&cfg, "ipoptap", &u) == 0);
	fprintf(stderr, "  interfaces: IPv4 %u (%s), IPv6 %u (%s)\n", u.if_mtu[0], u.if_name[0],
		u.if_mtu[1], u.if_name[1]);
	NS_CHECK(u.if_mtu[0] == 1400 && !strcmp(u.if_name[0], "va"));
	NS_CHECK(u.if_mtu[1] == 1400 && !strcmp(u.if_name[1], "va"));
	NS_CHECK(u.path_mtu[0] == 0 && u.path_mtu[1] == 0);
	NS_CHECK(ctl_netif_mtu_from(&cfg, &u, &w) == 1318); /* IPv6 header */
	/* the ignore list and our own TAP are what keep vb and ipoptap out */
	cfg.n_ignore = 0;
	NS_CHECK(ctl_netif_underlay_probe(&cfg, "ipoptap", &u) == 0);
	NS_CHECK(u.if_mtu[0] == 1300 && !strcmp(u.if_name[0], "vb"));
	NS_CHECK(ctl_netif_underlay_probe(&cfg, NULL, &u) == 0);
	NS_CHECK(u.if_mtu[0] == 1280 && !strcmp(u.if_name[0], "ipoptap"));
	cfg.n_ignore = 1;
	cfg.xmpp_host[0] = 0;

	/* static peers: the route's MTU (1300), the interface's (1400 for
	 * IPv6), and one without a route (skipped) */
	cfg.npeers = 3;
	ep(&peers[0].endpoint, "198.18.7.2", 5800);
	ep(&peers[1].endpoint, "2001:db8:5::2", 5800);
	ep(&peers[2].endpoint, "203.0.113.9", 5800);
	NS_CHECK(ctl_netif_underlay_probe(&cfg, "ipoptap", &u) == 0);
	fprintf(stderr, "  paths: IPv4 %u (%s), IPv6 %u (%s)\n", u.path_mtu[0], u.path_to[0],
		u.path_mtu[1], u.path_to[1]);
	NS_CHECK(u.path_mtu[0] == 1300 && !strcmp(u.path_to[0], "198.18.7.2:5800 (va)"));
	NS_CHECK(u.path_mtu[1] == 1400 && !strcmp(u.path_to[1], "[2001:db8:5::2]:5800 (va)"));
	NS_CHECK(ctl_netif_mtu_from(&cfg, &u, &w) == 1238);
	NS_CHECK(!strcmp(w.source, "on the path to 198.18.7.2:5800 (va)"));

	/* asked again, the kernel answers for the route as it is now */
	NS_CHECK(sh("ip route change 198.18.7.0/24 via 198.18.5.2 dev va mtu 1280") == 0);
	NS_CHECK(ctl_netif_underlay_probe(&cfg, "ipoptap", &u) == 0);
	NS_CHECK(u.path_mtu[0] == 1280);
	return 0;
}

static void test_probe_netns(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the namespace dies with this child, interfaces included */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(errno == EPERM ? 77 : 2);
		_exit(probe_child());
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The TAP MTU from a configured underlay MTU. */
static void test_mtu(void **state)
{
	(void)state;
	struct ipop_config cfg;
	struct ipop_peer_conf peer;
	memset(&cfg, 0, sizeof(cfg));
	memset(&peer, 0, sizeof(peer));
	peer.endpoint.family = AF_INET;
	cfg.peers = &peer;
	cfg.npeers = 1;
	cfg.underlay_mtu = 1500;
	cfg.mode = IPOP_MODE_L3;
	/* 1500 - 20 - 8 - 8 - 8 - 16 - 2 = 1438, and 1438 + 2 is a multiple of 4. */
	assert_int_equal(ctl_netif_mtu(&cfg), 1438);
	cfg.mode = IPOP_MODE_SWITCH;
	assert_int_equal(ctl_netif_mtu(&cfg), 1424);
	peer.endpoint.family = AF_INET6;
	cfg.mode = IPOP_MODE_L3;
	assert_int_equal(ctl_netif_mtu(&cfg), 1418);
	/* Rounding: 1499 - 62 = 1437 → 1434 (1436 is a multiple of 4). */
	peer.endpoint.family = AF_INET;
	cfg.underlay_mtu = 1499;
	assert_int_equal(ctl_netif_mtu(&cfg), 1434);
	for (unsigned u = 1280; u <= 9000; u++) {
		cfg.underlay_mtu = u;
		unsigned m = ctl_netif_mtu(&cfg);
		assert_int_equal((m + 2) % 4, 0);
		assert_true(m + 62 <= u && m + 62 + 4 > u);
	}
	cfg.mtu = 1280;
	assert_int_equal(ctl_netif_mtu(&cfg), 1280);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mtu),		  cmocka_unit_test(test_discovery_families),
	    cmocka_unit_test(test_nothing_found), cmocka_unit_test(test_explicit_wins),
	    cmocka_unit_test(test_static_peers),  cmocka_unit_test(test_turn),
	    cmocka_unit_test(test_tiny),	  cmocka_unit_test(test_from_cands),
	    cmocka_unit_test(test_probe_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
