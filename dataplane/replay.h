/* ESP anti-replay window (RFC 4303 §3.4.3), lock-free so that several workers
 * may receive on the same SA.
 *
 * The window is a ring of DP_REPLAY_SLOTS 64-bit words; each word packs the
 * number of the 32-sequence block it currently describes (high 32 bits) and a
 * 32-bit bitmap of the sequence numbers of that block already accepted (low 32
 * bits). A CAS on one word both claims a block and sets a bit, so no word ever
 * mixes two blocks and no separate "slide" step races with setters. `top` is the
 * highest accepted sequence number, advanced with an atomic max.
 * Window size is (DP_REPLAY_SLOTS - 1) * 32 = 2016 >= the 1024 DESIGN.md asks.
 * Sequence number 0 is never valid (ESP starts at 1); there is no ESN, so an SA
 * must be rekeyed before its counter reaches 2^32 - 1.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define DP_REPLAY_SLOTS  64
#define DP_REPLAY_WINDOW ((DP_REPLAY_SLOTS - 1) * 32)

struct dp_replay {
	_Atomic uint64_t top;
	_Atomic uint64_t slot[DP_REPLAY_SLOTS];
};

void dp_replay_init(struct dp_replay *r);
/* Cheap check before decryption: false if seq is 0, left of the window, or
 * already marked. A true answer is only a hint; dp_replay_update decides. */
bool dp_replay_check(const struct dp_replay *r, uint32_t seq);
/* After the ICV verified: marks seq. 0 on success, -1 if it is a replay or too
 * old (another worker may have accepted the same packet in between). */
int dp_replay_update(struct dp_replay *r, uint32_t seq);
