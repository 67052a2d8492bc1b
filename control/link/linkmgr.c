/* The link manager (see linkmgr.h), link lifetime: the sessions of keyed
 * links, SPIs, endpoints, attaching, retiring and setting up. Handshakes are
 * in lm_handshake.c, timers (keepalives, probes, liveness) in lm_timers.c.
 *
 * Everything here runs on the control core. The workers see only what the
 * table builder (peers.c) takes from each lm_link: the current outbound SA
 * and the live inbound SAs. SAs leave a link through lm_bury(): they sit on the
 * dead list until a table without them has been published, then go to the
 * publisher's grace period.
 */
#include "control/link/linkmgr.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "control/table/peerset.h"
#include "control/table/publish.h"
#include "control/link/linkmgr_internal.h"
#include "control/nat/candidates.h"
#include "util/log.h"

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
uint64_t lm_jitter(uint64_t ms, unsigned pct)
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

bool lm_session_live(const struct lm_session *s)
{
	return s->sa_in || s->sa_out;
}

/* ---- peers, SPIs, keys --------------------------------------------------- */

struct lm_link *lm_find_by_pub(struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN])
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (lk && lk->key_known && memcmp(lk->pub, pub, NOISE_KEY_LEN) == 0)
			return lk;
	}
	return NULL;
}

struct lm_link *lm_find_by_pending(struct ctl_linkmgr *lm, uint32_t spi)
{
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		if (lk && lk->pend.active && lk->pend.spi == spi)
			return lk;
	}
	return NULL;
}

bool lm_key_allowed(const struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN])
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
bool lm_we_are_lower(const struct ctl_linkmgr *lm, const struct lm_link *lk)
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

uint32_t lm_new_spi(const struct ctl_linkmgr *lm)
{
	for (;;) {
		uint32_t spi = rand_u32() | LM_SPI_TOP_BIT;
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
void lm_bury(struct ctl_linkmgr *lm, struct lm_session *s)
{
	if (!lm_session_live(s))
		return;
	dead_push(lm, s->sa_in);
	dead_push(lm, s->sa_out);
	explicit_bzero(s, sizeof(*s));
	lm->dirty = true;
}

/* Split → one ESP keymat per direction → the two SAs. Wipes hs and every
 * intermediate secret whatever happens. */
int lm_session_make(struct ctl_linkmgr *lm, struct lm_link *lk, struct noise_hs *hs,
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

void lm_schedule_rekey(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	uint64_t iv = lm->cfg->rekey_interval_ms ? lm->cfg->rekey_interval_ms : 120000;
	uint64_t at = lk->cur.born_ms + iv;
	if (!lm_we_are_lower(lm, lk))
		at += iv / 3 + rand_u32() % (iv / 6 + 1);
	lk->rekey_at_ms = at;
	lk->rekey_iv_ms = iv;
}

/* s becomes the current session; the current one becomes the previous for
 * the overlap, and an older previous goes at once. */
void lm_switch_in(struct ctl_linkmgr *lm, struct lm_link *lk, struct lm_session *s, uint64_t now)
{
	lm_bury(lm, &lk->prev);
	if (lm_session_live(&lk->cur)) {
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
	lm_schedule_rekey(lm, lk);
	lm->dirty = true;
}

/* The index of ep among the peer's advertised candidates, or -1. */
int lm_cand_index(const struct lm_link *lk, const struct net_endpoint *ep)
{
	for (unsigned i = 0; i < lk->ncand; i++)
		if (net_endpoint_equal(&lk->cand[i].ep, ep))
			return (int)i;
	return -1;
}

/* Through a TURN server: our own allocation (via), or the peer's relayed
 * address (one of its relay candidates, sent to like any address). */
bool lm_ep_relayed(const struct lm_link *lk, const struct net_endpoint *ep)
{
	int i = ep->via ? -1 : lm_cand_index(lk, ep);
	return ep->via || (i >= 0 && lk->cand[i].type == CAND_RELAY);
}

bool lm_cand_direct(const struct lm_cand *c)
{
	return !c->ep.via && c->type != CAND_RELAY;
}

/* Up through a relay while the peer advertised addresses we could reach
 * directly: worth probing those. */
bool lm_wants_probe(const struct lm_link *lk)
{
	if (lk->state != LM_UP || !lm_ep_relayed(lk, &lk->endpoint))
		return false;
	for (unsigned i = 0; i < lk->ncand; i++)
		if (lm_cand_direct(&lk->cand[i]))
			return true;
	return false;
}

/* Records which candidate (if any) a handshake chose and why. */
void lm_note_choice(struct lm_link *lk, const struct net_endpoint *from, const char *how)
{
	if (!lk->ncand)
		return; /* statically configured: nothing was chosen */
	lk->ep_cand = lm_cand_index(lk, from);
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
void lm_update_endpoint(struct ctl_linkmgr *lm, struct lm_link *lk, const struct net_endpoint *from,
			const char *how)
{
	if (net_endpoint_equal(&lk->endpoint, from))
		return;
	char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
	log_info("link %s: endpoint %s%s -> %s%s", lk->name,
		 net_endpoint_format(&lk->endpoint, a, sizeof(a)),
		 lk->endpoint.via ? " (through our TURN relay)" : "",
		 net_endpoint_format(from, b, sizeof(b)),
		 from->via ? " (through our TURN relay)" : "");
	if (lk->state == LM_UP && lk->ncand && lm_ep_relayed(lk, &lk->endpoint) &&
	    !lm_ep_relayed(lk, from)) {
		char h[64];
		snprintf(h, sizeof(h), "upgraded: %s", how);
		lm_note_choice(lk, from, h);
		lm->hs.upgrades++;
		log_info("link %s: relayed -> direct (%s)", lk->name, lk->why);
	}
	lk->endpoint = *from;
	lm->dirty = true;
}

void lm_send(struct ctl_linkmgr *lm, const struct net_endpoint *to, const void *buf, size_t len)
{
	if (!lm->send)
		return;
	int err = lm->send(lm->cb_ctx, to, buf, len);
	if (err)
		log_ratelimited(LOG_DEBUG, "link manager: send failed: %s", strerror(-err));
}

/* Publishes the current state now; on failure the tick retries (dirty). */
int lm_publish_now(struct ctl_linkmgr *lm)
{
	lm->dirty = true;
	return lm->publish ? lm->publish(lm->cb_ctx) : 0;
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
	if (!lm_ep_relayed(lk, &lk->endpoint) && lm_ep_relayed(lk, from))
		return false;
	if (lk->ncand)
		lm_note_choice(lk, from, "authenticated data came from");
	else /* configured endpoint: say why it is no longer the one in the file */
		snprintf(lk->why, sizeof(lk->why), "roamed: authenticated data came from there");
	lm_update_endpoint(lm, lk, from, "authenticated data came from");
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
		lk->cert_key = p->conf->cert_key;
		lk->key_known = !lk->cert_key;
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
	lm_cert_link_free(lk);
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
	int err = lm_cert_init(lm);
	if (err)
		ctl_linkmgr_fini(lm);
	return err;
}

void ctl_linkmgr_fini(struct ctl_linkmgr *lm)
{
	for (unsigned i = 0; i < lm->ndead; i++)
		dp_sa_destroy(lm->dead[i]);
	free(lm->dead);
	hs_ratelimit_destroy(lm->rl);
	dp_crypto_mgr_destroy(lm->mgr);
	free(lm->ka_pkt);
	lm_cert_fini(lm);
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
	lk->passive = false; /* discovery engaged it */
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
		lm_probe_end(lm, lk, now_ms, false);
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
	lm_initiate(lm, lk, now_ms, true, false, false);
}

void ctl_linkmgr_link_reset(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	bool was_up = lk->state == LM_UP;
	lm_bury(lm, &lk->cur);
	lm_bury(lm, &lk->next);
	lm_bury(lm, &lk->prev);
	lm_pending_abandon(&lk->pend);
	lk->owe_init = false;
	lk->ncand = 0;
	lk->ep_cand = -1;
	lk->probe_at_ms = lk->probe_iv_ms = 0;
	memset(&lk->endpoint, 0, sizeof(lk->endpoint));
	memset(&lk->next_ep, 0, sizeof(lk->next_ep));
	snprintf(lk->why, sizeof(lk->why), "closed by the topology manager");
	lk->state = LM_CONNECTING;
	lk->passive = true;
	if (was_up)
		lm->dirty = true;
}
