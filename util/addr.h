/* Underlay and overlay address helpers shared by both sides: parsing
 * "ip:port" / "[ip6]:port" endpoints and "a.b.c.d/len" prefixes, formatting,
 * conversion to and from sockaddr. Pure functions, no allocation. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* An underlay endpoint. IPv4 is stored as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) so one 16-byte compare serves both families; port is in
 * host byte order. */
struct net_endpoint {
	uint8_t addr[16];
	uint16_t port;
	uint8_t family; /* AF_INET or AF_INET6: how to print it and which header size to assume */
	/* 0: reached directly from the data port. k > 0: a peer address seen
	 * by our TURN allocation k-1 (control/nat/turn.h); packets to it go to that
	 * TURN server wrapped as ChannelData or a Send indication. Part of the
	 * endpoint's identity: the same address direct and relayed are two
	 * different paths. */
	uint8_t via;
};

struct net_prefix {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d like net_endpoint */
	uint8_t len;	  /* prefix length in the address's own family (0..32 or 0..128) */
	uint8_t family;
};

/* "198.18.0.1:5800", "[2001:db8::1]:5800". Returns 0 or -EINVAL. */
int net_endpoint_parse(const char *s, struct net_endpoint *out);
/* Writes "a.b.c.d:port" or "[v6]:port"; returns buf. len >= NET_ENDPOINT_STRLEN. */
#define NET_ENDPOINT_STRLEN 56
char *net_endpoint_format(const struct net_endpoint *ep, char *buf, size_t len);
/* To/from sockaddr_in6 (IPv4 becomes v4-mapped: our sockets are dual-stack). */
void net_endpoint_to_sin6(const struct net_endpoint *ep, struct sockaddr_in6 *sin6);
void net_endpoint_from_sin6(const struct sockaddr_in6 *sin6, struct net_endpoint *ep);
bool net_endpoint_equal(const struct net_endpoint *a, const struct net_endpoint *b);

/* "10.1.0.0/16", "fd00::/8", or a bare address (full length). Host bits must be
 * zero unless allow_host_bits. Returns 0 or -EINVAL. */
int net_prefix_parse(const char *s, bool allow_host_bits, struct net_prefix *out);
char *net_prefix_format(const struct net_prefix *p, char *buf, size_t len);

/* Prefix relations; prefix lengths are clamped to the family's maximum.
 * net_prefix_equal: same family, length and address bytes.
 * net_prefix_overlap: same family and one contains the other.
 * net_prefix_has_ip4/6: the address (ip4 in network byte order) is inside. */
bool net_prefix_equal(const struct net_prefix *a, const struct net_prefix *b);
bool net_prefix_overlap(const struct net_prefix *a, const struct net_prefix *b);
bool net_prefix_has_ip4(const struct net_prefix *p, uint32_t ip4_be);
bool net_prefix_has_ip6(const struct net_prefix *p, const uint8_t ip6[16]);

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:0:0/96), the
 * form net_endpoint and net_prefix store IPv4 in. */
extern const uint8_t net_v4mapped[12];
/* addr (16 bytes) is IPv4-mapped. */
bool net_addr_is_v4mapped(const uint8_t *addr);
/* Writes ::ffff:a.b.c.d into addr (16 bytes) from 4 bytes in network order. */
void net_addr_set_v4(uint8_t *addr, const void *ip4);

/* IPv4 helpers, addresses in network byte order. */
int net_ip4_parse(const char *s, uint32_t *out_be);
uint32_t net_ip4_mask(unsigned len); /* network byte order */

/* Hex <-> bytes. hex_decode accepts an optional "0x" prefix, returns the
 * number of bytes written or -EINVAL (odd length, bad digit, too long). */
int hex_decode(const char *hex, uint8_t *out, size_t max);
void hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
