/* Switch mode: deciding when a received frame teaches the control core where
 * a MAC lives (see l2.h). The FDB itself is built by the control core. */
#include "dataplane/l2.h"

#include "dataplane/wire.h"

#define ETH_HLEN      14
#define ARP_LEN	      28
#define ETHERTYPE_ARP 0x0806

bool dp_l2_needs_learn(const struct dp_table *t, const uint8_t src[6], uint16_t link)
{
	static const uint8_t zero[6];

	/* Group addresses never appear as a source on a well-formed frame, and an
	 * all-zero MAC would poison the FDB: neither is ever learned. */
	if (dp_mac_is_multicast(src) || memcmp(src, zero, 6) == 0)
		return false;
	if (link >= t->nlinks)
		return false;
	return dp_table_fdb_lookup(t, src) != link;
}

/* An Ethernet/IPv4 ARP packet of op `op` in f, or NULL. */
static uint8_t *arp_of(uint8_t *f, size_t len, uint16_t op)
{
	if (len < ETH_HLEN + ARP_LEN || dp_be16_get(f + 12) != ETHERTYPE_ARP)
		return NULL;
	uint8_t *a = f + ETH_HLEN;
	if (dp_be16_get(a) != 1 || dp_be16_get(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 ||
	    (op && dp_be16_get(a + 6) != op))
		return NULL;
	return a;
}

uint32_t dp_l2_arp_sender(const uint8_t *f, size_t len)
{
	const uint8_t *a = arp_of((uint8_t *)f, len, 0);
	uint32_t spa;

	if (!a || (dp_be16_get(a + 6) != 1 && dp_be16_get(a + 6) != 2) ||
	    memcmp(a + 8, f + 6, 6) != 0)
		return 0;
	memcpy(&spa, a + 14, 4);
	return spa;
}

bool dp_l2_arp_reply(const struct dp_table *t, struct dp_pkt *pkt)
{
	uint8_t *f = pkt->data;
	uint8_t *a = arp_of(f, pkt->len, 1);
	uint32_t tpa;

	/* Only requests from a unicast sender that is the frame's source. */
	if (!a || (a[8] & 1) || memcmp(a + 8, f + 6, 6) != 0)
		return false;
	memcpy(&tpa, a + 24, 4);
	const uint8_t *mac = dp_table_arp_lookup(t, tpa);
	if (!mac || dp_table_fdb_lookup(t, mac) >= t->nlinks)
		return false;

	uint8_t sha[6], spa[4], tha[6];
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	memcpy(tha, mac, 6);
	memcpy(f, sha, 6); /* back to whoever asked, from the host that has it */
	memcpy(f + 6, tha, 6);
	dp_be16_put(a + 6, 2);
	memcpy(a + 8, tha, 6);
	memcpy(a + 14, &tpa, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	pkt->len = ETH_HLEN + ARP_LEN;
	return true;
}
