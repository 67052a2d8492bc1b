/* Forwarding table construction and hot-path lookups (see table.h).
 *
 * A table is one 64-byte aligned allocation: the header, the links, and the
 * SPI, host-route, subnet and FDB arrays, each starting on its own cache line.
 * Hashes use linear probing and are sized to a power of two at least twice
 * their capacity, so a probe always ends on an empty slot and chains stay
 * short. Nothing is ever deleted: a table is built once and then only read.
 *
 * Routes keep IPv4 as v4-mapped IPv6 (util/addr.h) and carry their family, so
 * an IPv4 /32 and the IPv6 /128 ::ffff:a.b.c.d are different keys and an IPv6
 * lookup never lands on an IPv4 route.
 */
#include "dataplane/table.h"
#include "dataplane/sa.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CAP_MAX	  (1u << 24) /* sanity bound on any capacity */
#define SLOTS_MIN 4u

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static uint32_t slots_for(uint32_t cap)
{
	uint32_t s = SLOTS_MIN;
	while (s < 2 * cap)
		s <<= 1;
	return s;
}

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* Murmur3's finaliser: every input bit reaches every output bit, so SPIs or
 * addresses that differ only in high bits do not pile onto one slot. */
static inline uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline uint32_t hash_addr(const uint8_t addr[16], uint8_t family)
{
	uint32_t w[4];
	memcpy(w, addr, 16);
	return mix32(w[0] ^ mix32(w[1] ^ mix32(w[2] ^ mix32(w[3] ^ family))));
}

static inline uint32_t hash_mac(const uint8_t mac[6])
{
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	return mix32(lo ^ mix32(hi));
}

struct dp_table *dp_table_create(const struct dp_table_params *p, uint16_t nlinks, uint32_t nspi,
				 uint32_t nroutes, uint32_t nfdb)
{
	if (!p || nspi > CAP_MAX || nroutes > CAP_MAX || nfdb > CAP_MAX || nroutes > UINT16_MAX ||
	    nlinks == DP_LINK_NONE) {
		errno = EINVAL;
		return NULL;
	}

	uint32_t spi_slots = slots_for(nspi);
	uint32_t host_slots = slots_for(nroutes);
	uint32_t fdb_slots = slots_for(nfdb);

	size_t off_links = align64(sizeof(struct dp_table));
	size_t off_spi = off_links + align64((size_t)nlinks * sizeof(struct dp_table_link));
	size_t off_host = off_spi + align64((size_t)spi_slots * sizeof(struct dp_spi_entry));
	size_t off_nets = off_host + align64((size_t)host_slots * sizeof(struct dp_route));
	size_t off_fdb = off_nets + align64((size_t)nroutes * sizeof(struct dp_route));
	size_t total = off_fdb + align64((size_t)fdb_slots * sizeof(struct dp_fdb_entry));

	uint8_t *mem = aligned_alloc(64, total);
	if (!mem) {
		errno = ENOMEM;
		return NULL;
	}
	memset(mem, 0, total);

	struct dp_table *t = (struct dp_table *)mem;
	t->p = *p;
	t->nlinks = nlinks;
	t->links = (struct dp_table_link *)(mem + off_links);
	t->spi_mask = spi_slots - 1;
	t->spi = (struct dp_spi_entry *)(mem + off_spi);
	t->host_mask = host_slots - 1;
	t->host = (struct dp_route *)(mem + off_host);
	t->nets = (struct dp_route *)(mem + off_nets);
	t->fdb_mask = fdb_slots - 1;
	t->fdb = (struct dp_fdb_entry *)(mem + off_fdb);
	t->cap_spi = nspi;
	t->cap_routes = nroutes;
	t->cap_fdb = nfdb;

	for (uint16_t i = 0; i < nlinks; i++)
		t->links[i].via = DP_LINK_NONE;
	for (uint32_t i = 0; i < host_slots; i++)
		t->host[i].link = DP_LINK_NONE;
	for (uint32_t i = 0; i < fdb_slots; i++)
		t->fdb[i].link = DP_LINK_NONE;
	return t;
}

void dp_table_free(struct dp_table *t)
{
	if (t)
		free(t->arp);
	free(t);
}

int dp_table_reserve_arp(struct dp_table *t, uint32_t n)
{
	if (t->arp)
		return -EEXIST;
	if (n > CAP_MAX)
		return -ENOMEM;
	uint32_t slots = slots_for(n);
	t->arp = calloc(slots, sizeof(*t->arp));
	if (!t->arp)
		return -ENOMEM;
	t->arp_mask = slots - 1;
	t->cap_arp = n;
	return 0;
}

static struct dp_arp_entry *arp_find(const struct dp_table *t, uint32_t ip4)
{
	for (uint32_t i = mix32(ip4) & t->arp_mask;; i = (i + 1) & t->arp_mask) {
		struct dp_arp_entry *e = &t->arp[i];
		if (e->ip4 == 0 || e->ip4 == ip4)
			return e;
	}
}

int dp_table_add_arp(struct dp_table *t, uint32_t ip4_be, const uint8_t mac[6])
{
	static const uint8_t zero[6];

	if (!mac || ip4_be == 0 || (mac[0] & 1) || memcmp(mac, zero, 6) == 0 ||
	    (((const uint8_t *)&ip4_be)[0] & 0xf0) == 0xe0)
		return -EINVAL;
	if (!t->arp)
		return -ENOSPC;
	struct dp_arp_entry *e = arp_find(t, ip4_be);
	if (e->ip4)
		return -EEXIST;
	if (t->n_arp >= t->cap_arp)
		return -ENOSPC;
	e->ip4 = ip4_be;
	memcpy(e->mac, mac, 6);
	t->n_arp++;
	return 0;
}

const uint8_t *dp_table_arp_lookup(const struct dp_table *t, uint32_t ip4_be)
{
	if (!t->n_arp || ip4_be == 0)
		return NULL;
	const struct dp_arp_entry *e = arp_find(t, ip4_be);
	return e->ip4 ? e->mac : NULL;
}

void dp_table_set_link(struct dp_table *t, uint16_t idx, struct dp_link *link, struct dp_sa *sa_out,
		       const struct net_endpoint *endpoint)
{
	if (idx >= t->nlinks)
		return;
	struct dp_table_link *l = &t->links[idx];
	l->link = link;
	l->sa_out = sa_out;
	if (endpoint)
		l->endpoint = *endpoint;
	else
		memset(&l->endpoint, 0, sizeof(l->endpoint));
	l->relay_chan = 0;
	memset(&l->relay, 0, sizeof(l->relay));
	l->roam = false;
	l->via = DP_LINK_NONE;
	l->stage = false;
	memset(l->node_id, 0, sizeof(l->node_id));
}

void dp_table_set_link_via(struct dp_table *t, uint16_t idx, uint16_t via)
{
	if (idx < t->nlinks)
		t->links[idx].via = via < t->nlinks ? via : DP_LINK_NONE;
}

void dp_table_set_link_stage(struct dp_table *t, uint16_t idx, bool stage)
{
	if (idx < t->nlinks)
		t->links[idx].stage = stage;
}

void dp_table_set_link_node_id(struct dp_table *t, uint16_t idx, const uint8_t id[20])
{
	if (idx < t->nlinks)
		memcpy(t->links[idx].node_id, id, sizeof(t->links[idx].node_id));
}

void dp_table_set_link_roam(struct dp_table *t, uint16_t idx, bool roam)
{
	if (idx < t->nlinks)
		t->links[idx].roam = roam;
}

void dp_table_set_link_relay(struct dp_table *t, uint16_t idx, const struct net_endpoint *relay,
			     uint16_t chan)
{
	if (idx >= t->nlinks)
		return;
	t->links[idx].relay = *relay;
	t->links[idx].relay.via = 0;
	t->links[idx].relay_chan = chan;
}

int dp_table_add_relay(struct dp_table *t, const struct net_endpoint *relay)
{
	if (dp_table_is_relay(t, relay))
		return 0;
	if (t->nrelays >= DP_MAX_RELAYS)
		return -ENOSPC;
	t->relays[t->nrelays] = *relay;
	t->relays[t->nrelays].via = 0;
	t->nrelays++;
	return 0;
}

bool dp_table_is_relay(const struct dp_table *t, const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < t->nrelays; i++)
		if (net_endpoint_equal(&t->relays[i], ep))
			return true;
	return false;
}

int dp_table_add_spi(struct dp_table *t, struct dp_sa *sa, uint16_t link)
{
	if (!sa || !(sa->spi & 0x80000000u) || link >= t->nlinks)
		return -EINVAL;
	uint32_t spi = sa->spi;
	for (uint32_t i = mix32(spi) & t->spi_mask;; i = (i + 1) & t->spi_mask) {
		struct dp_spi_entry *e = &t->spi[i];
		if (e->spi == spi)
			return -EEXIST;
		if (e->spi == 0) {
			if (t->n_spi >= t->cap_spi)
				return -ENOSPC;
			e->spi = spi;
			e->link = link;
			e->sa = sa;
			t->n_spi++;
			return 0;
		}
	}
}

const struct dp_spi_entry *dp_table_spi_lookup(const struct dp_table *t, uint32_t spi)
{
	if (unlikely(spi == 0))
		return NULL;
	for (uint32_t i = mix32(spi) & t->spi_mask;; i = (i + 1) & t->spi_mask) {
		const struct dp_spi_entry *e = &t->spi[i];
		if (e->spi == spi)
			return e;
		if (e->spi == 0)
			return NULL;
	}
}

/* Clears the bits past `bits` (counted from the start of the 16 bytes). */
static void mask_bits(uint8_t addr[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

static inline bool prefix_match(const uint8_t net[16], const uint8_t addr[16], unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(net, addr, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff00u >> rest);
	return (addr[bytes] & m) == net[bytes];
}

/* Length of the prefix counted over all 16 bytes of the stored address. */
static inline unsigned full_bits(const struct net_prefix *p)
{
	return p->family == AF_INET ? 96u + p->len : p->len;
}

static struct dp_route *host_find(const struct dp_table *t, const uint8_t addr[16], uint8_t family)
{
	for (uint32_t i = hash_addr(addr, family) & t->host_mask;; i = (i + 1) & t->host_mask) {
		struct dp_route *r = &t->host[i];
		if (r->link == DP_LINK_NONE)
			return r;
		if (r->prefix.family == family && memcmp(r->prefix.addr, addr, 16) == 0)
			return r;
	}
}

int dp_table_add_route(struct dp_table *t, const struct net_prefix *prefix, uint16_t link)
{
	if (!prefix || link >= t->nlinks)
		return -EINVAL;

	struct net_prefix p = *prefix;
	if (p.family == AF_INET) {
		if (p.len > 32 || memcmp(p.addr, v4mapped, 12) != 0)
			return -EINVAL;
	} else if (p.family == AF_INET6) {
		if (p.len > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	mask_bits(p.addr, full_bits(&p));

	bool host = (p.family == AF_INET && p.len == 32) || (p.family == AF_INET6 && p.len == 128);
	if (host) {
		struct dp_route *r = host_find(t, p.addr, p.family);
		if (r->link != DP_LINK_NONE)
			return -EEXIST;
		if (t->n_routes >= t->cap_routes)
			return -ENOSPC;
		r->prefix = p;
		r->link = link;
		t->n_routes++;
		return 0;
	}

	for (uint16_t i = 0; i < t->nnets; i++) {
		const struct net_prefix *q = &t->nets[i].prefix;
		if (q->family == p.family && q->len == p.len && memcmp(q->addr, p.addr, 16) == 0)
			return -EEXIST;
	}
	if (t->n_routes >= t->cap_routes)
		return -ENOSPC;
	t->nets[t->nnets].prefix = p;
	t->nets[t->nnets].link = link;
	t->nnets++;
	t->n_routes++;
	return 0;
}

static int route_cmp(const void *a, const void *b)
{
	const struct dp_route *x = a, *y = b;
	unsigned lx = full_bits(&x->prefix), ly = full_bits(&y->prefix);
	if (lx != ly)
		return lx > ly ? -1 : 1;
	/* Tie-break on the bytes so the order does not depend on insertion. */
	return memcmp(x->prefix.addr, y->prefix.addr, 16);
}

void dp_table_seal(struct dp_table *t)
{
	if (t->nnets > 1)
		qsort(t->nets, t->nnets, sizeof(t->nets[0]), route_cmp);
}

/* Inlined into each lookup: the callers that ignore the length pay nothing
 * for it (the hot paths). */
static inline __attribute__((always_inline)) uint16_t
route_lookup(const struct dp_table *t, const uint8_t addr[16], uint8_t family, uint8_t *plen)
{
	const struct dp_route *r = host_find(t, addr, family);
	if (r->link != DP_LINK_NONE) {
		*plen = r->prefix.len;
		return r->link;
	}
	for (uint16_t i = 0; i < t->nnets; i++) {
		const struct dp_route *n = &t->nets[i];
		if (n->prefix.family == family &&
		    prefix_match(n->prefix.addr, addr, full_bits(&n->prefix))) {
			*plen = n->prefix.len;
			return n->link;
		}
	}
	*plen = 0;
	return DP_LINK_NONE;
}

uint16_t dp_table_route4_len(const struct dp_table *t, uint32_t dst_be, uint8_t *plen)
{
	uint8_t addr[16];
	memcpy(addr, v4mapped, 12);
	memcpy(addr + 12, &dst_be, 4);
	return route_lookup(t, addr, AF_INET, plen);
}

uint16_t dp_table_route6_len(const struct dp_table *t, const uint8_t dst[16], uint8_t *plen)
{
	return route_lookup(t, dst, AF_INET6, plen);
}

uint16_t dp_table_route4(const struct dp_table *t, uint32_t dst_be)
{
	uint8_t addr[16], plen;
	memcpy(addr, v4mapped, 12);
	memcpy(addr + 12, &dst_be, 4);
	return route_lookup(t, addr, AF_INET, &plen);
}

uint16_t dp_table_route6(const struct dp_table *t, const uint8_t dst[16])
{
	uint8_t plen;
	return route_lookup(t, dst, AF_INET6, &plen);
}

static struct dp_fdb_entry *fdb_find(const struct dp_table *t, const uint8_t mac[6])
{
	for (uint32_t i = hash_mac(mac) & t->fdb_mask;; i = (i + 1) & t->fdb_mask) {
		struct dp_fdb_entry *e = &t->fdb[i];
		if (e->link == DP_LINK_NONE || memcmp(e->mac, mac, 6) == 0)
			return e;
	}
}

int dp_table_add_fdb(struct dp_table *t, const uint8_t mac[6], uint16_t link)
{
	if (!mac || link >= t->nlinks)
		return -EINVAL;
	struct dp_fdb_entry *e = fdb_find(t, mac);
	if (e->link != DP_LINK_NONE)
		return -EEXIST;
	if (t->n_fdb >= t->cap_fdb)
		return -ENOSPC;
	memcpy(e->mac, mac, 6);
	e->link = link;
	t->n_fdb++;
	return 0;
}

uint16_t dp_table_fdb_lookup(const struct dp_table *t, const uint8_t mac[6])
{
	return fdb_find(t, mac)->link;
}

uint16_t dp_table_link_index(const struct dp_table *t, uint32_t link_id)
{
	for (uint16_t i = 0; i < t->nlinks; i++)
		if (t->links[i].link && t->links[i].link->id == link_id)
			return i;
	return DP_LINK_NONE;
}
