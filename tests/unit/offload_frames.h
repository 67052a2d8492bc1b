/* Test frames for the offload tests (test_gso.c, test_gro.c): Ethernet +
 * IPv4/IPv6 (+ options) + TCP/UDP (+ options) + a payload pattern, and an
 * independent RFC 1071 checksum (byte-wise, big-endian arithmetic) to check
 * what the data plane computes its own way. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

struct tf_spec {
	bool v6, udp, vlan;
	unsigned
	    ipopt; /* IPv4 option bytes (multiple of 4) / IPv6 dst-opts bytes (multiple of 8) */
	unsigned tcpopt; /* TCP option bytes (multiple of 4) */
	uint8_t flags;	 /* TCP flags */
	uint32_t seq, ack;
	uint16_t ip_id, sport, dport;
	size_t payload;
	uint8_t tag; /* payload pattern seed */
};

struct tf_frame {
	uint8_t f[70000];
	size_t len, l3, l4, hdr;
};

static inline void tf_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t tf_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t tf_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Byte-wise one's complement sum, big-endian words. */
static inline uint32_t tf_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i < n; i += 2)
		sum += (uint32_t)(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
	return sum;
}

static inline uint16_t tf_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* 0xffff when the L4 checksum (with its pseudo-header) verifies. */
static inline uint16_t tf_l4_verify(const uint8_t *ip, bool v6, uint8_t proto, const uint8_t *l4,
				    size_t l4len)
{
	uint32_t s = v6 ? tf_sum(ip + 8, 32, 0) : tf_sum(ip + 12, 8, 0);
	s += proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
	return tf_fold(tf_sum(l4, l4len, s));
}

static inline uint8_t tf_pat(uint8_t tag, size_t i)
{
	return (uint8_t)(tag + i * 7 + (i >> 8));
}

/* Builds a frame whose L4 checksum is complete (callers that want a partial
 * one overwrite it). */
static inline void tf_build(struct tf_frame *t, const struct tf_spec *s)
{
	uint8_t *f = t->f;
	size_t off = 12;

	memset(f, 0, 64);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (s->vlan) {
		tf_wr16(f + 12, 0x8100);
		tf_wr16(f + 14, 42);
		off += 4;
	}
	tf_wr16(f + off, s->v6 ? 0x86dd : 0x0800);
	off += 2;
	t->l3 = off;
	uint8_t proto = s->udp ? IPPROTO_UDP : IPPROTO_TCP;
	size_t l4hdr = s->udp ? 8 : 20 + s->tcpopt;
	if (s->v6) {
		uint8_t *ip = f + off;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[1] = 0x01; /* traffic class / flow label bits */
		ip[6] = s->ipopt ? 60 : proto;
		ip[7] = 64;
		for (int i = 0; i < 16; i++) {
			ip[8 + i] = (uint8_t)(0xfd + i);
			ip[24 + i] = (uint8_t)(0xfd + 2 * i);
		}
		off += 40;
		if (s->ipopt) {
			memset(f + off, 0, s->ipopt);
			f[off] = proto;
			f[off + 1] = (uint8_t)(s->ipopt / 8 - 1);
			f[off + 2] = 1; /* PadN */
			f[off + 3] = (uint8_t)(s->ipopt - 4);
			off += s->ipopt;
		}
		t->l4 = off;
		tf_wr16(ip + 4, (uint16_t)(off - t->l3 - 40 + l4hdr + s->payload));
	} else {
		uint8_t *ip = f + off;
		size_t ihl = 20 + s->ipopt;
		memset(ip, 0, ihl);
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		ip[1] = 0x10;
		tf_wr16(ip + 2, (uint16_t)(ihl + l4hdr + s->payload));
		tf_wr16(ip + 4, s->ip_id);
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, "\x0a\xfe\x00\x01\x0a\xfe\x00\x02", 8);
		for (size_t i = 20; i < ihl; i++)
			ip[i] = 1; /* NOP options */
		tf_wr16(ip + 10, (uint16_t)~tf_fold(tf_sum(ip, ihl, 0)));
		off += ihl;
		t->l4 = off;
	}
	uint8_t *l4 = f + off;
	memset(l4, 0, l4hdr);
	tf_wr16(l4, s->sport ? s->sport : 40000);
	tf_wr16(l4 + 2, s->dport ? s->dport : 7000);
	if (s->udp) {
		tf_wr16(l4 + 4, (uint16_t)(8 + s->payload));
	} else {
		l4[4] = (uint8_t)(s->seq >> 24), l4[5] = (uint8_t)(s->seq >> 16);
		l4[6] = (uint8_t)(s->seq >> 8), l4[7] = (uint8_t)s->seq;
		l4[8] = (uint8_t)(s->ack >> 24), l4[9] = (uint8_t)(s->ack >> 16);
		l4[10] = (uint8_t)(s->ack >> 8), l4[11] = (uint8_t)s->ack;
		l4[12] = (uint8_t)((l4hdr / 4) << 4);
		l4[13] = s->flags;
		tf_wr16(l4 + 14, 502);
		if (s->flags & 0x20)
			tf_wr16(l4 + 18, 3000);
		for (size_t i = 20; i + 10 <= l4hdr; i += 10) { /* NOP NOP timestamp */
			l4[i] = 1, l4[i + 1] = 1, l4[i + 2] = 8, l4[i + 3] = 10;
			l4[i + 4] = 0x11, l4[i + 9] = 0x22;
		}
		for (size_t i = 20 + (l4hdr - 20) / 10 * 10; i < l4hdr; i++)
			l4[i] = 1;
	}
	off += l4hdr;
	t->hdr = off;
	for (size_t i = 0; i < s->payload; i++)
		f[off + i] = tf_pat(s->tag, i);
	t->len = off + s->payload;
	uint8_t *ip = f + t->l3;
	size_t l4len = t->len - t->l4;
	uint32_t ps = s->v6 ? tf_sum(ip + 8, 32, 0) : tf_sum(ip + 12, 8, 0);
	ps += proto + (uint32_t)l4len;
	uint16_t c = (uint16_t)~tf_fold(tf_sum(l4, l4len, ps));
	if (s->udp && c == 0)
		c = 0xffff;
	tf_wr16(l4 + (s->udp ? 6 : 16), c);
}

/* Turns the L4 checksum into the partial one a NEEDS_CSUM frame carries:
 * the folded pseudo-header sum over l4len, uncomplemented. */
static inline void tf_make_partial(struct tf_frame *t, bool v6, bool udp)
{
	uint8_t *ip = t->f + t->l3;
	size_t l4len = t->len - t->l4;
	uint32_t ps = v6 ? tf_sum(ip + 8, 32, 0) : tf_sum(ip + 12, 8, 0);
	ps += (udp ? IPPROTO_UDP : IPPROTO_TCP) + (uint32_t)(l4len >> 16) +
	      (uint32_t)(l4len & 0xffff);
	tf_wr16(t->f + t->l4 + (udp ? 6 : 16), tf_fold(ps));
}
