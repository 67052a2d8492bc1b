/* XMPP signalling session (see xmpp.h, docs/signalling.md).
 *
 * Owns one libstrophe context and, while a session is wanted, one connection
 * object. A connection object is used for exactly one attempt: when it fails
 * or drops it is released and the next attempt gets a fresh one, so no
 * handler, queue or stream-management state leaks from one session into the
 * next. libstrophe's callbacks only record what happened or act on stanzas;
 * the session state machine (backoff, login timeout, keepalive, resync) runs
 * in ctl_xmpp_poll on the caller's clock.
 */
#include "control/signalling/xmpp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/random.h>

#include "util/log.h"

#define NS_MUC		   "http://jabber.org/protocol/muc"
#define NS_ROSTER	   "jabber:iq:roster"
#define NS_PING		   "urn:xmpp:ping"
#define NS_HINTS	   "urn:xmpp:hints"
#define STABLE_MS	   30000 /* a session that lasted this long resets the backoff */
#define CONNECTING_WAIT_MS 20
#define ASKED_MAX	   16 /* subscription requests remembered per session */

enum roster_sub { SUB_NONE = 0, SUB_TO, SUB_FROM, SUB_BOTH };

struct roster_item {
	char *jid; /* bare */
	enum roster_sub sub;
};

struct ctl_xmpp {
	/* configuration (owned copies) */
	char *jid, *domain, *full_jid, *password, *host, *ca_file, *room;
	uint16_t port;
	bool allow_plaintext;
	enum ctl_xmpp_group group;
	unsigned backoff_min, backoff_max, login_timeout, ping_interval, ping_timeout;
	unsigned resync_grace;
	struct ctl_xmpp_callbacks cb;
	void *arg;

	xmpp_ctx_t *ctx;
	xmpp_log_t log;
	xmpp_conn_t *conn;
	bool releasing;	 /* our own xmpp_conn_release: ignore its events */
	bool conn_ended; /* libstrophe reported DISCONNECT/FAIL for conn */
	bool session_up; /* conn reached CONNECT */
	int fd;
	uint64_t fd_gen;

	enum ctl_xmpp_state state;
	bool started;
	uint64_t now, attempt_ms, online_ms, next_retry_ms, last_rx_ms;
	unsigned failures;
	uint64_t rng;

	/* asynchronous name resolution */
	bool gai_busy, resolving;
	struct gaicb gai;
	struct addrinfo hints;

	bool in_group, roster_loaded;
	bool ping_outstanding;
	uint64_t ping_sent_ms, ping_seq;
	bool resync_pending;
	uint64_t resync_deadline;
	char sasl_mech[32];
	char bound[SIG_JID_MAX + 1];

	struct roster_item *roster;
	unsigned nroster, roster_cap;
	/* Bare JIDs that asked for our presence while not in our roster, oldest
	 * first. The server keeps such a request pending but delivers it again
	 * only at our next login: when the account's owner adds the JID later in
	 * this session (a roster push), we approve it then, or the relation
	 * would stay one-way until we reconnect. */
	char *asked[ASKED_MAX];
	unsigned nasked;

	bool has_self;
	struct sig_presence self;
	char nick[SIG_NODE_ID_HEXLEN + 1]; /* MUC nick in use for the current join */
	struct sig_members *members;
	struct ctl_xmpp_counters ctr;
};

static unsigned strophe_users; /* xmpp_initialize/xmpp_shutdown pairing (control thread) */

/* libstrophe 0.12 has no getter for its socket; it does call the sockopt
 * callback with the socket for every socket it creates, synchronously inside
 * xmpp_connect_client or xmpp_run_once. We read this right after each. */
static _Thread_local struct {
	xmpp_conn_t *conn;
	int fd;
} sock_seen;

const char *ctl_xmpp_state_name(enum ctl_xmpp_state s)
{
	switch (s) {
	case CTL_XMPP_DISCONNECTED:
		return "disconnected";
	case CTL_XMPP_CONNECTING:
		return "connecting";
	case CTL_XMPP_ONLINE:
		return "online";
	case CTL_XMPP_BACKOFF:
		return "backoff";
	}
	return "?";
}

static void set_state(struct ctl_xmpp *x, enum ctl_xmpp_state s)
{
	if (x->state == s)
		return;
	log_info("xmpp: %s: %s -> %s", x->full_jid, ctl_xmpp_state_name(x->state),
		 ctl_xmpp_state_name(s));
	x->state = s;
	if (x->cb.state_changed)
		x->cb.state_changed(x->arg, s);
}

static uint64_t rng_next(struct ctl_xmpp *x)
{
	/* xorshift64*: jitter only needs to decorrelate clients, not secrecy */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return x->rng * UINT64_C(2685821657736338717);
}

/* ---- libstrophe glue ---- */

static void strophe_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
	struct ctl_xmpp *x = userdata;
	char mech[32];

	if (level == XMPP_LEVEL_DEBUG) {
		if (sscanf(msg, "SASL %31s auth successful", mech) == 1)
			snprintf(x->sasl_mech, sizeof(x->sasl_mech), "%s", mech);
		/* Raw traffic (SENT/RECV) may hold credentials: never forwarded. */
		if (log_get_level() >= LOG_DEBUG && strcmp(area, "conn") &&
		    strncmp(msg, "SENT", 4) && strncmp(msg, "RECV", 4))
			log_debug("xmpp: libstrophe %s: %s", area, msg);
		return;
	}
	if (level == XMPP_LEVEL_ERROR)
		log_err("xmpp: libstrophe %s: %s", area, msg);
	else if (level == XMPP_LEVEL_WARN)
		log_warn("xmpp: libstrophe %s: %s", area, msg);
	else
		log_info("xmpp: libstrophe %s: %s", area, msg);
}

static int sockopt_cb(xmpp_conn_t *conn, void *sock)
{
	sock_seen.conn = conn;
	sock_seen.fd = *(int *)sock;
	/* TCP keepalive too: catches a dead path even when XMPP pings cannot
	 * be sent (full send buffer). */
	return xmpp_sockopt_cb_keepalive(conn, sock);
}

static int certfail_cb(const xmpp_tlscert_t *cert, const char *errormsg)
{
	const char *subject = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT);
	log_err("xmpp: server certificate rejected (%s): %s", subject ? subject : "?", errormsg);
	return 0; /* never connect to an unverified server */
}

static void capture_fd(struct ctl_xmpp *x)
{
	if (x->conn && sock_seen.conn == x->conn && sock_seen.fd != x->fd) {
		x->fd = sock_seen.fd;
		x->fd_gen++;
	}
	sock_seen.conn = NULL;
}

static void send_stanza(struct ctl_xmpp *x, xmpp_stanza_t *st)
{
	xmpp_send(x->conn, st);
	xmpp_stanza_release(st);
	x->ctr.stanzas_out++;
}

/* <ipop xmlns='urn:ipop:signal:1'>json</ipop>, or NULL. */
static xmpp_stanza_t *ipop_element(struct ctl_xmpp *x, const char *json)
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

static xmpp_stanza_t *element(struct ctl_xmpp *x, const char *name, const char *ns)
{
	xmpp_stanza_t *el = xmpp_stanza_new(x->ctx);
	if (el && (xmpp_stanza_set_name(el, name) || (ns && xmpp_stanza_set_ns(el, ns)))) {
		xmpp_stanza_release(el);
		return NULL;
	}
	return el;
}

/* Takes ownership of child (released on failure too). */
static int adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
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
 * there is no such child. *empty when the child has no text. */
static char *ipop_text(struct ctl_xmpp *x, xmpp_stanza_t *st, bool *present)
{
	xmpp_stanza_t *el = xmpp_stanza_get_child_by_name_and_ns(st, "ipop", SIG_NS);
	*present = el != NULL;
	(void)x;
	return el ? xmpp_stanza_get_text(el) : NULL;
}

/* ---- presence we send ---- */

static int send_own_presence(struct ctl_xmpp *x, bool join)
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
			x_el = element(x, "x", NS_MUC);
			xmpp_stanza_t *hist = element(x, "history", NULL);
			if (hist)
				xmpp_stanza_set_attribute(hist, "maxstanzas", "0");
			if (!x_el || adopt(x_el, hist) || adopt(pres, x_el))
				goto nomem;
		}
	} else {
		/* Negative priority: messages to our bare JID (people) are not
		 * routed here; ours always go to full JIDs. */
		xmpp_stanza_t *prio = element(x, "priority", NULL), *t = xmpp_stanza_new(x->ctx);
		if (t && xmpp_stanza_set_text(t, "-1")) {
			xmpp_stanza_release(t);
			t = NULL;
		}
		if (!prio || adopt(prio, t) || adopt(pres, prio))
			goto nomem;
	}
	if (adopt(pres, ipop_element(x, json)))
		goto nomem;
	send_stanza(x, pres);
	if (x->group == CTL_XMPP_GROUP_ROSTER)
		x->in_group = true;
	return 0;
nomem:
	xmpp_stanza_release(pres);
	return -ENOMEM;
}

static void send_typed_presence(struct ctl_xmpp *x, const char *to, const char *type)
{
	xmpp_stanza_t *pres = xmpp_presence_new(x->ctx);
	if (!pres)
		return;
	if (to)
		xmpp_stanza_set_to(pres, to);
	xmpp_stanza_set_type(pres, type);
	send_stanza(x, pres);
}

/* ---- members ---- */

static void member_gone(void *arg, const char *jid)
{
	struct ctl_xmpp *x = arg;
	log_info("xmpp: member %s unavailable", jid);
	if (x->cb.member_unavailable)
		x->cb.member_unavailable(x->arg, jid);
}

static void member_revoked(void *arg, const char *jid)
{
	struct ctl_xmpp *x = arg;
	log_info("xmpp: member %s removed from the group (roster)", jid);
	if (x->cb.member_revoked)
		x->cb.member_revoked(x->arg, jid);
	else if (x->cb.member_unavailable)
		x->cb.member_unavailable(x->arg, jid);
}

static void accept_member(struct ctl_xmpp *x, const char *jid, const struct sig_presence *p)
{
	char why[160], id[SIG_NODE_ID_HEXLEN + 1];
	int r = sig_members_update(x->members, jid, p, why, sizeof(why));
	if (r == -EEXIST) {
		x->ctr.member_conflicts++;
		return;
	}
	if (r < 0) {
		log_ratelimited(LOG_WARN, "xmpp: member %s not recorded: %s", jid, strerror(-r));
		return;
	}
	x->ctr.presences_accepted++;
	if (r == SIG_MEMBER_SAME)
		return;
	sig_node_id_hex(p->node_id, id);
	log_info("xmpp: member %s %s (node %s)", jid,
		 r == SIG_MEMBER_ADDED ? "available" : "changed", id);
	if (x->cb.member_available)
		x->cb.member_available(x->arg, jid, p);
}

static void member_leaves(struct ctl_xmpp *x, const char *jid)
{
	if (sig_members_remove(x->members, jid) == 0)
		member_gone(x, jid);
}

/* Parses the payload of an available presence from `jid`; NULL-free. */
static bool presence_payload(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *jid,
			     struct sig_presence *p)
{
	char why[160];
	bool present;
	char *text = ipop_text(x, st, &present);
	int r;

	if (!present)
		return false; /* not an ipopd (a person's client, say): not a member */
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

static size_t bare_len(const char *jid)
{
	const char *slash = strchr(jid, '/');
	return slash ? (size_t)(slash - jid) : strlen(jid);
}

static bool bare_equals(const char *jid, const char *bare)
{
	size_t n = bare_len(jid);
	return n == strlen(bare) && !strncasecmp(jid, bare, n);
}

static void muc_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from, const char *type)
{
	struct sig_presence p;
	char id[SIG_NODE_ID_HEXLEN + 1];
	const char *nick;

	if (!bare_equals(from, x->room) || !strchr(from, '/'))
		return; /* not from our room's occupants */
	nick = strchr(from, '/') + 1;
	bool self = x->nick[0] && !strcmp(nick, x->nick);

	if (type && !strcmp(type, "error")) {
		if (self || !strchr(from, '/')) {
			xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
			xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
			log_err("xmpp: joining %s as %s failed: %s%s", x->room, x->nick,
				cond ? xmpp_stanza_get_name(cond) : "unknown error",
				cond && !strcmp(xmpp_stanza_get_name(cond), "conflict")
				    ? " (another member uses our node id)"
				    : "");
			x->in_group = false;
		}
		return;
	}
	if (type && !strcmp(type, "unavailable")) {
		if (self) {
			/* After ctl_xmpp_stop it is the room echoing our own
			 * goodbye: no news, not worth a warning. */
			if (x->started)
				log_warn("xmpp: we left %s (kicked, banned or room closed)",
					 x->room);
			else
				log_debug("xmpp: left %s", x->room);
			x->in_group = false;
		} else {
			member_leaves(x, from);
		}
		return;
	}
	if (type)
		return; /* subscription types mean nothing from a room */
	if (self) {
		if (!x->in_group)
			log_info("xmpp: joined %s as %s", x->room, x->nick);
		x->in_group = true;
		return;
	}
	if (!presence_payload(x, st, from, &p))
		return;
	sig_node_id_hex(p.node_id, id);
	if (strcmp(nick, id)) {
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN,
				"xmpp: presence from %s rejected: nick is not its node id %s", from,
				id);
		return;
	}
	accept_member(x, from, &p);
}

static struct roster_item *roster_find(struct ctl_xmpp *x, const char *jid)
{
	for (unsigned i = 0; i < x->nroster; i++)
		if (bare_equals(jid, x->roster[i].jid))
			return &x->roster[i];
	return NULL;
}

static bool own_account(struct ctl_xmpp *x, const char *jid)
{
	return bare_equals(jid, x->jid);
}

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

static void asked_clear(struct ctl_xmpp *x)
{
	for (unsigned i = 0; i < x->nasked; i++)
		free(x->asked[i]);
	x->nasked = 0;
}

static void roster_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from,
			    const char *type)
{
	struct roster_item *it = roster_find(x, from);
	struct sig_presence p;

	if (!strcmp(from, x->bound))
		return; /* our own broadcast, echoed */
	if (type && !strcmp(type, "subscribe")) {
		char bare[SIG_JID_MAX + 1];
		snprintf(bare, sizeof(bare), "%.*s", (int)bare_len(from), from);
		if (it) {
			send_typed_presence(x, bare, "subscribed");
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
		member_leaves(x, from);
		return;
	}
	if (type)
		return; /* subscribed/unsubscribe(d) are followed by roster pushes */
	if (!own_account(x, from) && (!it || (it->sub != SUB_TO && it->sub != SUB_BOTH))) {
		/* Directed presence from outside the group. */
		x->ctr.rejected_payloads++;
		log_ratelimited(LOG_WARN,
				"xmpp: presence from %s ignored: not a subscribed contact", from);
		return;
	}
	if (!presence_payload(x, st, from, &p))
		return;
	accept_member(x, from, &p);
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *from = xmpp_stanza_get_from(st);
	(void)conn;

	x->ctr.stanzas_in++;
	x->last_rx_ms = x->now;
	if (!from || strlen(from) > SIG_JID_MAX)
		return 1;
	if (x->group == CTL_XMPP_GROUP_MUC)
		muc_presence(x, st, from, xmpp_stanza_get_type(st));
	else
		roster_presence(x, st, from, xmpp_stanza_get_type(st));
	return 1;
}

/* ---- messages ---- */

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
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
	text = ipop_text(x, st, &present);
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

/* ---- roster ---- */

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

/* One <item/> of a roster result or push. */
static void roster_item_apply(struct ctl_xmpp *x, xmpp_stanza_t *item)
{
	const char *jid = xmpp_stanza_get_attribute(item, "jid");
	const char *sub = xmpp_stanza_get_attribute(item, "subscription");
	struct roster_item *it;

	if (!jid || strchr(jid, '/') || !*jid || strlen(jid) > SIG_JID_MAX)
		return;
	it = roster_find(x, jid);
	if (sub && !strcmp(sub, "remove")) {
		asked_take(x, jid);
		if (it) {
			free(it->jid);
			*it = x->roster[--x->nroster];
		}
		sig_members_remove_bare(x->members, jid, member_revoked, x);
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
	if (it->sub != SUB_TO && it->sub != SUB_BOTH && !own_account(x, jid))
		sig_members_remove_bare(x->members, jid, member_revoked, x);
	/* It asked before it was in our roster: approve now (unless the owner
	 * already did, which shows as "from"/"both"). */
	if (asked_take(x, jid) && it->sub != SUB_FROM && it->sub != SUB_BOTH) {
		send_typed_presence(x, jid, "subscribed");
		log_info("xmpp: approved %s's earlier subscription request (added to our roster)",
			 jid);
	}
}

static void roster_apply(struct ctl_xmpp *x, xmpp_stanza_t *query)
{
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) && !strcmp(xmpp_stanza_get_name(c), "item"))
			roster_item_apply(x, c);
}

static int on_roster_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER);
	(void)conn;

	if (!type || strcmp(type, "result")) {
		log_err("xmpp: roster request failed; group membership unknown");
		return 0;
	}
	if (q)
		roster_apply(x, q);
	x->roster_loaded = true;
	log_info("xmpp: roster loaded (%u contacts)", x->nroster);
	/* Our presence goes out only now, so every contact presence that it
	 * triggers finds the roster in place. */
	send_own_presence(x, false);
	return 0;
}

static void reply_iq(struct ctl_xmpp *x, xmpp_stanza_t *st, bool ok)
{
	const char *id = xmpp_stanza_get_id(st), *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *r;

	if (!id)
		return; /* an iq without id cannot be answered */
	if (ok) {
		r = xmpp_iq_new(x->ctx, "result", id);
		if (r && from)
			xmpp_stanza_set_to(r, from);
	} else {
		r = xmpp_stanza_reply_error(st, "cancel", "service-unavailable", NULL);
	}
	if (r)
		send_stanza(x, r);
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *type = xmpp_stanza_get_type(st), *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *q;
	(void)conn;

	x->ctr.stanzas_in++;
	x->last_rx_ms = x->now;
	if (!type || (strcmp(type, "get") && strcmp(type, "set")))
		return 1; /* results and errors: id handlers take ours */
	if (!strcmp(type, "get") && xmpp_stanza_get_child_by_name_and_ns(st, "ping", NS_PING)) {
		reply_iq(x, st, true);
		return 1;
	}
	q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER);
	if (q && !strcmp(type, "set")) {
		/* RFC 6121 2.1.6: pushes come from our own account only. */
		if (from && !bare_equals(from, x->jid)) {
			log_ratelimited(LOG_WARN, "xmpp: roster push from %s ignored", from);
			reply_iq(x, st, false);
			return 1;
		}
		roster_apply(x, q);
		reply_iq(x, st, true);
		return 1;
	}
	reply_iq(x, st, false);
	return 1;
}

static int on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	(void)conn;
	(void)st;
	x->ping_outstanding = false; /* a result or an error: the server is there */
	return 0;
}

/* ---- session ---- */

static void send_ping(struct ctl_xmpp *x)
{
	char id[32];
	xmpp_stanza_t *iq;

	snprintf(id, sizeof(id), "ipopd-ping-%llu", (unsigned long long)++x->ping_seq);
	iq = xmpp_iq_new(x->ctx, "get", id);
	if (!iq)
		return;
	xmpp_stanza_set_to(iq, x->domain);
	if (adopt(iq, element(x, "ping", NS_PING))) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_id_handler_add(x->conn, on_pong, id, x);
	send_stanza(x, iq);
	x->ping_outstanding = true;
	x->ping_sent_ms = x->now;
	x->ctr.pings_sent++;
}

static void roster_clear(struct ctl_xmpp *x)
{
	for (unsigned i = 0; i < x->nroster; i++)
		free(x->roster[i].jid);
	x->nroster = 0;
}

static void join_group(struct ctl_xmpp *x)
{
	if (x->group == CTL_XMPP_GROUP_MUC) {
		if (!x->has_self)
			return; /* joins on the first ctl_xmpp_set_presence */
		sig_node_id_hex(x->self.node_id, x->nick);
		send_own_presence(x, true);
		return;
	}
	xmpp_stanza_t *iq = xmpp_iq_new(x->ctx, "get", "ipopd-roster");
	if (!iq)
		return;
	if (adopt(iq, element(x, "query", NS_ROSTER))) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_id_handler_add(x->conn, on_roster_result, "ipopd-roster", x);
	send_stanza(x, iq);
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
		    void *userdata)
{
	struct ctl_xmpp *x = userdata;

	if (x->releasing || conn != x->conn)
		return;
	if (ev == XMPP_CONN_CONNECT) {
		const char *b = xmpp_conn_get_bound_jid(conn);
		snprintf(x->bound, sizeof(x->bound), "%s", b ? b : x->full_jid);
		x->session_up = true;
		x->online_ms = x->last_rx_ms = x->now;
		x->ping_outstanding = false;
		x->in_group = x->roster_loaded = false;
		x->nick[0] = 0;
		roster_clear(x);
		asked_clear(x); /* the server delivers pending requests again */
		x->ctr.connects++;
		log_info("xmpp: %s online over %s, SASL %s", x->bound,
			 xmpp_conn_is_secured(conn) ? "TLS" : "PLAINTEXT",
			 x->sasl_mech[0] ? x->sasl_mech : "?");
		set_state(x, CTL_XMPP_ONLINE);
		x->resync_pending = true;
		x->resync_deadline = x->now + x->resync_grace;
		join_group(x);
		return;
	}
	if (ev != XMPP_CONN_DISCONNECT && ev != XMPP_CONN_FAIL)
		return;
	x->conn_ended = true;
	if (se)
		log_warn("xmpp: %s: stream error %d%s%s", x->full_jid, (int)se->type,
			 se->text ? ": " : "", se->text ? se->text : "");
	else if (error)
		log_info("xmpp: %s: connection ended (error %d)", x->full_jid, error);
}

static void drop_conn(struct ctl_xmpp *x)
{
	if (x->conn) {
		x->releasing = true;
		xmpp_conn_release(x->conn);
		x->releasing = false;
		x->conn = NULL;
	}
	if (x->fd >= 0) {
		x->fd = -1;
		x->fd_gen++;
	}
	x->conn_ended = x->session_up = false;
}

static void schedule_retry(struct ctl_xmpp *x)
{
	unsigned shift = x->failures < 20 ? x->failures : 20;
	uint64_t d = (uint64_t)x->backoff_min << shift, delay;

	if (d > x->backoff_max)
		d = x->backoff_max;
	/* Equal jitter: at least half the step, so retries keep spreading out,
	 * and random in the other half, so clients that lost the same server
	 * at the same moment do not come back in lockstep. */
	delay = d / 2 + rng_next(x) % (d / 2 + 1);
	x->failures++;
	x->next_retry_ms = x->now + delay;
	log_info("xmpp: %s: retrying in %llu ms", x->full_jid, (unsigned long long)delay);
	set_state(x, CTL_XMPP_BACKOFF);
}

/* The current attempt or session is over, for whatever reason. */
static void end_session(struct ctl_xmpp *x, const char *why)
{
	bool was_up = x->session_up;

	drop_conn(x);
	x->resolving = false;
	x->in_group = x->roster_loaded = x->ping_outstanding = x->resync_pending = false;
	x->bound[0] = 0;
	if (was_up) {
		x->ctr.disconnects++;
		if (x->now - x->online_ms >= STABLE_MS)
			x->failures = 0;
		/* Keep the members: links do not depend on XMPP. Whoever has not
		 * re-announced within resync_grace after we are back is gone. */
		sig_members_mark_stale(x->members);
		if (x->started)
			log_warn("xmpp: %s: session lost%s%s", x->full_jid, why ? ": " : "",
				 why ? why : "");
		else
			log_info("xmpp: %s: session closed", x->full_jid);
	} else {
		x->ctr.connect_failures++;
		log_warn("xmpp: %s: connecting to %s:%u failed%s%s", x->full_jid, x->host, x->port,
			 why ? ": " : "", why ? why : "");
	}
	if (!x->started) {
		set_state(x, CTL_XMPP_DISCONNECTED);
		return;
	}
	schedule_retry(x);
}

static void connect_to(struct ctl_xmpp *x, const char *addr)
{
	long flags = XMPP_CONN_FLAG_DISABLE_SM;
	int r;

	if (!x->allow_plaintext)
		flags |= XMPP_CONN_FLAG_MANDATORY_TLS;
	x->conn = xmpp_conn_new(x->ctx);
	if (!x->conn) {
		end_session(x, "out of memory");
		return;
	}
	x->conn_ended = x->session_up = false;
	xmpp_conn_set_flags(x->conn, flags);
	xmpp_conn_set_jid(x->conn, x->full_jid);
	xmpp_conn_set_pass(x->conn, x->password);
	if (x->ca_file)
		xmpp_conn_set_cafile(x->conn, x->ca_file);
	xmpp_conn_set_certfail_handler(x->conn, certfail_cb);
	xmpp_conn_set_sockopt_callback(x->conn, sockopt_cb);
	xmpp_handler_add(x->conn, on_presence, NULL, "presence", NULL, x);
	xmpp_handler_add(x->conn, on_message, NULL, "message", NULL, x);
	xmpp_handler_add(x->conn, on_iq, NULL, "iq", NULL, x);
	sock_seen.conn = NULL;
	r = xmpp_connect_client(x->conn, addr, x->port, on_conn, x);
	capture_fd(x);
	if (r != XMPP_EOK || x->conn_ended)
		end_session(x, "cannot open the connection");
}

static void check_resolution(struct ctl_xmpp *x)
{
	char addr[INET6_ADDRSTRLEN];
	struct addrinfo *res, *ai;
	unsigned n = 0, pick;
	int e = gai_error(&x->gai);

	if (e == EAI_INPROGRESS)
		return;
	x->gai_busy = false;
	res = x->gai.ar_result;
	x->gai.ar_result = NULL;
	if (!x->resolving) { /* the attempt was abandoned meanwhile */
		if (res)
			freeaddrinfo(res);
		return;
	}
	x->resolving = false;
	if (e || !res) {
		if (res)
			freeaddrinfo(res);
		end_session(x, e ? gai_strerror(e) : "no address");
		return;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	/* Rotate through the addresses across failures. */
	pick = x->failures % n;
	for (ai = res; pick--; ai = ai->ai_next)
		;
	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
			  sizeof(addr));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr,
			  sizeof(addr));
	freeaddrinfo(res);
	connect_to(x, addr);
}

static void attempt(struct ctl_xmpp *x)
{
	struct in6_addr a6;
	struct in_addr a4;

	x->attempt_ms = x->now;
	set_state(x, CTL_XMPP_CONNECTING);
	if (inet_pton(AF_INET, x->host, &a4) == 1 || inet_pton(AF_INET6, x->host, &a6) == 1) {
		connect_to(x, x->host);
		return;
	}
	/* A name: resolve off the loop (glibc's getaddrinfo_a thread). A lookup
	 * still running from an abandoned attempt is simply waited for. */
	x->resolving = true;
	if (!x->gai_busy) {
		struct gaicb *list[1] = {&x->gai};
		struct sigevent sev = {.sigev_notify = SIGEV_NONE};
		memset(&x->gai, 0, sizeof(x->gai));
		x->hints = (struct addrinfo){.ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM,
					     .ai_protocol = IPPROTO_TCP,
					     .ai_flags = AI_ADDRCONFIG};
		x->gai.ar_name = x->host;
		x->gai.ar_request = &x->hints;
		int e = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
		if (e) {
			end_session(x, gai_strerror(e));
			return;
		}
		x->gai_busy = true;
	}
	check_resolution(x);
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Returns true when it stopped with work possibly left. */
static bool run_strophe(struct ctl_xmpp *x)
{
	unsigned quiet = 0;
	for (unsigned i = 0; i < 64; i++) {
		if (!x->conn || x->conn_ended)
			return false;
		xmpp_run_once(x->ctx, 0);
		capture_fd(x);
		/* libstrophe reads 4 KiB per pass; a TLS record (16 KiB) may sit
		 * decrypted inside OpenSSL where the socket does not show it, so
		 * a few passes continue after the socket goes quiet. */
		if (readable(x->fd))
			quiet = 0;
		else if (++quiet >= 4)
			return false;
	}
	return true;
}

static void run_timers(struct ctl_xmpp *x)
{
	if (x->state == CTL_XMPP_CONNECTING && x->now - x->attempt_ms >= x->login_timeout) {
		end_session(x, "login timed out");
		return;
	}
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return;
	if (x->ping_outstanding && x->now - x->ping_sent_ms >= x->ping_timeout) {
		x->ctr.ping_timeouts++;
		end_session(x, "server did not answer our ping");
		return;
	}
	if (!x->ping_outstanding && x->now - x->last_rx_ms >= x->ping_interval)
		send_ping(x);
	if (x->resync_pending && x->now >= x->resync_deadline) {
		x->resync_pending = false;
		unsigned n = sig_members_sweep_stale(x->members, member_gone, x);
		if (n)
			log_info("xmpp: %u member(s) did not come back after the reconnect", n);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int next_wait(const struct ctl_xmpp *x, bool busy)
{
	uint64_t w = CTL_XMPP_MAX_WAIT_MS, due;

	if (busy)
		return 0;
	switch (x->state) {
	case CTL_XMPP_BACKOFF:
		w = min_u64(w, x->next_retry_ms > x->now ? x->next_retry_ms - x->now : 0);
		break;
	case CTL_XMPP_CONNECTING:
		/* TCP connect completion is a writability event, and libstrophe
		 * runs its connect timeout itself: poll briskly meanwhile. */
		w = CONNECTING_WAIT_MS;
		break;
	case CTL_XMPP_ONLINE:
		if (!x->conn) {
			w = CONNECTING_WAIT_MS;
			break;
		}
		if (xmpp_conn_send_queue_len(x->conn) > 0)
			w = min_u64(w, 10);
		due = x->ping_outstanding ? x->ping_sent_ms + x->ping_timeout
					  : x->last_rx_ms + x->ping_interval;
		w = min_u64(w, due > x->now ? due - x->now : 0);
		if (x->resync_pending)
			w = min_u64(w,
				    x->resync_deadline > x->now ? x->resync_deadline - x->now : 0);
		break;
	case CTL_XMPP_DISCONNECTED:
		if (x->conn) /* closing gracefully after stop */
			w = CONNECTING_WAIT_MS;
		break;
	}
	if (x->gai_busy)
		w = min_u64(w, CONNECTING_WAIT_MS);
	return (int)w;
}

int ctl_xmpp_poll(struct ctl_xmpp *x, uint64_t now_ms)
{
	bool busy = false;

	x->now = now_ms;
	if (x->state == CTL_XMPP_BACKOFF && now_ms >= x->next_retry_ms)
		attempt(x);
	if (x->gai_busy)
		check_resolution(x);
	if (x->conn)
		busy = run_strophe(x);
	if (x->conn && x->conn_ended)
		end_session(x, NULL);
	run_timers(x);
	return next_wait(x, busy);
}

int ctl_xmpp_fd(const struct ctl_xmpp *x, uint64_t *generation)
{
	if (generation)
		*generation = x->fd_gen;
	return x->fd;
}

/* ---- public API ---- */

static char *dup_opt(const char *s, bool *oom)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static bool bare_jid_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || strchr(s, '/') || n > SIG_JID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '\'' || *p == '<' ||
		    *p == '>' || *p == '&')
			return false;
	return true;
}

static struct ctl_xmpp *create_fail(struct ctl_xmpp *x, int err, const char *what)
{
	if (what)
		log_err("xmpp: %s", what);
	ctl_xmpp_destroy(x);
	errno = err;
	return NULL;
}

struct ctl_xmpp *ctl_xmpp_create(const struct ctl_xmpp_config *cfg,
				 const struct ctl_xmpp_callbacks *cb, void *arg)
{
	struct ctl_xmpp *x;
	bool oom = false;
	const char *resource;
	size_t n;

	if (!cfg || !cfg->jid || !cfg->password || !cfg->host || !cfg->host[0]) {
		log_err("xmpp: xmpp_username, xmpp_password and xmpp_host are required");
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		errno = ENOMEM;
		return NULL;
	}
	x->fd = -1;
	if (strophe_users++ == 0)
		xmpp_initialize();
	x->log = (xmpp_log_t){.handler = strophe_log, .userdata = x};
	x->ctx = xmpp_ctx_new(NULL, &x->log);
	x->members = sig_members_create();
	if (!x->ctx || !x->members)
		return create_fail(x, ENOMEM, NULL);

	/* IPOP's xmpp_username may omit the domain: it is then the server's. */
	if (strchr(cfg->jid, '@')) {
		x->jid = dup_opt(cfg->jid, &oom);
	} else if (cfg->jid[0] && (x->jid = malloc(strlen(cfg->jid) + strlen(cfg->host) + 2))) {
		sprintf(x->jid, "%s@%s", cfg->jid, cfg->host);
	} else {
		oom = cfg->jid[0] != 0;
	}
	if (oom)
		return create_fail(x, ENOMEM, NULL);
	if (!x->jid || !bare_jid_ok(x->jid))
		return create_fail(x, EINVAL,
				   "xmpp_username: expected user@domain (no resource, no spaces)");
	for (char *p = x->jid; *p; p++) /* nodeprep/nameprep for ASCII */
		*p = (char)tolower((unsigned char)*p);
	x->domain = strchr(x->jid, '@') + 1;

	resource = cfg->resource ? cfg->resource : "ipopd";
	n = strlen(resource);
	if (n == 0 || n > 1023 || strpbrk(resource, "/ <>&'\""))
		return create_fail(x, EINVAL, "xmpp resource: expected 1..1023 characters, no '/'");
	x->full_jid = malloc(strlen(x->jid) + n + 2);
	if (!x->full_jid)
		return create_fail(x, ENOMEM, NULL);
	sprintf(x->full_jid, "%s/%s", x->jid, resource);

	x->group = cfg->group;
	if (x->group != CTL_XMPP_GROUP_MUC && x->group != CTL_XMPP_GROUP_ROSTER)
		return create_fail(x, EINVAL, "xmpp group: expected muc or roster");
	if (x->group == CTL_XMPP_GROUP_MUC) {
		if (!cfg->room || !bare_jid_ok(cfg->room))
			return create_fail(x, EINVAL, "xmpp room: expected room@conference.domain");
		x->room = dup_opt(cfg->room, &oom);
		for (char *p = x->room; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	x->password = dup_opt(cfg->password, &oom);
	x->host = dup_opt(cfg->host, &oom);
	x->ca_file = cfg->ca_file && cfg->ca_file[0] ? dup_opt(cfg->ca_file, &oom) : NULL;
	if (oom)
		return create_fail(x, ENOMEM, NULL);
	x->port = cfg->port ? cfg->port : 5222;
	x->allow_plaintext = cfg->allow_plaintext;
	if (x->allow_plaintext)
		log_warn("xmpp: plaintext allowed: credentials and signalling may cross the "
			 "network unencrypted");

	x->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 1000;
	x->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 60000;
	if (x->backoff_max < x->backoff_min)
		x->backoff_max = x->backoff_min;
	x->login_timeout = cfg->login_timeout_ms ? cfg->login_timeout_ms : 30000;
	x->ping_interval = cfg->ping_interval_ms ? cfg->ping_interval_ms : 30000;
	x->ping_timeout = cfg->ping_timeout_ms ? cfg->ping_timeout_ms : 20000;
	x->resync_grace = cfg->resync_grace_ms ? cfg->resync_grace_ms : x->backoff_max + 5000;
	x->rng = cfg->jitter_seed;
	if (!x->rng && getrandom(&x->rng, sizeof(x->rng), GRND_NONBLOCK) != sizeof(x->rng))
		x->rng = (uint64_t)(uintptr_t)x ^ UINT64_C(0x9e3779b97f4a7c15);
	if (!x->rng)
		x->rng = 1;
	if (cb)
		x->cb = *cb;
	x->arg = arg;
	return x;
}

void ctl_xmpp_destroy(struct ctl_xmpp *x)
{
	if (!x)
		return;
	if (x->ctx) {
		ctl_xmpp_stop(x);
		/* Let the server see our unavailable presence and stream close. */
		for (unsigned i = 0; i < 20 && x->conn && !x->conn_ended; i++)
			xmpp_run_once(x->ctx, 10);
		drop_conn(x);
	}
	if (x->gai_busy) {
		/* glibc's lookup thread still owns x->gai: wait it out. */
		if (gai_cancel(&x->gai) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = {&x->gai};
			struct timespec ts = {.tv_sec = 1};
			while (gai_error(&x->gai) == EAI_INPROGRESS)
				gai_suspend(list, 1, &ts);
		}
		if (x->gai.ar_result)
			freeaddrinfo(x->gai.ar_result);
	}
	if (x->ctx)
		xmpp_ctx_free(x->ctx);
	if (--strophe_users == 0)
		xmpp_shutdown();
	roster_clear(x);
	free(x->roster);
	asked_clear(x);
	sig_members_destroy(x->members);
	if (x->password) {
		explicit_bzero(x->password, strlen(x->password));
		free(x->password);
	}
	free(x->jid);
	free(x->full_jid);
	free(x->host);
	free(x->ca_file);
	free(x->room);
	free(x);
}

int ctl_xmpp_start(struct ctl_xmpp *x, uint64_t now_ms)
{
	if (x->started)
		return -EALREADY;
	x->started = true;
	x->now = now_ms;
	x->failures = 0;
	if (!x->conn)
		attempt(x);
	return 0;
}

void ctl_xmpp_stop(struct ctl_xmpp *x)
{
	char to[SIG_JID_MAX + 1];

	if (!x->started)
		return;
	x->started = false;
	x->resolving = false;
	if (x->conn && x->session_up && !x->conn_ended) {
		if (x->group == CTL_XMPP_GROUP_MUC && x->nick[0]) {
			snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
			send_typed_presence(x, to, "unavailable");
		} else if (x->group == CTL_XMPP_GROUP_ROSTER) {
			send_typed_presence(x, NULL, "unavailable");
		}
		/* Graceful: ctl_xmpp_poll (or destroy) finishes the close. */
		xmpp_disconnect(x->conn);
	} else {
		drop_conn(x);
	}
	x->in_group = false;
	set_state(x, CTL_XMPP_DISCONNECTED);
}

int ctl_xmpp_set_presence(struct ctl_xmpp *x, const struct sig_presence *p)
{
	char json[SIG_MAX_PAYLOAD + 1], to[SIG_JID_MAX + 1], nick[SIG_NODE_ID_HEXLEN + 1];

	if (!p || sig_presence_build(p, json, sizeof(json)) < 0)
		return -EINVAL;
	x->self = *p;
	x->has_self = true;
	sig_members_set_self(x->members, p);
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return 0;
	if (x->group == CTL_XMPP_GROUP_ROSTER)
		return x->roster_loaded ? send_own_presence(x, false) : 0;
	sig_node_id_hex(p->node_id, nick);
	if (x->nick[0] && strcmp(nick, x->nick)) {
		/* A new node id is a new nick: leave as the old one first. */
		snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
		send_typed_presence(x, to, "unavailable");
		x->in_group = false;
		x->nick[0] = 0;
	}
	if (!x->nick[0]) {
		memcpy(x->nick, nick, sizeof(nick));
		return send_own_presence(x, true);
	}
	return send_own_presence(x, false);
}

int ctl_xmpp_send(struct ctl_xmpp *x, const char *to_jid, const struct sig_message *m)
{
	char json[SIG_MAX_PAYLOAD + 1];
	xmpp_stanza_t *msg;
	int r;

	if (!to_jid || !m)
		return -EINVAL;
	r = sig_message_build(m, json, sizeof(json));
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (x->has_self && memcmp(m->from_id, x->self.node_id, SIG_NODE_ID_LEN))
		return -EINVAL;
	if (!sig_members_find(x->members, to_jid))
		return -ENOENT;
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return -ENOTCONN;
	msg = xmpp_message_new(x->ctx, "chat", to_jid, NULL);
	if (!msg)
		return -ENOMEM;
	/* no-store: signalling is useless later; keep it out of archives and
	 * offline storage. */
	if (adopt(msg, ipop_element(x, json)) || adopt(msg, element(x, "no-store", NS_HINTS))) {
		xmpp_stanza_release(msg);
		return -ENOMEM;
	}
	send_stanza(x, msg);
	return 0;
}

int ctl_xmpp_roster_add(struct ctl_xmpp *x, const char *bare_jid)
{
	if (!bare_jid || !bare_jid_ok(bare_jid) || x->group != CTL_XMPP_GROUP_ROSTER)
		return -EINVAL;
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return -ENOTCONN;
	send_typed_presence(x, bare_jid, "subscribe");
	send_typed_presence(x, bare_jid, "subscribed");
	return 0;
}

enum ctl_xmpp_state ctl_xmpp_state(const struct ctl_xmpp *x, uint64_t *next_retry_ms)
{
	if (next_retry_ms)
		*next_retry_ms = x->state == CTL_XMPP_BACKOFF ? x->next_retry_ms : 0;
	return x->state;
}

bool ctl_xmpp_in_group(const struct ctl_xmpp *x)
{
	return x->state == CTL_XMPP_ONLINE && x->in_group;
}

bool ctl_xmpp_secured(const struct ctl_xmpp *x)
{
	return x->conn && x->session_up && xmpp_conn_is_secured(x->conn);
}

const char *ctl_xmpp_sasl_mechanism(const struct ctl_xmpp *x)
{
	return x->sasl_mech;
}

const char *ctl_xmpp_bound_jid(const struct ctl_xmpp *x)
{
	return x->state == CTL_XMPP_ONLINE ? x->bound : "";
}

void ctl_xmpp_get_counters(const struct ctl_xmpp *x, struct ctl_xmpp_counters *out)
{
	*out = x->ctr;
}

const struct sig_members *ctl_xmpp_members(const struct ctl_xmpp *x)
{
	return x->members;
}
