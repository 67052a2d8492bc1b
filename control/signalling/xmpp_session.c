/* The connection of the XMPP session: name resolution, the libstrophe
 * connection object (one per attempt: when it fails or drops it is released
 * and the next attempt gets a fresh one, so no handler, queue or
 * stream-management state leaks from one session into the next), the
 * server list tried in turn, backoff, login timeout, keepalive and the
 * resync of members after a reconnect. libstrophe's callbacks only record
 * what happened or act on stanzas; the state machine runs in ctl_xmpp_poll
 * on the caller's clock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control/signalling/xmpp_internal.h"
#include "util/log.h"

/* libstrophe 0.12 has no getter for its socket; it does call the sockopt
 * callback with the socket for every socket it creates, synchronously inside
 * xmpp_connect_client or xmpp_run_once. We read this right after each. */
static _Thread_local struct {
	xmpp_conn_t *conn;
	int fd;
} sock_seen;

static int sockopt_cb(xmpp_conn_t *conn, void *sock)
{
	sock_seen.conn = conn;
	sock_seen.fd = *(int *)sock;
	/* TCP keepalive too: catches a dead path even when XMPP pings cannot
	 * be sent (full send buffer). */
	return xmpp_sockopt_cb_keepalive(conn, sock);
}

static int certfail_cb(const xmpp_tlscert_t *cert, const char *errormsg)
{
	const char *subject = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT);
	log_err("xmpp: server certificate rejected (%s): %s", subject ? subject : "?", errormsg);
	return 0; /* never connect to an unverified server */
}

static void capture_fd(struct ctl_xmpp *x)
{
	if (x->conn && sock_seen.conn == x->conn && sock_seen.fd != x->fd) {
		x->fd = sock_seen.fd;
		x->fd_gen++;
	}
	sock_seen.conn = NULL;
}

/* ---- iq: pings, roster pushes ---- */

static void reply_iq(struct ctl_xmpp *x, xmpp_stanza_t *st, bool ok)
{
	const char *id = xmpp_stanza_get_id(st), *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *r;

	if (!id)
		return; /* an iq without id cannot be answered */
	if (ok) {
		r = xmpp_iq_new(x->ctx, "result", id);
		if (r && from)
			xmpp_stanza_set_to(r, from);
	} else {
		r = xmpp_stanza_reply_error(st, "cancel", "service-unavailable", NULL);
	}
	if (r)
		xmpp_send_stanza(x, r);
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	const char *type = xmpp_stanza_get_type(st), *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *q;
	(void)conn;

	x->ctr.stanzas_in++;
	x->last_rx_ms = x->now;
	if (!type || (strcmp(type, "get") && strcmp(type, "set")))
		return 1; /* results and errors: id handlers take ours */
	if (!strcmp(type, "get") && xmpp_stanza_get_child_by_name_and_ns(st, "ping", NS_PING)) {
		reply_iq(x, st, true);
		return 1;
	}
	q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER);
	if (q && !strcmp(type, "set") && x->group == CTL_XMPP_GROUP_ROSTER) {
		/* RFC 6121 2.1.6: pushes come from our own account only. */
		if (from && !xmpp_bare_equals(from, x->jid)) {
			log_ratelimited(LOG_WARN, "xmpp: roster push from %s ignored", from);
			reply_iq(x, st, false);
			return 1;
		}
		xmpp_roster_push(x, q);
		reply_iq(x, st, true);
		return 1;
	}
	if (q && !strcmp(type, "set")) { /* MUC group: the roster means nothing */
		reply_iq(x, st, true);
		return 1;
	}
	reply_iq(x, st, false);
	return 1;
}

static int on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
	struct ctl_xmpp *x = userdata;
	(void)conn;
	(void)st;
	x->ping_outstanding = false; /* a result or an error: the server is there */
	return 0;
}

static void send_ping(struct ctl_xmpp *x)
{
	char id[32];
	xmpp_stanza_t *iq;

	snprintf(id, sizeof(id), "ipopd-ping-%llu", (unsigned long long)++x->ping_seq);
	iq = xmpp_iq_new(x->ctx, "get", id);
	if (!iq)
		return;
	xmpp_stanza_set_to(iq, x->domain);
	if (xmpp_adopt(iq, xmpp_element(x, "ping", NS_PING))) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_id_handler_add(x->conn, on_pong, id, x);
	xmpp_send_stanza(x, iq);
	x->ping_outstanding = true;
	x->ping_sent_ms = x->now;
	x->ctr.pings_sent++;
}

/* ---- session ---- */

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
		    void *userdata)
{
	struct ctl_xmpp *x = userdata;

	if (x->releasing || conn != x->conn)
		return;
	if (ev == XMPP_CONN_CONNECT) {
		const char *b = xmpp_conn_get_bound_jid(conn);
		snprintf(x->bound, sizeof(x->bound), "%s", b ? b : x->full_jid);
		x->session_up = true;
		x->online_ms = x->last_rx_ms = x->now;
		x->ping_outstanding = false;
		x->in_group = x->roster_loaded = false;
		x->rejoin_at = 0;
		x->rejoin_failures = 0;
		x->nick[0] = 0;
		xmpp_roster_session_reset(x);
		x->ctr.connects++;
		log_info("xmpp: %s online at %s:%u over %s, SASL %s", x->bound,
			 x->servers[x->server].host, x->servers[x->server].port,
			 xmpp_conn_is_secured(conn) ? "TLS" : "PLAINTEXT",
			 x->sasl_mech[0] ? x->sasl_mech : "?");
		xmpp_set_state(x, CTL_XMPP_ONLINE);
		x->resync_pending = true;
		x->resync_deadline = x->now + x->resync_grace;
		if (x->group == CTL_XMPP_GROUP_MUC)
			xmpp_muc_join(x);
		else
			xmpp_roster_request(x);
		return;
	}
	if (ev != XMPP_CONN_DISCONNECT && ev != XMPP_CONN_FAIL)
		return;
	x->conn_ended = true;
	if (se)
		/* conflict: another login took our resource; with the default
		 * per-session resource only a configured one can collide. The
		 * next attempt logs in again like after any other failure. */
		log_warn("xmpp: %s: stream error %d%s%s", x->full_jid, (int)se->type,
			 se->text ? ": " : "", se->text ? se->text : "");
	else if (error)
		log_info("xmpp: %s: connection ended (error %d)", x->full_jid, error);
}

void xmpp_drop_conn(struct ctl_xmpp *x)
{
	if (x->conn) {
		x->releasing = true;
		xmpp_conn_release(x->conn);
		x->releasing = false;
		x->conn = NULL;
	}
	if (x->fd >= 0) {
		x->fd = -1;
		x->fd_gen++;
	}
	x->conn_ended = x->session_up = false;
}

static void schedule_retry(struct ctl_xmpp *x)
{
	uint64_t delay = xmpp_backoff_delay(x, x->failures);

	x->failures++;
	x->next_retry_ms = x->now + delay;
	log_info("xmpp: %s: retrying in %llu ms (%s:%u)", x->full_jid, (unsigned long long)delay,
		 x->servers[x->server].host, x->servers[x->server].port);
	xmpp_set_state(x, CTL_XMPP_BACKOFF);
}

/* The current attempt or session is over, for whatever reason. */
void xmpp_end_session(struct ctl_xmpp *x, const char *why)
{
	bool was_up = x->session_up;
	const struct xmpp_server *s = &x->servers[x->server];

	xmpp_drop_conn(x);
	x->resolving = false;
	x->in_group = x->roster_loaded = x->ping_outstanding = x->resync_pending = false;
	x->rejoin_at = 0;
	x->bound[0] = 0;
	if (was_up) {
		x->ctr.disconnects++;
		if (x->now - x->online_ms >= STABLE_MS)
			x->failures = 0;
		/* Keep the members: links do not depend on XMPP. Whoever has not
		 * re-announced within resync_grace after we are back is gone. */
		sig_members_mark_stale(x->members);
		if (x->started)
			log_warn("xmpp: %s: session with %s:%u lost%s%s", x->full_jid, s->host,
				 s->port, why ? ": " : "", why ? why : "");
		else
			log_info("xmpp: %s: session closed", x->full_jid);
	} else {
		x->ctr.connect_failures++;
		log_warn("xmpp: %s: connecting to %s:%u failed%s%s", x->full_jid, s->host, s->port,
			 why ? ": " : "", why ? why : "");
	}
	if (!x->started) {
		xmpp_set_state(x, CTL_XMPP_DISCONNECTED);
		return;
	}
	/* The next attempt goes to the next server of the list: the one that
	 * failed or dropped us may be down (a cluster node stopped). */
	x->server = (x->server + 1) % x->nservers;
	schedule_retry(x);
}

/* A fresh resource per session unless one is configured: the previous
 * session may still be alive on the server (a connection that died without
 * the server noticing), and logging in with its full JID would make the
 * server end it only after we joined, taking our new room occupancy or
 * presence along with it. */
static void pick_resource(struct ctl_xmpp *x)
{
	if (x->resource) {
		sprintf(x->full_jid, "%s/%s", x->jid, x->resource);
		return;
	}
	uint32_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)(xmpp_rng_next(x) >> 32);
	sprintf(x->full_jid, "%s/ipopd-%08x", x->jid, r);
}

static void connect_to(struct ctl_xmpp *x, const char *addr)
{
	long flags = XMPP_CONN_FLAG_DISABLE_SM;
	int r;

	if (!x->allow_plaintext)
		flags |= XMPP_CONN_FLAG_MANDATORY_TLS;
	x->conn = xmpp_conn_new(x->ctx);
	if (!x->conn) {
		xmpp_end_session(x, "out of memory");
		return;
	}
	x->conn_ended = x->session_up = false;
	pick_resource(x);
	xmpp_conn_set_flags(x->conn, flags);
	xmpp_conn_set_jid(x->conn, x->full_jid);
	xmpp_conn_set_pass(x->conn, x->password);
	if (x->ca_file)
		xmpp_conn_set_cafile(x->conn, x->ca_file);
	xmpp_conn_set_certfail_handler(x->conn, certfail_cb);
	xmpp_conn_set_sockopt_callback(x->conn, sockopt_cb);
	xmpp_handler_add(x->conn, xmpp_on_presence, NULL, "presence", NULL, x);
	xmpp_handler_add(x->conn, xmpp_on_message, NULL, "message", NULL, x);
	xmpp_handler_add(x->conn, on_iq, NULL, "iq", NULL, x);
	sock_seen.conn = NULL;
	r = xmpp_connect_client(x->conn, addr, x->servers[x->server].port, on_conn, x);
	capture_fd(x);
	if (r != XMPP_EOK || x->conn_ended)
		xmpp_end_session(x, "cannot open the connection");
}

static void start_lookup(struct ctl_xmpp *x);

void xmpp_check_resolution(struct ctl_xmpp *x)
{
	char addr[INET6_ADDRSTRLEN];
	struct addrinfo *res, *ai;
	unsigned n = 0, pick;
	int e = gai_error(&x->gai);

	if (e == EAI_INPROGRESS)
		return;
	x->gai_busy = false;
	res = x->gai.ar_result;
	x->gai.ar_result = NULL;
	if (!x->resolving) { /* the attempt was abandoned meanwhile */
		if (res)
			freeaddrinfo(res);
		return;
	}
	if (x->gai_server != x->server) { /* an abandoned attempt's lookup */
		if (res)
			freeaddrinfo(res);
		start_lookup(x);
		return;
	}
	x->resolving = false;
	if (e || !res) {
		if (res)
			freeaddrinfo(res);
		xmpp_end_session(x, e ? gai_strerror(e) : "no address");
		return;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	/* Rotate through the addresses across failures. */
	pick = (x->failures / x->nservers) % n;
	for (ai = res; pick--; ai = ai->ai_next)
		;
	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
			  sizeof(addr));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr,
			  sizeof(addr));
	freeaddrinfo(res);
	connect_to(x, addr);
}

/* Starts resolving the current server's name off the loop (glibc's
 * getaddrinfo_a thread). */
static void start_lookup(struct ctl_xmpp *x)
{
	struct gaicb *list[1] = {&x->gai};
	struct sigevent sev = {.sigev_notify = SIGEV_NONE};

	memset(&x->gai, 0, sizeof(x->gai));
	x->hints = (struct addrinfo){.ai_family = AF_UNSPEC,
				     .ai_socktype = SOCK_STREAM,
				     .ai_protocol = IPPROTO_TCP,
				     .ai_flags = AI_ADDRCONFIG};
	x->gai.ar_name = x->servers[x->server].host;
	x->gai.ar_request = &x->hints;
	x->gai_server = x->server;
	int e = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (e) {
		xmpp_end_session(x, gai_strerror(e));
		return;
	}
	x->gai_busy = true;
	xmpp_check_resolution(x);
}

void xmpp_attempt(struct ctl_xmpp *x)
{
	const char *host = x->servers[x->server].host;
	struct in6_addr a6;
	struct in_addr a4;

	x->attempt_ms = x->now;
	xmpp_set_state(x, CTL_XMPP_CONNECTING);
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
		connect_to(x, host);
		return;
	}
	x->resolving = true;
	/* A lookup still running from an abandoned attempt is waited for;
	 * check_resolution starts ours when it is over. */
	if (!x->gai_busy)
		start_lookup(x);
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Returns true when it stopped with work possibly left. */
bool xmpp_run_strophe(struct ctl_xmpp *x)
{
	unsigned quiet = 0;
	for (unsigned i = 0; i < 64; i++) {
		if (!x->conn || x->conn_ended)
			return false;
		xmpp_run_once(x->ctx, 0);
		capture_fd(x);
		/* libstrophe reads 4 KiB per pass; a TLS record (16 KiB) may sit
		 * decrypted inside OpenSSL where the socket does not show it, so
		 * a few passes continue after the socket goes quiet. */
		if (readable(x->fd))
			quiet = 0;
		else if (++quiet >= 4)
			return false;
	}
	return true;
}

void xmpp_run_timers(struct ctl_xmpp *x)
{
	if (x->state == CTL_XMPP_CONNECTING && x->now - x->attempt_ms >= x->login_timeout) {
		xmpp_end_session(x, "login timed out");
		return;
	}
	if (x->state != CTL_XMPP_ONLINE || !x->conn)
		return;
	if (x->ping_outstanding && x->now - x->ping_sent_ms >= x->ping_timeout) {
		x->ctr.ping_timeouts++;
		xmpp_end_session(x, "server did not answer our ping");
		return;
	}
	if (!x->ping_outstanding && x->now - x->last_rx_ms >= x->ping_interval)
		send_ping(x);
	if (x->rejoin_at && x->now >= x->rejoin_at)
		xmpp_muc_rejoin_due(x);
	if (x->group == CTL_XMPP_GROUP_MUC && x->in_group &&
	    x->now - x->selfping_ms >= x->ping_interval)
		xmpp_muc_selfping_due(x);
	if (x->resync_pending && x->now >= x->resync_deadline) {
		x->resync_pending = false;
		unsigned n = sig_members_sweep_stale(x->members, xmpp_member_gone, x);
		if (n)
			log_info("xmpp: %u member(s) did not come back after the reconnect", n);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t until(const struct ctl_xmpp *x, uint64_t t)
{
	return t > x->now ? t - x->now : 0;
}

int xmpp_next_wait(const struct ctl_xmpp *x, bool busy)
{
	uint64_t w = CTL_XMPP_MAX_WAIT_MS, due;

	if (busy)
		return 0;
	switch (x->state) {
	case CTL_XMPP_BACKOFF:
		w = min_u64(w, until(x, x->next_retry_ms));
		break;
	case CTL_XMPP_CONNECTING:
		/* TCP connect completion is a writability event, and libstrophe
		 * runs its connect timeout itself: poll briskly meanwhile. */
		w = CONNECTING_WAIT_MS;
		break;
	case CTL_XMPP_ONLINE:
		if (!x->conn) {
			w = CONNECTING_WAIT_MS;
			break;
		}
		if (xmpp_conn_send_queue_len(x->conn) > 0)
			w = min_u64(w, 10);
		due = x->ping_outstanding ? x->ping_sent_ms + x->ping_timeout
					  : x->last_rx_ms + x->ping_interval;
		w = min_u64(w, until(x, due));
		if (x->resync_pending)
			w = min_u64(w, until(x, x->resync_deadline));
		if (x->rejoin_at)
			w = min_u64(w, until(x, x->rejoin_at));
		if (x->group == CTL_XMPP_GROUP_MUC && x->in_group)
			w = min_u64(w, until(x, x->selfping_ms + x->ping_interval));
		break;
	case CTL_XMPP_DISCONNECTED:
		if (x->conn) /* closing gracefully after stop */
			w = CONNECTING_WAIT_MS;
		break;
	}
	if (x->gai_busy)
		w = min_u64(w, CONNECTING_WAIT_MS);
	return (int)w;
}
