/* The ops tables through which the modules below the core reach it (see
 * ctl.h): the link manager, the TURN client and discovery each get a small
 * table of callbacks with the struct ctl as ctx, so none of them includes
 * core/ (docs/architecture.md, "Layers"). */
#include "control/core/ctl.h"
#include "control/core/underlay.h"

#include <errno.h>
#include <sys/epoll.h>

#include "util/log.h"

int ctl_core_lm_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len)
{
	struct ctl *c = ctx;
	if (to->via)
		return ctl_turn_send(&c->turn, to, buf, len); /* a peer behind our TURN relay */
	return ctl_send_underlay(c, to, buf, len);
}

int ctl_core_lm_publish(void *ctx)
{
	return ctl_publish_current(ctx);
}

/* ---- TURN ---------------------------------------------------------------- */

static int underlay_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len)
{
	return ctl_send_underlay(ctx, to, buf, len);
}

static void turn_input(void *ctx, const uint8_t *data, size_t len, const struct net_endpoint *from,
		       uint64_t now)
{
	struct ctl *c = ctx;
	ctl_linkmgr_input(&c->lm, data, len, from, now);
}

static void turn_changed(void *ctx, bool candidates, uint64_t now)
{
	struct ctl *c = ctx;
	c->table_dirty = true;
	if (candidates)
		ctl_disc_candidates_changed(&c->disc, now);
}

const struct ctl_turn_ops ctl_core_turn_ops = {
    .send = underlay_send,
    .input = turn_input,
    .changed = turn_changed,
};

/* ---- discovery ------------------------------------------------------------ */

static int disc_commit(void *ctx)
{
	struct ctl *c = ctx;
	return ctl_peers_commit(c, &c->cfg, NULL, NULL, NULL);
}

static void disc_sync_routes(void *ctx, const struct net_prefix *v, unsigned n)
{
	struct ctl *c = ctx;
	ctl_netif_sync_routes(&c->netif, v, n);
}

static int disc_watch(void *ctx, int fd)
{
	struct ctl *c = ctx;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_TAG_XMPP};
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    (errno != EEXIST || epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) < 0))
		return -errno;
	return 0;
}

static const struct ctl_disc_ops disc_ops = {
    .send = underlay_send,
    .commit = disc_commit,
    .sync_routes = disc_sync_routes,
    .watch = disc_watch,
};

void ctl_core_disc_env(struct ctl *c, struct ctl_disc_env *env)
{
	*env = (struct ctl_disc_env){
	    .ops = &disc_ops,
	    .ctx = c,
	    .cfg = &c->cfg,
	    .peers = &c->peers,
	    .lm = &c->lm,
	    .turn = &c->turn,
	    .tap_name = c->backend.host_name,
	    .own_addr = &c->backend.own_addr,
	    .mac = c->netif.mac,
	};
}
