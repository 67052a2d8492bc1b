/* Address parsing and formatting (see addr.h). */
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t net_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool net_addr_is_v4mapped(const uint8_t *addr)
{
	return memcmp(addr, net_v4mapped, sizeof(net_v4mapped)) == 0;
}

void net_addr_set_v4(uint8_t *addr, const void *ip4)
{
	memcpy(addr, net_v4mapped, sizeof(net_v4mapped));
	memcpy(addr + 12, ip4, 4);
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int net_endpoint_parse(const char *s, struct net_endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		port = close + 2;
		if (inet_pton(AF_INET6, host, out->addr) != 1)
			return -EINVAL;
		out->family = AF_INET6;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		port = colon + 1;
		memcpy(out->addr, net_v4mapped, 12);
		if (inet_pton(AF_INET, host, out->addr + 12) != 1)
			return -EINVAL;
		out->family = AF_INET;
	}
	return parse_port(port, &out->port);
}

char *net_endpoint_format(const struct net_endpoint *ep, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (ep->family == AF_INET) {
		inet_ntop(AF_INET, ep->addr + 12, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ep->port);
	} else {
		inet_ntop(AF_INET6, ep->addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ep->port);
	}
	return buf;
}

void net_endpoint_to_sin6(const struct net_endpoint *ep, struct sockaddr_in6 *sin6)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr, 16);
}

void net_endpoint_from_sin6(const struct sockaddr_in6 *sin6, struct net_endpoint *ep)
{
	memcpy(ep->addr, &sin6->sin6_addr, 16);
	ep->port = ntohs(sin6->sin6_port);
	ep->family = net_addr_is_v4mapped(ep->addr) ? AF_INET : AF_INET6;
	ep->via = 0;
}

bool net_endpoint_equal(const struct net_endpoint *a, const struct net_endpoint *b)
{
	return a->port == b->port && a->via == b->via && memcmp(a->addr, b->addr, 16) == 0;
}

int net_prefix_parse(const char *s, bool allow_host_bits, struct net_prefix *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	unsigned max;
	if (inet_pton(AF_INET, host, out->addr + 12) == 1) {
		memcpy(out->addr, net_v4mapped, 12);
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	unsigned len = max;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (errno || *end || v > max)
			return -EINVAL;
		len = (unsigned)v;
	}
	out->len = (uint8_t)len;
	/* Host bits: bits past len within the family's own address. */
	unsigned off = out->family == AF_INET ? 96 : 0;
	for (unsigned bit = off + len; bit < 128; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			if (!allow_host_bits)
				return -EINVAL;
			out->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
		}
	}
	return 0;
}

char *net_prefix_format(const struct net_prefix *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (p->family == AF_INET)
		inet_ntop(AF_INET, p->addr + 12, host, sizeof(host));
	else
		inet_ntop(AF_INET6, p->addr, host, sizeof(host));
	snprintf(buf, len, "%s/%u", host, p->len);
	return buf;
}

int net_ip4_parse(const char *s, uint32_t *out_be)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out_be = a.s_addr;
	return 0;
}

uint32_t net_ip4_mask(unsigned len)
{
	return len == 0 ? 0 : htonl(0xffffffffu << (32 - len));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *hex, uint8_t *out, size_t max)
{
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

/* The first `bits` bits of a and b are equal. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, full))
		return false;
	return !rest || ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The prefix length in the address's own family, clamped for safety. */
static unsigned plen(const struct net_prefix *p)
{
	unsigned max = p->family == AF_INET ? 32 : 128;
	return p->len < max ? p->len : max;
}

bool net_prefix_equal(const struct net_prefix *a, const struct net_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

bool net_prefix_overlap(const struct net_prefix *a, const struct net_prefix *b)
{
	if (a->family != b->family)
		return false;
	unsigned off = a->family == AF_INET ? 12 : 0;
	unsigned la = plen(a), lb = plen(b);
	return bits_equal(a->addr + off, b->addr + off, la < lb ? la : lb);
}

bool net_prefix_has_ip4(const struct net_prefix *p, uint32_t ip4_be)
{
	uint8_t a[4];
	memcpy(a, &ip4_be, 4);
	return p->family == AF_INET && bits_equal(p->addr + 12, a, plen(p));
}

bool net_prefix_has_ip6(const struct net_prefix *p, const uint8_t ip6[16])
{
	return p->family == AF_INET6 && bits_equal(p->addr, ip6, plen(p));
}
