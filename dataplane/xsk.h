/* The `af_xdp` backend (docs/af_xdp.md): the underlay through AF_XDP
 * sockets, the host side through the kernel backend's TAP.
 *
 * At open it checks the underlay interface (exists, has a receive queue per
 * worker, an MTU whose frames fit a UMEM chunk), opens the kernel backend
 * underneath (the TAP, and one UDP socket per worker on the same port: the
 * slow path), loads bpf/xdp_steer with the port and the queue count,
 * attaches it (native, else generic, as xdp_mode says) and, per worker
 * queue, builds the worker's buffer pool with each buffer on its own pages,
 * registers it as the UMEM of one AF_XDP socket bound to that queue
 * (zero-copy where the driver has it, else copy; need_wakeup) and puts the
 * socket into the program's XSK map. Any failure: one line, and everything
 * done so far is undone (no program stays attached).
 *
 * Per worker (xsk_io.c): net_rx takes frames from the RX ring (their
 * buffers become the packets: no copy), parses Ethernet/IP/UDP and hands
 * the UDP payload on; then what the slow-path socket has (fragments, queues
 * without a socket). The fill ring is refilled from the pool and the
 * completion ring drained into it on every rx and tx. net_tx prepends
 * Ethernet/IPv4-or-IPv6/UDP with the next hop from nexthop.h and puts the
 * frame on the TX ring; what has no resolved next hop (or does not fit a
 * chunk) goes through the slow-path socket, which also makes the kernel
 * resolve the neighbour.
 */
#pragma once
#include <stdint.h>

#include "dataplane/backend.h"

/* A UMEM chunk: the most a received frame can occupy, headroom included. */
#define DP_XSK_CHUNK 4096
/* Pool buffer stride: a whole number of pages, so no buffer's first chunk
 * crosses a page (zero-copy needs that of every descriptor). */
#define DP_XSK_STRIDE 12288
/* Buffers per worker: 48 MiB of UMEM, pinned. The fill ring is what absorbs
 * a burst while the worker is busy or asleep (like a socket's receive
 * buffer): a peer's copy-mode AF_XDP sender puts out hundreds of frames at
 * once, so it is kept at 1536 buffers, leaving the rest for transmits in
 * flight and the host side. */
#define DP_XSK_POOL	   4096
#define DP_XSK_RING	   2048 /* RX, TX, fill and completion ring entries */
#define DP_XSK_FILL_TARGET 1536 /* buffers kept on the fill ring */

extern const struct dp_backend_ops dp_xsk_ops;
