/* The link id the FDB holds for a MAC, or -1, found by walking the LRU list
 * the FDB documents (fdb.h): the daemon never asks the control-side FDB, the
 * workers look MACs up in the published table. */
#pragma once
#include <stdint.h>
#include <string.h>

#include "control/table/fdb.h"

static inline int64_t fdb_lookup(const struct ctl_fdb *f, const uint8_t mac[6])
{
	for (int32_t i = f->lru_head; i >= 0; i = f->e[i].lru_next)
		if (f->e[i].used && memcmp(f->e[i].mac, mac, 6) == 0)
			return f->e[i].link_id;
	return -1;
}
