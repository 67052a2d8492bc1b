/* The "ipopd" section of the config: ipopd's own settings, its statically
 * configured peers (keyed by public key, or manually keyed with SAs from
 * config_keys.c), the link timers of the Noise handshake, the defaults that
 * depend on the TAP name, and the checks that look at all peers at once.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/config/config_internal.h"
#include "util/key64.h"
#include "dataplane/worker.h"

#define REKEY_PACKETS_MAX ((1ll << 32) - (1ll << 20)) /* margin before the 32-bit seq wraps */
#define SECONDS_MAX	  86400.0
#define BACKEND_EXPECTED  "\"kernel\", \"af_xdp\" or \"dpdk\""
#define XDP_MODE_EXPECTED "\"auto\", \"native\" or \"generic\""

/* ---- settings ---------------------------------------------------------- */

static int key_backend(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		       json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, BACKEND_EXPECTED, &s))
		return -1;
	/* Whether this build has it is the backend's to say (dp_backend_open). */
	if (strcmp(s, "kernel") && strcmp(s, "af_xdp") && strcmp(s, "dpdk"))
		return cfg_fail(ld, path, "expected " BACKEND_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_config *)base)->backend, sizeof(((struct ipop_config *)0)->backend),
		 "%s", s);
	return 0;
}

static int key_xdp_mode(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	static const char *const modes[] = {"auto", "native", "generic"};
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, XDP_MODE_EXPECTED, &s))
		return -1;
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, modes[i])) {
			((struct ipop_config *)base)->xdp_mode = i;
			return 0;
		}
	return cfg_fail(ld, path, "expected " XDP_MODE_EXPECTED ", got %s",
			cfg_quoted(s, q, sizeof(q)));
}

static int key_idle(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		    json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, "\"adaptive\" or \"busy\"", &s))
		return -1;
	if (!strcmp(s, "adaptive"))
		((struct ipop_config *)base)->idle = DP_IDLE_ADAPTIVE;
	else if (!strcmp(s, "busy"))
		((struct ipop_config *)base)->idle = DP_IDLE_BUSY;
	else
		return cfg_fail(ld, path, "expected \"adaptive\" or \"busy\", got %s",
				cfg_quoted(s, q, sizeof(q)));
	return 0;
}

static int key_mtu(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	(void)ks;
	if (!json_is_integer(v))
		return cfg_fail(ld, path, "expected 0 (auto) or an integer 576..9000, got %s",
				cfg_type_name(v));
	long long x = json_integer_value(v);
	if (x != 0 && (x < 576 || x > 9000))
		return cfg_fail(ld, path, "expected 0 (auto) or an integer 576..9000, got %lld", x);
	((struct ipop_config *)base)->mtu = (unsigned)x;
	return 0;
}

int cfg_resolve(struct loader *ld, const char *path, const char *s, char *out, size_t outlen)
{
	int n;
	if (s[0] == '/' || !strcmp(ld->dir, "."))
		n = snprintf(out, outlen, "%s", s);
	else
		n = snprintf(out, outlen, "%s/%s", ld->dir, s);
	if (n < 0 || (size_t)n >= outlen)
		return cfg_fail(ld, path, "expected a path of at most %zu characters, got %d",
				outlen - 1, n);
	return 0;
}

static int key_path(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		    json_t *v)
{
	const char *s;
	if (cfg_get_string(ld, path, v, "a path", &s))
		return -1;
	if (!*s)
		return cfg_fail(ld, path, "expected a path, got an empty string");
	return cfg_resolve(ld, path, s, (char *)base + ks->off, ks->size);
}

static int key_peer_name(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v)
{
	const char *s;
	char q[64];
	size_t n;
	(void)ks;
#define NAME_EXPECTED "a name of 1..31 characters from [A-Za-z0-9_.-]"
	if (cfg_get_string(ld, path, v, NAME_EXPECTED, &s))
		return -1;
	n = strlen(s);
	if (n == 0 || n >= IPOP_NAME_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return cfg_fail(ld, path, "expected " NAME_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_peer_conf *)base)->name, IPOP_NAME_MAX, "%s", s);
	return 0;
}

static int key_endpoint(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, EP_EXPECTED, &s))
		return -1;
	if (net_endpoint_parse(s, &((struct ipop_peer_conf *)base)->endpoint))
		return cfg_fail(ld, path, "expected " EP_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	return 0;
}

#define ROUTE_EXPECTED "a prefix like \"10.1.0.0/16\" or \"fd00:1::/64\""

/* One element of a prefix list (peers[].routes, advertise_routes). */
static int get_prefix(struct loader *ld, const char *path, json_t *e, struct net_prefix *out)
{
	char q[64];
	struct net_prefix tmp;
	const char *s;
	if (cfg_get_string(ld, path, e, ROUTE_EXPECTED, &s))
		return -1;
	if (net_prefix_parse(s, false, out) == 0)
		return 0;
	if (net_prefix_parse(s, true, &tmp) == 0)
		return cfg_fail(ld, path, "expected a prefix without host bits, got %s",
				cfg_quoted(s, q, sizeof(q)));
	return cfg_fail(ld, path, "expected " ROUTE_EXPECTED ", got %s",
			cfg_quoted(s, q, sizeof(q)));
}

/* An array of prefixes into out (room for max; *n = how many). */
static int get_prefixes(struct loader *ld, const char *path, json_t *v, struct net_prefix *out,
			size_t max, unsigned *n)
{
	char sub[PATH_STR];
	size_t i;
	json_t *e;
	*n = 0;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of prefixes, got %s",
				cfg_type_name(v));
	if (json_array_size(v) > max)
		return cfg_fail(ld, path, "expected at most %zu prefixes, got %zu", max,
				json_array_size(v));
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_prefix(ld, sub, e, &out[i]))
			return -1;
		*n = (unsigned)i + 1;
	}
	return 0;
}

static int key_routes(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v)
{
	struct ipop_peer_conf *p = base;
	size_t cap = json_is_array(v) ? json_array_size(v) : 0;
	(void)ks;
	p->routes = calloc(cap + 1, sizeof(*p->routes));
	if (!p->routes)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	return get_prefixes(ld, path, v, p->routes, cap, &p->nroutes);
}

/* Our own subnets, advertised in our presence: what every other gateway
 * would accept there (signalling/sigmsg.h), checked against our addresses in
 * check_advertised() once the whole file is read. */
static int key_advertise_routes(struct loader *ld, const struct key_spec *ks, void *base,
				const char *path, json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], a[INET6_ADDRSTRLEN + 4];
	(void)ks;
	if (get_prefixes(ld, path, v, c->advertise_routes, IPOP_ADVERTISE_ROUTES_MAX,
			 &c->n_advertise_routes))
		return -1;
	for (unsigned i = 0; i < c->n_advertise_routes; i++) {
		const struct net_prefix *r = &c->advertise_routes[i];
		const char *why;
		snprintf(sub, sizeof(sub), "%s[%u]", path, i);
		net_prefix_format(r, a, sizeof(a));
		if ((why = ipop_route_invalid(r)))
			return cfg_fail(
			    ld, sub, "expected a prefix that can be routed, got %s (%s)", a, why);
		for (unsigned k = 0; k < i; k++)
			if (net_prefix_overlap(r, &c->advertise_routes[k]))
				return cfg_fail(ld, sub,
						"expected a prefix that overlaps no other, got %s "
						"(overlaps %s[%u])",
						a, path, k);
	}
	return 0;
}

/* 72 hex digits, optional 0x, surrounding whitespace allowed. Never echoes
 * the value: it is a secret even when it is malformed. */

/* A duration in seconds, fractions allowed ("rekey_interval": 1.5), stored
 * in milliseconds. Strings are refused like everywhere else. */
static int get_seconds(struct loader *ld, const char *path, json_t *v, double min, unsigned *out_ms)
{
	double x;
	if (!json_is_number(v))
		return cfg_fail(ld, path, "expected a number of seconds %g..%g, got %s", min,
				SECONDS_MAX, cfg_type_name(v));
	x = json_number_value(v);
	if (!(x >= min && x <= SECONDS_MAX))
		return cfg_fail(ld, path, "expected a number of seconds %g..%g, got %g", min,
				SECONDS_MAX, x);
	*out_ms = (unsigned)(x * 1000.0 + 0.5);
	return 0;
}

static int key_seconds(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		       json_t *v)
{
	unsigned ms = 0;
	if (get_seconds(ld, path, v, 1.0, &ms))
		return -1;
	memcpy((char *)base + ks->off, &ms, sizeof(ms));
	return 0;
}

static int key_link_timeout(struct loader *ld, const struct key_spec *ks, void *base,
			    const char *path, json_t *v)
{
	ld->link_timeout_set = true;
	return key_seconds(ld, ks, base, path, v);
}

static int key_rekey_packets(struct loader *ld, const struct key_spec *ks, void *base,
			     const char *path, json_t *v)
{
	long long x;
	(void)ks;
	if (cfg_get_uint(ld, path, v, 1000, REKEY_PACKETS_MAX, &x))
		return -1;
	((struct ipop_config *)base)->rekey_packets = (uint64_t)x;
	return 0;
}

static int key_export(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v)
{
	bool b;
	(void)ks;
	if (cfg_get_bool(ld, path, v, &b))
		return -1;
	((struct ipop_config *)base)->key_export = b;
	if (b)
		cfg_warn(ld, path,
			 "enabled: `ipopctl sas --export` prints the live ESP keys of every "
			 "link to anyone who can reach the management socket");
	return 0;
}

static int key_trust(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	static const char *const names[] = {"xmpp", "cert", "both"};
	const char *s;
	(void)ks;
	if (cfg_get_string(ld, path, v, "\"xmpp\", \"cert\" or \"both\"", &s))
		return -1;
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			((struct ipop_config *)base)->trust = (enum ipop_trust)i;
			return 0;
		}
	return cfg_fail(ld, path, "expected \"xmpp\", \"cert\" or \"both\", got \"%s\"", s);
}

/* ---- tables ------------------------------------------------------------ */

static int key_peers(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v);

static const struct key_spec ipopd_keys[] = {
    FN("backend", backend, key_backend),
    FN("dpdk", dpdk, cfg_key_dpdk),
    U("workers", workers, 1, 64),
    FN("idle", idle, key_idle),
    U("burst", burst, 1, DP_BURST_MAX),
    U("idle_spin_us", idle_spin_us, 1, 10000),
    FN("tap", tap, cfg_key_ifname),
    FN("underlay_interface", underlay_interface, cfg_key_ifname),
    FN("xdp_mode", xdp_mode, key_xdp_mode),
    FN("mtu", mtu, key_mtu),
    U("underlay_mtu", underlay_mtu, 1280, 65535),
    FN("bridge", bridge, cfg_key_ifname),
    FN("state_dir", state_dir, key_path),
    FN("mgmt_socket", mgmt_socket, key_path),
    B("pin_workers", pin_workers),
    B("offload_tso", offload_tso),
    B("offload_uso", offload_uso),
    B("offload_gro", offload_gro),
    B("offload_udp_gso", offload_udp_gso),
    B("offload_udp_gro", offload_udp_gro),
    U("fdb_max_age", fdb_max_age, 1, 86400),
    FN("peers", peers, key_peers),
    FN("psk", psk, cfg_key_psk),
    FN("psk_file", psk, cfg_key_psk_file),
    FN("allowed_keys", allowed_keys, cfg_key_allowed_keys),
    FN("rekey_interval", rekey_interval_ms, key_seconds),
    FN("rekey_packets", rekey_packets, key_rekey_packets),
    FN("keepalive_interval", keepalive_ms, key_seconds),
    FN("link_timeout", link_timeout_ms, key_link_timeout),
    FN("key_export", key_export, key_export),
    FN("trust", trust, key_trust),
    FN("ca_file", ca_file, key_path),
    FN("cert_file", cert_file, key_path),
    FN("crl_file", crl_file, key_path),
    FN("xmpp_ca_file", xmpp_ca_file, key_path),
    B("xmpp_allow_plaintext", xmpp_allow_plaintext),
    FN("xmpp_keepalive", xmpp_keepalive_ms, key_seconds),
    FN("group", group, cfg_key_group),
    FN("muc_room", muc_room, cfg_key_muc_room),
    FN("static_candidates", static_candidates, cfg_key_static_candidates),
    FN("advertise_routes", advertise_routes, key_advertise_routes),
    FN("user", user, cfg_key_user),
    FN("http_listen", http_listen, cfg_key_http_listen),
    FN("xmpp_password_file", xmpp_password_file, cfg_key_xmpp_password_file),
    {0}};
const struct section_spec cfg_ipopd_section = {"ipopd", ipopd_keys, true};

static const struct key_spec peer_keys[] = {PFN("name", name, key_peer_name),
					    PFN("endpoint", endpoint, key_endpoint),
					    PFN("ip4", ip4, cfg_key_ip4),
					    PFN("routes", routes, key_routes),
					    PFN("public_key", public_key, cfg_key_public_key),
					    PFN("sa_in", sa_in, cfg_key_sa),
					    PFN("sa_out", sa_out, cfg_key_sa),
					    {0}};
static const struct section_spec peer_section = {"a peer", peer_keys, true};

/* ---- peers ------------------------------------------------------------- */

static int key_peers(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], req[PATH_STR];
	size_t i;
	json_t *e;
	(void)ks;

	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of peer objects, got %s",
				cfg_type_name(v));
	c->peers = calloc(json_array_size(v) + 1, sizeof(*c->peers));
	if (!c->peers)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		struct ipop_peer_conf *p = &c->peers[i];
		c->npeers = (unsigned)i + 1;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		snprintf(p->name, sizeof(p->name), "peer%zu", i);
		p->line = (int)cfg_line_of(ld, sub);
		if (cfg_load_section(ld, &peer_section, p, sub, e))
			return -1;
		cfg_join(req, sub, "endpoint");
		if (!p->endpoint.family)
			return cfg_fail(ld, req, "expected " EP_EXPECTED ", got nothing");
		/* SPIs are >= 0x80000000 once parsed: zero means "not given" */
		if (p->keyed && (p->sa_in.spi || p->sa_out.spi)) {
			cfg_join(req, sub, p->sa_in.spi ? "sa_in" : "sa_out");
			return cfg_fail(ld, req,
					"expected either public_key or sa_in and sa_out, not both");
		}
		if (p->keyed)
			continue;
		if (!p->sa_in.spi && !p->sa_out.spi) {
			p->keyed = p->cert_key = true; /* checked against trust later */
			continue;
		}
		cfg_join(req, sub, "sa_in");
		if (!p->sa_in.spi)
			return cfg_fail(ld, req, "expected " SA_EXPECTED ", got nothing");
		cfg_join(req, sub, "sa_out");
		if (!p->sa_out.spi)
			return cfg_fail(ld, req, "expected " SA_EXPECTED ", got nothing");
	}
	return 0;
}

/* ---- defaults, overrides, whole-config checks --------------------------- */

void cfg_ipopd_defaults(struct ipop_config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(c->backend, sizeof(c->backend), "kernel");
	c->workers = cpus > 2 ? (unsigned)(cpus > 65 ? 64 : cpus - 1) : 1;
	c->idle = DP_IDLE_ADAPTIVE;
	c->burst = 32;
	c->idle_spin_us = DP_IDLE_SPIN_US_DEFAULT;
	c->offload_tso = c->offload_uso = c->offload_gro = true;
	c->offload_udp_gso = c->offload_udp_gro = true;
	snprintf(c->tap, sizeof(c->tap), "ipop");
	c->fdb_max_age = 300;
	c->rekey_interval_ms = 120 * 1000;
	c->rekey_packets = 1ull << 31;
	c->keepalive_ms = 10 * 1000;
	c->link_timeout_ms = 30 * 1000;
	c->key_export = false;
}

static bool key_allowed(const struct ipop_config *c, const uint8_t key[32])
{
	for (unsigned i = 0; i < c->n_allowed_keys; i++)
		if (!memcmp(c->allowed_keys[i], key, IPOP_KEY_LEN))
			return true;
	return false;
}

static int check_peers(struct loader *ld, struct ipop_config *c)
{
	char path[PATH_STR], q[64];
	uint32_t mask = net_ip4_mask(c->ip4_mask);

	if (c->trust != IPOP_TRUST_XMPP && (!c->ca_file[0] || !c->cert_file[0]))
		return cfg_fail(ld, "ipopd.trust",
				"expected ipopd.ca_file and ipopd.cert_file with trust \"%s\"",
				c->trust == IPOP_TRUST_CERT ? "cert" : "both");
	for (unsigned i = 0; i < c->npeers; i++) {
		struct ipop_peer_conf *p = &c->peers[i];
		snprintf(path, sizeof(path), "ipopd.peers[%u]", i);
		if (p->cert_key && c->trust != IPOP_TRUST_CERT)
			return cfg_fail(ld, path,
					"expected public_key or sa_in and sa_out, got neither "
					"(a peer known by its certificate alone needs ipopd.trust "
					"\"cert\")");
		snprintf(path, sizeof(path), "ipopd.peers[%u].ip4", i);
		if (c->mode == IPOP_MODE_L3 && !p->ip4)
			return cfg_fail(
			    ld, path,
			    "expected an IPv4 address (required in L3 mode), got nothing");
		if (p->ip4 && p->ip4 == c->ip4)
			return cfg_fail(ld, path,
					"expected an address other than our own "
					"BaseTopologyManager.ip4");
		if (p->ip4 && c->ip4 && ((p->ip4 ^ c->ip4) & mask)) {
			struct in_addr net = {.s_addr = c->ip4 & mask};
			cfg_warn(ld, path,
				 "outside the overlay subnet %s/%u (BaseTopologyManager.ip4, "
				 "CFx.ip4_mask)",
				 inet_ntoa(net), c->ip4_mask);
		}
		snprintf(path, sizeof(path), "ipopd.peers[%u].routes", i);
		if (c->mode == IPOP_MODE_SWITCH && p->nroutes)
			return cfg_fail(ld, path,
					"expected no routes in switch mode (the bridge carries "
					"the subnets)");
		for (unsigned j = 0; j < i; j++) {
			const struct ipop_peer_conf *o = &c->peers[j];
			snprintf(path, sizeof(path), "ipopd.peers[%u].name", i);
			if (!strcmp(p->name, o->name))
				return cfg_fail(ld, path,
						"expected a unique name, got %s (also "
						"ipopd.peers[%u])",
						cfg_quoted(p->name, q, sizeof(q)), j);
			snprintf(path, sizeof(path), "ipopd.peers[%u].ip4", i);
			if (p->ip4 && p->ip4 == o->ip4)
				return cfg_fail(ld, path,
						"expected a unique address (also "
						"ipopd.peers[%u].ip4)",
						j);
			snprintf(path, sizeof(path), "ipopd.peers[%u].public_key", i);
			if (p->keyed && o->keyed && !p->cert_key && !o->cert_key &&
			    !memcmp(p->public_key, o->public_key, sizeof(p->public_key)))
				return cfg_fail(ld, path,
						"expected a public key unique among peers (also "
						"ipopd.peers[%u].public_key)",
						j);
			snprintf(path, sizeof(path), "ipopd.peers[%u].sa_in.spi", i);
			if (!p->keyed && !o->keyed && p->sa_in.spi == o->sa_in.spi)
				return cfg_fail(ld, path,
						"expected an SPI unique among sa_in SPIs, got "
						"0x%08x (also ipopd.peers[%u].sa_in.spi)",
						p->sa_in.spi, j);
		}
		snprintf(path, sizeof(path), "ipopd.peers[%u].public_key", i);
		if (p->keyed && !p->cert_key && c->n_allowed_keys &&
		    !key_allowed(c, p->public_key))
			return cfg_fail(ld, path,
					"expected a key listed in ipopd.allowed_keys (a non-empty "
					"list admits only its keys)");
		if (p->ip4) {
			uint8_t id[20];
			ipop_node_id(p->ip4, id);
			ipop_ula_from_id(id, p->ip6);
		}
	}
	return 0;
}

int cfg_ipopd_overrides(struct loader *ld, struct ipop_config *c,
			const struct ipop_config_overrides *ov)
{
	char q[64];
	if (ov && ov->tap) {
		if (!cfg_ifname_ok(ov->tap)) {
			if (ld->err && ld->errlen)
				snprintf(ld->err, ld->errlen,
					 "command line: --tap: expected " IFNAME_EXPECTED
					 ", got %s",
					 cfg_quoted(ov->tap, q, sizeof(q)));
			ld->failed = true;
			return -1;
		}
		snprintf(c->tap, sizeof(c->tap), "%s", ov->tap);
	}
	if (ov && ov->mgmt_socket) {
		size_t n = strlen(ov->mgmt_socket);
		if (n == 0 || n >= sizeof(c->mgmt_socket) ||
		    n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			if (ld->err && ld->errlen)
				snprintf(ld->err, ld->errlen,
					 "command line: --socket: expected a path of 1..%zu "
					 "characters, got %zu",
					 sizeof(((struct sockaddr_un *)0)->sun_path) - 1, n);
			ld->failed = true;
			return -1;
		}
		snprintf(c->mgmt_socket, sizeof(c->mgmt_socket), "%s", ov->mgmt_socket);
	}
	/* Defaults named after the TAP come last so --tap moves them too. */
	if (!c->state_dir[0])
		snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/ipopd/%s", c->tap);
	if (!c->mgmt_socket[0])
		snprintf(c->mgmt_socket, sizeof(c->mgmt_socket), "/run/ipopd/%s.sock", c->tap);
	if (strlen(c->mgmt_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cfg_fail(ld, "ipopd.mgmt_socket",
				"expected a socket path of at most %zu characters, got %zu",
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
				strlen(c->mgmt_socket));
	return 0;
}

/* Milliseconds as seconds, without a fraction when there is none. */
static const char *seconds_str(unsigned ms, char *buf, size_t len)
{
	if (ms % 1000)
		snprintf(buf, len, "%u.%03u", ms / 1000, ms % 1000);
	else
		snprintf(buf, len, "%u", ms / 1000);
	return buf;
}

/* advertise_routes against the mode, our overlay subnet and the static
 * peers' routes: the other gateways would refuse our presence (signalling/sigmsg.h) or
 * two places would claim one subnet. (Our ULA needs no check: no prefix
 * overlapping the overlay's ULA /64 passes ipop_route_invalid.) */
static int check_advertised(struct loader *ld, const struct ipop_config *c)
{
	char path[PATH_STR], a[INET6_ADDRSTRLEN + 4], b[INET6_ADDRSTRLEN + 4];
	struct net_prefix overlay = {.family = AF_INET, .len = (uint8_t)c->ip4_mask};
	uint32_t net = c->ip4 & net_ip4_mask(c->ip4_mask);

	if (!c->n_advertise_routes)
		return 0;
	if (c->mode == IPOP_MODE_SWITCH)
		return cfg_fail(ld, "ipopd.advertise_routes",
				"expected no routes in switch mode (the bridge carries the "
				"subnets)");
	net_addr_set_v4(overlay.addr, &net);
	net_prefix_format(&overlay, b, sizeof(b));
	for (unsigned i = 0; i < c->n_advertise_routes; i++) {
		const struct net_prefix *r = &c->advertise_routes[i];
		snprintf(path, sizeof(path), "ipopd.advertise_routes[%u]", i);
		net_prefix_format(r, a, sizeof(a));
		if (c->ip4 && net_prefix_overlap(r, &overlay))
			return cfg_fail(ld, path,
					"expected a prefix outside the overlay subnet %s "
					"(BaseTopologyManager.ip4, CFx.ip4_mask), got %s",
					b, a);
		for (unsigned p = 0; p < c->npeers; p++)
			for (unsigned k = 0; k < c->peers[p].nroutes; k++)
				if (net_prefix_overlap(r, &c->peers[p].routes[k]))
					return cfg_fail(ld, path,
							"expected a prefix no peer routes, got "
							"%s (overlaps ipopd.peers[%u].routes[%u])",
							a, p, k);
	}
	return 0;
}

int cfg_ipopd_check(struct loader *ld, struct ipop_config *c)
{
	char ka[24], lt[24];
	seconds_str(c->keepalive_ms, ka, sizeof(ka));
	seconds_str(c->link_timeout_ms, lt, sizeof(lt));
	if (c->link_timeout_ms <= c->keepalive_ms) {
		if (ld->link_timeout_set)
			return cfg_fail(
			    ld, "ipopd.link_timeout",
			    "expected more seconds than keepalive_interval (%s), got %s", ka, lt);
		return cfg_fail(ld, "ipopd.keepalive_interval",
				"expected fewer seconds than link_timeout (%s by default; set it "
				"too), got %s",
				lt, ka);
	}
	if (!strcmp(c->backend, "af_xdp") && !c->underlay_interface[0])
		return cfg_fail(ld, "ipopd.backend",
				"expected ipopd.underlay_interface (the interface the XDP program "
				"goes on) with backend \"af_xdp\"");
	if (check_peers(ld, c))
		return -1;
	return check_advertised(ld, c);
}

/* ---- --check output ---------------------------------------------------- */

static void print_seconds(FILE *f, const char *key, unsigned ms)
{
	char buf[24];
	fprintf(f, "%s: %ss\n", key, seconds_str(ms, buf, sizeof(buf)));
}

void cfg_ipopd_print(const struct ipop_config *c, FILE *f)
{
	char a[INET6_ADDRSTRLEN + 8], ep[NET_ENDPOINT_STRLEN], b64[IPOP_KEY_B64_LEN + 1];

	fprintf(f, "psk: %s\n", c->has_psk ? "(set)" : "(none)");
	if (!c->n_allowed_keys)
		fprintf(f, "allowed_keys: (none: any key the signalling vouches for)\n");
	for (unsigned i = 0; i < c->n_allowed_keys; i++) {
		ipop_key_to_base64(c->allowed_keys[i], b64);
		fprintf(f, "allowed_key: %s\n", b64);
	}
	print_seconds(f, "rekey_interval", c->rekey_interval_ms);
	fprintf(f, "rekey_packets: %llu\n", (unsigned long long)c->rekey_packets);
	print_seconds(f, "keepalive_interval", c->keepalive_ms);
	print_seconds(f, "link_timeout", c->link_timeout_ms);
	fprintf(f, "key_export: %s\n", c->key_export ? "yes" : "no");
	fprintf(f, "trust: %s\n", (const char *[]){"xmpp", "cert", "both"}[c->trust]);
	if (c->trust != IPOP_TRUST_XMPP)
		fprintf(f, "ca_file: %s\ncert_file: %s\ncrl_file: %s\n", c->ca_file, c->cert_file,
			c->crl_file[0] ? c->crl_file : "(none)");
	cfg_ops_print(c, f);
	for (unsigned i = 0; i < c->n_advertise_routes; i++)
		fprintf(f, "advertise_route: %s\n",
			net_prefix_format(&c->advertise_routes[i], a, sizeof(a)));
	for (unsigned i = 0; i < c->npeers; i++) {
		const struct ipop_peer_conf *p = &c->peers[i];
		fprintf(f, "peer %s: endpoint %s\n", p->name,
			net_endpoint_format(&p->endpoint, ep, sizeof(ep)));
		if (p->ip4) {
			struct in_addr in = {.s_addr = p->ip4};
			fprintf(f, "peer %s: ip4 %s\n", p->name,
				inet_ntop(AF_INET, &in, a, sizeof(a)));
			fprintf(f, "peer %s: ip6 %s\n", p->name,
				inet_ntop(AF_INET6, p->ip6, a, sizeof(a)));
		}
		for (unsigned r = 0; r < p->nroutes; r++)
			fprintf(f, "peer %s: route %s\n", p->name,
				net_prefix_format(&p->routes[r], a, sizeof(a)));
		if (p->cert_key) {
			fprintf(f, "peer %s: key from its certificate\n", p->name);
			continue;
		}
		if (p->keyed) {
			ipop_key_to_base64(p->public_key, b64);
			fprintf(f, "peer %s: public_key %s\n", p->name, b64);
			continue;
		}
		fprintf(f, "peer %s: sa_in spi 0x%08x key (set)\n", p->name, p->sa_in.spi);
		fprintf(f, "peer %s: sa_out spi 0x%08x key (set)\n", p->name, p->sa_out.spi);
	}
}
