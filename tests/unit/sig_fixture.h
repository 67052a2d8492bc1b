/* Presences and prefixes for the signalling tests (test_sigmsg.c,
 * test_members.c). */
#pragma once
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/signalling/sigmsg.h"

static const uint8_t mac_a[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

static inline uint32_t ip4(const char *s)
{
	uint32_t a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static inline void key_fill(uint8_t key[SIG_KEY_LEN], uint8_t v)
{
	for (unsigned i = 0; i < SIG_KEY_LEN; i++)
		key[i] = (uint8_t)(v + i);
}

static inline void presence_make(struct sig_presence *p, const char *addr, const uint8_t mac[6],
				 uint8_t keyv)
{
	uint8_t key[SIG_KEY_LEN];
	key_fill(key, keyv);
	sig_presence_init(p, ip4(addr), mac, key, 5800);
}

static inline struct net_prefix pfx(const char *s)
{
	struct net_prefix p;
	assert_int_equal(net_prefix_parse(s, false, &p), 0);
	return p;
}

static inline void routes_set(struct sig_presence *p, unsigned n, const char *const *v)
{
	memset(p->routes, 0, sizeof(p->routes));
	p->nroutes = n;
	for (unsigned i = 0; i < n; i++)
		p->routes[i] = pfx(v[i]);
}
