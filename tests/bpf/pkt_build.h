/* A tiny frame builder for the XDP fixtures: Ethernet, 802.1Q, IPv4 (with
 * options and fragment bits), IPv6 (with extension headers), UDP, TCP. Each
 * put_* appends one header; pkt_fix() fills the IP and UDP lengths. */
#pragma once
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct pkt {
	uint8_t b[512];
	size_t len;
	size_t l3, l4; /* offsets of the IP and UDP headers, 0 = none */
	int v6;
};

static inline void put(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static inline void put16(struct pkt *p, uint16_t v)
{
	v = htons(v);
	put(p, &v, 2);
}

static inline void put_eth(struct pkt *p, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	put(p, macs, sizeof(macs));
	put16(p, type);
}

static inline void put_vlan(struct pkt *p, uint16_t vid, uint16_t inner)
{
	put16(p, vid);
	put16(p, inner);
}

/* IPv4 to dst; opt_words 32-bit words of options (NOPs then an End), frag
 * the host-order flags+offset field. */
static inline void put_ipv4(struct pkt *p, const char *dst, uint8_t proto, unsigned opt_words,
			    uint16_t frag)
{
	uint8_t h[20] = {(uint8_t)(0x40 | (5 + opt_words)), 0, 0, 0, 0, 1, 0, 0, 64, proto};
	struct in_addr src, d;

	inet_pton(AF_INET, "198.18.0.1", &src);
	inet_pton(AF_INET, dst, &d);
	h[6] = (uint8_t)(frag >> 8);
	h[7] = (uint8_t)frag;
	memcpy(h + 12, &src, 4);
	memcpy(h + 16, &d, 4);
	p->l3 = p->len;
	p->v6 = 0;
	put(p, h, sizeof(h));
	for (unsigned i = 0; i < opt_words * 4; i++)
		p->b[p->len++] = i + 1 == opt_words * 4 ? 0 : 1;
}

static inline void put_ipv6(struct pkt *p, const char *dst, uint8_t next)
{
	uint8_t h[40] = {0x60, 0, 0, 0, 0, 0, next, 64};

	inet_pton(AF_INET6, "2001:db8::1", h + 8);
	inet_pton(AF_INET6, dst, h + 24);
	p->l3 = p->len;
	p->v6 = 1;
	put(p, h, sizeof(h));
}

/* An 8-byte extension header (hop-by-hop, destination options, fragment). */
static inline void put_ext6(struct pkt *p, uint8_t next)
{
	uint8_t h[8] = {next, 0, 1, 4, 0, 0, 0, 0}; /* PadN filling it */

	put(p, h, sizeof(h));
}

static inline void put_udp(struct pkt *p, uint16_t dport, const void *payload, size_t n)
{
	p->l4 = p->len;
	put16(p, 40000);
	put16(p, dport);
	put16(p, (uint16_t)(8 + n));
	put16(p, 0);
	put(p, payload, n);
}

static inline void put_tcp(struct pkt *p, uint16_t dport)
{
	uint8_t h[20] = {
	    0x9c, 0x40, (uint8_t)(dport >> 8), (uint8_t)dport, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02,
	    0xff, 0xff};

	put(p, h, sizeof(h));
}

/* Fills the IP payload/total length fields. */
static inline void pkt_fix(struct pkt *p)
{
	size_t n = p->len - p->l3;

	if (p->v6)
		n -= 40;
	p->b[p->l3 + (p->v6 ? 4 : 2)] = (uint8_t)(n >> 8);
	p->b[p->l3 + (p->v6 ? 5 : 3)] = (uint8_t)n;
}
