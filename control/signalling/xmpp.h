/* XMPP signalling session (libstrophe 0.12) for the control core.
 *
 * One struct ctl_xmpp owns a libstrophe context and at most one connection,
 * logs in, joins the group (a MUC room, or the account's roster), advertises
 * our presence payload, reports the members it sees and the direct messages
 * they send, and reconnects with exponential backoff and jitter whenever the
 * session fails or drops. It never calls back into the caller except through
 * struct ctl_xmpp_callbacks, from inside ctl_xmpp_poll.
 *
 * Driving it from an epoll loop (the control core's main thread only; the
 * object is not thread-safe):
 *
 *     ctl_xmpp_start(x, now);
 *     for (;;) {
 *             int wait = ctl_xmpp_poll(x, now);            // ms until due again
 *             fd = ctl_xmpp_fd(x, &gen);
 *             if (gen != seen_gen) {                       // new socket
 *                     if (fd >= 0) epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN);
 *                     seen_gen = gen;
 *             }
 *             epoll_wait(ep, ..., min(wait, other timers));
 *     }
 *
 * libstrophe 0.12 has no call that returns its socket; ctl_xmpp_fd learns it
 * from the socket-options callback libstrophe invokes for each socket it
 * creates. A socket libstrophe closes leaves every epoll set by itself, and a
 * new one may reuse the number: compare the generation, not the fd. Without
 * epoll, calling ctl_xmpp_poll at least every returned `wait` ms (at most
 * CTL_XMPP_MAX_WAIT_MS) is enough.
 *
 * What still blocks inside libstrophe 0.12 (documented in docs/signalling.md):
 * the TLS handshake after STARTTLS runs to completion inside the poll call
 * that receives <proceed/> (one round trip plus the server's key exchange on
 * a server that answered the stream already), and libstrophe watches its
 * socket with select(), so the socket's number must stay below FD_SETSIZE
 * (1024). Host names are resolved here with getaddrinfo_a, never in the loop.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control/signalling/members.h"

#define CTL_XMPP_MAX_WAIT_MS 1000

enum ctl_xmpp_group {
	CTL_XMPP_GROUP_MUC = 0, /* members are the occupants of `room` (nick = node id) */
	CTL_XMPP_GROUP_ROSTER,	/* members are contacts we are subscribed to */
};

enum ctl_xmpp_state {
	CTL_XMPP_DISCONNECTED = 0, /* not started, or stopped */
	CTL_XMPP_CONNECTING,	   /* resolving, TCP, TLS, SASL, bind */
	CTL_XMPP_ONLINE,	   /* session established (group join in progress or done) */
	CTL_XMPP_BACKOFF,	   /* waiting to retry; see next_retry_ms */
};

struct ctl_xmpp_config {
	const char *jid; /* "user@domain" (IPOP's xmpp_username); "user" alone means user@host */
	const char *password; /* copied; wiped on destroy */
	const char *host;     /* server address: name or IP literal (IPOP's xmpp_host) */
	uint16_t port;	      /* 0 = 5222 */
	const char *resource; /* NULL = "ipopd" */
	/* TLS: STARTTLS is mandatory and the certificate is verified against the
	 * JID's domain, using ca_file (PEM) when given, else the system store.
	 * allow_plaintext = true makes TLS optional (still verified when
	 * offered); it exists for closed test networks and must be explicit. */
	const char *ca_file;
	bool allow_plaintext;
	enum ctl_xmpp_group group;
	const char *room; /* MUC: "overlay@conference.domain" (required in MUC mode) */

	/* Timers; 0 picks the default in brackets. */
	unsigned backoff_min_ms;   /* [1000] first retry delay; doubles per failure */
	unsigned backoff_max_ms;   /* [60000] cap */
	unsigned login_timeout_ms; /* [30000] connecting longer than this counts as a failure */
	unsigned ping_interval_ms; /* [30000] XEP-0199 ping to the server when idle this long */
	unsigned ping_timeout_ms;  /* [20000] no answer: drop the session and reconnect */
	/* [backoff_max_ms + 5000] after a reconnect, members that have not
	 * re-announced themselves within this long are reported unavailable
	 * (they had as long as the slowest backoff to come back). */
	unsigned resync_grace_ms;
	uint64_t jitter_seed; /* 0 = from getrandom(); tests pin it */
};

struct ctl_xmpp_callbacks {
	/* A member appeared or changed what it advertises (validated, no
	 * conflict with anyone else). Not called again for an identical
	 * re-announcement. */
	void (*member_available)(void *arg, const char *jid, const struct sig_presence *p);
	/* It left (unavailable presence, removed from the roster, or not back
	 * within resync_grace_ms after a reconnect). */
	void (*member_unavailable)(void *arg, const char *jid);
	/* It is no longer in the group at all: the relation was removed from
	 * our roster (roster group). Unlike a member that went offline, whose
	 * link may stay, its links must go. NULL: member_unavailable is called. */
	void (*member_revoked)(void *arg, const char *jid);
	/* A direct message from a current member, validated: from_id is that
	 * member's node id and to_id is ours. */
	void (*message)(void *arg, const char *jid, const struct sig_message *m);
	void (*state_changed)(void *arg, enum ctl_xmpp_state state);
};

struct ctl_xmpp_counters {
	uint64_t connects;	   /* sessions established (authenticated, bound) */
	uint64_t connect_failures; /* attempts that never got online */
	uint64_t disconnects;	   /* established sessions that ended */
	uint64_t stanzas_in;	   /* presence, message and iq stanzas received */
	uint64_t stanzas_out;
	uint64_t presences_accepted; /* valid member presences (including re-announcements) */
	uint64_t messages_accepted;
	uint64_t rejected_payloads; /* failed validation, or from a non-member */
	uint64_t member_conflicts;  /* refused: key or address of another member */
	uint64_t pings_sent;
	uint64_t ping_timeouts;
};

struct ctl_xmpp;

/* Validates and copies the config (nothing is referenced afterwards).
 * Does not connect. NULL + errno (EINVAL with a log line naming the field,
 * ENOMEM). */
struct ctl_xmpp *ctl_xmpp_create(const struct ctl_xmpp_config *cfg,
				 const struct ctl_xmpp_callbacks *cb, void *arg);
/* Sends unavailable presence when online, closes the stream (waiting at most
 * ~200 ms for the server's close), frees everything. NULL is a no-op. */
void ctl_xmpp_destroy(struct ctl_xmpp *x);

/* Begins connecting (non-blocking). 0, -EALREADY when started. */
int ctl_xmpp_start(struct ctl_xmpp *x, uint64_t now_ms);
/* Leaves the group and closes the session; no reconnect until the next
 * start. Members are kept (the data plane does not depend on XMPP). */
void ctl_xmpp_stop(struct ctl_xmpp *x);

/* Runs libstrophe without waiting, fires our timers (retry, ping, login
 * timeout, resync), invokes the callbacks. `now_ms` is a monotonic clock
 * (CLOCK_MONOTONIC in ms). Returns the number of ms after which it must be
 * called again even if the socket stays quiet (0..CTL_XMPP_MAX_WAIT_MS). */
int ctl_xmpp_poll(struct ctl_xmpp *x, uint64_t now_ms);
/* The socket to watch for EPOLLIN, or -1; *generation (may be NULL) changes
 * whenever the socket does. */
int ctl_xmpp_fd(const struct ctl_xmpp *x, uint64_t *generation);

/* Our presence payload (validated). Stored, and announced at once when online
 * (MUC mode joins the room with nick = node id on the first call). 0,
 * -EINVAL. */
int ctl_xmpp_set_presence(struct ctl_xmpp *x, const struct sig_presence *p);
/* A direct message to a current member. 0, -EINVAL (does not validate),
 * -ENOENT (not a member), -ENOTCONN (not online), -ENOMEM. */
int ctl_xmpp_send(struct ctl_xmpp *x, const char *to_jid, const struct sig_message *m);
/* Roster mode: put a bare JID in the group — request its presence and
 * pre-approve it seeing ours. Incoming subscription requests are approved
 * only for JIDs already in our roster (the account's owner decides who is in
 * the group). 0, -EINVAL, -ENOTCONN. */
int ctl_xmpp_roster_add(struct ctl_xmpp *x, const char *bare_jid);

enum ctl_xmpp_state ctl_xmpp_state(const struct ctl_xmpp *x, uint64_t *next_retry_ms);
const char *ctl_xmpp_state_name(enum ctl_xmpp_state s);
/* True once the room is joined (MUC) or the roster is loaded and our
 * presence sent (roster mode), for the current session. */
bool ctl_xmpp_in_group(const struct ctl_xmpp *x);
/* Whether the current session runs over TLS. */
bool ctl_xmpp_secured(const struct ctl_xmpp *x);
/* The SASL mechanism of the last successful login ("SCRAM-SHA-1", ...), or "". */
const char *ctl_xmpp_sasl_mechanism(const struct ctl_xmpp *x);
/* The full JID bound by the server, or "" when not online. */
const char *ctl_xmpp_bound_jid(const struct ctl_xmpp *x);
void ctl_xmpp_get_counters(const struct ctl_xmpp *x, struct ctl_xmpp_counters *out);
/* The members seen (read-only; for ipopctl). */
const struct sig_members *ctl_xmpp_members(const struct ctl_xmpp *x);
