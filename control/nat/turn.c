/* TURN relay client (see turn.h). */
#include "control/nat/turn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/classify.h"
#include "util/clock.h"
#include "util/json_counters.h"
#include "util/log.h"

static int underlay_send(struct ctl_turn *t, const struct net_endpoint *to, const void *buf,
			 size_t len)
{
	if (t->send)
		return t->send(t->send_ctx, to, buf, len);
	return t->ops->send(t->ctx, to, buf, len);
}

static const char *fmt(const struct net_endpoint *ep, char *buf)
{
	return net_endpoint_format(ep, buf, NET_ENDPOINT_STRLEN);
}

static bool same_ip(const struct net_endpoint *a, const struct net_endpoint *b)
{
	return memcmp(a->addr, b->addr, 16) == 0;
}

/* ---- requests ----------------------------------------------------------- */

static struct turn_req *req_slot(struct turn_alloc *al, enum turn_req_kind kind, uint16_t chan)
{
	struct turn_req *free_slot = NULL;
	for (unsigned i = 0; i < TURN_MAX_REQ; i++) {
		struct turn_req *r = &al->req[i];
		if (r->active && r->kind == kind && (kind != TREQ_CHANNEL || r->chan == chan))
			return NULL; /* one of this kind at a time */
		if (!r->active && !free_slot)
			free_slot = r;
	}
	return free_slot;
}

/* (Re)builds r's message with a new transaction (after a challenge the
 * credentials are in al->auth) and sends it. */
static int req_send(struct ctl_turn *t, struct turn_alloc *al, struct turn_req *r, uint64_t now)
{
	int n;
	switch (r->kind) {
	case TREQ_ALLOCATE:
		n = turn_allocate_request(&r->txn, &al->auth, r->lifetime, r->buf, sizeof(r->buf));
		break;
	case TREQ_REFRESH:
		n = turn_refresh_request(&r->txn, &al->auth, r->lifetime, r->buf, sizeof(r->buf));
		break;
	case TREQ_PERMISSION: {
		struct net_endpoint ips[TURN_PERM_PER_REQ];
		for (unsigned i = 0; i < r->perm_n; i++)
			ips[i] = al->perm[r->perm_off + i].ip;
		n = turn_create_permission_request(&r->txn, &al->auth, ips, r->perm_n, r->buf,
						   sizeof(r->buf));
		break;
	}
	case TREQ_CHANNEL:
		n = turn_channel_bind_request(&r->txn, &al->auth, al->chan[r->chan].num,
					      &al->chan[r->chan].peer, r->buf, sizeof(r->buf));
		break;
	default:
		n = -EINVAL;
	}
	if (n < 0) {
		r->active = false;
		t->cnt.errors++;
		return n;
	}
	r->len = (uint16_t)n;
	r->active = true;
	stun_txn_start(&r->txn, now, 0);
	t->cnt.requests++;
	int err = underlay_send(t, &al->server, r->buf, r->len);
	if (err)
		log_ratelimited(LOG_DEBUG, "turn: send failed: %s", strerror(-err));
	return 0;
}

static int req_start(struct ctl_turn *t, struct turn_alloc *al, enum turn_req_kind kind,
		     uint32_t lifetime, uint16_t chan, uint16_t perm_off, uint16_t perm_n,
		     uint64_t now)
{
	struct turn_req *r = req_slot(al, kind, chan);
	if (!r)
		return -EBUSY;
	memset(r, 0, offsetof(struct turn_req, buf));
	r->kind = (uint8_t)kind;
	r->lifetime = lifetime;
	r->chan = chan;
	r->perm_off = perm_off;
	r->perm_n = perm_n;
	return req_send(t, al, r, now);
}

/* ---- allocation life ----------------------------------------------------- */

static void alloc_reset(struct ctl_turn *t, struct turn_alloc *al, uint64_t retry_at,
			const char *why)
{
	bool was_ready = al->state == TURN_READY;
	char a[NET_ENDPOINT_STRLEN];
	for (unsigned i = 0; i < TURN_MAX_REQ; i++)
		al->req[i].active = false;
	for (unsigned i = 0; i < al->nchan; i++)
		al->chan[i].bound = al->chan[i].pending = false;
	for (unsigned i = 0; i < al->nperm; i++)
		al->perm[i].installed = false;
	al->perm_dirty = al->nperm > 0;
	al->perm_refresh_ms = al->perm_guard_ms = 0;
	al->state = TURN_IDLE;
	al->next_try_ms = retry_at;
	snprintf(al->last_error, sizeof(al->last_error), "%s", why);
	log_warn("turn %s: %s; allocating again in %llu s", fmt(&al->server, a), why,
		 (unsigned long long)((retry_at > clock_now_ms() ? retry_at - clock_now_ms() : 0) /
				      1000));
	if (was_ready) {
		/* relayed links lose their channel, our relay candidate goes */
		t->ops->changed(t->ctx, true, clock_now_ms());
	}
}

static void alloc_start(struct ctl_turn *t, struct turn_alloc *al, uint64_t now)
{
	/* A release still unanswered (Refresh 0 after a 437) is abandoned: a
	 * late retransmission of it would free the allocation made now. */
	for (unsigned i = 0; i < TURN_MAX_REQ; i++)
		if (al->req[i].active && al->req[i].kind == TREQ_REFRESH)
			al->req[i].active = false;
	al->state = TURN_ALLOCATING;
	if (req_start(t, al, TREQ_ALLOCATE, TURN_LIFETIME_S, 0, 0, 0, now))
		alloc_reset(t, al, now + TURN_RETRY_MS, "cannot build an Allocate request");
}

static void on_allocated(struct ctl_turn *t, struct turn_alloc *al, const struct stun_msg *m,
			 uint64_t now)
{
	char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
	struct turn_allocation res;
	if (turn_allocate_result(m, &res)) {
		alloc_reset(t, al, now + TURN_RETRY_MS,
			    "Allocate success without a relayed address");
		return;
	}
	al->a = res;
	al->state = TURN_READY;
	al->ready_ms = now;
	uint64_t life = (uint64_t)(res.lifetime_s ? res.lifetime_s : TURN_LIFETIME_S) * 1000;
	al->refresh_ms = now + life / 2;
	al->last_error[0] = 0;
	al->perm_dirty = al->nperm > 0;
	t->cnt.allocations++;
	log_info("turn %s: relayed address %s (lifetime %u s)", fmt(&al->server, a),
		 fmt(&res.relayed, b), res.lifetime_s);
	/* workers accept ChannelData from it; a new relay candidate */
	t->ops->changed(t->ctx, true, now);
}

/* ---- channels -------------------------------------------------------------- */

static struct turn_chan *chan_find(struct turn_alloc *al, const struct net_endpoint *peer)
{
	for (unsigned i = 0; i < al->nchan; i++)
		if (net_endpoint_equal(&al->chan[i].peer, peer))
			return &al->chan[i];
	return NULL;
}

/* A peer at X reaches us through this allocation: bind a channel to it
 * (once), so its data arrives as 4-byte-framed ChannelData and ours can go
 * out that way. */
static void chan_want(struct ctl_turn *t, struct turn_alloc *al, const struct net_endpoint *peer,
		      uint64_t now)
{
	struct turn_chan *ch = chan_find(al, peer);
	if (!ch) {
		if (al->nchan >= TURN_MAX_CHAN) {
			log_ratelimited(LOG_WARN, "turn: no channel left for another peer");
			return;
		}
		ch = &al->chan[al->nchan];
		memset(ch, 0, sizeof(*ch));
		ch->peer = *peer;
		ch->peer.via = 0;
		ch->num = (uint16_t)(TURN_CHANNEL_MIN + al->nchan);
		al->nchan++;
	}
	if (ch->bound || ch->pending)
		return;
	if (req_start(t, al, TREQ_CHANNEL, 0, (uint16_t)(ch - al->chan), 0, 0, now) == 0)
		ch->pending = true;
}

/* ---- responses --------------------------------------------------------------- */

static void req_done(struct ctl_turn *t, struct turn_alloc *al, struct turn_req *r,
		     const struct stun_msg *m, uint64_t now)
{
	char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
	r->active = false;
	switch (r->kind) {
	case TREQ_ALLOCATE:
		on_allocated(t, al, m, now);
		break;
	case TREQ_REFRESH:
		if (r->lifetime == 0)
			break;
		t->cnt.refreshes++;
		al->refresh_ms = now + (uint64_t)((m->attrs & STUN_HAS_LIFETIME) && m->lifetime
						      ? m->lifetime
						      : TURN_LIFETIME_S) *
					   500;
		break;
	case TREQ_PERMISSION:
		t->cnt.permissions++;
		for (unsigned i = 0; i < r->perm_n; i++)
			al->perm[r->perm_off + i].installed = true;
		log_debug("turn %s: permission for %u address(es)", fmt(&al->server, a), r->perm_n);
		break;
	case TREQ_CHANNEL: {
		struct turn_chan *ch = &al->chan[r->chan];
		t->cnt.channel_binds++;
		ch->pending = false;
		ch->refresh_ms = now + TURN_CHAN_REFRESH_MS;
		if (!ch->bound)
			log_info("turn %s: channel 0x%04x bound to peer %s", fmt(&al->server, a),
				 ch->num, fmt(&ch->peer, b));
		ch->bound = true;
		t->ops->changed(t->ctx, false, now); /* the link can send through it now */
		break;
	}
	}
}

static void req_failed(struct ctl_turn *t, struct turn_alloc *al, struct turn_req *r,
		       const char *why, uint64_t now)
{
	char a[NET_ENDPOINT_STRLEN];
	r->active = false;
	switch (r->kind) {
	case TREQ_ALLOCATE:
	case TREQ_REFRESH:
		if (r->kind == TREQ_REFRESH && r->lifetime == 0)
			break;
		alloc_reset(t, al, now + TURN_RETRY_MS, why);
		break;
	case TREQ_PERMISSION:
		/* Retried after the guard, a refresh of installed ones too:
		 * they lapse 300 s after the last success. */
		for (unsigned i = 0; i < r->perm_n; i++)
			al->perm[r->perm_off + i].installed = false;
		al->perm_dirty = true;
		al->perm_guard_ms = now + TURN_RETRY_MS;
		log_warn("turn %s: CreatePermission failed: %s", fmt(&al->server, a), why);
		break;
	case TREQ_CHANNEL:
		al->chan[r->chan].pending = false;
		al->chan[r->chan].bound = false;
		al->chan[r->chan].refresh_ms = now + TURN_RETRY_MS;
		log_warn("turn %s: ChannelBind failed: %s", fmt(&al->server, a), why);
		break;
	}
}

static void on_response(struct ctl_turn *t, struct turn_alloc *al, struct turn_req *r,
			const struct stun_msg *m, uint64_t now)
{
	char why[64];
	int rc = turn_response(&r->txn, &al->auth, m);
	switch (rc) {
	case 0:
		r->tries = 0;
		req_done(t, al, r, m, now);
		return;
	case 1:
		/* 401 challenge or 438 stale nonce: once more with the new
		 * credentials, a bounded number of times in a row. */
		if (++r->tries > TURN_AUTH_TRIES) {
			req_failed(t, al, r, "too many authentication challenges", now);
			return;
		}
		t->cnt.auth_retries++;
		if (req_send(t, al, r, now))
			req_failed(t, al, r, "cannot build the request", now);
		return;
	case -EBADMSG:
		t->cnt.dropped++; /* unauthenticated where it must be: ignore it */
		return;
	case -EACCES:
		t->cnt.errors++;
		if (r->kind == TREQ_ALLOCATE || (r->kind == TREQ_REFRESH && r->lifetime)) {
			r->active = false;
			alloc_reset(t, al, now + 6 * TURN_RETRY_MS, "wrong TURN user or password");
			al->state = TURN_FAILED;
			log_err(
			    "turn: the server refused our credentials (check TincanSender.turn)");
			return;
		}
		/* A permission, channel or release: failed like any other
		 * error (a channel must not stay pending for good). */
		req_failed(t, al, r, "credentials refused", now);
		return;
	default:
		t->cnt.errors++;
		snprintf(why, sizeof(why), "%s error %u", stun_method_name(m->method),
			 m->error_code);
		if (r->kind == TREQ_ALLOCATE && m->error_code == STUN_ERR_ALLOCATION_MISMATCH) {
			/* An allocation of ours from before (a restart inside
			 * its lifetime) holds the 5-tuple: release it, then
			 * allocate again. */
			r->active = false;
			alloc_reset(t, al, now + 1000, "the server still holds an old allocation");
			/* After the reset, which forgets every request: the
			 * release is a transaction of its own (retransmitted,
			 * 438 answered) until the Allocate a second later. */
			req_start(t, al, TREQ_REFRESH, 0, 0, 0, 0, now);
			return;
		}
		if (r->kind == TREQ_REFRESH && m->error_code == STUN_ERR_ALLOCATION_MISMATCH) {
			req_failed(t, al, r, "allocation gone", now);
			al->next_try_ms = now;
			return;
		}
		req_failed(t, al, r, why, now);
	}
}

static bool permitted(const struct turn_alloc *al, const struct net_endpoint *peer)
{
	for (unsigned i = 0; i < al->nperm; i++)
		if (same_ip(&al->perm[i].ip, peer))
			return true;
	return false;
}

static struct turn_alloc *alloc_of_server(struct ctl_turn *t, const struct net_endpoint *from)
{
	for (unsigned i = 0; i < t->n; i++)
		if (net_endpoint_equal(&t->al[i].server, from))
			return &t->al[i];
	return NULL;
}

/* What came through the relay from peer X. */
static void relayed_input(struct ctl_turn *t, struct turn_alloc *al,
			  const struct net_endpoint *peer, const uint8_t *data, size_t len,
			  uint64_t now)
{
	static const uint8_t marker[4];
	struct net_endpoint from = *peer;
	from.via = (uint8_t)(al - t->al + 1);
	if (len >= 4 && memcmp(data, marker, 4) == 0) {
		chan_want(t, al, peer, now);
		t->ops->input(t->ctx, data, len, &from, now);
		return;
	}
	if (dp_classify(data, len) == DP_CLASS_ESP) {
		/* ESP before the channel was bound (workers only see
		 * ChannelData): lost, like any early packet; bind now. */
		t->cnt.esp_before_channel++;
		chan_want(t, al, peer, now);
		return;
	}
	t->cnt.dropped++;
}

bool ctl_turn_stun_input(struct ctl_turn *t, const struct stun_msg *m,
			 const struct net_endpoint *from, uint64_t now)
{
	struct turn_alloc *al = alloc_of_server(t, from);
	if (!al)
		return false;
	if (m->cls == STUN_INDICATION && m->method == TURN_DATA) {
		struct net_endpoint peer;
		const uint8_t *data;
		size_t len;
		/* RFC 5766 §10.4: only from an address we gave a
		 * permission (the server forwards nothing else; a forged one
		 * would make us bind a channel, and so permit, any address). */
		if (al->state != TURN_READY || turn_data_indication(m, &peer, &data, &len) ||
		    !permitted(al, &peer)) {
			t->cnt.dropped++;
			return true;
		}
		t->cnt.data_indications++;
		relayed_input(t, al, &peer, data, len, now);
		return true;
	}
	if (m->cls != STUN_SUCCESS && m->cls != STUN_ERROR)
		return false;
	for (unsigned i = 0; i < TURN_MAX_REQ; i++) {
		struct turn_req *r = &al->req[i];
		if (r->active && stun_txn_match(&r->txn, m)) {
			on_response(t, al, r, m, now);
			return true;
		}
	}
	return false; /* maybe a Binding response: the STUN client's */
}

void ctl_turn_channel_input(struct ctl_turn *t, const uint8_t *data, size_t len,
			    const struct net_endpoint *from, uint64_t now)
{
	struct turn_alloc *al = alloc_of_server(t, from);
	uint16_t num;
	const uint8_t *inner;
	size_t ilen;
	if (!al || al->state != TURN_READY ||
	    turn_channel_data_decode(data, len, &num, &inner, &ilen)) {
		t->cnt.dropped++;
		return;
	}
	for (unsigned i = 0; i < al->nchan; i++) {
		if (al->chan[i].num == num && al->chan[i].bound) {
			t->cnt.channel_data_in++;
			relayed_input(t, al, &al->chan[i].peer, inner, ilen, now);
			return;
		}
	}
	t->cnt.unknown_channel++;
}

int ctl_turn_send(struct ctl_turn *t, const struct net_endpoint *to, const void *buf, size_t len)
{
	if (!to->via || to->via > t->n)
		return -EINVAL;
	struct turn_alloc *al = &t->al[to->via - 1];
	if (al->state != TURN_READY)
		return -ENETUNREACH;
	uint8_t out[STUN_MSG_MAX + 64];
	struct net_endpoint peer = *to;
	peer.via = 0;
	struct turn_chan *ch = chan_find(al, &peer);
	int n;
	if (ch && ch->bound) {
		n = turn_channel_data_encode(ch->num, buf, len, false, out, sizeof(out));
		if (n > 0)
			t->cnt.sent_channel_data++;
	} else {
		n = turn_send_indication(&peer, buf, len, out, sizeof(out));
		if (n > 0)
			t->cnt.sent_indications++;
		chan_want(t, al, &peer, clock_now_ms());
	}
	if (n < 0)
		return n;
	return underlay_send(t, &al->server, out, (size_t)n);
}

/* ---- permissions -------------------------------------------------------------- */

void ctl_turn_permit(struct ctl_turn *t, const struct net_endpoint *addr)
{
	for (unsigned k = 0; k < t->n; k++) {
		struct turn_alloc *al = &t->al[k];
		bool have = false;
		for (unsigned i = 0; i < al->nperm && !have; i++)
			have = same_ip(&al->perm[i].ip, addr);
		if (have)
			continue;
		if (al->nperm >= TURN_MAX_PERM) {
			log_ratelimited(LOG_WARN, "turn: permission list full (%u addresses)",
					TURN_MAX_PERM);
			continue;
		}
		struct turn_perm *p = &al->perm[al->nperm++];
		memset(p, 0, sizeof(*p));
		p->ip = *addr;
		p->ip.port = 0;
		p->ip.via = 0;
		al->perm_dirty = true;
	}
}

static void perm_tick(struct ctl_turn *t, struct turn_alloc *al, uint64_t now)
{
	bool refresh = al->perm_refresh_ms && now >= al->perm_refresh_ms;
	if (!al->nperm || now < al->perm_guard_ms || !(al->perm_dirty || refresh))
		return;
	for (unsigned i = 0; i < TURN_MAX_REQ; i++)
		if (al->req[i].active && al->req[i].kind == TREQ_PERMISSION)
			return; /* one batch at a time */
	/* Everything in chunks (each is its own transaction): new
	 * addresses now, all of them on the refresh. */
	for (unsigned off = 0; off < al->nperm; off += TURN_PERM_PER_REQ) {
		unsigned n =
		    al->nperm - off < TURN_PERM_PER_REQ ? al->nperm - off : TURN_PERM_PER_REQ;
		bool needed = refresh;
		for (unsigned i = off; i < off + n && !needed; i++)
			needed = !al->perm[i].installed;
		if (!needed)
			continue;
		struct turn_req *r = NULL;
		for (unsigned i = 0; i < TURN_MAX_REQ && !r; i++)
			if (!al->req[i].active)
				r = &al->req[i];
		if (!r)
			return; /* the rest next tick */
		memset(r, 0, offsetof(struct turn_req, buf));
		r->kind = TREQ_PERMISSION;
		r->perm_off = (uint16_t)off;
		r->perm_n = (uint16_t)n;
		req_send(t, al, r, now);
	}
	al->perm_dirty = false;
	al->perm_refresh_ms = now + TURN_PERM_REFRESH_MS;
}

/* ---- timers -------------------------------------------------------------------- */

void ctl_turn_tick(struct ctl_turn *t, uint64_t now)
{
	for (unsigned k = 0; k < t->n; k++) {
		struct turn_alloc *al = &t->al[k];
		for (unsigned i = 0; i < TURN_MAX_REQ; i++) {
			struct turn_req *r = &al->req[i];
			if (!r->active)
				continue;
			int p = stun_txn_poll(&r->txn, now);
			if (p == 1) {
				t->cnt.retransmits++;
				underlay_send(t, &al->server, r->buf, r->len);
			} else if (p == -ETIMEDOUT) {
				t->cnt.timeouts++;
				req_failed(t, al, r, "no answer from the server", now);
			}
		}
		if ((al->state == TURN_IDLE || al->state == TURN_FAILED) && now >= al->next_try_ms)
			alloc_start(t, al, now);
		if (al->state != TURN_READY)
			continue;
		if (now >= al->refresh_ms) {
			al->refresh_ms = now + TURN_RETRY_MS; /* until the answer */
			req_start(t, al, TREQ_REFRESH, TURN_LIFETIME_S, 0, 0, 0, now);
		}
		perm_tick(t, al, now);
		for (unsigned i = 0; i < al->nchan; i++) {
			struct turn_chan *ch = &al->chan[i];
			if (!ch->pending && ch->refresh_ms && now >= ch->refresh_ms) {
				ch->refresh_ms = 0;
				if (req_start(t, al, TREQ_CHANNEL, 0, (uint16_t)i, 0, 0, now) == 0)
					ch->pending = true;
			}
		}
	}
}

/* ---- setup --------------------------------------------------------------------- */

int ctl_turn_create(struct ctl_turn *t, const struct ipop_config *cfg,
		    const struct ctl_turn_ops *ops, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->ctx = ctx;
	if (!cfg->nturn)
		return 0;
	unsigned n = cfg->nturn < TURN_MAX_ALLOC ? cfg->nturn : TURN_MAX_ALLOC;
	if (cfg->nturn > n)
		log_warn("turn: using the first %u of %u servers", n, cfg->nturn);
	t->al = calloc(n, sizeof(*t->al));
	if (!t->al)
		return -ENOMEM;
	t->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct turn_alloc *al = &t->al[i];
		al->server = cfg->turn[i].server;
		al->server.via = 0;
		int err = turn_auth_init(&al->auth, cfg->turn[i].user, cfg->turn[i].pass);
		if (err) {
			ctl_turn_destroy(t, false);
			return err;
		}
		al->state = TURN_IDLE; /* allocated from the first tick */
	}
	return 0;
}

void ctl_turn_destroy(struct ctl_turn *t, bool release)
{
	for (unsigned i = 0; t->al && i < t->n; i++) {
		struct turn_alloc *al = &t->al[i];
		if (release && al->state == TURN_READY) {
			/* Refresh 0 (RFC 5766 §7): the server frees the relay
			 * port now instead of after the lifetime. One try. */
			struct turn_req r;
			int n = turn_refresh_request(&r.txn, &al->auth, 0, r.buf, sizeof(r.buf));
			if (n > 0)
				underlay_send(t, &al->server, r.buf, (size_t)n);
			explicit_bzero(&r, sizeof(r));
		}
		explicit_bzero(&al->auth, sizeof(al->auth));
	}
	free(t->al);
	t->al = NULL;
	t->n = 0;
}

/* ---- views ---------------------------------------------------------------------- */

unsigned ctl_turn_relayed(const struct ctl_turn *t, struct net_endpoint *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < t->n && n < max; i++)
		if (t->al[i].state == TURN_READY)
			out[n++] = t->al[i].a.relayed;
	return n;
}

void ctl_turn_table(const struct ctl_turn *t, struct dp_table *tbl)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->al[i].state == TURN_READY)
			dp_table_add_relay(tbl, &t->al[i].server);
	for (uint16_t l = 0; l < tbl->nlinks; l++) {
		const struct net_endpoint *ep = &tbl->links[l].endpoint;
		if (!ep->via)
			continue;
		const struct turn_chan *ch = NULL;
		if (ep->via <= t->n && t->al[ep->via - 1].state == TURN_READY) {
			struct net_endpoint peer = *ep;
			peer.via = 0;
			ch = chan_find(&t->al[ep->via - 1], &peer);
		}
		if (ch && ch->bound)
			dp_table_set_link_relay(tbl, l, &t->al[ep->via - 1].server, ch->num);
		else
			tbl->links[l].sa_out = NULL; /* not until the channel is bound */
	}
}

const char *ctl_turn_server_name(const struct ctl_turn *t, uint8_t via, char *buf, size_t len)
{
	if (!via || via > t->n) {
		if (len)
			buf[0] = 0;
		return buf;
	}
	return net_endpoint_format(&t->al[via - 1].server, buf, len);
}

static const char *state_name(enum turn_state s)
{
	switch (s) {
	case TURN_IDLE:
		return "idle";
	case TURN_ALLOCATING:
		return "allocating";
	case TURN_READY:
		return "ready";
	case TURN_FAILED:
		return "failed";
	}
	return "?";
}

static const struct json_counter turn_fields[] = {
    JSON_COUNTER(struct turn_counters, requests),
    JSON_COUNTER(struct turn_counters, retransmits),
    JSON_COUNTER(struct turn_counters, timeouts),
    JSON_COUNTER(struct turn_counters, auth_retries),
    JSON_COUNTER(struct turn_counters, errors),
    JSON_COUNTER(struct turn_counters, allocations),
    JSON_COUNTER(struct turn_counters, refreshes),
    JSON_COUNTER(struct turn_counters, permissions),
    JSON_COUNTER(struct turn_counters, channel_binds),
    JSON_COUNTER(struct turn_counters, data_indications),
    JSON_COUNTER(struct turn_counters, channel_data_in),
    JSON_COUNTER(struct turn_counters, unknown_channel),
    JSON_COUNTER(struct turn_counters, sent_channel_data),
    JSON_COUNTER(struct turn_counters, sent_indications),
    JSON_COUNTER(struct turn_counters, esp_before_channel),
    JSON_COUNTER(struct turn_counters, dropped),
};

json_t *ctl_turn_json(const struct ctl_turn *t)
{
	char a[NET_ENDPOINT_STRLEN];
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (unsigned i = 0; i < t->n; i++) {
		const struct turn_alloc *al = &t->al[i];
		json_t *o = json_pack("{s:s, s:s, s:s}", "server", fmt(&al->server, a), "state",
				      state_name(al->state), "last_error", al->last_error);
		json_t *perms = json_array(), *chans = json_array();
		if (!o || !perms || !chans) {
			json_decref(o), json_decref(perms), json_decref(chans);
			json_decref(arr);
			return NULL;
		}
		if (al->state == TURN_READY) {
			json_object_set_new(o, "relayed", json_string(fmt(&al->a.relayed, a)));
			if (al->a.has_mapped)
				json_object_set_new(o, "mapped",
						    json_string(fmt(&al->a.mapped, a)));
			json_object_set_new(o, "lifetime", json_integer(al->a.lifetime_s));
		}
		for (unsigned k = 0; k < al->nperm; k++) {
			char ip[NET_ENDPOINT_STRLEN];
			fmt(&al->perm[k].ip, ip);
			char *colon = strrchr(ip, ':'); /* the port is not part of it */
			if (colon)
				*colon = 0;
			json_array_append_new(perms, json_pack("{s:s, s:b}", "address", ip,
							       "installed", al->perm[k].installed));
		}
		for (unsigned k = 0; k < al->nchan; k++)
			json_array_append_new(chans, json_pack("{s:s, s:i, s:b}", "peer",
							       fmt(&al->chan[k].peer, a), "channel",
							       al->chan[k].num, "bound",
							       al->chan[k].bound));
		json_object_set_new(o, "permissions", perms);
		json_object_set_new(o, "channels", chans);
		json_array_append_new(arr, o);
	}
	const struct turn_counters *k = &t->cnt;
	json_t *cnt = json_counters(k, turn_fields, JSON_COUNTERS_N(turn_fields));
	return json_pack("{s:o, s:o}", "servers", arr, "counters", cnt ? cnt : json_null());
}
