/* The running peer set as a data structure: what the link manager
 * (link/linkmgr.h) reads and fills in, and what the control core builds,
 * diffs and retires (core/peers.h). It lives below both so neither has to
 * include the other's folder. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control/config/config.h"
#include "dataplane/table.h"

struct lm_link;

struct ctl_peer {
	const struct ipop_peer_conf *conf; /* points into the config it was built from */
	struct dp_link *link;
	struct dp_sa *sa_in, *sa_out; /* manual keys only (NULL for keyed peers) */
	struct lm_link *lk;	      /* keyed peers only: sessions (linkmgr.h) */
	bool kept;		      /* old set only: objects carried over to the new set */
	bool fresh;		      /* new set only: objects created by this diff */
	uint64_t last_rx_packets, last_rx_ms; /* control loop's view of the link's rx */
	uint64_t seq_reserved; /* outbound sequence numbers reserved on disk up to here */
};

struct ctl_peers {
	struct ctl_peer *v;
	unsigned n;
};

/* The peer whose data-plane link has this id, or NULL. */
const struct ctl_peer *ctl_peers_find_link(const struct ctl_peers *set, uint32_t link_id);
