/* Shared between the files of discovery (disc.c, disc_stun.c); not for
 * other modules. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control/link/linkmgr.h"
#include "control/signalling/disc.h"

/* STUN (disc_stun.c): a binding request to s now; retransmissions,
 * timeouts and refreshes of every server from the tick. */
void disc_stun_send(struct ctl_disc *d, struct disc_stun *s, uint64_t now);
void disc_stun_tick(struct ctl_disc *d, uint64_t now);

struct disc_cands {
	struct lm_cand v[LM_MAX_CAND];
	unsigned n;
};

/* Candidates received but not yet given to a link (no lm_link yet). */
struct disc_peer_ext {
	struct disc_peer p;
	struct disc_cands cand;
	bool cand_pending;
	bool was_up; /* the link was up at the last tick */
};

static inline struct disc_peer_ext *ext(struct disc_peer *dp)
{
	return (struct disc_peer_ext *)dp;
}

/* The member's link in the running peer set, or NULL. */
struct lm_link *disc_link_of(const struct ctl_disc *d, const struct disc_peer *dp);
/* A con_req or con_resp to the member (our candidates when accept). */
void disc_send_con(struct ctl_disc *d, struct disc_peer *dp, enum sig_msg_type type, bool accept,
		   const char *reason, uint64_t now);
