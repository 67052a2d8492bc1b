/* The management socket (see mgmt.h): connection handling in the control
 * loop, and the JSON answers built from the control core's state. Keys
 * appear only in a "sas" answer with "export": true, and only when the
 * config sets key_export. */
#include "control/mgmt/mgmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/core/ctl.h"
#include "control/mgmt/backend_json.h"
#include "control/link/identity.h"
#include "control/link/linkmgr.h"
#include "control/mgmt/topology.h"
#include "util/json_counters.h"
#include "util/log.h"
#include "util/path.h"

/* ---- JSON answers ---------------------------------------------------- */

static json_t *ip4_json(uint32_t be)
{
	char buf[INET_ADDRSTRLEN];
	if (!be)
		return json_null();
	return json_string(inet_ntop(AF_INET, &be, buf, sizeof(buf)));
}

static json_t *ip6_json(const uint8_t a[16])
{
	static const uint8_t zero[16];
	char buf[INET6_ADDRSTRLEN];
	if (memcmp(a, zero, 16) == 0)
		return json_null();
	return json_string(inet_ntop(AF_INET6, a, buf, sizeof(buf)));
}

static json_t *hex32_json(uint32_t v)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "0x%08x", v);
	return json_string(buf);
}

/* {"tso": "on", "udp_gro": "off: disabled by offload_udp_gro", ...} */
static json_t *offloads_json(const struct dp_offloads *o)
{
	char buf[128];
	json_t *obj = json_object();
	for (int i = 0; obj && i < DP_OFFLOAD__MAX; i++) {
		snprintf(buf, sizeof(buf), o->on[i] ? "on" : "off: %s", o->why[i]);
		json_object_set_new(obj, dp_offload_names[i], json_string(buf));
	}
	return obj;
}

static json_t *status_json(struct ctl *c)
{
	const struct ipop_config *cfg = &c->cfg;
	char id[41];
	hex_encode(cfg->node_id, sizeof(cfg->node_id), id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:o, s:i, s:o, s:s, s:I, s:I, s:i, "
			 "s:s, s:I}",
			 "version", IPOPD_VERSION, "mode",
			 cfg->mode == IPOP_MODE_SWITCH ? "switch" : "l3", "tap", c->backend.host_name,
			 "port", (int)cfg->port, "backend", cfg->backend, "workers",
			 (int)c->nworkers, "mtu", (int)c->netif.mtu, "ip4", ip4_json(cfg->ip4),
			 "ip4_mask", (int)cfg->ip4_mask, "ip6", ip6_json(cfg->ip6), "node_id", id,
			 "uptime_s", (json_int_t)((clock_now_ms() - c->start_ms) / 1000),
			 "table_version", (json_int_t)c->pub.version, "links", (int)c->peers.n,
			 "config", c->config_abs, "reloads", (json_int_t)c->reloads);
	if (o) {
		json_object_set_new(o, "offloads", offloads_json(&c->backend.offloads));
		json_object_set_new(o, "backend_status", mgmt_backend_json(c));
	}
	return o;
}

/* A peer's state, endpoint and current SPIs, whichever way it is keyed. */
static void peer_view(const struct ctl_peer *p, const char **state, const struct net_endpoint **ep,
		      uint32_t *spi_in, uint32_t *spi_out)
{
	const struct lm_link *lk = p->lk;
	if (!lk) {
		*state = p->sa_out ? "up" : "down";
		*ep = &p->conf->endpoint;
		*spi_in = p->conf->keyed ? 0 : p->conf->sa_in.spi;
		*spi_out = p->conf->keyed ? 0 : p->conf->sa_out.spi;
		return;
	}
	*state = ctl_linkmgr_state_name(lk->state);
	*ep = &lk->endpoint;
	*spi_in = lk->cur.sa_in ? lk->cur.sa_in->spi : 0;
	*spi_out = lk->cur.sa_out ? lk->cur.sa_out->spi : 0;
}

static json_t *spi_json(uint32_t spi)
{
	return spi ? hex32_json(spi) : json_null();
}

static json_t *peers_json(struct ctl *c)
{
	json_t *arr = json_array();
	uint64_t now = clock_now_ms();
	for (unsigned i = 0; arr && i < c->peers.n; i++) {
		const struct ctl_peer *p = &c->peers.v[i];
		const struct ipop_peer_conf *pc = p->conf;
		const struct dp_link_stats *s = &p->link->stats;
		char ep[NET_ENDPOINT_STRLEN], pfx[64];
		const char *state;
		const struct net_endpoint *pep;
		uint32_t spi_in, spi_out;
		peer_view(p, &state, &pep, &spi_in, &spi_out);
		json_t *routes = json_array();
		for (unsigned r = 0; routes && r < pc->nroutes; r++)
			json_array_append_new(routes, json_string(net_prefix_format(
							  &pc->routes[r], pfx, sizeof(pfx))));
		json_t *last_rx = p->last_rx_ms
				      ? json_integer((json_int_t)((now - p->last_rx_ms) / 1000))
				      : json_null();
		json_t *o = json_pack(
		    "{s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:o}",
		    "name", pc->name, "id", (json_int_t)p->link->id, "endpoint",
		    net_endpoint_format(pep, ep, sizeof(ep)), "ip4", ip4_json(pc->ip4), "ip6",
		    ip6_json(pc->ip6), "routes", routes ? routes : json_null(), "state", state,
		    "spi_in", spi_json(spi_in), "spi_out", spi_json(spi_out), "tx_packets",
		    (json_int_t)atomic_load_explicit(&s->tx_packets, memory_order_relaxed),
		    "tx_bytes",
		    (json_int_t)atomic_load_explicit(&s->tx_bytes, memory_order_relaxed),
		    "rx_packets",
		    (json_int_t)atomic_load_explicit(&s->rx_packets, memory_order_relaxed),
		    "rx_bytes",
		    (json_int_t)atomic_load_explicit(&s->rx_bytes, memory_order_relaxed),
		    "auth_fail",
		    (json_int_t)atomic_load_explicit(&s->auth_fail, memory_order_relaxed), "replay",
		    (json_int_t)atomic_load_explicit(&s->replay, memory_order_relaxed), "src_check",
		    (json_int_t)atomic_load_explicit(&s->src_check, memory_order_relaxed),
		    "last_rx_s", last_rx);
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "peers", arr ? arr : json_null());
}

static json_t *age_json(uint64_t now, uint64_t then)
{
	return then ? json_integer((json_int_t)((now - then) / 1000)) : json_null();
}

static uint64_t sa_packets(const struct dp_sa *sa)
{
	return sa ? atomic_load_explicit(&sa->packets, memory_order_relaxed) : 0;
}

static json_t *links_json(struct ctl *c)
{
	json_t *arr = json_array();
	uint64_t now = clock_now_ms();
	for (unsigned i = 0; arr && i < c->peers.n; i++) {
		const struct ctl_peer *p = &c->peers.v[i];
		const struct lm_link *lk = p->lk;
		char ep[NET_ENDPOINT_STRLEN];
		const char *state;
		const struct net_endpoint *pep;
		uint32_t spi_in, spi_out;
		peer_view(p, &state, &pep, &spi_in, &spi_out);
		json_t *o;
		if (!lk) {
			o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:n, s:n, s:I, s:i, s:i}",
				      "name", p->conf->name, "keying",
				      p->conf->keyed ? "noise" : "manual", "state", state,
				      "endpoint", net_endpoint_format(pep, ep, sizeof(ep)),
				      "spi_in", spi_json(spi_in), "spi_out", spi_json(spi_out),
				      "key_age_s", "last_handshake_s", "packets_since_handshake",
				      (json_int_t)(sa_packets(p->sa_in) + sa_packets(p->sa_out)),
				      "handshakes", 0, "rekeys", 0);
		} else {
			o = json_pack(
			    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "name",
			    lk->name, "keying", "noise", "state", state, "endpoint",
			    net_endpoint_format(pep, ep, sizeof(ep)), "spi_in", spi_json(spi_in),
			    "spi_out", spi_json(spi_out), "key_age_s",
			    lk->cur.sa_in ? age_json(now, lk->cur.born_ms) : json_null(),
			    "last_handshake_s", age_json(now, lk->last_handshake_ms),
			    "packets_since_handshake",
			    (json_int_t)(sa_packets(lk->cur.sa_in) + sa_packets(lk->cur.sa_out)),
			    "handshakes", (json_int_t)lk->handshakes, "rekeys",
			    (json_int_t)lk->rekeys);
			if (o) { /* handshake round trip (ms): null until one was answered */
				json_object_set_new(o, "rtt_ms",
						    lk->has_rtt ? json_integer(lk->rtt_ms)
								: json_null());
				json_object_set_new(o, "srtt_ms",
						    lk->has_rtt ? json_integer((lk->srtt8 + 4) / 8)
								: json_null());
			}
			if (o && lk->has_cert) /* trust by certificate (lm_cert.c) */
				json_object_set_new(
				    o, "cert",
				    json_pack("{s:s, s:s, s:I, s:b}", "subject", lk->cert.subject,
					      "serial", lk->cert.serial, "not_after",
					      (json_int_t)lk->cert.not_after, "expires_soon",
					      lk->cert.not_after - time(NULL) <
						  CERT_EXPIRY_WARN_S));
			json_t *dj = o ? ctl_disc_link_json(&c->disc, lk) : NULL;
			if (dj)
				json_object_update(o, dj);
			json_decref(dj);
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "links", arr ? arr : json_null());
}

static json_t *key_json(struct ctl *c)
{
	if (!c->lm.have_id)
		return NULL;
	char b64[IPOP_KEY_B64_LEN + 1];
	ipop_key_to_base64(c->lm.id.pub, b64);
	return json_pack("{s:s}", "public_key", b64);
}

static void sa_add(json_t *arr, json_t *lines, const char *link, const char *role, const char *dir,
		   const struct dp_sa *sa, const uint8_t *keymat, bool v6)
{
	if (!sa)
		return;
	char spi[16];
	snprintf(spi, sizeof(spi), "0x%08x", sa->spi);
	json_array_append_new(
	    arr,
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "link", link, "session", role, "dir", dir,
		      "spi", spi, "packets",
		      (json_int_t)atomic_load_explicit(&sa->packets, memory_order_relaxed), "bytes",
		      (json_int_t)atomic_load_explicit(&sa->bytes, memory_order_relaxed)));
	if (!lines || !keymat)
		return;
	/* tshark's esp_sa UAT: protocol, src, dst, SPI, encryption, key, auth, auth key */
	char hex[2 * DP_SA_KEYMAT_LEN + 1], line[256];
	hex_encode(keymat, DP_SA_KEYMAT_LEN, hex);
	snprintf(line, sizeof(line),
		 "\"%s\",\"*\",\"*\",\"%s\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x%s\","
		 "\"NULL\",\"\"",
		 v6 ? "IPv6" : "IPv4", spi, hex);
	explicit_bzero(hex, sizeof(hex));
	json_array_append_new(lines, json_string(line));
	explicit_bzero(line, sizeof(line));
}

/* Every live SA; with export (only when the config allows it) also the
 * esp_sa lines with their keys. */
static json_t *sas_json(struct ctl *c, bool export, const char **error)
{
	if (export && !c->cfg.key_export) {
		*error = "key export is disabled (ipopd.key_export)";
		return NULL;
	}
	json_t *arr = json_array();
	json_t *lines = export ? json_array() : NULL;
	for (unsigned i = 0; arr && i < c->peers.n; i++) {
		const struct ctl_peer *p = &c->peers.v[i];
		const struct ipop_peer_conf *pc = p->conf;
		const struct lm_link *lk = p->lk;
		if (!lk) {
			bool v6 = pc->endpoint.family == AF_INET6;
			sa_add(arr, lines, pc->name, "manual", "in", p->sa_in, pc->sa_in.keymat,
			       v6);
			sa_add(arr, lines, pc->name, "manual", "out", p->sa_out, pc->sa_out.keymat,
			       v6);
			continue;
		}
		bool v6 = lk->endpoint.family == AF_INET6;
		const struct lm_session *ss[3] = {&lk->cur, &lk->next, &lk->prev};
		static const char *const role[3] = {"current", "next", "previous"};
		for (unsigned k = 0; k < 3; k++) {
			const struct lm_session *s = ss[k];
			sa_add(arr, lines, lk->name, role[k], "in", s->sa_in,
			       s->has_keymat ? s->keymat_in : NULL, v6);
			sa_add(arr, lines, lk->name, role[k], "out", s->sa_out,
			       s->has_keymat ? s->keymat_out : NULL, v6);
		}
	}
	json_t *o = json_pack("{s:o}", "sas", arr ? arr : json_null());
	if (o && lines)
		json_object_set_new(o, "esp_sa", lines);
	else
		json_decref(lines);
	return o;
}

static const struct json_counter handshake_fields[] = {
    JSON_COUNTER(struct lm_counters, initiations_sent),
    JSON_COUNTER(struct lm_counters, initiations_received),
    JSON_COUNTER(struct lm_counters, responses_sent),
    JSON_COUNTER(struct lm_counters, responses_received),
    JSON_COUNTER(struct lm_counters, completed),
    JSON_COUNTER(struct lm_counters, rekeys),
    JSON_COUNTER(struct lm_counters, retransmits),
    JSON_COUNTER(struct lm_counters, mac1_fail),
    JSON_COUNTER(struct lm_counters, stale_timestamp),
    JSON_COUNTER(struct lm_counters, unknown_key),
    JSON_COUNTER(struct lm_counters, decrypt_fail),
    JSON_COUNTER(struct lm_counters, cookie_replies_sent),
    JSON_COUNTER(struct lm_counters, ratelimited),
    JSON_COUNTER(struct lm_counters, links_down),
    JSON_COUNTER(struct lm_counters, malformed),
    JSON_COUNTER(struct lm_counters, collisions),
    JSON_COUNTER(struct lm_counters, cookie_replies_received),
    JSON_COUNTER(struct lm_counters, keepalives_sent),
    JSON_COUNTER(struct lm_counters, roams),
    JSON_COUNTER(struct lm_counters, probes),
    JSON_COUNTER(struct lm_counters, probes_unanswered),
    JSON_COUNTER(struct lm_counters, upgrades),
    JSON_COUNTER(struct lm_counters, passive_refused),
    JSON_COUNTER(struct lm_counters, cert_other_ca),
    JSON_COUNTER(struct lm_counters, cert_expired),
    JSON_COUNTER(struct lm_counters, cert_not_yet_valid),
    JSON_COUNTER(struct lm_counters, cert_revoked),
    JSON_COUNTER(struct lm_counters, cert_other_key),
    JSON_COUNTER(struct lm_counters, cert_addr_not_covered),
    JSON_COUNTER(struct lm_counters, cert_invalid),
    JSON_COUNTER(struct lm_counters, cert_malformed),
    JSON_COUNTER(struct lm_counters, cert_missing),
    JSON_COUNTER(struct lm_counters, cert_links_dropped),
    JSON_COUNTER(struct lm_counters, cert_requests_sent),
    JSON_COUNTER(struct lm_counters, cert_requests_received),
    JSON_COUNTER(struct lm_counters, cert_replies_sent),
    JSON_COUNTER(struct lm_counters, cert_replies_received),
};

static json_t *handshake_json(const struct lm_counters *h)
{
	return json_counters(h, handshake_fields, JSON_COUNTERS_N(handshake_fields));
}

static const struct json_counter worker_fields[] = {
    JSON_COUNTER(struct dp_counters, host_rx_packets),
    JSON_COUNTER(struct dp_counters, host_rx_bytes),
    JSON_COUNTER(struct dp_counters, host_tx_packets),
    JSON_COUNTER(struct dp_counters, host_tx_bytes),
    JSON_COUNTER(struct dp_counters, net_rx_packets),
    JSON_COUNTER(struct dp_counters, net_rx_bytes),
    JSON_COUNTER(struct dp_counters, net_tx_packets),
    JSON_COUNTER(struct dp_counters, net_tx_bytes),
    JSON_COUNTER(struct dp_counters, punted),
    JSON_COUNTER(struct dp_counters, arp_replies),
    JSON_COUNTER(struct dp_counters, nd_replies),
    JSON_COUNTER(struct dp_counters, icmp_too_big),
    JSON_COUNTER(struct dp_counters, flooded),
    JSON_COUNTER(struct dp_counters, learn_events),
    JSON_COUNTER(struct dp_counters, tables),
    JSON_COUNTER(struct dp_counters, loops),
    JSON_COUNTER(struct dp_counters, idle_sleeps),
    JSON_COUNTER(struct dp_counters, keepalives),
    JSON_COUNTER(struct dp_counters, injected),
    JSON_COUNTER(struct dp_counters, roam_events),
    JSON_COUNTER(struct dp_counters, tap_superframes_in),
    JSON_COUNTER(struct dp_counters, tap_segments_in),
    JSON_COUNTER(struct dp_counters, tap_superframes_out),
    JSON_COUNTER(struct dp_counters, tap_coalesced),
    JSON_COUNTER(struct dp_counters, udp_gso_sends),
    JSON_COUNTER(struct dp_counters, udp_gso_segments),
    JSON_COUNTER(struct dp_counters, udp_gro_reads),
    JSON_COUNTER(struct dp_counters, udp_gro_segments),
    JSON_COUNTER(struct dp_counters, busy_cycles),
    JSON_COUNTER(struct dp_counters, forwarded),
    JSON_COUNTER(struct dp_counters, flood_relayed),
    JSON_COUNTER(struct dp_counters, staged),
    JSON_COUNTER(struct dp_counters, stage_flushed),
};

static json_t *counters_json(const struct dp_counters *k)
{
	json_t *o = json_counters(k, worker_fields, JSON_COUNTERS_N(worker_fields));
	json_t *drops = json_object();
	for (unsigned d = DP_DROP_NONE + 1; drops && d < DP_DROP__MAX; d++)
		json_object_set_new(drops, dp_drop_names[d], json_integer((json_int_t)k->drops[d]));
	if (!o || !drops || json_object_set_new(o, "drops", drops) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *stats_json(struct ctl *c)
{
	json_t *arr = json_array();
	static struct dp_counters total; /* 64-byte aligned, too big for the stack's taste */
	memset(&total, 0, sizeof(total));
	for (unsigned i = 0; arr && i < c->nworkers; i++) {
		static struct dp_counters one;
		memset(&one, 0, sizeof(one));
		dp_counters_add_into(&one, &c->workers[i].counters);
		dp_counters_add_into(&total, &c->workers[i].counters);
		json_t *o = counters_json(&one);
		if (o) {
			json_object_set_new(o, "id", json_integer(i));
			/* the control core's count, not the worker's */
			json_object_set_new(o, "inject_full",
					    json_integer((json_int_t)atomic_load_explicit(
						&c->workers[i].inject_full, memory_order_relaxed)));
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o, s:o, s:I, s:I, s:I, s:o}", "workers", arr ? arr : json_null(),
			 "total", counters_json(&total), "fdb_entries",
			 (json_int_t)ctl_fdb_count(&c->fdb), "punted", (json_int_t)c->punted,
			 "stun_punted", (json_int_t)c->stun_punts, "handshake",
			 handshake_json(&c->lm.hs));
}

static char *error_json(const char *msg)
{
	/* jansson's error text quotes the request's bytes and "%.60s" may cut
	 * a UTF-8 sequence: ASCII only, or json_pack refuses and the client
	 * would get no answer. */
	char safe[256];
	size_t i;
	for (i = 0; msg[i] && i < sizeof(safe) - 1; i++)
		safe[i] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
	safe[i] = 0;
	json_t *o = json_pack("{s:s}", "error", safe);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

char *ctl_mgmt_respond(struct ctl *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		char msg[200];
		snprintf(msg, sizeof(msg), "malformed request: %s", jerr.text);
		return error_json(msg);
	}
	json_t *cmdv = json_is_object(req) ? json_object_get(req, "cmd") : NULL;
	if (!json_is_string(cmdv)) {
		json_decref(req);
		return error_json("request must be an object with a string \"cmd\"");
	}
	const char *cmd = json_string_value(cmdv);
	json_t *res = NULL;
	const char *error = NULL;
	if (strcmp(cmd, "status") == 0)
		res = status_json(c);
	else if (strcmp(cmd, "peers") == 0)
		res = peers_json(c);
	else if (strcmp(cmd, "stats") == 0)
		res = stats_json(c);
	else if (strcmp(cmd, "links") == 0)
		res = links_json(c);
	else if (strcmp(cmd, "key") == 0) {
		res = key_json(c);
		if (!res)
			error = "this instance has no node identity";
	} else if (strcmp(cmd, "xmpp") == 0) {
		json_t *x = ctl_disc_json(&c->disc);
		res = x ? json_pack("{s:o}", "xmpp", x) : NULL;
	} else if (strcmp(cmd, "topology") == 0) {
		res = ctl_mgmt_topology_json(c);
	} else if (strcmp(cmd, "publish") == 0) { /* tests: a table publication now */
		if (ctl_publish_current(c) == 0)
			res = json_pack("{s:I}", "table_version", (json_int_t)c->pub.version);
		else
			error = "table publication failed";
	} else if (strcmp(cmd, "sas") == 0) {
		res = sas_json(c, json_is_true(json_object_get(req, "export")), &error);
	}
	if (!res) {
		char msg[160];
		if (!error) {
			snprintf(
			    msg, sizeof(msg),
			    "unknown command \"%.60s\" (status, peers, stats, links, key, sas, "
			    "xmpp, topology)",
			    cmd);
			error = msg;
		}
		char *out = error_json(error);
		json_decref(req);
		return out;
	}
	json_decref(req);
	char *s = json_dumps(res, JSON_COMPACT);
	/* An export answer holds keys: wipe jansson's copies of them. */
	json_t *lines = json_object_get(res, "esp_sa");
	size_t k;
	json_t *l;
	json_array_foreach(lines, k, l)
	{
		char *txt = (char *)json_string_value(l);
		if (txt)
			explicit_bzero(txt, strlen(txt));
	}
	json_decref(res);
	return s;
}

/* ---- socket handling ------------------------------------------------- */

int ctl_mgmt_open(struct ctl_mgmt *m, const char *path, int epfd)
{
	memset(m, 0, sizeof(*m));
	m->listen_fd = -1;
	m->epfd = epfd;
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("management socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int err = path_mkdir_parents(path);
	if (err) {
		log_err("cannot create the directory of %s: %s", path, strerror(-err));
		return err;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file nobody listens on is a leftover of a crash; one that
	 * answers belongs to a running instance we must not steal from. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EAGAIN) {
		log_err("%s: another ipopd is listening there", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		log_err("management socket %s: %s", path, strerror(errno));
		close(fd);
		if (rc == 0)
			unlink(path);
		return err;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_MGMT_TAG_LISTEN};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		close(fd);
		unlink(path);
		return err;
	}
	m->listen_fd = fd;
	snprintf(m->path, sizeof(m->path), "%s", path);
	log_info("management socket %s", path);
	return 0;
}

static void client_close(struct ctl_mgmt *m, struct ctl_mgmt_client *cl)
{
	if (cl->fd < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	free(cl->out);
	cl->fd = -1;
	cl->out = NULL;
	cl->draining = false;
	cl->inlen = cl->outlen = cl->outoff = 0;
}

void ctl_mgmt_close(struct ctl_mgmt *m)
{
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++)
		client_close(m, &m->clients[i]);
	if (m->listen_fd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->listen_fd, NULL);
		close(m->listen_fd);
		m->listen_fd = -1;
		unlink(m->path);
	}
}

static void do_accept(struct ctl_mgmt *m)
{
	for (;;) {
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: epoll will tell us again */
		/* Full: the oldest client makes room, so idle connections cannot
		 * lock out the next ipopctl for a whole timeout. */
		unsigned slot = 0;
		for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++) {
			if (m->clients[i].fd < 0) {
				slot = i;
				break;
			}
			if (m->clients[i].deadline_ms < m->clients[slot].deadline_ms)
				slot = i;
		}
		struct ctl_mgmt_client *cl = &m->clients[slot];
		if (cl->fd >= 0) {
			m->rejected++;
			client_close(m, cl);
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_MGMT_TAG_CLIENT + slot};
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->inlen = 0;
		cl->deadline_ms = clock_now_ms() + CTL_MGMT_TIMEOUT_MS;
	}
}

/* Writes what the socket takes; closes when done or on error. */
static void client_flush(struct ctl_mgmt *m, struct ctl_mgmt_client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			break;
		}
		cl->outoff += (size_t)n;
	}
	m->served++;
	/* Closing with unread input would reset the connection and the client
	 * could lose the answer (a request that was too long): half-close and
	 * discard its input until it hangs up or the deadline passes. */
	free(cl->out);
	cl->out = NULL;
	cl->draining = true;
	if (shutdown(cl->fd, SHUT_WR) < 0) {
		client_close(m, cl);
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = CTL_MGMT_TAG_CLIENT + (uint64_t)(cl - m->clients)};
	epoll_ctl(m->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
}

static void client_drain(struct ctl_mgmt *m, struct ctl_mgmt_client *cl)
{
	char junk[4096];
	/* Bounded per wakeup: a client that keeps writing cannot hold the loop;
	 * its deadline ends it. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(cl->fd, junk, sizeof(junk), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		client_close(m, cl);
		return;
	}
}

/* Takes ownership of res (NULL: out of memory, drop the client). */
static void client_send(struct ctl_mgmt *m, struct ctl_mgmt_client *cl, char *res)
{
	if (!res) {
		client_close(m, cl);
		return;
	}
	size_t rl = strlen(res);
	cl->out = realloc(res, rl + 2);
	if (!cl->out) {
		free(res);
		client_close(m, cl);
		return;
	}
	cl->out[rl] = '\n';
	cl->out[rl + 1] = 0;
	cl->outlen = rl + 1;
	cl->outoff = 0;
	struct epoll_event ev = {.events = EPOLLOUT,
				 .data.u64 = CTL_MGMT_TAG_CLIENT + (uint64_t)(cl - m->clients)};
	epoll_ctl(m->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
	client_flush(m, cl);
}

static void client_read(struct ctl_mgmt *m, struct ctl *c, struct ctl_mgmt_client *cl)
{
	bool eof = false;
	while (cl->inlen < sizeof(cl->in)) {
		ssize_t n = recv(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen, 0);
		if (n > 0) {
			cl->inlen += (size_t)n;
			continue;
		}
		if (n == 0)
			eof = true;
		else if (errno == EINTR)
			continue;
		else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			client_close(m, cl);
			return;
		}
		break;
	}
	char *nl = memchr(cl->in, '\n', cl->inlen);
	if (nl) {
		client_send(m, cl, ctl_mgmt_respond(c, cl->in, (size_t)(nl - cl->in)));
	} else if (cl->inlen == sizeof(cl->in)) {
		client_send(m, cl, error_json("request too long"));
	} else if (eof) {
		if (cl->inlen == 0)
			client_close(m, cl);
		else
			client_send(m, cl, ctl_mgmt_respond(c, cl->in, cl->inlen));
	}
}

bool ctl_mgmt_event(struct ctl_mgmt *m, struct ctl *c, uint64_t tag, uint32_t events)
{
	if (tag == CTL_MGMT_TAG_LISTEN) {
		do_accept(m);
		return true;
	}
	uint64_t slot = tag - CTL_MGMT_TAG_CLIENT;
	if (tag < CTL_MGMT_TAG_CLIENT || slot >= CTL_MGMT_MAX_CLIENTS)
		return false;
	struct ctl_mgmt_client *cl = &m->clients[slot];
	if (cl->fd < 0)
		return true;
	if (cl->draining)
		client_drain(m, cl);
	else if (cl->out)
		client_flush(m, cl);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(m, c, cl);
	return true;
}

void ctl_mgmt_tick(struct ctl_mgmt *m, uint64_t now_ms)
{
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++) {
		struct ctl_mgmt_client *cl = &m->clients[i];
		if (cl->fd >= 0 && now_ms >= cl->deadline_ms) {
			log_debug("management client timed out");
			client_close(m, cl);
		}
	}
}

/* ---- as an extension of the control loop ------------------------------ */

static int ext_open(void *obj, struct ctl *c, char *errbuf, size_t errlen)
{
	int err = ctl_mgmt_open(obj, c->cfg.mgmt_socket, c->epfd);
	if (err)
		snprintf(errbuf, errlen, "management socket %s: %s", c->cfg.mgmt_socket,
			 strerror(-err));
	return err;
}

static bool ext_event(void *obj, struct ctl *c, uint64_t tag, uint32_t events)
{
	return ctl_mgmt_event(obj, c, tag, events);
}

static void ext_tick(void *obj, uint64_t now_ms)
{
	ctl_mgmt_tick(obj, now_ms);
}

static void ext_close(void *obj)
{
	ctl_mgmt_close(obj);
}

const struct ctl_ext_ops ctl_mgmt_ext_ops = {
    .open = ext_open,
    .event = ext_event,
    .tick = ext_tick,
    .close = ext_close,
};
