/* Sending the control core's datagrams on the underlay.
 *
 * Everything the control core sends to the network — handshake messages,
 * cookie replies, ESP keepalives, STUN (and TURN) requests — goes through
 * ctl_send_underlay(), so it leaves from the data port exactly like data and
 * the NAT mappings it opens (or learns, for STUN) are the ones the data path
 * uses. DESIGN.md, "Control → workers".
 *
 * Path: worker 0's inject ring (dp_worker_inject). One worker is enough and
 * worker 0 always exists: every worker's socket is bound to the same wildcard
 * address and port in one SO_REUSEPORT group, so the source address and port
 * (what a NAT keys its mapping on) are the same whichever worker sends; the
 * group only spreads *received* datagrams. A single producer per ring is also
 * what lets the ring stay SPSC.
 *
 * Fallback: the backend's direct send (dp_backend_send_control: for kernel
 * and af_xdp a sendto() on worker 0's UDP socket, same port) when the worker thread is not running — before
 * ctl_init starts the workers and after unwind stops them (ctl_init sends its
 * first initiations and STUN requests only after the workers run, so in
 * practice: sends during shutdown and from tests without threads) — and when
 * the inject ring is full (counted in the worker's inject_full), so a burst
 * of handshake answers is never lost to ring size. A backend without a direct
 * send (-ENOTSUP) has nothing but the ring.
 */
#pragma once
#include <stddef.h>

#include "util/addr.h"

struct ctl;

/* 0 or -errno (-EMSGSIZE above DP_INJECT_DATA_MAX, or the direct send's
 * error). */
int ctl_send_underlay(struct ctl *c, const struct net_endpoint *to, const void *buf, size_t len);
