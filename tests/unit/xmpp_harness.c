/* Harness of the XMPP session tests: see xmpp_harness.h. */
#include "xmpp_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util/log.h"
#include <time.h>
#include <unistd.h>

char dir[64];
char cfg_path[128], log_path[128], ca_path[128], other_ca_path[128];
uint16_t port;
pid_t prosody_pid = -1;

/* ---- harness: prosody ---- */

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void prosody_kill(int sig)
{
	if (prosody_pid > 0) {
		kill(prosody_pid, sig);
		if (sig == SIGKILL || sig == SIGTERM) {
			waitpid(prosody_pid, NULL, 0);
			prosody_pid = -1;
		}
	}
}

void cleanup(void)
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

int sh(const char *fmt, ...)
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

void write_config(bool tls)
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

bool port_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

void prosody_start(void)
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

void register_user(const char *user)
{
	assert_int_equal(sh("prosodyctl --config '%s' register %s localhost '%s' >/dev/null 2>&1",
			    cfg_path, user, PASSWORD),
			 0);
}

int harness_setup(const char *const *users, unsigned nusers)
{
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
	for (unsigned i = 0; i < nusers; i++)
		register_user(users[i]);
	prosody_start();
	return 0;
}

int group_teardown(void **state)
{
	(void)state;
	cleanup();
	return 0;
}

/* ---- harness: clients ---- */

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

static void cb_revoked(void *arg, const char *jid)
{
	struct client *c = arg;
	int i = member_idx(c, jid);
	c->revoked_calls++;
	snprintf(c->last_revoked, sizeof(c->last_revoked), "%s", jid);
	if (i >= 0) /* a revoked JID may have left already */
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

const struct ctl_xmpp_callbacks callbacks = {
    .member_available = cb_available,
    .member_unavailable = cb_unavailable,
    .member_revoked = cb_revoked,
    .message = cb_message,
    .state_changed = cb_state,
};

struct ctl_xmpp_config base_config(const char *user, enum ctl_xmpp_group group)
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

void client_init(struct client *c, const char *name, const struct ctl_xmpp_config *cfg,
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

void client_fini(struct client *c)
{
	ctl_xmpp_destroy(c->x);
	c->x = NULL;
}

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
bool pump(struct client **cs, unsigned n, unsigned ms, cond_fn cond, void *arg)
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

bool all_see_all(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++) {
		if (!ctl_xmpp_in_group(cs[i]->x) || cs[i]->nmembers != n - 1)
			return false;
	}
	return true;
}

bool all_online(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++)
		if (!ctl_xmpp_in_group(cs[i]->x))
			return false;
	return true;
}

/* Every client has failed to connect at least *arg times. */
bool failures_at_least(struct client **cs, unsigned n, void *arg)
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
bool first_available_at_least(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	return cs[0]->available_calls >= *(unsigned *)arg;
}

void assert_sees(struct client *c, struct client **cs, unsigned n)
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

const char *member_jid_of(struct client *c, const struct client *other)
{
	for (unsigned k = 0; k < c->nmembers; k++)
		if (!memcmp(&c->members[k].p, &other->self, sizeof(other->self)))
			return c->members[k].jid;
	fail_msg("%s does not know %s", c->name, other->name);
	return NULL;
}

bool got_message(struct client **cs, unsigned n, void *arg)
{
	struct client *target = arg;
	(void)cs;
	(void)n;
	return target->nmsg > 0;
}

void make_con(struct sig_message *m, enum sig_msg_type type, const struct client *from,
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

void assert_same_message(const struct sig_message *a, const struct sig_message *b)
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

static void raw_conn_cb(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
			void *userdata)
{
	struct raw *r = userdata;
	(void)conn;
	(void)error;
	(void)se;
	r->up = ev == XMPP_CONN_CONNECT;
}

void raw_run(struct raw *r, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (now_ms() < end)
		xmpp_run_once(r->ctx, 10);
}

void raw_open(struct raw *r, const char *user)
{
	raw_open_as(r, user, "raw");
}

void raw_open_as(struct raw *r, const char *user, const char *resource)
{
	char jid[128];
	xmpp_initialize();
	r->up = false;
	r->ctx = xmpp_ctx_new(NULL, NULL);
	r->conn = xmpp_conn_new(r->ctx);
	snprintf(jid, sizeof(jid), "%s@localhost/%s", user, resource);
	xmpp_conn_set_jid(r->conn, jid);
	xmpp_conn_set_pass(r->conn, PASSWORD);
	xmpp_conn_set_cafile(r->conn, ca_path);
	xmpp_conn_set_flags(r->conn, XMPP_CONN_FLAG_MANDATORY_TLS);
	assert_int_equal(xmpp_connect_client(r->conn, "127.0.0.1", port, raw_conn_cb, r), 0);
	for (uint64_t end = now_ms() + 10000; !r->up && now_ms() < end;)
		xmpp_run_once(r->ctx, 10);
	assert_true(r->up);
}

void raw_send(struct raw *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xmpp_send_raw_string(r->conn, "%s", buf);
	raw_run(r, 100);
}

void raw_close(struct raw *r)
{
	xmpp_disconnect(r->conn);
	raw_run(r, 200);
	xmpp_conn_release(r->conn);
	xmpp_ctx_free(r->ctx);
	xmpp_shutdown();
}

bool rejected_at_least(struct client **cs, unsigned n, void *arg)
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

bool members_eq(struct client **cs, unsigned n, void *arg)
{
	for (unsigned i = 0; i < n; i++)
		if (cs[i]->nmembers != *(unsigned *)arg)
			return false;
	return true;
}

bool first_members_eq(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	return cs[0]->nmembers == *(unsigned *)arg;
}

/* What an admin's "add contact" does from a client of the account `user`:
 * request `contact`'s presence and pre-approve it seeing ours. */
void roster_subscribe(const char *user, const char *contact)
{
	struct raw r;
	raw_open_as(&r, user, "admin");
	raw_send(&r, "<presence to='%s@localhost' type='subscribe'/>", contact);
	raw_send(&r, "<presence to='%s@localhost' type='subscribed'/>", contact);
	raw_close(&r);
}

int harness_main(const char *group, const char *const *users, unsigned nusers,
		 const struct CMUnitTest *tests, size_t ntests)
{
	if (system("command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1 "
		   "&& command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "prosody (or openssl) not installed: skipping\n");
		return 77;
	}
	log_set_level(getenv("TEST_XMPP_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	if (harness_setup(users, nusers))
		return 1;
	return _cmocka_run_group_tests(group, tests, ntests, NULL, group_teardown);
}
