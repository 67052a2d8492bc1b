/* Lock-free ESP anti-replay window (see replay.h for the layout).
 *
 * Why it is safe without a lock: a sequence number is accepted only by the CAS
 * that sets its bit in the slot word describing its block, so two workers can
 * never both accept it. The block number stored in a slot only grows; once a
 * slot has been claimed by a newer block, every sequence number of the older
 * block is rejected for good, which is exactly what the window must do because
 * a newer block 64 blocks ahead puts the older one left of the window. `top` is
 * only used for the left-edge test and may lag behind the slots by a moment;
 * that costs at most a spurious accept of a never-seen number just at the edge,
 * never a duplicate.
 */
#include <stdatomic.h>

#include "dataplane/replay.h"

#define BLOCK_SHIFT 5 /* 32 sequence numbers per slot word */
#define BLOCK_MASK  ((1u << BLOCK_SHIFT) - 1)

static inline uint64_t slot_block(uint64_t word)
{
	return word >> 32;
}

static inline bool left_of_window(uint64_t seq, uint64_t top)
{
	return seq + DP_REPLAY_WINDOW <= top;
}

void dp_replay_init(struct dp_replay *r)
{
	/* Every slot starts as "block 0, nothing seen"; block 0 is older than any
	 * block that can map to slots 1..63, so those are simply claimed. */
	atomic_init(&r->top, 0);
	for (unsigned i = 0; i < DP_REPLAY_SLOTS; i++)
		atomic_init(&r->slot[i], 0);
}

bool dp_replay_check(const struct dp_replay *r, uint32_t seq)
{
	if (seq == 0)
		return false;
	if (left_of_window(seq, atomic_load_explicit(&r->top, memory_order_acquire)))
		return false;

	uint64_t block = seq >> BLOCK_SHIFT;
	uint64_t word =
	    atomic_load_explicit(&r->slot[block % DP_REPLAY_SLOTS], memory_order_acquire);
	if (slot_block(word) > block)
		return false;
	if (slot_block(word) == block && (word & (1ull << (seq & BLOCK_MASK))))
		return false;
	return true;
}

int dp_replay_update(struct dp_replay *r, uint32_t seq)
{
	if (seq == 0)
		return -1;
	if (left_of_window(seq, atomic_load_explicit(&r->top, memory_order_acquire)))
		return -1;

	uint64_t block = seq >> BLOCK_SHIFT;
	uint64_t bit = 1ull << (seq & BLOCK_MASK);
	_Atomic uint64_t *slot = &r->slot[block % DP_REPLAY_SLOTS];
	uint64_t word = atomic_load_explicit(slot, memory_order_acquire);
	uint64_t next;

	do {
		if (slot_block(word) > block)
			return -1; /* slot already reused by a newer block: too old */
		if (slot_block(word) == block) {
			if (word & bit)
				return -1;
			next = word | bit;
		} else {
			next = block << 32 | bit; /* claim the slot, forget the stale block */
		}
	} while (!atomic_compare_exchange_weak_explicit(slot, &word, next, memory_order_acq_rel,
							memory_order_acquire));

	uint64_t top = atomic_load_explicit(&r->top, memory_order_relaxed);
	while (seq > top && !atomic_compare_exchange_weak_explicit(
				&r->top, &top, seq, memory_order_release, memory_order_relaxed))
		;
	return 0;
}
