/* Unit tests for control/mgmt/mgmt.c: the JSON answers (well-formed and malformed
 * requests) and the socket handling (stale and live socket files, mode,
 * too-long requests, idle clients, slots) driven through a real epoll loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/core/ctl.h"
#include "control/mgmt/mgmt.h"

static struct ctl c; /* zeroed: an instance with no workers and no peers */

static json_t *respond(const char *req)
{
	char *s = ctl_mgmt_respond(&c, req, strlen(req));
	assert_non_null(s);
	json_error_t e;
	json_t *o = json_loads(s, 0, &e);
	free(s);
	assert_non_null(o);
	assert_true(json_is_object(o));
	return o;
}

static void assert_error(const char *req)
{
	json_t *o = respond(req);
	assert_true(json_is_string(json_object_get(o, "error")));
	json_decref(o);
}

static void test_answers(void **state)
{
	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.backend.host_name, sizeof(c.backend.host_name), "ipop7");
	c.cfg.port = 5800;
	c.cfg.mode = IPOP_MODE_SWITCH;

	json_t *o = respond("{\"cmd\":\"status\"}");
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "switch");
	assert_string_equal(json_string_value(json_object_get(o, "tap")), "ipop7");
	assert_int_equal(json_integer_value(json_object_get(o, "port")), 5800);
	assert_true(json_is_null(json_object_get(o, "ip4")));
	const char *keys[] = {"version", "backend",  "workers",	      "mtu",   "ip4_mask", "ip6",
			      "node_id", "uptime_s", "table_version", "links", "config"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(o, keys[i]));
	json_decref(o);

	o = respond("{\"cmd\":\"peers\"}");
	assert_true(json_is_array(json_object_get(o, "peers")));
	json_decref(o);

	o = respond("  {\"cmd\" : \"stats\"}  ");
	json_t *total = json_object_get(o, "total");
	assert_non_null(total);
	json_t *drops = json_object_get(total, "drops");
	assert_int_equal(json_object_size(drops), DP_DROP__MAX - 1);
	assert_null(json_object_get(drops, dp_drop_names[DP_DROP_NONE]));
	assert_non_null(json_object_get(drops, dp_drop_names[DP_DROP_AUTH]));
	assert_int_equal(json_array_size(json_object_get(o, "workers")), 0);
	json_decref(o);

	assert_error("");
	assert_error("not json");
	assert_error("{\"cmd\":\"status\"");
	assert_error("[\"status\"]");
	assert_error("{}");
	assert_error("{\"cmd\":5}");
	assert_error("{\"cmd\":null}");
	assert_error("{\"cmd\":\"reboot\"}");
	assert_error("{\"cmd\":\"status\",\"cmd\":\"peers\"}");
	assert_error("\"status\"");
	char junk[300];
	memset(junk, 0xff, sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = 0;
	assert_error(junk);
	/* Found by fuzz_mgmt: an error text that quoted invalid UTF-8 from
	 * the request, or cut a UTF-8 sequence, made json_pack fail and the
	 * client got no answer at all. */
	assert_error("{\"cmn\\\xde\x93\x9b\x82\"t\":ass\"}");
	assert_error("{\"cmd\":\""
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "\xc3\xa9\xc3\xa9\"}");
}

/* Runs the loop until nothing happens for idle_ms. */
static void pump(struct ctl_mgmt *m, int epfd, int idle_ms)
{
	struct epoll_event evs[8];
	int n;
	while ((n = epoll_wait(epfd, evs, 8, idle_ms)) > 0)
		for (int i = 0; i < n; i++)
			ctl_mgmt_event(m, &c, evs[i].data.u64, evs[i].events);
}

static int client(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static size_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < len - 1 && (n = recv(fd, buf + got, len - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	return got;
}

static void test_socket(void **state)
{
	(void)state;
	memset(&c, 0, sizeof(c));
	char dir[] = "/tmp/ipopd-mgmt-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/sub/dir/x.sock", dir);

	/* A stale file where the socket goes is replaced. */
	char parent[256];
	snprintf(parent, sizeof(parent), "%s/sub", dir);
	mkdir(parent, 0755);
	snprintf(parent, sizeof(parent), "%s/sub/dir", dir);
	mkdir(parent, 0755);
	int stale = open(path, O_CREAT | O_WRONLY, 0600);
	close(stale);

	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct ctl_mgmt m, m2;
	assert_int_equal(ctl_mgmt_open(&m, path, epfd), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);

	/* A live socket is not stolen by a second instance. */
	int epfd2 = epoll_create1(EPOLL_CLOEXEC);
	assert_int_equal(ctl_mgmt_open(&m2, path, epfd2), -EADDRINUSE);
	close(epfd2);
	pump(&m, epfd, 50); /* the probe connection */

	char buf[8192];
	int fd = client(path);
	assert_int_equal(send(fd, "{\"cmd\":\"status\"}\n", 17, 0), 17);
	pump(&m, epfd, 50);
	size_t n = read_all(fd, buf, sizeof(buf));
	assert_true(n > 2);
	assert_int_equal(buf[n - 1], '\n');
	assert_non_null(strstr(buf, "\"version\""));
	close(fd);

	/* Too long: an error answer, not a reset. */
	fd = client(path);
	char big[CTL_MGMT_REQ_MAX + 100];
	memset(big, 'x', sizeof(big));
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	pump(&m, epfd, 50);
	n = read_all(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "too long"));
	close(fd);

	/* More idle clients than slots: the newest request is still served. */
	int idle[CTL_MGMT_MAX_CLIENTS + 4];
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS + 4; i++) {
		idle[i] = client(path);
		pump(&m, epfd, 5); /* accept, or the listen backlog blocks connect() */
	}
	fd = client(path);
	send(fd, "{\"cmd\":\"peers\"}\n", 16, 0);
	pump(&m, epfd, 50);
	read_all(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"peers\""));
	close(fd);
	unsigned open_slots = 0;
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++)
		open_slots += m.clients[i].fd >= 0;
	assert_true(open_slots <= CTL_MGMT_MAX_CLIENTS);

	/* Idle clients are dropped at their deadline. */
	ctl_mgmt_tick(&m, clock_now_ms() + CTL_MGMT_TIMEOUT_MS + 1);
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS; i++)
		assert_int_equal(m.clients[i].fd, -1);
	for (unsigned i = 0; i < CTL_MGMT_MAX_CLIENTS + 4; i++) {
		assert_int_equal(read_all(idle[i], buf, sizeof(buf)), 0);
		close(idle[i]);
	}

	ctl_mgmt_close(&m);
	assert_int_equal(access(path, F_OK), -1);
	close(epfd);
	rmdir(parent);
	snprintf(parent, sizeof(parent), "%s/sub", dir);
	rmdir(parent);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
