/* Unit tests for the overlay's address plan (control/config/overlay.c): node
 * ids and ULAs against IPOP's values, and which subnets may be routed into
 * the overlay.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "control/config/config.h"

static void ip6_of(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static uint32_t ip4_of(const char *s)
{
	uint32_t a;
	assert_int_equal(net_ip4_parse(s, &a), 0);
	return a;
}

static struct net_prefix pfx(const char *s)
{
	struct net_prefix p;
	assert_int_equal(net_prefix_parse(s, false, &p), 0);
	return p;
}

/* ---- node id and ULA --------------------------------------------------- */

static void test_node_id_vectors(void **state)
{
	uint8_t id[20], ip6[16], want[16];
	(void)state;
	ipop_node_id(ip4_of("192.168.1.100"), id);
	ipop_ula_from_id(id, ip6);
	ip6_of("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3", want);
	assert_memory_equal(ip6, want, 16);
	static const uint8_t sha1_outer[20] = {0x25, 0xc9, 0x06, 0x51, 0xc2, 0x97, 0xfe,
					       0xf3, 0xcf, 0x78, 0x7a, 0x19, 0x1b, 0x93,
					       0xcc, 0xe4, 0xc4, 0x75, 0xc6, 0xb7};
	assert_memory_equal(id, sha1_outer, 20);

	ipop_node_id(ip4_of("10.0.3.100"), id);
	ipop_ula_from_id(id, ip6);
	ip6_of("fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e", want);
	assert_memory_equal(ip6, want, 16);
}

/* ---- routed subnets -------------------------------------------------- */

static void test_route_invalid(void **state)
{
	struct net_prefix a = pfx("10.0.0.0/16"), d = pfx("fd00::/16"),
			  f = pfx("::ffff:10.0.0.0/112");
	(void)state;

	assert_null(ipop_route_invalid(&a));
	assert_null(ipop_route_invalid(&d));
	assert_non_null(ipop_route_invalid(&f));
	struct net_prefix x = a;
	x.len = 33;
	assert_non_null(ipop_route_invalid(&x));
	x = a;
	x.addr[14] = 1;
	assert_string_equal(ipop_route_invalid(&x), "host bits set");
	x = a;
	x.addr[10] = 0;
	assert_non_null(ipop_route_invalid(&x)); /* AF_INET without the v4-mapped form */
	x = d;
	x.family = 0;
	assert_non_null(ipop_route_invalid(&x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_node_id_vectors),
	    cmocka_unit_test(test_route_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
