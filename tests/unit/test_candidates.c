/* Unit tests for endpoint candidates (control/nat/candidates.c): priorities,
 * which host addresses qualify, merging and ordering of host, static,
 * server-reflexive and relayed candidates, and gathering in a network
 * namespace of our own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/nat/candidates.h"
#include "tests/unit/fake_ifaddrs.h"
#include "tests/unit/stun_fixture.h"

/* ---- candidates: pure parts ---- */

static void test_cand_priority(void **state)
{
	(void)state;
	assert_int_equal(cand_priority(CAND_HOST, 65535, 1), 126u << 24 | 65535u << 8 | 255);
	assert_int_equal(cand_priority(CAND_SRFLX, 0, 1), 100u << 24 | 255);
	assert_int_equal(cand_priority(CAND_RELAY, 1, 1), 1u << 8 | 255);
	assert_int_equal(cand_priority(CAND_STATIC, 0, 2), 110u << 24 | 254);
	assert_true(cand_priority(CAND_HOST, 0, 1) > cand_priority(CAND_STATIC, 65535, 1));
	assert_true(cand_priority(CAND_STATIC, 0, 1) > cand_priority(CAND_SRFLX, 65535, 1));
	assert_true(cand_priority(CAND_SRFLX, 0, 1) > cand_priority(CAND_RELAY, 65535, 1));
	assert_string_equal(cand_type_name(CAND_SRFLX), "srflx");
	assert_string_equal(cand_type_name(CAND_RELAY), "relay");
}

static void test_cand_rules(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned flags;
		const char *addr;
		bool want;
	} cases[] = {
	    {"eth0", IFF_UP, "198.18.0.1", true},
	    {"eth0", IFF_UP, "2001:db8::1", true},
	    {"eth0", IFF_UP, "fd00::1", true},
	    {"eth0", IFF_UP, "fe80::1", false},
	    {"eth0", IFF_UP, "febf::1", false},
	    {"eth0", IFF_UP, "fec0::1", false},
	    {"eth0", IFF_UP, "ff02::1", false},
	    {"eth0", IFF_UP, "::ffff:198.18.0.9", false},
	    {"eth0", IFF_UP, "::198.18.0.9", false},
	    {"eth0", IFF_UP, "::1", false},
	    {"eth0", IFF_UP, "127.0.0.2", false},
	    {"eth0", IFF_UP, "0.0.0.0", false},
	    {"eth0", IFF_UP, "224.0.0.1", false},
	    {"eth0", IFF_UP, "198.18.0.1", false}, /* duplicate */
	    {"eth1", 0, "198.18.1.1", false},	   /* down */
	    {"lo", IFF_UP | IFF_LOOPBACK, "198.18.2.1", false},
	    {"lxcbr0", IFF_UP, "10.0.3.1", false}, /* ignored */
	    {"ipop", IFF_UP, "10.254.0.1", false}, /* own TAP */
	    {"lxcbr", IFF_UP, "10.0.4.1", true},   /* ignore names are exact */
	    {"lxcbr00", IFF_UP, "10.0.5.1", true},
	    {"tunnel-tap", IFF_UP, "10.254.1.1", true},
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct fake_if f[N];
	for (int i = N - 1; i >= 0; i--)
		fake(&f[i], i + 1 < N ? &f[i + 1] : NULL, cases[i].name, cases[i].flags,
		     cases[i].addr);
	const char ignore[2][IFNAMSIZ] = {"lxcbr0", "eth9"};
	struct candidate c[CAND_MAX];
	int n = cand_host_from_ifaddrs(&f[0].ifa, 5800, ignore, 2, "ipop", c, CAND_MAX);

	int want = 0;
	for (int i = 0; i < N; i++)
		want += cases[i].want;
	assert_int_equal(n, want);
	/* IPv6 first, priorities strictly decreasing, all host with the port */
	assert_int_equal(c[0].ep.family, AF_INET6);
	assert_int_equal(c[1].ep.family, AF_INET6);
	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].type, CAND_HOST);
		assert_int_equal(c[i].ep.port, 5800);
		if (i)
			assert_true(c[i - 1].priority > c[i].priority);
	}
	for (int i = 0; i < N; i++) {
		struct net_endpoint ep;
		if (strchr(cases[i].addr, ':'))
			ep_v6(&ep, cases[i].addr, 5800);
		else
			ep_v4(&ep, cases[i].addr, 5800);
		bool found = false;
		for (int j = 0; j < n; j++)
			found |= net_endpoint_equal(&c[j].ep, &ep) &&
				 strcmp(c[j].ifname, cases[i].name) == 0;
		if (i != 13) /* the duplicate's address is there from eth0 */
			assert_int_equal(found, cases[i].want);
	}
	/* max truncates */
	assert_int_equal(cand_host_from_ifaddrs(&f[0].ifa, 5800, ignore, 2, "ipop", c, 2), 2);
	assert_int_equal(cand_host_from_ifaddrs(NULL, 5800, NULL, 0, NULL, c, CAND_MAX), 0);
}

static void test_cand_merge(void **state)
{
	(void)state;
	struct candidate host[3];
	memset(host, 0, sizeof(host));
	ep_v6(&host[0].ep, "2001:db8::1", 5800);
	ep_v4(&host[1].ep, "198.18.0.1", 5800);
	ep_v4(&host[2].ep, "198.18.7.1", 5800);
	for (int i = 0; i < 3; i++) {
		host[i].type = CAND_HOST;
		host[i].priority = cand_priority(CAND_HOST, (uint16_t)(60000 - i), 1);
	}
	struct net_endpoint srflx[3], relay[1], statics[1];
	ep_v4(&srflx[0], "198.18.0.1", 5800); /* not NATed: equals a host candidate */
	ep_v4(&srflx[1], "203.0.113.9", 40000);
	memset(&srflx[2], 0, sizeof(srflx[2])); /* unusable */
	ep_v4(&relay[0], "198.18.9.9", 49152);
	ep_v4(&statics[0], "203.0.113.50", 5800);

	struct cand_sources src = {.host = host,
				   .nhost = 3,
				   .statics = statics,
				   .nstatic = 1,
				   .srflx = srflx,
				   .nsrflx = 3,
				   .relay = relay,
				   .nrelay = 1};
	struct candidate out[CAND_MAX];
	unsigned n = cand_merge(&src, out, CAND_MAX);
	assert_int_equal(n, 6);
	const int want_type[] = {CAND_HOST,   CAND_HOST,  CAND_HOST,
				 CAND_STATIC, CAND_SRFLX, CAND_RELAY};
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(out[i].type, want_type[i]);
		if (i)
			assert_true(out[i - 1].priority > out[i].priority);
	}
	assert_true(net_endpoint_equal(&out[1].ep, &host[1].ep));
	assert_true(net_endpoint_equal(&out[4].ep, &srflx[1]));

	/* short of room: every type keeps its best, then priority order */
	n = cand_merge(&src, out, 5);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].type, CAND_HOST);
	assert_int_equal(out[1].type, CAND_HOST);
	assert_int_equal(out[2].type, CAND_STATIC);
	assert_int_equal(out[3].type, CAND_SRFLX);
	assert_int_equal(out[4].type, CAND_RELAY);
	n = cand_merge(&src, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].type, CAND_HOST);
	assert_int_equal(out[1].type, CAND_STATIC);

	/* many host addresses never crowd out srflx and relay */
	struct candidate many[CAND_MAX];
	for (int i = 0; i < CAND_MAX; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		char ip[32];
		snprintf(ip, sizeof(ip), "198.18.1.%d", i + 1);
		ep_v4(&many[i].ep, ip, 5800);
		many[i].type = CAND_HOST;
		many[i].priority = cand_priority(CAND_HOST, (uint16_t)(1000 - i), 1);
	}
	struct cand_sources s2 = {.host = many,
				  .nhost = CAND_MAX,
				  .srflx = srflx + 1,
				  .nsrflx = 1,
				  .relay = relay,
				  .nrelay = 1};
	n = cand_merge(&s2, out, CAND_MAX);
	assert_int_equal(n, CAND_MAX);
	assert_int_equal(out[CAND_MAX - 2].type, CAND_SRFLX);
	assert_int_equal(out[CAND_MAX - 1].type, CAND_RELAY);
	assert_true(net_endpoint_equal(&out[CAND_MAX - 3].ep, &many[CAND_MAX - 3].ep));

	struct cand_sources empty = {0};
	assert_int_equal(cand_merge(&empty, out, CAND_MAX), 0);
}

/* ---- candidates in a namespace of our own ---- */

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

static bool has_addr(const struct candidate *c, int n, const char *ip, const char *ifname)
{
	struct net_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	if (strchr(ip, ':')) {
		inet_pton(AF_INET6, ip, ep.addr);
	} else {
		memcpy(ep.addr, net_v4mapped, sizeof(net_v4mapped));
		inet_pton(AF_INET, ip, ep.addr + 12);
	}
	ep.port = 5805;
	for (int i = 0; i < n; i++)
		if (net_endpoint_equal(&c[i].ep, &ep) && strcmp(c[i].ifname, ifname) == 0)
			return true;
	return false;
}

static int netns_child(void)
{
	static const char *setup[] = {
	    "ip link set lo up",
	    "ip link add va type veth peer name vb",
	    "ip link add vc type veth peer name vd",
	    "ip link add ipoptap type veth peer name ipoppeer",
	    "ip addr add 198.18.0.1/24 dev va",
	    "ip -6 addr add 2001:db8:1::1/64 dev va nodad",
	    "ip -6 addr add fe80::1:1/64 dev va nodad",
	    "ip addr add 198.18.1.1/24 dev vb",
	    "ip -6 addr add 2001:db8:2::1/64 dev vb nodad",
	    "ip addr add 198.18.2.1/24 dev vc",
	    "ip addr add 198.18.3.1/24 dev ipoptap",
	    "ip addr add 198.18.4.1/24 dev ipoppeer",
	    "ip link set va up",
	    "ip link set vb up",
	    "ip link set ipoptap up",
	    "ip link set ipoppeer up",
	    /* vc and vd stay down */
	};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (sh(setup[i]) != 0)
			return 1;

	struct candidate c[CAND_MAX];
	const char ignore[2][IFNAMSIZ] = {"vb", "ipop"};
	int n = cand_gather_host(5805, ignore, 2, "ipoptap", c, CAND_MAX);
	for (int i = 0; i < n; i++) {
		char s[NET_ENDPOINT_STRLEN];
		fprintf(stderr, "  candidate %s %s prio %u\n", c[i].ifname,
			net_endpoint_format(&c[i].ep, s, sizeof(s)), c[i].priority);
	}
	NS_CHECK(n == 3);
	NS_CHECK(c[0].ep.family == AF_INET6 && has_addr(c, 1, "2001:db8:1::1", "va"));
	NS_CHECK(has_addr(c, n, "198.18.0.1", "va"));
	NS_CHECK(has_addr(c, n, "198.18.4.1", "ipoppeer")); /* "ipop" is not "ipoppeer" */
	for (int i = 1; i < n; i++)
		NS_CHECK(c[i - 1].priority > c[i].priority);

	/* without the ignore list and own TAP: vb and ipoptap appear; still no
	 * loopback, no link-local (explicit or automatic), nothing from vc */
	n = cand_gather_host(5805, NULL, 0, NULL, c, CAND_MAX);
	NS_CHECK(n == 6);
	NS_CHECK(has_addr(c, n, "2001:db8:2::1", "vb"));
	NS_CHECK(has_addr(c, n, "198.18.1.1", "vb"));
	NS_CHECK(has_addr(c, n, "198.18.3.1", "ipoptap"));
	for (int i = 0; i < n; i++) {
		NS_CHECK(strcmp(c[i].ifname, "lo") != 0);
		NS_CHECK(strcmp(c[i].ifname, "vc") != 0);
		NS_CHECK(!(c[i].ep.addr[0] == 0xfe && (c[i].ep.addr[1] & 0xc0) == 0x80));
	}
	NS_CHECK(cand_gather_host(5805, NULL, 0, NULL, c, 1) == 1);
	return 0;
}

static void test_candidates_netns(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the namespace dies with this child, interfaces included */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(errno == EPERM ? 77 : 2);
		_exit(netns_child());
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cand_priority),
	    cmocka_unit_test(test_cand_rules),
	    cmocka_unit_test(test_cand_merge),
	    cmocka_unit_test(test_candidates_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
