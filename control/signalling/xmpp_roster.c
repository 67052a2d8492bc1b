/* The roster group (IPOP's GroupVPN model): members are the contacts we are
 * subscribed to ("to" or "both"), seen at their full JIDs.
 *
 * Membership is derived from the roster's state, never from the order in
 * which the server sends presence and roster pushes (RFC 6121 promises no
 * order between them, and servers differ: prosody pushes the roster item
 * first, ejabberd sends presence first):
 *
 *  - every time an item changes (fetch after login, or push) the contact is
 *    a member candidate exactly when its subscription is to/both;
 *  - a relation that goes (none/from/remove) revokes every full JID of that
 *    contact ever reported to the caller, whether it is still a member or
 *    already left (its unavailable presence came first), also when it went
 *    while we were offline (checked against the roster fetched at login);
 *  - a valid presence from a JID that is not (yet) a subscribed contact is
 *    held (bounded) and taken when the item making it one arrives; we also
 *    probe the new contact, so its presence comes again either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/signalling/xmpp_internal.h"
#include "util/log.h"

static void roster_result(struct ctl_xmpp *x, xmpp_stanza_t *query);

static bool subscribed(enum roster_sub s)
{
	return s == SUB_TO || s == SUB_BOTH;
}

static struct roster_item *roster_find(struct ctl_xmpp *x, const char *jid)
{
	for (unsigned i = 0; i < x->nroster; i++)
		if (xmpp_bare_equals(jid, x->roster[i].jid))
			return &x->roster[i];
	return NULL;
}

static bool own_account(struct ctl_xmpp *x, const char *jid)
{
	return xmpp_bare_equals(jid, x->jid);
}

/* ---- subscription requests from JIDs not (yet) in our roster ---- */

/* Removes `bare` from the pending requests; true when it was there. */
static bool asked_take(struct ctl_xmpp *x, const char *bare)
{
	for (unsigned i = 0; i < x->nasked; i++) {
		if (strcasecmp(x->asked[i], bare))
			continue;
		free(x->asked[i]);
		memmove(&x->asked[i], &x->asked[i + 1], (x->nasked - i - 1) * sizeof(x->asked[0]));
		x->nasked--;
		return true;
	}
	return false;
}

/* Remembers a request from a JID not in our roster. Bounded: anyone may
 * ask, so the oldest request is forgotten (the server still holds it). */
static void asked_add(struct ctl_xmpp *x, const char *bare)
{
	char *dup;

	asked_take(x, bare); /* asked again: now the newest */
	if (!(dup = strdup(bare)))
		return;
	if (x->nasked == ASKED_MAX) {
		free(x->asked[0]);
		memmove(&x->asked[0], &x->asked[1], (ASKED_MAX - 1) * sizeof(x->asked[0]));
		x->nasked--;
	}
	x->asked[x->nasked++] = dup;
}

/* ---- presences held until their sender is a subscribed contact ---- */

static void held_drop(struct ctl_xmpp *x, unsigned i)
{
	free(x->held[i].jid);
	memmove(&x->held[i], &x->held[i + 1], (x->nheld - i - 1) * sizeof(x->held[0]));
	x->nheld--;
}

static void held_forget(struct ctl_xmpp *x, const char *full_jid)
{
	for (unsigned i = 0; i < x->nheld; i++)
		if (!strcmp(x->held[i].jid, full_jid)) {
			held_drop(x, i);
			return;
		}
}

/* Anyone may send directed presence: bounded, the oldest goes first. */
static void held_add(struct ctl_xmpp *x, const char *full_jid, const struct sig_presence *p)
{
	char *dup;

	held_forget(x, full_jid);
	if (!(dup = strdup(full_jid)))
		return;
	if (x->nheld == HELD_MAX)
		held_drop(x, 0);
	x->held[x->nheld].jid = dup;
	x->held[x->nheld].p = *p;
	x->nheld++;
}

/* ---- members reported to the caller, for revocation ---- */

static bool known_has(struct ctl_xmpp *x, const char *full_jid)
{
	for (unsigned i = 0; i < x->nknown; i++)
		if (!strcmp(x->known[i], full_jid))
			return true;
	return false;
}

static void known_drop(struct ctl_xmpp *x, unsigned i)
{
	free(x->known[i]);
	memmove(&x->known[i], &x->known[i + 1], (x->nknown - i - 1) * sizeof(x->known[0]));
	x->nknown--;
}

static void known_add(struct ctl_xmpp *x, const char *full_jid)
{
	char *dup;

	if (known_has(x, full_jid) || !(dup = strdup(full_jid)))
		return;
	if (x->nknown == KNOWN_MAX) {
		/* The oldest that is no longer a member goes (only members
		 * that come and go with new resources get here). */
		unsigned i = 0;
		while (i < x->nknown && sig_members_find(x->members, x->known[i]))
			i++;
		known_drop(x, i < x->nknown ? i : 0);
	}
	x->known[x->nknown++] = dup;
}

/* The relation with `bare` is gone: every full JID of it the caller was told
 * about is revoked (its links must go), member or not any more. */
static void revoke_bare(struct ctl_xmpp *x, const char *bare)
{
	/* (Held presences stay: a relation being set up passes through
	 * "none" with a pending request before it becomes "to".) */
	for (unsigned i = 0; i < x->nknown;) {
		if (!xmpp_bare_equals(x->known[i], bare)) {
			i++;
			continue;
		}
		const char *jid = x->known[i];
		sig_members_remove(x->members, jid);
		log_info("xmpp: member %s removed from the group (roster)", jid);
		if (x->cb.member_revoked)
			x->cb.member_revoked(x->arg, jid);
		else if (x->cb.member_unavailable)
			x->cb.member_unavailable(x->arg, jid);
		known_drop(x, i);
	}
}

/* Records a subscribed contact's presence. Another resource of the same
 * contact carrying the same node (its gateway logged in again before the
 * server noticed the old session died) replaces the older one, instead of
 * being refused as a conflict until the server times the old one out. */
static void take_member(struct ctl_xmpp *x, const char *jid, const struct sig_presence *p)
{
	const struct sig_member *m = NULL;
	char bare[SIG_JID_MAX + 1];

	for (unsigned i = 0; i < sig_members_count(x->members) && !m; i++) {
		const struct sig_member *o = sig_members_at(x->members, i);
		if (!memcmp(o->p.node_id, p->node_id, sizeof(p->node_id)))
			m = o;
	}

	snprintf(bare, sizeof(bare), "%.*s", (int)xmpp_bare_len(jid), jid);
	if (m && strcmp(m->jid, jid) && xmpp_bare_equals(m->jid, bare) &&
	    !memcmp(m->p.public_key, p->public_key, sizeof(p->public_key))) {
		log_info("xmpp: member %s replaces %s (same node, new session)", jid, m->jid);
		for (unsigned i = 0; i < x->nknown; i++)
			if (!strcmp(x->known[i], m->jid)) {
				known_drop(x, i);
				break;
			}
		sig_members_remove(x->members, m->jid);
	}
	if (xmpp_accept_member(x, jid, p) == 0 && !own_account(x, jid))
		known_add(x, jid);
}

/* ---- presence ---- */

void xmpp_roster_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from, const char *type)
{
	struct roster_item *it = roster_find(x, from);
	struct sig_presence p;

	if (!strcmp(from, x->bound))
		return; /* our own broadcast, echoed */
	if (type && !strcmp(type, "subscribe")) {
		char bare[SIG_JID_MAX + 1];
		snprintf(bare, sizeof(bare), "%.*s", (int)xmpp_bare_len(from), from);
		if (it) {
			xmpp_send_typed_presence(x, bare, "subscribed");
			log_info("xmpp: approved %s's subscription (in our roster)", bare);
		} else {
			asked_add(x, bare);
			log_info("xmpp: subscription request from %s not approved: not in our "
				 "roster (approved if the account's owner adds it)",
				 bare);
		}
		return;
	}
	if (type && !strcmp(type, "unavailable")) {
		held_forget(x, from);
		xmpp_member_leaves(x, from);
		return;
	}
	if (type)
		return; /* subscribed/unsubscribe(d) are followed by roster pushes */
	if (!xmpp_presence_payload(x, st, from, &p))
		return;
	if (!own_account(x, from) && (!it || !subscribed(it->sub))) {
		/* Directed presence from outside the group, or a contact's
		 * presence that came before the roster item that makes it
		 * one: held until such an item arrives. */
		x->ctr.rejected_payloads++;
		held_add(x, from, &p);
		log_ratelimited(
		    LOG_WARN, "xmpp: presence from %s held: not a subscribed contact (yet)", from);
		return;
	}
	take_member(x, from, &p);
}

/* ---- roster items ---- */

static enum roster_sub parse_sub(const char *s)
{
	if (!s)
		return SUB_NONE;
	if (!strcmp(s, "to"))
		return SUB_TO;
	if (!strcmp(s, "from"))
		return SUB_FROM;
	if (!strcmp(s, "both"))
		return SUB_BOTH;
	return SUB_NONE;
}

/* `bare` just became a subscribed contact: take what it sent before, and
 * ask the server for its presence (RFC 6121 4.3 probe), which the server
 * answers with the contact's current presence now that we may see it. */
static void became_contact(struct ctl_xmpp *x, const char *bare)
{
	for (unsigned i = 0; i < x->nheld;) {
		if (!xmpp_bare_equals(x->held[i].jid, bare)) {
			i++;
			continue;
		}
		struct held_presence h = x->held[i];
		x->held[i].jid = NULL;
		held_drop(x, i);
		log_info("xmpp: %s is a contact now: taking its earlier presence", h.jid);
		take_member(x, h.jid, &h.p);
		free(h.jid);
	}
	if (x->roster_loaded)
		xmpp_send_typed_presence(x, bare, "probe");
}

/* One <item/> of a roster result or push. */
static void roster_item_apply(struct ctl_xmpp *x, xmpp_stanza_t *item)
{
	const char *jid = xmpp_stanza_get_attribute(item, "jid");
	const char *sub = xmpp_stanza_get_attribute(item, "subscription");
	struct roster_item *it;
	bool was;

	if (!jid || strchr(jid, '/') || !*jid || strlen(jid) > SIG_JID_MAX)
		return;
	it = roster_find(x, jid);
	was = it && subscribed(it->sub);
	if (sub && !strcmp(sub, "remove")) {
		asked_take(x, jid);
		for (unsigned i = 0; i < x->nheld;)
			if (xmpp_bare_equals(x->held[i].jid, jid))
				held_drop(x, i);
			else
				i++;
		if (it) {
			free(it->jid);
			*it = x->roster[--x->nroster];
		}
		if (!own_account(x, jid))
			revoke_bare(x, jid);
		return;
	}
	if (!it) {
		if (x->nroster == x->roster_cap) {
			unsigned cap = x->roster_cap ? 2 * x->roster_cap : 16;
			struct roster_item *v = realloc(x->roster, cap * sizeof(*v));
			if (!v)
				return;
			x->roster = v;
			x->roster_cap = cap;
		}
		it = &x->roster[x->nroster];
		if (!(it->jid = strdup(jid)))
			return;
		x->nroster++;
	}
	it->sub = parse_sub(sub);
	if (!own_account(x, jid)) {
		if (!subscribed(it->sub))
			revoke_bare(x, jid);
		else if (!was)
			became_contact(x, it->jid);
	}
	/* It asked before it was in our roster: approve now (unless the owner
	 * already did, which shows as "from"/"both"). */
	if (asked_take(x, jid) && it->sub != SUB_FROM && it->sub != SUB_BOTH) {
		xmpp_send_typed_presence(x, jid, "subscribed");
		log_info("xmpp: approved %s's earlier subscription request (added to our roster)",
			 jid);
	}
}

void xmpp_roster_push(struct ctl_xmpp *x, xmpp_stanza_t *query)
{
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) && !strcmp(xmpp_stanza_get_name(c), "item"))
			roster_item_apply(x, c);
}

/* The whole roster, after login: relations that went while we were offline
 * are revoked here. */
static void roster_result(struct ctl_xmpp *x, xmpp_stanza_t *query)
{
	if (query)
		xmpp_roster_push(x, query);
	for (unsigned i = 0; i < x->nknown;) {
		struct roster_item *it = roster_find(x, x->known[i]);
		if (it && subscribed(it->sub)) {
			i++;
			continue;
		}
		char bare[SIG_JID_MAX + 1];
		snprintf(bare, sizeof(bare), "%.*s", (int)xmpp_bare_len(x->known[i]), x->known[i]);
		revoke_bare(x, bare); /* drops known[i] and its siblings */
	}
}

static int on_roster_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *type = xmpp_stanza_get_type(st);
	(void)conn;

	if (!type || strcmp(type, "result")) {
		log_err("xmpp: roster request failed; group membership unknown");
		return 0;
	}
	roster_result(x, xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER));
	x->roster_loaded = true;
	log_info("xmpp: roster loaded (%u contacts)", x->nroster);
	/* Our presence goes out only now, so every contact presence that it
	 * triggers finds the roster in place. */
	xmpp_send_own_presence(x, false);
	return 0;
}

void xmpp_roster_request(struct ctl_xmpp *x)
{
	xmpp_stanza_t *iq = xmpp_iq_new(x->ctx, "get", "ipopd-roster");
	if (!iq)
		return;
	if (xmpp_adopt(iq, xmpp_element(x, "query", NS_ROSTER))) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_id_handler_add(x->conn, on_roster_result, "ipopd-roster", x);
	xmpp_send_stanza(x, iq);
}

static void roster_clear(struct ctl_xmpp *x)
{
	for (unsigned i = 0; i < x->nroster; i++)
		free(x->roster[i].jid);
	x->nroster = 0;
}

/* A new session: the roster is fetched again, the server delivers pending
 * requests again, and held presences are sent again by their senders. */
void xmpp_roster_session_reset(struct ctl_xmpp *x)
{
	roster_clear(x);
	for (unsigned i = 0; i < x->nasked; i++)
		free(x->asked[i]);
	x->nasked = 0;
	while (x->nheld)
		held_drop(x, x->nheld - 1);
}

void xmpp_roster_free(struct ctl_xmpp *x)
{
	xmpp_roster_session_reset(x);
	free(x->roster);
	x->roster = NULL;
	x->roster_cap = 0;
	while (x->nknown)
		known_drop(x, x->nknown - 1);
}
