/* What the three parts of the link manager share (not for other modules):
 * linkmgr.c (link lifetime: sessions, SPIs, endpoints, attach/retire,
 * setup), lm_handshake.c (initiator and responder) and lm_timers.c
 * (keepalives, probes of direct pairs, the per-link tick). All run on the
 * control core; see linkmgr.h for the rules they implement. */
#pragma once
#include "control/link/linkmgr.h"

#define LM_SPI_TOP_BIT 0x80000000u

/* linkmgr.c */
uint64_t lm_jitter(uint64_t ms, unsigned pct); /* ms ± pct % */
bool lm_session_live(const struct lm_session *s);
struct lm_link *lm_find_by_pub(struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN]);
struct lm_link *lm_find_by_pending(struct ctl_linkmgr *lm, uint32_t spi);
bool lm_key_allowed(const struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN]);
/* The side with the lower static key wins simultaneous initiations. */
bool lm_we_are_lower(const struct ctl_linkmgr *lm, const struct lm_link *lk);
/* A fresh inbound SPI: random, top bit set, unique among ours. */
uint32_t lm_new_spi(const struct ctl_linkmgr *lm);
/* Takes the session's SAs off the link; they are freed once a table
 * without them is out (ctl_linkmgr_published). */
void lm_bury(struct ctl_linkmgr *lm, struct lm_session *s);
/* Split → one ESP keymat per direction → the two SAs. Wipes hs. */
int lm_session_make(struct ctl_linkmgr *lm, struct lm_link *lk, struct noise_hs *hs,
		    uint32_t spi_in, uint32_t spi_out, uint64_t now, struct lm_session *s);
/* s becomes the current session (the current one the previous). */
/* rekey_at_ms from the current keys' birth and the configured interval. */
void lm_schedule_rekey(struct ctl_linkmgr *lm, struct lm_link *lk);
void lm_switch_in(struct ctl_linkmgr *lm, struct lm_link *lk, struct lm_session *s, uint64_t now);
int lm_cand_index(const struct lm_link *lk, const struct net_endpoint *ep);
bool lm_ep_relayed(const struct lm_link *lk, const struct net_endpoint *ep);
bool lm_cand_direct(const struct lm_cand *c);
bool lm_wants_probe(const struct lm_link *lk);
void lm_note_choice(struct lm_link *lk, const struct net_endpoint *from, const char *how);
void lm_update_endpoint(struct ctl_linkmgr *lm, struct lm_link *lk, const struct net_endpoint *from,
			const char *how);
void lm_send(struct ctl_linkmgr *lm, const struct net_endpoint *to, const void *buf, size_t len);
/* Publishes the current state now; on failure the tick retries (dirty). */
int lm_publish_now(struct ctl_linkmgr *lm);

/* lm_handshake.c */
/* A fresh initiation to lk (see the definition for backoff/rekey/probe). */
void lm_initiate(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool backoff, bool rekey,
		 bool probe);
void lm_handshake_count(struct ctl_linkmgr *lm, struct lm_link *lk, bool rekey, uint64_t now);
void lm_pending_abandon(struct lm_pending *pd);
/* A round-trip sample (ms) of lk: the last one and the smoothed value. */
void lm_rtt_sample(struct lm_link *lk, uint64_t rtt);

/* lm_timers.c */
void lm_keepalive_send(struct ctl_linkmgr *lm, struct lm_link *lk);
/* A pending probe is over without an answer (timeout: its tries ran out). */
void lm_probe_end(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool timeout);

/* lm_cert.c (trust by certificate) */
int lm_cert_init(struct ctl_linkmgr *lm);
void lm_cert_fini(struct ctl_linkmgr *lm);
void lm_cert_link_free(struct lm_link *lk);
/* Our handshakes carry our certificate (trust "cert" or "both"). */
static inline bool lm_cert_on(const struct ctl_linkmgr *lm)
{
	return lm->trust != IPOP_TRUST_XMPP && lm->own.chain.n;
}
/* Our chain in the wire form after a fixed payload of pre bytes; returns
 * pre + the chain's length (0 when it does not fit in cap). */
size_t lm_cert_payload_put(const struct ctl_linkmgr *lm, uint8_t *out, size_t pre, size_t cap);
/* Decodes and verifies a peer's certificate payload for the key pub the
 * handshake proved (NULL: a fetched one, key not known yet), and that it
 * covers the addresses of lk's peer (lk NULL: none known yet). Counts and
 * logs a refusal; CERT_OK fills ci. */
enum cert_verdict lm_cert_check(struct ctl_linkmgr *lm, const struct lm_link *lk,
				const uint8_t *payload, size_t len, const uint8_t *pub,
				const struct net_endpoint *from, struct cert_info *ci);
/* Counts and logs a refusal (reason v) of a certificate from `from`. */
void lm_cert_refuse(struct ctl_linkmgr *lm, const struct lm_link *lk, enum cert_verdict v,
		    const struct net_endpoint *from, const struct cert_info *ci);
/* Whether a verified certificate covers the addresses lk's peer uses. */
bool lm_cert_covers(const struct ctl_linkmgr *lm, const struct lm_link *lk,
		    const struct cert_info *ci);
/* A verified certificate is lk's from now on (kept for SIGHUP re-checks). */
void lm_cert_accept(struct ctl_linkmgr *lm, struct lm_link *lk, const uint8_t *payload, size_t len,
		    const struct cert_info *ci);
/* Trust "cert": the configured-without-key link (not up) an initiation
 * from an unknown key with a valid certificate belongs to: the one at its
 * source endpoint or with its overlay address. Learns the key. */
struct lm_link *lm_cert_bind(struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN],
			     const struct cert_info *ci, const struct net_endpoint *from);
/* A link whose key is unknown: sends a certificate request when due. */
void lm_cert_fetch(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now);
void lm_cert_on_request(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			const struct net_endpoint *from, uint64_t now);
void lm_cert_on_reply(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
		      const struct hs_header *h, const struct net_endpoint *from, uint64_t now);
/* The link loses its sessions (certificate revoked/expired, key changed). */
void lm_link_drop(struct ctl_linkmgr *lm, struct lm_link *lk);
/* Per tick: a link whose certificate expired is dropped. */
void lm_cert_tick(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now);
/* under load (lm_handshake.c): initiations in the last second above the threshold */
bool lm_under_load(const struct ctl_linkmgr *lm, uint64_t now);
