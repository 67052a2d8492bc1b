/* Switch-mode MAC table on the control side (see fdb.h). Entries live in one
 * array; a free list, the hash chains and the LRU list are index links into it,
 * so learning, ageing and eviction never allocate. */
#include "control/table/fdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static uint32_t mac_hash(const uint8_t mac[6])
{
	/* FNV-1a: MACs from one vendor share their first half, so mix every byte. */
	uint32_t h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h ^ (h >> 15);
}

int ctl_fdb_init(struct ctl_fdb *f, uint32_t cap, unsigned max_age_s)
{
	memset(f, 0, sizeof(*f));
	if (cap == 0)
		cap = CTL_FDB_DEFAULT_CAP;
	uint32_t nb = 16;
	while (nb < cap)
		nb <<= 1;
	f->e = calloc(cap, sizeof(*f->e));
	f->buckets = malloc(nb * sizeof(*f->buckets));
	if (!f->e || !f->buckets) {
		free(f->e);
		free(f->buckets);
		memset(f, 0, sizeof(*f));
		return -ENOMEM;
	}
	f->cap = cap;
	f->nbuckets = nb;
	for (uint32_t i = 0; i < nb; i++)
		f->buckets[i] = -1;
	for (uint32_t i = 0; i < cap; i++)
		f->e[i].hnext = i + 1 < cap ? (int32_t)(i + 1) : -1;
	f->free_head = 0;
	f->lru_head = f->lru_tail = -1;
	ctl_fdb_set_max_age(f, max_age_s);
	return 0;
}

void ctl_fdb_fini(struct ctl_fdb *f)
{
	free(f->e);
	free(f->buckets);
	memset(f, 0, sizeof(*f));
}

void ctl_fdb_set_max_age(struct ctl_fdb *f, unsigned max_age_s)
{
	f->max_age_ms = (uint64_t)max_age_s * 1000;
}

static void lru_unlink(struct ctl_fdb *f, int32_t i)
{
	struct ctl_fdb_entry *x = &f->e[i];
	if (x->lru_prev >= 0)
		f->e[x->lru_prev].lru_next = x->lru_next;
	else
		f->lru_head = x->lru_next;
	if (x->lru_next >= 0)
		f->e[x->lru_next].lru_prev = x->lru_prev;
	else
		f->lru_tail = x->lru_prev;
	x->lru_prev = x->lru_next = -1;
}

static void lru_append(struct ctl_fdb *f, int32_t i)
{
	struct ctl_fdb_entry *x = &f->e[i];
	x->lru_next = -1;
	x->lru_prev = f->lru_tail;
	if (f->lru_tail >= 0)
		f->e[f->lru_tail].lru_next = i;
	else
		f->lru_head = i;
	f->lru_tail = i;
}

static int32_t find(const struct ctl_fdb *f, const uint8_t mac[6])
{
	if (!f->e)
		return -1;
	int32_t i = f->buckets[mac_hash(mac) & (f->nbuckets - 1)];
	while (i >= 0 && memcmp(f->e[i].mac, mac, 6) != 0)
		i = f->e[i].hnext;
	return i;
}

static void remove_entry(struct ctl_fdb *f, int32_t i)
{
	int32_t *pp = &f->buckets[mac_hash(f->e[i].mac) & (f->nbuckets - 1)];
	while (*pp != i)
		pp = &f->e[*pp].hnext;
	*pp = f->e[i].hnext;
	lru_unlink(f, i);
	f->e[i].used = false;
	f->e[i].hnext = f->free_head;
	f->free_head = i;
	f->n--;
	f->dirty = true;
}

void ctl_fdb_learn(struct ctl_fdb *f, const uint8_t mac[6], uint32_t link_id, uint64_t now_ms)
{
	ctl_fdb_learn_ip(f, mac, link_id, 0, now_ms);
}

/* ip4 belongs to entry i now, to no other. */
static void take_ip(struct ctl_fdb *f, int32_t i, uint32_t ip4)
{
	if (!ip4 || f->e[i].ip4 == ip4)
		return;
	for (uint32_t k = 0; k < f->cap; k++)
		if (f->e[k].used && f->e[k].ip4 == ip4)
			f->e[k].ip4 = 0;
	f->e[i].ip4 = ip4;
	f->dirty = true;
}

void ctl_fdb_learn_ip(struct ctl_fdb *f, const uint8_t mac[6], uint32_t link_id, uint32_t ip4,
		      uint64_t now_ms)
{
	if (!f->e || (mac[0] & 1))
		return;
	int32_t i = find(f, mac);
	if (i >= 0) {
		struct ctl_fdb_entry *x = &f->e[i];
		if (x->link_id != link_id) {
			log_debug(
			    "fdb: %02x:%02x:%02x:%02x:%02x:%02x moved from link %u to link %u",
			    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], x->link_id, link_id);
			x->link_id = link_id;
			f->moved++;
			f->dirty = true;
		}
		x->last_seen_ms = now_ms;
		take_ip(f, i, ip4);
		lru_unlink(f, i);
		lru_append(f, i);
		return;
	}
	if (f->free_head < 0) {
		/* Full: the least recently learned entry makes room, so a MAC
		 * flood cannot lock out the hosts that are really there. */
		remove_entry(f, f->lru_head);
		f->evicted++;
	}
	i = f->free_head;
	struct ctl_fdb_entry *x = &f->e[i];
	f->free_head = x->hnext;
	memcpy(x->mac, mac, 6);
	x->used = true;
	x->link_id = link_id;
	x->last_seen_ms = now_ms;
	x->ip4 = 0;
	take_ip(f, i, ip4);
	uint32_t b = mac_hash(mac) & (f->nbuckets - 1);
	x->hnext = f->buckets[b];
	f->buckets[b] = i;
	lru_append(f, i);
	f->n++;
	f->learned++;
	f->dirty = true;
	log_debug("fdb: learned %02x:%02x:%02x:%02x:%02x:%02x on link %u", mac[0], mac[1], mac[2],
		  mac[3], mac[4], mac[5], link_id);
}

unsigned ctl_fdb_age(struct ctl_fdb *f, uint64_t now_ms)
{
	unsigned n = 0;
	if (f->max_age_ms == 0)
		return 0;
	while (f->lru_head >= 0 && now_ms - f->e[f->lru_head].last_seen_ms >= f->max_age_ms) {
		remove_entry(f, f->lru_head);
		n++;
	}
	f->aged += n;
	return n;
}

unsigned ctl_fdb_remove_link(struct ctl_fdb *f, uint32_t link_id)
{
	unsigned n = 0;
	int32_t i = f->lru_head;
	while (i >= 0) {
		int32_t next = f->e[i].lru_next;
		if (f->e[i].link_id == link_id) {
			remove_entry(f, i);
			n++;
		}
		i = next;
	}
	return n;
}
