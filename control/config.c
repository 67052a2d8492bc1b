/* Configuration loader (see config.h and docs/configuration.md).
 *
 * Owns the translation from JSON text to struct ipop_config: the IPOP
 * controller sections (table-driven: each key is a setting, a checked-and-
 * warned leftover, or silently accepted), ipopd's own section with its static
 * peers and their manual SAs, the checks that need several keys at once, and
 * the defaults that depend on other settings. Parsing uses jansson; the line
 * numbers of well-formed but invalid keys come from jsonpos.
 *
 * The first error wins and is the only line written to err; warnings go to
 * log_warn as they are found. Secrets (password, keys) are never echoed and
 * are wiped when the config is freed.
 */
#include "control/config.h"

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
#include <sys/un.h>
#include <unistd.h>

#include "control/jsonpos.h"
#include "dataplane/pkt.h"
#include "dataplane/worker.h"

#define CONFIG_FILE_MAX (1u << 20)
#define KEY_FILE_MAX	256
#define KEYMAT_HEX_LEN	(2 * DP_SA_KEYMAT_LEN)
#define PATH_STR	128 /* dotted key paths; the longest real one is ~40 */

static const uint8_t ula_prefix[8] = {0xfd, 0x50, 0x0d, 0xbc, 0x41, 0xf2, 0x4a, 0x3c};

struct loader {
	const char *name; /* the file as given, for messages */
	const char *text;
	size_t len;
	char dir[PATH_MAX]; /* relative paths in the file are relative to this */
	char *err;
	size_t errlen;
	bool failed;
	struct ipop_config *c;
};

struct key_spec;
typedef int (*key_fn)(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v);

enum key_kind { KEY_UINT, KEY_STR, KEY_BOOL, KEY_FN, KEY_IGNORED };

struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t off, size; /* where the value goes in the base object */
	long long min, max;
	key_fn fn;
	/* KEY_IGNORED: why the key means nothing here. Other kinds: the value is
	 * checked and stored, and this warning is logged as well. */
	const char *why;
	int jtype; /* KEY_IGNORED: expected JSON type (JSON_TRUE = any bool), -1 = any */
};

struct section_spec {
	const char *name;
	const struct key_spec *keys;
	bool strict; /* unknown keys are errors (our own sections) rather than warnings */
};

/* ---- messages ---------------------------------------------------------- */

/* Line of path, else of its nearest present parent, else 1. */
static unsigned line_of(const struct loader *ld, const char *path)
{
	char buf[PATH_STR];
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		unsigned line = jsonpos_line(ld->text, ld->len, buf);
		if (line)
			return line;
		char *dot = strrchr(buf, '.'), *br = strrchr(buf, '[');
		char *cut = dot > br ? dot : br;
		if (!cut)
			return 1;
		*cut = 0;
	}
}

__attribute__((format(printf, 3, 4))) static int fail(struct loader *ld, const char *path,
						      const char *fmt, ...)
{
	if (ld->failed || !ld->err || !ld->errlen)
		goto out;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path)
		snprintf(ld->err, ld->errlen, "%s:%u: %s: %s", ld->name, line_of(ld, path), path,
			 msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->name, msg);
out:
	ld->failed = true;
	return -1;
}

__attribute__((format(printf, 3, 4))) static void warn(struct loader *ld, const char *path,
						       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s:%u: %s: %s", ld->name, line_of(ld, path), path, msg);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* A user string quoted for a one-line message: control bytes become '?',
 * long strings are cut. */
static const char *quoted(const char *s, char *buf, size_t len)
{
	size_t n = 0, max = len < 48 ? len : 48;
	buf[n++] = '"';
	for (; *s && n + 5 < max; s++)
		buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	if (*s) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = 0;
	return buf;
}

/* Paths longer than PATH_STR are cut; they then just find no line. */
static void join(char *out, const char *parent, const char *key)
{
	if (snprintf(out, PATH_STR, "%s.%s", parent, key) >= PATH_STR)
		out[PATH_STR - 1] = 0;
}

/* ---- scalar getters ---------------------------------------------------- */

static int get_uint(struct loader *ld, const char *path, json_t *v, long long min, long long max,
		    long long *out)
{
	if (!json_is_integer(v))
		return fail(ld, path, "expected an integer %lld..%lld, got %s", min, max,
			    type_name(v));
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return fail(ld, path, "expected an integer %lld..%lld, got %lld", min, max, x);
	*out = x;
	return 0;
}

static int get_string(struct loader *ld, const char *path, json_t *v, const char *what,
		      const char **out)
{
	if (!json_is_string(v))
		return fail(ld, path, "expected %s, got %s", what, type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(ld, path, "expected %s, got a string containing NUL", what);
	*out = json_string_value(v);
	return 0;
}

static int get_bool(struct loader *ld, const char *path, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return fail(ld, path, "expected true or false, got %s", type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* ---- key handlers ------------------------------------------------------ */

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

#define IFNAME_EXPECTED "an interface name of 1..15 characters from [A-Za-z0-9_.-]"

static int key_ifname(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v)
{
	const char *s;
	char q[64];
	if (get_string(ld, path, v, IFNAME_EXPECTED, &s))
		return -1;
	if (!ifname_ok(s))
		return fail(ld, path, "expected " IFNAME_EXPECTED ", got %s",
			    quoted(s, q, sizeof(q)));
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
		return fail(ld, path, "expected an array of interface names, got %s", type_name(v));
	c->n_ignore = 0;
	free(c->network_ignore_list);
	c->network_ignore_list = calloc(json_array_size(v) + 1, IFNAMSIZ);
	if (!c->network_ignore_list)
		return fail(ld, path, "expected a list that fits in memory");
	static const struct key_spec elem = {.size = IFNAMSIZ};
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (key_ifname(ld, &elem, c->network_ignore_list[c->n_ignore], sub, e))
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
	if (get_string(ld, path, v, "\"GroupVPN\"", &s))
		return -1;
	if (strcmp(s, "GroupVPN"))
		return fail(ld, path, "expected \"GroupVPN\" (unknown mode), got %s",
			    quoted(s, q, sizeof(q)));
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
	if (get_string(ld, path, v, LEVELS, &s))
		return -1;
	if (log_level_parse(s, &((struct ipop_config *)base)->log_level))
		return fail(ld, path, "expected " LEVELS ", got %s", quoted(s, q, sizeof(q)));
	return 0;
}

static int key_switchmode(struct loader *ld, const struct key_spec *ks, void *base,
			  const char *path, json_t *v)
{
	(void)ks;
	if (!json_is_integer(v))
		return fail(ld, path, "expected 0 (GroupVPN L3) or 1 (switch mode), got %s",
			    type_name(v));
	long long x = json_integer_value(v);
	if (x != 0 && x != 1)
		return fail(ld, path, "expected 0 (GroupVPN L3) or 1 (switch mode), got %lld", x);
	((struct ipop_config *)base)->mode = x ? IPOP_MODE_SWITCH : IPOP_MODE_L3;
	return 0;
}

/* "name:port" where name could be a DNS name: we do not resolve, we skip. */
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
		return fail(ld, path, "expected an array of " STUN_EXPECTED ", got %s",
			    type_name(v));
	free(c->stun);
	c->nstun = 0;
	c->stun = calloc(json_array_size(v) + 1, sizeof(*c->stun));
	if (!c->stun)
		return fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		const char *s;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_string(ld, sub, e, STUN_EXPECTED, &s))
			return -1;
		if (net_endpoint_parse(s, &c->stun[c->nstun]) == 0) {
			c->nstun++;
			continue;
		}
		if (!looks_like_hostname(s))
			return fail(ld, sub, "expected " STUN_EXPECTED ", got %s",
				    quoted(s, q, sizeof(q)));
		warn(ld, sub,
		     "ignored: %s is a hostname; ipopd does not resolve names here, "
		     "give an IPv4 or [IPv6] literal",
		     quoted(s, q, sizeof(q)));
	}
	return 0;
}

static int key_ip4(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	const char *s;
	char q[64];
	uint32_t ip;
	if (get_string(ld, path, v, "an IPv4 address", &s))
		return -1;
	if (net_ip4_parse(s, &ip))
		return fail(ld, path, "expected an IPv4 address, got %s", quoted(s, q, sizeof(q)));
	uint32_t h = ntohl(ip);
	if (h == 0 || h == 0xffffffffu || (h >> 24) == 127 || (h >> 28) == 0xe)
		return fail(ld, path, "expected a unicast IPv4 address, got %s",
			    quoted(s, q, sizeof(q)));
	memcpy((char *)base + ks->off, &ip, sizeof(ip));
	return 0;
}

static int key_sec(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	bool b = false;
	(void)ks, (void)base;
	if (get_bool(ld, path, v, &b))
		return -1;
	if (!b)
		return fail(ld, path, "expected true (ipopd never runs unencrypted), got false");
	return 0;
}

static int key_backend(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		       json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (get_string(ld, path, v, "\"kernel\"", &s))
		return -1;
	if (!strcmp(s, "af_xdp") || !strcmp(s, "dpdk"))
		return fail(ld, path,
			    "expected \"kernel\" (af_xdp and dpdk backends are not built yet)");
	if (strcmp(s, "kernel"))
		return fail(ld, path, "expected \"kernel\", got %s", quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_config *)base)->backend, sizeof(((struct ipop_config *)0)->backend),
		 "%s", s);
	return 0;
}

static int key_idle(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		    json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (get_string(ld, path, v, "\"adaptive\" or \"busy\"", &s))
		return -1;
	if (!strcmp(s, "adaptive"))
		((struct ipop_config *)base)->idle = DP_IDLE_ADAPTIVE;
	else if (!strcmp(s, "busy"))
		((struct ipop_config *)base)->idle = DP_IDLE_BUSY;
	else
		return fail(ld, path, "expected \"adaptive\" or \"busy\", got %s",
			    quoted(s, q, sizeof(q)));
	return 0;
}

static int key_mtu(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v)
{
	(void)ks;
	if (!json_is_integer(v))
		return fail(ld, path, "expected 0 (auto) or an integer 576..9000, got %s",
			    type_name(v));
	long long x = json_integer_value(v);
	if (x != 0 && (x < 576 || x > 9000))
		return fail(ld, path, "expected 0 (auto) or an integer 576..9000, got %lld", x);
	((struct ipop_config *)base)->mtu = (unsigned)x;
	return 0;
}

/* Relative paths in the file are relative to the file's directory. */
static int resolve(struct loader *ld, const char *path, const char *s, char *out, size_t outlen)
{
	int n;
	if (s[0] == '/' || !strcmp(ld->dir, "."))
		n = snprintf(out, outlen, "%s", s);
	else
		n = snprintf(out, outlen, "%s/%s", ld->dir, s);
	if (n < 0 || (size_t)n >= outlen)
		return fail(ld, path, "expected a path of at most %zu characters, got %d",
			    outlen - 1, n);
	return 0;
}

static int key_path(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		    json_t *v)
{
	const char *s;
	if (get_string(ld, path, v, "a path", &s))
		return -1;
	if (!*s)
		return fail(ld, path, "expected a path, got an empty string");
	return resolve(ld, path, s, (char *)base + ks->off, ks->size);
}

static int key_peer_name(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v)
{
	const char *s;
	char q[64];
	size_t n;
	(void)ks;
#define NAME_EXPECTED "a name of 1..31 characters from [A-Za-z0-9_.-]"
	if (get_string(ld, path, v, NAME_EXPECTED, &s))
		return -1;
	n = strlen(s);
	if (n == 0 || n >= IPOP_NAME_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return fail(ld, path, "expected " NAME_EXPECTED ", got %s",
			    quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_peer_conf *)base)->name, IPOP_NAME_MAX, "%s", s);
	return 0;
}

static int key_endpoint(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
#define EP_EXPECTED "an endpoint \"IPv4:port\" or \"[IPv6]:port\" (port 1..65535)"
	if (get_string(ld, path, v, EP_EXPECTED, &s))
		return -1;
	if (net_endpoint_parse(s, &((struct ipop_peer_conf *)base)->endpoint))
		return fail(ld, path, "expected " EP_EXPECTED ", got %s", quoted(s, q, sizeof(q)));
	return 0;
}

static int key_routes(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v)
{
	struct ipop_peer_conf *p = base;
	char sub[PATH_STR], q[64];
	struct net_prefix tmp;
	size_t i;
	json_t *e;
	(void)ks;
#define ROUTE_EXPECTED "a prefix like \"10.1.0.0/16\" or \"fd00:1::/64\""
	if (!json_is_array(v))
		return fail(ld, path, "expected an array of prefixes, got %s", type_name(v));
	p->routes = calloc(json_array_size(v) + 1, sizeof(*p->routes));
	if (!p->routes)
		return fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		const char *s;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (get_string(ld, sub, e, ROUTE_EXPECTED, &s))
			return -1;
		if (net_prefix_parse(s, false, &p->routes[p->nroutes]) == 0) {
			p->nroutes++;
			continue;
		}
		if (net_prefix_parse(s, true, &tmp) == 0)
			return fail(ld, sub, "expected a prefix without host bits, got %s",
				    quoted(s, q, sizeof(q)));
		return fail(ld, sub, "expected " ROUTE_EXPECTED ", got %s",
			    quoted(s, q, sizeof(q)));
	}
	return 0;
}

/* 72 hex digits, optional 0x, surrounding whitespace allowed. Never echoes
 * the value: it is a secret even when it is malformed. */
static int parse_keymat(struct loader *ld, const char *path, const char *s, uint8_t *out)
{
	char hex[KEYMAT_HEX_LEN + 3];
	size_t n;
	uint8_t tmp[DP_SA_KEYMAT_LEN];
	int rc = 0;

	s += strspn(s, " \t\r\n");
	n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
	}
#define KEY_EXPECTED "72 hex digits (32-byte AES-256 key, then 4-byte salt)"
	if (n != KEYMAT_HEX_LEN)
		return fail(ld, path, "expected " KEY_EXPECTED ", got %zu characters", n);
	memcpy(hex, s, n);
	hex[n] = 0;
	if (hex_decode(hex, tmp, sizeof(tmp)) != DP_SA_KEYMAT_LEN)
		rc = fail(ld, path, "expected " KEY_EXPECTED ", got a non-hex character");
	else
		memcpy(out, tmp, sizeof(tmp));
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(tmp, sizeof(tmp));
	return rc;
}

static int load_key_file(struct loader *ld, const char *path, const char *name, uint8_t *out)
{
	char file[PATH_MAX], buf[KEY_FILE_MAX + 1], q[64];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	if (resolve(ld, path, name, file, sizeof(file)))
		return -1;
	/* O_NONBLOCK: a FIFO named here must not hang the loader. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(ld, path, "expected a readable key file, got %s: %s",
			    quoted(file, q, sizeof(q)), strerror(errno));
	if (fstat(fd, &st)) {
		fail(ld, path, "expected a readable key file, got %s: %s",
		     quoted(file, q, sizeof(q)), strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(ld, path, "expected a regular key file, got %s", quoted(file, q, sizeof(q)));
		goto out_close;
	}
	if (st.st_mode & 077) {
		fail(ld, path, "expected mode 0600 or stricter, got %04o (chmod 600 %s)",
		     (unsigned)(st.st_mode & 07777), quoted(file, q, sizeof(q)));
		goto out_close;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(ld, path, "expected a readable key file, got %s: %s",
			     quoted(file, q, sizeof(q)), strerror(errno));
			goto out_wipe;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	if (got == sizeof(buf) - 1 || strlen(buf) != got) {
		fail(ld, path, "expected %s to hold " KEY_EXPECTED, quoted(file, q, sizeof(q)));
		goto out_wipe;
	}
	rc = parse_keymat(ld, path, buf, out);
out_wipe:
	explicit_bzero(buf, sizeof(buf));
out_close:
	close(fd);
	return rc;
}

static int parse_spi(struct loader *ld, const char *path, json_t *v, uint32_t *out)
{
	char q[64];
	unsigned long long x;
#define SPI_EXPECTED "an SPI like \"0x80000102\" or an integer"
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffll)
			return fail(ld, path, "expected " SPI_EXPECTED " < 2^32, got %lld",
				    json_integer_value(v));
		x = (unsigned long long)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v), *h = s;
		if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
			h += 2;
		size_t n = strlen(h);
		if (n == 0 || n > 8 || strspn(h, "0123456789abcdefABCDEF") != n ||
		    n != json_string_length(v) - (size_t)(h - s))
			return fail(ld, path, "expected " SPI_EXPECTED ", got %s",
				    quoted(s, q, sizeof(q)));
		x = strtoull(h, NULL, 16);
	} else {
		return fail(ld, path, "expected " SPI_EXPECTED ", got %s", type_name(v));
	}
	if (x < 0x80000000ull)
		return fail(ld, path, "expected an SPI >= 0x80000000, got 0x%08llx", x);
	*out = (uint32_t)x;
	return 0;
}

static int key_sa(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		  json_t *v)
{
	struct ipop_sa_conf *sa = (void *)((char *)base + ks->off);
	json_t *spi = NULL, *key = NULL, *key_file = NULL, *m;
	const char *k, *s;
	char sub[PATH_STR], q[64];

	if (!json_is_object(v))
		return fail(ld, path,
			    "expected an object {\"spi\", \"key\" or \"key_file\"}, got %s",
			    type_name(v));
	json_object_foreach(v, k, m)
	{
		if (!strcmp(k, "spi"))
			spi = m;
		else if (!strcmp(k, "key"))
			key = m;
		else if (!strcmp(k, "key_file"))
			key_file = m;
		else if (strncmp(k, "_comment", 8)) {
			join(sub, path, k);
			return fail(ld, sub, "expected one of spi, key, key_file, got %s",
				    quoted(k, q, sizeof(q)));
		}
	}
	join(sub, path, "spi");
	if (!spi)
		return fail(ld, sub, "expected an SPI like \"0x80000102\", got nothing");
	if (parse_spi(ld, sub, spi, &sa->spi))
		return -1;
	if (key && key_file) {
		join(sub, path, "key_file");
		return fail(ld, sub, "expected either key or key_file, not both");
	}
	if (key) {
		join(sub, path, "key");
		if (!json_is_string(key))
			return fail(ld, sub, "expected " KEY_EXPECTED ", got %s", type_name(key));
		return parse_keymat(ld, sub, json_string_value(key), sa->keymat);
	}
	if (key_file) {
		join(sub, path, "key_file");
		if (get_string(ld, sub, key_file, "a path", &s))
			return -1;
		return load_key_file(ld, sub, s, sa->keymat);
	}
	join(sub, path, "key");
	return fail(ld, sub, "expected " KEY_EXPECTED " or a key_file, got nothing");
}

/* ---- tables ------------------------------------------------------------ */

#define CF(f) offsetof(struct ipop_config, f), sizeof(((struct ipop_config *)0)->f)
#define PF(f) offsetof(struct ipop_peer_conf, f), sizeof(((struct ipop_peer_conf *)0)->f)
#define U(n, f, lo, hi)                                                                            \
	{                                                                                          \
		n, KEY_UINT, CF(f), lo, hi, NULL, NULL, 0                                          \
	}
#define S(n, f)                                                                                    \
	{                                                                                          \
		n, KEY_STR, CF(f), 0, 0, NULL, NULL, 0                                             \
	}
#define B(n, f)                                                                                    \
	{                                                                                          \
		n, KEY_BOOL, CF(f), 0, 0, NULL, NULL, 0                                            \
	}
#define FN(n, f, fn)                                                                               \
	{                                                                                          \
		n, KEY_FN, CF(f), 0, 0, fn, NULL, 0                                                \
	}
#define PFN(n, f, fn)                                                                              \
	{                                                                                          \
		n, KEY_FN, PF(f), 0, 0, fn, NULL, 0                                                \
	}
#define IGN(n, t, why)                                                                             \
	{                                                                                          \
		n, KEY_IGNORED, 0, 0, 0, 0, NULL, why, t                                           \
	}

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
					      {0}};
static const struct key_spec topo_keys[] = {
    FN("ip4", ip4, key_ip4),
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

static int key_peers(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v);

static const struct key_spec ipopd_keys[] = {FN("backend", backend, key_backend),
					     U("workers", workers, 1, 64),
					     FN("idle", idle, key_idle),
					     U("burst", burst, 1, DP_BURST_MAX),
					     FN("tap", tap, key_ifname),
					     FN("mtu", mtu, key_mtu),
					     U("underlay_mtu", underlay_mtu, 1280, 65535),
					     FN("bridge", bridge, key_ifname),
					     FN("state_dir", state_dir, key_path),
					     FN("mgmt_socket", mgmt_socket, key_path),
					     B("pin_workers", pin_workers),
					     U("fdb_max_age", fdb_max_age, 1, 86400),
					     FN("peers", peers, key_peers),
					     {0}};
static const struct section_spec ipopd_section = {"ipopd", ipopd_keys, true};

static const struct key_spec peer_keys[] = {PFN("name", name, key_peer_name),
					    PFN("endpoint", endpoint, key_endpoint),
					    PFN("ip4", ip4, key_ip4),
					    PFN("routes", routes, key_routes),
					    PFN("sa_in", sa_in, key_sa),
					    PFN("sa_out", sa_out, key_sa),
					    {0}};
static const struct section_spec peer_section = {"a peer", peer_keys, true};

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
		if (get_uint(ld, path, v, ks->min, ks->max, &x))
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
		if (get_string(ld, path, v, "a string", &s))
			return -1;
		if (strlen(s) >= ks->size)
			return fail(ld, path,
				    "expected a string of at most %zu characters, got %zu",
				    ks->size - 1, strlen(s));
		memcpy(dst, s, strlen(s) + 1);
		break;
	case KEY_BOOL:
		if (get_bool(ld, path, v, &b))
			return -1;
		memcpy(dst, &b, sizeof(b));
		break;
	case KEY_FN:
		if (ks->fn(ld, ks, base, path, v))
			return -1;
		break;
	case KEY_IGNORED:
		if (!type_matches(v, ks->jtype))
			return fail(ld, path, "expected %s, got %s", jtype_name(ks->jtype),
				    type_name(v));
		warn(ld, path, "ignored: %s", ks->why);
		return 0;
	}
	if (ks->why)
		warn(ld, path, "%s", ks->why);
	return 0;
}

static int load_section(struct loader *ld, const struct section_spec *sec, void *base,
			const char *path, json_t *obj)
{
	const char *k;
	json_t *v;
	char sub[PATH_STR], q[64];

	if (!json_is_object(obj))
		return fail(ld, path, "expected an object, got %s", type_name(obj));
	json_object_foreach(obj, k, v)
	{
		const struct key_spec *ks;
		join(sub, path, k);
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
			return fail(ld, sub, "expected a key of %s (docs/configuration.md), got %s",
				    sec->name, quoted(k, q, sizeof(q)));
		} else {
			warn(ld, sub, "ignored: not an ipopd setting");
		}
	}
	return 0;
}

static int key_peers(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], req[PATH_STR];
	size_t i;
	json_t *e;
	(void)ks;

	if (!json_is_array(v))
		return fail(ld, path, "expected an array of peer objects, got %s", type_name(v));
	c->peers = calloc(json_array_size(v) + 1, sizeof(*c->peers));
	if (!c->peers)
		return fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		struct ipop_peer_conf *p = &c->peers[i];
		c->npeers = (unsigned)i + 1;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		snprintf(p->name, sizeof(p->name), "peer%zu", i);
		p->line = (int)line_of(ld, sub);
		if (load_section(ld, &peer_section, p, sub, e))
			return -1;
		join(req, sub, "endpoint");
		if (!p->endpoint.family)
			return fail(ld, req, "expected " EP_EXPECTED ", got nothing");
		join(req, sub, "sa_in");
		if (!p->sa_in.spi)
			return fail(ld, req,
				    "expected an object {\"spi\", \"key\" or \"key_file\"} "
				    ", got nothing");
		join(req, sub, "sa_out");
		if (!p->sa_out.spi)
			return fail(ld, req,
				    "expected an object {\"spi\", \"key\" or \"key_file\"} "
				    ", got nothing");
	}
	return 0;
}

/* ---- whole-config checks and derived settings -------------------------- */

static void set_defaults(struct ipop_config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
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
	snprintf(c->backend, sizeof(c->backend), "kernel");
	c->workers = cpus > 2 ? (unsigned)(cpus > 65 ? 64 : cpus - 1) : 1;
	c->idle = DP_IDLE_ADAPTIVE;
	c->burst = 32;
	snprintf(c->tap, sizeof(c->tap), "ipop");
	c->underlay_mtu = 1500;
	c->fdb_max_age = 300;
}

static int check_peers(struct loader *ld, struct ipop_config *c)
{
	char path[PATH_STR], q[64];
	uint32_t mask = net_ip4_mask(c->ip4_mask);

	for (unsigned i = 0; i < c->npeers; i++) {
		struct ipop_peer_conf *p = &c->peers[i];
		snprintf(path, sizeof(path), "ipopd.peers[%u].ip4", i);
		if (c->mode == IPOP_MODE_L3 && !p->ip4)
			return fail(ld, path,
				    "expected an IPv4 address (required in L3 mode), got nothing");
		if (p->ip4 && p->ip4 == c->ip4)
			return fail(ld, path,
				    "expected an address other than our own "
				    "BaseTopologyManager.ip4");
		if (p->ip4 && c->ip4 && ((p->ip4 ^ c->ip4) & mask)) {
			struct in_addr net = {.s_addr = c->ip4 & mask};
			warn(ld, path,
			     "outside the overlay subnet %s/%u (BaseTopologyManager.ip4, "
			     "CFx.ip4_mask)",
			     inet_ntoa(net), c->ip4_mask);
		}
		snprintf(path, sizeof(path), "ipopd.peers[%u].routes", i);
		if (c->mode == IPOP_MODE_SWITCH && p->nroutes)
			return fail(ld, path,
				    "expected no routes in switch mode (the bridge carries "
				    "the subnets)");
		for (unsigned j = 0; j < i; j++) {
			const struct ipop_peer_conf *o = &c->peers[j];
			snprintf(path, sizeof(path), "ipopd.peers[%u].name", i);
			if (!strcmp(p->name, o->name))
				return fail(ld, path,
					    "expected a unique name, got %s (also "
					    "ipopd.peers[%u])",
					    quoted(p->name, q, sizeof(q)), j);
			snprintf(path, sizeof(path), "ipopd.peers[%u].ip4", i);
			if (p->ip4 && p->ip4 == o->ip4)
				return fail(ld, path,
					    "expected a unique address (also "
					    "ipopd.peers[%u].ip4)",
					    j);
			snprintf(path, sizeof(path), "ipopd.peers[%u].sa_in.spi", i);
			if (p->sa_in.spi == o->sa_in.spi)
				return fail(ld, path,
					    "expected an SPI unique among sa_in SPIs, got "
					    "0x%08x (also ipopd.peers[%u].sa_in.spi)",
					    p->sa_in.spi, j);
		}
		if (p->ip4) {
			uint8_t id[20];
			ipop_node_id(p->ip4, id);
			ipop_ula_from_id(id, p->ip6);
		}
	}
	return 0;
}

static int apply_overrides(struct loader *ld, struct ipop_config *c,
			   const struct ipop_config_overrides *ov)
{
	char q[64];
	if (ov && ov->tap) {
		if (!ifname_ok(ov->tap)) {
			if (ld->err && ld->errlen)
				snprintf(ld->err, ld->errlen,
					 "command line: --tap: expected " IFNAME_EXPECTED
					 ", got %s",
					 quoted(ov->tap, q, sizeof(q)));
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
		return fail(ld, "ipopd.mgmt_socket",
			    "expected a socket path of at most %zu characters, got %zu",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
			    strlen(c->mgmt_socket));
	return 0;
}

static int check_config(struct loader *ld, struct ipop_config *c)
{
	char q[64];
	if (c->mode == IPOP_MODE_L3 && !c->ip4)
		return fail(ld, "BaseTopologyManager.ip4",
			    "expected an IPv4 address (required in L3 mode, "
			    "TincanSender.switchmode 0), got nothing");
	if (c->mode == IPOP_MODE_L3 && c->bridge[0])
		return fail(ld, "ipopd.bridge",
			    "expected no bridge in L3 mode (bridging needs TincanSender.switchmode "
			    "1), got %s",
			    quoted(c->bridge, q, sizeof(q)));
	if (c->contr_port && c->port == c->contr_port)
		return fail(ld, "TincanSender.svpn_port",
			    "expected a port different from CFx.contr_port, got %u", c->port);
	if (c->mode == IPOP_MODE_L3 && c->mtu && c->mtu < 1280)
		warn(ld, "ipopd.mtu",
		     "below 1280: the overlay's IPv6 (ULA) addresses will not work");
	if (c->ip4) {
		ipop_node_id(c->ip4, c->node_id);
		ipop_ula_from_id(c->node_id, c->ip6);
	}
	return check_peers(ld, c);
}

static int load_root(struct loader *ld, json_t *root)
{
	const char *k;
	json_t *v;
	if (!json_is_object(root))
		return fail(ld, NULL, "expected a JSON object at the top level");
	json_object_foreach(root, k, v)
	{
		const struct section_spec *sec;
		if (!strncmp(k, "_comment", 8))
			continue;
		if (!strcmp(k, "ipopd")) {
			if (load_section(ld, &ipopd_section, ld->c, k, v))
				return -1;
			continue;
		}
		for (sec = ipop_sections; sec->name && strcmp(sec->name, k); sec++)
			;
		if (sec->name) {
			if (load_section(ld, sec, ld->c, k, v))
				return -1;
		} else {
			warn(ld, k, "ignored: not a section ipopd knows");
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
		return fail(&ld, NULL, "expected a path shorter than PATH_MAX");
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
	if (load_root(&ld, root) || apply_overrides(&ld, out, ov) || check_config(&ld, out)) {
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
	free(c->stun);
	free(c->network_ignore_list);
	explicit_bzero(c, sizeof(*c));
}

void ipop_node_id(uint32_t ip4_be, uint8_t id[20])
{
	char s[INET_ADDRSTRLEN];
	struct in_addr a = {.s_addr = ip4_be};
	unsigned int len = 20;
	inet_ntop(AF_INET, &a, s, sizeof(s));
	if (!EVP_Digest(s, strlen(s), id, &len, EVP_sha1(), NULL))
		memset(id, 0, 20); /* only on OpenSSL misconfiguration; never silently wrong */
}

void ipop_ula_from_id(const uint8_t id[20], uint8_t ip6[16])
{
	memcpy(ip6, ula_prefix, sizeof(ula_prefix));
	memcpy(ip6 + 8, id, 8);
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
	fprintf(f, "backend: %s\n", c->backend);
	fprintf(f, "workers: %u%s\n", c->workers, c->pin_workers ? " (pinned)" : "");
	fprintf(f, "idle: %s\n", c->idle == DP_IDLE_BUSY ? "busy" : "adaptive");
	fprintf(f, "burst: %u\n", c->burst);
	if (c->mtu)
		fprintf(f, "mtu: %u\n", c->mtu);
	else
		fprintf(f, "mtu: auto (from underlay_mtu and the encapsulation overhead)\n");
	fprintf(f, "underlay_mtu: %u\n", c->underlay_mtu);
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
	for (unsigned i = 0; i < c->npeers; i++) {
		const struct ipop_peer_conf *p = &c->peers[i];
		fprintf(f, "peer %s: endpoint %s\n", p->name,
			net_endpoint_format(&p->endpoint, ep, sizeof(ep)));
		if (p->ip4) {
			fprintf(f, "peer %s: ip4 %s\n", p->name, ip4_str(p->ip4, a));
			fprintf(f, "peer %s: ip6 %s\n", p->name, ip6_str(p->ip6, a));
		}
		for (unsigned r = 0; r < p->nroutes; r++)
			fprintf(f, "peer %s: route %s\n", p->name,
				net_prefix_format(&p->routes[r], a, sizeof(a)));
		fprintf(f, "peer %s: sa_in spi 0x%08x key (set)\n", p->name, p->sa_in.spi);
		fprintf(f, "peer %s: sa_out spi 0x%08x key (set)\n", p->name, p->sa_out.spi);
	}
	fprintf(f, "mgmt_socket: %s\n", c->mgmt_socket);
	fprintf(f, "state_dir: %s\n", c->state_dir);
}
