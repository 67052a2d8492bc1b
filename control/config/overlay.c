/* The overlay's address plan (see config.h): node ids and ULAs derived from
 * the virtual IPv4 as IPOP derives them, and which subnets may be routed
 * into the overlay behind a gateway. Configs and members' presences are
 * checked with the same rule. */
#include "control/config/config.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <string.h>

static const uint8_t ula_prefix[8] = {0xfd, 0x50, 0x0d, 0xbc, 0x41, 0xf2, 0x4a, 0x3c};

void ipop_node_id(uint32_t ip4_be, uint8_t id[20])
{
	char s[INET_ADDRSTRLEN];
	struct in_addr a = {.s_addr = ip4_be};
	unsigned int len = 20;
	inet_ntop(AF_INET, &a, s, sizeof(s));
	if (!EVP_Digest(s, strlen(s), id, &len, EVP_sha1(), NULL))
		memset(id, 0, 20); /* only on OpenSSL misconfiguration; never silently wrong */
}

void ipop_ula_from_id(const uint8_t id[20], uint8_t ip6[16])
{
	memcpy(ip6, ula_prefix, sizeof(ula_prefix));
	memcpy(ip6 + 8, id, 8);
}

const char *ipop_route_invalid(const struct net_prefix *p)
{
	/* Nothing a gateway could sensibly route into the overlay, and the
	 * overlay's own ULA prefix (every member's ip6 is in it). */
	static const struct {
		const char *prefix, *why;
	} reserved[] = {
	    {"0.0.0.0/8", "overlaps 0.0.0.0/8 (this network)"},
	    {"127.0.0.0/8", "overlaps 127.0.0.0/8 (loopback)"},
	    {"224.0.0.0/3", "overlaps 224.0.0.0/3 (multicast, reserved, broadcast)"},
	    {"::/8", "overlaps ::/8 (unspecified, loopback, IPv4-mapped)"},
	    {"fe80::/10", "overlaps fe80::/10 (link-local)"},
	    {"ff00::/8", "overlaps ff00::/8 (multicast)"},
	    {"fd50:dbc:41f2:4a3c::/64",
	     "overlaps the overlay's ULA prefix fd50:dbc:41f2:4a3c::/64"},
	};
	unsigned max, off;
	struct net_prefix r;

	if (p->family == AF_INET) {
		if (!net_addr_is_v4mapped(p->addr))
			return "not an IPv4 prefix";
		max = 32;
		off = 96;
	} else if (p->family == AF_INET6) {
		if (net_addr_is_v4mapped(p->addr))
			return "an IPv4 prefix written as IPv4-mapped IPv6";
		max = 128;
		off = 0;
	} else {
		return "not an IPv4 or IPv6 prefix";
	}
	if (p->len > max)
		return "prefix length out of range";
	for (unsigned bit = off + p->len; bit < 128; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return "host bits set";
	if (p->len == 0)
		return "a default route (/0)";
	for (unsigned i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (net_prefix_parse(reserved[i].prefix, false, &r) == 0 &&
		    net_prefix_overlap(p, &r))
			return reserved[i].why;
	return NULL;
}
