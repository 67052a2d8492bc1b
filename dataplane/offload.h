/* Which offloads a backend uses and why one is off (docs/offloads.md).
 *
 * The control core says what the configuration allows (`want`); the backend
 * probes the kernel at open and fills `on` and, for each one that is off, a
 * short reason for `ipopctl status`. Missing kernel support is never fatal:
 * the data path falls back to one frame per TAP read/write and one datagram
 * per message.
 */
#pragma once
#include <stdbool.h>

enum dp_offload {
	DP_OFFLOAD_TSO,	    /* TAP reads: checksum offload + TCP super-frames (TSO4/6) */
	DP_OFFLOAD_USO,	    /* TAP reads: UDP super-frames (USO4/6, Linux 6.2) */
	DP_OFFLOAD_GRO,	    /* TAP writes: TCP segments coalesced into super-frames */
	DP_OFFLOAD_UDP_GSO, /* underlay sends: runs of equal datagrams, one sendmsg (UDP_SEGMENT) */
	DP_OFFLOAD_UDP_GRO, /* underlay receives: coalesced datagrams split here (UDP_GRO) */
	DP_OFFLOAD__MAX
};
extern const char *const dp_offload_names[DP_OFFLOAD__MAX];

struct dp_offloads {
	bool want[DP_OFFLOAD__MAX];
	bool on[DP_OFFLOAD__MAX];
	char why[DP_OFFLOAD__MAX][96]; /* "" when on */
};

/* Every offload wanted (the default configuration). */
static inline void dp_offloads_want_all(struct dp_offloads *o)
{
	for (int i = 0; i < DP_OFFLOAD__MAX; i++)
		o->want[i] = true;
}
