/* Cycles per packet of the userspace offload stages around the pipeline
 * (issue #9, docs/offloads.md), for a TCP/IPv4 flow of 1448-byte segments
 * (MTU 1500), next to a plain memcpy of the same bytes measured in the same
 * run:
 *
 *   gso segment   dp_gso_segment: one segment cut from a 64 KiB TSO
 *                 super-frame (headers, payload copy, IP and TCP checksums)
 *   checksum      dp_csum_add over the segment's TCP header and payload
 *   gro plan      dp_gro_build over the 45 segments of one super-frame
 *   udp split     the copy of one datagram out of a UDP_GRO buffer
 *   memcpy        memcpy of one segment (the reference)
 *
 * TSC cycles around each call, median over REPS x CALLS calls, divided by
 * the packets in the call (see bench_pipeline.c for why medians of calls).
 * Prints a markdown table; not a test.
 *
 *   build/bench/bench_stages            (or: meson test -C build --benchmark stages)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "dataplane/csum.h"
#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "dataplane/wire.h"
#include "bench/bench_tsc.h"

#define REPS  9
#define CALLS 2000u
#define MSS   1448u
#define HDR   (14u + 20u + 20u)
#define SEGS  45u

static uint8_t sf[HDR + SEGS * MSS];
static double per_call[REPS * CALLS];

static double median(unsigned n)
{
	qsort(per_call, n, sizeof(per_call[0]), cmp_double);
	return n % 2 ? per_call[n / 2] : (per_call[n / 2 - 1] + per_call[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_stages: %s\n", what);
	exit(1);
}

/* A TSO super-frame as a TAP hands it over: Ethernet, IPv4, TCP (ACK). */
static void make_superframe(struct virtio_net_hdr *vh, struct dp_l4_info *info)
{
	uint8_t *ip = sf + 14, *th = sf + 34;
	memset(sf, 0, HDR);
	sf[0] = 2, sf[6] = 2, sf[11] = 1, sf[12] = 0x08;
	ip[0] = 0x45, ip[8] = 64, ip[9] = 6;
	dp_be16_put(ip + 2, (uint16_t)(sizeof(sf) - 14 > 65535 ? 65535 : sizeof(sf) - 14));
	ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
	dp_be16_put(th, 40000), dp_be16_put(th + 2, 5201);
	dp_be32_put(th + 4, 1000), dp_be32_put(th + 8, 7);
	th[12] = 0x50, th[13] = 0x10;
	dp_be16_put(th + 14, 512);
	for (size_t i = HDR; i < sizeof(sf); i++)
		sf[i] = (uint8_t)(i * 7);
	*vh = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				      .hdr_len = HDR,
				      .gso_size = MSS,
				      .csum_start = 34,
				      .csum_offset = 16};
	if (dp_gso_parse(vh, sf, sizeof(sf), 9000, info) < 0)
		die("parse");
}

int main(void)
{
	static struct dp_pool pool;
	static struct dp_gro g;
	struct virtio_net_hdr vh;
	struct dp_l4_info info;
	struct dp_pkt *p[SEGS];
	static uint8_t gro_buf[SEGS * (MSS + HDR)];
	volatile uint64_t sink = 0;
	unsigned n;

	make_superframe(&vh, &info);
	if (dp_pool_init(&pool, 64) != 0)
		die("pool");
	for (unsigned i = 0; i < SEGS; i++)
		p[i] = dp_pool_get(&pool);

	printf("| stage (TCP/IPv4, %u-byte segments) | cycles/packet |\n|---|---|\n", MSS);

	n = 0;
	for (unsigned r = 0; r < REPS * CALLS; r++) {
		unsigned k = r % SEGS;
		uint64_t t0 = tsc_start();
		p[k]->len = (uint16_t)dp_gso_segment(&info, sf, sizeof(sf), k, p[k]->data);
		per_call[n++] = (double)(tsc_stop() - t0);
	}
	printf("| gso segment (copy + IP and TCP checksums) | %.0f |\n", median(n));

	n = 0;
	for (unsigned r = 0; r < REPS * CALLS; r++) {
		uint64_t t0 = tsc_start();
		sink += dp_csum_add(0, p[r % SEGS]->data + 34, 20 + MSS);
		per_call[n++] = (double)(tsc_stop() - t0);
	}
	printf("| checksum (TCP header + payload) | %.0f |\n", median(n));

	n = 0;
	for (unsigned r = 0; r < REPS * CALLS / 10; r++) {
		for (unsigned k = 0; k < SEGS; k++) /* untimed: gro rewrites heads */
			p[k]->len = (uint16_t)dp_gso_segment(&info, sf, sizeof(sf), k, p[k]->data);
		uint64_t t0 = tsc_start();
		dp_gro_build(&g, p, SEGS);
		per_call[n++] = (double)(tsc_stop() - t0) / SEGS;
		if (g.nunits != 1)
			die("gro did not merge the run");
	}
	printf("| gro plan (merge into one super-frame) | %.0f |\n", median(n));

	n = 0;
	for (unsigned r = 0; r < REPS * CALLS; r++) {
		unsigned k = r % SEGS;
		uint64_t t0 = tsc_start();
		memcpy(p[k]->data, gro_buf + (size_t)k * (MSS + HDR), MSS + HDR);
		per_call[n++] = (double)(tsc_stop() - t0);
	}
	printf("| udp split (copy of one datagram) | %.0f |\n", median(n));

	n = 0;
	for (unsigned r = 0; r < REPS * CALLS; r++) {
		unsigned k = r % SEGS;
		uint64_t t0 = tsc_start();
		memcpy(p[k]->data + HDR, sf + HDR + (size_t)k * MSS, MSS);
		per_call[n++] = (double)(tsc_stop() - t0);
	}
	printf("| memcpy of %u bytes (reference) | %.0f |\n", MSS, median(n));
	(void)sink;
	dp_pool_put_bulk(&pool, p, SEGS);
	dp_pool_fini(&pool);
	return 0;
}
