/* The MUC group: members are the occupants of one room whose nick is their
 * node id. We stay in the room for as long as the session lasts: whenever
 * the room says we are out (an unavailable presence for our own nick —
 * kicked, the room destroyed, or an old session of ours ending after we
 * joined again from a new one) or refuses our join, we join again after a
 * backoff of our own (XEP-0045 7.2, status 110 marks presence about us).
 */
#include <stdio.h>
#include <string.h>

#include "control/signalling/xmpp_internal.h"
#include "util/log.h"

void xmpp_muc_join(struct ctl_xmpp *x)
{
	if (!x->has_self)
		return; /* joins on the first ctl_xmpp_set_presence */
	sig_node_id_hex(x->self.node_id, x->nick);
	xmpp_send_own_presence(x, true);
}

static void schedule_rejoin(struct ctl_xmpp *x)
{
	uint64_t d = xmpp_backoff_delay(x, x->rejoin_failures);
	if (x->rejoin_failures < 30)
		x->rejoin_failures++;
	x->rejoin_at = x->now + (d ? d : 1);
	log_info("xmpp: rejoining %s in %llu ms", x->room, (unsigned long long)d);
}

/* Timer: a scheduled rejoin is due. The occupants the room lists again are
 * re-announced; whoever left while we were out is swept after the grace
 * the session uses after a reconnect. */
void xmpp_muc_rejoin_due(struct ctl_xmpp *x)
{
	x->rejoin_at = 0;
	if (x->in_group || !x->has_self)
		return;
	if (!x->resync_pending) {
		sig_members_mark_stale(x->members);
		x->resync_pending = true;
		x->resync_deadline = x->now + x->resync_grace;
	}
	xmpp_muc_join(x);
}

/* XEP-0410 MUC self-ping: an iq ping to our own occupant JID. The room
 * passes it to us (we answer pings) while we are an occupant; any error
 * the room itself gives means we are not in it any more — a room whose
 * cluster node went down, say, says nothing to its occupants. */
static int on_selfping(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
	(void)conn;

	while (cond && !xmpp_stanza_is_tag(cond))
		cond = xmpp_stanza_get_next(cond);
	const char *name = cond ? xmpp_stanza_get_name(cond) : "";
	if (!type || strcmp(type, "error") || !strcmp(name, "service-unavailable") ||
	    !strcmp(name, "feature-not-implemented") || !strcmp(name, "remote-server-timeout"))
		return 0; /* still an occupant */
	if (!x->in_group || !x->started)
		return 0;
	log_warn("xmpp: self-ping in %s failed (%s): we are not in the room any more, joining "
		 "again",
		 x->room, name[0] ? name : "error");
	x->in_group = false;
	if (!x->rejoin_at)
		schedule_rejoin(x);
	return 0;
}

void xmpp_muc_selfping_due(struct ctl_xmpp *x)
{
	char to[SIG_JID_MAX + 1], id[48];
	xmpp_stanza_t *iq;

	x->selfping_ms = x->now;
	snprintf(id, sizeof(id), "ipopd-selfping-%llu", (unsigned long long)++x->ping_seq);
	snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
	iq = xmpp_iq_new(x->ctx, "get", id);
	if (!iq)
		return;
	xmpp_stanza_set_to(iq, to);
	if (xmpp_adopt(iq, xmpp_element(x, "ping", NS_PING))) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_id_handler_add(x->conn, on_selfping, id, x);
	xmpp_send_stanza(x, iq);
}

/* The status codes of <x xmlns=muc#user/> as "110,307", for the log. */
static void status_codes(xmpp_stanza_t *st, char *out, size_t len)
{
	xmpp_stanza_t *xu = xmpp_stanza_get_child_by_name_and_ns(st, "x", NS_MUC_USER);
	size_t n = 0;

	out[0] = 0;
	for (xmpp_stanza_t *c = xu ? xmpp_stanza_get_children(xu) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		const char *code =
		    xmpp_stanza_is_tag(c) && !strcmp(xmpp_stanza_get_name(c), "status")
			? xmpp_stanza_get_attribute(c, "code")
			: NULL;
		if (code && n + strlen(code) + 2 < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", code);
	}
}

static void join_error(struct ctl_xmpp *x, xmpp_stanza_t *st)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
	while (cond && !xmpp_stanza_is_tag(cond))
		cond = xmpp_stanza_get_next(cond);
	const char *name = cond ? xmpp_stanza_get_name(cond) : "unknown error";

	log_err("xmpp: joining %s as %s failed: %s%s", x->room, x->nick, name,
		!strcmp(name, "conflict") ? " (another member uses our node id)" : "");
	x->in_group = false;
	if (x->started && x->state == CTL_XMPP_ONLINE)
		schedule_rejoin(x);
}

void xmpp_muc_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from, const char *type)
{
	struct sig_presence p;
	char id[SIG_NODE_ID_HEXLEN + 1], codes[64];
	const char *nick;

	if (!xmpp_bare_equals(from, x->room))
		return; /* not from our room */
	if (!strchr(from, '/')) {
		if (type && !strcmp(type, "error"))
			join_error(x, st); /* the room itself refused us */
		return;
	}
	nick = strchr(from, '/') + 1;
	bool self = x->nick[0] && !strcmp(nick, x->nick);

	if (type && !strcmp(type, "error")) {
		if (self)
			join_error(x, st);
		return;
	}
	if (type && !strcmp(type, "unavailable")) {
		if (!self) {
			xmpp_member_leaves(x, from);
			return;
		}
		/* After ctl_xmpp_stop it is the room echoing our own goodbye:
		 * no news, not worth a warning. */
		if (!x->started) {
			log_debug("xmpp: left %s", x->room);
			x->in_group = false;
			return;
		}
		status_codes(st, codes, sizeof(codes));
		log_warn("xmpp: %s says we left (status %s): joining again", x->room,
			 codes[0] ? codes : "none");
		x->in_group = false;
		if (!x->rejoin_at)
			schedule_rejoin(x);
		return;
	}
	if (type)
		return; /* subscription types mean nothing from a room */
	if (self) {
		if (!x->in_group)
			log_info("xmpp: joined %s as %s", x->room, x->nick);
		x->in_group = true;
		x->rejoin_at = 0;
		x->rejoin_failures = 0;
		x->selfping_ms = x->now;
		return;
	}
	if (!xmpp_presence_payload(x, st, from, &p))
		return;
	sig_node_id_hex(p.node_id, id);
	if (strcmp(nick, id)) {
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN,
				"xmpp: presence from %s rejected: nick is not its node id %s", from,
				id);
		return;
	}
	xmpp_accept_member(x, from, &p);
}
