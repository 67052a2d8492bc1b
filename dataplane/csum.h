/* The Internet checksum (RFC 1071) for the offload code.
 *
 * Sums are kept in memory byte order: 16-bit words are read from the packet
 * as they lie and the folded, complemented result is stored back the same
 * way, which is correct on either endianness (RFC 1071 §2(B)). Values that are
 * not read from a packet (protocol, lengths) go in through dp_csum_be16().
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

/* Adds len bytes at data, which must start at an even offset of the summed
 * region (every caller sums whole headers or a header-aligned payload). */
static inline uint64_t dp_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t w;

	/* 32 bytes a round into four independent sums: the same 32-bit words
	 * as below (each 64-bit load is two of them), without one long chain
	 * of dependent adds. No overflow: a round adds < 2^35 and a packet is
	 * at most 2^16 bytes, or 2^11 rounds. */
	if (len >= 32) {
		uint64_t s[4] = {sum, 0, 0, 0};
		while (len >= 32) {
			uint64_t q[4];
			memcpy(q, p, sizeof(q));
			for (int i = 0; i < 4; i++)
				s[i] += (q[i] & 0xffffffffu) + (q[i] >> 32);
			p += 32;
			len -= 32;
		}
		sum = s[0] + s[1] + s[2] + s[3];
	}
	while (len >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		uint16_t h;
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

/* A host-order 16-bit value as it would lie in a packet. */
static inline uint64_t dp_csum_be16(uint64_t sum, uint16_t v)
{
	uint16_t n = htons(v);
	return sum + n;
}

/* Folds to 16 bits without complementing (a partial sum, as in the TCP
 * checksum field of a CHECKSUM_PARTIAL packet). */
static inline uint16_t dp_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The value to store in a checksum field (memory order). */
static inline uint16_t dp_csum_finish(uint64_t sum)
{
	return (uint16_t)~dp_csum_fold(sum);
}

/* Pseudo-header sum for TCP/UDP over IPv4 (ip = the IPv4 header) or IPv6
 * (ip = the IPv6 header; no routing header in front of L4). */
static inline uint64_t dp_csum_pseudo(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4len)
{
	uint64_t sum = v6 ? dp_csum_add(0, ip + 8, 32) : dp_csum_add(0, ip + 12, 8);
	sum = dp_csum_be16(sum, proto);
	sum = dp_csum_be16(sum, (uint16_t)(l4len >> 16));
	return dp_csum_be16(sum, (uint16_t)l4len);
}
