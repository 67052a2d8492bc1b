/* The dpdk backend's underlay frames (dataplane/dpdk_eth.c), without EAL:
 * UDP to our address and port is kept (IP options too), everything else is
 * dropped and counted (another address, port, MAC or protocol, fragments,
 * truncated or inconsistent headers); ARP requests for us are answered in
 * place and teach us the sender; pings are answered with a valid checksum;
 * next hops are resolved by ARP at most every 100 ms; headers we write parse
 * back; the host ports' MAC table learns, moves and ignores multicast. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dataplane/dpdk.h"

/* Compound literals in macro arguments: the commas must be hidden. */
#define IP4(a, b, c, d) ((const uint8_t[]){a, b, c, d})
#define BCAST		((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 0x42}, peer_mac[6] = {2, 0, 0, 0, 0, 7};
static struct dp_dpdk *d;
static struct dp_dpdk_stats st;
static uint8_t f[2048];

static uint32_t ip(const char *s)
{
	uint32_t a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static int setup(void **state)
{
	(void)state;
	d = aligned_alloc(64, (sizeof(*d) + 63) & ~(size_t)63);
	memset(d, 0, sizeof(*d));
	d->ip4 = ip("198.18.0.2");
	d->mask = htonl(0xffffff00u);
	d->udp_port = 5800;
	d->tsc_hz = 1000000000ull;
	memcpy(d->net.mac, our_mac, 6);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(d);
	return 0;
}

static uint16_t csum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 (ihl words) + proto payload of plen bytes; returns length. */
static unsigned frame(const uint8_t dst_mac[6], const char *src, const char *dst, uint8_t proto,
		      unsigned ihl, unsigned plen)
{
	memset(f, 0, sizeof(f));
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08;
	uint8_t *h = f + 14;
	h[0] = (uint8_t)(0x40 | ihl);
	uint16_t tot = htons((uint16_t)(ihl * 4 + plen));
	memcpy(h + 2, &tot, 2);
	h[8] = 64;
	h[9] = proto;
	uint32_t a = ip(src), b = ip(dst);
	memcpy(h + 12, &a, 4);
	memcpy(h + 16, &b, 4);
	uint16_t c = htons(csum(h, ihl * 4));
	memcpy(h + 10, &c, 2);
	return 14 + ihl * 4 + plen;
}

static unsigned udp_frame(const char *dst, uint16_t dport, unsigned ihl, unsigned data)
{
	unsigned n = frame(our_mac, "198.18.0.1", dst, IPPROTO_UDP, ihl, 8 + data);
	uint8_t *u = f + 14 + ihl * 4;
	u[0] = 0x16, u[1] = 0xa8; /* 5800 */
	u[2] = (uint8_t)(dport >> 8), u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + data) >> 8), u[5] = (uint8_t)(8 + data);
	memset(u + 8, 0xab, data);
	return n;
}

static void expect_drop(unsigned len, uint64_t *counter, const char *what)
{
	struct dp_dpdk_frame fr;
	uint64_t before = *counter;
	if (dp_dpdk_frame_input(d, &st, f, len, &fr) != DP_DPDK_FRAME_DROP)
		fail_msg("%s: not dropped", what);
	if (*counter != before + 1)
		fail_msg("%s: not counted", what);
}

static void test_udp(void **state)
{
	struct dp_dpdk_frame fr;
	(void)state;
	unsigned n = udp_frame("198.18.0.2", 5800, 5, 100);
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, n, &fr), DP_DPDK_FRAME_DATA);
	assert_int_equal(fr.off, 42);
	assert_int_equal(fr.len, 100);
	assert_int_equal(fr.from.family, AF_INET);
	assert_int_equal(fr.from.port, 5800);
	assert_memory_equal(fr.from.addr + 12, IP4(198, 18, 0, 1), 4);
	/* Ethernet padding after the datagram is not payload. */
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, n + 20, &fr), DP_DPDK_FRAME_DATA);
	assert_int_equal(fr.len, 100);
	/* IP options: the payload starts after them. */
	n = udp_frame("198.18.0.2", 5800, 7, 10);
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, n, &fr), DP_DPDK_FRAME_DATA);
	assert_int_equal(fr.off, 14 + 28 + 8);
	assert_int_equal(fr.len, 10);
	/* An empty datagram is a datagram (the pipeline drops it as garbage). */
	n = udp_frame("198.18.0.2", 5800, 5, 0);
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, n, &fr), DP_DPDK_FRAME_DATA);
	assert_int_equal(fr.len, 0);
}

static void test_not_ours(void **state)
{
	unsigned n;
	(void)state;
	n = udp_frame("198.18.0.3", 5800, 5, 20);
	expect_drop(n, &st.not_ours, "another address");
	n = udp_frame("198.18.0.2", 5801, 5, 20);
	expect_drop(n, &st.not_ours, "another port");
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[0] = 0x04;
	expect_drop(n, &st.not_ours, "another MAC");
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[12] = 0x86, f[13] = 0xdd;
	expect_drop(n, &st.not_ours, "IPv6 ethertype");
	n = frame(our_mac, "198.18.0.1", "198.18.0.2", IPPROTO_TCP, 5, 20);
	expect_drop(n, &st.not_ours, "TCP");
	/* Truncated and inconsistent headers: every length is checked. */
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	for (unsigned cut = 0; cut < n; cut++)
		expect_drop(cut, &st.not_ours, "truncated");
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[14] = 0x44;
	expect_drop(n, &st.not_ours, "IHL 4");
	f[14] = 0x55;
	expect_drop(n, &st.not_ours, "IP version 5");
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[14 + 20 + 5] = 29; /* UDP length past the IP packet */
	expect_drop(n, &st.not_ours, "UDP length");
	f[14 + 20 + 5] = 7; /* shorter than its header */
	expect_drop(n, &st.not_ours, "UDP length < 8");
	n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[14 + 3] = 200; /* IP total length past the frame */
	expect_drop(n, &st.not_ours, "IP length");
	n = udp_frame("198.18.0.2", 5800, 15, 0); /* options fill the frame: no UDP header */
	f[14 + 2] = 0, f[14 + 3] = 60;
	expect_drop(14 + 60, &st.not_ours, "no room for UDP");
}

static void test_fragments(void **state)
{
	(void)state;
	unsigned n = udp_frame("198.18.0.2", 5800, 5, 20);
	f[14 + 6] = 0x20; /* MF */
	expect_drop(n, &st.fragments, "first fragment");
	f[14 + 6] = 0, f[14 + 7] = 10; /* offset 80 */
	expect_drop(n, &st.fragments, "later fragment");
}

static unsigned arp(uint16_t op, const char *sip, const char *tip)
{
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	uint8_t *a = f + 14;
	a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = (uint8_t)op;
	memcpy(a + 8, peer_mac, 6);
	uint32_t s = ip(sip), t = ip(tip);
	memcpy(a + 14, &s, 4);
	memcpy(a + 24, &t, 4);
	return 42;
}

static void test_arp(void **state)
{
	struct dp_dpdk_frame fr;
	uint8_t mac[6];
	uint32_t ask;
	struct net_endpoint to = {.family = AF_INET, .port = 5800};
	(void)state;
	to.addr[10] = to.addr[11] = 0xff;
	memcpy(to.addr + 12, IP4(198, 18, 0, 9), 4);

	/* A request for another address: no answer, and nothing learned. */
	arp(1, "198.18.0.9", "198.18.0.5");
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, 42, &fr), DP_DPDK_FRAME_DROP);
	/* Not known yet: asked once, then not again within 100 ms. */
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), -EAGAIN);
	assert_int_equal(ask, ip("198.18.0.9"));
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), -EAGAIN);
	assert_int_equal(ask, 0);
	assert_int_equal(st.neigh_miss, 2);
	uint8_t req[64];
	assert_int_equal(dp_dpdk_arp_request_build(d, req, ip("198.18.0.9")), 42);
	assert_memory_equal(req, BCAST, 6);
	assert_memory_equal(req + 6, our_mac, 6);
	assert_memory_equal(req + 14 + 14, IP4(198, 18, 0, 2), 4);
	assert_memory_equal(req + 14 + 24, IP4(198, 18, 0, 9), 4);

	/* A request for us: answered in place, and the sender is learned. */
	arp(1, "198.18.0.9", "198.18.0.2");
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, 42, &fr), DP_DPDK_FRAME_REPLY);
	assert_int_equal(fr.len, 42);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	assert_int_equal(f[14 + 7], 2);
	assert_memory_equal(f + 14 + 8, our_mac, 6);
	assert_memory_equal(f + 14 + 14, IP4(198, 18, 0, 2), 4);
	assert_memory_equal(f + 14 + 18, peer_mac, 6);
	assert_memory_equal(f + 14 + 24, IP4(198, 18, 0, 9), 4);
	assert_int_equal(st.arp_replies_out, 1);
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), 0);
	assert_memory_equal(mac, peer_mac, 6);

	/* Malformed ARP: dropped, nothing answered. */
	arp(1, "198.18.0.9", "198.18.0.2");
	f[14 + 4] = 8;
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, 42, &fr), DP_DPDK_FRAME_DROP);
	arp(1, "198.18.0.9", "198.18.0.2");
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, 41, &fr), DP_DPDK_FRAME_DROP);
	assert_int_equal(st.arp_replies_out, 1);

	/* Off-link: the gateway's MAC, or no route without one. */
	memcpy(to.addr + 12, IP4(203, 0, 113, 1), 4);
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), -ENETUNREACH);
	d->gateway = ip("198.18.0.1");
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), -EAGAIN);
	assert_int_equal(ask, d->gateway);
	/* The gateway's reply to our request teaches us its MAC. */
	arp(2, "198.18.0.1", "198.18.0.2");
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, 42, &fr), DP_DPDK_FRAME_DROP);
	assert_int_equal(st.arp_replies_in, 1);
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), 0);
	assert_memory_equal(mac, peer_mac, 6);
	d->gateway = 0;
	to.family = AF_INET6;
	assert_int_equal(dp_dpdk_next_hop(d, &st, &to, mac, &ask), -EAFNOSUPPORT);
}

static void test_ping(void **state)
{
	struct dp_dpdk_frame fr;
	(void)state;
	unsigned n = frame(our_mac, "198.18.0.1", "198.18.0.2", IPPROTO_ICMP, 5, 12);
	uint8_t *icmp = f + 34;
	icmp[0] = 8;
	memcpy(icmp + 4, "\x12\x34\x00\x01pingpi", 8);
	uint16_t c = htons(csum(icmp, 12));
	memcpy(icmp + 2, &c, 2);
	assert_int_equal(dp_dpdk_frame_input(d, &st, f, n, &fr), DP_DPDK_FRAME_REPLY);
	assert_int_equal(fr.len, n);
	assert_int_equal(icmp[0], 0);
	assert_int_equal(csum(icmp, 12), 0);
	assert_int_equal(csum(f + 14, 20), 0);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 14 + 12, IP4(198, 18, 0, 2), 4);
	assert_memory_equal(f + 14 + 16, IP4(198, 18, 0, 1), 4);
	assert_int_equal(st.icmp_echo, 1);
	/* An echo reply or a truncated message is not answered. */
	n = frame(our_mac, "198.18.0.1", "198.18.0.2", IPPROTO_ICMP, 5, 12);
	expect_drop(n, &st.not_ours, "echo reply");
	n = frame(our_mac, "198.18.0.1", "198.18.0.2", IPPROTO_ICMP, 5, 4);
	f[34] = 8;
	expect_drop(n, &st.not_ours, "short echo");
}

static void test_encap_roundtrip(void **state)
{
	static uint8_t buf[512];
	struct dp_dpdk_frame fr;
	struct net_endpoint to = {.family = AF_INET, .port = 5800};
	(void)state;
	/* To ourselves: what we write must be what we accept. */
	to.addr[10] = to.addr[11] = 0xff;
	memcpy(to.addr + 12, &d->ip4, 4);
	memset(buf + 128, 0x5a, 77);
	uint8_t *fs = dp_dpdk_frame_encap(d, buf + 128, 77, &to, our_mac, 7);
	assert_ptr_equal(fs, buf + 128 - DP_DPDK_HDR_LEN);
	assert_int_equal(csum(fs + 14, 20), 0);
	assert_int_equal(dp_dpdk_frame_input(d, &st, fs, DP_DPDK_HDR_LEN + 77, &fr),
			 DP_DPDK_FRAME_DATA);
	assert_int_equal(fr.off, DP_DPDK_HDR_LEN);
	assert_int_equal(fr.len, 77);
	assert_int_equal(fr.from.port, 5800);
	assert_memory_equal(fr.from.addr + 12, &d->ip4, 4);
}

static void test_lfdb(void **state)
{
	static const uint8_t a[6] = {2, 1, 1, 1, 1, 1}, b[6] = {2, 1, 1, 1, 1, 2},
			     mc[6] = {1, 0, 0x5e, 0, 0, 1};
	(void)state;
	assert_int_equal(dp_dpdk_lfdb_lookup(d, a), -1);
	dp_dpdk_lfdb_learn(d, a, 3);
	dp_dpdk_lfdb_learn(d, b, 1);
	assert_int_equal(dp_dpdk_lfdb_lookup(d, a), 3);
	assert_int_equal(dp_dpdk_lfdb_lookup(d, b), 1);
	dp_dpdk_lfdb_learn(d, a, 0); /* moved */
	assert_int_equal(dp_dpdk_lfdb_lookup(d, a), 0);
	dp_dpdk_lfdb_learn(d, mc, 2);
	assert_int_equal(dp_dpdk_lfdb_lookup(d, mc), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp),	      cmocka_unit_test(test_not_ours),
	    cmocka_unit_test(test_fragments), cmocka_unit_test(test_arp),
	    cmocka_unit_test(test_ping),      cmocka_unit_test(test_encap_roundtrip),
	    cmocka_unit_test(test_lfdb),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
