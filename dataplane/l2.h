/* Switch mode: Ethernet frames between the TAP (bridged into lxcbr0) and the
 * links. Outbound frames go to the link the FDB names for their destination
 * MAC, or are flooded to every link (broadcast, multicast, unknown unicast).
 * Inbound frames teach the control core which link a source MAC lives behind
 * (learn events); the control core folds them into the next table's FDB. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dataplane/table.h"

/* Sent worker → control core through the learn ring (16-byte ring element). */
struct dp_learn_event {
	uint8_t mac[6];
	uint16_t reserved;
	uint32_t link_id; /* stable id: the table may change before the event is read */
	/* The frame was an ARP request or reply whose sender is this MAC: its
	 * sender IPv4 (network order), for dp_table_add_arp; 0: none. */
	uint32_t ip4;
};

static inline bool dp_mac_is_multicast(const uint8_t mac[6])
{
	return mac[0] & 1; /* includes broadcast */
}

/* Does a frame whose source MAC is `src`, received from link `link`, teach us
 * something the table does not already know? */
bool dp_l2_needs_learn(const struct dp_table *t, const uint8_t src[6], uint16_t link);

/* Switch mode, frame from the host: if it is an ARP request for an IPv4
 * address the table knows (dp_table_add_arp) whose MAC the FDB puts behind a
 * link, rewrite it in place into the reply from that MAC and return true. */
bool dp_l2_arp_reply(const struct dp_table *t, struct dp_pkt *pkt);

/* The sender IPv4 (network order) of an Ethernet ARP request or reply whose
 * sender hardware address is the frame's source MAC, else 0. */
uint32_t dp_l2_arp_sender(const uint8_t *f, size_t len);
