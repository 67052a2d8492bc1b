/* SIGHUP reloads and the one "commit a new peer set" sequence they share
 * with discovery (see ctl.h). */
#include "control/core/ctl.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

int ctl_peers_commit(struct ctl *c, const struct ipop_config *cfg, unsigned *kept,
		     unsigned *removed, const char **stage)
{
	const char *unused;
	struct ctl_peers np;
	struct ctl_disc *d = &c->disc;
	if (!stage)
		stage = &unused;
	*stage = "peers";
	int rc =
	    ctl_peers_diff_ext(&c->peers, cfg, d->confs, d->ndyn, c->mgr, &c->next_link_id, &np);
	if (rc)
		return rc;
	*stage = "links";
	rc = ctl_linkmgr_attach(&c->lm, &np, clock_now_ms());
	if (rc)
		goto abort;
	*stage = "table";
	struct dp_table *t = ctl_build_table(c, &np);
	if (!t) {
		rc = errno ? -errno : -ENOMEM;
		goto abort;
	}
	*stage = "publish";
	rc = ctl_publish_table(&c->pub, t);
	if (rc)
		goto abort;
	ctl_linkmgr_published(&c->lm, &c->pub);
	unsigned k = 0;
	for (unsigned i = 0; i < np.n; i++)
		k += !np.v[i].fresh;
	if (kept)
		*kept = k;
	if (removed)
		*removed = c->peers.n - k;
	ctl_peers_retire(&c->peers, &c->pub, &c->fdb);
	c->peers = np;
	ctl_disc_swapped(d);
	return 0;
abort:
	ctl_peers_abort(&np, &c->peers);
	return rc;
}

/* ---- reload ------------------------------------------------------------ */

#define KEEP_NUM(field, what)                                                                      \
	do {                                                                                       \
		if (n->field != old->field) {                                                      \
			log_warn("reload: %s changed: needs a restart, keeping the running value", \
				 what);                                                            \
			n->field = old->field;                                                     \
		}                                                                                  \
	} while (0)
#define KEEP_STR(field, what)                                                                      \
	do {                                                                                       \
		if (strcmp(n->field, old->field) != 0) {                                           \
			log_warn("reload: %s changed (%s → %s): needs a restart, keeping %s",      \
				 what, old->field, n->field, old->field);                          \
			memcpy(n->field, old->field, sizeof(n->field));                            \
		}                                                                                  \
	} while (0)

/* Settings baked into the TAP, the sockets or the threads stay as they are
 * until a restart; everything else in n is applied. */
static void keep_restart_only(const struct ipop_config *old, struct ipop_config *n)
{
	KEEP_STR(tap, "tap");
	KEEP_NUM(port, "port");
	KEEP_NUM(mode, "mode");
	KEEP_STR(backend, "backend");
	if (memcmp(&n->dpdk, &old->dpdk, sizeof(n->dpdk)) != 0) { /* EAL starts once */
		log_warn("reload: dpdk changed: needs a restart, keeping the running value");
		n->dpdk = old->dpdk;
	}
	KEEP_STR(underlay_interface, "underlay_interface");
	KEEP_NUM(xdp_mode, "xdp_mode");
	KEEP_NUM(workers, "workers");
	KEEP_NUM(burst, "burst");
	KEEP_NUM(idle, "idle");
	KEEP_NUM(pin_workers, "pin_workers");
	KEEP_NUM(mtu, "mtu");
	KEEP_NUM(underlay_mtu, "underlay_mtu");
	KEEP_STR(bridge, "bridge");
	KEEP_STR(mgmt_socket, "mgmt_socket");
	KEEP_STR(state_dir, "state_dir");
	KEEP_STR(user, "user");
	KEEP_NUM(http_enabled, "http_listen");
	KEEP_NUM(http_listen.port, "http_listen");
	KEEP_NUM(ip4_mask, "ip4_mask");
	/* The XMPP session holds its own copy (the password is never logged). */
	KEEP_STR(xmpp_host, "CFx.xmpp_host");
	KEEP_STR(xmpp_username, "CFx.xmpp_username");
	KEEP_NUM(xmpp_port, "CFx.xmpp_port");
	KEEP_NUM(group, "group");
	KEEP_STR(muc_room, "muc_room");
	/* Trust by certificate: loaded with the link manager (the CRL reloads) */
	KEEP_NUM(trust, "trust");
	KEEP_STR(ca_file, "ca_file");
	KEEP_STR(cert_file, "cert_file");
	KEEP_STR(crl_file, "crl_file");
	/* Advertised in our presence, which is built once at start. */
	if (n->n_advertise_routes != old->n_advertise_routes ||
	    memcmp(n->advertise_routes, old->advertise_routes,
		   old->n_advertise_routes * sizeof(old->advertise_routes[0]))) {
		log_warn("reload: advertise_routes changed: needs a restart, keeping the running "
			 "value");
		n->n_advertise_routes = old->n_advertise_routes;
		memcpy(n->advertise_routes, old->advertise_routes, sizeof(n->advertise_routes));
	}
	if (n->ip4 != old->ip4) {
		log_warn("reload: ip4 changed: needs a restart, keeping the running value");
		n->ip4 = old->ip4;
		memcpy(n->ip6, old->ip6, sizeof(n->ip6));
		memcpy(n->node_id, old->node_id, sizeof(n->node_id));
	}
}

int ctl_reload(struct ctl *c)
{
	struct ipop_config n;
	char err[512];
	c->reloads++;
	ctl_linkmgr_trust_reload(&c->lm); /* the CRL, whatever becomes of the config */
	if (ipop_config_load(c->config_path, &c->opt.ov, &n, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running config: %s", err);
		c->reload_errors++;
		return -EINVAL;
	}
	keep_restart_only(&c->cfg, &n);

	unsigned kept, removed;
	const char *stage;
	int rc = ctl_peers_commit(c, &n, &kept, &removed, &stage);
	if (rc) {
		log_err("reload failed, keeping the running config: %s: %s", stage, strerror(-rc));
		goto fail;
	}
	ipop_config_free(&c->cfg);
	c->cfg = n;
	ctl_apply_log_level(c, &c->cfg);
	ctl_fdb_set_max_age(&c->fdb, c->cfg.fdb_max_age);
	log_info("reloaded: %u peer%s (%u unchanged, %u new or changed, %u retired), table %llu",
		 c->peers.n, c->peers.n == 1 ? "" : "s", kept, c->peers.n - kept, removed,
		 (unsigned long long)c->pub.version);
	return 0;

fail:
	c->reload_errors++;
	ipop_config_free(&n);
	return rc;
}
