/* The STUN/TURN codec (control/nat/stun.c) against a real coturn started by
 * the test: Binding, Allocate with the 401 challenge, CreatePermission,
 * Send/Data indications, ChannelBind, ChannelData both ways through the
 * relay, a 438 Stale Nonce retry, and the release with Refresh lifetime 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/nat/stun.h"
#include "tests/unit/stun_fixture.h"

/* ---- a real coturn ---- */

static pid_t coturn_pid;
static char coturn_dir[64];

static void coturn_stop(void)
{
	if (coturn_pid > 0) {
		kill(coturn_pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(coturn_pid, NULL, WNOHANG) == coturn_pid)
				goto reaped;
			usleep(20000);
		}
		kill(coturn_pid, SIGKILL);
		waitpid(coturn_pid, NULL, 0);
	reaped:
		coturn_pid = 0;
	}
	if (coturn_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", coturn_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", coturn_dir);
		coturn_dir[0] = 0;
	}
}

static void on_signal(int sig)
{
	if (coturn_pid > 0)
		kill(coturn_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(*bound);
	assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &sl), 0);
	return fd;
}

static void sin_to_ep(const struct sockaddr_in *sa, struct net_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	memcpy(ep->addr, net_v4mapped, sizeof(net_v4mapped));
	memcpy(ep->addr + 12, &sa->sin_addr, 4);
	ep->port = ntohs(sa->sin_port);
	ep->family = AF_INET;
}

/* A port free for UDP and TCP on 127.0.0.1 (coturn listens on both). */
static uint16_t free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa;
		int u = udp_socket(&sa);
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok = t >= 0 && bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(u);
		if (t >= 0)
			close(t);
		if (ok && ntohs(sa.sin_port) < 49152) /* stay off coturn's relay range */
			return ntohs(sa.sin_port);
	}
	return 0;
}

#define STALE_NONCE_S 2

static void coturn_start(uint16_t port)
{
	strcpy(coturn_dir, "/tmp/ipopd-stun-XXXXXX");
	assert_non_null(mkdtemp(coturn_dir));
	char cfg[128], log[128];
	snprintf(cfg, sizeof(cfg), "%s/turnserver.conf", coturn_dir);
	snprintf(log, sizeof(log), "%s/turnserver.log", coturn_dir);
	FILE *f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f,
		"listening-ip=127.0.0.1\nlistening-port=%u\nrelay-ip=127.0.0.1\n"
		"realm=test.invalid\nlt-cred-mech\nuser=ipop:s3cret\nfingerprint\n"
		"no-tls\nno-dtls\nno-cli\nno-multicast-peers\nallow-loopback-peers\n"
		"stale-nonce=%d\npidfile=%s/turnserver.pid\ndb=%s/turndb\nlog-file=stdout\n"
		"simple-log\n",
		port, STALE_NONCE_S, coturn_dir, coturn_dir);
	fclose(f);

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("turnserver", "turnserver", "-c", cfg, (char *)NULL);
		_exit(127);
	}
	coturn_pid = pid;
}

struct client {
	int fd;
	struct sockaddr_in srv;
	struct turn_auth auth;
	uint8_t rx[2048];
	size_t rx_len;
	int saw_438;
};

/* Sends the request and waits for its response on the real RFC 5389
 * schedule; other datagrams (ChannelData, indications) are skipped. */
static int transact(struct client *c, struct stun_txn *t, const uint8_t *req, size_t len,
		    struct stun_msg *m, uint32_t rto_ms)
{
	assert_int_equal(sendto(c->fd, req, len, 0, (struct sockaddr *)&c->srv, sizeof(c->srv)),
			 (ssize_t)len);
	stun_txn_start(t, now_ms(), rto_ms);
	for (;;) {
		uint64_t now = now_ms(), dl = stun_txn_deadline(t);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int wait = dl > now ? (int)(dl - now) : 0;
		if (poll(&p, 1, wait) > 0) {
			ssize_t n = recv(c->fd, c->rx, sizeof(c->rx), 0);
			assert_true(n > 0);
			c->rx_len = (size_t)n;
			if (stun_parse(c->rx, c->rx_len, m) == 0 && stun_txn_match(t, m))
				return 0;
			continue;
		}
		int rc = stun_txn_poll(t, now_ms());
		if (rc < 0)
			return rc;
		if (rc == 1)
			assert_int_equal(
			    sendto(c->fd, req, len, 0, (struct sockaddr *)&c->srv, sizeof(c->srv)),
			    (ssize_t)len);
	}
}

enum turn_op { OP_ALLOCATE, OP_REFRESH, OP_PERMISSION, OP_CHANNEL_BIND };

/* One TURN operation, retried on 401 challenges and 438 Stale Nonce. */
static int turn_do(struct client *c, enum turn_op op, uint32_t arg, const struct net_endpoint *peer,
		   struct stun_msg *m)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uint8_t req[STUN_MSG_MAX];
		struct stun_txn t;
		int n;
		switch (op) {
		case OP_ALLOCATE:
			n = turn_allocate_request(&t, &c->auth, arg, req, sizeof(req));
			break;
		case OP_REFRESH:
			n = turn_refresh_request(&t, &c->auth, arg, req, sizeof(req));
			break;
		case OP_PERMISSION:
			n = turn_create_permission_request(&t, &c->auth, peer, 1, req, sizeof(req));
			break;
		default:
			n = turn_channel_bind_request(&t, &c->auth, (uint16_t)arg, peer, req,
						      sizeof(req));
			break;
		}
		assert_true(n > 0);
		assert_int_equal(transact(c, &t, req, (size_t)n, m, 0), 0);
		int rc = turn_response(&t, &c->auth, m);
		if (rc != 1)
			return rc;
		if (m->error_code == STUN_ERR_STALE_NONCE)
			c->saw_438++;
	}
	return -ELOOP;
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -1;
	socklen_t sl = sizeof(*from);
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &sl);
}

static void test_coturn(void **state)
{
	(void)state;
	if (system("command -v turnserver >/dev/null 2>&1") != 0)
		skip();

	uint16_t port = free_port();
	assert_true(port != 0);
	coturn_start(port);

	struct client c = {0};
	struct sockaddr_in me, peer_sa, from;
	c.fd = udp_socket(&me);
	c.srv.sin_family = AF_INET;
	c.srv.sin_port = htons(port);
	c.srv.sin_addr.s_addr = htonl(0x7f000001);
	struct net_endpoint me_ep, peer_ep, got;
	sin_to_ep(&me, &me_ep);
	assert_int_equal(turn_auth_init(&c.auth, "ipop", "s3cret"), 0);

	/* Binding: wait for the server to come up (fast retransmissions), then
	 * XOR-MAPPED-ADDRESS is our own socket's address on loopback */
	uint8_t req[STUN_MSG_MAX];
	struct stun_msg m;
	struct stun_txn t;
	int rc = -ETIMEDOUT;
	for (int i = 0; i < 10 && rc != 0; i++) {
		int n = stun_binding_request(&t, true, req, sizeof(req));
		assert_true(n > 0);
		rc = transact(&c, &t, req, (size_t)n, &m, 20);
		assert_true(waitpid(coturn_pid, NULL, WNOHANG) == 0); /* still running */
	}
	assert_int_equal(rc, 0);
	assert_true(m.attrs & STUN_HAS_FINGERPRINT);
	assert_int_equal(stun_binding_response(&t, &m, &got), 0);
	assert_true(net_endpoint_equal(&got, &me_ep));

	/* Allocate: 401 with realm and nonce, then authenticated */
	int n = turn_allocate_request(&t, &c.auth, 0, req, sizeof(req));
	assert_int_equal(transact(&c, &t, req, (size_t)n, &m, 0), 0);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(m.error_code, 401);
	assert_true(bytes_eq(m.realm, "test.invalid"));
	assert_int_equal(turn_response(&t, &c.auth, &m), 1);
	assert_true(c.auth.challenged);
	assert_int_equal(turn_do(&c, OP_ALLOCATE, 600, NULL, &m), 0);
	struct turn_allocation al;
	assert_int_equal(turn_allocate_result(&m, &al), 0);
	assert_true(al.has_mapped);
	assert_true(net_endpoint_equal(&al.mapped, &me_ep));
	assert_int_equal(al.relayed.family, AF_INET);
	assert_memory_equal(al.relayed.addr + 12, "\x7f\x00\x00\x01", 4);
	assert_true(al.lifetime_s > 0 && al.lifetime_s <= 600);
	struct sockaddr_in relay_sa = {.sin_family = AF_INET,
				       .sin_port = htons(al.relayed.port),
				       .sin_addr.s_addr = htonl(0x7f000001)};

	/* wrong password: 401 to an authenticated request */
	struct client bad = c;
	bad.fd = udp_socket(&from);
	strcpy(bad.auth.password, "wrong");
	assert_int_equal(stun_long_term_key("ipop", bad.auth.realm, "wrong", bad.auth.key), 0);
	assert_int_equal(turn_do(&bad, OP_ALLOCATE, 600, NULL, &m), -EACCES);
	close(bad.fd);

	/* the peer: permission, then Send indication out / Data indication in */
	int pfd = udp_socket(&peer_sa);
	sin_to_ep(&peer_sa, &peer_ep);
	assert_int_equal(turn_do(&c, OP_PERMISSION, 0, &peer_ep, &m), 0);
	n = turn_send_indication(&peer_ep, "via-send", 8, req, sizeof(req));
	assert_true(n > 0);
	assert_int_equal(sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)),
			 n);
	uint8_t pbuf[256];
	ssize_t pn = recv_wait(pfd, pbuf, sizeof(pbuf), &from, 10000);
	assert_int_equal(pn, 8);
	assert_memory_equal(pbuf, "via-send", 8);
	assert_int_equal(from.sin_port, relay_sa.sin_port);
	assert_int_equal(
	    sendto(pfd, "via-data", 8, 0, (struct sockaddr *)&relay_sa, sizeof(relay_sa)), 8);
	pn = recv_wait(c.fd, c.rx, sizeof(c.rx), &from, 10000);
	assert_true(pn > 0);
	assert_int_equal(stun_parse(c.rx, (size_t)pn, &m), 0);
	const uint8_t *d;
	size_t dl;
	assert_int_equal(turn_data_indication(&m, &got, &d, &dl), 0);
	assert_true(net_endpoint_equal(&got, &peer_ep));
	assert_int_equal(dl, 8);
	assert_memory_equal(d, "via-data", 8);

	/* ChannelBind, then ChannelData both ways (unpadded and padded out) */
	assert_int_equal(turn_do(&c, OP_CHANNEL_BIND, 0x4000, &peer_ep, &m), 0);
	for (int pad = 0; pad < 2; pad++) {
		n = turn_channel_data_encode(0x4000, "hello", 5, pad, req, sizeof(req));
		assert_int_equal(
		    sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)), n);
		pn = recv_wait(pfd, pbuf, sizeof(pbuf), &from, 10000);
		assert_int_equal(pn, 5);
		assert_memory_equal(pbuf, "hello", 5);
		assert_int_equal(from.sin_port, relay_sa.sin_port);
	}
	assert_int_equal(sendto(pfd, "world", 5, 0, (struct sockaddr *)&relay_sa, sizeof(relay_sa)),
			 5);
	pn = recv_wait(c.fd, c.rx, sizeof(c.rx), &from, 10000);
	assert_true(pn > 0);
	assert_true(turn_is_channel_data(c.rx, (size_t)pn));
	uint16_t ch;
	assert_int_equal(turn_channel_data_decode(c.rx, (size_t)pn, &ch, &d, &dl), 0);
	assert_int_equal(ch, 0x4000);
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "world", 5);

	/* the nonce goes stale: 438, retried with the new nonce */
	sleep(STALE_NONCE_S + 1);
	c.saw_438 = 0;
	assert_int_equal(turn_do(&c, OP_REFRESH, 600, NULL, &m), 0);
	assert_true(c.saw_438 >= 1);
	assert_true(m.attrs & STUN_HAS_LIFETIME);

	/* Refresh with lifetime 0 releases: the relay stops, a second release
	 * finds no allocation (437). coturn drops the allocation on its next
	 * timer tick (about a second later), not at once, and a release before
	 * that succeeds again and puts the drop off: probe until the relay goes
	 * quiet, then release again. A ChannelData not relayed within 250 ms
	 * may also be a slow coturn (a loaded machine): when the release then
	 * still succeeds, probe again. */
	assert_int_equal(turn_do(&c, OP_REFRESH, 0, NULL, &m), 0);
	assert_int_equal(m.lifetime, 0);
	n = turn_channel_data_encode(0x4000, "gone", 4, false, req, sizeof(req));
	rc = 0;
	for (uint64_t end = now_ms() + 20000; rc == 0 && now_ms() < end;) {
		assert_int_equal(
		    sendto(c.fd, req, (size_t)n, 0, (struct sockaddr *)&c.srv, sizeof(c.srv)), n);
		if (recv_wait(pfd, pbuf, sizeof(pbuf), &from, 250) >= 0) {
			usleep(250000); /* still relaying */
			continue;
		}
		rc = turn_do(&c, OP_REFRESH, 0, NULL, &m);
	}
	assert_int_equal(rc, -EPROTO); /* with a valid MESSAGE-INTEGRITY */
	assert_int_equal(m.error_code, STUN_ERR_ALLOCATION_MISMATCH);

	close(pfd);
	close(c.fd);
}

static int coturn_teardown(void **state)
{
	(void)state;
	coturn_stop();
	return 0;
}

int main(void)
{
	atexit(coturn_stop);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_coturn, coturn_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
