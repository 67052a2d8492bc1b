/* ESP (RFC 4303) with AES-256-GCM (RFC 4106) inside UDP (RFC 3948): the
 * packet as it goes into the UDP payload is
 *
 *   SPI(4) | seq(4) | IV(8) | ciphertext(inner | pad | pad_len | next_hdr) | ICV(16)
 *
 * IV = 64-bit big-endian per-SA counter (equal to the sequence number), nonce =
 * salt || IV, AAD = SPI || seq (no ESN), pad to a 4-byte boundary with the
 * monotonic 1,2,3 pattern, no TFC padding. Both directions work in place on
 * bursts, grouping runs of packets by SA and handing the crypto to ipsec-mb's
 * burst API.
 */
#pragma once
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "dataplane/pkt.h"

#define DP_ESP_HDR_LEN  8
#define DP_ESP_IV_LEN   8
#define DP_ESP_ICV_LEN  16
#define DP_ESP_TRL_LEN  2 /* pad length + next header */
#define DP_ESP_MIN_LEN  (DP_ESP_HDR_LEN + DP_ESP_IV_LEN + DP_ESP_TRL_LEN + DP_ESP_ICV_LEN)
/* Largest growth of a packet: header, IV, up to 3 pad bytes, trailer, ICV. */
#define DP_ESP_OVERHEAD_MAX (DP_ESP_HDR_LEN + DP_ESP_IV_LEN + 3 + DP_ESP_TRL_LEN + DP_ESP_ICV_LEN)

#define DP_ESP_NH_IPV4     4
#define DP_ESP_NH_IPV6     41
#define DP_ESP_NH_ETHERNET 143

static inline uint32_t dp_esp_spi(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t dp_esp_seq(const uint8_t *p)
{
	return dp_esp_spi(p + 4);
}

/* In: pkts[i]->sa, ->next_hdr set; data/len = the inner packet. Out: data/len
 * = the ESP packet. Failures set pkts[i]->drop (SEQ_EXHAUSTED, TOO_BIG when the
 * buffer lacks head/tailroom) and leave the packet otherwise untouched. Adds
 * to the SA's packet/byte counters. */
void dp_esp_encrypt_burst(IMB_MGR *mgr, struct dp_pkt **pkts, unsigned n);

/* In: pkts[i]->sa set (looked up by SPI); data/len = the ESP packet from the
 * SPI on. Out: data/len = inner packet, next_hdr set, replay window updated.
 * Failures set ->drop (SHORT, REPLAY, AUTH, BAD_TRAILER) and count on the SA. */
void dp_esp_decrypt_burst(IMB_MGR *mgr, struct dp_pkt **pkts, unsigned n);
