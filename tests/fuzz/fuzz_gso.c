/* libFuzzer target for the TAP offload parsers (dataplane/gso.c, gro.c): the
 * input is a virtio-net header followed by a frame, as a TAP read returns it.
 * Whatever the header claims, parsing either refuses or yields offsets inside
 * the frame; every segment fits the size promised to the caller, segments
 * carry the super-frame's payload exactly once, in order, and each verifies
 * (IPv4 header and L4 checksum); the segments fed to userspace GRO plan units
 * that cover every packet once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "dataplane/csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAX_SEG 9216

static uint8_t frame[DP_GSO_FRAME_MAX];
static struct dp_pool pool;
static struct dp_gro gro;

static void check_segment(const struct dp_l4_info *i, const uint8_t *s, size_t len)
{
	const uint8_t *ip = s + i->l3off;
	if (!i->v6 && dp_csum_fold(dp_csum_add(0, ip, i->l4off - i->l3off)) != 0xffff)
		abort();
	uint64_t sum = dp_csum_pseudo(ip, i->v6, i->proto, (uint32_t)(len - i->l4off));
	if (dp_csum_fold(dp_csum_add(sum, s + i->l4off, len - i->l4off)) != 0xffff)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct virtio_net_hdr vh;
	struct dp_l4_info info;
	static uint8_t seg[MAX_SEG];
	struct dp_pkt *pkts[DP_GRO_SEGS_MAX];
	unsigned npkts = 0;

	if (!pool.mem && dp_pool_init(&pool, DP_GRO_SEGS_MAX) != 0)
		abort();
	if (n < sizeof(vh))
		return 0;
	memcpy(&vh, d, sizeof(vh));
	size_t len = n - sizeof(vh);
	if (len > sizeof(frame))
		len = sizeof(frame);
	memcpy(frame, d + sizeof(vh), len);

	struct dp_l4_info plain;
	if (dp_l4_parse(frame, len, &plain) == 0 && plain.hdrlen > len)
		abort();

	if (dp_gso_parse(&vh, frame, len, MAX_SEG, &info) != 0)
		return 0;
	if (!info.mss) {
		if (info.csum) {
			if ((size_t)info.l4off + info.csum_off + 2 > len)
				abort();
			dp_gso_csum_finish(&info, frame, len);
		}
		return 0;
	}
	if (info.hdrlen >= len || (size_t)info.hdrlen + info.mss > MAX_SEG)
		abort();
	unsigned count = dp_gso_count(&info, len);
	size_t payload = 0;
	for (unsigned k = 0; k < count; k++) {
		size_t l = dp_gso_segment(&info, frame, len, k, seg);
		if (l <= info.hdrlen || l > (size_t)info.hdrlen + info.mss)
			abort();
		if (memcmp(seg + info.hdrlen, frame + info.hdrlen + payload, l - info.hdrlen) != 0)
			abort();
		payload += l - info.hdrlen;
		check_segment(&info, seg, l);
		if (npkts < DP_GRO_SEGS_MAX) {
			struct dp_pkt *p = dp_pool_get(&pool);
			memcpy(p->data, seg, l);
			p->len = (uint16_t)l;
			pkts[npkts++] = p;
		}
	}
	if (payload != len - info.hdrlen)
		abort();

	gro.udp = n & 1; /* both plans: with UDP merging (a USO kernel) and without */
	dp_gro_build(&gro, pkts, npkts);
	unsigned seen = 0;
	for (unsigned u = 0; u < gro.nunits; u++) {
		unsigned c = 0;
		for (unsigned k = gro.units[u].head; k != UINT16_MAX; k = gro.next[k])
			c++;
		if (c != gro.units[u].count)
			abort();
		seen += c;
	}
	if (seen != npkts)
		abort();
	dp_pool_put_bulk(&pool, pkts, npkts);
	return 0;
}
