/* Discovery under a topology manager (see disc.h, struct
 * ctl_disc_topo_hooks): the manager's wishes carried out over signalling —
 * con_req of a kind, a link torn down and the peer told, pings. */
#include "control/signalling/disc.h"
#include "control/signalling/disc_internal.h"

#include <errno.h>
#include <string.h>

#include "control/link/linkmgr.h"
#include "control/signalling/xmpp.h"

void ctl_disc_set_topo(struct ctl_disc *d, const struct ctl_disc_topo_hooks *h, void *arg)
{
	d->topo = h;
	d->topo_arg = arg;
}

struct disc_peer *ctl_disc_find_id(const struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN])
{
	for (unsigned i = 0; i < d->ndyn; i++)
		if (memcmp(d->dyn[i]->node_id, id, SIG_NODE_ID_LEN) == 0)
			return d->dyn[i];
	return NULL;
}

struct lm_link *ctl_disc_peer_link(const struct ctl_disc *d, const struct disc_peer *dp)
{
	return disc_link_of(d, dp);
}

int ctl_disc_link_open(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN],
		       enum sig_link_kind kind, uint64_t now)
{
	struct disc_peer *dp = ctl_disc_find_id(d, id);
	if (!dp)
		return -ENOENT;
	/* asked again with another kind for a link we have: the peer decides */
	bool again = dp->wanted && dp->kind != kind;
	dp->wanted = true;
	dp->released = false;
	dp->kind = kind;
	struct lm_link *lk = disc_link_of(d, dp);
	if (lk)
		lk->passive = false; /* the member may initiate before its con_resp arrives */
	if (dp->present && (!lk || lk->state != LM_UP || again))
		disc_send_con(d, dp, SIG_MSG_CON_REQ, true, NULL, now);
	return 0;
}

int ctl_disc_link_close(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN], bool notify,
			uint64_t now)
{
	struct disc_peer *dp = ctl_disc_find_id(d, id);
	if (!dp)
		return -ENOENT;
	struct disc_peer_ext *e = ext(dp);
	struct lm_link *lk = disc_link_of(d, dp);
	if (notify && (dp->wanted || dp->engaged || (lk && lk->state == LM_UP)))
		disc_send_con(d, dp, SIG_MSG_CON_RESP, false, "closed", now);
	if (notify)
		d->cnt.links_closed++;
	dp->wanted = dp->engaged = dp->released = false;
	dp->kind = SIG_LINK_NONE;
	dp->con_req_ms = 0;
	e->cand.n = 0;
	e->cand_pending = false;
	e->was_up = false;
	if (lk)
		ctl_linkmgr_link_reset(d->env.lm, lk);
	return 0;
}

int ctl_disc_link_release(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN], uint64_t now)
{
	struct disc_peer *dp = ctl_disc_find_id(d, id);
	if (!dp)
		return -ENOENT;
	if (dp->released)
		return 0;
	dp->released = true;
	d->cnt.links_released++;
	disc_send_con(d, dp, SIG_MSG_CON_RESP, false, "released", now);
	return 0;
}

int ctl_disc_ping(struct ctl_disc *d, const uint8_t id[SIG_NODE_ID_LEN])
{
	struct disc_peer *dp = ctl_disc_find_id(d, id);
	if (!dp || !d->x)
		return -ENOENT;
	struct sig_message m;
	memset(&m, 0, sizeof(m));
	m.type = SIG_MSG_PING;
	memcpy(m.from_id, d->env.cfg->node_id, SIG_NODE_ID_LEN);
	memcpy(m.to_id, dp->node_id, SIG_NODE_ID_LEN);
	m.seq = ++d->seq;
	int rc = ctl_xmpp_send(d->x, dp->jid, &m);
	if (rc)
		d->cnt.send_failures++;
	else
		d->cnt.topo_pings_sent++;
	return rc;
}
