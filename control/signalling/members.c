/* The member table (see members.h). */
#include "control/signalling/members.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sig_members {
	struct sig_member *v;
	unsigned n, cap;
	bool has_self;
	struct sig_presence self;
};

struct sig_members *sig_members_create(void)
{
	struct sig_members *t = calloc(1, sizeof(*t));
	if (!t)
		errno = ENOMEM;
	return t;
}

void sig_members_destroy(struct sig_members *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++)
		free(t->v[i].jid);
	free(t->v);
	free(t);
}

void sig_members_set_self(struct sig_members *t, const struct sig_presence *self)
{
	t->has_self = self != NULL;
	if (self)
		t->self = *self;
}

static int find_idx(const struct sig_members *t, const char *jid)
{
	for (unsigned i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].jid, jid))
			return (int)i;
	return -1;
}

enum clash_kind {
	CLASH_NONE = 0,
	CLASH_KEY,
	CLASH_ADDR,
	CLASH_MAC,
	CLASH_ROUTES,	    /* a route of one overlaps a route of the other */
	CLASH_ROUTE_COVERS, /* a route of the newcomer covers the other's address */
	CLASH_ADDR_COVERED, /* the newcomer's address is in a route of the other */
};

static bool routes_cover(const struct sig_presence *r, const struct sig_presence *a)
{
	for (unsigned i = 0; i < r->nroutes && i < SIG_MAX_ROUTES; i++)
		if (net_prefix_has_ip4(&r->routes[i], a->ip4) ||
		    net_prefix_has_ip6(&r->routes[i], a->ip6))
			return true;
	return false;
}

/* What the newcomer `a` claims that `b` already holds. The ULA and the node
 * id follow from the IPv4 (the parser checks), so one compare covers all
 * three. Two routes that overlap would send one subnet to two gateways (or
 * back to us); a route over an overlay address would steal it. */
static enum clash_kind clash(const struct sig_presence *a, const struct sig_presence *b)
{
	if (!memcmp(a->public_key, b->public_key, SIG_KEY_LEN))
		return CLASH_KEY;
	if (a->ip4 == b->ip4 || !memcmp(a->node_id, b->node_id, SIG_NODE_ID_LEN) ||
	    !memcmp(a->ip6, b->ip6, 16))
		return CLASH_ADDR;
	if (!memcmp(a->mac, b->mac, 6))
		return CLASH_MAC;
	for (unsigned i = 0; i < a->nroutes && i < SIG_MAX_ROUTES; i++)
		for (unsigned k = 0; k < b->nroutes && k < SIG_MAX_ROUTES; k++)
			if (net_prefix_overlap(&a->routes[i], &b->routes[k]))
				return CLASH_ROUTES;
	if (routes_cover(a, b))
		return CLASH_ROUTE_COVERS;
	if (routes_cover(b, a))
		return CLASH_ADDR_COVERED;
	return CLASH_NONE;
}

/* "public_key equals ours", "routes overlap those of room/x", ... */
static void clash_text(enum clash_kind k, const char *other, char *buf, size_t len)
{
	static const char *const field[] = {"", "public_key", "ip4/node_id/ip6", "mac"};
	switch (k) {
	case CLASH_ROUTES:
		if (other)
			snprintf(buf, len, "routes overlap those of %s", other);
		else
			snprintf(buf, len, "routes overlap ours");
		break;
	case CLASH_ROUTE_COVERS:
		if (other)
			snprintf(buf, len, "routes cover the overlay address of %s", other);
		else
			snprintf(buf, len, "routes cover our overlay address");
		break;
	case CLASH_ADDR_COVERED:
		if (other)
			snprintf(buf, len, "overlay address is in the routes of %s", other);
		else
			snprintf(buf, len, "overlay address is in our routes");
		break;
	default:
		if (other)
			snprintf(buf, len, "%s equals that of %s", field[k], other);
		else
			snprintf(buf, len, "%s equals ours", field[k]);
		break;
	}
}

int sig_members_update(struct sig_members *t, const char *jid, const struct sig_presence *p,
		       char *why, size_t whylen)
{
	size_t jl = jid ? strnlen(jid, SIG_JID_MAX + 1) : 0;
	enum clash_kind k;
	char text[SIG_JID_MAX + 64];
	int idx;

	if (jl == 0 || jl > SIG_JID_MAX)
		return -EINVAL;
	if (t->has_self && (k = clash(p, &t->self))) {
		clash_text(k, NULL, text, sizeof(text));
		log_warn("signal: refusing member %s: its %s", jid, text);
		if (why && whylen)
			snprintf(why, whylen, "%s", text);
		return -EEXIST;
	}
	idx = find_idx(t, jid);
	for (unsigned i = 0; i < t->n; i++) {
		if ((int)i == idx || !(k = clash(p, &t->v[i].p)))
			continue;
		clash_text(k, t->v[i].jid, text, sizeof(text));
		log_warn("signal: refusing member %s: its %s", jid, text);
		if (why && whylen)
			snprintf(why, whylen, "%s", text);
		return -EEXIST;
	}
	if (idx >= 0) {
		struct sig_member *m = &t->v[idx];
		bool same = !memcmp(&m->p, p, sizeof(*p));
		m->stale = false;
		if (same)
			return SIG_MEMBER_SAME;
		m->p = *p;
		return SIG_MEMBER_CHANGED;
	}
	if (t->n == SIG_MEMBERS_MAX)
		return -ENOSPC;
	if (t->n == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		struct sig_member *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	char *copy = strndup(jid, jl);
	if (!copy)
		return -ENOMEM;
	t->v[t->n++] = (struct sig_member){.jid = copy, .p = *p, .stale = false};
	return SIG_MEMBER_ADDED;
}

static void remove_at(struct sig_members *t, unsigned i)
{
	free(t->v[i].jid);
	t->v[i] = t->v[--t->n];
}

int sig_members_remove(struct sig_members *t, const char *jid)
{
	int idx = jid ? find_idx(t, jid) : -1;
	if (idx < 0)
		return -ENOENT;
	remove_at(t, (unsigned)idx);
	return 0;
}

const struct sig_member *sig_members_find(const struct sig_members *t, const char *jid)
{
	int idx = jid ? find_idx(t, jid) : -1;
	return idx < 0 ? NULL : &t->v[idx];
}

unsigned sig_members_count(const struct sig_members *t)
{
	return t->n;
}

const struct sig_member *sig_members_at(const struct sig_members *t, unsigned i)
{
	return i < t->n ? &t->v[i] : NULL;
}

void sig_members_mark_stale(struct sig_members *t)
{
	for (unsigned i = 0; i < t->n; i++)
		t->v[i].stale = true;
}

/* The callback sees the JID before it is freed; the slot is refilled from
 * the end, so the index is re-examined. */
static unsigned remove_if(struct sig_members *t,
			  bool (*pred)(const struct sig_member *, const void *), const void *ctx,
			  void (*cb)(void *arg, const char *jid), void *arg)
{
	unsigned removed = 0;
	for (unsigned i = 0; i < t->n;) {
		if (!pred(&t->v[i], ctx)) {
			i++;
			continue;
		}
		if (cb)
			cb(arg, t->v[i].jid);
		remove_at(t, i);
		removed++;
	}
	return removed;
}

static bool is_stale(const struct sig_member *m, const void *ctx)
{
	(void)ctx;
	return m->stale;
}

unsigned sig_members_sweep_stale(struct sig_members *t, void (*cb)(void *arg, const char *jid),
				 void *arg)
{
	return remove_if(t, is_stale, NULL, cb, arg);
}

static bool has_bare(const struct sig_member *m, const void *ctx)
{
	const char *bare = ctx;
	size_t n = strlen(bare);
	return !strncmp(m->jid, bare, n) && (m->jid[n] == 0 || m->jid[n] == '/');
}

unsigned sig_members_remove_bare(struct sig_members *t, const char *bare_jid,
				 void (*cb)(void *arg, const char *jid), void *arg)
{
	return remove_if(t, has_bare, bare_jid, cb, arg);
}
