/* The session of ctl_xmpp against a real prosody (xmpp_harness.h): config
 * errors, TLS verification (wrong CA never gets online), plaintext refused
 * unless allowed, SCRAM (client and prosody's log), name resolution,
 * keepalive pings and a frozen server, kill/restart of prosody (backoff,
 * reconnect, re-announcement, resync of members that did not come back), a
 * list of servers tried in turn, a resource new for every session, and a
 * session replaced by another login (stream error conflict) recovered.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>

#include "util/log.h"
#include "xmpp_harness.h"

static void test_tls_wrong_ca(void **state)
{
	struct client a, b;
	struct client *cs[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("tls1", CTL_XMPP_GROUP_MUC),
			       cb = base_config("tls1", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	uint64_t next;
	(void)state;

	ca.ca_file = other_ca_path; /* a CA that did not sign the server's certificate */
	cb.ca_file = NULL;	    /* the system store does not know the test CA either */
	cb.resource = "other";
	ca.backoff_min_ms = cb.backoff_min_ms = 200;
	client_init(&a, "tls1", &ca, 21);
	client_init(&b, "tls1", &cb, 22);
	uint64_t two = 2;
	assert_true(pump(cs, 2, 15000, failures_at_least, &two));
	for (unsigned i = 0; i < 2; i++) {
		assert_false(cs[i]->ever_online);
		ctl_xmpp_get_counters(cs[i]->x, &k);
		assert_true(k.connect_failures >= 2);
		assert_int_equal(k.connects, 0);
		enum ctl_xmpp_state s = ctl_xmpp_state(cs[i]->x, &next);
		assert_true(s == CTL_XMPP_BACKOFF || s == CTL_XMPP_CONNECTING);
	}
	client_fini(&a);
	client_fini(&b);
}

static void test_plaintext(void **state)
{
	struct client a, b;
	struct client *cb_[] = {&b}, *both[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("pt1", CTL_XMPP_GROUP_MUC),
			       cb = base_config("pt2", CTL_XMPP_GROUP_MUC);
	(void)state;

	/* The same server without TLS. */
	prosody_kill(SIGTERM);
	write_config(false);
	prosody_start();

	ca.backoff_min_ms = 200;
	cb.allow_plaintext = true;
	client_init(&a, "pt1", &ca, 31);
	client_init(&b, "pt2", &cb, 32);
	assert_true(pump(cb_, 1, 10000, all_online, NULL));
	assert_false(ctl_xmpp_secured(b.x));
	/* Even in plaintext, SCRAM (prosody refuses PLAIN without TLS anyway). */
	assert_true(!strncmp(ctl_xmpp_sasl_mechanism(b.x), "SCRAM-SHA-", 10));
	pump(both, 2, 3000, NULL, NULL);
	assert_false(a.ever_online);
	assert_int_equal(b.nmembers, 0);
	client_fini(&a);
	client_fini(&b);

	prosody_kill(SIGTERM);
	write_config(true);
	prosody_start();
}

static bool all_backoff(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++)
		if (ctl_xmpp_state(cs[i]->x, NULL) != CTL_XMPP_BACKOFF)
			return false;
	return true;
}

static bool pings_at_least(struct client **cs, unsigned n, void *arg)
{
	struct ctl_xmpp_counters k;
	(void)n;
	ctl_xmpp_get_counters(cs[0]->x, &k);
	return k.pings_sent >= *(uint64_t *)arg;
}

static void test_keepalive(void **state)
{
	struct client a;
	struct client *cs[] = {&a};
	struct ctl_xmpp_config ca = base_config("ka", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	uint64_t want = 3;
	(void)state;

	/* A ping timeout well above what a loaded machine may take to answer
	 * (prosody is single-threaded Lua): ping_timeouts must stay 0 below. */
	ca.ping_interval_ms = 300;
	ca.ping_timeout_ms = 2500;
	ca.backoff_min_ms = 300;
	client_init(&a, "ka", &ca, 41);
	assert_true(pump(cs, 1, 15000, all_online, NULL));
	assert_true(pump(cs, 1, 15000, pings_at_least, &want));
	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.ping_timeouts, 0);
	assert_int_equal(ctl_xmpp_state(a.x, NULL), CTL_XMPP_ONLINE);

	char first_jid[160];
	snprintf(first_jid, sizeof(first_jid), "%s", ctl_xmpp_bound_jid(a.x));
	/* A frozen server answers nothing but keeps TCP up: only the ping
	 * notices. */
	kill(prosody_pid, SIGSTOP);
	assert_true(pump(cs, 1, 15000, all_backoff, NULL));
	kill(prosody_pid, SIGCONT);
	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.ping_timeouts, 1);
	assert_int_equal(k.disconnects, 1);
	assert_true(pump(cs, 1, 15000, all_online, NULL));
	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.connects, 2);
	/* A new session, a new resource. */
	assert_string_not_equal(ctl_xmpp_bound_jid(a.x), first_jid);
	client_fini(&a);
}

static bool all_resynced(struct client **cs, unsigned n, void *arg)
{
	uint64_t *before = arg;
	struct ctl_xmpp_counters k;
	for (unsigned i = 0; i < n; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		if (!ctl_xmpp_in_group(cs[i]->x) || k.presences_accepted < before[i] + n - 1)
			return false;
	}
	return true;
}

static void test_reconnect(void **state)
{
	struct client a, b, c;
	struct client *cs[] = {&a, &b, &c}, *ab[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("rc1", CTL_XMPP_GROUP_MUC),
			       cb = base_config("rc2", CTL_XMPP_GROUP_MUC),
			       cc = base_config("rc3", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	uint64_t before[2], t0, next;
	char hex[SIG_NODE_ID_HEXLEN + 1], jid[160];
	(void)state;

	ca.resync_grace_ms = cb.resync_grace_ms = 4000;
	client_init(&a, "rc1", &ca, 51);
	client_init(&b, "rc2", &cb, 52);
	client_init(&c, "rc3", &cc, 53);
	assert_true(pump(cs, 3, 15000, all_see_all, NULL));
	for (unsigned i = 0; i < 2; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		before[i] = k.presences_accepted;
	}

	/* The server dies: everyone backs off, members stay (links do not
	 * depend on XMPP). */
	t0 = now_ms();
	prosody_kill(SIGKILL);
	assert_true(pump(cs, 3, 3000, all_backoff, NULL));
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ctl_xmpp_state(cs[i]->x, &next), CTL_XMPP_BACKOFF);
		assert_true(next > t0 && next <= now_ms() + 1000); /* first step: <= 1 s */
		assert_int_equal(cs[i]->nmembers, 2);
		assert_int_equal(ctl_xmpp_fd(cs[i]->x, NULL), -1);
	}
	/* carol does not come back. */
	client_fini(&c);
	uint64_t one_failure = 1;
	assert_true(pump(ab, 2, 10000, failures_at_least, &one_failure)); /* retries fail */
	ctl_xmpp_get_counters(a.x, &k);
	assert_true(k.connect_failures >= 1);
	assert_int_equal(k.disconnects, 1);

	prosody_start();
	/* Back within the backoff window (each has failed once, so their next
	 * retries are at most ~1.5 s apart, and whatever came due while
	 * prosody_start() waited for the port goes at once), rejoined, and
	 * re-announced: everyone re-accepted the other's presence, within the
	 * 4 s resync grace of whoever came back first. */
	assert_true(pump(ab, 2, 10000, all_resynced, before));
	for (unsigned i = 0; i < 2; i++) {
		ctl_xmpp_get_counters(ab[i]->x, &k);
		assert_int_equal(k.connects, 2);
	}
	/* No churn for b: re-announcing the same payload calls nobody. */
	assert_int_equal(a.unavailable_calls, 0);
	/* carol is reported gone once the resync grace expires. */
	unsigned one = 1;
	assert_true(pump(ab, 2, 15000, members_eq, &one));
	sig_node_id_hex(c.self.node_id, hex);
	snprintf(jid, sizeof(jid), ROOM "/%s", hex);
	assert_string_equal(a.last_gone, jid);
	assert_string_equal(b.last_gone, jid);
	assert_int_equal(a.unavailable_calls, 1);
	assert_sees(&a, ab, 2);
	client_fini(&a);
	client_fini(&b);
}

/* Prosody's own log (debug level) shows every <auth/> it received: all are
 * SCRAM, although it offers PLAIN over TLS too. */
static void test_prosody_log_scram(void **state)
{
	(void)state;
	/* (prosody prints attributes in any order) */
	assert_int_equal(sh("grep 'Received\\[c2s_unauthed\\]: <auth ' '%s' | "
			    "grep -q \"mechanism='SCRAM-SHA-\"",
			    log_path),
			 0);
	if (sh("grep 'Received\\[c2s_unauthed\\]: <auth ' '%s' | "
	       "grep -v -q \"mechanism='SCRAM-SHA-\"",
	       log_path) == 0)
		fail_msg("a non-SCRAM authentication appears in %s", log_path);
	/* Every login went through one of those <auth/> elements. */
	assert_int_equal(sh("test $(grep -c 'Received\\[c2s_unauthed\\]: <auth ' '%s') -ge "
			    "$(grep -c 'Authenticated as' '%s')",
			    log_path, log_path),
			 0);
	assert_int_equal(sh("test $(grep -c 'Authenticated as' '%s') -ge 8", log_path), 0);
	/* ... and PLAIN was on offer, so the choice was the client's. */
	assert_int_equal(sh("grep -q 'Offering usable mechanisms: .*PLAIN' '%s'", log_path), 0);
}

static void test_config_errors(void **state)
{
	struct ctl_xmpp_config c = base_config("alice", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp *x;
	(void)state;

	c.room = NULL;
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	assert_int_equal(errno, EINVAL);
	c.room = "no-at-sign";
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	c.room = ROOM;
	c.jid = "a@b/c";
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	c.jid = "a b@c";
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	c.jid = "alice@localhost";
	c.resource = "x/y";
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	c.resource = NULL;
	c.group = (enum ctl_xmpp_group)5;
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	c.group = CTL_XMPP_GROUP_MUC;
	c.host = NULL;
	assert_null(ctl_xmpp_create(&c, &callbacks, NULL));
	assert_null(ctl_xmpp_create(NULL, &callbacks, NULL));
	c.host = "127.0.0.1";
	c.jid = "Alice"; /* no domain: the server's */
	x = ctl_xmpp_create(&c, &callbacks, NULL);
	assert_non_null(x);
	assert_int_equal(ctl_xmpp_state(x, NULL), CTL_XMPP_DISCONNECTED);
	assert_int_equal(ctl_xmpp_fd(x, NULL), -1);
	struct sig_presence bad;
	memset(&bad, 0, sizeof(bad));
	assert_int_equal(ctl_xmpp_set_presence(x, &bad), -EINVAL);
	ctl_xmpp_destroy(x);
	ctl_xmpp_destroy(NULL);
	assert_string_equal(ctl_xmpp_state_name(CTL_XMPP_BACKOFF), "backoff");
}

/* A host name goes through getaddrinfo_a: "localhost" must work as well. */
static void test_resolve_name(void **state)
{
	struct client a;
	struct client *cs[] = {&a};
	struct ctl_xmpp_config ca = base_config("dave", CTL_XMPP_GROUP_MUC);
	(void)state;

	ca.host = "localhost";
	client_init(&a, "dave", &ca, 61);
	assert_true(pump(cs, 1, 10000, all_online, NULL));
	client_fini(&a);
	/* An unresolvable name fails and backs off, without blocking. */
	ca.host = "nonexistent.invalid";
	ca.backoff_min_ms = 100;
	client_init(&a, "dave", &ca, 61);
	uint64_t t = now_ms();
	pump(cs, 1, 1500, NULL, NULL);
	/* (glibc's resolver waits 5 s for a server that does not answer) */
	assert_true(now_ms() - t < 4500);
	assert_false(a.ever_online);
	client_fini(&a);
}

/* xmpp_host lists several servers: the first refuses (nothing listens on
 * port 1), the next one is tried after a backoff step. */
static void test_server_list(void **state)
{
	struct client a;
	struct client *cs[] = {&a};
	struct ctl_xmpp_config ca = base_config("ka", CTL_XMPP_GROUP_MUC);
	char list[128];
	const char *host;
	uint16_t p;
	(void)state;

	snprintf(list, sizeof(list), "127.0.0.1:1, [::1]:1 localhost:%u", port);
	ca.host = list;
	ca.port = 9; /* for entries without a port: none here */
	ca.backoff_min_ms = 100;
	client_init(&a, "ka", &ca, 71);
	ctl_xmpp_server(a.x, &host, &p);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(p, 1);
	assert_true(pump(cs, 1, 15000, all_online, NULL));
	ctl_xmpp_server(a.x, &host, &p);
	assert_string_equal(host, "localhost");
	assert_int_equal(p, port);
	struct ctl_xmpp_counters k;
	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.connect_failures, 2);
	client_fini(&a);

	static const char *const bad[] = {
	    "a:0",  "a:65536", "a:",  "[::1", "[::1]x",
	    "[]:5", "a@b",     "a/b", ", ,",  "a b c d e f g h i", /* 9 servers */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ca.host = bad[i];
		if (ctl_xmpp_create(&ca, &callbacks, NULL))
			fail_msg("xmpp_host '%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	ca.host = "x.example:5223 [2001:db8::1] 2001:db8::2 198.51.100.1:443";
	struct ctl_xmpp *x = ctl_xmpp_create(&ca, &callbacks, NULL);
	assert_non_null(x);
	ctl_xmpp_destroy(x);
}

/* Another login with our (configured, fixed) full JID replaces our session
 * (stream error "conflict"): we log in again, and the server gives the
 * resource back to us. With the default per-session resource this cannot
 * happen between two sessions of ours. */
static void test_conflict(void **state)
{
	struct client a;
	struct client *cs[] = {&a};
	struct ctl_xmpp_config ca = base_config("ka", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	struct raw r;
	uint64_t two = 2;
	(void)state;

	ca.resource = "fixed";
	ca.backoff_min_ms = 200;
	client_init(&a, "ka", &ca, 72);
	assert_true(pump(cs, 1, 10000, all_online, NULL));
	assert_string_equal(ctl_xmpp_bound_jid(a.x), "ka@localhost/fixed");
	raw_open_as(&r, "ka", "fixed");
	assert_true(pump(cs, 1, 10000, all_backoff, NULL));
	raw_close(&r);
	assert_true(pump(cs, 1, 10000, all_online, NULL));
	ctl_xmpp_get_counters(a.x, &k);
	assert_true(k.connects >= two);
	assert_string_equal(ctl_xmpp_bound_jid(a.x), "ka@localhost/fixed");
	client_fini(&a);
}

int main(void)
{
	/* clang-format off */
	static const char *const users[] = {"dave", "ka", "rc1", "rc2", "rc3", "tls1", "pt1", "pt2"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_tls_wrong_ca),
	    cmocka_unit_test(test_resolve_name),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_server_list),
	    cmocka_unit_test(test_conflict),
	    cmocka_unit_test(test_plaintext),
	    cmocka_unit_test(test_prosody_log_scram),
	};
	/* clang-format on */
	return HARNESS_MAIN(users, tests);
}
