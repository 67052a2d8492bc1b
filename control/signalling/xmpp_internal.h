/* Shared by the files of the XMPP session (xmpp.c: object and public API;
 * xmpp_session.c: connection, backoff, keepalive, poll; xmpp_stanza.c:
 * stanzas, members, messages; xmpp_muc.c and xmpp_roster.c: the two kinds
 * of group). Not for use outside control/signalling/xmpp*.c.
 */
#pragma once
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "control/signalling/xmpp.h"

#define NS_MUC		   "http://jabber.org/protocol/muc"
#define NS_MUC_USER	   "http://jabber.org/protocol/muc#user"
#define NS_ROSTER	   "jabber:iq:roster"
#define NS_PING		   "urn:xmpp:ping"
#define NS_HINTS	   "urn:xmpp:hints"
#define STABLE_MS	   30000 /* a session that lasted this long resets the backoff */
#define CONNECTING_WAIT_MS 20
#define ASKED_MAX	   16  /* subscription requests remembered per session */
#define HELD_MAX	   16  /* presences held until their sender becomes a contact */
#define KNOWN_MAX	   256 /* roster members' full JIDs remembered for revocation */
#define XMPP_SERVERS_MAX   8

enum roster_sub { SUB_NONE = 0, SUB_TO, SUB_FROM, SUB_BOTH };

struct roster_item {
	char *jid; /* bare */
	enum roster_sub sub;
};

/* A valid presence from a JID that was not (yet) a subscribed contact. */
struct held_presence {
	char *jid; /* full */
	struct sig_presence p;
};

struct xmpp_server {
	char *host; /* name or address literal (no brackets) */
	uint16_t port;
};

struct ctl_xmpp {
	/* configuration (owned copies) */
	char *jid, *domain, *full_jid, *password, *ca_file, *room;
	char *resource;	   /* configured fixed resource, or NULL: a new one per session */
	char *host_config; /* the server list as configured (for messages) */
	struct xmpp_server servers[XMPP_SERVERS_MAX];
	unsigned nservers, server; /* server = index of the current/next attempt */
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
	unsigned gai_server; /* the server the running lookup is for */
	struct gaicb gai;
	struct addrinfo hints;

	bool in_group, roster_loaded;
	bool ping_outstanding;
	uint64_t ping_sent_ms, ping_seq;
	bool resync_pending;
	uint64_t resync_deadline;
	/* MUC: rejoin after an unexpected departure or a failed join */
	uint64_t rejoin_at; /* 0 = none scheduled */
	unsigned rejoin_failures;
	uint64_t selfping_ms; /* last XEP-0410 self-ping sent */
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
	/* Presences that arrived before the roster item that makes their
	 * sender a subscribed contact (ejabberd's order), oldest first. */
	struct held_presence held[HELD_MAX];
	unsigned nheld;
	/* Full JIDs of every roster member reported available, across
	 * sessions, until their relation goes: a revocation must reach the
	 * caller even when the member already left (presence first, roster
	 * push after) or left while we were offline. */
	char *known[KNOWN_MAX];
	unsigned nknown;

	bool has_self;
	struct sig_presence self;
	char nick[SIG_NODE_ID_HEXLEN + 1]; /* MUC nick in use for the current join */
	struct sig_members *members;
	struct ctl_xmpp_counters ctr;
};

/* xmpp.c */
size_t xmpp_bare_len(const char *jid);
bool xmpp_bare_equals(const char *jid, const char *bare);
bool xmpp_bare_jid_ok(const char *s);
uint64_t xmpp_rng_next(struct ctl_xmpp *x);
/* Delay of the n-th consecutive failure: equal jitter over min(max, min·2^n). */
uint64_t xmpp_backoff_delay(struct ctl_xmpp *x, unsigned n);
void xmpp_set_state(struct ctl_xmpp *x, enum ctl_xmpp_state s);

/* xmpp_session.c */
void xmpp_attempt(struct ctl_xmpp *x);
void xmpp_check_resolution(struct ctl_xmpp *x); /* a lookup is running */
void xmpp_end_session(struct ctl_xmpp *x, const char *why);
void xmpp_drop_conn(struct ctl_xmpp *x);
int xmpp_next_wait(const struct ctl_xmpp *x, bool busy);
bool xmpp_run_strophe(struct ctl_xmpp *x);
void xmpp_run_timers(struct ctl_xmpp *x);

/* xmpp_stanza.c */
void xmpp_send_stanza(struct ctl_xmpp *x, xmpp_stanza_t *st);
xmpp_stanza_t *xmpp_element(struct ctl_xmpp *x, const char *name, const char *ns);
xmpp_stanza_t *xmpp_ipop_element(struct ctl_xmpp *x, const char *json);
int xmpp_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child);
void xmpp_send_typed_presence(struct ctl_xmpp *x, const char *to, const char *type);
int xmpp_send_own_presence(struct ctl_xmpp *x, bool join);
bool xmpp_presence_payload(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *jid,
			   struct sig_presence *p);
/* 0 when recorded (new, changed or the same), <0 when refused. */
int xmpp_accept_member(struct ctl_xmpp *x, const char *jid, const struct sig_presence *p);
void xmpp_member_leaves(struct ctl_xmpp *x, const char *jid);
void xmpp_member_gone(void *arg, const char *jid);
int xmpp_on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata);
int xmpp_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata);

/* xmpp_muc.c */
void xmpp_muc_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from, const char *type);
void xmpp_muc_join(struct ctl_xmpp *x);
void xmpp_muc_rejoin_due(struct ctl_xmpp *x);
/* Timer: every ping_interval in the room, checks we are still in it. */
void xmpp_muc_selfping_due(struct ctl_xmpp *x);

/* xmpp_roster.c */
void xmpp_roster_presence(struct ctl_xmpp *x, xmpp_stanza_t *st, const char *from,
			  const char *type);
void xmpp_roster_request(struct ctl_xmpp *x);
/* A roster push (iq set, already checked to come from our own account). */
void xmpp_roster_push(struct ctl_xmpp *x, xmpp_stanza_t *query);
void xmpp_roster_session_reset(struct ctl_xmpp *x);
void xmpp_roster_free(struct ctl_xmpp *x);
