/* Big-endian header fields and the TCP flag bits, shared by the code that
 * parses and rewrites inner headers (GSO, GRO, L3 answers, ICMP). Byte-wise
 * access: headers in a frame are not aligned. */
#pragma once
#include <stdint.h>

#define DP_TCP_FIN 0x01
#define DP_TCP_SYN 0x02
#define DP_TCP_RST 0x04
#define DP_TCP_PSH 0x08
#define DP_TCP_URG 0x20
#define DP_TCP_CWR 0x80

static inline uint16_t dp_be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void dp_be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t dp_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void dp_be32_put(uint8_t *p, uint32_t v)
{
	dp_be16_put(p, (uint16_t)(v >> 16));
	dp_be16_put(p + 2, (uint16_t)v);
}
