/* util/addr: endpoint and prefix parsing/formatting, sockaddr conversion, hex.
 * Every parser gets malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "util/addr.h"

static void roundtrip_endpoint(const char *in, const char *out, uint8_t family, uint16_t port)
{
	struct net_endpoint ep;
	char buf[NET_ENDPOINT_STRLEN];
	if (net_endpoint_parse(in, &ep))
		fail_msg("rejected \"%s\"", in);
	assert_int_equal(ep.family, family);
	assert_int_equal(ep.port, port);
	assert_string_equal(net_endpoint_format(&ep, buf, sizeof(buf)), out);
}

static void test_endpoint_v4(void **state)
{
	struct net_endpoint ep;
	static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2};
	(void)state;
	roundtrip_endpoint("198.18.0.2:5800", "198.18.0.2:5800", AF_INET, 5800);
	roundtrip_endpoint("0.0.0.0:1", "0.0.0.0:1", AF_INET, 1);
	roundtrip_endpoint("255.255.255.255:65535", "255.255.255.255:65535", AF_INET, 65535);
	assert_int_equal(net_endpoint_parse("198.18.0.2:5800", &ep), 0);
	assert_memory_equal(ep.addr, mapped, 16);
}

static void test_endpoint_v6(void **state)
{
	struct net_endpoint ep;
	(void)state;
	roundtrip_endpoint("[2001:db8::1]:5800", "[2001:db8::1]:5800", AF_INET6, 5800);
	roundtrip_endpoint("[::1]:1", "[::1]:1", AF_INET6, 1);
	/* canonical form on output */
	roundtrip_endpoint("[2001:0db8:0000::0001]:443", "[2001:db8::1]:443", AF_INET6, 443);
	/* a v4-mapped literal in brackets parses as IPv6 syntax */
	assert_int_equal(net_endpoint_parse("[::ffff:198.18.0.2]:5800", &ep), 0);
	assert_int_equal(ep.addr[12], 198);
}

static void test_endpoint_bad(void **state)
{
	static const char *bad[] = {
	    "",
	    ":",
	    "198.18.0.2",	/* no port */
	    "198.18.0.2:",	/* empty port */
	    "198.18.0.2:0",	/* port 0 */
	    "198.18.0.2:65536", /* too big */
	    "198.18.0.2:99999999999999999999",
	    "198.18.0.2:58a0", /* letters */
	    "198.18.0.2:abc",
	    "198.18.0.2:-1",
	    "198.18.0.2:+80",
	    "198.18.0.2: 80",
	    "198.18.0.256:80",
	    "198.18.0:80",
	    "host.example:80", /* names are not resolved */
	    ":80",
	    "2001:db8::1:5800", /* IPv6 without brackets */
	    "[2001:db8::1]",	/* no port */
	    "[2001:db8::1]:",
	    "[2001:db8::1]5800",
	    "[2001:db8::1:5800", /* missing closing bracket */
	    "2001:db8::1]:5800", /* missing opening bracket */
	    "[198.18.0.2]:5800", /* IPv4 in brackets */
	    "[]:5800",
	    "[2001:db8::zz]:5800",
	    "[0000000000000000000000000000000000000000000000000000000000000000]:1",
	    "198.18.0.2:5800 ",
	};
	struct net_endpoint ep;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (net_endpoint_parse(bad[i], &ep) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_endpoint_sockaddr(void **state)
{
	struct net_endpoint a, b;
	struct sockaddr_in6 sin6;
	char buf[INET6_ADDRSTRLEN];
	(void)state;

	assert_int_equal(net_endpoint_parse("198.18.0.2:5800", &a), 0);
	net_endpoint_to_sin6(&a, &sin6);
	assert_int_equal(sin6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6.sin6_port), 5800);
	assert_string_equal(inet_ntop(AF_INET6, &sin6.sin6_addr, buf, sizeof(buf)),
			    "::ffff:198.18.0.2");
	net_endpoint_from_sin6(&sin6, &b);
	assert_int_equal(b.family, AF_INET);
	assert_true(net_endpoint_equal(&a, &b));

	assert_int_equal(net_endpoint_parse("[2001:db8::7]:9", &a), 0);
	net_endpoint_to_sin6(&a, &sin6);
	net_endpoint_from_sin6(&sin6, &b);
	assert_int_equal(b.family, AF_INET6);
	assert_int_equal(b.port, 9);
	assert_true(net_endpoint_equal(&a, &b));

	/* equality looks at address and port */
	assert_int_equal(net_endpoint_parse("[2001:db8::7]:10", &b), 0);
	assert_false(net_endpoint_equal(&a, &b));
	assert_int_equal(net_endpoint_parse("[2001:db8::8]:9", &b), 0);
	assert_false(net_endpoint_equal(&a, &b));
}

static void test_prefix(void **state)
{
	struct net_prefix p;
	char buf[64];
	(void)state;

	assert_int_equal(net_prefix_parse("10.1.0.0/16", false, &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.len, 16);
	assert_string_equal(net_prefix_format(&p, buf, sizeof(buf)), "10.1.0.0/16");
	assert_int_equal(net_prefix_parse("fd00:1::/64", false, &p), 0);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.len, 64);
	assert_string_equal(net_prefix_format(&p, buf, sizeof(buf)), "fd00:1::/64");
	/* bare addresses are host routes */
	assert_int_equal(net_prefix_parse("10.1.2.3", false, &p), 0);
	assert_int_equal(p.len, 32);
	assert_int_equal(net_prefix_parse("2001:db8::1", false, &p), 0);
	assert_int_equal(p.len, 128);
	/* edges */
	assert_int_equal(net_prefix_parse("0.0.0.0/0", false, &p), 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(net_prefix_parse("::/0", false, &p), 0);
	assert_int_equal(net_prefix_parse("10.1.2.3/32", false, &p), 0);

	/* host bits: rejected, or cleared when allowed */
	assert_int_equal(net_prefix_parse("10.1.2.3/16", false, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("10.1.2.3/16", true, &p), 0);
	assert_string_equal(net_prefix_format(&p, buf, sizeof(buf)), "10.1.0.0/16");
	assert_int_equal(net_prefix_parse("10.1.0.1/31", false, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("fd00:1::1/64", false, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("fd00:1::1/64", true, &p), 0);
	assert_string_equal(net_prefix_format(&p, buf, sizeof(buf)), "fd00:1::/64");
	assert_int_equal(net_prefix_parse("fd00:1:0:0:4000::/65", false, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("fd00:1:0:0:4000::/65", true, &p), 0);
	assert_string_equal(net_prefix_format(&p, buf, sizeof(buf)), "fd00:1::/65");

	static const char *bad[] = {"",
				    "/16",
				    "10.1.0.0/",
				    "10.1.0.0/33",
				    "10.1.0.0/-1",
				    "10.1.0.0/x",
				    "10.1.0.0/16x",
				    "10.1.0.0//16",
				    "fd00::/129",
				    "fd00::/",
				    "10.1.0/16",
				    "host/16",
				    "10.1.0.0/99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_prefix_parse(bad[i], false, &p) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		if (net_prefix_parse(bad[i], true, &p) != -EINVAL)
			fail_msg("accepted \"%s\" (host bits allowed)", bad[i]);
	}
}

static struct net_prefix pfx(const char *s)
{
	struct net_prefix p;
	assert_int_equal(net_prefix_parse(s, false, &p), 0);
	return p;
}

static uint32_t ip4_be(const char *s)
{
	uint32_t a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* Overlap, containment and equality (the rules of routed subnets). */
static void test_prefix_relations(void **state)
{
	struct net_prefix a = pfx("10.0.0.0/16"), b = pfx("10.0.11.0/24"), c = pfx("10.1.0.0/16"),
			  d = pfx("fd00::/16"), e = pfx("fd00:1::/32"),
			  f = pfx("::ffff:10.0.0.0/112");
	uint8_t ip6[16];
	(void)state;

	assert_true(net_prefix_overlap(&a, &b));
	assert_true(net_prefix_overlap(&b, &a));
	assert_true(net_prefix_overlap(&a, &a));
	assert_false(net_prefix_overlap(&a, &c));
	assert_false(net_prefix_overlap(&b, &c));
	assert_true(net_prefix_overlap(&d, &e));
	assert_false(net_prefix_overlap(&a, &d));
	/* An IPv4 prefix and the same bits written as IPv6 are different families. */
	assert_false(net_prefix_overlap(&a, &f));
	struct net_prefix g = pfx("10.0.11.128/25"), h = pfx("10.0.11.0/25");
	assert_false(net_prefix_overlap(&g, &h));
	assert_true(net_prefix_overlap(&g, &b));
	struct net_prefix b2 = pfx("10.0.11.0/24");
	assert_true(net_prefix_equal(&b, &b2));
	assert_false(net_prefix_equal(&b, &h));
	assert_true(net_addr_is_v4mapped(a.addr));
	assert_false(net_addr_is_v4mapped(d.addr));

	assert_true(net_prefix_has_ip4(&a, ip4_be("10.0.200.1")));
	assert_false(net_prefix_has_ip4(&a, ip4_be("10.1.0.1")));
	assert_false(net_prefix_has_ip4(&d, ip4_be("10.0.0.1")));
	assert_int_equal(inet_pton(AF_INET6, "fd00:1:2::3", ip6), 1);
	assert_true(net_prefix_has_ip6(&e, ip6));
	assert_false(net_prefix_has_ip6(&a, ip6));
	assert_int_equal(inet_pton(AF_INET6, "fd01::3", ip6), 1);
	assert_false(net_prefix_has_ip6(&d, ip6));
}

static void test_ip4(void **state)
{
	uint32_t a;
	(void)state;
	assert_int_equal(net_ip4_parse("10.254.0.1", &a), 0);
	assert_int_equal(ntohl(a), 0x0afe0001u);
	assert_int_equal(net_ip4_parse("10.254.0", &a), -EINVAL);
	assert_int_equal(net_ip4_parse("10.254.0.256", &a), -EINVAL);
	assert_int_equal(net_ip4_parse("", &a), -EINVAL);
	assert_int_equal(net_ip4_parse("::1", &a), -EINVAL);
	assert_int_equal(net_ip4_mask(0), 0);
	assert_int_equal(ntohl(net_ip4_mask(24)), 0xffffff00u);
	assert_int_equal(ntohl(net_ip4_mask(1)), 0x80000000u);
	assert_int_equal(net_ip4_mask(32), 0xffffffffu);
}

static void test_hex(void **state)
{
	uint8_t out[8];
	char s[17];
	(void)state;

	memset(out, 0xaa, sizeof(out));
	assert_int_equal(hex_decode("00ff10Ab", out, sizeof(out)), 4);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0x10);
	assert_int_equal(out[3], 0xab);
	assert_int_equal(out[4], 0xaa); /* nothing past the decoded bytes */
	assert_int_equal(hex_decode("0x0102", out, sizeof(out)), 2);
	assert_int_equal(out[1], 0x02);
	assert_int_equal(hex_decode("0XFFEE", out, sizeof(out)), 2);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(hex_decode("", out, sizeof(out)), 0);
	assert_int_equal(hex_decode("0x", out, sizeof(out)), 0);
	/* exactly max bytes fits, one more does not */
	assert_int_equal(hex_decode("0001020304050607", out, sizeof(out)), 8);
	assert_int_equal(hex_decode("000102030405060708", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0x000102030405060708", out, sizeof(out)), -EINVAL);
	/* odd length, bad digits */
	assert_int_equal(hex_decode("abc", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0xabc", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0g", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("g0", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("00 1", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode(" 001", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0x0x", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("x0", out, sizeof(out)), -EINVAL);
	assert_int_equal(hex_decode("0\xff", out, sizeof(out)), -EINVAL);

	static const uint8_t in[8] = {0, 1, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	hex_encode(in, sizeof(in), s);
	assert_string_equal(s, "00017f80abcdefff");
	hex_encode(in, 0, s);
	assert_string_equal(s, "");
	/* round trip */
	hex_encode(in, sizeof(in), s);
	assert_int_equal(hex_decode(s, out, sizeof(out)), 8);
	assert_memory_equal(in, out, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endpoint_v4),	 cmocka_unit_test(test_endpoint_v6),
	    cmocka_unit_test(test_endpoint_bad), cmocka_unit_test(test_endpoint_sockaddr),
	    cmocka_unit_test(test_prefix),	 cmocka_unit_test(test_ip4),
	    cmocka_unit_test(test_hex),		 cmocka_unit_test(test_prefix_relations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
