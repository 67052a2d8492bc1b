/* Userspace GRO (see gro.h). */
#include "dataplane/gro.h"

#include <string.h>
#include <netinet/in.h>

#include "dataplane/csum.h"
#include "dataplane/wire.h"

static unsigned add_unit(struct dp_gro *g, unsigned head, uint8_t vh_flags)
{
	struct dp_gro_unit *u = &g->units[g->nunits];
	memset(u, 0, sizeof(*u));
	u->vh.flags = vh_flags;
	u->head = (uint16_t)head;
	u->count = 1;
	g->next[head] = UINT16_MAX;
	return g->nunits++;
}

/* Same flow: Ethernet header, IP addresses, ports. Both parsed TCP frames. */
static bool same_flow(const uint8_t *a, const struct dp_l4_info *ia, const uint8_t *b,
		      const struct dp_l4_info *ib)
{
	if (ia->v6 != ib->v6 || ia->proto != ib->proto || ia->l3off != ib->l3off ||
	    ia->l4off != ib->l4off)
		return false;
	if (memcmp(a, b, ia->l3off) != 0 || memcmp(a + ia->l4off, b + ib->l4off, 4) != 0)
		return false;
	if (ia->v6)
		return memcmp(a + ia->l3off + 8, b + ib->l3off + 8, 32) == 0;
	return memcmp(a + ia->l3off + 12, b + ib->l3off + 12, 8) == 0;
}

/* The IP fields a merge must not change: all but lengths, ids and
 * checksums (IPv4: version/ihl, tos, DF, ttl and the options byte for byte;
 * IPv6: version, traffic class, flow label and hop limit). */
static bool same_ip(const uint8_t *h, const uint8_t *p, const struct dp_l4_info *i)
{
	const uint8_t *hip = h + i->l3off, *pip = p + i->l3off;

	if (i->v6)
		return memcmp(hip, pip, 4) == 0 && hip[7] == pip[7];
	return hip[0] == pip[0] && hip[1] == pip[1] && (hip[6] & 0x40) == (pip[6] & 0x40) &&
	       hip[8] == pip[8] && memcmp(hip + 20, pip + 20, i->l4off - i->l3off - 20) == 0;
}

/* Everything but lengths, ids, checksums, sequence and FIN/PSH/CWR matches
 * the run's head (tcp_gro_receive's flush conditions). */
static bool same_headers(const uint8_t *h, const uint8_t *p, const struct dp_l4_info *i)
{
	const uint8_t *ht = h + i->l4off, *pt = p + i->l4off;

	if (!same_ip(h, p, i))
		return false;
	if (memcmp(ht + 8, pt + 8, 4) != 0) /* ack */
		return false;
	if (ht[12] != pt[12] ||
	    ((ht[13] ^ pt[13]) & (uint8_t) ~(DP_TCP_CWR | DP_TCP_FIN | DP_TCP_PSH)))
		return false;
	return memcmp(ht + 20, pt + 20, i->hdrlen - i->l4off - 20) == 0;
}

/* Rewrites the head of a run of several packets into a super-frame header. */
static void close_run(struct dp_gro *g, struct dp_pkt *const *pkts, unsigned r)
{
	struct dp_gro_run *run = &g->runs[r];
	struct dp_gro_unit *u = &g->units[run->unit];

	if (u->count > 1) {
		const struct dp_l4_info *i = &run->info;
		uint8_t *f = pkts[u->head]->data;
		uint8_t *ip = f + i->l3off, *th = f + i->l4off;
		uint32_t l4len = (uint32_t)(i->hdrlen - i->l4off) + run->bytes;

		if (i->v6) {
			dp_be16_put(ip + 4, (uint16_t)(i->l4off - i->l3off - 40 + l4len));
		} else {
			dp_be16_put(ip + 2, (uint16_t)(i->l4off - i->l3off + l4len));
			ip[10] = ip[11] = 0;
			uint16_t c = dp_csum_finish(dp_csum_add(0, ip, i->l4off - i->l3off));
			memcpy(ip + 10, &c, 2);
		}
		uint16_t c = dp_csum_fold(dp_csum_pseudo(ip, i->v6, i->proto, l4len));
		if (i->proto == IPPROTO_TCP) {
			th[13] |= run->flags;
			memcpy(th + 16, &c, 2);
			u->vh.gso_type =
			    i->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		} else {
			dp_be16_put(th + 4, (uint16_t)l4len);
			memcpy(th + 6, &c, 2);
			u->vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		}
		u->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		u->vh.gso_size = i->mss;
		u->vh.hdr_len = i->hdrlen;
		u->vh.csum_start = i->l4off;
		u->vh.csum_offset = i->csum_off;
		u->hdrlen = i->hdrlen;
	}
	g->runs[r] = g->runs[--g->nruns];
}

/* Starts a run at packet k (unit `unit`); the oldest run closes if all are
 * taken. next is the TCP sequence (UDP: IPv4 id) the next packet must have. */
static void open_run(struct dp_gro *g, struct dp_pkt *const *pkts, unsigned unit, unsigned k,
		     const struct dp_l4_info *info, uint32_t next, uint32_t payload)
{
	if (g->nruns == DP_GRO_FLOWS_MAX) { /* close the oldest */
		unsigned old = 0;
		for (unsigned i = 1; i < g->nruns; i++)
			if (g->runs[i].age < g->runs[old].age)
				old = i;
		close_run(g, pkts, old);
	}
	struct dp_gro_run *run = &g->runs[g->nruns++];
	run->unit = (uint16_t)unit;
	run->last = (uint16_t)k;
	run->next_seq = next;
	run->bytes = payload;
	run->flags = 0;
	run->age = k;
	run->info = *info;
	run->info.mss = (uint16_t)payload;
}

static unsigned find_run(const struct dp_gro *g, struct dp_pkt *const *pkts, const uint8_t *f,
			 const struct dp_l4_info *info)
{
	unsigned r = 0;
	while (r < g->nruns &&
	       !same_flow(pkts[g->units[g->runs[r].unit].head]->data, &g->runs[r].info, f, info))
		r++;
	return r;
}

/* UDP datagrams of one flow merge into a UDP_L4 (USO) super-frame the way
 * the kernel's USO would cut it back: equal payloads, a shorter one only
 * last, the same IP fields, and IPv4 ids counting up by one from the head.
 * An empty datagram is never merged. */
static void gro_udp(struct dp_gro *g, struct dp_pkt *const *pkts, unsigned k,
		    const struct dp_l4_info *info)
{
	const uint8_t *f = pkts[k]->data;
	uint32_t payload = (uint32_t)(pkts[k]->len - info->hdrlen);
	uint32_t id = info->v6 ? 0 : dp_be16_get(f + info->l3off + 4);
	unsigned r = find_run(g, pkts, f, info);

	if (r < g->nruns) {
		struct dp_gro_run *run = &g->runs[r];
		struct dp_gro_unit *u = &g->units[run->unit];
		if (payload > 0 && payload <= run->info.mss && info->hdrlen == run->info.hdrlen &&
		    (info->v6 || id == (run->next_seq & 0xffff)) && u->count < DP_GRO_SEGS_MAX &&
		    (size_t)(info->hdrlen - info->l3off) + run->bytes + payload <= 65535 &&
		    same_ip(pkts[u->head]->data, f, info)) {
			g->next[run->last] = (uint16_t)k;
			g->next[k] = UINT16_MAX;
			run->last = (uint16_t)k;
			run->bytes += payload;
			run->next_seq++;
			u->count++;
			if (payload < run->info.mss)
				close_run(g, pkts, r);
			return;
		}
		close_run(g, pkts, r);
	}
	unsigned unit = add_unit(g, k, VIRTIO_NET_HDR_F_DATA_VALID);
	if (payload > 0)
		open_run(g, pkts, unit, k, info, id + 1, payload);
}

void dp_gro_build(struct dp_gro *g, struct dp_pkt *const *pkts, unsigned n)
{
	g->nunits = 0;
	g->nruns = 0;

	for (unsigned k = 0; k < n; k++) {
		const uint8_t *f = pkts[k]->data;
		size_t len = pkts[k]->len;
		struct dp_l4_info info;

		if (dp_l4_parse(f, len, &info) < 0) {
			add_unit(g, k, 0);
			continue;
		}
		size_t iplen = info.v6 ? 40u + dp_be16_get(f + info.l3off + 4)
				       : (size_t)dp_be16_get(f + info.l3off + 2);
		/* Ethernet padding or a length that lies: never merge those. */
		bool exact = info.l3off + iplen == len;
		if (exact && info.proto == IPPROTO_UDP && g->udp) {
			gro_udp(g, pkts, k, &info);
			continue;
		}
		if (info.proto != IPPROTO_TCP || !exact) {
			add_unit(g, k, exact ? VIRTIO_NET_HDR_F_DATA_VALID : 0);
			continue;
		}
		const uint8_t *th = f + info.l4off;
		uint8_t flags = th[13];
		uint32_t payload = (uint32_t)(len - info.hdrlen);
		uint32_t seq = dp_be32_get(th + 4);

		unsigned r = find_run(g, pkts, f, &info);
		bool mergeable = payload > 0 && !(flags & (DP_TCP_SYN | DP_TCP_RST | DP_TCP_URG));
		if (r < g->nruns) {
			struct dp_gro_run *run = &g->runs[r];
			struct dp_gro_unit *u = &g->units[run->unit];
			const uint8_t *h = pkts[u->head]->data;
			if (mergeable && !(flags & DP_TCP_CWR) && seq == run->next_seq &&
			    payload <= run->info.mss && info.hdrlen == run->info.hdrlen &&
			    u->count < DP_GRO_SEGS_MAX &&
			    (size_t)(info.hdrlen - info.l3off) + run->bytes + payload <= 65535 &&
			    same_headers(h, f, &info)) {
				g->next[run->last] = (uint16_t)k;
				g->next[k] = UINT16_MAX;
				run->last = (uint16_t)k;
				run->bytes += payload;
				run->next_seq += payload;
				run->flags |= flags & (DP_TCP_FIN | DP_TCP_PSH);
				u->count++;
				if (payload < run->info.mss || (flags & (DP_TCP_FIN | DP_TCP_PSH)))
					close_run(g, pkts, r);
				continue;
			}
			close_run(g, pkts, r);
		}
		unsigned unit = add_unit(g, k, VIRTIO_NET_HDR_F_DATA_VALID);
		if (!mergeable || (flags & (DP_TCP_FIN | DP_TCP_PSH)))
			continue;
		open_run(g, pkts, unit, k, &info, seq + payload, payload);
	}
	while (g->nruns)
		close_run(g, pkts, g->nruns - 1);
}
