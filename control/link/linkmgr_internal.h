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

/* lm_timers.c */
void lm_keepalive_send(struct ctl_linkmgr *lm, struct lm_link *lk);
/* A pending probe is over without an answer (timeout: its tries ran out). */
void lm_probe_end(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool timeout);
