/* The "dpdk" object of the "ipopd" section: the DPDK backend's EAL arguments,
 * its underlay port and address, and its host-side ports (a net_tap to the
 * kernel's bridge and/or vhost-user sockets for VMs). docs/dpdk.md explains
 * each key; cfg_dpdk_check() looks at them against "backend".
 */
#include <arpa/inet.h>
#include <string.h>

#include "control/config/config_internal.h"

#define DEVARGS_EXPECTED "a device: a vdev \"net_NAME,key=value,...\" or a PCI address"
#define ADDR_EXPECTED	 "an IPv4 address with its prefix length, like \"198.18.1.2/24\""

static struct ipop_dpdk_conf *conf(void *base)
{
	return &((struct ipop_config *)base)->dpdk;
}

/* Printable ASCII without spaces: devargs and EAL arguments reach argv-like
 * parsers that split on nothing else, and a message quoting them stays one line. */
static bool token_ok(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static int get_token(struct loader *ld, const char *path, json_t *v, const char *what, char *out,
		     size_t outlen, bool allow_empty)
{
	const char *s;
	char q[64];
	if (cfg_get_string(ld, path, v, what, &s))
		return -1;
	size_t n = strlen(s);
	if ((!n && !allow_empty) || n >= outlen || !token_ok(s))
		return cfg_fail(ld, path,
				"expected %s (1..%zu printable characters, no spaces), got %s",
				what, outlen - 1, cfg_quoted(s, q, sizeof(q)));
	memcpy(out, s, n + 1);
	return 0;
}

static int key_eal_args(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	struct ipop_dpdk_conf *d = conf(base);
	char sub[PATH_STR];
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of EAL arguments, got %s",
				cfg_type_name(v));
	if (json_array_size(v) > IPOP_DPDK_ARGS_MAX)
		return cfg_fail(ld, path, "expected at most %d EAL arguments, got %zu",
				IPOP_DPDK_ARGS_MAX, json_array_size(v));
	d->n_eal_args = 0;
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_token(ld, sub, e, "an EAL argument", d->eal_args[i], IPOP_DPDK_ARG_LEN,
			      false))
			return -1;
		d->n_eal_args = (unsigned)i + 1;
	}
	return 0;
}

static int key_underlay_port(struct loader *ld, const struct key_spec *ks, void *base,
			     const char *path, json_t *v)
{
	(void)ks;
	return get_token(ld, path, v, DEVARGS_EXPECTED, conf(base)->underlay_port,
			 IPOP_DPDK_ARG_LEN, false);
}

static int key_host_port(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v)
{
	(void)ks;
	conf(base)->host_port_set = true;
	return get_token(ld, path, v, DEVARGS_EXPECTED " or \"\" (none)", conf(base)->host_port,
			 IPOP_DPDK_ARG_LEN, true);
}

static int key_underlay_address(struct loader *ld, const struct key_spec *ks, void *base,
				const char *path, json_t *v)
{
	struct ipop_dpdk_conf *d = conf(base);
	struct net_prefix p;
	const char *s, *slash;
	char q[64], host[INET_ADDRSTRLEN];
	(void)ks;
	if (cfg_get_string(ld, path, v, ADDR_EXPECTED, &s))
		return -1;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(host) || net_prefix_parse(s, true, &p) ||
	    p.family != AF_INET || p.len < 1 || p.len > 31)
		return cfg_fail(ld, path, "expected " ADDR_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = 0;
	if (net_ip4_parse(host, &d->underlay_ip))
		return cfg_fail(ld, path, "expected " ADDR_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	d->underlay_plen = p.len;
	uint32_t h = ntohl(d->underlay_ip);
	if (h == 0 || (h >> 24) == 127 || (h >> 28) >= 0xe)
		return cfg_fail(ld, path, "expected a unicast IPv4 address, got %s",
				cfg_quoted(s, q, sizeof(q)));
	return 0;
}

static int key_vhost_ports(struct loader *ld, const struct key_spec *ks, void *base,
			   const char *path, json_t *v)
{
	struct ipop_dpdk_conf *d = conf(base);
	char sub[PATH_STR];
	const char *s;
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of vhost-user socket paths, got %s",
				cfg_type_name(v));
	if (json_array_size(v) > IPOP_DPDK_VHOST_MAX)
		return cfg_fail(ld, path, "expected at most %d vhost-user ports, got %zu",
				IPOP_DPDK_VHOST_MAX, json_array_size(v));
	d->n_vhost_ports = 0;
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (cfg_get_string(ld, sub, e, "a socket path", &s))
			return -1;
		if (!*s || !token_ok(s) || strchr(s, ','))
			return cfg_fail(ld, sub,
					"expected a socket path without spaces or commas, got %s",
					cfg_quoted(s, (char[64]){0}, 64));
		if (cfg_resolve(ld, sub, s, d->vhost_ports[i], IPOP_DPDK_PATH_LEN))
			return -1;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(d->vhost_ports[k], d->vhost_ports[i]))
				return cfg_fail(ld, sub,
						"expected a path no other port uses, got "
						"the one of %s[%zu]",
						path, k);
		d->n_vhost_ports = (unsigned)i + 1;
	}
	return 0;
}

#define DF(f) offsetof(struct ipop_config, dpdk.f), sizeof(((struct ipop_config *)0)->dpdk.f)
static const struct key_spec dpdk_keys[] = {
    {"eal_args", KEY_FN, DF(eal_args), 0, 0, key_eal_args, NULL, 0},
    {"underlay_port", KEY_FN, DF(underlay_port), 0, 0, key_underlay_port, NULL, 0},
    {"underlay_address", KEY_FN, DF(underlay_ip), 0, 0, key_underlay_address, NULL, 0},
    {"underlay_gateway", KEY_FN, DF(underlay_gateway), 0, 0, cfg_key_ip4, NULL, 0},
    {"host_port", KEY_FN, DF(host_port), 0, 0, key_host_port, NULL, 0},
    {"vhost_ports", KEY_FN, DF(vhost_ports), 0, 0, key_vhost_ports, NULL, 0},
    {"queues", KEY_UINT, DF(queues), 1, 16, NULL, NULL, 0},
    {"mbufs", KEY_UINT, DF(mbufs), 1024, 1 << 20, NULL, NULL, 0},
    {0}};
static const struct section_spec dpdk_section = {"ipopd.dpdk", dpdk_keys, true};

int cfg_key_dpdk(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v)
{
	(void)ks;
	conf(base)->set = true;
	return cfg_load_section(ld, &dpdk_section, base, path, v);
}

int cfg_dpdk_check(struct loader *ld, struct ipop_config *c)
{
	struct ipop_dpdk_conf *d = &c->dpdk;
	uint32_t ip, mask;

	if (strcmp(c->backend, "dpdk")) {
		if (d->set)
			cfg_warn(ld, "ipopd.dpdk", "ignored: ipopd.backend is \"%s\"", c->backend);
		return 0;
	}
	if (!d->underlay_port[0])
		return cfg_fail(ld, d->set ? "ipopd.dpdk.underlay_port" : "ipopd.dpdk",
				"expected " DEVARGS_EXPECTED " with backend \"dpdk\", got nothing");
	if (!d->underlay_plen)
		return cfg_fail(ld, "ipopd.dpdk.underlay_address",
				"expected " ADDR_EXPECTED " with backend \"dpdk\", got nothing");
	ip = d->underlay_ip;
	mask = net_ip4_mask(d->underlay_plen);
	if (d->underlay_gateway && ((d->underlay_gateway ^ ip) & mask))
		return cfg_fail(ld, "ipopd.dpdk.underlay_gateway",
				"expected an address inside ipopd.dpdk.underlay_address's subnet");
	if (d->underlay_gateway == ip)
		return cfg_fail(ld, "ipopd.dpdk.underlay_gateway",
				"expected another address than our own");
	if (!d->host_port_set && d->n_vhost_ports)
		d->host_port[0] = 0;
	else if (!d->host_port_set)
		snprintf(d->host_port, sizeof(d->host_port), "net_tap0,iface=%s", c->tap);
	if (!d->host_port[0] && !d->n_vhost_ports)
		return cfg_fail(ld, "ipopd.dpdk.host_port",
				"expected a host side: host_port (a net_tap) or vhost_ports");
	if (!d->n_eal_args) {
		snprintf(d->eal_args[0], IPOP_DPDK_ARG_LEN, "--in-memory");
		d->n_eal_args = 1;
	}
	return 0;
}

void cfg_dpdk_print(const struct ipop_config *c, FILE *f)
{
	const struct ipop_dpdk_conf *d = &c->dpdk;
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	if (strcmp(c->backend, "dpdk"))
		return;
	fprintf(f, "dpdk eal_args:");
	for (unsigned i = 0; i < d->n_eal_args; i++)
		fprintf(f, " %s", d->eal_args[i]);
	fprintf(f, "\ndpdk underlay_port: %s\n", d->underlay_port);
	fprintf(f, "dpdk underlay_address: %s/%u\n",
		inet_ntop(AF_INET, &d->underlay_ip, a, sizeof(a)), d->underlay_plen);
	fprintf(f, "dpdk underlay_gateway: %s\n",
		d->underlay_gateway ? inet_ntop(AF_INET, &d->underlay_gateway, g, sizeof(g))
				    : "(none)");
	fprintf(f, "dpdk host_port: %s\n", d->host_port[0] ? d->host_port : "(none)");
	for (unsigned i = 0; i < d->n_vhost_ports; i++)
		fprintf(f, "dpdk vhost_port: %s\n", d->vhost_ports[i]);
	fprintf(f, "dpdk queues: %u\n", d->queues ? d->queues : c->workers);
}
