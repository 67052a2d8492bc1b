/* libFuzzer target for the dpdk backend's underlay frames
 * (dataplane/dpdk_eth.c): whatever arrives on the DPDK port must be dropped
 * and counted, kept as a datagram inside the frame, or turned into an ARP or
 * echo reply no longer than the frame; never read past it. The input is
 * copied into a buffer of exactly its length so ASan sees any overread. Every
 * kept datagram and every reply is checked against the frame's bounds; the
 * neighbour table learned from ARP is then used to resolve and encapsulate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dataplane/dpdk.h"

static struct dp_dpdk *d;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x42};
	struct dp_dpdk_stats st;
	struct dp_dpdk_frame fr;

	if (!d) {
		d = aligned_alloc(64, (sizeof(*d) + 63) & ~(size_t)63);
		if (!d)
			abort();
	}
	/* A fresh state each time: learning must not depend on earlier inputs. */
	memset(d, 0, sizeof(*d));
	d->ip4 = htonl(0xc6120002); /* 198.18.0.2/24 */
	d->mask = htonl(0xffffff00u);
	d->gateway = htonl(0xc6120001);
	d->udp_port = 5800;
	d->tsc_hz = 1000000000ull;
	memcpy(d->net.mac, mac, 6);
	memset(&st, 0, sizeof(st));

	uint8_t *f = malloc(size ? size : 1);
	if (!f)
		return 0;
	memcpy(f, data, size);
	switch (dp_dpdk_frame_input(d, &st, f, (unsigned)size, &fr)) {
	case DP_DPDK_FRAME_DATA:
		if ((size_t)fr.off + fr.len > size || fr.off < DP_DPDK_HDR_LEN)
			abort();
		break;
	case DP_DPDK_FRAME_REPLY:
		if (fr.len > size || fr.len < 42)
			abort();
		break;
	case DP_DPDK_FRAME_DROP:
		break;
	default:
		abort();
	}

	/* Resolve whatever the frame may have taught us, and encapsulate. */
	struct net_endpoint to = {.family = AF_INET, .port = 5800};
	uint8_t nh[6], buf[256];
	uint32_t ask;
	to.addr[10] = to.addr[11] = 0xff;
	if (size >= 4)
		memcpy(to.addr + 12, data, 4);
	if (dp_dpdk_next_hop(d, &st, &to, nh, &ask) == 0) {
		uint8_t *start = dp_dpdk_frame_encap(d, buf + 128, 64, &to, nh, 1);
		if (start != buf + 128 - DP_DPDK_HDR_LEN)
			abort();
	}
	free(f);
	return 0;
}
