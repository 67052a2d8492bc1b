/* Signalling payloads (see sigmsg.h).
 *
 * The parser trusts nothing: the JSON comes from other XMPP users through a
 * server we do not control. It bounds the input before jansson sees it,
 * rejects duplicate keys (two spellings of one field could fool a later
 * reader), and checks every value it knows, wherever it appears.
 */
#include "control/signalling/sigmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "util/key64.h"
#include "util/log.h"

#define SEQ_MAX ((UINT64_C(1) << 53) - 1)

static const char *const msg_type_names[] = {"con_req", "con_resp", "ping", "pong"};
static const char *const link_kind_names[] = {"", "successor", "chord", "on_demand", "static"};
static const char *const cand_kind_names[] = {"host", "srflx", "relay", "static"};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *sig_msg_type_name(enum sig_msg_type t)
{
	return (unsigned)t < NELEMS(msg_type_names) ? msg_type_names[t] : "?";
}

const char *sig_link_kind_name(enum sig_link_kind k)
{
	return (unsigned)k < NELEMS(link_kind_names) ? link_kind_names[k] : "?";
}

const char *sig_cand_kind_name(enum sig_cand_kind k)
{
	return (unsigned)k < NELEMS(cand_kind_names) ? cand_kind_names[k] : "?";
}

static int bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

void sig_node_id_hex(const uint8_t id[SIG_NODE_ID_LEN], char out[SIG_NODE_ID_HEXLEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < SIG_NODE_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[SIG_NODE_ID_HEXLEN] = 0;
}

static int lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int any_hex(char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return lower_hex(c);
}

int sig_node_id_parse(const char *hex, uint8_t id[SIG_NODE_ID_LEN])
{
	if (!hex || strnlen(hex, SIG_NODE_ID_HEXLEN + 1) != SIG_NODE_ID_HEXLEN)
		return -EINVAL;
	for (unsigned i = 0; i < SIG_NODE_ID_LEN; i++) {
		int hi = lower_hex(hex[2 * i]), lo = lower_hex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void sig_presence_init(struct sig_presence *p, uint32_t ip4_be, const uint8_t mac[6],
		       const uint8_t public_key[SIG_KEY_LEN], uint16_t port)
{
	memset(p, 0, sizeof(*p));
	p->version = SIG_VERSION;
	p->ip4 = ip4_be;
	ipop_node_id(ip4_be, p->node_id);
	ipop_ula_from_id(p->node_id, p->ip6);
	memcpy(p->mac, mac, 6);
	memcpy(p->public_key, public_key, SIG_KEY_LEN);
	p->port = port;
}

/* ---- value checks shared by parse and build ---- */

static bool ip4_usable(uint32_t be)
{
	uint32_t h = ntohl(be);
	return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe && (h >> 24) != 127;
}

static bool mac_usable(const uint8_t mac[6])
{
	static const uint8_t zero[6];
	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

static bool key_usable(const uint8_t key[SIG_KEY_LEN])
{
	static const uint8_t zero[SIG_KEY_LEN];
	return memcmp(key, zero, SIG_KEY_LEN) != 0;
}

static const char *presence_invalid(const struct sig_presence *p)
{
	uint8_t id[SIG_NODE_ID_LEN], ula[16];
	if (p->version == 0)
		return "version: expected an integer 1..65535";
	if (!ip4_usable(p->ip4))
		return "ip4: expected a unicast IPv4 address (not 0/8-style unspecified, "
		       "loopback, multicast or broadcast)";
	ipop_node_id(p->ip4, id);
	if (memcmp(id, p->node_id, sizeof(id)))
		return "node_id: expected the SHA-1 of the ip4 string";
	ipop_ula_from_id(id, ula);
	if (memcmp(ula, p->ip6, sizeof(ula)))
		return "ip6: expected fd50:dbc:41f2:4a3c::/64 + the first 64 bits of the node id";
	if (!mac_usable(p->mac))
		return "mac: expected a unicast, non-zero MAC address";
	if (!key_usable(p->public_key))
		return "public_key: expected a non-zero X25519 public key";
	if (p->port == 0)
		return "port: expected an integer 1..65535";
	return NULL;
}

/* ---- routed subnets ---- */

/* The first route that cannot be advertised (its index in *idx), or NULL.
 * Unused slots must be zero so presences stay memcmp-comparable. */
static const char *routes_invalid(const struct sig_presence *p, unsigned *idx)
{
	static const struct net_prefix zero;
	const char *why;

	*idx = 0;
	if (p->nroutes > SIG_MAX_ROUTES)
		return "more than 8 entries";
	for (unsigned i = 0; i < SIG_MAX_ROUTES; i++) {
		const struct net_prefix *r = &p->routes[i];
		*idx = i;
		if (i >= p->nroutes) {
			if (memcmp(r, &zero, sizeof(zero)))
				return "unused entry not zero";
			continue;
		}
		if ((why = ipop_route_invalid(r)))
			return why;
		for (unsigned k = 0; k < i; k++)
			if (net_prefix_equal(r, &p->routes[k]))
				return "a duplicate";
		if (net_prefix_has_ip4(r, p->ip4) || net_prefix_has_ip6(r, p->ip6))
			return "covers the member's own ip4 or ip6";
	}
	return NULL;
}

static bool endpoint_usable(const struct net_endpoint *ep)
{
	static const uint8_t zero[16];
	if (ep->port == 0)
		return false;
	if (ep->family == AF_INET) {
		uint32_t be;
		memcpy(&be, ep->addr + 12, 4);
		uint32_t h = ntohl(be);
		return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
	}
	if (ep->family != AF_INET6)
		return false;
	/* One spelling per address: IPv4 is written as IPv4, never v4-mapped. */
	if (net_addr_is_v4mapped(ep->addr))
		return false;
	if (!memcmp(ep->addr, zero, 16) || ep->addr[0] == 0xff)
		return false;
	/* Link-local needs a scope, which means nothing on another host. */
	if (ep->addr[0] == 0xfe && (ep->addr[1] & 0xc0) == 0x80)
		return false;
	return true;
}

static bool reason_ok(const char *s, size_t n)
{
	if (n > SIG_REASON_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static const char *message_invalid(const struct sig_message *m)
{
	if ((unsigned)m->type >= NELEMS(msg_type_names))
		return "type: unknown";
	if (!memcmp(m->from_id, m->to_id, SIG_NODE_ID_LEN))
		return "to_id: equals from_id";
	if (m->seq > SEQ_MAX)
		return "seq: above 2^53-1";
	if ((unsigned)m->link_kind >= NELEMS(link_kind_names))
		return "link_kind: unknown";
	if ((m->type == SIG_MSG_CON_REQ || m->type == SIG_MSG_CON_RESP) &&
	    m->link_kind == SIG_LINK_NONE)
		return "link_kind: required in con_req and con_resp";
	if (m->ncand > SIG_MAX_CANDIDATES)
		return "candidates: more than 16";
	if (!reason_ok(m->reason, strnlen(m->reason, sizeof(m->reason))))
		return "reason: expected at most 128 printable ASCII characters";
	for (unsigned i = 0; i < m->ncand; i++) {
		if ((unsigned)m->cand[i].kind >= NELEMS(cand_kind_names))
			return "candidates: unknown kind";
		if (!endpoint_usable(&m->cand[i].addr))
			return "candidates: unusable address";
	}
	return NULL;
}

/* ---- JSON field access ---- */

enum { OPTIONAL = 0, REQUIRED = 1 };

/* 1 when present and a string, 0 when absent and optional, -EBADMSG. */
static int get_str(json_t *o, const char *key, const char *ctx, int required, const char **s,
		   size_t *n, size_t maxlen, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (required)
			return bad(why, whylen, "%s%s: required", ctx, key);
		return 0;
	}
	if (!json_is_string(v))
		return bad(why, whylen, "%s%s: expected a string", ctx, key);
	*s = json_string_value(v);
	*n = json_string_length(v);
	if (*n > maxlen)
		return bad(why, whylen, "%s%s: longer than %zu characters", ctx, key, maxlen);
	if (strlen(*s) != *n) /* unreachable without JSON_ALLOW_NUL; kept as a guard */
		return bad(why, whylen, "%s%s: contains NUL", ctx, key);
	return 1;
}

static int get_uint(json_t *o, const char *key, const char *ctx, int required, uint64_t max,
		    uint64_t *out, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (required)
			return bad(why, whylen, "%s%s: required", ctx, key);
		return 0;
	}
	if (!json_is_integer(v))
		return bad(why, whylen, "%s%s: expected an integer", ctx, key);
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return bad(why, whylen, "%s%s: expected an integer 0..%llu", ctx, key,
			   (unsigned long long)max);
	*out = (uint64_t)i;
	return 1;
}

static int get_enum(json_t *o, const char *key, const char *ctx, int required,
		    const char *const *names, unsigned nnames, unsigned first, unsigned *out,
		    char *why, size_t whylen)
{
	const char *s;
	size_t n;
	int r = get_str(o, key, ctx, required, &s, &n, 32, why, whylen);
	if (r <= 0)
		return r;
	for (unsigned i = first; i < nnames; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 1;
		}
	return bad(why, whylen, "%s%s: unknown value", ctx, key);
}

static int load(const char *json, size_t len, json_t **root, char *why, size_t whylen)
{
	json_error_t err;
	if (!json || len == 0)
		return bad(why, whylen, "empty payload");
	if (len > SIG_MAX_PAYLOAD)
		return bad(why, whylen, "payload of %zu bytes exceeds %d", len, SIG_MAX_PAYLOAD);
	*root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!*root)
		return bad(why, whylen, "invalid JSON at byte %d: %s", err.position, err.text);
	if (!json_is_object(*root)) {
		json_decref(*root);
		return bad(why, whylen, "expected a JSON object");
	}
	return 0;
}

/* ---- presence ---- */

/* "routes" (optional): syntax and one spelling here; what may be routed,
 * duplicates and the member's own addresses in routes_invalid(). */
static int parse_routes(json_t *o, struct sig_presence *p, char *why, size_t whylen)
{
	char canon[INET6_ADDRSTRLEN + 4];
	json_t *v = json_object_get(o, "routes");
	if (!v)
		return 0;
	if (!json_is_array(v))
		return bad(why, whylen, "routes: expected an array of prefixes");
	if (json_array_size(v) > SIG_MAX_ROUTES)
		return bad(why, whylen, "routes: %zu entries, at most %d allowed",
			   json_array_size(v), SIG_MAX_ROUTES);
	for (unsigned i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);
		struct net_prefix *r = &p->routes[i];
		if (!json_is_string(e))
			return bad(why, whylen, "routes[%u]: expected a string", i);
		const char *s = json_string_value(e);
		size_t n = json_string_length(e);
		/* The prefix is compared and printed as text: one spelling, the
		 * one inet_ntop writes, with an explicit length. */
		if (n >= sizeof(canon) || strlen(s) != n || !strchr(s, '/') ||
		    net_prefix_parse(s, true, r))
			return bad(why, whylen,
				   "routes[%u]: expected a prefix like \"10.1.0.0/16\" or "
				   "\"fd00:1::/64\"",
				   i);
		net_prefix_format(r, canon, sizeof(canon));
		if (net_prefix_parse(s, false, r))
			return bad(why, whylen, "routes[%u]: host bits set (expected %s)", i,
				   canon);
		if (strcmp(canon, s))
			return bad(why, whylen, "routes[%u]: expected the canonical spelling %s", i,
				   canon);
		p->nroutes = i + 1;
	}
	return 0;
}

static int parse_presence_obj(json_t *o, struct sig_presence *p, char *why, size_t whylen)
{
	const char *s;
	size_t n;
	uint64_t u;
	int r;
	char canon[INET_ADDRSTRLEN];
	const char *invalid;
	unsigned idx;

	memset(p, 0, sizeof(*p));
	if ((r = get_str(o, "node_id", "", REQUIRED, &s, &n, SIG_NODE_ID_HEXLEN, why, whylen)) < 0)
		return r;
	if (sig_node_id_parse(s, p->node_id))
		return bad(why, whylen, "node_id: expected 40 lowercase hex digits");
	if ((r = get_uint(o, "version", "", REQUIRED, 65535, &u, why, whylen)) < 0)
		return r;
	if (u == 0)
		return bad(why, whylen, "version: expected an integer 1..65535");
	p->version = (uint16_t)u;

	if ((r = get_str(o, "ip4", "", REQUIRED, &s, &n, INET_ADDRSTRLEN - 1, why, whylen)) < 0)
		return r;
	/* The node id is the hash of this exact string: insist on its one
	 * canonical spelling. */
	if (inet_pton(AF_INET, s, &p->ip4) != 1 ||
	    !inet_ntop(AF_INET, &p->ip4, canon, sizeof(canon)) || strcmp(canon, s))
		return bad(why, whylen, "ip4: expected a dotted-quad IPv4 address");
	if ((r = get_str(o, "ip6", "", REQUIRED, &s, &n, INET6_ADDRSTRLEN - 1, why, whylen)) < 0)
		return r;
	if (inet_pton(AF_INET6, s, p->ip6) != 1)
		return bad(why, whylen, "ip6: expected an IPv6 address");

	if ((r = get_str(o, "mac", "", REQUIRED, &s, &n, 17, why, whylen)) < 0)
		return r;
	if (n != 17)
		return bad(why, whylen, "mac: expected xx:xx:xx:xx:xx:xx");
	for (unsigned i = 0; i < 6; i++) {
		int hi = any_hex(s[3 * i]), lo = any_hex(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return bad(why, whylen, "mac: expected xx:xx:xx:xx:xx:xx");
		p->mac[i] = (uint8_t)(hi << 4 | lo);
	}

	if ((r = get_str(o, "public_key", "", REQUIRED, &s, &n, IPOP_KEY_B64_LEN, why, whylen)) < 0)
		return r;
	if (ipop_key_from_base64(s, p->public_key))
		return bad(why, whylen, "public_key: expected 44 characters of canonical base64");

	if ((r = get_uint(o, "port", "", REQUIRED, 65535, &u, why, whylen)) < 0)
		return r;
	p->port = (uint16_t)u;

	if ((r = parse_routes(o, p, why, whylen)) < 0)
		return r;

	invalid = presence_invalid(p);
	if (invalid)
		return bad(why, whylen, "%s", invalid);
	invalid = routes_invalid(p, &idx);
	if (invalid)
		return bad(why, whylen, "routes[%u]: %s", idx, invalid);
	return 0;
}

int sig_presence_parse(const char *json, size_t len, struct sig_presence *out, char *why,
		       size_t whylen)
{
	json_t *root;
	int r = load(json, len, &root, why, whylen);
	if (r)
		return r;
	r = parse_presence_obj(root, out, why, whylen);
	json_decref(root);
	return r;
}

static void mac_format(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

/* Serialises and releases `root`. */
static int dump(json_t *root, char *buf, size_t len)
{
	size_t n;
	if (!root)
		return -ENOMEM;
	n = json_dumpb(root, NULL, 0, JSON_COMPACT);
	if (n == 0) {
		json_decref(root);
		return -ENOMEM;
	}
	if (n > SIG_MAX_PAYLOAD) {
		json_decref(root);
		return -EINVAL;
	}
	if (n + 1 > len) {
		json_decref(root);
		return -ENOSPC;
	}
	json_dumpb(root, buf, n, JSON_COMPACT);
	buf[n] = 0;
	json_decref(root);
	return (int)n;
}

int sig_presence_build(const struct sig_presence *p, char *buf, size_t len)
{
	char id[SIG_NODE_ID_HEXLEN + 1], ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], mac[18];
	char key[IPOP_KEY_B64_LEN + 1], pfx[INET6_ADDRSTRLEN + 4];
	unsigned idx;
	json_t *root, *routes;

	if (presence_invalid(p) || routes_invalid(p, &idx))
		return -EINVAL;
	sig_node_id_hex(p->node_id, id);
	inet_ntop(AF_INET, &p->ip4, ip4, sizeof(ip4));
	inet_ntop(AF_INET6, p->ip6, ip6, sizeof(ip6));
	mac_format(p->mac, mac);
	ipop_key_to_base64(p->public_key, key);
	root = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i}", "node_id", id, "version",
			 (int)p->version, "ip4", ip4, "ip6", ip6, "mac", mac, "public_key", key,
			 "port", (int)p->port);
	if (!root)
		return -ENOMEM;
	/* Only when there are any: older peers see the payload they know. */
	if (p->nroutes) {
		routes = json_array();
		if (!routes || json_object_set_new(root, "routes", routes))
			goto nomem;
		for (unsigned i = 0; i < p->nroutes; i++)
			if (json_array_append_new(routes, json_string(net_prefix_format(
							      &p->routes[i], pfx, sizeof(pfx)))))
				goto nomem;
	}
	return dump(root, buf, len);
nomem:
	json_decref(root);
	return -ENOMEM;
}

/* ---- direct messages ---- */

static int parse_candidate(json_t *c, unsigned idx, struct sig_candidate *out, char *why,
			   size_t whylen)
{
	char ctx[32];
	const char *s;
	size_t n;
	uint64_t u;
	unsigned k = 0;
	int r;

	snprintf(ctx, sizeof(ctx), "candidates[%u].", idx);
	if (!json_is_object(c))
		return bad(why, whylen, "candidates[%u]: expected an object", idx);
	if ((r = get_enum(c, "kind", ctx, REQUIRED, cand_kind_names, NELEMS(cand_kind_names), 0, &k,
			  why, whylen)) < 0)
		return r;
	out->kind = (enum sig_cand_kind)k;
	if ((r = get_str(c, "addr", ctx, REQUIRED, &s, &n, NET_ENDPOINT_STRLEN, why, whylen)) < 0)
		return r;
	if (net_endpoint_parse(s, &out->addr) || !endpoint_usable(&out->addr))
		return bad(why, whylen,
			   "%saddr: expected a unicast ip:port or [ipv6]:port (port 1..65535)",
			   ctx);
	if ((r = get_uint(c, "prio", ctx, REQUIRED, UINT32_MAX, &u, why, whylen)) < 0)
		return r;
	out->prio = (uint32_t)u;
	return 0;
}

static int parse_message_obj(json_t *o, struct sig_message *m, char *why, size_t whylen)
{
	const char *s;
	size_t n;
	unsigned k = 0;
	int r;
	bool conn;
	json_t *v;

	memset(m, 0, sizeof(*m));
	if ((r = get_enum(o, "type", "", REQUIRED, msg_type_names, NELEMS(msg_type_names), 0, &k,
			  why, whylen)) < 0)
		return r;
	m->type = (enum sig_msg_type)k;
	conn = m->type == SIG_MSG_CON_REQ || m->type == SIG_MSG_CON_RESP;

	if ((r = get_str(o, "from_id", "", REQUIRED, &s, &n, SIG_NODE_ID_HEXLEN, why, whylen)) < 0)
		return r;
	if (sig_node_id_parse(s, m->from_id))
		return bad(why, whylen, "from_id: expected 40 lowercase hex digits");
	if ((r = get_str(o, "to_id", "", REQUIRED, &s, &n, SIG_NODE_ID_HEXLEN, why, whylen)) < 0)
		return r;
	if (sig_node_id_parse(s, m->to_id))
		return bad(why, whylen, "to_id: expected 40 lowercase hex digits");
	if (!memcmp(m->from_id, m->to_id, SIG_NODE_ID_LEN))
		return bad(why, whylen, "to_id: equals from_id");
	if ((r = get_uint(o, "seq", "", REQUIRED, SEQ_MAX, &m->seq, why, whylen)) < 0)
		return r;

	if ((r = get_enum(o, "link_kind", "", conn, link_kind_names, NELEMS(link_kind_names), 1, &k,
			  why, whylen)) < 0)
		return r;
	m->link_kind = r ? (enum sig_link_kind)k : SIG_LINK_NONE;

	v = json_object_get(o, "accept");
	if (v && !json_is_boolean(v))
		return bad(why, whylen, "accept: expected true or false");
	if (!v && m->type == SIG_MSG_CON_RESP)
		return bad(why, whylen, "accept: required in con_resp");
	m->accept = v && json_is_true(v);

	if ((r = get_str(o, "reason", "", OPTIONAL, &s, &n, SIG_REASON_MAX, why, whylen)) < 0)
		return r;
	if (r) {
		if (!reason_ok(s, n))
			return bad(why, whylen, "reason: expected printable ASCII");
		memcpy(m->reason, s, n);
		m->reason[n] = 0;
	}

	v = json_object_get(o, "candidates");
	if (!v && conn)
		return bad(why, whylen, "candidates: required in %s", sig_msg_type_name(m->type));
	if (v) {
		if (!json_is_array(v))
			return bad(why, whylen, "candidates: expected an array");
		if (json_array_size(v) > SIG_MAX_CANDIDATES)
			return bad(why, whylen, "candidates: %zu entries, at most %d allowed",
				   json_array_size(v), SIG_MAX_CANDIDATES);
		m->ncand = (unsigned)json_array_size(v);
		for (unsigned i = 0; i < m->ncand; i++)
			if ((r = parse_candidate(json_array_get(v, i), i, &m->cand[i], why,
						 whylen)) < 0)
				return r;
	}
	return 0;
}

int sig_message_parse(const char *json, size_t len, struct sig_message *out, char *why,
		      size_t whylen)
{
	json_t *root;
	int r = load(json, len, &root, why, whylen);
	if (r)
		return r;
	r = parse_message_obj(root, out, why, whylen);
	json_decref(root);
	return r;
}

int sig_message_build(const struct sig_message *m, char *buf, size_t len)
{
	char from[SIG_NODE_ID_HEXLEN + 1], to[SIG_NODE_ID_HEXLEN + 1], addr[NET_ENDPOINT_STRLEN];
	json_t *root, *cands;

	if (message_invalid(m))
		return -EINVAL;
	sig_node_id_hex(m->from_id, from);
	sig_node_id_hex(m->to_id, to);
	root = json_pack("{s:s, s:s, s:s, s:I}", "type", sig_msg_type_name(m->type), "from_id",
			 from, "to_id", to, "seq", (json_int_t)m->seq);
	if (!root)
		return -ENOMEM;
	if (m->link_kind != SIG_LINK_NONE &&
	    json_object_set_new(root, "link_kind", json_string(sig_link_kind_name(m->link_kind))))
		goto nomem;
	if (m->type == SIG_MSG_CON_RESP &&
	    json_object_set_new(root, "accept", json_boolean(m->accept)))
		goto nomem;
	if (m->reason[0] && json_object_set_new(root, "reason", json_string(m->reason)))
		goto nomem;
	if (m->type == SIG_MSG_CON_REQ || m->type == SIG_MSG_CON_RESP || m->ncand) {
		cands = json_array();
		if (!cands || json_object_set_new(root, "candidates", cands))
			goto nomem;
		for (unsigned i = 0; i < m->ncand; i++) {
			net_endpoint_format(&m->cand[i].addr, addr, sizeof(addr));
			if (json_array_append_new(
				cands, json_pack("{s:s, s:s, s:I}", "kind",
						 sig_cand_kind_name(m->cand[i].kind), "addr", addr,
						 "prio", (json_int_t)m->cand[i].prio)))
				goto nomem;
		}
	}
	return dump(root, buf, len);
nomem:
	json_decref(root);
	return -ENOMEM;
}
