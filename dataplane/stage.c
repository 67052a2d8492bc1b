/* The stage queue (see stage.h). */
#include "dataplane/stage.h"

#include <errno.h>

int dp_stage_put(struct dp_stage *s, uint32_t link_id, struct dp_pkt *p)
{
	struct dp_stage_slot *free_slot = NULL;

	for (unsigned k = 0; k < DP_STAGE_LINKS; k++) {
		struct dp_stage_slot *sl = &s->slot[k];
		if (sl->n && sl->link_id == link_id) {
			if (sl->n >= DP_STAGE_DEPTH)
				return -ENOSPC;
			sl->since_ms[sl->n] = 0;
			sl->pkt[sl->n++] = p;
			s->staged++;
			s->unstamped++;
			return 0;
		}
		if (!sl->n && !free_slot)
			free_slot = sl;
	}
	if (!free_slot)
		return -ENOSPC;
	free_slot->link_id = link_id;
	free_slot->since_ms[0] = 0;
	free_slot->pkt[0] = p;
	free_slot->n = 1;
	s->staged++;
	s->unstamped++;
	return 0;
}

static uint64_t timeout_of(uint32_t timeout_ms)
{
	return timeout_ms ? timeout_ms : DP_STAGE_TIMEOUT_MS;
}

void dp_stage_stamp(struct dp_stage *s, uint64_t now_ms, uint32_t timeout_ms)
{
	if (!s->unstamped)
		return;
	if (now_ms == 0)
		now_ms = 1; /* 0 means "not stamped" */
	for (unsigned k = 0; k < DP_STAGE_LINKS; k++) {
		struct dp_stage_slot *sl = &s->slot[k];
		for (unsigned i = 0; i < sl->n; i++)
			if (!sl->since_ms[i])
				sl->since_ms[i] = now_ms;
	}
	s->unstamped = 0;
	uint64_t due = now_ms + timeout_of(timeout_ms);
	if (s->next_expiry_ms == 0 || due < s->next_expiry_ms)
		s->next_expiry_ms = due;
}

void dp_stage_expire(struct dp_stage *s, uint64_t now_ms, uint32_t timeout_ms, struct dp_pool *pool,
		     struct dp_counters *c)
{
	uint64_t to = timeout_of(timeout_ms), next = 0;

	if (!s->staged || now_ms < s->next_expiry_ms)
		return;
	for (unsigned k = 0; k < DP_STAGE_LINKS; k++) {
		struct dp_stage_slot *sl = &s->slot[k];
		unsigned old = 0;
		/* stamps grow along a slot: the expired ones are a prefix */
		while (old < sl->n && sl->since_ms[old] && sl->since_ms[old] + to <= now_ms) {
			DP_COUNT_DROP(c, DP_DROP_STAGE_TIMEOUT);
			dp_pool_put(pool, sl->pkt[old]);
			old++;
		}
		if (old) {
			for (unsigned i = old; i < sl->n; i++) {
				sl->pkt[i - old] = sl->pkt[i];
				sl->since_ms[i - old] = sl->since_ms[i];
			}
			sl->n = (uint16_t)(sl->n - old);
			s->staged -= old;
		}
		if (sl->n && sl->since_ms[0] && (!next || sl->since_ms[0] + to < next))
			next = sl->since_ms[0] + to;
	}
	s->next_expiry_ms = next;
}

unsigned dp_stage_take(struct dp_stage *s, unsigned k, struct dp_pkt **pkts)
{
	struct dp_stage_slot *sl = &s->slot[k];
	unsigned n = sl->n;

	for (unsigned i = 0; i < n; i++) {
		pkts[i] = sl->pkt[i];
		if (!sl->since_ms[i])
			s->unstamped--;
	}
	s->staged -= n;
	sl->n = 0;
	return n;
}

void dp_stage_drop(struct dp_stage *s, unsigned k, enum dp_drop reason, struct dp_pool *pool,
		   struct dp_counters *c)
{
	struct dp_pkt *pkts[DP_STAGE_DEPTH];
	unsigned n = dp_stage_take(s, k, pkts);

	for (unsigned i = 0; i < n; i++)
		DP_COUNT_DROP(c, reason);
	dp_pool_put_bulk(pool, pkts, n);
}
