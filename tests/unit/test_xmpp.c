/* Tests of the XMPP signalling session (control/xmpp.c) against a real
 * prosody that the test starts itself: 127.0.0.1, a free port, a temporary
 * directory, a test CA and a localhost certificate made with openssl. Several
 * ctl_xmpp clients run in this one process, driven by one epoll loop the way
 * the control core drives them (ctl_xmpp_poll + ctl_xmpp_fd generations).
 *
 * Covered: MUC group (presence payloads, direct messages, leave, conflicting
 * and malformed members injected by a raw libstrophe client), roster group
 * (contacts see each other, a non-contact does not), TLS verification (wrong
 * CA never gets online), plaintext refused unless allowed, SCRAM (client and
 * prosody's log), keepalive pings and a frozen server, and kill/restart of
 * prosody (backoff, reconnect, re-announcement, resync of members that did
 * not come back).
 *
 * Exits 77 only when prosody is not installed. prosody is killed by PID on
 * every exit path (and dies with us through PR_SET_PDEATHSIG); the temporary
 * directory is removed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/signalling/xmpp.h"
#include "util/log.h"

#define ROOM	 "overlay@conference.localhost"
#define PASSWORD "s3cret-Pass"

static char dir[64];
static char cfg_path[128], log_path[128], ca_path[128], other_ca_path[128];
static uint16_t port;
static pid_t prosody_pid = -1;

/* ---- harness: prosody ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void prosody_kill(int sig)
{
	if (prosody_pid > 0) {
		kill(prosody_pid, sig);
		if (sig == SIGKILL || sig == SIGTERM) {
			waitpid(prosody_pid, NULL, 0);
			prosody_pid = -1;
		}
	}
}

static void cleanup(void)
{
	char cmd[128];
	if (prosody_pid > 0) {
		kill(prosody_pid, SIGCONT);
		prosody_kill(SIGKILL);
	}
	if (dir[0] && getenv("TEST_XMPP_KEEP")) {
		fprintf(stderr, "kept %s\n", dir);
		dir[0] = 0;
	}
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		dir[0] = 0;
	}
}

static void on_fatal(int sig)
{
	if (prosody_pid > 0)
		kill(prosody_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void write_config(bool tls)
{
	FILE *f = fopen(cfg_path, "w");
	assert_non_null(f);
	fprintf(f,
		"run_as_root = true\n"
		"pidfile = \"%s/prosody.pid\"; data_path = \"%s/data\"\n"
		"interfaces = { \"127.0.0.1\" }; c2s_ports = { %u }\n"
		"s2s_ports = {}; component_ports = {}; http_ports = {}; https_ports = {}\n"
		"modules_enabled = { \"roster\"; \"saslauth\"; %s\"disco\"; \"ping\"; \"posix\" }\n"
		"modules_disabled = { \"s2s\"; \"offline\" }\n"
		"authentication = \"internal_hashed\"; storage = \"internal\"\n"
		"c2s_require_encryption = %s\n"
		"%s"
		"log = { { levels = { min = \"debug\" }, to = \"file\", filename = \"%s\" } }\n"
		"VirtualHost \"localhost\"\n"
		"Component \"conference.localhost\" \"muc\"\n"
		"    restrict_room_creation = false\n"
		"    muc_room_locking = false\n",
		dir, dir, port, tls ? "\"tls\"; " : "", tls ? "true" : "false", tls ? "" : "",
		log_path);
	if (tls)
		fprintf(f, "certificates = \"%s/certs\"\n", dir);
	fclose(f);
}

static bool port_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static void prosody_start(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("prosody", "prosody", "-F", "--config", cfg_path, (char *)NULL);
		_exit(127);
	}
	prosody_pid = pid;
	for (int i = 0; i < 200; i++) {
		if (port_open())
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			prosody_pid = -1;
			fail_msg("prosody exited at start; see %s", log_path);
		}
		usleep(50000);
	}
	fail_msg("prosody did not open port %u", port);
}

static void make_certs(void)
{
	/* A test CA, a localhost certificate it signs, and an unrelated CA. */
	assert_int_equal(sh("cd '%s' && mkdir -p certs data && "
			    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			    "-nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=ipopd-test-ca "
			    ">/dev/null 2>&1 && "
			    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
			    "-keyout certs/localhost.key -out localhost.csr -subj /CN=localhost "
			    ">/dev/null 2>&1 && "
			    "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
			    "openssl x509 -req -in localhost.csr -CA ca.crt -CAkey ca.key "
			    "-CAcreateserial -out certs/localhost.crt -days 2 -extfile ext.cnf "
			    ">/dev/null 2>&1 && "
			    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			    "-nodes -keyout other.key -out other-ca.crt -days 2 "
			    "-subj /CN=ipopd-other-ca >/dev/null 2>&1",
			    dir),
			 0);
}

static void register_user(const char *user)
{
	assert_int_equal(sh("prosodyctl --config '%s' register %s localhost '%s' >/dev/null 2>&1",
			    cfg_path, user, PASSWORD),
			 0);
}

static int group_setup(void **state)
{
	/* clang-format off */
	static const char *const users[] = {"alice", "bob", "carol", "dave", "mallory",
					    "r1",    "r2",  "r3",    "ka",   "rc1",
					    "rc2",   "rc3", "tls1",  "pt1",  "pt2",
					    "r4",    "r5"};
	/* clang-format on */
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ipopd-xmpp-XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		return -1;
	}
	atexit(cleanup);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	signal(SIGTERM, on_fatal);
	signal(SIGINT, on_fatal);
	snprintf(cfg_path, sizeof(cfg_path), "%s/prosody.cfg.lua", dir);
	snprintf(log_path, sizeof(log_path), "%s/prosody.log", dir);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
	snprintf(other_ca_path, sizeof(other_ca_path), "%s/other-ca.crt", dir);
	port = free_port();
	make_certs();
	write_config(true);
	for (unsigned i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		register_user(users[i]);
	prosody_start();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	cleanup();
	return 0;
}

/* ---- harness: clients ---- */

#define MAXM 8

struct client {
	const char *name;
	struct ctl_xmpp *x;
	struct sig_presence self;
	bool ever_online;
	enum ctl_xmpp_state last_state;
	unsigned nmembers;
	struct {
		char jid[160];
		struct sig_presence p;
	} members[MAXM];
	unsigned available_calls, unavailable_calls;
	char last_gone[160];
	unsigned nmsg;
	char msg_from[160];
	struct sig_message msg;
	uint64_t seen_gen;
};

static int member_idx(struct client *c, const char *jid)
{
	for (unsigned i = 0; i < c->nmembers; i++)
		if (!strcmp(c->members[i].jid, jid))
			return (int)i;
	return -1;
}

static void cb_available(void *arg, const char *jid, const struct sig_presence *p)
{
	struct client *c = arg;
	int i = member_idx(c, jid);
	c->available_calls++;
	if (i < 0) {
		assert_true(c->nmembers < MAXM);
		i = (int)c->nmembers++;
		snprintf(c->members[i].jid, sizeof(c->members[i].jid), "%s", jid);
	}
	c->members[i].p = *p;
}

static void cb_unavailable(void *arg, const char *jid)
{
	struct client *c = arg;
	int i = member_idx(c, jid);
	c->unavailable_calls++;
	snprintf(c->last_gone, sizeof(c->last_gone), "%s", jid);
	assert_true(i >= 0); /* only members we were told about leave */
	c->members[i] = c->members[--c->nmembers];
}

static void cb_message(void *arg, const char *jid, const struct sig_message *m)
{
	struct client *c = arg;
	c->nmsg++;
	snprintf(c->msg_from, sizeof(c->msg_from), "%s", jid);
	c->msg = *m;
}

static void cb_state(void *arg, enum ctl_xmpp_state s)
{
	struct client *c = arg;
	c->last_state = s;
	if (s == CTL_XMPP_ONLINE)
		c->ever_online = true;
}

static const struct ctl_xmpp_callbacks callbacks = {
    .member_available = cb_available,
    .member_unavailable = cb_unavailable,
    .message = cb_message,
    .state_changed = cb_state,
};

static struct ctl_xmpp_config base_config(const char *user, enum ctl_xmpp_group group)
{
	static char jids[16][64];
	static unsigned next;
	char *jid = jids[next++ % 16];
	snprintf(jid, 64, "%s@localhost", user);
	return (struct ctl_xmpp_config){
	    .jid = jid,
	    .password = PASSWORD,
	    .host = "127.0.0.1",
	    .port = port,
	    .ca_file = ca_path,
	    .group = group,
	    .room = ROOM,
	    .jitter_seed = 1 + next,
	};
}

static void client_init(struct client *c, const char *name, const struct ctl_xmpp_config *cfg,
			unsigned host)
{
	char ip[20];
	uint8_t key[SIG_KEY_LEN], mac[6] = {0x02, 0x50, 0, 0, 0, (uint8_t)host};
	uint32_t a;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->seen_gen = UINT64_MAX;
	for (unsigned i = 0; i < SIG_KEY_LEN; i++)
		key[i] = (uint8_t)(host * 31 + i + 1);
	snprintf(ip, sizeof(ip), "10.254.0.%u", host);
	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	sig_presence_init(&c->self, a, mac, key, (uint16_t)(5800 + host));
	c->x = ctl_xmpp_create(cfg, &callbacks, c);
	assert_non_null(c->x);
	assert_int_equal(ctl_xmpp_set_presence(c->x, &c->self), 0);
	assert_int_equal(ctl_xmpp_start(c->x, now_ms()), 0);
	assert_int_equal(ctl_xmpp_start(c->x, now_ms()), -EALREADY);
}

static void client_fini(struct client *c)
{
	ctl_xmpp_destroy(c->x);
	c->x = NULL;
}

typedef bool (*cond_fn)(struct client **cs, unsigned n, void *arg);

/* Runs the clients the way the control core will: poll each, register the
 * socket of each new generation with epoll, sleep in epoll_wait until the
 * earliest deadline. Returns whether cond became true within ms.
 *
 * The clients are always polled once more at or after the deadline before
 * giving up: a test process that lost the CPU across the deadline (a loaded
 * machine) still sees what became due meanwhile, instead of failing on the
 * clock alone. Callers that wait for something give generous deadlines
 * (they cost nothing when things are fast); only "nothing happens within X"
 * checks use short fixed windows, and being slow cannot make those fail. */
static bool pump(struct client **cs, unsigned n, unsigned ms, cond_fn cond, void *arg)
{
	uint64_t end = now_ms() + ms;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bool ok = false;

	assert_true(ep >= 0);
	for (unsigned i = 0; i < n; i++)
		cs[i]->seen_gen = UINT64_MAX; /* a fresh epoll set: register again */
	for (;;) {
		int wait = CTL_XMPP_MAX_WAIT_MS;
		uint64_t t = now_ms();
		for (unsigned i = 0; i < n; i++) {
			uint64_t gen;
			int w = ctl_xmpp_poll(cs[i]->x, t);
			assert_true(w >= 0 && w <= CTL_XMPP_MAX_WAIT_MS);
			if (w < wait)
				wait = w;
			int fd = ctl_xmpp_fd(cs[i]->x, &gen);
			if (gen != cs[i]->seen_gen) {
				cs[i]->seen_gen = gen;
				if (fd >= 0) {
					struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) &&
					    errno == EEXIST)
						epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				}
			}
		}
		if (cond && cond(cs, n, arg)) {
			ok = true;
			break;
		}
		if (t >= end) /* t: when this round of polls began */
			break;
		t = now_ms();
		uint64_t left = t < end ? end - t : 0;
		if ((uint64_t)wait > left)
			wait = (int)left;
		struct epoll_event evs[8];
		epoll_wait(ep, evs, 8, wait);
	}
	close(ep);
	return ok;
}

static bool all_see_all(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++) {
		if (!ctl_xmpp_in_group(cs[i]->x) || cs[i]->nmembers != n - 1)
			return false;
	}
	return true;
}

static bool all_online(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++)
		if (!ctl_xmpp_in_group(cs[i]->x))
			return false;
	return true;
}

/* Every client has failed to connect at least *arg times. */
static bool failures_at_least(struct client **cs, unsigned n, void *arg)
{
	struct ctl_xmpp_counters k;
	for (unsigned i = 0; i < n; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		if (k.connect_failures < *(uint64_t *)arg)
			return false;
	}
	return true;
}

/* The first client was told about a member's presence at least *arg times. */
static bool first_available_at_least(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	return cs[0]->available_calls >= *(unsigned *)arg;
}

static void assert_sees(struct client *c, struct client **cs, unsigned n)
{
	for (unsigned j = 0; j < n; j++) {
		if (cs[j] == c)
			continue;
		bool found = false;
		for (unsigned k = 0; k < c->nmembers; k++)
			if (!memcmp(&c->members[k].p, &cs[j]->self, sizeof(cs[j]->self)))
				found = true;
		if (!found)
			fail_msg("%s does not see %s's payload", c->name, cs[j]->name);
	}
}

static const char *member_jid_of(struct client *c, const struct client *other)
{
	for (unsigned k = 0; k < c->nmembers; k++)
		if (!memcmp(&c->members[k].p, &other->self, sizeof(other->self)))
			return c->members[k].jid;
	fail_msg("%s does not know %s", c->name, other->name);
	return NULL;
}

static bool got_message(struct client **cs, unsigned n, void *arg)
{
	struct client *target = arg;
	(void)cs;
	(void)n;
	return target->nmsg > 0;
}

static void make_con(struct sig_message *m, enum sig_msg_type type, const struct client *from,
		     const struct client *to)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	memcpy(m->from_id, from->self.node_id, SIG_NODE_ID_LEN);
	memcpy(m->to_id, to->self.node_id, SIG_NODE_ID_LEN);
	m->seq = 7;
	m->link_kind = SIG_LINK_SUCCESSOR;
	m->ncand = 2;
	m->cand[0].kind = SIG_CAND_HOST;
	net_endpoint_parse("198.18.0.1:5801", &m->cand[0].addr);
	m->cand[0].prio = 10;
	m->cand[1].kind = SIG_CAND_SRFLX;
	net_endpoint_parse("[2001:db8::5]:40000", &m->cand[1].addr);
	m->cand[1].prio = 5;
	m->accept = type == SIG_MSG_CON_RESP;
}

static void assert_same_message(const struct sig_message *a, const struct sig_message *b)
{
	assert_int_equal(a->type, b->type);
	assert_memory_equal(a->from_id, b->from_id, SIG_NODE_ID_LEN);
	assert_memory_equal(a->to_id, b->to_id, SIG_NODE_ID_LEN);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->link_kind, b->link_kind);
	assert_int_equal(a->accept, b->accept);
	assert_int_equal(a->ncand, b->ncand);
	for (unsigned i = 0; i < a->ncand; i++) {
		assert_int_equal(a->cand[i].kind, b->cand[i].kind);
		assert_int_equal(a->cand[i].prio, b->cand[i].prio);
		assert_true(net_endpoint_equal(&a->cand[i].addr, &b->cand[i].addr));
	}
}

/* ---- a raw libstrophe client, to send what ctl_xmpp never would ---- */

struct raw {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	bool up;
};

static void raw_conn_cb(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
			void *userdata)
{
	struct raw *r = userdata;
	(void)conn;
	(void)error;
	(void)se;
	r->up = ev == XMPP_CONN_CONNECT;
}

static void raw_run(struct raw *r, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (now_ms() < end)
		xmpp_run_once(r->ctx, 10);
}

static void raw_open(struct raw *r, const char *user)
{
	char jid[64];
	xmpp_initialize();
	r->up = false;
	r->ctx = xmpp_ctx_new(NULL, NULL);
	r->conn = xmpp_conn_new(r->ctx);
	snprintf(jid, sizeof(jid), "%s@localhost/raw", user);
	xmpp_conn_set_jid(r->conn, jid);
	xmpp_conn_set_pass(r->conn, PASSWORD);
	xmpp_conn_set_cafile(r->conn, ca_path);
	xmpp_conn_set_flags(r->conn, XMPP_CONN_FLAG_MANDATORY_TLS);
	assert_int_equal(xmpp_connect_client(r->conn, "127.0.0.1", port, raw_conn_cb, r), 0);
	for (uint64_t end = now_ms() + 10000; !r->up && now_ms() < end;)
		xmpp_run_once(r->ctx, 10);
	assert_true(r->up);
}

static void raw_send(struct raw *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw_send(struct raw *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xmpp_send_raw_string(r->conn, "%s", buf);
	raw_run(r, 100);
}

static void raw_close(struct raw *r)
{
	xmpp_disconnect(r->conn);
	raw_run(r, 200);
	xmpp_conn_release(r->conn);
	xmpp_ctx_free(r->ctx);
	xmpp_shutdown();
}

static bool rejected_at_least(struct client **cs, unsigned n, void *arg)
{
	uint64_t want = *(uint64_t *)arg;
	struct ctl_xmpp_counters k;
	for (unsigned i = 0; i < n; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		if (k.rejected_payloads + k.member_conflicts < want)
			return false;
	}
	return true;
}

static bool members_eq(struct client **cs, unsigned n, void *arg)
{
	for (unsigned i = 0; i < n; i++)
		if (cs[i]->nmembers != *(unsigned *)arg)
			return false;
	return true;
}

static bool first_members_eq(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	return cs[0]->nmembers == *(unsigned *)arg;
}

/* ---- tests ---- */

static void test_muc(void **state)
{
	struct client a, b, c;
	struct client *cs[] = {&a, &b, &c};
	struct ctl_xmpp_config ca = base_config("alice", CTL_XMPP_GROUP_MUC),
			       cb = base_config("bob", CTL_XMPP_GROUP_MUC),
			       cc = base_config("carol", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	struct sig_message m;
	char hex[SIG_NODE_ID_HEXLEN + 1], jid[160];
	(void)state;

	client_init(&a, "alice", &ca, 1);
	client_init(&b, "bob", &cb, 2);
	client_init(&c, "carol", &cc, 3);
	assert_true(pump(cs, 3, 15000, all_see_all, NULL));
	for (unsigned i = 0; i < 3; i++) {
		assert_sees(cs[i], cs, 3);
		assert_int_equal(ctl_xmpp_state(cs[i]->x, NULL), CTL_XMPP_ONLINE);
		assert_true(ctl_xmpp_secured(cs[i]->x));
		/* libstrophe picks SCRAM when offered; never PLAIN */
		assert_true(!strncmp(ctl_xmpp_sasl_mechanism(cs[i]->x), "SCRAM-SHA-", 10));
		assert_non_null(strstr(ctl_xmpp_bound_jid(cs[i]->x), "@localhost/ipopd"));
		uint64_t gen;
		assert_true(ctl_xmpp_fd(cs[i]->x, &gen) >= 0);
	}
	/* Member JIDs are occupant JIDs whose nick is the node id. */
	sig_node_id_hex(b.self.node_id, hex);
	snprintf(jid, sizeof(jid), ROOM "/%s", hex);
	assert_string_equal(member_jid_of(&a, &b), jid);
	assert_non_null(sig_members_find(ctl_xmpp_members(a.x), jid));

	/* con_req a -> b, con_resp b -> a, ping c -> a */
	make_con(&m, SIG_MSG_CON_REQ, &a, &b);
	assert_int_equal(ctl_xmpp_send(a.x, member_jid_of(&a, &b), &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &b));
	assert_same_message(&m, &b.msg);
	assert_string_equal(b.msg_from, member_jid_of(&b, &a));
	make_con(&m, SIG_MSG_CON_RESP, &b, &a);
	assert_int_equal(ctl_xmpp_send(b.x, b.msg_from, &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &a));
	assert_same_message(&m, &a.msg);
	memset(&m, 0, sizeof(m));
	m.type = SIG_MSG_PING;
	memcpy(m.from_id, c.self.node_id, SIG_NODE_ID_LEN);
	memcpy(m.to_id, a.self.node_id, SIG_NODE_ID_LEN);
	m.seq = 99;
	a.nmsg = 0;
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &a));
	assert_int_equal(a.msg.type, SIG_MSG_PING);
	assert_int_equal(a.msg.seq, 99);

	/* Send-side refusals. */
	assert_int_equal(ctl_xmpp_send(c.x, ROOM "/nobody", &m), -ENOENT);
	m.to_id[0] ^= 1;
	m.from_id[0] ^= 1; /* not our node id */
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), -EINVAL);
	m.ncand = SIG_MAX_CANDIDATES + 1;
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), -EINVAL);

	/* A raw client sends what ctl_xmpp never would; members refuse it. */
	struct raw r;
	struct sig_presence mp;
	char json[SIG_MAX_PAYLOAD + 1], mhex[SIG_NODE_ID_HEXLEN + 1], ahex[SIG_NODE_ID_HEXLEN + 1];
	uint32_t ip;
	uint8_t mkey[SIG_KEY_LEN], mmac[6] = {0x02, 0x66, 0, 0, 0, 1};
	uint64_t want = 1;
	sig_node_id_hex(a.self.node_id, ahex);

	raw_open(&r, "mallory");
	/* 1. not JSON */
	raw_send(&r, "<presence to='" ROOM "/zz'><x xmlns='http://jabber.org/protocol/muc'/>"
		     "<ipop xmlns='" SIG_NS "'>{not json</ipop></presence>");
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	/* 2. valid payload, nick is not its node id */
	inet_pton(AF_INET, "10.254.0.99", &ip);
	memset(mkey, 0x77, sizeof(mkey));
	sig_presence_init(&mp, ip, mmac, mkey, 5899);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r, "<presence to='" ROOM "/zz'><ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 json);
	want = 2;
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	raw_send(&r, "<presence to='" ROOM "/zz' type='unavailable'/>");
	/* 3. right nick, but alice's public key: a conflict for everyone */
	memcpy(mp.public_key, a.self.public_key, SIG_KEY_LEN);
	sig_node_id_hex(mp.node_id, mhex);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r,
		 "<presence to='" ROOM "/%s'><x xmlns='http://jabber.org/protocol/muc'/>"
		 "<ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 mhex, json);
	want = 3;
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	for (unsigned i = 0; i < 3; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		assert_int_equal(k.member_conflicts, 1);
		assert_int_equal(cs[i]->nmembers, 2);
	}
	/* 4. a non-member's private message */
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":1}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	want = 4;
	struct client *only_a[] = {&a};
	assert_true(pump(only_a, 1, 5000, rejected_at_least, &want));
	/* 5. becomes a valid member (own key), then spoofs from_id, sends junk,
	 *    and finally a valid ping */
	memcpy(mp.public_key, mkey, SIG_KEY_LEN);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r, "<presence to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 mhex, json);
	unsigned three = 3;
	assert_true(pump(cs, 3, 5000, members_eq, &three));
	a.nmsg = 0;
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":1}"
		 "</ipop></message>",
		 ahex, hex, ahex); /* bob's id */
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":-1}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	ctl_xmpp_get_counters(a.x, &k);
	want = k.rejected_payloads + k.member_conflicts + 2;
	assert_true(pump(only_a, 1, 5000, rejected_at_least, &want));
	assert_int_equal(a.nmsg, 0);
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":5}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	assert_true(pump(only_a, 1, 5000, got_message, &a));
	assert_int_equal(a.msg.seq, 5);
	raw_close(&r);
	/* mallory's stream closed: the room says it left */
	for (unsigned i = 0; i < 3; i++)
		cs[i]->unavailable_calls = 0;
	assert_true(pump(cs, 3, 5000, all_see_all, NULL));

	/* carol leaves: the others are told */
	client_fini(&c);
	assert_true(pump(cs, 2, 5000, all_see_all, NULL));
	sig_node_id_hex(c.self.node_id, hex);
	snprintf(jid, sizeof(jid), ROOM "/%s", hex);
	assert_string_equal(a.last_gone, jid);
	assert_string_equal(b.last_gone, jid);

	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.connects, 1);
	assert_int_equal(k.disconnects, 0);
	assert_true(k.stanzas_in > 5 && k.stanzas_out >= 2);
	assert_true(k.messages_accepted >= 2);
	client_fini(&a);
	client_fini(&b);
}

static void test_roster(void **state)
{
	struct client a, b, c;
	struct client *cs[] = {&a, &b, &c}, *ab[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("r1", CTL_XMPP_GROUP_ROSTER),
			       cb = base_config("r2", CTL_XMPP_GROUP_ROSTER),
			       cc = base_config("r3", CTL_XMPP_GROUP_ROSTER);
	struct ctl_xmpp_counters k;
	struct sig_message m;
	(void)state;

	client_init(&a, "r1", &ca, 11);
	client_init(&b, "r2", &cb, 12);
	client_init(&c, "r3", &cc, 13);
	assert_int_equal(ctl_xmpp_roster_add(a.x, "r2@localhost"), -ENOTCONN);
	/* Online, roster loaded, nobody subscribed yet: nobody seen, then or
	 * a while later. (A fixed 3 s window for the three logins would fail
	 * on a machine slow enough to need longer.) */
	assert_true(pump(cs, 3, 15000, all_online, NULL));
	assert_false(pump(cs, 3, 1500, all_see_all, NULL));
	for (unsigned i = 0; i < 3; i++) {
		assert_true(ctl_xmpp_in_group(cs[i]->x));
		assert_int_equal(cs[i]->nmembers, 0);
	}
	/* r1 and r2 put each other in the group; r3 asks r1 and is ignored. */
	assert_int_equal(ctl_xmpp_roster_add(a.x, "r2@localhost"), 0);
	assert_int_equal(ctl_xmpp_roster_add(b.x, "r1@localhost"), 0);
	assert_int_equal(ctl_xmpp_roster_add(c.x, "r1@localhost"), 0);
	assert_int_equal(ctl_xmpp_roster_add(c.x, "r1@localhost/res"), -EINVAL);
	assert_true(pump(ab, 2, 15000, all_see_all, NULL));
	assert_sees(&a, ab, 2);
	assert_sees(&b, ab, 2);
	/* The member JID is the full JID of the contact. */
	assert_string_equal(member_jid_of(&a, &b), "r2@localhost/ipopd");
	/* A while later, r3 still sees nobody and nobody sees r3. */
	assert_false(pump(&cs[2], 1, 2000, NULL, NULL));
	pump(cs, 3, 1000, NULL, NULL);
	assert_int_equal(c.nmembers, 0);
	assert_int_equal(a.nmembers, 1);
	assert_int_equal(b.nmembers, 1);

	make_con(&m, SIG_MSG_CON_REQ, &a, &b);
	assert_int_equal(ctl_xmpp_send(a.x, "r2@localhost/ipopd", &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &b));
	assert_same_message(&m, &b.msg);
	assert_string_equal(b.msg_from, "r1@localhost/ipopd");
	make_con(&m, SIG_MSG_CON_REQ, &a, &c);
	assert_int_equal(ctl_xmpp_send(a.x, "r3@localhost/ipopd", &m), -ENOENT);

	/* A presence change is reported (once: a second report would show up
	 * by the end of the next window); an identical one is not. */
	unsigned calls = a.available_calls, want = calls + 1;
	b.self.port = 6000;
	assert_int_equal(ctl_xmpp_set_presence(b.x, &b.self), 0);
	assert_true(pump(cs, 3, 10000, first_available_at_least, &want));
	assert_int_equal(a.available_calls, calls + 1);
	assert_sees(&a, ab, 2);
	assert_int_equal(ctl_xmpp_set_presence(b.x, &b.self), 0);
	pump(cs, 3, 1500, NULL, NULL);
	assert_int_equal(a.available_calls, calls + 1);
	ctl_xmpp_get_counters(a.x, &k);
	assert_true(k.presences_accepted >= 3);

	/* r2 stops: r1 is told. */
	ctl_xmpp_stop(b.x);
	assert_int_equal(ctl_xmpp_state(b.x, NULL), CTL_XMPP_DISCONNECTED);
	unsigned zero_members = 0;
	assert_true(pump(cs, 3, 5000, first_members_eq, &zero_members));
	assert_int_equal(b.nmembers, 1); /* stopping keeps what we knew */
	assert_string_equal(a.last_gone, "r2@localhost/ipopd");
	client_fini(&a);
	client_fini(&b);
	client_fini(&c);
}

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

/* A subscription request that arrives before the account's owner puts the
 * JID in the roster is approved once they do (the roster push), instead of
 * waiting for our next login, when the server would deliver it again. */
static void test_roster_late_add(void **state)
{
	struct client a, b;
	struct client *ab[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("r4", CTL_XMPP_GROUP_ROSTER),
			       cb = base_config("r5", CTL_XMPP_GROUP_ROSTER);
	struct raw admin;
	(void)state;

	client_init(&a, "r4", &ca, 21);
	client_init(&b, "r5", &cb, 22);
	assert_true(pump(ab, 2, 10000, all_online, NULL));
	/* r4 asks for r5's presence (and pre-approves r5): r5 has nobody in
	 * its roster, so the request is not approved. */
	assert_int_equal(ctl_xmpp_roster_add(a.x, "r5@localhost"), 0);
	assert_false(pump(ab, 2, 1500, all_see_all, NULL));
	assert_int_equal(a.nmembers, 0);
	assert_int_equal(b.nmembers, 0);
	/* r5's owner adds r4 from a client of their own: a subscription
	 * request only, what "add contact" sends. r4 had pre-approved it, so
	 * r5 sees r4; r5 approves r4's earlier request, so r4 sees r5. */
	raw_open(&admin, "r5");
	raw_send(&admin, "<presence to='r4@localhost' type='subscribe'/>");
	assert_true(pump(ab, 2, 10000, all_see_all, NULL));
	raw_close(&admin);
	assert_sees(&a, ab, 2);
	assert_sees(&b, ab, 2);
	assert_string_equal(member_jid_of(&a, &b), "r5@localhost/ipopd");
	assert_string_equal(member_jid_of(&b, &a), "r4@localhost/ipopd");
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
	assert_int_equal(sh("test $(grep -c 'Authenticated as' '%s') -ge 15", log_path), 0);
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
	assert_int_equal(ctl_xmpp_roster_add(x, "a@b"), -EINVAL); /* MUC mode */
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

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_muc),
	    cmocka_unit_test(test_roster),
	    cmocka_unit_test(test_roster_late_add),
	    cmocka_unit_test(test_tls_wrong_ca),
	    cmocka_unit_test(test_resolve_name),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_plaintext),
	    cmocka_unit_test(test_prosody_log_scram),
	};
	/* clang-format on */
	if (system("command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1 "
		   "&& command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "prosody (or openssl) not installed: skipping\n");
		return 77;
	}
	log_set_level(getenv("TEST_XMPP_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
