/* Endpoints and byte helpers for the STUN/TURN and candidate tests. */
#pragma once
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/nat/stun.h"
#include "util/addr.h"

static __attribute__((unused)) uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static __attribute__((unused)) void ep_v4(struct net_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	memcpy(ep->addr, net_v4mapped, sizeof(net_v4mapped));
	assert_int_equal(inet_pton(AF_INET, ip, ep->addr + 12), 1);
	ep->port = port;
	ep->family = AF_INET;
}

static __attribute__((unused)) void ep_v6(struct net_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	assert_int_equal(inet_pton(AF_INET6, ip, ep->addr), 1);
	ep->port = port;
	ep->family = AF_INET6;
}

static __attribute__((unused)) bool bytes_eq(struct stun_bytes b, const char *s)
{
	return b.len == strlen(s) && memcmp(b.p, s, b.len) == 0;
}
