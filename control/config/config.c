/* Configuration loader core (see config.h and docs/configuration.md).
 *
 * Owns the translation from JSON text to struct ipop_config: the generic,
 * table-driven section walk (each key is a setting, a checked-and-warned
 * leftover, or silently accepted), the IPOP controller sections, the checks
 * that need several sections at once, and the --check output. The "ipopd"
 * section lives in config_ipopd.c, key material in config_keys.c and the
 * error and warning messages in config_msg.c (config_internal.h says who
 * owns what). Parsing uses jansson; the line numbers of well-formed but
 * invalid keys come from jsonpos.
 *
 * The first error wins and is the only line written to err; warnings go to
 * log_warn as they are found. Secrets (password, keys) are never echoed and
 * are wiped when the config is freed.
 */
#include "control/config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config/config_internal.h"
#include "dataplane/worker.h"

#define CONFIG_FILE_MAX (1u << 20)

/* ---- scalar getters ---------------------------------------------------- */

int cfg_get_uint(struct loader *ld, const char *path, json_t *v, long long min, long long max,
		 long long *out)
{
	if (!json_is_integer(v))
		return cfg_fail(ld, path, "expected an integer %lld..%lld, got %s", min, max,
				cfg_type_name(v));
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return cfg_fail(ld, path, "expected an integer %lld..%lld, got %lld", min, max, x);
	*out = x;
	return 0;
}

int cfg_get_string(struct loader *ld, const char *path, json_t *v, const char *what,
		   const char **out)
{
	if (!json_is_string(v))
		return cfg_fail(ld, path, "expected %s, got %s", what, cfg_type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(ld, path, "expected %s, got a string containing NUL", what);
	*out = json_string_value(v);
	return 0;
}

int cfg_get_bool(struct loader *ld, const char *path, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return cfg_fail(ld, path, "expected true or false, got %s", cfg_type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* ---- key handlers ------------------------------------------------------ */

bool cfg_ifname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int cfg_key_ifname(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	const char *s;
	char q[64];
	if (cfg_get_string(ld, path, v, IFNAME_EXPECTED, &s))
		return -1;
	if (!cfg_ifname_ok(s))
		return cfg_fail(ld, path, "expected " IFNAME_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf((char *)base + ks->off, ks->size, "%s", s);
	return 0;
}

static int key_ignore_list(struct loader *ld, const struct key_spec *ks, void *base,
			   const char *path, json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR];
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of interface names, got %s",
				cfg_type_name(v));
	c->n_ignore = 0;
	free(c->network_ignore_list);
	c->network_ignore_list = calloc(json_array_size(v) + 1, IFNAMSIZ);
	if (!c->network_ignore_list)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	static const struct key_spec elem = {.size = IFNAMSIZ};
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (cfg_key_ifname(ld, &elem, c->network_ignore_list[c->n_ignore], sub, e))
			return -1;
		c->n_ignore++;
	}
	return 0;
}

static int key_vpn_type(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, "\"GroupVPN\"", &s))
		return -1;
	if (strcmp(s, "GroupVPN"))
		return cfg_fail(ld, path, "expected \"GroupVPN\" (unknown mode), got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_config *)base)->vpn_type,
		 sizeof(((struct ipop_config *)0)->vpn_type), "%s", s);
	return 0;
}

static int key_log_level(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
#define LEVELS "one of \"ERROR\", \"WARNING\", \"INFO\", \"DEBUG\""
	if (cfg_get_string(ld, path, v, LEVELS, &s))
		return -1;
	if (log_level_parse(s, &((struct ipop_config *)base)->log_level))
		return cfg_fail(ld, path, "expected " LEVELS ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	return 0;
}

static int key_switchmode(struct loader *ld, const struct key_spec *ks, void *base,
			  const char *path, json_t *v)
{
	(void)ks;
	if (!json_is_integer(v))
		return cfg_fail(ld, path, "expected 0 (GroupVPN L3) or 1 (switch mode), got %s",
				cfg_type_name(v));
	long long x = json_integer_value(v);
	if (x != 0 && x != 1)
		return cfg_fail(ld, path, "expected 0 (GroupVPN L3) or 1 (switch mode), got %lld",
				x);
	((struct ipop_config *)base)->mode = x ? IPOP_MODE_SWITCH : IPOP_MODE_L3;
	return 0;
}

/* "name:port" where name could be a DNS name: we do not cfg_resolve, we skip. */
static bool looks_like_hostname(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return false;
	size_t hl = (size_t)(colon - s);
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hl)
		return false;
	return strspn(colon + 1, "0123456789") == strlen(colon + 1) && strlen(colon + 1) <= 5 &&
	       atoi(colon + 1) >= 1 && atoi(colon + 1) <= 65535;
}

static int key_stun(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		    json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], q[64];
	size_t i;
	json_t *e;
	(void)ks;
#define STUN_EXPECTED "\"host:port\" with an IPv4 or [IPv6] literal"
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of " STUN_EXPECTED ", got %s",
				cfg_type_name(v));
	free(c->stun);
	c->nstun = 0;
	c->stun = calloc(json_array_size(v) + 1, sizeof(*c->stun));
	if (!c->stun)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		const char *s;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (cfg_get_string(ld, sub, e, STUN_EXPECTED, &s))
			return -1;
		if (net_endpoint_parse(s, &c->stun[c->nstun]) == 0) {
			c->nstun++;
			continue;
		}
		if (!looks_like_hostname(s))
			return cfg_fail(ld, sub, "expected " STUN_EXPECTED ", got %s",
					cfg_quoted(s, q, sizeof(q)));
		cfg_warn(ld, sub,
			 "ignored: %s is a hostname; ipopd does not cfg_resolve names here, "
			 "give an IPv4 or [IPv6] literal",
			 cfg_quoted(s, q, sizeof(q)));
	}
	return 0;
}

int cfg_key_ip4(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		json_t *v)
{
	const char *s;
	char q[64];
	uint32_t ip;
	if (cfg_get_string(ld, path, v, "an IPv4 address", &s))
		return -1;
	if (net_ip4_parse(s, &ip))
		return cfg_fail(ld, path, "expected an IPv4 address, got %s",
				cfg_quoted(s, q, sizeof(q)));
	uint32_t h = ntohl(ip);
	if (h == 0 || h == 0xffffffffu || (h >> 24) == 127 || (h >> 28) == 0xe)
		return cfg_fail(ld, path, "expected a unicast IPv4 address, got %s",
				cfg_quoted(s, q, sizeof(q)));
	memcpy((char *)base + ks->off, &ip, sizeof(ip));
	return 0;
}

static int key_sec(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	bool b = false;
	(void)ks, (void)base;
	if (cfg_get_bool(ld, path, v, &b))
		return -1;
	if (!b)
		return cfg_fail(ld, path,
				"expected true (ipopd never runs unencrypted), got false");
	return 0;
}

/* ---- IPOP controller sections ------------------------------------------ */

#define NO_PHONE_HOME "ipopd never phones home (ipopctl draws the topology locally)"

static const struct key_spec cfx_keys[] = {
    S("xmpp_username", xmpp_username),
    S("xmpp_password", xmpp_password),
    S("xmpp_host", xmpp_host),
    U("xmpp_port", xmpp_port, 1, 65535),
    U("tincan_logging", tincan_logging, 0, 3),
    FN("vpn_type", vpn_type, key_vpn_type),
    U("ip4_mask", ip4_mask, 1, 32),
    FN("network_ignore_list", network_ignore_list, key_ignore_list),
    {"contr_port", KEY_UINT, CF(contr_port), 1, 65535, NULL,
     "ignored: control messages share svpn_port (checked only for clashes)", 0},
    {0}};
static const struct key_spec logger_keys[] = {FN("controller_logging", log_level, key_log_level),
					      {0}};
static const struct key_spec listener_keys[] = {IGN("socket_read_wait_time", JSON_INTEGER,
						    "no tincan socket to poll: the data plane "
						    "runs inside ipopd"),
						{0}};
static const struct key_spec sender_keys[] = {FN("switchmode", mode, key_switchmode),
					      U("svpn_port", port, 1, 65535),
					      FN("stun", stun, key_stun),
					      FN("turn", turn, cfg_key_turn),
					      {0}};
static const struct key_spec topo_keys[] = {
    FN("ip4", ip4, cfg_key_ip4),
    {"sec", KEY_FN, 0, 0, 0, 0, key_sec, NULL, 0},
    B("multihop", multihop),
    U("num_successors", num_successors, 1, 1000),
    U("num_chords", num_chords, 0, 160),
    U("num_on_demand", num_on_demand, 0, 1000),
    U("num_inbound", num_inbound, 1, 100000),
    U("ttl_link_initial", ttl_link_initial, 1, 86400),
    U("ttl_link_pulse", ttl_link_pulse, 1, 86400),
    U("ttl_chord", ttl_chord, 1, 86400),
    U("ttl_on_demand", ttl_on_demand, 1, 86400),
    U("threshold_on_demand", threshold_on_demand, 0, 4294967295ll),
    U("interval_management", interval_management, 1, 86400),
    U("num_pings", num_pings, 0, 1000),
    U("interval_ping", interval_ping, 1, 86400),
    IGN("timer_interval", JSON_INTEGER, "the control core keeps its own timers"),
    IGN("use_central_visualizer", JSON_TRUE, NO_PHONE_HOME),
    IGN("interval_central_visualizer", JSON_INTEGER, NO_PHONE_HOME),
    {0}};
static const struct key_spec stat_keys[] = {
    IGN("enabled", JSON_TRUE, "ipopd never phones home"),
    IGN("stat_server", JSON_STRING, "ipopd never phones home"),
    IGN("stat_server_port", JSON_INTEGER, "ipopd never phones home"),
    IGN("timer_interval", JSON_INTEGER, "ipopd never phones home"),
    {0}};
static const struct key_spec visualizer_keys[] = {
    IGN("enabled", JSON_TRUE, NO_PHONE_HOME),
    IGN("name", JSON_STRING, NO_PHONE_HOME),
    IGN("central_visualizer_addr", JSON_STRING, NO_PHONE_HOME),
    IGN("central_visualizer_port", JSON_INTEGER, NO_PHONE_HOME),
    {0}};
static const struct key_spec no_keys[] = {{0}};

static const struct section_spec ipop_sections[] = {{"CFx", cfx_keys, false},
						    {"Logger", logger_keys, false},
						    {"TincanDispatcher", no_keys, false},
						    {"TincanListener", listener_keys, false},
						    {"TincanSender", sender_keys, false},
						    {"BaseTopologyManager", topo_keys, false},
						    {"LinkManager", no_keys, false},
						    {"StatReport", stat_keys, false},
						    {"CentralVisualizer", visualizer_keys, false},
						    {NULL, NULL, false}};
/* ---- generic section walk ---------------------------------------------- */

static bool type_matches(const json_t *v, int jtype)
{
	if (jtype < 0)
		return true;
	if (jtype == JSON_TRUE)
		return json_is_boolean(v);
	return (int)json_typeof(v) == jtype;
}

static const char *jtype_name(int jtype)
{
	switch (jtype) {
	case JSON_INTEGER:
		return "an integer";
	case JSON_STRING:
		return "a string";
	case JSON_TRUE:
		return "true or false";
	default:
		return "a value";
	}
}

static int apply_key(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	long long x = 0;
	bool b = false;
	const char *s;
	char *dst = (char *)base + ks->off;

	switch (ks->kind) {
	case KEY_UINT:
		if (cfg_get_uint(ld, path, v, ks->min, ks->max, &x))
			return -1;
		if (ks->size == sizeof(uint16_t)) {
			uint16_t u16 = (uint16_t)x;
			memcpy(dst, &u16, sizeof(u16));
		} else {
			uint32_t u32 = (uint32_t)x;
			memcpy(dst, &u32, sizeof(u32));
		}
		break;
	case KEY_STR:
		if (cfg_get_string(ld, path, v, "a string", &s))
			return -1;
		if (strlen(s) >= ks->size)
			return cfg_fail(ld, path,
					"expected a string of at most %zu characters, got %zu",
					ks->size - 1, strlen(s));
		memcpy(dst, s, strlen(s) + 1);
		break;
	case KEY_BOOL:
		if (cfg_get_bool(ld, path, v, &b))
			return -1;
		memcpy(dst, &b, sizeof(b));
		break;
	case KEY_FN:
		if (ks->fn(ld, ks, base, path, v))
			return -1;
		break;
	case KEY_IGNORED:
		if (!type_matches(v, ks->jtype))
			return cfg_fail(ld, path, "expected %s, got %s", jtype_name(ks->jtype),
					cfg_type_name(v));
		cfg_warn(ld, path, "ignored: %s", ks->why);
		return 0;
	}
	if (ks->why)
		cfg_warn(ld, path, "%s", ks->why);
	return 0;
}

int cfg_load_section(struct loader *ld, const struct section_spec *sec, void *base,
		     const char *path, json_t *obj)
{
	const char *k;
	json_t *v;
	char sub[PATH_STR], q[64];

	if (!json_is_object(obj))
		return cfg_fail(ld, path, "expected an object, got %s", cfg_type_name(obj));
	json_object_foreach(obj, k, v)
	{
		const struct key_spec *ks;
		cfg_join(sub, path, k);
		if (!strncmp(k, "_comment", 8))
			continue;
		if (!sec->strict && !strcmp(k, "dependencies"))
			continue; /* IPOP module wiring: meaningless here and harmless */
		for (ks = sec->keys; ks->name && strcmp(ks->name, k); ks++)
			;
		if (ks->name) {
			if (apply_key(ld, ks, base, sub, v))
				return -1;
		} else if (sec->strict) {
			return cfg_fail(ld, sub,
					"expected a key of %s (docs/configuration.md), got %s",
					sec->name, cfg_quoted(k, q, sizeof(q)));
		} else {
			cfg_warn(ld, sub, "ignored: not an ipopd setting");
		}
	}
	return 0;
}

/* ---- whole-config checks and derived settings -------------------------- */

static void set_defaults(struct ipop_config *c)
{
	snprintf(c->vpn_type, sizeof(c->vpn_type), "GroupVPN");
	c->xmpp_port = 5222;
	c->tincan_logging = 1;
	c->ip4_mask = 16;
	c->log_level = LOG_INFO;
	c->mode = IPOP_MODE_L3;
	c->port = 5800;
	c->num_successors = 20;
	c->num_chords = 10;
	c->num_on_demand = 20;
	c->num_inbound = 50;
	c->ttl_link_initial = 60;
	c->ttl_link_pulse = 30;
	c->ttl_chord = 180;
	c->ttl_on_demand = 240;
	c->threshold_on_demand = 128;
	c->interval_management = 15;
	c->num_pings = 5;
	c->interval_ping = 300;
	cfg_ipopd_defaults(c);
}

static int check_config(struct loader *ld, struct ipop_config *c)
{
	char q[64];
	if (c->mode == IPOP_MODE_L3 && !c->ip4)
		return cfg_fail(ld, "BaseTopologyManager.ip4",
				"expected an IPv4 address (required in L3 mode, "
				"TincanSender.switchmode 0), got nothing");
	if (c->mode == IPOP_MODE_L3 && c->bridge[0])
		return cfg_fail(
		    ld, "ipopd.bridge",
		    "expected no bridge in L3 mode (bridging needs TincanSender.switchmode "
		    "1), got %s",
		    cfg_quoted(c->bridge, q, sizeof(q)));
	if (c->contr_port && c->port == c->contr_port)
		return cfg_fail(ld, "TincanSender.svpn_port",
				"expected a port different from CFx.contr_port, got %u", c->port);
	if (c->mode == IPOP_MODE_L3 && c->mtu && c->mtu < 1280)
		cfg_warn(ld, "ipopd.mtu",
			 "below 1280: the overlay's IPv6 (ULA) addresses will not work");
	if (c->ip4) {
		ipop_node_id(c->ip4, c->node_id);
		ipop_ula_from_id(c->node_id, c->ip6);
	}
	if (cfg_disc_check(ld, c))
		return -1;
	if (cfg_dpdk_check(ld, c))
		return -1;
	return cfg_ipopd_check(ld, c);
}

static int load_root(struct loader *ld, json_t *root)
{
	const char *k;
	json_t *v;
	if (!json_is_object(root))
		return cfg_fail(ld, NULL, "expected a JSON object at the top level");
	json_object_foreach(root, k, v)
	{
		const struct section_spec *sec;
		if (!strncmp(k, "_comment", 8))
			continue;
		if (!strcmp(k, "ipopd")) {
			if (cfg_load_section(ld, &cfg_ipopd_section, ld->c, k, v))
				return -1;
			continue;
		}
		for (sec = ipop_sections; sec->name && strcmp(sec->name, k); sec++)
			;
		if (sec->name) {
			if (cfg_load_section(ld, sec, ld->c, k, v))
				return -1;
		} else {
			cfg_warn(ld, k, "ignored: not a section ipopd knows");
		}
	}
	return 0;
}

static int load_text(const char *name, const char *text, size_t len,
		     const struct ipop_config_overrides *ov, struct ipop_config *out, char *err,
		     size_t errlen)
{
	struct loader ld = {
	    .name = name, .text = text, .len = len, .err = err, .errlen = errlen, .c = out};
	json_error_t jerr;
	json_t *root;
	const char *slash = strrchr(name, '/');

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (!slash)
		snprintf(ld.dir, sizeof(ld.dir), ".");
	else if (slash == name)
		snprintf(ld.dir, sizeof(ld.dir), "/");
	else
		snprintf(ld.dir, sizeof(ld.dir), "%.*s", (int)(slash - name), name);
	if (strlen(name) >= sizeof(out->path))
		return cfg_fail(&ld, NULL, "expected a path shorter than PATH_MAX");
	snprintf(out->path, sizeof(out->path), "%s", name);
	set_defaults(out);

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson quotes the text near the error, raw newlines included */
		for (char *t = jerr.text; *t; t++)
			if ((unsigned char)*t < 0x20 || *t == 0x7f)
				*t = '?';
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", name, jerr.line,
				 jerr.column, jerr.text);
		ipop_config_free(out);
		return -1;
	}
	if (load_root(&ld, root) || cfg_ipopd_overrides(&ld, out, ov) || check_config(&ld, out)) {
		json_decref(root);
		ipop_config_free(out);
		return -1;
	}
	json_decref(root);
	return 0;
}

/* ---- public ------------------------------------------------------------ */

int ipop_config_load_string(const char *name, const char *text,
			    const struct ipop_config_overrides *ov, struct ipop_config *out,
			    char *err, size_t errlen)
{
	return load_text(name, text, strlen(text), ov, out, err, errlen);
}

int ipop_config_load(const char *path, const struct ipop_config_overrides *ov,
		     struct ipop_config *out, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s: expected a readable config file, got: %s", path,
			 strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: expected a regular file of at most %u bytes", path,
			 CONFIG_FILE_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		snprintf(err, errlen, "%s: expected enough memory to read it", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: expected a readable config file, got: %s", path,
				 n < 0 ? strerror(errno) : "short read");
			goto out;
		}
		got += (size_t)n;
	}
	text[got] = 0;
	rc = load_text(path, text, got, ov, out, err, errlen);
out:
	free(text);
	if (fd >= 0)
		close(fd);
	return rc;
}

void ipop_config_free(struct ipop_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->peers && i < c->npeers; i++)
		free(c->peers[i].routes);
	if (c->peers)
		explicit_bzero(c->peers, c->npeers * sizeof(*c->peers));
	free(c->peers);
	if (c->allowed_keys)
		explicit_bzero(c->allowed_keys, c->n_allowed_keys * sizeof(*c->allowed_keys));
	free(c->allowed_keys);
	free(c->stun);
	free(c->static_candidates);
	if (c->turn)
		explicit_bzero(c->turn, c->nturn * sizeof(*c->turn));
	free(c->turn);
	free(c->network_ignore_list);
	free(c->secret_files);
	explicit_bzero(c, sizeof(*c));
}

static const char *ip4_str(uint32_t be, char *buf)
{
	struct in_addr a = {.s_addr = be};
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *ip6_str(const uint8_t ip6[16], char *buf)
{
	return inet_ntop(AF_INET6, ip6, buf, INET6_ADDRSTRLEN);
}

void ipop_config_print(const struct ipop_config *c, FILE *f)
{
	char a[64], ep[NET_ENDPOINT_STRLEN], hex[41];

	fprintf(f, "config: %s\n", c->path);
	fprintf(f, "mode: %s\n", c->mode == IPOP_MODE_SWITCH ? "switch (L2)" : "GroupVPN (L3)");
	fprintf(f, "tap: %s\n", c->tap);
	fprintf(f, "bridge: %s\n", c->bridge[0] ? c->bridge : "(none)");
	fprintf(f, "port: %u\n", c->port);
	if (c->underlay_interface[0])
		fprintf(f, "backend: %s on %s\n", c->backend, c->underlay_interface);
	else
		fprintf(f, "backend: %s\n", c->backend);
	fprintf(f, "workers: %u%s\n", c->workers, c->pin_workers ? " (pinned)" : "");
	if (c->idle == DP_IDLE_BUSY)
		fprintf(f, "idle: busy\n");
	else
		fprintf(f, "idle: adaptive, spin %u us\n", c->idle_spin_us);
	fprintf(f, "burst: %u\n", c->burst);
	if (c->mtu)
		fprintf(f, "mtu: %u\n", c->mtu);
	else
		fprintf(f, "mtu: auto (underlay MTU minus the encapsulation overhead)\n");
	if (c->underlay_mtu)
		fprintf(f, "underlay_mtu: %u\n", c->underlay_mtu);
	else
		fprintf(f,
			"underlay_mtu: auto (the underlay interfaces' and paths' MTU at start)\n");
	if (c->ip4) {
		fprintf(f, "ip4: %s/%u\n", ip4_str(c->ip4, a), c->ip4_mask);
		fprintf(f, "ip6: %s/64\n", ip6_str(c->ip6, a));
		hex_encode(c->node_id, sizeof(c->node_id), hex);
		fprintf(f, "node_id: %s\n", hex);
	} else {
		fprintf(f, "ip4: (none)\n");
	}
	fprintf(f, "multihop: %s\n", c->multihop ? "yes" : "no");
	fprintf(f, "topology: successors %u, chords %u, on-demand %u (threshold %u), inbound %u\n",
		c->num_successors, c->num_chords, c->num_on_demand, c->threshold_on_demand,
		c->num_inbound);
	fprintf(f, "topology ttl: initial %us, pulse %us, chord %us, on-demand %us\n",
		c->ttl_link_initial, c->ttl_link_pulse, c->ttl_chord, c->ttl_on_demand);
	fprintf(f, "topology timers: management every %us, %u pings every %us\n",
		c->interval_management, c->num_pings, c->interval_ping);
	if (c->mode == IPOP_MODE_SWITCH)
		fprintf(f, "fdb_max_age: %us\n", c->fdb_max_age);
	if (c->xmpp_host[0]) {
		fprintf(f, "xmpp_host: %s\n", c->xmpp_host);
		fprintf(f, "xmpp_port: %u\n", c->xmpp_port);
		fprintf(f, "xmpp_username: %s\n", c->xmpp_username);
		fprintf(f, "xmpp_password: %s\n", c->xmpp_password[0] ? "(set)" : "(none)");
	} else {
		fprintf(f, "xmpp: (none: static peers only)\n");
	}
	for (unsigned i = 0; i < c->nstun; i++)
		fprintf(f, "stun: %s\n", net_endpoint_format(&c->stun[i], ep, sizeof(ep)));
	for (unsigned i = 0; i < c->n_ignore; i++)
		fprintf(f, "network_ignore: %s\n", c->network_ignore_list[i]);
	fprintf(f, "log_level: %s\n", log_level_name(c->log_level));
	fprintf(f, "tincan_logging: %d\n", c->tincan_logging);
	cfg_disc_print(c, f);
	cfg_ipopd_print(c, f);
	cfg_dpdk_print(c, f);
	fprintf(f, "mgmt_socket: %s\n", c->mgmt_socket);
	fprintf(f, "state_dir: %s\n", c->state_dir);
}
