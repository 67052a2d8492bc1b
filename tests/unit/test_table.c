/* Forwarding table: sizing, SPI/host-route/FDB hashes under collisions,
 * longest-prefix precedence for IPv4 and IPv6, error returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dataplane/sa.h"
#include "dataplane/table.h"

static const struct dp_table_params params = {.mode = DP_MODE_L3, .mtu = 1400};

static struct net_prefix pfx4(const char *a, uint8_t len)
{
	struct net_prefix p = {.len = len, .family = AF_INET};
	p.addr[10] = p.addr[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, a, p.addr + 12), 1);
	return p;
}

static struct net_prefix pfx6(const char *a, uint8_t len)
{
	struct net_prefix p = {.len = len, .family = AF_INET6};
	assert_int_equal(inet_pton(AF_INET6, a, p.addr), 1);
	return p;
}

static uint16_t r4(const struct dp_table *t, const char *a)
{
	uint32_t be;
	assert_int_equal(inet_pton(AF_INET, a, &be), 1);
	return dp_table_route4(t, be);
}

static uint16_t r6(const struct dp_table *t, const char *a)
{
	uint8_t b[16];
	assert_int_equal(inet_pton(AF_INET6, a, b), 1);
	return dp_table_route6(t, b);
}

/* SA objects without key material: the table only reads ->spi. */
static struct dp_sa *fake_sa(uint32_t spi)
{
	struct dp_sa *sa = aligned_alloc(64, sizeof(*sa));
	assert_non_null(sa);
	memset(sa, 0, sizeof(*sa));
	sa->spi = spi;
	return sa;
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static void test_sizes(void **state)
{
	(void)state;
	const uint32_t caps[] = {0, 1, 2, 3, 5, 64, 100, 1000, 4097};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct dp_table *t = dp_table_create(&params, 3, caps[i], caps[i], caps[i]);
		assert_non_null(t);
		assert_true(is_pow2(t->spi_mask + 1));
		assert_true(is_pow2(t->host_mask + 1));
		assert_true(is_pow2(t->fdb_mask + 1));
		assert_true(t->spi_mask + 1 >= 2 * caps[i]);
		assert_true(t->host_mask + 1 >= 2 * caps[i]);
		assert_true(t->fdb_mask + 1 >= 2 * caps[i]);
		assert_int_equal((uintptr_t)t->spi % 64, 0);
		assert_int_equal(t->nlinks, 3);
		assert_int_equal(t->p.mtu, 1400);
		/* An empty table answers every lookup with "none". */
		assert_null(dp_table_spi_lookup(t, 0x80000001));
		assert_int_equal(r4(t, "10.0.0.1"), DP_LINK_NONE);
		assert_int_equal(r6(t, "fd50::1"), DP_LINK_NONE);
		uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
		assert_int_equal(dp_table_fdb_lookup(t, mac), DP_LINK_NONE);
		dp_table_free(t);
	}
	errno = 0;
	assert_null(dp_table_create(&params, 1, 1u << 30, 1, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(dp_table_create(NULL, 1, 1, 1, 1));
}

static void test_spi(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct dp_sa *sas[N + 1];
	struct dp_table *t = dp_table_create(&params, 4, N, 0, 0);
	assert_non_null(t);

	/* SPIs that differ only in high bits, or only in low bits: both must
	 * spread over the table and all stay reachable through collisions. */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t spi = i % 2 ? 0x80000000u | (i << 20) : 0x80000000u | i;
		sas[i] = fake_sa(spi);
		assert_int_equal(dp_table_add_spi(t, sas[i], (uint16_t)(i % 4)), 0);
	}
	assert_int_equal(t->n_spi, N);
	for (uint32_t i = 0; i < N; i++) {
		const struct dp_spi_entry *e = dp_table_spi_lookup(t, sas[i]->spi);
		assert_non_null(e);
		assert_ptr_equal(e->sa, sas[i]);
		assert_int_equal(e->link, i % 4);
	}
	/* Misses probe through the same clusters and must end on an empty slot. */
	unsigned misses = 0;
	for (uint32_t i = 0; i < 100000; i++) {
		uint32_t spi = 0x90000000u + i * 7919;
		if (!dp_table_spi_lookup(t, spi))
			misses++;
	}
	assert_int_equal(misses, 100000);
	assert_null(dp_table_spi_lookup(t, 0));

	/* Duplicate, full, invalid. */
	struct dp_sa *dup = fake_sa(sas[5]->spi);
	assert_int_equal(dp_table_add_spi(t, dup, 0), -EEXIST);
	sas[N] = fake_sa(0xfffffff0u);
	assert_int_equal(dp_table_add_spi(t, sas[N], 0), -ENOSPC);
	struct dp_sa *low = fake_sa(0x12345678u);
	assert_int_equal(dp_table_add_spi(t, low, 0), -EINVAL);
	assert_int_equal(dp_table_add_spi(t, dup, 4), -EINVAL); /* no such link */
	assert_int_equal(t->n_spi, N);

	for (uint32_t i = 0; i <= N; i++)
		free(sas[i]);
	free(dup);
	free(low);
	dp_table_free(t);
}

/* A tiny table (4 slots) where wrap-around probing is certain to happen. */
static void test_spi_tiny_wrap(void **state)
{
	(void)state;
	struct dp_table *t = dp_table_create(&params, 1, 2, 0, 0);
	assert_non_null(t);
	assert_int_equal(t->spi_mask, 3);
	/* Try many pairs; each table holds two entries in four slots, so some pairs
	 * collide and some of those wrap from the last slot to the first. */
	for (uint32_t k = 0; k < 256; k++) {
		struct dp_table *u = dp_table_create(&params, 1, 2, 0, 0);
		struct dp_sa *a = fake_sa(0x80000000u + k), *b = fake_sa(0xc0000000u + k * 3);
		assert_int_equal(dp_table_add_spi(u, a, 0), 0);
		assert_int_equal(dp_table_add_spi(u, b, 0), 0);
		assert_ptr_equal(dp_table_spi_lookup(u, a->spi)->sa, a);
		assert_ptr_equal(dp_table_spi_lookup(u, b->spi)->sa, b);
		assert_null(dp_table_spi_lookup(u, 0x80000000u + k + 1000));
		struct dp_sa *c = fake_sa(0xa0000000u);
		assert_int_equal(dp_table_add_spi(u, c, 0), -ENOSPC);
		free(a), free(b), free(c);
		dp_table_free(u);
	}
	dp_table_free(t);
}

static void test_lpm4(void **state)
{
	(void)state;
	struct dp_table *t = dp_table_create(&params, 5, 0, 16, 0);
	struct net_prefix p;
	assert_non_null(t);

	/* Added out of order on purpose: seal must sort. */
	p = pfx4("10.1.0.0", 16);
	assert_int_equal(dp_table_add_route(t, &p, 2), 0);
	p = pfx4("10.1.2.3", 32);
	assert_int_equal(dp_table_add_route(t, &p, 0), 0);
	p = pfx4("0.0.0.0", 0);
	assert_int_equal(dp_table_add_route(t, &p, 4), 0);
	p = pfx4("10.1.2.0", 24);
	assert_int_equal(dp_table_add_route(t, &p, 1), 0);
	p = pfx4("10.1.2.128", 25);
	assert_int_equal(dp_table_add_route(t, &p, 3), 0);
	dp_table_seal(t);

	assert_int_equal(r4(t, "10.1.2.3"), 0);	  /* /32 over everything */
	assert_int_equal(r4(t, "10.1.2.4"), 1);	  /* /24 over /16 */
	assert_int_equal(r4(t, "10.1.2.200"), 3); /* /25 over /24 */
	assert_int_equal(r4(t, "10.1.3.3"), 2);	  /* /16 */
	assert_int_equal(r4(t, "10.2.0.1"), 4);	  /* default */
	assert_int_equal(r4(t, "192.0.2.1"), 4);
	/* No IPv4 route ever answers an IPv6 lookup, not even a v4-mapped one. */
	assert_int_equal(r6(t, "::ffff:10.1.2.3"), DP_LINK_NONE);

	/* Same prefix twice (also with host bits set, which are masked off). */
	p = pfx4("10.1.2.0", 24);
	assert_int_equal(dp_table_add_route(t, &p, 3), -EEXIST);
	p = pfx4("10.1.2.77", 24);
	assert_int_equal(dp_table_add_route(t, &p, 3), -EEXIST);
	p = pfx4("10.1.2.3", 32);
	assert_int_equal(dp_table_add_route(t, &p, 3), -EEXIST);
	/* Malformed prefixes and link indexes. */
	p = pfx4("10.9.0.0", 33);
	assert_int_equal(dp_table_add_route(t, &p, 0), -EINVAL);
	p = pfx4("10.9.0.0", 16);
	p.addr[10] = 0;
	assert_int_equal(dp_table_add_route(t, &p, 0), -EINVAL);
	p = pfx4("10.9.0.0", 16);
	p.family = 0;
	assert_int_equal(dp_table_add_route(t, &p, 0), -EINVAL);
	p = pfx4("10.9.0.0", 16);
	assert_int_equal(dp_table_add_route(t, &p, 5), -EINVAL);
	assert_int_equal(t->n_routes, 5);
	dp_table_free(t);
}

static void test_lpm6(void **state)
{
	(void)state;
	struct dp_table *t = dp_table_create(&params, 4, 0, 7, 0);
	struct net_prefix p;
	assert_non_null(t);

	p = pfx6("fd50:dbc::", 32);
	assert_int_equal(dp_table_add_route(t, &p, 2), 0);
	p = pfx6("fd50:dbc:41f2:4a3c::1", 128);
	assert_int_equal(dp_table_add_route(t, &p, 0), 0);
	p = pfx6("fd50:dbc:41f2:4a3c::", 64);
	assert_int_equal(dp_table_add_route(t, &p, 1), 0);
	p = pfx6("fd50:dbc:41f2:4a3c:8000::", 65);
	assert_int_equal(dp_table_add_route(t, &p, 3), 0);
	p = pfx4("10.0.0.0", 8); /* IPv4 in the same list must not disturb IPv6 */
	assert_int_equal(dp_table_add_route(t, &p, 3), 0);
	dp_table_seal(t);

	assert_int_equal(r6(t, "fd50:dbc:41f2:4a3c::1"), 0);
	assert_int_equal(r6(t, "fd50:dbc:41f2:4a3c::2"), 1);
	assert_int_equal(r6(t, "fd50:dbc:41f2:4a3c:8000::2"), 3);
	assert_int_equal(r6(t, "fd50:dbc:41f2:4a3d::1"), 2);
	assert_int_equal(r6(t, "fd50:dbd::1"), DP_LINK_NONE);
	assert_int_equal(r6(t, "::"), DP_LINK_NONE);
	assert_int_equal(r4(t, "10.3.4.5"), 3);

	p = pfx6("fd50:dbc:41f2:4a3c::ffff", 64);
	assert_int_equal(dp_table_add_route(t, &p, 2), -EEXIST);
	p = pfx6("fd50:dbc:41f2:4a3c::1", 128);
	assert_int_equal(dp_table_add_route(t, &p, 2), -EEXIST);
	p = pfx6("fd50::", 129);
	assert_int_equal(dp_table_add_route(t, &p, 0), -EINVAL);
	/* An IPv6 /128 equal to a v4-mapped address is not the IPv4 /32. */
	p = pfx6("::ffff:10.0.0.1", 128);
	assert_int_equal(dp_table_add_route(t, &p, 1), 0);
	p = pfx4("10.0.0.1", 32);
	assert_int_equal(dp_table_add_route(t, &p, 2), 0);
	assert_int_equal(r4(t, "10.0.0.1"), 2);
	assert_int_equal(r6(t, "::ffff:10.0.0.1"), 1);
	/* Full now: 7 routes. */
	p = pfx6("fd51::", 16);
	assert_int_equal(dp_table_add_route(t, &p, 1), -ENOSPC);
	p = pfx6("fd51::1", 128);
	assert_int_equal(dp_table_add_route(t, &p, 1), -ENOSPC);
	dp_table_free(t);
}

/* Many host routes: the exact-match hash must find every one of them. */
static void test_many_hosts(void **state)
{
	(void)state;
	enum { N = 4000 };
	struct dp_table *t = dp_table_create(&params, 7, 0, 2 * N, 0);
	assert_non_null(t);
	for (uint32_t i = 0; i < N; i++) {
		struct net_prefix p = pfx4("0.0.0.0", 32);
		uint32_t a = htonl(0x0a000000u + i * 257);
		memcpy(p.addr + 12, &a, 4);
		assert_int_equal(dp_table_add_route(t, &p, (uint16_t)(i % 7)), 0);
		struct net_prefix q = pfx6("fd50::", 128);
		q.addr[14] = (uint8_t)(i >> 8);
		q.addr[15] = (uint8_t)i;
		assert_int_equal(dp_table_add_route(t, &q, (uint16_t)((i + 1) % 7)), 0);
	}
	dp_table_seal(t);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(dp_table_route4(t, htonl(0x0a000000u + i * 257)), i % 7);
		assert_int_equal(dp_table_route4(t, htonl(0x0b000000u + i)), DP_LINK_NONE);
		uint8_t a[16] = {0xfd, 0x50, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i};
		assert_int_equal(dp_table_route6(t, a), (i + 1) % 7);
		a[1] = 0x51;
		assert_int_equal(dp_table_route6(t, a), DP_LINK_NONE);
	}
	dp_table_free(t);
}

static void test_fdb(void **state)
{
	(void)state;
	enum { N = 500 };
	struct dp_table *t = dp_table_create(&params, 3, 0, 0, N);
	assert_non_null(t);
	for (unsigned i = 0; i < N; i++) {
		/* Differ only in the last two bytes, like one vendor's NICs. */
		uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x00, (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(dp_table_add_fdb(t, mac, (uint16_t)(i % 3)), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x00, (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(dp_table_fdb_lookup(t, mac), i % 3);
		mac[0] = 0x06;
		assert_int_equal(dp_table_fdb_lookup(t, mac), DP_LINK_NONE);
	}
	uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x00, 0, 7};
	assert_int_equal(dp_table_add_fdb(t, mac, 1), -EEXIST);
	mac[0] = 0x0a;
	assert_int_equal(dp_table_add_fdb(t, mac, 1), -ENOSPC);
	assert_int_equal(dp_table_add_fdb(t, mac, 3), -EINVAL);
	assert_int_equal(t->n_fdb, N);
	dp_table_free(t);
}

static void test_links(void **state)
{
	(void)state;
	struct dp_link links[3] = {{.id = 100}, {.id = 7}, {.id = 42}};
	struct net_endpoint ep = {.port = 5800, .family = AF_INET};
	struct dp_sa *sa = fake_sa(0x80000077u);
	struct dp_table *t = dp_table_create(&params, 4, 0, 0, 0);
	assert_non_null(t);

	dp_table_set_link(t, 0, &links[0], sa, &ep);
	dp_table_set_link(t, 1, &links[1], NULL, NULL);
	dp_table_set_link(t, 3, &links[2], NULL, NULL);
	dp_table_set_link(t, 4, &links[2], sa, &ep); /* out of range: ignored */

	assert_ptr_equal(t->links[0].sa_out, sa);
	assert_int_equal(t->links[0].endpoint.port, 5800);
	assert_null(t->links[1].sa_out);
	assert_null(t->links[2].link);
	assert_int_equal(dp_table_link_index(t, 100), 0);
	assert_int_equal(dp_table_link_index(t, 7), 1);
	assert_int_equal(dp_table_link_index(t, 42), 3);
	assert_int_equal(dp_table_link_index(t, 43), DP_LINK_NONE);
	free(sa);
	dp_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),	  cmocka_unit_test(test_spi),
	    cmocka_unit_test(test_spi_tiny_wrap), cmocka_unit_test(test_lpm4),
	    cmocka_unit_test(test_lpm6),	  cmocka_unit_test(test_many_hosts),
	    cmocka_unit_test(test_fdb),		  cmocka_unit_test(test_links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
