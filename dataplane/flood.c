/* The overlay header and the ring flood plan (see flood.h). */
#include "dataplane/flood.h"

int dp_ovl_hdr_parse(const uint8_t *p, size_t len, struct dp_ovl_hdr *h)
{
	if (len < DP_OVL_HDR_LEN || p[0] != DP_OVL_VERSION || p[3] != 0 ||
	    (p[2] & ~DP_OVL_FLAG_FLOOD) != 0)
		return -1;
	h->hops = p[1];
	h->flags = p[2];
	h->origin = p + 4;
	h->end = NULL;
	if (dp_node_id_is_zero(h->origin))
		return -1;
	if (!(h->flags & DP_OVL_FLAG_FLOOD))
		return DP_OVL_HDR_LEN;
	if (len < DP_OVL_HDR_MAX)
		return -1;
	h->end = p + DP_OVL_HDR_LEN;
	return DP_OVL_HDR_MAX;
}

unsigned dp_ovl_hdr_write(uint8_t *dst, uint8_t hops, const uint8_t origin[DP_NODE_ID_LEN],
			  const uint8_t *end)
{
	dst[0] = DP_OVL_VERSION;
	dst[1] = hops;
	dst[2] = end ? DP_OVL_FLAG_FLOOD : 0;
	dst[3] = 0;
	memcpy(dst + 4, origin, DP_NODE_ID_LEN);
	if (!end)
		return DP_OVL_HDR_LEN;
	memcpy(dst + DP_OVL_HDR_LEN, end, DP_NODE_ID_LEN);
	return DP_OVL_HDR_MAX;
}

void dp_node_id_dist(const uint8_t from[DP_NODE_ID_LEN], const uint8_t to[DP_NODE_ID_LEN],
		     uint8_t out[DP_NODE_ID_LEN])
{
	int borrow = 0;

	for (int i = DP_NODE_ID_LEN - 1; i >= 0; i--) {
		int d = (int)to[i] - (int)from[i] - borrow;
		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

static void cache_build(struct dp_flood_cache *c, const struct dp_table *t)
{
	c->t = t;
	c->version = t->version;
	c->n = 0;
	for (uint16_t l = 0; l < t->nlinks && c->n < DP_FLOOD_LINKS_MAX; l++) {
		const struct dp_table_link *tl = &t->links[l];
		if (!tl->sa_out || dp_node_id_is_zero(tl->node_id) ||
		    memcmp(tl->node_id, t->p.node_id, DP_NODE_ID_LEN) == 0)
			continue;
		uint8_t d[DP_NODE_ID_LEN];
		dp_node_id_dist(t->p.node_id, tl->node_id, d);
		/* insertion sort: once per table, a few hundred links at most */
		unsigned k = c->n++;
		while (k > 0 && memcmp(c->dist[k - 1], d, DP_NODE_ID_LEN) > 0) {
			c->idx[k] = c->idx[k - 1];
			memcpy(c->dist[k], c->dist[k - 1], DP_NODE_ID_LEN);
			k--;
		}
		c->idx[k] = l;
		memcpy(c->dist[k], d, DP_NODE_ID_LEN);
	}
}

unsigned dp_flood_plan(struct dp_flood_cache *c, const struct dp_table *t, const uint8_t *end,
		       const uint16_t **links)
{
	uint8_t limit[DP_NODE_ID_LEN];
	unsigned n;

	if (c->t != t || c->version != t->version)
		cache_build(c, t);
	*links = c->idx;
	if (!end)
		return c->n;
	dp_node_id_dist(t->p.node_id, end, limit);
	if (dp_node_id_is_zero(limit)) /* end == self: the whole ring */
		return c->n;
	/* The links strictly inside (self, end) are a prefix of the order. */
	for (n = 0; n < c->n && memcmp(c->dist[n], limit, DP_NODE_ID_LEN) < 0; n++)
		;
	return n;
}
