/* The link manager's trust by certificate (docs/protocol.md "Certificates"):
 * our chain in our handshakes, the checks of a peer's chain, the fetch of
 * a certificate for a peer configured by endpoint only, binding such a peer
 * to the key its certificate carries, and dropping links whose certificate
 * was revoked (CRL reloaded on SIGHUP) or expired.
 *
 * Policy (ipopd.trust, fixed at start):
 *   xmpp  today's rule: a configured key, or the XMPP group's word
 *         (certificates are neither sent nor required);
 *   cert  a valid certificate is all a peer needs: configured and
 *         discovered keys must present one, and a peer configured by its
 *         endpoint alone is keyed by its certificate;
 *   both  a configured or discovered key AND a valid certificate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/table/peerset.h"
#include "control/link/linkmgr_internal.h"
#include "util/log.h"

#define FETCH_FIRST_MS 1000
#define FETCH_MAX_MS   30000

int lm_cert_init(struct ctl_linkmgr *lm)
{
	const struct ipop_config *cfg = lm->cfg;
	char err[512] = "";
	int ret;

	lm->trust = cfg->trust;
	if (cfg->trust == IPOP_TRUST_XMPP)
		return 0;
	if (!lm->have_id) {
		log_err("trust \"%s\": no node identity to certify",
			cfg->trust == IPOP_TRUST_CERT ? "cert" : "both");
		return -EINVAL;
	}
	ret = cert_trust_load(&lm->ca, cfg->ca_file, cfg->crl_file, err, sizeof(err));
	if (!ret)
		ret = cert_own_load(&lm->own, cfg->cert_file, lm->id.pub, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	/* Our own chain must pass the checks our peers will make: from
	 * another CA or malformed it is a configuration error; outside its
	 * validity or revoked it may be a clock not yet set or a certificate
	 * about to be replaced, so we run (peers refuse us) and say so. */
	enum cert_verdict v = cert_verify(lm->ca, &lm->own.chain, lm->id.pub, time(NULL), NULL);
	if (v == CERT_EXPIRED || v == CERT_NOT_YET_VALID || v == CERT_REVOKED) {
		log_err("cert_file %s: our own certificate is %s: peers will refuse us",
			cfg->cert_file, cert_verdict_name(v));
	} else if (v != CERT_OK) {
		log_err("cert_file %s: our own certificate is refused by ca_file %s: %s",
			cfg->cert_file, cfg->ca_file, cert_verdict_name(v));
		return -EINVAL;
	}
	int64_t left = lm->own.info.not_after - (int64_t)time(NULL);
	if (left < CERT_EXPIRY_WARN_S)
		log_warn("cert_file %s: our certificate (%s) expires in %lld hours", cfg->cert_file,
			 lm->own.info.subject, (long long)left / 3600);
	log_info("trust by certificate: %s, serial %s, expires in %lld days", lm->own.info.subject,
		 lm->own.info.serial, (long long)left / 86400);
	return 0;
}

void lm_cert_fini(struct ctl_linkmgr *lm)
{
	cert_trust_free(lm->ca);
	lm->ca = NULL;
	cert_own_free(&lm->own);
}

void lm_cert_link_free(struct lm_link *lk)
{
	free(lk->cert_payload);
	lk->cert_payload = NULL;
	cert_fetch_wipe(&lk->fetch);
}

size_t lm_cert_payload_put(const struct ctl_linkmgr *lm, uint8_t *out, size_t pre, size_t cap)
{
	size_t n = 0;
	if (pre > cap || cert_payload_encode(&lm->own.chain, out + pre, cap - pre, &n))
		return 0;
	return pre + n;
}

static const struct ipop_peer_conf *conf_of(const struct ctl_linkmgr *lm, const struct lm_link *lk)
{
	for (unsigned i = 0; lk && lm->peers && i < lm->peers->n; i++)
		if (lm->peers->v[i].lk == lk)
			return lm->peers->v[i].conf;
	return NULL;
}

bool lm_cert_covers(const struct ctl_linkmgr *lm, const struct lm_link *lk,
		    const struct cert_info *ci)
{
	const struct ipop_peer_conf *pc = conf_of(lm, lk);
	if (!pc)
		return true;
	if (pc->ip4 && !cert_info_covers(ci, pc->ip4, 32))
		return false;
	for (unsigned i = 0; i < pc->nroutes; i++) {
		const struct net_prefix *r = &pc->routes[i];
		uint32_t a;
		if (r->family != AF_INET)
			return false; /* node certificates certify IPv4 only */
		memcpy(&a, r->addr + 12, 4);
		if (!cert_info_covers(ci, a, r->len))
			return false;
	}
	return true;
}

static void count(struct ctl_linkmgr *lm, enum cert_verdict v)
{
	uint64_t *c[CERT_VERDICT_COUNT] = {
	    [CERT_OTHER_CA] = &lm->hs.cert_other_ca,
	    [CERT_EXPIRED] = &lm->hs.cert_expired,
	    [CERT_NOT_YET_VALID] = &lm->hs.cert_not_yet_valid,
	    [CERT_REVOKED] = &lm->hs.cert_revoked,
	    [CERT_OTHER_KEY] = &lm->hs.cert_other_key,
	    [CERT_ADDR_NOT_COVERED] = &lm->hs.cert_addr_not_covered,
	    [CERT_INVALID] = &lm->hs.cert_invalid,
	    [CERT_MALFORMED] = &lm->hs.cert_malformed,
	};
	if ((unsigned)v < CERT_VERDICT_COUNT && c[v])
		(*c[v])++;
}

enum cert_verdict lm_cert_check(struct ctl_linkmgr *lm, const struct lm_link *lk,
				const uint8_t *payload, size_t len, const uint8_t *pub,
				const struct net_endpoint *from, struct cert_info *ci)
{
	struct cert_chain chain;
	enum cert_verdict v = CERT_MALFORMED;
	if (!cert_payload_decode(payload, len, &chain))
		v = cert_verify(lm->ca, &chain, pub, time(NULL), ci);
	if (v == CERT_OK && !lm_cert_covers(lm, lk, ci))
		v = CERT_ADDR_NOT_COVERED;
	if (v != CERT_OK)
		lm_cert_refuse(lm, lk, v, from, ci);
	return v;
}

void lm_cert_refuse(struct ctl_linkmgr *lm, const struct lm_link *lk, enum cert_verdict v,
		    const struct net_endpoint *from, const struct cert_info *ci)
{
	count(lm, v);
	char a[NET_ENDPOINT_STRLEN];
	log_ratelimited(LOG_WARN, "link %s: certificate from %s refused: %s%s%s",
			lk ? lk->name : "(none yet)", net_endpoint_format(from, a, sizeof(a)),
			cert_verdict_name(v), v == CERT_ADDR_NOT_COVERED ? " for " : "",
			v == CERT_ADDR_NOT_COVERED ? ci->subject : "");
}

void lm_cert_accept(struct ctl_linkmgr *lm, struct lm_link *lk, const uint8_t *payload, size_t len,
		    const struct cert_info *ci)
{
	(void)lm;
	bool same =
	    lk->has_cert && lk->cert_payload_len == len && !memcmp(lk->cert_payload, payload, len);
	if (!same) {
		uint8_t *copy = malloc(len);
		if (copy) { /* without the copy only the SIGHUP re-check is lost */
			memcpy(copy, payload, len);
			free(lk->cert_payload);
			lk->cert_payload = copy;
			lk->cert_payload_len = len;
		}
		log_info("link %s: certificate %s, serial %s", lk->name, ci->subject, ci->serial);
	}
	lk->cert = *ci;
	lk->has_cert = true;
	int64_t left = ci->not_after - (int64_t)time(NULL);
	if (left < CERT_EXPIRY_WARN_S)
		log_ratelimited(LOG_WARN, "link %s: its certificate (%s) expires in %lld hours",
				lk->name, ci->subject, (long long)left / 3600);
}

static void learn_key(struct lm_link *lk, const uint8_t pub[NOISE_KEY_LEN])
{
	memcpy(lk->pub, pub, NOISE_KEY_LEN);
	hs_mac_keys_derive(lk->pub, &lk->keys);
	lk->key_known = true;
	lk->has_ts = false; /* timestamps were another key's */
	lk->has_cookie = false;
}

struct lm_link *lm_cert_bind(struct ctl_linkmgr *lm, const uint8_t pub[NOISE_KEY_LEN],
			     const struct cert_info *ci, const struct net_endpoint *from)
{
	if (lm->trust != IPOP_TRUST_CERT)
		return NULL;
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++) {
		struct lm_link *lk = lm->peers->v[i].lk;
		const struct ipop_peer_conf *pc = lm->peers->v[i].conf;
		if (!lk || !lk->cert_key || lk->state == LM_UP)
			continue;
		if (!net_endpoint_equal(&pc->endpoint, from) && !(pc->ip4 && pc->ip4 == ci->ip4))
			continue;
		if (!lm_cert_covers(lm, lk, ci)) {
			/* the peer at that endpoint (or address) claims more */
			lm_cert_refuse(lm, lk, CERT_ADDR_NOT_COVERED, from, ci);
			return NULL;
		}
		if (lk->pend.active)
			lm_pending_abandon(&lk->pend); /* it was for the key we did not know */
		lk->fetch_active = false;
		learn_key(lk, pub);
		log_info("link %s: key learned from the certificate of %s", lk->name, ci->subject);
		return lk;
	}
	return NULL;
}

/* ---- fetch --------------------------------------------------------------- */

void lm_cert_fetch(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	uint8_t req[HS_CERTREQ_LEN];
	if (!lm_cert_on(lm) || !lk->endpoint.port || now < lk->fetch_next_ms)
		return;
	if (cert_fetch_request(&lk->fetch, req))
		return;
	lk->fetch_active = true;
	unsigned shift = lk->fetch_attempts < 5 ? lk->fetch_attempts : 5;
	uint64_t delay = (uint64_t)FETCH_FIRST_MS << shift;
	lk->fetch_next_ms = now + lm_jitter(delay > FETCH_MAX_MS ? FETCH_MAX_MS : delay, 20);
	lk->fetch_attempts++;
	lm_send(lm, &lk->endpoint, req, sizeof(req));
	lm->hs.cert_requests_sent++;
}

void lm_cert_on_request(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
			const struct net_endpoint *from, uint64_t now)
{
	uint8_t reply[HS_CERTREQ_LEN];
	size_t n = 0;
	if (!lm_cert_on(lm))
		return;
	lm->hs.cert_requests_received++;
	/* No mac1 is possible (the requester does not know our key): the rate
	 * limit and the load guard bound what requests cost us. */
	if (!hs_ratelimit_allow(lm->rl, from, now) || lm_under_load(lm, now)) {
		lm->hs.ratelimited++;
		return;
	}
	if (cert_fetch_reply(msg, len, &lm->own.chain, reply, sizeof(reply), &n))
		return;
	lm_send(lm, from, reply, n);
	lm->hs.cert_replies_sent++;
}

void lm_cert_on_reply(struct ctl_linkmgr *lm, const uint8_t *msg, size_t len,
		      const struct hs_header *h, const struct net_endpoint *from, uint64_t now)
{
	struct lm_link *lk = NULL;
	uint8_t pl[HS_CERTREQ_LEN];
	size_t pll = 0;
	struct cert_info ci;

	for (unsigned i = 0; lm->peers && i < lm->peers->n && !lk; i++) {
		struct lm_link *l = lm->peers->v[i].lk;
		if (l && l->fetch_active && l->fetch.id == h->receiver_spi)
			lk = l;
	}
	if (!lk || cert_fetch_open(&lk->fetch, msg, len, pl, sizeof(pl), &pll)) {
		lm->hs.malformed++;
		return;
	}
	lm->hs.cert_replies_received++;
	lk->fetch_active = false;
	cert_fetch_wipe(&lk->fetch);
	if (lm_cert_check(lm, lk, pl, pll, NULL, from, &ci) != CERT_OK)
		return; /* retried with backoff: the CRL or the peer may change */
	/* A candidate only: the handshake proves the key, the response
	 * carries the certificate again and it is checked again. */
	learn_key(lk, ci.pub);
	lk->fetch_attempts = 0;
	lm_initiate(lm, lk, now, true, false, false);
}

/* ---- revocation, expiry -------------------------------------------------- */

void lm_link_drop(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	lm_bury(lm, &lk->cur);
	lm_bury(lm, &lk->next);
	lm_bury(lm, &lk->prev);
	lm_pending_abandon(&lk->pend);
	if (lk->state == LM_UP)
		lm->hs.links_down++;
	lk->state = lk->state == LM_UP ? LM_DOWN : lk->state;
	lk->has_cert = false;
	lm->dirty = true;
}

static void recheck(struct ctl_linkmgr *lm, struct lm_link *lk)
{
	struct cert_chain chain;
	struct cert_info ci;
	if (!lk->has_cert || !lk->cert_payload ||
	    cert_payload_decode(lk->cert_payload, lk->cert_payload_len, &chain))
		return;
	enum cert_verdict v = cert_verify(lm->ca, &chain, lk->pub, time(NULL), &ci);
	if (v == CERT_OK && !lm_cert_covers(lm, lk, &ci))
		v = CERT_ADDR_NOT_COVERED;
	if (v == CERT_OK)
		return;
	count(lm, v);
	lm->hs.cert_links_dropped++;
	log_warn("link %s: certificate %s (serial %s) %s: link dropped", lk->name, lk->cert.subject,
		 lk->cert.serial, cert_verdict_name(v));
	lm_link_drop(lm, lk);
}

int ctl_linkmgr_trust_reload(struct ctl_linkmgr *lm)
{
	char err[512] = "";
	if (!lm->ca)
		return 0;
	int ret = cert_trust_reload_crl(lm->ca, err, sizeof(err));
	if (ret) {
		log_err("CRL not reloaded, keeping the previous one: %s", err);
		return ret;
	}
	log_info("trust: CA and CRL reloaded");
	for (unsigned i = 0; lm->peers && i < lm->peers->n; i++)
		if (lm->peers->v[i].lk)
			recheck(lm, lm->peers->v[i].lk);
	return 0;
}

void lm_cert_tick(struct ctl_linkmgr *lm, struct lm_link *lk, uint64_t now)
{
	(void)now;
	if (lk->has_cert && lk->cert.not_after <= (int64_t)time(NULL))
		recheck(lm, lk);
}
