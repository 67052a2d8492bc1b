/* Next hops from the kernel's routes and neighbours (dataplane/nexthop.c),
 * against a real kernel: the test moves into a network namespace of its own
 * (root; exits 77 otherwise) with a veth carrying addresses, neighbours and
 * routes set with `ip`. Checked: a neighbour on the link resolves to its MAC
 * and our source address (IPv4 and IPv6); a missing one stays unresolved
 * until it appears, and the event socket brings it in at the next tick; so
 * does a gateway's; a changed MAC is followed; local destinations, ones
 * routed out of another interface and ones without a route are not ours to
 * frame; workers' requests go through the want ring; a full table is
 * refused, never overrun. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <cmocka.h>

#include "dataplane/nexthop.h"

static struct dp_nh_table t;

/* Runs an `ip` command; a loaded machine may fail a fork now and then, so
 * up to three tries, the last one with its output shown. */
static void sh(const char *cmd)
{
	char buf[512];
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), i < 2 ? "%s >/dev/null 2>&1" : "%s", cmd);
		if (system(buf) == 0)
			return;
		usleep(100000);
	}
	fail_msg("command failed: %s", cmd);
}

static void addr_of(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (strchr(s, ':')) {
		assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	} else {
		a[10] = a[11] = 0xff;
		assert_int_equal(inet_pton(AF_INET, s, a + 12), 1);
	}
}

static int resolve(const char *s)
{
	uint8_t a[16];
	addr_of(s, a);
	return dp_nh_resolve(&t, a, 1000);
}

static int lookup(const char *s, struct dp_nh *nh)
{
	uint8_t a[16];
	addr_of(s, a);
	return dp_nh_lookup(&t, a, nh);
}

/* Waits for the event socket, feeds it, refreshes. */
static void events_then_tick(uint64_t now)
{
	struct pollfd pfd = {.fd = dp_nh_event_fd(&t), .events = POLLIN};
	assert_true(poll(&pfd, 1, 2000) == 1);
	usleep(20000); /* the rest of the burst */
	dp_nh_event(&t);
	assert_true(t.dirty);
	dp_nh_tick(&t, now, 200);
	assert_false(t.dirty);
}

static int setup(void **state)
{
	(void)state;
	sh("ip link add nh0 address 02:00:00:00:05:01 type veth peer name nh1");
	sh("ip addr add 198.18.5.1/24 dev nh0");
	sh("ip addr add 2001:db8:5::1/64 dev nh0 nodad");
	sh("ip link set nh0 up");
	sh("ip link set nh1 up");
	sh("ip link set lo up");
	sh("ip link add nhd type veth peer name nhe");
	sh("ip addr add 192.0.2.1/24 dev nhd");
	sh("ip link set nhd up");
	sh("ip route add 203.0.113.0/24 via 198.18.5.254 dev nh0");
	char err[200];
	int ret = dp_nh_init(&t, (int)if_nametoindex("nh0"), err, sizeof(err));
	if (ret)
		fail_msg("dp_nh_init: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dp_nh_fini(&t);
	return 0;
}

static void test_on_link(void **state)
{
	(void)state;
	static const uint8_t mac0[6] = {2, 0, 0, 0, 5, 1}, mac2[6] = {2, 0, 0, 0, 5, 2};
	struct dp_nh nh;
	uint8_t src[16];
	assert_memory_equal(t.mac, mac0, 6);

	sh("ip neigh replace 198.18.5.2 lladdr 02:00:00:00:05:02 dev nh0 nud reachable");
	assert_int_equal(resolve("198.18.5.2"), DP_NH_OK);
	assert_int_equal(lookup("198.18.5.2", &nh), 0);
	assert_int_equal(nh.family, AF_INET);
	assert_memory_equal(nh.dst_mac, mac2, 6);
	addr_of("198.18.5.1", src);
	assert_memory_equal(nh.src, src, 16);

	sh("ip -6 neigh replace 2001:db8:5::2 lladdr 02:00:00:00:05:02 dev nh0 nud reachable");
	assert_int_equal(resolve("2001:db8:5::2"), DP_NH_OK);
	assert_int_equal(lookup("2001:db8:5::2", &nh), 0);
	assert_int_equal(nh.family, AF_INET6);
	addr_of("2001:db8:5::1", src);
	assert_memory_equal(nh.src, src, 16);
}

static void test_missing_then_resolved(void **state)
{
	(void)state;
	static const uint8_t mac3[6] = {2, 0, 0, 0, 5, 3}, gw[6] = {2, 0, 0, 0, 5, 0xfe};
	struct dp_nh nh;

	assert_int_equal(resolve("198.18.5.3"), DP_NH_UNRESOLVED);
	assert_int_equal(lookup("198.18.5.3", &nh), -EAGAIN);
	assert_int_equal(resolve("203.0.113.9"), DP_NH_UNRESOLVED); /* its gateway is missing */
	dp_nh_event(&t); /* whatever the setup left queued */
	sh("ip neigh replace 198.18.5.3 lladdr 02:00:00:00:05:03 dev nh0 nud reachable");
	sh("ip neigh replace 198.18.5.254 lladdr 02:00:00:00:05:fe dev nh0 nud stale");
	events_then_tick(5000);
	assert_int_equal(lookup("198.18.5.3", &nh), 0);
	assert_memory_equal(nh.dst_mac, mac3, 6);
	assert_int_equal(lookup("203.0.113.9", &nh), 0);
	assert_memory_equal(nh.dst_mac, gw, 6);

	/* The MAC changes: followed at the next tick after the event. */
	sh("ip neigh replace 198.18.5.3 lladdr 02:00:00:00:05:33 dev nh0 nud reachable");
	events_then_tick(6000);
	assert_int_equal(lookup("198.18.5.3", &nh), 0);
	assert_int_equal(nh.dst_mac[5], 0x33);

	/* Gone: unresolved again (the backend sends through the kernel). */
	sh("ip neigh del 198.18.5.3 dev nh0");
	events_then_tick(7000);
	assert_int_equal(lookup("198.18.5.3", &nh), -EAGAIN);
}

static void test_not_ours(void **state)
{
	(void)state;
	struct dp_nh nh;
	assert_int_equal(resolve("192.0.2.7"), DP_NH_KERNEL);  /* another interface */
	assert_int_equal(resolve("198.18.5.1"), DP_NH_KERNEL); /* local */
	assert_int_equal(resolve("127.0.0.1"), DP_NH_KERNEL);
	assert_int_equal(resolve("100.64.0.1"), DP_NH_UNRESOLVED); /* no route */
	assert_int_equal(lookup("192.0.2.7", &nh), -EAGAIN);
	assert_int_equal(lookup("100.64.0.2", &nh), -ENOENT);
	unsigned n[4];
	dp_nh_count(&t, n);
	assert_true(n[DP_NH_KERNEL] >= 3);
	assert_string_equal(dp_nh_state_name(DP_NH_OK), "ok");
}

static void test_want_and_full(void **state)
{
	(void)state;
	struct dp_nh nh;
	uint8_t a[16];

	sh("ip neigh replace 198.18.5.9 lladdr 02:00:00:00:05:09 dev nh0 nud permanent");
	addr_of("198.18.5.9", a);
	assert_int_equal(dp_nh_lookup(&t, a, &nh), -ENOENT);
	dp_nh_want(&t, a);
	dp_nh_want(&t, a); /* asked twice: one entry */
	dp_nh_tick(&t, 8000, 200);
	assert_int_equal(dp_nh_lookup(&t, a, &nh), 0);
	assert_int_equal(nh.dst_mac[5], 9);

	/* Thousands of destinations: the table refuses what it cannot hold. */
	unsigned refused = 0;
	for (unsigned i = 0; i < 2000; i++) {
		memset(a, 0, 16);
		a[10] = a[11] = 0xff;
		a[12] = 10;
		a[13] = (uint8_t)(i >> 8);
		a[14] = (uint8_t)i;
		a[15] = 1;
		dp_nh_want(&t, a);
		if (i % 500 == 499)
			dp_nh_tick(&t, 9000 + i, 200);
	}
	dp_nh_tick(&t, 20000, 200);
	refused = (unsigned)t.full;
	assert_true(refused > 0);
	unsigned n[4], used = 0;
	dp_nh_count(&t, n);
	for (int s = 1; s < 4; s++)
		used += n[s];
	assert_true(used <= DP_NH_SLOTS);
	addr_of("198.18.5.9", a); /* the old entries are still there */
	assert_int_equal(dp_nh_lookup(&t, a, &nh), 0);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_nexthop: needs root (a network namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_nexthop: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_on_link),
	    cmocka_unit_test(test_missing_then_resolved),
	    cmocka_unit_test(test_not_ours),
	    cmocka_unit_test(test_want_and_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
