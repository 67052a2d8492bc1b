/* Switch-mode MAC table on the control side.
 *
 * Workers report (MAC, link id) pairs the published table does not know yet
 * (learn events); this module keeps them with the time they were last
 * reported, ages them out after max_age seconds, evicts the least recently
 * learned entry when full, and raises `dirty` so the control loop rebuilds the
 * forwarding table at most once per tick.
 *
 * Workers only send an event when the table disagrees with what they see, so
 * a MAC that stays behind the same link is not refreshed: it ages out after
 * max_age and is learned again by its next frame (a short spell of flooding,
 * as on a bridge whose ageing time expired).
 *
 * Everything is O(1): a chained hash on the MAC plus an LRU list ordered by
 * last-seen time.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define CTL_FDB_DEFAULT_CAP 4096

struct ctl_fdb_entry {
	uint8_t mac[6];
	bool used;
	uint32_t link_id;
	uint64_t last_seen_ms;
	uint32_t ip4;		    /* its ARP sender IPv4 (network order), 0: unknown */
	int32_t hnext;		    /* hash chain */
	int32_t lru_prev, lru_next; /* oldest at lru_head */
};

struct ctl_fdb {
	struct ctl_fdb_entry *e;
	int32_t *buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t cap, n;
	int32_t free_head; /* free list through hnext */
	int32_t lru_head, lru_tail;
	uint64_t max_age_ms;
	bool dirty; /* changed since the last table build */
	uint64_t learned, moved, evicted, aged;
};

/* 0 or -ENOMEM. cap 0 = CTL_FDB_DEFAULT_CAP; max_age_s 0 = never age. */
int ctl_fdb_init(struct ctl_fdb *f, uint32_t cap, unsigned max_age_s);
void ctl_fdb_fini(struct ctl_fdb *f);
void ctl_fdb_set_max_age(struct ctl_fdb *f, unsigned max_age_s);

/* Records that mac lives behind link_id as of now_ms. A move between links is
 * allowed (a VM migrated, or a bridge loop healed). Sets dirty when the
 * mapping changed. Multicast/broadcast sources are ignored. */
void ctl_fdb_learn(struct ctl_fdb *f, const uint8_t mac[6], uint32_t link_id, uint64_t now_ms);
/* The same, with the IPv4 an ARP request or reply gave as this MAC's
 * (dp_learn_event.ip4; 0: none): the table's ARP map (dp_table_add_arp) is
 * built from it. An address seen with a new MAC leaves the old one. */
void ctl_fdb_learn_ip(struct ctl_fdb *f, const uint8_t mac[6], uint32_t link_id, uint32_t ip4_be,
		      uint64_t now_ms);
/* Removes entries not seen for max_age. Returns how many. */
unsigned ctl_fdb_age(struct ctl_fdb *f, uint64_t now_ms);
/* Removes every entry behind link_id (the link is gone). Returns how many. */
unsigned ctl_fdb_remove_link(struct ctl_fdb *f, uint32_t link_id);

static inline uint32_t ctl_fdb_count(const struct ctl_fdb *f)
{
	return f->n;
}

/* Iterates oldest first: for (i = f->lru_head; i >= 0; i = f->e[i].lru_next). */
