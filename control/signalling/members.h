/* The member table: the members seen in the group, by JID (the MUC occupant
 * JID or the contact's full JID), with what they advertise (sigmsg.h). A
 * member whose public key, node id, virtual IPv4, ULA or MAC equals another member's (or ours),
 * whose routes overlap another member's routes (or ours), or whose routes cover another member's
 * overlay address (or ours) or the other way round, is refused and logged: the first holder keeps
 * it. Linear scans: groups are tens to a few hundred members and presence changes rarely. Not
 * thread-safe: the XMPP session owns it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "control/signalling/sigmsg.h"

struct sig_member {
	char *jid;
	struct sig_presence p;
	bool stale; /* seen before our session dropped, not re-announced since */
};

struct sig_members;

enum sig_member_result {
	SIG_MEMBER_ADDED = 0,	/* a new member */
	SIG_MEMBER_CHANGED = 1, /* known JID, different payload */
	SIG_MEMBER_SAME = 2,	/* known JID, same payload (re-announcement) */
};

#define SIG_MEMBERS_MAX 4096

struct sig_members *sig_members_create(void); /* NULL + errno */
void sig_members_destroy(struct sig_members *t);
/* Our own advertisement: nobody else may claim our key or addresses. NULL
 * clears it. */
void sig_members_set_self(struct sig_members *t, const struct sig_presence *self);
/* Records (or refreshes) a member. Returns enum sig_member_result (>= 0);
 * -EEXIST when the payload conflicts with another member or with us (logged
 * with both JIDs and the field; the table is unchanged; `why` says which);
 * -EINVAL for an empty or over-long JID; -ENOSPC when the table is full;
 * -ENOMEM. */
int sig_members_update(struct sig_members *t, const char *jid, const struct sig_presence *p,
		       char *why, size_t whylen);
/* 0, or -ENOENT when the JID is not a member. */
int sig_members_remove(struct sig_members *t, const char *jid);
const struct sig_member *sig_members_find(const struct sig_members *t, const char *jid);
/* Iteration by index, 0..count-1; valid until the next change. */
unsigned sig_members_count(const struct sig_members *t);
const struct sig_member *sig_members_at(const struct sig_members *t, unsigned i);
/* Resynchronisation after our own session dropped: mark everyone stale
 * (update clears the mark), later remove those still stale, calling
 * cb(arg, jid) for each before it goes. Returns how many were removed. */
void sig_members_mark_stale(struct sig_members *t);
unsigned sig_members_sweep_stale(struct sig_members *t, void (*cb)(void *arg, const char *jid),
				 void *arg);
/* Removes every member whose JID's bare part (before '/') equals bare_jid,
 * calling cb for each. Returns how many. */
unsigned sig_members_remove_bare(struct sig_members *t, const char *bare_jid,
				 void (*cb)(void *arg, const char *jid), void *arg);
