/* Discovery settings: how ipopd signals over XMPP (CA file, plaintext
 * permission, MUC room or roster group), the candidates it advertises
 * besides its host addresses (static_candidates), and IPOP's TURN servers
 * (TincanSender.turn). The CFx xmpp_* keys themselves are plain strings in
 * config.c; this file derives the default room and checks the whole.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "control/config/config_internal.h"

#define CAND_EXPECTED "\"IPv4:port\" or \"[IPv6]:port\" (port 1..65535)"
#define TURN_EXPECTED "an object {\"server\": \"IPv4:port\", \"user\": ..., \"pass\": ...}"

int cfg_key_group(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		  json_t *v)
{
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, "\"muc\" or \"roster\"", &s))
		return -1;
	if (!strcmp(s, "muc"))
		((struct ipop_config *)base)->group = IPOP_GROUP_MUC;
	else if (!strcmp(s, "roster"))
		((struct ipop_config *)base)->group = IPOP_GROUP_ROSTER;
	else
		return cfg_fail(ld, path, "expected \"muc\" or \"roster\", got %s",
				cfg_quoted(s, q, sizeof(q)));
	return 0;
}

int cfg_key_muc_room(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	const char *s, *at;
	char q[64];
	(void)ks;
#define ROOM_EXPECTED "a room JID \"name@conference.domain\""
	if (cfg_get_string(ld, path, v, ROOM_EXPECTED, &s))
		return -1;
	at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || strchr(s, '/') ||
	    strpbrk(s, " \t\r\n") || strlen(s) >= sizeof(((struct ipop_config *)0)->muc_room))
		return cfg_fail(ld, path, "expected " ROOM_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf(((struct ipop_config *)base)->muc_room,
		 sizeof(((struct ipop_config *)0)->muc_room), "%s", s);
	return 0;
}

int cfg_key_static_candidates(struct loader *ld, const struct key_spec *ks, void *base,
			      const char *path, json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], q[64];
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of " CAND_EXPECTED ", got %s",
				cfg_type_name(v));
	free(c->static_candidates);
	c->nstatic_candidates = 0;
	c->static_candidates = calloc(json_array_size(v) + 1, sizeof(*c->static_candidates));
	if (!c->static_candidates)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		const char *s;
		struct net_endpoint *ep = &c->static_candidates[c->nstatic_candidates];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (cfg_get_string(ld, sub, e, CAND_EXPECTED, &s))
			return -1;
		if (net_endpoint_parse(s, ep) || !ep->port)
			return cfg_fail(ld, sub, "expected " CAND_EXPECTED ", got %s",
					cfg_quoted(s, q, sizeof(q)));
		c->nstatic_candidates++;
	}
	return 0;
}

/* Never echoes the value (the password is a secret). */
static int turn_string(struct loader *ld, const char *path, json_t *obj, const char *key, char *out,
		       size_t outlen)
{
	char sub[PATH_STR];
	const char *s;
	cfg_join(sub, path, key);
	json_t *v = json_object_get(obj, key);
	if (!v)
		return cfg_fail(ld, sub, "expected a string, got nothing");
	if (cfg_get_string(ld, sub, v, "a string", &s))
		return -1;
	if (!*s || strlen(s) >= outlen)
		return cfg_fail(ld, sub, "expected a string of 1..%zu characters, got %zu",
				outlen - 1, strlen(s));
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int cfg_key_turn(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR], srv[PATH_STR], q[64];
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path, "expected an array of " TURN_EXPECTED ", got %s",
				cfg_type_name(v));
	if (c->turn)
		explicit_bzero(c->turn, c->nturn * sizeof(*c->turn));
	free(c->turn);
	c->nturn = 0;
	c->turn = calloc(json_array_size(v) + 1, sizeof(*c->turn));
	if (!c->turn)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		struct ipop_turn_conf *t = &c->turn[c->nturn];
		const char *k, *s;
		json_t *x;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_object(e))
			return cfg_fail(ld, sub, "expected " TURN_EXPECTED ", got %s",
					cfg_type_name(e));
		json_object_foreach(e, k, x)
		{
			if (strcmp(k, "server") && strcmp(k, "user") && strcmp(k, "pass")) {
				cfg_join(srv, sub, k);
				return cfg_fail(ld, srv, "expected one of server, user, pass");
			}
		}
		cfg_join(srv, sub, "server");
		x = json_object_get(e, "server");
		if (!x)
			return cfg_fail(ld, srv, "expected " CAND_EXPECTED ", got nothing");
		if (cfg_get_string(ld, srv, x, CAND_EXPECTED, &s))
			return -1;
		if (net_endpoint_parse(s, &t->server) || !t->server.port)
			return cfg_fail(ld, srv, "expected " CAND_EXPECTED ", got %s",
					cfg_quoted(s, q, sizeof(q)));
		if (turn_string(ld, sub, e, "user", t->user, sizeof(t->user)) ||
		    turn_string(ld, sub, e, "pass", t->pass, sizeof(t->pass)))
			return -1;
		c->nturn++;
	}
	return 0;
}

/* The JID's domain, else the server address: every member of an overlay
 * logs in to the same domain, while xmpp_host may be spelled as a name on
 * one site and an address on another. */
static const char *xmpp_domain(const struct ipop_config *c)
{
	const char *at = strchr(c->xmpp_username, '@');
	return at && at[1] ? at + 1 : c->xmpp_host;
}

void cfg_default_room(const struct ipop_config *c, char *out, size_t outlen)
{
	char in[sizeof(c->xmpp_host) + 64], net[INET_ADDRSTRLEN];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint32_t mask = c->ip4_mask ? htonl(~0u << (32 - c->ip4_mask)) : 0;
	struct in_addr a = {.s_addr = c->ip4 & mask};
	const char *dom = xmpp_domain(c);
	char hex[13];

	inet_ntop(AF_INET, &a, net, sizeof(net));
	snprintf(in, sizeof(in), "%s/%s/%u", dom, net, c->ip4_mask);
	if (!EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL))
		memset(md, 0, sizeof(md));
	for (unsigned i = 0; i < 6; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, outlen, "ipop-%s@conference.%s", hex, dom);
}

int cfg_disc_check(struct loader *ld, struct ipop_config *c)
{
	if (!c->xmpp_host[0])
		return 0;
	if (!c->ip4)
		return cfg_fail(ld, "BaseTopologyManager.ip4",
				"expected an IPv4 address (XMPP discovery advertises it and "
				"derives the node id from it), got nothing");
	if (!c->xmpp_username[0])
		return cfg_fail(
		    ld, "CFx.xmpp_username",
		    "expected the overlay's XMPP account (with xmpp_host), got nothing");
	if (!c->xmpp_password[0])
		return cfg_fail(ld, "CFx.xmpp_password",
				"expected the XMPP account's password (or ipopd.xmpp_password_file), got nothing");
	if (c->group == IPOP_GROUP_MUC && !c->muc_room[0])
		cfg_default_room(c, c->muc_room, sizeof(c->muc_room));
	return 0;
}

void cfg_disc_print(const struct ipop_config *c, FILE *f)
{
	char ep[NET_ENDPOINT_STRLEN];
	if (c->xmpp_host[0]) {
		fprintf(f, "xmpp_tls: %s\n",
			c->xmpp_allow_plaintext ? "optional (xmpp_allow_plaintext)" : "required");
		fprintf(f, "xmpp_ca_file: %s\n",
			c->xmpp_ca_file[0] ? c->xmpp_ca_file : "(system store)");
		if (c->group == IPOP_GROUP_MUC)
			fprintf(f, "group: muc %s\n", c->muc_room);
		else
			fprintf(f, "group: roster\n");
	}
	for (unsigned i = 0; i < c->nstatic_candidates; i++)
		fprintf(f, "static_candidate: %s\n",
			net_endpoint_format(&c->static_candidates[i], ep, sizeof(ep)));
	for (unsigned i = 0; i < c->nturn; i++)
		fprintf(f, "turn: %s user %s pass (set)\n",
			net_endpoint_format(&c->turn[i].server, ep, sizeof(ep)), c->turn[i].user);
}
