/* libFuzzer target for the af_xdp backend's frame parser
 * (dataplane/xsk_frame.c): the input is a received Ethernet frame. Parsing
 * either refuses it, touching nothing but the peer, or yields a payload
 * inside the frame whose length the UDP header gave; a parsed datagram,
 * framed again towards the peer it came from, parses back to the same
 * payload, and its IPv4 header (or IPv6 UDP) checksum verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dataplane/csum.h"
#include "dataplane/xsk_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static uint8_t buf[DP_BUF_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dp_pkt p;
	if (n > 4000)
		n = 4000;
	dp_pkt_attach(&p, buf, sizeof(buf));
	memcpy(p.data, d, n);
	p.len = (uint16_t)n;
	uint8_t *f = p.data;
	if (!dp_frame_parse(&p)) {
		if (p.data != f || p.len != n)
			abort();
		return 0;
	}
	if (p.data < f || p.data + p.len > f + n)
		abort();
	if (p.data[-4] << 8 != (int)((p.len + 8) & 0xff00) || p.data[-3] != ((p.len + 8) & 0xff))
		abort();

	/* Back to where it came from. */
	struct dp_nh nh = {.family = p.peer.family};
	memset(nh.dst_mac, 0xb, 6);
	memcpy(nh.src, p.peer.addr, 16);
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	uint16_t len = p.len;
	const uint8_t *payload = p.data;
	unsigned hl = dp_frame_build(&p, &nh, mac, 0x1111, 1);
	if (hl == 0)
		return 0; /* headroom: the payload sits too close to the buffer start */
	const uint8_t *ip = p.data + 14;
	if (nh.family == AF_INET && dp_csum_fold(dp_csum_add(0, ip, 20)) != 0xffff)
		abort();
	if (nh.family == AF_INET6) {
		uint64_t s = dp_csum_pseudo(ip, 1, 17, 8u + len);
		if (dp_csum_fold(dp_csum_add(s, ip + 40, 8u + len)) != 0xffff)
			abort();
	}
	if (!dp_frame_parse(&p) || p.len != len || p.data != payload)
		abort();
	return 0;
}
