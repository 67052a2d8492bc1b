/* The link manager's timers (see linkmgr.h): keepalives, probes of a
 * relayed link's direct candidates, and the per-link tick (confirmation of
 * a responder's next session, retiring the previous one, link timeout,
 * retransmissions, rekeys).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "control/table/peerset.h"
#include "control/link/linkmgr_internal.h"
#include "dataplane/esp.h"
#include "util/log.h"

/* ---- keepalives ---------------------------------------------------------- */

void lm_keepalive_send(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	struct dp_sa *sa = lk->cur.sa_out;
	struct dp_pkt *p = lm->ka_pkt;
	if (lk->state != LM_UP || !sa || !p)
		return;
	dp_pkt_reset(p);
	p->sa = sa;
	p->next_hdr = LM_NH_KEEPALIVE;
	struct dp_pkt *v[1] = {p};
	dp_esp_encrypt_burst(lm->mgr, v, 1);
	if (p->drop != DP_DROP_NONE)
		return;
	lm_send(lm, &lk->endpoint, p->data, p->len);
	lm->hs.keepalives_sent++;
	lk->keepalives++;
	atomic_fetch_add_explicit(&lk->link->stats.tx_packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lk->link->stats.tx_bytes, p->len, memory_order_relaxed);
}

/* The first probe of a link that came up relayed. Both ends came up
 * through the same handshake (a round trip and a tick apart) and follow
 * the same schedule without random jitter, so they probe at the same
 * moments: that is what opens two NATs at once (each side's tries create
 * the mapping the other side's next tries come in through), and two
 * probes that meet are settled like any simultaneous initiations. An
 * offset below a second that both ends derive from their two keys spreads
 * the links of one node. */
static void probe_schedule_first(const struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	unsigned off =
	    ((unsigned)(lm->id.pub[0] ^ lk->pub[0]) << 8 | (lm->id.pub[1] ^ lk->pub[1])) % 1000;
	lk->probe_iv_ms = LM_PROBE_FIRST_MS;
	lk->probe_at_ms = now + LM_PROBE_FIRST_MS + off;
}

/* A pending probe is over without an answer: nothing answered its tries
 * (timeout), or it gives way to the link's own business (the peer's
 * initiation over the relay, a rekey, the link went down or became direct
 * otherwise). The link is untouched. The next probe starts the doubled
 * interval after this one's scheduled end, whatever ended it, so both ends
 * keep to the same schedule (and a probe cut short by rekeys that come
 * faster than it finishes does not run back to back); slots already past
 * (a probe that had to wait) are skipped, not made up for. Like any abandoned
 * initiation, its tries may sit unprocessed somewhere (withheld on the
 * path): the peer is owed a newer initiation, which goes over the path
 * that works and makes them all stale. */
void lm_probe_end(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool timeout)
{
	lm_pending_abandon(&lk->pend);
	lk->owe_init = true;
	if (timeout) {
		lm->hs.probes_unanswered++;
		log_debug("link %s: no direct pair answered", lk->name);
	}
	if (!lk->probe_at_ms)
		return; /* the schedule starts over (new candidates) */
	do {
		lk->probe_iv_ms = lk->probe_iv_ms ? lk->probe_iv_ms * 2 : LM_PROBE_FIRST_MS;
		if (lk->probe_iv_ms > LM_PROBE_MAX_MS)
			lk->probe_iv_ms = LM_PROBE_MAX_MS;
		lk->probe_at_ms += (uint64_t)LM_PROBE_TRIES * LM_PROBE_RETX_MS + lk->probe_iv_ms;
	} while (lk->probe_at_ms <= now);
}

void lm_probe_start(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	lm_initiate(lm, lk, now, true, false, true);
	if (!lk->pend.active) {
		lk->pend.probe = false;
		return;
	}
	lm->hs.probes++;
	log_debug("link %s: relayed, probing its direct candidates", lk->name);
}

/* ---- timers -------------------------------------------------------------- */

static void link_tick(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	const struct ipop_config *cfg = lm->cfg;
	struct dp_link_stats *st = &lk->link->stats;
	if (lk->key_known && !lm_key_allowed(lm, lk->pub)) {
		/* allowed_keys changed under a live link (reload) */
		if (lm_session_live(&lk->cur) || lm_session_live(&lk->next) || lk->pend.active)
			log_warn("link %s: key no longer in allowed_keys, dropping its sessions",
				 lk->name);
		lm_bury(lm, &lk->cur);
		lm_bury(lm, &lk->next);
		lm_bury(lm, &lk->prev);
		lm_pending_abandon(&lk->pend);
		lk->state = LM_CONNECTING;
		return;
	}
	if (!cfg->key_export) {
		/* key_export was switched off by a reload: drop the copies now */
		struct lm_session *ss[3] = {&lk->cur, &lk->next, &lk->prev};
		for (unsigned i = 0; i < 3; i++) {
			if (!ss[i]->has_keymat)
				continue;
			explicit_bzero(ss[i]->keymat_in, sizeof(ss[i]->keymat_in));
			explicit_bzero(ss[i]->keymat_out, sizeof(ss[i]->keymat_out));
			ss[i]->has_keymat = false;
		}
	}
	uint64_t rx = atomic_load_explicit(&st->rx_packets, memory_order_relaxed);
	if (rx != lk->last_rx_packets) {
		lk->last_rx_packets = rx;
		lk->last_rx_ms = now;
	}

	/* Responder: the initiator used the new keys, so it has them. */
	if (lk->next.sa_in) {
		if (atomic_load_explicit(&lk->next.sa_in->packets, memory_order_relaxed) > 0) {
			struct lm_session s = lk->next;
			bool rekey = lm_session_live(&lk->cur) && lk->next_rekey;
			memset(&lk->next, 0, sizeof(lk->next));
			if (lk->state != LM_UP)
				lm_note_choice(lk, &lk->next_ep,
					       "first confirmed initiation came from");
			lm_update_endpoint(lm, lk, &lk->next_ep,
					   "first confirmed initiation came from");
			lm_switch_in(lm, lk, &s, now);
			lm_handshake_count(lm, lk, rekey, now);
		} else if (now - lk->next.born_ms >= LM_UNCONFIRMED_MS) {
			log_debug("link %s: unconfirmed session expired", lk->name);
			lm_bury(lm, &lk->next);
		}
	}
	if (lm_session_live(&lk->prev) && now >= lk->prev_retire_ms)
		lm_bury(lm, &lk->prev);

	if (lk->state == LM_UP && now - lk->last_rx_ms >= cfg->link_timeout_ms) {
		log_warn("link %s: down (nothing received for %u ms)", lk->name,
			 cfg->link_timeout_ms);
		lk->state = LM_DOWN;
		lm->hs.links_down++;
		lm->dirty = true;
	}

	if (lk->state == LM_UP && now - lk->ka_check_ms >= cfg->keepalive_ms) {
		uint64_t tx = atomic_load_explicit(&st->tx_packets, memory_order_relaxed);
		if (tx == lk->ka_tx_packets)
			lm_keepalive_send(lm, lk);
		lk->ka_tx_packets = atomic_load_explicit(&st->tx_packets, memory_order_relaxed);
		lk->ka_check_ms = now;
	}

	/* Relayed: probe the direct candidates now and then (backoff), never
	 * more than one probe at a time — it is the pending initiation. */
	bool probing = lm_wants_probe(lk);
	if (!probing) {
		lk->probe_at_ms = lk->probe_iv_ms = 0;
	} else if (!lk->probe_at_ms) {
		probe_schedule_first(lm, lk, now);
	}
	/* A reload changed rekey_interval: the current keys follow it now,
	 * not after the old interval (found by test_faults). */
	if (lk->state == LM_UP &&
	    lk->rekey_iv_ms != (cfg->rekey_interval_ms ? cfg->rekey_interval_ms : 120000))
		lm_schedule_rekey(lm, lk);
	bool rekey_due = lk->state == LM_UP &&
			 (now >= lk->rekey_at_ms ||
			  atomic_load_explicit(&lk->cur.sa_out->seq, memory_order_relaxed) >=
			      cfg->rekey_packets);
	/* A probe gives way to a rekey (which pays what the probe leaves
	 * owed) and ends when there is nothing left to probe for. */
	if (lk->pend.active && lk->pend.probe && (!probing || rekey_due))
		lm_probe_end(lm, lk, now, false);

	if (lk->pend.active) {
		if (now >= lk->pend.next_ms) {
			if (lk->pend.probe && lk->pend.attempts >= LM_PROBE_TRIES)
				lm_probe_end(lm, lk, now, true);
			else
				lm_initiate(lm, lk, now, true, false, false);
		}
	} else if (lk->next.sa_in) {
		/* we answered; wait for the initiator's first packet */
	} else if (lk->state != LM_UP || (lk->owe_init && !rekey_due)) {
		lm_initiate(lm, lk, now, true, false, false);
	} else if (rekey_due) {
		lm_initiate(lm, lk, now, true, true, false);
	} else if (probing && now >= lk->probe_at_ms) {
		lm_probe_start(lm, lk, now);
	}
}

void ctl_linkmgr_tick(struct ctl_linkmgr *lm, uint64_t now_ms)
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (!lk)
			continue;
		lm_cert_tick(lm, lk, now_ms);
		link_tick(lm, lk, now_ms);
		/* workers may report a roam of this link again */
		atomic_store_explicit(&lk->link->roam_reported, 0, memory_order_relaxed);
	}
}
