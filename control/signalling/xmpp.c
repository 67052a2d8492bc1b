/* XMPP signalling session (see xmpp.h, docs/signalling.md): the object, its
 * configuration and the public API. The connection and its timers live in
 * xmpp_session.c, stanzas and members in xmpp_stanza.c, the two kinds of
 * group in xmpp_muc.c and xmpp_roster.c.
 */
#include "control/signalling/xmpp.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control/signalling/xmpp_internal.h"
#include "util/log.h"

static unsigned strophe_users; /* xmpp_initialize/xmpp_shutdown pairing (control thread) */

const char *ctl_xmpp_state_name(enum ctl_xmpp_state s)
{
	switch (s) {
	case CTL_XMPP_DISCONNECTED:
		return "disconnected";
	case CTL_XMPP_CONNECTING:
		return "connecting";
	case CTL_XMPP_ONLINE:
		return "online";
	case CTL_XMPP_BACKOFF:
		return "backoff";
	}
	return "?";
}

void xmpp_set_state(struct ctl_xmpp *x, enum ctl_xmpp_state s)
{
	if (x->state == s)
		return;
	log_info("xmpp: %s: %s -> %s", x->full_jid, ctl_xmpp_state_name(x->state),
		 ctl_xmpp_state_name(s));
	x->state = s;
	if (x->cb.state_changed)
		x->cb.state_changed(x->arg, s);
}

uint64_t xmpp_rng_next(struct ctl_xmpp *x)
{
	/* xorshift64*: jitter only needs to decorrelate clients, not secrecy */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return x->rng * UINT64_C(2685821657736338717);
}

uint64_t xmpp_backoff_delay(struct ctl_xmpp *x, unsigned n)
{
	unsigned shift = n < 20 ? n : 20;
	uint64_t d = (uint64_t)x->backoff_min << shift;

	if (d > x->backoff_max)
		d = x->backoff_max;
	/* Equal jitter: at least half the step, so retries keep spreading out,
	 * and random in the other half, so clients that lost the same server
	 * at the same moment do not come back in lockstep. */
	return d / 2 + xmpp_rng_next(x) % (d / 2 + 1);
}

size_t xmpp_bare_len(const char *jid)
{
	const char *slash = strchr(jid, '/');
	return slash ? (size_t)(slash - jid) : strlen(jid);
}

bool xmpp_bare_equals(const char *jid, const char *bare)
{
	size_t n = xmpp_bare_len(jid);
	return n == strlen(bare) && !strncasecmp(jid, bare, n);
}

bool xmpp_bare_jid_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || strchr(s, '/') || n > SIG_JID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '\'' || *p == '<' ||
		    *p == '>' || *p == '&')
			return false;
	return true;
}

static void strophe_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
	struct ctl_xmpp *x = userdata;
	char mech[32];

	if (level == XMPP_LEVEL_DEBUG) {
		if (sscanf(msg, "SASL %31s auth successful", mech) == 1)
			snprintf(x->sasl_mech, sizeof(x->sasl_mech), "%s", mech);
		/* Raw traffic (SENT/RECV) may hold credentials: never forwarded. */
		if (log_get_level() >= LOG_DEBUG && strcmp(area, "conn") &&
		    strncmp(msg, "SENT", 4) && strncmp(msg, "RECV", 4))
			log_debug("xmpp: libstrophe %s: %s", area, msg);
		return;
	}
	if (level == XMPP_LEVEL_ERROR)
		log_err("xmpp: libstrophe %s: %s", area, msg);
	else if (level == XMPP_LEVEL_WARN)
		log_warn("xmpp: libstrophe %s: %s", area, msg);
	else
		log_info("xmpp: libstrophe %s: %s", area, msg);
}

/* ---- configuration ---- */

/* One entry of the server list: "host", "host:port", "[v6]:port" or a bare
 * IPv6 literal. 0, or -EINVAL with *why set. */
static int parse_server(const char *s, size_t len, uint16_t def_port, struct xmpp_server *out,
			const char **why)
{
	char buf[300], *host = buf, *colon;
	unsigned long port = def_port;

	if (len == 0 || len >= sizeof(buf)) {
		*why = "an empty or over-long entry";
		return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close || close == buf + 1 || (close[1] && close[1] != ':')) {
			*why = "an IPv6 address in brackets: [addr] or [addr]:port";
			return -EINVAL;
		}
		*close = 0;
		host = buf + 1;
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strchr(buf, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 literal */
	}
	if (colon) {
		char *end;
		*colon = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 1 || port > 65535) {
			*why = "a port 1..65535 after ':'";
			return -EINVAL;
		}
	}
	if (!host[0] || strpbrk(host, "[]/@<>&'\"")) {
		*why = "a host name or address";
		return -EINVAL;
	}
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	out->host = strdup(host);
	out->port = (uint16_t)port;
	return out->host ? 0 : -ENOMEM;
}

/* xmpp_host: one server or several, separated by commas and/or spaces,
 * tried in this order (the next one after each failure). */
static int parse_servers(struct ctl_xmpp *x, const char *list, uint16_t def_port)
{
	const char *p = list, *why = "";
	int r;

	while (*p) {
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (x->nservers == XMPP_SERVERS_MAX) {
			log_err("xmpp: xmpp_host: at most %d servers", XMPP_SERVERS_MAX);
			return -EINVAL;
		}
		r = parse_server(p, n, def_port, &x->servers[x->nservers], &why);
		if (r == -EINVAL)
			log_err("xmpp: xmpp_host: '%.*s': expected %s", (int)n, p, why);
		if (r)
			return r;
		x->nservers++;
		p += n;
	}
	if (!x->nservers) {
		log_err("xmpp: xmpp_host: expected a server name or address");
		return -EINVAL;
	}
	return 0;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static struct ctl_xmpp *create_fail(struct ctl_xmpp *x, int err, const char *what)
{
	if (what)
		log_err("xmpp: %s", what);
	ctl_xmpp_destroy(x);
	errno = err;
	return NULL;
}

struct ctl_xmpp *ctl_xmpp_create(const struct ctl_xmpp_config *cfg,
				 const struct ctl_xmpp_callbacks *cb, void *arg)
{
	struct ctl_xmpp *x;
	bool oom = false;
	size_t n;
	int r;

	if (!cfg || !cfg->jid || !cfg->password || !cfg->host || !cfg->host[0]) {
		log_err("xmpp: xmpp_username, xmpp_password and xmpp_host are required");
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		errno = ENOMEM;
		return NULL;
	}
	x->fd = -1;
	if (strophe_users++ == 0)
		xmpp_initialize();
	x->log = (xmpp_log_t){.handler = strophe_log, .userdata = x};
	x->ctx = xmpp_ctx_new(NULL, &x->log);
	x->members = sig_members_create();
	if (!x->ctx || !x->members)
		return create_fail(x, ENOMEM, NULL);
	r = parse_servers(x, cfg->host, cfg->port ? cfg->port : 5222);
	if (r)
		return create_fail(x, -r, NULL);

	/* IPOP's xmpp_username may omit the domain: it is then the (first)
	 * server's. */
	if (strchr(cfg->jid, '@')) {
		x->jid = dup_opt(cfg->jid, &oom);
	} else if (cfg->jid[0] &&
		   (x->jid = malloc(strlen(cfg->jid) + strlen(x->servers[0].host) + 2))) {
		sprintf(x->jid, "%s@%s", cfg->jid, x->servers[0].host);
	} else {
		oom = cfg->jid[0] != 0;
	}
	if (oom)
		return create_fail(x, ENOMEM, NULL);
	if (!x->jid || !xmpp_bare_jid_ok(x->jid))
		return create_fail(x, EINVAL,
				   "xmpp_username: expected user@domain (no resource, no spaces)");
	for (char *p = x->jid; *p; p++) /* nodeprep/nameprep for ASCII */
		*p = (char)tolower((unsigned char)*p);
	x->domain = strchr(x->jid, '@') + 1;

	n = 16; /* "ipopd-" + 8 hex digits, the per-session default */
	if (cfg->resource) {
		n = strlen(cfg->resource);
		if (n == 0 || n > 1023 || strpbrk(cfg->resource, "/ <>&'\""))
			return create_fail(x, EINVAL,
					   "xmpp resource: expected 1..1023 characters, no '/'");
		x->resource = dup_opt(cfg->resource, &oom);
	}
	x->full_jid = malloc(strlen(x->jid) + n + 2);
	if (!x->full_jid || oom)
		return create_fail(x, ENOMEM, NULL);
	/* Until the first attempt picks the session's resource: for logs. */
	sprintf(x->full_jid, "%s/%s", x->jid, x->resource ? x->resource : "ipopd-?");

	x->group = cfg->group;
	if (x->group != CTL_XMPP_GROUP_MUC && x->group != CTL_XMPP_GROUP_ROSTER)
		return create_fail(x, EINVAL, "xmpp group: expected muc or roster");
	if (x->group == CTL_XMPP_GROUP_MUC) {
		if (!cfg->room || !xmpp_bare_jid_ok(cfg->room))
			return create_fail(x, EINVAL, "xmpp room: expected room@conference.domain");
		x->room = dup_opt(cfg->room, &oom);
		for (char *p = x->room; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	x->password = dup_opt(cfg->password, &oom);
	x->host_config = dup_opt(cfg->host, &oom);
	x->ca_file = cfg->ca_file && cfg->ca_file[0] ? dup_opt(cfg->ca_file, &oom) : NULL;
	if (oom)
		return create_fail(x, ENOMEM, NULL);
	x->allow_plaintext = cfg->allow_plaintext;
	if (x->allow_plaintext)
		log_warn("xmpp: plaintext allowed: credentials and signalling may cross the "
			 "network unencrypted");

	x->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 1000;
	x->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 60000;
	if (x->backoff_max < x->backoff_min)
		x->backoff_max = x->backoff_min;
	x->login_timeout = cfg->login_timeout_ms ? cfg->login_timeout_ms : 30000;
	x->ping_interval = cfg->ping_interval_ms ? cfg->ping_interval_ms : 30000;
	x->ping_timeout = cfg->ping_timeout_ms ? cfg->ping_timeout_ms : 20000;
	x->resync_grace = cfg->resync_grace_ms ? cfg->resync_grace_ms : x->backoff_max + 5000;
	x->rng = cfg->jitter_seed;
	if (!x->rng && getrandom(&x->rng, sizeof(x->rng), GRND_NONBLOCK) != sizeof(x->rng))
		x->rng = (uint64_t)(uintptr_t)x ^ UINT64_C(0x9e3779b97f4a7c15);
	if (!x->rng)
		x->rng = 1;
	if (cb)
		x->cb = *cb;
	x->arg = arg;
	return x;
}

void ctl_xmpp_destroy(struct ctl_xmpp *x)
{
	if (!x)
		return;
	if (x->ctx) {
		ctl_xmpp_stop(x);
		/* Let the server see our unavailable presence and stream close. */
		for (unsigned i = 0; i < 20 && x->conn && !x->conn_ended; i++)
			xmpp_run_once(x->ctx, 10);
		xmpp_drop_conn(x);
	}
	if (x->gai_busy) {
		/* glibc's lookup thread still owns x->gai: wait it out. */
		if (gai_cancel(&x->gai) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = {&x->gai};
			struct timespec ts = {.tv_sec = 1};
			while (gai_error(&x->gai) == EAI_INPROGRESS)
				gai_suspend(list, 1, &ts);
		}
		if (x->gai.ar_result)
			freeaddrinfo(x->gai.ar_result);
	}
	if (x->ctx)
		xmpp_ctx_free(x->ctx);
	if (--strophe_users == 0)
		xmpp_shutdown();
	xmpp_roster_free(x);
	sig_members_destroy(x->members);
	if (x->password) {
		explicit_bzero(x->password, strlen(x->password));
		free(x->password);
	}
	for (unsigned i = 0; i < x->nservers; i++)
		free(x->servers[i].host);
	free(x->jid);
	free(x->full_jid);
	free(x->resource);
	free(x->host_config);
	free(x->ca_file);
	free(x->room);
	free(x);
}

int ctl_xmpp_start(struct ctl_xmpp *x, uint64_t now_ms)
{
	if (x->started)
		return -EALREADY;
	x->started = true;
	x->now = now_ms;
	x->failures = 0;
	x->server = 0;
	if (!x->conn)
		xmpp_attempt(x);
	return 0;
}

void ctl_xmpp_stop(struct ctl_xmpp *x)
{
	char to[SIG_JID_MAX + 1];

	if (!x->started)
		return;
	x->started = false;
	x->resolving = false;
	x->rejoin_at = 0;
	if (x->conn && x->session_up && !x->conn_ended) {
		if (x->group == CTL_XMPP_GROUP_MUC && x->nick[0]) {
			snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
			xmpp_send_typed_presence(x, to, "unavailable");
		} else if (x->group == CTL_XMPP_GROUP_ROSTER) {
			xmpp_send_typed_presence(x, NULL, "unavailable");
		}
		/* Graceful: ctl_xmpp_poll (or destroy) finishes the close. */
		xmpp_disconnect(x->conn);
	} else {
		xmpp_drop_conn(x);
	}
	x->in_group = false;
	xmpp_set_state(x, CTL_XMPP_DISCONNECTED);
}

int ctl_xmpp_poll(struct ctl_xmpp *x, uint64_t now_ms)
{
	bool busy = false;

	x->now = now_ms;
	if (x->state == CTL_XMPP_BACKOFF && now_ms >= x->next_retry_ms)
		xmpp_attempt(x);
	if (x->gai_busy)
		xmpp_check_resolution(x);
	if (x->conn)
		busy = xmpp_run_strophe(x);
	if (x->conn && x->conn_ended)
		xmpp_end_session(x, NULL);
	xmpp_run_timers(x);
	return xmpp_next_wait(x, busy);
}

int ctl_xmpp_fd(const struct ctl_xmpp *x, uint64_t *generation)
{
	if (generation)
		*generation = x->fd_gen;
	return x->fd;
}

int ctl_xmpp_set_presence(struct ctl_xmpp *x, const struct sig_presence *p)
{
	char json[SIG_MAX_PAYLOAD + 1], to[SIG_JID_MAX + 1], nick[SIG_NODE_ID_HEXLEN + 1];

	if (!p || sig_presence_build(p, json, sizeof(json)) < 0)
		return -EINVAL;
	x->self = *p;
	x->has_self = true;
	sig_members_set_self(x->members, p);
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return 0;
	if (x->group == CTL_XMPP_GROUP_ROSTER)
		return x->roster_loaded ? xmpp_send_own_presence(x, false) : 0;
	sig_node_id_hex(p->node_id, nick);
	if (x->nick[0] && strcmp(nick, x->nick)) {
		/* A new node id is a new nick: leave as the old one first. */
		snprintf(to, sizeof(to), "%s/%s", x->room, x->nick);
		xmpp_send_typed_presence(x, to, "unavailable");
		x->in_group = false;
		x->nick[0] = 0;
	}
	if (!x->nick[0]) {
		memcpy(x->nick, nick, sizeof(nick));
		return xmpp_send_own_presence(x, true);
	}
	return xmpp_send_own_presence(x, false);
}

int ctl_xmpp_send(struct ctl_xmpp *x, const char *to_jid, const struct sig_message *m)
{
	char json[SIG_MAX_PAYLOAD + 1];
	xmpp_stanza_t *msg;
	int r;

	if (!to_jid || !m)
		return -EINVAL;
	r = sig_message_build(m, json, sizeof(json));
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (x->has_self && memcmp(m->from_id, x->self.node_id, SIG_NODE_ID_LEN))
		return -EINVAL;
	if (!sig_members_find(x->members, to_jid))
		return -ENOENT;
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return -ENOTCONN;
	msg = xmpp_message_new(x->ctx, "chat", to_jid, NULL);
	if (!msg)
		return -ENOMEM;
	/* no-store: signalling is useless later; keep it out of archives and
	 * offline storage. */
	if (xmpp_adopt(msg, xmpp_ipop_element(x, json)) ||
	    xmpp_adopt(msg, xmpp_element(x, "no-store", NS_HINTS))) {
		xmpp_stanza_release(msg);
		return -ENOMEM;
	}
	xmpp_send_stanza(x, msg);
	return 0;
}

enum ctl_xmpp_state ctl_xmpp_state(const struct ctl_xmpp *x, uint64_t *next_retry_ms)
{
	if (next_retry_ms)
		*next_retry_ms = x->state == CTL_XMPP_BACKOFF ? x->next_retry_ms : 0;
	return x->state;
}

bool ctl_xmpp_in_group(const struct ctl_xmpp *x)
{
	return x->state == CTL_XMPP_ONLINE && x->in_group;
}

bool ctl_xmpp_secured(const struct ctl_xmpp *x)
{
	return x->conn && x->session_up && xmpp_conn_is_secured(x->conn);
}

const char *ctl_xmpp_sasl_mechanism(const struct ctl_xmpp *x)
{
	return x->sasl_mech;
}

const char *ctl_xmpp_bound_jid(const struct ctl_xmpp *x)
{
	return x->state == CTL_XMPP_ONLINE ? x->bound : "";
}

void ctl_xmpp_server(const struct ctl_xmpp *x, const char **host, uint16_t *port)
{
	*host = x->servers[x->server].host;
	*port = x->servers[x->server].port;
}

void ctl_xmpp_get_counters(const struct ctl_xmpp *x, struct ctl_xmpp_counters *out)
{
	*out = x->ctr;
}

const struct sig_members *ctl_xmpp_members(const struct ctl_xmpp *x)
{
	return x->members;
}
