/* L3 mode: ARP and ND answered locally (byte-exact against frames made by
 * scapy), host → link routing, link → host source check and delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dataplane/esp.h"
#include "dataplane/l3.h"

#define HOST_MAC   0x02, 0x00, 0x00, 0x00, 0x00, 0x01
#define ROUTER_MAC 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe

static const uint8_t host_mac[6] = {HOST_MAC};
static const uint8_t router_mac[6] = {ROUTER_MAC};

/* scapy: Ether(src=host,dst=bcast)/ARP(op=1,hwsrc=host,psrc="10.9.0.1",pdst="10.9.0.2") */
static const uint8_t arp_request[42] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, HOST_MAC, 0x08, 0x06, 0x00, 0x01,
    0x08, 0x00, 0x06, 0x04, 0x00, 0x01, HOST_MAC, 0x0a, 0x09, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,	  0x09, 0x00, 0x02,
};

/* scapy: Ether(src=host,dst="33:33:ff:00:00:02")/IPv6(src="fd50::1",
 * dst="ff02::1:ff00:2",hlim=255)/ICMPv6ND_NS(tgt="fd50::2")/ICMPv6NDOptSrcLLAddr(host) */
static const uint8_t nd_ns[86] = {
    0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfd, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02, 0x87, 0x00, 0x7c, 0xf7, 0x00, 0x00,
    0x00, 0x00, 0xfd, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
};

/* scapy: Ether(src=router,dst=host)/IPv6(src="fd50::2",dst="fd50::1",hlim=255)/
 * ICMPv6ND_NA(R=0,S=1,O=1,tgt="fd50::2")/ICMPv6NDOptDstLLAddr(router) */
static const uint8_t nd_na_expected[86] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x86, 0xdd, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfd, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x1a, 0xae, 0x60, 0x00,
    0x00, 0x00, 0xfd, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe,
};

struct fixture {
	struct dp_table *t;
	struct dp_pool pool;
};

static int setup(void **state)
{
	static struct fixture f;
	struct dp_table_params p = {.mode = DP_MODE_L3, .mtu = 1400};
	struct net_prefix pfx;

	memcpy(p.host_mac, host_mac, 6);
	memcpy(p.router_mac, router_mac, 6);
	inet_pton(AF_INET, "10.9.0.1", &p.vip4);
	inet_pton(AF_INET6, "fd50::1", p.vip6);
	f.t = dp_table_create(&p, 2, 0, 8, 0);
	if (!f.t)
		return -1;

	memset(&pfx, 0, sizeof(pfx));
	pfx.family = AF_INET, pfx.addr[10] = pfx.addr[11] = 0xff;
	inet_pton(AF_INET, "10.9.0.2", pfx.addr + 12), pfx.len = 32;
	dp_table_add_route(f.t, &pfx, 0);
	inet_pton(AF_INET, "10.9.1.0", pfx.addr + 12), pfx.len = 24;
	dp_table_add_route(f.t, &pfx, 1);
	/* Our own address as a route must still never be answered for. */
	inet_pton(AF_INET, "10.9.0.0", pfx.addr + 12), pfx.len = 16;
	dp_table_add_route(f.t, &pfx, 1);
	memset(&pfx, 0, sizeof(pfx));
	pfx.family = AF_INET6;
	inet_pton(AF_INET6, "fd50::2", pfx.addr), pfx.len = 128;
	dp_table_add_route(f.t, &pfx, 0);
	inet_pton(AF_INET6, "fd50:1::", pfx.addr), pfx.len = 64;
	dp_table_add_route(f.t, &pfx, 1);
	inet_pton(AF_INET6, "fd50::", pfx.addr), pfx.len = 48;
	dp_table_add_route(f.t, &pfx, 1);
	dp_table_seal(f.t);
	if (dp_pool_init(&f.pool, 4) != 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->pool.avail, f->pool.size);
	dp_pool_fini(&f->pool);
	dp_table_free(f->t);
	return 0;
}

static struct dp_pkt *pkt_from(struct fixture *f, const uint8_t *bytes, size_t len)
{
	struct dp_pkt *p = dp_pool_get(&f->pool);
	assert_non_null(p);
	memcpy(p->data, bytes, len);
	p->len = (uint16_t)len;
	return p;
}

/* Independent checksum: RFC 1071 sum over the pseudo-header and message. */
static uint16_t ref_icmp6_sum(const uint8_t *ip6)
{
	uint32_t plen = (uint32_t)(ip6[4] << 8 | ip6[5]);
	uint8_t pseudo[40];
	uint64_t sum = 0;
	memcpy(pseudo, ip6 + 8, 32);
	pseudo[32] = (uint8_t)(plen >> 24), pseudo[33] = (uint8_t)(plen >> 16);
	pseudo[34] = (uint8_t)(plen >> 8), pseudo[35] = (uint8_t)plen;
	pseudo[36] = pseudo[37] = pseudo[38] = 0, pseudo[39] = 58;
	for (int i = 0; i < 40; i += 2)
		sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	for (uint32_t i = 0; i < plen; i++)
		sum += i % 2 ? ip6[40 + i] : (uint32_t)ip6[40 + i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum; /* 0xffff when the message verifies */
}

static void fix_icmp6_sum(uint8_t *ip6)
{
	ip6[42] = ip6[43] = 0;
	uint16_t s = (uint16_t)~ref_icmp6_sum(ip6);
	ip6[42] = (uint8_t)(s >> 8), ip6[43] = (uint8_t)s;
}

static void test_arp_reply(void **state)
{
	struct fixture *f = *state;
	uint8_t padded[60] = {0};
	memcpy(padded, arp_request, sizeof(arp_request));
	struct dp_pkt *p = pkt_from(f, padded, sizeof(padded)); /* with Ethernet padding */

	assert_true(dp_l3_arp_reply(f->t, p));
	const uint8_t *b = p->data;
	assert_int_equal(p->len, 42);
	assert_memory_equal(b, host_mac, 6);	   /* to the asker */
	assert_memory_equal(b + 6, router_mac, 6); /* from us */
	assert_int_equal(b[12] << 8 | b[13], 0x0806);
	assert_int_equal(b[14] << 8 | b[15], 1);      /* htype Ethernet */
	assert_int_equal(b[16] << 8 | b[17], 0x0800); /* ptype IPv4 */
	assert_int_equal(b[18], 6);
	assert_int_equal(b[19], 4);
	assert_int_equal(b[20] << 8 | b[21], 2); /* reply */
	assert_memory_equal(b + 22, router_mac, 6);
	const uint8_t spa[4] = {10, 9, 0, 2}, tpa[4] = {10, 9, 0, 1};
	assert_memory_equal(b + 28, spa, 4);
	assert_memory_equal(b + 32, host_mac, 6);
	assert_memory_equal(b + 38, tpa, 4);
	dp_pool_put(&f->pool, p);

	/* An address inside a routed subnet is answered too. */
	p = pkt_from(f, arp_request, sizeof(arp_request));
	p->data[41] = 77, p->data[40] = 1; /* 10.9.1.77 */
	assert_true(dp_l3_arp_reply(f->t, p));
	assert_int_equal(p->data[31], 77);
	dp_pool_put(&f->pool, p);
}

/* Requests that must stay unanswered leave the frame untouched. */
static void expect_no_arp(struct fixture *f, const uint8_t *frame, size_t len)
{
	struct dp_pkt *p = pkt_from(f, frame, len);
	assert_false(dp_l3_arp_reply(f->t, p));
	assert_int_equal(p->len, len);
	assert_memory_equal(p->data, frame, len);
	dp_pool_put(&f->pool, p);
}

static void test_arp_no_reply(void **state)
{
	struct fixture *f = *state;
	uint8_t b[42];
	struct {
		int off;
		uint8_t val;
	} edits[] = {
	    {41, 1},	/* 10.9.0.1: our own address (host probing itself) */
	    {39, 2},	/* 10.2.0.2: not routed anywhere */
	    {21, 2},	/* an ARP reply, not a request */
	    {15, 6},	/* htype IEEE 802 */
	    {16, 0x86}, /* ptype not IPv4 */
	    {18, 8},	/* hlen */
	    {19, 16},	/* plen */
	    {13, 0x35}, /* ethertype RARP */
	    {22, 0x03}, /* multicast sender hardware address */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(b, arp_request, sizeof(b));
		b[edits[i].off] = edits[i].val;
		expect_no_arp(f, b, sizeof(b));
	}
	for (size_t len = 0; len < sizeof(arp_request); len++)
		expect_no_arp(f, arp_request, len);
}

static void test_nd_reply(void **state)
{
	struct fixture *f = *state;
	uint8_t ns[86];
	memcpy(ns, nd_ns, sizeof(ns));
	/* The scapy frame's checksum verifies with the reference sum. */
	assert_int_equal(ref_icmp6_sum(ns + 14), 0xffff);

	struct dp_pkt *p = pkt_from(f, ns, sizeof(ns));
	assert_true(dp_l3_nd_reply(f->t, p));
	assert_int_equal(p->len, sizeof(nd_na_expected));
	assert_memory_equal(p->data, nd_na_expected, sizeof(nd_na_expected));
	assert_int_equal(ref_icmp6_sum(p->data + 14), 0xffff);
	assert_int_equal(p->data[14 + 7], 255);
	dp_pool_put(&f->pool, p);

	/* A target inside a routed /64, without any option. */
	memcpy(ns, nd_ns, sizeof(ns));
	inet_pton(AF_INET6, "fd50:1::9", ns + 62);
	ns[19] = 24;
	fix_icmp6_sum(ns + 14);
	p = pkt_from(f, ns, 78);
	assert_true(dp_l3_nd_reply(f->t, p));
	assert_int_equal(p->len, 86);
	assert_int_equal(p->data[54], 136);
	assert_int_equal(p->data[58], 0x60); /* solicited + override */
	assert_memory_equal(p->data + 62, ns + 62, 16);
	assert_int_equal(p->data[78], 2); /* target link-layer address option */
	assert_int_equal(p->data[79], 1);
	assert_memory_equal(p->data + 80, router_mac, 6);
	assert_int_equal(ref_icmp6_sum(p->data + 14), 0xffff);
	dp_pool_put(&f->pool, p);
}

static void test_nd_dad(void **state)
{
	struct fixture *f = *state;
	uint8_t ns[86];
	memcpy(ns, nd_ns, sizeof(ns));
	memset(ns + 22, 0, 16); /* unspecified source: duplicate address detection */
	ns[19] = 24;		/* no source link-layer option allowed */
	fix_icmp6_sum(ns + 14);

	struct dp_pkt *p = pkt_from(f, ns, 78);
	assert_true(dp_l3_nd_reply(f->t, p));
	const uint8_t mc[6] = {0x33, 0x33, 0, 0, 0, 1};
	uint8_t all_nodes[16];
	inet_pton(AF_INET6, "ff02::1", all_nodes);
	assert_memory_equal(p->data, mc, 6);
	assert_memory_equal(p->data + 14 + 24, all_nodes, 16);
	assert_int_equal(p->data[58], 0x20); /* override only: not solicited */
	assert_int_equal(ref_icmp6_sum(p->data + 14), 0xffff);
	dp_pool_put(&f->pool, p);

	/* DAD carrying a source link-layer option is invalid (RFC 4861 §7.1.1). */
	memcpy(ns, nd_ns, sizeof(ns));
	memset(ns + 22, 0, 16);
	fix_icmp6_sum(ns + 14);
	p = pkt_from(f, ns, sizeof(ns));
	assert_false(dp_l3_nd_reply(f->t, p));
	dp_pool_put(&f->pool, p);
}

static void expect_no_nd(struct fixture *f, const uint8_t *frame, size_t len)
{
	struct dp_pkt *p = pkt_from(f, frame, len);
	assert_false(dp_l3_nd_reply(f->t, p));
	assert_int_equal(p->len, len);
	assert_memory_equal(p->data, frame, len);
	dp_pool_put(&f->pool, p);
}

static void test_nd_no_reply(void **state)
{
	struct fixture *f = *state;
	uint8_t ns[86];

	memcpy(ns, nd_ns, sizeof(ns));
	ns[21] = 64; /* hop limit not 255: may have been routed, RFC 4861 says ignore */
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[57] ^= 1; /* bad checksum */
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[77] = 1; /* target fd50::1: our own address */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[63] = 0x51; /* fd51::2: not routed */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[62] = 0xff; /* multicast target */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[79] = 0; /* option of length zero */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[79] = 2; /* option longer than the message */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[55] = 1; /* code must be 0 */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[54] = 128; /* echo request, not NS */
	fix_icmp6_sum(ns + 14);
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[19] = 0x40; /* payload length past the frame */
	expect_no_nd(f, ns, sizeof(ns));

	memcpy(ns, nd_ns, sizeof(ns));
	ns[20] = 0; /* hop-by-hop header in front: not handled, not answered */
	expect_no_nd(f, ns, sizeof(ns));

	for (size_t len = 0; len < sizeof(nd_ns); len++)
		expect_no_nd(f, nd_ns, len);
}

/* Builds Ethernet + IPv4 (+ zero payload) into b; returns the frame length. */
static size_t eth_ip4(uint8_t *b, const char *src, const char *dst, uint16_t payload)
{
	memcpy(b, router_mac, 6);
	memcpy(b + 6, host_mac, 6);
	b[12] = 0x08, b[13] = 0x00;
	uint8_t *ip = b + 14;
	memset(ip, 0, 20u + payload);
	ip[0] = 0x45;
	uint16_t tot = (uint16_t)(20 + payload);
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[8] = 64, ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	return 14u + tot;
}

static size_t eth_ip6(uint8_t *b, const char *src, const char *dst, uint16_t payload)
{
	memcpy(b, router_mac, 6);
	memcpy(b + 6, host_mac, 6);
	b[12] = 0x86, b[13] = 0xdd;
	uint8_t *ip = b + 14;
	memset(ip, 0, 40u + payload);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(payload >> 8), ip[5] = (uint8_t)payload;
	ip[6] = 17, ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	return 54u + payload;
}

static uint16_t route(struct fixture *f, const uint8_t *frame, size_t len, uint8_t *drop,
		      uint16_t *out_len, uint8_t *nh)
{
	struct dp_pkt *p = pkt_from(f, frame, len);
	uint8_t *start = p->data;
	uint16_t l = dp_l3_route_out(f->t, p);
	*drop = p->drop;
	*out_len = p->len;
	*nh = p->next_hdr;
	if (l != DP_LINK_NONE) {
		assert_ptr_equal(p->data, start + 14);
		assert_memory_equal(p->data, frame + 14, p->len);
	} else {
		assert_int_not_equal(p->drop, DP_DROP_NONE);
	}
	dp_pool_put(&f->pool, p);
	return l;
}

static void test_route_out(void **state)
{
	struct fixture *f = *state;
	uint8_t b[200], drop, nh;
	uint16_t len;
	size_t n;

	n = eth_ip4(b, "10.9.0.1", "10.9.0.2", 8);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), 0);
	assert_int_equal(len, 28);
	assert_int_equal(nh, 4);
	/* Ethernet padding is not carried. */
	assert_int_equal(route(f, b, 60, &drop, &len, &nh), 0);
	assert_int_equal(len, 28);

	n = eth_ip4(b, "10.9.0.1", "10.9.1.200", 100);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), 1);
	n = eth_ip4(b, "10.9.0.1", "10.8.0.1", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);
	n = eth_ip4(b, "10.9.0.1", "224.0.0.251", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);
	n = eth_ip4(b, "10.9.0.1", "255.255.255.255", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);

	/* Malformed IPv4. */
	n = eth_ip4(b, "10.9.0.1", "10.9.0.2", 8);
	assert_int_equal(route(f, b, n - 1, &drop, &len, &nh), DP_LINK_NONE); /* tot > frame */
	assert_int_equal(drop, DP_DROP_SHORT);
	assert_int_equal(route(f, b, 33, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_SHORT);
	b[14] = 0x44; /* IHL 4 */
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_SHORT);
	b[14] = 0x4f; /* IHL 15 = 60 bytes > total length 28 */
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_SHORT);
	b[14] = 0x65; /* version 6 under the IPv4 ethertype */
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NOT_IP);

	/* IPv6. */
	n = eth_ip6(b, "fd50::1", "fd50::2", 10);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), 0);
	assert_int_equal(len, 50);
	assert_int_equal(nh, 41);
	n = eth_ip6(b, "fd50::1", "fd50:1::77", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), 1);
	n = eth_ip6(b, "fd50::1", "fd51::77", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);
	n = eth_ip6(b, "fd50::1", "ff02::1", 0);
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);
	n = eth_ip6(b, "fd50::1", "fd50::2", 10);
	assert_int_equal(route(f, b, n - 1, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_SHORT);
	assert_int_equal(route(f, b, 53, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_SHORT);

	/* Unanswered ARP, other ethertypes, runts. */
	assert_int_equal(route(f, arp_request, 42, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NO_ROUTE);
	n = eth_ip4(b, "10.9.0.1", "10.9.0.2", 8);
	b[12] = 0x88, b[13] = 0xcc; /* LLDP */
	assert_int_equal(route(f, b, n, &drop, &len, &nh), DP_LINK_NONE);
	assert_int_equal(drop, DP_DROP_NOT_IP);
	for (size_t l = 0; l < 14; l++) {
		assert_int_equal(route(f, b, l, &drop, &len, &nh), DP_LINK_NONE);
		assert_int_equal(drop, DP_DROP_SHORT);
	}
}

/* Puts a bare IP packet (frame without its Ethernet header) in a buffer as the
 * decryption would leave it, received on `link`. */
static struct dp_pkt *inner(struct fixture *f, const uint8_t *frame, size_t len, uint8_t nh,
			    uint16_t link)
{
	struct dp_pkt *p = pkt_from(f, frame + 14, len - 14);
	p->data += 16; /* as if ESP header and IV were just stripped */
	memmove(p->data, p->data - 16, p->len);
	p->next_hdr = nh;
	p->link = link;
	return p;
}

static uint8_t deliver(struct fixture *f, struct dp_pkt *p, size_t expect_len)
{
	uint16_t to;
	bool ok = dp_l3_in(f->t, p, &to) == DP_L3_IN_LOCAL;
	uint8_t drop = p->drop;
	assert_int_equal(ok, drop == DP_DROP_NONE);
	if (ok) {
		assert_int_equal(p->len, expect_len);
		assert_memory_equal(p->data, host_mac, 6);
		assert_memory_equal(p->data + 6, router_mac, 6);
		uint16_t et = (uint16_t)(p->data[12] << 8 | p->data[13]);
		assert_int_equal(et, p->next_hdr == 4 ? 0x0800 : 0x86dd);
	}
	dp_pool_put(&f->pool, p);
	return drop;
}

static void test_deliver_in(void **state)
{
	struct fixture *f = *state;
	uint8_t b[200];
	size_t n;

	n = eth_ip4(b, "10.9.0.2", "10.9.0.1", 8);
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), n), DP_DROP_NONE);
	/* Trailing bytes after the IP total length are trimmed. */
	assert_int_equal(deliver(f, inner(f, b, n + 5, 4, 0), n), DP_DROP_NONE);
	/* 10.9.0.2 belongs to link 0, not 1. */
	assert_int_equal(deliver(f, inner(f, b, n, 4, 1), 0), DP_DROP_SRC_CHECK);
	n = eth_ip4(b, "10.9.1.3", "10.9.0.1", 8);
	assert_int_equal(deliver(f, inner(f, b, n, 4, 1), n), DP_DROP_NONE);
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), 0), DP_DROP_SRC_CHECK);
	n = eth_ip4(b, "192.0.2.1", "10.9.0.1", 8);
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), 0), DP_DROP_SRC_CHECK);

	/* Header checks. */
	n = eth_ip4(b, "10.9.0.2", "10.9.0.1", 8);
	assert_int_equal(deliver(f, inner(f, b, n - 1, 4, 0), 0), DP_DROP_SHORT);
	assert_int_equal(deliver(f, inner(f, b, 14 + 19, 4, 0), 0), DP_DROP_SHORT);
	assert_int_equal(deliver(f, inner(f, b, n, 41, 0), 0), DP_DROP_SHORT); /* < 40 bytes */
	assert_int_equal(deliver(f, inner(f, b, n, 143, 0), 0), DP_DROP_BAD_NEXT_HEADER);
	b[14] = 0x43;
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), 0), DP_DROP_SHORT);
	b[14] = 0x65;
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), 0), DP_DROP_BAD_NEXT_HEADER);

	/* IPv6. */
	n = eth_ip6(b, "fd50::2", "fd50::1", 12);
	assert_int_equal(deliver(f, inner(f, b, n, 41, 0), n), DP_DROP_NONE);
	assert_int_equal(deliver(f, inner(f, b, n, 41, 1), 0), DP_DROP_SRC_CHECK);
	assert_int_equal(deliver(f, inner(f, b, n, 4, 0), 0), DP_DROP_BAD_NEXT_HEADER);
	assert_int_equal(deliver(f, inner(f, b, n - 1, 41, 0), 0), DP_DROP_SHORT);
	n = eth_ip6(b, "fd50:1::5", "fd50::1", 12);
	assert_int_equal(deliver(f, inner(f, b, n, 41, 1), n), DP_DROP_NONE);
	assert_int_equal(deliver(f, inner(f, b, n, 41, 0), 0), DP_DROP_SRC_CHECK);

	/* A descriptor without headroom still gets its Ethernet header. */
	n = eth_ip4(b, "10.9.0.2", "10.9.0.1", 8);
	struct dp_pkt *p = pkt_from(f, b + 14, n - 14);
	p->data = p->buf;
	memcpy(p->data, b + 14, n - 14);
	p->next_hdr = 4;
	p->link = 0;
	uint16_t to;
	assert_int_equal(dp_l3_in(f->t, p, &to), DP_L3_IN_LOCAL);
	assert_int_equal(p->len, n);
	assert_memory_equal(p->data + 14, b + 14, n - 14);
	dp_pool_put(&f->pool, p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_reply),	cmocka_unit_test(test_arp_no_reply),
	    cmocka_unit_test(test_nd_reply),	cmocka_unit_test(test_nd_dad),
	    cmocka_unit_test(test_nd_no_reply), cmocka_unit_test(test_route_out),
	    cmocka_unit_test(test_deliver_in),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
