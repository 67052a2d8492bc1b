/* The link manager's handshakes (see linkmgr.h "Handshake rules" and
 * docs/protocol.md): the initiator (fresh initiations, responses, cookie
 * replies) and the responder (mac1, rate limit, load and cookies, Noise,
 * trust, timestamps, the response), and the dispatch of control datagrams.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "control/link/linkmgr_internal.h"
#include "control/nat/candidates.h"
#include "util/log.h"

/* ---- initiator ----------------------------------------------------------- */

/* The wall clock, but never at or behind a timestamp we already sent: a
 * clock stepped back would otherwise get our initiations rejected as stale
 * until it caught up. */
static void timestamp_next(struct ctl_linkmgr *lm, uint8_t ts[12])
{
	hs_tai64n_now(ts);
	if (memcmp(ts, lm->last_ts_sent, 12) <= 0) {
		memcpy(ts, lm->last_ts_sent, 12);
		uint32_t ns =
		    (uint32_t)ts[8] << 24 | (uint32_t)ts[9] << 16 | (uint32_t)ts[10] << 8 | ts[11];
		ns++;
		if (ns >= 1000000000u) { /* carry into the seconds */
			ns = 0;
			for (int i = 7; i >= 0 && ++ts[i] == 0; i--)
				;
		}
		ts[8] = (uint8_t)(ns >> 24), ts[9] = (uint8_t)(ns >> 16);
		ts[10] = (uint8_t)(ns >> 8), ts[11] = (uint8_t)ns;
	}
	memcpy(lm->last_ts_sent, ts, 12);
}

/* Sends a fresh initiation (new ephemeral key and timestamp; the SPI stays
 * for the life of the pending initiation). backoff: count it as an attempt
 * and schedule the next one further out. rekey, probe: what a new pending
 * initiation is for (a pending one keeps what it was started as). */
void lm_initiate(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool backoff, bool rekey,
		 bool probe)
{
	struct lm_pending *pd = &lk->pend;
	const struct ipop_config *cfg = lm->cfg;
	if (!lm->have_id || (!lk->endpoint.port && !lk->ncand))
		return;
	/* A peer configured by endpoint only whose initiations go unanswered
	 * may have a new key (and certificate) by now: fetch it again. */
	if (lk->cert_key && lk->state != LM_UP && pd->active && pd->attempts >= 3) {
		lm_pending_abandon(pd);
		lk->key_known = false;
	}
	if (!lk->key_known) {
		lm_cert_fetch(lm, lk, now);
		return;
	}
	bool was_active = pd->active;
	if (!was_active) {
		pd->spi = lm_new_spi(lm);
		pd->attempts = 0;
		pd->first_ms = now;
		pd->rekey = rekey;
		pd->probe = probe;
	}
	int err = noise_hs_init(&pd->hs, NOISE_INITIATOR, lm->mgr, lm->id.priv, lk->pub,
				cfg->has_psk ? cfg->psk : NULL, LM_PROLOGUE, strlen(LM_PROLOGUE));
	struct hs_init_payload ip = {
	    .version = HS_VERSION, .flags = pd->rekey ? LM_FLAG_REKEY : 0, .sender_spi = pd->spi};
	/* the fixed payload, then our certificate chain (trust cert/both) */
	uint8_t pl[HS_MSG_MAX];
	size_t n = 0, pll = HS_INIT_PAYLOAD_LEN;
	size_t plmax = HS_MSG_MAX - HS_INIT_LEN + HS_INIT_PAYLOAD_LEN;
	timestamp_next(lm, ip.tai64n);
	hs_init_payload_encode(&ip, pl);
	if (lm_cert_on(lm) && !(pll = lm_cert_payload_put(lm, pl, HS_INIT_PAYLOAD_LEN, plmax)))
		err = -EMSGSIZE;
	pd->msg_len = HS_INIT_LEN + pll - HS_INIT_PAYLOAD_LEN;
	hs_write_header(pd->msg, lm_cert_on(lm) ? HS_INITIATION_CERT : HS_INITIATION, 0, pd->spi);
	if (!err)
		err = noise_write_message(&pd->hs, pl, pll, pd->msg + HS_HDR_LEN,
					  pd->msg_len - HS_HDR_LEN - 2 * HS_MAC_LEN, &n);
	if (!err && n != pd->msg_len - HS_HDR_LEN - 2 * HS_MAC_LEN)
		err = -EPROTO;
	if (err) {
		noise_hs_wipe(&pd->hs);
		pd->active = false;
		log_ratelimited(LOG_ERROR, "link %s: cannot build an initiation: %s", lk->name,
				strerror(-err));
		return;
	}
	bool cookie = lk->has_cookie && now - lk->cookie_ms <= LM_COOKIE_TTL_MS;
	hs_macs_write(pd->msg, pd->msg_len, &lk->keys, cookie ? lk->cookie : NULL);
	if (was_active && !pd->probe)
		lm->hs.retransmits++; /* a probe's next try is no sign of trouble */
	pd->active = true;
	pd->sent_ms = now;
	if (pd->probe) {
		pd->next_ms = now + lm_jitter(LM_PROBE_RETX_MS, LM_JITTER_PCT);
		pd->attempts++;
	} else if (backoff || !was_active) {
		unsigned shift = pd->attempts < 5 ? pd->attempts : 5;
		uint64_t delay = (uint64_t)LM_RETX_FIRST_MS << shift;
		if (delay > LM_RETX_MAX_MS)
			delay = LM_RETX_MAX_MS;
		pd->next_ms = now + lm_jitter(delay, LM_JITTER_PCT);
		pd->attempts++;
	}
	if (pd->probe) {
		/* Only the direct pairs: the relayed one carries the link
		 * meanwhile, and a copy sent through it could win the race at
		 * the peer (the copies share a timestamp) and decide nothing. */
		for (unsigned i = 0; i < lk->ncand; i++)
			if (lm_cand_direct(&lk->cand[i]))
				lm_send(lm, &lk->cand[i].ep, pd->msg, pd->msg_len);
		lm->hs.initiations_sent++;
		return;
	}
	if (lk->endpoint.port)
		lm_send(lm, &lk->endpoint, pd->msg, pd->msg_len);
	/* Not up: every candidate in parallel (the copies share a timestamp,
	 * so the peer accepts only the first to arrive). Relay candidates
	 * only from the second attempt: a direct pair that works answers
	 * within the first, and a relay that won the race would carry the
	 * link the long way round. */
	for (unsigned i = 0; lk->state != LM_UP && i < lk->ncand; i++) {
		if (lk->cand[i].type == CAND_RELAY && pd->attempts < 2 &&
		    now - pd->first_ms < LM_RELAY_DELAY_MS)
			continue;
		if (!net_endpoint_equal(&lk->cand[i].ep, &lk->endpoint))
			lm_send(lm, &lk->cand[i].ep, pd->msg, pd->msg_len);
	}
	lm->hs.initiations_sent++;
}

void lm_handshake_count(struct ctl_linkmgr *lm, struct lm_link *lk, bool rekey, uint64_t now)
{
	lm->hs.completed++;
	lk->handshakes++;
	if (rekey) {
		lm->hs.rekeys++;
		lk->rekeys++;
	}
	lk->last_handshake_ms = now;
}

/* A round-trip sample: the first sets SRTT, later ones move it by 1/8 of
 * the difference (RFC 6298, kept in 1/8 ms like TCP implementations). */
void lm_rtt_sample(struct lm_link *lk, uint64_t rtt)
{
	uint32_t r = rtt > UINT32_MAX / 8 ? UINT32_MAX / 8 : (uint32_t)rtt;
	lk->rtt_ms = r;
	if (!lk->has_rtt)
		lk->srtt8 = r * 8;
	else
		lk->srtt8 = lk->srtt8 - lk->srtt8 / 8 + r;
	lk->has_rtt = true;
}

void lm_pending_abandon(struct lm_pending *pd)
{
	noise_hs_wipe(&pd->hs);
	pd->active = false;
	pd->next_ms = 0;
	pd->attempts = 0;
	pd->probe = false;
}

static void on_response(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			const struct hs_header *h, const struct net_endpoint *from, uint64_t now)
{
	if (!hs_mac1_ok(msg, len, &lm->own_keys)) {
		lm->hs.mac1_fail++;
		return;
	}
	struct lm_link *lk = lm_find_by_pending(lm, h->receiver_spi);
	if (!lk) {
		lm->hs.malformed++; /* late, duplicate, or for an abandoned initiation */
		return;
	}
	lm->hs.responses_received++;
	uint8_t pl[HS_MSG_MAX];
	size_t pll = 0;
	/* A failed read leaves the handshake as it was: the genuine response
	 * may still come. */
	if (noise_read_message(&lk->pend.hs, h->noise, h->noise_len, pl, sizeof(pl), &pll)) {
		lm->hs.decrypt_fail++;
		return;
	}
	struct hs_resp_payload rp;
	struct cert_info ci;
	uint32_t spi_in = lk->pend.spi;
	bool with_cert = h->type == HS_RESPONSE_CERT;
	size_t fixed = with_cert ? HS_RESP_PAYLOAD_LEN : pll;
	if (pll < HS_RESP_PAYLOAD_LEN || hs_resp_payload_decode(pl, fixed, &rp) ||
	    rp.sender_spi != h->sender_spi) {
		lm->hs.malformed++;
		lm_pending_abandon(&lk->pend); /* authenticated but unusable: start over */
		return;
	}
	if (lm_cert_on(lm)) {
		/* the responder proved lk->pub (se); its certificate must carry
		 * that key and cover the peer's addresses */
		if (!with_cert) {
			lm->hs.cert_missing++;
			log_ratelimited(LOG_WARN, "link %s: response without a certificate refused",
					lk->name);
		}
		if (!with_cert ||
		    lm_cert_check(lm, lk, pl + fixed, pll - fixed, lk->pub, from, &ci) != CERT_OK) {
			lm_pending_abandon(&lk->pend);
			explicit_bzero(pl, sizeof(pl));
			return;
		}
		lm_cert_accept(lm, lk, pl + fixed, pll - fixed, &ci);
	}
	explicit_bzero(pl, sizeof(pl));
	/* Authenticated, and only the latest send can be answered (each
	 * retransmission is a fresh handshake): a round trip from it. */
	lm_rtt_sample(lk, now - lk->pend.sent_ms);
	bool rekey = lm_session_live(&lk->cur) && lk->pend.rekey;
	struct lm_session s;
	int err = lm_session_make(lm, lk, &lk->pend.hs, spi_in, h->sender_spi, now, &s);
	lm_pending_abandon(&lk->pend);
	if (err) {
		log_err("link %s: cannot create SAs: %s", lk->name, strerror(-err));
		return;
	}
	/* A response answers our own fresh initiation: it cannot be a replay,
	 * so its source is where the peer is now. */
	if (lk->state != LM_UP)
		lm_note_choice(lk, from, "first response came from");
	lm_update_endpoint(lm, lk, from, "first response came from");
	lk->owe_init = false;
	lm_bury(lm, &lk->next);
	lm_switch_in(lm, lk, &s, now);
	lm_handshake_count(lm, lk, rekey, now);
	/* Our inbound SA must be out before the responder, woken by the
	 * keepalive, switches to it. */
	lm_publish_now(lm);
	lm_keepalive_send(lm, lk);
}

static void on_cookie_reply(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			    const struct hs_header *h, uint64_t now)
{
	struct lm_link *lk = lm_find_by_pending(lm, h->receiver_spi);
	if (!lk) {
		lm->hs.malformed++;
		return;
	}
	uint8_t cookie[HS_COOKIE_LEN];
	if (hs_cookie_reply_open_len(msg, len, lk->pend.msg, lk->pend.msg_len, &lk->keys, cookie)) {
		lm->hs.malformed++;
		return;
	}
	lm->hs.cookie_replies_received++;
	memcpy(lk->cookie, cookie, sizeof(cookie));
	explicit_bzero(cookie, sizeof(cookie));
	lk->has_cookie = true;
	lk->cookie_ms = now;
	/* Again at once, now with mac2 — but not faster than the collision
	 * guard: whoever can see our initiations can mint valid replies. */
	uint64_t soon = lk->pend.sent_ms + LM_COLLISION_RETX_MS;
	if (now >= soon)
		lm_initiate(lm, lk, now, false, false, false);
	else if (lk->pend.next_ms > soon)
		lk->pend.next_ms = soon;
}

/* ---- responder ----------------------------------------------------------- */

static void load_note(struct ctl_linkmgr *lm, uint64_t now)
{
	if (now >= lm->load_window_ms + 1000) {
		lm->load_prev = now >= lm->load_window_ms + 2000 ? 0 : lm->load_cur;
		lm->load_cur = 0;
		lm->load_window_ms = now - (now - lm->load_window_ms) % 1000;
	}
	lm->load_cur++;
}

/* Initiations in the last second: this window plus the part of the previous
 * one that is less than a second old. */
bool lm_under_load(const struct ctl_linkmgr *lm, uint64_t now)
{
	uint64_t into = now - lm->load_window_ms;
	uint64_t est = lm->load_cur + (into < 1000 ? lm->load_prev * (1000 - into) / 1000 : 0);
	return est > lm->load_threshold;
}

static void on_initiation(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			  const struct hs_header *h, const struct net_endpoint *from, uint64_t now)
{
	const struct ipop_config *cfg = lm->cfg;
	if (!lm->have_id)
		return;
	if (!hs_mac1_ok(msg, len, &lm->own_keys)) {
		lm->hs.mac1_fail++;
		return;
	}
	lm->hs.initiations_received++;
	load_note(lm, now);
	if (!hs_ratelimit_allow(lm->rl, from, now)) {
		lm->hs.ratelimited++;
		return;
	}
	if (lm_under_load(lm, now)) {
		uint8_t cookie[HS_COOKIE_LEN];
		hs_cookie_make(&lm->cookie_gen, from, now, cookie);
		bool ok = hs_mac2_ok(msg, len, cookie);
		if (!ok) {
			uint8_t reply[HS_COOKIE_MSG_LEN];
			hs_cookie_reply_build_len(reply, msg, len, &lm->own_keys, cookie);
			lm_send(lm, from, reply, sizeof(reply));
			lm->hs.cookie_replies_sent++;
		}
		explicit_bzero(cookie, sizeof(cookie));
		if (!ok)
			return;
	}

	struct noise_hs hs;
	uint8_t pl[HS_MSG_MAX], rs[NOISE_KEY_LEN];
	size_t pll = 0;
	struct hs_init_payload ip;
	struct lm_link *lk = NULL;
	struct cert_info ci;
	bool with_cert = h->type == HS_INITIATION_CERT;
	if (noise_hs_init(&hs, NOISE_RESPONDER, lm->mgr, lm->id.priv, NULL,
			  cfg->has_psk ? cfg->psk : NULL, LM_PROLOGUE, strlen(LM_PROLOGUE)) ||
	    noise_read_message(&hs, h->noise, h->noise_len, pl, sizeof(pl), &pll)) {
		lm->hs.decrypt_fail++;
		goto out;
	}
	/* the fixed payload, then (type 6) the initiator's certificate chain */
	size_t fixed = with_cert ? HS_INIT_PAYLOAD_LEN : pll;
	if (pll < HS_INIT_PAYLOAD_LEN) {
		lm->hs.malformed++;
		goto out;
	}
	if (noise_hs_remote_static(&hs, rs)) {
		lm->hs.unknown_key++;
		goto out;
	}
	lk = lm_find_by_pub(lm, rs);
	if (lm_cert_on(lm)) {
		/* the initiator proved rs (es, ss): its certificate must carry
		 * it; a peer configured by endpoint only is bound by it */
		if (!with_cert) {
			lm->hs.cert_missing++;
			log_ratelimited(LOG_WARN,
					"link %s: initiation without a certificate refused",
					lk ? lk->name : "(unknown key)");
			goto out;
		}
		if (lm_cert_check(lm, lk, pl + fixed, pll - fixed, rs, from, &ci) != CERT_OK)
			goto out;
		if (!lk)
			lk = lm_cert_bind(lm, rs, &ci, from);
	}
	if (!lk || !lm_key_allowed(lm, rs)) {
		lm->hs.unknown_key++;
		goto out;
	}
	if (hs_init_payload_decode(pl, fixed, &ip) || ip.sender_spi != h->sender_spi) {
		lm->hs.malformed++;
		goto out;
	}
	if (lk->has_ts && memcmp(ip.tai64n, lk->last_ts, sizeof(lk->last_ts)) <= 0) {
		lm->hs.stale_timestamp++;
		goto out;
	}
	/* Authentic and fresh: from now on a replay of it is stale, whether we
	 * answer it or not. */
	memcpy(lk->last_ts, ip.tai64n, sizeof(lk->last_ts));
	lk->has_ts = true;
	if (lk->passive) {
		/* the topology manager has not asked for this link (nor accepted
		 * it): a handshake racing a close notice must not revive it */
		lm->hs.passive_refused++;
		goto out;
	}
	if (lm_cert_on(lm))
		lm_cert_accept(lm, lk, pl + fixed, pll - fixed, &ci);
	if (lk->pend.active) {
		/* From an address we are not sending to (a NAT picked a new port
		 * for the peer): ours cannot be what gets through on this path,
		 * so insisting on it would only delay the link. */
		bool prflx = lk->ncand && !net_endpoint_equal(from, &lk->endpoint) &&
			     lm_cand_index(lk, from) < 0;
		/* A probe never holds up what the peer sends over the relay
		 * (its rekey, say): that path works, ours may not. Probes that
		 * meet (both sides probing) follow the rule below. */
		bool yield = lk->pend.probe && lm_ep_relayed(lk, from);
		if (!prflx && !yield && lm_we_are_lower(lm, lk) &&
		    now - lk->pend.first_ms < LM_COLLISION_WINDOW_MS) {
			lm->hs.collisions++;
			/* P is there now: ours (maybe sent while P was away)
			 * goes again at once, or as soon as the guard allows. */
			uint64_t soon = lk->pend.sent_ms + LM_COLLISION_RETX_MS;
			if (now >= soon)
				lm_initiate(lm, lk, now, false, false, false);
			else if (lk->pend.next_ms > soon)
				lk->pend.next_ms = soon;
			goto out;
		}
		if (lk->pend.probe) {
			lm_probe_end(lm, lk, now, false);
		} else {
			lm_pending_abandon(&lk->pend);
			lk->owe_init = true;
		}
	}

	uint32_t spi = lm_new_spi(lm);
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = spi};
	uint8_t rpl[HS_MSG_MAX], resp[HS_MSG_MAX];
	size_t n = 0, rpll = HS_RESP_PAYLOAD_LEN;
	bool send_cert = lm_cert_on(lm) && with_cert;
	hs_resp_payload_encode(&rp, rpl);
	if (send_cert &&
	    !(rpll = lm_cert_payload_put(lm, rpl, HS_RESP_PAYLOAD_LEN,
					 HS_MSG_MAX - HS_RESP_LEN + HS_RESP_PAYLOAD_LEN)))
		goto out;
	size_t resp_len = HS_RESP_LEN + rpll - HS_RESP_PAYLOAD_LEN;
	size_t noise_len = resp_len - HS_HDR_LEN - 2 * HS_MAC_LEN;
	hs_write_header(resp, send_cert ? HS_RESPONSE_CERT : HS_RESPONSE, h->sender_spi, spi);
	if (noise_write_message(&hs, rpl, rpll, resp + HS_HDR_LEN, noise_len, &n) || n != noise_len)
		goto out;
	hs_macs_write(resp, resp_len, &lk->keys, NULL);
	struct lm_session s;
	int err = lm_session_make(lm, lk, &hs, spi, h->sender_spi, now, &s);
	if (err) {
		log_err("link %s: cannot create SAs: %s", lk->name, strerror(-err));
		goto out;
	}
	lm_bury(lm, &lk->next);
	lk->next = s;
	lk->next_ep = *from;
	lk->next_rekey = (ip.flags & LM_FLAG_REKEY) != 0;
	explicit_bzero(&s, sizeof(s));
	/* The inbound SA must be in the workers' table before the initiator
	 * can use it: publish first, answer second. */
	if (lm_publish_now(lm) != 0) {
		log_warn("link %s: table not published, not answering the handshake", lk->name);
		lm_bury(lm, &lk->next);
		goto out;
	}
	lm_send(lm, from, resp, resp_len);
	lm->hs.responses_sent++;
out:
	noise_hs_wipe(&hs);
	explicit_bzero(pl, sizeof(pl));
}

void ctl_linkmgr_input(struct ctl_linkmgr *lm, const uint8_t *data, size_t len,
		       const struct net_endpoint *from, uint64_t now_ms)
{
	struct hs_header h;
	if (hs_parse_header(data, len, &h)) {
		lm->hs.malformed++;
		return;
	}
	switch (h.type) {
	case HS_INITIATION:
	case HS_INITIATION_CERT:
		on_initiation(lm, data, len, &h, from, now_ms);
		break;
	case HS_RESPONSE:
	case HS_RESPONSE_CERT:
		on_response(lm, data, len, &h, from, now_ms);
		break;
	case HS_CERT_REQUEST:
		lm_cert_on_request(lm, data, len, from, now_ms);
		break;
	case HS_CERT_REPLY:
		lm_cert_on_reply(lm, data, len, &h, from, now_ms);
		break;
	case HS_COOKIE_REPLY:
		on_cookie_reply(lm, data, len, &h, now_ms);
		break;
	default:
		lm->hs.malformed++;
		break;
	}
}
