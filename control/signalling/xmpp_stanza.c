/* Stanzas of the XMPP session: building what we send (our presence, typed
 * presences, the <ipop/> payload element), the member table fed by
 * presences, and the direct messages members send us. Which presences make
 * a member is the group's business (xmpp_muc.c, xmpp_roster.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/signalling/xmpp_internal.h"
#include "util/log.h"

void xmpp_send_stanza(struct ctl_xmpp *x, xmpp_stanza_t *st)
{
	xmpp_send(x->conn, st);
	xmpp_stanza_release(st);
	x->ctr.stanzas_out++;
}

/* <ipop xmlns='urn:ipop:signal:1'>json</ipop>, or NULL. */
xmpp_stanza_t *xmpp_ipop_element(struct ctl_xmpp *x, const char *json)
{
	xmpp_stanza_t *el = xmpp_stanza_new(x->ctx), *text = xmpp_stanza_new(x->ctx);
	if (!el || !text || xmpp_stanza_set_name(el, "ipop") || xmpp_stanza_set_ns(el, SIG_NS) ||
	    xmpp_stanza_set_text(text, json) || xmpp_stanza_add_child_ex(el, text, 0)) {
		if (text)
			xmpp_stanza_release(text);
		if (el)
			xmpp_stanza_release(el);
		return NULL;
	}
	return el;
}

xmpp_stanza_t *xmpp_element(struct ctl_xmpp *x, const char *name, const char *ns)
{
	xmpp_stanza_t *el = xmpp_stanza_new(x->ctx);
	if (el && (xmpp_stanza_set_name(el, name) || (ns && xmpp_stanza_set_ns(el, ns)))) {
		xmpp_stanza_release(el);
		return NULL;
	}
	return el;
}

/* Takes ownership of child (released on failure too). */
int xmpp_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
	if (!child)
		return -ENOMEM;
	if (xmpp_stanza_add_child_ex(parent, child, 0)) {
		xmpp_stanza_release(child);
		return -ENOMEM;
	}
	return 0;
}

/* The text of <ipop xmlns=SIG_NS> in st, malloc'ed by libstrophe; NULL when
 * there is no such child or it is empty. *present: the child exists. */
static char *ipop_text(xmpp_stanza_t *st, bool *present)
{
	xmpp_stanza_t *el = xmpp_stanza_get_child_by_name_and_ns(st, "ipop", SIG_NS);
	*present = el != NULL;
	return el ? xmpp_stanza_get_text(el) : NULL;
}

/* ---- presence we send ---- */

int xmpp_send_own_presence(struct ctl_xmpp *x, bool join)
{
	char json[SIG_MAX_PAYLOAD + 1], to[SIG_JID_MAX + 1];
	xmpp_stanza_t *pres, *x_el;
	int r;

	if (!x->has_self || x->state != CTL_XMPP_ONLINE)
		return 0;
	r = sig_presence_build(&x->self, json, sizeof(json));
	if (r < 0)
		return r;
	pres = xmpp_presence_new(x->ctx);
	if (!pres)
		return -ENOMEM;
	if (x->group == CTL_XMPP_GROUP_MUC) {
		snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
		xmpp_stanza_set_to(pres, to);
		if (join) {
			x_el = xmpp_element(x, "x", NS_MUC);
			xmpp_stanza_t *hist = xmpp_element(x, "history", NULL);
			if (hist)
				xmpp_stanza_set_attribute(hist, "maxstanzas", "0");
			if (!x_el || xmpp_adopt(x_el, hist) || xmpp_adopt(pres, x_el))
				goto nomem;
		}
	} else {
		/* Negative priority: messages to our bare JID (people) are not
		 * routed here; ours always go to full JIDs. */
		xmpp_stanza_t *prio = xmpp_element(x, "priority", NULL),
			      *t = xmpp_stanza_new(x->ctx);
		if (t && xmpp_stanza_set_text(t, "-1")) {
			xmpp_stanza_release(t);
			t = NULL;
		}
		if (!prio || xmpp_adopt(prio, t) || xmpp_adopt(pres, prio))
			goto nomem;
	}
	if (xmpp_adopt(pres, xmpp_ipop_element(x, json)))
		goto nomem;
	xmpp_send_stanza(x, pres);
	if (x->group == CTL_XMPP_GROUP_ROSTER)
		x->in_group = true;
	return 0;
nomem:
	xmpp_stanza_release(pres);
	return -ENOMEM;
}

void xmpp_send_typed_presence(struct ctl_xmpp *x, const char *to, const char *type)
{
	xmpp_stanza_t *pres = xmpp_presence_new(x->ctx);
	if (!pres)
		return;
	if (to)
		xmpp_stanza_set_to(pres, to);
	xmpp_stanza_set_type(pres, type);
	xmpp_send_stanza(x, pres);
}

/* ---- members ---- */

void xmpp_member_gone(void *arg, const char *jid)
{
	struct ctl_xmpp *x = arg;
	log_info("xmpp: member %s unavailable", jid);
	if (x->cb.member_unavailable)
		x->cb.member_unavailable(x->arg, jid);
}

int xmpp_accept_member(struct ctl_xmpp *x, const char *jid, const struct sig_presence *p)
{
	char why[160], id[SIG_NODE_ID_HEXLEN + 1];
	int r = sig_members_update(x->members, jid, p, why, sizeof(why));
	if (r == -EEXIST) {
		x->ctr.member_conflicts++;
		return r;
	}
	if (r < 0) {
		log_ratelimited(LOG_WARN, "xmpp: member %s not recorded: %s", jid, strerror(-r));
		return r;
	}
	x->ctr.presences_accepted++;
	if (r == SIG_MEMBER_SAME)
		return 0;
	sig_node_id_hex(p->node_id, id);
	log_info("xmpp: member %s %s (node %s)", jid,
		 r == SIG_MEMBER_ADDED ? "available" : "changed", id);
	if (x->cb.member_available)
		x->cb.member_available(x->arg, jid, p);
	return 0;
}

void xmpp_member_leaves(struct ctl_xmpp *x, const char *jid)
{
	if (sig_members_remove(x->members, jid) == 0)
		xmpp_member_gone(x, jid);
}

/* Parses the payload of an available presence from `jid`. False when it has
 * none (not an ipopd: a person's client, say) or an invalid one (counted). */
bool xmpp_presence_payload(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *jid,
			   struct sig_presence *p)
{
	char why[160];
	bool present;
	char *text = ipop_text(st, &present);
	int r;

	if (!present)
		return false;
	r = sig_presence_parse(text ? text : "", text ? strlen(text) : 0, p, why, sizeof(why));
	if (text)
		xmpp_free(x->ctx, text);
	if (r) {
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN, "xmpp: presence from %s rejected: %s", jid, why);
		return false;
	}
	return true;
}

int xmpp_on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *from = xmpp_stanza_get_from(st);
	(void)conn;

	x->ctr.stanzas_in++;
	x->last_rx_ms = x->now;
	if (!from || strlen(from) > SIG_JID_MAX)
		return 1;
	if (x->group == CTL_XMPP_GROUP_MUC)
		xmpp_muc_presence(x, st, from, xmpp_stanza_get_type(st));
	else
		xmpp_roster_presence(x, st, from, xmpp_stanza_get_type(st));
	return 1;
}

/* ---- messages ---- */

int xmpp_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st);
	const struct sig_member *m;
	struct sig_message msg;
	char why[160];
	bool present;
	char *text;
	int r;
	(void)conn;

	x->ctr.stanzas_in++;
	x->last_rx_ms = x->now;
	if (!from || (type && (!strcmp(type, "error") || !strcmp(type, "groupchat"))))
		return 1;
	text = ipop_text(st, &present);
	if (!present)
		return 1;
	m = sig_members_find(x->members, from);
	if (!m) {
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN, "xmpp: message from %s ignored: not a member", from);
		goto out;
	}
	r = sig_message_parse(text ? text : "", text ? strlen(text) : 0, &msg, why, sizeof(why));
	if (!r && memcmp(msg.from_id, m->p.node_id, SIG_NODE_ID_LEN)) {
		snprintf(why, sizeof(why), "from_id is not the sender's node id");
		r = -EBADMSG;
	}
	if (!r && (!x->has_self || memcmp(msg.to_id, x->self.node_id, SIG_NODE_ID_LEN))) {
		snprintf(why, sizeof(why), "to_id is not our node id");
		r = -EBADMSG;
	}
	if (r) {
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN, "xmpp: message from %s rejected: %s", from, why);
		goto out;
	}
	x->ctr.messages_accepted++;
	if (x->cb.message)
		x->cb.message(x->arg, from, &msg);
out:
	if (text)
		xmpp_free(x->ctx, text);
	return 1;
}
