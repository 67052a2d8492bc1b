/* Statically keyed peers (see peers.h): link and SA lifetimes across reloads,
 * and the forwarding table built from the peer set. */
#include "control/core/peers.h"
#include "control/link/linkmgr.h"
#include "control/link/seqstore.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sa.h"
#include "util/log.h"

static bool sa_conf_equal(const struct ipop_sa_conf *a, const struct ipop_sa_conf *b)
{
	return a->spi == b->spi && memcmp(a->keymat, b->keymat, sizeof(a->keymat)) == 0;
}

/* Everything that goes into the peer's link, SAs or table entries. */
static bool peer_conf_equal(const struct ipop_peer_conf *a, const struct ipop_peer_conf *b)
{
	if (a->keyed != b->keyed ||
	    (a->keyed && memcmp(a->public_key, b->public_key, sizeof(a->public_key)) != 0))
		return false;
	if (strcmp(a->name, b->name) != 0 || !net_endpoint_equal(&a->endpoint, &b->endpoint) ||
	    a->ip4 != b->ip4 || memcmp(a->ip6, b->ip6, 16) != 0 || a->nroutes != b->nroutes ||
	    !sa_conf_equal(&a->sa_in, &b->sa_in) || !sa_conf_equal(&a->sa_out, &b->sa_out))
		return false;
	for (unsigned i = 0; i < a->nroutes; i++)
		if (!net_prefix_equal(&a->routes[i], &b->routes[i]))
			return false;
	return true;
}

static void link_free(void *obj)
{
	free(obj);
}

static void sa_free(void *obj)
{
	dp_sa_destroy(obj);
}

static void peer_destroy(struct ctl_peer *p)
{
	dp_sa_destroy(p->sa_in);
	dp_sa_destroy(p->sa_out);
	ctl_linkmgr_link_destroy(p->lk);
	free(p->link);
	p->sa_in = p->sa_out = NULL;
	p->lk = NULL;
	p->link = NULL;
}

/* Continues the outbound counter from the stored mark and reserves the next
 * block on disk before the SA can be published (seqstore.h). */
static int seq_reserve_initial(struct ctl_peer *p, const char *state_dir)
{
	uint64_t mark;
	int err = ctl_seq_load(state_dir, p->sa_out->spi, &mark);
	if (err) {
		log_err("peer %s: %s/seq-%08x: %s: refusing to send with this key (remove the "
			"file only together with a new key)",
			p->conf->name, state_dir, p->sa_out->spi, strerror(-err));
		return err;
	}
	uint64_t reserve = mark + CTL_SEQ_RESERVE;
	err = ctl_seq_store(state_dir, p->sa_out->spi, reserve);
	if (err) {
		log_err("peer %s: cannot store the sequence reservation in %s: %s", p->conf->name,
			state_dir, strerror(-err));
		return err;
	}
	atomic_store(&p->sa_out->seq, mark);
	atomic_store(&p->sa_out->seq_limit, reserve < DP_SA_SEQ_LIMIT ? reserve : DP_SA_SEQ_LIMIT);
	p->seq_reserved = reserve;
	if (mark)
		log_info("peer %s: outbound SA 0x%08x continues after sequence %llu", p->conf->name,
			 p->sa_out->spi, (unsigned long long)mark);
	return 0;
}

void ctl_peers_seq_extend(struct ctl_peers *set, const char *state_dir)
{
	for (unsigned i = 0; state_dir[0] && i < set->n; i++) {
		struct ctl_peer *p = &set->v[i];
		if (!p->sa_out) /* keyed: fresh keys per handshake, nothing to persist */
			continue;
		uint64_t cur = atomic_load(&p->sa_out->seq);
		if (cur + CTL_SEQ_RESERVE / 2 < p->seq_reserved ||
		    p->seq_reserved > DP_SA_SEQ_LIMIT)
			continue;
		uint64_t reserve = cur + CTL_SEQ_RESERVE;
		int err = ctl_seq_store(state_dir, p->sa_out->spi, reserve);
		if (err) {
			/* Fail closed: the data plane stops at the old limit. */
			log_ratelimited(LOG_ERROR,
					"peer %s: cannot extend the sequence reservation: %s",
					p->conf->name, strerror(-err));
			continue;
		}
		p->seq_reserved = reserve;
		atomic_store(&p->sa_out->seq_limit,
			     reserve < DP_SA_SEQ_LIMIT ? reserve : DP_SA_SEQ_LIMIT);
	}
}

void ctl_peers_seq_final(const struct ctl_peers *set, const char *state_dir)
{
	for (unsigned i = 0; state_dir[0] && i < set->n; i++) {
		const struct ctl_peer *p = &set->v[i];
		if (!p->sa_out)
			continue;
		uint64_t cur = atomic_load(&p->sa_out->seq);
		uint64_t limit = atomic_load(&p->sa_out->seq_limit);
		/* Numbers past the limit were skipped, not used. */
		ctl_seq_store(state_dir, p->sa_out->spi, cur < limit ? cur : limit);
	}
}

static int peer_create(struct ctl_peer *p, const struct ipop_peer_conf *conf, IMB_MGR *mgr,
		       uint32_t link_id, const char *state_dir)
{
	memset(p, 0, sizeof(*p));
	p->conf = conf;
	p->fresh = true;
	p->link = calloc(1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	p->link->id = link_id;
	snprintf(p->link->name, sizeof(p->link->name), "%s", conf->name);
	if (conf->keyed)
		return 0; /* sessions come from the link manager */
	p->sa_in = dp_sa_create(mgr, conf->sa_in.spi, conf->sa_in.keymat, link_id);
	if (!p->sa_in)
		goto fail;
	p->sa_out = dp_sa_create(mgr, conf->sa_out.spi, conf->sa_out.keymat, link_id);
	if (!p->sa_out)
		goto fail;
	if (state_dir[0]) {
		int err = seq_reserve_initial(p, state_dir);
		if (err) {
			peer_destroy(p);
			return err;
		}
	}
	return 0;
fail:;
	int err = errno ? -errno : -ENOMEM;
	peer_destroy(p);
	return err;
}

int ctl_peers_diff(struct ctl_peers *old, const struct ipop_config *cfg, IMB_MGR *mgr,
		   uint32_t *next_link_id, struct ctl_peers *out)
{
	return ctl_peers_diff_ext(old, cfg, NULL, 0, mgr, next_link_id, out);
}

int ctl_peers_diff_ext(struct ctl_peers *old, const struct ipop_config *cfg,
		       const struct ipop_peer_conf *const *extra, unsigned nextra, IMB_MGR *mgr,
		       uint32_t *next_link_id, struct ctl_peers *out)
{
	unsigned total = cfg->npeers + nextra;
	out->n = 0;
	out->v = calloc(total ? total : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (unsigned i = 0; i < total; i++) {
		const struct ipop_peer_conf *pc =
		    i < cfg->npeers ? &cfg->peers[i] : extra[i - cfg->npeers];
		struct ctl_peer *o = NULL;
		for (unsigned j = 0; old && j < old->n; j++) {
			if (!old->v[j].kept && strcmp(old->v[j].conf->name, pc->name) == 0) {
				o = &old->v[j];
				break;
			}
		}
		if (o && peer_conf_equal(o->conf, pc)) {
			out->v[out->n] = *o;
			out->v[out->n].conf = pc;
			out->v[out->n].fresh = false;
			o->kept = true;
			out->n++;
			continue;
		}
		int err = peer_create(&out->v[out->n], pc, mgr, (*next_link_id)++, cfg->state_dir);
		if (err) {
			log_err("peer %s: cannot create its SAs: %s", pc->name, strerror(-err));
			ctl_peers_abort(out, old);
			return err;
		}
		if (pc->keyed)
			log_info("peer %s: %s (link %u, keyed)", pc->name, o ? "changed" : "added",
				 out->v[out->n].link->id);
		else
			log_info("peer %s: %s (link %u, spi in 0x%08x, out 0x%08x)", pc->name,
				 o ? "changed" : "added", out->v[out->n].link->id, pc->sa_in.spi,
				 pc->sa_out.spi);
		out->n++;
	}
	return 0;
}

void ctl_peers_abort(struct ctl_peers *set, struct ctl_peers *old)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->v[i].fresh)
			peer_destroy(&set->v[i]);
	for (unsigned j = 0; old && j < old->n; j++)
		old->v[j].kept = false;
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

void ctl_peers_retire(struct ctl_peers *old, struct ctl_publisher *pub, struct ctl_fdb *fdb)
{
	for (unsigned j = 0; j < old->n; j++) {
		struct ctl_peer *p = &old->v[j];
		if (p->kept)
			continue;
		log_info("peer %s: link %u retired", p->link->name, p->link->id);
		if (fdb)
			ctl_fdb_remove_link(fdb, p->link->id);
		/* If the publisher cannot queue them, leaking is the only safe
		 * choice: a worker may still hold a table pointing to them. */
		ctl_linkmgr_link_retire(p->lk, pub);
		p->lk = NULL;
		if (ctl_publish_defer_free(pub, p->sa_in, sa_free) ||
		    ctl_publish_defer_free(pub, p->sa_out, sa_free) ||
		    ctl_publish_defer_free(pub, p->link, link_free))
			log_err("peer %s: cannot queue retired objects, leaking them",
				p->link->name);
	}
	free(old->v);
	old->v = NULL;
	old->n = 0;
}

void ctl_peers_free(struct ctl_peers *set)
{
	for (unsigned i = 0; i < set->n; i++)
		peer_destroy(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static void add_route(struct dp_table *t, const struct net_prefix *pfx, uint16_t link,
		      const char *peer)
{
	int err = dp_table_add_route(t, pfx, link);
	if (err) {
		char buf[64];
		log_warn("peer %s: route %s not installed: %s", peer,
			 net_prefix_format(pfx, buf, sizeof(buf)),
			 err == -EEXIST ? "another peer has it" : strerror(-err));
	}
}

struct dp_table *ctl_peers_build_table(const struct ctl_peers *set,
				       const struct dp_table_params *params,
				       const struct ctl_fdb *fdb)
{
	uint32_t nroutes = 0, nspi = 0;
	for (unsigned i = 0; i < set->n; i++) {
		nroutes += 2 + set->v[i].conf->nroutes;
		nspi += set->v[i].conf->keyed ? 3 : 1; /* keyed: current, next, previous */
	}
	uint32_t nfdb = params->mode == DP_MODE_SWITCH && fdb ? ctl_fdb_count(fdb) : 0;
	if (set->n >= DP_LINK_NONE) {
		errno = E2BIG;
		return NULL;
	}
	struct dp_table *t = dp_table_create(params, (uint16_t)set->n, nspi, nroutes, nfdb);
	if (!t)
		return NULL;

	for (unsigned i = 0; i < set->n; i++) {
		const struct ctl_peer *p = &set->v[i];
		const struct ipop_peer_conf *pc = p->conf;
		uint16_t idx = (uint16_t)i;
		struct dp_sa *in[3] = {p->sa_in};
		unsigned nin = 1;
		if (p->lk) {
			dp_table_set_link(t, idx, p->link, ctl_linkmgr_link_sa_out(p->lk),
					  &p->lk->endpoint);
			dp_table_set_link_roam(t, idx, true);
			nin = ctl_linkmgr_link_sa_in(p->lk, in);
		} else {
			dp_table_set_link(t, idx, p->link, p->sa_out, &pc->endpoint);
		}
		for (unsigned k = 0; k < nin; k++) {
			if (!in[k])
				continue; /* keyed peer without its lm_link (not attached) */
			int err = dp_table_add_spi(t, in[k], idx);
			if (err) {
				log_err("peer %s: inbound SPI 0x%08x: %s", pc->name, in[k]->spi,
					err == -EEXIST ? "used by another peer" : strerror(-err));
				dp_table_free(t);
				errno = -err;
				return NULL;
			}
		}
		if (pc->ip4) {
			struct net_prefix h4 = {.len = 32, .family = AF_INET};
			net_addr_set_v4(h4.addr, &pc->ip4);
			add_route(t, &h4, idx, pc->name);
			static const uint8_t zero[16];
			if (memcmp(pc->ip6, zero, 16) != 0) {
				struct net_prefix h6 = {.len = 128, .family = AF_INET6};
				memcpy(h6.addr, pc->ip6, 16);
				add_route(t, &h6, idx, pc->name);
			}
		}
		for (unsigned r = 0; r < pc->nroutes; r++)
			add_route(t, &pc->routes[r], idx, pc->name);
	}

	if (nfdb) {
		uint32_t narp = 0;
		for (int32_t i = fdb->lru_head; i >= 0; i = fdb->e[i].lru_next)
			narp += fdb->e[i].ip4 != 0;
		/* switch mode: hosts' addresses behind members, answered locally */
		if (narp && dp_table_reserve_arp(t, narp) == 0)
			for (int32_t i = fdb->lru_head; i >= 0; i = fdb->e[i].lru_next)
				if (fdb->e[i].ip4 &&
				    dp_table_link_index(t, fdb->e[i].link_id) != DP_LINK_NONE)
					dp_table_add_arp(t, fdb->e[i].ip4, fdb->e[i].mac);
		for (int32_t i = fdb->lru_head; i >= 0; i = fdb->e[i].lru_next) {
			uint16_t idx = dp_table_link_index(t, fdb->e[i].link_id);
			if (idx == DP_LINK_NONE)
				continue;
			int err = dp_table_add_fdb(t, fdb->e[i].mac, idx);
			if (err && err != -EEXIST) {
				log_warn("fdb: table full, %u MACs left out", nfdb - t->n_fdb);
				break;
			}
		}
	}
	dp_table_seal(t);
	return t;
}
