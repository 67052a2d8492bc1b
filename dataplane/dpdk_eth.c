/* The `dpdk` backend's underlay frames: Ethernet/IPv4/UDP in and out, ARP
 * for our underlay address (answered) and for next hops (resolved), ICMP
 * echo to our address, and the MAC table of the host ports' own switch.
 *
 * The kernel never sees the underlay port, so nothing else answers ARP for
 * our address or resolves a peer's MAC. Both tables are shared by the
 * workers and written with atomics: an entry is claimed by a CAS on its key
 * and never freed (a next hop or a VM's MAC that moves is overwritten).
 * IPv4 only; the header checksum is computed here (no offload assumed) and
 * the outer UDP checksum is 0, which IPv4 allows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "dataplane/dpdk.h"

#define RESOLVED (1ull << 63)
#define HDR_LEN	 DP_DPDK_HDR_LEN
_Static_assert(DP_DPDK_HDR_LEN ==
		   RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr),
	       "outer header length");
#define OUT_TTL	     64
#define ASK_EVERY_HZ 10 /* ARP requests per next hop per second at most */

#define COUNT(s, f) __atomic_store_n(&(s)->f, (s)->f + 1, __ATOMIC_RELAXED)

static inline uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ (x >> 16);
}

static uint64_t mac_to_u64(const uint8_t m[6])
{
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static void u64_to_mac(uint64_t v, uint8_t m[6])
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		m[i] = (uint8_t)v;
}

/* The slot of ip, claimed if absent (create), or NULL. */
static struct dp_dpdk_neigh *neigh_slot(struct dp_dpdk *d, uint32_t ip, bool create)
{
	uint32_t h = hash32(ip);
	for (unsigned i = 0; i < DP_DPDK_NEIGH_MAX; i++) {
		struct dp_dpdk_neigh *e = &d->neigh[(h + i) % DP_DPDK_NEIGH_MAX];
		uint32_t cur = atomic_load_explicit(&e->ip, memory_order_acquire);
		if (cur == ip)
			return e;
		if (cur != 0)
			continue;
		if (!create)
			return NULL;
		uint32_t zero = 0;
		if (atomic_compare_exchange_strong(&e->ip, &zero, ip) || zero == ip)
			return e;
	}
	return NULL;
}

static void neigh_learn(struct dp_dpdk *d, uint32_t ip, const uint8_t mac[6])
{
	struct dp_dpdk_neigh *e = neigh_slot(d, ip, true);
	uint64_t v = RESOLVED | mac_to_u64(mac);
	if (e && atomic_load_explicit(&e->mac, memory_order_relaxed) != v)
		atomic_store_explicit(&e->mac, v, memory_order_release);
}

static bool on_link(const struct dp_dpdk *d, uint32_t ip)
{
	return ((ip ^ d->ip4) & d->mask) == 0;
}

unsigned dp_dpdk_arp_request_build(const struct dp_dpdk *d, uint8_t *buf, uint32_t tip)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	memcpy(&eth->src_addr, d->net.mac, RTE_ETHER_ADDR_LEN);
	eth->ether_type = htons(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = htons(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = htons(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = htons(RTE_ARP_OP_REQUEST);
	memcpy(&arp->arp_data.arp_sha, d->net.mac, RTE_ETHER_ADDR_LEN);
	arp->arp_data.arp_sip = d->ip4;
	memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
	arp->arp_data.arp_tip = tip;
	return (unsigned)(sizeof(*eth) + sizeof(*arp));
}

static struct rte_mbuf *arp_request(struct dp_dpdk *d, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->mp);
	if (!m)
		return NULL;
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, sizeof(struct rte_ether_hdr) +
							    sizeof(struct rte_arp_hdr));
	if (!buf) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	dp_dpdk_arp_request_build(d, buf, tip);
	return m;
}

/* ARP: learn the sender when the request is for us or we know it already,
 * answer requests for our address in place. Returns true when m became a
 * reply (queued by the caller), false when the caller frees it. */
static bool arp_input(struct dp_dpdk *d, struct dp_dpdk_stats *s, uint8_t *f, unsigned avail)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	if (avail < sizeof(*eth) + sizeof(struct rte_arp_hdr))
		return false;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	if (arp->arp_hardware != htons(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != htons(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
	    arp->arp_plen != 4)
		return false;
	uint32_t sip = arp->arp_data.arp_sip, tip = arp->arp_data.arp_tip;
	bool for_us = tip == d->ip4;
	if (sip && on_link(d, sip) && (for_us || neigh_slot(d, sip, false)))
		neigh_learn(d, sip, arp->arp_data.arp_sha.addr_bytes);
	if (arp->arp_opcode == htons(RTE_ARP_OP_REPLY)) {
		if (for_us)
			COUNT(s, arp_replies_in);
		return false;
	}
	if (arp->arp_opcode != htons(RTE_ARP_OP_REQUEST) || !for_us)
		return false;
	COUNT(s, arp_requests_in);
	arp->arp_opcode = htons(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = sip;
	memcpy(&arp->arp_data.arp_sha, d->net.mac, 6);
	arp->arp_data.arp_sip = d->ip4;
	eth->dst_addr = arp->arp_data.arp_tha;
	memcpy(&eth->src_addr, d->net.mac, 6);
	COUNT(s, arp_replies_out);
	return true;
}

/* Echo request to our address: answered in place. */
static bool icmp_input(struct dp_dpdk_stats *s, uint8_t *f, struct rte_ipv4_hdr *ip, unsigned ihl,
		       unsigned tot)
{
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
	if (tot < ihl + sizeof(*icmp) || icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    icmp->icmp_code != 0)
		return false;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ether_addr a = eth->src_addr;
	eth->src_addr = eth->dst_addr;
	eth->dst_addr = a;
	uint32_t src = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = src;
	ip->time_to_live = OUT_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	/* Type 8 → 0: the one's complement sum changes by 0x0800. */
	uint32_t sum = (uint32_t)(uint16_t)~ntohs(icmp->icmp_cksum) + 0xf7ffu;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	icmp->icmp_cksum = htons((uint16_t)~sum);
	COUNT(s, icmp_echo);
	return true;
}

enum dp_dpdk_verdict dp_dpdk_frame_input(struct dp_dpdk *d, struct dp_dpdk_stats *s, uint8_t *f,
					 unsigned avail, struct dp_dpdk_frame *out)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;

	if (avail < RTE_ETHER_HDR_LEN)
		goto not_ours;
	if (eth->ether_type == htons(RTE_ETHER_TYPE_ARP)) {
		if (!arp_input(d, s, f, avail))
			return DP_DPDK_FRAME_DROP;
		out->len = RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr);
		return DP_DPDK_FRAME_REPLY;
	}
	if (eth->ether_type != htons(RTE_ETHER_TYPE_IPV4) ||
	    memcmp(&eth->dst_addr, d->net.mac, 6) != 0 || avail < RTE_ETHER_HDR_LEN + 20)
		goto not_ours;

	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	unsigned ihl = (ip->version_ihl & 0xf) * 4u, tot = ntohs(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < 20 || tot < ihl ||
	    tot > avail - RTE_ETHER_HDR_LEN || ip->dst_addr != d->ip4)
		goto not_ours;
	if (ip->fragment_offset & htons(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		COUNT(s, fragments);
		return DP_DPDK_FRAME_DROP;
	}
	if (ip->next_proto_id == IPPROTO_ICMP) {
		if (!icmp_input(s, f, ip, ihl, tot))
			goto not_ours;
		out->len = RTE_ETHER_HDR_LEN + tot;
		return DP_DPDK_FRAME_REPLY;
	}
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
	if (ip->next_proto_id != IPPROTO_UDP || tot < ihl + sizeof(*udp) ||
	    udp->dst_port != htons(d->udp_port))
		goto not_ours;
	unsigned ulen = ntohs(udp->dgram_len);
	if (ulen < sizeof(*udp) || ulen > tot - ihl)
		goto not_ours;
	out->len = (uint16_t)(ulen - sizeof(*udp));
	out->off = (uint16_t)(RTE_ETHER_HDR_LEN + ihl + sizeof(*udp));
	memset(&out->from, 0, sizeof(out->from));
	out->from.family = AF_INET;
	out->from.addr[10] = out->from.addr[11] = 0xff;
	memcpy(out->from.addr + 12, &ip->src_addr, 4);
	out->from.port = ntohs(udp->src_port);
	return DP_DPDK_FRAME_DATA;

not_ours:
	COUNT(s, not_ours);
	return DP_DPDK_FRAME_DROP;
}

unsigned dp_dpdk_eth_input(struct dp_dpdk *d, struct dp_dpdk_stats *s, struct rte_mbuf *m,
			   uint16_t *len, struct net_endpoint *from, struct rte_mbuf **reply,
			   unsigned *nreply)
{
	struct dp_dpdk_frame fr;
	switch (dp_dpdk_frame_input(d, s, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &fr)) {
	case DP_DPDK_FRAME_DATA:
		*len = fr.len;
		*from = fr.from;
		return fr.off;
	case DP_DPDK_FRAME_REPLY:
		m->data_len = fr.len;
		m->pkt_len = fr.len;
		reply[(*nreply)++] = m;
		return 0;
	default:
		rte_pktmbuf_free(m);
		return 0;
	}
}

int dp_dpdk_next_hop(struct dp_dpdk *d, struct dp_dpdk_stats *s, const struct net_endpoint *to,
		     uint8_t mac[6], uint32_t *ask)
{
	uint32_t dst, nh;
	*ask = 0;
	if (to->family != AF_INET)
		return -EAFNOSUPPORT;
	memcpy(&dst, to->addr + 12, 4);
	nh = on_link(d, dst) ? dst : d->gateway;
	if (!nh)
		return -ENETUNREACH;
	struct dp_dpdk_neigh *e = neigh_slot(d, nh, true);
	if (!e)
		return -ENOSPC;
	uint64_t v = atomic_load_explicit(&e->mac, memory_order_acquire);
	if (likely(v & RESOLVED)) {
		u64_to_mac(v, mac);
		return 0;
	}
	uint64_t now = rte_get_tsc_cycles(), last = atomic_load(&e->asked_tsc);
	COUNT(s, neigh_miss);
	if ((last == 0 || now - last > d->tsc_hz / ASK_EVERY_HZ) &&
	    atomic_compare_exchange_strong(&e->asked_tsc, &last, now))
		*ask = nh;
	return -EAGAIN;
}

uint8_t *dp_dpdk_frame_encap(const struct dp_dpdk *d, uint8_t *data, uint16_t len,
			     const struct net_endpoint *to, const uint8_t mac[6], uint16_t ip_id)
{
	uint8_t *f = data - HDR_LEN;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	memcpy(&eth->dst_addr, mac, 6);
	memcpy(&eth->src_addr, d->net.mac, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = htons((uint16_t)(len + sizeof(*ip) + sizeof(*udp)));
	ip->packet_id = htons(ip_id);
	ip->fragment_offset = 0;
	ip->time_to_live = OUT_TTL;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = d->ip4;
	memcpy(&ip->dst_addr, to->addr + 12, 4);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = htons(d->udp_port);
	udp->dst_port = htons(to->port);
	udp->dgram_len = htons((uint16_t)(len + sizeof(*udp)));
	udp->dgram_cksum = 0;
	return f;
}

uint8_t *dp_dpdk_eth_output(struct dp_dpdk *d, struct dp_dpdk_stats *s, uint8_t *data, uint16_t len,
			    const struct net_endpoint *to, uint16_t *ip_id, struct rte_mbuf **reply,
			    unsigned *nreply)
{
	uint8_t mac[6];
	uint32_t ask;
	if (unlikely(dp_dpdk_next_hop(d, s, to, mac, &ask) < 0)) {
		struct rte_mbuf *req = ask ? arp_request(d, ask) : NULL;
		if (req) {
			reply[(*nreply)++] = req;
			COUNT(s, arp_requests_out);
		}
		return NULL;
	}
	return dp_dpdk_frame_encap(d, data, len, to, mac, (*ip_id)++);
}

void dp_dpdk_lfdb_learn(struct dp_dpdk *d, const uint8_t mac[6], unsigned port)
{
	if (mac[0] & 1)
		return;
	uint64_t key = RESOLVED | mac_to_u64(mac);
	uint32_t h = hash32((uint32_t)key ^ (uint32_t)(key >> 32));
	for (unsigned i = 0; i < 8; i++) {
		struct dp_dpdk_lfdb *e = &d->lfdb[(h + i) % DP_DPDK_LFDB_MAX];
		uint64_t cur = atomic_load_explicit(&e->key, memory_order_acquire);
		if (cur == 0) {
			uint64_t zero = 0;
			if (!atomic_compare_exchange_strong(&e->key, &zero, key) && zero != key)
				continue;
			cur = key;
		}
		if (cur != key)
			continue;
		if (atomic_load_explicit(&e->port, memory_order_relaxed) != port)
			atomic_store_explicit(&e->port, (uint8_t)port, memory_order_relaxed);
		return;
	}
	/* A full neighbourhood: the MAC stays unknown and its frames flood. */
}

int dp_dpdk_lfdb_lookup(const struct dp_dpdk *d, const uint8_t mac[6])
{
	if (mac[0] & 1)
		return -1;
	uint64_t key = RESOLVED | mac_to_u64(mac);
	uint32_t h = hash32((uint32_t)key ^ (uint32_t)(key >> 32));
	for (unsigned i = 0; i < 8; i++) {
		const struct dp_dpdk_lfdb *e = &d->lfdb[(h + i) % DP_DPDK_LFDB_MAX];
		uint64_t cur = atomic_load_explicit(&e->key, memory_order_acquire);
		if (cur == key)
			return atomic_load_explicit(&e->port, memory_order_relaxed);
		if (cur == 0)
			return -1;
	}
	return -1;
}
