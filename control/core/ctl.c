/* The control core (see ctl.h): setup and teardown of one instance, the epoll
 * loop, worker → control rings, the 100 ms tick and SIGHUP reloads.
 *
 * Setup advances c->stage one step at a time; unwind() is the cleanup ladder:
 * it falls through from the stage reached down to nothing, so a failed
 * ctl_init and ctl_fini share the one reverse-order path.
 */
#include "control/core/ctl.h"
#include "control/core/dpdk_setup.h"
#include "control/core/underlay.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dataplane/l2.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"
#include "util/log.h"
#include "util/path.h"

enum ctl_stage {
	ST_NONE = 0,
	ST_CONFIG,  /* cfg loaded */
	ST_DISC,    /* discovery objects (XMPP session not started) */
	ST_EPOLL,   /* epfd, signalfd, timerfd, notify eventfd */
	ST_KERNEL,  /* TAP and UDP sockets open, TAP configured */
	ST_MGR,	    /* control crypto manager */
	ST_LINKMGR, /* node identity, link manager */
	ST_PUBLISH, /* publisher (QSBR) */
	ST_WORKERS, /* nworkers_init workers initialised and attached */
	ST_PEERS,   /* links, SAs, FDB; first table published */
	ST_STARTED, /* worker threads running */
	ST_EXT,	    /* extensions open (ctl_options.ext: the management socket) */
};

#define CTL_DRAIN_MAX 4096 /* ring entries handled per worker per wakeup */

/* One threshold for the process: the more verbose of the control core's and
 * the data plane's configured levels (ctl.h). */
void ctl_apply_log_level(const struct ctl *c, const struct ipop_config *cfg)
{
	enum log_level dp = cfg->tincan_logging <= 0   ? LOG_ERROR
			    : cfg->tincan_logging >= 3 ? LOG_DEBUG
						       : (enum log_level)cfg->tincan_logging;
	enum log_level lvl = cfg->log_level > dp ? cfg->log_level : dp;
	if (c->opt.verbose)
		lvl = LOG_DEBUG;
	log_set_level(lvl);
}

static void make_params(struct ctl *c)
{
	const struct ipop_config *cfg = &c->cfg;
	struct dp_table_params *p = &c->params;
	memset(p, 0, sizeof(*p));
	p->mode = cfg->mode == IPOP_MODE_SWITCH ? DP_MODE_SWITCH : DP_MODE_L3;
	p->mtu = (uint16_t)c->netif.mtu;
	memcpy(p->host_mac, c->netif.mac, 6);
	/* Locally administered, unicast, derived from the node id: stable
	 * across restarts and distinct per node. */
	p->router_mac[0] = 0x02;
	memcpy(p->router_mac + 1, cfg->node_id, 5);
	p->vip4 = cfg->ip4;
	memcpy(p->vip6, cfg->ip6, 16);
	if (ctl_topo_wire_active(&c->topo)) { /* structured overlay (docs/topology.md) */
		p->multihop = cfg->multihop;
		p->ring_flood = p->mode == DP_MODE_SWITCH;
		memcpy(p->node_id, cfg->node_id, sizeof(p->node_id));
		p->stage_timeout_ms = cfg->ttl_link_initial * 1000u;
	}
}

struct dp_table *ctl_build_table(struct ctl *c, const struct ctl_peers *set)
{
	struct dp_table *t = ctl_peers_build_table(set, &c->params, &c->fdb);
	if (t)
		ctl_turn_table(&c->turn, t);
	if (t)
		ctl_topo_wire_table(&c->topo, set, t);
	return t;
}

int ctl_publish_current(struct ctl *c)
{
	struct dp_table *t = ctl_build_table(c, &c->peers);
	if (!t) {
		int err = errno ? -errno : -ENOMEM;
		log_err("cannot build the forwarding table: %s", strerror(-err));
		return err;
	}
	int err = ctl_publish_table(&c->pub, t);
	if (err) {
		log_warn("cannot publish table: %s (retrying on the next tick)", strerror(-err));
		c->table_dirty = true;
		return err;
	}
	c->fdb.dirty = false;
	c->table_dirty = false;
	ctl_linkmgr_published(&c->lm, &c->pub);
	log_debug("published table %llu (%u links, %u fdb entries)",
		  (unsigned long long)c->pub.version, c->peers.n, ctl_fdb_count(&c->fdb));
	return 0;
}

/* Worker i's CPU: spread over the CPUs we may run on, leaving the first to
 * the control core when there is more than one. */
static int worker_cpu(unsigned i)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	int n = CPU_COUNT(&set);
	if (n <= 0)
		return -1;
	unsigned want = n > 1 ? 1 + i % (unsigned)(n - 1) : 0;
	for (int cpu = 0, k = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if ((unsigned)k++ == want)
			return cpu;
	}
	return -1;
}

static int workers_init(struct ctl *c)
{
	unsigned n = c->cfg.workers ? c->cfg.workers : 1;
	size_t sz = ((n * sizeof(*c->workers)) + 63) & ~(size_t)63;
	c->workers = aligned_alloc(64, sz);
	c->wptr = calloc(n, sizeof(*c->wptr));
	if (!c->workers || !c->wptr)
		return -ENOMEM;
	memset(c->workers, 0, sz);
	c->nworkers = n;
	for (unsigned i = 0; i < n; i++) {
		struct dp_worker_config wc = {
		    .id = i,
		    .burst = c->cfg.burst,
		    .idle = (enum dp_idle)c->cfg.idle,
		    .spin_us = c->cfg.idle_spin_us,
		    .cpu = c->cfg.pin_workers ? worker_cpu(i) : -1,
		    .pool_size = 0, /* the worker's default */
		};
		int err = dp_worker_init(&c->workers[i], &wc, c->backend.ops, c->backend.io[i],
					 c->pub.qsbr, c->notify_fd);
		if (err) {
			log_err("worker %u: init failed: %s", i, strerror(-err));
			return err;
		}
		c->wptr[i] = &c->workers[i];
		c->nworkers_init++;
	}
	ctl_publish_attach(&c->pub, c->wptr, n);
	return 0;
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void ctl_block_signals(sigset_t *mask)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGTERM);
	sigaddset(&m, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	if (mask)
		*mask = m;
}

static int loop_fds_open(struct ctl *c)
{
	sigset_t mask;
	/* The caller blocked these already (before any thread existed); doing it
	 * again is harmless and keeps ctl usable from tests. */
	ctl_block_signals(&mask);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->epfd < 0 || c->sig_fd < 0 || c->timer_fd < 0 || c->notify_fd < 0)
		return -errno;
	struct itimerspec its = {
	    .it_interval = {.tv_nsec = CTL_TICK_MS * 1000000L},
	    .it_value = {.tv_nsec = CTL_TICK_MS * 1000000L},
	};
	if (timerfd_settime(c->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	int err = epoll_add(c->epfd, c->sig_fd, CTL_TAG_SIGNAL);
	if (!err)
		err = epoll_add(c->epfd, c->timer_fd, CTL_TAG_TIMER);
	if (!err)
		err = epoll_add(c->epfd, c->notify_fd, CTL_TAG_NOTIFY);
	return err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unwind(struct ctl *c)
{
	switch (c->stage) {
	case ST_EXT:
		while (c->next_open > 0) {
			struct ctl_ext *e = &c->opt.ext[--c->next_open];
			e->ops->close(e->obj);
		}
		__attribute__((fallthrough));
	case ST_STARTED:
		/* while the data port is still open: release our TURN relays */
		ctl_turn_destroy(&c->turn, true);
		for (unsigned i = 0; i < c->nworkers_init; i++)
			dp_worker_stop(&c->workers[i]);
		__attribute__((fallthrough));
	case ST_PEERS:
		/* Workers are stopped (or never ran): nothing references the
		 * tables, links or SAs any more. */
		__attribute__((fallthrough));
	case ST_WORKERS:
		for (unsigned i = c->nworkers_init; i-- > 0;)
			dp_worker_fini(&c->workers[i]);
		free(c->workers);
		free(c->wptr);
		c->workers = NULL;
		c->wptr = NULL;
		c->nworkers_init = 0;
		__attribute__((fallthrough));
	case ST_PUBLISH:
		ctl_peers_seq_final(&c->peers, c->cfg.state_dir);
		ctl_publish_fini(&c->pub);
		ctl_peers_free(&c->peers);
		ctl_fdb_fini(&c->fdb);
		__attribute__((fallthrough));
	case ST_LINKMGR:
		ctl_linkmgr_fini(&c->lm);
		__attribute__((fallthrough));
	case ST_MGR:
		dp_crypto_mgr_destroy(c->mgr);
		c->mgr = NULL;
		__attribute__((fallthrough));
	case ST_KERNEL:
		ctl_netif_teardown(&c->netif);
		dp_backend_close(&c->backend);
		__attribute__((fallthrough));
	case ST_EPOLL:
		close_fd(&c->notify_fd);
		close_fd(&c->timer_fd);
		close_fd(&c->sig_fd);
		close_fd(&c->epfd);
		__attribute__((fallthrough));
	case ST_DISC:
		ctl_topo_wire_fini(&c->topo);
		ctl_turn_destroy(&c->turn, false);
		ctl_disc_destroy(&c->disc);
		__attribute__((fallthrough));
	case ST_CONFIG:
		ipop_config_free(&c->cfg);
		__attribute__((fallthrough));
	case ST_NONE:
		break;
	}
	c->stage = ST_NONE;
}

static bool any_keyed(const struct ipop_config *cfg)
{
	for (unsigned i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].keyed)
			return true;
	return false;
}

/* The identity is loaded (or created) always, so `ipopctl key` works; it is
 * fatal only when keyed peers need it. */
static int linkmgr_init(struct ctl *c, char *errbuf, size_t errlen)
{
	struct ipop_identity id;
	char ierr[512] = "";
	int err = ipop_identity_load(c->cfg.state_dir, &id, ierr, sizeof(ierr));
	if (err && any_keyed(&c->cfg)) {
		snprintf(errbuf, errlen, "%s", ierr);
		return err;
	}
	if (err)
		log_warn("no node identity (%s): keyed peers cannot link", ierr);
	int lerr = ctl_linkmgr_init(&c->lm, &c->cfg, err ? NULL : &id, clock_now_ms());
	ipop_identity_wipe(&id);
	if (lerr) {
		snprintf(errbuf, errlen, "link manager: %s", strerror(-lerr));
		return lerr;
	}
	ctl_linkmgr_set_io(&c->lm, ctl_core_lm_send, ctl_core_lm_publish, c);
	return 0;
}

int ctl_init(struct ctl *c, const struct ctl_options *opt, char *errbuf, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->epfd = c->sig_fd = c->timer_fd = c->notify_fd = -1;
	c->opt = *opt;
	/* Keep private copies: SIGHUP reloads with the same path and overrides. */
	snprintf(c->config_path, sizeof(c->config_path), "%s", opt->config_path);
	if (!realpath(opt->config_path, c->config_abs))
		snprintf(c->config_abs, sizeof(c->config_abs), "%s", opt->config_path);
	c->opt.config_path = c->config_path;
	if (opt->ov.tap) {
		snprintf(c->tap_override, sizeof(c->tap_override), "%s", opt->ov.tap);
		c->opt.ov.tap = c->tap_override;
	}
	if (opt->ov.mgmt_socket) {
		snprintf(c->sock_override, sizeof(c->sock_override), "%s", opt->ov.mgmt_socket);
		c->opt.ov.mgmt_socket = c->sock_override;
	}
	c->start_ms = clock_now_ms();
	c->next_link_id = 1;

	if (ipop_config_load(c->config_path, &c->opt.ov, &c->cfg, errbuf, errlen) < 0)
		return -EINVAL;
	c->stage = ST_CONFIG;
	struct ipop_config *cfg = &c->cfg;
	ctl_apply_log_level(c, cfg);

	struct ctl_disc_env env;
	ctl_core_disc_env(c, &env);
	int err = ctl_disc_create(&c->disc, &env, errbuf, errlen);
	if (err)
		goto fail;
	c->stage = ST_DISC;
	err = ctl_topo_wire_init(&c->topo, &c->cfg, &c->disc, clock_now_ms());
	if (err) {
		snprintf(errbuf, errlen, "topology: %s", strerror(-err));
		goto fail;
	}
	err = ctl_turn_create(&c->turn, &c->cfg, &ctl_core_turn_ops, c);
	if (err) {
		snprintf(errbuf, errlen, "turn: %s", strerror(-err));
		goto fail;
	}
	if (cfg->state_dir[0]) {
		err = path_mkdir_p(cfg->state_dir, 0700);
		if (err) {
			snprintf(errbuf, errlen, "state directory %s: %s", cfg->state_dir,
				 strerror(-err));
			goto fail;
		}
	}

	err = loop_fds_open(c);
	if (err) {
		snprintf(errbuf, errlen, "epoll/signalfd/timerfd: %s", strerror(-err));
		goto fail;
	}
	c->stage = ST_EPOLL;

	unsigned nw = cfg->workers ? cfg->workers : 1;
	struct dp_backend_config bc = {
	    .backend = cfg->backend,
	    .host_if = cfg->tap,
	    .nqueues = nw,
	    .port = cfg->port,
	    .want = {.want = {[DP_OFFLOAD_TSO] = cfg->offload_tso,
			      [DP_OFFLOAD_USO] = cfg->offload_uso,
			      [DP_OFFLOAD_GRO] = cfg->offload_gro,
			      [DP_OFFLOAD_UDP_GSO] = cfg->offload_udp_gso,
			      [DP_OFFLOAD_UDP_GRO] = cfg->offload_udp_gro}},
	    .underlay_if = cfg->underlay_interface,
	    .xdp_mode = cfg->xdp_mode,
	};
	struct dp_dpdk_params dpdk;
	bc.ext = ctl_dpdk_params(cfg, &dpdk);
	err = dp_backend_open(&c->backend, &bc, errbuf, errlen);
	if (err)
		goto fail;
	c->stage = ST_KERNEL;
	int bfd = c->backend.ops->event_fd ? c->backend.ops->event_fd(&c->backend) : -1;
	if (bfd >= 0 && (err = epoll_add(c->epfd, bfd, CTL_TAG_BACKEND)) < 0) {
		snprintf(errbuf, errlen, "epoll: %s", strerror(-err));
		goto fail;
	}
	if (!c->backend.host_name[0]) /* dpdk with vhost-user ports only: no TAP */
		c->netif.mtu = ctl_netif_mtu_from(cfg, NULL, &(struct ctl_netif_mtu_why){0});
	else
		err = ctl_netif_setup(&c->netif, cfg, c->backend.host_name);
	if (err) {
		snprintf(errbuf, errlen, "cannot configure %s: %s", c->backend.host_name,
			 strerror(-err));
		goto fail;
	}

	c->mgr = dp_crypto_mgr_create();
	if (!c->mgr) {
		err = errno ? -errno : -ENOMEM;
		snprintf(errbuf, errlen, "crypto manager: %s", strerror(-err));
		goto fail;
	}
	c->stage = ST_MGR;

	err = linkmgr_init(c, errbuf, errlen);
	if (err)
		goto fail;
	c->stage = ST_LINKMGR;

	err = ctl_publish_init(&c->pub, nw);
	if (err) {
		snprintf(errbuf, errlen, "publisher: %s", strerror(-err));
		goto fail;
	}
	err = ctl_fdb_init(&c->fdb, CTL_FDB_DEFAULT_CAP, cfg->fdb_max_age);
	c->stage = ST_PUBLISH;
	if (err) {
		snprintf(errbuf, errlen, "fdb: %s", strerror(-err));
		goto fail;
	}

	err = workers_init(c);
	c->stage = ST_WORKERS;
	if (err) {
		snprintf(errbuf, errlen, "workers: %s", strerror(-err));
		goto fail;
	}

	err = ctl_peers_diff(NULL, cfg, c->mgr, &c->next_link_id, &c->peers);
	c->stage = ST_PEERS;
	if (!err)
		err = ctl_linkmgr_attach(&c->lm, &c->peers, clock_now_ms());
	if (err) {
		snprintf(errbuf, errlen, "peers: %s", strerror(-err));
		goto fail;
	}
	ctl_linkmgr_use(&c->lm, &c->peers);
	make_params(c);
	err = ctl_publish_current(c);
	if (err) {
		snprintf(errbuf, errlen, "first table: %s", strerror(-err));
		goto fail;
	}

	c->stage = ST_STARTED;
	for (unsigned i = 0; i < c->nworkers; i++) {
		err = dp_worker_start(&c->workers[i]);
		if (err) {
			snprintf(errbuf, errlen, "worker %u: %s", i, strerror(-err));
			goto fail;
		}
	}

	c->stage = ST_EXT;
	for (unsigned i = 0; i < CTL_EXT_MAX && c->opt.ext[i].ops; i++) {
		err = c->opt.ext[i].ops->open(c->opt.ext[i].obj, c, errbuf, errlen);
		if (err)
			goto fail;
		c->next_open = i + 1;
	}
	/* A restarted gateway re-establishes its links at once: the peers
	 * accept because our timestamps are newer than anything they saw. */
	ctl_linkmgr_tick(&c->lm, clock_now_ms());
	if (c->lm.dirty)
		ctl_publish_current(c);
	/* Not fatal: static peers work without discovery. */
	ctl_turn_tick(&c->turn, clock_now_ms()); /* first Allocate now, not at the first tick */
	ctl_disc_start(&c->disc);
	log_info("ipopd %s: %s mode, tap %s, port %u, backend %s, %u worker%s, %u peer%s, MTU %u",
		 IPOPD_VERSION, cfg->mode == IPOP_MODE_SWITCH ? "switch" : "l3", c->backend.host_name,
		 cfg->port, cfg->backend, c->nworkers, c->nworkers == 1 ? "" : "s", c->peers.n,
		 c->peers.n == 1 ? "" : "s", c->netif.mtu);
	return 0;

fail:
	unwind(c);
	return err;
}

void ctl_fini(struct ctl *c)
{
	unwind(c);
	log_info("stopped");
}

/* ---- the loop ---------------------------------------------------------- */

/* Returns whether a roam report moved an endpoint. */
static bool drain_worker(struct ctl *c, struct dp_worker *w, uint64_t now)
{
	bool roamed = false;
	struct dp_learn_event ev[64];
	unsigned total = 0, n;
	while (total < CTL_DRAIN_MAX &&
	       (n = rte_ring_dequeue_burst_elem(w->learn_ring, ev, sizeof(ev[0]), 64, NULL)) > 0) {
		total += n;
		if (c->cfg.mode != IPOP_MODE_SWITCH)
			continue;
		for (unsigned i = 0; i < n; i++) {
			/* Events are read after the fact: one for a link retired
			 * since must not bring it back into the FDB. */
			if (ctl_peers_find_link(&c->peers, ev[i].link_id))
				ctl_fdb_learn_ip(&c->fdb, ev[i].mac, ev[i].link_id, ev[i].ip4, now);
		}
	}

	struct dp_roam_event rev[16];
	while ((n = rte_ring_dequeue_burst_elem(w->roam_ring, rev, sizeof(rev[0]), 16, NULL)) > 0)
		for (unsigned i = 0; i < n; i++)
			roamed |= ctl_linkmgr_roam(&c->lm, rev[i].link_id, &rev[i].from);

	void *punts[32];
	total = 0;
	while (total < CTL_DRAIN_MAX &&
	       (n = rte_ring_dequeue_burst(w->punt_ring, punts, 32, NULL)) > 0) {
		total += n;
		for (unsigned i = 0; i < n; i++) {
			const struct dp_punt *p = punts[i];
			static const uint8_t marker[4];
			if (p->len >= 4 && memcmp(p->data, marker, 4) == 0) {
				ctl_linkmgr_input(&c->lm, p->data, p->len, &p->from, now);
				continue;
			}
			if (turn_is_channel_data(p->data, p->len)) {
				ctl_turn_channel_input(&c->turn, p->data, p->len, &p->from, now);
				continue;
			}
			c->stun_punts++;
			ctl_disc_stun_input(&c->disc, p->data, p->len, &p->from, now);
		}
		c->punted += n;
		/* The free ring holds every slot, so this cannot fail. */
		rte_ring_enqueue_burst(w->punt_free_ring, punts, n, NULL);
	}
	return roamed;
}

static void drain_workers(struct ctl *c)
{
	uint64_t now = clock_now_ms();
	bool roamed = false;
	for (unsigned i = 0; i < c->nworkers; i++)
		roamed |= drain_worker(c, &c->workers[i], now);
	/* A peer that moved gets our packets at its new address now, not on
	 * the next tick. */
	if (roamed)
		ctl_publish_current(c);
}

static void track_peers(struct ctl *c, uint64_t now)
{
	for (unsigned i = 0; i < c->peers.n; i++) {
		struct ctl_peer *p = &c->peers.v[i];
		uint64_t rx =
		    atomic_load_explicit(&p->link->stats.rx_packets, memory_order_relaxed);
		if (rx != p->last_rx_packets) {
			p->last_rx_packets = rx;
			p->last_rx_ms = now;
		}
	}
}

static void tick(struct ctl *c)
{
	uint64_t expirations;
	if (read(c->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd: %s", strerror(errno));
	uint64_t now = clock_now_ms();
	drain_workers(c);
	ctl_publish_reclaim(&c->pub);
	if (c->cfg.mode == IPOP_MODE_SWITCH) {
		unsigned aged = ctl_fdb_age(&c->fdb, now);
		if (aged)
			log_debug("fdb: %u entries aged out", aged);
	}
	track_peers(c, now);
	ctl_disc_tick(&c->disc, now);
	ctl_topo_wire_tick(&c->topo, &c->peers, now);
	c->table_dirty |= c->topo.table_dirty;
	c->topo.table_dirty = false;
	ctl_turn_tick(&c->turn, now);
	ctl_linkmgr_tick(&c->lm, now);
	ctl_peers_seq_extend(&c->peers, c->cfg.state_dir);
	if (c->backend.ops && c->backend.ops->tick)
		c->backend.ops->tick(&c->backend, now);
	if (c->fdb.dirty || c->table_dirty || c->lm.dirty)
		ctl_publish_current(c);
	for (unsigned i = 0; i < c->next_open; i++)
		if (c->opt.ext[i].ops->tick)
			c->opt.ext[i].ops->tick(c->opt.ext[i].obj, now);
}

static void ext_reload(struct ctl *c, bool done)
{
	for (unsigned i = 0; i < c->next_open; i++)
		if (c->opt.ext[i].ops->reload)
			c->opt.ext[i].ops->reload(c->opt.ext[i].obj, c, done);
}

static bool handle_signals(struct ctl *c)
{
	struct signalfd_siginfo si;
	bool quit = false;
	while (read(c->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			log_info("%s: shutting down", strsignal((int)si.ssi_signo));
			quit = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: reloading %s", c->config_path);
			ext_reload(c, false);
			ctl_reload(c);
			ext_reload(c, true);
			break;
		}
	}
	return quit;
}

int ctl_run(struct ctl *c)
{
	struct epoll_event evs[32];
	for (;;) {
		int n = epoll_wait(c->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			log_err("epoll_wait: %s", strerror(errno));
			return err;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			uint64_t v;
			switch (tag) {
			case CTL_TAG_SIGNAL:
				if (handle_signals(c))
					return 0;
				break;
			case CTL_TAG_NOTIFY:
				if (read(c->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_debug("notify: %s", strerror(errno));
				drain_workers(c);
				break;
			case CTL_TAG_TIMER:
				tick(c);
				break;
			case CTL_TAG_XMPP:
				ctl_disc_xmpp_event(&c->disc);
				break;
			case CTL_TAG_BACKEND:
				c->backend.ops->event(&c->backend);
				break;
			default:
				for (unsigned k = 0; k < c->next_open; k++) {
					struct ctl_ext *e = &c->opt.ext[k];
					if (e->ops->event(e->obj, c, tag, evs[i].events))
						break;
				}
				break;
			}
		}
	}
}
