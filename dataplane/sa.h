/* Security associations: one direction of one link's ESP traffic.
 *
 * An SA is created and destroyed by the control core and only referenced by
 * published tables, so it is freed after the RCU grace period of the table that
 * last pointed to it. Its mutable state is safe under several workers: the
 * outbound sequence counter is allocated with one atomic add per run of packets,
 * the inbound replay window is lock-free (replay.h), and counters are atomics.
 */
#pragma once
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "dataplane/replay.h"

#define DP_SA_KEY_LEN    32
#define DP_SA_SALT_LEN   4
#define DP_SA_KEYMAT_LEN (DP_SA_KEY_LEN + DP_SA_SALT_LEN) /* RFC 4106 key || salt, tshark's form */
#define DP_SA_SEQ_LIMIT  0xffffffffull                    /* last usable sequence number (no ESN) */

struct dp_sa {
	struct gcm_key_data key; /* precomputed AES-256 schedule and GHASH tables (64-B aligned) */
	uint32_t spi;            /* host byte order, top bit set */
	uint8_t salt[DP_SA_SALT_LEN];
	uint32_t link_id;        /* stable id of the link this SA belongs to */
	_Atomic uint64_t seq;    /* outbound: last sequence number handed out */
	/* outbound: highest number that may be used. DP_SA_SEQ_LIMIT, or lower
	 * while the control core's durable reservation covers less (manual keys:
	 * the sequence number is the GCM nonce and must never repeat across a
	 * restart). Read once per run of packets. */
	_Atomic uint64_t seq_limit;
	struct dp_replay replay; /* inbound */
	_Atomic uint64_t packets, bytes; /* packets and inner bytes protected / verified */
	_Atomic uint64_t auth_fail, replays;
} __attribute__((aligned(64)));

/* keymat = 32-byte AES key followed by the 4-byte salt. mgr is used only to
 * expand the key. Returns NULL with errno set (EINVAL: SPI without top bit). */
struct dp_sa *dp_sa_create(IMB_MGR *mgr, uint32_t spi, const uint8_t keymat[DP_SA_KEYMAT_LEN],
			   uint32_t link_id);
/* Wipes the key material (explicit_bzero) and frees. NULL is ignored. */
void dp_sa_destroy(struct dp_sa *sa);

/* An ipsec-mb manager for the calling thread's architecture (AVX-512 on these
 * machines). NULL with errno on failure. */
IMB_MGR *dp_crypto_mgr_create(void);
void dp_crypto_mgr_destroy(IMB_MGR *mgr);
