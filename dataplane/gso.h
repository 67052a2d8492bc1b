/* The TAP's virtio-net header and the software segmenter (docs/offloads.md).
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands a TAP reader frames
 * whose TCP/UDP checksum is only partial (VIRTIO_NET_HDR_F_NEEDS_CSUM) and
 * super-frames of up to 64 KiB (TSO4/6, USO4/6) described by a 10-byte
 * virtio_net_hdr in front. ESP on the wire still carries one MTU-sized packet
 * at a time, so a super-frame is cut here into the segments the kernel's own
 * GSO would have produced: the same headers with IP total/payload length, IPv4
 * id (+1 per segment) and header checksum, TCP sequence numbers, flags (CWR on
 * the first segment only, FIN and PSH on the last only, the others as they
 * were, URG included, as tcp_gso_segment does) and UDP length rewritten per
 * segment, and every TCP/UDP checksum computed in full.
 *
 * Parsing never trusts the header: an offset or size that does not match the
 * frame makes dp_gso_parse fail, and the caller drops and counts the frame.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

/* Debian 12's kernel headers predate USO (Linux 6.2). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define DP_VNET_HDR_LEN ((unsigned)sizeof(struct virtio_net_hdr))
/* Largest frame a TAP read can return with TSO/USO: a 64 KiB IP packet, its
 * Ethernet header and two VLAN tags. */
#define DP_GSO_FRAME_MAX (65535 + 14 + 8)

/* Offsets of a TCP/UDP frame, from dp_gso_parse or dp_l4_parse. */
struct dp_l4_info {
	uint16_t l3off;	  /* IP header */
	uint16_t l4off;	  /* TCP/UDP header */
	uint16_t hdrlen;  /* all headers: payload starts here */
	uint16_t mss;	  /* segment payload size (gso_size); 0 = not a super-frame */
	uint8_t v6;	  /* IPv6 (else IPv4) */
	uint8_t proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t csum;	  /* NEEDS_CSUM: the L4 checksum must be finished */
	uint8_t csum_off; /* offset of the checksum field from l4off */
};

/* Finds IP and TCP/UDP headers of an Ethernet frame (VLAN tags skipped,
 * IPv4 not fragmented, IPv6 with hop-by-hop/destination options only).
 * 0, or -EINVAL when it is not a well-formed TCP/UDP frame. */
int dp_l4_parse(const uint8_t *frame, size_t len, struct dp_l4_info *info);

/* Checks a virtio-net header against its frame. max_seg is the largest
 * segment (headers + payload) the caller can hold. On 0, info says how to cut
 * (info->mss == 0: one packet, checksum to finish if info->csum). -EINVAL:
 * malformed (gso_size 0 or not smaller than the frame, csum_start/offset not
 * where the headers put them, type not matching the frame, unknown type or
 * flags); -EMSGSIZE: a segment would not fit max_seg. */
int dp_gso_parse(const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len, size_t max_seg,
		 struct dp_l4_info *info);

/* Number of segments frame (len bytes, parsed into info) is cut into. */
unsigned dp_gso_count(const struct dp_l4_info *info, size_t len);

/* Writes segment k (0-based, < dp_gso_count) of the super-frame to out,
 * which must hold info->hdrlen + info->mss bytes. Returns its length. */
size_t dp_gso_segment(const struct dp_l4_info *info, const uint8_t *frame, size_t len, unsigned k,
		      uint8_t *out);

/* Finishes the partial checksum of a NEEDS_CSUM frame in place. */
void dp_gso_csum_finish(const struct dp_l4_info *info, uint8_t *frame, size_t len);
