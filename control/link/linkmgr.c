/* The link manager (see linkmgr.h): handshakes on the data port, the
 * sessions of keyed links, rekeying, keepalives and link liveness.
 *
 * Everything here runs on the control core. The workers see only what the
 * table builder (peers.c) takes from each lm_link: the current outbound SA
 * and the live inbound SAs. SAs leave a link through bury(): they sit on the
 * dead list until a table without them has been published, then go to the
 * publisher's grace period.
 */
#include "control/link/linkmgr.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "control/nat/candidates.h"
#include "control/core/peers.h"
#include "control/core/publish.h"
#include "dataplane/esp.h"
#include "util/log.h"

#define SPI_TOP_BIT 0x80000000u

static uint32_t rand_u32(void)
{
	uint32_t v = 0;
	/* Not a secret: SPIs and jitter. A failure leaves a predictable but
	 * still valid value. */
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)random();
	return v;
}

/* ms ± pct %. */
static uint64_t jitter(uint64_t ms, unsigned pct)
{
	uint64_t span = ms * pct / 100;
	if (!span)
		return ms;
	return ms - span + rand_u32() % (2 * span + 1);
}

const char *ctl_linkmgr_state_name(enum lm_state s)
{
	switch (s) {
	case LM_UP:
		return "up";
	case LM_DOWN:
		return "down";
	case LM_CONNECTING:
	default:
		return "connecting";
	}
}

static void sa_free(void *obj)
{
	dp_sa_destroy(obj);
}

static bool session_live(const struct lm_session *s)
{
	return s->sa_in || s->sa_out;
}

/* ---- peers, SPIs, keys --------------------------------------------------- */

static struct lm_link *find_by_pub(struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN])
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (lk && memcmp(lk->pub, pub, NOISE_KEY_LEN) == 0)
			return lk;
	}
	return NULL;
}

static struct lm_link *find_by_pending(struct ctl_linkmgr *lm, uint32_t spi)
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (lk && lk->pend.active && lk->pend.spi == spi)
			return lk;
	}
	return NULL;
}

static bool key_allowed(const struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN])
{
	const struct ipop_config *cfg = lm->cfg;
	if (!cfg->n_allowed_keys)
		return true;
	for (unsigned i = 0; i < cfg->n_allowed_keys; i++)
		if (memcmp(cfg->allowed_keys[i], pub, NOISE_KEY_LEN) == 0)
			return true;
	return false;
}

/* The side with the lower static key wins simultaneous initiations. */
static bool we_are_lower(const struct ctl_linkmgr *lm, const struct lm_link *lk)
{
	return memcmp(lm->id.pub, lk->pub, NOISE_KEY_LEN) < 0;
}

static bool spi_taken_by(const struct lm_session *s, uint32_t spi)
{
	return s->sa_in && s->sa_in->spi == spi;
}

static bool spi_in_use(const struct ctl_linkmgr *lm, uint32_t spi)
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		const struct ctl_peer *p = &lm->peers->v[i];
		const struct lm_link *lk = p->lk;
		if (!p->conf->keyed && p->conf->sa_in.spi == spi)
			return true;
		if (lk &&
		    (spi_taken_by(&lk->cur, spi) || spi_taken_by(&lk->next, spi) ||
		     spi_taken_by(&lk->prev, spi) || (lk->pend.active && lk->pend.spi == spi)))
			return true;
	}
	/* Buried SAs may still be in the published table. */
	for (unsigned i = 0; i < lm->ndead; i++)
		if (lm->dead[i]->spi == spi)
			return true;
	return false;
}

static uint32_t new_spi(const struct ctl_linkmgr *lm)
{
	for (;;) {
		uint32_t spi = rand_u32() | SPI_TOP_BIT;
		if (spi != 0xffffffffu && !spi_in_use(lm, spi))
			return spi;
	}
}

/* ---- sessions ------------------------------------------------------------ */

static void dead_push(struct ctl_linkmgr *lm, struct dp_sa *sa)
{
	if (!sa)
		return;
	if (lm->ndead == lm->cap_dead) {
		unsigned cap = lm->cap_dead ? lm->cap_dead * 2 : 16;
		struct dp_sa **d = realloc(lm->dead, cap * sizeof(*d));
		if (!d) {
			/* A worker may still hold it: leaking is the only safe choice. */
			log_err("link manager: out of memory, leaking a retired SA");
			return;
		}
		lm->dead = d;
		lm->cap_dead = cap;
	}
	lm->dead[lm->ndead++] = sa;
}

/* Takes the session's SAs off the link; they are freed once a table
 * without them is out (ctl_linkmgr_published). */
static void bury(struct ctl_linkmgr *lm, struct lm_session *s)
{
	if (!session_live(s))
		return;
	dead_push(lm, s->sa_in);
	dead_push(lm, s->sa_out);
	explicit_bzero(s, sizeof(*s));
	lm->dirty = true;
}

/* Split → one ESP keymat per direction → the two SAs. Wipes hs and every
 * intermediate secret whatever happens. */
static int session_make(struct ctl_linkmgr *lm, struct lm_link *lk, struct noise_hs *hs,
			uint32_t spi_in, uint32_t spi_out, uint64_t now, struct lm_session *s)
{
	uint8_t send_key[NOISE_KEY_LEN], recv_key[NOISE_KEY_LEN], hash[NOISE_HASH_LEN];
	uint8_t km_in[DP_SA_KEYMAT_LEN], km_out[DP_SA_KEYMAT_LEN];
	_Static_assert(NOISE_ESP_KEYMAT_LEN == DP_SA_KEYMAT_LEN, "keymat sizes");

	memset(s, 0, sizeof(*s));
	int err = noise_split(hs, send_key, recv_key, hash);
	if (!err)
		err = noise_esp_keymat(send_key, hash, km_out);
	if (!err)
		err = noise_esp_keymat(recv_key, hash, km_in);
	explicit_bzero(send_key, sizeof(send_key));
	explicit_bzero(recv_key, sizeof(recv_key));
	explicit_bzero(hash, sizeof(hash));
	noise_hs_wipe(hs);
	if (!err) {
		s->sa_in = dp_sa_create(lm->mgr, spi_in, km_in, lk->link->id);
		s->sa_out = s->sa_in ? dp_sa_create(lm->mgr, spi_out, km_out, lk->link->id) : NULL;
		if (!s->sa_out) {
			err = errno ? -errno : -ENOMEM;
			dp_sa_destroy(s->sa_in);
			s->sa_in = NULL;
		}
	}
	if (!err && lm->cfg->key_export) {
		memcpy(s->keymat_in, km_in, sizeof(km_in));
		memcpy(s->keymat_out, km_out, sizeof(km_out));
		s->has_keymat = true;
	}
	explicit_bzero(km_in, sizeof(km_in));
	explicit_bzero(km_out, sizeof(km_out));
	s->born_ms = now;
	return err;
}

static void schedule_rekey(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	uint64_t iv = lm->cfg->rekey_interval_ms ? lm->cfg->rekey_interval_ms : 120000;
	uint64_t at = lk->cur.born_ms + iv;
	if (!we_are_lower(lm, lk))
		at += iv / 3 + rand_u32() % (iv / 6 + 1);
	lk->rekey_at_ms = at;
}

/* s becomes the current session; the current one becomes the previous for
 * the overlap, and an older previous goes at once. */
static void switch_in(struct ctl_linkmgr *lm, struct lm_link *lk, struct lm_session *s,
		      uint64_t now)
{
	bury(lm, &lk->prev);
	if (session_live(&lk->cur)) {
		lk->prev = lk->cur;
		lk->prev_retire_ms = now + LM_OVERLAP_MIN_MS;
	}
	lk->cur = *s;
	explicit_bzero(s, sizeof(*s));
	if (lk->state != LM_UP)
		log_info("link %s: up (spi in 0x%08x, out 0x%08x)", lk->name, lk->cur.sa_in->spi,
			 lk->cur.sa_out->spi);
	else
		log_debug("link %s: new keys (spi in 0x%08x, out 0x%08x)", lk->name,
			  lk->cur.sa_in->spi, lk->cur.sa_out->spi);
	lk->state = LM_UP;
	lk->last_rx_packets =
	    atomic_load_explicit(&lk->link->stats.rx_packets, memory_order_relaxed);
	lk->last_rx_ms = now;
	schedule_rekey(lm, lk);
	lm->dirty = true;
}

/* The index of ep among the peer's advertised candidates, or -1. */
static int cand_index(const struct lm_link *lk, const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < lk->ncand; i++)
		if (net_endpoint_equal(&lk->cand[i].ep, ep))
			return (int)i;
	return -1;
}

/* Through a TURN server: our own allocation (via), or the peer's relayed
 * address (one of its relay candidates, sent to like any address). */
static bool ep_relayed(const struct lm_link *lk, const struct net_endpoint *ep)
{
	int i = ep->via ? -1 : cand_index(lk, ep);
	return ep->via || (i >= 0 && lk->cand[i].type == CAND_RELAY);
}

static bool cand_direct(const struct lm_cand *c)
{
	return !c->ep.via && c->type != CAND_RELAY;
}

/* Up through a relay while the peer advertised addresses we could reach
 * directly: worth probing those. */
static bool wants_probe(const struct lm_link *lk)
{
	if (lk->state != LM_UP || !ep_relayed(lk, &lk->endpoint))
		return false;
	for (unsigned i = 0; i < lk->ncand; i++)
		if (cand_direct(&lk->cand[i]))
			return true;
	return false;
}

/* Records which candidate (if any) a handshake chose and why. */
static void note_choice(struct lm_link *lk, const struct net_endpoint *from, const char *how)
{
	if (!lk->ncand)
		return; /* statically configured: nothing was chosen */
	lk->ep_cand = cand_index(lk, from);
	if (lk->ep_cand >= 0)
		snprintf(lk->why, sizeof(lk->why), "%s %s candidate", how,
			 cand_type_name((enum cand_type)lk->cand[lk->ep_cand].type));
	else if (from->via)
		snprintf(lk->why, sizeof(lk->why), "%s the peer through our TURN relay", how);
	else
		snprintf(lk->why, sizeof(lk->why), "%s an unadvertised address (peer-reflexive)",
			 how);
}

/* how: what showed the peer is at `from` ("first response came from").
 * A link that is up and moves from a relayed to a direct path was
 * upgraded (a probe, or the peer's probe, completed; or the peer's first
 * packets after its own upgrade): counted, and `why` says so. */
static void update_endpoint(struct ctl_linkmgr *lm, struct lm_link *lk,
			    const struct net_endpoint *from, const char *how)
{
	if (net_endpoint_equal(&lk->endpoint, from))
		return;
	char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
	log_info("link %s: endpoint %s%s -> %s%s", lk->name,
		 net_endpoint_format(&lk->endpoint, a, sizeof(a)),
		 lk->endpoint.via ? " (through our TURN relay)" : "",
		 net_endpoint_format(from, b, sizeof(b)),
		 from->via ? " (through our TURN relay)" : "");
	if (lk->state == LM_UP && lk->ncand && ep_relayed(lk, &lk->endpoint) &&
	    !ep_relayed(lk, from)) {
		char h[64];
		snprintf(h, sizeof(h), "upgraded: %s", how);
		note_choice(lk, from, h);
		lm->hs.upgrades++;
		log_info("link %s: relayed -> direct (%s)", lk->name, lk->why);
	}
	lk->endpoint = *from;
	lm->dirty = true;
}

static void do_send(struct ctl_linkmgr *lm, const struct net_endpoint *to, const void *buf,
		    size_t len)
{
	if (!lm->send)
		return;
	int err = lm->send(lm->cb_ctx, to, buf, len);
	if (err)
		log_ratelimited(LOG_DEBUG, "link manager: send failed: %s", strerror(-err));
}

/* Publishes the current state now; on failure the tick retries (dirty). */
static int publish_now(struct ctl_linkmgr *lm)
{
	lm->dirty = true;
	return lm->publish ? lm->publish(lm->cb_ctx) : 0;
}

/* ---- keepalives ---------------------------------------------------------- */

static void send_keepalive(struct ctl_linkmgr *lm, struct lm_link *lk)
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
	do_send(lm, &lk->endpoint, p->data, p->len);
	lm->hs.keepalives_sent++;
	atomic_fetch_add_explicit(&lk->link->stats.tx_packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lk->link->stats.tx_bytes, p->len, memory_order_relaxed);
}

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
static void initiate(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool backoff,
		     bool rekey, bool probe)
{
	struct lm_pending *pd = &lk->pend;
	const struct ipop_config *cfg = lm->cfg;
	if (!lm->have_id || (!lk->endpoint.port && !lk->ncand))
		return;
	bool was_active = pd->active;
	if (!was_active) {
		pd->spi = new_spi(lm);
		pd->attempts = 0;
		pd->first_ms = now;
		pd->rekey = rekey;
		pd->probe = probe;
	}
	int err = noise_hs_init(&pd->hs, NOISE_INITIATOR, lm->mgr, lm->id.priv, lk->pub,
				cfg->has_psk ? cfg->psk : NULL, LM_PROLOGUE, strlen(LM_PROLOGUE));
	struct hs_init_payload ip = {
	    .version = HS_VERSION, .flags = pd->rekey ? LM_FLAG_REKEY : 0, .sender_spi = pd->spi};
	uint8_t pl[HS_INIT_PAYLOAD_LEN];
	size_t n = 0;
	timestamp_next(lm, ip.tai64n);
	hs_init_payload_encode(&ip, pl);
	hs_write_header(pd->msg, HS_INITIATION, 0, pd->spi);
	if (!err)
		err = noise_write_message(&pd->hs, pl, sizeof(pl), pd->msg + HS_HDR_LEN,
					  HS_INIT_NOISE_LEN, &n);
	if (!err && n != HS_INIT_NOISE_LEN)
		err = -EPROTO;
	if (err) {
		noise_hs_wipe(&pd->hs);
		pd->active = false;
		log_ratelimited(LOG_ERROR, "link %s: cannot build an initiation: %s", lk->name,
				strerror(-err));
		return;
	}
	bool cookie = lk->has_cookie && now - lk->cookie_ms <= LM_COOKIE_TTL_MS;
	hs_macs_write(pd->msg, HS_INIT_LEN, &lk->keys, cookie ? lk->cookie : NULL);
	if (was_active && !pd->probe)
		lm->hs.retransmits++; /* a probe's next try is no sign of trouble */
	pd->active = true;
	pd->sent_ms = now;
	if (pd->probe) {
		pd->next_ms = now + jitter(LM_PROBE_RETX_MS, LM_JITTER_PCT);
		pd->attempts++;
	} else if (backoff || !was_active) {
		unsigned shift = pd->attempts < 5 ? pd->attempts : 5;
		uint64_t delay = (uint64_t)LM_RETX_FIRST_MS << shift;
		if (delay > LM_RETX_MAX_MS)
			delay = LM_RETX_MAX_MS;
		pd->next_ms = now + jitter(delay, LM_JITTER_PCT);
		pd->attempts++;
	}
	if (pd->probe) {
		/* Only the direct pairs: the relayed one carries the link
		 * meanwhile, and a copy sent through it could win the race at
		 * the peer (the copies share a timestamp) and decide nothing. */
		for (unsigned i = 0; i < lk->ncand; i++)
			if (cand_direct(&lk->cand[i]))
				do_send(lm, &lk->cand[i].ep, pd->msg, HS_INIT_LEN);
		lm->hs.initiations_sent++;
		return;
	}
	if (lk->endpoint.port)
		do_send(lm, &lk->endpoint, pd->msg, HS_INIT_LEN);
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
			do_send(lm, &lk->cand[i].ep, pd->msg, HS_INIT_LEN);
	}
	lm->hs.initiations_sent++;
}

static void count_handshake(struct ctl_linkmgr *lm, struct lm_link *lk, bool rekey, uint64_t now)
{
	lm->hs.completed++;
	lk->handshakes++;
	if (rekey) {
		lm->hs.rekeys++;
		lk->rekeys++;
	}
	lk->last_handshake_ms = now;
}

static void abandon(struct lm_pending *pd)
{
	noise_hs_wipe(&pd->hs);
	pd->active = false;
	pd->next_ms = 0;
	pd->attempts = 0;
	pd->probe = false;
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
static void probe_end(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now, bool timeout)
{
	abandon(&lk->pend);
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

static void probe_start(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	initiate(lm, lk, now, true, false, true);
	if (!lk->pend.active) {
		lk->pend.probe = false;
		return;
	}
	lm->hs.probes++;
	log_debug("link %s: relayed, probing its direct candidates", lk->name);
}

static void on_response(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			const struct hs_header *h, const struct net_endpoint *from, uint64_t now)
{
	if (!hs_mac1_ok(msg, len, &lm->own_keys)) {
		lm->hs.mac1_fail++;
		return;
	}
	struct lm_link *lk = find_by_pending(lm, h->receiver_spi);
	if (!lk) {
		lm->hs.malformed++; /* late, duplicate, or for an abandoned initiation */
		return;
	}
	lm->hs.responses_received++;
	uint8_t pl[HS_RESP_PAYLOAD_LEN];
	size_t pll = 0;
	/* A failed read leaves the handshake as it was: the genuine response
	 * may still come. */
	if (noise_read_message(&lk->pend.hs, h->noise, h->noise_len, pl, sizeof(pl), &pll)) {
		lm->hs.decrypt_fail++;
		return;
	}
	struct hs_resp_payload rp;
	uint32_t spi_in = lk->pend.spi;
	if (hs_resp_payload_decode(pl, pll, &rp) || rp.sender_spi != h->sender_spi) {
		lm->hs.malformed++;
		abandon(&lk->pend); /* authenticated but unusable: start over */
		return;
	}
	bool rekey = session_live(&lk->cur) && lk->pend.rekey;
	struct lm_session s;
	int err = session_make(lm, lk, &lk->pend.hs, spi_in, h->sender_spi, now, &s);
	abandon(&lk->pend);
	if (err) {
		log_err("link %s: cannot create SAs: %s", lk->name, strerror(-err));
		return;
	}
	/* A response answers our own fresh initiation: it cannot be a replay,
	 * so its source is where the peer is now. */
	if (lk->state != LM_UP)
		note_choice(lk, from, "first response came from");
	update_endpoint(lm, lk, from, "first response came from");
	lk->owe_init = false;
	bury(lm, &lk->next);
	switch_in(lm, lk, &s, now);
	count_handshake(lm, lk, rekey, now);
	/* Our inbound SA must be out before the responder, woken by the
	 * keepalive, switches to it. */
	publish_now(lm);
	send_keepalive(lm, lk);
}

static void on_cookie_reply(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			    const struct hs_header *h, uint64_t now)
{
	struct lm_link *lk = find_by_pending(lm, h->receiver_spi);
	if (!lk) {
		lm->hs.malformed++;
		return;
	}
	uint8_t cookie[HS_COOKIE_LEN];
	if (hs_cookie_reply_open(msg, len, lk->pend.msg, &lk->keys, cookie)) {
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
		initiate(lm, lk, now, false, false, false);
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
static bool under_load(const struct ctl_linkmgr *lm, uint64_t now)
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
	if (under_load(lm, now)) {
		uint8_t cookie[HS_COOKIE_LEN];
		hs_cookie_make(&lm->cookie_gen, from, now, cookie);
		bool ok = hs_mac2_ok(msg, len, cookie);
		if (!ok) {
			uint8_t reply[HS_COOKIE_MSG_LEN];
			hs_cookie_reply_build(reply, msg, &lm->own_keys, cookie);
			do_send(lm, from, reply, sizeof(reply));
			lm->hs.cookie_replies_sent++;
		}
		explicit_bzero(cookie, sizeof(cookie));
		if (!ok)
			return;
	}

	struct noise_hs hs;
	uint8_t pl[HS_INIT_PAYLOAD_LEN], rs[NOISE_KEY_LEN];
	size_t pll = 0;
	struct hs_init_payload ip;
	struct lm_link *lk = NULL;
	if (noise_hs_init(&hs, NOISE_RESPONDER, lm->mgr, lm->id.priv, NULL,
			  cfg->has_psk ? cfg->psk : NULL, LM_PROLOGUE, strlen(LM_PROLOGUE)) ||
	    noise_read_message(&hs, h->noise, h->noise_len, pl, sizeof(pl), &pll)) {
		lm->hs.decrypt_fail++;
		goto out;
	}
	if (noise_hs_remote_static(&hs, rs) || !(lk = find_by_pub(lm, rs)) ||
	    !key_allowed(lm, rs)) {
		lm->hs.unknown_key++;
		goto out;
	}
	if (hs_init_payload_decode(pl, pll, &ip) || ip.sender_spi != h->sender_spi) {
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
	if (lk->pend.active) {
		/* From an address we are not sending to (a NAT picked a new port
		 * for the peer): ours cannot be what gets through on this path,
		 * so insisting on it would only delay the link. */
		bool prflx = lk->ncand && !net_endpoint_equal(from, &lk->endpoint) &&
			     cand_index(lk, from) < 0;
		/* A probe never holds up what the peer sends over the relay
		 * (its rekey, say): that path works, ours may not. Probes that
		 * meet (both sides probing) follow the rule below. */
		bool yield = lk->pend.probe && ep_relayed(lk, from);
		if (!prflx && !yield && we_are_lower(lm, lk) &&
		    now - lk->pend.first_ms < LM_COLLISION_WINDOW_MS) {
			lm->hs.collisions++;
			/* P is there now: ours (maybe sent while P was away)
			 * goes again at once, or as soon as the guard allows. */
			uint64_t soon = lk->pend.sent_ms + LM_COLLISION_RETX_MS;
			if (now >= soon)
				initiate(lm, lk, now, false, false, false);
			else if (lk->pend.next_ms > soon)
				lk->pend.next_ms = soon;
			goto out;
		}
		if (lk->pend.probe) {
			probe_end(lm, lk, now, false);
		} else {
			abandon(&lk->pend);
			lk->owe_init = true;
		}
	}

	uint32_t spi = new_spi(lm);
	struct hs_resp_payload rp = {.version = HS_VERSION, .sender_spi = spi};
	uint8_t rpl[HS_RESP_PAYLOAD_LEN], resp[HS_RESP_LEN];
	size_t n = 0;
	hs_resp_payload_encode(&rp, rpl);
	hs_write_header(resp, HS_RESPONSE, h->sender_spi, spi);
	if (noise_write_message(&hs, rpl, sizeof(rpl), resp + HS_HDR_LEN, HS_RESP_NOISE_LEN, &n) ||
	    n != HS_RESP_NOISE_LEN)
		goto out;
	hs_macs_write(resp, HS_RESP_LEN, &lk->keys, NULL);
	struct lm_session s;
	int err = session_make(lm, lk, &hs, spi, h->sender_spi, now, &s);
	if (err) {
		log_err("link %s: cannot create SAs: %s", lk->name, strerror(-err));
		goto out;
	}
	bury(lm, &lk->next);
	lk->next = s;
	lk->next_ep = *from;
	lk->next_rekey = (ip.flags & LM_FLAG_REKEY) != 0;
	explicit_bzero(&s, sizeof(s));
	/* The inbound SA must be in the workers' table before the initiator
	 * can use it: publish first, answer second. */
	if (publish_now(lm) != 0) {
		log_warn("link %s: table not published, not answering the handshake", lk->name);
		bury(lm, &lk->next);
		goto out;
	}
	do_send(lm, from, resp, sizeof(resp));
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
		on_initiation(lm, data, len, &h, from, now_ms);
		break;
	case HS_RESPONSE:
		on_response(lm, data, len, &h, from, now_ms);
		break;
	case HS_COOKIE_REPLY:
		on_cookie_reply(lm, data, len, &h, now_ms);
		break;
	default:
		lm->hs.malformed++;
		break;
	}
}

/* ---- timers -------------------------------------------------------------- */

static void link_tick(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	const struct ipop_config *cfg = lm->cfg;
	struct dp_link_stats *st = &lk->link->stats;
	if (!key_allowed(lm, lk->pub)) {
		/* allowed_keys changed under a live link (reload) */
		if (session_live(&lk->cur) || session_live(&lk->next) || lk->pend.active)
			log_warn("link %s: key no longer in allowed_keys, dropping its sessions",
				 lk->name);
		bury(lm, &lk->cur);
		bury(lm, &lk->next);
		bury(lm, &lk->prev);
		abandon(&lk->pend);
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
			bool rekey = session_live(&lk->cur) && lk->next_rekey;
			memset(&lk->next, 0, sizeof(lk->next));
			if (lk->state != LM_UP)
				note_choice(lk, &lk->next_ep,
					    "first confirmed initiation came from");
			update_endpoint(lm, lk, &lk->next_ep,
					"first confirmed initiation came from");
			switch_in(lm, lk, &s, now);
			count_handshake(lm, lk, rekey, now);
		} else if (now - lk->next.born_ms >= LM_UNCONFIRMED_MS) {
			log_debug("link %s: unconfirmed session expired", lk->name);
			bury(lm, &lk->next);
		}
	}
	if (session_live(&lk->prev) && now >= lk->prev_retire_ms)
		bury(lm, &lk->prev);

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
			send_keepalive(lm, lk);
		lk->ka_tx_packets = atomic_load_explicit(&st->tx_packets, memory_order_relaxed);
		lk->ka_check_ms = now;
	}

	/* Relayed: probe the direct candidates now and then (backoff), never
	 * more than one probe at a time — it is the pending initiation. */
	bool probing = wants_probe(lk);
	if (!probing) {
		lk->probe_at_ms = lk->probe_iv_ms = 0;
	} else if (!lk->probe_at_ms) {
		probe_schedule_first(lm, lk, now);
	}
	bool rekey_due = lk->state == LM_UP &&
			 (now >= lk->rekey_at_ms ||
			  atomic_load_explicit(&lk->cur.sa_out->seq, memory_order_relaxed) >=
			      cfg->rekey_packets);
	/* A probe gives way to a rekey (which pays what the probe leaves
	 * owed) and ends when there is nothing left to probe for. */
	if (lk->pend.active && lk->pend.probe && (!probing || rekey_due))
		probe_end(lm, lk, now, false);

	if (lk->pend.active) {
		if (now >= lk->pend.next_ms) {
			if (lk->pend.probe && lk->pend.attempts >= LM_PROBE_TRIES)
				probe_end(lm, lk, now, true);
			else
				initiate(lm, lk, now, true, false, false);
		}
	} else if (lk->next.sa_in) {
		/* we answered; wait for the initiator's first packet */
	} else if (lk->state != LM_UP || (lk->owe_init && !rekey_due)) {
		initiate(lm, lk, now, true, false, false);
	} else if (rekey_due) {
		initiate(lm, lk, now, true, true, false);
	} else if (probing && now >= lk->probe_at_ms) {
		probe_start(lm, lk, now);
	}
}

void ctl_linkmgr_tick(struct ctl_linkmgr *lm, uint64_t now_ms)
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (!lk)
			continue;
		link_tick(lm, lk, now_ms);
		/* workers may report a roam of this link again */
		atomic_store_explicit(&lk->link->roam_reported, 0, memory_order_relaxed);
	}
}

bool ctl_linkmgr_roam(struct ctl_linkmgr *lm, uint32_t link_id, const struct net_endpoint *from)
{
	const struct ctl_peer *p = lm->peers ? ctl_peers_find_link(lm->peers, link_id) : NULL;
	struct lm_link *lk = p ? p->lk : NULL;
	/* A link retired since the report, or a stale report (the worker
	 * still held the table from before the last move). */
	if (!lk || net_endpoint_equal(&lk->endpoint, from) || !from->port)
		return false;
	/* A direct link never goes back to a relay on data alone: relayed
	 * packets after an upgrade are the peer's last ones from before it
	 * switched too. Should the direct path die, the link times out and
	 * the handshakes that follow choose again. */
	if (!ep_relayed(lk, &lk->endpoint) && ep_relayed(lk, from))
		return false;
	if (lk->ncand)
		note_choice(lk, from, "authenticated data came from");
	else /* configured endpoint: say why it is no longer the one in the file */
		snprintf(lk->why, sizeof(lk->why), "roamed: authenticated data came from there");
	update_endpoint(lm, lk, from, "authenticated data came from");
	lm->hs.roams++;
	return true;
}

void ctl_linkmgr_published(struct ctl_linkmgr *lm, struct ctl_publisher *pub)
{
	for (unsigned i = 0; i < lm->ndead; i++)
		if (ctl_publish_defer_free(pub, lm->dead[i], sa_free))
			log_err("link manager: cannot queue a retired SA, leaking it");
	lm->ndead = 0;
	lm->dirty = false;
}

/* ---- links --------------------------------------------------------------- */

struct dp_sa *ctl_linkmgr_link_sa_out(const struct lm_link *lk)
{
	return lk->state == LM_UP ? lk->cur.sa_out : NULL;
}

unsigned ctl_linkmgr_link_sa_in(const struct lm_link *lk, struct dp_sa *out[3])
{
	unsigned n = 0;
	if (lk->cur.sa_in)
		out[n++] = lk->cur.sa_in;
	if (lk->next.sa_in)
		out[n++] = lk->next.sa_in;
	if (lk->prev.sa_in)
		out[n++] = lk->prev.sa_in;
	return n;
}

int ctl_linkmgr_attach(struct ctl_linkmgr *lm, struct ctl_peers *set, uint64_t now_ms)
{
	(void)lm;
	for (unsigned i = 0; i < set->n; i++) {
		struct ctl_peer *p = &set->v[i];
		if (!p->conf->keyed || p->lk)
			continue;
		struct lm_link *lk = calloc(1, sizeof(*lk));
		if (!lk)
			return -ENOMEM;
		snprintf(lk->name, sizeof(lk->name), "%s", p->conf->name);
		memcpy(lk->pub, p->conf->public_key, NOISE_KEY_LEN);
		hs_mac_keys_derive(lk->pub, &lk->keys);
		lk->link = p->link;
		lk->endpoint = p->conf->endpoint;
		lk->ep_cand = -1;
		lk->state = LM_CONNECTING;
		lk->last_rx_ms = lk->ka_check_ms = now_ms;
		p->lk = lk;
	}
	return 0;
}

void ctl_linkmgr_use(struct ctl_linkmgr *lm, struct ctl_peers *set)
{
	lm->peers = set;
}

static void link_free(struct lm_link *lk)
{
	noise_hs_wipe(&lk->pend.hs);
	explicit_bzero(lk, sizeof(*lk));
	free(lk);
}

void ctl_linkmgr_link_retire(struct lm_link *lk, struct ctl_publisher *pub)
{
	if (!lk)
		return;
	struct lm_session *ss[3] = {&lk->cur, &lk->next, &lk->prev};
	for (unsigned i = 0; i < 3; i++) {
		if (ctl_publish_defer_free(pub, ss[i]->sa_in, sa_free) ||
		    ctl_publish_defer_free(pub, ss[i]->sa_out, sa_free))
			log_err("link %s: cannot queue retired SAs, leaking them", lk->name);
	}
	link_free(lk);
}

void ctl_linkmgr_link_destroy(struct lm_link *lk)
{
	if (!lk)
		return;
	struct lm_session *ss[3] = {&lk->cur, &lk->next, &lk->prev};
	for (unsigned i = 0; i < 3; i++) {
		dp_sa_destroy(ss[i]->sa_in);
		dp_sa_destroy(ss[i]->sa_out);
	}
	link_free(lk);
}

/* ---- setup --------------------------------------------------------------- */

int ctl_linkmgr_init(struct ctl_linkmgr *lm, const struct ipop_config *cfg,
		     const struct ipop_identity *id, uint64_t now_ms)
{
	memset(lm, 0, sizeof(*lm));
	lm->cfg = cfg;
	lm->load_threshold = LM_LOAD_THRESHOLD;
	lm->load_window_ms = now_ms;
	if (id) {
		lm->id = *id;
		lm->have_id = true;
		hs_mac_keys_derive(lm->id.pub, &lm->own_keys);
	}
	hs_cookie_gen_init(&lm->cookie_gen, now_ms);
	lm->mgr = dp_crypto_mgr_create();
	lm->rl = hs_ratelimit_create(LM_RL_SLOTS, LM_RL_RATE, LM_RL_BURST);
	/* descriptor + a buffer that holds headroom and an empty ESP packet */
	lm->ka_pkt = aligned_alloc(64, sizeof(*lm->ka_pkt) + 256);
	if (lm->ka_pkt)
		dp_pkt_attach(lm->ka_pkt, (uint8_t *)(lm->ka_pkt + 1), 256);
	if (!lm->mgr || !lm->rl || !lm->ka_pkt) {
		ctl_linkmgr_fini(lm);
		return -ENOMEM;
	}
	return 0;
}

void ctl_linkmgr_fini(struct ctl_linkmgr *lm)
{
	for (unsigned i = 0; i < lm->ndead; i++)
		dp_sa_destroy(lm->dead[i]);
	free(lm->dead);
	hs_ratelimit_destroy(lm->rl);
	dp_crypto_mgr_destroy(lm->mgr);
	free(lm->ka_pkt);
	ipop_identity_wipe(&lm->id);
	explicit_bzero(lm, sizeof(*lm));
}

void ctl_linkmgr_set_io(struct ctl_linkmgr *lm, lm_send_fn send, lm_publish_fn publish, void *ctx)
{
	lm->send = send;
	lm->publish = publish;
	lm->cb_ctx = ctx;
}

void ctl_linkmgr_set_candidates(struct ctl_linkmgr *lm, struct lm_link *lk,
				const struct lm_cand *cand, unsigned n, uint64_t now_ms)
{
	if (n > LM_MAX_CAND)
		n = LM_MAX_CAND;
	bool same = n == lk->ncand;
	for (unsigned i = 0; same && i < n; i++)
		same = net_endpoint_equal(&cand[i].ep, &lk->cand[i].ep) &&
		       cand[i].type == lk->cand[i].type;
	if (!same) {
		memcpy(lk->cand, cand, n * sizeof(*cand));
		lk->ncand = n;
		lk->ep_cand = -1;
		for (unsigned i = 0; i < n; i++)
			if (net_endpoint_equal(&cand[i].ep, &lk->endpoint))
				lk->ep_cand = (int)i;
		/* new information: a relayed link probes again soon */
		lk->probe_at_ms = 0;
	}
	if (lk->state == LM_UP || !n)
		return;
	if (lk->pend.active && lk->pend.probe) /* down since the last tick: a normal one now */
		probe_end(lm, lk, now_ms, false);
	/* The peer is initiating towards us right now: go at once, but not
	 * faster than the collision guard. */
	if (lk->pend.active && now_ms - lk->pend.sent_ms < LM_COLLISION_RETX_MS) {
		uint64_t soon = lk->pend.sent_ms + LM_COLLISION_RETX_MS;
		if (lk->pend.next_ms > soon)
			lk->pend.next_ms = soon;
		return;
	}
	if (lk->pend.active)
		lk->pend.attempts = 0; /* new information: restart the backoff */
	initiate(lm, lk, now_ms, true, false, false);
}
