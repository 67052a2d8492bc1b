/* Discovery's STUN client (see disc.h): binding requests from the data port
 * to the configured STUN servers, retransmissions, refreshes, and the
 * server-reflexive candidate they teach us. */
#include "control/signalling/disc.h"
#include "control/signalling/disc_internal.h"

#include <errno.h>
#include <string.h>

#include "control/nat/turn.h"
#include "util/log.h"

/* ---- STUN --------------------------------------------------------------------- */

void disc_stun_send(struct ctl_disc *d, struct disc_stun *s, uint64_t now)
{
	s->reqlen = stun_binding_request(&s->txn, true, s->req, sizeof(s->req));
	if (s->reqlen < 0) {
		s->next_ms = now + DISC_STUN_RETRY_MS;
		return;
	}
	int rc = d->env.ops->send(d->env.ctx, &s->server, s->req, (size_t)s->reqlen);
	if (rc)
		log_ratelimited(LOG_DEBUG, "stun: send failed: %s", strerror(-rc));
	stun_txn_start(&s->txn, now, 0);
	s->active = true;
	d->cnt.stun_requests++;
}

void disc_stun_tick(struct ctl_disc *d, uint64_t now)
{
	for (unsigned i = 0; i < d->nstun; i++) {
		struct disc_stun *s = &d->stun[i];
		if (!s->active) {
			if (now >= s->next_ms)
				disc_stun_send(d, s, now);
			continue;
		}
		int r = stun_txn_poll(&s->txn, now);
		if (r == 1) {
			d->env.ops->send(d->env.ctx, &s->server, s->req, (size_t)s->reqlen);
			d->cnt.stun_retransmits++;
		} else if (r == -ETIMEDOUT) {
			char ep[NET_ENDPOINT_STRLEN];
			s->active = false;
			s->next_ms = now + DISC_STUN_RETRY_MS;
			d->cnt.stun_timeouts++;
			log_warn("stun: no answer from %s",
				 net_endpoint_format(&s->server, ep, sizeof(ep)));
		}
	}
}

void ctl_disc_stun_input(struct ctl_disc *d, const uint8_t *data, size_t len,
			 const struct net_endpoint *from, uint64_t now)
{
	struct stun_msg m;
	if (stun_parse(data, len, &m)) {
		d->cnt.stun_errors++;
		return;
	}
	/* TURN answers and Data indications (the TURN server may also be
	 * one of the STUN servers: transaction ids tell them apart). */
	if (ctl_turn_stun_input(d->env.turn, &m, from, now))
		return;
	/* Binding responses are matched by the 96-bit random transaction id. */
	for (unsigned i = 0; i < d->nstun; i++) {
		struct disc_stun *s = &d->stun[i];
		struct net_endpoint mapped;
		char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
		if (!s->active || !stun_txn_match(&s->txn, &m))
			continue;
		s->active = false;
		int r = stun_binding_response(&s->txn, &m, &mapped);
		if (r) {
			d->cnt.stun_errors++;
			s->next_ms = now + DISC_STUN_RETRY_MS;
			log_warn("stun: %s answered with %s %u",
				 net_endpoint_format(&s->server, a, sizeof(a)),
				 r == -EPROTO ? "error" : "no address", m.error_code);
			return;
		}
		d->cnt.stun_responses++;
		s->next_ms = now + DISC_STUN_REFRESH_MS;
		s->last_ok_ms = now;
		if (s->have_mapped && net_endpoint_equal(&s->mapped, &mapped))
			return;
		log_info("stun: %s sees us as %s", net_endpoint_format(&s->server, a, sizeof(a)),
			 net_endpoint_format(&mapped, b, sizeof(b)));
		s->mapped = mapped;
		s->have_mapped = true;
		ctl_disc_candidates_changed(d, now);
		return;
	}
	d->cnt.stun_unmatched++;
}
