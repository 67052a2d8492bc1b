/* Ethernet/IP/UDP framing of the af_xdp backend (dataplane/xsk_frame.[ch]):
 * frames built for IPv4 and IPv6 parse back to the same peer and payload
 * and carry valid checksums; malformed frames (every truncation, bad IHL,
 * lengths past the frame, fragments, other protocols, VLAN tags, IPv6
 * extension headers) are refused; Ethernet padding is ignored. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dataplane/csum.h"
#include "dataplane/xsk_frame.h"

static uint8_t buf[DP_BUF_SIZE];
static struct dp_pkt pkt;
static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0xa}, mac_b[6] = {2, 0, 0, 0, 0, 0xb};

static void nh_make(struct dp_nh *nh, int family)
{
	memset(nh, 0, sizeof(*nh));
	nh->family = (uint8_t)family;
	memcpy(nh->dst_mac, mac_b, 6);
	if (family == AF_INET) {
		nh->src[10] = nh->src[11] = 0xff;
		inet_pton(AF_INET, "198.18.0.1", nh->src + 12);
	} else {
		inet_pton(AF_INET6, "2001:db8::1", nh->src);
	}
}

/* A datagram of len payload bytes to [addr]:port, ready for dp_frame_build. */
static struct dp_pkt *dgram(int family, const char *addr, uint16_t port, unsigned len)
{
	dp_pkt_attach(&pkt, buf, sizeof(buf));
	memset(&pkt.peer, 0, sizeof(pkt.peer));
	pkt.peer.family = (uint8_t)family;
	pkt.peer.port = port;
	if (family == AF_INET) {
		pkt.peer.addr[10] = pkt.peer.addr[11] = 0xff;
		inet_pton(AF_INET, addr, pkt.peer.addr + 12);
	} else {
		inet_pton(AF_INET6, addr, pkt.peer.addr);
	}
	for (unsigned i = 0; i < len; i++)
		pkt.data[i] = (uint8_t)(i * 7 + 1);
	pkt.len = (uint16_t)len;
	return &pkt;
}

/* Builds, checks the headers, parses back. */
static void roundtrip(int family, const char *addr, unsigned len)
{
	struct dp_nh nh;
	nh_make(&nh, family);
	struct dp_pkt *p = dgram(family, addr, 4500, len);
	struct net_endpoint to = p->peer;
	unsigned hl = dp_frame_build(p, &nh, mac_a, htons(5800), 0x1234);
	assert_int_equal(hl, family == AF_INET ? DP_FRAME_HDR4 : DP_FRAME_HDR6);
	assert_int_equal(p->len, hl + len);
	assert_memory_equal(p->data, mac_b, 6);
	assert_memory_equal(p->data + 6, mac_a, 6);
	const uint8_t *ip = p->data + 14;
	unsigned iphl = family == AF_INET ? 20 : 40;
	if (family == AF_INET) {
		assert_int_equal(dp_csum_fold(dp_csum_add(0, ip, 20)), 0xffff);
		assert_int_equal(ip[6] & 0x40, 0x40); /* DF */
		assert_int_equal(ip[4] << 8 | ip[5], 0x1234);
		assert_memory_equal(ip + 12, nh.src + 12, 4);
	} else {
		uint64_t s = dp_csum_pseudo(ip, 1, IPPROTO_UDP, 8 + len);
		assert_int_equal(dp_csum_fold(dp_csum_add(s, ip + 40, 8 + len)), 0xffff);
		assert_memory_equal(ip + 8, nh.src, 16);
	}
	const uint8_t *udp = ip + iphl;
	assert_int_equal(udp[0] << 8 | udp[1], 5800);
	assert_int_equal(udp[2] << 8 | udp[3], 4500);

	/* What the peer receives: its source is our address. */
	assert_true(dp_frame_parse(p));
	assert_int_equal(p->len, len);
	assert_ptr_equal(p->data, buf + DP_HEADROOM);
	assert_int_equal(p->peer.port, 5800);
	assert_int_equal(p->peer.family, family);
	assert_memory_equal(p->peer.addr, nh.src, 16);
	for (unsigned i = 0; i < len; i++)
		assert_int_equal(p->data[i], (uint8_t)(i * 7 + 1));
	(void)to;
}

static void test_roundtrip(void **state)
{
	(void)state;
	unsigned lens[] = {0, 1, 36, 104, 164, 1400, 3000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		roundtrip(AF_INET, "198.18.0.2", lens[i]);
		roundtrip(AF_INET6, "2001:db8::2", lens[i]);
	}
}

static void test_build_refuses(void **state)
{
	(void)state;
	struct dp_nh nh;
	nh_make(&nh, AF_INET);
	struct dp_pkt *p = dgram(AF_INET, "198.18.0.2", 4500, 100);
	p->data = p->buf + DP_FRAME_HDR4 - 1; /* headroom one short */
	uint8_t *d = p->data;
	assert_int_equal(dp_frame_build(p, &nh, mac_a, htons(5800), 1), 0);
	assert_ptr_equal(p->data, d);
	assert_int_equal(p->len, 100);
	p = dgram(AF_INET6, "2001:db8::2", 4500, 100); /* next hop of the other family */
	assert_int_equal(dp_frame_build(p, &nh, mac_a, htons(5800), 1), 0);
}

/* A valid IPv4 frame of payload plen into pkt; returns its length. */
static unsigned frame4(unsigned plen)
{
	struct dp_nh nh;
	nh_make(&nh, AF_INET);
	struct dp_pkt *p = dgram(AF_INET, "198.18.0.2", 4500, plen);
	dp_frame_build(p, &nh, mac_a, htons(5800), 7);
	return p->len;
}

static void reparse(uint8_t *f, unsigned len, bool want)
{
	dp_pkt_attach(&pkt, buf, sizeof(buf));
	pkt.data = f;
	pkt.len = (uint16_t)len;
	assert_int_equal(dp_frame_parse(&pkt), want);
	if (!want) {
		assert_ptr_equal(pkt.data, f);
		assert_int_equal(pkt.len, len);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	unsigned len = frame4(64);
	uint8_t *f = pkt.data, *ip = f + 14;

	for (unsigned l = 0; l < len; l++) /* every truncation */
		reparse(f, l, false);
	reparse(f, len, true);
	frame4(64);
	/* Ethernet padding after a short datagram is not payload */
	len = frame4(2);
	f = pkt.data;
	memset(f + len, 0xee, 20);
	reparse(f, 60, true);
	assert_int_equal(pkt.len, 2);

	struct {
		unsigned off;
		uint8_t val;
	} bad[] = {
	    {12, 0x81},
	    {13, 0x00}, /* VLAN tag: 0x8100 */
	    {12, 0x08},
	    {13, 0x06},		   /* ARP */
	    {14, 0x44},		   /* IHL 4 */
	    {14, 0x55},		   /* version 5 */
	    {14 + 9, IPPROTO_TCP}, /* not UDP */
	    {14 + 6, 0x20},	   /* MF */
	    {14 + 7, 0x01},	   /* fragment offset */
	    {14 + 2, 0x7f},	   /* IP length past the frame */
	    {14 + 20 + 4, 0x7f},   /* UDP length past the IP length */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = frame4(64);
		f = pkt.data;
		ip = f + 14;
		f[bad[i].off] = bad[i].val;
		if (bad[i].off == 12)
			f[13] = bad[i + 1].val, i++;
		reparse(f, len, false);
	}
	/* UDP length below its header */
	len = frame4(64);
	f = pkt.data;
	ip = f + 14;
	ip[20 + 4] = 0;
	ip[20 + 5] = 7;
	reparse(f, len, false);
	/* IPv4 options are skipped by IHL */
	len = frame4(64);
	f = pkt.data;
	memmove(f + 14 + 24, f + 14 + 20, len - 34);
	f[14] = 0x46;
	f[14 + 3] += 4;
	memset(f + 34, 1, 4);
	reparse(f, len + 4, true);
	assert_int_equal(pkt.len, 64);
	assert_int_equal(pkt.peer.port, 5800);
}

static void test_malformed6(void **state)
{
	(void)state;
	struct dp_nh nh;
	nh_make(&nh, AF_INET6);
	struct dp_pkt *p = dgram(AF_INET6, "2001:db8::2", 4500, 40);
	dp_frame_build(p, &nh, mac_a, htons(5800), 0);
	uint8_t *f = p->data;
	unsigned len = p->len;
	for (unsigned l = 0; l < len; l++)
		reparse(f, l, false);
	reparse(f, len, true);
	p = dgram(AF_INET6, "2001:db8::2", 4500, 40);
	dp_frame_build(p, &nh, mac_a, htons(5800), 0);
	f = p->data;
	f[14 + 6] = 0; /* hop-by-hop extension header */
	reparse(f, len, false);
	f[14 + 6] = IPPROTO_UDP;
	f[14 + 4] = 0x7f; /* payload length past the frame */
	reparse(f, len, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_build_refuses),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_malformed6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
