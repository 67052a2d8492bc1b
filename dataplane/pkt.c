/* Packet buffer pools, drop reason names and counter snapshots (see pkt.h).
 *
 * A pool is two allocations: the descriptors (one cache line each) followed
 * by the free stack, and the buffers. The buffer area is aligned to 2 MiB and
 * advised as huge pages so a worker's buffers sit in few TLB entries; it is
 * not written at init, so a pool costs memory only for the buffers in use.
 */
#include "dataplane/pkt.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

const char *const dp_drop_names[DP_DROP__MAX] = {
    [DP_DROP_NONE] = "none",
    [DP_DROP_GARBAGE] = "garbage",
    [DP_DROP_SHORT] = "short",
    [DP_DROP_UNKNOWN_SPI] = "unknown_spi",
    [DP_DROP_REPLAY] = "replay",
    [DP_DROP_AUTH] = "auth",
    [DP_DROP_BAD_TRAILER] = "bad_trailer",
    [DP_DROP_BAD_NEXT_HEADER] = "bad_next_header",
    [DP_DROP_SRC_CHECK] = "src_check",
    [DP_DROP_NO_ROUTE] = "no_route",
    [DP_DROP_LINK_DOWN] = "link_down",
    [DP_DROP_SEQ_EXHAUSTED] = "seq_exhausted",
    [DP_DROP_TOO_BIG] = "too_big",
    [DP_DROP_NOT_IP] = "not_ip",
    [DP_DROP_NO_BUFFER] = "no_buffer",
    [DP_DROP_RING_FULL] = "ring_full",
    [DP_DROP_HOST_TX] = "host_tx",
    [DP_DROP_NET_TX] = "net_tx",
    [DP_DROP_NOT_RELAY] = "not_relay",
    [DP_DROP_CHANNEL_LEN] = "channel_len",
    [DP_DROP_BAD_VNET_HDR] = "bad_vnet_hdr",
};

#define HUGE_PAGE (2u << 20)

int dp_pool_init(struct dp_pool *pool, uint32_t n)
{
	return dp_pool_init_stride(pool, n, DP_BUF_SIZE);
}

int dp_pool_init_stride(struct dp_pool *pool, uint32_t n, uint32_t stride)
{
	memset(pool, 0, sizeof(*pool));
	if (n == 0 || n > (1u << 24))
		return -ENOMEM;
	if (stride < DP_BUF_SIZE)
		return -EINVAL;

	size_t pkts_size = (size_t)n * sizeof(struct dp_pkt);
	size_t total = pkts_size + (size_t)n * sizeof(struct dp_pkt *);
	size_t bufs_size = (size_t)n * stride;
	size_t align = bufs_size >= HUGE_PAGE ? HUGE_PAGE : 64;
	bufs_size = (bufs_size + align - 1) & ~(align - 1);
	total = (total + 63) & ~(size_t)63;

	void *mem = NULL, *bufs = NULL;
	if (posix_memalign(&mem, 64, total) != 0)
		return -ENOMEM;
	if (posix_memalign(&bufs, align, bufs_size) != 0) {
		free(mem);
		return -ENOMEM;
	}
	if (align == HUGE_PAGE)
		(void)madvise(bufs, bufs_size, MADV_HUGEPAGE); /* best effort: THP may be off */

	pool->mem = mem;
	pool->bufs = bufs;
	pool->stack = (struct dp_pkt **)((uint8_t *)mem + pkts_size);
	pool->size = n;
	for (uint32_t i = 0; i < n; i++) {
		memset(&pool->mem[i], 0, sizeof(pool->mem[i]));
		pool->mem[i].buf = pool->bufs + (size_t)i * stride;
		pool->mem[i].buf_size = DP_BUF_SIZE;
		dp_pkt_reset(&pool->mem[i]);
		/* Reverse order so the first buffers handed out are the first in memory. */
		pool->stack[i] = &pool->mem[n - 1 - i];
	}
	pool->avail = n;
	return 0;
}

void dp_pool_fini(struct dp_pool *pool)
{
	free(pool->mem);
	free(pool->bufs);
	memset(pool, 0, sizeof(*pool));
}

void dp_counters_add_into(struct dp_counters *sum, const struct dp_counters *c)
{
	/* Every field is a uint64_t, laid out without gaps up to the end of drops[]. */
	_Static_assert(offsetof(struct dp_counters, drops) % sizeof(uint64_t) == 0,
		       "counters must be a plain uint64_t array");
	const size_t nfields =
	    offsetof(struct dp_counters, drops) / sizeof(uint64_t) + DP_DROP__MAX;
	uint64_t *dst = (uint64_t *)sum;
	const uint64_t *src = (const uint64_t *)c;

	for (size_t i = 0; i < nfields; i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

unsigned dp_burst_compact(struct dp_pkt **pkts, unsigned n, struct dp_pool *pool,
			  struct dp_counters *c)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		if (likely(p->drop == DP_DROP_NONE)) {
			pkts[kept++] = p;
			continue;
		}
		unsigned reason = p->drop < DP_DROP__MAX ? p->drop : DP_DROP_GARBAGE;
		DP_COUNT_DROP(c, reason);
		dp_pool_put(pool, p);
	}
	return kept;
}
